"""The explorer's editing state, without Qt: what the picture is made of, its undo history,
favourites, sessions, and the `RenderRequest` it implies.

- `EditState`: one immutable snapshot (latent, class, truncation, directions and their slider
  values, style mixing, noise). `state.request()` is the RenderRequest the worker renders.
- `EditorModel`: the evented model the Qt panels bind to (napari style: plain Python,
  `model.events.<name>.connect(callback)`). It keeps the current state, an undo / redo stack
  (a slider drag is one step: changes with the same `coalesce` key merge until
  `end_gesture()`), the A/B toggle, favourites and the open network's facts.
- Sessions: a JSON file (arrays as base64) holding the state, the favourites and the model
  fingerprint; loading one made for another model warns. A projected latent's noise maps are
  stored once per session (see `EditorModel.session_dict`).
- Latent text: copy / paste a latent as a short JSON text (`latent_to_text`, `latent_from_text`).

Nothing here imports Qt, and nothing here runs torch: numbers are numpy arrays.
"""
import base64
import dataclasses
import json
import os
from dataclasses import dataclass

import numpy as np

from core.directions import DirectionSet
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.noise import NoiseMaps, NoiseSpec
from core.render import FrozenArray, Latent, Mix, RenderRequest, offsets_from_directions
from core.session_file import (SESSION_FORMAT, SESSION_VERSION, decode_array, encode_array,
                               read_session, write_json_atomic)

MAX_UNDO = 200
SLIDER_LIMIT = 10.0  # direction sliders run from -10 to +10 units


# ----------------------------------------------------------------------------------------------
# Events

class Event:
    """A list of callbacks: `connect(cb)`, `disconnect(cb)`, `emit(*args)`."""

    def __init__(self):
        self._callbacks = []

    def connect(self, callback):
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback):
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args):
        for callback in list(self._callbacks):
            callback(*args)


class Events:
    """The model's events, by name."""

    def __init__(self, *names):
        for name in names:
            setattr(self, name, Event())


# ----------------------------------------------------------------------------------------------
# The state

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
    (a loaded, pasted or projected latent), used as it is (psi does not reach it); `w_label` says
    where it came from. noise_maps: the noise maps that belong to `w` (a projection optimises them
    with it: a NoiseMaps, or None), drawn instead of the network's own noise wherever `noise`
    draws noise; `noise`'s mode and strengths still apply. A new latent (another w, or the seed
    when no w is left) drops them (see `replace`). directions: a DirectionSet (or None) and
    `alphas`, one slider value per direction, in its unit. mixing: MixSources (their rows only: the
    noise stays the base latent's); a ws row taken by a later source wins."""
    seed: int = 0
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

    def __post_init__(self):
        if self.w is not None:
            object.__setattr__(self, 'w', FrozenArray(self.w))
        object.__setattr__(self, 'noise_maps', NoiseMaps.of(self.noise_maps))
        if self.noise_maps is not None and self.w is None:
            raise ValueError('noise maps belong to an explicit w: give the w they were projected with')
        object.__setattr__(self, 'psi', float(self.psi))
        k = 0 if self.directions is None else len(self.directions)
        alphas = tuple(float(a) for a in self.alphas)
        if len(alphas) != k:
            alphas = (alphas + (0.0,) * k)[:k]
        object.__setattr__(self, 'alphas', alphas)
        object.__setattr__(self, 'mixing', tuple(self.mixing))

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
            return self.w is not None or changes.get('seed', self.seed) != self.seed
        return self.w is None or FrozenArray(w) != self.w

    # -- what it renders
    def request(self, preview=False, original=False, preview_resolution=128, output_size=None, preview_always=False):
        """The RenderRequest of this state. original: the unedited image (no direction edits, no
        style mixing) for the A/B comparison."""
        latent = dict(w=self.w) if self.w is not None else dict(seed=self.seed)
        offsets, mixing = (), ()
        if not original:
            if self.directions is not None:
                offsets = offsets_from_directions(self.directions, self.alphas)
            mixing = tuple(Mix(m.latent, m.rows) for m in self.mixing if m.rows)
        noise = self.noise if self.noise_maps is None else self.noise.with_maps(self.noise_maps)
        return RenderRequest(class_idx=self.class_idx, psi=self.psi, cutoff=self.cutoff, mixing=mixing,
                             offsets=offsets, noise=noise, preview=preview,
                             preview_resolution=preview_resolution, preview_always=preview_always,
                             output_size=output_size, **latent)

    @property
    def is_edited(self):
        return any(self.alphas) or any(m.rows for m in self.mixing)

    @property
    def latent_label(self):
        if self.w is None:
            return f'seed {self.seed}'
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
    def fitted_to(self, num_ws, w_dim, c_dim, noise_layers=None):
        """This state made valid for a network (class picked for conditional models, cutoff cut,
        directions and mixing sources of another w_dim dropped, noise maps dropped unless each one
        is for a layer of `noise_layers` ('b16.conv0', ...; None: not checked) at its size).
        Returns (state, warnings)."""
        warnings, state = [], self
        if state.w is not None and tuple(state.w.shape) not in ((num_ws, w_dim), (w_dim,)):
            warnings.append(f'the latent w has shape {list(state.w.shape)} but this network wants '
                            f'[{num_ws}, {w_dim}]: showing seed {state.seed} instead')
            state = state.replace(w=None, w_label='')
        state, problem = _without_unfit_maps(state, noise_layers)
        if problem is not None:
            warnings.append(f"{state.latent_label} is drawn with the network's own noise: {problem}")
        if c_dim > 0 and (state.class_idx is None or not 0 <= state.class_idx < c_dim):
            state = state.replace(class_idx=0)
        if c_dim == 0 and state.class_idx is not None:
            state = state.replace(class_idx=None)
        if state.cutoff is not None and state.cutoff > num_ws:
            state = state.replace(cutoff=None)
        if state.directions is not None:
            if state.directions.w_dim != w_dim:
                warnings.append(f'the directions are for w_dim {state.directions.w_dim}, this network has '
                                f'{w_dim}: they were left out')
                state = state.replace(directions=None, alphas=())
            elif (state.directions.layer_end > num_ws).any():
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

    # -- files
    def to_dict(self, compact=False, maps_table=None):
        """A JSON-ready dict (arrays base64). compact: only directions whose slider is not 0, and
        the noise maps named by their digest but not stored (for PNG metadata: on a 1024 model they
        are 11 MiB). maps_table: a dict shared by the dicts of one session, where the noise maps
        are stored once under their digest (see _maps_to_json); None: stored inline."""
        directions, alphas = self.directions, self.alphas
        if compact and directions is not None:
            used = [k for k, a in enumerate(alphas) if a]
            directions = directions.subset(used) if used else None
            alphas = tuple(alphas[k] for k in used)
        d = dict(seed=self.seed, w=None if self.w is None else encode_array(self.w.array), w_label=self.w_label,
                 class_idx=self.class_idx, psi=self.psi, cutoff=self.cutoff,
                 directions=None if directions is None else directions_to_dict(directions),
                 alphas=list(alphas),
                 mixing=[dict(label=m.label, latent=_latent_to_dict(m.latent), rows=list(m.rows))
                         for m in self.mixing],
                 noise=dict(mode=self.noise.mode, seed=self.noise.seed, scales=[list(s) for s in self.noise.scales]),
                 noise_maps=None)
        if self.noise_maps is not None and compact:
            d['noise_maps_digest'] = self.noise_maps.digest.hex()  # which maps, for the record only
        elif self.noise_maps is not None:
            d['noise_maps'] = _maps_to_json(self.noise_maps, maps_table)
        return d

    @classmethod
    def from_dict(cls, d, maps_table=None):
        """The state of `to_dict`'s dict (sessions without noise maps, as older ones, load too)."""
        try:
            w = d.get('w')
            directions = d.get('directions')
            noise = d.get('noise') or {}
            return cls(seed=int(d.get('seed', 0)), w=None if w is None else decode_array(w),
                       w_label=str(d.get('w_label', '')), class_idx=d.get('class_idx'),
                       psi=float(d.get('psi', 1.0)), cutoff=d.get('cutoff'),
                       directions=None if directions is None else directions_from_dict(directions),
                       alphas=tuple(d.get('alphas', ())),
                       mixing=tuple(MixSource(m['label'], _latent_from_dict(m['latent']), m.get('rows', ()))
                                    for m in d.get('mixing', ())),
                       noise=NoiseSpec(noise.get('mode', 'const'), noise.get('seed', 0),
                                       [tuple(s) for s in noise.get('scales', ())]),
                       noise_maps=_maps_from_json(d.get('noise_maps'), maps_table))
        except StylescopeError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StylescopeError(f'the saved editing state is damaged ({exc}): save the session again') from None


# ----------------------------------------------------------------------------------------------
# Favourites

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


# ----------------------------------------------------------------------------------------------
# The evented model

class EditorModel:
    """The explorer's model: current state, undo / redo, A/B, favourites, network facts.

    events: state(new, old) after every change of the state (edits, undo, redo, loads);
    history(can_undo, can_redo); original(showing_original); dragging(is_dragging);
    favourites(list); network(info dict)."""

    def __init__(self, state=None, max_undo=MAX_UNDO):
        self.events = Events('state', 'history', 'original', 'dragging', 'favourites', 'network')
        self._state = state or EditState()
        self._undo, self._redo = [], []
        self._gesture = None
        self.max_undo = max_undo
        self.show_original = False
        self.dragging = False
        self.favourites = []
        self.network = None

    @property
    def state(self):
        return self._state

    @property
    def gesture(self):
        """The coalesce key of the change in progress (('alpha', k), 'psi', ...), or None."""
        return self._gesture

    # -- changing the state
    def set_state(self, new, coalesce=None):
        """Make `new` the current state. Changes with the same non-None `coalesce` key in a row
        (a slider drag) become one undo step, until `end_gesture()` or another kind of change."""
        if new is self._state:
            return
        if coalesce is None or coalesce != self._gesture:
            self._undo.append(self._state)
            del self._undo[:-self.max_undo]
            self._redo.clear()
        self._gesture = coalesce
        self._set(new)

    def update(self, coalesce=None, **changes):
        """set_state(state.replace(**changes)); nothing happens when nothing changes."""
        if all(_same(getattr(self._state, key), value) for key, value in changes.items()):
            return
        self.set_state(self._state.replace(**changes), coalesce)

    def end_gesture(self):
        self._gesture = None

    def undo(self):
        if self._undo:
            self._redo.append(self._state)
            self._gesture = None
            self._set(self._undo.pop())

    def redo(self):
        if self._redo:
            self._undo.append(self._state)
            self._gesture = None
            self._set(self._redo.pop())

    @property
    def can_undo(self):
        return bool(self._undo)

    @property
    def can_redo(self):
        return bool(self._redo)

    @property
    def undo_depth(self):
        """(undo steps, redo steps) available."""
        return len(self._undo), len(self._redo)

    def reset(self, state):
        """A fresh start (a new network): `state` with an empty history."""
        self._undo.clear()
        self._redo.clear()
        self._gesture = None
        self._set(state)

    def _set(self, new):
        old, self._state = self._state, new
        self.events.state.emit(new, old)
        self.events.history.emit(self.can_undo, self.can_redo)

    # -- view toggles (not part of the undo history)
    def set_show_original(self, on):
        if bool(on) != self.show_original:
            self.show_original = bool(on)
            self.events.original.emit(self.show_original)

    def set_dragging(self, on):
        if bool(on) != self.dragging:
            self.dragging = bool(on)
            if not on:
                self.end_gesture()
            self.events.dragging.emit(self.dragging)

    # -- network
    def set_network(self, info, keep_state=False):
        """A network was opened: info holds num_ws, w_dim, c_dim, fingerprint... The history and
        favourites start afresh unless `keep_state` (the same model again)."""
        self.network = {k: v for k, v in info.items() if k != 'directions'}
        fresh = EditState()
        if info.get('directions') is not None:  # the network's own direction file: sliders from the start
            fresh = fresh.add_directions(info['directions'])
        state, _warnings = (self._state if keep_state else fresh).fitted_to(
            info['num_ws'], info['w_dim'], info['c_dim'], info.get('noise_layers'))
        if not keep_state:
            self.favourites = []
            self.events.favourites.emit(self.favourites)
        self.reset(state)
        self.events.network.emit(self.network)

    # -- favourites
    def add_favourite(self, ws, thumbnail=None, name=None, state=None):
        name = name or _unique_name('favourite', [f.name for f in self.favourites])
        fav = Favourite(name, state or self._state, np.array(ws, dtype=np.float32), thumbnail)
        self.favourites = self.favourites + [fav]
        self.events.favourites.emit(self.favourites)
        return fav

    def remove_favourite(self, index):
        self.favourites = self.favourites[:index] + self.favourites[index + 1:]
        self.events.favourites.emit(self.favourites)

    def rename_favourite(self, index, name):
        name = str(name).strip()
        if not name:
            raise StylescopeError('a favourite needs a name: type at least one character')
        self.favourites = list(self.favourites)
        self.favourites[index] = dataclasses.replace(self.favourites[index], name=name)
        self.events.favourites.emit(self.favourites)

    def restore_favourite(self, index):
        """The favourite's state becomes the current one (an undoable step)."""
        self.set_state(self.favourites[index].state)

    # -- sessions
    def session_dict(self):
        """The session as a JSON-ready dict. Noise maps go to one table, `noise_maps` {digest:
        {layer: array}}, which the state and favourites name by digest: a projected latent that is
        both the picture and a favourite is stored once. They are float32, so a reloaded session
        draws the same pixels, and they are large: a 1024 model's maps are 2.8 M floats, 11 MiB,
        about 15 MB of base64 in the file per projected latent (a 256 model: 1 MB; 64 px: 60 kB).
        Without maps the session has no `noise_maps` table and each state's `noise_maps` is None;
        older sessions, whose states have no `noise_maps` key, load as they are."""
        info = self.network or {}
        maps = {}
        d = dict(format=SESSION_FORMAT, version=SESSION_VERSION,
                 model=dict(fingerprint=info.get('fingerprint'), source=info.get('source'),
                            num_ws=info.get('num_ws'), w_dim=info.get('w_dim')),
                 state=self._state.to_dict(maps_table=maps),
                 favourites=[f.to_dict(maps_table=maps) for f in self.favourites])
        if maps:
            d['noise_maps'] = maps
        return d

    def save_session(self, path):
        write_json_atomic(path, self.session_dict())

    def load_session(self, path):
        """Replace the state (an undoable step) and the favourites with a session file's.
        Returns a list of warnings (another model, parts that do not fit this network)."""
        return self.apply_session(read_session(path), os.fspath(path))

    def apply_session(self, session, where='the session'):
        info = self.network or {}
        warnings = []
        saved_for = (session.get('model') or {}).get('fingerprint')
        if saved_for and info.get('fingerprint') and saved_for != info['fingerprint']:
            warnings.append(f"{where} was saved with another model (fingerprint {saved_for}, this one is "
                            f"{info['fingerprint']}): seeds, favourites and directions may look different")
        table = session.get('noise_maps')
        table = dict(table) if isinstance(table, dict) else table  # our copy: decoded sets are kept in it
        state = EditState.from_dict(session['state'], table)
        favourites = [Favourite.from_dict(f, table) for f in session.get('favourites', ())]
        if self.network is not None:
            state, more = state.fitted_to(info['num_ws'], info['w_dim'], info['c_dim'], info.get('noise_layers'))
            warnings += more
            kept = [f for f in favourites if f.ws.shape == (info['num_ws'], info['w_dim'])]
            if len(kept) < len(favourites):
                warnings.append(f'{len(favourites) - len(kept)} favourites do not fit this network and were left out')
            favourites, unfit = [], []
            for f in kept:
                fitted, problem = _without_unfit_maps(f.state, info.get('noise_layers'))
                favourites.append(dataclasses.replace(f, state=fitted))
                if problem is not None:
                    unfit.append(f"'{f.name}'")
            if len(unfit) == 1:
                warnings.append(f"the favourite {unfit[0]} is drawn with the network's own noise: its noise maps "
                                'do not fit this network')
            elif unfit:
                warnings.append(f"the favourites {', '.join(unfit)} are drawn with the network's own noise: their "
                                'noise maps do not fit this network')
        self.set_state(state)
        self.favourites = favourites
        self.events.favourites.emit(self.favourites)
        return warnings


def _same(a, b):
    if a is b:
        return True
    if isinstance(a, (DirectionSet, np.ndarray)) or isinstance(b, (DirectionSet, np.ndarray)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _unique_name(base, taken):
    n = len(taken) + 1
    while f'{base} {n}' in taken:
        n += 1
    return f'{base} {n}'


# ----------------------------------------------------------------------------------------------
# Encoding arrays, directions, latents

def directions_to_dict(dset):
    return dict(vectors=encode_array(dset.vectors), scales=encode_array(dset.scales),
                layer_start=[int(v) for v in dset.layer_start], layer_end=[int(v) for v in dset.layer_end],
                centers=encode_array(dset.centers), names=list(dset.names), meta=json_ready(dset.meta))


def directions_from_dict(d):
    try:
        return DirectionSet(decode_array(d['vectors']), decode_array(d['scales']), np.array(d['layer_start']),
                            np.array(d['layer_end']), d['names'], d.get('meta') or {},
                            decode_array(d['centers']) if d.get('centers') else None)
    except ValueError as exc:
        raise StylescopeError(f'the saved directions are damaged ({exc}): save the session again') from None


def _without_unfit_maps(state, noise_layers):
    """(`state` less noise maps that do not fit a network of these noise layers (None: unchecked),
    the sentence saying why they do not fit or None)."""
    problem = None if state.noise_maps is None or noise_layers is None else state.noise_maps.misfit(noise_layers)
    return (state if problem is None else state.replace(noise_maps=None)), problem


def _maps_to_json(maps, table):
    """Noise maps for a state's dict: inline {layer: array} (table None), or their digest (hex)
    with the arrays put in `table` once."""
    if table is None:
        return _encode_maps(maps)
    key = maps.digest.hex()
    if key not in table:
        table[key] = _encode_maps(maps)
    return key


def _encode_maps(maps):
    return {name: encode_array(array) for name, array in maps.arrays().items()}


def _maps_from_json(value, table):
    """The NoiseMaps of _maps_to_json's value (None: none). A set named by digest is decoded once:
    its NoiseMaps then replaces the entry in `table` (apply_session passes its own copy of the
    session's table), so the picture and the favourites that share a set share one NoiseMaps."""
    if value is None:
        return None
    if isinstance(value, str):
        entry = table.get(value) if isinstance(table, dict) else None
        if isinstance(entry, NoiseMaps):
            return entry
        if not isinstance(entry, dict):
            raise StylescopeError('the session names noise maps it does not hold: save the session again')
        table[value] = _maps_from_json(entry, None)
        return table[value]
    return NoiseMaps({name: decode_array(array) for name, array in value.items()})


def _latent_to_dict(latent):
    return dict(seed=latent.seed) if latent.w is None else dict(w=encode_array(latent.w.array))


def _latent_from_dict(d):
    return Latent(seed=int(d['seed'])) if d.get('w') is None else Latent(w=decode_array(d['w']))


# ----------------------------------------------------------------------------------------------
# Session files

# ----------------------------------------------------------------------------------------------
# Latents as text (copy / paste)

def latent_to_text(state, ws=None):
    """The current latent as one line of JSON: {"seed": 42} (with "class" on conditional models),
    or {"w": [num_ws, w_dim] as base64 float32}. Pass `ws` to copy an edited ws instead."""
    if ws is None and state.w is None:
        d = dict(seed=state.seed)
    else:
        array = np.asarray(ws if ws is not None else state.w.array, dtype=np.float32)
        d = dict(w=base64.b64encode(array.astype('<f4').tobytes()).decode('ascii'), shape=list(array.shape))
    if state.class_idx is not None:
        d['class'] = state.class_idx
    return json.dumps(d)


def latent_from_text(text, num_ws, w_dim):
    """Parse a pasted latent into EditState changes: a seed ('42', {"seed": 42}), a w as
    {"w": base64, "shape": [...]} or as a JSON list [w_dim] / [num_ws, w_dim]."""
    text = str(text).strip()
    bad = StylescopeError('the clipboard holds no latent: copy one from Stylescope, or paste a seed number '
                          f'or a JSON list of {w_dim} (or {num_ws} x {w_dim}) numbers')
    try:
        data = json.loads(text)
    except ValueError:
        raise bad from None
    changes = {}
    if isinstance(data, dict) and isinstance(data.get('class'), int):
        changes['class_idx'] = data['class']
    if isinstance(data, dict) and 'seed' in data:
        data = data['seed']
    if isinstance(data, bool):
        raise bad
    if isinstance(data, int):
        if not 0 <= data < 2 ** 32:
            raise StylescopeError(f'seed {data} is out of range: use a whole number from 0 to {2 ** 32 - 1}')
        return dict(changes, seed=data, w=None, w_label='')
    if isinstance(data, dict) and isinstance(data.get('w'), str):
        try:
            array = np.frombuffer(base64.b64decode(data['w']), dtype='<f4').reshape(data.get('shape', [-1]))
        except (TypeError, ValueError):
            raise bad from None
    elif isinstance(data, list):
        try:
            array = np.array(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise bad from None
    else:
        raise bad
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.shape == (w_dim,):
        array = np.repeat(array[None], num_ws, axis=0)
    if array.shape != (num_ws, w_dim):
        raise StylescopeError(f'the pasted latent has shape {list(array.shape)}: this network wants '
                              f'[{w_dim}] or [{num_ws}, {w_dim}]')
    if not np.isfinite(array).all():
        raise StylescopeError('the pasted latent holds NaN or infinite values: copy it again')
    return dict(changes, w=array, w_label='pasted latent')
