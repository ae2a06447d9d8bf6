"""The explorer on a tiny StyleGAN3 network, offscreen: the Move panel and a drag on the picture
pan and turn it through the input transform, and every other panel works as on StyleGAN2 (seeds,
truncation, directions with layer ranges, style mixing over its coarse / middle / fine rows,
favourites, sessions), with the noise panel disabled and saying why. The picture on screen is
what core.render.make_renderer draws for the same state."""
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt

from core.model_io import open_network, save_network
from core.render import make_renderer
from tests.gui_helpers import assert_shows, open_window, screenshot, settle, wait_job
from tests.test_gui_explorer import some_directions
from tests.test_stylegan3 import make_G


@pytest.fixture(scope='module')
def net_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('sg3') / 'tiny-stylegan3-t.safetensors'
    save_network(path, make_G('T', seed=4))
    return str(path)


@pytest.fixture(scope='module')
def reference(net_path):
    return make_renderer(open_network(net_path).G)


@pytest.fixture
def window(qtbot, tmp_path, net_path):
    yield from open_window(qtbot, tmp_path, net_path)


def picture(win):
    return win.image_view.current_array().copy()


def best_shift(before, after, reach=24):
    """The horizontal shift (pixels, + right) that best maps `before` onto `after`."""
    before, after = before.astype(float), after.astype(float)
    width = before.shape[1]

    def error(s):
        return np.abs(after[:, s:] - before[:, :width - s]).mean() if s >= 0 else \
            np.abs(after[:, :width + s] - before[:, -s:]).mean()
    return min(range(-reach, reach + 1, 2), key=error)


def test_move_panel_and_drag_move_the_picture(window, qtbot, reference):
    info = window.network_info
    assert info['kind'] == 'stylegan3' and info['num_ws'] == 16 and not info['noise_layers']
    assert window.docks['motion'].isVisible()
    assert window.noise_panel.no_noise.isVisibleTo(window.noise_panel) and not window.noise_panel.mode_combo.isEnabled()
    still = picture(window)
    panel = window.motion_panel

    panel.sliders['x'].setValue(0.25)
    settle(window, qtbot)
    assert window.model.state.motion == (0.0, 0.25, 0.0)
    moved = picture(window)
    assert not np.array_equal(moved, still)
    assert_shows(window, reference)
    # Moved right by a quarter of the width: the content matches the unmoved picture best about
    # 16 of 64 pixels to the right (a tiny random network's smooth content blurs the optimum).
    assert 8 <= best_shift(still, moved) <= 20

    panel.sliders['angle'].setValue(30.0)
    settle(window, qtbot)
    assert window.model.state.motion == (30.0, 0.25, 0.0)
    assert_shows(window, reference)
    screenshot(window, 'stylegan3_moved.png')

    view = window.image_view
    center = view.rect().center()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseMove(view, center + QPoint(0, 40))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=center + QPoint(0, 40))
    settle(window, qtbot)
    angle, x, y = window.model.state.motion
    assert (angle, x) == (30.0, 0.25) and y > 0.05  # dragged down: moved down
    assert_shows(window, reference)
    window.model.undo()  # the drag is one undo step
    assert window.model.state.motion == (30.0, 0.25, 0.0)
    panel.reset_button.click()
    settle(window, qtbot)
    np.testing.assert_array_equal(picture(window), still)


def test_seeds_directions_mixing_and_sessions(window, qtbot, tmp_path, reference):
    window.latent_panel.seed_box.setValue(3)
    window.truncation_panel.psi_slider.setValue(0.5)
    window.model.update(directions=some_directions(w_dim=32, num_ws=16), alphas=(0, 0, 0))
    settle(window, qtbot)
    rows = window.directions_panel.rows
    rows[0].slider.setValue(2.0)
    rows[0].preset_buttons['coarse'].click()
    settle(window, qtbot)
    d = window.model.state.directions
    assert (d.layer_start[0], d.layer_end[0]) == window.network_info['layer_groups']['coarse']
    assert_shows(window, reference)

    window.docks['mixing'].raise_()
    window.mixing_panel.add_source(seed=8)
    window.mixing_panel.toggle_group(0, 'fine')
    settle(window, qtbot)
    start, end = window.network_info['layer_groups']['fine']
    assert window.model.state.mixing[0].rows == tuple(range(start, end))
    window.motion_panel.sliders['y'].setValue(-0.1)
    settle(window, qtbot)
    assert_shows(window, reference)
    window.history_panel.add_favourite(name='moved')
    screenshot(window, 'stylegan3_mixing.png')

    session = str(tmp_path / 'session.json')
    assert window.save_session(session)
    request = window.model.state.request()
    window.model.update(seed=1, motion=(), mixing=())
    assert window.load_session(session) == []
    assert window.model.state.request() == request and window.model.state.motion == (0.0, 0.0, -0.1)
    settle(window, qtbot)
    assert_shows(window, reference)


def test_pca_sefa_and_slider_ranges_on_stylegan3(window, qtbot, reference):
    panel = window.directions_panel
    wait_job(qtbot, panel.compute_pca(n_samples=1000, n_components=4, replace=True))
    wait_job(qtbot, panel.compute_sefa(n_components=2, unit_samples=500, replace=False))
    settle(window, qtbot)
    dset = window.model.state.directions
    assert len(dset) == 6 and dset.w_dim == 32
    panel.rows[4].slider.setValue(1.5)  # a SeFa direction, found on the layers' affine weights
    settle(window, qtbot)
    assert_shows(window, reference)
    screenshot(window, 'stylegan3_directions.png')
