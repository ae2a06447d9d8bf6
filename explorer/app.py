"""Start the explorer: `python main.py` or `python main.py explore --network PATH`."""
import sys

from PyQt6.QtWidgets import QApplication

from core.device import set_torch_threads
from explorer.main_window import MainWindow


def run_explorer(network_path=None, device='auto'):
    """Open the main window on a network (default: the bundled one); returns the exit code."""
    set_torch_threads(reserve=1)  # one core stays with the GUI thread
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName('Stylescope')
    app.setOrganizationName('Stylescope')
    window = MainWindow(network_path, device)
    app.aboutToQuit.connect(window.render_client.stop)
    window.show()
    return app.exec()


def run(args):
    """main.py dispatch entry."""
    return run_explorer(args.network, args.device)
