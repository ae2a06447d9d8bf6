"""Low-level operations of StyleGAN2: FIR resampling, bias + activation, modulated convolution.

Pure PyTorch, identical on CPU and CUDA; no compiled extension. The numerical conventions
follow the official stylegan2-ada-pytorch code (see shared/reference/official-stylegan2-ada.md):
resampling filters are applied as true convolutions, `[1,3,3,1]` filters are stored as a
normalised 4x4 outer product, and activations are `act(x + b) * gain`, then clamped.

float32 and float16 follow that order exactly. bfloat16 (CPU rendering and training) takes
routes of its own where oneDNN's bf16 kernels or passes need them: the folded modulated
convolution (_modconv_folded), kept prepared weights (derived), float32 weight gradients for
strided convolutions (_StridedConv), and always the transposed route for upsampling.
"""
import math
import weakref

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)

# name -> (function, default gain)
ACTIVATIONS = {
    'linear': (lambda x: x, 1.0),
    'relu': (F.relu, SQRT2),
    'lrelu': (lambda x: F.leaky_relu(x, 0.2), SQRT2),
}


def assert_shape(tensor, ref_shape, what='tensor'):
    """Check `tensor.shape` against `ref_shape`, where None matches any size."""
    if tensor.ndim != len(ref_shape):
        raise AssertionError(f'{what}: expected {len(ref_shape)} dims {list(ref_shape)}, got shape {list(tensor.shape)}')
    for got, want in zip(tensor.shape, ref_shape):
        if want is not None and int(got) != int(want):
            raise AssertionError(f'{what}: expected shape {list(ref_shape)}, got {list(tensor.shape)}')


def setup_filter(taps=(1, 3, 3, 1)):
    """Outer product of 1-D taps, normalised to sum 1: the `resample_filter` buffer."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = torch.outer(f, f)
    assert f.ndim == 2
    return f / f.sum()


def can_modify_in_place(x):
    """True when autograd does not need x: then x may be overwritten to save memory traffic."""
    return not (torch.is_grad_enabled() and x.requires_grad)


def bias_act(x, b=None, act='linear', gain=None, clamp=None, inplace=False):
    """`act(x + b) * gain`, clamped to [-clamp, clamp]; b broadcasts over dim 1.

    inplace=True lets the caller hand over a fresh tensor (e.g. a conv output) to be
    overwritten when autograd does not need it; on CPU this saves four full passes of
    memory allocation for the largest activations.
    """
    func, def_gain = ACTIVATIONS[act]
    gain = def_gain if gain is None else float(gain)
    if inplace and can_modify_in_place(x):
        if b is not None:
            x.add_(b.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype))
        if act == 'lrelu':
            F.leaky_relu_(x, 0.2)
        elif act == 'relu':
            x.relu_()
        if gain != 1:
            x.mul_(gain)
        if clamp is not None and clamp >= 0:
            x.clamp_(-clamp, clamp)
        return x
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype)
    x = func(x)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        # bf16 (training): hardtanh is the same clamp forward, and its backward is one kernel where
        # clamp's is four (two comparisons, an and, a where): at 16x64x64x64 about 5 vs 25 ms.
        x = F.hardtanh(x, -clamp, clamp) if x.dtype == torch.bfloat16 else x.clamp(-clamp, clamp)
    return x


def _fir(x, f, pad, gain=1.0, bias=None):
    """True convolution of every channel with 2-D filter f after zero-padding (x0, x1, y0, y1);
    bias [C] is added by the convolution itself."""
    C = x.shape[1]
    f = f.to(x.dtype)
    x0, x1, y0, y1 = pad
    conv_pad = 0
    if x0 == x1 == y0 == y1 and x0 > 0:
        conv_pad = x0  # let the convolution pad: saves a copy of the whole tensor
    elif any(p < 0 for p in pad):
        x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
        x = x[:, :, max(-y0, 0): x.shape[2] - max(-y1, 0), max(-x0, 0): x.shape[3] - max(-x1, 0)]
    elif any(pad):
        x = F.pad(x, [x0, x1, y0, y1])
    # One 2-D depthwise convolution: on CPU it beats two 1-D passes (measured, mkldnn).
    k = (f * gain).flip([0, 1])[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(x, k, bias, groups=C, padding=conv_pad)


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
    """Upsample by zero insertion, pad, FIR filter (true convolution), downsample: per channel.

    This is the plain definition, used for correctness checks and the rare odd cases;
    `upsample2d` / `downsample2d` / `conv2d_resample` take faster equivalent routes.
    """
    assert_shape(x, [None, None, None, None], 'upfirdn2d input')
    N, C, H, W = x.shape
    if up > 1:
        x = x.reshape(N, C, H, 1, W, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(N, C, H * up, W * up)
    x = _fir(x, f, pad, gain=gain)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x, f, up=2):
    """2x upsampling with the anti-aliasing filter: upfirdn2d(up=2, pad=[2,1,2,1], gain=4).

    Done as a depthwise transposed convolution, which equals zero insertion followed by the
    true convolution with f but skips the multiplications with the inserted zeros.
    """
    C = x.shape[1]
    fh = f.shape[0]
    k = (f.to(x.dtype) * (up * up))[None, None].repeat(C, 1, 1, 1)
    # The definition pads the zero-inserted signal by p0 before a valid convolution; the
    # transposed convolution yields the full convolution, so crop fh - 1 - p0 from each side.
    p0 = (fh + up - 1) // 2
    crop = fh - 1 - p0
    assert crop >= 0, 'upsample2d: filter too short for this factor'
    y = F.conv_transpose2d(x, k, stride=up, groups=C, padding=crop)
    return y[:, :, :x.shape[2] * up, :x.shape[3] * up]


def downsample2d(x, f, down=2):
    """2x downsampling with the anti-aliasing filter: upfirdn2d(down=2, pad=[1,1,1,1])."""
    C = x.shape[1]
    fh = f.shape[0]
    p0, p1 = (fh - down + 1) // 2, (fh - down) // 2
    if _slow_strided_backward(x):  # filter every pixel, keep every other: same taps (see below)
        return _fir(x, f, (p0, p1, p0, p1))[:, :, ::down, ::down]
    k = f.to(x.dtype).flip([0, 1])[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(F.pad(x, [p0, p1, p0, p1]), k, stride=down, groups=C)


# oneDNN's bf16 backward of stride-2 convolutions is slow on CPU (torch 2.13, AVX512-BF16, batch
# 16, the `small` preset's shapes, forward + both gradients, ms, fp32 -> bf16): D's 3x3 stride-2
# conv 55 -> 147 (its weight gradient alone 10 -> 248 ms: a jit_bf16 kernel, where fp32 gets a
# faster one), G's transposed conv 25 -> 138, the stride-2 depthwise filter 11 -> 46. So in bf16
# training the strided convolutions take their weight gradient in float32 (_StridedConv: 55 -> 38,
# 25 -> ~20) and the stride-2 filter runs at stride 1 and drops every other pixel (-> 10).
def _slow_strided_backward(x):
    return x.dtype == torch.bfloat16 and x.device.type == 'cpu' and torch.is_grad_enabled()


def _wide(t):
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class _StridedConv(torch.autograd.Function):
    """conv2d (transposed=False) or conv_transpose2d with stride s, whose weight gradient is
    computed in float32 (see above). Its backward is built from differentiable operations, so
    R1 and path length (create_graph) differentiate through it again."""

    @staticmethod
    def forward(ctx, x, w, b, stride, groups, transposed):
        ctx.save_for_backward(x, w)
        ctx.conf = (stride, groups, transposed, b is not None)
        if transposed:
            return F.conv_transpose2d(x, w, b, stride=stride, groups=groups)
        return F.conv2d(x, w, b, stride=stride, groups=groups)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, groups, transposed, has_bias = ctx.conf
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            if transposed:  # the adjoint of a transposed convolution is the strided convolution
                gx = F.conv2d(gy, w, stride=stride, groups=groups)
            else:
                gx = torch.nn.grad.conv2d_input(x.shape, w, gy, stride=stride, groups=groups)
        if ctx.needs_input_grad[1]:
            if transposed:  # w maps gy's channels to x's in the forward convolution it transposes
                gw = torch.nn.grad.conv2d_weight(_wide(gy), w.shape, _wide(x), stride=stride, groups=groups)
            else:
                gw = torch.nn.grad.conv2d_weight(_wide(x), w.shape, _wide(gy), stride=stride, groups=groups)
            gw = gw.to(w.dtype)
        if has_bias and ctx.needs_input_grad[2]:
            gb = _wide(gy).sum(dim=[0, 2, 3]).to(gy.dtype)
        return gx, gw, gb, None, None, None


def _is_channels_last(x):
    """True when x is NHWC in memory the way mkldnn sees it (its strides, not just
    `is_contiguous(channels_last)`, which also accepts a batch of 1 whose batch stride a
    reshape has changed: mkldnn copies such a tensor to NCHW before convolving it)."""
    N, C, H, W = x.shape
    return C > 1 and x.stride() == (H * W * C, 1, W * C, C)


# Which route computes the transposed convolution of an up=2 layer, measured (torch 2.13 CPU,
# 2 threads, fp32, channels_last input, config-f channels; ms per conv2d_resample call including
# the FIR, min of 9 interleaved runs, transposed route -> phase route):
#   batch 1: input 512x512 64->32 ch (b1024) 295 -> 279;  256x256 128->64 (b512) 208 -> 156;
#            128x128 256->128 (b256) 147 -> 100;  64x64 512->256 (b128) 69 -> 75;  32x32 (b64) 45 -> 49.
#   batch 4: b512 768 -> 707;  b256 601 -> 463;  b128 329 -> 325.
# So: the phase route on CPU for channels_last maps of at least 128x128 input pixels (the 256x256
# and larger blocks). With NCHW input it loses (its strided writes into NCHW: b1024 518 -> 725),
# and on CUDA the transposed convolution is a single well-tuned kernel: both keep the transposed route.
# In bfloat16 the order reverses at every size: mkldnn's bf16 transposed convolution on channels_last
# maps is 1.4-1.6x as fast as the four phase convolutions (batch 1, config-f, transposed -> phases:
# b1024 32 -> 51 ms, b512 43 -> 58, b256 46 -> 64, b64 27 -> 47), so bf16 keeps the transposed route.
PHASE_ROUTE_MIN_PIXELS = 128 * 128


def _use_phase_route(x, up, k):
    """Whether conv2d_resample runs its transposed convolution by phases (see the numbers above)."""
    return (x.device.type == 'cpu' and x.dtype != torch.bfloat16 and k >= up and _is_channels_last(x)
            and x.shape[2] * x.shape[3] >= PHASE_ROUTE_MIN_PIXELS)


def _conv_up_transposed(x, w, up, groups):
    """Stride-`up` transposed convolution with w [O, I, k, k] (a true convolution of the
    zero-inserted x), as one `conv_transpose2d`; output size up*(H-1)+k. The official route."""
    O, I, kh, kw = w.shape
    wt = w.reshape(groups, O // groups, I, kh, kw).transpose(1, 2).reshape(groups * I, O // groups, kh, kw)
    if _slow_strided_backward(x):
        return _StridedConv.apply(x, wt, None, up, groups, True)
    return F.conv_transpose2d(x, wt, stride=up, groups=groups)


def _conv_up_phases(x, w, up, groups):
    """The same transposed convolution as `_conv_up_transposed`, as up*up plain convolutions.

    Output row up*a + p of a stride-`up` transposed convolution only meets kernel rows
    p, p+up, p+2*up, ...; so each output phase (py, px) is an ordinary correlation of x with
    the sub-kernel w[:, :, py::up, px::up] reversed (2x2, 2x1, 1x2 and 1x1 for a 3x3 kernel),
    padded by its extra tap count on both sides. Same multiplications as the transposed
    convolution, but mkldnn runs these small direct convolutions on channels_last maps
    1.5-2x as fast as its transposed one (b1024: 140 ms for the four vs 216 ms); each result is
    written into its strided view of one channels_last output (one copy, in runs of O floats).
    Folding the FIR into the phase kernels as well (one conv to 4*O channels with 3x3 phase
    kernels, then an interleave) does 4x the multiplications and measured slower: b1024
    330 ms for the conv + 70 ms for the interleave, vs 280 ms for this route plus the FIR.
    """
    N, _, H, W = x.shape
    O, I, kh, kw = w.shape
    assert kh >= up and kw >= up, 'phase route: every output phase needs at least one tap'
    out = torch.empty([N, O, (H - 1) * up + kh, (W - 1) * up + kw], dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    for py in range(up):
        for px in range(up):
            k = w[:, :, py::up, px::up].flip([2, 3])
            out[:, :, py::up, px::up] = F.conv2d(x, k, padding=(k.shape[2] - 1, k.shape[3] - 1), groups=groups)
    return out


def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True, bias=None):
    """2-D convolution with optional 2x up- or downsampling (not both) around it.

    flip_weight=True is correlation (torch's conv2d), False a true convolution. Routes, as
    in the official code: up: transposed conv (a true convolution on the zero-inserted grid)
    then the FIR filter; down: FIR filter then strided conv; 1x1 kernels resample
    before / after the conv. The transposed conv runs as one `conv_transpose2d` or, for large
    channels_last float32 maps on CPU, as one small convolution per output phase (see
    `_use_phase_route`); both give the same result up to float rounding. bias [O * groups], if
    given, is added by the route's last convolution (no extra pass over the output).
    """
    O, I, kh, kw = w.shape
    assert_shape(x, [None, I * groups, None, None], 'conv2d_resample input')
    assert up == 1 or down == 1, 'conv2d_resample: up and down at once is not supported'
    if kh == 1 and kw == 1:
        if up > 1:  # the bias after the filter: filtered, a constant map fades at the borders
            x = upsample2d(F.conv2d(x, w, groups=groups), f, up)
            return x if bias is None else x + bias.reshape(1, -1, 1, 1)
        if down > 1:
            return F.conv2d(downsample2d(x, f, down), w, bias, groups=groups)
        return F.conv2d(x, w, bias, groups=groups)
    if up > 1:
        if flip_weight:  # transposed conv is a true convolution; flip for correlation
            w = w.flip([2, 3])
        if _use_phase_route(x, up, min(kh, kw)):
            x = _conv_up_phases(x, w, up, groups)
        else:
            x = _conv_up_transposed(x, w, up, groups)
        fh = f.shape[0]
        p0 = padding + (fh + up - 1) // 2 - (kw - 1)
        p1 = padding + (fh - up) // 2 - (kw - up)
        return _fir(x, f, (p0, p1, p0, p1), gain=up * up, bias=bias)
    if not flip_weight:  # conv2d is a correlation; flip for a true convolution
        w = w.flip([2, 3])
    if down > 1:
        fh = f.shape[0]
        p0 = padding + (fh - down + 1) // 2
        p1 = padding + (fh - down) // 2
        x = _fir(x, f, (p0, p1, p0, p1))
        if _slow_strided_backward(x):
            return _StridedConv.apply(x, w, bias, down, groups, False)
        return F.conv2d(x, w, bias, stride=down, groups=groups)
    return F.conv2d(x, w, bias, padding=padding, groups=groups)


def fused_modconv_is_cheaper(x, weight, up=1):
    """CPU heuristic for one sample: building the per-sample weight touches O*I*k*k values,
    modulating the activations instead touches the input and output maps. Low resolutions
    have big weights and small maps, high resolutions the reverse."""
    O, I, kh, kw = weight.shape
    H, W = x.shape[2], x.shape[3]
    return O * I * kh * kw < I * H * W + O * H * W * up * up


def modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, resample_filter=None,
                     demodulate=True, flip_weight=True, fused_modconv=True, bias=None, gain=1.0):
    """StyleGAN2 modulated convolution: per-sample weights `weight * styles`, demodulated.

    fused: one grouped convolution with the per-sample weights; not fused: modulate the
    activations, convolve with the shared weight, scale by the demodulation coefficients.
    Both give the same result up to float rounding. The demodulation coefficients are
    computed as `styles^2 @ sum_k(weight^2)`, equal to summing the squared per-sample
    weights but without materialising them.

    bias [O] / gain: when given, returns `(conv + noise + bias) * gain` with the bias added by
    the convolution and the gain folded into its weights and the noise (see _modconv_folded);
    the caller's activation must then be positively homogeneous (lrelu, relu, linear) to take
    the gain before it. Without them the result is exactly the plain modulated convolution.
    """
    N = x.shape[0]
    O, I, kh, kw = weight.shape
    assert_shape(x, [N, I, None, None], 'modulated_conv2d input')
    assert_shape(styles, [N, I], 'modulated_conv2d styles')
    if bias is not None or gain != 1:
        return _modconv_folded(x, weight, styles, noise, up, padding, resample_filter, demodulate, flip_weight,
                               fused_modconv, bias, gain)

    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise to avoid fp16 overflow; cancels under demodulation.
        weight = weight * (1 / np.sqrt(I * kh * kw) / weight.norm(float('inf'), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float('inf'), dim=1, keepdim=True)

    dcoefs = None
    if demodulate:
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N,O]

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(N, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, padding=padding, flip_weight=flip_weight)
        inplace = can_modify_in_place(x)
        if demodulate:
            d = dcoefs.to(x.dtype).reshape(N, -1, 1, 1)
            x = x.mul_(d) if inplace else x * d
        if noise is not None:
            x = x.add_(noise.to(x.dtype)) if inplace else x + noise.to(x.dtype)
        return x

    scale = styles[:, None, :] * dcoefs[:, :, None] if demodulate else styles[:, None, :].expand(N, O, I)
    wm = weight.unsqueeze(0) * scale.reshape(N, O, I, 1, 1)  # [N,O,I,k,k] per-sample weights
    if kh == kw == 1 and up == 1:
        # 1x1 (ToRGB): a batched matrix product, no grouped convolution needed.
        H, W = x.shape[2], x.shape[3]
        wm = wm.reshape(N, O, I).to(x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            pixels = x.permute(0, 2, 3, 1).reshape(N, H * W, I)  # a view: no copy
            x = torch.bmm(pixels, wm.transpose(1, 2)).reshape(N, H, W, O).permute(0, 3, 1, 2)
        else:
            x = torch.bmm(wm, x.reshape(N, I, H * W)).reshape(N, O, H, W)
    elif N == 1:
        # No reshape for one sample: reshaping [1,C,H,W] to itself rewrites the batch stride,
        # and mkldnn copies a channels_last map with that stride to NCHW (b1024 conv0: a
        # 90-140 ms copy of [1,64,512,512], then its FIR and conv1 ran on NCHW, 2-3x slower).
        x = conv2d_resample(x, wm.reshape(O, I, kh, kw).to(x.dtype), resample_filter, up=up,
                            padding=padding, flip_weight=flip_weight)
    else:
        x = x.reshape(1, N * I, *x.shape[2:])
        x = conv2d_resample(x, wm.reshape(N * O, I, kh, kw).to(x.dtype), resample_filter, up=up,
                            padding=padding, groups=N, flip_weight=flip_weight)
        x = x.reshape(N, O, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise.to(x.dtype)) if can_modify_in_place(x) else x + noise.to(x.dtype)
    return x


_DERIVED = {}  # id(tensor) -> (weakref to it, {kind: (stamp, value)})


def derived(t, kind, make):
    """make(), a value computed from tensor t alone (a cast, a transposed copy, a reduction), kept
    until t changes: a network's weights are the same from one render to the next, and at low
    resolutions preparing them costs more than the convolutions (paper256 in bf16, batch 1: 216
    ms a frame without these, 185 with; blocks 8 and 16 twice as fast). The network itself is
    never written to; an entry is
    dropped with its tensor, and replaced once t is modified in place (its version counter) or
    given new storage. Not kept where autograd needs the result to reach t (training), nor for
    tensors without a version counter (made under inference_mode)."""
    if torch.is_grad_enabled() and t.requires_grad:
        return make()
    try:
        stamp = (t._version, t.data_ptr())
    except RuntimeError:
        return make()
    key = id(t)
    entry = _DERIVED.get(key)
    if entry is None or entry[0]() is not t:
        entry = (weakref.ref(t, lambda _ref, key=key: _DERIVED.pop(key, None)), {})
        _DERIVED[key] = entry
    hit = entry[1].get(kind)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    value = make()
    if value is not t and value._base is not t:  # keeping t itself (or a view) would keep it alive
        entry[1][kind] = (stamp, value)
    return value


def _modconv_folded(x, weight, styles, noise, up, padding, resample_filter, demodulate, flip_weight, fused_modconv,
                    bias, gain):
    """`(modulated_conv2d(x, ...) + noise + bias) * gain`, in fewer passes over maps and weights.

    Made for bfloat16 on CPU, where an elementwise pass over a bf16 map costs as much as over an
    fp32 one (each value is widened and narrowed again: at 1024x1024x32, bias add 14 ms bf16 vs
    8.5 ms fp32) while the convolutions take half the time. So the bias rides in the last
    convolution (mkldnn adds it in its kernel; not fused, it goes in as bias / d so that the
    demodulation scale after the convolution restores it), and the gain is folded into the
    per-sample weights or that scale, the bias and the noise. What needs range or accuracy stays
    float32: styles, the demodulation coefficients, the per-sample weights before their one
    rounding to x's dtype, and the noise map until it is added.
    """
    N = x.shape[0]
    O, I, kh, kw = weight.shape
    dtype = x.dtype
    if demodulate:
        # sum_k w^2 as a product with ones: the [O, I, 3, 3] reduction over its 9 inner values
        # takes 3x as long (512x512x3x3: 2.4 vs 0.8 ms, as long as the 4x4 convolution itself).
        wsq = derived(weight, 'sum_k w^2', lambda: ((weight * weight).reshape(O * I, kh * kw)
                                                     @ weight.new_ones([kh * kw, 1])).reshape(O, I))
        out_scale = (styles.square() @ wsq.t() + 1e-8).rsqrt() * gain  # [N, O]
    else:
        out_scale = styles.new_full([N, O], float(gain))
    if noise is not None:
        noise = (noise * gain).to(dtype)

    if fused_modconv:
        b = (bias * gain).to(dtype) if bias is not None else None
        wm = (weight.unsqueeze(0) * (styles[:, None, :] * out_scale[:, :, None]).reshape(N, O, I, 1, 1)).to(dtype)
        if kh == kw == 1 and up == 1:
            H, W = x.shape[2], x.shape[3]
            wm = wm.reshape(N, O, I)
            if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
                pixels = x.permute(0, 2, 3, 1).reshape(N, H * W, I)
                y = torch.bmm(pixels, wm.transpose(1, 2)) if b is None else \
                    torch.baddbmm(b.reshape(1, 1, O), pixels, wm.transpose(1, 2))
                x = y.reshape(N, H, W, O).permute(0, 3, 1, 2)
            else:
                y = torch.bmm(wm, x.reshape(N, I, H * W)) if b is None else \
                    torch.baddbmm(b.reshape(1, O, 1), wm, x.reshape(N, I, H * W))
                x = y.reshape(N, O, H, W)
        elif N == 1:  # no reshape: see modulated_conv2d
            x = conv2d_resample(x, wm.reshape(O, I, kh, kw), resample_filter, up=up, padding=padding,
                                flip_weight=flip_weight, bias=b)
        else:
            x = x.reshape(1, N * I, *x.shape[2:])
            x = conv2d_resample(x, wm.reshape(N * O, I, kh, kw), resample_filter, up=up, padding=padding,
                                groups=N, flip_weight=flip_weight, bias=None if b is None else b.repeat(N))
            x = x.reshape(N, O, *x.shape[2:])
        if noise is not None:
            x = x.add_(noise) if can_modify_in_place(x) else x + noise
        return x

    # The shared weight's bias can only be per channel, not per sample: with N > 1 it is added after.
    b_in = (bias * gain / out_scale[0]).to(dtype) if bias is not None and N == 1 else None
    x = x * styles.to(dtype).reshape(N, -1, 1, 1)
    if up > 1 and kh > 1:
        # Laid out [I, O, k, k] as the transposed convolution reads it: _conv_up_transposed's
        # transposing copy then is a view (512x512x3x3: 2.5 ms a call, more than the conv at 4x4).
        wd = derived(weight, ('transposed', dtype),
                     lambda: weight.to(dtype).transpose(0, 1).contiguous()).transpose(0, 1)
    else:
        wd = derived(weight, dtype, lambda: weight.to(dtype))
    x = conv2d_resample(x, wd, resample_filter, up=up, padding=padding, flip_weight=flip_weight, bias=b_in)
    inplace = can_modify_in_place(x)
    scale = out_scale.to(dtype).reshape(N, -1, 1, 1)
    x = x.mul_(scale) if inplace else x * scale
    if noise is not None:
        x = x.add_(noise) if inplace else x + noise
    if bias is not None and b_in is None:
        b = (bias * gain).to(dtype).reshape(1, -1, 1, 1)
        x = x.add_(b) if inplace else x + b
    return x


def normalize_2nd_moment(x, dim=1, eps=1e-8):
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
