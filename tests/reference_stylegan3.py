"""Executable spec of the StyleGAN3 generator's forward pass, for tests only.

A deliberately naive re-statement of shared/reference/stylegan3.md (section numbers below are
that sheet's), independent of core/: no torch convolution, padding, resampling or special
function is called, the samples of a batch go one by one, and every operation is its textbook
definition:

* layer quantities (section 2) recomputed from the formulas, with Python floats;
* filters (section 7) designed again: Kaiser window from the power series of I0, jinc from the
  power series of J1, sinc written out;
* filtered leaky ReLU (section 6) literally: add bias, insert up-1 zeros after every sample,
  pad / crop, true convolution one tap at a time, leaky ReLU, gain, clamp, true convolution,
  keep every down-th sample;
* modulated convolution (section 5) as per-sample weights and a correlation one tap at a time.

It reads a plain state dict (the official names) plus the constructor kwargs, and computes in
the dtype of the tensors it is given; tests pass float64. Slow on purpose. Nothing here is
copied from any other code base.
"""
import math

import torch


# ---------------------------------------------------------------------------------------
# Per-layer quantities (section 2)
# ---------------------------------------------------------------------------------------

def round_half_even(v):
    return int(round(v))  # Python's round is half-to-even, like numpy's rint


def layer_specs(img_resolution, img_channels, channel_base=32768, channel_max=512, num_layers=14, num_critical=2,
                first_cutoff=2, first_stopband=2 ** 2.1, last_stopband_rel=2 ** 0.3, margin_size=10, conv_kernel=3,
                filter_size=6, lrelu_upsampling=2, use_radial_filters=False, **ignored):
    """(input spec, [layer spec, ...]) as dicts of plain Python numbers."""
    N, K, R = num_layers, num_critical, img_resolution
    f_cN = R / 2
    f_tN = f_cN * last_stopband_rel
    fc, ft, s, fh, size, ch = [], [], [], [], [], []
    for i in range(N + 1):
        e = min(i / (N - K), 1)
        fc.append(first_cutoff * (f_cN / first_cutoff) ** e)
        ft.append(first_stopband * (f_tN / first_stopband) ** e)
        s.append(2 ** math.ceil(math.log2(min(2 * ft[i], R))))
        fh.append(max(ft[i], s[i] / 2) - fc[i])
        size.append(s[i] + 2 * margin_size)
        ch.append(round_half_even(min((channel_base / 2) / fc[i], channel_max)))
    size[N - 1] = size[N] = R
    ch[N] = img_channels

    layers = []
    for i in range(N + 1):
        p = max(i - 1, 0)
        torgb = i == N
        k = 1 if torgb else conv_kernel
        tmp = max(s[p], s[i]) * (1 if torgb else lrelu_upsampling)
        up, down = tmp // s[p], tmp // s[i]
        assert up * s[p] == tmp and down * s[i] == tmp
        up_taps = filter_size * up if up > 1 and not torgb else 1
        down_taps = filter_size * down if down > 1 and not torgb else 1
        P = (size[i] - 1) * down + 1 - (size[p] + k - 1) * up + up_taps + down_taps - 2
        lo = (P + up) // 2
        layers.append(dict(
            index=i, name=f'L{i}_{size[i]}_{ch[i]}', torgb=torgb, critical=i >= N - K,
            in_channels=ch[p], out_channels=ch[i], in_size=size[p], out_size=size[i],
            in_rate=s[p], out_rate=s[i], tmp_rate=tmp, in_cutoff=fc[p], out_cutoff=fc[i],
            in_half_width=fh[p], out_half_width=fh[i], kernel=k, up=up, down=down,
            up_taps=up_taps, down_taps=down_taps, radial=use_radial_filters and not i >= N - K,
            padding=(lo, P - lo, lo, P - lo)))
    inp = dict(channels=ch[0], size=size[0], sampling_rate=s[0], bandwidth=fc[0])
    return inp, layers


# ---------------------------------------------------------------------------------------
# Filter design (section 7)
# ---------------------------------------------------------------------------------------

def bessel_i0(x):
    """Modified Bessel function of the first kind, order 0: sum_k ((x/2)^k / k!)^2."""
    total, term, k = 1.0, 1.0, 0
    while term > 1e-17 * total:
        k += 1
        term *= (x / 2) ** 2 / (k * k)
        total += term
    return total


def bessel_j1(x):
    """Bessel function of the first kind, order 1: sum_k (-1)^k (x/2)^(2k+1) / (k! (k+1)!).
    Every argument the SG3 filters need is below ~15, where the series is still exact to ~1e-12."""
    total, term, k = 0.0, x / 2, 0
    while abs(term) > 1e-18 or k < 3:
        total += term
        k += 1
        term *= -(x / 2) ** 2 / (k * (k + 1))
    return total


def sinc(u):
    return 1.0 if u == 0 else math.sin(math.pi * u) / (math.pi * u)


def kaiser_window(n, beta):
    return [bessel_i0(beta * math.sqrt(max(0.0, 1 - (2 * m / (n - 1) - 1) ** 2))) / bessel_i0(beta) for m in range(n)]


def kaiser_beta_for(n, width, fs):
    A = 2.285 * (n - 1) * math.pi * (width / (fs / 2)) + 7.95
    if A > 50:
        return 0.1102 * (A - 8.7)
    if A > 21:
        return 0.5842 * (A - 21) ** 0.4 + 0.07886 * (A - 21)
    return 0.0


def lowpass(n, cutoff, width, fs, radial=False):
    """The filter as a float64 tensor ([n], or [n, n] when radial), or None for n = 1."""
    if n == 1:
        return None
    window = kaiser_window(n, kaiser_beta_for(n, width, fs))
    t = [m - (n - 1) / 2 for m in range(n)]
    if not radial:
        c = 2 * cutoff / fs
        h = [c * sinc(c * t[m]) * window[m] for m in range(n)]
        total = sum(h)
        return torch.tensor([v / total for v in h], dtype=torch.float64)
    h = [[0.0] * n for _ in range(n)]
    for a in range(n):
        for b in range(n):
            r = math.hypot(t[a] / fs, t[b] / fs)
            h[a][b] = bessel_j1(2 * math.pi * cutoff * r) / (math.pi * r) * window[a] * window[b]
    total = sum(map(sum, h))
    return torch.tensor([[v / total for v in row] for row in h], dtype=torch.float64)


def design_filters(spec):
    """(up_filter, down_filter) of one layer spec, designed from the formulas."""
    up = lowpass(spec['up_taps'], spec['in_cutoff'], 2 * spec['in_half_width'], spec['tmp_rate'])
    down = lowpass(spec['down_taps'], spec['out_cutoff'], 2 * spec['out_half_width'], spec['tmp_rate'],
                   radial=spec['radial'])
    return up, down


# ---------------------------------------------------------------------------------------
# Elementary operations on one sample: feature maps [C, H, W], vectors [F]
# ---------------------------------------------------------------------------------------

def sub(sd, prefix):
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def fully_connected(p, x, lrelu=False, lr_multiplier=1.0):
    out_features, in_features = p['weight'].shape
    y = (p['weight'] * (lr_multiplier / math.sqrt(in_features))) @ x + p['bias'] * lr_multiplier
    if lrelu:
        y = torch.where(y >= 0, y, 0.2 * y) * math.sqrt(2)
    return y


def normalize(v):
    return v / torch.sqrt((v * v).mean() + 1e-8)


def pad_or_crop(x, x0, x1, y0, y1):
    """Output pixel (i, j) = input pixel (i - y0, j - x0), zero outside the input."""
    C, H, W = x.shape
    out = x.new_zeros([C, H + y0 + y1, W + x0 + x1])
    for i in range(out.shape[1]):
        si = i - y0
        if 0 <= si < H:
            lo, hi = max(0, x0), min(out.shape[2], W + x0)
            if lo < hi:
                out[:, i, lo:hi] = x[:, si, lo - x0:hi - x0]
    return out


def zero_insert(x, up):
    """Every sample followed by up-1 zeros, along both axes."""
    C, H, W = x.shape
    out = x.new_zeros([C, H * up, W * up])
    out[:, ::up, ::up] = x
    return out


def convolve_x(x, f):
    """Valid true convolution of every row with the 1-D filter f."""
    n = f.shape[0]
    Wo = x.shape[2] - n + 1
    out = x.new_zeros([x.shape[0], x.shape[1], Wo])
    for t in range(n):
        out += f[t] * x[:, :, n - 1 - t: n - 1 - t + Wo]
    return out


def convolve_y(x, f):
    return convolve_x(x.transpose(1, 2), f).transpose(1, 2)


def convolve_2d(x, f, step=1):
    """Valid true convolution of every channel with the 2-D filter f [rows, cols], evaluated at
    every `step`-th output sample only (the others would be thrown away)."""
    n, m = f.shape
    Ho, Wo = x.shape[1] - n + 1, x.shape[2] - m + 1
    rows, cols = range(0, Ho, step), range(0, Wo, step)
    out = x.new_zeros([x.shape[0], len(rows), len(cols)])
    for a in range(n):
        for b in range(m):
            out += f[a, b] * x[:, n - 1 - a: n - 1 - a + Ho: step, m - 1 - b: m - 1 - b + Wo: step]
    return out


def fir(x, f, gain, step=1):
    """The filter step of upfirdn2d (then every `step`-th sample): 1-D filters separably (each pass
    times sqrt(gain)), 2-D in one pass."""
    if f is None:
        x = x * gain if gain != 1 else x
        return x[:, ::step, ::step]
    if f.ndim == 1:
        g = math.sqrt(gain)
        return convolve_y(convolve_x(x, f * g), f * g)[:, ::step, ::step]
    return convolve_2d(x, f * gain, step)


def filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """Section 6, in order, for one sample x [C, H, W]."""
    if b is not None:
        x = x + b.reshape(-1, 1, 1)
    if up > 1:
        x = zero_insert(x, up)
    x = pad_or_crop(x, *padding)
    x = fir(x, fu, up * up)
    x = torch.where(x >= 0, x, slope * x) * gain
    if clamp is not None:
        x = torch.clamp(x, -clamp, clamp)
    return fir(x, fd, 1, step=down)


def correlate_padded(x, w, pad):
    """Correlation of x [I, H, W] with w [O, I, k, k] after `pad` zeros on every side."""
    O, I, kh, kw = w.shape
    x = pad_or_crop(x, pad, pad, pad, pad)
    Ho, Wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = x.new_zeros([O, Ho, Wo])
    for i in range(kh):
        for j in range(kw):
            out += torch.einsum('oc,chw->ohw', w[:, :, i, j], x[:, i:i + Ho, j:j + Wo])
    return out


# ---------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------

def mapping(sd, z, c, num_ws, truncation_psi=1, truncation_cutoff=None, num_layers=2, lr_multiplier=0.01, **ignored):
    """z [N, z_dim], c [N, c_dim] or None -> ws [N, num_ws, w_dim] (section 3)."""
    rows = []
    for n in range(z.shape[0]):
        x = normalize(z[n])
        if 'embed.weight' in sd:
            x = torch.cat([x, normalize(fully_connected(sub(sd, 'embed.'), c[n]))])
        for i in range(num_layers):
            x = fully_connected(sub(sd, f'fc{i}.'), x, lrelu=True, lr_multiplier=lr_multiplier)
        rows.append(torch.stack([x] * num_ws))
    ws = torch.stack(rows)
    if truncation_psi != 1:
        cut = num_ws if truncation_cutoff is None else truncation_cutoff
        ws[:, :cut] = sd['w_avg'] + truncation_psi * (ws[:, :cut] - sd['w_avg'])
    return ws


def synthesis_input(p, w, spec):
    """Section 4 for one sample: [channels, size, size]."""
    t = fully_connected(sub(p, 'affine.'), w)
    t = t / torch.sqrt(t[0] ** 2 + t[1] ** 2)
    rc, rs, tx, ty = t
    one, zero = torch.ones_like(rc), torch.zeros_like(rc)
    m_r = torch.stack([torch.stack([rc, -rs, zero]), torch.stack([rs, rc, zero]), torch.stack([zero, zero, one])])
    m_t = torch.stack([torch.stack([one, zero, -tx]), torch.stack([zero, one, -ty]), torch.stack([zero, zero, one])])
    T = m_r @ m_t @ p['transform']
    A, bvec = T[:2, :2], T[:2, 2]
    S, sr, bw = spec['size'], spec['sampling_rate'], spec['bandwidth']
    coords = (torch.arange(S, dtype=w.dtype) + 0.5 - S / 2) / sr
    C = spec['channels']
    feats = w.new_zeros([C, S, S])
    for c in range(C):
        f = p['freqs'][c]
        f2 = A.t() @ f                       # f . (A x) = (A^T f) . x
        phase = p['phases'][c] + f @ bvec
        amp = torch.clamp(1 - (torch.sqrt(f2 @ f2) - bw) / (sr / 2 - bw), 0, 1)
        arg = coords.reshape(1, S) * f2[0] + coords.reshape(S, 1) * f2[1] + phase   # rows y, columns x
        feats[c] = torch.sin(2 * math.pi * arg) * amp
    return torch.einsum('oc,chw->ohw', p['weight'] / math.sqrt(C), feats)


def synthesis_layer(p, x, styles, style_rms, spec, conv_clamp=256):
    """Section 5 for one sample, given its styles and the batch's style RMS (pre-normalisation)."""
    weight = p['weight']
    I = spec['in_channels']
    if spec['torgb']:
        w = weight * (styles / math.sqrt(I * spec['kernel'] ** 2)).reshape(1, I, 1, 1)
    else:
        wn = weight / torch.sqrt((weight * weight).mean(dim=[1, 2, 3], keepdim=True))
        w = wn * (styles / style_rms).reshape(1, I, 1, 1)
        w = w / torch.sqrt((w * w).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
    w = w / torch.sqrt(p['magnitude_ema'])
    x = correlate_padded(x, w, spec['kernel'] - 1)
    gain, slope = (1.0, 1.0) if spec['torgb'] else (math.sqrt(2), 0.2)
    return filtered_lrelu(x, p.get('up_filter'), p.get('down_filter'), p['bias'], spec['up'], spec['down'],
                          spec['padding'], gain, slope, conv_clamp)


def synthesis(sd, ws, init_kwargs, stop=None):
    """ws [N, num_ws, w_dim] -> image [N, C, R, R] (or, with stop, layer stop-1's output)."""
    kw = {k: v for k, v in init_kwargs.items() if k not in ('z_dim', 'c_dim', 'w_dim', 'mapping_kwargs')}
    inp, specs = layer_specs(**kw)
    conv_clamp = kw.get('conv_clamp', 256)
    output_scale = kw.get('output_scale', 0.25)
    N = ws.shape[0]
    xs = [synthesis_input(sub(sd, 'input.'), ws[n, 0], inp) for n in range(N)]
    for spec in specs[:stop]:
        p = sub(sd, spec['name'] + '.')
        styles = torch.stack([fully_connected(sub(p, 'affine.'), ws[n, spec['index'] + 1]) for n in range(N)])
        rms = torch.sqrt((styles * styles).mean())      # over the whole batch, as the official code
        xs = [synthesis_layer(p, xs[n], styles[n], rms, spec, conv_clamp) for n in range(N)]
        assert xs[0].shape == (spec['out_channels'], spec['out_size'], spec['out_size']), spec['name']
    x = torch.stack(xs)
    return x * output_scale if stop is None else x


def generator(sd, z, c, init_kwargs, truncation_psi=1, truncation_cutoff=None):
    num_ws = init_kwargs.get('num_layers', 14) + 2
    ws = mapping(sub(sd, 'mapping.'), z, c, num_ws, truncation_psi, truncation_cutoff,
                 **init_kwargs.get('mapping_kwargs', {}))
    return synthesis(sub(sd, 'synthesis.'), ws, init_kwargs)
