"""Latent spaces: seeds -> z -> w (ws), truncation, class labels.

Seeds map to z exactly as the official generate.py does, so seed 42 here is seed 42 in every
other StyleGAN tool. ws are [N, num_ws, w_dim]; truncation (psi, cutoff) is applied by
`G.mapping` toward `G.mapping.w_avg` on ws rows [0, cutoff) (all rows when cutoff is None).
"""
import re

import numpy as np
import torch

from core.errors import StylescopeError

MAX_SEED = 2 ** 32 - 1  # numpy's RandomState accepts 0 .. 2**32 - 1
_SEED_PART = re.compile(r'^(\d+)(?:-(\d+))?$')


def _bad_seeds(text):
    return StylescopeError(f"bad seed list '{text}': use numbers and ranges like 0-7,42")


def parse_seeds(text):
    """'0-7,42' -> [0, 1, ..., 7, 42]; ranges are inclusive, order and repeats are kept."""
    seeds = []
    for part in str(text).split(','):
        match = _SEED_PART.match(part.strip())
        if match is None:
            raise _bad_seeds(text)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first or last > MAX_SEED:
            raise _bad_seeds(text)
        seeds.extend(range(first, last + 1))
    return seeds


def z_from_seed(seed, z_dim):
    """The official seed -> z: float64 numpy array [1, z_dim]."""
    return np.random.RandomState(seed).randn(1, z_dim)


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


def _module_device(module):
    return next(module.parameters()).device


@torch.no_grad()
def ws_from_seeds(G, seeds, c=None, psi=1.0, cutoff=None, device=None):
    """Seeds -> truncated ws [len(seeds), num_ws, w_dim] through G.mapping.

    c: one label [1, c_dim] shared by every seed (or None for unconditional models).
    """
    device = torch.device(device) if device is not None else _module_device(G)
    z = np.concatenate([z_from_seed(seed, G.z_dim) for seed in seeds])
    z = torch.from_numpy(z).to(device=device, dtype=torch.float32)
    if c is not None:
        c = c.to(device).expand(len(seeds), -1)
    ws = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
    assert ws.shape == (len(seeds), G.num_ws, G.w_dim), f'mapping returned {tuple(ws.shape)}'
    return ws
