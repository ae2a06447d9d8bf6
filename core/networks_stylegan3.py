"""StyleGAN3 generator (configs stylegan3-t and stylegan3-r) in pure PyTorch.

Module tree, constructor arguments, parameter and buffer names are those of the official
`training/networks_stylegan3.py`, so an official state dict loads with strict=True and a
network pickle's `init_kwargs` rebuild the same module. The code is our own, written from the
facts in shared/reference/stylegan3.md (section numbers below refer to it).

    z --mapping--> ws [N, num_ws = num_layers + 2, w_dim]
    ws[:, 0]   -> `input`: Fourier features, rotated / translated by a learned affine of w and
                  by the user-settable `input.transform` (the inverse of the wanted image motion)
    ws[:, i+1] -> layer `L{i}_{size}_{channels}`, i = 0 .. num_layers (the last one is ToRGB),
                  each a modulated convolution followed by the filtered leaky ReLU
    image = output_scale * (last layer's output)

There is no noise anywhere; `noise_mode` is accepted for API compatibility with the StyleGAN2
generator and ignored. Every layer computes in float32, except that layers whose `use_fp16` is
set compute in float16 on CUDA (as the official code does); CPU is always float32. (A float64
network given float64 inputs computes in float64: tests use that as a precise yardstick.)

For the renderer, `SynthesisNetwork` also runs in parts (`input_features`, `run_layers`), which
give the full forward pass bit for bit, and describes itself per layer (`layer_info`,
`layer_groups`).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from core.networks import FullyConnectedLayer
from core.noise_spec import NOISE_MODES
from core.ops import assert_shape, can_modify_in_place


# ---------------------------------------------------------------------------------------------
# Filter design (section 7), NumPy + torch only: no SciPy needed.

def kaiser_beta(numtaps, width, fs):
    """The Kaiser window's beta for a transition band `width` wide at sampling rate fs
    (Kaiser's empirical formulas, as scipy.signal.kaiser_beta(kaiser_atten(...)) compute)."""
    atten = 2.285 * (numtaps - 1) * np.pi * (width / (fs / 2)) + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def design_lowpass_filter(numtaps, cutoff, width, fs, radial=False):
    """Kaiser-windowed low-pass filter with unit DC gain as a float32 tensor: 1-D `[numtaps]`
    (separable, applied along x then y), or 2-D `[numtaps, numtaps]` radially symmetric (jinc)
    when `radial`. None for one tap: the identity, which the layer then skips."""
    assert numtaps >= 1
    if numtaps == 1:
        return None
    window = np.kaiser(numtaps, kaiser_beta(numtaps, width, fs))
    t = np.arange(numtaps) - (numtaps - 1) / 2
    if not radial:
        c = 2 * cutoff / fs
        h = c * np.sinc(c * t) * window
    else:
        r = np.hypot(*np.meshgrid(t / fs, t / fs))  # never 0: numtaps is even for every SG3 filter
        jinc = torch.special.bessel_j1(torch.from_numpy(2 * np.pi * cutoff * r)).numpy() / (np.pi * r)
        h = jinc * np.outer(window, window)
    return torch.as_tensor(h / h.sum(), dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Filtered leaky ReLU (section 6), without materialising the zero-inserted or the discarded
# samples the definition speaks of: upsampling runs as a stride-`up` transposed convolution,
# downsampling as a stride-`down` convolution, a separable filter as one pass per axis (on CPU
# the separable passes on channels_last maps cost a tenth of the definition's route).

def _filter_kernel(f, C, axis):
    """Depthwise conv weight [C, 1, taps, 1] (axis 2 = y) or [C, 1, 1, taps] (axis 3 = x)."""
    shape = [C, 1, f.numel(), 1] if axis == 2 else [C, 1, 1, f.numel()]
    return f.reshape(shape[1:]).expand(shape)


def _axis_pair(axis, along, other=0):
    return (along, other) if axis == 2 else (other, along)


def _window(x, axis, start, length):
    """Samples [start, start + length) of x along `axis`, zeros where that leaves x."""
    lo, hi = -start, start + length - x.shape[axis]  # F.pad crops where these are negative
    return F.pad(x, [0, 0, lo, hi] if axis == 2 else [lo, hi])


def upsample_axis(x, f, up, pad_lo, pad_hi, axis):
    """One axis of upfirdn2d with a 1-D filter: `up - 1` zeros after every sample, padding
    (negative = crop), true convolution with f (gain included by the caller), valid part.

    The transposed convolution of x with f is the full convolution of the zero-inserted signal;
    the padded valid convolution is its samples [start, end) with start = taps-1-pad_lo, zeros
    beyond it. The transposed convolution's own `padding` (dropped from both ends) and
    `output_padding` (kept back at the end) cut that out without a copy for the paddings SG3
    layers use, which drop as much from both ends."""
    taps, n_in = f.numel(), x.shape[axis]
    n_full = (n_in - 1) * up + taps
    n_out = n_in * up + pad_lo + pad_hi - (taps - 1)
    start = taps - 1 - pad_lo
    tail = n_full - (start + n_out)  # full-convolution samples after the window; < 0: zeros needed
    if start >= 0 and 0 <= start - tail < up:
        crop, out_pad = start, start - tail
    else:
        crop, out_pad = max(0, min(start, tail)), 0
    y = F.conv_transpose2d(x, _filter_kernel(f, x.shape[1], axis), stride=_axis_pair(axis, up, 1),
                           padding=_axis_pair(axis, crop), output_padding=_axis_pair(axis, out_pad), groups=x.shape[1])
    if start != crop or y.shape[axis] != n_out:
        y = _window(y, axis, start - crop, n_out)
    return y


def downsample_axis(x, f, down, axis):
    """One axis of upfirdn2d with a 1-D filter and no padding: valid true convolution with f,
    then every `down`-th sample."""
    return F.conv2d(x, _filter_kernel(f.flip(0), x.shape[1], axis), stride=_axis_pair(axis, down, 1),
                    groups=x.shape[1])


def _zero_insert_pad(x, up, padding):
    """`up - 1` zeros after every sample, then padding (x0, x1, y0, y1), negative = crop."""
    N, C, H, W = x.shape
    if up > 1:
        z = torch.empty([N, C, H * up, W * up], dtype=x.dtype, device=x.device, memory_format=_memory_format(x)).zero_()
        z[:, :, ::up, ::up] = x
        x = z
    if any(padding):
        x = F.pad(x, list(padding))
    return x


def _upfirdn_2d_filter(x, f, up, down, padding):
    """upfirdn2d with a non-separable 2-D filter (gain included by the caller), by the
    definition; with up = 1 and no padding (the radial down filters of stylegan3-r) it is one
    stride-`down` depthwise convolution."""
    x = _zero_insert_pad(x, up, padding)
    return F.conv2d(x, f.flip([0, 1])[None, None].expand(x.shape[1], 1, *f.shape), stride=down, groups=x.shape[1])


def _memory_format(x):
    return torch.channels_last if x.ndim == 4 and _is_channels_last(x) else torch.contiguous_format


def _is_channels_last(x):
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def filtered_lrelu(x, fu, fd, b, up=1, down=1, padding=(0, 0, 0, 0), gain=math.sqrt(2), slope=0.2, clamp=None,
                   overwrite_input=False):
    """Bias, upsample (zero insertion, padding, FIR fu * up^2), leaky ReLU, * gain, clamp, FIR fd,
    downsample: section 6. fu / fd are 1-D (separable) or 2-D filters, or None (identity);
    padding = (x0, x1, y0, y1) on the upsampled grid, negative = crop; gain > 0, slope >= 0.
    overwrite_input: x is scratch (a fresh conv output) that may be overwritten when autograd
    does not need it; intermediate results are always worked on in place where autograd allows."""
    assert_shape(x, [None, b.shape[0] if b is not None else None, None, None], 'filtered_lrelu input')
    assert gain > 0 and slope >= 0
    inplace = overwrite_input and can_modify_in_place(x)
    x0, x1, y0, y1 = padding
    if b is not None:  # before upsampling: the bias goes through the filter (and its zero padding) too
        b = b.to(x.dtype).reshape(1, -1, 1, 1)
        x = x.add_(b) if inplace else x + b
        inplace = can_modify_in_place(x)
    if fu is not None:
        # leaky ReLU is positively homogeneous, so the gain can ride on the up filter: one pass less.
        # True convolution with a filter, and the transposed conv's flip: symmetric filters either
        # way, but the definition's orientation is kept for any other.
        fu = fu.to(x.dtype) * (up * up * gain) ** (fu.ndim / 2)  # per pass: a 1-D filter runs twice
        if fu.ndim == 1:
            x = upsample_axis(x, fu, up, x0, x1, axis=3)
            x = upsample_axis(x, fu, up, y0, y1, axis=2)
        else:
            x = _upfirdn_2d_filter(x, fu, up, 1, padding)
        gain, inplace = 1, can_modify_in_place(x)
    elif up > 1 or any(padding):
        x = _zero_insert_pad(x, up, padding)
        inplace = can_modify_in_place(x)
    if slope != 1:
        x = F.leaky_relu_(x, slope) if inplace else F.leaky_relu(x, slope)
        inplace = can_modify_in_place(x)
    if gain != 1:
        x = x.mul_(gain) if inplace else x * gain
        inplace = can_modify_in_place(x)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    if fd is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    fd = fd.to(x.dtype)
    if fd.ndim == 1:
        return downsample_axis(downsample_axis(x, fd, down, axis=3), fd, down, axis=2)
    return _upfirdn_2d_filter(x, fd, 1, down, (0, 0, 0, 0))


# ---------------------------------------------------------------------------------------------
# Modulated convolution (section 5, step 4)

def modulated_conv2d(x, weight, styles, demodulate=True, padding=0, input_gain=None):
    """Per-sample weights `weight * styles` (demodulated for conv layers), times input_gain.

    With demodulation, weight and styles are first normalised by their RMS (styles over the whole
    batch, as the official code does; demodulation cancels it up to the 1e-8), which keeps
    float16 in range. One sample, or a batch off the CPU: a (grouped) convolution with each
    sample's own weights, the official route. A batch on the CPU: the activations are scaled
    instead (x * styles, the shared weight, then the demodulation coefficients per output
    channel), the same sums in another order, because the grouped convolution would copy
    channels_last maps to NCHW and lose mkldnn's fast path. (Not in float16, where the sums
    before demodulation could overflow: the CPU computes in float32.)"""
    N = x.shape[0]
    O, I, kh, kw = weight.shape
    assert_shape(x, [N, I, None, None], 'modulated_conv2d input')
    assert_shape(styles, [N, I], 'modulated_conv2d styles')
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    if N == 1 or x.device.type != 'cpu' or x.dtype == torch.float16:
        w = weight.unsqueeze(0) * styles.reshape(N, 1, I, 1, 1)  # [N, O, I, k, k]
        if demodulate:
            w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
        if input_gain is not None:
            w = w * input_gain
        w = w.to(x.dtype)
        if N == 1:  # no reshape: it would rewrite a channels_last map's batch stride, and mkldnn then copies it
            return F.conv2d(x, w[0], padding=padding)
        x = F.conv2d(x.reshape(1, N * I, *x.shape[2:]), w.reshape(N * O, I, kh, kw), padding=padding, groups=N)
        return x.reshape(N, O, *x.shape[2:])
    scale = styles if input_gain is None else styles * input_gain
    x = F.conv2d(x * scale.to(x.dtype).reshape(N, I, 1, 1), weight.to(x.dtype), padding=padding)
    if demodulate:  # sum over (i, kh, kw) of (W s)^2 without building the per-sample weights
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()
        x = x.mul_(dcoefs.to(x.dtype).reshape(N, O, 1, 1)) if can_modify_in_place(x) else x * dcoefs.reshape(N, O, 1, 1)
    return x


# ---------------------------------------------------------------------------------------------
# Mapping network (section 3)

class MappingNetwork(torch.nn.Module):
    """z (+ embedded class) -> w, broadcast to num_ws rows, truncated toward w_avg.

    The StyleGAN3 variant: `num_layers` fc layers all w_dim wide (2 by default), the class embed
    always w_dim wide, `w_avg_beta` 0.998, and w_avg updated only on `update_emas=True`."""

    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=2, lr_multiplier=0.01, w_avg_beta=0.998):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        self.embed = FullyConnectedLayer(c_dim, w_dim) if c_dim > 0 else None
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        for idx in range(num_layers):
            setattr(self, f'fc{idx}', FullyConnectedLayer(features[idx], features[idx + 1], activation='lrelu',
                                                          lr_multiplier=lr_multiplier))
        self.register_buffer('w_avg', torch.zeros([w_dim]))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False, skip_w_avg_update=False):
        """ws [N, num_ws, w_dim]; rows [0, truncation_cutoff) (all when None) become
        w_avg + psi * (w - w_avg). skip_w_avg_update is accepted for the StyleGAN2 API; w_avg
        moves only when update_emas is set (and skip_w_avg_update is not)."""
        assert_shape(z, [None, self.z_dim], 'mapping z')
        x = _normalize_2nd_moment(z.to(_compute_dtype(z, self)))
        if self.c_dim > 0:
            assert_shape(c, [z.shape[0], self.c_dim], 'mapping c')
            x = torch.cat([x, _normalize_2nd_moment(self.embed(c.to(x.dtype)))], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f'fc{idx}')(x)

        if update_emas and not skip_w_avg_update:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            x[:, :cutoff] = self.w_avg.lerp(x[:, :cutoff], truncation_psi)
        return x

    def extra_repr(self):
        return (f'z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}, '
                f'layers={self.num_layers}')


def motion_transform(angle=0.0, tx=0.0, ty=0.0):
    """The input transform [3, 3] (float64) that rotates the picture counter-clockwise by `angle`
    radians, then shifts it by (tx, ty) image widths (+x right, +y down): the inverse of that
    motion, since the transform maps output coordinates to feature coordinates (section 10)."""
    c, s = math.cos(angle), math.sin(angle)
    m = torch.tensor([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return torch.linalg.inv(m)


def _normalize_2nd_moment(x, eps=1e-8):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


# ---------------------------------------------------------------------------------------------
# Synthesis input (section 4)

class SynthesisInput(torch.nn.Module):
    """Fourier features [N, channels, size, size] of fixed frequencies and phases, rotated and
    translated per sample by an affine of w, and by `transform`, then mixed by a learned matrix.

    `transform` [3, 3] maps output coordinates (image widths, centre 0, y down) to feature
    coordinates: it is the **inverse** of the wanted image motion; write it in place (it is a
    buffer) and it stays for later calls. `set_motion` writes it from a forward motion."""

    def __init__(self, w_dim, channels, size, sampling_rate, bandwidth):
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = np.broadcast_to(np.asarray(size), [2])  # (width, height), as pickles store it
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth

        # Uniform over the disc of radius `bandwidth`: a Gaussian draw's direction, and radius
        # exp(-r^2/4), the square root of a uniform variable since r^2 ~ Exp(mean 2). Initialisation
        # only: loaded networks bring their own buffers.
        freqs = torch.randn([channels, 2])
        radii = freqs.norm(dim=1, keepdim=True)
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = torch.nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():  # starts as "no rotation, no translation": (r_c, r_s, t_x, t_y) = (1, 0, 0, 0)
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer('transform', torch.eye(3))
        self.register_buffer('freqs', freqs)
        self.register_buffer('phases', torch.rand([channels]) - 0.5)

    def set_motion(self, angle=0.0, tx=0.0, ty=0.0):
        """Move the picture: rotate it counter-clockwise by `angle` radians, then shift it by
        (tx, ty) image widths (+x right, +y down), as the official tools do (section 10)."""
        self.transform.copy_(motion_transform(angle, tx, ty).to(self.transform.dtype))

    def forward(self, w, transform=None):
        """transform: a [3, 3] matrix for this call only, in place of the `transform` buffer (the
        renderer moves the picture this way without changing the network)."""
        assert_shape(w, [None, self.w_dim], 'SynthesisInput w')
        N = w.shape[0]
        W, H = int(self.size[0]), int(self.size[1])

        # Learned motion: rotation by (r_c, r_s), translation by (t_x, t_y), normalised so the
        # rotation part is orthonormal; the user transform comes first in coordinate space.
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rc, rs, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(rc), torch.ones_like(rc)
        m_r = torch.stack([rc, -rs, zero, rs, rc, zero, zero, zero, one], dim=1).reshape(N, 3, 3)
        m_t = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1).reshape(N, 3, 3)
        user = self.transform if transform is None else transform.to(self.transform.device, self.transform.dtype)
        T = m_r @ m_t @ user.unsqueeze(0)

        # sin(2 pi (f . (A p + b) + phi)) = sin(2 pi ((A^T f) . p + (f . b + phi)))
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ T[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = self.freqs.unsqueeze(0) @ T[:, :2, :2]  # [N, C, 2]
        # A transform that scales frequencies past the band fades them out instead of aliasing.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        # Pixel centres in image widths; the image proper spans [-0.5, 0.5], the margin lies outside.
        gx = (torch.arange(W, device=w.device, dtype=w.dtype) + 0.5 - W / 2) / self.sampling_rate
        gy = (torch.arange(H, device=w.device, dtype=w.dtype) + 0.5 - H / 2) / self.sampling_rate
        x = (gx.reshape(1, 1, W, 1) * freqs[:, None, None, :, 0] + gy.reshape(1, H, 1, 1) * freqs[:, None, None, :, 1]
             + phases[:, None, None, :])  # [N, H, W, C]
        x = torch.sin(x * (2 * np.pi)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        x = x.permute(0, 3, 1, 2)  # NCHW view of NHWC memory: channels_last, which the convolutions like on CPU
        assert_shape(x, [N, self.channels, H, W], 'SynthesisInput output')
        return x

    def extra_repr(self):
        return (f'w_dim={self.w_dim}, channels={self.channels}, size={[int(s) for s in self.size]}, '
                f'sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}')


# ---------------------------------------------------------------------------------------------
# Synthesis layer (section 5)

PRECISIONS = ('fp32', 'fp16', 'bf16')

# precision 'bf16' runs the modulated convolutions in bfloat16, from this output sampling rate up
# (not ToRGB); the filtered leaky ReLU stays float32 (see SynthesisLayer.forward). The coarse layers
# stay float32 as core.networks keeps the StyleGAN2 blocks below 32x32: their rounding errors are
# the ones every later layer carries on, and they cost little (at 256 px, L0-L4 are under a tenth
# of the frame). Measured on this CPU, 256 px, batch 1, random weights: T 4.4 -> 2.8 s, R 5.9-7.1 ->
# 2.7-4.2 s; images 0.19 / 0.16 grey levels from fp32 on average, at most 1.
BF16_MIN_SAMPLING_RATE = 64


def _layer_dtype(layer, x, force_fp32=False, precision=None):
    """The dtype a layer computes in for this call: None or 'fp16' the official rule (float16 in
    the `use_fp16` layers on CUDA, float32 elsewhere, all of it on CPU); 'fp32' float32; 'bf16'
    bfloat16 for the convolutions of the conv layers from BF16_MIN_SAMPLING_RATE up, on any device
    (float32's range: nothing to overflow). force_fp32 wins. float64 stays float64 (tests)."""
    assert precision is None or precision in PRECISIONS, f'precision must be one of {PRECISIONS} or None'
    if x.dtype == torch.float64 or force_fp32 or precision == 'fp32':
        return _compute_dtype(x, layer)
    if precision == 'bf16':
        use_bf16 = not layer.is_torgb and layer.out_sampling_rate >= BF16_MIN_SAMPLING_RATE
        return torch.bfloat16 if use_bf16 else torch.float32
    return torch.float16 if layer.use_fp16 and x.device.type == 'cuda' else torch.float32

class SynthesisLayer(torch.nn.Module):
    """Modulated convolution (k x k, zero padding k-1), then the filtered leaky ReLU that moves the
    signal from `in_sampling_rate` to `out_sampling_rate` through `tmp_sampling_rate`; ToRGB
    (`is_torgb`) is a 1x1 linear layer without demodulation or filters. Filters are designed
    here for new networks; loaded networks bring them as buffers."""

    def __init__(self, w_dim, is_torgb, is_critically_sampled, use_fp16,
                 in_channels, out_channels, in_size, out_size, in_sampling_rate, out_sampling_rate,
                 in_cutoff, out_cutoff, in_half_width, out_half_width,
                 conv_kernel=3, filter_size=6, lrelu_upsampling=2, use_radial_filters=False, conv_clamp=256,
                 magnitude_ema_beta=0.999):
        super().__init__()
        self.w_dim = w_dim
        self.is_torgb = is_torgb
        self.is_critically_sampled = is_critically_sampled
        self.use_fp16 = use_fp16
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate = in_sampling_rate
        self.out_sampling_rate = out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff = in_cutoff
        self.out_cutoff = out_cutoff
        self.in_half_width = in_half_width
        self.out_half_width = out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer('magnitude_ema', torch.ones([]))

        self.up_factor = int(np.rint(self.tmp_sampling_rate / in_sampling_rate))
        assert in_sampling_rate * self.up_factor == self.tmp_sampling_rate
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer('up_filter', design_lowpass_filter(
            self.up_taps, in_cutoff, 2 * in_half_width, self.tmp_sampling_rate))

        self.down_factor = int(np.rint(self.tmp_sampling_rate / out_sampling_rate))
        assert out_sampling_rate * self.down_factor == self.tmp_sampling_rate
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer('down_filter', design_lowpass_filter(
            self.down_taps, out_cutoff, 2 * out_half_width, self.tmp_sampling_rate, radial=self.down_radial))

        # Padding that makes the output exactly out_size, split so that sample positions follow
        # the symmetric (pixel-centre) interpretation of both grids.
        total = ((self.out_size - 1) * self.down_factor + 1 - (self.in_size + self.conv_kernel - 1) * self.up_factor
                 + self.up_taps + self.down_taps - 2)
        lo = (total + self.up_factor) // 2
        hi = total - lo
        self.padding = [int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1])]

    def forward(self, x, w, noise_mode='random', force_fp32=False, update_emas=False, precision=None,
                style_offset=None):
        """precision (a call argument, as in core.networks): None or 'fp16' the official mixed
        precision, 'fp32' float32, 'bf16' bfloat16 from BF16_MIN_SAMPLING_RATE up (see _layer_dtype);
        style_offset ([in_channels] or [N, in_channels]): added to s = affine(w), before ToRGB's
        weight gain (StyleSpace edits), or None."""
        assert noise_mode in NOISE_MODES, f'noise_mode must be one of {NOISE_MODES}'
        assert_shape(x, [None, self.in_channels, int(self.in_size[1]), int(self.in_size[0])], f'{self.name} input')
        assert_shape(w, [x.shape[0], self.w_dim], f'{self.name} w')
        if update_emas:
            magnitude = x.detach().to(torch.float32).square().mean()
            self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        input_gain = self.magnitude_ema.rsqrt()

        styles = self.affine(w)
        if style_offset is not None:
            assert style_offset.shape[-1] == self.in_channels, f'{self.name} style offset {list(style_offset.shape)}'
            styles = styles + style_offset.to(styles.device, styles.dtype)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel ** 2))
        dtype = _layer_dtype(self, x, force_fp32, precision)
        x = modulated_conv2d(x.to(dtype), self.weight, styles, demodulate=not self.is_torgb,
                             padding=self.conv_kernel - 1, input_gain=input_gain)
        if dtype == torch.bfloat16:
            x = x.float()  # the depthwise filters have no fast bf16 kernels on CPU: 2.5x slower than fp32
        x = filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, up=self.up_factor, down=self.down_factor,
                           padding=self.padding, gain=1 if self.is_torgb else np.sqrt(2),
                           slope=1 if self.is_torgb else 0.2, clamp=self.conv_clamp, overwrite_input=True)
        assert_shape(x, [None, self.out_channels, int(self.out_size[1]), int(self.out_size[0])], f'{self.name} output')
        return x

    @property
    def name(self):
        """A label for messages (the module does not know the name its parent gave it)."""
        kind = 'ToRGB' if self.is_torgb else 'SynthesisLayer'
        return f'{kind} {int(self.in_size[0])}->{int(self.out_size[0])} px, {self.in_channels}->{self.out_channels} ch'

    def extra_repr(self):
        return (f'in={self.in_channels}, out={self.out_channels}, '
                f'size={int(self.in_size[0])}->{int(self.out_size[0])}, sampling_rate={self.in_sampling_rate}->{self.out_sampling_rate} (tmp {self.tmp_sampling_rate}), '
                f'cutoff={self.in_cutoff:.4g}->{self.out_cutoff:.4g}, up={self.up_factor}, down={self.down_factor}, '
                f'radial={self.down_radial}, torgb={self.is_torgb}, critical={self.is_critically_sampled}, '
                f'use_fp16={self.use_fp16}')


# ---------------------------------------------------------------------------------------------
# Synthesis network and generator

GROUP_TOPS = (('coarse', 8), ('middle', 32), ('fine', math.inf))


class SynthesisNetwork(torch.nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R]: `input`, then the layers named in
    `layer_names` (L0 .. L{num_layers}, the last being ToRGB), then `output_scale`.

    ws rows: ws[:, 0] drives `input` (its learned rotation / translation), ws[:, i + 1] drives
    layer i (the modulation of its convolution); ToRGB takes the last row. num_ws = num_layers + 2.

    Per-layer quantities follow section 2: cutoffs and stopbands grow geometrically from
    first_cutoff / first_stopband to the last layer's (reached num_critical layers before the end),
    each layer's sampling rate is the power of two that holds its stopband (at most R), its size
    that rate plus a margin on each side (the last two layers: exactly R)."""

    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512, num_layers=14,
                 num_critical=2, first_cutoff=2, first_stopband=2 ** 2.1, last_stopband_rel=2 ** 0.3,
                 margin_size=10, output_scale=0.25, num_fp16_res=4, **layer_kwargs):
        super().__init__()
        self.w_dim = w_dim
        self.num_ws = num_layers + 2
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_layers = num_layers
        self.num_critical = num_critical
        self.margin_size = margin_size
        self.output_scale = output_scale
        self.num_fp16_res = num_fp16_res

        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        sizes = sampling_rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels

        self.input = SynthesisInput(w_dim=w_dim, channels=int(channels[0]), size=int(sizes[0]),
                                    sampling_rate=sampling_rates[0], bandwidth=cutoffs[0])
        self.layer_names = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim, is_torgb=idx == num_layers, is_critically_sampled=idx >= num_layers - num_critical,
                use_fp16=bool(sampling_rates[idx] * 2 ** num_fp16_res > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]),
                in_size=int(sizes[prev]), out_size=int(sizes[idx]),
                in_sampling_rate=int(sampling_rates[prev]), out_sampling_rate=int(sampling_rates[idx]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx],
                in_half_width=half_widths[prev], out_half_width=half_widths[idx], **layer_kwargs)
            name = f'L{idx}_{int(layer.out_size[0])}_{layer.out_channels}'
            setattr(self, name, layer)
            self.layer_names.append(name)

    def layers(self):
        return [getattr(self, name) for name in self.layer_names]

    # -- running ----------------------------------------------------------------------------

    def forward(self, ws, noise_mode='const', force_fp32=False, update_emas=False, precision=None, transform=None,
                style_offsets=None, **unused):
        """The image. noise_mode and the StyleGAN2 noise / modconv arguments are accepted and
        ignored (see _check_unused): StyleGAN3 has no noise inputs. transform: see input_features."""
        x = self.input_features(ws, transform=transform, **unused)
        return self.run_layers(x, ws, 0, None, noise_mode=noise_mode, force_fp32=force_fp32,
                               update_emas=update_emas, precision=precision, style_offsets=style_offsets)

    def input_features(self, ws, transform=None, **unused):
        """`input`'s output for ws[:, 0]: the activation layer 0 starts from. ws [N, num_ws, w_dim];
        transform: a [3, 3] input transform for this call (motion_transform), None: the buffer's."""
        _check_unused(unused)
        assert_shape(ws, [None, self.num_ws, self.w_dim], 'synthesis ws')
        return self.input(ws[:, 0].to(_compute_dtype(ws, self)), transform)

    def run_layers(self, x, ws, start, stop=None, noise_mode='const', force_fp32=False, update_emas=False,
                   precision=None, style_offsets=None, **unused):
        """Layers [start, stop) of `layer_names` from x, the activation layer `start` takes (the
        output of layer start-1, or input_features(ws) for start 0); ws is the full [N, num_ws,
        w_dim] tensor (layer i reads row i + 1). stop None (or len(layer_names)) runs to the end and
        returns the image: the last layer's output times output_scale, as float32 (float64 for float64 ws). Chaining
        input_features and run_layers over consecutive ranges gives forward(), bit for bit.
        style_offsets: {layer name: offset [C] or [N, C]} added to those layers' styles (StyleSpace)."""
        _check_unused(unused)
        n = len(self.layer_names)
        stop = n if stop is None else stop
        assert 0 <= start <= stop <= n, f'run_layers: bad range [{start}, {stop}) of {n} layers'
        assert_shape(ws, [x.shape[0], self.num_ws, self.w_dim], 'synthesis ws')
        ws = ws.to(_compute_dtype(ws, self))
        for idx in range(start, stop):
            x = getattr(self, self.layer_names[idx])(x, ws[:, idx + 1], noise_mode=noise_mode, force_fp32=force_fp32,
                                                     update_emas=update_emas, precision=precision,
                                                     style_offset=(style_offsets or {}).get(self.layer_names[idx]))
        if stop == n:
            if self.output_scale != 1:
                x = x * self.output_scale
            assert_shape(x, [None, self.img_channels, self.img_resolution, self.img_resolution], 'synthesis output')
            x = x.to(ws.dtype)
        return x

    # -- describing ---------------------------------------------------------------------------

    def layer_info(self):
        """One dict per ws row, in order: {'ws': row, 'name': 'input' or a layer name,
        'sampling_rate', 'size', 'channels', 'cutoff', 'half_width' (of its output), 'up', 'down',
        'radial', 'torgb', 'critical', 'group'} (group as in layer_groups)."""
        rows = [dict(ws=0, name='input', sampling_rate=float(self.input.sampling_rate), size=int(self.input.size[0]),
                     channels=self.input.channels, cutoff=float(self.input.bandwidth), half_width=None, up=None,
                     down=None, radial=False, torgb=False, critical=False)]
        for idx, layer in enumerate(self.layers()):
            rows.append(dict(ws=idx + 1, name=self.layer_names[idx], sampling_rate=float(layer.out_sampling_rate),
                             size=int(layer.out_size[0]), channels=layer.out_channels,
                             cutoff=float(layer.out_cutoff), half_width=float(layer.out_half_width),
                             up=layer.up_factor, down=layer.down_factor, radial=layer.down_radial,
                             torgb=layer.is_torgb, critical=layer.is_critically_sampled))
        for row in rows:
            row['group'] = _group_of(row['cutoff'])
        return rows

    def layer_groups(self):
        """{'coarse': (start, end), 'middle': ..., 'fine': ...} ws row ranges, end exclusive, in the
        format of core.model_io.layer_groups.

        Rule: a ws row belongs to the StyleGAN2 resolution whose band its layer carries. A
        StyleGAN2 block of resolution r holds frequencies up to r / 2; a StyleGAN3 layer holds
        frequencies up to its cutoff f_c (the input: its bandwidth), so its equivalent resolution
        is 2 * f_c, its critical sampling rate. (Its actual sampling_rate is higher, at least 16
        everywhere and saturating at R, so grouping by it would leave coarse empty.) Then the
        StyleGAN2 thresholds: coarse = 2 f_c <= 8, middle = <= 32, fine = above. Cutoffs only grow
        along the network, so each group is one contiguous range. At 1024: coarse ws 0-2 (input,
        L0, L1), middle 3-5 (L2-L4), fine 6-15; at 256: 0-3, 4-7, 8-15; at 64: 0-4, 5-10, 11-15."""
        groups = [row['group'] for row in self.layer_info()]
        out, start = {}, 0
        for name, _ in GROUP_TOPS:
            end = start + groups.count(name)
            out[name] = (start, end)
            start = end
        return out

    def extra_repr(self):
        return (f'w_dim={self.w_dim}, num_ws={self.num_ws}, resolution={self.img_resolution}, '
                f'img_channels={self.img_channels}, num_layers={self.num_layers}, num_critical={self.num_critical}, '
                f'margin_size={self.margin_size}, num_fp16_res={self.num_fp16_res}')


def _compute_dtype(t, module):
    """float32, to which the official code casts its inputs (float64 z from numpy included); but
    a float64 input to a float64 network (module.double()) stays float64, for precise checks in tests."""
    if t.dtype == torch.float64 and next(module.parameters()).dtype == torch.float64:
        return torch.float64
    return torch.float32


def _group_of(cutoff):
    resolution = 2 * cutoff * (1 - 1e-9)  # cutoffs come out of a power: 4.000000000001 is 4
    return next(name for name, top in GROUP_TOPS if resolution <= top)


def _check_unused(unused):
    """The StyleGAN2 synthesis arguments a caller may pass to any generator: fine when they ask
    for nothing a StyleGAN3 network could do (there is no noise to scale or replace)."""
    for key, value in unused.items():
        if key in ('fused_modconv', 'noise_generator'):
            continue
        if key in ('noise_scales', 'noise_inputs'):
            if value:
                raise ValueError(f'{key}: a StyleGAN3 network has no noise inputs')
            continue
        raise TypeError(f'unexpected synthesis argument {key!r}')


class Generator(torch.nn.Module):
    """G(z, c) = synthesis(mapping(z, c)), with the official (flat) constructor arguments:
    Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={}, **synthesis_kwargs)
    where synthesis_kwargs also carry SynthesisLayer's (conv_kernel, use_radial_filters, ...).
    stylegan3-t: defaults; stylegan3-r: conv_kernel=1, use_radial_filters=True, channel_base and
    channel_max doubled."""

    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs=None, **synthesis_kwargs):
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                img_channels=img_channels, mapping_kwargs=mapping_kwargs, **synthesis_kwargs)
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False, **synthesis_kwargs):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_emas=update_emas)
        return self.synthesis(ws, update_emas=update_emas, **synthesis_kwargs)


def is_stylegan3(G):
    """Is G one of this module's generators (layers and an input transform, no noise)?"""
    return isinstance(G, Generator)
