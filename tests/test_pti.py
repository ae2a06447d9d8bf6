"""Pivotal tuning (core.pti), `project --space pti`, and batch projection (core.batch_projection,
`project --target FOLDER|FILES...`). Tiny networks (16x16, channel_max 32, w_dim 16), few steps."""
import copy
import csv
import json
import os

import numpy as np
import PIL.Image
import pytest
import torch

import main
from core import batch_projection, model_io, projection, pti
from core.image_losses import psnr
from core.latent import ws_from_seeds
from core.model_io import open_network, save_network
from core.noise import noise_layers
from core.projection import ProjectionOptions, Projector
from core.pti import PivotalTuner, PTIOptions, PTIProjector
from core.render import render_seeds, render_ws
from tests.test_projection import _D, _G, _known_w
from tests.test_stylegan3 import make_G

FAST_STATS = 1000
TINY_PTI = dict(learning_rate=3e-3, locality_alpha=8.0)  # a tiny net and 60 steps: a larger step, a nearer ball


def planted(G, seed):
    """A target the source network cannot draw: a known w drawn by G with its synthesis weights
    perturbed (30% of each weight tensor's spread), as a photo lies off a model's image manifold."""
    ws, _ = _known_w(G, seed)
    other = copy.deepcopy(G)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in other.synthesis.named_parameters():
            if name.endswith('weight'):
                p.add_(torch.randn(p.shape, generator=gen) * p.std() * 0.3)
    return render_ws(other, ws)[0]


@pytest.fixture(scope='module')
def nets():
    G, D = _G(noise_strength=0.05), _D()
    return G, D, projection.w_stats(G, samples=FAST_STATS)


@pytest.fixture(scope='module')
def net_file(tmp_path_factory, nets):
    G, D, _ = nets
    path = str(tmp_path_factory.mktemp('nets') / 'tiny.safetensors')
    save_network(path, G, D=D)
    return path


def photo_of(folder, G, seed, name=None):
    """A 'photo' file of a planted target, upscaled 2x (the centre crop brings it back to 16 px)."""
    img = PIL.Image.fromarray(planted(G, seed)).resize((32, 32), PIL.Image.NEAREST)
    path = folder / (name or f'face{seed}.png')
    img.save(path)
    return str(path)


# --- the tuning ------------------------------------------------------------------------------------

def test_pti_recovers_a_planted_target_far_better_than_w_plus(nets):
    G, D, stats = nets
    before = model_io.fingerprint(G)
    for seed in (0, 1):
        target = planted(G, seed)
        w_plus = Projector(G, target, D=D, stats=stats,
                           options=ProjectionOptions(num_steps=100, space='w+', w_plus_steps=60)).run()
        result = PTIProjector(G, target, D=D, stats=stats, options=ProjectionOptions(num_steps=100),
                              pti=PTIOptions(num_steps=60, **TINY_PTI)).run()
        # Measured: W+ 18.8 / 19.2 dB, the W pivot 14.6 / 13.4 dB, PTI 26.3 / 24.6 dB.
        assert psnr(w_plus.image, target) < 21, seed
        assert psnr(result.image, target) > 22.5, seed
        assert psnr(result.image, target) > psnr(w_plus.image, target) + 3, seed
        assert result.space == 'pti' and result.steps_done == 160 and not result.stopped
        assert result.tuning_steps == 60 and 100 <= result.best_step < 160
        np.testing.assert_array_equal(result.ws, result.pivot.ws)  # the pivot is the W projection's w
        assert np.allclose(result.ws, result.ws[:, :1])
        # the result's image is the tuned network's const-noise picture of the pivot
        drawn = render_ws(result.G, torch.from_numpy(result.ws))[0]
        np.testing.assert_array_equal(drawn, result.image)
        assert sorted(result.noise) == sorted(noise_layers(G))  # the maps it was drawn with: G's own const noise
        for name, array in result.noise.items():
            np.testing.assert_array_equal(array, G.synthesis.get_submodule(name).noise_const.numpy())
        # the mapping is the source's; the synthesis is not
        for (name, a), b in zip(result.G.mapping.state_dict().items(), G.mapping.state_dict().values()):
            assert torch.equal(a, b), name
        assert not all(torch.equal(a, b) for a, b in zip(result.G.synthesis.parameters(), G.synthesis.parameters()))
    assert model_io.fingerprint(G) == before  # the source is only read
    assert not any(p.requires_grad for p in G.parameters())


def test_the_locality_term_keeps_other_pictures_close_to_the_source(nets):
    G, D, stats = nets
    target = planted(G, 0)
    pivot = Projector(G, target, D=D, stats=stats, options=ProjectionOptions(num_steps=100)).run()
    seeds = list(range(20, 28))
    source = render_seeds(G, seeds)

    def tune(weight):
        tuner = PivotalTuner(G, target, pivot.ws, D=D,
                             options=PTIOptions(num_steps=60, locality_weight=weight, **TINY_PTI))
        for _ in tuner.steps():
            pass
        tuned = tuner.tuned_network()
        fit = psnr(render_ws(tuned, torch.from_numpy(pivot.ws))[0], target)
        others = np.mean([psnr(a, b) for a, b in zip(source, render_seeds(tuned, seeds))])
        return fit, others

    free_fit, free_others = tune(0.0)
    held_fit, held_others = tune(1.0)
    # Measured: without the term the other seeds' pictures drift to 19.3 dB of the source's; with
    # weight 1 they stay at 22.4 dB, while the photo still fits at 22.5 dB (26.9 without).
    assert held_others > free_others + 2, (held_others, free_others)
    assert held_fit > 20 and free_fit > held_fit


def test_the_locality_ball_lies_alpha_from_the_pivot(nets):
    G, D, _ = nets
    pivot = ws_from_seeds(G, [3]).numpy()
    tuner = PivotalTuner(G, render_ws(G, torch.from_numpy(pivot))[0], pivot, D=D,
                         options=PTIOptions(num_steps=1, locality_alpha=5.0, locality_samples=3))
    w_r = tuner.locality_ws()
    assert w_r.shape == (3, G.num_ws, G.w_dim)
    distance = (w_r - torch.from_numpy(pivot)).flatten(1).norm(dim=1)
    np.testing.assert_allclose(distance.numpy(), 5.0, rtol=1e-5)
    assert torch.allclose(w_r, w_r[:, :1].expand_as(w_r))  # a W pivot toward W samples: one w per code


def test_stop_keeps_the_best_tuning_step(nets):
    G, D, stats = nets
    target = planted(G, 1)
    run = PTIProjector(G, target, D=D, stats=stats, options=ProjectionOptions(num_steps=20),
                       pti=PTIOptions(num_steps=50, **TINY_PTI))
    stop = []
    losses = {}
    for snap in run.steps(cancel=lambda: bool(stop)):
        if snap.stage == 'pti':
            losses[snap.step] = snap.loss
        if snap.step == 34:
            stop.append(1)
    result = run.result()
    assert result.stopped and result.steps_done == 35 and result.tuning_steps == 15
    best = min(losses, key=losses.get)
    assert result.best_step == best and result.loss == losses[best]
    np.testing.assert_array_equal(render_ws(result.G, torch.from_numpy(result.ws))[0], result.image)

    # stopped during the pivot: no tuning, the W result stands, no network
    early = PTIProjector(G, target, D=D, stats=stats, options=ProjectionOptions(num_steps=20),
                         pti=PTIOptions(num_steps=5, **TINY_PTI))
    seen = []
    for snap in early.steps(cancel=lambda: len(seen) >= 4):
        seen.append(snap.stage)
    assert seen == ['w'] * 4
    result = early.result()
    assert result.G is None and result.stopped and result.tuning_steps == 0 and result.steps_done < 20


def test_pti_and_projection_run_on_a_stylegan3_generator(tmp_path):
    G = make_G('T').requires_grad_(False)
    torch.manual_seed(4)
    ws = G.mapping(torch.randn([1, G.z_dim]), None)
    target = render_ws(G, ws)[0]
    stats = projection.w_stats(G, samples=300)
    result = PTIProjector(G, target, stats=stats, options=ProjectionOptions(num_steps=6),
                          pti=PTIOptions(num_steps=4, learning_rate=1e-3, locality_alpha=5.0)).run()
    assert result.noise == {} and result.pivot.noise == {}  # StyleGAN3: no noise inputs
    assert result.tuning_steps == 4 and result.G is not None
    np.testing.assert_array_equal(render_ws(result.G, torch.from_numpy(result.ws))[0], result.image)
    assert psnr(result.image, target) >= psnr(result.pivot.image, target) - 0.5
    # its tuned file opens as a StyleGAN3 network and draws the same picture of the pivot
    path = tmp_path / 'tuned.safetensors'
    pti.save_tuned(path, result, G, 'sg3.pkl')
    opened = open_network(path)
    assert type(opened.G) is type(G) and opened.meta['pti']['source_fingerprint'] == model_io.fingerprint(G)
    np.testing.assert_array_equal(render_ws(opened.G, torch.from_numpy(result.ws))[0], result.image)


def test_project_writes_no_noise_file_for_a_network_without_noise_inputs(tmp_path, capsys):
    """StyleGAN3 has no noise maps: `project` writes no projected_noise.npz, its w file names
    none, and the loss it announces has no noise regularisation."""
    G = make_G('T').requires_grad_(False)
    path = tmp_path / 'sg3.safetensors'
    save_network(path, G)
    img = PIL.Image.fromarray(render_ws(G, G.mapping(torch.randn([1, G.z_dim]), None))[0])
    img.save(tmp_path / 'photo.png')
    out = tmp_path / 'proj'
    assert main.main(['project', '--network', str(path), '--target', str(tmp_path / 'photo.png'), '--outdir',
                      str(out), '--num-steps', '3', '--device', 'cpu']) in (0, None)
    printed = capsys.readouterr().out
    assert sorted(os.listdir(out)) == ['proj.png', 'projected_w.npz', 'projection.json', 'target.png']
    assert 'noise regularisation' not in printed and 'projected_noise' not in printed
    assert json.load(open(out / 'projection.json'))['noise_file'] is None
    assert projection.companion_noise_file(out / 'projected_w.npz') is None


# --- the tuned network's file, everywhere a network is taken ---------------------------------------

def _project(net_file, target, outdir, *extra):
    return main.main(['project', '--network', net_file, '--target', *([target] if isinstance(target, str) else target),
                      '--outdir', str(outdir), '--num-steps', '6', '--device', 'cpu', *extra])


def test_project_pti_writes_a_tuned_network_that_opens_everywhere(net_file, nets, tmp_path, capsys):
    G, _, _ = nets
    photo = photo_of(tmp_path, G, 0)
    out = tmp_path / 'out'
    assert _project(net_file, photo, out, '--space', 'pti', '--pti-steps', '5', '--pti-lr', '3e-3') == 0
    printed = capsys.readouterr().out
    assert 'pivot (W):' in printed and 'wrote target.png, proj.png, projected_w.npz, projected_noise.npz, ' \
                                      'projection.json, tuned.safetensors' in printed
    assert not [p for p in os.listdir(out) if p.startswith('.')]
    meta = json.loads((out / 'projection.json').read_text())
    assert meta['space'] == 'pti' and meta['steps_done'] == 11 and meta['pti']['file'] == 'tuned.safetensors'
    assert meta['pti']['tuning_steps'] == 5 and meta['psnr'] > 0

    tuned = open_network(out / 'tuned.safetensors')
    facts = tuned.meta['pti']
    with np.load(out / 'projected_w.npz') as data:
        w = data['w']
    np.testing.assert_allclose(np.array(facts['pivot'], dtype=np.float32), w[0])
    assert facts['source_fingerprint'] == model_io.fingerprint(G) and facts['source'] == os.path.abspath(net_file)
    assert facts['steps'] == 5 and pti.pti_source(tuned.meta) == (model_io.fingerprint(G), os.path.abspath(net_file))
    assert tuned.meta['fingerprint'] != model_io.fingerprint(G) and tuned.D is None
    proj = np.asarray(PIL.Image.open(out / 'proj.png'))
    np.testing.assert_array_equal(render_ws(tuned.G, torch.from_numpy(w))[0], proj)

    # generate --network tuned.safetensors: the pivot draws proj.png; seeds draw too
    gen = tmp_path / 'gen'
    assert main.main(['generate', '--network', str(out / 'tuned.safetensors'), '--projected-w',
                      str(out / 'projected_w.npz'), '--outdir', str(gen), '--device', 'cpu']) == 0
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(gen / 'proj00.png')), proj)
    assert main.main(['generate', '--network', str(out / 'tuned.safetensors'), '--projected-w',
                      str(out / 'projected_w.npz'), '--projected-noise', str(out / 'projected_noise.npz'),
                      '--outdir', str(gen), '--device', 'cpu']) == 0
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(gen / 'proj00.png')), proj)
    assert main.main(['generate', '--network', str(out / 'tuned.safetensors'), '--seeds', '0-1',
                      '--outdir', str(gen), '--device', 'cpu']) == 0
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(gen / 'seed0001.png')), render_seeds(tuned.G, [1])[0])
    assert main.main(['info', str(out / 'tuned.safetensors')]) == 0
    # and the explorer's open job tells it is tuned, and from which network
    from explorer import jobs
    info = jobs.network_info(tuned, 'cpu')
    assert info['tuned_from'] == model_io.fingerprint(G) and info['source_network'] == os.path.abspath(net_file)
    assert jobs.network_info(open_network(net_file), 'cpu')['tuned_from'] is None


def test_a_pti_stopped_in_the_pivot_writes_no_tuned_network(net_file, nets, tmp_path, monkeypatch, capsys):
    G, _, _ = nets
    photo = photo_of(tmp_path, G, 1)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'tuned.safetensors').write_bytes(b'an older run')
    real = projection.noise_regularization
    calls = []

    def interrupt(maps):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(maps)

    monkeypatch.setattr(projection, 'noise_regularization', interrupt)
    assert _project(net_file, photo, out, '--space', 'pti', '--pti-steps', '5') == 130
    captured = capsys.readouterr()
    assert 'interrupted after 2 of 11 steps' in captured.out
    assert 'no tuning step ran, so tuned.safetensors was not written' in captured.err
    assert not (out / 'tuned.safetensors').exists()  # not left beside outputs it does not belong to
    assert json.loads((out / 'projection.json').read_text())['pti']['file'] is None


def test_size_note_for_large_networks(nets):
    G, _, _ = nets
    assert pti.size_note(G) is None
    big = torch.nn.Linear(6000, 6000)  # 144 MB of float32
    assert '137 MiB' in pti.size_note(big) and 'whole generator for each photo' in pti.size_note(big)


# --- batch projection ------------------------------------------------------------------------------

def _rows(out):
    with open(out / 'summary.csv', newline='') as f:
        return list(csv.DictReader(f))


def test_a_killed_batch_is_resumed_skipping_finished_photos(net_file, nets, tmp_path, monkeypatch, capsys):
    G, _, _ = nets
    folder = tmp_path / 'photos'
    folder.mkdir()
    photos = [photo_of(folder, G, seed, name) for seed, name in ((0, 'a.png'), (1, 'b.png'), (2, 'c.png'))]
    (folder / 'notes.txt').write_text('not a photo')  # left out of the batch
    out = tmp_path / 'out'
    made = []
    real_init = Projector.__init__

    def counting_init(self, G, target, *args, **kwargs):
        made.append(target.copy())
        real_init(self, G, target, *args, **kwargs)

    monkeypatch.setattr(Projector, '__init__', counting_init)

    # the run is killed during photo b: a KeyboardInterrupt in its 4th step
    real_steps = Projector.steps

    def dying_steps(self, cancel=None):
        for i, snap in enumerate(real_steps(self, cancel)):
            if len(made) == 2 and i == 3:
                raise KeyboardInterrupt
            yield snap

    monkeypatch.setattr(Projector, 'steps', dying_steps)
    assert _project(net_file, str(folder), out) == 130
    assert 'interrupted during b.png: 1 of 3 photos are finished' in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ['a', 'summary.csv']  # b's half-done folder is gone, nothing hidden left
    assert sorted(os.listdir(out / 'a')) == sorted(['target.png', 'proj.png', 'projected_w.npz',
                                                    'projected_noise.npz', 'projection.json'])
    rows = _rows(out)
    assert [r['file'] for r in rows] == [photos[0]] and rows[0]['space'] == 'w' and rows[0]['steps'] == '6'
    a_proj = (out / 'a' / 'proj.png').read_bytes()

    # a real kill leaves at most a hidden temporary folder: the next run removes it
    (out / '.b.0123abcd.tmp').mkdir()
    (out / '.b.0123abcd.tmp' / 'proj.png').write_bytes(b'half')
    monkeypatch.setattr(Projector, 'steps', real_steps)
    made.clear()
    assert _project(net_file, str(folder), out) == 0
    assert 'batch of 3 photos (w): 1 already finished' in capsys.readouterr().out
    assert len(made) == 2  # b and c only: a was skipped
    assert sorted(os.listdir(out)) == ['a', 'b', 'c', 'summary.csv']
    assert (out / 'a' / 'proj.png').read_bytes() == a_proj  # untouched
    rows = _rows(out)
    assert [r['file'] for r in rows] == photos and {r['space'] for r in rows} == {'w'}
    for row, name in zip(rows, 'abc'):
        record = json.loads((out / name / 'projection.json').read_text())
        assert float(row['psnr']) == pytest.approx(record['psnr'], abs=1e-3) and float(row['seconds']) > 0
        assert 0 < float(row['ssim']) <= 1

    # once more: nothing to do
    made.clear()
    assert _project(net_file, str(folder), out) == 0
    assert made == [] and len(_rows(out)) == 3

    # other settings into the same folder: a sentence, nothing overwritten
    assert _project(net_file, str(folder), out, '--space', 'w+') == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and "holds a projection made with other settings (space w, 6 W steps" in err
    assert (out / 'a' / 'proj.png').read_bytes() == a_proj


def test_a_batch_of_files_with_pti_and_clashing_names(net_file, nets, tmp_path, capsys):
    G, _, _ = nets
    (tmp_path / 'x').mkdir()
    (tmp_path / 'y').mkdir()
    one = photo_of(tmp_path / 'x', G, 0, 'face.png')
    two = photo_of(tmp_path / 'y', G, 1, 'face.png')
    out = tmp_path / 'out'
    assert _project(net_file, [one, two], out, '--space', 'pti', '--pti-steps', '2') == 0
    assert sorted(os.listdir(out)) == ['face', 'face-png', 'summary.csv']
    for name in ('face', 'face-png'):
        assert open_network(out / name / 'tuned.safetensors').meta['pti']['steps'] == 2
    rows = _rows(out)
    assert [r['file'] for r in rows] == [one, two] and [r['space'] for r in rows] == ['pti', 'pti']
    assert [r['steps'] for r in rows] == ['8', '8']


@pytest.mark.parametrize('extra, message', [
    (['--landmarks', '1,1,2,1,1,2,2,2'], '--landmarks are the points of one photo'),
    (['--pti-lr', '0'], 'argument --pti-lr: 0 is not allowed'),
])
def test_batch_and_pti_flags_are_checked(net_file, nets, tmp_path, capsys, extra, message):
    G, _, _ = nets
    photos = [photo_of(tmp_path, G, 0, 'a.png'), photo_of(tmp_path, G, 1, 'b.png')]
    assert _project(net_file, photos, tmp_path / 'out', *extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1


def test_bad_batch_targets_stop_before_any_work(net_file, nets, tmp_path, capsys):
    G, _, _ = nets
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert _project(net_file, str(empty), tmp_path / 'out') == 2
    assert f"folder '{empty}' holds no photos" in capsys.readouterr().err
    good = photo_of(tmp_path, G, 0, 'good.png')
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not a png')
    assert _project(net_file, [good, str(bad)], tmp_path / 'out') == 2
    assert f"target '{bad}' is not an image that can be read" in capsys.readouterr().err
    assert not (tmp_path / 'out' / 'good').exists()  # checked before the first photo was projected
    assert _project(net_file, [good, good], tmp_path / 'out') == 2
    assert 'is given twice' in capsys.readouterr().err


def test_folder_names_and_settings_keys():
    names = batch_projection.folder_names(['/p/a.png', '/q/a.png', '/r/a.png', '/p/a b.jpg', '/p/.x.png',
                                           '/p/summary.csv.png'])
    assert names == ['a', 'a-png', 'a-2', 'a_b', 'x', 'summary.csv-png']  # never the summary's own name
    key = batch_projection.settings_key('pti', 10, None, 5, 303, 'abc')
    assert key == dict(space='pti', num_steps=10, w_plus_steps=None, pti_steps=5, seed=303, network_fingerprint='abc')


def test_a_real_kill_leaves_only_finished_folders_and_the_rerun_finishes_the_rest(net_file, nets, tmp_path):
    """SIGKILL (no clean-up at all) to a running batch, right after its first photo is finished."""
    import signal
    import subprocess
    import sys
    import time
    G, _, _ = nets
    folder = tmp_path / 'photos'
    folder.mkdir()
    for seed, name in ((0, 'a.png'), (1, 'b.png'), (2, 'c.png')):
        photo_of(folder, G, seed, name)
    out = tmp_path / 'out'
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [sys.executable, os.path.join(repo, 'main.py'), 'project', '--network', net_file, '--target',
               str(folder), '--outdir', str(out), '--num-steps', '40', '--device', 'cpu']
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    try:
        deadline = time.time() + 120
        while not (out / 'a').exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (out / 'a').is_dir(), 'the first photo never finished'
    visible = sorted(p for p in os.listdir(out) if not p.startswith('.'))
    finished = [p for p in visible if p != 'summary.csv']
    assert finished and all((out / p / 'projection.json').is_file() for p in finished)  # no half-written folder
    assert 'c' not in finished  # killed midway through the batch
    assert len(_rows(out)) <= len(finished)
    assert subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'}).returncode == 0
    assert sorted(os.listdir(out)) == ['a', 'b', 'c', 'summary.csv']  # the killed run's temporaries are gone
    assert [os.path.basename(r['file']) for r in _rows(out)] == ['a.png', 'b.png', 'c.png']


def test_a_tuned_network_projects_with_its_sources_discriminator(net_file, nets, tmp_path):
    """The tuned file keeps no D; a projection on it in the explorer uses the source's."""
    from explorer import jobs
    G, D, _ = nets
    result = PTIProjector(G, planted(G, 0), D=D, options=ProjectionOptions(num_steps=2, w_avg_samples=200),
                          pti=PTIOptions(num_steps=1)).run()
    path = tmp_path / 'tuned.safetensors'
    pti.save_tuned(path, result, G, net_file)
    found, notes = jobs._open_discriminator(open_network(path), 'cpu')
    assert notes == [] and found is not None
    assert all(torch.equal(a, b) for a, b in zip(found.state_dict().values(), D.state_dict().values()))
    # a source file that now holds another network: its D is not used, and a sentence says why
    pti.save_tuned(path, result, _G(noise_strength=0.3), net_file)
    found, notes = jobs._open_discriminator(open_network(path), 'cpu')
    assert found is None and 'holds another network now' in notes[0]
    # a source that is gone: no D (the tuned file has none)
    pti.save_tuned(path, result, G, str(tmp_path / 'gone.safetensors'))
    assert jobs._open_discriminator(open_network(path), 'cpu') == (None, [])
