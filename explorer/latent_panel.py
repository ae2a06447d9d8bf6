"""Latent: the seed (previous / next / random), the class of a conditional model, copy / paste
of the latent as text, and loading a saved w (projected_w.npz or any .npz / .npy of ws; a
projected_w.npz that `project` wrote comes with the noise maps it wrote beside it). A new seed
or w leaves a projected w's noise maps behind (EditState.replace)."""
import os
import random

from PyQt6.QtWidgets import QApplication, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QWidget

from core.errors import StylescopeError
from core.seeds import MAX_SEED
from explorer.latent_text import latent_from_text, latent_to_text
from explorer.widgets import blocked, message, push_button, seed_box

W_FILTER = 'Saved w (*.npz *.npy);;All files (*)'


class LatentPanel(QWidget):
    def __init__(self, model, client, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.last_ws = None  # the edited ws of the newest full frame
        self._build()
        for name in ('seed', 'w', 'w_label', 'noise_maps', 'class_idx', 'edited'):
            getattr(model.events, name).connect(lambda state: self.refresh())
        model.events.network.connect(self._on_network)
        client.rendered.connect(self._on_rendered)
        self.refresh()

    def _build(self):
        self.seed_box = seed_box('Seed: the same number gives the same image as `generate --seeds` and NVIDIA\'s tools')
        self.seed_box.valueChanged.connect(lambda v: self.model.update(seed=int(v), w=None, w_label=''))
        self.prev_button = push_button('◀', lambda: self.step_seed(-1), tip='Previous seed (Alt+Left or [)')
        self.next_button = push_button('▶', lambda: self.step_seed(1), tip='Next seed (Alt+Right or ])')
        self.random_button = push_button('Random', self.random_seed, tip='A random seed (Ctrl+R)')
        for b in (self.prev_button, self.next_button):
            b.setFixedWidth(34)
        self.class_label = QLabel('Class')
        self.class_combo = QComboBox()
        self.class_combo.setToolTip('Class of a conditional model')
        self.class_combo.currentIndexChanged.connect(lambda i: self.model.update(class_idx=i) if i >= 0 else None)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setStyleSheet('color: #555;')
        self.copy_button = push_button('Copy', self.copy_latent,
                                       tip='Copy the latent (seed or w) as text (Ctrl+Shift+C)')
        self.copy_edited_button = push_button('Copy edited w', lambda: self.copy_latent(edited=True),
                                              tip='Copy the edited ws of the picture as text: pasting it gives this '
                                                  'picture without any sliders')
        self.paste_button = push_button('Paste', self.paste_latent,
                                        tip='Use a latent copied as text: a seed, or a w (Ctrl+Shift+V)')
        self.load_button = push_button('Load w...', lambda: self.load_w_file(),
                                       tip='Open a saved w: projected_w.npz (key w) or any .npz / .npy of ws')
        self.seed_button = push_button('Back to seed', lambda: self.model.update(w=None, w_label=''),
                                       tip='Leave the loaded w and show the seed again')

        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(QLabel('Seed'), 0, 0)
        row = QHBoxLayout()
        for w in (self.prev_button, self.seed_box, self.next_button, self.random_button):
            row.addWidget(w)
        row.setStretch(1, 1)
        grid.addLayout(row, 0, 1)
        grid.addWidget(self.class_label, 1, 0)
        grid.addWidget(self.class_combo, 1, 1)
        grid.addWidget(self.source_label, 2, 0, 1, 2)
        buttons = QGridLayout()
        buttons.addWidget(self.copy_button, 0, 0)
        buttons.addWidget(self.paste_button, 0, 1)
        buttons.addWidget(self.copy_edited_button, 0, 2)
        buttons.addWidget(self.load_button, 1, 0)
        buttons.addWidget(self.seed_button, 1, 1, 1, 2)
        grid.addLayout(buttons, 3, 0, 1, 2)
        grid.setRowStretch(4, 1)

    # -- model -> widgets
    def refresh(self):
        state = self.model.state
        with blocked(self.seed_box, self.class_combo):
            self.seed_box.setValue(state.seed)
            if state.class_idx is not None and state.class_idx < self.class_combo.count():
                self.class_combo.setCurrentIndex(state.class_idx)
        self.source_label.setText(f'Showing {state.latent_label}' + (' (edited)' if state.is_edited else ''))
        self.seed_button.setEnabled(state.w is not None)

    def _on_network(self, info):
        with blocked(self.class_combo):
            self.class_combo.clear()
            self.class_combo.addItems([f'class {i}' for i in range(info['c_dim'])])
        conditional = info['c_dim'] > 0
        self.class_label.setVisible(conditional)
        self.class_combo.setVisible(conditional)
        self.last_ws = None
        self.refresh()

    def _on_rendered(self, result):
        if not result.preview and not self.model.show_original:
            self.last_ws = result.ws

    # -- actions
    def step_seed(self, delta):
        state = self.model.state
        self.model.update(seed=int(min(max(state.seed + delta, 0), MAX_SEED)), w=None, w_label='')

    def random_seed(self):
        self.model.update(seed=random.randrange(MAX_SEED + 1), w=None, w_label='')

    def copy_latent(self, edited=False):
        text = latent_to_text(self.model.state, ws=self.last_ws if edited else None)
        QApplication.clipboard().setText(text)
        return text

    def paste_latent(self, text=None):
        info = self.model.network
        if info is None:
            return
        text = QApplication.clipboard().text() if text is None else text
        try:
            changes = latent_from_text(text, info['num_ws'], info['w_dim'])
        except StylescopeError as exc:
            message(self, 'Paste latent', str(exc))
            return
        if 'class_idx' in changes and not 0 <= changes['class_idx'] < max(info['c_dim'], 1):
            changes.pop('class_idx')
        if info['c_dim'] == 0:
            changes.pop('class_idx', None)
        self.model.update(**changes)

    def load_w_file(self, path=None):
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, 'Load w', '', W_FILTER)
            if not path:
                return None
        job = self.client.submit('load_ws', path=path)
        job.finished.connect(lambda loaded: self._loaded_w(loaded, path))
        job.failed.connect(lambda text: message(self, 'Load w', text))
        return job

    def _loaded_w(self, loaded, path):
        ws = loaded['ws']
        name = os.path.basename(path)
        if len(ws) > 1:
            name += f' (1st of {len(ws)})'
        self.model.update(w=ws[0], w_label=name, noise_maps=loaded['noise'])
        if loaded['notes']:
            message(self, 'Load w', ' '.join(loaded['notes']))
