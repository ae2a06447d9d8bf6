"""Executable spec of the StyleGAN2-ADA forward pass, for tests only.

A deliberately naive re-statement of the math in shared/reference/official-stylegan2-ada.md
(section 1b), independent of core/: it never calls a torch convolution, padding or
resampling routine, and loops over the samples of a batch one by one. Every operation is
written as its textbook definition:

* true convolution:  out[y, x] = sum_ij f[i, j] * in[y + kh-1-i, x + kw-1-j]   (valid part)
* correlation:       out[y, x] = sum_ij w[i, j] * in[y + i, x + j]             (valid part)
* upfirdn2d:         insert up-1 zeros after every sample, pad (negative = crop), true
                     convolution with f * gain, keep every down-th sample.

It reads a plain state dict (name -> tensor, the official names) plus the constructor
kwargs, and computes in whatever dtype the tensors have; tests pass float64 to make it a
precise yardstick. Slow on purpose: clarity first. Nothing here is copied from any other
code base.
"""
import math

import torch

SQRT2 = math.sqrt(2.0)
DEFAULT_GAIN = {'linear': 1.0, 'relu': SQRT2, 'lrelu': SQRT2}


# ---------------------------------------------------------------------------------------
# Elementary operations. Per-sample tensors: feature maps [C, H, W], vectors [F].
# ---------------------------------------------------------------------------------------

def activation(x, act):
    if act == 'linear':
        return x
    if act == 'relu':
        return torch.where(x > 0, x, torch.zeros_like(x))
    if act == 'lrelu':
        return torch.where(x >= 0, x, 0.2 * x)
    raise ValueError(f'unknown activation {act!r}')


def bias_act(x, b, act='linear', gain=None, clamp=None):
    """x + b (b along dim 0 of a per-sample tensor) -> activation -> * gain -> clamp."""
    if b is not None:
        x = x + b.reshape([-1] + [1] * (x.ndim - 1))
    x = activation(x, act)
    x = x * (DEFAULT_GAIN[act] if gain is None else gain)
    if clamp is not None:
        x = torch.minimum(torch.maximum(x, torch.full_like(x, -clamp)), torch.full_like(x, clamp))
    return x


def normalize_2nd_moment(v, eps=1e-8):
    """v / sqrt(mean(v^2) + eps) for one vector."""
    return v / torch.sqrt((v * v).mean() + eps)


def fully_connected(p, x, activation_name='linear', lr_multiplier=1.0):
    """Dense layer on one vector: (weight * lr/sqrt(in)) @ x + bias * lr, then the activation."""
    weight, bias = p['weight'], p.get('bias')
    out_features, in_features = weight.shape
    assert x.shape == (in_features,), f'fc input {tuple(x.shape)} != ({in_features},)'
    y = (weight * (lr_multiplier / math.sqrt(in_features))) @ x
    b = bias * lr_multiplier if bias is not None else None
    return bias_act(y, b, activation_name)


def pad_or_crop(x, x0, x1, y0, y1):
    """Add x0 / x1 zero columns left / right and y0 / y1 zero rows top / bottom; a negative
    amount removes that many instead. Output pixel (i, j) is input pixel (i - y0, j - x0)."""
    C, H, W = x.shape
    out = x.new_zeros([C, H + y0 + y1, W + x0 + x1])
    src_rows = torch.arange(out.shape[1]) - y0
    src_cols = torch.arange(out.shape[2]) - x0
    dst_i = torch.nonzero((src_rows >= 0) & (src_rows < H))[:, 0]
    dst_j = torch.nonzero((src_cols >= 0) & (src_cols < W))[:, 0]
    out[:, dst_i[:, None], dst_j[None, :]] = x[:, src_rows[dst_i][:, None], src_cols[dst_j][None, :]]
    return out


def convolve_each_channel(x, f):
    """Valid true convolution of every channel of x [C, H, W] with the 2-D filter f [kh, kw]."""
    kh, kw = f.shape
    C, H, W = x.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    out = x.new_zeros([C, Ho, Wo])
    for i in range(kh):
        for j in range(kw):
            out = out + f[i, j] * x[:, kh - 1 - i: kh - 1 - i + Ho, kw - 1 - j: kw - 1 - j + Wo]
    return out


def correlate(x, w):
    """Valid correlation of x [I, H, W] with weights w [O, I, kh, kw] -> [O, Ho, Wo]."""
    O, I, kh, kw = w.shape
    assert x.shape[0] == I, f'correlate: {x.shape[0]} input channels, weight expects {I}'
    H, W = x.shape[1:]
    Ho, Wo = H - kh + 1, W - kw + 1
    out = x.new_zeros([O, Ho, Wo])
    for i in range(kh):
        for j in range(kw):
            out = out + torch.einsum('oc,chw->ohw', w[:, :, i, j], x[:, i: i + Ho, j: j + Wo])
    return out


def convolve(x, w):
    """Valid true convolution of x [I, H, W] with w [O, I, kh, kw] -> [O, Ho, Wo]."""
    O, I, kh, kw = w.shape
    H, W = x.shape[1:]
    Ho, Wo = H - kh + 1, W - kw + 1
    out = x.new_zeros([O, Ho, Wo])
    for i in range(kh):
        for j in range(kw):
            patch = x[:, kh - 1 - i: kh - 1 - i + Ho, kw - 1 - j: kw - 1 - j + Wo]
            out = out + torch.einsum('oc,chw->ohw', w[:, :, i, j], patch)
    return out


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
    """The definition, for one sample x [C, H, W]; pad = (x0, x1, y0, y1); f a 2-D filter."""
    C, H, W = x.shape
    if up > 1:
        z = x.new_zeros([C, H * up, W * up])
        z[:, ::up, ::up] = x                            # each sample followed by up-1 zeros
        x = z
    x = pad_or_crop(x, *pad)
    x = convolve_each_channel(x, f * gain)             # 2-D filter: gain ** (ndim / 2) = gain
    return x[:, ::down, ::down]


def upsample2d(x, f):
    return upfirdn2d(x, f, up=2, pad=(2, 1, 2, 1), gain=4)


def downsample2d(x, f):
    return upfirdn2d(x, f, down=2, pad=(1, 1, 1, 1))


def batched(fn, x, *args, **kwargs):
    """Apply a per-sample function to every sample of a batch [N, ...] and stack."""
    return torch.stack([fn(xn, *args, **kwargs) for xn in x])


def sub(sd, prefix):
    """The entries of a state dict under `prefix`, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


# ---------------------------------------------------------------------------------------
# Mapping network
# ---------------------------------------------------------------------------------------

def mapping_one(sd, z, c, *, z_dim, c_dim, num_layers=8, activation='lrelu', lr_multiplier=0.01):
    """One sample: z [z_dim] (or None), c [c_dim] (or None) -> w, before broadcasting."""
    parts = []
    if z_dim > 0:
        parts.append(normalize_2nd_moment(z))
    if c_dim > 0:
        parts.append(normalize_2nd_moment(fully_connected(sub(sd, 'embed.'), c)))  # lr 1, linear
    x = torch.cat(parts)
    for idx in range(num_layers):
        x = fully_connected(sub(sd, f'fc{idx}.'), x, activation, lr_multiplier)
    return x


def mapping(sd, z, c, *, z_dim, c_dim, w_dim, num_ws, truncation_psi=1, truncation_cutoff=None,
            num_layers=8, embed_features=None, layer_features=None, activation='lrelu', lr_multiplier=0.01,
            w_avg_beta=0.995):
    """z [N, z_dim], c [N, c_dim] -> ws [N, num_ws, w_dim] (or w [N, w_dim] when num_ws is None).

    sd holds the mapping's own tensors (fc0.weight, ..., w_avg); layer widths come from their
    shapes, so embed_features / layer_features / w_avg_beta are accepted and not needed.
    Truncation: w_avg + psi * (w - w_avg) on ws[:, :cutoff] (all rows when cutoff is None).
    """
    N = (z if z_dim > 0 else c).shape[0]
    rows = []
    for n in range(N):
        w = mapping_one(sd, z[n] if z_dim > 0 else None, c[n] if c_dim > 0 else None, z_dim=z_dim, c_dim=c_dim,
                        num_layers=num_layers, activation=activation, lr_multiplier=lr_multiplier)
        assert w.shape == (w_dim,)
        rows.append(w)
    w = torch.stack(rows)
    if num_ws is None:
        assert truncation_psi == 1
        return w
    ws = torch.stack([w] * num_ws, dim=1)
    if truncation_psi != 1:
        rows = slice(None) if truncation_cutoff is None else slice(None, truncation_cutoff)
        w_avg = sd['w_avg']
        ws = ws.clone()
        ws[:, rows] = w_avg + truncation_psi * (ws[:, rows] - w_avg)
    return ws


def updated_w_avg(w_avg, w_batch, beta):
    """The training-mode tracking of the average w: lerp(mean(w_batch), w_avg, beta)."""
    mean = w_batch.mean(dim=0)
    return mean + beta * (w_avg - mean)


# ---------------------------------------------------------------------------------------
# Synthesis network
# ---------------------------------------------------------------------------------------

def channels(res, channel_base, channel_max):
    return min(channel_base // res, channel_max)


def ws_index(res, layer):
    """Which row of ws drives a layer of block b{res} (a ToRGB shares its w with the next conv0)."""
    if res == 4:
        return {'conv1': 0, 'torgb': 1}[layer]
    k = int(math.log2(res))
    return {'conv0': 2 * k - 5, 'conv1': 2 * k - 4, 'torgb': 2 * k - 3}[layer]


def num_ws(img_resolution):
    return 2 * int(math.log2(img_resolution)) - 2


def modulated_conv(x, weight, styles, demodulate=True, up=1, f=None):
    """One sample x [I, H, W]: weights scaled by styles [I] per input channel, optionally
    normalised per output channel, then a 3x3 correlation with padding 1, or for up=2 the
    literal upsampling convolution: zero insertion, pad (3,2,3,2), true convolution with f
    (gain 4), then a true (valid) convolution with the weights."""
    O, I, kh, kw = weight.shape
    w = weight * styles.reshape(1, I, 1, 1)
    if demodulate:
        w = w / torch.sqrt((w * w).sum(dim=[1, 2, 3]) + 1e-8).reshape(O, 1, 1, 1)
    if up == 2:
        assert kh == 3
        return convolve(upfirdn2d(x, f, up=2, pad=(3, 2, 3, 2), gain=4), w)
    assert up == 1
    p = kh // 2
    return correlate(pad_or_crop(x, p, p, p, p), w)


def synthesis_layer(p, x, w, *, up=1, conv_clamp=None, gain=1, noise=None, activation='lrelu'):
    """Modulated conv, + noise (already scaled), + bias, activation, * sqrt2 * gain, clamp."""
    styles = fully_connected(sub(p, 'affine.'), w)                 # bias_init 1, linear, lr 1
    x = modulated_conv(x, p['weight'], styles, demodulate=True, up=up, f=p['resample_filter'])
    if noise is not None:
        x = x + noise
    clamp = conv_clamp * gain if conv_clamp is not None else None
    return bias_act(x, p['bias'], activation, gain=DEFAULT_GAIN[activation] * gain, clamp=clamp)


def torgb_layer(p, x, w, *, conv_clamp=None):
    """1x1 modulated conv without demodulation; styles * 1/sqrt(in); linear, clamp."""
    in_channels = p['weight'].shape[1]
    styles = fully_connected(sub(p, 'affine.'), w) / math.sqrt(in_channels)
    x = modulated_conv(x, p['weight'], styles, demodulate=False)
    return bias_act(x, p['bias'], 'linear', clamp=conv_clamp)


def layer_noise(p, name, n, noise_mode, noise_inputs):
    """The noise added by one layer for sample n: const -> noise_const * strength; random ->
    noise_inputs[name][n] (a [1, R, R] draw supplied by the caller) * strength; none -> None."""
    if 'noise_strength' not in p or noise_mode == 'none':
        return None
    if noise_mode == 'const':
        return p['noise_const'] * p['noise_strength']
    assert noise_mode == 'random'
    return noise_inputs[name][n] * p['noise_strength']


def synthesis(sd, ws, *, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512,
              architecture='skip', conv_clamp=None, noise_mode='const', noise_inputs=None, activation='lrelu',
              **ignored):
    """ws [N, num_ws, w_dim] -> img [N, img_channels, R, R]; sd holds the synthesis tensors
    (b4.const, b4.conv1.weight, ...). ignored: fp16 settings and the like (no effect on the math)."""
    assert architecture in ('orig', 'skip', 'resnet')
    assert ws.shape[1:] == (num_ws(img_resolution), w_dim), f'ws shape {tuple(ws.shape)}'
    resolutions = [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]
    images = []
    for n in range(ws.shape[0]):
        x = img = None
        for res in resolutions:
            b = sub(sd, f'b{res}.')
            is_last = res == img_resolution
            out_ch = channels(res, channel_base, channel_max)

            def layer(name, x, gain=1, up=1):
                return synthesis_layer(sub(b, f'{name}.'), x, ws[n, ws_index(res, name)], up=up, gain=gain,
                                       conv_clamp=conv_clamp, activation=activation,
                                       noise=layer_noise(sub(b, f'{name}.'), f'b{res}.{name}', n, noise_mode,
                                                         noise_inputs))

            if res == 4:
                assert b['const'].shape == (out_ch, 4, 4)
                x = layer('conv1', b['const'])
            elif architecture == 'resnet':
                s = b['skip.weight']                       # 1x1 up=2, no bias, linear, no clamp
                y = upsample2d(correlate(x, s / math.sqrt(s.shape[1])), b['skip.resample_filter'])
                y = y * math.sqrt(0.5)
                x = layer('conv0', x, up=2)
                x = layer('conv1', x, gain=math.sqrt(0.5))
                x = y + x
            else:
                x = layer('conv0', x, up=2)
                x = layer('conv1', x)
            assert x.shape == (out_ch, res, res)

            if img is not None:
                img = upsample2d(img, b['resample_filter'])
            if is_last or architecture == 'skip':
                rgb = torgb_layer(sub(b, 'torgb.'), x, ws[n, ws_index(res, 'torgb')], conv_clamp=conv_clamp)
                img = rgb if img is None else img + rgb
        assert img.shape == (img_channels, img_resolution, img_resolution)
        images.append(img)
    return torch.stack(images)


def generator(sd, z, c, *, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs=None,
              synthesis_kwargs=None, truncation_psi=1, truncation_cutoff=None, noise_mode='const',
              noise_inputs=None):
    """G(z, c) from a full generator state dict (mapping.*, synthesis.*) and its init kwargs."""
    ws = mapping(sub(sd, 'mapping.'), z, c, z_dim=z_dim, c_dim=c_dim, w_dim=w_dim,
                 num_ws=num_ws(img_resolution), truncation_psi=truncation_psi,
                 truncation_cutoff=truncation_cutoff, **(mapping_kwargs or {}))
    return synthesis(sub(sd, 'synthesis.'), ws, w_dim=w_dim, img_resolution=img_resolution,
                     img_channels=img_channels, noise_mode=noise_mode, noise_inputs=noise_inputs,
                     **(synthesis_kwargs or {}))


# ---------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------

def conv_layer(p, x, *, activation='lrelu', up=1, down=1, conv_clamp=None, gain=1):
    """Conv2dLayer on one sample: weights * 1/sqrt(in*k*k); 3x3 layers correlate with
    padding 1 (down=2: FIR with pad 2, correlate, keep every 2nd sample); 1x1 layers
    resample around the conv. Then bias, activation, * default gain * gain, clamp."""
    weight = p['weight']
    O, I, kh, kw = weight.shape
    w = weight / math.sqrt(I * kh * kw)
    f = p.get('resample_filter')
    if kh == 1:
        if down == 2:
            x = downsample2d(x, f)
        x = correlate(x, w)
        if up == 2:
            x = upsample2d(x, f)
    elif down == 2:
        x = correlate(upfirdn2d(x, f, pad=(2, 2, 2, 2)), w)[:, ::2, ::2]
    else:
        assert up == 1 and down == 1
        x = correlate(pad_or_crop(x, kh // 2, kh // 2, kw // 2, kw // 2), w)
    clamp = conv_clamp * gain if conv_clamp is not None else None
    return bias_act(x, p.get('bias'), activation, gain=DEFAULT_GAIN[activation] * gain, clamp=clamp)


def minibatch_std(x, group_size=4, num_channels=1):
    """x [N, C, H, W] -> [N, C + F, H, W]. Groups of G = min(group_size, N) samples taken with
    stride N/G (group m holds samples m, m + N/G, m + 2N/G, ...); per group and per channel
    chunk f (C/F channels each): std over the group (+1e-8 inside the sqrt) per element,
    averaged over the chunk's channels and pixels, appended as feature map f."""
    N, C, H, W = x.shape
    G = min(group_size, N) if group_size is not None else N
    assert N % G == 0
    groups = N // G
    Fn = num_channels
    extra = x.new_zeros([N, Fn, H, W])
    for n in range(N):
        members = [n % groups + k * groups for k in range(G)]
        for f in range(Fn):
            chunk = x[members, f * (C // Fn):(f + 1) * (C // Fn)]      # [G, C/F, H, W]
            var = ((chunk - chunk.mean(dim=0)) ** 2).mean(dim=0)
            extra[n, f] = torch.sqrt(var + 1e-8).mean()
    return torch.cat([x, extra], dim=1)


def discriminator(sd, img, c, *, c_dim, img_resolution, img_channels, architecture='resnet', channel_base=32768,
                  channel_max=512, conv_clamp=None, cmap_dim=None, block_kwargs=None, mapping_kwargs=None,
                  epilogue_kwargs=None, **ignored):
    """D(img, c) -> logits [N, 1] from a discriminator state dict and its init kwargs.

    Note: the resnet skip and the epilogue's fromrgb (skip arch) carry no conv_clamp, as in
    the official constructor; this matters only when a clamp actually bites."""
    assert architecture in ('orig', 'skip', 'resnet')
    act = (block_kwargs or {}).get('activation', 'lrelu')
    epi = dict(mbstd_group_size=4, mbstd_num_channels=1, activation='lrelu')
    epi.update(epilogue_kwargs or {})
    ch = {res: channels(res, channel_base, channel_max) for res in [2 ** i for i in range(2, 20)]}
    resolutions = [2 ** i for i in range(int(math.log2(img_resolution)), 2, -1)]

    features = []
    for n in range(img.shape[0]):
        x, im = None, img[n]
        for res in resolutions:
            b = sub(sd, f'b{res}.')
            if x is None or architecture == 'skip':
                y = conv_layer(sub(b, 'fromrgb.'), im, activation=act, conv_clamp=conv_clamp)
                x = y if x is None else x + y
                im = downsample2d(im, b['resample_filter']) if architecture == 'skip' else None
            if architecture == 'resnet':
                y = conv_layer(sub(b, 'skip.'), x, activation='linear', down=2, gain=math.sqrt(0.5))
                h = conv_layer(sub(b, 'conv0.'), x, activation=act, conv_clamp=conv_clamp)
                h = conv_layer(sub(b, 'conv1.'), h, activation=act, down=2, conv_clamp=conv_clamp,
                               gain=math.sqrt(0.5))
                x = y + h
            else:
                x = conv_layer(sub(b, 'conv0.'), x, activation=act, conv_clamp=conv_clamp)
                x = conv_layer(sub(b, 'conv1.'), x, activation=act, down=2, conv_clamp=conv_clamp)
            assert x.shape == (ch[res // 2], res // 2, res // 2)
        if architecture == 'skip':
            x = x + conv_layer(sub(sd, 'b4.fromrgb.'), im, activation=epi['activation'])
        features.append(x)
    x = torch.stack(features)

    if epi['mbstd_num_channels'] > 0:
        x = minibatch_std(x, epi['mbstd_group_size'], epi['mbstd_num_channels'])

    cmap = None
    if c_dim > 0:
        cmap_dim = ch[4] if cmap_dim is None else cmap_dim
        mk = dict(num_layers=8, lr_multiplier=0.01, activation='lrelu')
        mk.update({k: v for k, v in (mapping_kwargs or {}).items() if k in mk})
        cmap = mapping(sub(sd, 'mapping.'), None, c, z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, **mk)

    logits = []
    for n in range(x.shape[0]):
        h = conv_layer(sub(sd, 'b4.conv.'), x[n], activation=epi['activation'], conv_clamp=conv_clamp)
        h = fully_connected(sub(sd, 'b4.fc.'), h.flatten(), epi['activation'])
        h = fully_connected(sub(sd, 'b4.out.'), h)
        if cmap is not None:
            h = (h * cmap[n]).sum(dim=0, keepdim=True) / math.sqrt(cmap.shape[1])
        logits.append(h)
    return torch.stack(logits)
