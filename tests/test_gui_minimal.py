"""The minimal explorer, offscreen: opens on the default network, renders off the GUI thread,
keeps only the newest result, and leaves a screenshot for people to look at."""
import os
import pathlib

import numpy as np
import pytest

from core.default_model import DEFAULT_MODEL_PATH
from explorer.main_window import RANDOM_INIT_TEXT, MainWindow
from explorer.worker import LatestRequest

SCREENSHOT_DIR = pathlib.Path('/tmp/stylescope_screens')
EXPLORER_DIR = pathlib.Path(__file__).resolve().parent.parent / 'explorer'


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.image_view.image_size() is not None, timeout=30000)
    yield win
    win.render_client.stop()


def test_opens_on_the_default_network(window, tmp_path, qtbot):
    assert window.windowTitle() == 'Stylescope'
    qtbot.waitUntil(lambda: window.resolution_label.text() != '', timeout=30000)
    if os.path.exists(DEFAULT_MODEL_PATH):
        assert not window.banner.isVisible()
    else:  # the random stand-in says so, loudly
        assert window.banner.isVisible() and window.banner.text() == RANDOM_INIT_TEXT
        assert window.image_view.image_size() == (64, 64)
        assert window.resolution_label.text() == '64x64'
    assert window.device_label.text() in ('cpu', 'cuda')
    assert window.ms_label.text().endswith(' ms')
    shot = window.grab()
    assert shot.save(str(tmp_path / 'minimal.png'))
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    assert shot.save(str(SCREENSHOT_DIR / 'minimal.png'))


def test_changing_the_seed_renders_a_new_image(window, qtbot):
    rendered = []
    window.render_client.rendered.connect(lambda rid, image, ms: rendered.append((rid, image)))
    window.next_button.click()
    assert window.seed_box.value() == 1
    qtbot.waitUntil(lambda: any(rid == window.render_client.newest_id for rid, _ in rendered), timeout=30000)
    window.seed_box.setValue(7)
    qtbot.waitUntil(lambda: rendered[-1][0] == window.render_client.newest_id, timeout=30000)
    assert not np.array_equal(rendered[0][1], rendered[-1][1])


def test_stale_results_are_dropped(window, qtbot):
    shown = []
    window.render_client.rendered.connect(lambda rid, image, ms: shown.append(rid))
    first = window.request_render()
    newest = window.request_render()
    window.render_client._on_rendered(first, np.zeros([64, 64, 3], np.uint8), 1.0)  # a late, old result
    assert first not in shown
    qtbot.waitUntil(lambda: newest in shown, timeout=30000)


def test_bad_network_shows_an_error_instead_of_crashing(qtbot, tmp_path):
    win = MainWindow(network_path=str(tmp_path / 'missing.pkl'))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.statusBar().currentMessage().startswith('error:'), timeout=30000)
    assert win.banner.isVisible() and 'Could not open the network' in win.banner.text()
    win.render_client.stop()


def test_mailbox_keeps_only_the_newest():
    box = LatestRequest()
    for item in (1, 2, 3):
        box.put(item)
    assert box.take() == 3 and box.take() is None


def test_explorer_never_imports_torch():
    for path in EXPLORER_DIR.glob('*.py'):
        text = path.read_text()
        assert 'import torch' not in text and 'from torch' not in text, path
