"""Style mixing: the current latent plus one or more sources (seeds or favourites), each with a
thumbnail and a row of per-layer checkboxes grouped coarse / middle / fine. A ws row comes from
the source whose box is ticked (one source per row); rows nobody ticks stay with the current
latent. Group buttons tick or clear a whole group at once."""
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.request import Latent
from explorer.edit_state import MixSource
from explorer.widgets import blocked, button_row, pixmap_from_array, push_button, seed_box, tool_button

THUMB = 48
GROUP_COLOURS = {'coarse': '#dbe8f6', 'middle': '#e3f2df', 'fine': '#f7e7d7'}


class SourceRow:
    """Widgets of one source row, placed in the panel's grid."""

    def __init__(self, index, num_ws, groups, favourites):
        self.index = index
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setStyleSheet('background: #202020;')
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.kind = QComboBox()
        self.kind.addItem('seed')
        for fav in favourites:
            self.kind.addItem(f'★ {fav.name}')
        self.kind.setToolTip('Take styles from a seed or from a favourite (with its edits)')
        self.seed_box = seed_box('Seed of this source')
        self.group_buttons = {g: tool_button(g[0].upper(), f'take all {g} layers (ws {s}-{e - 1}) from this source')
                              for g, (s, e) in groups.items() if e > s}
        self.boxes = []
        for r in range(num_ws):
            box = QCheckBox()
            box.setToolTip(f'ws {r}: take this layer from this source')
            self.boxes.append(box)
        self.remove_button = tool_button('✕', 'Remove this source')


class MixingPanel(QWidget):
    def __init__(self, model, client, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.rows = []
        self.num_ws = 0
        self.groups = {}
        self._layout_key = None
        self._thumbs = {}  # thumbnail key -> image
        self._thumb_job = None
        self.grid_box = QWidget()
        self.grid = QGridLayout(self.grid_box)
        self.grid.setHorizontalSpacing(2)
        self.grid.setVerticalSpacing(4)
        self.add_seed_button = push_button('+ Seed source', lambda: self.add_source())
        self.add_fav_button = push_button('+ Favourite source',
                                          lambda: self.add_source(favourite=len(self.model.favourites) - 1),
                                          tip='Add the newest favourite as a source')
        self.clear_button = push_button('Clear', lambda: self.model.update(mixing=()), tip='Remove every mixing source')
        self.note = QLabel('Each ticked box takes that ws row from the source; unticked rows stay with the '
                           'current latent. Coarse rows set pose and shape, middle rows features, fine rows colours '
                           'and texture.')
        self.note.setWordWrap(True)
        self.note.setStyleSheet('color: #555;')
        buttons = button_row(self.add_seed_button, self.add_fav_button, self.clear_button, stretch_first=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.grid_box)
        layout.addWidget(self.note)
        layout.addStretch(1)
        for name in ('mixing', 'class_idx', 'psi', 'cutoff'):  # the thumbnails are drawn with the class and psi
            getattr(model.events, name).connect(lambda state: self.refresh())
        model.events.network.connect(self._on_network)
        model.events.favourites.connect(lambda favs: self.refresh(force=True))

    def _on_network(self, info):
        self.num_ws = info['num_ws']
        self.groups = info['layer_groups']
        self._thumbs.clear()
        self.refresh(force=True)

    # -- model -> widgets
    def refresh(self, force=False):
        if self.model.network is None:
            return
        state = self.model.state
        key = (len(state.mixing), self.num_ws, tuple(f.name for f in self.model.favourites))
        if force or key != self._layout_key:
            self._rebuild()
            self._layout_key = key
        for i, (row, source) in enumerate(zip(self.rows, state.mixing)):
            fav = self._favourite_index(source)
            widgets = [row.kind, row.seed_box] + row.boxes
            with blocked(*widgets):
                row.kind.setCurrentIndex(0 if fav is None else fav + 1)
                if source.latent.seed is not None:
                    row.seed_box.setValue(source.latent.seed)
                for r, box in enumerate(row.boxes):
                    box.setChecked(state.mix_owner(r) == i)
            row.seed_box.setVisible(source.latent.seed is not None)
        for r, box in enumerate(self.base_boxes):
            box.setChecked(state.mix_owner(r) is None)
        self.add_fav_button.setEnabled(bool(self.model.favourites))
        self.clear_button.setEnabled(bool(state.mixing))
        self._update_thumbnails()

    def _favourite_index(self, source):
        if source.latent.w is None:
            return None
        for i, fav in enumerate(self.model.favourites):
            if fav.name == source.label:
                return i
        return None

    def _clear_grid(self):
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
            elif item.layout() is not None:
                inner = item.layout()
                while inner.count():
                    w = inner.takeAt(0).widget()
                    if w is not None:
                        w.setParent(None)
                        w.deleteLater()

    def _rebuild(self):
        self._clear_grid()
        self.rows = []
        n = self.num_ws
        first_box = 3  # columns: thumb, source, groups; boxes from here
        # header: group names over their columns, then ws numbers
        for group, (s, e) in self.groups.items():
            if e > s:
                label = QLabel(group)
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                label.setStyleSheet(f'background: {GROUP_COLOURS.get(group, "#eee")}; border-radius: 3px;')
                self.grid.addWidget(label, 0, first_box + s, 1, e - s)
        for r in range(n):
            label = QLabel(str(r))
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet('color: #666; font-size: 9px;')
            self.grid.addWidget(label, 1, first_box + r)
        # base row: the current latent
        base = QLabel('current\nlatent')
        base.setAlignment(Qt.AlignmentFlag.AlignCenter)
        base.setFixedSize(THUMB, THUMB)
        base.setStyleSheet('background: #eee; font-size: 9px;')
        self.grid.addWidget(base, 2, 0)
        self.grid.addWidget(QLabel('keeps'), 2, 1)
        self.base_boxes = []
        for r in range(n):
            box = QCheckBox()
            box.setEnabled(False)
            box.setToolTip(f'ws {r} comes from the current latent when ticked')
            self.grid.addWidget(box, 2, first_box + r)
            self.base_boxes.append(box)
        for i, source in enumerate(self.model.state.mixing):
            row = SourceRow(i, n, self.groups, self.model.favourites)
            line = 3 + i
            self.grid.addWidget(row.thumb, line, 0)
            chooser = QHBoxLayout()
            chooser.setSpacing(2)
            chooser.addWidget(row.kind)
            chooser.addWidget(row.seed_box)
            self.grid.addLayout(chooser, line, 1)
            group_box = QHBoxLayout()
            group_box.setSpacing(1)
            for group, button in row.group_buttons.items():
                button.setMaximumWidth(22)
                group_box.addWidget(button)
                button.clicked.connect(lambda _=False, i=i, g=group: self.toggle_group(i, g))
            self.grid.addLayout(group_box, line, 2)
            for r, box in enumerate(row.boxes):
                self.grid.addWidget(box, line, first_box + r)
                box.toggled.connect(lambda on, i=i, r=r: self.set_row(i, r, on))
            self.grid.addWidget(row.remove_button, line, first_box + n)
            row.remove_button.clicked.connect(lambda _=False, i=i: self.remove_source(i))
            row.kind.currentIndexChanged.connect(lambda k, i=i: self._kind_changed(i, k))
            row.seed_box.valueChanged.connect(lambda s, i=i: self.set_source_seed(i, int(s)))
            self.rows.append(row)

    # -- thumbnails (rendered in the background, small)
    def _thumb_key(self, source):
        state = self.model.state
        return (source.latent, state.class_idx, state.psi, state.cutoff)

    def _update_thumbnails(self):
        state = self.model.state
        wanted, requests = [], []
        for i, source in enumerate(state.mixing):
            key = self._thumb_key(source)
            if key in self._thumbs:
                self.rows[i].thumb.setPixmap(pixmap_from_array(self._thumbs[key], THUMB))
                continue
            fav = self._favourite_index(source)
            if fav is not None and self.model.favourites[fav].thumbnail is not None:
                self._thumbs[key] = self.model.favourites[fav].thumbnail
                self.rows[i].thumb.setPixmap(pixmap_from_array(self._thumbs[key], THUMB))
                continue
            wanted.append(key)
            fields = dict(w=source.latent.w.array, seed=0) if source.latent.w is not None else dict(seed=source.latent.seed, w=None)
            requests.append(state.replace(directions=None, alphas=(), mixing=(), **fields).request(output_size=THUMB))
        if requests and (self._thumb_job is None or self._thumb_job.done):
            job = self.client.submit('render_batch', requests=requests, tag=tuple(wanted))
            job.partial.connect(self._thumb_ready)
            job.ended.connect(self._thumb_job_ended)
            self._thumb_job = job

    def _thumb_ready(self, partial):
        keys, index, image = partial
        self._thumbs[keys[index]] = image
        for row, source in zip(self.rows, self.model.state.mixing):
            if self._thumb_key(source) == keys[index]:
                row.thumb.setPixmap(pixmap_from_array(image, THUMB))

    def _thumb_job_ended(self):
        self._thumb_job = None
        self._update_thumbnails()  # sources may have changed meanwhile

    # -- edits
    def add_source(self, seed=None, favourite=None):
        state = self.model.state
        if favourite is not None and favourite >= 0:
            fav = self.model.favourites[favourite]
            source = MixSource(fav.name, Latent(w=fav.ws))
        else:
            used = [m.latent.seed for m in state.mixing if m.latent.seed is not None] + [state.seed]
            seed = seed if seed is not None else max(used) + 1
            source = MixSource(f'seed {seed}', Latent(seed=int(seed)))
        self.model.update(mixing=state.mixing + (source,))
        return len(self.model.state.mixing) - 1

    def remove_source(self, i):
        mixing = self.model.state.mixing
        self.model.update(mixing=mixing[:i] + mixing[i + 1:])

    def set_source_seed(self, i, seed):
        mixing = list(self.model.state.mixing)
        mixing[i] = MixSource(f'seed {seed}', Latent(seed=seed), mixing[i].rows)
        self.model.update(mixing=tuple(mixing))

    def _kind_changed(self, i, k):
        mixing = list(self.model.state.mixing)
        if k == 0:
            seed = self.rows[i].seed_box.value()
            mixing[i] = MixSource(f'seed {seed}', Latent(seed=seed), mixing[i].rows)
        else:
            fav = self.model.favourites[k - 1]
            mixing[i] = MixSource(fav.name, Latent(w=fav.ws), mixing[i].rows)
        self.model.update(mixing=tuple(mixing))

    def set_row(self, i, row, on):
        rows = set(self.model.state.mixing[i].rows)
        rows = rows | {row} if on else rows - {row}
        self.model.set_state(self.model.state.with_mix_rows(i, rows))

    def set_rows(self, i, rows):
        self.model.set_state(self.model.state.with_mix_rows(i, rows))

    def toggle_group(self, i, group):
        """Take the whole group from source i, or give it back when source i already has all of it."""
        s, e = self.groups[group]
        rows = set(self.model.state.mixing[i].rows)
        group_rows = set(range(s, e))
        rows = rows - group_rows if group_rows <= rows else rows | group_rows
        self.set_rows(i, rows)
