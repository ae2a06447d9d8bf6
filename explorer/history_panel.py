"""Favourites and history: undo / redo, the A/B toggle, and a strip of favourites (the current
state stored with a thumbnail; click one to go back to it; they are saved with the session). A
favourite's context menu starts "A → B" from it (explorer/difference_dialog.py)."""
from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtWidgets import (QHBoxLayout, QInputDialog, QLabel, QListView, QListWidget, QListWidgetItem, QMenu,
                             QVBoxLayout, QWidget)

from explorer.widgets import icon_from_array, push_button, thumbnail

THUMB = 72


class HistoryPanel(QWidget):
    status = pyqtSignal(str)
    difference_requested = pyqtSignal(int)  # "A → B" from favourite k

    def __init__(self, model, client, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.last_full = None  # newest full, edited RenderResult
        self.undo_button = push_button('Undo', model.undo, tip='Undo (Ctrl+Z)')
        self.redo_button = push_button('Redo', model.redo, tip='Redo (Ctrl+Shift+Z)')
        self.ab_button = push_button('A/B', model.set_show_original, checkable=True,
                                     tip='Show the unedited picture (no sliders, no mixing) while on (B)')
        self.add_button = push_button('★ Add', lambda: self.add_favourite(),
                                      tip='Store the current state with a thumbnail (Ctrl+D)')
        self.remove_button = push_button('Remove', lambda: self.remove_selected(), tip='Remove the selected favourite')
        self.rename_button = push_button('Rename...', lambda: self.rename_selected(), tip='Rename the selected favourite')
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(THUMB, THUMB))
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setSpacing(4)
        self.strip.setFixedHeight(THUMB + 44)
        self.strip.setToolTip('Favourites: click one to restore it (an undoable step)')
        self.strip.itemClicked.connect(lambda item: self.restore(self.strip.row(item)))
        self.strip.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.strip.customContextMenuRequested.connect(self._context_menu)
        self.history_label = QLabel()
        self.history_label.setStyleSheet('color: #555;')
        buttons = QHBoxLayout()
        for b in (self.undo_button, self.redo_button, self.ab_button, self.add_button, self.rename_button,
                  self.remove_button):
            buttons.addWidget(b)
        buttons.addWidget(self.history_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.strip)
        model.events.history.connect(self._on_history)
        model.events.favourites.connect(self._fill)
        model.events.original.connect(self._on_original)
        client.rendered.connect(self._on_rendered)
        self._on_history(False, False)

    def _on_history(self, can_undo, can_redo):
        self.undo_button.setEnabled(can_undo)
        self.redo_button.setEnabled(can_redo)
        undo, redo = self.model.undo_depth
        self.history_label.setText(f'{undo} undo / {redo} redo steps')

    def _on_original(self, on):
        self.ab_button.blockSignals(True)
        self.ab_button.setChecked(on)
        self.ab_button.blockSignals(False)

    def _on_rendered(self, result):
        if not result.preview and not self.model.show_original:
            self.last_full = result
            state = self.model.state
            if result.request.replace(preview=False) == state.request():
                step = max(1, result.image.shape[0] // THUMB)  # a strided icon: no filtering on the GUI thread
                self.model.remember_picture(state, result.ws, result.image[::step, ::step].copy())

    def _fill(self, favourites):
        self.strip.clear()
        for fav in favourites:
            item = QListWidgetItem(fav.name)
            if fav.thumbnail is not None:
                item.setIcon(icon_from_array(fav.thumbnail, THUMB))
            item.setToolTip(f'{fav.name}: {fav.state.latent_label}, psi {fav.state.psi:g}')
            self.strip.addItem(item)
        has = bool(favourites)
        self.remove_button.setEnabled(has)
        self.rename_button.setEnabled(has)

    def add_favourite(self, name=None):
        """Store the current state with the newest full frame's ws and thumbnail."""
        result = self.last_full
        state = self.model.state
        if result is None or result.request.replace(preview=False) != state.request():
            self.status.emit('wait for the picture to finish rendering, then add the favourite')
            return None
        fav = self.model.add_favourite(result.ws, thumbnail(result.image), name=name, state=state)
        self.status.emit(f'added {fav.name}')
        self.strip.scrollToBottom()
        return fav

    def favourite_menu(self, index):
        """The context menu of favourite `index`: restore, A → B from it, rename, remove."""
        menu = QMenu(self)
        menu.addAction('Restore', lambda: self.restore(index))
        menu.addAction('Direction A → B from this favourite...', lambda: self.difference_requested.emit(index))
        menu.addSeparator()
        menu.addAction('Rename...', lambda: self.rename_selected(index))
        menu.addAction('Remove', lambda: self.remove_selected(index))
        return menu

    def _context_menu(self, pos):
        item = self.strip.itemAt(pos)
        if item is not None:
            self.favourite_menu(self.strip.row(item)).popup(self.strip.viewport().mapToGlobal(pos))

    def restore(self, index):
        if 0 <= index < len(self.model.favourites):
            self.model.restore_favourite(index)

    def selected(self):
        row = self.strip.currentRow()
        return row if 0 <= row < len(self.model.favourites) else None

    def remove_selected(self, index=None):
        index = self.selected() if index is None else index
        if index is not None:
            self.model.remove_favourite(index)

    def rename_selected(self, index=None, name=None):
        index = self.selected() if index is None else index
        if index is None:
            return
        if name is None:
            name, ok = QInputDialog.getText(self, 'Rename favourite', 'Name:', text=self.model.favourites[index].name)
            if not ok:
                return
        self.model.rename_favourite(index, name)
