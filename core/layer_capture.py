"""Catching one synthesis layer's output while the renderer draws the picture: the layer viewer's
data, at no extra render. A forward hook on the layer's module (a `Probe`) turns its output into a
core.layer_maps.LayerCapture on the spot (statistics over the whole output, the maps themselves or,
for a layer too large to carry, their means over small squares), so nothing of the render is
copied or kept beyond it.

The layers (`synthesis_layers`), in the order synthesis runs them:
- StyleGAN2: each block's 'b{res}.conv0' (not in the 4x4 block), 'b{res}.conv1' and 'b{res}.torgb'
  (the block's RGB contribution, before the upsampled image of the blocks before it is added);
- StyleGAN3: 'input' (the Fourier features) and each layer 'L0_36_512' ... (the last is ToRGB,
  before the network's output scale).
"""
import math
import threading

import torch
import torch.nn.functional as F

from core.errors import StylescopeError
from core.layer_maps import LayerCapture

MAX_VALUES = 1 << 22  # values a capture carries (16 MiB of float32); larger layers are averaged down


def synthesis_layers(G):
    """[dict(name, channels, height, width, ws, kind)] of every layer the viewer can show, in run
    order; `ws` is the ws row the layer reads (None for a StyleGAN3 input's features: row 0 moves
    them), `kind` one of 'conv', 'torgb', 'input'."""
    synthesis = G.synthesis
    if not hasattr(synthesis, 'blocks'):  # StyleGAN3
        rows = [dict(name='input', channels=int(synthesis.input.channels), height=int(synthesis.input.size[1]),
                     width=int(synthesis.input.size[0]), ws=0, kind='input')]
        for idx, (name, layer) in enumerate(zip(synthesis.layer_names, synthesis.layers())):
            rows.append(dict(name=name, channels=int(layer.out_channels), height=int(layer.out_size[1]),
                             width=int(layer.out_size[0]), ws=idx + 1, kind='torgb' if layer.is_torgb else 'conv'))
        return rows
    rows = []
    for block, (start, _count) in zip(synthesis.blocks(), synthesis.block_ws_ranges()):
        row = start
        for part in block.conv_layers():
            rows.append(dict(name=f'b{block.resolution}.{part}', channels=int(block.out_channels),
                             height=block.resolution, width=block.resolution, ws=row, kind='conv'))
            row += 1
        if block.num_torgb:
            rows.append(dict(name=f'b{block.resolution}.torgb', channels=int(block.img_channels),
                             height=block.resolution, width=block.resolution, ws=row, kind='torgb'))
    return rows


def layer_names(G):
    return [row['name'] for row in synthesis_layers(G)]


def module_of(G, name):
    """The module whose output is layer `name`, or one sentence naming the layers there are."""
    names = layer_names(G)
    if name not in names:
        shown = ', '.join(names[:8]) + (f' ... {names[-1]}' if len(names) > 8 else '')
        raise StylescopeError(f"this network has no layer '{name}': choose one of {shown}")
    if name == 'input':
        return G.synthesis.input
    if '.' in name:
        block, part = name.split('.')
        return getattr(getattr(G.synthesis, block), part)
    return getattr(G.synthesis, name)


@torch.no_grad()
def capture_of(output, name, max_values=MAX_VALUES):
    """A LayerCapture of a layer's output [N, C, H, W] (its first image): min, max and per-channel
    statistics over all of it; the maps as float32, or averaged over stride x stride squares (the
    smallest stride that brings them within `max_values`)."""
    assert output.ndim == 4, f'layer {name} gave an output of shape {list(output.shape)}, not [N, C, H, W]'
    x = output[0].detach().to(torch.float32)
    c, h, w = x.shape
    stride = 1
    while c * math.ceil(h / stride) * math.ceil(w / stride) > max_values:
        stride += 1
    maps = x if stride == 1 else F.adaptive_avg_pool2d(x[None], (math.ceil(h / stride), math.ceil(w / stride)))[0]
    flat = x.reshape(c, -1)
    return LayerCapture(layer=name, shape=(c, h, w), maps=maps.cpu().numpy().copy(), stride=stride,
                        value_range=(float(flat.min()), float(flat.max())),
                        channel_mean=flat.mean(dim=1).to(torch.float64).cpu().numpy(),
                        channel_activity=flat.abs().mean(dim=1).to(torch.float64).cpu().numpy(),
                        dtype=str(output.dtype).replace('torch.', ''))


class Probe:
    """`with Probe(G, name) as probe:` while synthesis runs, the output of layer `name` becomes
    `probe.capture` (a LayerCapture) each time its module runs on this thread; None when it did
    not run (a cached or a preview render). The renderer sets `key` (what the capture is cached
    under) and its own position facts."""

    def __init__(self, G, name):
        self.name = name
        self.module = module_of(G, name)
        self.capture = None
        self.key = None
        self._thread = threading.get_ident()
        self._handle = None

    def _hook(self, module, inputs, output):
        if threading.get_ident() == self._thread:  # another thread's run of the network is not this render
            self.capture = capture_of(output, self.name)

    def __enter__(self):
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()
        self._handle = None
        return False
