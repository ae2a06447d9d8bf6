"""Direction sets in W: what a slider moves, how it is found, and the files that hold it.

A `DirectionSet` is K unit vectors in W with, per direction, a slider unit (`scales`), a ws
layer range [start, end), a name, and a `center` (the coordinate of its reference point: the
PCA mean, the SVM boundary). Editing follows DESIGN.md: ws = truncate(mapping(z)), then each
direction adds `alpha * scale * d` to ws rows [start, end), so edits are not shrunk by psi.

Finders, shaped like scikit-learn estimators (learned state in attributes ending in `_`;
each leaves a ready `DirectionSet` in `directions_`):
  PCADirections   GANSpace in W: exact streamed mean + scatter in float64, eigh, sorted.
  SeFaDirections  closed-form factorisation of the style-affine weights of a ws range.
  SVMDirection    InterfaceGAN: linear SVM on (w, 0/1 label), unit normal, optionally made
                  orthogonal to other directions (conditional boundary).
`suggest_layer_range` measures how much each layer group (coarse / middle / fine) reacts to a
direction and proposes a range. Importers read InterfaceGAN `.npy`, GANSpace `.npz`,
rosinality `factor.pt` and projector `projected_w.npz`; `open_directions` picks by content.

Slider units: PCA uses each component's standard deviation (GANSpace's lat_stdev). SeFa and
SVM directions use the same idea, measured: the standard deviation of untruncated W along the
direction over `unit_samples` mapped samples (seed 1), so one unit means the same for every
method. Imported files keep their own units (InterfaceGAN and rosinality: raw W distance).
Facts about the methods: shared/reference/editing-methods.md sections 1.1-1.3.
"""
import dataclasses
import json
import os
import warnings

import numpy as np
import torch

from core.atomic import atomic_write
from core.errors import Cancelled, StylescopeError, is_cancelled
from core.json_ready import json_ready
from core.model_io import fingerprint as model_fingerprint
from core.model_io import layer_groups as _model_layer_groups
from core.npz_file import read_arrays

FORMAT_NAME = 'stylescope-directions'
FORMAT_VERSION = 1
NATIVE_KEYS = ('vectors', 'scales', 'layer_start', 'layer_end', 'meta')
DEFAULT_COMPONENTS = 80  # GANSpace's default component count
UNIT_SAMPLES = 5000      # GANSpace measures lat_stdev on 5,000 samples
SAMPLE_SEED = 1          # GANSpace draws its z from RandomState(1)


# ----------------------------------------------------------------------------------------------
# Helpers shared by the finders: model facts, sampling W in a fixed order, signs.

def layer_groups(num_ws):
    """core.model_io's {'coarse': (s, e), 'middle': (s, e), 'fine': (s, e)}, empty groups left out."""
    return {name: (int(s), int(e)) for name, (s, e) in _model_layer_groups(num_ws=num_ws).items() if e > s}


def _device_of(G):
    return next(G.parameters()).device


@torch.no_grad()
def iter_w_samples(G, n_samples, seed=SAMPLE_SEED, chunk=2000, psi=1.0):
    """Yield untruncated (psi=1) w as float64 numpy chunks [b, w_dim], n_samples in all.

    z comes from one RandomState(seed) stream drawn chunk after chunk; since that stream does not
    depend on how it is cut, the samples (and anything fitted on them) do not depend on `chunk`.
    Conditional models get random one-hot classes from a second stream, RandomState(seed + 1).
    """
    rng = np.random.RandomState(seed)
    class_rng = np.random.RandomState(seed + 1)
    device = _device_of(G)
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        z = torch.from_numpy(rng.randn(b, G.z_dim)).to(device=device, dtype=torch.float32)
        c = None
        if G.c_dim > 0:
            c = torch.zeros([b, G.c_dim], device=device)
            c[torch.arange(b), torch.from_numpy(class_rng.randint(G.c_dim, size=b))] = 1
        ws = G.mapping(z, c, truncation_psi=psi, skip_w_avg_update=True)
        yield ws[:, 0].to('cpu', torch.float64).numpy()
        done += b


def w_std_along(G, vectors, n_samples=UNIT_SAMPLES, seed=SAMPLE_SEED, chunk=2000):
    """Standard deviation of untruncated W along each unit row of `vectors` [K, w_dim]: the
    slider unit of SeFa and SVM directions."""
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, G.w_dim)
    proj = np.concatenate([w @ vectors.T for w in iter_w_samples(G, n_samples, seed, chunk)])
    return proj.std(axis=0, ddof=1)


def _fix_signs(vectors):
    """Rows flipped so that each row's largest-magnitude entry is positive (as scikit-learn's
    PCA does), making eigenvector signs reproducible."""
    idx = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(len(vectors)), idx])
    signs[signs == 0] = 1
    return vectors * signs[:, None]


def _w_matrix(w, w_dim=None):
    """[N, w_dim] from w [N, w_dim] or ws [N, num_ws, w_dim] (rows averaged, which is row 0
    when they are equal, as mapping makes them)."""
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().numpy()
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 3:
        w = w.mean(axis=1)
    if w.ndim == 1:
        w = w[None]
    assert w.ndim == 2 and (w_dim is None or w.shape[1] == w_dim), f'want w [N, {w_dim}], got {w.shape}'
    return w


# ----------------------------------------------------------------------------------------------
# The direction set and its file.

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
    def offsets(self, alphas, num_ws):
        """The W offset the sliders add: alphas [K] -> [num_ws, w_dim]; [N, K] -> [N, num_ws, w_dim]."""
        alphas = np.asarray(alphas, dtype=np.float64)
        assert alphas.shape[-1] == len(self) and alphas.ndim in (1, 2), \
            f'want alphas [K] or [N, K] with K={len(self)}, got {alphas.shape}'
        mask = np.zeros([len(self), num_ws])
        for k, (s, e) in enumerate(zip(self.layer_start, self.layer_end)):
            mask[k, s:min(e, num_ws)] = 1
        coeff = alphas * self.scales.astype(np.float64)
        return np.einsum('...k,kl,kd->...ld', coeff, mask, self.vectors.astype(np.float64))

    def apply(self, ws, alphas):
        """ws [N, num_ws, w_dim] (tensor or array) plus alpha_k * scale_k * d_k on rows
        [start_k, end_k); alphas [K] shared or [N, K] per sample. Returns a new ws."""
        num_ws = ws.shape[1]
        assert ws.ndim == 3 and ws.shape[2] == self.w_dim, f'want ws [N, num_ws, {self.w_dim}], got {tuple(ws.shape)}'
        delta = self.offsets(alphas, num_ws)
        if isinstance(ws, torch.Tensor):
            return ws + torch.from_numpy(delta).to(device=ws.device, dtype=ws.dtype)
        return ws + delta.astype(ws.dtype)

    def project(self, w):
        """Slider coordinates of w [N, w_dim] (or ws [N, num_ws, w_dim], each direction reading
        the mean of its own rows): ((w . d_k) - center_k) / scale_k, as [N, K]. Adding alpha to a
        lone direction with `apply` adds exactly alpha to its coordinate."""
        if isinstance(w, torch.Tensor):
            w = w.detach().cpu().numpy()
        w = np.asarray(w, dtype=np.float64)
        v = self.vectors.astype(np.float64)
        if w.ndim == 3:
            dots = np.stack([w[:, s:e].mean(axis=1) @ v[k] for k, (s, e)
                             in enumerate(zip(self.layer_start, self.layer_end))], axis=1)
        else:
            dots = _w_matrix(w, self.w_dim) @ v.T
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


def load(path, G=None, fingerprint=None):
    """Read a Stylescope direction file. With G (or fingerprint) it is checked against the model:
    a different w_dim is refused, a different fingerprint warns, ranges past num_ws are cut."""
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
    return check_for_model(dset, path, G, fingerprint)


def check_for_model(dset, path, G=None, fingerprint=None):
    """Refuse a set whose w_dim differs from G's; warn when it was made for another model;
    cut layer ranges to G.num_ws (with a warning)."""
    if G is not None and dset.w_dim != G.w_dim:
        raise StylescopeError(f"'{path}' holds directions of w_dim {dset.w_dim} but the network's w_dim is "
                              f'{G.w_dim}: use directions made for this model')
    if fingerprint is None and G is not None:
        fingerprint = model_fingerprint(G)
    made_for = dset.meta.get('fingerprint')
    if fingerprint is not None and made_for and made_for != fingerprint:
        warnings.warn(f"'{path}' was made for another model (fingerprint {made_for}, this one is {fingerprint}): "
                      'its directions may mean something else here', stacklevel=3)
    if G is not None and (dset.layer_end > G.num_ws).any():
        warnings.warn(f"'{path}' has layer ranges past this network's {G.num_ws} ws: they are cut to fit",
                      stacklevel=3)
        start = np.minimum(dset.layer_start, G.num_ws - 1)
        dset = dataclasses.replace(dset, layer_start=start, layer_end=np.clip(dset.layer_end, start + 1, G.num_ws))
    return dset


# ----------------------------------------------------------------------------------------------
# PCA in W (GANSpace).

class PCADirections:
    """GANSpace's PCA of W, computed exactly: the mean and the w_dim x w_dim scatter matrix are
    streamed in float64 over `n_samples` mapped samples (memory: one chunk plus the matrix),
    merged chunk by chunk with Chan's formula, then `eigh`, sorted by variance.

    Learned: mean_, components_ [n_components, w_dim], explained_variance_ (ddof=1, as
    scikit-learn), explained_variance_ratio_, n_samples_seen_, directions_ (units = each
    component's standard deviation, range = all ws, centers = the mean's coordinates).
    """

    def __init__(self, n_components=DEFAULT_COMPONENTS, n_samples=100_000, chunk=2000, seed=SAMPLE_SEED):
        self.n_components = n_components
        self.n_samples = n_samples
        self.chunk = chunk
        self.seed = seed

    def fit(self, G, progress=None, cancel=None):
        """progress(done, total) after each chunk; cancel (callable or Event) stops with Cancelled."""
        if self.n_samples < 2:
            raise StylescopeError(f'PCA needs at least 2 samples, got {self.n_samples}: raise --samples')
        n, mean, scatter = 0, np.zeros(G.w_dim), np.zeros([G.w_dim, G.w_dim])
        for w in iter_w_samples(G, self.n_samples, self.seed, self.chunk):
            if is_cancelled(cancel):
                raise Cancelled('PCA sampling was cancelled')
            b = len(w)
            w_mean = w.mean(axis=0)
            centered = w - w_mean
            delta = w_mean - mean
            scatter += centered.T @ centered + np.outer(delta, delta) * (n * b / (n + b))
            mean += delta * (b / (n + b))
            n += b
            if progress is not None:
                progress(n, self.n_samples)
        cov = scatter / (n - 1)
        eigval, eigvec = np.linalg.eigh((cov + cov.T) / 2)
        order = np.argsort(eigval)[::-1]
        eigval = np.clip(eigval[order], 0, None)
        k = min(self.n_components or G.w_dim, G.w_dim)
        self.mean_ = mean
        self.components_ = _fix_signs(eigvec[:, order].T[:k])
        self.explained_variance_ = eigval[:k]
        self.explained_variance_ratio_ = eigval[:k] / eigval.sum()
        self.n_samples_seen_ = n
        meta = dict(method='pca', space='W', fingerprint=model_fingerprint(G), sample_count=n, seed=self.seed,
                    w_dim=G.w_dim, num_ws=G.num_ws, mean=mean.tolist(),
                    per_direction=dict(explained_variance=self.explained_variance_.tolist(),
                                       explained_variance_ratio=self.explained_variance_ratio_.tolist()))
        self.directions_ = DirectionSet(self.components_, np.sqrt(np.maximum(self.explained_variance_, 1e-30)),
                                        np.zeros(k, int), np.full(k, G.num_ws), [f'PC{i}' for i in range(k)], meta,
                                        self.components_ @ mean)
        return self

    def transform(self, w):
        """Coordinates of w [N, w_dim] in standard deviations around the mean."""
        return self.directions_.project(w)


# ----------------------------------------------------------------------------------------------
# SeFa (closed-form factorisation of the style affine weights).

def style_layers(G):
    """[(name, layer, ws_index)] of every modulated layer, in ws order: a block reads ws from its
    start (block_ws_ranges), conv0 then conv1 then torgb (which shares its w with the next conv0)."""
    layers = []
    for block, (start, _count) in zip(G.synthesis.blocks(), G.synthesis.block_ws_ranges()):
        idx = start
        for name in ('conv0', 'conv1'):
            if hasattr(block, name):
                layers.append((f'b{block.resolution}.{name}', getattr(block, name), idx))
                idx += 1
        if hasattr(block, 'torgb'):
            layers.append((f'b{block.resolution}.torgb', block.torgb, idx))
    return layers


class SeFaDirections:
    """SeFa's factorisation: the style-affine weights of the conv layers whose ws index lies in
    `layers` = (start, end) (all ws when None; ToRGB layers only with include_torgb=True), each
    channel's w_dim row normalised to unit length (genforce/sefa's variant, so the per-layer
    weight gain does not weigh layers against each other; rosinality's skips this), stacked as
    A [sum C, w_dim]; directions = eigenvectors of A^T A (symmetric `eigh`, float64), sorted by
    eigenvalue, largest first.

    Learned: eigenvalues_ (all w_dim), components_ [n_components, w_dim], layer_names_,
    directions_ (range = `layers`, unit = std of W along each direction, see the module doc).
    """

    def __init__(self, layers=None, n_components=DEFAULT_COMPONENTS, include_torgb=False,
                 unit_samples=UNIT_SAMPLES):
        self.layers = layers
        self.n_components = n_components
        self.include_torgb = include_torgb
        self.unit_samples = unit_samples

    def fit(self, G):
        start, end = self.layers if self.layers is not None else (0, G.num_ws)
        if not 0 <= start < end <= G.num_ws:
            raise StylescopeError(f'layer range {start}-{end - 1} does not fit this network: '
                                  f'choose ws between 0 and {G.num_ws - 1}')
        chosen = [(name, layer) for name, layer, idx in style_layers(G)
                  if start <= idx < end and (self.include_torgb or not name.endswith('torgb'))]
        if not chosen:
            raise StylescopeError(f'ws {start}-{end - 1} drive no conv layer: choose a wider --layers range')
        rows = []
        for _name, layer in chosen:
            weight = layer.affine.weight.detach().to('cpu', torch.float64).numpy() * layer.affine.weight_gain
            rows.append(weight / np.maximum(np.linalg.norm(weight, axis=1, keepdims=True), 1e-12))
        A = np.concatenate(rows)
        eigval, eigvec = np.linalg.eigh(A.T @ A)
        order = np.argsort(eigval)[::-1]
        k = min(self.n_components or G.w_dim, G.w_dim)
        self.eigenvalues_ = eigval[order]
        self.components_ = _fix_signs(eigvec[:, order].T[:k])
        self.layer_names_ = [name for name, _ in chosen]
        scales = (w_std_along(G, self.components_, self.unit_samples) if self.unit_samples
                  else np.ones(k))
        meta = dict(method='sefa', space='W', fingerprint=model_fingerprint(G), sample_count=self.unit_samples,
                    w_dim=G.w_dim, num_ws=G.num_ws, layers=[start, end], layer_names=self.layer_names_,
                    unit='std of W along the direction' if self.unit_samples else 'raw W distance',
                    per_direction=dict(eigenvalue=self.eigenvalues_[:k].tolist()))
        self.directions_ = DirectionSet(self.components_, np.maximum(scales, 1e-12), np.full(k, start),
                                        np.full(k, end), [f'SeFa{i}' for i in range(k)], meta)
        return self


# ----------------------------------------------------------------------------------------------
# InterfaceGAN: linear SVM boundaries from labels, conditional orthogonalisation, label files.

def orthogonalize(normal, conditions):
    """`normal` made orthogonal to every row of `conditions` and normalised (InterfaceGAN's
    conditional boundary). One condition: n - (n.c)c with c unit; several: subtract the least
    squares fit of n on the condition rows (InterfaceGAN solves (C C^T) x = C n, which is the same
    when the rows are independent; lstsq also copes with dependent ones)."""
    n = np.asarray(normal, dtype=np.float64).reshape(-1)
    C = np.asarray(conditions, dtype=np.float64).reshape(-1, n.shape[0])
    if len(C) == 1:
        c = C[0] / np.linalg.norm(C[0])
        out = n - (n @ c) * c
    else:
        x = np.linalg.lstsq(C.T, n, rcond=None)[0]
        out = n - C.T @ x
    norm = np.linalg.norm(out)
    if norm < 1e-6 * np.linalg.norm(n):
        raise StylescopeError('the direction lies in the span of the --orthogonal-to directions, so nothing is left '
                              'after removing them: condition on fewer or different directions')
    return out / norm


def _labels_array(labels, n):
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise StylescopeError(f'there are {len(labels)} labels for {n} samples: give one 0/1 label per sample')
    if not np.isin(labels, (0, 1)).all():
        raise StylescopeError('labels must be 0 or 1: mark each sample as without (0) or with (1) the attribute')
    if len(np.unique(labels)) < 2:
        raise StylescopeError('the labels are all the same: mark some samples 0 and some 1 before fitting')
    return labels.astype(np.int64)


def labels_from_csv(path):
    """`seed,label` rows (an optional header, blank lines and # comments skipped) -> (seeds, labels)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"label file '{path}' does not exist: check the path")
    seeds, labels, seen = [], [], {}
    with open(path, encoding='utf-8-sig') as f:
        for line_no, line in enumerate(f, start=1):
            text = line.split('#', 1)[0].strip()
            if not text:
                continue
            parts = [p.strip() for p in text.split(',')]
            if not seeds and parts[0].lower() == 'seed':  # header
                continue
            try:
                assert len(parts) == 2
                seed, label = int(parts[0]), int(float(parts[1]))
                assert 0 <= seed < 2 ** 32 and label in (0, 1) and float(parts[1]) == label
            except (ValueError, AssertionError):
                raise StylescopeError(f"line {line_no} of '{path}' is not 'seed,label' with a seed >= 0 and a "
                                      f'label 0 or 1 (found {text!r}): fix or remove that line') from None
            if seen.get(seed, label) != label:
                raise StylescopeError(f"seed {seed} has two different labels in '{path}' (line {line_no}): "
                                      'keep one of them')
            if seed not in seen:
                seen[seed] = label
                seeds.append(seed)
                labels.append(label)
    if len(set(labels)) < 2:
        raise StylescopeError(f"'{path}' needs seeds labelled 0 and seeds labelled 1: add examples of both")
    return seeds, np.array(labels, dtype=np.int64)


@torch.no_grad()
def w_from_seeds(G, seeds, psi=1.0):
    """[len(seeds), w_dim] float64 w of the official seed convention (z = RandomState(seed).randn),
    truncated toward w_avg. Conditional models: the class is drawn from the same RNG after z,
    as NVIDIA's visualiser does."""
    device = _device_of(G)
    rngs = [np.random.RandomState(s) for s in seeds]
    z = torch.from_numpy(np.concatenate([rng.randn(1, G.z_dim) for rng in rngs])).to(device, torch.float32)
    c = None
    if G.c_dim > 0:
        c = torch.zeros([len(seeds), G.c_dim], device=device)
        c[torch.arange(len(seeds)), torch.tensor([rng.randint(G.c_dim) for rng in rngs], device=device)] = 1
    ws = G.mapping(z, c, truncation_psi=psi, skip_w_avg_update=True)
    return ws[:, 0].to('cpu', torch.float64).numpy()


class SVMDirection:
    """InterfaceGAN's boundary: a linear SVM (scikit-learn LinearSVC, C=1) separates w labelled 0
    from w labelled 1; the unit normal of the boundary (pointing to label 1) is the direction,
    the intercept only places `center_`. Inputs are centred and scaled by one global factor before
    fitting (which keeps the normal's direction) so the intercept penalty does not bias it.

    orthogonal_to: directions [M, w_dim] (or a DirectionSet) to condition on: the normal is made
    orthogonal to all of them (see `orthogonalize`).
    Learned: raw_normal_ (before conditioning), normal_, center_ (w . normal_ at the boundary),
    accuracy_ (on the training pairs), n_samples_; after fit_from_seeds also directions_.
    """

    def __init__(self, C=1.0, orthogonal_to=None, max_iter=20000):
        self.C = C
        self.orthogonal_to = orthogonal_to
        self.max_iter = max_iter

    def fit(self, w, labels):
        from sklearn.svm import LinearSVC
        w = _w_matrix(w)
        labels = _labels_array(labels, len(w))
        mean = w.mean(axis=0)
        spread = float((w - mean).std()) or 1.0
        X = (w - mean) / spread
        svm = LinearSVC(C=self.C, max_iter=self.max_iter).fit(X, labels)
        coef, b = svm.coef_[0].astype(np.float64), float(svm.intercept_[0])
        norm = np.linalg.norm(coef)
        if norm == 0:
            raise StylescopeError('the SVM found no boundary between the labels: label more, or more distinct, samples')
        self.raw_normal_ = coef / norm
        self.normal_ = self.raw_normal_
        if self.orthogonal_to is not None:
            conditions = self.orthogonal_to
            if isinstance(conditions, DirectionSet):
                conditions = conditions.vectors
            self.normal_ = orthogonalize(self.raw_normal_, conditions)
        # the boundary passes through mean - (b * spread / |coef|) * raw_normal_
        boundary_point = mean - (b * spread / norm) * self.raw_normal_
        self.center_ = float(boundary_point @ self.normal_)
        self.accuracy_ = float(svm.score(X, labels))
        self.n_samples_ = len(w)
        return self

    def to_direction_set(self, G, name='attribute', layers=None, unit_samples=UNIT_SAMPLES, extra_meta=None):
        """The fitted normal as a one-direction set for G (unit = std of W along it)."""
        start, end = layers if layers is not None else (0, G.num_ws)
        scale = w_std_along(G, self.normal_, unit_samples)[0] if unit_samples else 1.0
        meta = dict(method='svm', space='W', fingerprint=model_fingerprint(G), sample_count=self.n_samples_,
                    w_dim=G.w_dim, num_ws=G.num_ws, conditioned=self.orthogonal_to is not None,
                    per_direction=dict(accuracy=[self.accuracy_]), **(extra_meta or {}))
        self.directions_ = DirectionSet(self.normal_[None], [max(scale, 1e-12)], [start], [end], [name], meta,
                                        [self.center_])
        return self.directions_

    def fit_from_seeds(self, G, seeds, labels, psi=1.0, name='attribute', layers=None, unit_samples=UNIT_SAMPLES):
        """Fit on the w of `seeds` (official seed convention, truncated with psi) and build directions_."""
        self.fit(w_from_seeds(G, seeds, psi), labels)
        return self.to_direction_set(G, name, layers, unit_samples, extra_meta=dict(psi=psi))


def direction_from_labels(G, w, labels, name='attribute', orthogonal_to=None, layers=None,
                          unit_samples=UNIT_SAMPLES):
    """What the GUI calls after a user labelled samples: w [N, w_dim] or ws [N, num_ws, w_dim]
    with 0/1 labels -> a one-direction DirectionSet."""
    return SVMDirection(orthogonal_to=orthogonal_to).fit(w, labels).to_direction_set(G, name, layers, unit_samples)


# ----------------------------------------------------------------------------------------------
# Layer-range suggestion.

def _looks(G, D, ws):
    """What is compared: the image, or D's block features [coarsest last] when D is given."""
    img = G.synthesis(ws, noise_mode='const')
    if D is None:
        return [img]
    feats, _, _ = D.features(img)
    return [feats[r] for r in sorted(feats, reverse=True)]


def _change(D, base, edited):
    if D is None:  # mean absolute pixel difference, in [-1, 1] image units
        return float((edited[0] - base[0]).abs().mean())
    return float(np.mean([float((e - b).abs().mean() / (b.abs().mean() + 1e-8)) for b, e in zip(base, edited)]))


@torch.no_grad()
def suggest_layer_range(G, direction, scale=None, D=None, seeds=range(8), alpha=3.0, psi=0.7, threshold=0.5):
    """Apply `direction` (unit [w_dim]) at +-alpha*scale to each layer group alone and measure
    the image change: mean absolute pixel difference, or, when the discriminator D is given, the
    relative change of its block features. Proposes [start, end) spanning every group whose
    effect is at least `threshold` of the largest. Returns (start, end, {group: effect}).
    scale None: the std of W along the direction (1,000 samples)."""
    d = np.asarray(direction, dtype=np.float64).reshape(-1)
    d = d / np.linalg.norm(d)
    if scale is None:
        scale = float(w_std_along(G, d, 1000)[0])
    if D is not None and D.img_resolution != G.img_resolution:
        raise StylescopeError(f'the discriminator works at {D.img_resolution} px but the generator at '
                              f'{G.img_resolution} px: use the D of the same network file')
    device = _device_of(G)
    w = torch.from_numpy(w_from_seeds(G, list(seeds), psi)).to(device, torch.float32)
    base_ws = w[:, None].repeat(1, G.num_ws, 1)
    base = _looks(G, D, base_ws)
    step = torch.from_numpy(alpha * scale * d).to(device, torch.float32)
    groups = layer_groups(G.num_ws)
    effects = {}
    for group, (s, e) in groups.items():
        change = 0.0
        for sign in (1, -1):
            edited = base_ws.clone()
            edited[:, s:e] += sign * step
            change += _change(D, base, _looks(G, D, edited)) / 2
        effects[group] = change
    top = max(effects.values())
    chosen = [g for g in groups if effects[g] >= threshold * top] or list(groups)
    return groups[chosen[0]][0], groups[chosen[-1]][1], effects


def suggest_layer_ranges(G, dset, D=None, progress=None, **kwargs):
    """suggest_layer_range for every direction of a set; returns the set with the proposed ranges
    (the measured effects are kept in meta per_direction 'layer_effects'). progress(done, total)."""
    starts, ends, all_effects = [], [], []
    for k in range(len(dset)):
        s, e, effects = suggest_layer_range(G, dset.vectors[k], float(dset.scales[k]), D=D, **kwargs)
        starts.append(s)
        ends.append(e)
        all_effects.append(effects)
        if progress is not None:
            progress(k + 1, len(dset))
    per = dict(dset.meta['per_direction'], layer_effects=all_effects)
    return dataclasses.replace(dset, layer_start=np.array(starts), layer_end=np.array(ends),
                               meta=dict(dset.meta, per_direction=per))


# ----------------------------------------------------------------------------------------------
# Importers and exporters of other tools' files.

def _need_w_dim(path, vectors, G):
    if vectors.shape[-1] != G.w_dim:
        raise StylescopeError(f"'{path}' holds vectors of length {vectors.shape[-1]} but the network's w_dim is "
                              f'{G.w_dim}: use a file made for a model with w_dim {G.w_dim}')


def _stem(path):
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def _all_layers(vectors, scales, G, names, meta, centers=None):
    k = len(vectors)
    try:
        return DirectionSet(vectors, scales, np.zeros(k, int), np.full(k, G.num_ws), names, meta, centers)
    except ValueError as exc:
        raise StylescopeError(f"'{meta.get('source')}' cannot be used ({exc}): "
                              'check that the file is complete') from None


def import_interfacegan(path, G):
    """InterfaceGAN boundary `.npy` (1, w_dim): one direction, raw W units, all layers."""
    v = read_arrays(path, 'InterfaceGAN boundary').get('')
    if v is None or v.ndim not in (1, 2) or (v.ndim == 2 and v.shape[0] != 1):
        raise StylescopeError(f"'{path}' is not an InterfaceGAN boundary (a (1, w_dim) .npy array): "
                              'check that you picked a *_boundary.npy file')
    v = v.reshape(1, -1).astype(np.float64)
    _need_w_dim(path, v, G)
    name = _stem(path)[:-len('_boundary')] if _stem(path).endswith('_boundary') else _stem(path)
    return _all_layers(v, [1.0], G, [name], dict(method='interfacegan', space='W', source=os.fspath(path)))


def export_interfacegan(dset, name_or_index, path):
    """One direction as an InterfaceGAN-style (1, w_dim) float64 `.npy` of norm 1."""
    k = dset.index(name_or_index)
    np.save(path, dset.vectors[k:k + 1].astype(np.float64))


def import_ganspace(path, G):
    """GANSpace component cache `.npz` (lat_comp [C, 1, w_dim], lat_stdev [C], optional lat_mean,
    var_ratio): units = lat_stdev, all layers (GANSpace's default range)."""
    arrays = read_arrays(path, 'GANSpace file')
    if 'lat_comp' not in arrays or 'lat_stdev' not in arrays:
        raise StylescopeError(f"'{path}' has no lat_comp / lat_stdev so it is not a GANSpace component file: "
                              'use the .npz from GANSpace\'s cache folder')
    comp = arrays['lat_comp'].astype(np.float64)
    comp = comp.reshape(comp.shape[0], -1)
    _need_w_dim(path, comp, G)
    stdev = arrays['lat_stdev'].astype(np.float64).reshape(-1)
    mean = arrays['lat_mean'].astype(np.float64).reshape(-1) if 'lat_mean' in arrays else np.zeros(G.w_dim)
    if mean.shape != (G.w_dim,):
        mean = np.zeros(G.w_dim)
    meta = dict(method='pca', space='W', source=os.fspath(path), imported_from='ganspace', mean=mean.tolist())
    if 'var_ratio' in arrays and arrays['var_ratio'].size == len(comp):
        meta['per_direction'] = dict(explained_variance_ratio=arrays['var_ratio'].reshape(-1).tolist())
    return _all_layers(comp, stdev, G, [f'PC{i}' for i in range(len(comp))], meta, comp @ mean)


def export_ganspace(dset, path):
    """The set as a GANSpace-style component `.npz` (lat_comp [K, 1, w_dim], lat_stdev, lat_mean, var_ratio)."""
    mean = np.asarray(dset.meta.get('mean') or np.zeros(dset.w_dim), dtype=np.float32)
    ratio = dset.meta['per_direction'].get('explained_variance_ratio') or [0.0] * len(dset)
    np.savez(path, lat_comp=dset.vectors[:, None, :], lat_stdev=dset.scales, lat_mean=mean[None],
             var_ratio=np.asarray([r if r is not None else 0.0 for r in ratio], dtype=np.float32))


def import_rosinality(path, G):
    """rosinality `factor.pt` ({'ckpt', 'eigvec' [w_dim, K]}, directions = columns), read with
    torch.load(weights_only=True) so it can hold nothing but tensors; raw W units, all layers."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"factor file '{path}' does not exist: check the path")
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # weights_only refuses code and arbitrary objects; also corrupt files
        raise StylescopeError(f"'{path}' is not a plain-tensor factor.pt ({type(exc).__name__}), so it is refused: "
                              "use a file written by rosinality's closed_form_factorization.py") from None
    eigvec = data.get('eigvec') if isinstance(data, dict) else None
    if not isinstance(eigvec, torch.Tensor) or eigvec.ndim != 2:
        raise StylescopeError(f"'{path}' has no 'eigvec' matrix so it is not a rosinality factor.pt: "
                              "use a file written by closed_form_factorization.py")
    vectors = eigvec.to(torch.float64).numpy().T
    _need_w_dim(path, vectors, G)
    meta = dict(method='sefa', space='W', source=path, imported_from='rosinality',
                ckpt=str(data.get('ckpt')) if 'ckpt' in data else None)
    return _all_layers(vectors, np.ones(len(vectors)), G, [f'factor{i}' for i in range(len(vectors))], meta)


def export_rosinality(dset, path, ckpt=''):
    torch.save({'ckpt': ckpt, 'eigvec': torch.from_numpy(dset.vectors.T.copy())}, path)


def import_projected_w(path, G):
    """A projector's `projected_w.npz` ('w' [1, num_ws, w_dim] or [w_dim]) as the direction from
    W's average to it: unit = that distance, so alpha = 1 moves by (w - w_avg), all layers.
    A W+ projection whose rows differ is reduced to their mean (with a warning)."""
    arrays = read_arrays(path, 'projected w file')
    if 'w' not in arrays:
        raise StylescopeError(f"'{path}' has no 'w' array so it is not a projected_w.npz: "
                              'use the file the projector wrote')
    w = arrays['w'].astype(np.float64)
    _need_w_dim(path, w, G)
    rows = w.reshape(-1, G.w_dim)
    if not np.allclose(rows, rows[:1], atol=1e-6):
        warnings.warn(f"'{path}' holds a W+ projection whose rows differ: the direction uses their mean", stacklevel=2)
    target = rows.mean(axis=0)
    w_avg = G.mapping.w_avg.detach().to('cpu', torch.float64).numpy()
    offset = target - w_avg
    if np.linalg.norm(offset) < 1e-9:
        raise StylescopeError(f"'{path}' holds W's average itself, which gives no direction: project another image")
    meta = dict(method='projected_w', space='W', source=os.fspath(path), target=target.tolist())
    return _all_layers(offset[None], [1.0], G, [_stem(path)], meta)  # the length becomes the unit


def companion_path(network_path):
    """The direction file that travels with a network file: `ffhq.pkl` -> `ffhq.directions.npz`
    in the same folder (None for a folder or when there is none). The explorer opens it with the
    network, which is how the bundled model arrives with its sliders."""
    network_path = os.fspath(network_path)
    if os.path.isdir(network_path):
        return None
    path = os.path.splitext(network_path)[0] + '.directions.npz'
    return path if os.path.isfile(path) else None


def open_directions(path, G, fingerprint=None):
    """Any direction file by its content: Stylescope `.npz`, GANSpace `.npz`, projected_w `.npz`,
    InterfaceGAN `.npy`, rosinality `.pt`. Checked against G (w_dim refused, fingerprint warns)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext in ('.pt', '.pth'):
        return import_rosinality(path, G)
    if ext == '.npy':
        return import_interfacegan(path, G)
    if ext != '.npz':
        raise StylescopeError(f"'{path}' is not a direction file Stylescope reads: "
                              'use a .npz (Stylescope, GANSpace, projected_w), .npy (InterfaceGAN) or .pt (rosinality)')
    keys = read_arrays(path, 'direction file').keys()
    if 'vectors' in keys:
        return load(path, G, fingerprint)
    if 'lat_comp' in keys:
        return import_ganspace(path, G)
    if 'w' in keys:
        return import_projected_w(path, G)
    raise StylescopeError(f"'{path}' holds none of vectors, lat_comp or w: it is not a direction file Stylescope "
                          'reads (Stylescope, GANSpace or projected_w .npz)')
