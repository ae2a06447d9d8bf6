"""Start the explorer: `python main.py` or `python main.py explore --network PATH`."""
import sys

from PyQt6.QtWidgets import QApplication

from core.device import set_torch_threads
from explorer.main_window import MainWindow
from explorer.platform_check import check_xcb


def open_explorer(network_path=None, device='auto'):
    """(QApplication, shown MainWindow) on a network (default: the bundled one), as `python main.py`
    starts them; run_explorer then runs the event loop."""
    check_xcb()  # one sentence instead of Qt's abort when X11 libraries are missing
    set_torch_threads(reserve=1)  # one core stays with the GUI thread
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName('Stylescope')
    app.setOrganizationName('Stylescope')
    window = MainWindow(network_path, device)
    app.aboutToQuit.connect(window.render_client.stop)
    window.show()
    return app, window


_running = None  # (app, window) for the life of the process: see run_explorer


def run_explorer(network_path=None, device='auto'):
    """Open the main window and run the event loop; returns the exit code. The app and window
    are kept at module level, as PyQt's documentation advises: locals of a returning function are
    freed in no set order, and a QApplication destroyed before its widgets crashes on exit."""
    global _running
    _running = open_explorer(network_path, device)
    return _running[0].exec()
