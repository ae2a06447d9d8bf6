"""Per-pixel noise settings for one render, applied without touching the model.

A `NoiseSpec` says how every noise layer of the synthesis network draws its noise:
- mode 'const': the layer's stored `noise_const` buffer (the official default);
  'random': fresh Gaussian noise; 'none': no noise at all;
- seed: makes 'random' reproducible. Each synthesis block gets its own CPU torch.Generator,
  seeded from (seed, block resolution), so a block's noise never depends on what other blocks
  drew and the renderer can cache blocks exactly; a muted layer still takes its share of the
  block's random stream, so muting one layer never changes another layer's noise. seed None
  draws new noise on every render (such renders are never cached);
- scales: per-layer multipliers of the learned noise strength, {'b16.conv0': 0.5, ...};
  0 turns a layer's noise off, missing layers keep 1.

Nothing here writes to G: the settings travel as call arguments (`noise_scales`,
`noise_generator`) into each SynthesisBlock, so two renders with different settings, one after
the other or on two threads, never see each other's noise.
"""
import hashlib
import math
import numbers
import secrets
from dataclasses import dataclass

import torch

from core.errors import StylescopeError

NOISE_MODES = ('const', 'random', 'none')


def noise_layers(G):
    """Names of G's noise-carrying layers in ws order: ['b4.conv1', 'b8.conv0', 'b8.conv1', ...]."""
    names = []
    for block in G.synthesis.blocks():
        for name in block.conv_layers():
            if getattr(block, name).use_noise:
                names.append(f'b{block.resolution}.{name}')
    return names


def _block_seed(seed, resolution):
    digest = hashlib.blake2b(f'stylescope-noise:{int(seed)}:{int(resolution)}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'little') & (2 ** 63 - 1)


@dataclass(frozen=True)
class NoiseSpec:
    """How noise is drawn for one render; immutable and hashable (see the module docstring)."""
    mode: str = 'const'
    seed: int = 0
    scales: tuple = ()  # sorted ((layer name, multiplier), ...); a dict is accepted and converted

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

    def scale(self, layer):
        """Multiplier of one layer ('b16.conv0'): 0 when the mode is 'none'."""
        if self.mode == 'none':
            return 0.0
        return dict(self.scales).get(layer, 1.0)

    def with_scale(self, layer, value):
        """A copy with one layer's multiplier changed (0 = off)."""
        return NoiseSpec(self.mode, self.seed, {**dict(self.scales), layer: value})

    @property
    def cacheable(self):
        """False for 'random' without a seed: that noise is new on every render."""
        return not (self.mode == 'random' and self.seed is None)

    def resolved(self):
        """This spec, with a fresh seed drawn when mode is 'random' and seed is None."""
        if self.cacheable:
            return self
        return NoiseSpec(self.mode, secrets.randbelow(2 ** 31), self.scales)

    def layer_key(self, block, name):
        """What of this spec reaches one conv layer ('conv0', 'conv1') of `block`: equal keys mean
        equal noise in that layer. A layer's random draw depends only on the seed and its block (the
        block's generator, see block_kwargs), not on the other layer's settings."""
        layer = getattr(block, name)
        scale = self.scale(f'b{block.resolution}.{name}') if layer.use_noise else 0.0
        if self.mode == 'random' and scale != 0:
            return ('random', self.seed, scale)
        return ('const', scale)

    def block_kwargs(self, block):
        """Keyword arguments for `block(x, img, ws, **kwargs)`: noise_mode, noise_scales and, for
        'random', the block's own seeded generator. Needs a seed (call `resolved()` first)."""
        scales = {name: self.scale(f'b{block.resolution}.{name}') for name in block.conv_layers()}
        kwargs = dict(noise_mode=self.mode, noise_scales=scales)
        if self.mode == 'random':
            assert self.seed is not None, 'NoiseSpec.block_kwargs needs a seed: call resolved() first'
            generator = torch.Generator(device='cpu')
            generator.manual_seed(_block_seed(self.seed, block.resolution))
            # SynthesisLayer draws its noise even when muted, so muting one layer leaves the
            # stream, and the noise, of the block's other layer unchanged.
            kwargs['noise_generator'] = generator
        return kwargs
