"""One direction across several seeds, inside the explorer (as `directions show` draws it on the
command line): a row per seed, a column per slider value from -amount to +amount, the other
sliders at 0. Telling the anonymous components apart is what it is for: PC3 that turns the head
on every seed is a pose direction."""
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QDialog, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QSpinBox,
                             QVBoxLayout, QWidget)

from explorer.widgets import JobBar, button_row, pixmap_from_array, push_button

CELL = 96


def strip_requests(state, k, seeds, amounts):
    """RenderRequests of the strip: for each seed (a row) each slider value of direction k (a
    column), the picture's class, truncation and noise, no other edits and no mixing."""
    base = state.replace(w=None, w_label='', seed_frac=0.0, mixing=(), alphas=(0.0,) * len(state.alphas))
    return [base.replace(seed=seed).with_alpha(k, amount).request(output_size=CELL) for seed in seeds
            for amount in amounts]


class StripDialog(QDialog):
    def __init__(self, model, client, k, parent=None):
        super().__init__(parent)
        self.model, self.client, self.k = model, client, k
        dset = model.state.directions
        self.setWindowTitle(f'{dset.names[k]} across seeds')
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 24)
        self.seeds_spin.setValue(6)
        self.seeds_spin.setToolTip('How many seeds, from the picture\'s seed on')
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(2, 15)
        self.steps_spin.setValue(7)
        self.amount_spin = QDoubleSpinBox()
        self.amount_spin.setRange(0.1, 100.0)
        self.amount_spin.setValue(dset.limit_of(k))
        self.amount_spin.setToolTip('The strip runs from -amount to +amount, in the slider\'s unit')
        self.draw_button = push_button('Draw', lambda: self.draw(), default=True)
        controls = QHBoxLayout()
        for label, widget in (('seeds', self.seeds_spin), ('steps', self.steps_spin), ('±', self.amount_spin)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.draw_button)
        controls.addStretch(1)
        self.grid_box = QWidget()
        self.grid = QGridLayout(self.grid_box)
        self.grid.setSpacing(2)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_box)
        self.job_bar = JobBar()
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.job_bar)
        layout.addLayout(button_row(push_button('Close', self.close)))
        self.cells = {}
        self.job = None
        self.resize(8 * (CELL + 4) + 80, 6 * (CELL + 4) + 140)
        self.draw()

    def draw(self):
        """Render the strip in the background; the cells fill in as they come."""
        state = self.model.state
        seeds = [state.seed + i for i in range(self.seeds_spin.value())]
        amounts = np.linspace(-self.amount_spin.value(), self.amount_spin.value(), self.steps_spin.value())
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cells = {}
        for col, amount in enumerate(amounts):
            self.grid.addWidget(QLabel(f'{amount:+.2g}'), 0, col + 1, alignment=Qt.AlignmentFlag.AlignCenter)
        for row, seed in enumerate(seeds):
            self.grid.addWidget(QLabel(f'seed {seed}'), row + 1, 0)
            for col in range(len(amounts)):
                cell = QLabel()
                cell.setFixedSize(CELL, CELL)
                cell.setStyleSheet('background: #202020;')
                self.grid.addWidget(cell, row + 1, col + 1)
                self.cells[row * len(amounts) + col] = cell
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self.job = self.client.submit('render_batch', requests=strip_requests(state, self.k, seeds, amounts),
                                      tag='strip')
        self.job.partial.connect(self._cell_ready)
        self.job_bar.attach(self.job, 'Drawing the strip')
        return self.job

    def _cell_ready(self, partial):
        _tag, index, image = partial
        cell = self.cells.get(index)
        if cell is not None and self.sender() is self.job:
            cell.setPixmap(pixmap_from_array(image, CELL))

    def closeEvent(self, event):
        if self.job is not None and not self.job.done:
            self.job.cancel()
        super().closeEvent(event)
