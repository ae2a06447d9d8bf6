"""The explorer on its default network, offscreen: opens, renders off the GUI thread, keeps only
the newest result, survives a bad network, and never imports torch in explorer/."""
import dataclasses
import os
import pathlib

import numpy as np
import pytest
from PyQt6.QtWidgets import QToolBar

from core.default_model import DEFAULT_MODEL_PATH
from explorer.main_window import RANDOM_INIT_TEXT, MainWindow
from explorer.worker import LatestRequest
from tests.gui_helpers import screenshot, settings, settle

EXPLORER_DIR = pathlib.Path(__file__).resolve().parent.parent / 'explorer'


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(settings=settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    settle(win, qtbot)
    yield win
    win.render_client.stop()


def test_opens_on_the_default_network(window, qtbot):
    assert window.windowTitle().startswith('Stylescope')
    if os.path.exists(DEFAULT_MODEL_PATH):
        assert not window.banner.isVisible()
    else:  # the random stand-in says so, loudly
        assert window.banner.isVisible() and window.banner.text() == RANDOM_INIT_TEXT
        assert window.image_view.current_array().shape[:2] == (64, 64)
        assert window.resolution_label.text() == '64x64'
    assert window.device_label.text() in ('cpu', 'cuda')
    assert window.ms_label.text().endswith(' ms')
    assert window.model_label.text() == window.network_info['name']
    screenshot(window, 'minimal.png')


def test_changing_the_seed_renders_a_new_image(window, qtbot):
    first = window.image_view.current_array().copy()
    window.latent_panel.next_button.click()
    assert window.model.state.seed == 1 and window.latent_panel.seed_box.value() == 1
    settle(window, qtbot)
    window.latent_panel.seed_box.setValue(7)
    settle(window, qtbot)
    assert window.model.state.seed == 7
    assert not np.array_equal(first, window.image_view.current_array())


def test_stale_results_are_dropped(window, qtbot):
    shown = []
    client = window.render_client
    client.rendered.connect(lambda result: shown.append(result.request_id))
    first = window.request_render()
    second = window.request_render()
    newest = window.request_render()

    def result_for(request_id):
        return dataclasses.replace(window.last_result, request=window.last_result.request.replace(request_id=request_id))

    client._on_rendered(result_for(second))  # newer than the screen: shown, although a newer request waits
    client._on_rendered(result_for(first))   # older than what is shown: dropped
    assert shown == [second]
    qtbot.waitUntil(lambda: newest in shown, timeout=30000)
    assert first not in shown


def test_bad_network_shows_an_error_instead_of_crashing(qtbot, tmp_path):
    win = MainWindow(network_path=str(tmp_path / 'missing.pkl'), settings=settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.statusBar().currentMessage().startswith('error:'), timeout=30000)
    assert win.banner.isVisible() and 'Could not open the network' in win.banner.text()
    assert win.last_dialog is not None and 'does not exist' in win.last_dialog.text()
    win.render_client.stop()


def test_mailbox_keeps_only_the_newest():
    box = LatestRequest()
    for item in (1, 2, 3):
        box.put(item)
    assert box.take() == 3 and box.take() is None


def test_explorer_never_imports_torch():
    for path in EXPLORER_DIR.rglob('*.py'):
        text = path.read_text()
        assert 'import torch' not in text and 'from torch' not in text, path


def test_main_window_in_use_screenshot(window, qtbot):
    """The picture for README: the default network with directions, favourites and plots in use."""
    from tests.gui_helpers import wait_job
    for seed in (3, 8, 21, 5):
        window.latent_panel.seed_box.setValue(seed)
        settle(window, qtbot)
        assert window.history_panel.add_favourite() is not None
    if not window.directions_panel.rows:  # the bundled model arrives with its directions
        wait_job(qtbot, window.directions_panel.compute_pca(n_samples=4000, n_components=12))
    rows = window.directions_panel.rows
    rows[0].slider.setValue(2.0)
    rows[2].slider.setValue(-1.5)
    rows[2].preset_buttons['coarse'].click()
    window.truncation_panel.psi_slider.setValue(0.8)
    window.mixing_panel.add_source(seed=42)
    window.mixing_panel.toggle_group(0, 'fine')
    settle(window, qtbot)
    def render_times_drawn():
        x = window.plots_panel.full_curve.getData()[0]
        return x is not None and len(x) > 0
    qtbot.waitUntil(render_times_drawn, timeout=5000)
    screenshot(window, 'main.png')


def _grey_levels_of_picture(view):
    """Distinct grey levels of an ImageView as painted, inside the picture's rectangle."""
    from PyQt6.QtGui import QImage
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    pixels = np.frombuffer(image.constBits().asstring(stride * h), np.uint8).reshape(h, stride)[:, :w]
    rect = view.target_rect().toAlignedRect().adjusted(2, 2, -2, -2).intersected(view.rect())
    return len(np.unique(pixels[rect.top():rect.bottom(), rect.left():rect.right()]))


def test_show_pixels_enlarges_as_blocks_and_is_remembered(window, qtbot, tmp_path):
    view = window.image_view
    checker = np.zeros((8, 8, 3), np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    view.set_image(checker)
    view.set_zoom(20)
    assert not window.actions['pixels'].isChecked() and not view.show_pixels
    smooth_levels = _grey_levels_of_picture(view)
    window.actions['pixels'].trigger()
    assert view.show_pixels and window.settings.value('show_pixels', type=bool)
    assert _grey_levels_of_picture(view) == 2 < smooth_levels  # black and white blocks against a blend
    again = MainWindow(settings=settings(tmp_path))
    qtbot.addWidget(again)
    try:
        assert again.actions['pixels'].isChecked() and again.image_view.show_pixels
    finally:
        again.render_client.stop()


def test_a_laptop_sized_window_gives_the_picture_room_and_is_remembered(window, qtbot, tmp_path):
    window.resize(1024, 700)
    qtbot.wait(50)
    window._size_docks()
    qtbot.wait(50)
    assert window.image_view.width() >= 0.4 * 1024 and window.image_view.height() >= 0.4 * 700
    toolbar = window.findChild(QToolBar)
    shown = [a.iconText() for a in toolbar.actions() if toolbar.widgetForAction(a) is not None
             and toolbar.widgetForAction(a).isVisible()]
    assert {'Open', 'Save image', 'Video', '★ Favourite'} <= set(shown)  # the main actions, not behind »
    screenshot(window, 'window-1024x700.png')
    window.resize(760, 560)  # the offscreen screen is 800x600: a restored window is kept on it
    qtbot.wait(50)
    window.close()
    again = MainWindow(settings=settings(tmp_path))
    qtbot.addWidget(again)
    try:
        assert (again.width(), again.height()) == (760, 560)
    finally:
        again.render_client.stop()
