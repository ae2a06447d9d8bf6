"""The explorer's Layers and StyleSpace docks, offscreen (StyleGAN2 and StyleGAN3): the layer
viewer shows the activation the network computes at the chosen layer for the picture on screen,
follows edits, and picks a channel by a click on its tile; StyleSpace sliders (added by hand or
ranked from labelled samples, the planted channel first) draw what the reference renderer draws,
undo and survive a session. Screenshots of each view go to /tmp/stylescope_screens."""
import numpy as np
import pytest
import torch
from PyQt6.QtCore import QPoint, Qt

from core.latent import ws_from_seeds
from core.model_io import open_network, save_network
from core.render import make_renderer
from core.stylespace import styles_of
from tests.gui_helpers import assert_shows, open_window, reference_renderer, screenshot, settle, wait_job, \
    write_tiny_network
from tests.test_layer_viewer import direct_outputs
from tests.test_stylegan3 import make_G


@pytest.fixture(scope='module')
def net_path(tmp_path_factory):
    return str(write_tiny_network(tmp_path_factory.mktemp('net') / 'tiny.safetensors'))


@pytest.fixture(scope='module')
def sg3_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('sg3') / 'tiny-stylegan3-t.safetensors'
    save_network(path, make_G('T', seed=4))
    return str(path)


@pytest.fixture
def window(qtbot, tmp_path, net_path):
    yield from open_window(qtbot, tmp_path, net_path)


def expected_maps(path, win, layer):
    """The activation at `layer` for the window's picture, from a direct layer-by-layer run."""
    G = open_network(path).G
    ws = torch.from_numpy(make_renderer(G).ws_array(win.model.state.request()))[None]
    return direct_outputs(G, ws)[layer][0].numpy()


def show_layers(win, qtbot):
    win.docks['layers'].raise_()
    settle(win, qtbot)
    return win.layer_viewer


def test_layer_viewer_shows_the_layer_and_follows_edits(window, qtbot, net_path):
    viewer = window.layer_viewer
    assert window.model.capture_layer is None  # behind another tab: no layer asked for
    viewer = show_layers(window, qtbot)
    assert viewer.layer() == 'b16.conv0' and window.model.capture_layer == 'b16.conv0'
    assert window.last_result.capture.layer == 'b16.conv0'
    np.testing.assert_allclose(viewer.capture.maps, expected_maps(net_path, window, 'b16.conv0'), rtol=1e-5, atol=1e-6)
    assert viewer.current_view.grid == (6, 6) and '32 channels of 16x16' in viewer.info.text()
    screenshot(window.docks['layers'], 'layers_mosaic.png')

    window.truncation_panel.psi_slider.setValue(0.3)  # an edit: the maps follow
    window.latent_panel.seed_box.setValue(21)
    settle(window, qtbot)
    np.testing.assert_allclose(viewer.capture.maps, expected_maps(net_path, window, 'b16.conv0'), rtol=1e-5, atol=1e-6)

    viewer.set_layer('b8.conv1')  # another layer: from the cache and one block, not a full render
    settle(window, qtbot)
    assert window.last_result.computed_blocks == (8,)
    np.testing.assert_allclose(viewer.capture.maps, expected_maps(net_path, window, 'b8.conv1'), rtol=1e-5, atol=1e-6)

    view = viewer.map_view  # a click on tile 5 shows channel 5 large
    rect, image = view.image_rect(), viewer.current_view
    th, tw = image.tile
    x = rect.x() + (1 * (tw + image.gap) + tw / 2) * rect.width() / image.image.shape[1]
    y = rect.y() + (0 * (th + image.gap) + th / 2) * rect.height() / image.image.shape[0]
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    cols = image.grid[1]
    assert viewer.mode() == 'channel' and viewer.channel_spin.value() == image.channels[1] and cols > 1
    assert viewer.current_view.channels == (1,) and 'Channel 1: mean' in viewer.info.text()
    screenshot(window.docks['layers'], 'layers_channel.png')
    viewer.set_mode('active')
    viewer.count_spin.setValue(4)
    assert len(viewer.current_view.channels) == 4
    screenshot(window.docks['layers'], 'layers_active.png')
    viewer.set_mode('mean')
    screenshot(window.docks['layers'], 'layers_mean.png')

    window.docks['directions'].raise_()  # hidden again: frames stop carrying the layer
    assert window.model.capture_layer is None
    window.latent_panel.seed_box.setValue(22)
    settle(window, qtbot)
    assert window.last_result.capture is None


def planted_labels(path, layer, channel, n=120):
    G = open_network(path).G
    seeds = list(range(1000, 1000 + n))
    s = styles_of(G, ws_from_seeds(G, seeds, psi=0.7))[layer][:, channel]
    return [(seed, None, int(v > np.median(s))) for seed, v in zip(seeds, s)]


def test_stylespace_sliders_rank_edit_undo_and_sessions(window, qtbot, net_path, tmp_path):
    reference = reference_renderer(net_path)
    window.docks['stylespace'].raise_()
    settle(window, qtbot)
    panel = window.stylespace_panel
    assert 'No StyleSpace sliders yet' in panel.summary.text()
    panel.layer_combo.setCurrentIndex(panel.layer_combo.findText('b16.conv1', Qt.MatchFlag.MatchStartsWith))
    panel.channel_spin.setValue(7)
    wait_job(qtbot, panel.add_channel())
    settle(window, qtbot)
    assert [row.name_label.text() for row in panel.rows] == ['<b>b16.conv1:7</b>']
    assert not panel.rows[0].range_slider.isVisible() and not window.directions_panel.rows
    panel.rows[0].slider.setValue(4.0)
    settle(window, qtbot)
    request = window.model.state.request()
    assert request.style_offsets and request.style_offsets[0].layer == 'b16.conv1'
    assert request.style_offsets[0].amount == pytest.approx(4.0 * float(window.model.state.directions.scales[0]))
    assert_shows(window, reference)
    assert panel.rows[0].projection_label.text().startswith('at +')
    wait_job(qtbot, window.save_ws(str(tmp_path / 'edited-w.npz')))  # a w cannot hold an edit of s: it says so
    assert 'StyleSpace channel edits' in window.statusBar().currentMessage()

    window.model.set_state(window.model.state.replace(psi=0.7))
    window.model.labels = {}
    window.model.set_labels('planted', planted_labels(net_path, 'b8.conv1', 11))
    assert panel.labels_combo.currentData() == 'planted'
    panel.top_spin.setValue(4)
    wait_job(qtbot, panel.rank())
    settle(window, qtbot)
    names = [window.model.state.directions.names[row.k] for row in panel.rows]
    assert names[1] == 'planted b8.conv1:11' and len(names) == 5 and panel.ranked_list.count() == 50
    assert panel.ranked_list.item(0).text().startswith('1. b8.conv1:11')
    panel.rows[1].slider.setValue(-6.0)
    settle(window, qtbot)
    assert_shows(window, reference)
    window.docks['stylespace'].raise_()
    screenshot(window, 'stylespace_window.png')
    screenshot(window.docks['stylespace'], 'stylespace_panel.png')

    panel.label_button.click()  # the labelling dialog's marks are kept for ranking, fitted or not
    dialog = window.directions_panel.labeling_dialog
    wait_job(qtbot, dialog.render_job)
    for i, label in enumerate([1, 1, 0, 0, 1]):
        dialog.set_label(i, label)
    dialog.name_edit.setText('marked')
    dialog.reject()
    assert [s[2] for s in window.model.labels['marked']] == [1, 1, 0, 0, 1]
    assert panel.labels_combo.currentData() == 'marked'

    session = tmp_path / 'session.json'
    assert window.save_session(str(session))
    alphas = window.model.state.alphas
    window.model.undo()  # the slider back
    settle(window, qtbot)
    assert window.model.state.alphas[1] == 0.0
    window.model.undo()  # the ranking gone
    assert len(window.model.state.directions) == 1
    window.load_session(str(session))
    settle(window, qtbot)
    assert window.model.state.alphas == alphas and window.model.state.directions.style_channel(1) == ('b8.conv1', 11, 1)
    assert_shows(window, reference)


def test_stylegan3_layers_and_channels(qtbot, tmp_path, sg3_path):
    for win in open_window(qtbot, tmp_path, sg3_path):
        viewer = show_layers(win, qtbot)
        names = [viewer.layer_combo.itemData(i) for i in range(viewer.layer_combo.count())]
        assert names[0] == 'input' and names[-1].startswith('L14_')
        viewer.set_layer('L5_52_32')
        settle(win, qtbot)
        np.testing.assert_allclose(viewer.capture.maps, expected_maps(sg3_path, win, 'L5_52_32'), rtol=1e-5,
                                   atol=1e-6)
        screenshot(win.docks['layers'], 'layers_stylegan3.png')
        win.docks['stylespace'].raise_()
        panel = win.stylespace_panel
        panel.layer_combo.setCurrentIndex(panel.layer_combo.findText('L3_', Qt.MatchFlag.MatchStartsWith))
        wait_job(qtbot, panel.add_channel())
        panel.rows[0].slider.setValue(5.0)
        settle(win, qtbot)
        assert_shows(win, make_renderer(open_network(sg3_path).G))
        assert win.last_result.computed_blocks[0] == 'L3_36_32'
        screenshot(win.docks['stylespace'], 'stylespace_stylegan3.png')
