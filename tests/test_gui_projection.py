"""Projecting a photo in the explorer, offscreen, on a tiny network with a discriminator: the photo
is dropped, the landmarks are clicked (or skipped), the projection runs with a live preview and
becomes a favourite and the picture, which the sliders edit; Stop keeps the best step; a file that
is not an image is a sentence in the dialog. The `project` job itself is also run on a stand-in
context: previews are throttled, Stop returns the best step, D is opened once per network."""
import functools
import json
import os
import threading

import numpy as np
import PIL.Image
import pytest
from PyQt6.QtCore import QPoint, Qt

from core import model_io
from core import projection as core_projection
from core.align import prepare_target
from core.direction_set import DirectionSet
from core.errors import Cancelled
from core.image_losses import PerceptualLoss
from core.noise_spec import NoiseMaps, NoiseSpec, layer_resolution
from core.projection import companion_noise_file, save_noise_maps, save_projected_w
from core.render import Renderer
from core.request import Latent, RenderRequest
from explorer.edit_state import MixSource
from explorer import jobs
from explorer.projection_dialog import ProjectionDialog
from explorer.state import EditorModel
from tests.gui_helpers import (assert_shows, drop_file, open_window, reference_renderer, screenshot, settle, wait_job,
                               write_tiny_network)

FACE = 128            # the generated 32 px image, enlarged 4x, is the 'face' in the photo ...
OFFSET = (40, 6)      # ... pasted here on a 176 x 140 canvas (so a centre crop misses it)
# FFHQ's layout (core.align): eyes at 3/8 and 5/8 of the width and 0.475 of the height, mouth
# corners at 0.4 and 0.6, 0.725 down: the FFHQ square of these points is exactly the face.
FACE_POINTS = (np.array([[0.375, 0.475], [0.625, 0.475], [0.4, 0.725], [0.6, 0.725]]) * FACE - 0.5
               + np.array(OFFSET))
FAST = dict(w_avg_samples=300)


@pytest.fixture(autouse=True)
def noise_maps_start_at_random(monkeypatch):
    """The projections here start their noise maps re-drawn (the official start, not the default
    const noise), so the maps differ from the network's own noise from the first step and a test
    can tell which noise a picture was drawn with."""
    monkeypatch.setattr(core_projection, 'ProjectionOptions',
                        functools.partial(core_projection.ProjectionOptions, noise_init='random'))


@pytest.fixture(scope='module')
def net_path(tmp_path_factory):
    return str(write_tiny_network(tmp_path_factory.mktemp('net') / 'tiny.safetensors', with_D=True))


@pytest.fixture(scope='module')
def reference(net_path):
    return reference_renderer(net_path)


@pytest.fixture(scope='module')
def generated(reference):
    return reference.render(RenderRequest(seed=7)).image


@pytest.fixture(scope='module')
def photo(tmp_path_factory, generated):
    face = PIL.Image.fromarray(generated).resize((FACE, FACE), PIL.Image.NEAREST)
    canvas = PIL.Image.new('RGB', (176, 140), (30, 40, 50))
    canvas.paste(face, OFFSET)
    path = tmp_path_factory.mktemp('photos') / 'face.png'
    canvas.save(path)
    return str(path)


@pytest.fixture
def window(qtbot, tmp_path, net_path):
    yield from open_window(qtbot, tmp_path, net_path)


@pytest.fixture
def d_opens(monkeypatch):
    """Counts the network files the projection opens for their discriminator."""
    calls = []
    real = model_io.open_network

    def counting(path, *args, **kwargs):
        calls.append(kwargs.get('want_D'))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(model_io, 'open_network', counting)
    return calls


def open_dialog(window, qtbot, path):
    assert drop_file(window, path)
    dialog = window.projection_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    dialog.w_avg_samples = FAST['w_avg_samples']
    return dialog


def click_photo(qtbot, dialog, x, y, button=Qt.MouseButton.LeftButton):
    pos = dialog.photo_view.to_widget(x, y).toPoint()
    qtbot.mouseClick(dialog.photo_view, button, pos=pos)


def run_projection(qtbot, dialog, steps):
    dialog.steps_spin.setValue(steps)
    qtbot.mouseClick(dialog.project_button, Qt.MouseButton.LeftButton)
    job = dialog.job
    assert job is not None and not dialog.project_button.isEnabled()
    result = wait_job(qtbot, job, timeout=120000)
    qtbot.waitUntil(lambda: dialog.favourite is not None, timeout=30000)
    return result


def assert_result_is_the_picture(window, qtbot, dialog, result, reference, name):
    fav = window.model.favourites[-1]
    assert fav is dialog.favourite and fav.name == name
    assert result['ws'].shape == (8, 16) and result['ws'].dtype == np.float32
    np.testing.assert_array_equal(fav.ws, result['ws'])
    state = window.model.state
    np.testing.assert_array_equal(state.w.array, result['ws'])
    assert state.w_label == 'face.png' and not state.is_edited
    assert window.latent_panel.source_label.text() == 'Showing w from face.png with its noise maps'
    assert_maps_are(state.noise_maps, result['noise'])
    assert fav.state == state  # the favourite keeps the maps too
    settle(window, qtbot)
    assert_shows(window, reference)
    # the main window shows the projection's best image (the projector drew it with these maps) ...
    shown = window.image_view.current_array()
    assert np.abs(shown.astype(int) - result['image']).max() <= 1
    # ... which the network's own const noise does not draw
    const = reference.render(RenderRequest(w=result['ws'])).image
    assert np.abs(const.astype(int) - result['image']).max() > 8
    np.testing.assert_array_equal(fav.thumbnail, shown)  # 32 px: kept whole
    assert window.history_panel.strip.item(len(window.model.favourites) - 1).text() == name


def assert_maps_are(maps, expected):
    """`maps` (a state's) hold exactly `expected`, the job's NoiseMaps (made in the worker, not the GUI thread)."""
    assert isinstance(expected, NoiseMaps)
    expected = expected.arrays()
    assert maps is not None and sorted(maps.names()) == sorted(expected) == noise_layers_of_the_tiny_net()
    for name, array in expected.items():
        assert array.dtype == np.float32 and array.shape == (layer_resolution(name),) * 2
        np.testing.assert_array_equal(maps.get(name).array, array)


def noise_layers_of_the_tiny_net():
    return sorted(['b4.conv1'] + [f'b{r}.conv{i}' for r in (8, 16, 32) for i in (0, 1)])


def test_clicked_landmarks_project_into_a_favourite_that_every_slider_edits(window, qtbot, photo, generated,
                                                                             reference, d_opens):
    assert window.actions['project'].shortcut().toString() == 'Ctrl+P'
    assert window._drop_kind('x.JPG') == 'photo' and window._drop_kind('x.webp') == 'photo'
    dialog = open_dialog(window, qtbot, photo)
    assert dialog.photo_view.current_array().shape == (140, 176, 3)
    assert 'left eye' in dialog.prompt_label.text() and not dialog.project_button.isEnabled()
    screenshot(dialog, 'projection_photo.png')
    for i, (x, y) in enumerate(FACE_POINTS):
        click_photo(qtbot, dialog, x, y)
        assert len(dialog.points) == i + 1
        if i < 3:
            assert ['right eye', 'left mouth corner', 'right mouth corner'][i] in dialog.prompt_label.text()
    np.testing.assert_allclose(dialog.points, FACE_POINTS, atol=0.5)  # clicks land on the photo pixels
    # the aligned target is the face (the enlarged generated image, shrunk back), shown at once
    target = dialog.target_view.current_array()
    assert target is not None and target.shape == (32, 32, 3) and dialog.project_button.isEnabled()
    np.testing.assert_array_equal(target, prepare_target(photo, 32, 3, np.array(dialog.points))[0])
    # (bicubic + Lanczos resampling of this noise-like image leaves ~11 grey levels on average; the
    # centre crop, which misses the face, is ~80 off)
    assert np.abs(target.astype(int) - generated).mean() < 20
    assert dialog.photo_view.quad is not None and 'dashed square' in dialog.prompt_label.text()
    screenshot(dialog, 'projection_landmarks.png')

    result = run_projection(qtbot, dialog, steps=24)
    assert dialog.previews >= 1 and result['steps_done'] == 24 and not result['stopped']
    np.testing.assert_array_equal(result['target'], target)
    assert result['alignment']['alignment'] == 'ffhq-landmarks' and result['has_D']
    assert 'discriminator features' in dialog.loss_label.text() and 'noise regularisation' in dialog.loss_label.text()
    assert dialog.message_label.text().startswith('Done: 24 steps')
    assert_result_is_the_picture(window, qtbot, dialog, result, reference, 'projected face.png')
    screenshot(dialog, 'projection_done.png')
    screenshot(window, 'projection_main.png')

    # every slider edits it: a direction moves the projected picture, and undo goes back
    window.model.update(directions=DirectionSet(np.eye(16)[:1], [2.0], [0], [8], ['d'], {}), alphas=(0.0,))
    window.directions_panel.rows[0].slider.setValue(1.5)
    settle(window, qtbot)
    assert window.model.state.w is not None and window.model.state.alphas == (1.5,)
    assert_shows(window, reference)

    # Skip: a centre crop of the same photo, projected again; D is not opened a second time
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    assert dialog.skip and dialog.points == [] and 'Centre crop' in dialog.prompt_label.text()
    np.testing.assert_array_equal(dialog.target_view.current_array(), prepare_target(photo, 32, 3)[0])
    result = run_projection(qtbot, dialog, steps=16)
    assert result['alignment']['alignment'] == 'center-crop' and result['steps_done'] == 16
    assert window.model.state.alphas == (0.0,)  # the new picture starts unedited
    assert_result_is_the_picture(window, qtbot, dialog, result, reference, 'projected face.png (2)')
    assert d_opens == [True]  # opened once for D, kept for the next projection


def test_stop_keeps_the_best_step_so_far(window, qtbot, photo, reference):
    dialog = open_dialog(window, qtbot, photo)
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    dialog.space_combo.setCurrentIndex(1)  # W+
    dialog.steps_spin.setValue(4000)
    qtbot.mouseClick(dialog.project_button, Qt.MouseButton.LeftButton)
    job = dialog.job
    qtbot.waitUntil(lambda: job.last_progress[0] >= 4 and dialog.previews >= 2, timeout=60000)
    assert dialog.job_bar.isVisible() and dialog.job_bar.bar.maximum() == 6000  # W, then W+ half as long
    assert 'step' in dialog.job_bar.bar.text() and 'best loss' in dialog.result_caption.text()
    assert not dialog.space_combo.isEnabled() and not dialog.skip_button.isEnabled()
    window.latent_panel.seed_box.setValue(3)  # the explorer stays usable while it projects
    qtbot.waitUntil(lambda: window.last_result.request.seed == 3, timeout=30000)
    screenshot(dialog, 'projection_running.png')
    qtbot.mouseClick(dialog.job_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.job_bar.cancel_button.text() == 'Stop'
    result = wait_job(qtbot, job, timeout=60000)
    assert result['stopped'] and 4 <= result['steps_done'] < 6000 and 0 <= result['best_step'] < result['steps_done']
    # a stopped projection is offered, not forced on the picture
    assert dialog.message_label.text().startswith(f"Stopped after {result['steps_done']} of 6000 steps")
    assert dialog.keep_button.isVisible() and window.model.state.w is None and not window.model.favourites
    screenshot(dialog, 'projection_stopped_offer.png')
    qtbot.mouseClick(dialog.keep_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.favourite is not None, timeout=30000)
    assert not dialog.keep_button.isVisible()
    assert_result_is_the_picture(window, qtbot, dialog, result, reference, 'projected face.png')
    assert dialog.project_button.isEnabled() and not dialog.job_bar.isVisible()
    screenshot(dialog, 'projection_stopped.png')


def test_a_second_photo_starts_clean_and_the_steps_show_both_stages(window, qtbot, photo, tmp_path):
    dialog = open_dialog(window, qtbot, photo)
    assert dialog.stages_label.text() == 'W: 1000 steps'
    dialog.space_combo.setCurrentIndex(1)
    assert dialog.stages_label.text() == 'W: 1000 steps, then W+: 500 steps (1500 in all)'
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    dialog.space_combo.setCurrentIndex(0)
    run_projection(qtbot, dialog, steps=3)
    assert dialog.result_view.current_array() is not None and dialog.loss_label.text()
    other = tmp_path / 'other.png'
    PIL.Image.fromarray(np.full((80, 80, 3), 90, np.uint8)).save(other)
    assert drop_file(dialog, str(other))  # another person: nothing of the last one stays on screen
    assert dialog.result_view.current_array() is None and dialog.loss_label.text() == ''
    assert dialog.result_caption.text() == '' and dialog.result is None and dialog.target is None


def test_the_projected_noise_maps_belong_to_the_latent(window, qtbot, photo, reference, tmp_path):
    """Edits draw on top of the maps; another seed or w drops them; favourites, sessions and a
    projected_w.npz with the noise file `project` writes beside it bring them back."""
    dialog = open_dialog(window, qtbot, photo)
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    result = run_projection(qtbot, dialog, steps=8)
    model = window.model
    projected = model.state
    assert_maps_are(projected.noise_maps, result['noise'])
    settle(window, qtbot)
    shown = window.image_view.current_array()

    # edits on top: a direction, a noise strength, psi (which pulls the w toward the average), a seed's coarse rows
    model.update(directions=DirectionSet(np.eye(16)[:1], [2.0], [0], [8], ['d'], {}), alphas=(1.0,))
    window.noise_panel.set_strength('b32.conv1', 2.0)
    model.update(psi=0.5)
    window.mixing_panel.add_source(seed=3)
    model.set_state(model.state.with_mix_rows(0, (0, 1)))
    settle(window, qtbot)
    state = model.state
    assert state.noise_maps == projected.noise_maps and state.noise.scales == (('b32.conv1', 2.0),)
    assert_shows(window, reference)
    assert not np.array_equal(window.image_view.current_array(), shown)
    # the noise strength acts on the projected maps: the same edits without them draw another picture
    without = reference.render(state.replace(noise_maps=None).request()).image
    assert not np.array_equal(window.image_view.current_array(), without)
    model.update(noise=NoiseSpec('none'))  # 'none' is still no noise at all
    settle(window, qtbot)
    no_noise = state.replace(noise=NoiseSpec('none'), noise_maps=None)
    np.testing.assert_array_equal(window.image_view.current_array(), reference.render(no_noise.request()).image)

    # a session keeps them (stored once for the picture and its favourite)
    session = tmp_path / 'session.json'
    model.set_state(projected)
    assert window.save_session(str(session))
    saved = json.loads(session.read_text())
    assert list(saved['noise_maps']) == [projected.noise_maps.digest.hex()]
    key = projected.noise_maps.digest.hex()
    assert saved['state']['noise_maps'] == saved['favourites'][0]['state']['noise_maps'] == key

    # another seed drops them, and so does "Back to seed" or another w
    window.latent_panel.step_seed(1)
    assert model.state.w is None and model.state.noise_maps is None
    model.undo()
    assert model.state.noise_maps == projected.noise_maps
    qtbot.mouseClick(window.latent_panel.seed_button, Qt.MouseButton.LeftButton)
    assert model.state.noise_maps is None
    other = tmp_path / 'other_w.npz'
    save_projected_w(other, result['ws'][None] * 0.5)  # no meta, no noise file: a plain w
    wait_job(qtbot, window.latent_panel.load_w_file(str(other)))
    qtbot.waitUntil(lambda: model.state.w_label == 'other_w.npz', timeout=30000)
    assert model.state.noise_maps is None and model.state.latent_label == 'w from other_w.npz'

    # the favourite brings them back; so does the session
    window.history_panel.restore(0)
    assert model.state == projected
    window.latent_panel.step_seed(1)
    assert window.load_session(str(session)) == []
    assert model.state == projected and model.favourites[0].state == projected
    settle(window, qtbot)
    np.testing.assert_array_equal(window.image_view.current_array(), shown)

    # a projected_w.npz with the noise file written beside it (as `project` writes them)
    out = tmp_path / 'proj'
    out.mkdir()
    save_projected_w(out / 'projected_w.npz', result['ws'][None], dict(noise_file='projected_noise.npz'))
    save_noise_maps(out / 'projected_noise.npz', result['noise'].arrays())
    assert companion_noise_file(out / 'projected_w.npz') == str(out / 'projected_noise.npz')
    window.latent_panel.step_seed(1)
    wait_job(qtbot, window.latent_panel.load_w_file(str(out / 'projected_w.npz')))
    qtbot.waitUntil(lambda: model.state.w is not None, timeout=30000)
    assert_maps_are(model.state.noise_maps, result['noise'])
    assert model.state.latent_label == 'w from projected_w.npz with its noise maps'
    settle(window, qtbot)
    np.testing.assert_array_equal(window.image_view.current_array(), shown)


def test_a_file_that_is_not_an_image_and_points_off_the_photo_are_sentences(window, qtbot, tmp_path, photo):
    fake = tmp_path / 'holiday.png'
    fake.write_text('these are my holiday notes, not a picture')
    dialog = open_dialog(window, qtbot, str(fake))
    text = dialog.message_label.text()
    assert text.startswith(f"target '{fake}' is not an image that can be read") and text.endswith('.png photo')
    assert dialog.photo_view.current_array() is None and not dialog.project_button.isEnabled()
    assert not dialog.skip_button.isEnabled()
    screenshot(dialog, 'projection_not_an_image.png')

    assert drop_file(dialog, photo)  # the dialog takes a dropped photo too
    assert dialog.photo_view.current_array() is not None and dialog.message_label.text() == ''
    for x, y in FACE_POINTS[:3]:
        click_photo(qtbot, dialog, x, y)
    rect = dialog.photo_view.target_rect()
    assert rect.top() > 20  # the photo is wider than the view: there is room above it
    qtbot.mouseClick(dialog.photo_view, Qt.MouseButton.LeftButton, pos=QPoint(int(rect.center().x()), 5))
    assert dialog.message_label.text().startswith('the right mouth corner landmark (')
    assert 'lies outside the photo (176x140 pixels)' in dialog.message_label.text()
    assert dialog.target is None and not dialog.project_button.isEnabled()
    screenshot(dialog, 'projection_outside.png')
    click_photo(qtbot, dialog, 10, 10, Qt.MouseButton.RightButton)  # takes the last point back
    assert len(dialog.points) == 3 and 'right mouth corner' in dialog.prompt_label.text()
    click_photo(qtbot, dialog, *FACE_POINTS[3])
    assert dialog.target is not None and dialog.project_button.isEnabled() and dialog.message_label.text() == ''
    qtbot.mouseClick(dialog.clear_button, Qt.MouseButton.LeftButton)
    assert dialog.points == [] and dialog.target is None and dialog.target_view.current_array() is None

    # a photo that is gone by the time Project is clicked: the job's sentence, in the dialog
    gone = tmp_path / 'gone.png'
    gone.write_bytes(open(photo, 'rb').read())
    assert dialog.open_photo(str(gone))
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    gone.unlink()
    job = dialog.project()
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    assert dialog.message_label.text() == f"target image '{gone}' does not exist: check the path"
    assert dialog.project_button.isEnabled() and dialog.favourite is None and not window.model.favourites


# --- the job on its own ----------------------------------------------------------------------------

class StandInContext:
    """What the render thread hands a job (explorer.worker.JobContext), without the thread."""

    def __init__(self, net, stop_at=None):
        self.net, self.G, self.device, self.cache = net, net.G, 'cpu', {}
        self.cancel = threading.Event()
        self.partials, self.progresses = [], []
        self.stop_at = stop_at

    def progress(self, done, total):
        self.progresses.append((done, total))
        if done == self.stop_at:
            self.cancel.set()
        if self.cancel.is_set():
            raise Cancelled('project cancelled')

    def partial(self, value):
        self.partials.append(value)


def test_the_project_job_throttles_previews_stops_with_the_best_step_and_opens_D_once(net_path, photo, d_opens):
    net = model_io.open_network(net_path)  # as the explorer opens it: no D
    assert net.D is None and d_opens == [None]
    ctx = StandInContext(net)
    first = jobs.project(ctx, photo, num_steps=6, preview_interval=1e9, **FAST)
    assert len(ctx.partials) == 1 and ctx.progresses == [(i, 6) for i in range(7)]
    preview = ctx.partials[0]
    assert preview['image'].shape == (32, 32, 3) and preview['image'].dtype == np.uint8 and preview['step'] == 1
    assert first['has_D'] and first['ws'].shape == (8, 16) and first['ws'].dtype == np.float32
    assert first['steps_done'] == 6 and not first['stopped'] and first['image'].dtype == np.uint8
    # the best step's optimised noise maps come back with its w: drawn together they are its image
    assert_maps_are(NoiseSpec(maps=first['noise']).maps, first['noise'])
    renderer = Renderer(net.G)
    drawn = renderer.render(RenderRequest(w=first['ws'], noise=NoiseSpec(maps=first['noise']))).image
    assert np.abs(drawn.astype(int) - first['image']).max() <= 1
    assert np.abs(renderer.render(RenderRequest(w=first['ws'])).image.astype(int) - first['image']).max() > 8

    ctx.partials.clear()
    again = jobs.project(ctx, photo, num_steps=6, preview_interval=0, **FAST)
    assert len(ctx.partials) == 6 and d_opens == [None, True]  # D came from the cache
    np.testing.assert_array_equal(again['ws'], first['ws'])     # same seed, same stats: the same run

    stopped_ctx = StandInContext(net, stop_at=3)
    stopped = jobs.project(stopped_ctx, photo, num_steps=50, **FAST)
    assert stopped['stopped'] and stopped['steps_done'] == 3 and 0 <= stopped['best_step'] <= 2
    assert np.isfinite(stopped['best_loss']) and np.isfinite(stopped['ws']).all()


def test_a_nan_loss_previews_the_start_image_and_the_dialog_takes_any_preview(net_path, photo, qtbot, monkeypatch):
    """No step scores below a NaN loss, so the best image is the start image all along: every preview
    carries it (it used to carry None, and the dialog's slot raised, which aborts the explorer)."""
    monkeypatch.setattr(PerceptualLoss, '__call__', lambda self, img: (img.sum() * float('nan'), {}))
    ctx = StandInContext(model_io.open_network(net_path))
    result = jobs.project(ctx, photo, num_steps=3, preview_interval=0, **FAST)
    assert len(ctx.partials) == 3 and result['best_step'] == -1
    for preview in ctx.partials:
        np.testing.assert_array_equal(preview['image'], result['image'])  # the start image
    dialog = ProjectionDialog(EditorModel(), client=None, files=None)
    qtbot.addWidget(dialog)
    dialog._preview(ctx.partials[-1])
    np.testing.assert_array_equal(dialog.result_view.current_array(), result['image'])
    dialog._preview(dict(ctx.partials[-1], image=None, step=9))  # words only; the image stays
    assert dialog.previews == 2 and 'step 9 of 3' in dialog.result_caption.text()
    np.testing.assert_array_equal(dialog.result_view.current_array(), result['image'])


def test_load_ws_keeps_the_w_when_the_noise_file_beside_it_is_damaged(net_path, tmp_path):
    ctx = StandInContext(model_io.open_network(net_path))
    G = ctx.G
    w = np.random.RandomState(0).randn(1, G.num_ws, G.w_dim).astype(np.float32)
    w_path, noise_path = tmp_path / 'projected_w.npz', tmp_path / 'projected_noise.npz'
    save_projected_w(w_path, w, dict(noise_file='projected_noise.npz'))
    maps = {name: np.ones([layer_resolution(name)] * 2, np.float32) for name in noise_layers_of_the_tiny_net()}
    save_noise_maps(noise_path, maps)
    loaded = jobs.load_ws(ctx, str(w_path))
    assert isinstance(loaded['noise'], NoiseMaps) and loaded['noise'] == NoiseMaps(maps) and loaded['notes'] == []
    for content in (b'', b'PK\x03\x04 not a whole zip'):  # empty (EOFError), damaged zip (BadZipFile)
        noise_path.write_bytes(content)
        loaded = jobs.load_ws(ctx, str(w_path))
        np.testing.assert_array_equal(loaded['ws'], w)
        assert loaded['noise'] is None and len(loaded['notes']) == 1
        assert loaded['notes'][0].startswith(f"the w was loaded without its noise maps: '{noise_path}' is not a "
                                             'readable NumPy file')
    np.savez(noise_path, **{'b4.conv1': np.full([4, 4], 'a')})  # not numbers
    loaded = jobs.load_ws(ctx, str(w_path))
    assert loaded['noise'] is None
    assert "the noise map of layer 'b4.conv1' is not an array of numbers" in loaded['notes'][0]


def test_pti_opens_the_tuned_network_which_every_slider_edits_and_back_to_source(window, qtbot, photo, reference,
                                                                                 tmp_path):
    """PTI in the dialog: the tuned network is written to the tuned folder and opened, the pivot w is
    the picture and a favourite on it, directions and mixing edit it, a session names it, and Back to
    source model returns to the source with the picture kept."""
    source = dict(window.network_info)
    window.model.update(directions=DirectionSet(np.eye(16)[:1], [2.0], [0], [8], ['d'], {}), alphas=(0.0,))
    dialog = open_dialog(window, qtbot, photo)
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    dialog.space_combo.setCurrentIndex(2)
    assert dialog.space_combo.currentData() == 'pti'
    dialog.pti_steps = 4
    dialog.steps_spin.setValue(6)
    assert dialog.stages_label.text() == 'W: 6 steps, then PTI: 4 steps (10 in all)'
    result = run_projection(qtbot, dialog, steps=6)
    assert result['space'] == 'pti' and result['steps_done'] == 10 and not result['stopped']
    tuned = result['tuned']
    assert os.path.dirname(tuned['path']) == str(tmp_path / 'tuned') and os.path.isfile(tuned['path'])
    assert os.path.basename(tuned['path']) == f"face-pti-{source['fingerprint'][:8]}.safetensors"
    assert result['noise'] is None  # the tuned network draws the pivot with its own const noise

    # the explorer now shows the tuned network, with the pivot as the picture and a favourite
    info = window.network_info
    assert info['fingerprint'] == tuned['fingerprint'] and info['tuned_from'] == source['fingerprint']
    assert info['source_network'] == source['source'] and info['source'] == tuned['path']
    assert window.back_button.isVisible() and window.actions['back_to_source'].isEnabled()
    assert 'tuned to a photo' in window.model_label.text()
    state = window.model.state
    np.testing.assert_array_equal(state.w.array, result['ws'])
    assert state.noise_maps is None and state.directions is not None  # the sliders carried over
    assert dialog.favourite is window.model.favourites[-1] and dialog.favourite.name == 'projected face.png'
    assert dialog.message_label.text().startswith('Done: 10 steps') and 'Back to source model' in \
        dialog.message_label.text()
    tuned_reference = Renderer(model_io.open_network(tuned['path']).G)
    settle(window, qtbot)
    shown = window.image_view.current_array()
    np.testing.assert_array_equal(shown, result['image'])  # the tuned network's picture of the pivot
    assert_shows(window, tuned_reference)
    screenshot(dialog, 'projection_pti_done.png')
    screenshot(window, 'projection_pti_main.png')

    # every slider and a mixing seed edit it, drawn by the tuned network
    window.directions_panel.rows[0].slider.setValue(1.5)
    settle(window, qtbot)
    assert_shows(window, tuned_reference)
    assert np.abs(window.image_view.current_array().astype(int) - shown).max() > 8
    before = window.image_view.current_array()
    window.model.update(mixing=(MixSource('seed 11', Latent(seed=11), rows=(0, 1, 2, 3)),))
    settle(window, qtbot)
    assert_shows(window, tuned_reference)
    assert np.abs(window.image_view.current_array().astype(int) - before).max() > 8  # the coarse rows moved it

    # the session names the tuned network and where it came from
    session = window.model.session_dict()
    assert session['model']['source'] == tuned['path'] and session['model']['fingerprint'] == tuned['fingerprint']
    assert session['model']['tuned_from'] == source['fingerprint']
    assert session['model']['source_network'] == source['source']

    # one click back to the source: the picture and sliders stay, drawn by the source network
    qtbot.mouseClick(window.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.network_info['fingerprint'] == source['fingerprint'], timeout=30000)
    settle(window, qtbot)
    assert not window.back_button.isVisible() and not window.actions['back_to_source'].isEnabled()
    np.testing.assert_array_equal(window.model.state.w.array, result['ws'])
    assert window.model.state.alphas == (1.5,) and window.model.favourites[-1].name == 'projected face.png'
    assert_shows(window, reference)
    screenshot(window, 'projection_pti_back_to_source.png')


def test_a_stopped_pti_offers_its_tuned_network_and_discard_removes_it(window, qtbot, photo, tmp_path):
    dialog = open_dialog(window, qtbot, photo)
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    dialog.space_combo.setCurrentIndex(2)
    dialog.pti_steps = 100000
    dialog.steps_spin.setValue(3)
    qtbot.mouseClick(dialog.project_button, Qt.MouseButton.LeftButton)
    job = dialog.job
    qtbot.waitUntil(lambda: job.last_progress[0] >= 5, timeout=60000)  # into the tuning
    qtbot.mouseClick(dialog.job_bar.cancel_button, Qt.MouseButton.LeftButton)
    result = wait_job(qtbot, job, timeout=60000)
    assert result['stopped'] and result['tuned'] and os.path.isfile(result['tuned']['path'])
    assert 'and its tuned network' in dialog.message_label.text() and dialog.discard_button.isVisible()
    qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
    assert not os.path.exists(result['tuned']['path']) and window.model.state.w is None
    assert window.network_info.get('tuned_from') is None  # the source stays open


def test_detect_points_fills_the_four_landmarks_which_stay_correctable(window, qtbot, photo, monkeypatch):
    """With the optional detector (faked: its models are not installed here) Detect points places
    the four points at once; a right click still takes the last one back."""
    from core import landmarks
    from tests.test_projection import _FakeFaceMesh
    monkeypatch.setattr(landmarks, '_face_mesh', lambda: _FakeFaceMesh)
    _FakeFaceMesh.face = True
    dialog = open_dialog(window, qtbot, photo)
    dialog.detect_button.setVisible(True)  # the dialog was built before the fake went in: shown as with the extra
    qtbot.mouseClick(dialog.detect_button, Qt.MouseButton.LeftButton)
    np.testing.assert_allclose(dialog.points, [[52.3, 55.5], [122.7, 55.5], [61.1, 104.5], [113.9, 104.5]],
                               atol=0.01)  # 176 x 140 photo: (0.3, 0.4), (0.7, 0.4), (0.35, 0.75), (0.65, 0.75)
    assert dialog.target is not None and dialog.project_button.isEnabled()
    screenshot(dialog, 'projection_detected.png')
    click_photo(qtbot, dialog, 10, 10, Qt.MouseButton.RightButton)
    assert len(dialog.points) == 3 and dialog.target is None
    _FakeFaceMesh.face = False
    assert not dialog.detect_landmarks() and 'No face was found' in dialog.message_label.text()
    monkeypatch.setattr(landmarks, '_face_mesh', lambda: None)
    assert not dialog.detect_landmarks() and "pip install 'stylescope[landmarks]'" in dialog.message_label.text()


def test_networks_of_one_family_share_the_editing_state():
    from explorer.main_window import same_family
    src, t1, t2, other = (dict(fingerprint='s'), dict(fingerprint='t1', tuned_from='s'),
                          dict(fingerprint='t2', tuned_from='s'), dict(fingerprint='o'))
    assert same_family(src, src) and same_family(src, t1) and same_family(t1, src) and same_family(t1, t2)
    assert not same_family(src, other) and not same_family(t1, other) and not same_family(other, t2)
    assert not same_family(dict(fingerprint='x', tuned_from='o'), t1)
