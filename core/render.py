"""Turn latents into pictures: the one place where G.synthesis output becomes uint8 images.

- `render_ws` / `render_seeds`: plain batch rendering for the CLI (as the official generate.py).
- `Renderer`: core.request.RenderRequest -> RenderResult, the explorer's cached renderer. It
  caches mapping outputs and the synthesis state at layer boundaries, so an edit recomputes only
  from the first layer it reaches.
- `synthesize`: uncached block-by-block synthesis with per-request noise (a NoiseSpec).
"""
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import StylescopeError
from core.images import to_uint8
from core.layer_capture import Probe
from core.latent import add_offsets, as_ws, device_of, mix_ws, truncate, ws_from_seeds, ws_from_z
from core.noise import block_noise_kwargs, check_maps, layer_noise_key, noise_tensors
from core.noise_spec import NoiseSpec
from core.precision import resolve_precision
from core.request import RenderResult
from core.seeds import seed_walk_z
from core.stylespace import channel_counts, offset_vectors

CAPTURE_CACHE_SIZE = 8  # layer captures kept (core.layer_maps.LayerCapture, at most 16 MiB each)
_CAPTURE_ORDER = {None: 0, 'conv0': 0, 'conv1': 1, 'torgb': 2}  # a block's layers in run order


@torch.no_grad()
def make_renderer(G, **kwargs):
    """The Renderer for G: the StyleGAN2 one, or core.render_stylegan3's for a StyleGAN3 network."""
    from core.networks_stylegan3 import is_stylegan3
    if is_stylegan3(G):
        from core.render_stylegan3 import StyleGAN3Renderer
        return StyleGAN3Renderer(G, **kwargs)
    return Renderer(G, **kwargs)


def render_ws(G, ws, noise_mode='const', noise_maps=None, precision='auto', style_offsets=None):
    """ws [N, num_ws, w_dim] -> numpy uint8 [N, H, W, C]. noise_maps: a NoiseMaps that fits G
    (load_noise_maps(path, G) checks it, once for all the images drawn with it), drawn instead of
    those layers' noise (not with noise_mode 'none'). precision: core.precision's setting, for a
    final image ('auto': fp32 on CPU, the official fp16 blocks on CUDA). style_offsets: StyleSpace
    edits as G.synthesis takes them ({layer: tensor [C] or [N, C]}: core.stylespace.style_offset_tensors)."""
    inputs = None if noise_maps is None else noise_tensors(noise_maps)
    arithmetic = resolve_precision(precision, device_of(G), 'final')
    extra = dict(style_offsets=style_offsets) if style_offsets else {}
    return to_uint8(G.synthesis(ws, noise_mode=noise_mode, noise_inputs=inputs, precision=arithmetic, **extra))


def render_seeds(G, seeds, class_idx=None, psi=1.0, cutoff=None, noise_mode='const', precision='auto'):
    """Seeds -> numpy uint8 [len(seeds), H, W, C], as the official generate.py draws them
    (class_idx: one class for every seed, required by a conditional network)."""
    return render_ws(G, ws_from_seeds(G, seeds, class_idx, psi, cutoff), noise_mode, precision=precision)


# --- synthesis, block by block --------------------------------------------------------------------

def _run_block(block, x, img, ws, start, count, noise, force_fp32, precision=None):
    return block(x, img, ws.narrow(1, start, count), force_fp32=force_fp32, precision=precision,
                 **block_noise_kwargs(noise, block))


def _preview_stop(G, resolution):
    """Index of the last block to run for a preview of `resolution`, or None when the network
    cannot stop early (only the 'skip' architecture has an image at every block)."""
    blocks = G.synthesis.blocks()
    if any(block.architecture != 'skip' for block in blocks):
        return None
    stop = 0
    for idx, block in enumerate(blocks):
        if block.resolution <= resolution:
            stop = idx
    return stop


@torch.no_grad()
def synthesize(G, ws, noise=NoiseSpec(), stop=None, force_fp32=False, precision=None):
    """Uncached synthesis with per-request noise: ws [N, num_ws, w_dim] -> img [N, C, H, W] float.
    stop: index of the last block to run (None: all; the image of an earlier block is smaller).
    precision: the network's argument (None | 'fp32' | 'fp16' | 'bf16'; resolve_precision makes it).
    With noise 'const' or 'none' this equals G.synthesis(ws, noise_mode, noise_scales) exactly."""
    noise = noise.resolved()
    ws = ws.to(torch.float32)
    blocks = G.synthesis.blocks()
    stop = len(blocks) - 1 if stop is None else stop
    x = img = None
    for block, (start, count) in list(zip(blocks, G.synthesis.block_ws_ranges()))[:stop + 1]:
        x, img = _run_block(block, x, img, ws, start, count, noise, force_fp32, precision)
    return img


class _LRU:
    """Least-recently-used map bounded by a size measure (bytes or entries)."""

    def __init__(self, limit, size_of=lambda value: 1):
        self.limit = limit
        self.size_of = size_of
        self.total = 0
        self._items = OrderedDict()

    def get(self, key):
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def peek(self, key):
        """The value, without making it recent."""
        return self._items.get(key)

    def touch(self, keys):
        """Make `keys` recent in the order given (the last one the most recent); absent keys are skipped."""
        for key in keys:
            if key in self._items:
                self._items.move_to_end(key)

    def put(self, key, value, keep=()):
        """Store value, evicting the least recently used entries but none of `keep`: when the room
        could only come from those, value is not stored. Returns whether it was stored."""
        size = self.size_of(value)
        kept = sum(self.size_of(self._items[k]) for k in keep if k in self._items and k != key)
        if size + kept > self.limit:
            return False  # an entry already under `key` stays as it was
        if key in self._items:
            self.total -= self.size_of(self._items.pop(key))
        victims = (k for k in list(self._items) if k not in keep)  # oldest first
        while self.total + size > self.limit:
            self.total -= self.size_of(self._items.pop(next(victims)))
        self._items[key] = value
        self.total += size
        return True

    def clear(self):
        self._items.clear()
        self.total = 0

    def __len__(self):
        return len(self._items)


def _tensor_bytes(tensor):
    # The storage, not the view: a kept view keeps its whole storage alive.
    return tensor.untyped_storage().nbytes()


def _digest(*parts):
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.digest()


def _keys_of(keys, stop, deepest_first=False):
    """The cache keys of blocks 0..stop, shallowest first (or deepest first)."""
    out = [key for k in keys[:stop + 1] for key in (k.x0, k.x, k.img) if key is not None]
    return out[::-1] if deepest_first else out


def _passes(block, layer, runs):
    """Does synthesis resumed at (block index, layer: None from its input, 'conv1', 'torgb') skip
    the layer `runs` = (block index, 'conv0' | 'conv1' | 'torgb')?"""
    return block > runs[0] or (block == runs[0] and _CAPTURE_ORDER[layer] > _CAPTURE_ORDER[runs[1]])


@dataclass(frozen=True)
class _BlockKeys:
    """One request's cache keys for the tensors of one synthesis block (None: not kept).

    x0: conv0's output ('orig' and 'skip' blocks with a conv0; a 'resnet' block's conv0 output is
    not enough to resume: its skip branch reads the block's input); x: the block's x output (None for
    the network's last block: nothing reads it); img_in / img: the image before / after the block
    (None: no image yet; equal where the block has no ToRGB); layers: (name, key) of the output of
    each of its layers ('conv0', 'conv1', 'torgb'), what a layer capture is cached under."""
    x0: bytes
    x: bytes
    img_in: bytes
    img: bytes
    layers: tuple = ()


@dataclass(frozen=True)
class _Synthesis:
    """What `Renderer._synthesize` did: the image, the blocks run now (`computed`, including one
    resumed after its cached conv0 or conv1), the blocks taken whole from the cache (`reused`), the
    layers of the first computed block taken from the cache (`reused_layers`), and whether it
    stopped early (`preview`)."""
    img: torch.Tensor
    computed: tuple
    reused: tuple
    reused_layers: tuple
    preview: bool


class Renderer:
    """core.request.RenderRequest -> RenderResult, with two caches:

    - mapping: the ws of each (latent, class, psi, cutoff), LRU by count;
    - blocks: the synthesis state at layer boundaries, so an edit recomputes only from the first layer
      whose ws row (or noise) it changes. Kept per block: conv0's output ('orig' and 'skip' blocks;
      a 'resnet' block is kept whole), the block's x output (not for the last block: nothing reads
      it) and its image. Keys are digests chained along the layers: an x's key from the previous x's
      key, the layer's ws row and its noise settings; an image's key from the previous image's key,
      the x fed to ToRGB and ToRGB's row. An edit of the fine ws rows therefore finds the coarse and
      middle blocks cached; one whose first row is a block's conv1 row resumes from that block's
      conv0 output; one whose first row is a ToRGB row reruns only that ToRGB (in the last block:
      conv1 and ToRGB). A layer's noise settings include the digest of its explicit noise map, so
      renders with and without maps (or with other maps) share no entry after the first layer whose
      noise differs. The output is the tensor a full render gives, bit for bit (same layers, same
      inputs; see SynthesisBlock.forward_from). LRU bounded by `cache_mb` of tensor memory on the
      render device (one 1024 image takes about 390 MiB in float32, 250 MiB of it conv0 outputs).
      After each render its entries are the most recent, the shallowest last, so under memory
      pressure an image loses its deepest entries first and keeps the prefix every edit of it
      reuses; a render never evicts its own entries to make room for its deeper ones. StyleSpace
      edits (request.style_offsets) enter the key of their layer: an offset on a layer's s
      recomputes from that layer on, as an edit of its ws row does.
    - captures: the output of the layer a request's `capture` names (the layer viewer), caught by a
      forward hook while the render computes it (core.layer_capture.Probe) and kept, as a
      LayerCapture, under that layer's key; a render whose captured layer came from the cache
      and whose capture is not kept reruns from that layer's block (not for previews).

    Preview: the request's `preview` stops synthesis at the last block of at most
    `preview_resolution` and returns that block's image (the skip architecture sums every block's
    ToRGB output, so this is the final picture without the finer blocks' detail, at a fraction of
    the cost: the skipped blocks are the largest ones; on a 1024 model a 128 px preview skips
    three of them). When every
    block up to the preview is already cached the edit lies in finer layers the preview could not
    show, so the full image is rendered instead. Networks without the skip architecture always
    render in full. The preview's blocks land in the cache, so the full render after the drag
    computes only the remaining blocks.

    G is only read, never changed (noise settings go in as call arguments). A Renderer is meant for
    one worker thread; a lock makes concurrent calls on the same Renderer safe (they take turns).
    """

    def __init__(self, G, device=None, cache_mb=768, mapping_cache_size=256, force_fp32=False):
        self.G = G
        g_device = device_of(G)
        self.device = torch.device(device) if device is not None else g_device
        if self.device != g_device and not (self.device.type == g_device.type and self.device.index is None):
            raise ValueError(f'Renderer device {self.device} differs from the network device {g_device}')
        self.device = g_device
        self.force_fp32 = force_fp32
        self._setup()
        self._mapping_cache = _LRU(mapping_cache_size)
        self._block_cache = _LRU(int(cache_mb * 2 ** 20), _tensor_bytes)
        self._lock = threading.RLock()
        self._fitting_maps = set()  # digests of the NoiseMaps already checked against G
        self._capture_cache = _LRU(CAPTURE_CACHE_SIZE)
        self._style_channels = None  # {layer: channels} of G's modulated layers, when first needed
        self.hits = self.misses = 0

    def _setup(self):
        """What the synthesis network is made of (a StyleGAN3 renderer has layers, not blocks)."""
        self._blocks = self.G.synthesis.blocks()
        self._ranges = self.G.synthesis.block_ws_ranges()

    # -- latents --

    def _map(self, latent, request, base=False):
        """ws [1, num_ws, w_dim] of a latent: seeds and z through G.mapping with the request's class,
        psi and cutoff; an explicit w as it is, or, the base latent's, truncated toward w_avg like
        a mapped one (a mixing source's w, such as a favourite's, already is what it shows)."""
        G = self.G
        if latent.w is not None:
            ws = as_ws(latent.w.array, G.num_ws, G.w_dim, what='the w').to(self.device)
            return truncate(ws, G.mapping.w_avg, request.psi, request.cutoff) if base else ws
        class_idx = request.class_idx if G.c_dim > 0 else None
        key = (latent, class_idx, request.psi, request.cutoff)
        ws = self._mapping_cache.get(key)
        if ws is None:
            if latent.seed is not None and latent.seed_frac:
                ws = ws_from_z(G, seed_walk_z(latent.seed, latent.seed_frac, G.z_dim), class_idx, request.psi,
                               request.cutoff)
            elif latent.seed is not None:
                ws = ws_from_seeds(G, [latent.seed], class_idx, request.psi, request.cutoff)
            else:
                z = np.array(latent.z.array, dtype=np.float64).reshape(1, -1)
                if z.shape[1] != G.z_dim:
                    raise StylescopeError(f'z has {z.shape[1]} values: this network wants z of [{G.z_dim}]')
                ws = ws_from_z(G, z, class_idx, request.psi, request.cutoff)
            self._mapping_cache.put(key, ws)
        return ws

    def _check(self, request):
        num_ws = self.G.num_ws
        if request.cutoff is not None and request.cutoff < 0:
            raise StylescopeError(f'truncation cutoff {request.cutoff} is negative: use a ws index from 0 up')
        for mix in request.mixing:
            if mix.rows and (mix.rows[0] < 0 or mix.rows[-1] >= num_ws):
                raise StylescopeError(f'style mixing rows {list(mix.rows)} are out of range: '
                                      f'this network has ws rows 0 to {num_ws - 1}')
        for offset in request.offsets:
            if offset.vector.shape not in ((self.G.w_dim,), (num_ws, self.G.w_dim)):
                raise StylescopeError(f'a direction has shape {list(offset.vector.shape)}: this network wants '
                                      f'[{self.G.w_dim}] (or [{num_ws}, {self.G.w_dim}] per row); use directions '
                                      'made for it')
            if not 0 <= offset.start <= offset.end <= num_ws:
                raise StylescopeError(f'direction layers [{offset.start}, {offset.end}) are out of range: '
                                      f'this network has ws rows 0 to {num_ws - 1}')
        if request.motion:
            raise StylescopeError('moving the picture (pan, rotate) needs a StyleGAN3 network, whose input can be '
                                  'transformed: this one is a StyleGAN2 network')
        maps = request.noise.maps
        if maps is not None and maps.digest not in self._fitting_maps:
            check_maps(maps, self.G)
            self._fitting_maps.add(maps.digest)

    @torch.no_grad()
    def ws_for_request(self, request):
        """The exact ws [1, num_ws, w_dim] (float32, on the device) the request's image is drawn from."""
        with self._lock:
            self._check(request)
            ws = self._map(request.latent, request, base=True)
            if request.mixing:
                ws = mix_ws(ws, [(self._map(mix.source, request), mix.rows) for mix in request.mixing])
            if request.offsets:
                ws = add_offsets(ws, request.offsets)
            return ws.clone()

    def ws_array(self, request):
        """The request's ws as a float32 numpy array [num_ws, w_dim] (for callers without torch)."""
        return self.ws_for_request(request)[0].cpu().numpy()

    # -- synthesis --

    def precision_for(self, request):
        """The arithmetic of the request's render: its precision setting for this device, for a
        draft or preview (shown while a control moves) or a final frame; force_fp32 wins."""
        if self.force_fp32:
            return 'fp32'
        purpose = 'preview' if request.preview or request.draft else 'final'
        return resolve_precision(request.precision, self.device, purpose)

    def _keys(self, ws, noise, precision, style=None):
        """_BlockKeys of every block for these ws and noise settings (see the class docstring).
        The chains start from the precision: tensors of one arithmetic never stand in for another's.
        style: {layer: (offset tensor, its bytes)} of the request's StyleSpace edits."""
        rows = ws.detach().to('cpu', torch.float32).numpy()
        style = style or {}
        last = len(self._blocks) - 1
        keys, x_key, img_key = [], _digest(b'stylescope-x', precision.encode()), None
        for idx, (block, (start, count)) in enumerate(zip(self._blocks, self._ranges)):
            img_in, x0, outputs = img_key, None, []
            layers = block.conv_layers() + ['torgb'] * block.num_torgb  # in ws row order
            for row, name in enumerate(layers, start):
                data = rows[:, row].tobytes()
                edit = (style[f'b{block.resolution}.{name}'][1],) if f'b{block.resolution}.{name}' in style else ()
                if name == 'torgb':
                    img_key = _digest(img_key or b'stylescope-img', x_key, data, *edit)  # x_key carries the precision
                    outputs.append((name, img_key))
                else:
                    x_key = _digest(x_key, data, repr(layer_noise_key(noise, block, name)).encode(), *edit)
                    outputs.append((name, x_key))
                    if name == 'conv0' and block.architecture != 'resnet':
                        x0 = x_key
            keys.append(_BlockKeys(x0, x_key if idx < last else None, img_in, img_key, tuple(outputs)))
        return keys

    def _resume_points(self, keys, stop):
        """Where synthesis up to block `stop` can resume, deepest first: (block index, layer to
        resume it at (None: from its input), key of x, key of img). After block `stop` only its
        image is needed."""
        for idx in range(stop, -1, -1):
            k = keys[idx]
            yield idx + 1, None, (k.x if idx < stop else None), k.img
            if self._blocks[idx].num_torgb and k.x is not None:
                yield idx, 'torgb', k.x, k.img_in
            if k.x0 is not None:
                yield idx, 'conv1', k.x0, k.img_in

    def _resume(self, keys, stop, runs=None):
        """The deepest resume point whose tensors are all in the cache: (block index, layer, x, img).
        Each point is checked on its own, so one whose prefix was evicted still serves. runs: a
        (block index, layer) that must run after the point (a capture that is not kept)."""
        for idx, layer, x_key, img_key in self._resume_points(keys, stop):
            if x_key is None and img_key is None:
                continue
            if runs is not None and _passes(idx, layer, runs):
                continue
            x = self._block_cache.peek(x_key) if x_key is not None else None
            img = self._block_cache.peek(img_key) if img_key is not None else None
            if (x_key is None or x is not None) and (img_key is None or img is not None):
                return idx, layer, x, img
        return 0, None, None, None

    def _run(self, first, layer, x, img, stop, ws, noise, keys, precision, style=None):
        """Run blocks `first`..`stop`, the first from `layer` on; keep their tensors when `keys` is
        given. Returns the image."""
        keep = set() if keys is None else set(_keys_of(keys, stop))
        style = style or {}

        def kwargs(block):  # each call gets the block's generator at its start, as each part expects
            prefix = f'b{block.resolution}.'
            offsets = {name[len(prefix):]: t for name, (t, _) in style.items() if name.startswith(prefix)}
            return dict(force_fp32=self.force_fp32, precision=precision, style_offsets=offsets,
                        **block_noise_kwargs(noise, block))

        for idx in range(first, stop + 1):
            block, (start, count) = self._blocks[idx], self._ranges[idx]
            k = None if keys is None else keys[idx]
            rows = ws.narrow(1, start, count)
            if layer is None and k is not None and k.x0 is not None:  # run in two parts: keep conv0's output
                x = block.conv0_output(x, rows, **kwargs(block))
                self._block_cache.put(k.x0, x, keep)
                layer = 'conv1'
            if layer is None:
                x, img = block(x, img, rows, **kwargs(block))
            else:
                x, img = block.forward_from(layer, x, img, rows, **kwargs(block))
            if k is not None:
                if k.x is not None and layer != 'torgb':
                    self._block_cache.put(k.x, x, keep)
                if block.num_torgb:
                    self._block_cache.put(k.img, img, keep)
            layer = None
        return img

    def _synthesize(self, ws, noise, preview_stop, preview_always=False, precision='fp32', style=None, probe=None):
        """Run the layers not in the cache; returns a _Synthesis. style: the request's StyleSpace
        edits ({layer: (tensor, bytes)}); probe: a core.layer_capture.Probe of the captured layer."""
        last = len(self._blocks) - 1
        cacheable = noise.cacheable
        noise = noise.resolved()
        keys = self._keys(ws, noise, precision, style) if cacheable else None
        first, layer, x, img = self._resume(keys, last) if cacheable else (0, None, None, None)
        early = ()  # blocks run first so that the captured layer runs (its capture was not kept)
        if probe is not None and cacheable:
            at = self._capture_position(probe.name)
            probe.key = _digest(dict(keys[at[0]].layers)[at[1]], b'stylescope-capture', probe.name.encode())
            if (preview_stop is None and self._capture_cache.peek(probe.key) is None
                    and _passes(first, layer, at)):
                start, part, x0, img0 = self._resume(keys, at[0], runs=at)
                self._run(start, part, x0, img0, at[0], ws, noise, keys, precision, style)
                early = tuple(range(start, at[0] + 1))
                first, layer, x, img = self._resume(keys, last)
        # A preview stops early unless the whole preview is cached (then the change is finer than it).
        stop = preview_stop if preview_stop is not None and (first <= preview_stop or preview_always) else last
        if first > stop:  # preview_always with finer layers cached: resume within the preview
            first, layer, x, img = self._resume(keys, stop)
        img = self._run(first, layer, x, img, stop, ws, noise, keys, precision, style) if first <= stop else img
        if cacheable:  # this render's entries become the most recent, the shallowest last
            self._block_cache.touch(_keys_of(keys, stop, deepest_first=True))
        blocks = [block.resolution for block in self._blocks]
        reused_layers = ()
        if layer is not None:
            block = self._blocks[first]
            skipped = ['conv0'] if layer == 'conv1' else block.conv_layers()
            reused_layers = tuple(f'b{block.resolution}.{name}' for name in skipped)
        ran = sorted(set(range(first, stop + 1)) | set(early))
        result = _Synthesis(img, tuple(blocks[i] for i in ran), tuple(blocks[i] for i in range(first) if i not in ran),
                            reused_layers, stop < last)
        if cacheable:
            self.hits += len(result.reused)
            self.misses += len(result.computed)
        return result

    @torch.no_grad()
    def render(self, request):
        """Render one request; returns a RenderResult."""
        with self._lock:
            t0 = time.perf_counter()
            ws = self.ws_for_request(request)
            t1 = time.perf_counter()
            precision = self.precision_for(request)
            style = self._style_offsets(request)
            probe = Probe(self.G, request.capture) if request.capture is not None else None
            if probe is None:
                done = self._synthesize_request(ws, request, precision, style)
            else:
                with probe:
                    done = self._synthesize_request(ws, request, precision, style, probe)
            capture = self._kept_capture(probe)
            img = done.img
            if self.device.type == 'cuda':
                torch.cuda.synchronize(self.device)
            t2 = time.perf_counter()
            resolution = img.shape[-1]
            if request.output_size is not None and request.output_size != resolution:
                size = int(request.output_size)
                img = F.interpolate(img, size=(size, size), mode='bilinear', align_corners=False,
                                    antialias=size < resolution)
            image = to_uint8(img)[0]
            t3 = time.perf_counter()
        timings = dict(mapping_ms=(t1 - t0) * 1e3, synthesis_ms=(t2 - t1) * 1e3, convert_ms=(t3 - t2) * 1e3,
                       total_ms=(t3 - t0) * 1e3)
        return RenderResult(image=image, request=request, ws=ws[0].cpu().numpy(), timings=timings,
                            computed_blocks=done.computed, reused_blocks=done.reused,
                            reused_layers=done.reused_layers, resolution=resolution, preview=done.preview,
                            precision=precision, capture=capture)

    def _synthesize_request(self, ws, request, precision, style=None, probe=None):
        preview_stop = _preview_stop(self.G, request.preview_resolution) if request.preview else None
        return self._synthesize(ws, request.noise, preview_stop, request.preview_always, precision, style, probe)

    # -- StyleSpace edits and layer captures --

    def _style_offsets(self, request):
        """{layer: (offset tensor [C] on the device, its bytes for the cache keys)} of the request's
        StyleSpace edits (one sentence for a layer or channel G does not have)."""
        if not request.style_offsets:
            return {}
        if self._style_channels is None:
            self._style_channels = channel_counts(self.G)
        vectors = offset_vectors(request.style_offsets, self._style_channels)
        return {layer: (torch.from_numpy(v).to(self.device), v.tobytes()) for layer, v in vectors.items()}

    def _capture_position(self, name):
        """(block index, layer) of a StyleGAN2 layer name 'b16.conv1'."""
        block, part = name.split('.')
        return next(i for i, b in enumerate(self._blocks) if f'b{b.resolution}' == block), part

    def _kept_capture(self, probe):
        """The probe's capture (kept for the renders after this one), or the one kept before under
        its key, or None (a preview that stopped before the layer)."""
        if probe is None:
            return None
        if probe.capture is not None:
            if probe.key is not None:
                self._capture_cache.put(probe.key, probe.capture)
            return probe.capture
        return self._capture_cache.get(probe.key) if probe.key is not None else None

    def cache_info(self):
        """Entries and bytes held, and block hits / misses so far."""
        with self._lock:
            return dict(mapping_entries=len(self._mapping_cache), block_entries=len(self._block_cache),
                        block_bytes=self._block_cache.total, block_limit=self._block_cache.limit,
                        hits=self.hits, misses=self.misses)
