"""Flags several commands share, and the parsing of what users type into them.

Imports neither torch nor Qt: main.py builds every command's parser for each run, `--help`
included, and that must stay fast.
"""
import os
import re

from core.device import DEVICE_CHOICES
from core.errors import StylescopeError
from core.noise_spec import NOISE_MODES

NETWORK_HELP = ('network file: official .pkl, Stylescope .safetensors or a training run folder '
                '(default: the bundled model)')


def add_network(parser, required=False, help=NETWORK_HELP):
    parser.add_argument('--network', metavar='PATH', required=required, help=help)


def add_device(parser):
    parser.add_argument('--device', choices=DEVICE_CHOICES, default='auto',
                        help='torch device (default: auto = CUDA if present)')


def add_network_and_device(parser):
    add_network(parser)
    add_device(parser)


def add_truncation(parser):
    parser.add_argument('--trunc', type=float, default=1.0, metavar='PSI', help='truncation psi (default: 1)')
    parser.add_argument('--trunc-cutoff', type=int, default=None, metavar='N',
                        help='truncate only ws rows 0..N-1 (default: all)')


def add_class(parser, what='required for conditional networks'):
    parser.add_argument('--class', dest='class_idx', type=int, default=None, metavar='IDX',
                        help=f'class index, {what}')


def add_noise_mode(parser):
    parser.add_argument('--noise-mode', choices=NOISE_MODES, default='const', help='per-pixel noise (default: const)')


def check_cutoff(cutoff):
    if cutoff is not None and cutoff < 0:
        raise StylescopeError(f'--trunc-cutoff {cutoff} is negative: use a ws index from 0 up')


def split_direction_spec(spec):
    """'dirs.npz:smile' -> ('dirs.npz', 'smile'); 'dirs.npz' -> ('dirs.npz', None). A name that is
    a number is an index. A colon that belongs to the path (C:\\..., or a file that exists with it)
    is not a separator."""
    path, name = spec, None
    if ':' in spec and not os.path.exists(spec):
        head, tail = spec.rsplit(':', 1)
        if head and tail and not any(sep in tail for sep in '/\\'):
            path, name = head, tail
    if name is not None and re.fullmatch(r'-?\d+', name):
        name = int(name)
    return path, name


def make_outdir(outdir, flag='--outdir'):
    """Create the output folder (and its parents) or say in one sentence why it cannot be."""
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise StylescopeError(f"cannot create output folder '{outdir}' ({e.strerror}): choose another {flag}") from None
