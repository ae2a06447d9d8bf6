"""Latent: the seed (previous / next / random), walking smoothly between seeds (drag, or Animate
for a latent walk), the class of a conditional model, copy / paste of the latent as text, and
loading a saved w (projected_w.npz or any .npz / .npy of ws; a
projected_w.npz that `project` wrote comes with the noise maps it wrote beside it). A new seed
or w leaves a projected w's noise maps behind (EditState.replace)."""
import os
import random
import time

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                             QWidget)
from superqt import QDoubleSlider

from core.errors import StylescopeError
from core.seeds import MAX_SEED
from explorer.drag_preview import Gesture
from explorer.latent_text import latent_from_text, latent_to_text
from explorer.widgets import bind_drag, blocked, message, push_button, seed_box

WALK_SPAN = 10.0    # the walk slider reaches this many seeds either side of the picture's
ANIMATION_MS = 40   # the animation moves on about 25 times a second (frames come as fast as they render)
W_FILTER = 'Saved w (*.npz *.npy);;All files (*)'


class SeedKeys(QObject):
    """`[` and `]` step the seed even while the seed box has focus: no seed is typed with them, so
    the box gives them up to the window's shortcuts."""
    KEYS = {Qt.Key.Key_BracketLeft: -1, Qt.Key.Key_BracketRight: 1}

    def __init__(self, step, parent=None):
        super().__init__(parent)
        self.step = step

    def eventFilter(self, obj, event):
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and event.key() in self.KEYS:
            if event.type() == QEvent.Type.KeyPress:
                self.step(self.KEYS[event.key()])
            event.accept()
            return True
        return False


class LatentPanel(QWidget):
    status = pyqtSignal(str)

    def __init__(self, model, client, files, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.files = files
        self.last_ws = None  # the edited ws of the newest full frame
        self._build()
        for name in ('seed', 'seed_frac', 'w', 'w_label', 'noise_maps', 'class_idx', 'edited'):
            getattr(model.events, name).connect(lambda state: self.refresh())
        model.events.network.connect(self._on_network)
        client.rendered.connect(self._on_rendered)
        self.refresh()

    def _build(self):
        self.seed_box = seed_box('Seed: the same number gives the same image as `generate --seeds` and NVIDIA\'s tools')
        self._seed_keys = SeedKeys(self.step_seed, self)
        self.seed_box.installEventFilter(self._seed_keys)
        for child in self.seed_box.findChildren(QObject):
            child.installEventFilter(self._seed_keys)
        self.seed_box.valueChanged.connect(lambda v: self.model.update(seed=int(v), seed_frac=0.0, w=None, w_label=''))
        self.walk_slider = QDoubleSlider(Qt.Orientation.Horizontal)
        self.walk_slider.setToolTip('Drag to walk smoothly from seed to seed (z slerped between neighbours, as '
                                    "NVIDIA's visualiser does); the range re-centres when you let go")
        self.walk_slider.valueChanged.connect(self._walked)
        self.walk_slider.sliderReleased.connect(self._centre_walk)
        bind_drag(self.walk_slider, self.model)
        self.animate_box = QCheckBox('Animate')
        self.animate_box.setToolTip('Walk on through the seeds by itself: a latent walk')
        self.animate_box.toggled.connect(self.set_animating)
        self.speed_box = QDoubleSpinBox()
        self.speed_box.setRange(0.05, 10.0)
        self.speed_box.setSingleStep(0.1)
        self.speed_box.setValue(0.5)
        self.speed_box.setSuffix(' seeds/s')
        self.speed_box.setToolTip('How fast the animation walks')
        self._animation = QTimer(self)
        self._animation.setInterval(ANIMATION_MS)
        self._animation.timeout.connect(self._animation_step)
        self._animated_at = None
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
        for w in (self.prev_button, self.seed_box, self.next_button):
            row.addWidget(w)
        row.setStretch(1, 1)
        grid.addLayout(row, 0, 1)
        grid.addWidget(QLabel('Walk'), 1, 0)
        grid.addWidget(self.walk_slider, 1, 1)
        animate = QHBoxLayout()
        animate.addWidget(self.animate_box)
        animate.addWidget(self.speed_box, 1)
        grid.addLayout(animate, 2, 1)
        grid.addWidget(self.class_label, 3, 0)
        grid.addWidget(self.class_combo, 3, 1)
        grid.addWidget(self.source_label, 4, 0, 1, 2)
        buttons = QGridLayout()  # two columns: they fit a narrow dock
        for i, button in enumerate((self.random_button, self.load_button, self.copy_button, self.paste_button,
                                    self.copy_edited_button, self.seed_button)):
            buttons.addWidget(button, i // 2, i % 2)
        grid.addLayout(buttons, 5, 0, 1, 2)
        grid.setRowStretch(6, 1)

    # -- model -> widgets
    def refresh(self):
        state = self.model.state
        with blocked(self.seed_box, self.class_combo):
            self.seed_box.setValue(state.seed)
            if state.class_idx is not None and state.class_idx < self.class_combo.count():
                self.class_combo.setCurrentIndex(state.class_idx)
        self.source_label.setText(f'Showing {state.latent_label}' + (' (edited)' if state.is_edited else ''))
        self.seed_button.setEnabled(state.w is not None)
        if not self.walk_slider.isSliderDown():
            self._centre_walk()

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
        self.model.update(seed=int(min(max(state.seed + delta, 0), MAX_SEED)), seed_frac=0.0, w=None, w_label='')

    def random_seed(self):
        self.model.update(seed=random.randrange(MAX_SEED + 1), seed_frac=0.0, w=None, w_label='')

    # -- walking between seeds
    def _centre_walk(self):
        """The walk slider spans WALK_SPAN seeds either side of the picture's seed."""
        state = self.model.state
        position = state.seed + state.seed_frac
        low = max(0.0, position - WALK_SPAN)
        with blocked(self.walk_slider):
            self.walk_slider.setRange(low, min(float(MAX_SEED - 1), low + 2 * WALK_SPAN))
            self.walk_slider.setValue(position)

    def walk_to(self, position, gesture=None):
        """Show the latent `position` seeds along (seed floor(position), the rest a fraction of
        the way to the next)."""
        position = min(max(float(position), 0.0), float(MAX_SEED - 1))
        seed = int(position)
        self.model.update(gesture, seed=seed, seed_frac=position - seed, w=None, w_label='')

    def _walked(self, value):
        self.walk_to(value, Gesture('walk'))

    def set_animating(self, on):
        """Walk on by itself, speed_box seeds a second; the picture follows as fast as it renders
        (a slow network shows previews, as while dragging)."""
        with blocked(self.animate_box):
            self.animate_box.setChecked(on)
        if on:
            self._animated_at = time.perf_counter()
            self.model.set_dragging(True)
            self._animation.start()
        else:
            self._animation.stop()
            self.model.set_dragging(False)

    def _animation_step(self):
        now = time.perf_counter()
        state = self.model.state
        self.walk_to(state.seed + state.seed_frac + self.speed_box.value() * (now - self._animated_at),
                     Gesture('walk'))
        self._animated_at = now

    def copy_latent(self, edited=False):
        state = self.model.state
        text = latent_to_text(state, ws=self.last_ws if edited else None)
        QApplication.clipboard().setText(text)
        what = 'the edited ws' if edited else state.latent_label if state.w is None else 'the w'
        self.status.emit(f'copied {what} to the clipboard as text: Paste latent (Ctrl+Shift+V) uses it')
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
            path = self.files.open_file(self, 'w', 'Load w', W_FILTER)
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
        self.model.update(w=ws[0], w_label=name, noise_maps=loaded['noise'], psi=1.0, cutoff=None)  # as it was saved
        if loaded['notes']:
            message(self, 'Load w', ' '.join(loaded['notes']))
