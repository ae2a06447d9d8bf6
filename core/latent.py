"""Latent spaces on the network: z -> w (ws) through G.mapping, class labels, and the ws edits
(style mixing, direction offsets, interpolation) as tensors.

Seeds become z in core/seeds.py (the official convention, no torch). ws are [N, num_ws, w_dim];
truncation (psi, cutoff) is applied by `G.mapping` toward `G.mapping.w_avg` on ws rows [0, cutoff)
(all rows when cutoff is None).
"""
import os

import numpy as np
import torch

from core.errors import StylescopeError
from core.npz_file import read_arrays
from core.seeds import z_from_seeds


def device_of(module):
    """The device a network (or any module with parameters) lives on."""
    return next(module.parameters()).device


def class_vector(c_dim, class_idx, device='cpu'):
    """One-hot label [1, c_dim] for a conditional model; None for an unconditional one
    (where class_idx is ignored, as in the official script)."""
    if c_dim == 0:
        return None
    if class_idx is None:
        raise StylescopeError(f'the network is conditional ({c_dim} classes): '
                              f'pass --class with a class index from 0 to {c_dim - 1}')
    if not 0 <= class_idx < c_dim:
        raise StylescopeError(f'class {class_idx} is out of range: this network has {c_dim} classes, '
                              f'use --class 0 to {c_dim - 1}')
    c = torch.zeros([1, c_dim], device=device)
    c[0, class_idx] = 1
    return c


def class_vectors(c_dim, classes, n, device='cpu'):
    """Labels [n, c_dim] for n samples: `classes` is one class index for all (or None on an
    unconditional model: returns None) or one index per sample."""
    if c_dim == 0:
        return None
    if classes is None or isinstance(classes, (int, np.integer)):
        c = class_vector(c_dim, None if classes is None else int(classes), device)
        return c.expand(n, -1)
    classes = [int(k) for k in classes]
    assert len(classes) == n, f'{len(classes)} classes for {n} samples'
    return torch.cat([class_vector(c_dim, k, device) for k in classes]) if n else torch.zeros([0, c_dim], device=device)


@torch.no_grad()
def ws_from_z(G, z, classes=None, psi=1.0, cutoff=None):
    """z [N, z_dim] (numpy or tensor) -> truncated ws [N, num_ws, w_dim] on G's device through
    G.mapping (w_avg never updated). classes: see class_vectors."""
    device = device_of(G)
    z = torch.as_tensor(np.asarray(z) if not isinstance(z, torch.Tensor) else z).to(device, torch.float32)
    c = class_vectors(G.c_dim, classes, len(z), device)
    ws = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff, skip_w_avg_update=True)
    assert ws.shape == (len(z), G.num_ws, G.w_dim), f'mapping returned {tuple(ws.shape)}'
    return ws


def ws_from_seeds(G, seeds, classes=None, psi=1.0, cutoff=None):
    """Seeds -> truncated ws [len(seeds), num_ws, w_dim] (the official seed -> z -> w)."""
    return ws_from_z(G, z_from_seeds(list(seeds), G.z_dim), classes, psi, cutoff)


def _float_tensor(values):
    """float32 tensor from a tensor or array (arrays are copied: they may be read-only)."""
    if isinstance(values, torch.Tensor):
        return values.to(torch.float32)
    return torch.from_numpy(np.array(values, dtype=np.float32))


def as_ws(w, num_ws, w_dim, what='w'):
    """A w [w_dim] or [1, w_dim] (broadcast to every row) or a ws [num_ws, w_dim] /
    [1, num_ws, w_dim], numpy or torch -> float32 tensor [1, num_ws, w_dim]."""
    w = _float_tensor(w)
    if w.ndim >= 2 and w.shape[0] == 1 and tuple(w.shape[1:]) in ((w_dim,), (num_ws, w_dim)):
        w = w[0]
    if tuple(w.shape) == (w_dim,):
        w = w.unsqueeze(0).repeat([num_ws, 1])
    if tuple(w.shape) != (num_ws, w_dim):
        raise StylescopeError(f'{what} has shape {list(w.shape)}: this network wants a w of [{w_dim}] '
                              f'or a ws of [{num_ws}, {w_dim}]')
    if not torch.isfinite(w).all():
        raise StylescopeError(f'{what} contains NaN or infinite values: use a w saved from this network')
    return w.unsqueeze(0)


def truncate(ws, w_avg, psi=1.0, cutoff=None):
    """ws rows [0, cutoff) pulled toward w_avg: w_avg + psi * (w - w_avg), the same operation
    G.mapping applies (all rows when cutoff is None). Returns a new tensor."""
    ws = ws.clone()
    if psi != 1:
        rows = slice(None) if cutoff is None else slice(0, cutoff)
        ws[:, rows] = w_avg.to(ws.device, ws.dtype).lerp(ws[:, rows], psi)
    return ws


def mix_ws(base, sources):
    """Style mixing: base ws [N, num_ws, w_dim]; sources: iterable of (ws, rows) where each ws
    is [N or 1, num_ws, w_dim] and rows are ws indices copied from it. Later sources win.
    Returns a new tensor."""
    ws = base.clone()
    for src, rows in sources:
        rows = list(rows)
        if rows:
            assert src.shape[1:] == ws.shape[1:], f'mixing source shape {list(src.shape)} != {list(ws.shape)}'
            ws[:, rows] = src[:, rows].to(ws.device, ws.dtype)
    return ws


def add_offsets(ws, offsets):
    """Direction edits: each core.request.Offset adds amount * vector to ws rows [start, end)
    (rows past the end of ws are cut); a per-row vector [num_ws, w_dim] adds its row r to ws row r.
    Returns a new tensor (psi does not shrink edits)."""
    ws = ws.clone()
    for offset in offsets:
        end = min(offset.end, ws.shape[1])
        if offset.amount != 0 and end > offset.start:
            vector = _float_tensor(offset.vector.array).to(ws.device, ws.dtype)
            if vector.ndim == 2:
                assert vector.shape[0] >= end and vector.shape[1] == ws.shape[2], \
                    f'per-row offset {list(vector.shape)} for ws {list(ws.shape)}'
                vector = vector[offset.start:end]
            ws[:, offset.start:end] += vector * offset.amount
    return ws


# --- saved w files --------------------------------------------------------------------------------

def load_ws_file(path, num_ws, w_dim):
    """A saved w: `.npz` with key 'w' (the official projector's projected_w.npz, [n, num_ws, w_dim])
    or with a single array, or a `.npy`. Each w may be [w_dim] or [num_ws, w_dim].
    Returns float32 numpy [n, num_ws, w_dim]."""
    path = os.fspath(path)
    arrays = read_arrays(path, 'w file')
    keys = list(arrays)
    if 'w' not in keys and len(keys) != 1:
        raise StylescopeError(f"w file '{path}' holds {', '.join(keys) or 'nothing'} but no 'w' "
                              f"array: save the latent under the key 'w'")
    array = arrays['w' if 'w' in keys else keys[0]]
    if array.dtype.kind not in 'fiu':
        raise StylescopeError(f"w file '{path}' holds {array.dtype} values: a w must be numbers")
    if array.ndim in (1, 2) and array.shape[-1] == w_dim and (array.ndim == 1 or array.shape[0] in (1, num_ws)):
        array = array[None]
    if array.ndim == 2 and array.shape[1] == w_dim:  # [n, w_dim]: n separate w
        array = array[:, None]
    if array.ndim != 3 or array.shape[2] != w_dim or array.shape[1] not in (1, num_ws) or len(array) == 0:
        raise StylescopeError(f"w file '{path}' has shape {list(array.shape)}: this network wants "
                              f"[n, {num_ws}, {w_dim}] or [n, {w_dim}]")
    array = np.repeat(array, num_ws, axis=1) if array.shape[1] == 1 else array
    if not np.isfinite(array).all():
        raise StylescopeError(f"w file '{path}' contains NaN or infinite values: re-create it")
    return array.astype(np.float32)
