"""The cached renderer for StyleGAN3 networks (core/networks_stylegan3.py): the requests, the
mapping cache and the result are core.render.Renderer's; synthesis is cached at layer boundaries.

A StyleGAN3 synthesis network is an input layer (Fourier features moved by ws row 0 and the
input transform) and layers L0..LN, layer i reading ws row i + 1. The output of each is kept,
keyed by a digest chained along the rows: the input's key from row 0 and the request's motion,
each layer's from the previous key and its row. An edit of rows from k on finds the input and the
layers before k cached and runs only from there; a pan or a rotation changes the input, so it
runs every layer. There is no noise to key and no preview (no layer holds a smaller picture of
the final one: every frame is drawn in full). A StyleSpace edit of a layer's styles enters that
layer's key, so it reruns from that layer on; a captured layer (the layer viewer) whose output
came from the cache and whose capture is not kept is run again from the output before it.
"""
import math

import torch

from core.errors import StylescopeError
from core.networks_stylegan3 import motion_transform
from core.render import Renderer, _digest, _Synthesis


class StyleGAN3Renderer(Renderer):
    """RenderRequest -> RenderResult for a StyleGAN3 network; `computed_blocks` and
    `reused_blocks` of its results name layers ('input', 'L0_36_512', ...)."""

    def _setup(self):
        synthesis = self.G.synthesis
        self._names = ['input'] + list(synthesis.layer_names)  # the output of each, in ws row order

    def _check(self, request):
        if request.noise.maps is not None:
            raise StylescopeError('a StyleGAN3 network has no noise inputs, so noise maps cannot be drawn with it: '
                                  'use a w without its noise maps')
        request = request.replace(motion=())  # what the StyleGAN2 checks reject, this network takes
        super()._check(request)

    def _keys(self, ws, motion, precision, style=None):
        """The chained key of each output (the input's, then each layer's), in ws row order; the
        chain starts from the precision, as the StyleGAN2 renderer's. style: {layer: (offset
        tensor, its bytes)} of the request's StyleSpace edits, in the key of their layer."""
        rows = ws.detach().to('cpu', torch.float32).numpy()
        style = style or {}
        key = _digest(b'stylescope-sg3-input', precision.encode(), rows[:, 0].tobytes(), repr(motion).encode())
        keys = [key]
        for row in range(1, len(self._names)):
            edit = (style[self._names[row]][1],) if self._names[row] in style else ()
            key = _digest(key, rows[:, row].tobytes(), *edit)
            keys.append(key)
        return keys

    def _deepest(self, keys, below):
        """(index of the first output to compute, the cached output before it or None) among outputs < below."""
        for idx in range(below - 1, -1, -1):
            x = self._block_cache.peek(keys[idx])
            if x is not None:
                return idx + 1, x
        return 0, None

    def _outputs(self, start, stop, x, ws, keys, request, precision, style):
        """Compute outputs start..stop-1 (0: the input's), keeping each; returns the last."""
        synthesis, keep = self.G.synthesis, set(keys)
        offsets = {name: t for name, (t, _) in (style or {}).items()}
        for idx in range(start, stop):  # output idx is layer idx - 1's; the last one is the image
            if idx == 0:
                transform = None if not request.motion else motion_transform(math.radians(request.motion[0]),
                                                                             *request.motion[1:])
                x = synthesis.input_features(ws, transform=transform)
            else:
                x = synthesis.run_layers(x, ws, idx - 1, idx, force_fp32=self.force_fp32, precision=precision,
                                         style_offsets=offsets)
            self._block_cache.put(keys[idx], x, keep)
        return x

    def _synthesize_request(self, ws, request, precision, style=None, probe=None):
        keys = self._keys(ws, request.motion, precision, style)
        first, x = self._deepest(keys, len(keys))
        ran = set(range(first, len(keys)))
        if probe is not None:
            at = self._names.index(probe.name)
            probe.key = _digest(keys[at], b'stylescope-capture')
            if at < first and self._capture_cache.peek(probe.key) is None:  # run it again, from the output before it
                start, before = self._deepest(keys, at)
                self._outputs(start, at + 1, before, ws, keys, request, precision, style)
                ran |= set(range(start, at + 1))
        x = self._outputs(first, len(keys), x, ws, keys, request, precision, style)
        self._block_cache.touch(keys[::-1])  # this render's entries the most recent, the shallowest last
        self.hits += len(keys) - len(ran)
        self.misses += len(ran)
        return _Synthesis(x, tuple(self._names[i] for i in sorted(ran)),
                          tuple(self._names[i] for i in range(len(keys)) if i not in ran), (), False)
