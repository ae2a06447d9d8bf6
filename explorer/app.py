"""Start the explorer: `python main.py` or `python main.py explore --network PATH`."""
import sys

from PyQt6.QtWidgets import QApplication

from core.device import set_torch_threads
from explorer.main_window import MainWindow


def open_explorer(network_path=None, device='auto'):
    """(QApplication, shown MainWindow) on a network (default: the bundled one), as `python main.py`
    starts them; run_explorer then runs the event loop."""
    set_torch_threads(reserve=1)  # one core stays with the GUI thread
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName('Stylescope')
    app.setOrganizationName('Stylescope')
    window = MainWindow(network_path, device)
    app.aboutToQuit.connect(window.render_client.stop)
    window.show()
    return app, window


def run_explorer(network_path=None, device='auto'):
    """Open the main window and run the event loop; returns the exit code."""
    app, _window = open_explorer(network_path, device)
    return app.exec()


def run(args):
    """main.py dispatch entry."""
    return run_explorer(args.network, args.device)
