"""Shared pieces of the GUI tests: a tiny network file, a window on it, waiting for frames."""
import pathlib

import numpy as np
from PyQt6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDropEvent

from core.model_io import open_network, save_network
from tiny_nets import tiny_discriminator
from tiny_nets import tiny_generator as _tiny_generator
from core.render import Renderer

SCREENSHOT_DIR = pathlib.Path('/tmp/stylescope_screens')
RES = 32  # blocks 4..32, num_ws 8: coarse 0-3, middle 4-7


def tiny_generator(seed=0, c_dim=0, res=RES):
    return _tiny_generator(seed=seed, c_dim=c_dim, res=res)


def write_tiny_network(path, with_D=False, **kwargs):
    """A tiny network file (G only, or G and D with `with_D`)."""
    G = tiny_generator(**kwargs)
    save_network(path, G, D=tiny_discriminator(res=G.img_resolution) if with_D else None)
    return path


def reference_renderer(path):
    return Renderer(open_network(path).G)


def settings(tmp_path, confirm_quit=False):
    """The window's settings in a file of the test's own, its recovery files beside them, and no
    question on closing unless `confirm_quit` (a test answers it)."""
    s = QSettings(str(tmp_path / 'settings.ini'), QSettings.Format.IniFormat)
    if not s.contains('recovery_folder'):
        s.setValue('recovery_folder', str(tmp_path / 'recovery'))
        s.setValue('confirm_quit', confirm_quit)
    return s


def open_window(qtbot, tmp_path, net_path, sync=True):
    """A shown MainWindow on `net_path` with its first frame painted; stops its render thread after
    the test. sync: renders are drawn on the test's thread before the change that asks for them
    returns (RenderClient(sync=True)); False: on the render thread, as the app draws them. Use as a fixture body: `yield from open_window(qtbot, tmp_path, net_path)`."""
    from explorer.main_window import MainWindow
    win = MainWindow(network_path=net_path, settings=settings(tmp_path), sync_render=sync)
    qtbot.addWidget(win)
    win.show()
    settle(win, qtbot)
    yield win
    win.render_client.stop()


def settle(win, qtbot, timeout=30000):
    """Let the event loop run (window activation, queued signals), then wait until no job runs
    and the newest request's full frame is on screen."""
    qtbot.wait(1)

    def done():
        result = win.last_result
        return (not win.render_client.running_jobs and result is not None and not result.preview
                and result.request_id == win.render_client.newest_id)
    qtbot.waitUntil(done, timeout=timeout)
    return win.last_result


def wait_job(qtbot, job, timeout=60000):
    qtbot.waitUntil(lambda: job.done, timeout=timeout)
    assert job.error is None, job.error
    return job.result


def assert_shows(win, renderer):
    """The image on screen equals the reference renderer's output for the model's state."""
    expected = renderer.render(win.model.state.request(original=win.model.show_original)).image
    shown = win.image_view.current_array()
    assert shown is not None and shown.shape == expected.shape
    np.testing.assert_array_equal(shown, expected)


def screenshot(widget, name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SCREENSHOT_DIR / name))


def drop_file(widget, path):
    """Drag a local file onto `widget` and drop it; False when the widget refuses it on entry."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    widget.dragEnterEvent(enter)
    if not enter.isAccepted():
        return False
    widget.dropEvent(QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    return True
