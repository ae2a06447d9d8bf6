"""StyleSpace: sliders of single style channels (Wu et al., "StyleSpace analysis", 2021), one
channel of one layer's styles s = affine(w), in units of that channel's standard deviation over
samples. Add any channel by layer and index, or rank the channels by how much they tell apart the
samples labelled for an attribute (the labelling dialog's labels, kept in the session, or a
label file): the best ones become sliders, each signed so that + moves toward the attribute, and
the ranking is listed (double-click a line to add that channel). The sliders are directions of
kind 'style_channel' in the editing state (core/direction_set.py): undo, sessions, direction
files and cached rendering treat them as every direction; the renderer adds them to s.

Rows are the Directions panel's (explorer/direction_row.py) without the layer range: a channel
belongs to one layer. Their "at" value is where the picture's channel lies, in std from the
samples' mean (times the row's sign), slider included.
"""
import os

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QInputDialog, QLabel, QListWidget,
                             QSpinBox, QVBoxLayout, QWidget)

from core.errors import StylescopeError
from core.label_file import labels_from_csv
from explorer.direction_row import DirectionRow
from explorer.drag_preview import Gesture
from explorer.widgets import JobBar, bind_drag, blocked, message, push_button, scrolling_rows

LABEL_FILE = 'label file...'  # the last entry of the labels box
LABEL_FILTER = 'Label files (*.csv)'
RANKED_SHOWN = 50


def describe_channel(dset, k):
    """What style-channel direction k is, in words (its rows' tooltip)."""
    layer, channel, sign = dset.style_channel(k)
    per = dset.meta.get('per_direction', {})
    value = lambda key: (per.get(key) or [None] * len(dset))[k]  # noqa: E731
    text = f'{dset.names[k]}: channel {channel} of the styles s of layer {layer} (a StyleSpace channel)'
    if value('attribute') is not None:
        text += (f", ranked for '{value('attribute')}' with score {value('score'):.2f} (the difference of its s "
                 'between the samples with and without it, over their spread)')
        if value('gap') is not None:
            text += f'; the two groups lie {value("gap"):.2f} units apart'
    direction = 'adds' if sign > 0 else 'subtracts'
    return (f'{text}. Slider unit σ: one standard deviation of this channel over the model\'s samples '
            f'({float(dset.scales[k]):.3g}); + {direction} it.')


class StyleChannelRow(DirectionRow):
    """A DirectionRow for a style channel: no layer range (its layer reads one ws row)."""

    def __init__(self, k, dset, num_ws, groups):
        super().__init__(k, dset, num_ws, groups)
        per = dset.meta.get('per_direction', {})
        score = (per.get('score') or [None] * len(dset))[k]
        extra = f' <span style="color:#666">score {score:.2f}</span>' if score is not None else ''
        self.name_label.setText(f'<b>{dset.names[k]}</b>{extra}')
        tip = describe_channel(dset, k)
        self.name_label.setToolTip(tip)
        self.unit_label.setText('σ')
        self.unit_label.setToolTip(tip)
        self.range_slider.setVisible(False)
        for button in self.preset_buttons.values():
            button.setVisible(False)
        self.export_action.setEnabled(False)
        self.export_action.setText('Export as InterfaceGAN .npy (not for a StyleSpace channel)')
        self.projection_label.setToolTip("Where the picture's channel lies, in σ from the samples' mean "
                                         '(slider included): moving the slider by 1 moves this by 1')


class StyleSpacePanel(QWidget):
    status = pyqtSignal(str)
    label_requested = pyqtSignal()  # 'Label samples...': the Directions panel's labelling dialog

    def __init__(self, model, client, files, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.files = files
        self.rows = []
        self.ranked = []
        self.job = None
        self._layout_key = None
        self._build()
        model.events.directions.connect(lambda state: self.refresh())
        model.events.alphas.connect(lambda state: self.refresh())
        model.events.labels.connect(lambda labels: self._fill_labels())
        model.events.network.connect(lambda info: self.refresh(force=True))
        client.rendered.connect(self._show_projections)

    # -- layout
    def _build(self):
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip('A modulated layer: its styles s have one channel per input channel')
        self.layer_combo.currentIndexChanged.connect(lambda _i: self._layer_changed())
        self.channel_spin = QSpinBox()
        self.channel_spin.setToolTip('The channel of that layer\'s styles')
        self.add_button = push_button('Add slider', lambda: self.add_channel(),
                                      tip='A slider for this channel, in its std over samples (measured once)')
        self.labels_combo = QComboBox()
        self.labels_combo.setToolTip('Whose labels rank the channels: an attribute labelled in this session '
                                     '(Directions > Label samples...), or a label file')
        self.top_spin = QSpinBox()
        self.top_spin.setRange(1, 100)
        self.top_spin.setValue(10)
        self.top_spin.setToolTip('How many of the best channels become sliders')
        self.torgb_box = QCheckBox('ToRGB too')
        self.torgb_box.setToolTip("Rank the ToRGB layers' channels too (they colour the picture, they do not "
                                  'shape it)')
        self.rank_button = push_button('Rank channels', lambda: self.rank(),
                                       tip='The channels whose s differs most between the samples with and without '
                                           'the attribute (normalised by their spread) become sliders')
        self.label_button = push_button('Label samples...', self.label_requested.emit,
                                        tip='Mark samples as having the attribute or not (they are kept for ranking)')
        self.clear_button = push_button('Remove channels', lambda: self.remove_all(),
                                        tip='Remove every StyleSpace slider (Ctrl+Z brings them back)')
        self.ranked_list = QListWidget()
        self.ranked_list.setMaximumHeight(120)
        self.ranked_list.setToolTip('The ranking: double-click a channel to add its slider')
        self.ranked_list.itemDoubleClicked.connect(lambda item: self.add_channel(*item.data(Qt.ItemDataRole.UserRole)))
        self.ranked_list.setVisible(False)
        self.job_bar = JobBar()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet('color: #555;')
        grid = QGridLayout()
        grid.addWidget(QLabel('Layer'), 0, 0)
        grid.addWidget(self.layer_combo, 0, 1)
        grid.addWidget(QLabel('ch'), 0, 2)
        grid.addWidget(self.channel_spin, 0, 3)
        grid.addWidget(self.add_button, 0, 4)
        grid.addWidget(QLabel('Labels'), 1, 0)
        grid.addWidget(self.labels_combo, 1, 1)
        grid.addWidget(QLabel('top'), 1, 2)
        grid.addWidget(self.top_spin, 1, 3)
        grid.addWidget(self.rank_button, 1, 4)
        grid.addWidget(self.torgb_box, 2, 1)
        grid.addWidget(self.label_button, 2, 3, 1, 2)
        grid.setColumnStretch(1, 1)
        self.scroll, self.rows_layout = scrolling_rows()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addWidget(self.ranked_list)
        layout.addWidget(self.job_bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.clear_button)
        layout.addWidget(self.scroll, 1)
        self.setMinimumWidth(280)
        self._fill_labels()

    def _fill_layers(self, info):
        with blocked(self.layer_combo):
            self.layer_combo.clear()
            for row in info.get('style_layers') or ():
                self.layer_combo.addItem(f"{row['name']} ({row['channels']} ch, ws {row['ws']})", row)
        self._layer_changed()

    def _layer_changed(self):
        row = self.layer_combo.currentData()
        self.channel_spin.setRange(0, max(0, (row or {}).get('channels', 1) - 1))

    def _fill_labels(self):
        keep = self.labels_combo.currentData()  # the attribute chosen, else the first one (or the file)
        with blocked(self.labels_combo):
            self.labels_combo.clear()
            for name, samples in self.model.labels.items():
                self.labels_combo.addItem(f'{name} ({len(samples)} samples)', name)
            self.labels_combo.addItem(LABEL_FILE, None)
            index = self.labels_combo.findData(keep) if keep is not None else -1
            self.labels_combo.setCurrentIndex(index if index >= 0 else 0)

    # -- model -> widgets
    def channel_indices(self):
        dset = self.model.state.directions
        return [] if dset is None else [k for k in range(len(dset)) if dset.is_style_channel(k)]

    def refresh(self, force=False):
        state, info = self.model.state, self.model.network
        if info is None:
            return
        if force:
            self._fill_layers(info)
        dset, shown = state.directions, self.channel_indices()
        key = None if not shown else (tuple(dset.names[k] for k in shown), tuple(shown), info['num_ws'])
        if force or key != self._layout_key:
            self._rebuild(dset, info, shown)
            self._layout_key = key
        for row in self.rows:
            k = row.k
            row.show(state.alphas[k], int(dset.layer_start[k]), int(dset.layer_end[k]), dset.limit_of(k))
        self.clear_button.setEnabled(bool(shown))
        count = f'{len(shown)} StyleSpace slider{"s" * (len(shown) != 1)}'
        self.summary.setText(f"{count}; unit σ: each channel's standard deviation over the model's samples" if shown
                             else 'No StyleSpace sliders yet: add a channel, or rank them by labelled samples.')

    def _rebuild(self, dset, info, shown):
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for k in shown:
            row = StyleChannelRow(k, dset, info['num_ws'], info['layer_groups'])
            row.slider.valueChanged.connect(lambda v, k=k: self.set_alpha(k, v, drag=True))
            bind_drag(row.slider, self.model)
            row.reset_button.clicked.connect(lambda _=False, k=k: self.set_alpha(k, 0.0))
            row.rename_action.triggered.connect(lambda _=False, k=k: self.rename(k))
            row.remove_action.triggered.connect(lambda _=False, k=k: self.remove(k))
            row.widen_action.triggered.connect(lambda _=False, k=k: self.set_limit(k, 2 * dset.limit_of(k)))
            row.range_action.triggered.connect(lambda _=False, k=k: self.ask_limit(k))
            row.strip_action.triggered.connect(lambda _=False, k=k: self.open_strip(k))
            self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
            self.rows.append(row)

    def row_of(self, name):
        dset = self.model.state.directions
        return next((row for row in self.rows if dset is not None and dset.names[row.k] == name), None)

    def _show_projections(self, result):
        dset, state = self.model.state.directions, self.model.state
        if dset is None or self.model.show_original or not self.rows or dset.w_dim != result.ws.shape[-1]:
            return
        coords = dset.project(result.ws[None])[0]
        for row in self.rows:
            if row.k < len(coords) and row.k < len(state.alphas):
                row.show_projection(coords[row.k] + state.alphas[row.k])  # s = s(w) + alpha * sign * std

    # -- edits
    def set_alpha(self, k, value, drag=False):
        state = self.model.state
        d = state.directions
        if d is None or k >= len(state.alphas) or state.alphas[k] == float(value):
            return
        gesture = Gesture('alpha', k, range(int(d.layer_start[k]), int(d.layer_end[k]))) if drag else None
        self.model.set_state(state.with_alpha(k, float(value)), gesture)

    def set_limit(self, k, limit):
        try:
            self.model.update(directions=self.model.state.directions.with_limit(k, float(limit)))
        except StylescopeError as exc:
            message(self, 'Slider range', str(exc))

    def ask_limit(self, k):
        d = self.model.state.directions
        value, ok = QInputDialog.getDouble(self, 'Slider range', f'{d.names[k]} runs from -range to +range:',
                                           d.limit_of(k), 0.1, 1000.0, 1)
        if ok:
            self.set_limit(k, value)

    def rename(self, k, name=None):
        if name is None:
            name, ok = QInputDialog.getText(self, 'Rename channel', 'Name:', text=self.model.state.directions.names[k])
            if not ok:
                return
        try:
            self.model.set_state(self.model.state.rename_direction(k, name))
        except StylescopeError as exc:
            message(self, 'Rename channel', str(exc))

    def remove(self, k):
        name = self.model.state.directions.names[k]
        self.model.set_state(self.model.state.remove_direction(k))
        self.status.emit(f'removed the StyleSpace slider {name} (Ctrl+Z brings it back)')

    def remove_all(self):
        dset = self.model.state.directions
        keep = [k for k in range(len(dset)) if not dset.is_style_channel(k)] if dset is not None else []
        if dset is not None and len(keep) < len(dset):
            self.model.set_state(self.model.state.keep_directions(keep))
            self.status.emit('removed the StyleSpace sliders (Ctrl+Z brings them back)')

    def open_strip(self, k):
        from explorer.strip_dialog import StripDialog
        self.strip_dialog = StripDialog(self.model, self.client, k, self)
        self.strip_dialog.show()
        return self.strip_dialog

    def add_directions(self, dset, what, replace_attribute=None):
        """Add style-channel directions (first removing those ranked for `replace_attribute`);
        the first new row is scrolled to and highlighted."""
        state = self.model.state
        if replace_attribute is not None and state.directions is not None:
            d = state.directions
            attributes = d.meta['per_direction'].get('attribute') or [None] * len(d)
            state = state.keep_directions([k for k in range(len(d))
                                           if not (d.is_style_channel(k) and attributes[k] == replace_attribute)])
        before = set() if state.directions is None else set(state.directions.names)
        self.model.set_state(state.add_directions(dset))
        added = [name for name in self.model.state.directions.names if name not in before]
        self.status.emit(f'added {len(dset)} StyleSpace slider{"s" * (len(dset) != 1)} ({what})')
        rows = [row for row in (self.row_of(name) for name in added) if row is not None]
        if rows:
            self.scroll.ensureWidgetVisible(rows[0])
            for row in rows:
                row.highlight()
        return added

    # -- background work
    def _start(self, kind, what, **params):
        job = self.client.submit(kind, **params)
        self.job_bar.attach(job)
        job.failed.connect(lambda text: message(self, what, text))
        job.cancelled.connect(lambda: self.status.emit(f'{what}: cancelled'))
        self.job = job
        return job

    def add_channel(self, layer=None, channel=None):
        """A slider for channel `channel` of style layer `layer` (default: the boxes')."""
        if self.model.network is None:
            return None
        if layer is None:
            row = self.layer_combo.currentData()
            if row is None:
                return None
            layer, channel = row['name'], self.channel_spin.value()
        job = self._start('style_channels', 'StyleSpace channel', picks=[(layer, int(channel))])
        job.finished.connect(lambda dset: self.add_directions(dset, f'{layer} channel {channel}'))
        return job

    def labelled_samples(self):
        """(attribute name, [(seed, class_idx, label)]) the ranking uses, or None (cancelled)."""
        name = self.labels_combo.currentData()
        if name is not None:
            return name, list(self.model.labels.get(name, ()))
        path = self.files.open_file(self, 'labels', 'Rank by a label file', LABEL_FILTER)
        if not path:
            return None
        return self.samples_from_file(path)

    def samples_from_file(self, path):
        seeds, labels, classes = labels_from_csv(path)
        name = os.path.splitext(os.path.basename(path))[0]
        return name, [(seed, None if classes is None else classes[i], int(label))
                      for i, (seed, label) in enumerate(zip(seeds, labels))]

    def watch_labeling(self, dialog):
        """Keep the marks of a labelling dialog (explorer/labeling_dialog.py) when it closes, fitted
        or not, so they can rank the channels."""
        if dialog is not None:
            dialog.finished.connect(lambda _result: self.keep_labels(dialog))
        return dialog

    def keep_labels(self, dialog):
        marked = [(s['seed'], s['class_idx'], s['label']) for s in dialog.labelled()]
        if marked:
            name = dialog.name_edit.text().strip() or 'attribute'
            self.model.set_labels(name, marked)
            index = self.labels_combo.findData(name)
            if index >= 0:
                self.labels_combo.setCurrentIndex(index)
            self.status.emit(f"kept {len(marked)} labelled samples of '{name}': Rank channels ranks by them")

    def rank(self, name=None, samples=None, top=None):
        """Rank the channels by the labelled samples of attribute `name` (default: the boxes')."""
        if self.model.network is None:
            return None
        if samples is None:
            try:
                picked = self.labelled_samples()
            except StylescopeError as exc:
                message(self, 'Rank channels', str(exc))
                return None
            if picked is None:
                return None
            name, samples = picked
        base = self.model.state.replace(w=None, w_label='', directions=None, alphas=(), mixing=())
        requests = [base.replace(seed=seed, class_idx=base.class_idx if k is None else k).request()
                    for seed, k, _label in samples]
        job = self._start('rank_style_channels', 'Rank channels', requests=requests,
                          labels=[label for _s, _k, label in samples], name=name,
                          top=top or self.top_spin.value(), include_torgb=self.torgb_box.isChecked())
        job.finished.connect(lambda result: self._ranked(result, name))
        return job

    def _ranked(self, result, name):
        self.ranked = result['ranked']
        self.ranked_list.clear()
        for i, (layer, channel, score) in enumerate(self.ranked[:RANKED_SHOWN]):
            self.ranked_list.addItem(f'{i + 1}. {layer}:{channel}  score {score:+.2f}')
            self.ranked_list.item(i).setData(Qt.ItemDataRole.UserRole, (layer, channel))
        self.ranked_list.setVisible(True)
        self.add_directions(result['directions'], f"ranked for '{name}' from {result['samples']} labelled samples",
                            replace_attribute=name)
