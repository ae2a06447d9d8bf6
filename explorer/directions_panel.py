"""Directions: one row per direction with its slider (value in its unit), a layer-range slider
with coarse / middle / fine presets, reset, rename / remove / export, and where the current w
lies along it. Above the rows: compute PCA or SeFa in the background (progress, cancel), label
samples to make a direction (InterfaceGAN), import and export direction files."""
import os

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QFrame, QGridLayout, QHBoxLayout, QInputDialog, QLabel, QMenu,
                             QScrollArea, QSpinBox, QToolButton, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider, QLabeledRangeSlider

from core.errors import StylescopeError
from explorer.drag_preview import Gesture
from explorer.state import SLIDER_LIMIT
from explorer.widgets import JobBar, bind_drag, blocked, message, push_button, tool_button

IMPORT_FILTER = ('Direction files (*.npz *.npy *.pt *.pth);;Stylescope / GANSpace / projected_w (*.npz);;'
                 'InterfaceGAN boundary (*.npy);;rosinality factor (*.pt *.pth)')
EXPORT_FORMATS = {'Stylescope directions (*.npz)': 'stylescope', 'GANSpace components (*.npz)': 'ganspace',
                  'rosinality factor (*.pt)': 'rosinality'}
EXPORT_SUFFIX = {'stylescope': '.npz', 'ganspace': '.npz', 'rosinality': '.pt'}
UNITS = {'pca': 'σ', 'sefa': 'σ', 'svm': 'σ'}
GROUP_KEYS = (('coarse', 'C'), ('middle', 'M'), ('fine', 'F'))


def unit_of(dset):
    return UNITS.get(dset.meta.get('method'), '')


class DirectionRow(QFrame):
    """The widgets of one direction; the panel connects them to the model."""

    def __init__(self, k, name, num_ws, groups, unit, tip):
        super().__init__()
        self.k = k
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName('direction_row')
        self.name_label = QLabel(f'<b>{name}</b>')
        self.name_label.setToolTip(tip)
        self.name_label.setMinimumWidth(70)
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-SLIDER_LIMIT, SLIDER_LIMIT)
        self.slider.setSingleStep(0.1)
        self.slider.setDecimals(2)
        self.slider.setToolTip(f'{name}: slider value in {unit or "raw W"} units (type a value in the box)')
        self.unit_label = QLabel(unit)
        self.reset_button = tool_button('⟲', f'Reset {name} to 0')
        self.menu_button = QToolButton()
        self.menu_button.setText('⋯')
        self.menu_button.setToolTip('Rename, remove or export this direction')
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        self.rename_action = menu.addAction('Rename...')
        self.remove_action = menu.addAction('Remove')
        self.export_action = menu.addAction('Export as InterfaceGAN .npy...')
        self.menu_button.setMenu(menu)
        self.range_slider = QLabeledRangeSlider(Qt.Orientation.Horizontal)
        self.range_slider.setRange(0, max(num_ws - 1, 1))
        self.range_slider.setToolTip('ws rows the edit reaches (inclusive): 0 = coarsest')
        self.range_slider.setEdgeLabelMode(self.range_slider.edgeLabelMode().NoLabel)
        self.preset_buttons = {}
        for group, letter in GROUP_KEYS:
            if group in groups and groups[group][1] > groups[group][0]:
                s, e = groups[group]
                self.preset_buttons[group] = tool_button(letter, f'{group} layers only: ws {s}-{e - 1}')
        self.preset_buttons['all'] = tool_button('all', f'all layers: ws 0-{num_ws - 1}')
        self.projection_label = QLabel('at -')
        self.projection_label.setToolTip('Where the current w lies along this direction, in slider units '
                                         '(from its reference point: the PCA mean, the SVM boundary, 0 otherwise)')
        self.projection_label.setMinimumWidth(64)
        self.projection_label.setStyleSheet('color: #2a6099;')
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setVerticalSpacing(0)
        grid.addWidget(self.name_label, 0, 0)
        grid.addWidget(self.slider, 0, 1)
        top_right = QHBoxLayout()
        top_right.addWidget(self.unit_label)
        top_right.addWidget(self.reset_button)
        top_right.addWidget(self.menu_button)
        grid.addLayout(top_right, 0, 2)
        grid.addWidget(self.projection_label, 1, 0)
        grid.addWidget(self.range_slider, 1, 1)
        presets = QHBoxLayout()
        presets.setSpacing(1)
        for button in self.preset_buttons.values():
            button.setMaximumWidth(30)
            presets.addWidget(button)
        grid.addLayout(presets, 1, 2)
        grid.setColumnStretch(1, 1)

    def show(self, alpha, start, end):
        with blocked(self.slider, self.range_slider):
            if abs(self.slider.value() - alpha) > 1e-6:
                self.slider.setValue(alpha)
            if tuple(self.range_slider.value()) != (start, end - 1):
                self.range_slider.setValue((start, end - 1))
        self.reset_button.setEnabled(alpha != 0)

    def show_projection(self, value):
        self.projection_label.setText(f'at {value:+.2f}')


class DirectionsPanel(QWidget):
    status = pyqtSignal(str)

    def __init__(self, model, client, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.rows = []
        self._layout_key = None
        self.labeling_dialog = None
        self._build()
        model.events.directions.connect(lambda state: self.refresh())
        model.events.alphas.connect(lambda state: self.refresh())
        model.events.network.connect(lambda info: self.refresh(force=True))
        client.rendered.connect(self._on_rendered)

    # -- layout
    def _build(self):
        self.pca_samples = QSpinBox()
        self.pca_samples.setRange(100, 1_000_000)
        self.pca_samples.setSingleStep(5000)
        self.pca_samples.setValue(20000)
        self.pca_samples.setToolTip('Mapped samples for PCA (GANSpace uses 300,000 to 1,000,000)')
        self.components = QSpinBox()
        self.components.setRange(1, 512)
        self.components.setValue(20)
        self.components.setToolTip('How many directions PCA or SeFa adds')
        self.pca_button = push_button('Compute PCA', lambda: self.compute_pca(),
                                      tip='GANSpace: principal components of W (in the background)')
        self.sefa_layers = QComboBox()
        self.sefa_layers.setToolTip('Which layers SeFa factorises (and the layer range of its directions)')
        self.sefa_button = push_button('Compute SeFa', lambda: self.compute_sefa(),
                                       tip='SeFa: closed-form factorisation of the style weights (in the background)')
        self.label_button = push_button('Label samples...', lambda: self.open_labeling(),
                                        tip='Mark random samples as having an attribute or not, then fit a direction '
                                            '(InterfaceGAN)')
        self.import_button = push_button('Import...', lambda: self.import_file(),
                                         tip='Stylescope .npz, GANSpace .npz, projected_w.npz, InterfaceGAN .npy, '
                                             'rosinality factor.pt')
        self.export_button = push_button('Export...', lambda: self.export_file(),
                                         tip='All directions as a Stylescope .npz (or GANSpace .npz)')
        self.reset_button = push_button('Reset all', lambda: self.model.set_state(self.model.state.reset_edits()),
                                        tip='Every slider back to 0 (Ctrl+0)')
        self.clear_button = push_button('Remove all', lambda: self.model.update(directions=None, alphas=()))
        grid = QGridLayout()
        grid.addWidget(QLabel('samples'), 0, 0)
        grid.addWidget(self.pca_samples, 0, 1)
        grid.addWidget(QLabel('components'), 0, 2)
        grid.addWidget(self.components, 0, 3)
        grid.addWidget(self.pca_button, 0, 4)
        grid.addWidget(QLabel('layers'), 1, 0)
        grid.addWidget(self.sefa_layers, 1, 1, 1, 3)
        grid.addWidget(self.sefa_button, 1, 4)
        buttons = QHBoxLayout()
        for b in (self.label_button, self.import_button, self.export_button, self.reset_button, self.clear_button):
            buttons.addWidget(b)
        self.job_bar = JobBar()
        self.summary = QLabel('No directions yet: compute PCA or SeFa, label samples, or import a file.')
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet('color: #555;')
        self.rows_box = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(2)
        self.rows_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.rows_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addWidget(self.job_bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.scroll, 1)
        self.setMinimumWidth(460)

    # -- model -> widgets
    def refresh(self, force=False):
        state, info = self.model.state, self.model.network
        if info is None:
            return
        if force:
            self._fill_sefa_layers(info)
        dset = state.directions
        key = None if dset is None else (tuple(dset.names), info['num_ws'], unit_of(dset))
        if force or key != self._layout_key:
            self._rebuild(dset, info)
            self._layout_key = key
        if dset is not None:
            for row in self.rows:
                k = row.k
                row.show(state.alphas[k], int(dset.layer_start[k]), int(dset.layer_end[k]))
        self.reset_button.setEnabled(any(state.alphas))
        self.export_button.setEnabled(dset is not None)
        self.clear_button.setEnabled(dset is not None)
        self._summarise(dset)

    def _fill_sefa_layers(self, info):
        groups = info['layer_groups']
        with blocked(self.sefa_layers):
            self.sefa_layers.clear()
            self.sefa_layers.addItem(f"all (ws 0-{info['num_ws'] - 1})", (0, info['num_ws']))
            for group, (s, e) in groups.items():
                if e > s:
                    self.sefa_layers.addItem(f'{group} (ws {s}-{e - 1})', (s, e))

    def _summarise(self, dset):
        if dset is None:
            self.summary.setText('No directions yet: compute PCA or SeFa, label samples, or import a file.')
            return
        meta = dset.meta
        method = meta.get('method', '?')
        samples = meta.get('sample_count')
        text = f'{len(dset)} direction{"s" if len(dset) != 1 else ""} ({method}'
        text += f', {samples:,} samples)' if isinstance(samples, int) else ')'
        fp = (self.model.network or {}).get('fingerprint')
        if meta.get('fingerprint') and fp and meta['fingerprint'] != fp:
            text += ' - made for another model'
        self.summary.setText(text)

    def _rebuild(self, dset, info):
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        if dset is None:
            return
        unit = unit_of(dset)
        per = dset.meta.get('per_direction', {})
        for k, name in enumerate(dset.names):
            tip = f'{name}: one unit moves w by {dset.scales[k]:.3g}'
            ratio = per.get('explained_variance_ratio')
            if ratio and ratio[k] is not None:
                tip += f'; explains {100 * ratio[k]:.1f}% of the variance of W'
            row = DirectionRow(k, name, info['num_ws'], info['layer_groups'], unit, tip)
            row.slider.valueChanged.connect(lambda v, k=k: self.set_alpha(k, v, drag=True))
            bind_drag(row.slider, self.model)
            row.range_slider.valueChanged.connect(lambda v, k=k: self.set_range(k, v[0], v[-1] + 1, drag=True))
            bind_drag(row.range_slider, self.model)
            row.reset_button.clicked.connect(lambda _=False, k=k: self.set_alpha(k, 0.0))
            row.rename_action.triggered.connect(lambda _=False, k=k: self.rename(k))
            row.remove_action.triggered.connect(lambda _=False, k=k: self.remove(k))
            row.export_action.triggered.connect(lambda _=False, k=k: self.export_one(k))
            for group, button in row.preset_buttons.items():
                s, e = (0, info['num_ws']) if group == 'all' else info['layer_groups'][group]
                button.clicked.connect(lambda _=False, k=k, s=s, e=e: self.set_range(k, s, e))
            self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
            self.rows.append(row)

    def _on_rendered(self, result):
        dset = self.model.state.directions
        if dset is None or self.model.show_original or not self.rows or dset.w_dim != result.ws.shape[-1]:
            return
        coords = dset.project(result.ws[None])[0]
        for row in self.rows:
            if row.k < len(coords):
                row.show_projection(coords[row.k])

    # -- edits
    def set_alpha(self, k, value, drag=False):
        state = self.model.state
        d = state.directions
        if d is None or k >= len(state.alphas) or state.alphas[k] == float(value):
            return
        gesture = Gesture('alpha', k, range(int(d.layer_start[k]), int(d.layer_end[k]))) if drag else None
        self.model.set_state(state.with_alpha(k, float(value)), gesture)

    def set_range(self, k, start, end, drag=False):
        state = self.model.state
        d = state.directions
        if d is None or (int(d.layer_start[k]), int(d.layer_end[k])) == (int(start), int(end)):
            return
        self.model.set_state(state.with_range(k, start, end), Gesture('range', k) if drag else None)

    def rename(self, k, name=None):
        state = self.model.state
        if name is None:
            name, ok = QInputDialog.getText(self, 'Rename direction', 'Name:', text=state.directions.names[k])
            if not ok:
                return
        try:
            self.model.set_state(state.rename_direction(k, name))
        except StylescopeError as exc:
            message(self, 'Rename direction', str(exc))

    def remove(self, k):
        name = self.model.state.directions.names[k]
        self.model.set_state(self.model.state.remove_direction(k))
        self.status.emit(f'removed direction {name} (Ctrl+Z brings it back)')

    def add_directions(self, dset, what):
        self.model.set_state(self.model.state.add_directions(dset))
        self.status.emit(f'added {len(dset)} {what} direction{"s" if len(dset) != 1 else ""}')

    # -- background work
    def _start(self, kind, what, **params):
        job = self.client.submit(kind, **params)
        self.job_bar.attach(job)
        job.failed.connect(lambda text: message(self, what, text))
        job.cancelled.connect(lambda: self.status.emit(f'{what}: cancelled'))
        return job

    def compute_pca(self, n_samples=None, n_components=None):
        if self.model.network is None:
            return None
        job = self._start('pca', 'PCA', n_samples=n_samples or self.pca_samples.value(),
                          n_components=n_components or self.components.value())
        job.finished.connect(lambda dset: self.add_directions(dset, 'PCA'))
        return job

    def compute_sefa(self, layers=None, n_components=None, unit_samples=None):
        if self.model.network is None:
            return None
        start, end = layers or self.sefa_layers.currentData() or (0, self.model.network['num_ws'])
        params = dict(start=start, end=end, n_components=n_components or self.components.value())
        if unit_samples is not None:
            params['unit_samples'] = unit_samples
        job = self._start('sefa', 'SeFa', **params)
        job.finished.connect(lambda dset: self.add_directions(dset, 'SeFa'))
        return job

    def import_file(self, path=None):
        if self.model.network is None:
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, 'Import directions', '', IMPORT_FILTER)
            if not path:
                return None
        job = self._start('import_directions', 'Import directions', path=path)
        job.finished.connect(lambda result: self._imported(result, path))
        return job

    def _imported(self, result, path):
        dset, warnings = result
        self.add_directions(dset, f'imported ({os.path.basename(path)})')
        if warnings:
            message(self, 'Imported with warnings', '\n\n'.join(warnings))

    def export_file(self, path=None, fmt='stylescope'):
        dset = self.model.state.directions
        if dset is None:
            return None
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, 'Export directions', 'directions.npz',
                                                       ';;'.join(EXPORT_FORMATS))
            if not path:
                return None
            fmt = EXPORT_FORMATS.get(chosen, 'stylescope')
        if not path.lower().endswith(EXPORT_SUFFIX[fmt]):
            path += EXPORT_SUFFIX[fmt]
        job = self._start('export_directions', 'Export directions', dset=dset, path=path, fmt=fmt)
        job.finished.connect(lambda p: self.status.emit(f'saved {len(dset)} directions to {p}'))
        return job

    def export_one(self, k, path=None):
        dset = self.model.state.directions
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, 'Export direction', f'{dset.names[k]}_boundary.npy',
                                                  'InterfaceGAN boundary (*.npy)')
            if not path:
                return None
        job = self._start('export_directions', 'Export direction', dset=dset, path=path, fmt='interfacegan', index=k)
        job.finished.connect(lambda p: self.status.emit(f'saved {dset.names[k]} to {p}'))
        return job

    def open_labeling(self):
        from explorer.labeling_dialog import LabelingDialog
        if self.model.network is None:
            return None
        self.labeling_dialog = LabelingDialog(self.model, self.client, self)
        self.labeling_dialog.direction_made.connect(lambda dset: self.add_directions(dset, 'labelled'))
        self.labeling_dialog.show()
        return self.labeling_dialog
