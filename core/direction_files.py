"""Direction files: Stylescope's own (core/direction_set.py) checked against a network, and
other tools' files read and written: InterfaceGAN boundary `.npy`, GANSpace component `.npz`,
rosinality `factor.pt` and a projector's `projected_w.npz`. `open_directions` picks the reader by
the file's content; `companion_path` finds the direction file that travels with a network file.
"""
import os
import warnings

import numpy as np
import torch

from core import direction_set
from core.atomic import atomic_write
from core.direction_set import DirectionSet
from core.errors import StylescopeError
from core.model_io import fingerprint as model_fingerprint
from core.npz_file import read_arrays
from core.safe_pickle import check_loaded


def load(path, G=None, fingerprint=None):
    """A Stylescope direction file checked against G (w_dim refused, StyleSpace channels that are
    not channels of G refused, fingerprint warns, ranges cut to num_ws) or against a fingerprint alone."""
    if G is not None and fingerprint is None:
        fingerprint = model_fingerprint(G)
    dset = direction_set.load(path, w_dim=None if G is None else G.w_dim, num_ws=None if G is None else G.num_ws,
                              fingerprint=fingerprint)
    if G is not None:
        from core.stylespace import check_style_directions
        check_style_directions(dset, G, f"direction file '{path}'")
    return dset



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
    """One direction as an InterfaceGAN-style (1, w_dim) float64 `.npy` of norm 1 (not a per-row one)."""
    k = dset.index(name_or_index)
    _refuse_style_channels(dset.subset([k]), path, 'InterfaceGAN .npy', 'one (1, w_dim) vector in W')
    if dset.is_per_row(k):
        raise StylescopeError(f"'{dset.names[k]}' is a per-row direction (a different vector for each ws row, as a "
                              'W+ difference is) and an InterfaceGAN .npy holds one (1, w_dim) vector for every row, '
                              f"so it cannot be written to '{path}': export it as a Stylescope .npz instead")
    atomic_write(path, lambda f: np.save(f, dset.vectors[k:k + 1].astype(np.float64)))


def _refuse_style_channels(dset, path, what, holds):
    names = dset.style_names()
    if names:
        raise StylescopeError(f"the set holds StyleSpace channels ({', '.join(names[:4])}"
                              f"{' ...' if len(names) > 4 else ''}: edits of single style channels, not of w) and a "
                              f"{what} holds {holds}, so it cannot be written to '{path}': remove them first, or "
                              'export a Stylescope .npz')


def _refuse_per_row(dset, path, what, holds):
    names = dset.per_row_names()
    if names:
        raise StylescopeError(f"the set holds per-row directions ({', '.join(names)}: a vector for each ws row) and "
                              f"a {what} holds {holds}, so it cannot be written to '{path}': remove them first, or "
                              'export a Stylescope .npz')


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
    """The set as a GANSpace-style component `.npz` (lat_comp [K, 1, w_dim], lat_stdev, lat_mean,
    var_ratio); a set with per-row directions is refused."""
    _refuse_per_row(dset, path, 'GANSpace .npz', 'one w_dim vector per component')
    _refuse_style_channels(dset, path, 'GANSpace .npz', 'one w_dim vector per component')
    mean = np.asarray(dset.meta.get('mean') or np.zeros(dset.w_dim), dtype=np.float32)
    ratio = dset.meta['per_direction'].get('explained_variance_ratio') or [0.0] * len(dset)
    arrays = dict(lat_comp=dset.vectors[:, None, :], lat_stdev=dset.scales, lat_mean=mean[None],
                  var_ratio=np.asarray([r if r is not None else 0.0 for r in ratio], dtype=np.float32))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def import_rosinality(path, G):
    """rosinality `factor.pt` ({'ckpt', 'eigvec' [w_dim, K]}, directions = columns), read with
    torch.load(weights_only=True) so it can hold nothing but tensors; raw W units, all layers."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"factor file '{path}' does not exist: check the path")
    try:
        data = check_loaded(torch.load(path, map_location='cpu', weights_only=True), path)
    except StylescopeError:
        raise
    except Exception as exc:  # weights_only refuses code and arbitrary objects; also corrupt files
        raise StylescopeError(f"'{path}' is not a plain-tensor factor.pt ({type(exc).__name__}), so it is refused: "
                              "use a file written by rosinality's closed_form_factorization.py") from None
    eigvec = data.get('eigvec') if isinstance(data, dict) else None
    if not isinstance(eigvec, torch.Tensor) or eigvec.ndim != 2:
        raise StylescopeError(f"'{path}' has no 'eigvec' matrix so it is not a rosinality factor.pt: "
                              "use a file written by closed_form_factorization.py")
    vectors = eigvec.to(torch.float64).numpy().T
    _need_w_dim(path, vectors, G)
    ckpt = data.get('ckpt')
    meta = dict(method='sefa', space='W', source=path, imported_from='rosinality',
                ckpt=ckpt if isinstance(ckpt, str) else None)
    return _all_layers(vectors, np.ones(len(vectors)), G, [f'factor{i}' for i in range(len(vectors))], meta)


def export_rosinality(dset, path, ckpt=''):
    """The set as a rosinality factor.pt (eigvec [w_dim, K]); a set with per-row directions is refused."""
    _refuse_per_row(dset, path, 'rosinality factor.pt', 'one w_dim column per direction')
    _refuse_style_channels(dset, path, 'rosinality factor.pt', 'one w_dim column per direction')
    atomic_write(path, lambda f: torch.save({'ckpt': ckpt, 'eigvec': torch.from_numpy(dset.vectors.T.copy())}, f))


def import_projected_w(path, G):
    """A projector's `projected_w.npz` ('w' [1, num_ws, w_dim] or [w_dim]) as the direction from
    W's average to it: unit = that distance, so alpha = 1 moves by (w - w_avg), all layers.
    A W+ projection whose rows differ becomes a per-row direction (core.direction_set.difference
    from w_avg on every row); several ws in one file are reduced to their mean (with a warning)."""
    arrays = read_arrays(path, 'projected w file')
    if 'w' not in arrays:
        raise StylescopeError(f"'{path}' has no 'w' array so it is not a projected_w.npz: "
                              'use the file the projector wrote')
    w = arrays['w'].astype(np.float64)
    _need_w_dim(path, w, G)
    rows = w.reshape(-1, G.w_dim)
    w_avg = G.mapping.w_avg.detach().to('cpu', torch.float64).numpy()
    if len(rows) == G.num_ws and not (rows == rows[:1]).all():  # W+: a per-row direction
        if not np.isfinite(rows).all():
            raise StylescopeError(f"'{path}' holds NaN or infinite values: project the image again")
        meta = dict(method='projected_w', space='W+', source=os.fspath(path))
        return direction_set.difference(np.tile(w_avg, [G.num_ws, 1]), rows, _stem(path), meta=meta,
                                        labels=("W's average", _stem(path)))
    if not np.allclose(rows, rows[:1], atol=1e-6):
        warnings.warn(f"'{path}' holds several ws whose rows differ: the direction uses their mean", stacklevel=2)
    target = rows.mean(axis=0)
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
