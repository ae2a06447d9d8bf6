"""Every command on broken and hostile input (issue 15): one sentence, bounded memory, nothing
half-written.

Each case builds its input at test time (small files that claim big things: nothing large is
ever written), runs `python main.py ...` in a fresh process under a memory limit and a timeout
(tests/hostile_runner.py forks each case from one process that has imported torch once), and
asserts: exit code 2, no traceback, exactly one line on stderr that starts with 'error: ', is
the last one, is short and names the file or flag at fault, no memory error, and nothing new in
the case's folder (no temporary '.*.tmp' file, no partial output).

Families (the issue's numbering):
  1 outputs that cannot be written      4 containers that claim more than they hold
  2 numbers that are not numbers        5 session files with the wrong shapes
  3 network files whose numbers lie     6 text that is not text
"""
import dataclasses
import json
import os
import re
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch

from core.allocator import keep_freed_memory
from core.direction_set import DirectionSet
from core.model_io import save_network
from core.session_file import encode_array, session_dict
from tests import hostile_files as hf
from tests.hostile_runner import CANNOT_DROP
from tests.official_pickle import write_official_pickle
from tests.tiny_nets import tiny_discriminator, tiny_generator

# The cases build torch files in this process, and torch.save may start threads whose malloc arenas
# outlive them; main.py configures glibc's malloc before any thread allocates, and so must a test
# process that later checks it (tests/test_images_device.py), so this is done here at import.
keep_freed_memory()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(REPO, 'tests', 'hostile_runner.py')
# torch alone maps ~0.7 GiB of address space on import; 3 GiB leaves the commands 2 GiB, far
# more than any tiny-network case needs and far less than any of the claims below.
MEM_LIMIT = 3 << 30
TIMEOUT_S = 60
MAX_ERROR_CHARS = 400  # one short sentence, not a paragraph
RES = 16
GIB = 1 << 30


# ----------------------------------------------------------------------------------------------
# The runner and the files every case may use

class Runner:
    def __init__(self, work):
        self.proc = subprocess.Popen([sys.executable, RUNNER, work], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=REPO)
        ready = self.proc.stdout.readline()
        assert ready and json.loads(ready).get('ready'), 'the case runner did not start'

    def run(self, argv, cwd, unprivileged=False, mem=MEM_LIMIT, timeout=TIMEOUT_S):
        case = dict(argv=[str(a) for a in argv], cwd=str(cwd), unprivileged=unprivileged, mem_bytes=mem,
                    timeout_s=timeout)
        self.proc.stdin.write(json.dumps(case) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, 'the case runner died'
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope='module')
def runner(tmp_path_factory):
    r = Runner(str(tmp_path_factory.mktemp('runner')))
    yield r
    r.close()


@dataclasses.dataclass
class Assets:
    root: str
    net: str          # tiny unconditional G + D, .safetensors
    cond: str         # tiny conditional G (3 classes)
    official: str     # the unconditional net as an official .pkl
    G: object
    dirs: str         # a Stylescope direction file for `net`
    photo: str
    data: str         # a training zip of 4 images
    session: str
    labels: str
    w: str            # projected_w.npz


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp('assets')
    G = tiny_generator(res=RES)
    D = tiny_discriminator(res=RES)
    net, cond, official = str(root / 'net.safetensors'), str(root / 'cond.safetensors'), str(root / 'net.pkl')
    save_network(net, G, D=D)
    save_network(cond, tiny_generator(c_dim=3, res=RES))
    write_official_pickle(official, G, D=D)
    rng = np.random.RandomState(0)
    dirs = str(root / 'dirs.npz')
    DirectionSet(rng.randn(2, G.w_dim), [1.0, 1.0], [0, 0], [G.num_ws, G.num_ws], ['a', 'b']).save(dirs)
    photo = str(root / 'photo.png')
    PIL.Image.fromarray(rng.randint(0, 255, [30, 40, 3], dtype=np.uint8)).save(photo)
    data = str(root / 'data.zip')
    with zipfile.ZipFile(data, 'w') as z:
        for i in range(4):
            img = PIL.Image.fromarray(rng.randint(0, 255, [RES, RES, 3], dtype=np.uint8))
            path = root / f'img{i}.png'
            img.save(path)
            z.write(path, f'00000/img{i:08d}.png')
    ws = rng.randn(G.num_ws, G.w_dim).astype(np.float32)
    session = hf.write_json(str(root / 'session.json'), _session(favourites=[_favourite(ws)]))
    labels = str(root / 'labels.csv')
    with open(labels, 'w') as f:
        f.write('seed,label\n' + ''.join(f'{s},{s % 2}\n' for s in range(8)))
    w = str(root / 'projected_w.npz')
    np.savez(w, w=ws[None])
    return Assets(str(root), net, cond, official, G, dirs, photo, data, session, labels, w)


def _favourite(array, **changes):
    return dict(dict(name='fav', state=dict(seed=0), ws=encode_array(array), thumbnail=None), **changes)


def _session(**changes):
    d = session_dict(dict(num_ws=8, w_dim=16), dict(seed=0), [], {})
    d.update(changes)
    return d


# ----------------------------------------------------------------------------------------------
# What every case must show

def _files(root):
    found = set()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def _tmp_names(root):
    return [name for name in _files(root) if re.search(r'(^|/)\.[^/]*\.tmp', name)]


def check_one_sentence(result, names, new_files, where=''):
    err = result['stderr']
    assert not result['timed_out'], f'{where}: ran past {TIMEOUT_S} s'
    assert result['signal'] is None, f"{where}: killed by signal {result['signal']}\n{err[-2000:]}"
    assert 'Traceback' not in err, f'{where}: a traceback\n{err[-3000:]}'
    assert 'MemoryError' not in err and "can't allocate" not in err, f'{where}: ran out of memory\n{err[-2000:]}'
    lines = [line for line in re.split(r'[\r\n]', err) if line.strip()]
    errors = [line for line in lines if line.startswith('error: ')]
    assert len(errors) == 1, f'{where}: want one error line, got {len(errors)}:\n{err[-3000:]}'
    assert lines[-1] == errors[0], f'{where}: the error line is not the last one:\n{err[-3000:]}'
    error = errors[0]
    assert result['rc'] == 2, f"{where}: exit code {result['rc']}, want 2: {error}"
    assert len(error) <= MAX_ERROR_CHARS, f'{where}: {len(error)} characters, not one short sentence: {error}'
    for name in names:
        assert name in error, f'{where}: the error does not name {name!r}: {error}'
    assert not new_files, f'{where}: left {sorted(new_files)} behind: {error}'
    return error


def check_one_warning(result, names, where=''):
    """For inputs a command may work around (labels it drops): exit 0, no traceback, the memory
    bound kept, and one line on stderr that starts with 'warning: ' and names the file."""
    err = result['stderr']
    assert not result['timed_out'] and result['signal'] is None, f'{where}: killed or timed out\n{err[-2000:]}'
    assert 'Traceback' not in err and 'MemoryError' not in err, f'{where}: a traceback\n{err[-3000:]}'
    assert result['rc'] == 0, f"{where}: exit code {result['rc']}, want 0\n{err[-2000:]}"
    warnings = [line for line in re.split(r'[\r\n]', err) if line.startswith('warning: ')]
    assert len(warnings) == 1, f'{where}: want one warning line, got {len(warnings)}:\n{err[-3000:]}'
    assert len(warnings[0]) <= MAX_ERROR_CHARS, f'{where}: not one short sentence: {warnings[0]}'
    for name in names:
        assert name in warnings[0], f'{where}: the warning does not name {name!r}: {warnings[0]}'
    return warnings[0]


@dataclasses.dataclass
class Case:
    family: int
    id: str
    build: object             # (case folder, Assets) -> (argv, [what the error must name])
    unprivileged: bool = False  # run without root's power to write into read-only folders
    allow: tuple = ()         # files the command may leave (relative to the case folder)
    warns: bool = False       # the command works around the input: exit 0 and one warning line

    def __str__(self):
        return f'{self.family}-{self.id}'


CASES = []


def case(family, id, **kwargs):
    def register(build):
        CASES.append(Case(family, id, build, **kwargs))
        return build
    return register


def add(family, id, build, **kwargs):
    CASES.append(Case(family, id, build, **kwargs))


def run_case(runner, assets, c, tmp_path):
    argv, names = c.build(tmp_path, assets)
    before = _files(tmp_path)
    result = runner.run(argv, tmp_path, unprivileged=c.unprivileged)
    if c.unprivileged and result['rc'] == CANNOT_DROP:
        pytest.skip("root's power to write into read-only folders cannot be dropped here")
    after = _files(tmp_path)
    new = {name for name in after - before if name not in c.allow} | set(_tmp_names(tmp_path))
    where = f'{c} ({" ".join(map(str, argv))[:300]})'
    if c.warns:
        assert not new, f'{where}: left {sorted(new)} behind'
        return check_one_warning(result, names, where)
    return check_one_sentence(result, names, new, where)


def readonly(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o555)
    return str(path)


def _b(path):
    return os.path.basename(os.fspath(path).rstrip('/'))


# ----------------------------------------------------------------------------------------------
# 1. Outputs that cannot be written: a read-only folder (as anyone but root sees it), a name
# taken by a folder, a folder under /proc (root may write the mode bits but not the place), a
# folder that is a file. Refused before the work where the place can be checked, else one
# sentence at the write; either way nothing is left behind.

PROC = '/proc/stylescope-bad-input'  # no process can create anything here


def _generate(a, *more):
    return ['generate', '--network', a.net, '--seeds', '0-2', *more]


def _video(a, out, *more):
    return ['video', '--network', a.net, '--seeds', '0,1', '--fps', '4', '--duration', '1', '--out', out, *more]


def _project(a, outdir, *more):
    return ['project', '--network', a.net, '--target', a.photo, '--num-steps', '2', '--outdir', outdir, *more]


def _train(a, outdir):
    return ['train', '--data', a.data, '--cfg', 'small', '--kimg', '0.004', '--outdir', outdir, '--batch', '2']


def _outdir_with_folder(d, name):
    """d/out, with a folder in the place of its output `name`."""
    hf.folder(d / 'out' / name)
    return d / 'out'


# name -> the command line, given the case folder d and the assets a, that writes to `out`
_WRITERS = {
    'generate': lambda d, a, out: _generate(a, '--outdir', out),
    'generate-grid': lambda d, a, out: _generate(a, '--grid', '--outdir', out),
    'generate-projected-w': lambda d, a, out: ['generate', '--network', a.net, '--projected-w', a.w, '--outdir', out],
    'project': lambda d, a, out: _project(a, out),
    'project-video': lambda d, a, out: _project(a, out, '--save-video'),
    'train': lambda d, a, out: _train(a, out),
}
for _name, _argv in _WRITERS.items():
    add(1, f'{_name}-readonly-outdir',
        lambda d, a, argv=_argv: (argv(d, a, os.path.join(readonly(d / 'ro'), 'out')), ['ro']), unprivileged=True)
    add(1, f'{_name}-readonly-existing-outdir',
        lambda d, a, argv=_argv: (argv(d, a, readonly(d / 'ro')), ['ro']), unprivileged=True)
    add(1, f'{_name}-outdir-is-a-file',
        lambda d, a, argv=_argv: (argv(d, a, hf.write_json(str(d / 'taken'), '{}')), ['taken']))
    add(1, f'{_name}-outdir-under-proc', lambda d, a, argv=_argv: (argv(d, a, PROC + '/out'), [PROC]))


add(1, 'generate-image-name-taken-by-a-folder',
    lambda d, a: (_generate(a, '--outdir', _outdir_with_folder(d, 'seed0001.png')), ['seed0001.png']))
add(1, 'generate-grid-name-taken-by-a-folder',
    lambda d, a: (_generate(a, '--grid', '--outdir', _outdir_with_folder(d, 'grid.png')), ['grid.png']))


for _output in ('proj.png', 'projected_w.npz', 'projected_noise.npz', 'projection.json', 'target.png'):
    add(1, f'project-{_output}-taken-by-a-folder',
        lambda d, a, o=_output: (_project(a, _outdir_with_folder(d, o)), [o]))
add(1, 'project-proj.mp4-taken-by-a-folder',
    lambda d, a: (_project(a, _outdir_with_folder(d, 'proj.mp4'), '--save-video'), ['proj.mp4']))

for _fmt in ('mp4', 'gif'):
    add(1, f'video-{_fmt}-readonly-folder',
        lambda d, a, f=_fmt: (_video(a, os.path.join(readonly(d / 'ro'), f'v.{f}')), ['ro']), unprivileged=True)
    add(1, f'video-{_fmt}-under-proc', lambda d, a, f=_fmt: (_video(a, f'{PROC}/v.{f}'), [PROC]))
    add(1, f'video-{_fmt}-in-proc', lambda d, a, f=_fmt: (_video(a, f'/proc/v.{f}'), ['/proc/v.' + f]))
    add(1, f'video-{_fmt}-name-taken-by-a-folder',
        lambda d, a, f=_fmt: (_video(a, hf.folder(str(d / f'v.{f}'))), [f'v.{f}']))
    add(1, f'video-{_fmt}-folder-is-a-file',
        lambda d, a, f=_fmt: (_video(a, os.path.join(hf.write_json(str(d / 'file'), '{}'), f'v.{f}')), ['file']))
add(1, 'video-png-readonly-folder',
    lambda d, a: (_video(a, os.path.join(readonly(d / 'ro'), 'frames')), ['ro']), unprivileged=True)
add(1, 'video-png-under-proc', lambda d, a: (_video(a, f'{PROC}/frames'), [PROC]))
add(1, 'video-png-in-proc', lambda d, a: (_video(a, '/proc/frames'), ['/proc/frames']))


@case(1, 'video-png-folder-not-empty')
def _(d, a):
    hf.folder(d / 'frames')
    hf.write_json(str(d / 'frames' / 'x.txt'), '{}')
    return _video(a, d / 'frames'), ['frames']


add(1, 'video-png-name-is-a-file', lambda d, a: (_video(a, hf.write_json(str(d / 'frames'), '{}')), ['frames']))

for _ext in ('safetensors', 'pkl', 'pt', 'onnx'):
    add(1, f'convert-{_ext}-readonly-folder',
        lambda d, a, e=_ext: (['convert', a.net, os.path.join(readonly(d / 'ro'), f'n.{e}')], ['ro']),
        unprivileged=True)
    add(1, f'convert-{_ext}-name-taken-by-a-folder',
        lambda d, a, e=_ext: (['convert', a.net, hf.folder(str(d / f'n.{e}'))], [f'n.{e}']))
    add(1, f'convert-{_ext}-under-proc', lambda d, a, e=_ext: (['convert', a.net, f'{PROC}/n.{e}'], [PROC]))
    add(1, f'convert-{_ext}-in-proc', lambda d, a, e=_ext: (['convert', a.net, f'/proc/n.{e}'], [f'/proc/n.{e}']))

_DIRECTIONS = {
    'pca': lambda a: ['directions', 'pca', '--network', a.net, '--samples', '64', '--components', '2'],
    'sefa': lambda a: ['directions', 'sefa', '--network', a.net, '--components', '2'],
    'svm': lambda a: ['directions', 'svm', '--network', a.net, '--labels', a.labels],
    'suggest': lambda a: ['directions', 'suggest', a.dirs, '--network', a.net, '--seeds', '0-1'],
    'import': lambda a: ['directions', 'import', a.w, '--network', a.net],
    'show': lambda a: ['directions', 'show', a.dirs, '--network', a.net, '--seeds', '0', '--steps', '2'],
}
for _action, _argv in _DIRECTIONS.items():
    _ext = 'png' if _action == 'show' else 'npz'
    add(1, f'directions-{_action}-readonly-folder',
        lambda d, a, f=_argv, e=_ext: (f(a) + ['--out', os.path.join(readonly(d / 'ro'), f'o.{e}')], ['ro']),
        unprivileged=True)
    add(1, f'directions-{_action}-name-taken-by-a-folder',
        lambda d, a, f=_argv, e=_ext: (f(a) + ['--out', hf.folder(str(d / f'o.{e}'))], [f'o.{e}']))
    add(1, f'directions-{_action}-under-proc',
        lambda d, a, f=_argv, e=_ext: (f(a) + ['--out', f'{PROC}/o.{e}'], [PROC]))
    add(1, f'directions-{_action}-in-proc', lambda d, a, f=_argv, e=_ext: (f(a) + ['--out', f'/proc/o.{e}'],
                                                                             [f'/proc/o.{e}']))



@case(1, 'metrics-readonly-run-folder', unprivileged=True, warns=True)
def _(d, a):
    # The numbers are still worth printing: a warning that they are not recorded, not an error.
    run = hf.folder(d / '00000-run')
    save_network(os.path.join(run, 'network-snapshot-000000.safetensors'), a.G)
    hf.write_json(os.path.join(run, 'training_options.json'), '{}')
    readonly(run)
    return ['metrics', '--network', run, '--data', a.data, '--metrics', 'pxfid8'], ['00000-run']

def _dataset(a, dest):
    return ['dataset', '--source', a.data, '--resolution', '8', '--dest', dest]


add(1, 'dataset-readonly-folder',
    lambda d, a: (_dataset(a, os.path.join(readonly(d / 'ro'), 'x.zip')), ['ro']), unprivileged=True)
add(1, 'dataset-name-taken-by-a-folder', lambda d, a: (_dataset(a, hf.folder(str(d / 'x.zip'))), ['x.zip']))
add(1, 'dataset-under-proc', lambda d, a: (_dataset(a, f'{PROC}/x.zip'), [PROC]))
add(1, 'dataset-in-proc', lambda d, a: (_dataset(a, '/proc/x.zip'), ['/proc/x.zip']))
add(1, 'dataset-folder-is-a-file',
    lambda d, a: (_dataset(a, os.path.join(hf.write_json(str(d / 'file'), '{}'), 'x.zip')), ['file']))


# ----------------------------------------------------------------------------------------------
# 2. Numbers that are not numbers: every numeric flag of every command, refused by the parser
# (one line, the flag and its allowed range named) before any file is opened.

NOT_NUMBERS = ('nan', 'inf', '-inf', 'abc')
_NUMERIC = {
    'generate': (lambda a: ['generate', '--network', a.net, '--seeds', '0', '--outdir', 'out'],
                 {'--trunc': NOT_NUMBERS + ('1e300',), '--trunc-cutoff': ('-1', 'x', '1e9'),
                  '--batch': ('0', '-1', '100000000', '2.5'), '--class': ('-1', 'x')}),
    'video': (lambda a: ['video', '--network', a.net, '--seeds', '0,1', '--out', 'v.gif'],
              {'--fps': NOT_NUMBERS + ('0', '-1', '100000'), '--duration': NOT_NUMBERS + ('0', '-5', '100000'),
               '--size': ('0', '-1', '100000', 'x'), '--quality': NOT_NUMBERS + ('0', '11'),
               '--amount': NOT_NUMBERS + ('1e300',), '--noise-seed': ('-1', '4294967296', 'x'),
               '--trunc': NOT_NUMBERS, '--trunc-cutoff': ('-1',), '--class': ('-1',)}),
    'pca': (lambda a: ['directions', 'pca', '--network', a.net, '--out', 'o.npz'],
            {'--samples': ('0', '1', '-5', '10000000000', 'x'), '--components': ('0', '-1', '1000000'),
             '--chunk': ('0', '-1', '100000000'), '--seed': ('-1', '4294967296'), '--class': ('-1',)}),
    'sefa': (lambda a: ['directions', 'sefa', '--network', a.net, '--out', 'o.npz'],
             {'--components': ('0', '-1', '1000000', 'x')}),
    'svm': (lambda a: ['directions', 'svm', '--network', a.net, '--out', 'o.npz', '--labels', a.labels],
            {'--psi': NOT_NUMBERS + ('1e300',)}),
    'suggest': (lambda a: ['directions', 'suggest', a.dirs, '--network', a.net, '--out', 'o.npz'],
                {'--alpha': NOT_NUMBERS + ('1e300',), '--psi': NOT_NUMBERS}),
    'show': (lambda a: ['directions', 'show', a.dirs, '--network', a.net, '--out', 'o.png'],
             {'--steps': ('0', '-1', '1000000', 'x'), '--alpha': NOT_NUMBERS, '--psi': NOT_NUMBERS,
              '--cell': ('0', '7', '1000000', 'x')}),
    'project': (lambda a: ['project', '--network', a.net, '--target', a.photo, '--outdir', 'out'],
                {'--num-steps': ('0', '-1', '1000000000', 'x'), '--w-plus-steps': ('-1', '1000000000', 'x'),
                 '--seed': ('-1', '4294967296'), '--class': ('-1',)}),
    'train': (lambda a: ['train', '--data', a.data, '--outdir', 'runs', '--dry-run'],
              {'--batch': ('0', '-2', '1000000'), '--batch-gpu': ('0', '-1'), '--gamma': NOT_NUMBERS + ('-1',),
               '--kimg': NOT_NUMBERS + ('0', '-1'), '--lrate': NOT_NUMBERS + ('0', '-0.1', '100'),
               '--map': ('0', '-1', '1000000'), '--ema': NOT_NUMBERS + ('-1',), '--p': NOT_NUMBERS + ('-0.1', '2'),
               '--target': NOT_NUMBERS + ('-0.1', '2'), '--snap': ('0', '-1'), '--tick': NOT_NUMBERS + ('0', '-1'),
               '--seed': ('-1', '4294967296'), '--subset': ('0', '-1'), '--cbase': ('0', '-1', '1000000000000'),
               '--cmax': ('0', '-1', '1000000'), '--zdim': ('0', '-1', '1000000'), '--mbstd-group': ('0', '-1'),
               '--workers': ('-1', '100000')}),
    'dataset': (lambda a: ['dataset', '--source', a.data, '--dest', 'x.zip', '--resolution', '8'],
                {'--resolution': ('0', '3', '-8', '1048576', '12', 'x'), '--max-images': ('0', '-1', 'x')}),
    'convert': (lambda a: ['convert', a.net, 'n.onnx'], {'--onnx-batch': ('0', '-1', '100000', 'x')}),
}
for _cmd, (_prefix, _flags) in _NUMERIC.items():
    for _flag, _values in _flags.items():
        for _value in _values:
            add(2, f'{_cmd}{_flag}={_value}',
                lambda d, a, p=_prefix, f=_flag, v=_value: (p(a) + [f'{f}={v}'], [f'argument {f}']))


def _more_than_the_command_can_do(d, a):
    return ['generate', '--network', a.net, '--seeds', '0-4294967295', '--outdir', 'out'], ['0-4294967295']


add(2, 'generate-seeds-0-4294967295', _more_than_the_command_can_do)
add(2, 'video-seeds-0-4294967295',
    lambda d, a: (['video', '--network', a.net, '--seeds', '0-4294967295', '--out', 'v.gif'], ['0-4294967295']))
add(2, 'video-seeds-more-keyframes-than-frames',
    lambda d, a: (['video', '--network', a.net, '--seeds', '0-99999', '--fps', '1', '--duration', '2', '--out',
                   'v.gif'], ['--seeds']))
add(2, 'suggest-seeds-0-99999',
    lambda d, a: (['directions', 'suggest', a.dirs, '--network', a.net, '--seeds', '0-99999', '--out', 'o.npz'],
                  ['--seeds']))
add(2, 'show-seeds-0-4294967295',
    lambda d, a: (['directions', 'show', a.dirs, '--network', a.net, '--seeds', '0-4294967295', '--out', 'o.png'],
                  ['0-4294967295']))
add(2, 'video-fps-times-duration',
    lambda d, a: (['video', '--network', a.net, '--seeds', '0,1', '--fps', '120', '--duration', '3600', '--out',
                   'v.mp4'], ['frames']))
add(2, 'video-gif-too-many-frames',
    lambda d, a: (['video', '--network', a.net, '--seeds', '0,1', '--fps', '60', '--duration', '1000', '--size',
                   '1024', '--out', 'v.gif'], ['--size']))
add(2, 'video-grid-huge', lambda d, a: (['video', '--network', a.net, '--seeds', '0', '--grid', '100000x100000',
                                         '--out', 'v.gif'], ['--grid']))
add(2, 'video-grid-zero', lambda d, a: (['video', '--network', a.net, '--seeds', '0', '--grid', '0x2',
                                         '--out', 'v.gif'], ['--grid']))
add(2, 'video-size-times-grid',
    lambda d, a: (['video', '--network', a.net, '--seeds', '0-63', '--grid', '8x8', '--size', '4096', '--out',
                   'v.mp4'], ['--size']))
add(2, 'show-grid-too-large-an-image',
    lambda d, a: (['directions', 'show', a.dirs, '--network', a.net, '--seeds', '0-99999', '--steps', '99',
                   '--out', 'o.png'], ['--seeds']))
add(2, 'metrics-pxfid-a-trillion',
    lambda d, a: (['metrics', '--network', a.net, '--data', a.data, '--metrics', 'pxfid999999999k'],
                  ['pxfid999999999k']))
add(2, 'train-metrics-pxfid-a-trillion',
    lambda d, a: (['train', '--data', a.data, '--outdir', 'runs', '--dry-run', '--metrics', 'pxkid999999999k'],
                  ['pxkid999999999k']))
add(2, 'svm-layers-huge',
    lambda d, a: (['directions', 'svm', '--network', a.net, '--out', 'o.npz', '--labels', a.labels, '--layers',
                   '0-99999999999999999999'], ['--layers']))
_DIGITS = '9' * 5000  # int() refuses strings of 4,300 digits and more
add(2, 'generate-seeds-5000-digits', lambda d, a: (['generate', '--network', a.net, '--seeds', _DIGITS, '--outdir',
                                                    'out'], ['bad seed list']))
add(2, 'show-only-a-huge-range', lambda d, a: (['directions', 'show', a.dirs, '--network', a.net, '--out', 'o.png',
                                                 '--only', '0-99999999999'], ['--only']))
add(2, 'show-only-5000-digits', lambda d, a: (['directions', 'show', a.dirs, '--network', a.net, '--out', 'o.png',
                                                '--only', _DIGITS], ['--only']))
add(2, 'video-sweep-name-5000-digits', lambda d, a: (['video', '--network', a.net, '--seeds', '0', '--sweep',
                                                       f'{a.dirs}:{_DIGITS}', '--out', 'v.gif'], ['direction']))
add(2, 'video-grid-5000-digits', lambda d, a: (['video', '--network', a.net, '--seeds', '0', '--grid',
                                                 f'{_DIGITS}x2', '--out', 'v.gif'], ['--grid']))
add(2, 'sefa-layers-5000-digits', lambda d, a: (['directions', 'sefa', '--network', a.net, '--out', 'o.npz',
                                                  '--layers', f'0-{_DIGITS}'], ['--layers']))
add(2, 'metrics-name-5000-digits', lambda d, a: (['metrics', '--network', a.net, '--data', a.data, '--metrics',
                                                   f'pxfid{_DIGITS}'], ['metric']))
add(2, 'project-landmarks-nan',
    lambda d, a: (['project', '--network', a.net, '--target', a.photo, '--outdir', 'out', '--landmarks',
                   'nan,1,2,3,4,5,6,7'], ['--landmarks']))
add(2, 'project-loss-weights-inf',
    lambda d, a: (['project', '--network', a.net, '--target', a.photo, '--outdir', 'out', '--loss-weights',
                   'ms_ssim=inf'], ['--loss-weights']))


# ----------------------------------------------------------------------------------------------
# 3. Network files whose numbers lie: NaN / inf weights (a diverged run's snapshot), kwargs
# that claim an architecture the tensors do not have, tensors that claim more than they hold,
# kwargs that refer to themselves, nest thousands deep or share references exponentially.

def _info(path, name=None):
    return ['info', path], [name or _b(path)]


def _safetensors_kwargs(d, a, key, value, name='n.safetensors'):
    return hf.safetensors_with_header(str(d / name), hf.with_kwargs(a.G, **{key: value}) if key else a.G)


for _value, _id in ((float('nan'), 'nan'), (float('inf'), 'inf'), (float('-inf'), '-inf')):
    add(3, f'safetensors-{_id}-weight', lambda d, a, v=_value: _info(
        save_network(str(d / 'n.safetensors'), hf.poisoned(a.G, value=v)) or str(d / 'n.safetensors')))
add(3, 'safetensors-nan-weight-generate', lambda d, a: (
    ['generate', '--network', save_network(str(d / 'n.safetensors'), hf.poisoned(a.G)) or d / 'n.safetensors',
     '--seeds', '0', '--outdir', d / 'out'], ['n.safetensors']))


@case(3, 'safetensors-nan-w_avg-video')
def _(d, a):
    G = hf.poisoned(a.G)
    with torch.no_grad():
        G.synthesis.b4.conv1.weight.copy_(a.G.synthesis.b4.conv1.weight)
        G.mapping.w_avg[0] = float('nan')
    save_network(str(d / 'n.safetensors'), G)
    return ['video', '--network', d / 'n.safetensors', '--seeds', '0,1', '--out', d / 'v.gif'], ['n.safetensors']


@case(3, 'official-nan-weight')
def _(d, a):
    write_official_pickle(str(d / 'n.pkl'), hf.poisoned(a.G))
    return _info(str(d / 'n.pkl'))


@case(3, 'rosinality-inf-weight')
def _(d, a):
    g = _rosinality_state()
    g['convs.0.conv.weight'].view(-1)[0] = float('inf')
    return _info(_torch_save(d / 'n.pt', {'g_ema': g, 'latent_avg': torch.zeros(16)}))


@case(3, 'run-folder-of-a-diverged-run')
def _(d, a):
    run = hf.folder(d / '00000-run')
    save_network(os.path.join(run, 'network-snapshot-000004.safetensors'), hf.poisoned(a.G))
    return ['generate', '--network', run, '--seeds', '0', '--outdir', d / 'out'], ['network-snapshot-000004']


_CLAIMS = {  # kwargs key -> values a file may claim
    'img_resolution': (2 ** 20, 2 ** 40, 2 ** 100, 3, 0, -4, 'x', 1.5, True, None),
    'mapping_kwargs.num_layers': (10 ** 6, 10 ** 9, -1, 0, 'x'),
    'w_dim': (10 ** 9, 0, -1), 'z_dim': (10 ** 12,), 'c_dim': (10 ** 9, -1), 'img_channels': (10 ** 6, 0),
    'synthesis_kwargs.channel_base': (2 ** 62, 0), 'synthesis_kwargs.channel_max': (10 ** 9, -1),
    'synthesis_kwargs.architecture': ('weird',), 'synthesis_kwargs.unknown_option': (1,),
    'synthesis_kwargs.num_fp16_res': (10 ** 9,), 'synthesis_kwargs.conv_clamp': ('x',),
}
for _key, _values in _CLAIMS.items():
    for _value in _values:
        add(3, f'safetensors-claims-{_key}={_value}',
            lambda d, a, k=_key, v=_value: _info(_safetensors_kwargs(d, a, k, v)))
for _key, _value in (('img_resolution', 2 ** 20), ('mapping_kwargs.num_layers', 10 ** 6), ('w_dim', 10 ** 9)):
    add(3, f'official-claims-{_key}={_value}', lambda d, a, k=_key, v=_value: _info(
        hf.official_with_kwargs(str(d / 'n.pkl'), a.G, hf.with_kwargs(a.G, **{k: v}).init_kwargs)))
add(3, 'safetensors-D-claims-img_resolution', lambda d, a: _info(hf.safetensors_with_header(
    str(d / 'n.safetensors'), a.G, D=tiny_discriminator(res=RES),
    D_kwargs=json.dumps(dict(c_dim=0, img_resolution=2 ** 30, img_channels=3)))))

for _text, _id in ((hf.deep_json(100_000), 'nested-100000-deep'), (hf.deep_json(500), 'nested-500-deep'),
                   ('[1, 2', 'not-json'), ('[1, 2]', 'a-list'), ('"x"', 'a-string'), ('1e999999', 'infinite'),
                   ('9' * 5000, 'a-5000-digit-number')):
    add(3, f'safetensors-G_kwargs-{_id}',
        lambda d, a, t=_text: _info(hf.safetensors_with_header(str(d / 'n.safetensors'), a.G, G_kwargs=t)))
add(3, 'safetensors-extra-meta-nested-100000-deep', lambda d, a: _info(hf.safetensors_with_header(
    str(d / 'n.safetensors'), a.G, training_set_kwargs=hf.deep_json(100_000))))
add(3, 'safetensors-extra-meta-nested-900-deep-generate', lambda d, a: (
    ['generate', '--network', hf.safetensors_with_header(str(d / 'n.safetensors'), a.G,
                                                         training_set_kwargs=hf.deep_json(900)),
     '--seeds', '0', '--outdir', d / 'out'], ['n.safetensors']))

for _make, _id in ((hf.self_referencing, 'self-referencing'), (lambda: hf.nested(3000), 'nested-3000-deep'),
                   (hf.billion_laughs, 'billion-laughs'), (lambda: [1, 2], 'a-list'),
                   (lambda: {'mapping_kwargs': hf.billion_laughs()}, 'billion-laughs-inside'),
                   (lambda: {'synthesis_kwargs': hf.self_referencing()}, 'self-referencing-inside')):
    @case(3, f'official-kwargs-{_id}')
    def _(d, a, make=_make):
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(20_000)  # the pickler itself recurses into the nested kwargs
        try:
            hf.official_with_kwargs(str(d / 'n.pkl'), a.G, make())
        finally:
            sys.setrecursionlimit(limit)
        return _info(str(d / 'n.pkl'))


@case(3, 'official-training-set-kwargs-billion-laughs')
def _(d, a):
    from tests.official_pickle import dump_official, official_snapshot
    snapshot = official_snapshot(a.G, augment_p=None, training_set_kwargs={'labels': hf.billion_laughs()})
    dump_official(snapshot, str(d / 'n.pkl'))
    return ['generate', '--network', d / 'n.pkl', '--seeds', '0', '--outdir', d / 'out'], ['n.pkl']


for _dtype in (torch.float16, torch.float64, torch.float32):
    add(3, f'official-stride-0-tensor-{str(_dtype)[6:]}', lambda d, a, t=_dtype: _info(hf.official_with_tensor(
        str(d / 'n.pkl'), a.G, 'mapping.fc0.weight', torch.zeros(1, dtype=t).expand(2 ** 20, 2 ** 20))))


@case(3, 'official-module-tree-billion-laughs')
def _(d, a):
    from tests.official_pickle import dump_official, official_snapshot
    snapshot = official_snapshot(a.G, augment_p=None)
    node = torch.nn.Module()
    for _ in range(40):
        parent = torch.nn.Module()
        for k in range(10):
            parent.add_module(f'm{k}', node)
        node = parent
    snapshot['G_ema'].synthesis.add_module('extra', node)
    dump_official(snapshot, str(d / 'n.pkl'))
    return _info(str(d / 'n.pkl'))


def _rosinality_state():
    """A small rosinality stylegan2-pytorch g_ema state dict (16 px, style_dim 16, n_mlp 2)."""
    from tests import reference_rosinality as ros
    return ros.random_state(ros.generator_shapes(16, 16, 2, 2, {4: 32, 8: 32, 16: 16}), 0)


def _rosinality_with(d, a, name, tensor):
    g = _rosinality_state()
    g[name] = tensor
    return _torch_save(d / 'n.pt', {'g_ema': g, 'latent_avg': torch.zeros(16)})


for _dtype in (torch.float16, torch.float32):
    add(3, f'rosinality-stride-0-tensor-{str(_dtype)[6:]}', lambda d, a, t=_dtype: _info(_rosinality_with(
        d, a, 'style.1.weight', torch.zeros(1, dtype=t).expand(2 ** 20, 2 ** 20))))


@case(3, 'tf-pickle-claims-a-huge-resolution')
def _(d, a):
    import pickle
    from tests.official_pickle import Network, _stand_in_modules

    def net(name):
        return Network(dict(version=4, name=name, static_kwargs={'resolution': 2 ** 30, 'mapping_layers': 10 ** 6},
                            components={}, build_module_src='', build_func_name=f'{name}_main', variables=[]))
    with _stand_in_modules(), open(d / 'n.pkl', 'wb') as f:
        pickle.dump((net('G'), net('D'), net('Gs')), f, protocol=2)
    return _info(str(d / 'n.pkl'))


@case(3, 'pickle-storage-claims-a-huge-size')
def _(d, a):
    # A legacy torch storage blob: its header says how many elements follow; claim 2**40.
    import io
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TypedStorage is deprecated, and what pickled tensors hold
        torch.save(torch.zeros(4).storage(), buf, _use_new_zipfile_serialization=False)
    blob = bytearray(buf.getvalue())
    tail = struct_pack_q(4)
    at = blob.rfind(tail)
    blob[at:at + 8] = struct_pack_q(2 ** 40)
    with open(d / 'n.pkl', 'wb') as f:
        f.write(_storage_pickle(bytes(blob)))
    return _info(str(d / 'n.pkl'))


def struct_pack_q(n):
    import struct
    return struct.pack('<q', n)


def _storage_pickle(blob):
    """A pickle that calls torch.storage._load_from_bytes(blob), as a pickled tensor storage does."""
    import pickle
    return (b'\x80\x02ctorch.storage\n_load_from_bytes\nq\x00' + pickle.dumps(blob, protocol=2)[2:-1]
            + b'\x85q\x01Rq\x02.')


# ----------------------------------------------------------------------------------------------
# 4. Containers that claim more than they hold: .npy headers claiming terabytes, .npz members
# whose zip headers (or deflate streams) claim gigabytes, sparse files that are gigabytes of
# nothing, dataset.json zip bombs, class indices in the millions, JSON nested thousands deep.

TB4 = (1 << 40, 1 << 10)  # 4 TiB of float32


def _npz_claiming(path, key, shape=TB4):
    return hf.npz_of(path, {key: hf.npy_header(shape) + b'\0' * 64})


def _zip_entries(path, entries):
    return hf.zip_by_hand(path, entries)


def _sparse(path, size, head=b''):
    with open(path, 'wb') as f:
        f.write(head)
        f.truncate(size)
    return str(path)


_W_READERS = {  # how each command takes a user's NumPy file
    'generate-projected-w': lambda a, p: ['generate', '--network', a.net, '--projected-w', p, '--outdir', 'out'],
    'generate-projected-noise': lambda a, p: ['generate', '--network', a.net, '--projected-w', a.w,
                                              '--projected-noise', p, '--outdir', 'out'],
    'video-w-files': lambda a, p: ['video', '--network', a.net, '--w-files', p, '--out', 'v.gif'],
    'directions-import': lambda a, p: ['directions', 'import', p, '--network', a.net, '--out', 'o.npz'],
    'directions-show': lambda a, p: ['directions', 'show', p, '--network', a.net, '--out', 'o.png'],
    'video-sweep': lambda a, p: ['video', '--network', a.net, '--seeds', '0', '--sweep', p, '--out', 'v.gif'],
    'svm-orthogonal-to': lambda a, p: ['directions', 'svm', '--network', a.net, '--labels', a.labels,
                                       '--orthogonal-to', p, '--out', 'o.npz'],
}
_KEY = {'generate-projected-noise': 'b4.conv1', 'directions-show': 'vectors', 'video-sweep': 'vectors',
        'svm-orthogonal-to': 'vectors'}
for _reader, _argv in _W_READERS.items():
    _key = _KEY.get(_reader, 'w')
    add(4, f'{_reader}-npy-claims-4TiB', lambda d, a, f=_argv: (f(a, hf.npy_claiming(str(d / 'x.npy'), TB4)),
                                                                   ['x.npy']))
    add(4, f'{_reader}-npz-member-claims-4TiB',
        lambda d, a, f=_argv, k=_key: (f(a, _npz_claiming(str(d / 'x.npz'), k)), ['x.npz']))
    add(4, f'{_reader}-npz-zip-header-claims-3.5GiB', lambda d, a, f=_argv, k=_key: (f(a, _zip_entries(
        str(d / 'x.npz'), [hf.stored(f'{k}.npy', hf.npy_bytes(np.zeros([1, 8, 16], np.float32)),
                                     declared=7 << 29)])), ['x.npz']))
    # 3.5 MB on disk that inflate to more than the memory limit, declaring 1 kB: read as zipfile
    # reads a whole member, the first inflate call alone would take it all.
    add(4, f'{_reader}-npz-deflates-to-3.5GiB-declaring-1KiB', lambda d, a, f=_argv, k=_key: (f(a, _zip_entries(
        str(d / 'x.npz'), [hf.zeros_bomb(f'{k}.npy', 3584, declared=1024, head=hf.npy_header([1 << 26]))])),
        ['x.npz']))
    add(4, f'{_reader}-npz-deflates-to-3GiB', lambda d, a, f=_argv, k=_key: (f(a, _zip_entries(
        str(d / 'x.npz'), [hf.zeros_bomb(f'{k}.npy', 3072, head=hf.npy_header([3 << 28]))])), ['x.npz']))
    add(4, f'{_reader}-sparse-2GiB-npy', lambda d, a, f=_argv: (f(a, _sparse(
        d / 'x.npy', (2 << 30) + 128, hf.npy_header([1 << 29]))), ['x.npy']))

add(4, 'directions-import-interfacegan-npy-4TiB-of-float64', lambda d, a: (
    _W_READERS['directions-import'](a, hf.npy_claiming(str(d / 'x_boundary.npy'), (1, 1 << 39), '<f8')),
    ['x_boundary.npy']))
add(4, 'directions-import-ganspace-lat_comp-claims-4TiB', lambda d, a: (_W_READERS['directions-import'](a, hf.npz_of(
    str(d / 'g.npz'), {'lat_comp': hf.npy_header(TB4) + b'\0' * 64, 'lat_stdev': hf.npy_bytes(np.ones(2))})),
    ['g.npz']))
add(4, 'directions-import-rosinality-factor-stride-0', lambda d, a: (_W_READERS['directions-import'](
    a, _torch_save(d / 'factor.pt', {'eigvec': torch.zeros(1, dtype=torch.float16).expand(2 ** 20, 2 ** 20)})),
    ['factor.pt']))
add(4, 'directions-import-rosinality-factor-billion-laughs', lambda d, a: (_W_READERS['directions-import'](
    a, _torch_save(d / 'factor.pt', {'eigvec': torch.zeros(16, 2), 'ckpt': hf.billion_laughs(30)})), ['factor.pt']))


def _torch_save(path, obj):
    torch.save(obj, path)
    return str(path)


def _direction_meta(d, a, meta_text, name='x.npz'):
    arrays = dict(np.load(a.dirs))
    arrays['meta'] = np.array(meta_text)
    np.savez(d / name, **arrays)
    return str(d / name)


for _text, _id in ((hf.deep_json(100_000), 'nested-100000-deep'), (hf.deep_json(800), 'nested-800-deep'),
                   ('{"names": ' + hf.deep_json(3000) + '}', 'names-nested-3000-deep'),
                   ('{"per_direction": {"x": ' + hf.deep_json(2000) + '}}', 'per-direction-nested')):
    add(4, f'direction-meta-{_id}-show', lambda d, a, t=_text: (
        _W_READERS['directions-show'](a, _direction_meta(d, a, t)), ['x.npz']))
    add(4, f'direction-meta-{_id}-suggest', lambda d, a, t=_text: (
        ['directions', 'suggest', _direction_meta(d, a, t), '--network', a.net, '--seeds', '0', '--out', 'o.npz'],
        ['x.npz']))


def _dataset_zip(d, json_entry, images=2, name='data.zip'):
    """A training zip of `images` 8x8 pictures whose dataset.json is `json_entry` (a zip_by_hand
    entry, or bytes)."""
    import io
    entries = []
    for i in range(images):
        buf = io.BytesIO()
        PIL.Image.new('RGB', (8, 8), (i * 40, 0, 0)).save(buf, format='PNG')
        entries.append(hf.stored(f'00000/img{i:08d}.png', buf.getvalue()))
    if isinstance(json_entry, bytes):
        json_entry = hf.stored('dataset.json', json_entry)
    if json_entry is not None:
        entries.append(json_entry)
    return hf.zip_by_hand(str(d / name), entries)


_DATASET_READERS = {
    'train': lambda a, p: ['train', '--data', p, '--cond', '--outdir', 'runs', '--dry-run'],
    'train-unconditional': lambda a, p: ['train', '--data', p, '--outdir', 'runs', '--dry-run'],
    'metrics': lambda a, p: ['metrics', '--network', a.cond, '--data', p, '--metrics', 'pxfid10'],
    'dataset': lambda a, p: ['dataset', '--source', p, '--dest', 'x.zip', '--resolution', '8'],
}
_LABELS = {
    'zip-header-claims-3.5GiB': lambda: hf.stored('dataset.json', b'{"labels": null}', declared=7 << 29),
    'deflates-to-1GiB': lambda: hf.zeros_bomb('dataset.json', 1024, head=b'{"labels": "'),
    'deflates-to-3.5GiB-declaring-16B': lambda: hf.zeros_bomb('dataset.json', 3584, declared=16, head=b'{"l'),
    'class-3600000': lambda: json.dumps({'labels': [[f'00000/img{i:08d}.png', 3_600_000 * i] for i in
                                                    range(2)]}).encode(),
    'class-2**70': lambda: json.dumps({'labels': [[f'00000/img{i:08d}.png', 2 ** 70] for i in range(2)]}).encode(),
    'nested-100000-deep': lambda: ('{"labels": ' + hf.deep_json(100_000) + '}').encode(),
    'label-nested-900-deep': lambda: ('{"labels": [["00000/img00000000.png", 0], ["00000/img00000001.png", '
                                      + hf.deep_json(900) + ']]}').encode(),
    'labels-a-number': lambda: b'{"labels": 5}',
    'labels-a-dict': lambda: b'{"labels": {"a": 1}}',
    'not-utf8': lambda: b'\xff\xfe{"labels"',
}
for _reader, _argv in _DATASET_READERS.items():
    for _id, _entry in _LABELS.items():
        # `dataset` converts pictures: labels it cannot read it drops, with a warning; the ones
        # it can (class numbers, however large) it carries over for `train` to judge.
        if _reader == 'dataset' and _id.startswith('class-'):
            continue
        add(4, f'{_reader}-dataset.json-{_id}',
            lambda d, a, f=_argv, e=_entry: (f(a, _dataset_zip(d, e())), ['dataset.json']),
            warns=_reader == 'dataset', allow=('x.zip',) if _reader == 'dataset' else ())


@case(4, 'train-folder-dataset.json-sparse-3GiB')
def _(d, a):
    folder = hf.folder(d / 'data')
    PIL.Image.new('RGB', (8, 8)).save(os.path.join(folder, 'a.png'))
    _sparse(os.path.join(folder, 'dataset.json'), 3 << 30, b'{"labels": "')
    return _DATASET_READERS['train'](a, folder), ['dataset.json']


add(4, 'train-dataset-zip-claims-3.5GiB-image', lambda d, a: (_DATASET_READERS['train-unconditional'](a, _zip_entries(
    str(d / 'data.zip'), [hf.zeros_bomb('00000/img00000000.png', 64, declared=7 << 29)])), ['data.zip']))
add(4, 'dataset-sparse-3GiB-image-source', lambda d, a: (_DATASET_READERS['dataset'](
    a, os.path.dirname(_sparse(os.path.join(hf.folder(d / 'src'), 'a.png'), 3 << 30, b'\x89PNG\r\n\x1a\n'))),
    ['src']))

for _text, _id in ((hf.deep_json(100_000), 'nested-100000-deep'),
                   ('{"format": "stylescope-session", "version": 1, "state": ' + hf.deep_json(3000) + '}',
                    'state-nested-3000-deep')):
    add(4, f'session-{_id}', lambda d, a, t=_text: (
        ['video', '--network', a.net, '--session', hf.write_json(str(d / 's.json'), t), '--out', 'v.gif'],
        ['s.json']))
add(4, 'session-sparse-3GiB', lambda d, a: (
    ['video', '--network', a.net, '--session', _sparse(d / 's.json', 3 << 30, b'{"a": "'), '--out', 'v.gif'],
    ['s.json']))
add(4, 'labels-sparse-3GiB', lambda d, a: (
    ['directions', 'svm', '--network', a.net, '--labels', _sparse(d / 'l.csv', 3 << 30, b'seed,label\n'),
     '--out', 'o.npz'], ['l.csv']))
add(4, 'safetensors-header-claims-1GiB', lambda d, a: _info(_safetensors_header_length(d, 1 << 30)))
add(4, 'safetensors-sparse-3GiB', lambda d, a: _info(_sparse(d / 'n.safetensors', 3 << 30,
                                                             struct_pack_q(64) + b'{"a": "')))
add(4, 'train-resume-state-billion-laughs', lambda d, a: (
    ['train', '--resume', _resume_state(d, a, hf.billion_laughs(40)), '--outdir', 'runs', '--dry-run'],
    ['00000-x']))


def _safetensors_header_length(d, length):
    data = open(_plain_safetensors(d), 'rb').read()
    path = d / 'h.safetensors'
    with open(path, 'wb') as f:
        f.write(struct_pack_q(length) + data[8:])
    return str(path)


def _plain_safetensors(d):
    import safetensors.torch as st
    path = d / 'plain.safetensors'
    st.save_file({'a': torch.zeros(2)}, str(path))
    return path


def _resume_state(d, a, poison):
    from train.snapshot import save_snapshot
    run = hf.folder(d / 'runs' / '00000-x')
    save_snapshot(run, 0, a.G, None, a.G, {'config': poison}, 0.0, {})
    return run


# ----------------------------------------------------------------------------------------------
# 5. Session files with the wrong shapes, as `video --session` (and the explorer) read them.

def _ws(a):
    return np.zeros([a.G.num_ws, a.G.w_dim], np.float32)


_SESSIONS = {
    'favourites-a-string': lambda a: _session(favourites='abc'),
    'favourites-a-dict': lambda a: _session(favourites={'a': 1}),
    'favourite-a-number': lambda a: _session(favourites=[5]),
    'favourite-a-list': lambda a: _session(favourites=[[1, 2]]),
    'favourite-without-ws': lambda a: _session(favourites=[{'name': 'x', 'state': {}}]),
    'favourite-ws-a-string': lambda a: _session(favourites=[_favourite(_ws(a), ws='abc')]),
    'favourite-ws-null': lambda a: _session(favourites=[_favourite(_ws(a), ws=None)]),
    'favourite-ws-object-dtype': lambda a: _session(favourites=[_favourite(_ws(a), ws=dict(
        encode_array(_ws(a)), dtype='|O'))]),
    'favourite-ws-shape-a-string': lambda a: _session(favourites=[_favourite(_ws(a), ws=dict(
        encode_array(_ws(a)), shape='8,16'))]),
    'favourite-ws-shape-claims-10**12': lambda a: _session(favourites=[_favourite(_ws(a), ws=dict(
        encode_array(_ws(a)), shape=[10 ** 6, 10 ** 6]))]),
    'favourite-ws-shape-negative': lambda a: _session(favourites=[_favourite(_ws(a), ws=dict(
        encode_array(_ws(a)), shape=[-8, -16]))]),
    'favourite-ws-data-not-base64': lambda a: _session(favourites=[_favourite(_ws(a), ws=dict(
        encode_array(_ws(a)), data='***'))]),
    'favourite-ws-data-a-number': lambda a: _session(favourites=[_favourite(_ws(a), ws=dict(
        encode_array(_ws(a)), data=5))]),
    'favourite-ws-nan': lambda a: _session(favourites=[_favourite(np.full_like(_ws(a), np.nan))]),
    'favourite-ws-wrong-shape': lambda a: _session(favourites=[_favourite(np.zeros([3, 5], np.float32))]),
    'favourite-name-a-dict': lambda a: _session(favourites=[_favourite(_ws(a), name={'a': 1})]),
    'favourite-state-a-string': lambda a: _session(favourites=[_favourite(_ws(a), state='x')]),
    'version-a-string': lambda a: _session(version='abc', favourites=[_favourite(_ws(a))]),
    'version-null': lambda a: _session(version=None, favourites=[_favourite(_ws(a))]),
    'version-a-list': lambda a: _session(version=[1], favourites=[_favourite(_ws(a))]),
    'version-2': lambda a: _session(version=2, favourites=[_favourite(_ws(a))]),
    'version-1.5': lambda a: _session(version=1.5, favourites=[_favourite(_ws(a))]),
    'version-true': lambda a: _session(version=True, favourites=[_favourite(_ws(a))]),
    'format-missing': lambda a: {k: v for k, v in _session(favourites=[_favourite(_ws(a))]).items() if k != 'format'},
    'state-missing': lambda a: {k: v for k, v in _session(favourites=[_favourite(_ws(a))]).items() if k != 'state'},
    'state-a-list': lambda a: _session(state=[1], favourites=[_favourite(_ws(a))]),
    'model-a-string': lambda a: _session(model='x', favourites=[_favourite(_ws(a))]),
    'noise-maps-a-list': lambda a: _session(noise_maps=[1], favourites=[_favourite(_ws(a))]),
    'top-level-a-list': lambda a: [1, 2],
    'top-level-a-string': lambda a: 'stylescope-session',
    'no-favourites': lambda a: _session(),
    'favourites-null': lambda a: _session(favourites=None),
}
for _id, _make in _SESSIONS.items():
    add(5, _id, lambda d, a, m=_make: (['video', '--network', a.net, '--session',
                                        hf.write_json(str(d / 's.json'), json.dumps(m(a))), '--out', 'v.gif'],
                                       ['s.json']))
for _raw, _id in ((b'', 'empty'), (b'\x00\xff\xfe\x80binary', 'binary'), (b'{"format": "stylescope-session"',
                                                                          'truncated'), (b'NaN', 'nan')):
    add(5, f'file-{_id}', lambda d, a, r=_raw: (['video', '--network', a.net, '--session',
                                                 _write_bytes(d / 's.json', r), '--out', 'v.gif'], ['s.json']))


def _write_bytes(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


# ----------------------------------------------------------------------------------------------
# 6. Text that is not text, pictures that are not pictures.

def _svm(a, labels, net=None, *more):
    return ['directions', 'svm', '--network', net or a.net, '--labels', labels, '--out', 'o.npz', *more]


_LABEL_TEXT = {
    'binary-bytes': b'\x00\xff\xfe\x80\x81seed,label\n',
    'latin1-bytes': 'seed,label\n1,0\n2,1\n\xe9\n'.encode('latin1'),
    'nul-bytes': b'seed,label\n1,0\n\x00\x00\x00\n2,1\n',
    'utf16': 'seed,label\n1,0\n2,1\n'.encode('utf-16'),
    'seed-too-large': b'seed,label\n4294967296,0\n2,1\n',
    'label-nan': b'seed,label\n1,nan\n2,1\n',
    'label-inf': b'seed,label\n1,inf\n2,1\n',
    'a-5000-digit-seed': b'seed,label\n' + b'9' * 5000 + b',0\n2,1\n',
    'one-label-only': b'seed,label\n1,0\n2,0\n',
}
for _id, _text in _LABEL_TEXT.items():
    add(6, f'labels-{_id}', lambda d, a, t=_text: (_svm(a, _write_bytes(d / 'l.csv', t)), ['l.csv']))
add(6, 'labels-class-3600000-on-a-conditional-network', lambda d, a: (
    _svm(a, _write_bytes(d / 'l.csv', b'seed,label,class\n1,0,3600000\n2,1,0\n'), a.cond), ['3600000']))


def _project_target(a, target, *more):
    return ['project', '--network', a.net, '--target', target, '--outdir', 'out', '--num-steps', '2', *more]


add(6, 'project-target-png-bomb-50000x50000',
    lambda d, a: (_project_target(a, hf.png_claiming(str(d / 'bomb.png'), 50000, 50000)), ['bomb.png']))
add(6, 'project-target-png-bomb-12000x12000-warning-size',
    lambda d, a: (_project_target(a, hf.png_claiming(str(d / 'bomb.png'), 12000, 12000)), ['bomb.png']))
add(6, 'project-target-png-bomb-with-landmarks',
    lambda d, a: (_project_target(a, hf.png_claiming(str(d / 'bomb.png'), 50000, 50000), '--landmarks',
                                  '1,1,5,1,2,5,4,5'), ['bomb.png']))
add(6, 'project-target-text', lambda d, a: (_project_target(a, hf.write_json(str(d / 't.png'), 'hello')), ['t.png']))
add(6, 'project-target-truncated-png', lambda d, a: (_project_target(a, _write_bytes(
    d / 't.png', open(a.photo, 'rb').read()[:200])), ['t.png']))
add(6, 'project-vgg-not-torchscript', lambda d, a: (_project_target(a, a.photo, '--vgg', _write_bytes(
    d / 'vgg16.pt', b'\x00garbage')), ['vgg16.pt']))
add(6, 'metrics-inception-not-torchscript', lambda d, a: (
    ['metrics', '--network', a.net, '--data', a.data, '--metrics', 'fid10', '--inception',
     _write_bytes(d / 'inception.pt', b'PK\x03\x04garbage')], ['inception.pt']))


def _image_folder(d, *bombs, good=0):
    folder = hf.folder(d / 'imgs')
    for i in range(good):
        PIL.Image.new('RGB', (8, 8)).save(os.path.join(folder, f'good{i}.png'))
    for name, (w, h) in bombs:
        hf.png_claiming(os.path.join(folder, name), w, h)
    return folder


add(6, 'train-data-png-bomb', lambda d, a: (_DATASET_READERS['train-unconditional'](
    a, _image_folder(d, ('bomb.png', (50000, 50000)), good=1)), ['bomb.png']))
add(6, 'train-data-png-bomb-warning-size', lambda d, a: (_DATASET_READERS['train-unconditional'](
    a, _image_folder(d, ('bomb.png', (12000, 12000)), good=1)), ['bomb.png']))
add(6, 'dataset-source-only-png-bombs', lambda d, a: (_DATASET_READERS['dataset'](
    a, _image_folder(d, ('bomb.png', (50000, 50000)), ('bomb2.png', (12000, 12000)))), ['imgs']))
add(6, 'train-resume-not-a-checkpoint', lambda d, a: (
    ['train', '--data', a.data, '--resume', _write_bytes(d / 'x.pt', b'\x80\x02garbage'), '--outdir', 'runs',
     '--dry-run'], ['x.pt']))
add(6, 'train-resume-snapshot-of-nan', lambda d, a: (
    ['train', '--data', a.data, '--resume', save_network(str(d / 'n.safetensors'), hf.poisoned(a.G)) or
     d / 'n.safetensors', '--outdir', 'runs', '--cfg', 'small', '--kimg', '0.004'], ['n.safetensors']))
add(6, 'info-random-bytes', lambda d, a: _info(_write_bytes(d / 'n.pkl', bytes(range(256)) * 4)))
add(6, 'info-utf8-text', lambda d, a: _info(_write_bytes(d / 'n.safetensors', ('é' * 100).encode())))


# ----------------------------------------------------------------------------------------------
# The tests

@pytest.mark.parametrize('c', CASES, ids=str)
def test_bad_input(runner, assets, c, tmp_path):
    before = _files(assets.root)
    run_case(runner, assets, c, tmp_path)
    assert _files(assets.root) == before


# ----------------------------------------------------------------------------------------------
# 1, continued: every writer, called as the explorer and the commands call it, on a destination
# that cannot take it (in process: these are library calls, and none of them allocates much).

def _writers(G, D):
    from core import direction_files as df
    from core.format_official import write_official_pickle as official
    from core.format_rosinality import write_rosinality
    from core.images import save_png
    from core.label_file import write_labels
    from core.projection import save_noise_maps, save_projected_w
    from core.session_file import write_session
    dset = DirectionSet(np.eye(2, G.w_dim), [1.0, 1.0], [0, 0], [G.num_ws, G.num_ws], ['a', 'b'])
    return {
        'save_network': lambda p: save_network(p + '.safetensors', G, D=D),
        'official_pickle': lambda p: official(p + '.pkl', G, D=D),
        'rosinality': lambda p: write_rosinality(p + '.pt', _rosinality_generator()),
        'direction_set': lambda p: dset.save(p + '.npz'),
        'interfacegan': lambda p: df.export_interfacegan(dset, 0, p + '.npy'),
        'ganspace': lambda p: df.export_ganspace(dset, p + '.npz'),
        'rosinality_factor': lambda p: df.export_rosinality(dset, p + '.pt'),
        'labels': lambda p: write_labels(p + '.csv', [1, 2], [0, 1]),
        'session': lambda p: write_session(p + '.json', _session()),
        'png': lambda p: save_png(p + '.png', np.zeros([4, 4, 3], np.uint8)),
        'projected_w': lambda p: save_projected_w(p + '.npz', np.zeros([1, G.num_ws, G.w_dim])),
        'noise_maps': lambda p: save_noise_maps(p + '.npz', {'b4.conv1': np.zeros([4, 4])}),
    }


def _rosinality_generator():
    """A generator laid out as rosinality's table wants (its channel counts), for its writer."""
    from core.networks import Generator
    return Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=8, img_channels=3,
                     mapping_kwargs=dict(num_layers=2),
                     synthesis_kwargs=dict(channel_base=8 * 512, channel_max=512)).eval().requires_grad_(False)


_PLACES = {
    'name-taken-by-a-folder': lambda d: hf.folder(str(d / 'out')),
    'folder-is-a-file': lambda d: os.path.join(hf.write_json(str(d / 'file'), '{}'), 'out'),
    'folder-missing': lambda d: str(d / 'missing' / 'out'),
    'under-proc': lambda d: '/proc/stylescope-bad-input-out',
}


@pytest.mark.parametrize('place', _PLACES)
def test_every_writer_refuses_an_unwritable_place_in_one_sentence(assets, tmp_path, place):
    from core.errors import StylescopeError
    writers = _writers(assets.G, tiny_discriminator(res=RES))
    for name, write in writers.items():
        os.makedirs(tmp_path / name, exist_ok=True)
        target = _PLACES[place](tmp_path / name)
        if place == 'name-taken-by-a-folder':  # the writer adds its extension: that name is the folder
            target = str(tmp_path / name / 'out')
            for ext in ('.safetensors', '.pkl', '.pt', '.npz', '.npy', '.csv', '.json', '.png'):
                hf.folder(target + ext)
        before = _files(tmp_path)
        with pytest.raises(StylescopeError) as excinfo:
            write(target)
        message = str(excinfo.value)
        assert '\n' not in message and len(message) <= MAX_ERROR_CHARS, (name, message)
        assert os.path.basename(target) in message, (name, message)
        assert _files(tmp_path) == before and not _tmp_names(tmp_path), (name, sorted(_files(tmp_path) - before))


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def test_the_real_entry_point_reports_as_the_runner_does(assets, tmp_path):
    """`python main.py` itself, not a fork of the runner: a bad flag and a bomb are one line,
    exit code 2; --help still prints the usage and exits 0."""
    bomb = hf.png_claiming(str(tmp_path / 'bomb.png'), 50000, 50000)
    for argv, name in ((['generate', '--trunc', 'nan', '--seeds', '0'], 'argument --trunc'),
                       (['project', '--network', assets.net, '--target', bomb, '--outdir', str(tmp_path / 'o')],
                        'bomb.png')):
        done = subprocess.run([sys.executable, 'main.py', *argv], cwd=REPO, capture_output=True, text=True,
                              timeout=TIMEOUT_S * 2, preexec_fn=_limit_memory)
        result = dict(rc=done.returncode, signal=None, timed_out=False, stderr=done.stderr)
        check_one_sentence(result, [name], set(_tmp_names(tmp_path)), where=' '.join(argv))
    done = subprocess.run([sys.executable, 'main.py', 'video', '--help'], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0 and done.stdout.startswith('usage: stylescope video') and not done.stderr


@pytest.mark.parametrize('name', ['favourites-a-string', 'favourite-a-number', 'favourite-without-ws',
                                  'version-a-string', 'version-null', 'state-a-list'])
def test_the_explorer_reads_sessions_through_the_same_check(assets, tmp_path, name):
    """The explorer's Open session and `video --session` read through one reader, so a session
    of the wrong shape is the same one sentence in the GUI (here its Qt-free model)."""
    from core.errors import StylescopeError
    from explorer.state import EditorModel
    path = hf.write_json(str(tmp_path / 's.json'), json.dumps(_SESSIONS[name](assets)))
    with pytest.raises(StylescopeError, match=r"session file '.*s\.json'") as excinfo:
        EditorModel().load_session(path)
    assert '\n' not in str(excinfo.value) and len(str(excinfo.value)) <= MAX_ERROR_CHARS
