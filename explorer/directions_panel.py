"""Directions: one row per direction (explorer/direction_row.py), named directions first. Above
the rows: compute PCA or SeFa in the background (progress, cancel; computing one again replaces
it or keeps both under new names), label samples to make a direction (InterfaceGAN), import and
export direction files, measure each slider's range on the model (where its pictures leave
the data, as the discriminator sees it: core.directions.suggest_slider_limits), and make "A → B"
from two pictures (explorer/difference_dialog.py: latent arithmetic)."""
import os

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QGridLayout, QInputDialog, QLabel, QMessageBox,
                             QSpinBox, QVBoxLayout, QWidget)

from core.errors import StylescopeError
from explorer.direction_row import DirectionRow
from explorer.drag_preview import Gesture
from explorer.file_dialogs import model_stem
from explorer.widgets import JobBar, bind_drag, blocked, message, push_button, scrolling_rows

IMPORT_FILTER = ('Direction files (*.npz *.npy *.pt *.pth);;Stylescope / GANSpace / projected_w (*.npz);;'
                 'InterfaceGAN boundary (*.npy);;rosinality factor (*.pt *.pth)')
EXPORT_FORMATS = {'Stylescope directions (*.npz)': 'stylescope', 'GANSpace components (*.npz)': 'ganspace',
                  'rosinality factor (*.pt)': 'rosinality'}
EXPORT_SUFFIX = {'stylescope': '.npz', 'ganspace': '.npz', 'rosinality': '.pt'}
AUTO_LIMITS_UP_TO = 256  # measure new directions' slider ranges at once on networks up to this size (seconds)
METHOD_NAMES = {'pca': 'PCA', 'sefa': 'SeFa', 'svm': 'labelled'}


class DirectionsPanel(QWidget):
    status = pyqtSignal(str)

    def __init__(self, model, client, files, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.files = files
        self.rows = []
        self._layout_key = None
        self.labeling_dialog = None
        self.difference_dialog = None
        self.last_full = None  # the newest full RenderResult of an edited picture: "the current picture" of A -> B
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
        self.difference_button = push_button('A → B...', lambda: self.open_difference(),
                                             tip='The change from one picture to another (the current one, a '
                                                 'favourite, a projected photo) as a slider: at 1 it turns A into B')
        self.limits_button = push_button('Measure ranges', lambda: self.measure_limits(),
                                         tip="Each slider's range: where its pictures stop looking like the data, "
                                             "as the network's discriminator sees it (default: ±3σ)")
        # narrow docks (a laptop) wrap these onto more rows instead of cutting them
        grid = QGridLayout()
        grid.addWidget(self.pca_button, 0, 0)
        grid.addWidget(QLabel('samples'), 0, 1)
        grid.addWidget(self.pca_samples, 0, 2)
        grid.addWidget(QLabel('k'), 0, 3)
        grid.addWidget(self.components, 0, 4)
        grid.addWidget(self.sefa_button, 1, 0)
        grid.addWidget(QLabel('layers'), 1, 1)
        grid.addWidget(self.sefa_layers, 1, 2, 1, 3)
        grid.setColumnStretch(2, 1)
        self.components.setToolTip('How many directions PCA or SeFa adds (k)')
        buttons = QGridLayout()
        for i, b in enumerate((self.label_button, self.difference_button, self.import_button, self.export_button,
                               self.limits_button, self.reset_button, self.clear_button)):
            buttons.addWidget(b, i // 3, i % 3)
        self.job_bar = JobBar()
        self.summary = QLabel('No directions yet: compute PCA or SeFa, label samples, or import a file.')
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet('color: #555;')
        self.scroll, self.rows_layout = scrolling_rows()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addWidget(self.job_bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.scroll, 1)
        self.setMinimumWidth(280)

    # -- model -> widgets
    def refresh(self, force=False):
        state, info = self.model.state, self.model.network
        if info is None:
            return
        if force:
            self._fill_sefa_layers(info)
        dset = state.directions
        key = None if dset is None else (tuple(dset.names), tuple(dset.method_of(k) for k in range(len(dset))),
                                         info['num_ws'])
        if force or key != self._layout_key:
            self._rebuild(dset, info)
            self._layout_key = key
            if self.current_result() is not None:  # drawn before the rows were: where it lies, at once
                self._show_projections(self.current_result())
        if dset is not None:
            for row in self.rows:
                k = row.k
                row.show(state.alphas[k], int(dset.layer_start[k]), int(dset.layer_end[k]), dset.limit_of(k))
        self.reset_button.setEnabled(any(state.alphas))
        for button in (self.export_button, self.clear_button, self.limits_button):
            button.setEnabled(dset is not None)
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
        origins = {}
        for k in range(len(dset)):
            origins[dset.origin_of(k)] = origins.get(dset.origin_of(k), 0) + 1
        text = '; '.join(f'{count} {origin}' for origin, count in origins.items())
        fp = (self.model.network or {}).get('fingerprint')
        if dset.meta.get('fingerprint') and fp and dset.meta['fingerprint'] != fp:
            text += ' - made for another model'
        self.summary.setText(text)

    def _rebuild(self, dset, info):
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        if dset is None:
            return
        # named directions (labelled, renamed, imported) above the numbered components; StyleSpace
        # channels have their own panel (explorer/stylespace_panel.py)
        shown = [k for k in range(len(dset)) if not dset.is_style_channel(k)]
        for k in sorted(shown, key=lambda k: not dset.is_named(k)):
            row = DirectionRow(k, dset, info['num_ws'], info['layer_groups'])
            row.slider.valueChanged.connect(lambda v, k=k: self.set_alpha(k, v, drag=True))
            bind_drag(row.slider, self.model)
            row.range_slider.valueChanged.connect(lambda v, k=k: self.set_range(k, v[0], v[-1] + 1, drag=True))
            bind_drag(row.range_slider, self.model)
            row.reset_button.clicked.connect(lambda _=False, k=k: self.set_alpha(k, 0.0))
            row.rename_action.triggered.connect(lambda _=False, k=k: self.rename(k))
            row.remove_action.triggered.connect(lambda _=False, k=k: self.remove(k))
            row.export_action.triggered.connect(lambda _=False, k=k: self.export_one(k))
            row.widen_action.triggered.connect(lambda _=False, k=k: self.set_limit(k, 2 * self._limit(k)))
            row.range_action.triggered.connect(lambda _=False, k=k: self.ask_limit(k))
            row.strip_action.triggered.connect(lambda _=False, k=k: self.open_strip(k))
            for group, button in row.preset_buttons.items():
                s, e = (0, info['num_ws']) if group == 'all' else info['layer_groups'][group]
                button.clicked.connect(lambda _=False, k=k, s=s, e=e: self.set_range(k, s, e))
            self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
            self.rows.append(row)

    def row_of(self, name):
        dset = self.model.state.directions
        return next((row for row in self.rows if dset is not None and dset.names[row.k] == name), None)

    def show_new(self, names):
        """Scroll to the first of the directions just added and highlight them."""
        rows = [row for row in (self.row_of(name) for name in names) if row is not None]
        if rows:
            self.scroll.ensureWidgetVisible(rows[0])
            for row in rows:
                row.highlight()

    def _on_rendered(self, result):
        if not result.preview and not self.model.show_original:
            self.last_full = result
        self._show_projections(result)

    def _show_projections(self, result):
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

    def _limit(self, k):
        return self.model.state.directions.limit_of(k)

    def set_limit(self, k, limit):
        """Direction k's slider runs from -limit to +limit (kept with the directions and the session)."""
        state = self.model.state
        try:
            self.model.update(directions=state.directions.with_limit(k, float(limit)))
        except StylescopeError as exc:
            message(self, 'Slider range', str(exc))

    def ask_limit(self, k):
        value, ok = QInputDialog.getDouble(self, 'Slider range', f'{self.model.state.directions.names[k]} runs '
                                           'from -range to +range:', self._limit(k), 0.1, 1000.0, 1)
        if ok:
            self.set_limit(k, value)

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

    def add_directions(self, dset, what, replace=False):
        """Add a set (replace: first remove the directions of its method, a PCA run replacing the
        last one); its new rows are scrolled to and highlighted, and their slider ranges measured
        on small networks."""
        state = self.model.state
        replaced = 0
        if replace and state.directions is not None:
            method = dset.method_of(0)
            keep = [k for k in range(len(state.directions)) if state.directions.method_of(k) != method]
            replaced = len(state.directions) - len(keep)
            state = state.keep_directions(keep)
        before = set() if state.directions is None else set(state.directions.names)
        self.model.set_state(state.add_directions(dset))
        added = [name for name in self.model.state.directions.names if name not in before]
        self.status.emit(f'added {len(dset)} {what} direction{"s" if len(dset) != 1 else ""}'
                         + (f', replacing {replaced}' if replaced else ''))
        self.show_new(added)
        info = self.model.network or {}
        if info.get('resolution', 1 << 20) <= AUTO_LIMITS_UP_TO and 'slider_limit' not in dset.meta['per_direction']:
            self.measure_limits(added, quiet=True)

    # -- background work
    def _start(self, kind, what, **params):
        job = self.client.submit(kind, **params)
        self.job_bar.attach(job)
        job.failed.connect(lambda text: message(self, what, text))
        job.cancelled.connect(lambda: self.status.emit(f'{what}: cancelled'))
        return job

    def _replace_or_keep(self, method, replace):
        """Computing a method again: replace its directions, or keep both (the new ones get new
        names)? None asks the user; returns True, False, or None for cancel."""
        dset = self.model.state.directions
        count = 0 if dset is None else sum(dset.method_of(k) == method for k in range(len(dset)))
        if not count or replace is not None:
            return bool(replace)
        box = QMessageBox(QMessageBox.Icon.Question, f'Compute {METHOD_NAMES[method]}',
                          f'There are {count} {METHOD_NAMES[method]} directions already. Replace them with the new '
                          'ones, or keep both (the new ones named like PC0 (2))?', QMessageBox.StandardButton.NoButton,
                          self)
        replace_button = box.addButton('Replace', QMessageBox.ButtonRole.AcceptRole)
        keep_button = box.addButton('Keep both', QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return True if box.clickedButton() is replace_button else False if box.clickedButton() is keep_button else None

    def compute_pca(self, n_samples=None, n_components=None, replace=None):
        if self.model.network is None:
            return None
        replace = self._replace_or_keep('pca', replace)
        if replace is None:
            return None
        job = self._start('pca', 'PCA', n_samples=n_samples or self.pca_samples.value(),
                          n_components=n_components or self.components.value())
        job.finished.connect(lambda dset: self.add_directions(dset, 'PCA', replace))
        return job

    def compute_sefa(self, layers=None, n_components=None, unit_samples=None, replace=None):
        if self.model.network is None:
            return None
        replace = self._replace_or_keep('sefa', replace)
        if replace is None:
            return None
        start, end = layers or self.sefa_layers.currentData() or (0, self.model.network['num_ws'])
        params = dict(start=start, end=end, n_components=n_components or self.components.value())
        if unit_samples is not None:
            params['unit_samples'] = unit_samples
        job = self._start('sefa', 'SeFa', **params)
        job.finished.connect(lambda dset: self.add_directions(dset, 'SeFa', replace))
        return job

    def measure_limits(self, names=None, quiet=False):
        """Measure the slider ranges of `names` (None: every direction) in the background."""
        dset = self.model.state.directions
        if dset is None:
            return None
        names = [n for n in (dset.names if names is None else names) if not dset.is_style_channel(dset.index(n))]
        if not names:  # StyleSpace channels keep their own range (core.stylespace.STYLE_LIMIT)
            return None
        job = self.client.submit('slider_limits', dset=dset.subset(names))
        self.job_bar.attach(job, 'Measuring slider ranges')
        job.finished.connect(self._limits_measured)
        if not quiet:
            job.failed.connect(lambda text: message(self, 'Measure ranges', text))
        else:  # on its own after an addition: a network without D keeps the default, said once
            job.failed.connect(lambda text: self.status.emit(f'slider ranges stay at ±3: {text}'))
        return job

    def _limits_measured(self, limits):
        """limits: {name: limit}; directions renamed or removed meanwhile are skipped."""
        dset = self.model.state.directions
        if dset is None:
            return
        for name, limit in limits.items():
            if name in dset.names:
                dset = dset.with_limit(name, limit)
        self.model.update(directions=dset)
        self.status.emit('slider ranges measured: ' + ', '.join(f'{n} ±{v:g}' for n, v in list(limits.items())[:6])
                         + (' ...' if len(limits) > 6 else ''))

    def import_file(self, path=None):
        if self.model.network is None:
            return None
        if path is None:
            path = self.files.open_file(self, 'directions', 'Import directions', IMPORT_FILTER)
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
            path, chosen = self.files.save_file(self, 'directions', 'Export directions', ';;'.join(EXPORT_FORMATS),
                                                f'{model_stem(self.model.network)}-directions.npz')
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
            path, _ = self.files.save_file(self, 'directions', 'Export direction', 'InterfaceGAN boundary (*.npy)',
                                           f'{dset.names[k]}_boundary.npy')
            if not path:
                return None
        job = self._start('export_directions', 'Export direction', dset=dset, path=path, fmt='interfacegan', index=k)
        job.finished.connect(lambda p: self.status.emit(f'saved {dset.names[k]} to {p}'))
        return job

    def current_result(self):
        """The newest full RenderResult when it is of the picture now (else None: still rendering)."""
        result = self.last_full
        if result is None or result.request.replace(preview=False) != self.model.state.request():
            return None
        return result

    def open_difference(self, a_index=None):
        """The "A → B" dialog; A is the current picture, or favourite `a_index`."""
        from explorer.difference_dialog import DifferenceDialog
        if self.model.network is None:
            return None
        self.difference_dialog = DifferenceDialog(self.model, self.current_result(), a_index, self)
        self.difference_dialog.made.connect(self._difference_made)
        self.difference_dialog.show()
        return self.difference_dialog

    def _difference_made(self, name):
        self.status.emit(f"added the direction '{name}': at 1 it turns A into B")
        self.show_new([name])

    def open_strip(self, k):
        """Direction k across several seeds (explorer/strip_dialog.py)."""
        from explorer.strip_dialog import StripDialog
        self.strip_dialog = StripDialog(self.model, self.client, k, self)
        self.strip_dialog.show()
        return self.strip_dialog

    def open_labeling(self):
        from explorer.labeling_dialog import LabelingDialog
        if self.model.network is None:
            return None
        self.labeling_dialog = LabelingDialog(self.model, self.client, self.files, self)
        self.labeling_dialog.direction_made.connect(lambda dset: self.add_directions(dset, 'labelled'))
        self.labeling_dialog.show()
        return self.labeling_dialog
