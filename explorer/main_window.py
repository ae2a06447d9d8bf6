"""The explorer window. It assembles the image view, the panels (docks), the menus and the
status bar, and connects the model (explorer.state) to the render thread (explorer.worker):
every state change becomes a RenderRequest; every newest result is shown."""
import collections
import gc
import json
import os
import time

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtCore import QStandardPaths
from PyQt6.QtWidgets import (QApplication, QDockWidget, QHBoxLayout, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar,
                             QScrollArea, QToolButton, QVBoxLayout, QWidget)

from core.errors import StylescopeError
from core.network_files import OPEN_EXTENSIONS as NETWORK_EXTENSIONS
from core.network_files import OPEN_FILTER as NETWORK_FILTER
from explorer.directions_panel import DirectionsPanel
from explorer.file_dialogs import FileDialogs, model_stem
from explorer.history_panel import HistoryPanel
from explorer.image_view import ImageView
from explorer.latent_panel import LatentPanel
from explorer.layer_viewer import LayerViewer
from explorer.mixing_panel import MixingPanel
from explorer.motion_panel import MotionPanel
from explorer.noise_panel import NoisePanel
from explorer.plots_panel import PlotsPanel
from explorer.projection_dialog import PHOTO_EXTENSIONS, PHOTO_FILTER, ProjectionDialog
from explorer.state import EditorModel
from explorer.stylespace_panel import StyleSpacePanel
from explorer.truncation_panel import TruncationPanel
from explorer.recovery import RecoveryStore
from explorer import window_menus
from explorer.widgets import WheelGuard, message, push_button, tool_button
from explorer.worker import RenderClient

RANDOM_INIT_TEXT = 'No trained model is bundled yet: showing a randomly initialised network (noise, not faces)'
BANNER_STYLES = {'warning': 'background: #ffd500; color: #000000;', 'error': 'background: #c62828; color: #ffffff;'}
SESSION_FILTER = 'Stylescope sessions (*.json)'
ORIGINAL_OVERLAY = 'showing the original (unedited): press B for your edits'
FRESH_NOISE_MS = 80  # random noise "new every frame" redraws this soon after each frame
AUTOSAVE_MS = 1500   # the recovery file is written this long after the last change
DEFAULT_SIZE = (1500, 940)  # the first start's window, fitted to the screen by Qt
MIN_PICTURE_SHARE = 0.4  # of the window's width and height, at least, for the picture
LAYOUT_VERSION = 4  # of the saved dock layout: a layout of other docks is not restored


def recovery_folder(settings):
    """Where the recovery files go: the settings' 'recovery_folder' (tests point it at a temporary
    folder), else the app's data folder."""
    folder = settings.value('recovery_folder', '', type=str)
    if folder:
        return folder
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return os.path.join(data or os.path.expanduser('~/.stylescope'), 'recovery')


def tuned_folder(settings):
    """Where the projection dialog writes the networks pivotal tuning makes: the settings'
    'tuned_folder', else 'tuned' beside the recovery folder (the app's data folder)."""
    folder = settings.value('tuned_folder', '', type=str)
    return folder or os.path.join(os.path.dirname(recovery_folder(settings).rstrip('/\\')), 'tuned')


def same_family(a, b):
    """Are two opened networks (network_info dicts) one model for the editing state: the same
    weights, or a network tuned from the other (PTI), or two tuned from one source? Their mapping
    is one, so the picture, sliders, mixing and favourites carry over from one to the other."""
    fa, fb, ta, tb = a.get('fingerprint'), b.get('fingerprint'), a.get('tuned_from'), b.get('tuned_from')
    return fa == fb or (ta is not None and ta in (fb, tb)) or (tb is not None and tb == fa)



def freeze_long_lived_objects():
    """Move every object alive now (modules, the network, widgets) out of the garbage collector's
    reach: a full collection over torch's hundreds of thousands of objects holds the interpreter
    for 100+ ms, a visible stall of the GUI while the render thread allocates. New objects are
    still collected."""
    gc.collect()
    gc.freeze()


class MainWindow(QMainWindow):
    def __init__(self, network_path=None, device='auto', settings=None, sync_render=False):
        super().__init__()
        self.setWindowTitle('Stylescope')
        self.resize(*DEFAULT_SIZE)
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else QSettings('Stylescope', 'Stylescope')
        self.files = FileDialogs(self.settings)
        self.recovery = RecoveryStore(recovery_folder(self.settings))
        self._restored = None  # (snapshot before a restore, model name) while the restore can be taken back
        self.device = device
        self.model = EditorModel()
        self.render_client = RenderClient(self, sync=sync_render)  # sync: tests draw on their own thread
        self.network_info = None
        self.last_result = None
        self.last_full_ms = 0.0
        self._frame_times = collections.deque(maxlen=120)
        self._opening_path = None
        self.last_dialog = None
        self.projection_dialog = None
        self.wheel_guard = WheelGuard(self)
        QApplication.instance().installEventFilter(self.wheel_guard)
        self._build_ui()
        self._build_actions()
        self._connect()
        self.restore_layout()
        self.open_network(network_path)

    # --- layout -------------------------------------------------------------------------------
    def _build_ui(self):
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setVisible(False)
        self.image_view = ImageView()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        self.restore_bar, self.restore_label, self.restore_undo = self._build_restore_bar()
        layout.addWidget(self.restore_bar)
        layout.addWidget(self.image_view, stretch=1)
        self.setCentralWidget(central)

        m, c = self.model, self.render_client
        self.latent_panel = LatentPanel(m, c, self.files)
        self.truncation_panel = TruncationPanel(m)
        self.noise_panel = NoisePanel(m)
        self.motion_panel = MotionPanel(m)
        self.directions_panel = DirectionsPanel(m, c, self.files)
        self.mixing_panel = MixingPanel(m, c)
        self.history_panel = HistoryPanel(m, c)
        self.plots_panel = PlotsPanel(m, c)
        self.layer_viewer = LayerViewer(m, c)
        self.stylespace_panel = StyleSpacePanel(m, c, self.files)
        self.setDockNestingEnabled(True)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {}
        self.docks['latent'] = self._dock('Latent', self.latent_panel, left)
        self.docks['truncation'] = self._dock('Truncation', self.truncation_panel, left)
        self.docks['noise'] = self._dock('Noise', self.noise_panel, left)
        self.docks['motion'] = self._dock('Move (StyleGAN3)', self.motion_panel, left)
        self.tabifyDockWidget(self.docks['noise'], self.docks['motion'])
        self.docks['noise'].raise_()
        self.docks['directions'] = self._dock('Directions', self.directions_panel, right)
        self.docks['mixing'] = self._dock('Style mixing', self.mixing_panel, right)
        self.tabifyDockWidget(self.docks['directions'], self.docks['mixing'])
        self.docks['stylespace'] = self._dock('StyleSpace', self.stylespace_panel, right)
        self.tabifyDockWidget(self.docks['mixing'], self.docks['stylespace'])
        self.docks['layers'] = self._dock('Layers', self.layer_viewer, right)
        self.tabifyDockWidget(self.docks['stylespace'], self.docks['layers'])
        self.docks['directions'].raise_()
        self.docks['history'] = self._dock('Favourites and history', self.history_panel, bottom)
        self.docks['plots'] = self._dock('Plots', self.plots_panel, bottom)
        self.splitDockWidget(self.docks['history'], self.docks['plots'], Qt.Orientation.Horizontal)
        self._build_status_bar()

    def _size_docks(self):
        """Dock sizes for this window size: the picture comes first, the panels share the rest (and
        scroll when that is too little)."""
        w, h = self.width(), self.height()
        side = max(240, min(330, int(0.22 * w)))
        right = max(260, min(520, int(0.3 * w)))
        bottom = max(110, min(170, int(0.2 * h)))
        self.resizeDocks([self.docks['latent'], self.docks['truncation'], self.docks['noise']],
                         [int(0.2 * h), int(0.16 * h), int(0.4 * h)], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks['latent'], self.docks['directions']], [side, right], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks['history']], [bottom], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks['history'], self.docks['plots']], [int(0.55 * w), int(0.45 * w)],
                         Qt.Orientation.Horizontal)

    def resizeEvent(self, event):
        # The picture gets the space first: the docks scroll rather than squeeze it below this share.
        self.image_view.setMinimumSize(int(MIN_PICTURE_SHARE * event.size().width()),
                                       int(MIN_PICTURE_SHARE * event.size().height()))
        super().resizeEvent(event)

    def restore_layout(self):
        """The window size and dock layout of the last run, or sizes made for this window."""
        geometry = self.settings.value('window/geometry')
        state = self.settings.value('window/state')
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            self._size_docks()

    def save_layout(self):
        self.settings.setValue('window/geometry', self.saveGeometry())
        self.settings.setValue('window/state', self.saveState(LAYOUT_VERSION))

    def _build_restore_bar(self):
        bar = QWidget()
        bar.setStyleSheet('background: #e3f2df;')
        label = QLabel()
        undo = push_button('Undo restore', self.undo_restore, tip='Start this model afresh instead (the restored '
                                                                  'work stays in its recovery file until you change '
                                                                  'something)')
        dismiss = tool_button('✕', 'Hide this note', lambda: bar.setVisible(False))
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(label, 1)
        row.addWidget(undo)
        row.addWidget(dismiss)
        bar.setVisible(False)
        return bar, label, undo

    def _dock(self, title, widget, area):
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self):
        bar = self.statusBar()
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setVisible(False)
        self.job_cancel = QToolButton()
        self.job_cancel.setText('Cancel')
        self.job_cancel.setVisible(False)
        self.job_cancel.clicked.connect(self.render_client.cancel_all)
        self.model_label = QLabel('loading...')
        self.back_button = QToolButton()  # Back to source model, shown while a tuned network is open
        self.back_button.setVisible(False)
        self.resolution_label = QLabel()
        self.device_label = QLabel()
        self.ms_label = QLabel()
        self.fps_label = QLabel()
        self.zoom_label = QLabel()
        for widget in (self.job_label, self.job_progress, self.job_cancel, self.model_label, self.back_button,
                       self.resolution_label,
                       self.device_label, self.ms_label, self.fps_label, self.zoom_label):
            if isinstance(widget, QLabel):
                widget.setStyleSheet('padding: 0 6px;')
            bar.addPermanentWidget(widget)
        self.ms_label.setToolTip('Render time of the last frame (p: a preview while dragging)')
        self.fps_label.setToolTip('Frames shown per second')

    def _build_actions(self):
        self.actions = a = window_menus.build_actions(self)
        self.back_button.setDefaultAction(a['back_to_source'])
        self.recent = window_menus.RecentNetworks(self.settings, QMenu(self), self.open_network)
        self.recent_menu = self.recent.menu
        precision_menu = window_menus.build_menus(self, a, self.recent, self.docks.values())
        self.precision_actions = window_menus.build_precision_actions(self, precision_menu, self.set_precision)
        saved = str(self.settings.value('precision', 'auto'))
        self.set_precision(saved if saved in self.precision_actions else 'auto')
        a['pixels'].setChecked(self.settings.value('show_pixels', False, type=bool))
        window_menus.build_toolbar(self, a)
        window_menus.add_shortcut_tips(a)

    def _connect(self):
        self.model.events.state.connect(lambda new, old: self.request_render())
        self.model.events.original.connect(self._on_original)
        self.model.events.capture.connect(lambda layer: None if layer is None else self.request_render())
        self.docks['layers'].visibilityChanged.connect(self.layer_viewer.set_shown)  # frames carry its layer
        for name in ('alphas', 'mixing', 'directions'):
            getattr(self.model.events, name).connect(self._on_edit_while_original)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        for name in ('state', 'favourites', 'labels'):
            getattr(self.model.events, name).connect(lambda *args: self._autosave_timer.start())
        self._fresh_noise_timer = QTimer(self)
        self._fresh_noise_timer.setSingleShot(True)
        self._fresh_noise_timer.setInterval(FRESH_NOISE_MS)
        self._fresh_noise_timer.timeout.connect(self.request_render)
        self.model.events.dragging.connect(lambda dragging: None if dragging else self.request_render())
        self.model.events.history.connect(self._on_history)
        self.render_client.rendered.connect(self._on_rendered)
        self.render_client.render_failed.connect(self._on_render_failed)
        self.render_client.network_opened.connect(self._on_network_opened)
        self.render_client.network_failed.connect(self._on_network_failed)
        self.render_client.jobs_changed.connect(self._on_jobs_changed)
        self.image_view.zoom_changed.connect(self.zoom_label.setText)
        self.image_view.picture_dragged.connect(self._picture_dragged)
        self.image_view.picture_released.connect(lambda: self.model.set_dragging(False))
        self.directions_panel.status.connect(self.show_status)
        self.stylespace_panel.status.connect(self.show_status)
        self.stylespace_panel.label_requested.connect(
            lambda: self.stylespace_panel.watch_labeling(self.directions_panel.open_labeling()))
        self.latent_panel.status.connect(self.show_status)
        self.history_panel.status.connect(self.show_status)
        self.history_panel.difference_requested.connect(lambda k: self.directions_panel.open_difference(k))
        self._jobs_timer = QTimer(self)
        self._jobs_timer.setInterval(100)
        self._jobs_timer.timeout.connect(self._update_job_display)

    # --- rendering ----------------------------------------------------------------------------
    def current_request(self, full=False):
        """The request for the picture now (a preview while a slow network is dragged, unless `full`)."""
        return self.model.render_request(self.last_full_ms, full=full)

    def request_render(self):
        if self.network_info is None:
            return None
        return self.render_client.render(self.current_request())

    def _on_rendered(self, result):
        self.last_result = result
        res = self.network_info['resolution'] if self.network_info else None
        self.image_view.set_image(result.image, (res, res) if res else None, tag=result.request_id)
        ms = result.timings['total_ms']
        if not result.preview and len(result.computed_blocks) == len(self.network_info['blocks']):
            self.last_full_ms = ms  # a frame drawn from scratch: what a full render costs
        kind = ' '.join(word for word, on in ((result.precision, result.precision != 'fp32'),
                                               ('preview', result.preview)) if on)
        self.ms_label.setText(f"{ms:.0f} ms{f' ({kind})' if kind else ''}")
        now = time.perf_counter()
        self._frame_times.append(now)
        recent = [t for t in self._frame_times if now - t <= 1.0]
        span = now - recent[0]  # frames in the last second, counted between the first and the last
        self.fps_label.setText(f'{(len(recent) - 1) / span:.1f} fps' if len(recent) > 2 and span > 0.25 else '- fps')
        noise = self.model.state.noise
        if noise.mode == 'random' and noise.seed is None and not result.preview:
            self._fresh_noise_timer.start()  # "new every frame": keep drawing while it is on

    def _picture_dragged(self, dx, dy):
        if not self.model.dragging:
            self.model.set_dragging(True)
        self.motion_panel.move_by(dx, dy)

    def _on_render_failed(self, request_id, text):
        self.show_status(f'error: {text}')

    def set_precision(self, precision):
        self.precision_actions[precision].setChecked(True)
        self.settings.setValue('precision', precision)
        if precision != self.model.precision:
            self.model.set_precision(precision)
            self.request_render()

    def _on_original(self, on):
        self.actions['ab'].setChecked(on)
        self.image_view.set_overlay(ORIGINAL_OVERLAY if on else '')
        self.request_render()

    def _on_edit_while_original(self, state):
        if self.model.show_original:
            self.show_status('showing the original (A/B): your edit is kept; press B to see it')

    def _on_history(self, can_undo, can_redo):
        self.actions['undo'].setEnabled(can_undo)
        self.actions['redo'].setEnabled(can_redo)

    def show_status(self, text, ms=8000):
        self.statusBar().showMessage(text, ms)

    # --- networks -----------------------------------------------------------------------------
    def open_network(self, path=None):
        """Open a network in the background (None: the default one); the current one stays usable
        until the new one is ready, and stays if it cannot be opened."""
        self._opening_path = path
        self.model_label.setText('opening...' if self.network_info is None else self.model_label.text())
        if self.network_info is None:
            self.image_view.set_placeholder('opening the network...')
        return self.render_client.open(path, self.device)

    def back_to_source(self):
        """Open the network the open tuned network was made from (its file's 'pti' metadata)."""
        source = (self.network_info or {}).get('source_network')
        if not source or not os.path.exists(source):
            self._error('Back to source model', f"the network this one was tuned from, '{source}', is not there any "
                        'more: open it with File > Open network')
            return None
        return self.open_network(source)

    def open_run_folder_dialog(self):
        path = self.files.open_folder(self, 'network', 'Open training run folder')
        if path:
            self.open_network(path)

    def open_help(self, page=0):
        from explorer.help_dialog import HelpDialog
        self.help_dialog = HelpDialog(self.actions, self, page)
        self.help_dialog.show()
        return self.help_dialog

    def open_network_dialog(self):
        path = self.files.open_file(self, 'network', 'Open network', NETWORK_FILTER)
        if path:
            self.open_network(path)

    def _on_network_opened(self, info):
        previous = self.network_info
        same = self.network_info is not None and same_family(self.network_info, info)
        kept = ''
        if self.network_info is not None and not same and self.autosave():
            kept = f"; your work on {self.network_info['name']} is kept: it comes back when you open it again"
        self.network_info = info
        self.last_full_ms = 0.0
        self.model_label.setText(info['name'])
        self.model_label.setToolTip(info['source'])
        self.resolution_label.setText(f"{info['resolution']}x{info['resolution']}")
        self.device_label.setText(info['device'])
        self.device_label.setToolTip('bf16 is faster than fp32 here: View > Precision > Auto draws drafts in bf16'
                                     if info.get('bf16_faster') else 'bf16 is not faster than fp32 on this device')
        self.setWindowTitle(f"Stylescope - {info['name']}")
        tuned = bool(info.get('tuned_from'))
        self.actions['back_to_source'].setEnabled(tuned and bool(info.get('source_network')))
        self.back_button.setVisible(tuned)
        if tuned:
            self.model_label.setText(f"{info['name']} (tuned to a photo)")
        if info['random_init']:
            self._show_banner(RANDOM_INIT_TEXT, 'warning')
        else:
            self.banner.setVisible(False)
        if self._opening_path:
            self.recent.remember(self._opening_path)
        self.model.set_network(info, keep_state=same)  # the new state's event requests the first frame
        if not same:
            self.show_status(f'opened {info["name"]} at truncation psi {self.model.state.psi:g}, as most StyleGAN '
                             f'tools open (psi 1 = untruncated: Truncation > Reset){kept}')
        elif info.get('tuned_from') or (previous or {}).get('tuned_from'):
            self.show_status(f"opened {info['name']}: the picture, sliders and favourites carry over (a network tuned "
                             'to a photo shares its mapping with the one it was tuned from)')
        for text in info.get('directions_warnings') or ():
            self.show_status(text)
        movable = info.get('kind') == 'stylegan3'  # its input transform pans and turns the picture
        self.docks['motion'].setVisible(movable)
        (self.docks['motion'] if movable else self.docks['noise']).raise_()
        self.image_view.set_picture_movable(movable)
        if not same:
            self.restore_bar.setVisible(False)
            self._restore_recovery(info)
        freeze_long_lived_objects()

    # --- recovery: the work on each model survives quitting, crashes and other networks ----------
    def autosave(self):
        """Write the recovery file of the open model now (also what the timer does after a
        change); returns its path, or None when there is nothing of the user's to keep."""
        self._autosave_timer.stop()
        info = self.network_info
        if info is None or not info.get('fingerprint') or info.get('random_init'):
            return None
        if self.model.revision == 0 or not (self.model.favourites or self.model.labels or self.model.can_undo):
            return None  # a model only looked at: nothing to bring back
        try:
            return self.recovery.save(info['fingerprint'], self.model.session_dict())
        except (StylescopeError, OSError) as exc:
            self.show_status(f'error: the recovery file was not written ({exc})')
            return None

    def _restore_recovery(self, info):
        session = self.recovery.load(info.get('fingerprint'))
        if session is None:
            return
        before = self.model.snapshot()
        self.model.apply_session(session, 'the recovery file')
        self.model.saved_revision = self.model.revision  # restored as it was: no news to save
        self._restored = before
        when = time.strftime('%d %b %H:%M', time.localtime(session.get('recovery_saved_at', time.time())))
        favs, labels = len(self.model.favourites), len(self.model.labels)
        parts = ([f"{favs} favourite{'s' * (favs != 1)}"] if favs else []) + \
            ([f"the labels of {labels} attribute{'s' * (labels != 1)}"] if labels else [])
        self.restore_label.setText(f'Restored your work on this model from {when}: '
                                   + ', '.join(parts + ['the picture and sliders as you left them']) + '.')
        self.restore_bar.setVisible(True)

    def undo_restore(self):
        """Put back what the model looked like before the recovery file was restored."""
        if self._restored is not None:
            self.model.restore_snapshot(self._restored)
            self._restored = None
        self.restore_bar.setVisible(False)
        self.show_status('started afresh: the restored work is in the recovery file until you change something')

    def _on_network_failed(self, text):
        if self.network_info is None:
            self.model_label.setText('no network')
            self.image_view.set_placeholder('no network is open: File > Open network')
            self._show_banner(f'Could not open the network: {text}', 'error')
            self.show_status(f'error: {text}')
        else:
            self.show_status(f"error: {text} ({self.network_info['name']} is still open)")
        self.last_dialog = message(self, 'Could not open the network', text)

    def _show_banner(self, text, kind):
        self.banner.setText(text)
        self.banner.setStyleSheet(BANNER_STYLES[kind] + ' font-weight: bold; padding: 8px;')
        self.banner.setVisible(True)

    def set_show_pixels(self, on):
        self.image_view.set_show_pixels(on)
        self.settings.setValue('show_pixels', bool(on))

    def recent_networks(self):
        return self.recent.paths()

    # drag and drop
    @staticmethod
    def _dropped_path(mime):
        if not mime.hasUrls():
            return None
        urls = [u for u in mime.urls() if u.isLocalFile()]
        return urls[0].toLocalFile() if urls else None

    @staticmethod
    def _drop_kind(path):
        ext = os.path.splitext(path)[1].lower()
        if os.path.isdir(path) or ext in NETWORK_EXTENSIONS:
            return 'network'
        if ext == '.json':
            return 'session'
        if ext in ('.npz', '.npy'):
            return 'w'
        if ext in PHOTO_EXTENSIONS:
            return 'photo'
        return None

    def dragEnterEvent(self, event):
        path = self._dropped_path(event.mimeData())
        if path and self._drop_kind(path):
            event.acceptProposedAction()

    def dropEvent(self, event):
        path = self._dropped_path(event.mimeData())
        if path:
            self.open_path(path)
            event.acceptProposedAction()

    def open_path(self, path):
        """What a dropped file does: a network opens, a session loads, a .npz / .npy is a w, a photo
        opens the projection dialog."""
        kind = self._drop_kind(path)
        if kind == 'network':
            return self.open_network(path)
        if kind == 'session':
            return self.load_session(path)
        if kind == 'w':
            return self.latent_panel.load_w_file(path)
        if kind == 'photo':
            return self.open_projection_dialog(path)
        self.show_status(f"error: {os.path.basename(path)} is not a network, session, w file or photo")
        return None

    # --- jobs in the status bar ---------------------------------------------------------------
    def _on_jobs_changed(self):
        running = self.render_client.running_jobs
        for widget in (self.job_label, self.job_progress, self.job_cancel):
            widget.setVisible(bool(running))
        if running:
            self._jobs_timer.start()
            self._update_job_display()
        else:
            self._jobs_timer.stop()

    def _update_job_display(self):
        running = self.render_client.running_jobs
        if not running:
            return
        job = running[0]
        self.job_label.setText(job.description + (f' (+{len(running) - 1} more)' if len(running) > 1 else ''))
        done, total = job.last_progress
        if total > 0:
            self.job_progress.setRange(0, total)
            self.job_progress.setValue(done)
        else:
            self.job_progress.setRange(0, 0)
        self.job_cancel.setVisible(job.kind != 'open_network')

    # --- files --------------------------------------------------------------------------------
    def _ask_save(self, kind, title, filt, name):
        return self.files.save_file(self, kind, title, filt, name)[0]

    def _picture_name(self):
        """'ffhq-seed0042' (or '-w' for a loaded latent), '-edited' when sliders or mixing change it."""
        state = self.model.state
        latent = f'seed{state.seed:04d}' if state.w is None else 'w'
        return f"{model_stem(self.network_info)}-{latent}{'-edited' if state.is_edited else ''}"

    def png_metadata(self):
        state = self.model.state
        info = self.network_info or {}
        return {'Software': 'Stylescope', 'Source': info.get('source', ''),
                'stylescope_fingerprint': info.get('fingerprint') or '', 'stylescope_latent': state.latent_label,
                'stylescope_psi': f'{state.psi:g}', 'stylescope_state': json.dumps(state.to_dict(compact=True))}

    def save_image(self, path=None):
        if self.network_info is None:
            return None
        path = path or self._ask_save('image', 'Save image', 'PNG images (*.png)', f'{self._picture_name()}.png')
        if not path:
            return None
        if not path.lower().endswith('.png'):
            path += '.png'
        job = self.render_client.submit('save_image', request=self.current_request(full=True), path=path,
                                        metadata=self.png_metadata())
        job.finished.connect(lambda p: self.show_status(f'saved {p}'))
        job.failed.connect(lambda text: self._error('Save image', text))
        return job

    def save_ws(self, path=None):
        if self.network_info is None:
            return None
        path = path or self._ask_save('w', 'Save w', 'NumPy archives (*.npz)', f'{self._picture_name()}-w.npz')
        if not path:
            return None
        if not path.lower().endswith('.npz'):
            path += '.npz'
        job = self.render_client.submit('save_ws', request=self.model.state.request(), path=path)
        state = self.model.state
        channels = state.directions is not None and any(
            a and state.directions.is_style_channel(k) for k, a in enumerate(state.alphas))
        note = (': the StyleSpace channel edits act on the styles, not on w, so the file leaves them out '
                '(a session keeps them)') if channels else ''
        job.finished.connect(lambda p: self.show_status(f'saved {p}{note}'))
        job.failed.connect(lambda text: self._error('Save w', text))
        return job

    def save_session(self, path=None):
        path = path or self._ask_save('session', 'Save session', SESSION_FILTER,
                                      f'{model_stem(self.network_info)}-session.json')
        if not path:
            return False
        try:
            self.model.save_session(path)
        except StylescopeError as exc:
            self._error('Save session', str(exc))
            return False
        self.show_status(f'saved session {path}')
        return True

    def load_session(self, path=None):
        if path is None:
            path = self.files.open_file(self, 'session', 'Load session', SESSION_FILTER)
            if not path:
                return None
        try:
            warnings = self.model.load_session(path)
        except StylescopeError as exc:
            self._error('Load session', str(exc))
            return None
        if warnings:
            self._error('Session loaded with warnings', '\n\n'.join(warnings))
        else:
            self.show_status(f'loaded session {path}')
        return warnings

    def open_quiz_dialog(self):
        from explorer.quiz_dialog import QuizDialog
        dialog = QuizDialog(self.model, self.render_client, self.files, self.settings, self)
        dialog.show()
        self.quiz_dialog = dialog
        return dialog

    def open_video_dialog(self):
        from explorer.export.video_dialog import VideoDialog
        dialog = VideoDialog(self.model, self.render_client, self.files, self)
        dialog.show()
        self.video_dialog = dialog
        return dialog

    def open_projection_dialog(self, path=None):
        """The projection dialog on a photo (None: ask for one). One dialog is kept: a new photo
        opens in it unless it is projecting, then it is only brought to the front."""
        if path is None:
            path = self.files.open_file(self, 'photo', 'Project a photo', PHOTO_FILTER)
            if not path:
                return None
        dialog = self.projection_dialog
        if dialog is None:
            dialog = self.projection_dialog = ProjectionDialog(self.model, self.render_client, self.files, self,
                                                                      path=path, open_network=self.open_network,
                                                                      tuned_folder=tuned_folder(self.settings))
        elif dialog.running:
            self.show_status('a projection is running: stop it before projecting another photo')
        else:
            dialog.open_photo(path)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _error(self, title, text):
        self.show_status(f'error: {text}')
        self.last_dialog = message(self, title, text)

    def closeEvent(self, event):
        self.autosave()
        self.save_layout()
        if self.model.unsaved and self.settings.value('confirm_quit', True, type=bool) and not self._confirm_quit():
            event.ignore()
            return
        self.render_client.stop()
        super().closeEvent(event)

    def _confirm_quit(self):
        """Ask before leaving unsaved work: it is kept for next time either way; a session file is
        the way to keep it for good or share it. True: quit."""
        box = QMessageBox(QMessageBox.Icon.Question, 'Quit Stylescope',
                          'Your favourites and directions are not in a session file. They are kept, and come back '
                          'when you open this model again. Save them as a session file too?',
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard |
                          QMessageBox.StandardButton.Cancel, self)
        box.button(QMessageBox.StandardButton.Discard).setText('Quit')
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save_session()
        return answer == QMessageBox.StandardButton.Discard
