"""Label to make a direction (InterfaceGAN in the GUI): a grid of random samples; click a sample
to mark it as having the attribute (green, +), click again for not having it (red, -), once more
to skip it (right click marks -). 'New samples' draws another page and keeps the marks. Fit
trains a linear SVM on the marked samples' w (in the background) and adds the boundary's normal
as a new direction slider, optionally made orthogonal to chosen existing directions. 'Save labels'
writes the marks, each seed with the class it was drawn with, for `directions svm --labels`."""
import random

import numpy as np
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import (QComboBox, QDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                             QListWidget, QListWidgetItem, QVBoxLayout)

from core.errors import StylescopeError
from core.label_file import write_labels
from core.seeds import MAX_SEED
from explorer.widgets import JobBar, message, pixmap_from_array, push_button

TILE = 112
ROWS, COLS = 4, 4
MARKS = {1: ('+', '#2e9d3a'), 0: ('−', '#c62828'), None: ('', '#808080')}


class SampleTile(QLabel):
    """One sample; left click cycles unmarked -> + -> - -> unmarked, right click marks -."""
    clicked = pyqtSignal(object)  # Qt.MouseButton

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedSize(TILE + 8, TILE + 8)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.mark = None
        self.image = None
        self.show_mark(None)

    def set_image(self, image):
        self.image = image
        self.setPixmap(pixmap_from_array(image, TILE))

    def show_mark(self, mark):
        self.mark = mark
        text, colour = MARKS[mark]
        width = 4 if mark is not None else 1
        self.setStyleSheet(f'border: {width}px solid {colour}; background: #202020;')
        self.setToolTip({1: 'has the attribute (+)', 0: 'does not have it (−)', None: 'skipped'}[mark])
        self.update()

    def mousePressEvent(self, event):
        self.clicked.emit(event.button())

    def paintEvent(self, event):
        super().paintEvent(event)
        text, colour = MARKS[self.mark]
        if text:
            painter = QPainter(self)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(QColor(colour))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QRectF(self.width() - 30, 6, 24, 24))
            font = QFont(painter.font())
            font.setBold(True)
            font.setPointSize(14)
            painter.setFont(font)
            painter.setPen(QColor('white'))
            painter.drawText(QRectF(self.width() - 30, 6, 24, 24), Qt.AlignmentFlag.AlignCenter, text)
            painter.end()


class LabelingDialog(QDialog):
    direction_made = pyqtSignal(object)  # DirectionSet

    def __init__(self, model, client, files, parent=None, seeds=None, rng=None):
        super().__init__(parent)
        self.files = files
        self.setWindowTitle('Label samples to make a direction')
        self.model = model
        self.client = client
        self._rng = rng or random.Random()
        self._fixed_seeds = list(seeds) if seeds is not None else None
        self.samples = []  # dicts: seed, class_idx (the class it was drawn with), request, label
        self.kept = []     # the same, labelled for this name before (EditorModel.labels)
        self.page_start = 0
        self.render_job = None
        self.fit_job = None
        self.result = None
        info = model.network
        intro = QLabel('Click the samples that <b>have</b> the attribute (green +), click twice for those that '
                       '<b>do not</b> (red −; or right-click), leave the unclear ones unmarked. Then fit: the SVM '
                       'boundary between the two groups becomes a new direction slider.')
        intro.setWordWrap(True)
        self.name_edit = QLineEdit('attribute')
        self.name_edit.setToolTip('Name of the new direction; the samples labelled for this name before are kept, '
                                  'so fitting again adds to them')
        self.name_edit.editingFinished.connect(self._load_kept_labels)
        self.tiles = []
        grid = QGridLayout()
        grid.setSpacing(4)
        for i in range(ROWS * COLS):
            tile = SampleTile()
            tile.clicked.connect(lambda button, i=i: self.click(i, button))
            grid.addWidget(tile, i // COLS, i % COLS)
            self.tiles.append(tile)
        self.layers_combo = QComboBox()
        self.layers_combo.addItem(f"all layers (ws 0-{info['num_ws'] - 1})", (0, info['num_ws']))
        for group, (s, e) in info['layer_groups'].items():
            if e > s:
                self.layers_combo.addItem(f'{group} (ws {s}-{e - 1})', (s, e))
        self.layers_combo.setToolTip('Layer range of the new direction (change it later on its slider)')
        self.orthogonal_list = QListWidget()
        self.orthogonal_list.setToolTip('Make the new direction orthogonal to these, so moving it leaves them '
                                        'unchanged (InterfaceGAN conditional boundary)')
        self.orthogonal_list.setMaximumHeight(110)
        directions = model.state.directions
        for name in ([] if directions is None else directions.names):
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.orthogonal_list.addItem(item)
        self.counts = QLabel()
        self.new_button = push_button('New samples', lambda: self.new_page(),
                                      tip='Another page of random samples; marks so far are kept')
        self.clear_button = push_button('Clear marks', self.clear_marks)
        self.fit_button = push_button('Fit direction', lambda: self.fit(), default=True)
        self.save_button = push_button('Save labels...', lambda: self.save_labels(),
                                       tip="Write the marks as a 'seed,label' CSV (with each sample's class on a "
                                           'conditional model) for `python main.py directions svm --labels`')
        self.close_button = push_button('Close', self.reject)
        self.job_bar = JobBar()
        side = QVBoxLayout()
        side.addWidget(QLabel('Name'))
        side.addWidget(self.name_edit)
        side.addWidget(QLabel('Layers'))
        side.addWidget(self.layers_combo)
        orthogonal_label = QLabel('Orthogonal to' if directions is not None else 'Orthogonal to: (no directions yet)')
        side.addWidget(orthogonal_label)
        side.addWidget(self.orthogonal_list)
        self.orthogonal_list.setVisible(directions is not None)
        side.addWidget(self.counts)
        side.addStretch(1)
        side.addWidget(self.new_button)
        side.addWidget(self.clear_button)
        side.addWidget(self.fit_button)
        side.addWidget(self.save_button)
        side.addWidget(self.close_button)
        body = QHBoxLayout()
        body.addLayout(grid)
        body.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(body)
        layout.addWidget(self.job_bar)
        self._load_kept_labels()
        self.new_page()

    # -- samples
    def _sample(self, seed, class_idx, label=None):
        base = self.model.state.replace(w=None, w_label='', directions=None, alphas=(), mixing=())
        state = base.replace(seed=seed, class_idx=class_idx if class_idx is not None else base.class_idx)
        return dict(seed=seed, class_idx=state.class_idx, request=state.request(), label=label)

    def _load_kept_labels(self):
        """The samples labelled for this name before (the model keeps them, and sessions), ahead of
        the pages: a refit adds to them."""
        name = self.name_edit.text().strip() or 'attribute'
        kept = self.model.labels.get(name, ())
        seen = {s['seed'] for s in self.samples}
        self.kept = [self._sample(seed, class_idx, label) for seed, class_idx, label in kept if seed not in seen]
        self._update_counts()

    def _next_seeds(self, n):
        if self._fixed_seeds is not None:
            seeds, self._fixed_seeds = self._fixed_seeds[:n], self._fixed_seeds[n:]
            if len(seeds) == n:
                return seeds
            seeds += [self._rng.randrange(MAX_SEED + 1) for _ in range(n - len(seeds))]
            return seeds
        return [self._rng.randrange(MAX_SEED + 1) for _ in range(n)]

    def new_page(self):
        """Draw ROWS x COLS new samples (with the current class, psi and noise; no edits)."""
        base = self.model.state.replace(w=None, w_label='', directions=None, alphas=(), mixing=())
        self.page_start = len(self.samples)
        seeds = self._next_seeds(len(self.tiles))
        for seed in seeds:
            state = base.replace(seed=seed)
            self.samples.append(dict(seed=seed, class_idx=state.class_idx, request=state.request(), label=None))
        for tile in self.tiles:
            tile.clear()
            tile.show_mark(None)
        requests = [base.replace(seed=s).request(preview=True, output_size=TILE) for s in seeds]
        job = self.client.submit('render_batch', requests=requests, tag=self.page_start)
        job.partial.connect(self._tile_ready)
        self.job_bar.attach(job, 'Rendering samples')
        self.render_job = job
        self._update_counts()
        return job

    def _tile_ready(self, partial):
        start, index, image = partial
        if start == self.page_start:
            self.tiles[index].set_image(image)

    def page_samples(self):
        return self.samples[self.page_start:self.page_start + len(self.tiles)]

    # -- marks
    def click(self, i, button=Qt.MouseButton.LeftButton):
        sample = self.page_samples()[i]
        if button == Qt.MouseButton.RightButton:
            label = None if sample['label'] == 0 else 0
        else:
            label = {None: 1, 1: 0, 0: None}[sample['label']]
        self.set_label(i, label)

    def set_label(self, i, label):
        self.page_samples()[i]['label'] = label
        self.tiles[i].show_mark(label)
        self._update_counts()

    def clear_marks(self):
        self.kept = []
        for sample in self.samples:
            sample['label'] = None
        for tile in self.tiles:
            tile.show_mark(None)
        self._update_counts()

    def labelled(self):
        return [s for s in self.kept + self.samples if s['label'] is not None]

    def _update_counts(self):
        labels = [s['label'] for s in self.samples]
        marked = [s['label'] for s in self.labelled()]
        pos, neg = marked.count(1), marked.count(0)
        kept = len(self.kept)
        self.counts.setText(f'{pos} with (+), {neg} without (−), {labels.count(None)} unmarked'
                            + (f' ({kept} kept from before)' if kept else ''))
        self.fit_button.setEnabled(pos > 0 and neg > 0 and (self.fit_job is None or self.fit_job.done))
        self.save_button.setEnabled(pos + neg > 0)

    def save_labels(self, path=None):
        """The marked samples as a label file (core/label_file.py); returns the path or None."""
        if path is None:
            name = f'{self.name_edit.text().strip() or "labels"}.csv'
            path, _ = self.files.save_file(self, 'labels', 'Save labels', 'Label files (*.csv)', name)
            if not path:
                return None
        marked = self.labelled()
        conditional = (self.model.network or {}).get('c_dim', 0) > 0
        try:
            write_labels(path, [s['seed'] for s in marked], [s['label'] for s in marked],
                         [s['class_idx'] for s in marked] if conditional else None)
        except StylescopeError as exc:
            message(self, 'Save labels', str(exc))
            return None
        return path

    # -- fit
    def orthogonal_to(self):
        names = [self.orthogonal_list.item(i).text() for i in range(self.orthogonal_list.count())
                 if self.orthogonal_list.item(i).checkState() == Qt.CheckState.Checked]
        directions = self.model.state.directions
        if not names or directions is None:
            return None
        return np.stack([directions.vectors[directions.index(n)] for n in names])

    def fit(self):
        marked = self.labelled()
        name = self.name_edit.text().strip() or 'attribute'
        job = self.client.submit('fit_labels', requests=[s['request'] for s in marked],
                                 labels=[s['label'] for s in marked], name=name,
                                 orthogonal_to=self.orthogonal_to(), layers=self.layers_combo.currentData())
        self.job_bar.attach(job, 'Fitting')
        job.finished.connect(self._fitted)
        job.failed.connect(lambda text: message(self, 'Fit direction', text))
        job.ended.connect(self._update_counts)
        self.fit_job = job
        self._update_counts()
        return job

    def _fitted(self, dset):
        name = self.name_edit.text().strip() or 'attribute'
        self.model.set_labels(name, [(s['seed'], s['class_idx'], s['label']) for s in self.labelled()])
        self.result = dset
        self.direction_made.emit(dset)
        self.accept()
