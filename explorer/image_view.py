"""A label that shows an HWC uint8 image scaled to fit, keeping its aspect ratio."""
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QLabel, QSizePolicy


def qimage_from_array(array):
    """HWC uint8 (1 or 3 channels) -> an independent QImage copy."""
    array = np.ascontiguousarray(array)
    h, w, c = array.shape
    fmt = QImage.Format.Format_Grayscale8 if c == 1 else QImage.Format.Format_RGB888
    return QImage(array.data, w, h, w * c, fmt).copy()


class ImageView(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._pixmap = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(128, 128)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet('background: #202020; color: #c0c0c0;')
        self.setText('loading...')

    def set_image(self, array):
        self._pixmap = QPixmap.fromImage(qimage_from_array(array))
        self._rescale()

    def image_size(self):
        return None if self._pixmap is None else (self._pixmap.width(), self._pixmap.height())

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self):
        if self._pixmap is not None:
            self.setPixmap(self._pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
