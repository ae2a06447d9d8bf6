"""TensorFlow-era StyleGAN2 networks for tests: variables in TF's names and layouts, a pickle
writer, and a re-statement of the TF forward pass that reads those variables directly.

Written from the facts in shared/reference/checkpoint-formats.md (section a) and
official-stylegan2-ada.md, in our own words; no TensorFlow and no NVIDIA code. The forward pass
follows TF's own execution order on TF layouts ([in, out] dense, [kh, kw, in, out] conv), so a
converter that gets a transpose, the Conv0_up flip or the +1 of the modulation bias wrong
draws a different image than this does:

* dense: x @ (W * lrmul / sqrt(in)) + b * lrmul, then act(x) * gain;
* modulated conv: weight * 1/sqrt(kh*kw*in) * (style + 1) per input channel, demodulated over
  (kh, kw, in); 3x3 convs are correlations (padding 1);
* up-sampling conv: the kernel flipped, a stride-2 transposed convolution, then the [1,3,3,1]
  blur (pads 1/1, gain 4); 1x1 up convs and ToRGB image up-sampling: zero insertion and the blur
  with pads 2/1;
* down-sampling conv: the blur (pads 2/2), then a stride-2 correlation; skip: blur pads 1/1,
  every other pixel, 1x1 conv;
* noise: noise{i} * noise_strength after the conv, then bias, lrelu, * sqrt(2), clamp.
Test-only code, never imported by core/.
"""
import math
import pickle

import numpy as np
import torch
import torch.nn.functional as F

from tests.official_pickle import Network, _stand_in_modules

SQRT2 = math.sqrt(2.0)


def nf(stage, fmap_base, fmap_max):
    """TF's channel count for a stage: conv layers at resolution 2**k use stage k - 1."""
    return min(int(fmap_base / 2.0 ** stage), fmap_max)


# ----------------------------------------------------------------------------------------------
# Variables

def generator_variables(rng, kw):
    """(mapping vars, synthesis vars, top vars): lists of (name, float32 array) as a TF G holds them."""
    z, w, c = kw.get('latent_size', 512), kw.get('dlatent_size', 512), kw.get('label_size', 0)
    res, channels = kw.get('resolution', 1024), kw.get('num_channels', 3)
    base, fmax = kw.get('fmap_base', 16384), kw.get('fmap_max', 512)
    arch = kw.get('architecture', 'skip')
    use_noise = kw.get('use_noise', True)

    def randn(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    mapping = []
    width = z
    if c:
        embed = kw.get('label_fmaps') or w
        mapping += [('LabelEmbed/weight', randn(c, embed)), ('LabelEmbed/bias', randn(embed, scale=0.1))]
        width = z + embed
    layers = kw.get('mapping_layers', 8)
    for i in range(layers):
        out = w if i == layers - 1 else (kw.get('mapping_fmaps') or w)
        mapping += [(f'Dense{i}/weight', randn(width, out)), (f'Dense{i}/bias', randn(out, scale=0.1))]
        width = out

    def modulated(scope, kernel, cin, cout, noise=True):
        out = [(f'{scope}/weight', randn(kernel, kernel, cin, cout)), (f'{scope}/mod_weight', randn(w, cin)),
               (f'{scope}/mod_bias', randn(cin, scale=0.2))]
        if noise and use_noise:
            out.append((f'{scope}/noise_strength', np.float32(rng.uniform(0.05, 0.3))))  # a numpy scalar, as TF
        out.append((f'{scope}/bias', randn(cout, scale=0.1)))
        return out
    c4 = nf(1, base, fmax)
    synthesis = [('4x4/Const/const', randn(1, c4, 4, 4))] + modulated('4x4/Conv', 3, c4, c4)
    if arch == 'skip' or res == 4:
        synthesis += modulated('4x4/ToRGB', 1, c4, channels, noise=False)
    log2 = int(math.log2(res))
    for k in range(3, log2 + 1):
        r, cin, cout = 2 ** k, nf(k - 2, base, fmax), nf(k - 1, base, fmax)
        synthesis += modulated(f'{r}x{r}/Conv0_up', 3, cin, cout) + modulated(f'{r}x{r}/Conv1', 3, cout, cout)
        if arch == 'resnet':
            synthesis.append((f'{r}x{r}/Skip/weight', randn(1, 1, cin, cout)))
        if arch == 'skip' or k == log2:
            synthesis += modulated(f'{r}x{r}/ToRGB', 1, cout, channels, noise=False)
    for i in range(2 * log2 - 3):
        r = 2 ** ((i + 5) // 2)
        synthesis.append((f'noise{i}', randn(1, 1, r, r)))
    top = [('dlatent_avg', randn(w)), ('lod', np.float32(0))]
    return mapping, synthesis, top


def discriminator_variables(rng, kw):
    res, channels, c = kw.get('resolution', 1024), kw.get('num_channels', 3), kw.get('label_size', 0)
    base, fmax = kw.get('fmap_base', 16384), kw.get('fmap_max', 512)
    mbstd = kw.get('mbstd_num_features', 1) if kw.get('mbstd_group_size', 4) > 1 else 0

    def randn(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def conv(scope, kernel, cin, cout, bias=True):
        out = [(f'{scope}/weight', randn(kernel, kernel, cin, cout))]
        return out + ([(f'{scope}/bias', randn(cout, scale=0.1))] if bias else [])
    log2 = int(math.log2(res))
    out = conv(f'{res}x{res}/FromRGB', 1, channels, nf(log2 - 1, base, fmax))
    for k in range(log2, 2, -1):
        r, tmp, cout = 2 ** k, nf(k - 1, base, fmax), nf(k - 2, base, fmax)
        out += conv(f'{r}x{r}/Conv0', 3, tmp, tmp) + conv(f'{r}x{r}/Conv1_down', 3, tmp, cout)
        out += conv(f'{r}x{r}/Skip', 1, tmp, cout, bias=False)
    c4 = nf(1, base, fmax)
    cmap = kw.get('mapping_fmaps') or c4
    out += conv('4x4/Conv', 3, c4 + mbstd, c4)
    out += [('4x4/Dense0/weight', randn(c4 * 16, nf(0, base, fmax))), ('4x4/Dense0/bias', randn(nf(0, base, fmax)))]
    out += [('Output/weight', randn(nf(0, base, fmax), cmap if c else 1)), ('Output/bias', randn(cmap if c else 1))]
    if c:
        out += [('LabelEmbed/weight', randn(c, cmap)), ('LabelEmbed/bias', randn(cmap, scale=0.1))]
    return out


def network(name, static_kwargs, variables, components=None, version=4, source='# TF source: never run\n'):
    """A dnnlib.tflib.network.Network stand-in with the state a TF pickle holds."""
    return Network(dict(version=version, name=name, static_kwargs=dict(static_kwargs), components=components or {},
                        build_module_src=source, build_func_name=f'training.networks_stylegan2.{name}_main',
                        variables=list(variables)))


def make_tf_networks(g_kwargs, d_kwargs, seed=0, version=4, source='# TF source: never run\n'):
    """(G, D, Gs) stand-ins with random variables; returns them and {role: flat {name: array}}."""
    rng = np.random.default_rng(seed)
    nets, flat = [], {}
    for role in ('G', 'D', 'Gs'):
        if role == 'D':
            variables = discriminator_variables(rng, d_kwargs)
            nets.append(network('D', d_kwargs, variables, version=version, source=source))
            flat[role] = dict(variables)
            continue
        mapping, synthesis, top = generator_variables(rng, g_kwargs)
        comps = {'mapping': network('G_mapping', {}, mapping, version=version, source=source),
                 'synthesis': network('G_synthesis', {}, synthesis, version=version, source=source)}
        nets.append(network(role, g_kwargs, top, comps, version=version, source=source))
        flat[role] = dict(top, **{f'mapping/{k}': v for k, v in mapping}, **{f'synthesis/{k}': v for k, v in synthesis})
    return tuple(nets), flat


def write_tf_pickle(path, nets, protocol=4):
    """Pickle (G, D, Gs) the way dnnlib did: each Network as GLOBAL dnnlib.tflib.network.Network."""
    with _stand_in_modules(), open(path, 'wb') as f:
        pickle.dump(tuple(nets), f, protocol=protocol)


# ----------------------------------------------------------------------------------------------
# The TF forward pass on TF layouts (float64)

def _t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64).copy())


def _blur_kernel(gain=1.0):
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    return torch.outer(k, k) / 64 * gain


def _upfirdn(x, up, pad0, pad1, gain, down=1):
    """TF's upfirdn_2d on NCHW: zero insertion, pad, true convolution with the blur, decimation."""
    N, C, H, W = x.shape
    if up > 1:
        z = x.new_zeros([N, C, H * up, W * up])
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    k = _blur_kernel(gain).flip([0, 1])[None, None].repeat(C, 1, 1, 1)
    x = F.conv2d(x, k, groups=C)
    return x[:, :, ::down, ::down]


def _act(x, b, lrmul=1.0, clamp=None):
    x = F.leaky_relu(x + (b * lrmul).reshape([1, -1] + [1] * (x.ndim - 2)), 0.2) * SQRT2
    return x.clamp(-clamp, clamp) if clamp is not None else x


def _dense(x, v, scope, lrmul=1.0):
    W = _t(v[f'{scope}/weight'])
    return x @ (W * (lrmul / math.sqrt(W.shape[0])))


def tf_mapping(v, z, c, kw):
    x = z * torch.rsqrt((z * z).mean(dim=1, keepdim=True) + 1e-8)
    if kw.get('label_size', 0):
        y = _dense(c, v, 'mapping/LabelEmbed') + _t(v['mapping/LabelEmbed/bias'])
        y = y * torch.rsqrt((y * y).mean(dim=1, keepdim=True) + 1e-8)
        x = torch.cat([x, y], dim=1)
    lrmul = kw.get('mapping_lrmul', 0.01)
    for i in range(kw.get('mapping_layers', 8)):
        x = _act(_dense(x, v, f'mapping/Dense{i}', lrmul), _t(v[f'mapping/Dense{i}/bias']), lrmul)
    return x


def _modconv(x, wvec, v, scope, demod=True, up=False):
    """TF's modulated_conv2d_layer for a batch, sample by sample."""
    W = _t(v[f'{scope}/weight'])                                       # [kh, kw, I, O]
    kh, kw_, I, O = W.shape
    s = wvec @ (_t(v[f'{scope}/mod_weight']) / math.sqrt(wvec.shape[1]))
    s = s + _t(v[f'{scope}/mod_bias']) + 1                            # TF adds the 1 at run time
    outs = []
    for n in range(x.shape[0]):
        ww = W * (1 / math.sqrt(kh * kw_ * I)) * s[n][None, None, :, None]
        if demod:
            ww = ww * torch.rsqrt((ww * ww).sum(dim=(0, 1, 2)) + 1e-8)[None, None, None, :]
        xn = x[n:n + 1]
        if up:
            wt = ww.flip([0, 1]).permute(2, 3, 0, 1)                  # flipped, as a transposed-conv filter
            y = F.conv_transpose2d(xn, wt, stride=2)
            y = _upfirdn(y, 1, 1, 1, gain=4)
        else:
            y = F.conv2d(xn, ww.permute(3, 2, 0, 1), padding=kh // 2)
        outs.append(y)
    return torch.cat(outs)


def tf_synthesis(v, ws, kw, noise=True):
    res, arch = kw.get('resolution', 1024), kw.get('architecture', 'skip')
    clamp = kw.get('conv_clamp')
    use_noise = kw.get('use_noise', True) and noise
    log2 = int(math.log2(res))

    def layer(x, w, scope, noise_index, up=False):
        x = _modconv(x, w, v, f'synthesis/{scope}', up=up)
        if use_noise:
            x = x + _t(v[f'synthesis/noise{noise_index}']) * float(v[f'synthesis/{scope}/noise_strength'])
        return _act(x, _t(v[f'synthesis/{scope}/bias']), clamp=clamp)

    def torgb(x, w, r):
        y = _modconv(x, w, v, f'synthesis/{r}x{r}/ToRGB', demod=False)
        y = y + _t(v[f'synthesis/{r}x{r}/ToRGB/bias']).reshape(1, -1, 1, 1)
        return y.clamp(-clamp, clamp) if clamp is not None else y

    N = ws.shape[0]
    x = _t(v['synthesis/4x4/Const/const']).repeat(N, 1, 1, 1)
    x = layer(x, ws[:, 0], '4x4/Conv', 0)
    img = torgb(x, ws[:, 1], 4) if arch == 'skip' or res == 4 else None
    for k in range(3, log2 + 1):
        r = 2 ** k
        t = x
        x = layer(x, ws[:, 2 * k - 5], f'{r}x{r}/Conv0_up', 2 * k - 5, up=True)
        x = layer(x, ws[:, 2 * k - 4], f'{r}x{r}/Conv1', 2 * k - 4)
        if arch == 'resnet':
            Wk = _t(v[f'synthesis/{r}x{r}/Skip/weight'])               # a 1x1 up conv, run as TF ran it
            t = F.conv_transpose2d(t, Wk.flip([0, 1]).permute(2, 3, 0, 1) / math.sqrt(Wk.shape[2]), stride=2)
            t = _upfirdn(t, 1, 2, 2, gain=4)
            x = (x + t) / SQRT2
        if img is not None:
            img = _upfirdn(img, 2, 2, 1, gain=4)
        if arch == 'skip' or k == log2:
            y = torgb(x, ws[:, 2 * k - 3], r)
            img = y if img is None else img + y
    return img


def tf_generator(v, z, c, kw, psi=1.0):
    w = tf_mapping(v, z, c, kw)
    if psi != 1:
        avg = _t(v['dlatent_avg'])
        w = avg + psi * (w - avg)
    res = kw.get('resolution', 1024)
    ws = w[:, None, :].repeat(1, 2 * int(math.log2(res)) - 2, 1)
    return tf_synthesis(v, ws, kw)


def _conv(x, v, scope, down=False, act=True, bias=True):
    W = _t(v[f'{scope}/weight'])
    kh = W.shape[0]
    weight = W.permute(3, 2, 0, 1) / math.sqrt(kh * kh * W.shape[2])
    if down and kh > 1:
        x = F.conv2d(_upfirdn(x, 1, 2, 2, gain=1), weight, stride=2)
    elif down:
        x = F.conv2d(_upfirdn(x, 1, 1, 1, gain=1, down=2), weight)
    else:
        x = F.conv2d(x, weight, padding=kh // 2)
    if act:
        return _act(x, _t(v[f'{scope}/bias']))
    return x + _t(v[f'{scope}/bias']).reshape(1, -1, 1, 1) if bias else x


def tf_discriminator(v, img, c, kw):
    res = kw.get('resolution', 1024)
    group = kw.get('mbstd_group_size', 4)
    x = _conv(img, v, f'{res}x{res}/FromRGB')
    for k in range(int(math.log2(res)), 2, -1):
        r = 2 ** k
        t = _conv(x, v, f'{r}x{r}/Skip', down=True, act=False, bias=False)
        x = _conv(_conv(x, v, f'{r}x{r}/Conv0'), v, f'{r}x{r}/Conv1_down', down=True)
        x = (x + t) / SQRT2
    if group > 1:
        N, C, H, W = x.shape
        g = min(group, N)
        y = x.reshape(g, -1, 1, C, H, W)
        y = ((y - y.mean(dim=0)) ** 2).mean(dim=0)
        y = torch.sqrt(y + 1e-8).mean(dim=(2, 3, 4)).reshape(-1, 1, 1, 1).repeat(g, 1, H, W)
        x = torch.cat([x, y], dim=1)
    x = _conv(x, v, '4x4/Conv')
    x = _act(_dense(x.flatten(1), v, '4x4/Dense0'), _t(v['4x4/Dense0/bias']))
    x = _dense(x, v, 'Output') + _t(v['Output/bias'])
    if kw.get('label_size', 0):
        cmap = _dense(c, v, 'LabelEmbed') + _t(v['LabelEmbed/bias'])
        cmap = cmap * torch.rsqrt((cmap * cmap).mean(dim=1, keepdim=True) + 1e-8)
        x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(cmap.shape[1])
    return x
