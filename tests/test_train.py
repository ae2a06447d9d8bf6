"""Training: presets, losses, a tiny run through the CLI, exact resume, kill safety, fine-tuning
an official pickle. Networks are tiny (16x16, 32 channels, z/w 32) and runs a few dozen images."""
import json
import os

import numpy as np
import PIL.Image
import pytest
import torch

import main
from core.errors import StylescopeError
from core.model_io import open_network
from core.networks import Discriminator, Generator
from tests.official_pickle import write_official_pickle
from train import snapshot
from train.loop import Resume, training_loop
from train.loss import StyleGAN2Loss
from train.presets import make_config

TINY_FLAGS = ['--cfg', 'small', '--cbase', '512', '--cmax', '32', '--zdim', '32', '--map', '2', '--batch', '4',
              '--mbstd-group', '2', '--tick', '0.016', '--device', 'cpu']
TINY = dict(cbase=512, cmax=32, z_dim=32, map=2, batch=4, mbstd=2, tick=0.016, device='cpu')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """32 images 16x16: a bright square on a plain colour, different in each."""
    root = tmp_path_factory.mktemp('data') / 'blobs'
    root.mkdir()
    rnd = np.random.RandomState(0)
    for i in range(32):
        img = np.zeros((16, 16, 3), np.uint8) + rnd.randint(0, 256, 3).astype(np.uint8)
        y, x = rnd.randint(0, 12, 2)
        img[y:y + 5, x:x + 5] = 255
        PIL.Image.fromarray(img).save(root / f'img{i:03d}.png')
    return str(root)


def _states_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# -- presets ------------------------------------------------------------------------------------

def test_presets_follow_the_official_table():
    auto = make_config('auto', 256, gpus=1)
    assert (auto.batch, auto.mbstd, auto.cbase, auto.lrate, auto.map) == (16, 4, 16384, 0.0025, 2)
    assert auto.gamma == pytest.approx(0.0002 * 256 ** 2 / 16) and auto.ema == pytest.approx(5)
    auto8 = make_config('auto', 1024, gpus=8)
    assert (auto8.batch, auto8.batch_gpu, auto8.lrate, auto8.cbase) == (32, 4, 0.002, 32768)
    p256 = make_config('paper256', 256)
    assert (p256.batch, p256.batch_gpu, p256.mbstd, p256.gamma, p256.ema, p256.map, p256.ramp) == \
        (64, 8, 8, 1, 20, 8, None)
    cifar = make_config('cifar', 32)
    assert (cifar.pl_weight, cifar.style_mixing, cifar.D_architecture, cifar.gamma) == (0, 0, 'orig', 0.01)
    small = make_config('small', 64)
    assert (small.cmax, small.z_dim, small.batch, small.tick) == (128, 128, 16, 1)
    over = make_config('paper512', 512, batch=16, gamma=3, kimg=10, lrate=0.001, map=4, ema=2, mirror=True,
                       aug='fixed', p=0.3, target=0.7, snap=5, seed=9)
    assert (over.batch, over.gamma, over.kimg, over.lrate, over.map, over.ema, over.mirror, over.aug, over.p,
            over.target, over.snap, over.seed) == (16, 3, 10, 0.001, 4, 2, True, 'fixed', 0.3, 0.7, 5, 9)
    with pytest.raises(StylescopeError, match='--batch 6 is not a multiple'):
        make_config('auto', 64, gpus=4, batch=6, batch_gpu=2)
    with pytest.raises(StylescopeError, match="unknown --cfg 'huge'"):
        make_config('huge', 64)


# -- losses and optimisers ------------------------------------------------------------------------

def test_each_phase_gives_finite_gradients_to_its_network_only():
    torch.manual_seed(0)
    G = Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=16, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=512, channel_max=32)).train()
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=512, channel_max=32,
                      epilogue_kwargs=dict(mbstd_group_size=2)).train()
    G.requires_grad_(False)
    D.requires_grad_(False)
    loss = StyleGAN2Loss(G, D, r1_gamma=1.0)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    z, c = torch.randn(4, 32), torch.zeros(4, 0)
    for phase, net, other, stat in (('Gmain', G, D, 'Loss/G/loss'), ('Greg', G, D, 'Loss/pl_penalty'),
                                    ('Dmain', D, G, 'Loss/D/loss'), ('Dreg', D, G, 'Loss/r1_penalty')):
        net.requires_grad_(True)
        for p in list(G.parameters()) + list(D.parameters()):
            p.grad = None
        stats = loss.accumulate_gradients(phase, real, c, z, c, gain=4)
        net.requires_grad_(False)
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), phase
        assert sum(g.abs().sum() for g in grads) > 0
        assert all(p.grad is None for p in other.parameters())
        assert torch.isfinite(stats[stat]).all()
    assert float(loss.pl_mean) > 0   # the path-length mean moved from 0 by pl_decay


# -- a run, end to end --------------------------------------------------------------------------

def test_tiny_run_through_the_cli_then_resume_latest(data, tmp_path, capsys):
    outdir = str(tmp_path / 'runs')
    argv = ['train', '--data', data, '--outdir', outdir, '--kimg', '0.068', '--snap', '2',
            '--metrics', 'pxfid64', *TINY_FLAGS]
    assert main.main(argv) == 0
    run_dir = os.path.join(outdir, '00000-blobs-small')
    files = set(os.listdir(run_dir))
    assert {'training_options.json', 'reals.png', 'fakes_init.png', 'stats.jsonl', 'fakes000000.png',
            'network-snapshot-000000.safetensors', 'training-state-000000.pt', 'metric-pxfid64.jsonl'} <= files
    stats = [json.loads(line) for line in open(os.path.join(run_dir, 'stats.jsonl'))]
    assert [s['tick'] for s in stats] == [0, 1, 2, 3, 4]
    for key in ('Loss/G/loss', 'Loss/D/loss', 'sec/kimg', 'Progress/augment'):
        assert all(np.isfinite(s[key]) for s in stats), key
    g_losses = [s['Loss/G/loss'] for s in stats]
    assert max(g_losses) - min(g_losses) > 1e-3                 # the losses move
    assert any('Loss/r1_penalty' in s for s in stats) and any('Loss/pl_penalty' in s for s in stats)
    net = open_network(run_dir, want_D=True)
    assert net.G.img_resolution == 16 and net.D is not None
    assert net.meta['cur_nimg'] == 68 and net.meta['training_set_kwargs']['resolution'] == 16
    assert 0 <= net.meta['augment_p'] < 1
    metric = json.loads(open(os.path.join(run_dir, 'metric-pxfid64.jsonl')).readline())
    assert np.isfinite(metric['results']['pxfid64'])

    capsys.readouterr()
    assert main.main(['train', '--resume', 'latest', '--outdir', outdir, '--kimg', '0.1', '--gamma', '5']) == 0
    captured = capsys.readouterr()
    assert '--gamma is ignored' in captured.err and 'continuing' in captured.out
    assert open_network(run_dir).meta['cur_nimg'] == 100
    kimgs = [json.loads(line)['kimg'] for line in open(os.path.join(run_dir, 'stats.jsonl'))]
    assert kimgs == sorted(kimgs) and kimgs[-1] == pytest.approx(0.1)
    assert len(os.listdir(outdir)) == 1   # continued in place


def test_resume_equals_an_uninterrupted_run(data, tmp_path):
    """Interrupted at a snapshot and resumed: bit-identical weights, on CPU. ADA is forced on
    (target 0), so augmentation, the p update and the regularisation phases all take part."""
    def cfg(kimg):
        return make_config('small', 16, data=data, kimg=kimg, snap=1, target=0.0, **TINY)
    whole = training_loop(cfg(0.072), snapshot.new_run_dir(str(tmp_path), 'whole'), progress=False)
    run_dir = snapshot.new_run_dir(str(tmp_path), 'split')
    training_loop(cfg(0.036), run_dir, progress=False)
    net_path, state_path, state = snapshot.load_complete(run_dir)
    assert state['cur_nimg'] == 36
    resumed = training_loop(cfg(0.072), run_dir, Resume('continue', net_path, state_path), progress=False)
    assert whole['augment_p'] > 0
    for key in ('G', 'D', 'G_ema'):
        assert _states_equal(whole[key], resumed[key]), key
    assert whole['augment_p'] == resumed['augment_p'] and whole['pl_mean'] == resumed['pl_mean']


def test_a_killed_snapshot_write_never_counts(data, tmp_path):
    run_dir = snapshot.new_run_dir(str(tmp_path), 'kill')
    training_loop(make_config('small', 16, data=data, kimg=0.004, snap=1, **TINY), run_dir, progress=False)
    good = snapshot.load_complete(run_dir)
    assert good is not None and good[2]['cur_nimg'] == 4
    # A kill after the state file of a later snapshot was written but before its network file:
    later = dict(good[2], cur_nimg=2000)
    torch.save(later, os.path.join(run_dir, snapshot.STATE_NAME.format(2)))
    # ... and a kill in the middle of writing a file leaves only a hidden temporary:
    open(os.path.join(run_dir, '.network-snapshot-000002.safetensors.1234abcd.tmp'), 'wb').write(b'half')
    # ... and a same-numbered state that no longer matches its network file:
    torch.save(dict(good[2], cur_nimg=8), good[1])
    assert snapshot.load_complete(run_dir) is None
    # a kill between the network write and the final rename of a sub-kimg snapshot's state:
    # the matching state still waits as .new, and is taken
    torch.save(good[2], good[1] + '.new')
    assert snapshot.load_complete(run_dir)[0] == good[0]
    assert torch.load(good[1], weights_only=True)['cur_nimg'] == 4 and not os.path.exists(good[1] + '.new')
    # the next run in that folder clears the temporary
    training_loop(make_config('small', 16, data=data, kimg=0.008, snap=1, **TINY), run_dir,
                  Resume('continue', good[0], good[1]), progress=False)
    assert not [n for n in os.listdir(run_dir) if n.endswith('.tmp')]


def test_fine_tune_an_official_pickle_on_new_data(data, tmp_path):
    torch.manual_seed(5)
    kwargs = dict(z_dim=24, c_dim=0, w_dim=24, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=1),
                  synthesis_kwargs=dict(channel_base=256, channel_max=16))
    G = Generator(**kwargs).eval()
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16,
                      epilogue_kwargs=dict(mbstd_group_size=2)).eval()
    pkl = str(tmp_path / 'pretrained.pkl')
    write_official_pickle(pkl, G, D=D, G=G, augment_p=0.3)
    outdir = str(tmp_path / 'runs')
    assert main.main(['train', '--data', data, '--outdir', outdir, '--resume', pkl, '--kimg', '0.004',
                      *TINY_FLAGS]) == 0
    run_dir = snapshot.run_folders(outdir)[0]
    tuned = open_network(run_dir, want_training=True)
    assert tuned.G.init_kwargs['synthesis_kwargs']['channel_max'] == 16 and tuned.G.z_dim == 24
    before, after = G.state_dict(), tuned.meta['G_train'].state_dict()
    diffs = [(after[k] - before[k]).abs().max().item() for k in before if before[k].is_floating_point()]
    assert max(diffs) < 0.05 and max(diffs) > 0     # one small step away from the pickle's weights


def test_cancel_stops_between_steps(data, tmp_path):
    from core.errors import Cancelled
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2
    with pytest.raises(Cancelled, match='resume with --resume'):
        training_loop(make_config('small', 16, data=data, kimg=1, snap=1, **TINY),
                      snapshot.new_run_dir(str(tmp_path), 'c'), progress=False, cancel=cancel)


def test_bad_train_input_is_one_error_line(data, tmp_path, capsys):
    bad = tmp_path / 'bad'
    bad.mkdir()
    PIL.Image.new('RGB', (16, 12)).save(bad / 'a.png')
    assert main.main(['train', '--data', str(bad), '--outdir', str(tmp_path)]) == 2
    assert main.main(['train', '--outdir', str(tmp_path)]) == 2
    assert main.main(['train', '--resume', 'latest', '--outdir', str(tmp_path / 'none')]) == 2
    assert main.main(['train', '--data', data, '--metrics', 'fidd', '--outdir', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith('error: ') for line in err)
    assert 'not square' in err[0] and 'python main.py dataset' in err[0]
    assert '--data is required' in err[1] and 'no run folder' in err[2] and "unknown metric 'fidd'" in err[3]


def test_conditional_mirrored_run_with_fixed_p(data, tmp_path):
    labelled = tmp_path / 'labelled'
    labelled.mkdir()
    names = sorted(os.listdir(data))[:8]
    for i, name in enumerate(names):
        PIL.Image.open(os.path.join(data, name)).save(labelled / name)
    (labelled / 'dataset.json').write_text(json.dumps({'labels': [[n, i % 3] for i, n in enumerate(names)]}))
    outdir = str(tmp_path / 'runs')
    assert main.main(['train', '--data', str(labelled), '--outdir', outdir, '--cond', '--mirror', '--aug', 'fixed',
                      '--p', '0.5', '--augpipe', 'bg', '--kimg', '0.008', *TINY_FLAGS]) == 0
    net = open_network(snapshot.run_folders(outdir)[0], want_D=True)
    assert net.G.c_dim == 3 and net.D.c_dim == 3
    assert net.meta['augment_p'] == 0.5
    assert net.meta['training_set_kwargs']['xflip'] and net.meta['training_set_kwargs']['size'] == 16


def test_tensorboard_scalars_when_the_package_is_there(data, tmp_path, monkeypatch):
    import sys
    import types
    calls = []

    class Writer:
        def __init__(self, log_dir):
            calls.append(('init', log_dir))

        def add_scalar(self, tag, value, global_step=None, walltime=None):
            calls.append((tag, value))

        def flush(self):
            pass

        def close(self):
            calls.append(('close', None))
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', types.SimpleNamespace(SummaryWriter=Writer))
    run_dir = snapshot.new_run_dir(str(tmp_path), 'tb')
    training_loop(make_config('small', 16, data=data, kimg=0.008, snap=1, **TINY), run_dir, progress=False)
    tags = [tag for tag, _ in calls]
    assert tags[0] == 'init' and tags[-1] == 'close'
    assert {'Loss/G/loss', 'Loss/D/loss', 'sec/kimg', 'Progress/augment'} <= set(tags)


def test_sigkill_at_any_moment_then_resume_latest(data, tmp_path):
    """A real kill -9 while snapshots are being written every tick; the folder stays resumable."""
    import signal
    import subprocess
    import sys
    import time
    outdir = tmp_path / 'runs'
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [sys.executable, os.path.join(repo, 'main.py'), 'train', '--data', data, '--outdir', str(outdir),
            '--kimg', '1', '--snap', '1', *TINY_FLAGS[:-4], '--tick', '0.004', '--device', 'cpu']
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(outdir.glob('*/network-snapshot-*.safetensors')):
            time.sleep(0.05)
        time.sleep(0.7)   # several ticks later, somewhere inside a step or a snapshot write
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_dir = snapshot.run_folders(str(outdir))[0]
    net_path, _state_path, state = snapshot.load_complete(run_dir)
    assert open_network(net_path).meta['cur_nimg'] == state['cur_nimg'] > 0
    assert main.main(['train', '--resume', 'latest', '--outdir', str(outdir), '--kimg',
                      str(state['cur_nimg'] / 1000 + 0.008)]) == 0
    assert not [n for n in os.listdir(run_dir) if n.endswith('.tmp')]
    assert snapshot.load_complete(run_dir)[2]['cur_nimg'] == state['cur_nimg'] + 8


@pytest.mark.slow
def test_a_short_run_learns_the_data(data, tmp_path):
    """The offline FID of G_ema against the blobs falls well below its value at the start."""
    cfg = make_config('small', 16, data=data, kimg=0.4, snap=5, metrics=['pxfid256_full'], **TINY)
    run_dir = snapshot.new_run_dir(str(tmp_path), 'learn')
    training_loop(cfg, run_dir, progress=False)
    fids = [json.loads(line)['results']['pxfid256_full'] for line in open(os.path.join(run_dir,
                                                                                   'metric-pxfid256_full.jsonl'))]
    assert len(fids) >= 3 and fids[-1] < 0.6 * fids[0], fids
