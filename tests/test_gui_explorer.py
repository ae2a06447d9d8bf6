"""The explorer on a tiny network, offscreen: every panel drives the picture, and the picture on
screen is what core.render.Renderer draws for the same state; undo / redo, favourites, A/B,
sessions, exports, direction finders and files, and a refused network file."""
import json
import os
import pickle

import numpy as np
import PIL.Image
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QMessageBox

from core.direction_files import load as load_directions
from core.direction_files import open_directions
from core.direction_set import DirectionSet
from explorer.main_window import MainWindow
from explorer.edit_state import EditState
from tests.gui_helpers import (drop_file, open_window, assert_shows, reference_renderer, screenshot, settings, settle, wait_job,
                               write_tiny_network)


@pytest.fixture(scope='module')
def net_path(tmp_path_factory):
    return str(write_tiny_network(tmp_path_factory.mktemp('net') / 'tiny.safetensors'))


@pytest.fixture(scope='module')
def reference(net_path):
    return reference_renderer(net_path)


@pytest.fixture
def window(qtbot, tmp_path, net_path):
    yield from open_window(qtbot, tmp_path, net_path)


def some_directions(k=3, w_dim=16, num_ws=8):
    rng = np.random.RandomState(7)
    return DirectionSet(rng.randn(k, w_dim), np.full(k, 0.5), np.zeros(k, int), np.full(k, num_ws),
                        [f'dir{i}' for i in range(k)], dict(method='pca'))


def press(qtbot, win, key, modifiers=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(win, key, modifiers)


def test_sliders_drive_the_picture(window, qtbot, reference):
    info = window.network_info
    assert (info['resolution'], info['num_ws']) == (32, 8) and window.model_label.text() == 'tiny.safetensors'
    assert window.resolution_label.text() == '32x32' and window.fps_label.text()
    assert_shows(window, reference)
    window.latent_panel.seed_box.setValue(12)
    window.truncation_panel.psi_slider.setValue(0.5)
    window.truncation_panel.cutoff_slider.setValue(4)
    settle(window, qtbot)
    state = window.model.state
    assert (state.seed, state.psi, state.cutoff) == (12, 0.5, 4)
    assert_shows(window, reference)

    window.model.update(directions=some_directions(), alphas=(0, 0, 0))
    settle(window, qtbot)
    rows = window.directions_panel.rows
    assert [r.name_label.text() for r in rows] == ['<b>dir0</b>', '<b>dir1</b>', '<b>dir2</b>']
    rows[1].slider.setValue(2.5)
    rows[1].range_slider.setValue((2, 5))  # inclusive in the GUI: ws rows [2, 6)
    settle(window, qtbot)
    d = window.model.state.directions
    assert window.model.state.alphas == (0, 2.5, 0) and (d.layer_start[1], d.layer_end[1]) == (2, 6)
    assert_shows(window, reference)
    assert rows[1].projection_label.text().startswith('at ')
    rows[2].preset_buttons['middle'].click()
    assert (d := window.model.state.directions).layer_start[2] == 4 and d.layer_end[2] == 8

    window.noise_panel.mode_combo.setCurrentText('random')
    window.noise_panel.seed_box.setValue(5)
    checkbox, slider, _ = window.noise_panel.rows['b16.conv0']
    checkbox.setChecked(False)
    window.noise_panel.rows['b32.conv1'][1].setValue(250)
    settle(window, qtbot)
    noise = window.model.state.noise
    assert noise.mode == 'random' and noise.seed == 5 and dict(noise.scales) == {'b16.conv0': 0.0, 'b32.conv1': 2.5}
    assert_shows(window, reference)
    screenshot(window, 'noise.png')


def test_a_drag_is_one_undo_step_and_shortcuts_work(window, qtbot, reference):
    window.activateWindow()
    slider = window.truncation_panel.psi_slider
    slider.sliderPressed.emit()
    for value in (0.9, 0.8, 0.7, 0.6):
        slider.setValue(value)
    assert window.model.dragging
    slider.sliderReleased.emit()
    settle(window, qtbot)
    assert window.model.state.psi == 0.6 and not window.last_result.preview
    window.latent_panel.step_seed(1)
    settle(window, qtbot)
    press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.model.state.seed == 0
    press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.model.state.psi == 0.7 and abs(slider.value() - 0.7) < 1e-9  # the psi the window opened with
    press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.model.state.psi == 0.6
    settle(window, qtbot)
    assert_shows(window, reference)
    press(qtbot, window, Qt.Key.Key_BracketRight)
    assert window.model.state.seed == 1
    window.actions['prev_seed'].trigger()
    assert window.model.state.seed == 0
    window.model.update(directions=some_directions(), alphas=(1.0, -2.0, 0.5))
    press(qtbot, window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.model.state.alphas == (0, 0, 0)
    press(qtbot, window, Qt.Key.Key_B)
    assert window.model.show_original and window.image_view.overlay
    press(qtbot, window, Qt.Key.Key_B)
    assert not window.model.show_original


def test_a_refused_pickle_leaves_the_previous_model(window, qtbot, tmp_path, reference):
    marker = tmp_path / 'pwned'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    bad = tmp_path / 'evil.pkl'
    bad.write_bytes(pickle.dumps({'G_ema': Evil()}))
    window.latent_panel.seed_box.setValue(3)
    settle(window, qtbot)
    job = window.open_network(str(bad))
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    assert job.error and not marker.exists()
    assert window.last_dialog is not None and window.last_dialog.text() == job.error
    assert window.statusBar().currentMessage().endswith('(tiny.safetensors is still open)')
    assert window.network_info['name'] == 'tiny.safetensors' and window.model.state.seed == 3
    assert bad.as_posix() not in window.recent_networks()
    window.latent_panel.seed_box.setValue(4)  # still usable
    settle(window, qtbot)
    assert_shows(window, reference)


def test_open_dropped_and_recent_networks(window, qtbot, tmp_path, net_path):
    other = str(write_tiny_network(tmp_path / 'other.safetensors', seed=5))
    (tmp_path / 'notes.txt').write_text('hello')
    assert not drop_file(window, str(tmp_path / 'notes.txt'))
    assert drop_file(window, other)
    qtbot.waitUntil(lambda: not window.render_client.running_jobs, timeout=30000)
    settle(window, qtbot)
    assert window.network_info['name'] == 'other.safetensors'
    assert window.recent_networks()[0] == os.path.abspath(other)
    assert [a.text() for a in window.recent_menu.actions()][0] == os.path.abspath(other)
    assert_shows(window, reference_renderer(other))
    assert window._drop_kind(net_path) == 'network' and window._drop_kind('x.json') == 'session'


def test_a_direction_file_beside_the_network_opens_with_it(window, qtbot, tmp_path):
    other = str(write_tiny_network(tmp_path / 'faces.safetensors', seed=6))
    G = reference_renderer(other).G
    dset = DirectionSet(np.eye(G.w_dim)[:2], [1.0, 2.0], [0, 4], [4, 8], ['smile', 'age'], {})
    dset.save(str(tmp_path / 'faces.directions.npz'))
    assert drop_file(window, other)
    qtbot.waitUntil(lambda: not window.render_client.running_jobs, timeout=30000)
    settle(window, qtbot)
    state = window.model.state
    assert state.directions.names == ['smile', 'age'] and state.alphas == (0.0, 0.0)
    assert len(window.directions_panel.rows) == 2 and not window.model.can_undo
    window.directions_panel.rows[1].slider.setValue(2.0)
    settle(window, qtbot)
    assert_shows(window, reference_renderer(other))

    # a damaged companion is a warning in the status bar; the network still opens, without sliders
    broken = str(write_tiny_network(tmp_path / 'broken.safetensors', seed=7))
    (tmp_path / 'broken.directions.npz').write_bytes(b'not a zip')
    assert drop_file(window, broken)
    qtbot.waitUntil(lambda: not window.render_client.running_jobs, timeout=30000)
    settle(window, qtbot)
    assert window.network_info['name'] == 'broken.safetensors' and window.model.state.directions is None
    assert 'direction file beside the network was not loaded' in window.statusBar().currentMessage()


def test_compute_import_export_rename_remove(window, qtbot, tmp_path, reference):
    panel = window.directions_panel
    wait_job(qtbot, panel.compute_pca(n_samples=1000, n_components=4))
    dset = window.model.state.directions
    assert dset.names == ['PC0', 'PC1', 'PC2', 'PC3'] and len(panel.rows) == 4
    assert window.plots_panel.variance_values()[0].shape == (4,)
    wait_job(qtbot, panel.compute_sefa(layers=(0, 4), n_components=2, unit_samples=500))
    dset = window.model.state.directions
    assert dset.names[4:] == ['SeFa0', 'SeFa1'] and dset.layer_end[4] == 4
    bars_x = window.plots_panel.variance_bars.opts['x']  # a mixed set plots its PCA rows only
    assert list(bars_x) == [0, 1, 2, 3] and not np.isnan(window.plots_panel.variance_bars.opts['height']).any()
    panel.rows[0].slider.setValue(1.5)
    panel.rows[5].slider.setValue(-2.0)
    settle(window, qtbot)
    assert_shows(window, reference)
    screenshot(window, 'directions.png')
    path = str(tmp_path / 'dirs.npz')
    wait_job(qtbot, panel.export_file(path))
    assert load_directions(path).names == dset.names
    panel.rename(0, 'smile')
    panel.remove(1)
    assert window.model.state.directions.names[:2] == ['smile', 'PC2']
    assert window.model.state.alphas[0] == 1.5
    window.model.undo()
    window.model.undo()
    assert window.model.state.directions.names[:2] == ['PC0', 'PC1']
    wait_job(qtbot, panel.import_file(path))
    assert len(window.model.state.directions) == 12 and window.model.state.directions.names[6] == 'PC0 (2)'
    npy = str(tmp_path / 'one_boundary.npy')
    wait_job(qtbot, panel.export_one(0, npy))
    assert np.load(npy).shape == (1, 16)
    factor = wait_job(qtbot, panel.export_file(str(tmp_path / 'factor'), fmt='rosinality'))
    assert factor.endswith('factor.pt')  # rosinality's closed_form_factorization.py layout, read back
    assert np.allclose(open_directions(factor, reference.G).vectors, window.model.state.directions.vectors, atol=1e-6)


def test_a_pca_job_can_be_cancelled(window, qtbot):
    job = window.directions_panel.compute_pca(n_samples=400_000, n_components=4)
    qtbot.waitUntil(lambda: job.last_progress[0] > 0, timeout=30000)
    window.directions_panel.job_bar.cancel()
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    assert job.was_cancelled and window.model.state.directions is None
    settle(window, qtbot)


def test_favourites_ab_session_and_exports(window, qtbot, tmp_path, reference):
    history = window.history_panel
    window.model.update(directions=some_directions(), alphas=(2.0, 0, 0), seed=9)
    settle(window, qtbot)
    edited = window.image_view.current_array().copy()
    fav = history.add_favourite()
    assert fav is not None and window.history_panel.strip.count() == 1
    np.testing.assert_array_equal(fav.ws, window.last_result.ws)
    history.ab_button.click()  # A/B: the unedited picture
    settle(window, qtbot)
    assert window.model.show_original and window.actions['ab'].isChecked()
    assert_shows(window, reference)
    assert not np.array_equal(edited, window.image_view.current_array())
    history.ab_button.click()
    settle(window, qtbot)
    np.testing.assert_array_equal(edited, window.image_view.current_array())
    window.latent_panel.step_seed(1)
    settle(window, qtbot)
    history.add_favourite(name='second')
    history.restore(0)
    assert window.model.state.seed == 9
    settle(window, qtbot)
    screenshot(window, 'favourites.png')

    png = str(tmp_path / 'picture.png')
    wait_job(qtbot, window.save_image(png))
    with PIL.Image.open(png) as im:
        np.testing.assert_array_equal(np.asarray(im), edited)
        saved = json.loads(im.text['stylescope_state'])
        assert im.text['stylescope_fingerprint'] == window.network_info['fingerprint']
    assert EditState.from_dict(saved).request() == window.model.state.request()
    npz = str(tmp_path / 'w.npz')
    wait_job(qtbot, window.save_ws(npz))
    w = np.load(npz)['w']
    assert w.shape == (1, 8, 16) and w.dtype == np.float32
    np.testing.assert_array_equal(w[0], reference.ws_array(window.model.state.request()))

    session = str(tmp_path / 'session.json')
    assert window.save_session(session)
    request = window.model.state.request()
    window.model.update(seed=1, directions=None, alphas=())
    window.model.favourites = []
    assert window.load_session(session) == []
    assert window.model.state.request() == request and [f.name for f in window.model.favourites] == ['favourite 1', 'second']

    window.latent_panel.load_w_file(npz)  # the saved w comes back as the latent
    qtbot.waitUntil(lambda: window.model.state.w is not None, timeout=30000)
    window.model.update(alphas=(0, 0, 0))
    settle(window, qtbot)
    np.testing.assert_array_equal(window.image_view.current_array(), edited)
    text = window.latent_panel.copy_latent()
    window.model.update(w=None, seed=0)
    window.latent_panel.paste_latent(text)
    assert window.model.state.w is not None and window.model.state.w_label == 'pasted latent'


def test_style_mixing(window, qtbot, reference):
    panel = window.mixing_panel
    window.docks['mixing'].raise_()
    panel.add_source(seed=5)
    panel.toggle_group(0, 'middle')
    settle(window, qtbot)
    assert window.model.state.mixing[0].rows == (4, 5, 6, 7)
    assert_shows(window, reference)
    panel.rows[0].boxes[0].setChecked(True)
    panel.add_source(seed=6)
    panel.rows[1].boxes[5].setChecked(True)  # row 5 moves to the second source
    settle(window, qtbot)
    mixing = window.model.state.mixing
    assert mixing[0].rows == (0, 4, 6, 7) and mixing[1].rows == (5,)
    assert panel.base_boxes[1].isChecked() and not panel.base_boxes[0].isChecked()
    assert_shows(window, reference)
    qtbot.waitUntil(lambda: all(r.thumb.pixmap() is not None and not r.thumb.pixmap().isNull() for r in panel.rows),
                    timeout=30000)
    screenshot(window, 'mixing.png')
    window.model.undo()
    assert window.model.state.mixing[1].rows == ()


def test_conditional_network_has_a_class_picker(qtbot, tmp_path):
    path = str(write_tiny_network(tmp_path / 'cond.safetensors', c_dim=3))
    win = MainWindow(network_path=path, settings=settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    settle(win, qtbot)
    panel = win.latent_panel
    assert not panel.class_combo.isHidden() and panel.class_combo.count() == 3
    panel.class_combo.setCurrentIndex(2)
    settle(win, qtbot)
    assert win.model.state.class_idx == 2
    assert_shows(win, reference_renderer(path))
    panel.seed_box.setValue(2 ** 32 - 1)  # every seed generate takes: the largest numpy's RandomState has
    settle(win, qtbot)
    assert win.model.state.seed == 2 ** 32 - 1
    assert_shows(win, reference_renderer(path))
    labels = win.directions_panel.open_labeling()  # each sample records the class it was drawn with
    qtbot.addWidget(labels)
    assert {s['class_idx'] for s in labels.samples} == {2}
    for i in (0, 1):
        labels.set_label(i, i)
    saved = labels.save_labels(str(tmp_path / 'marks.csv'))
    assert (tmp_path / 'marks.csv').read_text().splitlines() == [
        'seed,label,class', f"{labels.samples[0]['seed']},0,2", f"{labels.samples[1]['seed']},1,2"] and saved
    labels.close()
    win.render_client.stop()


def test_dragging_a_slow_network_shows_previews_then_the_full_frame(window, qtbot, reference):
    window.model.update(directions=some_directions(), alphas=(0, 0, 0))
    settle(window, qtbot)
    window.last_full_ms = 1000.0  # pretend full frames are slow: the drag renders previews
    slider = window.directions_panel.rows[0].slider
    slider.sliderPressed.emit()
    slider.setValue(1.0)
    assert window.current_request().preview_resolution == 16  # a 32 px network: half of it at least
    qtbot.waitUntil(lambda: window.last_result is not None and window.last_result.request.preview, timeout=30000)
    qtbot.waitUntil(lambda: window.last_result.request_id == window.render_client.newest_id, timeout=30000)
    preview = window.last_result
    assert preview.preview and preview.resolution == 16 and window.image_view.current_array().shape[:2] == (16, 16)
    assert 'preview' in window.ms_label.text()
    slider.sliderReleased.emit()
    result = settle(window, qtbot)
    assert not result.preview and window.image_view.current_array().shape[:2] == (32, 32)
    assert_shows(window, reference)
    # a drag of a direction that only reaches rows finer than the preview renders in full
    window.model.set_state(window.model.state.with_range(1, 6, 8))
    settle(window, qtbot)
    window.last_full_ms = 1000.0
    row = window.directions_panel.rows[1]
    row.slider.sliderPressed.emit()
    row.slider.setValue(2.0)
    assert not window.current_request().preview
    row.slider.sliderReleased.emit()
    settle(window, qtbot)


def _wheel(widget, notches=-1):
    """A mouse-wheel turn over `widget` (negative: towards the user), as the system delivers it."""
    from PyQt6.QtCore import QPoint, QPointF
    from PyQt6.QtGui import QWheelEvent
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_panel_not_the_slider_under_the_pointer(window, qtbot):
    from PyQt6.QtWidgets import QAbstractSlider, QLineEdit
    window.model.update(directions=some_directions(), alphas=(0.0, 0.0, 0.0))
    settle(window, qtbot)
    row = window.directions_panel.rows[1]
    inner = row.slider.findChildren(QAbstractSlider)[0]
    targets = [inner, row.slider.findChildren(QLineEdit)[0], row.range_slider,
               window.noise_panel.rows['b16.conv0'][1], window.truncation_panel.psi_slider.findChildren(QAbstractSlider)[0],
               window.latent_panel.seed_box]
    before = window.model.state
    for target in targets:
        for _ in range(10):
            _wheel(target)
    assert window.model.state == before
    # what the system does with the ignored turn: the scroll area under it scrolls (through its scroll bar)
    window.model.update(directions=some_directions(k=12), alphas=(0.0,) * 12)
    settle(window, qtbot)
    bar = window.directions_panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    _wheel(window.directions_panel.scroll.viewport(), -3)
    assert bar.value() > 0 and not any(window.model.state.alphas)
    window.model.update(directions=some_directions(), alphas=(0.0, 0.0, 0.0))
    settle(window, qtbot)
    row = window.directions_panel.rows[1]
    inner = row.slider.findChildren(QAbstractSlider)[0]
    window.activateWindow()
    inner.setFocus()  # a control the user clicked or tabbed to takes the wheel
    qtbot.waitUntil(inner.hasFocus, timeout=5000)
    _wheel(inner, 3)
    assert window.model.state.alphas[1] != 0.0


def test_controls_say_what_they_do(window, qtbot, reference):
    """Truncation reaches a loaded w; fresh noise keeps drawing; A/B says it shows the original;
    Copy says it copied; [ and ] step the seed even from the seed box."""
    state = window.model.state
    assert state.psi == 0.7 and 'psi 0.7' in window.statusBar().currentMessage()
    w = np.random.RandomState(3).randn(8, 16).astype(np.float32)
    window.model.update(w=w, w_label='saved.npz', psi=1.0)
    settle(window, qtbot)
    untruncated = window.image_view.current_array().copy()
    window.truncation_panel.psi_slider.setValue(0.3)
    settle(window, qtbot)
    assert not np.array_equal(window.image_view.current_array(), untruncated)
    assert_shows(window, reference)
    assert window.truncation_panel.cutoff_note.text() == 'all ws rows of the loaded w pulled toward the average'
    window.latent_panel.copy_latent()
    assert window.statusBar().currentMessage().startswith('copied the w to the clipboard')

    window.model.update(w=None, w_label='', psi=0.7)
    window.noise_panel.mode_combo.setCurrentText('random')
    window.noise_panel.fresh_box.setChecked(True)  # new noise every frame, with nothing else changing
    first = window.last_result.request_id
    qtbot.waitUntil(lambda: window.last_result.request_id >= first + 2, timeout=10000)
    window.noise_panel.fresh_box.setChecked(False)

    window.model.update(directions=some_directions(), alphas=(0.0, 0.0, 0.0))
    window.actions['ab'].setChecked(True)
    assert window.image_view.overlay.startswith('showing the original')
    window.directions_panel.set_alpha(0, 1.0)
    assert 'press B to see it' in window.statusBar().currentMessage()
    window.actions['ab'].setChecked(False)

    window.activateWindow()
    box = window.latent_panel.seed_box
    box.setValue(10)
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=5000)
    qtbot.keyClick(box.lineEdit() if hasattr(box, 'lineEdit') else box, Qt.Key.Key_BracketRight)
    assert window.model.state.seed == 11
    qtbot.keyClick(box.lineEdit() if hasattr(box, 'lineEdit') else box, Qt.Key.Key_BracketLeft)
    assert window.model.state.seed == 10


def test_work_survives_another_network_a_restart_and_asks_before_quitting(qtbot, tmp_path, monkeypatch):
    a = str(write_tiny_network(tmp_path / 'a.safetensors', seed=0))
    b = str(write_tiny_network(tmp_path / 'b.safetensors', seed=1))
    win = MainWindow(network_path=a, settings=settings(tmp_path), sync_render=True)
    qtbot.addWidget(win)
    win.show()
    settle(win, qtbot)
    for seed in (3, 4):
        win.latent_panel.seed_box.setValue(seed)
        settle(win, qtbot)
        win.history_panel.add_favourite()
    win.model.update(directions=some_directions(), alphas=(0.0, 1.5, 0.0))
    settle(win, qtbot)
    win.open_network(b)
    qtbot.waitUntil(lambda: win.network_info['name'] == 'b.safetensors', timeout=30000)
    assert win.model.favourites == [] and 'your work on a.safetensors is kept' in win.statusBar().currentMessage()
    settle(win, qtbot)
    win.open_network(a)
    qtbot.waitUntil(lambda: win.network_info['name'] == 'a.safetensors', timeout=30000)
    settle(win, qtbot)
    assert [f.name for f in win.model.favourites] == ['favourite 1', 'favourite 2']
    assert win.model.state.alphas == (0.0, 1.5, 0.0) and win.model.state.seed == 4
    assert win.restore_bar.isVisible() and 'Restored your work' in win.restore_label.text()
    screenshot(win, 'restored.png')
    win.undo_restore()  # take the restore back: the model as it opens
    assert win.model.favourites == [] and win.model.state.directions is None and not win.restore_bar.isVisible()
    win.model.undo()  # ...and Ctrl+Z is not fooled into bringing half of it back
    assert win.model.favourites == []
    win.open_network(b)
    qtbot.waitUntil(lambda: win.network_info['name'] == 'b.safetensors', timeout=30000)
    win.open_network(a)  # the recovery file still holds the work
    qtbot.waitUntil(lambda: win.network_info['name'] == 'a.safetensors', timeout=30000)
    settle(win, qtbot)
    assert len(win.model.favourites) == 2
    win.close()
    win.render_client.stop()

    again = MainWindow(network_path=a, settings=settings(tmp_path), sync_render=True)  # a restart
    qtbot.addWidget(again)
    again.show()
    settle(again, qtbot)
    assert len(again.model.favourites) == 2 and again.model.state.alphas == (0.0, 1.5, 0.0)
    again.history_panel.add_favourite()  # new work, in no session file: closing asks
    again.settings.setValue('confirm_quit', True)
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
    monkeypatch.setattr(QMessageBox, 'exec', lambda self: answers.pop(0))
    again.close()
    assert again.isVisible()  # Cancel: still open, nothing lost
    again.close()
    assert not again.isVisible() and answers == []
    again.render_client.stop()


def test_direction_sets_stay_tidy(window, qtbot):
    """Computing PCA again replaces it or keeps both under new names; the summary and the plot
    follow the origins; a new set is scrolled to; named directions come first; ranges are measured."""
    panel = window.directions_panel
    wait_job(qtbot, panel.compute_pca(n_samples=500, n_components=3))
    wait_job(qtbot, panel.compute_pca(n_samples=600, n_components=3, replace=True))
    names = window.model.state.directions.names
    assert names == ['PC0', 'PC1', 'PC2'] and 'pca of 600 samples' in panel.summary.text()
    wait_job(qtbot, panel.compute_pca(n_samples=700, n_components=2, replace=False))
    dset = window.model.state.directions
    assert dset.names == ['PC0', 'PC1', 'PC2', 'PC0 (2)', 'PC1 (2)'] and len(set(dset.names)) == 5
    assert panel.summary.text() == '3 pca of 600 samples; 2 pca of 700 samples'
    values, title = window.plots_panel.variance_values()
    assert len(values) == 2 and '700 samples' in title  # the newest run alone
    named = DirectionSet(np.eye(16)[:1], [1.0], [0], [8], ['smile'], dict(method='svm'))
    panel.add_directions(named, 'labelled')
    assert panel.rows[0].k == 5 and 'smile' in panel.rows[0].name_label.text()  # named first
    assert 'labelled attribute' in panel.rows[0].name_label.toolTip() and 'σ' in panel.rows[0].unit_label.text()
    assert 'QFrame#direction_row' in panel.rows[0].styleSheet()  # highlighted
    # a network without D keeps the default ±3; a range set by hand is kept with the directions
    row = panel.row_of('PC1')
    assert (row.slider.minimum(), row.slider.maximum()) == (-3.0, 3.0) and row.high_label.text() == '+3'
    panel.set_limit(1, 5.0)
    assert window.model.state.directions.limit_of(1) == 5.0 and panel.row_of('PC1').slider.maximum() == 5.0
    row.widen_action.trigger()
    assert window.model.state.directions.limit_of(1) == 10.0


def test_walk_animate_and_a_strip_across_seeds(window, qtbot, reference):
    """Dragging between seeds shows the z in between; Animate walks on by itself; a direction's
    strip across seeds is the pictures the sliders would show."""
    panel = window.latent_panel
    panel.seed_box.setValue(5)
    settle(window, qtbot)
    panel.walk_slider.sliderPressed.emit()
    panel.walk_slider.setValue(5.25)
    panel.walk_slider.setValue(6.5)
    panel.walk_slider.sliderReleased.emit()
    settle(window, qtbot)
    state = window.model.state
    assert (state.seed, state.seed_frac) == (6, 0.5) and panel.source_label.text().startswith('Showing seed 6.50')
    assert_shows(window, reference)
    window.model.undo()  # the drag is one step
    assert (window.model.state.seed, window.model.state.seed_frac) == (5, 0.0)
    panel.speed_box.setValue(5.0)
    panel.animate_box.setChecked(True)
    qtbot.waitUntil(lambda: window.model.state.seed + window.model.state.seed_frac > 5.5, timeout=10000)
    panel.animate_box.setChecked(False)
    assert not window.model.dragging
    settle(window, qtbot)
    assert_shows(window, reference)

    window.model.update(directions=some_directions(), alphas=(0.0, 0.0, 0.0))
    dialog = window.directions_panel.open_strip(1)
    qtbot.addWidget(dialog)
    dialog.seeds_spin.setValue(2)
    dialog.steps_spin.setValue(3)
    wait_job(qtbot, dialog.draw())
    assert len(dialog.cells) == 6 and all(cell.pixmap() is not None and not cell.pixmap().isNull()
                                          for cell in dialog.cells.values())
    from explorer.strip_dialog import strip_requests
    last = strip_requests(window.model.state, 1, [window.model.state.seed + 1], [3.0])[0]
    assert last.offsets and abs(last.offsets[0].amount - 3.0 * window.model.state.directions.scales[1]) < 1e-6
    screenshot(dialog, 'strip.png')
    dialog.close()


def test_view_precision_menu(window, qtbot, reference, tmp_path):
    assert window.model.precision == 'auto' and window.precision_actions['auto'].isChecked()
    assert window.last_result.precision == 'fp32'  # at rest 'auto' draws fp32
    window.precision_actions['bf16'].trigger()
    settle(window, qtbot)
    assert window.model.precision == 'bf16' and window.last_result.precision == 'bf16'
    assert '(bf16)' in window.ms_label.text() and window.settings.value('precision') == 'bf16'
    shown = window.image_view.current_array()
    exact = reference.render(window.model.state.request()).image
    assert np.abs(shown.astype(int) - exact.astype(int)).max() <= 30  # bf16: a few grey levels off fp32
    window.precision_actions['fp32'].trigger()
    settle(window, qtbot)
    assert_shows(window, reference)
    window.precision_actions['auto'].trigger()
    slider = window.truncation_panel.psi_slider
    slider.sliderPressed.emit()
    slider.setValue(0.5)
    draft = window.model.render_request(window.last_full_ms)
    assert draft.draft and draft.precision == 'auto'
    slider.sliderReleased.emit()
    settle(window, qtbot)
    assert window.last_result.precision == 'fp32' and not window.last_result.request.draft
    assert_shows(window, reference)
