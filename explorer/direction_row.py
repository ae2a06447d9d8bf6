"""One row of the Directions panel: the direction's slider over the range measured for the model
(its ends shown, widened from the row's menu), the value in its unit, a layer-range slider with
coarse / middle / fine presets, reset, the row's menu, and where the current picture lies along it."""
import math

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QMenu, QToolButton
from superqt import QLabeledDoubleSlider, QLabeledRangeSlider

from explorer.widgets import blocked, tool_button

SIGMA_METHODS = ('pca', 'sefa', 'svm')  # their unit is one standard deviation of W along them
GROUP_KEYS = (('coarse', 'C'), ('middle', 'M'), ('fine', 'F'))
HIGHLIGHT_MS = 2500


def unit_of(dset, k):
    """'σ' for PCA, SeFa and labelled directions; 'Δ' for "A → B" (1 = the whole change); 'W' (raw
    W distance) for imported ones."""
    method = dset.method_of(k)
    return 'σ' if method in SIGMA_METHODS else 'Δ' if method == 'difference' else 'W'


def describe(dset, k):
    """What direction k is, in words, for its tooltip."""
    method, name = dset.method_of(k), dset.names[k]
    per = dset.meta.get('per_direction', {})
    value = lambda key: (per.get(key) or [None] * len(dset))[k]  # noqa: E731
    if method == 'pca':
        ratio = value('explained_variance_ratio')
        text = f'{name}: a principal component of W (GANSpace), one of the main ways this model\'s faces vary'
        text += f'; it explains {100 * ratio:.1f}% of the variance of W' if ratio is not None else ''
    elif method == 'sefa':
        text = f"{name}: a SeFa direction, one of the main ways the style layers' weights can change a picture"
    elif method == 'svm':
        accuracy = value('accuracy')
        text = f'{name}: a labelled attribute (InterfaceGAN: a linear SVM between labelled samples)'
        text += f', which separates the labels with {100 * accuracy:.0f}% accuracy' if accuracy is not None else ''
    elif method == 'difference':
        a, b = value('endpoints') or ('A', 'B')
        text = (f'{name}: the change from {a} to {b} (latent arithmetic), '
                + ('a change for each ws row (W+)' if dset.is_per_row(k) else 'one change in W for every row')
                + f'; at 1 it turns {a} into {b} on the rows of its range, and makes the same change on any other '
                'picture')
    else:
        text = f'{name}: {dset.origin_of(k)}' + (', a vector for each ws row (W+)' if dset.is_per_row(k) else '')
    unit = unit_of(dset, k)
    what = ('σ: one standard deviation of the model\'s w along it' if unit == 'σ'
            else 'Δ: the whole change from A to B' if unit == 'Δ'
            else 'W: one unit of distance in W, as the file gives it')
    return f'{text}. Slider unit {what} (one unit moves w by {float(dset.scales[k]):.3g}).'


class DirectionRow(QFrame):
    """The widgets of one direction; the panel connects them to the model."""

    def __init__(self, k, dset, num_ws, groups):
        super().__init__()
        self.k = k
        name, unit, limit = dset.names[k], unit_of(dset, k), dset.limit_of(k)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName('direction_row')
        accuracy = (dset.meta.get('per_direction', {}).get('accuracy') or [None] * len(dset))[k]
        fit = f' <span style="color:#666">fit {100 * accuracy:.0f}%</span>' if accuracy is not None else ''
        self.name_label = QLabel(f'<b>{name}</b>{fit}')
        self.name_label.setToolTip(describe(dset, k))
        self.name_label.setMinimumWidth(70)
        self.low_label, self.high_label = QLabel(), QLabel()
        for label in (self.low_label, self.high_label):
            label.setStyleSheet('color: #777; font-size: 9px;')
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setSingleStep(0.1)
        self.slider.setDecimals(2)
        self.slider.setToolTip(f'{name}: the slider value in {unit} (type a value in the box; the row\'s menu '
                               'widens the range)')
        self.set_limit(limit)
        self.unit_label = QLabel(unit)
        self.unit_label.setToolTip(describe(dset, k))
        self.reset_button = tool_button('⟲', f'Reset {name} to 0')
        self.menu_button = QToolButton()
        self.menu_button.setText('⋯')
        self.menu_button.setToolTip('Rename, remove, export this direction, or change its slider range')
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        self.rename_action = menu.addAction('Rename...')
        self.remove_action = menu.addAction('Remove')
        menu.addSeparator()
        self.widen_action = menu.addAction('Widen the slider range (x2)')
        self.range_action = menu.addAction('Slider range...')
        menu.addSeparator()
        self.strip_action = menu.addAction('Show across seeds...')
        self.export_action = menu.addAction('Export as InterfaceGAN .npy...')
        if dset.is_per_row(k):  # an InterfaceGAN boundary is one (1, w_dim) vector for every row
            self.export_action.setEnabled(False)
            self.export_action.setText('Export as InterfaceGAN .npy (not for a per-row direction)')
        self.menu_button.setMenu(menu)
        self.range_slider = QLabeledRangeSlider(Qt.Orientation.Horizontal)
        self.range_slider.setRange(0, max(num_ws - 1, 1))
        self.range_slider.setToolTip('ws rows the edit reaches (inclusive): 0 = coarsest')
        self.range_slider.setEdgeLabelMode(self.range_slider.edgeLabelMode().NoLabel)
        self.preset_buttons = {}
        for group, letter in GROUP_KEYS:
            if group in groups and groups[group][1] > groups[group][0]:
                s, e = groups[group]
                self.preset_buttons[group] = tool_button(letter, f'{group} layers only: ws {s}-{e - 1}')
        self.preset_buttons['all'] = tool_button('all', f'all layers: ws 0-{num_ws - 1}')
        self.projection_label = QLabel('at -')
        self.projection_label.setToolTip(f'Where the current picture lies along {name}, in {unit} from its '
                                         'reference point (the PCA mean, the SVM boundary between the labels, '
                                         'A for A → B, w = 0 otherwise): moving the slider by 1 moves this by 1')
        self.projection_label.setMinimumWidth(64)
        self.projection_label.setStyleSheet('color: #2a6099;')
        # three lines, so that a narrow dock still gives the value slider its whole width
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setVerticalSpacing(0)
        top = QHBoxLayout()
        top.addWidget(self.name_label, 1)
        top.addWidget(self.unit_label)
        top.addWidget(self.reset_button)
        top.addWidget(self.menu_button)
        grid.addLayout(top, 0, 0, 1, 3)
        slider_row = QHBoxLayout()
        slider_row.setSpacing(2)
        slider_row.addWidget(self.low_label)
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.high_label)
        grid.addLayout(slider_row, 1, 0, 1, 3)
        grid.addWidget(self.projection_label, 2, 0)
        grid.addWidget(self.range_slider, 2, 1)
        presets = QHBoxLayout()
        presets.setSpacing(1)
        for button in self.preset_buttons.values():
            button.setMaximumWidth(26)
            presets.addWidget(button)
        grid.addLayout(presets, 2, 2)
        grid.setColumnStretch(1, 1)

    def set_limit(self, limit):
        """The slider runs from -limit to +limit (its ends labelled)."""
        with blocked(self.slider):
            self.slider.setRange(-limit, limit)
        self.low_label.setText(f'{-limit:g}')
        self.high_label.setText(f'+{limit:g}')

    def show(self, alpha, start, end, limit):
        limit = max(limit, math.ceil(abs(alpha)))  # a value set past the range (a session, a typed value) stays
        if abs(self.slider.maximum() - limit) > 1e-9:
            self.set_limit(limit)
        with blocked(self.slider, self.range_slider):
            if abs(self.slider.value() - alpha) > 1e-6:
                self.slider.setValue(alpha)
            if tuple(self.range_slider.value()) != (start, end - 1):
                self.range_slider.setValue((start, end - 1))
        self.reset_button.setEnabled(alpha != 0)

    def show_projection(self, value):
        self.projection_label.setText(f'at {value:+.2f}')

    def highlight(self):
        """Draw the eye to a row just added, for a moment."""
        self.setStyleSheet('QFrame#direction_row { background: #fff3c4; }')
        timer = QTimer(self)  # the row's own: it goes when the row goes
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self.setStyleSheet(''))
        timer.start(HIGHLIGHT_MS)
