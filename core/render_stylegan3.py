"""The cached renderer for StyleGAN3 networks (core/networks_stylegan3.py): the requests, the
mapping cache and the result are core.render.Renderer's; synthesis is cached at layer boundaries.

A StyleGAN3 synthesis network is an input layer (Fourier features moved by ws row 0 and the
input transform) and layers L0..LN, layer i reading ws row i + 1. The output of each is kept,
keyed by a digest chained along the rows: the input's key from row 0 and the request's motion,
each layer's from the previous key and its row. An edit of rows from k on finds the input and the
layers before k cached and runs only from there; a pan or a rotation changes the input, so it
runs every layer. There is no noise to key and no preview (no layer holds a smaller picture of
the final one: every frame is drawn in full).
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

    def _keys(self, ws, motion):
        """The chained key of each output (the input's, then each layer's), in ws row order."""
        rows = ws.detach().to('cpu', torch.float32).numpy()
        key = _digest(b'stylescope-sg3-input', rows[:, 0].tobytes(), repr(motion).encode())
        keys = [key]
        for row in range(1, len(self._names)):
            key = _digest(key, rows[:, row].tobytes())
            keys.append(key)
        return keys

    def _synthesize_request(self, ws, request):
        synthesis = self.G.synthesis
        keys = self._keys(ws, request.motion)
        first, x = 0, None
        for idx in range(len(keys) - 1, -1, -1):  # the deepest cached output
            x = self._block_cache.peek(keys[idx])
            if x is not None:
                first = idx + 1
                break
        keep = set(keys)
        reused = first  # outputs taken from the cache: names[:first]
        if first == 0:
            transform = None if not request.motion else motion_transform(math.radians(request.motion[0]),
                                                                         *request.motion[1:])
            x = synthesis.input_features(ws, transform=transform)
            self._block_cache.put(keys[0], x, keep)
            first = 1
        for idx in range(first, len(keys)):  # the output of layer idx - 1; the last one is the image
            x = synthesis.run_layers(x, ws, idx - 1, idx, force_fp32=self.force_fp32)
            self._block_cache.put(keys[idx], x, keep)
        self._block_cache.touch(keys[::-1])  # this render's entries the most recent, the shallowest last
        self.hits += reused
        self.misses += len(keys) - reused
        return _Synthesis(x, tuple(self._names[reused:]), tuple(self._names[:reused]), (), False)
