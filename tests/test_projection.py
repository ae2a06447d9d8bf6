"""Projection (core.projection, core.image_losses), alignment (core.align), the `project` command
and `generate --projected-w`. Tiny networks (16x16, channel_max 32, w_dim 16), few steps."""
import json
import os
import threading

import imageio_ffmpeg
import numpy as np
import PIL.Image
import pytest
import torch

import main
from core import projection
from core.align import align_face, center_crop, ffhq_quad, parse_landmarks, prepare_target
from core.errors import StylescopeError
from core.image_losses import PerceptualLoss, load_vgg, ms_ssim, psnr
from core.model_io import save_network
from core.networks import Discriminator, Generator
from core.projection import ProjectionOptions, Projector
from core.noise import noise_layers
from core.render import render_ws

NET = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
           synthesis_kwargs=dict(channel_base=512, channel_max=32))



def quad_to_output(quad, size, points):
    """Where photo points [K, 2] land in the aligned output of `size` pixels (pixel centres)."""
    quad = np.asarray(quad, dtype=np.float64)
    origin, ex, ey = quad[0] + 0.5, quad[3] - quad[0], quad[1] - quad[0]
    d = np.asarray(points, dtype=np.float64) + 0.5 - origin
    u = d @ ex / (ex @ ex) * size
    v = d @ ey / (ey @ ey) * size
    return np.stack([u, v], axis=-1) - 0.5


def _G(noise_strength=0.0):
    torch.manual_seed(1)
    G = Generator(**NET).eval().requires_grad_(False)
    for name, param in G.named_parameters():
        if name.endswith('noise_strength'):
            param.fill_(noise_strength)
    return G


def _D():
    torch.manual_seed(2)
    return Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=512,
                         channel_max=32).eval().requires_grad_(False)


def _known_w(G, seed):
    torch.manual_seed(100 + seed)
    ws = G.mapping(torch.randn([1, G.z_dim]), None)
    return ws, render_ws(G, ws)[0]


@pytest.fixture(scope='module')
def net_file(tmp_path_factory):
    """A tiny network with D (noise on, so noise maps matter), as .safetensors; (path, G, D)."""
    G, D = _G(noise_strength=0.05), _D()
    path = str(tmp_path_factory.mktemp('nets') / 'tiny.safetensors')
    save_network(path, G, D=D)
    return path, G, D


@pytest.fixture(scope='module')
def photo(tmp_path_factory, net_file):
    """A 'photo' the tiny net can draw: its image of a known w, upscaled to 48x40 with a border."""
    _, G, _ = net_file
    _, img = _known_w(G, 0)
    big = PIL.Image.fromarray(img).resize((40, 40), PIL.Image.NEAREST)
    canvas = PIL.Image.new('RGB', (48, 40), (20, 30, 40))
    canvas.paste(big, (4, 0))
    path = str(tmp_path_factory.mktemp('photos') / 'face.png')
    canvas.save(path)
    return path


# --- projection ------------------------------------------------------------------------------------

def test_a_known_w_is_recovered_in_w_and_better_in_w_plus():
    G, D = _G(), _D()
    stats = projection.w_stats(G)
    for seed in (0, 1):
        ws_true, target = _known_w(G, seed)
        start = render_ws(G, stats[0].repeat(1, G.num_ws, 1))[0]
        res_w = Projector(G, target, D=D, options=ProjectionOptions(num_steps=100), stats=stats).run()
        res_plus = Projector(G, target, D=D, stats=stats,
                             options=ProjectionOptions(num_steps=100, space='w+', w_plus_steps=60)).run()
        # Measured on these seeds: start (w_avg) 12.3 / 8.9 dB; W after 100 steps 21.6 / 21.8 dB;
        # W+ (100 + 60 steps) 24.5 / 25.6 dB. A random 16x16 net's W is rugged (seed 3 stalls at
        # 15.4 dB in W), so the floors sit 3 dB under what these seeds reach, far above the start.
        assert psnr(start, target) < 14
        assert psnr(res_w.image, target) > 18.5, seed
        assert psnr(res_plus.image, target) > 21.5, seed
        assert psnr(res_plus.image, target) > psnr(res_w.image, target), seed
        assert res_w.ws.shape == (1, G.num_ws, G.w_dim) and res_w.ws.dtype == np.float32
        assert np.allclose(res_w.ws, res_w.ws[:, :1])  # W: one w for every row
        assert not np.allclose(res_plus.ws, res_plus.ws[:, :1])
        assert res_w.loss_info['parts'] == ['d_features', 'ms_ssim', 'laplacian_l1']


def test_the_result_image_is_its_ws_drawn_with_its_noise_maps(net_file):
    _, G, D = net_file
    _, target = _known_w(G, 1)
    res = Projector(G, target, D=D, options=ProjectionOptions(num_steps=12, w_avg_samples=500)).run()
    noise = {k: torch.from_numpy(v) for k, v in res.noise.items()}
    again = G.synthesis(torch.from_numpy(res.ws), noise_mode='const', noise_inputs=noise)
    assert np.abs(render_ws(G, torch.from_numpy(res.ws))[0].astype(int) - res.image).max() > 0  # maps matter
    from core.images import to_uint8
    assert np.abs(to_uint8(again)[0].astype(int) - res.image.astype(int)).max() <= 1
    for m in res.noise.values():  # renormalised every step
        assert abs(m.mean()) < 1e-4 and abs(m.std() - 1) < 1e-2


def test_the_noise_maps_start_as_the_networks_const_noise_or_at_random(net_file):
    _, G, D = net_file
    _, target = _known_w(G, 1)
    const = {name: G.synthesis.get_submodule(name).noise_const for name in noise_layers(G)}
    start = Projector(G, target, D=D, options=ProjectionOptions(num_steps=1, w_avg_samples=200)).result()
    for name, buf in const.items():  # the default start: G's own noise, so w_avg looks as generate draws it
        np.testing.assert_array_equal(start.noise[name], buf.numpy())
    np.testing.assert_array_equal(start.image, render_ws(G, torch.from_numpy(start.ws))[0])
    official = Projector(G, target, D=D, options=ProjectionOptions(num_steps=1, w_avg_samples=200,
                                                                   noise_init='random')).result()
    for name, buf in const.items():  # as the official projector: re-drawn (seeded)
        assert official.noise[name].shape == tuple(buf.shape) and not np.allclose(official.noise[name], buf.numpy())
    with pytest.raises(StylescopeError, match="unknown noise init 'zeros'"):
        ProjectionOptions(noise_init='zeros')


def test_projection_leaves_G_and_D_untouched(net_file):
    _, G, D = net_file
    before = {f'G.{k}': v.clone() for k, v in G.state_dict().items()}
    before.update({f'D.{k}': v.clone() for k, v in D.state_dict().items()})
    _, target = _known_w(G, 2)
    Projector(G, target, D=D, options=ProjectionOptions(num_steps=6, space='w+', w_avg_samples=200)).run()
    after = {f'G.{k}': v for k, v in G.state_dict().items()}
    after.update({f'D.{k}': v for k, v in D.state_dict().items()})
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert all(p.grad is None for p in list(G.parameters()) + list(D.parameters()))
    assert not G.training and not D.training


def test_cancel_stops_and_keeps_the_best_step(net_file):
    _, G, D = net_file
    _, target = _known_w(G, 0)
    cancel = threading.Event()
    seen = []

    def progress(snap):
        seen.append(snap)
        if snap.step == 4:
            cancel.set()

    projector = Projector(G, target, D=D, options=ProjectionOptions(num_steps=50, w_avg_samples=200))
    res = projector.run(progress, cancel)
    assert res.stopped and res.steps_done == 5 and len(seen) == 5
    assert res.loss == min(s.loss for s in seen) and 0 <= res.best_step <= 4
    assert seen[-1].image.shape == (16, 16, 3) and seen[-1].ws.shape == (1, G.num_ws, G.w_dim)
    np.testing.assert_array_equal(seen[-1].best_image, res.image)  # each step reports the best image so far
    assert list(projector.steps()) == []  # a projector runs once


def test_a_nan_loss_reports_the_start_image_as_the_best(net_file, monkeypatch):
    _, G, D = net_file
    _, target = _known_w(G, 0)
    monkeypatch.setattr(PerceptualLoss, '__call__', lambda self, img: (img.sum() * float('nan'), {}))
    projector = Projector(G, target, D=D, options=ProjectionOptions(num_steps=3, w_avg_samples=200))
    start = projector.result().image
    snaps = list(projector.steps())
    assert len(snaps) == 3 and all(np.isnan(s.loss) for s in snaps)
    for snap in snaps:  # no step ever scores as the best, so the best image stays the start image
        np.testing.assert_array_equal(snap.best_image, start)
    assert projector.result().best_step == -1


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_vgg_file_is_used_as_the_official_projector_uses_it(tmp_path):
    class FakeVGG(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, img: torch.Tensor, resize_images: bool = True, return_lpips: bool = False):
            assert not resize_images and return_lpips
            assert bool(img.min() >= 0.0) and bool(img.max() <= 255.0) and img.shape[1] == 3
            return self.conv(img / 255.0).flatten(1)

    path = str(tmp_path / 'vgg16.pt')
    torch.jit.save(torch.jit.script(FakeVGG()), path)
    vgg = load_vgg(path)
    G = _G()
    _, target = _known_w(G, 0)
    loss = PerceptualLoss(target, vgg=vgg)
    assert loss.names == ['ms_ssim', 'laplacian_l1', 'vgg'] and 'VGG16' in loss.describe()
    total, parts = loss(torch.zeros([1, 3, 16, 16]))
    assert parts['vgg'] > 0 and torch.isfinite(total)

    (tmp_path / 'not_vgg.pt').write_bytes(b'no torchscript here')
    with pytest.raises(StylescopeError, match='not a TorchScript file'):
        load_vgg(str(tmp_path / 'not_vgg.pt'))
    with pytest.raises(StylescopeError, match='does not exist'):
        load_vgg(str(tmp_path / 'missing.pt'))


def test_ms_ssim_is_one_for_equal_images_and_drops_with_noise():
    x = torch.rand([1, 3, 32, 32]) * 2 - 1
    assert abs(float(ms_ssim(x, x)) - 1) < 1e-5
    assert float(ms_ssim(x, x + 0.3 * torch.randn_like(x))) < 0.95


# --- the project command ---------------------------------------------------------------------------

def _project(net_file, photo, outdir, *extra):
    return main.main(['project', '--network', net_file[0], '--target', photo, '--outdir', str(outdir),
                      '--num-steps', '8', '--device', 'cpu', *extra])


def _check_outputs(outdir, G):
    for name in ('target.png', 'proj.png', 'projected_w.npz', 'projected_noise.npz', 'projection.json'):
        assert (outdir / name).is_file(), name
    assert not [p for p in os.listdir(outdir) if p.startswith('.')]  # no temporary files left
    with np.load(outdir / 'projected_w.npz') as data:
        w = data['w']
        meta = json.loads(str(data['meta']))
    assert w.shape == (1, G.num_ws, G.w_dim) and w.dtype == np.float32 and np.isfinite(w).all()
    assert np.asarray(PIL.Image.open(outdir / 'proj.png')).shape == (16, 16, 3)
    assert np.asarray(PIL.Image.open(outdir / 'target.png')).shape == (16, 16, 3)
    assert json.loads((outdir / 'projection.json').read_text()) == meta
    return w, meta


def test_project_writes_the_official_outputs_and_generate_draws_them(net_file, photo, tmp_path, capsys):
    _, G, _ = net_file
    out = tmp_path / 'out'
    assert _project(net_file, photo, out, '--space', 'w+', '--w-plus-steps', '4', '--save-video') == 0
    printed = capsys.readouterr().out
    assert 'loss: 1 x discriminator features (2 scales) + 0.3 x MS-SSIM (2 scales)' in printed
    w, meta = _check_outputs(out, G)
    assert meta['loss']['parts'] == ['d_features', 'ms_ssim', 'laplacian_l1']
    assert meta['space'] == 'w+' and meta['steps_done'] == 12 and not meta['interrupted']
    assert meta['alignment']['alignment'] == 'center-crop'
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out / 'proj.mp4'))
    assert frames == 12

    gen = tmp_path / 'gen'
    assert main.main(['generate', '--network', net_file[0], '--projected-w', str(out / 'projected_w.npz'),
                      '--outdir', str(gen), '--device', 'cpu']) == 0
    drawn = np.asarray(PIL.Image.open(gen / 'proj00.png'))
    assert np.array_equal(drawn, render_ws(G, torch.from_numpy(w))[0])  # G's own noise_const, as official

    # --projected-noise: the optimised maps written beside it, so the picture is proj.png
    assert projection.companion_noise_file(out / 'projected_w.npz') == str(out / 'projected_noise.npz')
    assert main.main(['generate', '--network', net_file[0], '--projected-w', str(out / 'projected_w.npz'),
                      '--projected-noise', str(out / 'projected_noise.npz'), '--outdir', str(gen),
                      '--device', 'cpu']) == 0
    with_maps = np.asarray(PIL.Image.open(gen / 'proj00.png'))
    proj = np.asarray(PIL.Image.open(out / 'proj.png'))
    assert np.abs(with_maps.astype(int) - proj).max() <= 1
    maps = projection.load_noise_maps(out / 'projected_noise.npz', G)
    assert sorted(maps.names()) == sorted(noise_layers(G))
    assert np.array_equal(with_maps, render_ws(G, torch.from_numpy(w), noise_maps=maps)[0])


def test_projected_noise_files_are_checked(net_file, tmp_path, capsys):
    path, G, _ = net_file
    w = tmp_path / 'projected_w.npz'
    projection.save_projected_w(w, np.zeros([1, G.num_ws, G.w_dim], np.float32), dict(noise_file='gone.npz'))
    assert projection.companion_noise_file(w) is None  # the meta names a file that is not there
    small = tmp_path / 'small.npz'
    projection.save_noise_maps(small, {'b16.conv0': np.zeros([8, 8])})
    run = lambda *extra: main.main(['generate', '--network', path, '--outdir', str(tmp_path / 'g'),  # noqa: E731
                                    '--device', 'cpu', *extra])
    assert run('--projected-w', str(w), '--projected-noise', str(small)) == 2
    err = capsys.readouterr().err
    assert f"noise map file '{small}' does not fit: the noise map of layer 'b16.conv0' is 8x8" in err
    np.save(tmp_path / 'one.npy', np.zeros([16, 16]))
    assert run('--projected-w', str(w), '--projected-noise', str(tmp_path / 'one.npy')) == 2
    assert 'not a readable .npz of noise maps' in capsys.readouterr().err
    assert run('--seeds', '1', '--projected-noise', str(small)) == 2
    assert '--projected-noise goes with --projected-w' in capsys.readouterr().err
    # damaged files: one sentence each, no traceback
    (tmp_path / 'empty.npz').write_bytes(b'')
    (tmp_path / 'damaged.npz').write_bytes(b'PK\x03\x04 not a whole zip')
    np.savez(tmp_path / 'words.npz', **{'b4.conv1': np.full([4, 4], 'a')})
    unreadable = 'is not a readable NumPy file'
    for name, message in (('empty.npz', unreadable), ('damaged.npz', unreadable),
                          ('words.npz', "the noise map of layer 'b4.conv1' is not an array of numbers")):
        assert run('--projected-w', str(w), '--projected-noise', str(tmp_path / name)) == 2, name
        err = capsys.readouterr().err
        assert name in err and message in err and err.startswith('error: ') and err.count('\n') == 1, err


def test_generate_needs_seeds_or_projected_w(net_file, tmp_path, capsys):
    assert main.main(['generate', '--network', net_file[0], '--outdir', str(tmp_path)]) == 2
    assert '--projected-w' in capsys.readouterr().err


def test_ctrl_c_in_the_loop_keeps_the_best_step_and_writes_valid_outputs(net_file, photo, tmp_path,
                                                                          monkeypatch, capsys):
    _, G, _ = net_file
    real = projection.noise_regularization
    calls = []

    def interrupt_at_step_5(maps):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(maps)

    monkeypatch.setattr(projection, 'noise_regularization', interrupt_at_step_5)
    out = tmp_path / 'out'
    assert _project(net_file, photo, out, '--save-video') == 130
    assert 'interrupted after 5 of 8 steps' in capsys.readouterr().out
    _, meta = _check_outputs(out, G)
    assert meta['interrupted'] and meta['stopped_early'] and meta['steps_done'] == 5
    assert 0 <= meta['best_step'] <= 4
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out / 'proj.mp4'))
    assert frames == 5


@pytest.mark.parametrize('extra, message', [
    (['--landmarks', '10,10,30,10,12,30,60,30'], 'right mouth corner landmark (60, 30) lies outside'),
    (['--landmarks', '1,2,3'], 'bad --landmarks'),
    (['--landmarks', '10,10,10,10,20,30'], 'on one spot'),
    (['--loss-weights', 'lpips=1'], 'bad --loss-weights'),
])
def test_bad_landmarks_and_options_are_clear_errors(net_file, photo, tmp_path, capsys, extra, message):
    assert _project(net_file, photo, tmp_path / 'out', *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith('error: ') and err.count('\n') == 1


def test_a_target_that_is_not_an_image_is_a_clear_error(net_file, tmp_path, capsys):
    bad = tmp_path / 'photo.jpg'
    bad.write_bytes(b'this is not a jpeg')
    assert _project(net_file, str(bad), tmp_path / 'out') == 2
    assert f"target '{bad}' is not an image" in capsys.readouterr().err
    assert _project(net_file, str(tmp_path / 'missing.png'), tmp_path / 'out') == 2
    assert 'does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


# --- alignment -------------------------------------------------------------------------------------

def _dots(points, size=(220, 200)):
    """A grey photo with a red dot at the left eye and a green dot at the right eye."""
    w, h = size
    a = np.full((h, w, 3), 128, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for (x, y), colour in zip(points[:2], [(255, 0, 0), (0, 255, 0)]):
        a[(xx - x) ** 2 + (yy - y) ** 2 <= 9] = colour
    return PIL.Image.fromarray(a)


def _find(img, colour):
    ys, xs = np.nonzero(np.abs(img.astype(int) - np.array(colour)).sum(axis=-1) < 150)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize('degrees', [0, 30, -75])
def test_alignment_puts_the_eyes_where_ffhq_puts_them(degrees):
    # An upright face with eyes 40 px apart and the mouth 40 px below them: the FFHQ square has
    # half-side max(2 * 40, 1.8 * 40) = 80 around c = eye centre + 0.1 * (0, 40), so the eyes land
    # at x = (80 -+ 20) / 160 = 3/8 and 5/8 of the width, y = (80 - 4) / 160 = 0.475 of the height,
    # whatever the tilt of the face in the photo.
    upright = np.array([[80, 100], [120, 100], [85, 140], [115, 140]], dtype=np.float64)
    th = np.deg2rad(degrees)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    points = (upright - 110) @ rot.T + 110
    size = 64
    expected = np.array([[0.375, 0.475], [0.625, 0.475]]) * size - 0.5  # pixel centres
    assert np.allclose(quad_to_output(ffhq_quad(points), size, points[:2]), expected, atol=1e-9)
    out = align_face(_dots(points), points, size)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert np.abs(_find(out, (255, 0, 0)) - expected[0]).max() < 1.0
    assert np.abs(_find(out, (0, 255, 0)) - expected[1]).max() < 1.0
    # three points (eyes, mouth centre) give the same square as four
    three = np.concatenate([points[:2], points[2:].mean(axis=0, keepdims=True)])
    assert np.allclose(ffhq_quad(three), ffhq_quad(points))


def test_landmark_text_and_centre_crop(tmp_path):
    assert parse_landmarks('1,2, 3,4,5,6,7,8').tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert parse_landmarks('1,2,3,4,5,6').shape == (3, 2)
    photo = PIL.Image.fromarray(np.arange(30 * 50 * 3, dtype=np.uint8).reshape(30, 50, 3))
    crop = center_crop(photo, 30)
    assert np.array_equal(crop, np.asarray(photo)[:, 10:40])
    assert center_crop(photo, 8, channels=1).shape == (8, 8, 1)
    path = tmp_path / 'p.png'
    photo.save(path)
    target, info = prepare_target(str(path), 16, landmarks='10,10,20,10,15,20')
    assert target.shape == (16, 16, 3) and info['alignment'] == 'ffhq-landmarks'
    with pytest.raises(StylescopeError, match='left eye landmark'):
        prepare_target(str(path), 16, landmarks='-5,10,20,10,15,20')


def test_a_real_ctrl_c_writes_valid_outputs(net_file, photo, tmp_path):
    """SIGINT to a running `python main.py project --save-video`, as a terminal's Ctrl+C sends."""
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / 'out'
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, os.path.join(repo, 'main.py'), 'project', '--network', net_file[0],
                             '--target', photo, '--outdir', str(out), '--num-steps', '100000', '--save-video',
                             '--device', 'cpu'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    try:
        deadline = time.time() + 60
        while not (out / 'target.png').exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(1.5)  # some steps run
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert 'interrupted after' in stdout
    _, meta = _check_outputs(out, _G())
    assert meta['interrupted'] and meta['steps_done'] >= 1
    if (out / 'proj.mp4').exists():  # unless the signal landed in the encoder (then a warning says so)
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out / 'proj.mp4'))
        assert meta['steps_done'] - 1 <= frames <= meta['steps_done']
    else:
        assert 'proj.mp4 was not written' in stderr


def test_w_and_w_plus_projection_run_on_a_stylegan3_generator():
    """StyleGAN3 has no noise inputs: nothing but w (or w+) is optimised, and the result's image is
    its ws drawn by the network."""
    from tests.test_stylegan3 import make_G
    G = make_G('T').requires_grad_(False)
    torch.manual_seed(5)
    target = render_ws(G, G.mapping(torch.randn([1, G.z_dim]), None))[0]
    stats = projection.w_stats(G, samples=300)
    start = psnr(render_ws(G, stats[0].repeat(1, G.num_ws, 1))[0], target)
    for space in ('w', 'w+'):
        res = Projector(G, target, stats=stats, options=ProjectionOptions(num_steps=8, space=space, w_plus_steps=4)).run()
        assert res.noise == {} and res.steps_done == (8 if space == 'w' else 12)
        assert res.ws.shape == (1, G.num_ws, G.w_dim) and np.isfinite(res.ws).all()
        np.testing.assert_array_equal(render_ws(G, torch.from_numpy(res.ws))[0], res.image)
        assert psnr(res.image, target) > start, space


# --- automatic landmarks (the optional MediaPipe extra, faked here: its models are not installed) ---

class _FakeFaceMesh:
    """mediapipe.python.solutions.face_mesh as core.landmarks uses it: 468 landmarks in [0, 1] image
    units; the photo-left eye's contour points at (0.3, 0.4), the photo-right eye's at (0.7, 0.4),
    the lip corners 61 / 291 at (0.35, 0.75) / (0.65, 0.75). `face=False`: no face found."""
    face = True
    seen = []

    class FaceMesh:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def process(self, array):
            from types import SimpleNamespace
            from core import landmarks
            _FakeFaceMesh.seen.append(array.shape)
            if not _FakeFaceMesh.face:
                return SimpleNamespace(multi_face_landmarks=None)
            marks = [SimpleNamespace(x=0.5, y=0.5) for _ in range(468)]
            for i in landmarks.PHOTO_LEFT_EYE:
                marks[i] = SimpleNamespace(x=0.3, y=0.4)
            for i in landmarks.PHOTO_RIGHT_EYE:
                marks[i] = SimpleNamespace(x=0.7, y=0.4)
            marks[landmarks.PHOTO_LEFT_MOUTH] = SimpleNamespace(x=0.35, y=0.75)
            marks[landmarks.PHOTO_RIGHT_MOUTH] = SimpleNamespace(x=0.65, y=0.75)
            return SimpleNamespace(multi_face_landmarks=[SimpleNamespace(landmark=marks)])


@pytest.fixture
def fake_detector(monkeypatch):
    from core import landmarks
    _FakeFaceMesh.face, _FakeFaceMesh.seen = True, []
    monkeypatch.setattr(landmarks, '_face_mesh', lambda: _FakeFaceMesh)
    return _FakeFaceMesh


def test_detected_landmarks_are_in_core_align_order_and_photo_pixels(fake_detector):
    from core import landmarks
    photo = PIL.Image.new('RGB', (200, 100), (90, 80, 70))
    points = landmarks.detect(photo)
    np.testing.assert_allclose(points, [[59.5, 39.5], [139.5, 39.5], [69.5, 74.5], [129.5, 74.5]])
    big = PIL.Image.new('RGB', (4000, 2000))  # shrunk to 1024 for the detector, points back in full pixels
    np.testing.assert_allclose(landmarks.detect(big), [[1200, 800], [2800, 800], [1400, 1500], [2600, 1500]],
                               atol=2.5)
    assert fake_detector.seen[-1] == (512, 1024, 3)
    fake_detector.face = False
    assert landmarks.detect(photo) is None


def test_landmarks_auto_in_the_project_command(net_file, photo, tmp_path, fake_detector, monkeypatch, capsys):
    from core import landmarks
    out = tmp_path / 'out'
    assert _project(net_file, photo, out, '--landmarks', 'auto') == 0
    meta = json.loads((out / 'projection.json').read_text())
    assert meta['alignment']['alignment'] == 'ffhq-landmarks'
    np.testing.assert_allclose(meta['alignment']['landmarks'], [[13.9, 15.5], [33.1, 15.5], [16.3, 29.5],
                                                                [30.7, 29.5]], atol=0.01)
    fake_detector.face = False
    assert _project(net_file, photo, out, '--landmarks', 'auto') == 2
    assert f"no face was found in '{photo}'" in capsys.readouterr().err
    monkeypatch.setattr(landmarks, '_face_mesh', lambda: None)  # the extra not installed
    assert _project(net_file, photo, out, '--landmarks', 'auto') == 2
    err = capsys.readouterr().err
    assert "automatic landmarks need the optional MediaPipe detector: pip install 'stylescope[landmarks]'" in err
