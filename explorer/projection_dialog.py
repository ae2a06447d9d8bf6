"""Project a photo (File > Project a photo..., or drop a photo on the window): the photo is shown,
the user clicks the four FFHQ landmarks (left eye, right eye, left mouth corner, right mouth
corner, left and right as you look at the photo: core.align's order) or skips to a centre crop,
and sees the aligned target at once. Project runs the `project` job (explorer.jobs) with a live
preview of the best image so far beside the target, a progress bar and a Stop button that keeps
the best step. The result becomes the current picture (an explicit w with the noise maps the
projection optimised with it, sliders at 0, so the main window shows the projection's image) and
a favourite, so every slider edits it.

PTI (pivotal tuning, core.pti): the job also tunes a copy of the network to the photo and writes it
to `tuned_folder`; when it ends (or is kept after Stop) the explorer opens that network through
`open_network` (the main window's: a worker job) and the pivot w becomes the picture on it. The
tuned network keeps the source's mapping, so the sliders, mixing seeds and favourites carry over;
the main window's Back to source model returns to the network it was made from. Discard after a
Stop removes the tuned file again.

The target is computed here with core.align (NumPy and PIL, fast) so the user sees what the
network will be fitted to before starting; the job computes it again from the same path and
points, which keeps the job a plain function of its parameters."""
import dataclasses
import os

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PyQt6.QtWidgets import (QComboBox, QDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                             QSizePolicy, QSpinBox, QVBoxLayout)

from core import landmarks as face_landmarks
from core.align import LANDMARK_ORDER, align_face, center_crop, ffhq_quad, load_image, to_array
from core.errors import StylescopeError
from explorer.image_view import ImageView
from explorer.jobs import PROJECTION_DEFAULTS, PTI_DEFAULTS, projection_stages
from explorer.widgets import JobBar, button_row, push_button, seed_box, thumbnail

PHOTO_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.webp', '.bmp')
PHOTO_FILTER = 'Photos (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)'
DISPLAY_MAX = 2048  # a larger photo is shown shrunk (clicks still map to its full-size pixels)
POINT_COLOURS = ('#00b0ff', '#00e676', '#ffab00', '#ff4081')  # one per landmark, in LANDMARK_ORDER
VIEW_SIZE = 256


class PhotoView(ImageView):
    """The photo, fitted to the view, with the clicked landmarks and the square that will be cropped.
    A left click asks for a landmark at that photo pixel (`on_click(x, y)`), a right click takes the
    last one back (`on_undo()`). Coordinates are core.align's: pixel centres of the full photo."""

    def __init__(self, on_click, on_undo, parent=None):
        super().__init__(parent)
        self.on_click, self.on_undo = on_click, on_undo
        self.points = []
        self.quad = None  # [4, 2] corners of the crop, or None
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_marks(self, points, quad=None):
        self.points = [tuple(p) for p in points]
        self.quad = None if quad is None else np.asarray(quad, dtype=np.float64)
        self.update()

    def to_photo(self, pos):
        """Widget position -> photo pixel coordinates (x, y)."""
        rect, s = self.target_rect(), self.scale()
        return (pos.x() - rect.x()) / s - 0.5, (pos.y() - rect.y()) / s - 0.5

    def to_widget(self, x, y):
        """Photo pixel coordinates -> widget position (QPointF)."""
        rect, s = self.target_rect(), self.scale()
        return QPointF(rect.x() + (x + 0.5) * s, rect.y() + (y + 0.5) * s)

    # -- mouse: clicks place points; no panning or zooming (a click must always mean a point)
    def mousePressEvent(self, event):
        if self.current_array() is None:
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self.on_click(*self.to_photo(event.position()))
        elif event.button() == Qt.MouseButton.RightButton:
            self.on_undo()

    def mouseDoubleClickEvent(self, event):
        self.mousePressEvent(event)  # two quick clicks are two points

    def mouseMoveEvent(self, event):
        pass

    def mouseReleaseEvent(self, event):
        pass

    def wheelEvent(self, event):
        event.ignore()

    def paintEvent(self, event):
        super().paintEvent(event)
        if self.current_array() is None or not (self.points or self.quad is not None):
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.quad is not None:
            pen = QPen(QColor('#ffd500'), 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolygon(QPolygonF([self.to_widget(x, y) for x, y in self.quad]))
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        for i, (x, y) in enumerate(self.points):
            centre = self.to_widget(x, y)
            painter.setPen(QPen(QColor('black'), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(centre, 7, 7)
            painter.setPen(QPen(QColor(POINT_COLOURS[i]), 2))
            painter.drawEllipse(centre, 7, 7)
            painter.drawLine(centre + QPointF(-3, 0), centre + QPointF(3, 0))
            painter.drawLine(centre + QPointF(0, -3), centre + QPointF(0, 3))
            box = QRectF(centre.x() + 9, centre.y() - 20, 18, 18)
            painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, str(i + 1))
        painter.end()


def _caption(lines=2):
    """A grey, wrapping label that always keeps room for `lines` lines (so the layout does not jump
    or clip it when its text grows)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet('color: #555;')
    label.setMinimumHeight(label.fontMetrics().lineSpacing() * lines + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


def tuned_file_name(photo_path, fingerprint, taken=()):
    """'<photo stem>-pti-<8 digits of the source fingerprint>.safetensors', numbered past `taken`."""
    stem = os.path.splitext(os.path.basename(photo_path))[0] or 'photo'
    base = f"{stem}-pti-{(fingerprint or 'network')[:8]}"
    n, name = 1, f'{base}.safetensors'
    while name in taken:
        n += 1
        name = f'{base}-{n}.safetensors'
    return name


class ProjectionDialog(QDialog):
    def __init__(self, model, client, files, parent=None, path=None, open_network=None, tuned_folder=None):
        super().__init__(parent)
        self.files = files
        self.open_network = open_network or (lambda path: client.open(path))  # -> the open_network Job
        self.tuned_folder = tuned_folder or os.path.join(os.path.expanduser('~'), '.stylescope', 'tuned')
        self.pti_steps = PTI_DEFAULTS.num_steps  # tests make it small
        self._waiting = None       # a PTI result whose tuned network is being opened
        self.setWindowTitle('Project a photo')
        self.setAcceptDrops(True)
        self.model = model
        self.client = client
        self.path = None
        self.photo = None          # the upright PIL photo
        self.points = []           # clicked landmarks, photo pixel coordinates
        self.skip = False          # True: centre crop instead of landmarks
        self.target = None         # the aligned target, uint8 HWC
        self.job = None
        self.thumb_job = None
        self.result = None         # the project job's dict
        self.favourite = None
        self.previews = 0
        self.w_avg_samples = PROJECTION_DEFAULTS.w_avg_samples  # tests make it small
        self._network = None       # fingerprint of the network the running projection uses
        self._build()
        self.resize(1120, 660)
        if path is not None:
            self.open_photo(path)
        self._refresh()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self):
        self.photo_view = PhotoView(self.add_point, self.remove_last_point)
        self.photo_view.setMinimumSize(420, 380)
        self.photo_view.set_placeholder('Drop a photo here, or click Open photo...')
        self.prompt_label = _caption()
        self.prompt_label.setStyleSheet('')
        self.open_button = push_button('Open photo...', lambda: self.open_photo())
        self.clear_button = push_button('Clear points', self.clear_points,
                                        tip='Start the landmarks again (a right click takes back only the last one)')
        self.skip_button = push_button('Skip (centre crop)', self.skip_landmarks,
                                       tip="No landmarks: the largest centred square, as NVIDIA's projector crops")
        self.detect_button = push_button('Detect points', self.detect_landmarks,
                                         tip='Place the four points with the optional face detector (MediaPipe, '
                                             'offline); correct them by clicking if needed')
        self.detect_button.setVisible(face_landmarks.available())  # only with the optional extra installed
        photo_buttons = button_row(self.open_button, self.detect_button, self.clear_button, self.skip_button,
                                   stretch_first=False)
        left = QVBoxLayout()
        left.addWidget(self.photo_view, 1)
        left.addWidget(self.prompt_label)
        left.addLayout(photo_buttons)

        self.target_view = ImageView()
        self.result_view = ImageView()
        for view in (self.target_view, self.result_view):
            view.setMinimumSize(VIEW_SIZE, VIEW_SIZE)
            view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.target_view.set_placeholder('the aligned target appears here once the landmarks are set')
        self.result_view.set_placeholder('the projection appears here')
        self.target_caption = _caption()
        self.result_caption = _caption()
        # titles, pictures and captions in rows of one grid: the two pictures stay side by side at
        # one size whatever the captions say
        views = QGridLayout()
        views.addWidget(QLabel('<b>Target</b>: what the network is fitted to'), 0, 0)
        views.addWidget(QLabel('<b>Projection</b>: the best step so far'), 0, 1)
        views.addWidget(self.target_view, 1, 0)
        views.addWidget(self.result_view, 1, 1)
        views.addWidget(self.target_caption, 2, 0)
        views.addWidget(self.result_caption, 2, 1)
        views.setRowStretch(1, 1)

        self.space_combo = QComboBox()
        self.space_combo.addItem('W (one w for every layer: edits best)', 'w')
        self.space_combo.addItem('W+ (then one w per layer: closer match)', 'w+')
        self.space_combo.addItem('PTI (then tune a copy of the network to the photo: closest match)', 'pti')
        self.space_combo.setItemData(2, 'The W projection as a pivot, then the network itself is fine-tuned to the '
                                     'photo (pivotal tuning); the explorer then opens that tuned network',
                                     Qt.ItemDataRole.ToolTipRole)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100000)
        self.steps_spin.setValue(PROJECTION_DEFAULTS.num_steps)
        self.steps_spin.setToolTip('Steps in W; W+ adds a second stage of half as many; PTI then tunes the network')
        self.stages_label = QLabel()
        self.stages_label.setStyleSheet('color: #555;')
        self.steps_spin.valueChanged.connect(self._show_stages)
        self.space_combo.currentIndexChanged.connect(self._show_stages)
        steps_row = QHBoxLayout()
        steps_row.addWidget(self.steps_spin)
        steps_row.addWidget(self.stages_label, 1)
        self.seed_spin = seed_box('Seed of the random noise maps and w noise the optimisation starts from')
        self.seed_spin.setValue(PROJECTION_DEFAULTS.seed)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow('Space', self.space_combo)
        form.addRow('Steps', steps_row)
        form.addRow('Seed', self.seed_spin)
        self.loss_label = _caption()
        self.job_bar = JobBar(cancel_text='Stop', cancelling_text='Stopping (keeping the best step)...')
        self.job_bar.cancel_button.setToolTip('End now and keep the best step so far')
        self.message_label = _caption(lines=3)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.project_button = push_button('Project', lambda: self.project(), default=True)
        self.keep_button = push_button('Keep the result', lambda: self.keep_result(),
                                       tip='Make the best step so far the picture and a favourite')
        self.discard_button = push_button('Discard', lambda: self.discard_result(), tip='Leave the picture as it was')
        for button in (self.keep_button, self.discard_button):
            button.setVisible(False)
        self.close_button = push_button('Close', self.close)
        buttons = button_row(self.keep_button, self.discard_button, self.project_button, self.close_button)
        self._show_stages()
        right = QVBoxLayout()
        right.addLayout(views, 1)
        right.addLayout(form)
        right.addWidget(self.loss_label)
        right.addWidget(self.job_bar)
        right.addWidget(self.message_label)
        right.addLayout(buttons)

        layout = QHBoxLayout(self)
        layout.addLayout(left, 5)
        layout.addLayout(right, 6)

    # -- the photo ------------------------------------------------------------------------------
    def open_photo(self, path=None):
        """Show a photo (None: ask for one); one that cannot be read shows the reader's sentence."""
        if path is None:
            path = self.files.open_file(self, 'photo', 'Project a photo', PHOTO_FILTER)
            if not path:
                return False
        if self.running:
            self.show_message('a projection is running: stop it before opening another photo', error=True)
            return False
        self.path, self.photo, self.points, self.skip, self.target = os.fspath(path), None, [], False, None
        self.result = self.favourite = None  # the last photo's projection, loss and offer go with it
        self.result_view.clear()
        self.result_caption.setText('')
        self.loss_label.setText('')
        self._offer(False)
        self.show_message('')
        try:
            self.photo = load_image(path)
        except StylescopeError as e:
            self.photo_view.clear(f'{os.path.basename(path)} cannot be shown')
            self.show_message(str(e), error=True)
            self._refresh()
            return False
        shown = self.photo.copy()
        shown.thumbnail((DISPLAY_MAX, DISPLAY_MAX))  # clicks map to the full photo through logical_size
        self.photo_view.set_image(to_array(shown, 3), logical_size=self.photo.size)
        self.setWindowTitle(f'Project a photo: {os.path.basename(path)}')
        self._refresh()
        return True

    def add_point(self, x, y):
        if self.photo is None or self.running or len(self.points) == len(LANDMARK_ORDER):
            return
        self.skip = False
        self.points.append((float(x), float(y)))
        self._refresh()

    def remove_last_point(self):
        if self.points and not self.running:
            self.points.pop()
            self._refresh()

    def clear_points(self):
        self.points, self.skip = [], False
        self._refresh()

    def skip_landmarks(self):
        self.points, self.skip = [], True
        self._refresh()

    def detect_landmarks(self):
        """Fill the four points from the optional detector (core.landmarks); they can still be
        corrected (a right click takes the last back, Clear points starts again)."""
        if self.photo is None or self.running:
            return False
        try:
            points = face_landmarks.detect(self.photo)
        except StylescopeError as e:
            self.show_message(str(e), error=True)
            return False
        if points is None:
            self.show_message('No face was found: click the four points, or Skip for a centre crop.', error=True)
            return False
        self.points, self.skip = [tuple(map(float, p)) for p in points], False
        self._refresh()
        return True

    def landmarks(self):
        """The clicked points as [4, 2] (None: centre crop)."""
        return None if self.skip else np.array(self.points, dtype=np.float64)

    # -- the target -----------------------------------------------------------------------------
    def _refresh(self):
        """Bring the marks, the prompt, the target and the buttons up to date."""
        self.target = None
        quad = None
        info = self.model.network
        if self.photo is not None and not self.running:
            self.show_message('')  # the points changed: an earlier sentence about them no longer holds
        if self.photo is not None and (self.skip or len(self.points) == len(LANDMARK_ORDER)) and info:
            try:
                self.target, quad = self._make_target(info['resolution'], info.get('img_channels', 3))
            except StylescopeError as e:
                self.show_message(str(e), error=True)
        self.photo_view.set_marks(self.points, quad)
        if self.target is not None:
            res = info['resolution']
            self.target_view.set_image(self.target, (res, res))
            how = 'centre crop' if self.skip else 'FFHQ alignment from the four points'
            self.target_caption.setText(f'{how}, {res}x{res}')
        else:
            self.target_view.clear()
            self.target_caption.setText('')
        self.prompt_label.setText(self._prompt())
        self._update_buttons()

    def _make_target(self, size, channels):
        """(target uint8 HWC, the cropped square's corners in the photo) as the job will make them."""
        w, h = self.photo.size
        if self.skip:
            s = min(w, h)
            x0, y0 = (w - s) // 2 - 0.5, (h - s) // 2 - 0.5
            quad = [(x0, y0), (x0, y0 + s), (x0 + s, y0 + s), (x0 + s, y0)]
            return center_crop(self.photo, size, channels), quad
        points = self.landmarks()
        target = align_face(self.photo, points, size, channels)  # checks the points first
        return target, ffhq_quad(points)

    def _prompt(self):
        if self.photo is None:
            return 'Open or drop a photo of a face.'
        if self.skip:
            return 'Centre crop: no landmarks. Click on the photo to place landmarks instead.'
        n = len(self.points)
        if n < len(LANDMARK_ORDER):
            colour = POINT_COLOURS[n]
            return (f'Click the <b style="color: {colour}">{LANDMARK_ORDER[n]}</b> ({n + 1} of 4; left and right '
                    f'as you look at the photo), or Skip for a centre crop. A right click takes the last point back.')
        if self.target is None:
            return 'These points cannot be used (see the sentence on the right): a right click takes the last one back.'
        return 'All four points are set: the dashed square is what the network sees. Project when ready.'

    def _update_buttons(self):
        idle = not self.running
        self.project_button.setEnabled(idle and self.target is not None and self.model.network is not None)
        self.open_button.setEnabled(idle)
        self.clear_button.setEnabled(idle and bool(self.points))
        self.skip_button.setEnabled(idle and self.photo is not None and not self.skip)
        self.detect_button.setEnabled(idle and self.photo is not None)
        for widget in (self.space_combo, self.steps_spin, self.seed_spin):
            widget.setEnabled(idle)

    def show_message(self, text, error=False):
        self.message_label.setStyleSheet('color: #c62828;' if error else '')
        self.message_label.setText(text)

    # -- projecting -----------------------------------------------------------------------------
    @property
    def running(self):
        return self.job is not None and not self.job.done

    def project(self):
        """Start the projection job (returns it); the target must be set."""
        if self.running:
            return self.job
        info = self.model.network
        if self.target is None or info is None:
            return None
        state = self.model.state
        landmarks = self.landmarks()
        self.result = self.favourite = None
        self.previews = 0
        self._network = info.get('fingerprint')
        self.result_view.clear('starting...')
        self.result_caption.setText('starting...')
        self.show_message('')
        space = self.space_combo.currentData()
        extra = dict(pti_steps=self.pti_steps, tuned_path=self._tuned_path(info)) if space == 'pti' else {}
        self.job = self.client.submit('project', path=self.path,
                                      landmarks=None if landmarks is None else landmarks.tolist(),
                                      space=space, num_steps=self.steps_spin.value(),
                                      seed=self.seed_spin.value(), class_idx=state.class_idx,
                                      w_avg_samples=self.w_avg_samples, **extra)
        self.job_bar.attach(self.job, 'Projecting')
        self.job_bar.bar.setFormat('step %v of %m')
        self.job.partial.connect(self._preview)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(lambda: self._failed('Stopped before the projection began.', error=False))
        self.job.ended.connect(self._update_buttons)
        self._update_buttons()
        return self.job

    def _tuned_path(self, info):
        taken = set(os.listdir(self.tuned_folder)) if os.path.isdir(self.tuned_folder) else set()
        return os.path.join(self.tuned_folder, tuned_file_name(self.path, info.get('fingerprint'), taken))

    def stop(self):
        """End the projection after the current step; its best step still becomes the result."""
        self.job_bar.cancel()

    def _preview(self, value):
        self.previews += 1
        if value.get('image') is not None:  # a preview without an image updates only the words
            res = value['image'].shape[0]
            self.result_view.set_image(value['image'], (res, res))
        self.result_caption.setText(f"{value['stage'].upper()}, step {value['step']} of {value['total']}: best loss "
                                    f"{value['best_loss']:.4f}")
        self._show_loss(value['loss'], value.get('has_D'))

    def _show_loss(self, text, has_D=None):
        note = '' if has_D is not False else ' (the network file has no discriminator, so its features are not used)'
        self.loss_label.setText(f'Loss: {text}{note}')

    def _failed(self, text, error=True):
        self.result_view.clear('no projection')
        self.result_caption.setText('')
        self.show_message(text, error=error)

    def _finished(self, result):
        self.result = result
        res = result['image'].shape[0]
        self.result_view.set_image(result['image'], (res, res))
        self._show_loss(result['loss'], result['has_D'])
        if result['best_step'] < 0:
            self.result_caption.setText('no step ran')
            self.show_message('Stopped before the first step: there is no result to keep.')
            return
        if not self._same_network():
            self.show_message('Another network was opened during the projection, so its result was not kept.',
                              error=True)
            return
        self.result_caption.setText(f"best step {result['best_step'] + 1} of {result['steps_done']}: loss "
                                    f"{result['best_loss']:.4f}")
        if result['stopped']:  # stopped early: the user decides whether the best step so far is worth keeping
            what = ' and its tuned network' if result.get('tuned') else ''
            self.show_message(f"Stopped after {result['steps_done']} of {result['total_steps']} steps. Keep the best "
                              f"step so far ({result['best_step'] + 1}){what} as the picture and a favourite, or "
                              f"discard it?")
            self._offer(True)
            return
        self._keep(result)

    def _keep(self, result):
        """A result becomes the picture: at once, or once its tuned network is open (PTI)."""
        if not result.get('tuned'):
            self._apply(result)
            return
        self._waiting = result
        self.model.events.network.connect(self._on_tuned_network)
        self.show_message(f"Opening the network tuned to {os.path.basename(self.path)}...")
        job = self.open_network(result['tuned']['path'])
        if job is not None:
            job.failed.connect(self._tuned_failed)

    def _on_tuned_network(self, info):
        result = self._waiting
        if result is None or info.get('fingerprint') != result['tuned']['fingerprint']:
            return
        self._stop_waiting()
        self._network = info['fingerprint']  # the result belongs to the tuned network from here on
        self._apply(result)

    def _tuned_failed(self, text):
        if self._waiting is not None:
            self._stop_waiting()
            self.show_message(f'The tuned network could not be opened: {text}', error=True)

    def _stop_waiting(self):
        self._waiting = None
        self.model.events.network.disconnect(self._on_tuned_network)

    def _offer(self, on):
        for button in (self.keep_button, self.discard_button):
            button.setVisible(on)

    def keep_result(self):
        self._offer(False)
        if self.result is not None and self._same_network():
            self._keep(self.result)

    def discard_result(self):
        self._offer(False)
        tuned = (self.result or {}).get('tuned')
        if tuned:  # written for this result only: it goes with it
            try:
                os.remove(tuned['path'])
            except OSError:
                pass
        self.result = None
        self.result_view.clear('discarded')
        self.show_message('Discarded: the picture is as it was.')

    def _show_stages(self):
        stages = projection_stages(self.space_combo.currentData(), self.steps_spin.value(), self.pti_steps)
        text = ', then '.join(f'{stage.upper()}: {steps} steps' for stage, steps in stages)
        if len(stages) > 1:
            text += f' ({sum(steps for _, steps in stages)} in all)'
        self.stages_label.setText(text)

    def _apply(self, result):
        """The projected w and its optimised noise maps become the picture (sliders at 0, no mixed
        rows, psi 1: the photo as projected; the noise panel's mode and strengths still apply), one undo
        step, and a favourite whose thumbnail is that picture as the explorer draws it."""
        state = self.model.state
        name = self._favourite_name()
        mixing = tuple(dataclasses.replace(m, rows=()) for m in state.mixing)
        new = state.reset_edits().replace(w=result['ws'], w_label=os.path.basename(self.path), mixing=mixing,
                                          noise_maps=result['noise'], psi=1.0, cutoff=None)  # untruncated: the fit
        self.model.set_state(new)
        done = (f"Stopped after {result['steps_done']} of {result['total_steps']} steps" if result['stopped'] else
                f"Done: {result['steps_done']} steps")
        tuned = result.get('tuned')
        if tuned:
            text = (f"{done} in {result['seconds']:.1f} s; kept the best step ({result['best_step'] + 1}). The network "
                    f"tuned to this photo is open ({tuned['path']}) and the pivot w is the picture and the favourite "
                    f"'{name}': every slider edits it. Back to source model returns to the network it was made from.")
            if tuned.get('note'):
                text += f" Note: {tuned['note']}."
        else:
            text = (f"{done} in {result['seconds']:.1f} s; kept the best step ({result['best_step'] + 1}). It is now "
                    f"the picture, with the noise maps optimised for it, and the favourite '{name}': every slider "
                    f"edits it.")
        self.show_message(' '.join([text] + list(result['notes'])))
        self.thumb_job = self.client.submit('render_batch', requests=[new.request()])
        self.thumb_job.finished.connect(lambda images: self._add_favourite(result['ws'], images[0], name, new))
        self.thumb_job.failed.connect(lambda text: self._same_network() and self.show_message(text, error=True))

    def _add_favourite(self, ws, image, name, state):
        if self._same_network():  # not when another network opened meanwhile (its favourites start afresh)
            self.favourite = self.model.add_favourite(ws, thumbnail(image), name=name, state=state)

    def _same_network(self):
        """Is the network the projection ran on still the open one?"""
        return (self.model.network or {}).get('fingerprint') == self._network

    def _favourite_name(self):
        base = f'projected {os.path.basename(self.path)}'
        taken = {f.name for f in self.model.favourites}
        n, name = 1, base
        while name in taken:
            n += 1
            name = f'{base} ({n})'
        return name

    # -- window ---------------------------------------------------------------------------------
    def _on_network(self, info):
        if not self.running:
            self._refresh()  # the target is made at the network's resolution

    def showEvent(self, event):
        self.model.events.network.disconnect(self._on_network)  # a spontaneous show comes without a hide
        self.model.events.network.connect(self._on_network)
        super().showEvent(event)

    def hideEvent(self, event):
        self.model.events.network.disconnect(self._on_network)
        super().hideEvent(event)

    def dragEnterEvent(self, event):
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()] if event.mimeData().hasUrls() else []
        if urls and os.path.splitext(urls[0].toLocalFile())[1].lower() in PHOTO_EXTENSIONS:
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_photo(urls[0].toLocalFile())
            event.acceptProposedAction()

    def closeEvent(self, event):
        if self.running:
            self.stop()  # like Stop: the best step so far still becomes the result
        super().closeEvent(event)
