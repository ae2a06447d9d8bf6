"""Per-pixel noise settings for one render, as plain data: no torch, no Qt.

A `NoiseSpec` says how every noise layer of the synthesis network draws its noise:
- mode 'const': the layer's stored `noise_const` buffer (the official default);
  'random': fresh Gaussian noise; 'none': no noise at all;
- seed: makes 'random' reproducible (each synthesis block draws from its own generator seeded
  from (seed, block resolution): see core/noise.py); seed None draws new noise on every render
  (such renders are never cached);
- scales: per-layer multipliers of the learned noise strength, {'b16.conv0': 0.5, ...};
  0 turns a layer's noise off, missing layers keep 1;
- maps: explicit noise maps for some or all layers (`NoiseMaps`, such as a projection's optimised
  ones). A layer with a map draws it instead of its noise_const ('const') or its random draw
  ('random'); its strength multiplier still applies, and mode 'none' still means no noise at all.

The explorer's editing state holds these, so this module imports neither torch nor Qt; turning
them into what a synthesis block takes (tensors, generators) is core/noise.py's job.
"""
import hashlib
import math
import numbers
import secrets
from dataclasses import dataclass

import numpy as np

from core.errors import StylescopeError
from core.frozen import ContentHashed, FrozenArray

NOISE_MODES = ('const', 'random', 'none')


def layer_resolution(name):
    """'b64.conv0' -> 64 (a noise layer's map is [64, 64])."""
    return int(name.split('.', 1)[0][1:])


class NoiseMaps(ContentHashed):
    """Explicit noise maps of some or all noise layers, {'b16.conv0': [16, 16], ...}: read-only
    float32 copies (FrozenArray), compared and hashed by content, so a NoiseSpec holding them stays
    immutable and cheap to compare. Each map is checked on construction (a finite square 2-D
    array); whether the maps fit a network is `misfit(layers)` (core.noise.check_maps(maps, G) for a
    network itself). `digest`: 16 bytes naming the whole set (stable across runs: sessions use it to
    store a set once)."""
    __slots__ = ('_maps', 'digest')

    def __init__(self, maps):
        if isinstance(maps, NoiseMaps):
            frozen = dict(maps._maps)
        else:
            frozen = {}
            for name, values in (maps.items() if isinstance(maps, dict) else maps):
                try:
                    array = FrozenArray(values)
                except (TypeError, ValueError):  # strings, or nothing array-like
                    raise StylescopeError(f"the noise map of layer '{name}' is not an array of numbers: "
                                          'project the photo again') from None
                if array.array.ndim != 2 or array.shape[0] != array.shape[1]:
                    raise StylescopeError(f"the noise map of layer '{name}' has shape {list(array.shape)}: "
                                          'a noise map is a square [res, res] array')
                if not np.isfinite(array.array).all():
                    raise StylescopeError(f"the noise map of layer '{name}' holds NaN or infinite values: "
                                          'project the photo again')
                frozen[str(name)] = array
        object.__setattr__(self, '_maps', dict(sorted(frozen.items())))
        h = hashlib.blake2b(digest_size=16)
        for name, array in self._maps.items():
            h.update(name.encode() + b'\0' + array.digest)
        object.__setattr__(self, 'digest', h.digest())

    @classmethod
    def of(cls, maps):
        """`maps` as a NoiseMaps, or None for None or no maps; a NoiseMaps is kept as it is."""
        if maps is not None and not isinstance(maps, NoiseMaps):
            maps = cls(maps)
        return maps if maps else None

    def __len__(self):
        return len(self._maps)

    def __repr__(self):
        return f'NoiseMaps({len(self)} layers, {self.nbytes / 2 ** 20:.1f} MiB)'

    def get(self, name):
        """The FrozenArray of layer `name` ('b16.conv0'), or None."""
        return self._maps.get(name)

    def names(self):
        return list(self._maps)

    def arrays(self, prefix=''):
        """{name: read-only float32 [res, res]} of the layers whose name starts with `prefix`, the
        prefix cut off (arrays('b16.') -> {'conv0': ...}), in layer-name order."""
        return {name[len(prefix):]: m.array for name, m in self._maps.items() if name.startswith(prefix)}

    @property
    def nbytes(self):
        return sum(m.array.nbytes for m in self._maps.values())

    def misfit(self, layers):
        """None when every map names one of `layers` (a network's noise layers) at its size; else
        one sentence saying which map does not fit."""
        for name, m in self._maps.items():
            if name not in layers:
                has = f'its noise layers are {layers[0]} to {layers[-1]}' if layers else 'it has no noise layers'
                return (f"there is a noise map for layer '{name}', which this network does not have ({has}): "
                        'use noise maps projected with this network')
            res = layer_resolution(name)
            if m.shape != (res, res):
                return (f"the noise map of layer '{name}' is {m.shape[0]}x{m.shape[1]} but this network draws "
                        f'{res}x{res} noise there: use noise maps projected with this network')
        return None


@dataclass(frozen=True)
class NoiseSpec:
    """How noise is drawn for one render; immutable and hashable (see the module docstring)."""
    mode: str = 'const'
    seed: int = 0
    scales: tuple = ()  # sorted ((layer name, multiplier), ...); a dict is accepted and converted
    maps: NoiseMaps = None  # explicit maps of some layers; a dict is accepted and converted; empty -> None

    def __post_init__(self):
        if self.mode not in NOISE_MODES:
            raise StylescopeError(f"unknown noise mode '{self.mode}': use one of {', '.join(NOISE_MODES)}")
        if self.seed is not None:
            if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool) or self.seed < 0:
                raise StylescopeError(f'noise seed {self.seed!r} is not allowed: use a whole number from 0 up')
            object.__setattr__(self, 'seed', int(self.seed))
        items = self.scales.items() if isinstance(self.scales, dict) else self.scales
        scales = {}
        for name, value in items:
            value = float(value)
            if not math.isfinite(value):
                raise StylescopeError(f"noise strength for layer '{name}' is {value}: use a finite number")
            if value != 1.0:
                scales[str(name)] = value
        object.__setattr__(self, 'scales', tuple(sorted(scales.items())))
        object.__setattr__(self, 'maps', NoiseMaps.of(self.maps))

    def scale(self, layer):
        """Multiplier of one layer ('b16.conv0'): 0 when the mode is 'none'."""
        if self.mode == 'none':
            return 0.0
        return dict(self.scales).get(layer, 1.0)

    def with_scale(self, layer, value):
        """A copy with one layer's multiplier changed (0 = off)."""
        return NoiseSpec(self.mode, self.seed, {**dict(self.scales), layer: value}, self.maps)

    def with_maps(self, maps):
        """A copy drawing these explicit maps (a NoiseMaps, a dict, or None for none)."""
        return NoiseSpec(self.mode, self.seed, self.scales, maps)

    @property
    def cacheable(self):
        """False for 'random' without a seed: that noise is new on every render."""
        return not (self.mode == 'random' and self.seed is None)

    def resolved(self):
        """This spec, with a fresh seed drawn when mode is 'random' and seed is None."""
        if self.cacheable:
            return self
        return NoiseSpec(self.mode, secrets.randbelow(2 ** 31), self.scales, self.maps)
