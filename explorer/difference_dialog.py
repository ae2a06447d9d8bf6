""""A -> B": the change between two pictures made a direction (latent arithmetic, the
expression-transfer recipe w1 + lambda (w3 - w2)). A and B are the current picture, any
favourite (a projected photo is one too) or an earlier picture of the undo history; the
direction's vector is B's ws minus A's (per ws row when they differ per row:
core.direction_set.difference), its unit that whole change, so its slider at 1 turns A into B;
a layer range such as the coarse rows alone moves B's pose but not its texture. It joins the
Directions panel with its slider at 0; with "Show A first" the picture becomes A (the
favourite's or history step's state) in the same undoable step, so moving the slider to 1 shows B.

`Endpoint` and `add_difference` are Qt-free, so the behaviour is tested without a dialog."""
from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QDialog, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from core.direction_set import difference
from core.errors import StylescopeError
from explorer.widgets import button_row, icon_from_array, push_button

ICON = 40


@dataclass(frozen=True, eq=False)
class Endpoint:
    """One end of "A -> B": a label, the exact ws [num_ws, w_dim] it is drawn from, and the
    state to show it (None for the current picture, which is shown already)."""
    label: str
    ws: np.ndarray
    state: object = None
    thumbnail: np.ndarray = None
    history: bool = False  # an undo step rather than the current picture or a favourite


def endpoints(model, current=None):
    """The pictures "A -> B" can join: the current one (when `current`, its newest full
    RenderResult, is given), every favourite, then the undo steps whose picture was drawn."""
    ends = [] if current is None else [Endpoint('the current picture', current.ws, None, None)]
    ends += [Endpoint(fav.name, fav.ws, fav.state, fav.thumbnail) for fav in model.favourites]
    return ends + [Endpoint(f"{back} step{'s' if back > 1 else ''} back ({state.latent_label})", ws, state, thumb, True)
                   for back, state, ws, thumb in model.history_pictures()]


def add_difference(model, a, b, name=None, layers=None, show_a=True):
    """Add the direction a -> b to the model's state (its slider at 0), first going to A's state
    when `show_a` and A is a favourite: one undoable step. Returns the direction's name as added
    (' (2)' appended when the name is taken)."""
    info = model.network or {}
    name = (name or '').strip() or f'{a.label} → {b.label}'
    meta = dict(fingerprint=info.get('fingerprint'))
    dset = difference(a.ws, b.ws, name, layers, meta, labels=(a.label, b.label))
    base = a.state if show_a and a.state is not None else model.state
    before = set() if base.directions is None else set(base.directions.names)
    new = base.add_directions(dset)
    model.set_state(new)
    return next(n for n in new.directions.names if n not in before)


class DifferenceDialog(QDialog):
    """Pick A, B, the ws rows and a name; `made(name)` when the direction was added."""
    made = pyqtSignal(str)

    def __init__(self, model, current=None, a_index=None, parent=None):
        super().__init__(parent)
        self.model = model
        self.setWindowTitle('Direction A → B')
        self.ends = endpoints(model, current)
        self.a_combo, self.b_combo = QComboBox(), QComboBox()
        for combo in (self.a_combo, self.b_combo):
            for end in self.ends:
                if end.thumbnail is not None:
                    combo.addItem(icon_from_array(end.thumbnail, ICON), end.label)
                else:
                    combo.addItem(end.label)
        self.a_combo.setToolTip('Where the change starts: the slider at 0 leaves a picture as it is')
        self.b_combo.setToolTip('Where it ends: the slider at 1 turns A into B')
        self.a_combo.setCurrentIndex(0 if a_index is None else a_index + (current is not None))
        self.b_combo.setCurrentIndex(self._other(self.a_combo.currentIndex()))
        self.rows_combo = QComboBox()
        info = model.network or {}
        num_ws = info.get('num_ws', 0)
        self.rows_combo.addItem(f'all (ws 0-{num_ws - 1})', (0, num_ws))
        for group, (s, e) in (info.get('layer_groups') or {}).items():
            if e > s:
                self.rows_combo.addItem(f'{group} (ws {s}-{e - 1})', (s, e))
        self.rows_combo.setToolTip('The ws rows the edit reaches (change it later on the row): the coarse rows '
                                   'alone move pose, not texture')
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(self._default_name())
        self.show_a_box = QCheckBox('Show A first, so that 1 shows B')
        self.show_a_box.setChecked(True)
        self.show_a_box.setToolTip("The picture becomes A (the favourite as it was stored) as the direction is added")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet('color: #a33;')
        self.add_button = push_button('Add direction', lambda: self.accept_difference(), default=True)
        form = QFormLayout()
        form.addRow('A (from)', self.a_combo)
        form.addRow('B (to)', self.b_combo)
        form.addRow('ws rows', self.rows_combo)
        form.addRow('name', self.name_edit)
        layout = QVBoxLayout(self)
        intro = QLabel('The change from picture A to picture B as a slider: at 1 it turns A into B, and on any other '
                       'picture it makes the same change (latent arithmetic).')
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.show_a_box)
        layout.addWidget(self.problem)
        layout.addLayout(button_row(self.add_button, push_button('Cancel', self.reject)))
        for combo in (self.a_combo, self.b_combo):
            combo.currentIndexChanged.connect(lambda _: self._refresh())
        self._refresh()

    def _other(self, index):
        """B's first choice: the newest favourite, else the latest undo step."""
        main = sum(not end.history for end in self.ends)
        order = list(range(main - 1, -1, -1)) + list(range(main, len(self.ends)))
        return next((i for i in order if i != index), index)

    def _default_name(self):
        a, b = self.a_combo.currentIndex(), self.b_combo.currentIndex()
        if not (0 <= a < len(self.ends) and 0 <= b < len(self.ends)):
            return 'A → B'
        return f'{self.ends[a].label} → {self.ends[b].label}'

    def _refresh(self):
        a, b = self.a_combo.currentIndex(), self.b_combo.currentIndex()
        self.name_edit.setPlaceholderText(self._default_name())
        self.show_a_box.setEnabled(0 <= a < len(self.ends) and self.ends[a].state is not None)
        enough = len(self.ends) >= 2 and a != b
        self.add_button.setEnabled(enough)
        self.problem.setText('' if enough else
                             'Pick two different pictures: add favourites (★) or edit the picture to choose from.')

    def accept_difference(self):
        a, b = self.ends[self.a_combo.currentIndex()], self.ends[self.b_combo.currentIndex()]
        try:
            name = add_difference(self.model, a, b, self.name_edit.text() or self._default_name(),
                                  self.rows_combo.currentData(), self.show_a_box.isChecked())
        except StylescopeError as exc:
            self.problem.setText(str(exc))
            return None
        self.made.emit(name)
        self.accept()
        return name
