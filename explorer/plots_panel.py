"""Plots (pyqtgraph): the explained variance of the PCA components (or SeFa's eigenvalues), and
the render times of recent frames (full frames and previews)."""
import collections
import time

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QHBoxLayout, QWidget

HISTORY = 200
REDRAW_MS = 1000  # the render-time plot is redrawn at most once a second, and not during a drag


class PlotsPanel(QWidget):
    def __init__(self, model, client, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.times = collections.deque(maxlen=HISTORY)  # (seconds since start, ms, preview)
        self._t0 = time.perf_counter()
        self._dirty = False
        self._shown_set = None
        pg.setConfigOptions(antialias=True, background='w', foreground='k')
        self.variance_plot = pg.PlotWidget()
        self.variance_plot.setTitle('Explained variance (compute PCA)', size='9pt')
        self.variance_plot.setLabel('bottom', 'component')
        self.variance_plot.setLabel('left', '% of variance')
        self.variance_plot.showGrid(y=True, alpha=0.3)
        self.variance_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush='#4a7ab5')
        self.variance_curve = self.variance_plot.plot([], [], pen=pg.mkPen('#c0504d', width=2), name='cumulative')
        self.variance_plot.addItem(self.variance_bars)
        self.times_plot = pg.PlotWidget()
        self.times_plot.setTitle('Render time', size='9pt')
        self.times_plot.setLabel('bottom', 'seconds ago')
        self.times_plot.setLabel('left', 'ms')
        self.times_plot.showGrid(y=True, alpha=0.3)
        self.times_plot.addLegend(offset=(-10, 5))
        self.full_curve = self.times_plot.plot([], [], pen=None, symbol='o', symbolSize=5, symbolBrush='#4a7ab5',
                                               symbolPen=None, name='full')
        self.preview_curve = self.times_plot.plot([], [], pen=None, symbol='t', symbolSize=6, symbolBrush='#e8a33d',
                                                  symbolPen=None, name='preview')
        for plot in (self.variance_plot, self.times_plot):
            plot.setMinimumHeight(120)
            for axis in ('bottom', 'left'):
                plot.getAxis(axis).enableAutoSIPrefix(False)
            plot.setMouseEnabled(x=False, y=False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.variance_plot)
        layout.addWidget(self.times_plot)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_times)
        self._timer.start()
        client.rendered.connect(self.add_render)
        model.events.directions.connect(lambda state: self.show_variance())
        model.events.network.connect(lambda info: self.clear_times())

    # -- explained variance
    def variance_values(self):
        """(values in %, title) for the bars: the newest PCA run's explained variance (one run:
        components of two runs side by side would not add up), else SeFa's eigenvalues, else
        (None, title)."""
        dset = self.model.state.directions
        if dset is None:
            return None, 'Explained variance (compute PCA)'
        per = dset.meta.get('per_direction', {})
        for method, key, title in (('pca', 'explained_variance_ratio', 'Explained variance of W'),
                                   ('sefa', 'eigenvalue', 'SeFa eigenvalues')):
            rows = [k for k in range(len(dset)) if dset.method_of(k) == method and (per.get(key) or [None] * len(dset))[k]
                    is not None]
            if not rows:
                continue
            newest = dset.origin_of(rows[-1])
            rows = [k for k in rows if dset.origin_of(k) == newest]
            values = np.array([per[key][k] for k in rows], dtype=float)
            values = 100 * values if method == 'pca' else 100 * values / values.sum()
            return values, f'{title} ({newest})' if method == 'pca' else f'{title} (% of the shown, {newest})'
        return None, 'Explained variance (PCA only)'

    def show_variance(self):
        dset = self.model.state.directions
        if dset is self._shown_set:
            return
        self._shown_set = dset
        values, title = self.variance_values()
        self.variance_plot.setTitle(title, size='9pt')
        if values is None:
            self.variance_bars.setOpts(x=[], height=[])
            self.variance_curve.setData([], [])
            return
        x = np.arange(len(values))
        self.variance_bars.setOpts(x=x, height=values, width=0.8)
        self.variance_curve.setData(x, np.cumsum(values))
        self.variance_plot.enableAutoRange()

    # -- render times
    def add_render(self, result):
        self.times.append((time.perf_counter() - self._t0, result.timings['total_ms'], result.preview))
        self._dirty = True

    def clear_times(self):
        self.times.clear()
        self._dirty = True

    def _redraw_times(self):
        # Drawing a plot is many small calls into Qt, each taking the interpreter lock back from the
        # render thread: while it renders, that would make the GUI thread late, so the plot waits.
        if not self._dirty or self.model.dragging or self.client.busy or not self.isVisible():
            return
        self._dirty = False
        now = time.perf_counter() - self._t0
        data = np.array([(now - t, ms, p) for t, ms, p in self.times], dtype=float).reshape(-1, 3)
        full, preview = data[data[:, 2] == 0], data[data[:, 2] == 1]
        self.full_curve.setData(-full[:, 0], full[:, 1])
        self.preview_curve.setData(-preview[:, 0], preview[:, 1])
