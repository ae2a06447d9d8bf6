"""Noise settings (core.noise_spec.NoiseSpec) applied to a synthesis network, without touching it.

Each synthesis block gets its own CPU torch.Generator for 'random' noise, seeded from (seed,
block resolution), so a block's noise never depends on what other blocks drew and the renderer
can cache blocks exactly; a muted layer still takes its share of the block's random stream, so
muting one layer never changes another layer's noise. A layer with an explicit map draws the map
instead ('random': the draw is still made and dropped, so the block's other layer keeps its noise).

Nothing here writes to G: the settings travel as call arguments (`noise_scales`,
`noise_generator`, `noise_inputs`) into each SynthesisBlock, so two renders with different
settings, one after the other or on two threads, never see each other's noise.
"""
import hashlib

import torch

from core.errors import StylescopeError


def noise_layers(G):
    """Names of G's noise-carrying layers in ws order: ['b4.conv1', 'b8.conv0', 'b8.conv1', ...];
    none for a StyleGAN3 network, which has no noise inputs."""
    names = []
    if not hasattr(G.synthesis, 'blocks'):
        return names
    for block in G.synthesis.blocks():
        for name in block.conv_layers():
            if getattr(block, name).use_noise:
                names.append(f'b{block.resolution}.{name}')
    return names


def check_maps(maps, G):
    """Raise NoiseMaps.misfit's sentence as a StylescopeError unless every map fits G."""
    problem = maps.misfit(noise_layers(G))
    if problem is not None:
        raise StylescopeError(problem)


def noise_tensors(maps, prefix=''):
    """{name: float32 CPU tensor} of the maps whose layer name starts with `prefix`, the prefix cut
    off: noise_tensors(maps) for G.synthesis's noise_inputs ({'b16.conv0': ...}), prefix 'b16.' for
    one block's ({'conv0': ...}). Fresh copies (the maps are read-only; a layer moves its map to
    its device)."""
    return {name: torch.from_numpy(array.copy()) for name, array in maps.arrays(prefix).items()}


def _block_seed(seed, resolution):
    digest = hashlib.blake2b(f'stylescope-noise:{int(seed)}:{int(resolution)}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'little') & (2 ** 63 - 1)


def layer_noise_key(spec, block, name):
    """What of `spec` reaches one conv layer ('conv0', 'conv1') of `block`: equal keys mean equal
    noise in that layer. A layer's random draw depends only on the seed and its block (the block's
    generator, see block_noise_kwargs), not on the other layer's settings. A layer with an explicit
    map is keyed by that map's digest (its random draw, made and dropped, changes nothing)."""
    layer = getattr(block, name)
    full = f'b{block.resolution}.{name}'
    scale = spec.scale(full) if layer.use_noise else 0.0
    noise_map = spec.maps.get(full) if spec.maps is not None and scale != 0 else None
    if noise_map is not None:
        return ('map', noise_map.digest, scale)
    if spec.mode == 'random' and scale != 0:
        return ('random', spec.seed, scale)
    return ('const', scale)


def block_noise_kwargs(spec, block):
    """Keyword arguments for `block(x, img, ws, **kwargs)`: noise_mode, noise_scales, the block's
    explicit maps as noise_inputs and, for 'random', the block's own seeded generator. Needs a seed
    (call `spec.resolved()` first)."""
    scales = {name: spec.scale(f'b{block.resolution}.{name}') for name in block.conv_layers()}
    kwargs = dict(noise_mode=spec.mode, noise_scales=scales)
    if spec.maps is not None and spec.mode != 'none':
        kwargs['noise_inputs'] = noise_tensors(spec.maps, f'b{block.resolution}.')
    if spec.mode == 'random':
        assert spec.seed is not None, 'block_noise_kwargs needs a seed: call spec.resolved() first'
        generator = torch.Generator(device='cpu')
        generator.manual_seed(_block_seed(spec.seed, block.resolution))
        # SynthesisLayer draws its noise even when muted, so muting one layer leaves the
        # stream, and the noise, of the block's other layer unchanged.
        kwargs['noise_generator'] = generator
    return kwargs
