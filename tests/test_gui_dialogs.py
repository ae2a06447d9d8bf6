"""The explorer's dialogs, offscreen: labelling samples by clicking makes a direction slider
(InterfaceGAN), and the video dialog writes a playable file in the background."""
import os

import imageio.v3 as iio
import numpy as np
import PIL.Image
import pytest
from PyQt6.QtCore import Qt

from core.direction_set import DirectionSet
from core.request import RenderRequest
from tests.gui_helpers import assert_shows, open_window, reference_renderer, screenshot, settle, wait_job, write_tiny_network


@pytest.fixture(scope='module')
def net_path(tmp_path_factory):
    return str(write_tiny_network(tmp_path_factory.mktemp('net') / 'tiny.safetensors'))


@pytest.fixture
def window(qtbot, tmp_path, net_path):
    yield from open_window(qtbot, tmp_path, net_path)


def test_labelling_by_clicks_makes_a_direction(window, qtbot, net_path):
    rng = np.random.RandomState(0)
    existing = DirectionSet(rng.randn(2, 16), [1.0, 1.0], [0, 0], [8, 8], ['age', 'pose'], dict(method='pca'))
    window.model.update(directions=existing, alphas=(0, 0))
    dialog = window.directions_panel.open_labeling()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: all(t.image is not None for t in dialog.tiles), timeout=30000)
    screenshot(dialog, 'labeling_empty.png')
    # the user clicks: + for the first 6 tiles, - (two clicks) for the next 6, the rest stays unmarked
    for i, tile in enumerate(dialog.tiles[:12]):
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
        if i >= 6:
            qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.tiles[12], Qt.MouseButton.RightButton)  # right click: -
    qtbot.mouseClick(dialog.tiles[12], Qt.MouseButton.RightButton)  # again: unmarked
    labels = [s['label'] for s in dialog.page_samples()]
    assert labels == [1] * 6 + [0] * 6 + [None] * 4
    assert dialog.counts.text().startswith('6 with (+), 6 without')
    screenshot(dialog, 'labeling.png')
    wait_job(qtbot, dialog.new_page())  # a second page keeps the marks
    qtbot.mouseClick(dialog.tiles[0], Qt.MouseButton.LeftButton)
    assert len(dialog.labelled()) == 13
    dialog.name_edit.setText('smile')
    dialog.orthogonal_list.item(0).setCheckState(Qt.CheckState.Checked)
    dialog.layers_combo.setCurrentIndex(2)  # middle
    assert dialog.fit_button.isEnabled()
    job = dialog.fit()
    wait_job(qtbot, job)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    dset = window.model.state.directions
    assert dset.names == ['age', 'pose', 'smile'] and len(window.directions_panel.rows) == 3
    assert (dset.layer_start[2], dset.layer_end[2]) == (4, 8)
    assert abs(float(dset.vectors[2] @ existing.vectors[0])) < 1e-5  # orthogonal to 'age'
    window.directions_panel.rows[2].slider.setValue(2.0)
    settle(window, qtbot)
    assert_shows(window, reference_renderer(net_path))
    window.model.undo()
    assert window.model.state.alphas == (0, 0, 0)
    # the labels are kept (in the model and its sessions): labelling 'smile' again starts from them
    assert len(window.model.labels['smile']) == 13 and 'labels' in window.model.session_dict()
    again = window.directions_panel.open_labeling()
    qtbot.addWidget(again)
    again.name_edit.setText('smile')
    again.name_edit.editingFinished.emit()
    assert len(again.labelled()) == 13 and '13 kept from before' in again.counts.text()
    again.close()


def test_video_from_favourites_and_a_sweep(window, qtbot, tmp_path):
    for seed in (1, 2, 3):
        window.latent_panel.seed_box.setValue(seed)
        settle(window, qtbot)
        assert window.history_panel.add_favourite() is not None
    dialog = window.open_video_dialog()
    qtbot.addWidget(dialog)
    assert dialog.keyframes_radio.isChecked() and not dialog.sweep_radio.isEnabled()
    dialog.favourites_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    dialog.fps_spin.setValue(10)
    dialog.duration_spin.setValue(1.0)
    out = tmp_path / 'video.mp4'
    dialog.path_edit.setText(str(out))
    screenshot(dialog, 'video_dialog.png')
    job = dialog.export()
    wait_job(qtbot, job)
    assert dialog.written == str(out) and 'Wrote' in dialog.result_label.text()
    frames = iio.imread(out)
    assert frames.shape == (10, 32, 32, 3)
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() < np.abs(first - frames[5].astype(int)).mean()  # loops back

    window.model.update(directions=DirectionSet(np.eye(16)[:1], [2.0], [0], [8], ['d'], {}), alphas=(0.0,))
    dialog = window.open_video_dialog()
    qtbot.addWidget(dialog)
    # the settings of the last export are remembered, the output lands in its folder, named after the model
    assert (dialog.fps_spin.value(), dialog.duration_spin.value()) == (10, 1.0)
    assert dialog.path_edit.text() == str(tmp_path / 'tiny-video.mp4')
    dialog.sweep_radio.setChecked(True)
    dialog.fps_spin.setValue(6)  # alphas -1, -.5, .5, 1, .5, -.5: no two frames in a row alike (GIF merges those)
    dialog.duration_spin.setValue(1.0)
    gif = tmp_path / 'sweep.gif'
    dialog.path_edit.setText(str(gif))
    wait_job(qtbot, dialog.export())
    assert iio.imread(gif).shape[0] == 6

    dialog.duration_spin.setValue(60.0)  # a long one, cancelled
    dialog.path_edit.setText(str(tmp_path / 'long.mp4'))
    job = dialog.export()
    qtbot.waitUntil(lambda: job.last_progress[0] > 2, timeout=30000)
    dialog.job_bar.cancel()
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    assert job.was_cancelled and not (tmp_path / 'long.mp4').exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []

    dialog = window.open_video_dialog()  # png frames: the first is favourite 1's picture exactly
    qtbot.addWidget(dialog)
    dialog.keyframes_radio.setChecked(True)
    dialog.path_edit.setText(str(tmp_path / 'frames'))
    wait_job(qtbot, dialog.export())
    first_png = np.asarray(PIL.Image.open(sorted((tmp_path / 'frames').glob('*.png'))[0]))
    fav = window.model.favourites[0]
    np.testing.assert_array_equal(first_png, reference_renderer(window.network_info['source']).render(
        RenderRequest(w=fav.ws)).image)  # drawn as it was shown (psi 0.7 once, not twice)


def test_file_dialogs_start_where_the_user_keeps_files(window, tmp_path, monkeypatch):
    """Not in the folder the program runs from (Enter would write into it); then the last folder
    used for that kind, and names made from the model and the seed."""
    files = window.files
    for kind in ('image', 'video', 'session'):
        assert os.path.abspath(files.folder(kind)) != os.getcwd()
    files.remember('image', str(tmp_path / 'shots' / 'a.png'))
    assert files.folder('image') != str(tmp_path / 'shots')  # a folder gone since: the standard one again
    (tmp_path / 'shots').mkdir()
    files.remember('image', str(tmp_path / 'shots' / 'a.png'))
    assert files.folder('image') == str(tmp_path / 'shots') and files.folder('session') != str(tmp_path / 'shots')
    proposed = []
    monkeypatch.setattr(files, 'save_file', lambda parent, kind, title, filt, name: proposed.append((kind, name))
                        or (None, ''))
    window.latent_panel.seed_box.setValue(42)
    window.save_image()
    window.save_session()
    assert proposed == [('image', 'tiny-seed0042.png'), ('session', 'tiny-session.json')]
