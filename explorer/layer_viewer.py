"""Layers: one synthesis layer's feature maps for the current picture, as NVIDIA's visualiser shows
them. Pick a layer (StyleGAN2: each block's conv0, conv1 and ToRGB; StyleGAN3: the input and
L0 .. L14) and a view: every channel as a mosaic, one channel large (click a tile to pick it), the
mean over the channels, or the most active channels; below it the layer's shape, value range and
the colour scale. It follows every edit at no extra render: while the panel is on screen, each
frame's request asks the renderer for that layer's output (EditorModel.capture_layer), which it
catches as it computes it (core/layer_capture.py) or keeps from the frame before; the pixels are
core/layer_maps.py's, the same as the `layers` command writes.
"""
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from core.layer_maps import DEFAULT_ACTIVE, VIEW_NAMES, VIEWS, layer_view
from explorer.image_view import qimage_from_array
from explorer.widgets import blocked, pixmap_from_array

MIN_MAP_SIDE = 220


def default_layer(layers):
    """The layer shown first: the first conv layer at 16x16 or more (fine enough to see shapes,
    coarse enough to see channels), else the middle one."""
    for row in layers:
        if row['kind'] == 'conv' and min(row['height'], row['width']) >= 16:
            return row['name']
    return layers[len(layers) // 2]['name'] if layers else None


class MapView(QWidget):
    """The view's image, scaled to fit in whole pixels (nearest neighbour); a click on a tile
    reports its channel."""
    channel_clicked = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = None
        self._qimage = None
        self.setMinimumSize(MIN_MAP_SIDE, MIN_MAP_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_view(self, view):
        self.view = view
        self._qimage = None if view is None else qimage_from_array(view.image)
        self.update()

    def image_rect(self):
        """Where the image is drawn: the largest whole-pixel zoom that fits (or a fraction for big
        images), centred."""
        if self.view is None:
            return QRectF()
        h, w = self.view.image.shape[:2]
        scale = min(self.width() / w, self.height() / h)
        scale = float(int(scale)) if scale >= 1 else scale
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        if self._qimage is not None:
            painter.drawImage(self.image_rect(), self._qimage)
        else:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             'the feature maps appear with the next picture')
        painter.end()

    def mousePressEvent(self, event):
        rect = self.image_rect()
        if self.view is None or rect.isEmpty():
            return
        h, w = self.view.image.shape[:2]
        x = (event.position().x() - rect.x()) * w / rect.width()
        y = (event.position().y() - rect.y()) * h / rect.height()
        channel = self.view.channel_at(x, y) if 0 <= x < w and 0 <= y < h else None
        if channel is not None:
            self.channel_clicked.emit(channel)


class LayerViewer(QWidget):
    status = pyqtSignal(str)

    def __init__(self, model, client, parent=None):
        super().__init__(parent)
        self.model = model
        self.client = client
        self.capture = None  # the newest LayerCapture of the chosen layer
        self.current_view = None
        self.shown = False  # on screen (its dock's tab is the current one): set_shown
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip('The synthesis layer whose output is shown (C channels x H x W)')
        self.layer_combo.currentIndexChanged.connect(lambda _i: self._layer_chosen())
        self.view_combo = QComboBox()
        for key in VIEWS:
            self.view_combo.addItem(VIEW_NAMES[key], key)
        self.view_combo.setToolTip('All channels as tiles, one channel large (click a tile), the mean over the '
                                   'channels, or the channels of largest mean |value|')
        self.view_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.channel_spin = QSpinBox()
        self.channel_spin.setToolTip('The channel shown large')
        self.channel_spin.valueChanged.connect(lambda _v: self.redraw())
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, 4096)
        self.count_spin.setValue(DEFAULT_ACTIVE)
        self.count_spin.setToolTip('How many of the most active channels')
        self.count_spin.valueChanged.connect(lambda _v: self.redraw())
        self.map_view = MapView()
        self.map_view.channel_clicked.connect(self.show_channel)
        self.info = QLabel('Open a network to see its layers.')
        self.info.setWordWrap(True)
        self.bar = QLabel()
        self.bar.setMinimumHeight(12)
        self.bar.setScaledContents(True)
        self.low_label, self.zero_label, self.high_label = QLabel(), QLabel('0'), QLabel()
        for label in (self.low_label, self.zero_label, self.high_label):
            label.setStyleSheet('color: #555; font-size: 10px;')
        self.zero_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.high_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        controls = QGridLayout()
        controls.addWidget(QLabel('Layer'), 0, 0)
        controls.addWidget(self.layer_combo, 0, 1, 1, 3)
        controls.addWidget(QLabel('Show'), 1, 0)
        controls.addWidget(self.view_combo, 1, 1)
        controls.addWidget(QLabel('channel'), 1, 2)
        controls.addWidget(self.channel_spin, 1, 3)
        controls.addWidget(QLabel('count'), 2, 2)
        controls.addWidget(self.count_spin, 2, 3)
        controls.setColumnStretch(1, 1)
        ticks = QHBoxLayout()
        for label in (self.low_label, self.zero_label, self.high_label):
            ticks.addWidget(label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.map_view, 1)
        layout.addWidget(self.bar)
        layout.addLayout(ticks)
        layout.addWidget(self.info)
        model.events.network.connect(lambda info: self.fill_layers(info))
        client.rendered.connect(self._on_rendered)
        self._update_controls()

    # -- network and layer
    def fill_layers(self, info):
        layers = (info or {}).get('layers') or []
        keep = self.layer()
        names = [row['name'] for row in layers]
        with blocked(self.layer_combo):
            self.layer_combo.clear()
            for row in layers:
                self.layer_combo.addItem(f"{row['name']}  ({row['channels']} x {row['height']} x {row['width']})",
                                         row['name'])
            chosen = keep if keep in names else default_layer(layers)
            if chosen is not None:
                self.layer_combo.setCurrentIndex(names.index(chosen))
        self.capture = None
        self._layer_chosen()

    def layer(self):
        return self.layer_combo.currentData()

    def layer_info(self):
        layers = (self.model.network or {}).get('layers') or []
        return next((row for row in layers if row['name'] == self.layer()), None)

    def set_layer(self, name):
        index = self.layer_combo.findData(name)
        if index >= 0:
            self.layer_combo.setCurrentIndex(index)

    def _layer_chosen(self):
        row = self.layer_info()
        with blocked(self.channel_spin):
            self.channel_spin.setRange(0, max(0, (row or {}).get('channels', 1) - 1))
        if self.capture is not None and self.capture.layer != self.layer():
            self.capture = None
        self._update_capture()
        self.redraw()

    def _update_capture(self):
        """Ask every frame for this layer while the panel is on screen; for none while it is not."""
        self.model.set_capture_layer(self.layer() if self.shown and self.layer() is not None else None)

    def set_shown(self, on):
        """The panel came on screen or left it (its dock's visibilityChanged: a tab behind another
        is not shown, though Qt counts it visible)."""
        self.shown = bool(on)
        self._update_capture()

    # -- views
    def mode(self):
        return self.view_combo.currentData()

    def set_mode(self, mode):
        self.view_combo.setCurrentIndex(VIEWS.index(mode))

    def show_channel(self, channel):
        """Channel `channel` large (a click on its tile)."""
        with blocked(self.channel_spin, self.view_combo):
            self.channel_spin.setValue(int(channel))
            self.set_mode('channel')
        self.redraw()

    def _on_rendered(self, result):
        capture = result.capture
        if capture is not None and capture.layer == self.layer():
            self.capture = capture
            self.redraw()

    def _update_controls(self):
        mode = self.mode()
        self.channel_spin.setEnabled(mode == 'channel')
        self.count_spin.setEnabled(mode == 'active')

    def redraw(self):
        self._update_controls()
        capture = self.capture
        if capture is None:
            self.current_view = None
            self.map_view.set_view(None)
            self.bar.clear()
            row = self.layer_info()
            self.info.setText('Open a network to see its layers.' if row is None else
                              f"{row['name']}: {row['channels']} channels of {row['width']}x{row['height']}; its maps "
                              'come with the next picture')
            return
        view = layer_view(capture, self.mode(), self.channel_spin.value(), self.count_spin.value())
        self.current_view = view
        self.map_view.set_view(view)
        self.bar.setPixmap(pixmap_from_array(view.scale.bar(256, 12)))
        low, zero, high = view.scale.ticks()
        self.low_label.setText(low)
        self.zero_label.setText(zero)
        self.high_label.setText(high)
        text = f"{capture.describe()}. Shown: {view.title.split(': ', 1)[-1]}."
        if view.channels and len(view.channels) == 1:
            c = view.channels[0]
            text += f' Channel {c}: mean {capture.channel_mean[c]:.3g}, mean |value| {capture.channel_activity[c]:.3g}.'
        elif view.channels:
            text += ' Click a tile to see its channel large.'
        self.info.setText(text + ' Colours: blue below 0, red above, on the scale shown.')
