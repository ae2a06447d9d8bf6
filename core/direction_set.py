"""A set of directions in W: what the explorer's sliders move, and its file. No torch, no Qt.

A `DirectionSet` is K unit vectors in W with, per direction, a slider unit (`scales`), a ws
layer range [start, end), a name, and a `center` (the coordinate of its reference point: the
PCA mean, the SVM boundary). Editing follows DESIGN.md: each slider adds `alpha * scale * d` to
ws rows [start, end) after truncation (core.request.slider_offset), so edits are not shrunk by
psi. The finders that make sets live in core/directions.py, other tools' files in
core/direction_files.py.

File (`.npz`, DESIGN.md): vectors [K, w_dim], scales [K], layer_start [K], layer_end [K],
centers [K] and a JSON `meta` (names, method, space, model fingerprint, sample count...).
"""
import dataclasses
import json
import os
import warnings

import numpy as np

from core.atomic import atomic_write
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.npz_file import read_arrays
from core.request import offsets_from_directions

FORMAT_NAME = 'stylescope-directions'
FORMAT_VERSION = 1
NATIVE_KEYS = ('vectors', 'scales', 'layer_start', 'layer_end', 'meta')
# The finders' defaults (core/directions.py), here so that the command line's parser can show
# them without loading torch.
DEFAULT_COMPONENTS = 80  # GANSpace's default component count
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



@dataclasses.dataclass(eq=False)
class DirectionSet:
    """K directions in W. vectors [K, w_dim] unit rows; scales [K] (one slider unit in W
    distance); layer_start / layer_end [K] (the ws rows [start, end) an edit touches); names
    [K]; centers [K] (w . d of the reference point, so `project` gives coordinates around it);
    meta: method, space, fingerprint, sample_count, w_dim... and `per_direction` {key: [K]}.

    Helpers (rename, remove, merge...) return new sets, so an undo stack can keep old ones.
    Rows that are not unit length are normalised with their length folded into `scales`.
    """
    vectors: np.ndarray
    scales: np.ndarray
    layer_start: np.ndarray
    layer_end: np.ndarray
    names: list
    meta: dict = dataclasses.field(default_factory=dict)
    centers: np.ndarray = None

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
        norms = np.linalg.norm(v, axis=1)
        if (norms < 1e-12).any():
            raise ValueError('a direction vector has zero length')
        norms[np.abs(norms - 1) < 1e-5] = 1  # already unit (float32): leave the numbers untouched
        self.vectors = (v / norms[:, None]).astype(np.float32)
        self.scales = (scales * norms).astype(np.float32)
        self.centers = (centers / norms).astype(np.float32)
        self.layer_start = start.astype(np.int64)
        self.layer_end = end.astype(np.int64)
        self.names = names
        self.meta = dict(self.meta)
        per = {key: list(val) for key, val in dict(self.meta.get('per_direction') or {}).items()}
        for key, val in per.items():
            if len(val) != k:
                raise ValueError(f"meta per_direction '{key}' has {len(val)} entries for {k} vectors")
        self.meta['per_direction'] = per

    # -- basic facts
    def __len__(self):
        return len(self.names)

    @property
    def w_dim(self):
        return self.vectors.shape[1]

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
        lone direction with `apply` adds exactly alpha to its coordinate."""
        w = _as_numpy(w)
        v = self.vectors.astype(np.float64)
        if w.ndim == 3:
            dots = np.stack([w[:, s:e].mean(axis=1) @ v[k] for k, (s, e)
                             in enumerate(zip(self.layer_start, self.layer_end))], axis=1)
        else:
            dots = w_matrix(w, self.w_dim) @ v.T
        return (dots - self.centers) / self.scales

    # -- helpers for the GUI (each returns a new set)
    def subset(self, indices):
        idx = [self.index(i) for i in indices]
        meta = dict(self.meta, per_direction={key: [val[i] for i in idx]
                                              for key, val in self.meta['per_direction'].items()})
        return DirectionSet(self.vectors[idx], self.scales[idx], self.layer_start[idx], self.layer_end[idx],
                            [self.names[i] for i in idx], meta, self.centers[idx])

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
        names = list(self.names)
        for name in other.names:
            new, n = name, 2
            while new in names:
                new, n = f'{name} ({n})', n + 1
            names.append(new)
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
        return DirectionSet(np.concatenate([self.vectors, other.vectors]),
                            np.concatenate([self.scales, other.scales]),
                            np.concatenate([self.layer_start, other.layer_start]),
                            np.concatenate([self.layer_end, other.layer_end]), names, meta,
                            np.concatenate([self.centers, other.centers]))

    # -- file
    def save(self, path):
        """Write the `.npz` of DESIGN.md atomically (temporary file in the same folder, then rename)."""
        path = os.fspath(path)
        meta = dict(self.meta, names=self.names, format=FORMAT_NAME, version=FORMAT_VERSION, w_dim=self.w_dim)
        arrays = dict(vectors=self.vectors, scales=self.scales, layer_start=self.layer_start,
                      layer_end=self.layer_end, centers=self.centers,
                      meta=np.array(json.dumps(json_ready(meta))))
        atomic_write(path, lambda f: np.savez(f, **arrays))


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

    try:
        meta = json.loads(str(arrays['meta']))
        assert isinstance(meta, dict)
    except (ValueError, AssertionError):
        raise damaged('its meta is not a JSON object') from None
    names = meta.pop('names', None)
    vectors = arrays['vectors']
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise damaged(f'vectors must be a float [K, w_dim] array, found {vectors.dtype} {vectors.shape}')
    if names is None:
        names = [f'd{k}' for k in range(len(vectors))]
    for key in ('format', 'version'):
        meta.pop(key, None)
    try:
        dset = DirectionSet(vectors, arrays['scales'], arrays['layer_start'], arrays['layer_end'], names, meta,
                            arrays.get('centers'))
    except ValueError as exc:
        raise damaged(str(exc)) from None
    return check_for_model(dset, path, w_dim, num_ws, fingerprint)


def check_for_model(dset, path, w_dim=None, num_ws=None, fingerprint=None):
    """Refuse a set whose w_dim differs from the model's; warn when it was made for another model
    (by fingerprint); cut layer ranges to num_ws (with a warning). None: not checked."""
    if w_dim is not None and dset.w_dim != w_dim:
        raise StylescopeError(f"'{path}' holds directions of w_dim {dset.w_dim} but the network's w_dim is "
                              f'{w_dim}: use directions made for this model')
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
