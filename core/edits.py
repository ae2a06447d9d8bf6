"""Direction edits named on the command line: `--edit F.npz:NAME=AMOUNT` on every command that
draws (generate, video). Each adds AMOUNT slider units of one direction of a direction file (any
file core.direction_files.open_directions reads; NAME is a name or an index), applied after
truncation like every slider (DESIGN.md's edit order), through core.request.slider_offset, the one
place where a slider value becomes an offset. So after `directions diff --from 1 --to 2 --out d.npz`,
`generate --seeds 1 --edit d.npz:0=1` draws seed 2's picture (with the same truncation).

The top of this module imports no torch: cli/options.py builds EditSpecs while parsing.
"""
import math
from dataclasses import dataclass

from core.errors import StylescopeError

SPEC_FORM = 'FILE:NAME=AMOUNT, such as dirs.npz:smile=1.5 or dirs.npz:0=-2'
MAX_AMOUNT = 1000.0  # slider units; far past any meaningful edit (cli/options.AMOUNT)
NAMES_SHOWN = 12


@dataclass(frozen=True)
class EditSpec:
    """One `--edit`: the direction file, the direction (a name, an index, or None for a file's
    only direction) and the amount in its slider unit; `text` is what the user typed."""
    path: str
    name: object
    amount: float
    text: str = ''

    def __post_init__(self):
        amount = float(self.amount)
        if not (math.isfinite(amount) and abs(amount) <= MAX_AMOUNT):
            raise StylescopeError(f"--edit '{self.text}': the amount {self.amount} is not allowed: use a number "
                                  f'from {-MAX_AMOUNT:g} to {MAX_AMOUNT:g} slider units')
        object.__setattr__(self, 'amount', amount)


def parse_amount(text, spec_text):
    try:
        return float(text)
    except ValueError:
        raise StylescopeError(f"--edit '{spec_text}': '{text}' is not an amount: write {SPEC_FORM}") from None


def _names(dset):
    names = ', '.join(f"'{n}'" for n in dset.names[:NAMES_SHOWN])
    return names + (f' and {len(dset) - NAMES_SHOWN} more' if len(dset) > NAMES_SHOWN else '')


def direction_index(dset, spec):
    """The position in `dset` of the direction `spec` names, or one sentence listing what is there."""
    if spec.name is None:
        if len(dset) == 1:
            return 0
        raise StylescopeError(f"--edit '{spec.text}': '{spec.path}' holds {len(dset)} directions, so name one "
                              f'({SPEC_FORM}): its directions are {_names(dset)}')
    if isinstance(spec.name, int):
        if not -len(dset) <= spec.name < len(dset):
            raise StylescopeError(f"--edit '{spec.text}': '{spec.path}' holds {len(dset)} direction"
                                  f"{'s' * (len(dset) != 1)}, so index {spec.name} is out of range: use 0 to "
                                  f'{len(dset) - 1} or a name ({_names(dset)})')
        return spec.name % len(dset)
    if spec.name not in dset.names:
        raise StylescopeError(f"--edit '{spec.text}': '{spec.path}' has no direction named '{spec.name}': its "
                              f'directions are {_names(dset)} (or give an index)')
    return dset.names.index(spec.name)


def edit_offsets(specs, G):
    """(W offsets, StyleOffsets) of `specs` for network G, in order: a StyleSpace channel direction
    becomes an offset on its layer's styles s (core.request.style_slider_offset), any other an
    offset on w (core.request.slider_offset). Each file is opened once and checked against G
    (another w_dim or num_ws, or channels G lacks, are refused; another model's fingerprint warns)."""
    from core.direction_files import open_directions
    from core.request import STYLE_CHANNEL, slider_offset, style_slider_offset
    opened, offsets, styles = {}, [], []
    for spec in specs:
        if spec.path not in opened:
            opened[spec.path] = open_directions(spec.path, G)
        dset = opened[spec.path]
        k = direction_index(dset, spec)
        if dset.kind_of(k) == STYLE_CHANNEL:
            styles.append(style_slider_offset(*dset.style_channel(k), dset.scales[k], spec.amount))
        else:
            offsets.append(slider_offset(dset.edit_vector(k), dset.scales[k], spec.amount, dset.layer_start[k],
                                         dset.layer_end[k]))
    return tuple(offsets), tuple(styles)


def describe(specs):
    """The edits in words, for an image's metadata: 'd.npz:0=1; dirs.npz:smile=-2'."""
    return '; '.join(spec.text or f'{spec.path}:{spec.name}={spec.amount:g}' for spec in specs)
