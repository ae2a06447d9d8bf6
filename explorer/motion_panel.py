"""Move (StyleGAN3 networks): translate and rotate the picture through the network's input
transform, as NVIDIA's visualiser does: x and y in image widths, the angle in degrees
(counter-clockwise), or drag the picture itself. A StyleGAN3 network is equivariant to these
motions, so the face moves and turns instead of being redrawn."""
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget
from superqt import QLabeledDoubleSlider

from explorer.drag_preview import Gesture
from explorer.widgets import bind_drag, blocked, push_button

RANGES = {'x': (-1.0, 1.0), 'y': (-1.0, 1.0), 'angle': (-180.0, 180.0)}
KEYS = ('angle', 'x', 'y')  # the order of EditState.motion


class MotionPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.sliders = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        tips = {'x': 'Move the picture right (+) or left, in image widths',
                'y': 'Move the picture down (+) or up, in image widths',
                'angle': 'Turn the picture counter-clockwise (+), in degrees'}
        for row, key in enumerate(('x', 'y', 'angle')):
            slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setRange(*RANGES[key])
            slider.setSingleStep(0.01 if key != 'angle' else 1.0)
            slider.setDecimals(2 if key != 'angle' else 1)
            slider.setToolTip(tips[key])
            slider.valueChanged.connect(lambda v, key=key: self.set_value(key, v, drag=True))
            bind_drag(slider, model)
            grid.addWidget(QLabel(key), row, 0)
            grid.addWidget(slider, row, 1)
            self.sliders[key] = slider
        self.reset_button = push_button('Reset', lambda: self.model.update(motion=()),
                                        tip='The picture where the network draws it')
        self.note = QLabel('Drag the picture to move it.')
        self.note.setStyleSheet('color: #555;')
        grid.addWidget(self.reset_button, 3, 0)
        grid.addWidget(self.note, 3, 1)
        grid.setRowStretch(4, 1)
        model.events.motion.connect(lambda state: self.refresh())
        self.refresh()

    def motion(self):
        """(angle, x, y) of the state, zeros when unmoved."""
        return self.model.state.motion or (0.0, 0.0, 0.0)

    def set_value(self, key, value, drag=False):
        motion = list(self.motion())
        motion[KEYS.index(key)] = round(float(value), 4)
        self.model.update(Gesture('motion', key) if drag else None, motion=tuple(motion))

    def move_by(self, dx, dy, drag=True):
        """Shift the picture by (dx, dy) image widths (a drag on the picture)."""
        angle, x, y = self.motion()
        low, high = RANGES['x']
        self.model.update(Gesture('motion', 'drag') if drag else None,
                          motion=(angle, min(max(x + dx, low), high), min(max(y + dy, low), high)))

    def refresh(self):
        values = dict(zip(KEYS, self.motion()))
        for key, slider in self.sliders.items():
            with blocked(slider):
                slider.setValue(values[key])
        self.reset_button.setEnabled(bool(self.model.state.motion))
