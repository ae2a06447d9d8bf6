"""The explorer window: image, seed and psi controls, status bar, and a banner for the
random stand-in network. All rendering goes through explorer.worker.RenderClient."""
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QHBoxLayout, QLabel, QMainWindow, QPushButton, QSlider, QSpinBox, QVBoxLayout,
                             QWidget)

from explorer.image_view import ImageView
from explorer.worker import RenderClient

RANDOM_INIT_TEXT = 'No trained model is bundled yet: showing a randomly initialised network (noise, not faces)'
BANNER_STYLES = {'warning': 'background: #ffd500; color: #000000;', 'error': 'background: #c62828; color: #ffffff;'}
PSI_STEPS = 100  # slider units per 1.0 of psi
MAX_SEED = 2 ** 31 - 1  # QSpinBox holds a signed 32-bit int


class MainWindow(QMainWindow):
    def __init__(self, network_path=None, device='auto'):
        super().__init__()
        self.setWindowTitle('Stylescope')
        self.resize(720, 640)
        self.render_client = RenderClient(self)
        self._build_ui()
        self._connect()
        self.render_client.open(network_path, device)
        self.request_render()

    # --- layout -------------------------------------------------------------------------------
    def _build_ui(self):
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setVisible(False)
        self.image_view = ImageView()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(self.image_view, stretch=1)
        layout.addLayout(self._build_controls())
        self.setCentralWidget(central)
        self._build_status_bar()

    def _build_controls(self):
        self.prev_button = QPushButton('< Prev')
        self.next_button = QPushButton('Next >')
        self.prev_button.setToolTip('Previous seed (Alt+Left)')
        self.next_button.setToolTip('Next seed (Alt+Right)')
        self.prev_button.setShortcut('Alt+Left')
        self.next_button.setShortcut('Alt+Right')
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, MAX_SEED)
        self.seed_box.setToolTip('Seed: the same number gives the same image as `generate --seeds`')
        self.psi_slider = QSlider(Qt.Orientation.Horizontal)
        self.psi_slider.setRange(-PSI_STEPS, 2 * PSI_STEPS)
        self.psi_slider.setValue(PSI_STEPS)
        self.psi_slider.setToolTip('Truncation psi: 1 = untruncated, 0 = the average image')
        self.psi_label = QLabel()
        self._show_psi()
        row = QHBoxLayout()
        for widget in (QLabel('Seed'), self.prev_button, self.seed_box, self.next_button):
            row.addWidget(widget)
        row.addSpacing(24)
        row.addWidget(self.psi_label)
        row.addWidget(self.psi_slider, stretch=1)
        return row

    def _build_status_bar(self):
        self.model_label = QLabel('loading...')
        self.resolution_label = QLabel()
        self.device_label = QLabel()
        self.ms_label = QLabel()
        for label in (self.model_label, self.resolution_label, self.device_label, self.ms_label):
            label.setStyleSheet('padding: 0 6px;')
            self.statusBar().addPermanentWidget(label)

    def _connect(self):
        self.prev_button.clicked.connect(lambda: self.seed_box.stepBy(-1))
        self.next_button.clicked.connect(lambda: self.seed_box.stepBy(1))
        self.seed_box.valueChanged.connect(self.request_render)
        self.psi_slider.valueChanged.connect(self._show_psi)
        self.psi_slider.valueChanged.connect(self.request_render)
        self.render_client.loaded.connect(self._on_loaded)
        self.render_client.rendered.connect(self._on_rendered)
        self.render_client.failed.connect(self._on_failed)

    # --- state --------------------------------------------------------------------------------
    @property
    def psi(self):
        return self.psi_slider.value() / PSI_STEPS

    def _show_psi(self):
        self.psi_label.setText(f'psi {self.psi:.2f}')

    def request_render(self):
        return self.render_client.request(self.seed_box.value(), self.psi)

    def _show_banner(self, text, kind):
        self.banner.setText(text)
        self.banner.setStyleSheet(BANNER_STYLES[kind] + ' font-weight: bold; padding: 8px;')
        self.banner.setVisible(True)

    # --- results from the render thread ---------------------------------------------------------
    def _on_loaded(self, info):
        self.model_label.setText(info['name'])
        self.model_label.setToolTip(info['source'])
        self.resolution_label.setText(f"{info['resolution']}x{info['resolution']}")
        self.device_label.setText(info['device'])
        if info['random_init']:
            self._show_banner(RANDOM_INIT_TEXT, 'warning')
        else:
            self.banner.setVisible(False)

    def _on_rendered(self, request_id, image, ms):
        self.image_view.set_image(image)
        self.ms_label.setText(f'{ms:.0f} ms')
        self.statusBar().clearMessage()

    def _on_failed(self, request_id, message):
        if request_id == 0:
            self.model_label.setText('no network')
            self._show_banner(f'Could not open the network: {message}', 'error')
        self.statusBar().showMessage(f'error: {message}')

    def closeEvent(self, event):
        self.render_client.stop()
        super().closeEvent(event)
