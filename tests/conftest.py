import os
import sys

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

# One torch thread: with two, a loaded 2-core machine can slow torch down 30x (environment.md).
torch.set_num_threads(1)


_exit_status = 0


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config):
    """End the process once pytest has reported, without the interpreter's teardown: it frees the
    QApplication and the widgets tests left to the garbage collector in no set order, which
    crashes Qt now and then (a segfault after a green summary). The exit status is pytest's."""
    if 'PyQt6.QtWidgets' in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
