"""CLI: generate / convert / info, seeds and classes, and how bad input is reported.

Most cases call main.main(argv) in-process; two run `python main.py` end to end."""
import os
import pickle
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch

import main
from core.errors import StylescopeError
from core.latent import class_vector
from core.seeds import parse_seeds, z_from_seed
from core.model_io import fingerprint, open_network, save_network
from core.networks import Discriminator, Generator
from tests.official_pickle import write_official_pickle

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(z_dim=16, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=512, channel_max=32))


def _tiny_generator(c_dim=0, seed=1):
    torch.manual_seed(seed)
    G = Generator(c_dim=c_dim, **TINY).eval().requires_grad_(False)
    G.mapping.w_avg.copy_(torch.randn(G.w_dim))  # a trained-looking w_avg, so truncation shows
    return G


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A small unconditional model with D, saved as .safetensors; returns (path, G)."""
    G = _tiny_generator()
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=512, channel_max=32).eval()
    path = tmp_path_factory.mktemp('nets') / 'tiny.safetensors'
    save_network(str(path), G, D=D)
    return str(path), G


@pytest.fixture(scope='module')
def tiny_official(tmp_path_factory, tiny):
    """The same G_ema in an official-layout network pickle, with D, a distinct training G and
    augment p; returns (path, G_ema, G_train)."""
    G_ema = _tiny_generator()
    G_train = _tiny_generator(seed=3)
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=512, channel_max=32).eval()
    path = tmp_path_factory.mktemp('nets') / 'network-snapshot-000100.pkl'
    write_official_pickle(str(path), G_ema, D=D, G=G_train, augment_p=0.25)
    return str(path), G_ema, G_train


@pytest.fixture(scope='module')
def tiny_conditional(tmp_path_factory):
    G = _tiny_generator(c_dim=3, seed=2)
    path = tmp_path_factory.mktemp('nets') / 'tiny_cond.safetensors'
    save_network(str(path), G)
    return str(path), G


def _official_pixels(G, seed, psi=1.0, cutoff=None, label=None):
    """What the official generate.py computes for one seed (its formula, written out here)."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim))
    with torch.no_grad():
        img = G(z, label, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode='const')
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()


def _read(path):
    return np.asarray(PIL.Image.open(path).convert('RGB'))


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ') and 'Traceback' not in err[0], err
    return err[0]


# --- latents -----------------------------------------------------------------------------------

def test_parse_seeds_ranges_are_inclusive():
    assert parse_seeds('0-3,42') == [0, 1, 2, 3, 42]
    assert parse_seeds(' 7 ') == [7]
    assert parse_seeds('5-5,1') == [5, 1]


@pytest.mark.parametrize('text', ['', 'a', '3-1', '1,,2', '-1', '1-2-3', '1.5', '4294967296'])
def test_parse_seeds_rejects_bad_lists(text):
    with pytest.raises(StylescopeError, match=r"^bad seed list '.*': use numbers and ranges like 0-7,42$"):
        parse_seeds(text)


def test_z_from_seed_is_the_official_convention():
    np.testing.assert_array_equal(z_from_seed(42, 16), np.random.RandomState(42).randn(1, 16))


def test_class_vector():
    assert class_vector(0, None) is None and class_vector(0, 5) is None
    assert class_vector(4, 2).tolist() == [[0, 0, 1, 0]]
    with pytest.raises(StylescopeError, match='conditional'):
        class_vector(4, None)
    for bad in (4, -1):
        with pytest.raises(StylescopeError, match='out of range'):
            class_vector(4, bad)


# --- generate ----------------------------------------------------------------------------------

@pytest.mark.parametrize('file_kind', ['safetensors', 'official pickle'])
def test_generate_matches_official_formula(tiny, tiny_official, tmp_path, file_kind):
    path, G = tiny if file_kind == 'safetensors' else tiny_official[:2]
    out = tmp_path / 'out'
    argv = ['generate', '--network', path, '--seeds', '3-4,42', '--trunc', '0.7', '--trunc-cutoff', '2',
            '--outdir', str(out), '--batch', '1', '--device', 'cpu']
    assert main.main(argv) == 0
    assert sorted(os.listdir(out)) == ['seed0003.png', 'seed0004.png', 'seed0042.png']
    for seed in (3, 4, 42):
        np.testing.assert_array_equal(_read(out / f'seed{seed:04d}.png'), _official_pixels(G, seed, 0.7, 2))
    assert PIL.Image.open(out / 'seed0042.png').text['seed'] == '42'


def test_generate_batched_and_grid(tiny, tmp_path):
    path, G = tiny
    assert main.main(['generate', '--network', path, '--seeds', '0-4', '--grid', '--outdir', str(tmp_path)]) == 0
    grid = _read(tmp_path / 'grid.png')
    assert grid.shape == (2 * 16, 3 * 16, 3)  # 5 images: 3 columns, 2 rows
    for seed in range(5):
        tile = _read(tmp_path / f'seed{seed:04d}.png')
        row, col = divmod(seed, 3)
        np.testing.assert_array_equal(grid[row * 16:(row + 1) * 16, col * 16:(col + 1) * 16], tile)
        # batches differ from batch 1 only in float rounding (environment.md): at most one level
        diff = np.abs(tile.astype(int) - _official_pixels(G, seed).astype(int))
        assert diff.max() <= 1


def test_generate_conditional_needs_a_class_in_range(tiny_conditional, tmp_path, capsys):
    path, G = tiny_conditional
    base = ['generate', '--network', path, '--seeds', '1', '--outdir', str(tmp_path), '--batch', '1']
    assert main.main(base) == 2
    assert 'pass --class' in _error_line(capsys)
    assert main.main(base + ['--class', '3']) == 2
    assert 'class 3 is out of range' in _error_line(capsys)
    assert main.main(base + ['--class', '1']) == 0
    np.testing.assert_array_equal(_read(tmp_path / 'seed0001.png'),
                                  _official_pixels(G, 1, label=torch.tensor([[0., 1., 0.]])))


def test_generate_warns_that_class_is_ignored_on_unconditional(tiny, tmp_path, capsys):
    assert main.main(['generate', '--network', tiny[0], '--seeds', '1', '--class', '2', '--outdir', str(tmp_path)]) == 0
    assert 'warning: --class is ignored' in capsys.readouterr().err


def test_generate_defaults_to_the_bundled_or_random_network(tmp_path):
    assert main.main(['generate', '--seeds', '5', '--outdir', str(tmp_path / 'new' / 'dir')]) == 0
    assert _read(tmp_path / 'new' / 'dir' / 'seed0005.png').shape == (64, 64, 3)


@pytest.mark.parametrize('extra, message', [
    (['--seeds', '1-x'], "bad seed list '1-x'"),
    (['--seeds', '1', '--batch', '0'], 'argument --batch: 0 is not allowed'),
    (['--seeds', '1', '--trunc-cutoff', '-1'], 'argument --trunc-cutoff: -1 is not allowed'),
])
def test_generate_bad_options(tiny, tmp_path, capsys, extra, message):
    assert main.main(['generate', '--network', tiny[0], '--outdir', str(tmp_path)] + extra) == 2
    assert message in _error_line(capsys)


# --- convert and info --------------------------------------------------------------------------

def test_convert_and_info_round_trip(tiny_official, tmp_path, capsys):
    path, G_ema, G_train = tiny_official
    dst = tmp_path / 'copy.safetensors'
    assert main.main(['convert', path, str(dst)]) == 0
    src_net, dst_net = open_network(path, want_D=True), open_network(str(dst), want_training=True)
    assert dst_net.meta['fingerprint'] == src_net.meta['fingerprint'] == fingerprint(G_ema)
    assert dst_net.D is not None
    assert fingerprint(dst_net.meta['G_train']) == fingerprint(G_train) != fingerprint(G_ema)
    assert dst_net.meta['augment_p'] == pytest.approx(0.25)
    assert dst_net.meta['converted_from_format'] == 'official-pkl'
    for a, b in zip(src_net.D.state_dict().values(), dst_net.D.state_dict().values()):
        assert torch.equal(a, b)
    capsys.readouterr()
    assert main.main(['info', str(dst)]) == 0
    out = capsys.readouterr().out.lower()
    for expected in ('16x16', 'num_ws', 'coarse', 'middle', 'fine', 'mapping', 'synthesis', 'discriminator',
                     src_net.meta['fingerprint'].lower()):
        assert expected in out, (expected, out)


def test_convert_picks_the_format_by_name_and_keeps_the_fingerprint(tiny, tmp_path, capsys):
    assert main.main(['convert', tiny[0], str(tmp_path / 'out.bin')]) == 2
    assert 'cannot tell the output format' in _error_line(capsys)
    assert not (tmp_path / 'out.bin').exists()
    for name in ('out.pkl', 'out.safetensors'):
        assert main.main(['convert', tiny[0], str(tmp_path / name)]) == 0
        assert fingerprint(open_network(str(tmp_path / name)).G) == fingerprint(tiny[1])
    assert main.main(['convert', tiny[0], str(tmp_path / 'as-official.bin'), '--format', 'official']) == 0
    assert open_network(str(tmp_path / 'as-official.bin')).meta['format'] == 'official-pkl'
    capsys.readouterr()
    assert main.main(['info', str(tmp_path / 'out.pkl')]) == 0
    assert 'official-pkl' in capsys.readouterr().out


# --- bad input -----------------------------------------------------------------------------------

class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _bad_files(tmp_path, tiny_path):
    garbage = tmp_path / 'garbage.pkl'
    garbage.write_bytes(os.urandom(2000))
    truncated = tmp_path / 'truncated.safetensors'
    data = open(tiny_path, 'rb').read()
    truncated.write_bytes(data[:len(data) // 2])
    refused = tmp_path / 'exploit.pkl'
    refused.write_bytes(pickle.dumps({'G_ema': _Exploit(tmp_path / 'pwned')}))
    unknown = tmp_path / 'model.txt'
    unknown.write_text('hello')
    return dict(missing=tmp_path / 'missing.pkl', garbage=garbage, truncated=truncated, refused=refused,
                unknown=unknown)


@pytest.mark.parametrize('kind', ['missing', 'garbage', 'truncated', 'refused', 'unknown'])
@pytest.mark.parametrize('command', ['generate', 'info'])
def test_bad_network_files_give_one_line_and_exit_2(tiny, tmp_path, capsys, kind, command):
    bad = str(_bad_files(tmp_path, tiny[0])[kind])
    argv = ['info', bad] if command == 'info' else ['generate', '--network', bad, '--seeds', '0',
                                                    '--outdir', str(tmp_path / 'o')]
    assert main.main(argv) == 2
    _error_line(capsys)
    assert not (tmp_path / 'pwned').exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main.main(['--debug', 'info', str(tmp_path / 'missing.pkl')]) == 2
    err = capsys.readouterr().err
    assert 'Traceback' in err and err.strip().splitlines()[-1].startswith('error: ')


# --- end to end ----------------------------------------------------------------------------------

def _run_main(*argv):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, os.path.join(REPO, 'main.py'), *argv], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_end_to_end_generate(tiny, tmp_path):
    result = _run_main('generate', '--network', tiny[0], '--seeds', '0-1', '--outdir', str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ['seed0000.png', 'seed0001.png']


def test_end_to_end_refused_pickle(tiny, tmp_path):
    refused = _bad_files(tmp_path, tiny[0])['refused']
    result = _run_main('info', str(refused))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in result.stderr
    assert not (tmp_path / 'pwned').exists()
