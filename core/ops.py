"""Low-level operations of StyleGAN2: FIR resampling, bias + activation, modulated convolution.

Pure PyTorch, identical on CPU and CUDA; no compiled extension. The numerical conventions
follow the official stylegan2-ada-pytorch code (see shared/reference/official-stylegan2-ada.md):
resampling filters are applied as true convolutions, `[1,3,3,1]` filters are stored as a
normalised 4x4 outer product, and activations are `act(x + b) * gain`, then clamped.
"""
import math

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
        x = x.clamp(-clamp, clamp)
    return x


def _fir(x, f, pad, gain=1.0):
    """True convolution of every channel with 2-D filter f after zero-padding (x0, x1, y0, y1)."""
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
    return F.conv2d(x, k, groups=C, padding=conv_pad)


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
    k = f.to(x.dtype).flip([0, 1])[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(F.pad(x, [p0, p1, p0, p1]), k, stride=down, groups=C)


def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True):
    """2-D convolution with optional 2x up- or downsampling (not both) around it.

    flip_weight=True is correlation (torch's conv2d), False a true convolution. Routes, as
    in the official code: up: transposed conv (a true convolution on the zero-inserted grid)
    then the FIR filter; down: FIR filter then strided conv; 1x1 kernels resample
    before / after the conv.
    """
    O, I, kh, kw = w.shape
    assert_shape(x, [None, I * groups, None, None], 'conv2d_resample input')
    assert up == 1 or down == 1, 'conv2d_resample: up and down at once is not supported'
    if kh == 1 and kw == 1:
        if up > 1:
            return upsample2d(F.conv2d(x, w, groups=groups), f, up)
        if down > 1:
            return F.conv2d(downsample2d(x, f, down), w, groups=groups)
        return F.conv2d(x, w, groups=groups)
    if up > 1:
        if flip_weight:  # transposed conv is a true convolution; flip for correlation
            w = w.flip([2, 3])
        wt = w.reshape(groups, O // groups, I, kh, kw).transpose(1, 2).reshape(groups * I, O // groups, kh, kw)
        x = F.conv_transpose2d(x, wt, stride=up, groups=groups)
        fh = f.shape[0]
        p0 = padding + (fh + up - 1) // 2 - (kw - 1)
        p1 = padding + (fh - up) // 2 - (kw - up)
        return _fir(x, f, (p0, p1, p0, p1), gain=up * up)
    if not flip_weight:  # conv2d is a correlation; flip for a true convolution
        w = w.flip([2, 3])
    if down > 1:
        fh = f.shape[0]
        p0 = padding + (fh - down + 1) // 2
        p1 = padding + (fh - down) // 2
        return F.conv2d(_fir(x, f, (p0, p1, p0, p1)), w, stride=down, groups=groups)
    return F.conv2d(x, w, padding=padding, groups=groups)


def fused_modconv_is_cheaper(x, weight, up=1):
    """CPU heuristic for one sample: building the per-sample weight touches O*I*k*k values,
    modulating the activations instead touches the input and output maps. Low resolutions
    have big weights and small maps, high resolutions the reverse."""
    O, I, kh, kw = weight.shape
    H, W = x.shape[2], x.shape[3]
    return O * I * kh * kw < I * H * W + O * H * W * up * up


def modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, resample_filter=None,
                     demodulate=True, flip_weight=True, fused_modconv=True):
    """StyleGAN2 modulated convolution: per-sample weights `weight * styles`, demodulated.

    fused: one grouped convolution with the per-sample weights; not fused: modulate the
    activations, convolve with the shared weight, scale by the demodulation coefficients.
    Both give the same result up to float rounding. The demodulation coefficients are
    computed as `styles^2 @ sum_k(weight^2)`, equal to summing the squared per-sample
    weights but without materialising them.
    """
    N = x.shape[0]
    O, I, kh, kw = weight.shape
    assert_shape(x, [N, I, None, None], 'modulated_conv2d input')
    assert_shape(styles, [N, I], 'modulated_conv2d styles')

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
    else:
        x = x.reshape(1, N * I, *x.shape[2:])
        x = conv2d_resample(x, wm.reshape(N * O, I, kh, kw).to(x.dtype), resample_filter, up=up,
                            padding=padding, groups=N, flip_weight=flip_weight)
        x = x.reshape(N, O, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise.to(x.dtype)) if can_modify_in_place(x) else x + noise.to(x.dtype)
    return x


def normalize_2nd_moment(x, dim=1, eps=1e-8):
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
