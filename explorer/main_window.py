"""The explorer window. It assembles the image view, the panels (docks), the menus and the
status bar, and connects the model (explorer.state) to the render thread (explorer.worker):
every state change becomes a RenderRequest; every newest result is shown."""
import collections
import gc
import json
import os
import time

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QProgressBar, QScrollArea, QToolBar,
                             QToolButton, QVBoxLayout, QWidget)

from core.errors import StylescopeError
from explorer.directions_panel import DirectionsPanel
from explorer.history_panel import HistoryPanel
from explorer.image_view import ImageView
from explorer.latent_panel import LatentPanel
from explorer.mixing_panel import MixingPanel
from explorer.noise_panel import NoisePanel
from explorer.plots_panel import PlotsPanel
from explorer.projection_dialog import PHOTO_EXTENSIONS, PHOTO_FILTER, ProjectionDialog
from explorer.state import EditorModel
from explorer.truncation_panel import TruncationPanel
from explorer.widgets import message
from explorer.worker import RenderClient

RANDOM_INIT_TEXT = 'No trained model is bundled yet: showing a randomly initialised network (noise, not faces)'
BANNER_STYLES = {'warning': 'background: #ffd500; color: #000000;', 'error': 'background: #c62828; color: #ffffff;'}
NETWORK_FILTER = 'Networks (*.pkl *.safetensors);;All files (*)'
NETWORK_EXTENSIONS = ('.pkl', '.safetensors')
SESSION_FILTER = 'Stylescope sessions (*.json)'
MAX_RECENT = 8


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
        self.resize(1500, 940)
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else QSettings('Stylescope', 'Stylescope')
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
        self._build_ui()
        self._build_actions()
        self._connect()
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
        layout.addWidget(self.image_view, stretch=1)
        self.setCentralWidget(central)

        m, c = self.model, self.render_client
        self.latent_panel = LatentPanel(m, c)
        self.truncation_panel = TruncationPanel(m)
        self.noise_panel = NoisePanel(m)
        self.directions_panel = DirectionsPanel(m, c)
        self.mixing_panel = MixingPanel(m, c)
        self.history_panel = HistoryPanel(m, c)
        self.plots_panel = PlotsPanel(m, c)
        self.setDockNestingEnabled(True)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {}
        self.docks['latent'] = self._dock('Latent', self.latent_panel, left)
        self.docks['truncation'] = self._dock('Truncation', self.truncation_panel, left)
        self.docks['noise'] = self._dock('Noise', self.noise_panel, left)
        self.docks['directions'] = self._dock('Directions', self.directions_panel, right)
        self.docks['mixing'] = self._dock('Style mixing', self.mixing_panel, right)
        self.tabifyDockWidget(self.docks['directions'], self.docks['mixing'])
        self.docks['directions'].raise_()
        self.docks['history'] = self._dock('Favourites and history', self.history_panel, bottom)
        self.docks['plots'] = self._dock('Plots', self.plots_panel, bottom)
        self.splitDockWidget(self.docks['history'], self.docks['plots'], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks['latent'], self.docks['truncation'], self.docks['noise']], [130, 110, 380],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.docks['latent'], self.docks['directions']], [330, 520], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks['history']], [170], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks['history'], self.docks['plots']], [760, 520], Qt.Orientation.Horizontal)
        self._build_status_bar()

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
        self.resolution_label = QLabel()
        self.device_label = QLabel()
        self.ms_label = QLabel()
        self.fps_label = QLabel()
        self.zoom_label = QLabel()
        for widget in (self.job_label, self.job_progress, self.job_cancel, self.model_label, self.resolution_label,
                       self.device_label, self.ms_label, self.fps_label, self.zoom_label):
            if isinstance(widget, QLabel):
                widget.setStyleSheet('padding: 0 6px;')
            bar.addPermanentWidget(widget)
        self.ms_label.setToolTip('Render time of the last frame (p: a preview while dragging)')
        self.fps_label.setToolTip('Frames shown per second')

    def _action(self, text, slot, shortcuts=(), tip=None, checkable=False):
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self):
        A = self._action
        self.actions = a = {}
        a['open'] = A('&Open network...', lambda: self.open_network_dialog(), ['Ctrl+O'])
        a['load_session'] = A('&Load session...', lambda: self.load_session(), ['Ctrl+Shift+O'])
        a['save_session'] = A('Save &session...', lambda: self.save_session(), ['Ctrl+Shift+S'])
        a['save_image'] = A('Save &image (PNG)...', lambda: self.save_image(), ['Ctrl+S'],
                            'Save the picture as PNG with the editing state in its metadata')
        a['save_ws'] = A('Save &w (.npz)...', lambda: self.save_ws(), ['Ctrl+Alt+S'],
                         "Save the edited ws as .npz (key 'w', [1, num_ws, w_dim], as the official projector)")
        a['video'] = A('Export &video...', lambda: self.open_video_dialog(), ['Ctrl+Shift+E'])
        a['project'] = A('&Project a photo...', lambda: self.open_projection_dialog(), ['Ctrl+P'],
                         'Find the w of a photo: click its eyes and mouth, project, then edit it with every slider')
        a['quit'] = A('&Quit', self.close, ['Ctrl+Q'])
        a['undo'] = A('&Undo', self.model.undo, ['Ctrl+Z'])
        a['redo'] = A('&Redo', self.model.redo, ['Ctrl+Shift+Z', 'Ctrl+Y'])
        a['copy'] = A('&Copy latent', lambda: self.latent_panel.copy_latent(), ['Ctrl+Shift+C'])
        a['paste'] = A('&Paste latent', lambda: self.latent_panel.paste_latent(), ['Ctrl+Shift+V'])
        a['reset'] = A('Reset &edits', lambda: self.model.set_state(self.model.state.reset_edits()), ['Ctrl+0'],
                       'Every direction slider back to 0')
        a['prev_seed'] = A('&Previous seed', lambda: self.latent_panel.step_seed(-1), ['Alt+Left', '['])
        a['next_seed'] = A('&Next seed', lambda: self.latent_panel.step_seed(1), ['Alt+Right', ']'])
        a['random_seed'] = A('&Random seed', self.latent_panel.random_seed, ['Ctrl+R'])
        a['load_w'] = A('&Load w...', lambda: self.latent_panel.load_w_file())
        a['favourite'] = A('Add &favourite', lambda: self.history_panel.add_favourite(), ['Ctrl+D'])
        a['ab'] = A('Show &original (A/B)', self.model.set_show_original, ['B'],
                    'Toggle between the edited and the unedited picture', checkable=True)
        a['fit'] = A('&Fit', self.image_view.fit, ['F'])
        a['actual'] = A('&1:1', self.image_view.actual_size, ['1'])
        a['zoom_in'] = A('Zoom &in', self.image_view.zoom_in, ['+', '=', 'Ctrl+='])
        a['zoom_out'] = A('Zoom &out', self.image_view.zoom_out, ['-', 'Ctrl+-'])
        a['pixels'] = A('Show &pixels', self.set_show_pixels, ['P'],
                        'Enlarge the picture as blocks of single pixels instead of smoothly', checkable=True)
        a['undo'].setEnabled(False)
        a['redo'].setEnabled(False)

        menu = self.menuBar()
        file_menu = menu.addMenu('&File')
        file_menu.addAction(a['open'])
        self.recent_menu = file_menu.addMenu('Open &recent')
        file_menu.addSeparator()
        file_menu.addAction(a['project'])
        file_menu.addSeparator()
        for key in ('load_session', 'save_session'):
            file_menu.addAction(a[key])
        file_menu.addSeparator()
        for key in ('save_image', 'save_ws', 'video'):
            file_menu.addAction(a[key])
        file_menu.addSeparator()
        file_menu.addAction(a['quit'])
        edit_menu = menu.addMenu('&Edit')
        for key in ('undo', 'redo', None, 'copy', 'paste', None, 'reset'):
            edit_menu.addSeparator() if key is None else edit_menu.addAction(a[key])
        latent_menu = menu.addMenu('&Latent')
        for key in ('prev_seed', 'next_seed', 'random_seed', None, 'load_w', 'favourite'):
            latent_menu.addSeparator() if key is None else latent_menu.addAction(a[key])
        view_menu = menu.addMenu('&View')
        for key in ('ab', None, 'fit', 'actual', 'zoom_in', 'zoom_out', 'pixels'):
            view_menu.addSeparator() if key is None else view_menu.addAction(a[key])
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        self._refresh_recent_menu()
        a['pixels'].setChecked(self.settings.value('show_pixels', False, type=bool))

        toolbar = QToolBar('Main')
        toolbar.setObjectName('main toolbar')
        toolbar.setMovable(False)
        for key in ('open', None, 'undo', 'redo', None, 'prev_seed', 'next_seed', 'random_seed', None, 'ab',
                    'favourite', 'reset', None, 'fit', 'actual', None, 'save_image', 'video'):
            toolbar.addSeparator() if key is None else toolbar.addAction(a[key])
        self.addToolBar(toolbar)
        for key, action in a.items():
            if action.shortcut().toString() and key not in ('quit',):
                tip = action.toolTip() or action.text().replace('&', '')
                action.setToolTip(f'{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})')

    def _connect(self):
        self.model.events.state.connect(lambda new, old: self.request_render())
        self.model.events.original.connect(self._on_original)
        self.model.events.dragging.connect(lambda dragging: None if dragging else self.request_render())
        self.model.events.history.connect(self._on_history)
        self.render_client.rendered.connect(self._on_rendered)
        self.render_client.render_failed.connect(self._on_render_failed)
        self.render_client.network_opened.connect(self._on_network_opened)
        self.render_client.network_failed.connect(self._on_network_failed)
        self.render_client.jobs_changed.connect(self._on_jobs_changed)
        self.image_view.zoom_changed.connect(self.zoom_label.setText)
        self.directions_panel.status.connect(self.show_status)
        self.history_panel.status.connect(self.show_status)
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
        self.ms_label.setText(f"{ms:.0f} ms{' (preview)' if result.preview else ''}")
        now = time.perf_counter()
        self._frame_times.append(now)
        recent = [t for t in self._frame_times if now - t <= 1.0]
        self.fps_label.setText(f'{len(recent) / max(now - recent[0], 1e-3):.1f} fps' if len(recent) > 1 else '- fps')

    def _on_render_failed(self, request_id, text):
        self.show_status(f'error: {text}')

    def _on_original(self, on):
        self.actions['ab'].setChecked(on)
        self.image_view.set_overlay('A: original (unedited)' if on else '')
        self.request_render()

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

    def open_network_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, 'Open network', '', NETWORK_FILTER)
        if path:
            self.open_network(path)

    def _on_network_opened(self, info):
        same = self.network_info is not None and self.network_info.get('fingerprint') == info.get('fingerprint')
        self.network_info = info
        self.last_full_ms = 0.0
        self.model_label.setText(info['name'])
        self.model_label.setToolTip(info['source'])
        self.resolution_label.setText(f"{info['resolution']}x{info['resolution']}")
        self.device_label.setText(info['device'])
        self.setWindowTitle(f"Stylescope - {info['name']}")
        if info['random_init']:
            self._show_banner(RANDOM_INIT_TEXT, 'warning')
        else:
            self.banner.setVisible(False)
        if self._opening_path:
            self._remember_recent(self._opening_path)
        self.model.set_network(info, keep_state=same)  # the new state's event requests the first frame
        for text in info.get('directions_warnings') or ():
            self.show_status(text)
        freeze_long_lived_objects()

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

    # recent files
    def recent_networks(self):
        value = self.settings.value('recent_networks', [])
        if isinstance(value, str):
            value = [value]
        return [p for p in (value or []) if p]

    def _remember_recent(self, path):
        path = os.path.abspath(path)
        recent = [path] + [p for p in self.recent_networks() if p != path]
        self.settings.setValue('recent_networks', recent[:MAX_RECENT])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self):
        self.recent_menu.clear()
        recent = self.recent_networks()
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_network(p))
        self.recent_menu.setEnabled(bool(recent))

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
    def _ask_save(self, title, filt, default):
        path, _ = QFileDialog.getSaveFileName(self, title, default, filt)
        return path or None

    def png_metadata(self):
        state = self.model.state
        info = self.network_info or {}
        return {'Software': 'Stylescope', 'Source': info.get('source', ''),
                'stylescope_fingerprint': info.get('fingerprint') or '', 'stylescope_latent': state.latent_label,
                'stylescope_psi': f'{state.psi:g}', 'stylescope_state': json.dumps(state.to_dict(compact=True))}

    def save_image(self, path=None):
        if self.network_info is None:
            return None
        path = path or self._ask_save('Save image', 'PNG images (*.png)', f'seed{self.model.state.seed:04d}.png')
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
        path = path or self._ask_save('Save w', 'NumPy archives (*.npz)', 'w.npz')
        if not path:
            return None
        if not path.lower().endswith('.npz'):
            path += '.npz'
        job = self.render_client.submit('save_ws', request=self.model.state.request(), path=path)
        job.finished.connect(lambda p: self.show_status(f'saved {p}'))
        job.failed.connect(lambda text: self._error('Save w', text))
        return job

    def save_session(self, path=None):
        path = path or self._ask_save('Save session', SESSION_FILTER, 'session.json')
        if not path:
            return False
        try:
            self.model.save_session(path)
        except OSError as exc:
            self._error('Save session', f"could not write '{path}' ({exc.strerror}): choose another place")
            return False
        self.show_status(f'saved session {path}')
        return True

    def load_session(self, path=None):
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, 'Load session', '', SESSION_FILTER)
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

    def open_video_dialog(self):
        from explorer.export.video_dialog import VideoDialog
        dialog = VideoDialog(self.model, self.render_client, self)
        dialog.show()
        self.video_dialog = dialog
        return dialog

    def open_projection_dialog(self, path=None):
        """The projection dialog on a photo (None: ask for one). One dialog is kept: a new photo
        opens in it unless it is projecting, then it is only brought to the front."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, 'Project a photo', '', PHOTO_FILTER)
            if not path:
                return None
        dialog = self.projection_dialog
        if dialog is None:
            dialog = self.projection_dialog = ProjectionDialog(self.model, self.render_client, self, path=path)
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
        self.render_client.stop()
        super().closeEvent(event)
