"""Truncation: psi from -1 to 2 and the cutoff (ws rows 0..cutoff-1 are truncated; the
rightmost position means all rows). Edits are added after truncation, so psi never shrinks them. A
loaded or projected w is pulled toward the average too (core/request.py), and the note says so."""
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget
from superqt import QLabeledDoubleSlider, QLabeledSlider

from explorer.drag_preview import Gesture
from explorer.widgets import bind_drag, blocked, push_button


class TruncationPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.num_ws = 1
        self.psi_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.psi_slider.setRange(-1.0, 2.0)
        self.psi_slider.setSingleStep(0.01)
        self.psi_slider.setDecimals(2)
        self.psi_slider.setValue(1.0)
        self.psi_slider.setToolTip('Truncation psi: 1 = untruncated, 0 = the average image, below 0 = the opposite')
        self.psi_slider.valueChanged.connect(lambda v: self.model.update(Gesture('psi'), psi=round(float(v), 4)))
        bind_drag(self.psi_slider, model)
        self.cutoff_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.cutoff_slider.setRange(0, 1)
        self.cutoff_slider.setToolTip('Truncation cutoff: only ws rows below it are truncated (the maximum = all rows)')
        self.cutoff_slider.valueChanged.connect(self._cutoff_changed)
        bind_drag(self.cutoff_slider, model)
        self.reset_button = push_button('Reset', lambda: self.model.update(psi=1.0, cutoff=None), tip='psi 1, all rows')
        self.cutoff_note = QLabel()
        self.cutoff_note.setStyleSheet('color: #555;')
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(QLabel('psi'), 0, 0)
        grid.addWidget(self.psi_slider, 0, 1)
        grid.addWidget(QLabel('cutoff'), 1, 0)
        grid.addWidget(self.cutoff_slider, 1, 1)
        grid.addWidget(self.cutoff_note, 2, 1)
        grid.addWidget(self.reset_button, 2, 0)
        for name in ('psi', 'cutoff', 'w'):
            getattr(model.events, name).connect(lambda state: self.refresh())
        model.events.network.connect(self._on_network)

    def _on_network(self, info):
        self.num_ws = info['num_ws']
        with blocked(self.cutoff_slider):
            self.cutoff_slider.setRange(0, self.num_ws)
        self.refresh()

    def _cutoff_changed(self, value):
        value = int(value)
        self.model.update(Gesture('cutoff'), cutoff=None if value >= self.num_ws else value)

    def refresh(self):
        state = self.model.state
        with blocked(self.psi_slider, self.cutoff_slider):
            if abs(self.psi_slider.value() - state.psi) > 1e-6:
                self.psi_slider.setValue(state.psi)
            self.cutoff_slider.setValue(self.num_ws if state.cutoff is None else state.cutoff)
        rows = ('all ws rows' if state.cutoff is None else f'ws rows 0-{state.cutoff - 1}' if state.cutoff
                else None)
        whose = ' of the loaded w' if state.w is not None else ''
        self.cutoff_note.setText('nothing truncated' if rows is None or state.psi == 1
                                 else f'{rows}{whose} pulled toward the average')
