"""The large image view: fit to the window, 1:1 (one image pixel per screen pixel, also on
HiDPI screens) or any zoom. The picture is drawn smoothly at every scale, or, enlarged with
`set_show_pixels(True)` (View > Show pixels), as blocks of single pixels. Drag to pan when the
image is larger than the view; the wheel zooms.

A preview (an image smaller than the network's resolution) is drawn in the same place and
size as the full image, so the picture does not jump while a slider is dragged."""
import numpy as np
from PyQt6.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

ZOOM_STEPS = (0.125, 0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


def qimage_from_array(array):
    """HWC uint8 (1 or 3 channels) -> an independent QImage copy."""
    array = np.ascontiguousarray(array)
    h, w, c = array.shape
    fmt = QImage.Format.Format_Grayscale8 if c == 1 else QImage.Format.Format_RGB888
    return QImage(array.data, w, h, w * c, fmt).copy()


class ImageView(QWidget):
    zoom_changed = pyqtSignal(str)  # 'fit 87%', '1:1', '400%'
    shown = pyqtSignal(object)      # the tag of set_image, once that image has been painted
    picture_dragged = pyqtSignal(float, float)  # a drag on the picture (when moving it is on): dx, dy in picture widths
    picture_released = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._array = None
        self._image = None
        self._logical = None  # (w, h) the picture occupies: the network's resolution
        self._mode = 'fit'    # 'fit' or 'zoom'
        self._zoom = 1.0      # image pixels -> device pixels, in 'zoom' mode
        self._pan = QPointF(0, 0)
        self._drag_from = None
        self._move_from = None  # where a drag that moves the picture itself was last
        self.picture_movable = False
        self._tag = None
        self.overlay = ''
        self.placeholder = 'loading...'
        self.show_pixels = False  # enlarge smoothly (a picture), or as blocks (to inspect single pixels)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.setAutoFillBackground(False)

    # -- content
    def set_image(self, array, logical_size=None, tag=None):
        """Show an HWC uint8 array; logical_size (w, h): the size it stands for (a preview is smaller).
        `shown(tag)` is emitted when it has been painted."""
        self._tag = tag
        self._array = array
        self._image = qimage_from_array(array)
        h, w = array.shape[:2]
        logical = tuple(logical_size) if logical_size else (w, h)
        if logical != self._logical:
            self._logical = logical
            self.zoom_changed.emit(self.zoom_text())
        self.update()

    def clear(self, placeholder=None):
        """Show no image, only the placeholder text (or the given one)."""
        self._array = self._image = self._logical = None
        self._tag = None
        if placeholder is not None:
            self.set_placeholder(placeholder)
        self.update()

    def current_array(self):
        return self._array

    def set_show_pixels(self, on):
        self.show_pixels = bool(on)
        self.update()

    def set_overlay(self, text):
        self.overlay = text
        self.update()

    def set_placeholder(self, text):
        self.placeholder = text
        self.update()

    # -- zoom
    def fit(self):
        self._mode = 'fit'
        self._pan = QPointF(0, 0)
        self._changed()

    def actual_size(self):
        self.set_zoom(1.0)

    def set_zoom(self, factor):
        self._mode = 'zoom'
        self._zoom = float(factor)
        self._changed()

    def zoom_in(self):
        current = self.scale() * self.devicePixelRatioF()
        self.set_zoom(next((z for z in ZOOM_STEPS if z > current * 1.01), ZOOM_STEPS[-1]))

    def zoom_out(self):
        current = self.scale() * self.devicePixelRatioF()
        self.set_zoom(next((z for z in reversed(ZOOM_STEPS) if z < current / 1.01), ZOOM_STEPS[0]))

    def scale(self):
        """Logical image pixels -> widget (device-independent) pixels."""
        if self._logical is None:
            return 1.0
        if self._mode == 'fit':
            w, h = self._logical
            return max(1e-3, min(self.width() / w, self.height() / h))
        return self._zoom / self.devicePixelRatioF()

    def zoom_text(self):
        device_scale = self.scale() * self.devicePixelRatioF()
        if self._mode == 'fit':
            return f'fit {device_scale * 100:.0f}%'
        return '1:1' if abs(device_scale - 1) < 1e-6 else f'{device_scale * 100:.0f}%'

    def _changed(self):
        self.zoom_changed.emit(self.zoom_text())
        self.update()

    def target_rect(self):
        w, h = self._logical
        s = self.scale()
        tw, th = w * s, h * s
        x = (self.width() - tw) / 2 + self._pan.x()
        y = (self.height() - th) / 2 + self._pan.y()
        return QRectF(x, y, tw, th)

    # -- painting
    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor('#1e1e1e'))
        if self._image is None:
            painter.setPen(QColor('#b0b0b0'))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        target = self.target_rect()
        device_scale = target.width() * self.devicePixelRatioF() / self._image.width()
        # pixels as blocks only when asked and enlarging a full image; a shrunk picture or a stretched
        # preview is always smooth
        smooth = not self.show_pixels or device_scale < 1 or self._image.width() < self._logical[0]
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, self._image, QRectF(0, 0, self._image.width(), self._image.height()))
        if self.overlay:
            font = QFont(painter.font())
            font.setBold(True)
            painter.setFont(font)
            metrics = painter.fontMetrics()
            box = metrics.boundingRect(self.overlay).adjusted(-8, -4, 8, 4)
            box.moveTopLeft(QPoint(10, 10))
            painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.setPen(QColor('#ffd500'))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.overlay)
        painter.end()
        if self._tag is not None:
            tag, self._tag = self._tag, None
            self.shown.emit(tag)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._mode == 'fit':
            self.zoom_changed.emit(self.zoom_text())

    # -- mouse: pan and wheel zoom
    def set_picture_movable(self, on):
        """Dragging the picture (when not zoomed in) moves what it shows: picture_dragged."""
        self.picture_movable = bool(on)

    def mousePressEvent(self, event):
        if event.button() != Qt.MouseButton.LeftButton or self._image is None:
            return
        if self._mode == 'zoom':
            self._drag_from = event.position() - self._pan
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self.picture_movable:
            self._move_from = event.position()
            self.setCursor(Qt.CursorShape.SizeAllCursor)

    def mouseMoveEvent(self, event):
        if self._drag_from is not None:
            self._pan = event.position() - self._drag_from
            self.update()
        elif self._move_from is not None:
            delta, self._move_from = event.position() - self._move_from, event.position()
            width = max(self.target_rect().width(), 1.0)
            self.picture_dragged.emit(delta.x() / width, delta.y() / width)

    def mouseReleaseEvent(self, event):
        if self._move_from is not None:
            self.picture_released.emit()
        self._drag_from = self._move_from = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event):
        self.fit() if self._mode == 'zoom' else self.actual_size()

    def wheelEvent(self, event):
        if self._logical is None:
            return
        (self.zoom_in if event.angleDelta().y() > 0 else self.zoom_out)()
