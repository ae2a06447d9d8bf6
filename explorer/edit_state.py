"""What one picture in the explorer is made of, as immutable values: `EditState` (latent, class,
truncation, directions and their slider values, style mixing, noise), its `MixSource`s, and a
`Favourite` (a stored state with its ws and a thumbnail). No Qt, no torch: numbers are numpy
arrays. `state.request()` is the core.request.RenderRequest the render thread draws; `to_dict` /
`from_dict` are its form in session files (core/session_file.py).
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from core import session_file as sessions
from core.direction_set import DirectionSet
from core.errors import StylescopeError
from core.frozen import FrozenArray
from core.noise_spec import NoiseMaps, NoiseSpec
from core.request import Latent, Mix, RenderRequest, offsets_from_directions, style_offsets_from_directions
from core.seeds import MAX_SEED
from core.session_file import decode_array, encode_array


@dataclass(frozen=True)
class MixSource:
    """A style-mixing source: `latent` (a seed, or a ws [num_ws, w_dim] such as a favourite's)
    gives the ws `rows`; `label` is what the GUI shows ('seed 7', a favourite's name)."""
    label: str
    latent: Latent
    rows: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, 'latent', Latent.of(self.latent))
        object.__setattr__(self, 'rows', tuple(sorted({int(r) for r in self.rows})))


@dataclass(frozen=True)
class EditState:
    """Everything that decides the picture. Immutable: edits make new states (`replace` and the
    `with_*` helpers), so the undo stack simply keeps old ones.

    seed: the latent when `w` is None (official seed -> z). w: an explicit ws [num_ws, w_dim]
    (a loaded, pasted or projected latent), pulled toward w_avg by psi like a mapped one; `w_label`
    says where it came from. seed_frac: a fraction of the way to the next seed, 0 <= f < 1 (z is
    slerped from seed to seed + 1, as when dragging between seeds or walking through them). noise_maps: the noise maps that belong to `w` (a projection optimises them
    with it: a NoiseMaps, or None), drawn instead of the network's own noise wherever `noise`
    draws noise; `noise`'s mode and strengths still apply. A new latent (another w, or the seed
    when no w is left) drops them (see `replace`). directions: a DirectionSet (or None) and
    `alphas`, one slider value per direction, in its unit. mixing: MixSources (their rows only: the
    noise stays the base latent's); a ws row taken by a later source wins."""
    seed: int = 0
    seed_frac: float = 0.0
    w: FrozenArray = None
    w_label: str = ''
    class_idx: int = None
    psi: float = 1.0
    cutoff: int = None
    directions: DirectionSet = None
    alphas: tuple = ()
    mixing: tuple = ()
    noise: NoiseSpec = NoiseSpec()
    noise_maps: NoiseMaps = None
    motion: tuple = ()  # StyleGAN3: (angle in degrees, x, y in image widths); () = as drawn

    def __post_init__(self):
        if self.w is not None:
            object.__setattr__(self, 'w', FrozenArray(self.w))
        object.__setattr__(self, 'noise_maps', NoiseMaps.of(self.noise_maps))
        if self.noise_maps is not None and self.w is None:
            raise ValueError('noise maps belong to an explicit w: give the w they were projected with')
        object.__setattr__(self, 'psi', float(self.psi))
        frac = float(self.seed_frac)
        object.__setattr__(self, 'seed_frac', frac if 0 <= frac < 1 and self.seed < MAX_SEED else 0.0)
        k = 0 if self.directions is None else len(self.directions)
        alphas = tuple(float(a) for a in self.alphas)
        if len(alphas) != k:
            alphas = (alphas + (0.0,) * k)[:k]
        object.__setattr__(self, 'alphas', alphas)
        object.__setattr__(self, 'mixing', tuple(self.mixing))
        motion = tuple(float(v) for v in self.motion)
        object.__setattr__(self, 'motion', motion if any(motion) else ())

    def replace(self, **changes):
        """A copy with `changes`. Another latent (a w that differs from this one, or no w any more)
        drops the noise maps unless `changes` gives new ones: the maps were optimised for this w only.
        A seed changed under an unchanged w is not another latent (the w is what is drawn)."""
        if 'noise_maps' not in changes and self.noise_maps is not None and self._new_latent(changes):
            changes['noise_maps'] = None
        return dataclasses.replace(self, **changes)

    def _new_latent(self, changes):
        """Does the picture's latent change? It is the w when there is one (a seed change under it
        changes nothing), else the seed."""
        w = changes.get('w', self.w)
        if w is None:
            return (self.w is not None or changes.get('seed', self.seed) != self.seed
                    or changes.get('seed_frac', self.seed_frac) != self.seed_frac)
        return self.w is None or FrozenArray(w) != self.w

    # -- what it renders
    def request(self, preview=False, original=False, preview_resolution=128, output_size=None, preview_always=False,
                precision='auto', draft=False):
        """The RenderRequest of this state. original: the unedited image (no direction edits, no
        style mixing) for the A/B comparison. precision and draft: the arithmetic setting and
        whether the frame is drawn while a control moves (core.request.RenderRequest)."""
        latent = dict(w=self.w) if self.w is not None else dict(seed=self.seed, seed_frac=self.seed_frac)
        offsets, mixing, styles = (), (), ()
        if not original:
            if self.directions is not None:
                offsets = offsets_from_directions(self.directions, self.alphas)
                styles = style_offsets_from_directions(self.directions, self.alphas)  # StyleSpace channels
            mixing = tuple(Mix(m.latent, m.rows) for m in self.mixing if m.rows)
        noise = self.noise if self.noise_maps is None else self.noise.with_maps(self.noise_maps)
        return RenderRequest(class_idx=self.class_idx, psi=self.psi, cutoff=self.cutoff, mixing=mixing,
                             offsets=offsets, style_offsets=styles, noise=noise, preview=preview, motion=self.motion,
                             preview_resolution=preview_resolution, preview_always=preview_always,
                             output_size=output_size, precision=precision, draft=draft, **latent)

    @property
    def is_edited(self):
        return any(self.alphas) or any(m.rows for m in self.mixing)

    @property
    def latent_label(self):
        if self.w is None:
            return f'seed {self.seed + self.seed_frac:.2f}' if self.seed_frac else f'seed {self.seed}'
        return f'w from {self.w_label or "a file"}' + (' with its noise maps' if self.noise_maps is not None else '')

    # -- directions
    def with_alpha(self, k, value):
        alphas = list(self.alphas)
        alphas[k] = float(value)
        return self.replace(alphas=tuple(alphas))

    def with_range(self, k, start, end):
        return self.replace(directions=self.directions.with_range(k, int(start), int(end)))

    def add_directions(self, dset):
        """Append a set's directions (clashing names get ' (2)'...), sliders at 0."""
        merged = dset if self.directions is None else self.directions.merge(dset)
        return self.replace(directions=merged, alphas=self.alphas + (0.0,) * len(dset))

    def keep_directions(self, indices):
        """Only the directions at `indices` (with their slider values); none left: no directions."""
        indices = list(indices)
        if not indices:
            return self.replace(directions=None, alphas=())
        return self.replace(directions=self.directions.subset(indices), alphas=tuple(self.alphas[k] for k in indices))

    def remove_direction(self, k):
        if len(self.directions) == 1:
            return self.replace(directions=None, alphas=())
        alphas = self.alphas[:k] + self.alphas[k + 1:]
        return self.replace(directions=self.directions.remove(k), alphas=alphas)

    def rename_direction(self, k, name):
        name = str(name).strip()
        if not name:
            raise StylescopeError('a direction needs a name: type at least one character')
        return self.replace(directions=self.directions.rename(k, name))

    def reset_edits(self):
        """Every direction slider back to 0 (mixing and noise stay)."""
        return self.replace(alphas=(0.0,) * len(self.alphas))

    # -- mixing
    def with_mix_rows(self, index, rows):
        """Source `index` takes ws `rows`; other sources give those rows up (one source per row)."""
        rows = set(int(r) for r in rows)
        mixing = []
        for i, m in enumerate(self.mixing):
            mine = rows if i == index else set(m.rows) - rows
            mixing.append(dataclasses.replace(m, rows=tuple(mine)))
        return self.replace(mixing=tuple(mixing))

    def mix_owner(self, row):
        """Index of the mixing source that gives ws `row`, or None (the base latent)."""
        owner = None
        for i, m in enumerate(self.mixing):
            if row in m.rows:
                owner = i
        return owner

    # -- checks against a network
    def fitted_to(self, num_ws, w_dim, c_dim, noise_layers=None, movable=False, style_layers=None):
        """This state made valid for a network (class picked for conditional models, cutoff cut,
        directions and mixing sources of another w_dim dropped, noise maps dropped unless each one
        is for a layer of `noise_layers` ('b16.conv0', ...; None: not checked) at its size, the
        motion dropped unless the network is `movable`: StyleGAN3; StyleSpace channels dropped
        unless they are channels of `style_layers` ({layer: channels}; None: not checked)).
        Returns (state, warnings)."""
        warnings, state = [], self
        if state.motion and not movable:
            state = state.replace(motion=())
        if state.w is not None and tuple(state.w.shape) not in ((num_ws, w_dim), (w_dim,)):
            warnings.append(f'the latent w has shape {list(state.w.shape)} but this network wants '
                            f'[{num_ws}, {w_dim}]: showing seed {state.seed} instead')
            state = state.replace(w=None, w_label='')
        state, problem = without_unfit_maps(state, noise_layers)
        if problem is not None:
            warnings.append(f"{state.latent_label} is drawn with the network's own noise: {problem}")
        if c_dim > 0 and (state.class_idx is None or not 0 <= state.class_idx < c_dim):
            state = state.replace(class_idx=0)
        if c_dim == 0 and state.class_idx is not None:
            state = state.replace(class_idx=None)
        if state.cutoff is not None and state.cutoff > num_ws:
            state = state.replace(cutoff=None)
        if state.directions is not None:
            rows = state.directions.row_count  # per-row directions ("A -> B") are for one num_ws
            if state.directions.w_dim != w_dim or rows not in (None, num_ws):
                made, has = ((f'w_dim {state.directions.w_dim}', w_dim) if state.directions.w_dim != w_dim
                             else (f'{rows} ws rows', num_ws))
                warnings.append(f'the directions are for {made}, this network has {has}: they were left out')
                state = state.replace(directions=None, alphas=())
            else:
                state, unfit = state._without_unfit_channels(style_layers)
                if unfit:
                    warnings.append(f"the StyleSpace channels {', '.join(unfit)} are not channels of this network: "
                                    'they were left out')
            if state.directions is not None and (state.directions.layer_end > num_ws).any():
                d = state.directions
                start = np.minimum(d.layer_start, num_ws - 1)
                state = state.replace(directions=dataclasses.replace(
                    d, layer_start=start, layer_end=np.clip(d.layer_end, start + 1, num_ws)))
        mixing = []
        for m in state.mixing:
            if m.latent.w is not None and tuple(m.latent.w.shape) not in ((num_ws, w_dim), (w_dim,)):
                warnings.append(f"the mixing source '{m.label}' does not fit this network: it was left out")
                continue
            mixing.append(dataclasses.replace(m, rows=tuple(r for r in m.rows if r < num_ws)))
        return state.replace(mixing=tuple(mixing)), warnings

    def _without_unfit_channels(self, style_layers):
        """(this state less the StyleSpace channels that are not channels of `style_layers`
        ({layer: channels}, None: all fit), [their names])."""
        d = self.directions
        if style_layers is None or d is None:
            return self, []
        unfit = [k for k in range(len(d)) if d.is_style_channel(k)
                 and not 0 <= d.style_channel(k)[1] < style_layers.get(d.style_channel(k)[0], 0)]
        if not unfit:
            return self, []
        return self.keep_directions([k for k in range(len(d)) if k not in unfit]), [d.names[k] for k in unfit]

    # -- files
    def to_dict(self, compact=False, maps_table=None):
        """A JSON-ready dict (arrays base64). compact: only directions whose slider is not 0, and
        the noise maps named by their digest but not stored (for PNG metadata: on a 1024 model they
        are 11 MiB). maps_table: a dict shared by the dicts of one session, where the noise maps
        are stored once under their digest (core.session_file.encode_maps); None: stored inline."""
        directions, alphas = self.directions, self.alphas
        if compact and directions is not None:
            used = [k for k, a in enumerate(alphas) if a]
            directions = directions.subset(used) if used else None
            alphas = tuple(alphas[k] for k in used)
        d = dict(seed=self.seed, seed_frac=self.seed_frac, w=None if self.w is None else encode_array(self.w.array), w_label=self.w_label,
                 class_idx=self.class_idx, psi=self.psi, cutoff=self.cutoff,
                 directions=None if directions is None else sessions.encode_directions(directions),
                 alphas=list(alphas),
                 mixing=[dict(label=m.label, latent=sessions.encode_latent(m.latent), rows=list(m.rows))
                         for m in self.mixing],
                 noise=sessions.encode_noise(self.noise), noise_maps=None, motion=list(self.motion))
        if self.noise_maps is not None and compact:
            d['noise_maps_digest'] = self.noise_maps.digest.hex()  # which maps, for the record only
        elif self.noise_maps is not None:
            d['noise_maps'] = sessions.encode_maps(self.noise_maps, maps_table)
        return d

    @classmethod
    def from_dict(cls, d, maps_table=None):
        """The state of `to_dict`'s dict (sessions without noise maps, as older ones, load too)."""
        try:
            w = d.get('w')
            directions = d.get('directions')
            return cls(seed=int(d.get('seed', 0)), seed_frac=float(d.get('seed_frac', 0.0)), w=None if w is None else decode_array(w),
                       w_label=str(d.get('w_label', '')), class_idx=d.get('class_idx'),
                       psi=float(d.get('psi', 1.0)), cutoff=d.get('cutoff'),
                       directions=None if directions is None else sessions.decode_directions(directions),
                       alphas=tuple(d.get('alphas', ())),
                       mixing=tuple(MixSource(m['label'], sessions.decode_latent(m['latent']), m.get('rows', ()))
                                    for m in d.get('mixing', ())),
                       noise=sessions.decode_noise(d.get('noise')),
                       noise_maps=sessions.decode_maps(d.get('noise_maps'), maps_table),
                       motion=tuple(float(v) for v in d.get('motion') or ()))
        except StylescopeError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StylescopeError(f'the saved editing state is damaged ({exc}): save the session again') from None


@dataclass(frozen=True)
class Favourite:
    """A stored state with the ws [num_ws, w_dim] it rendered to and a small thumbnail (HWC uint8)."""
    name: str
    state: EditState
    ws: np.ndarray
    thumbnail: np.ndarray = None

    def to_dict(self, maps_table=None):
        return dict(name=self.name, state=self.state.to_dict(maps_table=maps_table), ws=encode_array(self.ws),
                    thumbnail=None if self.thumbnail is None else encode_array(self.thumbnail))

    @classmethod
    def from_dict(cls, d, maps_table=None):
        thumb = d.get('thumbnail')
        return cls(str(d['name']), EditState.from_dict(d['state'], maps_table), decode_array(d['ws']),
                   None if thumb is None else decode_array(thumb))


def without_unfit_maps(state, noise_layers):
    """(`state` less noise maps that do not fit a network of these noise layers (None: unchecked),
    the sentence saying why they do not fit or None)."""
    problem = None if state.noise_maps is None or noise_layers is None else state.noise_maps.misfit(noise_layers)
    return (state if problem is None else state.replace(noise_maps=None)), problem
