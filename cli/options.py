"""Flags several commands share, and the parsing of what users type into them.

Imports neither torch nor Qt: main.py builds every command's parser for each run, `--help`
included, and that must stay fast.
"""
import argparse
import math
import os
import re

from core.atomic import check_folder, write_error
from core.device import DEVICE_CHOICES
from core.precision_choices import PRECISIONS
from core.edits import EditSpec, parse_amount
from core.errors import StylescopeError, one_line
from core.noise_spec import NOISE_MODES
from core.seeds import MAX_SEED


class Parser(argparse.ArgumentParser):
    """argparse with bad input reported as everywhere else: one line, `error: argument --trunc:
    ...`, exit code 2 (argparse's own error prints the usage block first). main.py uses it for
    the top level; subparsers take their parent's class, so every command has it."""

    def error(self, message):
        self.exit(2, f'error: {one_line(message)} (see {self.prog} --help)\n')


class Number:
    """An argparse `type`: a finite int (whole=True) or float within [low, high] (None: no bound;
    low_open: above low, not equal), refused with the allowed range in the message. nan and inf
    parse as floats, so finiteness is checked here rather than trusted to float()."""

    def __init__(self, low=None, high=None, whole=True, low_open=False, power_of_two=False):
        self.low, self.high, self.whole, self.low_open, self.power_of_two = low, high, whole, low_open, power_of_two

    def describe(self):
        kind = 'a power of two' if self.power_of_two else 'a whole number' if self.whole else 'a number'
        low, high = (None if v is None else f'{v:,}' if isinstance(v, int) else f'{v:g}' for v in (self.low, self.high))
        if self.low is not None and self.high is not None:
            return f'{kind} above {low} up to {high}' if self.low_open else f'{kind} from {low} to {high}'
        if self.low is not None:
            return f'{kind} above {low}' if self.low_open else f'{kind} of {low} or more'
        return f'{kind} up to {high}' if self.high is not None else f'a finite {kind[2:]}'

    def __call__(self, text):
        try:
            value = int(text) if self.whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {self.describe()}") from None
        fits = math.isfinite(value) and (self.high is None or value <= self.high) and (
            self.low is None or (value > self.low if self.low_open else value >= self.low))
        if not fits:
            raise argparse.ArgumentTypeError(f'{text} is not allowed: use {self.describe()}')
        if self.power_of_two and value & (value - 1):
            raise argparse.ArgumentTypeError(f'{text} is not a power of two: use {self.describe()}')
        return value


# The ranges of the numeric flags several commands share. Psi beyond +-10 draws nothing a user
# could want (the explorer's slider spans -1 to 2); slider amounts are in units of one standard
# deviation of W, so 1,000 is far past any meaningful edit.
PSI = Number(-10.0, 10.0, whole=False)
AMOUNT = Number(-1000.0, 1000.0, whole=False)
SEED = Number(0, MAX_SEED)
CLASS = Number(0)
CUTOFF = Number(0, 10_000)


NETWORK_HELP = ('network file (official StyleGAN2-ADA or StyleGAN3 .pkl, TensorFlow StyleGAN2 .pkl, rosinality '
                '.pt, Stylescope .safetensors) or a training run folder (default: the bundled model)')


def add_network(parser, required=False, help=NETWORK_HELP):
    parser.add_argument('--network', metavar='PATH', required=required, help=help)


def add_device(parser):
    parser.add_argument('--device', choices=DEVICE_CHOICES, default='auto',
                        help='torch device (default: auto = CUDA if present)')


def add_precision(parser, default='auto', what='drawn'):
    parser.add_argument('--precision', choices=PRECISIONS, default=default,
                        help=f'arithmetic of the images {what}: fp32, bf16 (about twice as fast on a CPU with '
                             'AVX512-BF16 or AMX, within a few grey levels of fp32) or auto (fp32 on CPU, the '
                             'official fp16 layers on CUDA) (default: %(default)s)')


def add_network_and_device(parser):
    add_network(parser)
    add_device(parser)


def add_truncation(parser):
    parser.add_argument('--trunc', type=PSI, default=1.0, metavar='PSI', help='truncation psi (default: 1)')
    parser.add_argument('--trunc-cutoff', type=CUTOFF, default=None, metavar='N',
                        help='truncate only ws rows 0..N-1 (default: all)')


def add_class(parser, what='required for conditional networks'):
    parser.add_argument('--class', dest='class_idx', type=CLASS, default=None, metavar='IDX',
                        help=f'class index, {what}')


def add_noise_mode(parser):
    parser.add_argument('--noise-mode', choices=NOISE_MODES, default='const', help='per-pixel noise (default: const)')


def split_direction_spec(spec):
    """'dirs.npz:smile' -> ('dirs.npz', 'smile'); 'dirs.npz' -> ('dirs.npz', None). A name that is
    a number is an index. A colon that belongs to the path (C:\\..., or a file that exists with it)
    is not a separator."""
    path, name = spec, None
    if ':' in spec and not os.path.exists(spec):
        head, tail = spec.rsplit(':', 1)
        if head and tail and not any(sep in tail for sep in '/\\'):
            path, name = head, tail
    if name is not None and re.fullmatch(r'-?\d{1,18}', name):  # longer digit strings stay names
        name = int(name)
    return path, name


def parse_edit(text):
    """An argparse `type` for `--edit F.npz:NAME=AMOUNT` -> core.edits.EditSpec (NAME a name or an
    index; without it, the file's only direction). Which directions a file holds is checked when
    it is opened (core.edits.edit_offsets)."""
    head, sep, amount = str(text).rpartition('=')
    try:
        if not sep or not head:
            missing = 'amount' if not sep else 'direction file'
            raise StylescopeError(f"--edit '{text}' has no {missing}: write FILE:NAME=AMOUNT, such as "
                                  'dirs.npz:smile=1.5')
        path, name = split_direction_spec(head)
        return EditSpec(path, name, parse_amount(amount, text), str(text))
    except StylescopeError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix('--edit ')) from None


def add_edit(parser):
    """The repeatable `--edit` of every command that draws (core/edits.py)."""
    parser.add_argument('--edit', action='append', default=[], type=parse_edit, metavar='F.npz:NAME=AMOUNT',
                        help="add a direction's edit after truncation, AMOUNT in its slider unit (NAME: its name or "
                             "index in the file); repeatable. After 'directions diff --from 1 --to 2', "
                             "'--seeds 1 --edit d.npz:0=1' draws seed 2")


def make_outdir(outdir, flag='--outdir', names=()):
    """Create the output folder (and its parents) or say in one sentence why it cannot be, and
    check that it takes new files and that none of `names` is taken by a folder: called before
    the work, so nothing is computed for a place that will not take it, and no set of outputs is
    left half-written."""
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise StylescopeError(f"cannot create output folder '{outdir}' ({e.strerror}): choose another {flag}") from None
    check_folder(outdir)
    for name in names:  # may be a million seed images: a stat each, not a probe each
        path = os.path.join(outdir, name)
        if os.path.isdir(path):
            raise write_error(path, IsADirectoryError(path))
