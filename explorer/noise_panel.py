"""Noise: the global mode (const / random / none), the noise seed (or new noise every frame),
and per layer an on/off toggle and a strength multiplier of the learned noise strength."""
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QSlider,
                             QVBoxLayout, QWidget)

from core.noise_spec import NOISE_MODES, NoiseSpec
from explorer.drag_preview import Gesture, noise_layer_rows
from explorer.widgets import bind_drag, blocked, button_row, push_button, seed_box

STRENGTH_STEPS = 100  # slider units per 1.0
MAX_STRENGTH = 3.0
MODE_TIPS = {'const': "each layer's stored noise, or a projected w's own maps (the official default)",
             'random': "noise drawn from the seed (a projected w's maps stay)", 'none': 'no noise at all'}


class NoisePanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.layers = []
        self.rows = {}  # layer -> (checkbox, slider, value label)
        self._last_on = {}  # strength a layer had before it was switched off
        self.mode_combo = QComboBox()
        for mode in NOISE_MODES:
            self.mode_combo.addItem(mode)
            self.mode_combo.setItemData(self.mode_combo.count() - 1, MODE_TIPS[mode], Qt.ItemDataRole.ToolTipRole)
        self.mode_combo.currentTextChanged.connect(lambda m: self._set(mode=m))
        self.seed_box = seed_box('Noise seed (random mode): the same seed draws the same noise')
        self.seed_box.valueChanged.connect(lambda s: self._set(seed=int(s)))
        self.fresh_box = QCheckBox('new every frame')
        self.fresh_box.setToolTip('Random mode: draw new noise for every frame (not cached, so slower)')
        self.fresh_box.toggled.connect(lambda on: self._set(seed=None if on else self.seed_box.value()))
        self.all_on = push_button('All on', lambda: self._set(scales={}))
        self.all_off = push_button('All off', lambda: self._set(scales={name: 0.0 for name in self.layers}))
        top = QGridLayout()
        top.addWidget(QLabel('Mode'), 0, 0)
        top.addWidget(self.mode_combo, 0, 1)
        top.addWidget(QLabel('Seed'), 1, 0)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_box, 1)
        seed_row.addWidget(self.fresh_box)
        top.addLayout(seed_row, 1, 1)
        buttons = button_row(self.all_on, self.all_off, stretch_first=False)
        self.layer_box = QWidget()
        self.layer_grid = QGridLayout(self.layer_box)
        self.layer_grid.setContentsMargins(0, 0, 0, 0)
        self.layer_grid.setVerticalSpacing(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.layer_box)
        scroll.setMinimumHeight(120)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        self.no_noise = QLabel('This network is a StyleGAN3 network: it has no noise inputs, so there is nothing to '
                               'set here.')
        self.no_noise.setWordWrap(True)
        self.no_noise.setVisible(False)
        layout.addWidget(self.no_noise)
        layout.addWidget(QLabel('Per layer: on/off and strength (x learned strength)'))
        layout.addLayout(buttons)
        layout.addWidget(scroll, 1)
        model.events.noise.connect(lambda state: self.refresh())
        model.events.network.connect(self._on_network)

    def _on_network(self, info):
        stylegan3 = info.get('kind') == 'stylegan3'
        self.no_noise.setVisible(stylegan3)
        for widget in (self.mode_combo, self.seed_box, self.fresh_box, self.all_on, self.all_off):
            widget.setEnabled(not stylegan3)
        for checkbox, slider, label in self.rows.values():
            for w in (checkbox, slider, label):
                w.setParent(None)
                w.deleteLater()
        self.rows = {}
        self.layers = list(info.get('noise_layers', ()))
        for i, name in enumerate(self.layers):
            checkbox = QCheckBox(name)
            checkbox.setChecked(True)
            checkbox.toggled.connect(lambda on, n=name: self.toggle_layer(n, on))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, int(MAX_STRENGTH * STRENGTH_STEPS))
            slider.setValue(STRENGTH_STEPS)
            slider.setToolTip(f'Noise strength of {name}, as a multiple of its learned strength')
            slider.valueChanged.connect(lambda v, n=name: self.set_strength(n, v / STRENGTH_STEPS, drag=True))
            bind_drag(slider, self.model)
            label = QLabel('1.00')
            label.setMinimumWidth(34)
            self.layer_grid.addWidget(checkbox, i, 0)
            self.layer_grid.addWidget(slider, i, 1)
            self.layer_grid.addWidget(label, i, 2)
            self.rows[name] = (checkbox, slider, label)
        self.refresh()

    def _set(self, **changes):
        noise = self.model.state.noise
        fields = dict(mode=noise.mode, seed=noise.seed, scales=dict(noise.scales))
        fields.update(changes)
        self.model.update(noise=NoiseSpec(fields['mode'], fields['seed'], fields['scales']))

    def toggle_layer(self, name, on):
        noise = self.model.state.noise
        current = dict(noise.scales).get(name, 1.0)
        if on:
            value = self._last_on.get(name, 1.0) or 1.0
        else:
            self._last_on[name] = current
            value = 0.0
        self.model.update(noise=noise.with_scale(name, value))

    def set_strength(self, name, value, drag=False):
        noise = self.model.state.noise
        gesture = Gesture('noise', name, noise_layer_rows(self.model.network, name)) if drag else None
        self.model.update(gesture, noise=noise.with_scale(name, float(value)))

    def refresh(self):
        noise = self.model.state.noise
        scales = dict(noise.scales)
        with blocked(self.mode_combo, self.seed_box, self.fresh_box):
            self.mode_combo.setCurrentText(noise.mode)
            if noise.seed is not None:
                self.seed_box.setValue(noise.seed)
            self.fresh_box.setChecked(noise.seed is None)
        random_mode = noise.mode == 'random'
        self.seed_box.setEnabled(random_mode and noise.seed is not None)
        self.fresh_box.setEnabled(random_mode)
        for name, (checkbox, slider, label) in self.rows.items():
            value = scales.get(name, 1.0)
            with blocked(checkbox, slider):
                checkbox.setChecked(value != 0)
                slider.setValue(int(round(value * STRENGTH_STEPS)))
            label.setText(f'{value:.2f}')
            enabled = noise.mode != 'none'
            checkbox.setEnabled(enabled)
            slider.setEnabled(enabled and value != 0)
