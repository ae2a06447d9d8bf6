"""Seeds: the official seed -> z convention, seed lists, and the class a seed draws. No torch.

Seeds map to z exactly as the official generate.py does (`np.random.RandomState(seed).randn(1,
z_dim)`), so seed 42 here is seed 42 in every other StyleGAN tool. Mapping z to w is
core.latent's job; this module stays torch-free so that the command line's parser and the
explorer's editing state can use it.
"""
import numbers
import re

import numpy as np

from core.errors import StylescopeError
from core.interpolate import slerp

MAX_SEED = 2 ** 32 - 1  # numpy's RandomState accepts 0 .. 2**32 - 1
MAX_SEED_LIST = 1_000_000  # a seed list longer than this is a typo, not a batch of images
_SEED_PART = re.compile(r'^(\d{1,20})(?:-(\d{1,20}))?$')  # int() refuses 4,300 digits and more


def check_seed(seed):
    """The seed as an int, or one sentence saying what is allowed."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise StylescopeError(f'seed {seed!r} is not allowed: use a whole number from 0 to {MAX_SEED}')
    return int(seed)


def _bad_seeds(text, why='use numbers and ranges like 0-7,42', flag=None):
    return StylescopeError(f"bad {flag or 'seed list'} '{text}': {why}")


def parse_seeds(text, limit=MAX_SEED_LIST, flag=None):
    """'0-7,42' -> [0, 1, ..., 7, 42]; ranges are inclusive, order and repeats are kept. A list
    longer than `limit` is refused before it is built; `flag` names the option in the sentence."""
    return [seed for first, last in _seed_ranges(text, limit, flag) for seed in range(first, last + 1)]


def seed_count(text, flag=None):
    """How many seeds a seed list names (its syntax checked, nothing built)."""
    return sum(last - first + 1 for first, last in _seed_ranges(text, None, flag))


def _seed_ranges(text, limit, flag):
    parts, total = [], 0
    for part in str(text).split(','):
        match = _SEED_PART.match(part.strip())
        if match is None:
            raise _bad_seeds(text, flag=flag)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first or last > MAX_SEED:
            raise _bad_seeds(text, flag=flag)
        total += last - first + 1
        if limit is not None and total > limit:
            raise _bad_seeds(text, f'that is more than {limit:,} seeds: ask for fewer', flag)
        parts.append((first, last))
    return parts


def z_from_seed(seed, z_dim):
    """The official seed -> z: float64 numpy array [1, z_dim]."""
    return np.random.RandomState(check_seed(seed)).randn(1, z_dim)


def z_from_seeds(seeds, z_dim):
    """z of each seed, stacked: float64 [len(seeds), z_dim]."""
    return np.concatenate([z_from_seed(seed, z_dim) for seed in seeds]) if len(seeds) else np.zeros([0, z_dim])


def seed_walk_z(seed, frac, z_dim):
    """z a fraction `frac` of the way from seed's z to the next seed's, along the great circle
    (slerp keeps a Gaussian z's length typical, where lerp would shrink it): [1, z_dim]."""
    return slerp(z_from_seed(seed, z_dim), z_from_seed(seed + 1, z_dim), float(frac))


def class_from_seed(seed, z_dim, c_dim):
    """The class a conditional model shows for a seed when none is chosen: drawn from the seed's
    own RNG right after its z, as NVIDIA's visualiser does."""
    rng = np.random.RandomState(check_seed(seed))
    rng.randn(1, z_dim)
    return int(rng.randint(c_dim))
