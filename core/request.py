"""What one picture is made of, as immutable plain data: `RenderRequest` and its parts, and the
`RenderResult` that comes back. No torch, no Qt: the explorer builds requests from its editing
state and hands them to the render thread; core.render turns them into images.

Edit order (DESIGN.md): ws = truncate(mapping(z)) (psi, cutoff); `mixing` replaces whole ws rows;
`offsets` add the direction edits, each `amount * vector` on ws rows [start, end) with amount =
slider value * the direction's unit (`slider_offset`), so edits are not shrunk by psi. An
explicit base w (a loaded, pasted or projected one) is truncated too, toward w_avg by the same
formula (psi 1 leaves it as it is); a mixing source's explicit w (a favourite's ws) is used as it
is, since it already is the picture it shows. `style_offsets` are StyleSpace edits (Wu et al. 2021):
each adds `amount` to one channel of one modulated layer's styles s = affine(w), with amount =
slider value * that channel's standard deviation over samples (`style_slider_offset`).
"""
import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from core.errors import StylescopeError
from core.frozen import FrozenArray, frozen
from core.noise_spec import NoiseSpec
from core.precision_choices import PRECISIONS
from core.seeds import MAX_SEED, check_seed


@dataclass(frozen=True)
class Latent:
    """One latent source: a seed (official seed -> z), an explicit z [z_dim], or an explicit
    w [w_dim] / ws [num_ws, w_dim] (a saved or projected w). Give exactly one; arrays are frozen
    on construction. A seed may come with `seed_frac` in [0, 1): z slerped that far toward the next
    seed's z (walking between seeds, as NVIDIA's visualiser's latent pad does)."""
    seed: int = None
    z: FrozenArray = None
    w: FrozenArray = None
    seed_frac: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, 'z', frozen(self.z))
        object.__setattr__(self, 'w', frozen(self.w))
        given = [name for name in ('seed', 'z', 'w') if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f'a Latent needs exactly one of seed, z, w (got {given or "none"})')
        if self.seed is not None:
            object.__setattr__(self, 'seed', check_seed(self.seed))
        object.__setattr__(self, 'seed_frac', _seed_frac(self.seed, self.seed_frac))

    @classmethod
    def of(cls, value):
        """An int is a seed; a Latent stays as it is."""
        return value if isinstance(value, Latent) else cls(seed=value)


@dataclass(frozen=True)
class Mix:
    """Style mixing: copy ws `rows` from `source` (a Latent or a seed). Seeds are mapped with the
    request's class, psi and cutoff."""
    source: Latent
    rows: tuple

    def __post_init__(self):
        object.__setattr__(self, 'source', Latent.of(self.source))
        object.__setattr__(self, 'rows', tuple(sorted({int(r) for r in self.rows})))


@dataclass(frozen=True)
class Offset:
    """A direction edit already scaled: adds `amount * vector` to ws rows [start, end). vector:
    [w_dim], the same on every row, or [num_ws, w_dim] per row (a W+ direction such as "A -> B":
    its row r goes to ws row r, and only rows [start, end) are used)."""
    vector: FrozenArray
    amount: float
    start: int
    end: int

    def __post_init__(self):
        object.__setattr__(self, 'vector', FrozenArray(self.vector))
        object.__setattr__(self, 'amount', float(self.amount))
        object.__setattr__(self, 'start', int(self.start))
        object.__setattr__(self, 'end', int(self.end))
        if self.vector.array.ndim not in (1, 2):
            raise ValueError(f'an offset vector is [w_dim] or [num_ws, w_dim], not {list(self.vector.shape)}')

    @property
    def per_row(self):
        return self.vector.array.ndim == 2


def _motion(motion):
    """() for no motion, else (angle, tx, ty) as finite floats."""
    if not motion:
        return ()
    values = tuple(float(v) for v in motion)
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise StylescopeError(f'the motion {motion!r} is not (angle, x, y) in numbers: use e.g. (15, 0.1, 0)')
    return () if not any(values) else values


def _seed_frac(seed, frac):
    frac = float(frac)
    if frac == 0:
        return 0.0
    if seed is None or not (0 < frac < 1 and math.isfinite(frac)) or seed >= MAX_SEED:
        raise StylescopeError(f'a fraction {frac} of the way to the next seed is not allowed: use 0 <= f < 1, '
                              f'with a seed below {MAX_SEED}')
    return frac


def slider_offset(vector, scale, alpha, start, end):
    """The edit of a direction slider at `alpha` (in the direction's unit `scale`): the one place
    where a slider value becomes a W offset, alpha * scale * vector on rows [start, end) (vector
    [w_dim], or [num_ws, w_dim] for a per-row direction: row r of it on ws row r)."""
    return Offset(vector, float(alpha) * float(scale), start, end)


STYLE_CHANNEL = 'style_channel'  # the direction kind of a single StyleSpace channel (core/direction_set.py)


@dataclass(frozen=True)
class StyleOffset:
    """A StyleSpace edit already scaled: adds `amount` to channel `channel` of the styles s (the
    affine output) of the modulated layer `layer` ('b16.conv1', 'b4.torgb'; StyleGAN3 'L3_52_512')."""
    layer: str
    channel: int
    amount: float

    def __post_init__(self):
        if not isinstance(self.layer, str) or not self.layer:
            raise ValueError(f'a style offset names its layer, not {self.layer!r}')
        object.__setattr__(self, 'channel', int(self.channel))
        object.__setattr__(self, 'amount', float(self.amount))
        if self.channel < 0 or not math.isfinite(self.amount):
            raise ValueError(f'a style offset needs a channel >= 0 and a finite amount, not {self.channel}, '
                             f'{self.amount}')


def style_slider_offset(layer, channel, sign, scale, alpha):
    """The edit of a StyleSpace channel slider at `alpha` (in the channel's unit `scale`: its
    standard deviation over samples; `sign` +1 or -1, the way the slider points): the one place
    where such a slider value becomes an offset, alpha * sign * scale added to s[layer][channel]."""
    return StyleOffset(layer, channel, float(alpha) * (1.0 if sign >= 0 else -1.0) * float(scale))


def _kind_of(directions):
    return getattr(directions, 'kind_of', lambda k: 'w')


def offsets_from_directions(directions, alphas):
    """Offsets for slider values `alphas` [K] of a direction set (anything with `vectors [K, w_dim]`,
    `scales [K]`, `layer_start [K]`, `layer_end [K]`, and `edit_vector(k)` where a direction may
    be per-row, as core.direction_set.DirectionSet's). Zero sliders are left out, so they cost
    nothing and do not change the cache keys; so are StyleSpace channels (their edits are on s, not
    on w: style_offsets_from_directions)."""
    vector_of = getattr(directions, 'edit_vector', lambda k: directions.vectors[k])
    kind_of = _kind_of(directions)
    return tuple(slider_offset(np.asarray(vector_of(k)), directions.scales[k], alpha,
                               directions.layer_start[k], directions.layer_end[k])
                 for k, alpha in enumerate(alphas) if alpha and kind_of(k) != STYLE_CHANNEL)


def style_offsets_from_directions(directions, alphas):
    """StyleOffsets for the slider values `alphas` [K] of the StyleSpace channels of a direction set
    (its directions of kind 'style_channel', each naming `style_channel(k)` = (layer, channel, sign));
    zero sliders and the other kinds are left out."""
    kind_of = _kind_of(directions)
    return tuple(style_slider_offset(*directions.style_channel(k), directions.scales[k], alpha)
                 for k, alpha in enumerate(alphas) if alpha and kind_of(k) == STYLE_CHANNEL)


@dataclass(frozen=True)
class RenderRequest:
    """Everything that decides one image; immutable, hashable, cheap to compare.

    Base latent: `w` if given, else `z`, else `seed`. `class_idx` applies to every mapped latent
    (seeds and z, the mixing sources' too), `psi` and `cutoff` to those and to an explicit base w
    (module docstring); `style_offsets` (StyleOffsets) edit single channels of the styles s, after
    every change to ws. `capture` names a synthesis layer ('b16.conv1', 'L3_52_512') whose output
    the result should carry (RenderResult.capture: the layer viewer); it does not change the
    picture, so it is not compared. `noise` (a NoiseSpec) says how
    every noise layer draws its noise, including explicit maps (a projected latent's optimised
    ones: `noise.maps`). `preview` stops synthesis at the block of `preview_resolution` (see
    core.render.Renderer); `preview_always` keeps it a preview even when every block up to it is
    cached (for a caller that knows its change reaches the preview, such as a slider dragged back
    to an earlier value). `output_size` resizes the result (None: as rendered). `motion` (angle in
    degrees counter-clockwise, tx, ty in image widths, +x right, +y down) moves a StyleGAN3
    network's picture through its input transform; () or zeros: as the network draws it.
    `precision` ('auto' | 'fp32' | 'bf16', core.precision) is the arithmetic; `draft` marks a
    frame drawn while a control moves, to be replaced by a final one when it stops (with 'auto',
    drafts and previews use bf16 where the CPU is faster at it, final frames fp32).
    `request_id` is carried to the result and not compared."""
    seed: int = 0
    seed_frac: float = 0.0
    z: FrozenArray = None
    w: FrozenArray = None
    class_idx: int = None
    psi: float = 1.0
    cutoff: int = None
    mixing: tuple = ()
    offsets: tuple = ()
    style_offsets: tuple = ()
    capture: str = field(default=None, compare=False)
    noise: NoiseSpec = NoiseSpec()
    preview: bool = False
    preview_resolution: int = 128
    preview_always: bool = False
    output_size: int = None
    motion: tuple = ()
    precision: str = 'auto'
    draft: bool = False
    request_id: int = field(default=0, compare=False)

    def __post_init__(self):
        object.__setattr__(self, 'z', frozen(self.z))
        object.__setattr__(self, 'w', frozen(self.w))
        if self.w is None and self.z is None:
            object.__setattr__(self, 'seed', check_seed(self.seed))
            object.__setattr__(self, 'seed_frac', _seed_frac(self.seed, self.seed_frac))
        object.__setattr__(self, 'psi', float(self.psi))
        object.__setattr__(self, 'mixing', tuple(m if isinstance(m, Mix) else Mix(*m) for m in self.mixing))
        object.__setattr__(self, 'offsets', tuple(o if isinstance(o, Offset) else Offset(*o) for o in self.offsets))
        object.__setattr__(self, 'style_offsets', tuple(o if isinstance(o, StyleOffset) else StyleOffset(*o)
                                                        for o in self.style_offsets))
        if self.capture is not None and (not isinstance(self.capture, str) or not self.capture):
            raise ValueError(f'capture names a synthesis layer, not {self.capture!r}')
        if not math.isfinite(self.psi):
            raise StylescopeError(f'truncation psi {self.psi} is not a number: use a value such as 0.7')
        object.__setattr__(self, 'motion', _motion(self.motion))
        if self.precision not in PRECISIONS:
            raise StylescopeError(f"unknown precision '{self.precision}': use one of {', '.join(PRECISIONS)}")

    @property
    def latent(self):
        if self.w is not None:
            return Latent(w=self.w)
        if self.z is not None:
            return Latent(z=self.z)
        return Latent(seed=self.seed, seed_frac=self.seed_frac)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class RenderResult:
    """image: HWC uint8; ws: the exact ws [num_ws, w_dim] (float32) the image was drawn from;
    timings: milliseconds (mapping, synthesis, convert, total); computed_blocks / reused_blocks:
    block resolutions in which some layer ran now / taken whole from the cache (together: every
    block rendered); reused_layers: layers of the first computed block whose output came from the
    cache, so that block ran only its later layers (('b512.conv0',) for an edit from b512's conv1
    row; ('b512.conv0', 'b512.conv1') from its ToRGB row; () when it ran whole); resolution:
    rendered size before any resize; preview: synthesis stopped early; precision: the arithmetic
    it was drawn in ('fp32', 'bf16' or 'fp16', core.precision.resolve_precision); capture: the
    output of the request's `capture` layer as a core.layer_maps.LayerCapture (None when no layer
    was asked for, or a preview stopped before it)."""
    image: np.ndarray
    request: RenderRequest
    ws: np.ndarray
    timings: dict
    computed_blocks: tuple
    reused_blocks: tuple
    resolution: int
    preview: bool
    reused_layers: tuple = ()
    precision: str = 'fp32'
    capture: object = None

    @property
    def request_id(self):
        return self.request.request_id
