"""A set of directions in W: what the explorer's sliders move, and its file. No torch, no Qt.

A `DirectionSet` is K unit vectors in W with, per direction, a slider unit (`scales`), a ws
layer range [start, end), a name, and a `center` (the coordinate of its reference point: the
PCA mean, the SVM boundary). Editing follows DESIGN.md: each slider adds `alpha * scale * d` to
ws rows [start, end) after truncation (core.request.slider_offset), so edits are not shrunk by
psi. The finders that make sets live in core/directions.py, other tools' files in
core/direction_files.py.

Direction kinds (meta per_direction 'kind', absent = every direction 'w'):
- 'w': one unit vector in W, added to each ws row of its range.
- 'w_rows': a per-row direction (a W+ difference such as "A -> B", core.direction_set.difference):
  a unit (Frobenius norm 1) array [num_ws, w_dim] in `row_vectors`; an edit adds
  alpha * scale * row_vectors[k][r] to each ws row r of its range. Its `vectors[k]` is the unit
  direction of its rows' mean, for what reads W alone (an SVM's conditions, a W projection); it
  never edits.
- 'style_channel': one channel of one modulated layer's styles s = affine(w) (StyleSpace,
  core/stylespace.py); per_direction 'style_layer' (its layer's name, 'b16.conv1'), 'style_channel'
  (the channel index), 'style_sign' (+1 or -1) and 'style_gain' (how far s moves per unit of w along
  its vector). An edit adds alpha * sign * scale to that channel of s (core.request.
  style_slider_offset), scale being the channel's std over samples; its `vectors[k]` is the W
  direction that moves the channel most, for what reads W alone; it never edits w. Its layer range
  is the one ws row its layer reads.
A new kind adds its own optional array or per_direction entries, named in the file, and its value
of 'kind'.

File (`.npz`, DESIGN.md): vectors [K, w_dim], scales [K], layer_start [K], layer_end [K],
centers [K] and a JSON `meta` (names, method, space, model fingerprint, sample count...); with
'w_rows' directions also row_vectors [M, num_ws, w_dim], the M per-row directions' rows in order
(format version 2; files without it are version 1 and load as before); with 'style_channel'
directions format version 3 (their facts are in meta per_direction; an older Stylescope refuses the
kind it does not know).
"""
import dataclasses
import json
import os
import re
import warnings

import numpy as np

from core.atomic import atomic_write
from core.bounded_read import parse_json
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.npz_file import read_arrays
from core.request import STYLE_CHANNEL, offsets_from_directions

FORMAT_NAME = 'stylescope-directions'
FORMAT_VERSION = 1
ROWS_FORMAT_VERSION = 2  # a file with row_vectors (per-row directions)
STYLE_FORMAT_VERSION = 3  # a file with StyleSpace channels
KINDS = ('w', 'w_rows', STYLE_CHANNEL)
STYLE_KEYS = ('style_layer', 'style_channel', 'style_sign', 'style_gain')
NATIVE_KEYS = ('vectors', 'scales', 'layer_start', 'layer_end', 'meta')
# The finders' defaults (core/directions.py), here so that the command line's parser can show
# them without loading torch.
DEFAULT_COMPONENTS = 80  # GANSpace's default component count
DEFAULT_LIMIT = 3.0  # a slider's range (+-, in its unit) until the model's own is measured: 3 standard deviations
SAMPLE_SEED = 1          # GANSpace draws its z from RandomState(1)


def _as_numpy(w):
    """float64 numpy copy of an array or a torch tensor (recognised without importing torch)."""
    if hasattr(w, 'detach'):
        w = w.detach().cpu().numpy()
    return np.asarray(w, dtype=np.float64)


def w_matrix(w, w_dim=None):
    """[N, w_dim] from w [N, w_dim] or ws [N, num_ws, w_dim] (rows averaged, which is row 0
    when they are equal, as mapping makes them)."""
    w = _as_numpy(w)
    if w.ndim == 3:
        w = w.mean(axis=1)
    if w.ndim == 1:
        w = w[None]
    assert w.ndim == 2 and (w_dim is None or w.shape[1] == w_dim), f'want w [N, {w_dim}], got {w.shape}'
    return w



def _row_vectors(row_vectors, k, w_dim, ends):
    """row_vectors as a list of K entries, None or float64 [num_ws, w_dim], checked (ValueError)."""
    if row_vectors is None:
        return [None] * k
    rows = list(row_vectors)
    if len(rows) != k:
        raise ValueError(f'row_vectors has {len(rows)} entries for {k} vectors')
    num_ws = None
    for i, r in enumerate(rows):
        if r is None:
            continue
        r = rows[i] = np.array(r, dtype=np.float64)
        if r.ndim != 2 or r.shape[0] < 1 or r.shape[1] != w_dim:
            raise ValueError(f'the row vectors of direction {i} have shape {list(r.shape)}, not [num_ws, {w_dim}]')
        if num_ws is not None and r.shape[0] != num_ws:
            raise ValueError(f'per-row directions of {num_ws} and {r.shape[0]} ws rows are mixed in one set')
        num_ws = r.shape[0]
        if not np.isfinite(r).all():
            raise ValueError(f'the row vectors of direction {i} contain NaN or infinity')
        if np.linalg.norm(r) < 1e-12:
            raise ValueError(f'the row vectors of direction {i} are all zero')
        if ends[i] > num_ws:
            raise ValueError(f'direction {i} reaches ws row {ends[i] - 1} but has row vectors for {num_ws} rows')
    return rows


def _kinds(kinds, rows):
    """per_direction 'kind' of every direction: 'w_rows' where there are row vectors, else 'w'."""
    kinds = list(kinds) if kinds is not None else [None] * len(rows)
    out = []
    for i, (kind, r) in enumerate(zip(kinds, rows)):
        if kind not in (None,) + KINDS:
            raise ValueError(f"direction {i} is of kind '{kind}', which this Stylescope does not know "
                             f"(it knows {', '.join(KINDS)})")
        if kind == 'w_rows' and r is None:
            raise ValueError(f"direction {i} is of kind 'w_rows' but has no row vectors")
        if kind == STYLE_CHANNEL and r is not None:
            raise ValueError(f'direction {i} is a StyleSpace channel but has row vectors')
        out.append('w_rows' if r is not None else kind if kind == STYLE_CHANNEL else 'w')
    return out


def _check_style(per, kinds):
    """The per_direction facts of every 'style_channel' direction, checked (ValueError)."""
    for i, kind in enumerate(kinds or ()):
        if kind != STYLE_CHANNEL:
            continue
        value = {key: (per.get(key) or [None] * len(kinds))[i] for key in STYLE_KEYS}
        layer, channel, sign, gain = (value[key] for key in STYLE_KEYS)
        if not isinstance(layer, str) or not layer:
            raise ValueError(f'StyleSpace direction {i} names no layer (style_layer {layer!r})')
        if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or channel < 0:
            raise ValueError(f'StyleSpace direction {i} has no channel index >= 0 (style_channel {channel!r})')
        if sign not in (None, 1, -1) or isinstance(sign, bool):
            raise ValueError(f'StyleSpace direction {i} has a style_sign of {sign!r}, not 1 or -1')
        if gain is not None and (isinstance(gain, bool) or not isinstance(gain, (int, float, np.floating))
                                 or not np.isfinite(gain) or gain <= 0):
            raise ValueError(f'StyleSpace direction {i} has a style_gain of {gain!r}, not a positive number')


def _mean_direction(rows):
    """Unit W direction of per-row vectors [num_ws, w_dim]: their mean's (the largest row's when
    the rows cancel out)."""
    mean = rows.astype(np.float64).mean(axis=0)
    if np.linalg.norm(mean) < 1e-6 * np.linalg.norm(rows):
        mean = rows[int(np.argmax(np.linalg.norm(rows, axis=1)))].astype(np.float64)
    return mean / np.linalg.norm(mean)


@dataclasses.dataclass(eq=False)
class DirectionSet:
    """K directions in W. vectors [K, w_dim] unit rows; scales [K] (one slider unit in W
    distance); layer_start / layer_end [K] (the ws rows [start, end) an edit touches); names
    [K]; centers [K] (w . d of the reference point, so `project` gives coordinates around it);
    meta: method, space, fingerprint, sample_count, w_dim... and `per_direction` {key: [K]};
    row_vectors: None, or K entries, None or [num_ws, w_dim] for a per-row ('w_rows') direction
    (module docstring; all of one set have the same num_ws).

    Helpers (rename, remove, merge...) return new sets, so an undo stack can keep old ones.
    Rows that are not unit length are normalised with their length folded into `scales` (a
    per-row direction by its Frobenius norm, its center multiplied by it, so `project` reads the
    same), so alpha = 1 always moves by scale: for "A -> B" scale is |w_B - w_A| and 1 turns A into B.
    """
    vectors: np.ndarray
    scales: np.ndarray
    layer_start: np.ndarray
    layer_end: np.ndarray
    names: list
    meta: dict = dataclasses.field(default_factory=dict)
    centers: np.ndarray = None
    row_vectors: tuple = None

    def __post_init__(self):
        v = np.array(self.vectors, dtype=np.float64, ndmin=2)
        k = v.shape[0]
        if v.ndim != 2 or k == 0:
            raise ValueError(f'vectors must be [K, w_dim] with K >= 1, got shape {v.shape}')
        scales = np.array(self.scales, dtype=np.float64).reshape(-1)
        centers = np.zeros(k) if self.centers is None else np.array(self.centers, dtype=np.float64).reshape(-1)
        start = np.array(self.layer_start).reshape(-1)
        end = np.array(self.layer_end).reshape(-1)
        names = [str(n) for n in self.names]
        for what, arr in (('scales', scales), ('centers', centers), ('layer_start', start),
                          ('layer_end', end), ('names', names)):
            if len(arr) != k:
                raise ValueError(f'{what} has {len(arr)} entries for {k} vectors')
        if not (np.isfinite(v).all() and np.isfinite(scales).all() and np.isfinite(centers).all()):
            raise ValueError('vectors, scales or centers contain NaN or infinity')
        if (scales <= 0).any():
            raise ValueError('every scale (slider unit) must be positive')
        if not (np.issubdtype(start.dtype, np.integer) and np.issubdtype(end.dtype, np.integer)):
            raise ValueError('layer_start and layer_end must be integers')
        if (start < 0).any() or (end <= start).any():
            raise ValueError('every layer range must have 0 <= start < end')
        if len(set(names)) != k:
            raise ValueError('direction names must be unique')
        self.meta = dict(self.meta)
        per = {key: list(val) for key, val in dict(self.meta.get('per_direction') or {}).items()}
        for key, val in per.items():
            if len(val) != k:
                raise ValueError(f"meta per_direction '{key}' has {len(val)} entries for {k} vectors")
        rows = _row_vectors(self.row_vectors, k, v.shape[1], end)
        if any(r is not None for r in rows) or 'kind' in per:
            per['kind'] = _kinds(per.get('kind'), rows)
            _check_style(per, per['kind'])
        unit_rows = {}  # per-row: rows of Frobenius norm 1, the norm folded into the unit (and center)
        for i, r in enumerate(rows):
            if r is not None:
                frob = np.linalg.norm(r)
                frob = 1.0 if abs(frob - 1) < 1e-5 else frob
                rows[i] = (r / frob).astype(np.float32)
                unit_rows[i] = frob
                v[i] = _mean_direction(rows[i])  # its W vector: what reads W alone sees; it never edits
        norms = np.linalg.norm(v, axis=1)
        if (norms < 1e-12).any():
            raise ValueError('a direction vector has zero length')
        norms[np.abs(norms - 1) < 1e-5] = 1  # already unit (float32): leave the numbers untouched
        v, new_scales, new_centers = v / norms[:, None], scales * norms, centers / norms
        for i, frob in unit_rows.items():
            new_scales[i], new_centers[i] = scales[i] * frob, centers[i] * frob
        self.vectors = v.astype(np.float32)
        self.scales = new_scales.astype(np.float32)
        self.centers = new_centers.astype(np.float32)
        self.layer_start = start.astype(np.int64)
        self.layer_end = end.astype(np.int64)
        self.names = names
        for r in rows:
            if r is not None:
                r.setflags(write=False)
        self.row_vectors = tuple(rows) if any(r is not None for r in rows) else None
        self.meta['per_direction'] = per

    # -- basic facts
    def __len__(self):
        return len(self.names)

    @property
    def w_dim(self):
        return self.vectors.shape[1]

    @property
    def row_count(self):
        """num_ws of the per-row directions, or None when the set has none."""
        return next((r.shape[0] for r in self.row_vectors or () if r is not None), None)

    def kind_of(self, k):
        """'w' (one vector in W) or 'w_rows' (a vector per ws row, module docstring)."""
        kinds = self.meta['per_direction'].get('kind')
        return kinds[k] if kinds else 'w'

    def is_per_row(self, k):
        return self.row_vectors is not None and self.row_vectors[k] is not None

    def is_style_channel(self, k):
        return self.kind_of(k) == STYLE_CHANNEL

    def style_channel(self, k):
        """(layer, channel, sign) of a StyleSpace direction: its edit adds alpha * sign * scale to
        s[layer][channel]."""
        per = self.meta['per_direction']
        assert self.is_style_channel(k), f'direction {k} is not a StyleSpace channel'
        sign = (per.get('style_sign') or [None] * len(self))[k]
        return per['style_layer'][k], int(per['style_channel'][k]), -1 if sign == -1 else 1

    def style_names(self):
        return [self.names[k] for k in range(len(self)) if self.is_style_channel(k)]

    def edit_vector(self, k):
        """What direction k's edit adds, times alpha * scale, on ws rows [start, end): its unit
        vector [w_dim], or for a per-row direction its unit rows [num_ws, w_dim] (row r to ws row r).
        A StyleSpace channel edits s, not w: asking for its W edit is one sentence."""
        if self.is_style_channel(k):
            layer, channel, _sign = self.style_channel(k)
            raise StylescopeError(f"'{self.names[k]}' is a StyleSpace channel (channel {channel} of the styles of "
                                  f"layer {layer}): it edits s, not w, so it cannot be added to w here; draw it in the "
                                  "explorer or with 'python main.py layers --edit'")
        return self.row_vectors[k] if self.is_per_row(k) else self.vectors[k]

    def per_row_names(self):
        return [self.names[k] for k in range(len(self)) if self.is_per_row(k)]

    def index(self, name_or_index):
        """Position of a direction given its name or index."""
        if isinstance(name_or_index, (int, np.integer)):
            if not -len(self) <= name_or_index < len(self):
                raise StylescopeError(f'direction index {name_or_index} is out of range: the set has {len(self)}')
            return int(name_or_index) % len(self)
        if name_or_index not in self.names:
            raise StylescopeError(f"no direction named '{name_or_index}': choose one of {', '.join(self.names)}")
        return self.names.index(name_or_index)

    # -- editing
    def offsets_for(self, alphas):
        """The edits of slider values `alphas` [K] as core.request Offsets (zero sliders left
        out); core.latent.add_offsets applies them to ws."""
        alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
        assert alphas.shape == (len(self),), f'want alphas [{len(self)}], got {alphas.shape}'
        return offsets_from_directions(self, alphas)

    def project(self, w):
        """Slider coordinates of w [N, w_dim] (or ws [N, num_ws, w_dim], each direction reading
        the mean of its own rows): ((w . d_k) - center_k) / scale_k, as [N, K]. Adding alpha to a
        lone direction with `apply` adds exactly alpha to its coordinate. A per-row direction u
        reads sum_r (w_r . u_r) / sum_r |u_r|^2 over its rows r (a w [w_dim] on every row) in place
        of w . d, so that holds for it too (0 where its rows in range are all zero)."""
        w = _as_numpy(w)
        v = self.vectors.astype(np.float64)
        if w.ndim == 3:
            dots = np.stack([w[:, s:e].mean(axis=1) @ v[k] for k, (s, e)
                             in enumerate(zip(self.layer_start, self.layer_end))], axis=1)
        else:
            dots = w_matrix(w, self.w_dim) @ v.T
        for k in range(len(self)):
            if self.is_per_row(k):
                s, e = int(self.layer_start[k]), int(self.layer_end[k])
                u = self.row_vectors[k][s:e].astype(np.float64)
                weight = float((u * u).sum())
                reads = (np.einsum('nrd,rd->n', w[:, s:e], u) if w.ndim == 3
                         else w_matrix(w, self.w_dim) @ u.sum(axis=0))
                dots[:, k] = reads / weight if weight > 1e-24 else self.centers[k]
        gains = self.meta['per_direction'].get('style_gain')
        for k in range(len(self)):  # a StyleSpace channel reads its own s: sign * (s - mean) / std
            if self.is_style_channel(k) and gains and gains[k]:
                dots[:, k] *= float(gains[k])
        return (dots - self.centers) / self.scales

    # -- helpers for the GUI (each returns a new set)
    def subset(self, indices):
        idx = [self.index(i) for i in indices]
        meta = dict(self.meta, per_direction={key: [val[i] for i in idx]
                                              for key, val in self.meta['per_direction'].items()})
        rows = None if self.row_vectors is None else [self.row_vectors[i] for i in idx]
        return DirectionSet(self.vectors[idx], self.scales[idx], self.layer_start[idx], self.layer_end[idx],
                            [self.names[i] for i in idx], meta, self.centers[idx], rows)

    def remove(self, name_or_index):
        drop = self.index(name_or_index)
        return self.subset([i for i in range(len(self)) if i != drop])

    def rename(self, name_or_index, new_name):
        k = self.index(name_or_index)
        if new_name in self.names and self.names.index(new_name) != k:
            raise StylescopeError(f"a direction named '{new_name}' already exists: choose another name")
        names = list(self.names)
        names[k] = str(new_name)
        return dataclasses.replace(self, names=names)

    def with_range(self, name_or_index, start, end):
        k = self.index(name_or_index)
        if not 0 <= start < end:
            raise StylescopeError(f'layer range {start}-{end} is empty or negative: choose 0 <= start < end')
        starts, ends = self.layer_start.copy(), self.layer_end.copy()
        starts[k], ends[k] = start, end
        return dataclasses.replace(self, layer_start=starts, layer_end=ends)

    def with_scale(self, name_or_index, scale):
        k = self.index(name_or_index)
        scales = self.scales.copy()
        scales[k] = scale
        return dataclasses.replace(self, scales=scales)

    def merge(self, other):
        """self's directions then other's; clashing names get ' (2)', ' (3)'... appended."""
        if other.w_dim != self.w_dim:
            raise StylescopeError(f'cannot merge direction sets of w_dim {self.w_dim} and {other.w_dim}: '
                                  'use directions made for the same model')
        if None not in (self.row_count, other.row_count) and self.row_count != other.row_count:
            raise StylescopeError(f'cannot merge per-row directions of {self.row_count} and {other.row_count} ws '
                                  'rows: use directions made for the same model')
        names = list(self.names)
        for name in other.names:
            new, n = name, 2
            while new in names:
                new, n = f'{name} ({n})', n + 1
            names.append(new)
        self, other = self._stamped(), other._stamped()  # each direction keeps its own method and origin
        meta = dict(self.meta)
        for key in ('method', 'fingerprint'):
            mine_value, their_value = self.meta.get(key), other.meta.get(key)
            if mine_value != their_value:
                both = mine_value and their_value
                meta[key] = 'mixed' if key == 'method' and both else (mine_value or their_value)
        mine, theirs = self.meta['per_direction'], other.meta['per_direction']
        keys = list(mine) + [key for key in theirs if key not in mine]
        meta['per_direction'] = {key: list(mine.get(key, [None] * len(self))) + list(theirs.get(key, [None] * len(other)))
                                 for key in keys}
        rows = None
        if self.row_vectors is not None or other.row_vectors is not None:
            rows = list(self.row_vectors or [None] * len(self)) + list(other.row_vectors or [None] * len(other))
        return DirectionSet(np.concatenate([self.vectors, other.vectors]),
                            np.concatenate([self.scales, other.scales]),
                            np.concatenate([self.layer_start, other.layer_start]),
                            np.concatenate([self.layer_end, other.layer_end]), names, meta,
                            np.concatenate([self.centers, other.centers]), rows)

    # -- what each direction is (a merged set holds directions of several origins)
    def method_of(self, k):
        """'pca', 'sefa', 'svm', 'interfacegan', ... of direction k."""
        per = self.meta['per_direction'].get('method')
        return (per[k] if per and per[k] else None) or self.meta.get('method') or 'unknown'

    def origin_of(self, k):
        """Which computation or file direction k came from, in words ('pca of 20,000 samples'):
        directions of one origin were made together (one PCA run, one imported file)."""
        per = self.meta['per_direction'].get('origin')
        return (per[k] if per and per[k] else None) or _origin(self.meta)

    def limit_of(self, k):
        """The slider range of direction k, +-limit in its unit: measured for the model (where its
        pictures leave the data, see core.directions.suggest_slider_limits) or DEFAULT_LIMIT."""
        per = self.meta['per_direction'].get('slider_limit')
        return float(per[k]) if per and per[k] else DEFAULT_LIMIT

    def with_limit(self, name_or_index, limit):
        """A copy whose direction slides from -limit to +limit (in its unit)."""
        k = self.index(name_or_index)
        if not (np.isfinite(limit) and limit > 0):
            raise StylescopeError(f'a slider range of {limit} is not allowed: use a positive number of units')
        per = dict(self.meta['per_direction'])
        limits = list(per.get('slider_limit') or [None] * len(self))
        limits[k] = float(limit)
        return dataclasses.replace(self, meta=dict(self.meta, per_direction=dict(per, slider_limit=limits)))

    def is_named(self, k):
        """A direction someone named (a labelled attribute, a renamed or imported one), not one of
        a finder's numbered components (PC3, SeFa1, factor2)."""
        return re.fullmatch(r'(PC|SeFa|factor|d)\d+( \(\d+\))?', self.names[k]) is None

    def _stamped(self):
        per = dict(self.meta['per_direction'])
        per['method'] = [self.method_of(k) for k in range(len(self))]
        per['origin'] = [self.origin_of(k) for k in range(len(self))]
        return dataclasses.replace(self, meta=dict(self.meta, per_direction=per))

    # -- file
    def save(self, path):
        """Write the `.npz` of DESIGN.md atomically (temporary file in the same folder, then rename)."""
        path = os.fspath(path)
        version = FORMAT_VERSION if self.row_vectors is None else ROWS_FORMAT_VERSION
        if any(self.is_style_channel(k) for k in range(len(self))):
            version = STYLE_FORMAT_VERSION
        meta = dict(self.meta, names=self.names, format=FORMAT_NAME, version=version, w_dim=self.w_dim)
        arrays = dict(vectors=self.vectors, scales=self.scales, layer_start=self.layer_start,
                      layer_end=self.layer_end, centers=self.centers,
                      meta=np.array(json.dumps(json_ready(meta))))
        if self.row_vectors is not None:
            arrays['row_vectors'] = np.stack([r for r in self.row_vectors if r is not None])
        atomic_write(path, lambda f: np.savez(f, **arrays))


DIFFERENCE_LIMIT = 2.0  # an "A -> B" slider runs from -2 to 2: 1 is B, 2 goes as far past it


def difference(ws_a, ws_b, name='A → B', layers=None, meta=None, labels=('A', 'B')):
    """The direction "A -> B" of latent arithmetic (w = w1 + lambda (w3 - w2)): a one-direction
    set whose vector is w_B - w_A, per ws row when the rows of that difference differ (a W+
    difference stays W+: kind 'w_rows'), one W vector (kind 'w') when they are all equal. Its unit
    is the difference itself, so alpha = 1 added to A's ws gives B's (to float rounding), and
    along it A reads 0 and B reads 1 (`project`). ws_a, ws_b: the exact ws [num_ws, w_dim] of the
    two pictures (after truncation, mixing and edits: what they are drawn from). layers: ws rows
    (start, end) the edit reaches, default all (a coarse-only range moves pose, not texture); A
    and B must differ there. labels name A and B in its origin; meta adds to the set's meta."""
    a, b = (_as_numpy(w) for w in (ws_a, ws_b))
    a, b = (w[0] if w.ndim == 3 and len(w) == 1 else w for w in (a, b))
    if a.ndim != 2 or a.shape != b.shape:
        raise StylescopeError(f'A and B must be ws of one network, [num_ws, w_dim] each: got {list(a.shape)} and '
                              f'{list(b.shape)}')
    num_ws = a.shape[0]
    start, end = layers if layers is not None else (0, num_ws)
    if not 0 <= start < end <= num_ws:
        raise StylescopeError(f'ws rows {start}-{end - 1} are not rows of this network: use 0 to {num_ws - 1}')
    diff = b - a
    if not np.abs(diff[start:end]).max() > 0:
        raise StylescopeError(f'{labels[0]} and {labels[1]} are the same in ws rows {start}-{end - 1}, so there is '
                              'no direction between them: pick two different pictures (or other rows)')
    per_row = not (diff == diff[:1]).all()
    meta = dict(dict(method='difference', space='W+' if per_row else 'W', num_ws=num_ws, w_dim=a.shape[1]),
                **(meta or {}))
    per = dict(meta.get('per_direction') or {})
    per.setdefault('origin', [f'difference ({labels[0]} → {labels[1]})'])
    per.setdefault('endpoints', [[str(labels[0]), str(labels[1])]])
    per.setdefault('slider_limit', [DIFFERENCE_LIMIT])
    meta['per_direction'] = per
    if per_row:  # A reads 0 along it: center = sum_r a_r . d_r / sum_r |d_r|^2 over its rows
        d = diff[start:end]
        center = float((a[start:end] * d).sum() / (d * d).sum())
        return DirectionSet(diff.mean(axis=0)[None], [1.0], [start], [end], [name], meta, [center], [diff])
    center = float(a[start:end].mean(axis=0) @ diff[0])
    return DirectionSet(diff[:1], [1.0], [start], [end], [name], meta, [center])


def _origin(meta):
    method = meta.get('method') or 'directions'
    if meta.get('source'):
        return f"{method} from {os.path.basename(str(meta['source']))}"
    count = meta.get('sample_count')
    return f'{method} of {count:,} samples' if isinstance(count, int) else str(method)


def load(path, w_dim=None, num_ws=None, fingerprint=None):
    """Read a Stylescope direction file, checked against a model's facts where given: a different
    w_dim is refused, a different fingerprint warns, ranges past num_ws are cut (with a warning).
    core.direction_files.load(path, G) fills the facts in from a network."""
    arrays = read_arrays(path, 'direction file')
    missing = [key for key in NATIVE_KEYS if key not in arrays]
    if missing:
        raise StylescopeError(f"'{path}' lacks {', '.join(missing)} so it is not a Stylescope direction file: "
                              "make one with 'python main.py directions' or import it with open_directions")

    def damaged(why):
        return StylescopeError(f"direction file '{path}' is damaged ({why}): "
                               "save it again from Stylescope or re-create it with 'python main.py directions'")

    meta = parse_json(str(arrays['meta']), path, 'the meta of direction file')
    if not isinstance(meta, dict):
        raise damaged('its meta is not a JSON object')
    names = meta.pop('names', None)
    vectors = arrays['vectors']
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise damaged(f'vectors must be a float [K, w_dim] array, found {vectors.dtype} {vectors.shape}')
    if names is None:
        names = [f'd{k}' for k in range(len(vectors))]
    for key in ('format', 'version'):
        meta.pop(key, None)
    try:
        rows = _file_row_vectors(arrays.get('row_vectors'), meta, vectors)
        dset = DirectionSet(vectors, arrays['scales'], arrays['layer_start'], arrays['layer_end'], names, meta,
                            arrays.get('centers'), rows)
    except (ValueError, TypeError, AttributeError) as exc:  # TypeError: names or per_direction of the wrong type
        raise damaged(str(exc)[:160]) from None
    return check_for_model(dset, path, w_dim, num_ws, fingerprint)


def _file_row_vectors(array, meta, vectors):
    """The K entries of DirectionSet.row_vectors from a file's row_vectors [M, num_ws, w_dim] and
    its per_direction 'kind' (ValueError when they do not match)."""
    kinds = (meta.get('per_direction') or {}).get('kind')
    per_row = [k for k, kind in enumerate(kinds or ()) if kind == 'w_rows']
    if array is None:
        if per_row:
            raise ValueError(f'{len(per_row)} directions are per-row but there is no row_vectors array')
        return None
    if not np.issubdtype(array.dtype, np.floating) or array.ndim != 3 or array.shape[2] != vectors.shape[1]:
        raise ValueError(f'row_vectors must be a float [M, num_ws, {vectors.shape[1]}] array, found '
                         f'{array.dtype} {list(array.shape)}')
    if len(array) != len(per_row) or len(kinds) != len(vectors):
        raise ValueError(f"row_vectors holds {len(array)} per-row directions but meta marks {len(per_row)} of kind "
                         "'w_rows'")
    rows = [None] * len(vectors)
    for k, r in zip(per_row, array):
        rows[k] = r
    return rows


def check_for_model(dset, path, w_dim=None, num_ws=None, fingerprint=None):
    """Refuse a set whose w_dim differs from the model's; warn when it was made for another model
    (by fingerprint); cut layer ranges to num_ws (with a warning). None: not checked."""
    if w_dim is not None and dset.w_dim != w_dim:
        raise StylescopeError(f"'{path}' holds directions of w_dim {dset.w_dim} but the network's w_dim is "
                              f'{w_dim}: use directions made for this model')
    if num_ws is not None and dset.row_count is not None and dset.row_count != num_ws:
        raise StylescopeError(f"'{path}' holds per-row directions ({', '.join(dset.per_row_names())}) for "
                              f'{dset.row_count} ws rows but the network has {num_ws}: use directions made for '
                              'this model')
    made_for = dset.meta.get('fingerprint')
    if fingerprint is not None and made_for and made_for != fingerprint:
        warnings.warn(f"'{path}' was made for another model (fingerprint {made_for}, this one is {fingerprint}): "
                      'its directions may mean something else here', stacklevel=3)
    if num_ws is not None and (dset.layer_end > num_ws).any():
        warnings.warn(f"'{path}' has layer ranges past this network's {num_ws} ws: they are cut to fit",
                      stacklevel=3)
        start = np.minimum(dset.layer_start, num_ws - 1)
        dset = dataclasses.replace(dset, layer_start=start, layer_end=np.clip(dset.layer_end, start + 1, num_ws))
    return dset
