"""Small Qt helpers shared by the panels: signal blocking, a progress bar with cancel for
background jobs, thumbnails, non-blocking message boxes, slider-drag binding, the seed box."""
import contextlib

from PyQt6.QtCore import QEvent, QObject, QSize, Qt
from PyQt6.QtGui import QIcon, QPixmap
from PyQt6.QtWidgets import (QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QComboBox, QHBoxLayout, QLabel,
                             QMessageBox, QProgressBar, QPushButton, QScrollArea, QScrollBar, QSizePolicy, QToolButton,
                             QVBoxLayout, QWidget)

from superqt import QLargeIntSpinBox

from core.seeds import MAX_SEED
from explorer.image_view import qimage_from_array


@contextlib.contextmanager
def blocked(*widgets):
    """Change widgets without their signals firing (so a model refresh does not echo back)."""
    old = [w.blockSignals(True) for w in widgets]
    try:
        yield
    finally:
        for w, was in zip(widgets, old):
            w.blockSignals(was)


THUMB_TARGET = 96  # favourite thumbnails are stored at about this size


def thumbnail(image):
    """A favourite's thumbnail of an HWC image: every n-th pixel, down to about THUMB_TARGET."""
    step = max(1, image.shape[0] // THUMB_TARGET)
    return image[::step, ::step].copy()


def pixmap_from_array(array, size=None):
    pixmap = QPixmap.fromImage(qimage_from_array(array))
    if size is not None:
        pixmap = pixmap.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    return pixmap


def icon_from_array(array, size=None):
    return QIcon(pixmap_from_array(array, size))


def tool_button(text, tip, slot=None, checkable=False):
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCheckable(checkable)
    button.setAutoRaise(False)
    if slot is not None:
        (button.toggled if checkable else button.clicked).connect(slot)
    return button


def push_button(text, slot=None, tip=None, default=False, checkable=False):
    """A QPushButton wired in one call; a checkable one reports `toggled(on)`, any other `clicked`."""
    button = QPushButton(text)
    if tip is not None:
        button.setToolTip(tip)
    if default:
        button.setDefault(True)
    if checkable:
        button.setCheckable(True)
    if slot is not None:
        (button.toggled if checkable else button.clicked).connect(slot)
    return button


def button_row(*widgets, stretch_first=True):
    """A row of buttons held to one side by a stretch: before them for a dialog's bottom row
    (right-aligned), after them for a panel's row of actions (left-aligned)."""
    row = QHBoxLayout()
    if stretch_first:
        row.addStretch(1)
    for widget in widgets:
        row.addWidget(widget)
    if not stretch_first:
        row.addStretch(1)
    return row


def scrolling_rows():
    """(scroll area, its column layout) for a panel's list of slider rows: rows go in with
    `layout.insertWidget(layout.count() - 1, row)`, above the stretch that keeps them at the top."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(box)
    return scroll, layout


def seed_box(tip):
    """A spin box for a seed, 0 to MAX_SEED: every seed `generate --seeds` takes (a QSpinBox stops
    at 2**31 - 1). It reports a value when editing ends, not on every key."""
    box = QLargeIntSpinBox()
    box.setRange(0, MAX_SEED)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


def bind_drag(slider, model):
    """While the slider's handle is held, the model is 'dragging' (renders may be previews and
    the changes form one undo step); releasing it ends the gesture."""
    slider.sliderPressed.connect(lambda: model.set_dragging(True))
    slider.sliderReleased.connect(lambda: model.set_dragging(False))


def message(parent, title, text, icon=QMessageBox.Icon.Warning):
    """A non-blocking message box (window-modal, opened with open()); returns it."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class JobBar(QWidget):
    """Progress of one background job with a Cancel button; hidden while idle. `cancel_text` and
    `cancelling_text` name the button and what it is doing (a projection's Stop keeps its result)."""

    def __init__(self, parent=None, cancel_text='Cancel', cancelling_text='Cancelling...'):
        super().__init__(parent)
        self.job = None
        self.cancelling_text = cancelling_text
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.cancel_button = push_button(cancel_text, self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.setVisible(False)

    def attach(self, job, text=None):
        self.job = job
        self.label.setText(text or job.description.capitalize())
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.cancel_button.setEnabled(True)
        job.progress.connect(self._progress)
        job.ended.connect(self._ended)
        self.setVisible(True)

    def _progress(self, done, total):
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)

    def _ended(self):
        if self.sender() is self.job:
            self.job = None
            self.setVisible(False)

    def cancel(self):
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText(self.cancelling_text)


class WheelGuard(QObject):
    """An application-wide event filter: in a scrolling panel, the mouse wheel scrolls the panel
    instead of changing whichever slider, spin box or list box passes under the pointer. Such a
    control takes the wheel only once it has focus (clicked or tabbed to), and the wheel never gives
    it focus."""
    CONTROLS = (QAbstractSlider, QAbstractSpinBox, QComboBox)

    def eventFilter(self, obj, event):
        kind = event.type()
        if isinstance(obj, QScrollBar):  # the scroll area scrolls by handing its wheel events to these
            return False
        if kind == QEvent.Type.Polish and isinstance(obj, self.CONTROLS) and _in_scroll_area(obj):
            obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus
        elif kind == QEvent.Type.Wheel and isinstance(obj, self.CONTROLS) and not _has_focus(obj) \
                and _in_scroll_area(obj):
            event.ignore()  # not the control's: Qt offers an ignored wheel event to the parents, the scroll area
            return True
        return False


def _has_focus(widget):
    """Does the control, or the composite control it is part of (a labelled slider's slider and
    value box), have the keyboard focus?"""
    focus = widget.window().focusWidget() if widget.window() is not None else None
    return focus is not None and (focus is widget or widget.isAncestorOf(focus) or focus.isAncestorOf(widget))


def _in_scroll_area(widget):
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, (QComboBox, QAbstractSpinBox)):
            return True
        parent = parent.parentWidget()
    return False
