"""Interpolating latents: lerp, slerp and a Catmull-Rom curve, on numpy arrays or torch tensors
alike (vectors along the last axis). No torch import: the explorer's state walks between seeds
with these, videos join keyframes with them.
"""
import numpy as np


def lerp(a, b, t):
    """a + (b - a) * t."""
    return a + (b - a) * t


def slerp(a, b, t, eps=1e-7):
    """Spherical interpolation along the last axis: follows the great circle between the
    directions of a and b while lerping the length (the usual choice for Gaussian z).
    Falls back to lerp of the directions for (nearly) parallel vectors; t = 0 and 1 give a and b."""
    if hasattr(a, 'detach'):  # torch tensors, handled without importing torch
        out = slerp(a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy(), t, eps)
        return a.new_tensor(out)
    dtype = np.asarray(a).dtype if np.asarray(a).dtype.kind == 'f' else np.float64
    if t == 0 or t == 1:
        return np.array(a if t == 0 else b, dtype=dtype)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    ua, ub = a / np.maximum(na, eps), b / np.maximum(nb, eps)
    omega = np.arccos(np.clip((ua * ub).sum(axis=-1, keepdims=True), -1, 1))
    so = np.sin(omega)
    parallel = so < eps
    so = np.where(parallel, 1.0, so)
    w0 = np.where(parallel, 1 - t, np.sin((1 - t) * omega) / so)
    w1 = np.where(parallel, t, np.sin(t * omega) / so)
    return ((w0 * ua + w1 * ub) * lerp(na, nb, t)).astype(dtype)


def catmull_rom(p0, p1, p2, p3, t):
    """Uniform Catmull-Rom spline through p1 (t=0) and p2 (t=1), p0 and p3 its neighbours:
    a smooth (C1) curve through every keyframe."""
    t2, t3 = t * t, t * t * t
    return 0.5 * ((2 * p1) + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                  + (3 * p1 - p0 - 3 * p2 + p3) * t3)
