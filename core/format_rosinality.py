"""rosinality/stylegan2-pytorch checkpoints (.pt): read them as our G_ema, G and D, and write them back.

A rosinality checkpoint is a torch.save of a dict: `g_ema`, `g`, `d` state dicts, the Adam states
`g_optim` / `d_optim` (ignored here), `args` (an argparse.Namespace) and `ada_aug_p`;
convert_weight.py writes `g_ema` (+ `g`, `d`) and `latent_avg`. It is read with
torch.load(weights_only=True) and an allow-list that admits argparse.Namespace and nothing else,
so no code in the file can run. Name tables, shapes and where the two codes differ:
shared/reference/checkpoint-formats.md, section (b).

The networks are the same maths as ours under other names and shapes (reshapes only, and the
up-sampling blur kernels rosinality stores multiplied by 4). It has no `w_avg`: a file with
`latent_avg` gives it; otherwise it is the float64 mean of mapping(z) over a fixed seeded sample,
so it is the same on every machine (and so is the fingerprint), and meta says which it was.

Writing keeps to what rosinality's model.py can build (skip generator, resnet discriminator,
3 channels, no labels, its fixed channel table, lr_mlp 0.01); `conv_clamp` and `num_fp16_res`
have no place there: dropped for rosinality's code, kept in a `stylescope` note that our reader
restores, with `latent_avg` (= w_avg), so ours -> .pt -> ours is bit-identical.
"""
from __future__ import annotations

import argparse
import math
import pickle
import re
import warnings
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

from core import safe_pickle
from core.atomic import atomic_write
from core.errors import StylescopeError
from core.format_official import kwargs_for
from core.json_ready import json_ready
from core.network_parts import NetParts, expected_shapes, to_float32
from core.networks import Discriminator, Generator
from core.ops import setup_filter

FORMAT = 'rosinality-pt'
NOTE_KEY = 'stylescope'
W_AVG_SAMPLES = 4096  # as rosinality's generate.py averages for its truncation
W_AVG_SEED = 0
ROS_LR_MLP = 0.01     # what rosinality's scripts build their Generator with
ROS_BLUR = [1, 3, 3, 1]
ROS_MBSTD_GROUP = 4
IGNORED_KEYS = ('g_optim', 'd_optim')
_LOAD_ERRORS = (RuntimeError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                OSError, zipfile.BadZipFile, MemoryError, UnicodeDecodeError)


# ----------------------------------------------------------------------------------------------
# Loading the file

def load_checkpoint(path):
    """torch.load with weights_only=True, argparse.Namespace the one class allowed beyond
    tensors and containers. Zip checkpoints are memory-mapped, so the optimiser states (more
    than half of a training checkpoint) are never read from disk."""
    with open(path, 'rb') as f:
        is_zip = f.read(4) == b'PK\x03\x04'
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals([argparse.Namespace]):
            warnings.simplefilter('ignore')
            return safe_pickle.check_loaded(torch.load(path, map_location='cpu', weights_only=True, mmap=is_zip),
                                            path)
    except pickle.UnpicklingError as e:
        found = re.search(r'GLOBAL ([\w.]+)', str(e))
        what = f"'{found.group(1)}'" if found else 'an object'
        raise StylescopeError(f'{path}: refused to load a torch checkpoint that references {what}, code outside '
                              f'a checkpoint of tensors; only rosinality stylegan2-pytorch checkpoints open as .pt '
                              f'files, so get the file again from where it came from.') from None
    except _LOAD_ERRORS as e:
        raise safe_pickle.corrupt_error(path, safe_pickle.short_reason(e)) from None


def is_generator_state(obj):
    return isinstance(obj, dict) and 'style.1.weight' in obj and 'input.input' in obj


def refusal(obj, path):
    """The sentence for a torch file that is not a rosinality StyleGAN2 checkpoint."""
    keys = set(obj) if isinstance(obj, dict) else set()
    if 'eigvec' in keys:
        what = 'a rosinality closed-form factorisation (factor.pt), not a network; load it as a direction file'
    elif {'latent', 'noise'} <= keys or {'img', 'latent'} <= keys:
        what = 'a rosinality projection result, not a network; open the checkpoint it was projected with'
    elif {'state_dict', 'opts'} <= keys:
        what = 'an encoder checkpoint (pSp / e4e style), not a generator; open the StyleGAN2 generator it was trained for'
    else:
        what = ('a torch file without the g_ema generator of a rosinality stylegan2-pytorch checkpoint; open a '
                'checkpoint that train.py or convert_weight.py wrote')
    return StylescopeError(f'{path} is {what}.')


# ----------------------------------------------------------------------------------------------
# Name tables (ours <-> rosinality), shared by reader and writer

def generator_table(img_resolution, n_mlp):
    """[(our name, rosinality name, factor)] with rosinality value = ours * factor (4 for the
    up-sampling blur kernels rosinality stores pre-multiplied), all else reshapes."""
    table = [(f'mapping.fc{i - 1}.{t}', f'style.{i}.{t}', 1) for i in range(1, n_mlp + 1) for t in ('weight', 'bias')]
    table.append(('synthesis.b4.const', 'input.input', 1))
    layers = [('synthesis.b4.conv1', 'conv1', 0), ('synthesis.b4.torgb', 'to_rgb1', None)]
    for j, k in enumerate(range(3, int(math.log2(img_resolution)) + 1)):
        r = 2 ** k
        layers += [(f'synthesis.b{r}.conv0', f'convs.{2 * j}', 2 * j + 1),
                   (f'synthesis.b{r}.conv1', f'convs.{2 * j + 1}', 2 * j + 2),
                   (f'synthesis.b{r}.torgb', f'to_rgbs.{j}', None)]
        table += [(f'synthesis.b{r}.conv0.resample_filter', f'convs.{2 * j}.conv.blur.kernel', 4),
                  (f'synthesis.b{r}.resample_filter', f'to_rgbs.{j}.upsample.kernel', 4)]
    for ours, ros, noise in layers:
        table += [(f'{ours}.weight', f'{ros}.conv.weight', 1),
                  (f'{ours}.affine.weight', f'{ros}.conv.modulation.weight', 1),
                  (f'{ours}.affine.bias', f'{ros}.conv.modulation.bias', 1)]
        if noise is None:  # ToRGB
            table.append((f'{ours}.bias', f'{ros}.bias', 1))
        else:
            table += [(f'{ours}.bias', f'{ros}.activate.bias', 1),
                      (f'{ours}.noise_strength', f'{ros}.noise.weight', 1),
                      (f'{ours}.noise_const', f'noises.noise_{noise}', 1)]
    return table


def discriminator_table(img_resolution):
    top = img_resolution
    table = [(f'b{top}.fromrgb.weight', 'convs.0.0.weight', 1), (f'b{top}.fromrgb.bias', 'convs.0.1.bias', 1)]
    for i, k in enumerate(range(int(math.log2(img_resolution)), 2, -1), start=1):
        r = 2 ** k
        table += [(f'b{r}.conv0.weight', f'convs.{i}.conv1.0.weight', 1),
                  (f'b{r}.conv0.bias', f'convs.{i}.conv1.1.bias', 1),
                  (f'b{r}.conv1.resample_filter', f'convs.{i}.conv2.0.kernel', 1),
                  (f'b{r}.conv1.weight', f'convs.{i}.conv2.1.weight', 1),
                  (f'b{r}.conv1.bias', f'convs.{i}.conv2.2.bias', 1),
                  (f'b{r}.skip.resample_filter', f'convs.{i}.skip.0.kernel', 1),
                  (f'b{r}.skip.weight', f'convs.{i}.skip.1.weight', 1)]
    table += [('b4.conv.weight', 'final_conv.0.weight', 1), ('b4.conv.bias', 'final_conv.1.bias', 1),
              ('b4.fc.weight', 'final_linear.0.weight', 1), ('b4.fc.bias', 'final_linear.0.bias', 1),
              ('b4.out.weight', 'final_linear.1.weight', 1), ('b4.out.bias', 'final_linear.1.bias', 1)]
    return table


def _ros_shape(ros_name, shape):
    """rosinality's shape for a tensor whose official shape is `shape`."""
    if ros_name.endswith('conv.weight') and len(shape) == 4:
        return (1, *shape)                          # modulated conv weights carry a batch axis
    if ros_name == 'input.input':
        return (1, *shape)
    if ros_name.endswith('noise.weight'):
        return (1,)
    if ros_name.startswith('noises.'):
        return (1, 1, *shape)
    if re.fullmatch(r'to_rgb(1|s\.\d+)\.bias', ros_name):
        return (1, shape[0], 1, 1)
    return tuple(shape)


# ----------------------------------------------------------------------------------------------
# Reading

def read(ckpt, path):
    """Checkpoint dict (or a bare g_ema state dict) -> ({'G_ema', 'G', 'D'}, extra meta)."""
    if is_generator_state(ckpt):
        ckpt = {'g_ema': ckpt}
    if not isinstance(ckpt, dict) or not is_generator_state(ckpt.get('g_ema') or ckpt.get('g')):
        raise refusal(ckpt, path)
    args = ckpt.get('args')
    args = vars(args) if isinstance(args, argparse.Namespace) else args if isinstance(args, dict) else {}
    if str(args.get('arch', 'stylegan2')) != 'stylegan2' or _is_swagan(ckpt.get('g_ema') or ckpt['g']):
        raise StylescopeError(f'{path} is a rosinality SWAGAN checkpoint (a wavelet generator with other layers); '
                              f'Stylescope opens StyleGAN2 checkpoints (train.py --arch stylegan2).')
    note = ckpt.get(NOTE_KEY) if isinstance(ckpt.get(NOTE_KEY), dict) else {}
    holds, parts = [], {'G_ema': None, 'G': None, 'D': None}
    source = 'g_ema' if 'g_ema' in ckpt else 'g'
    G_kwargs, info = _generator_kwargs(ckpt[source], args, note, path)
    parts['G_ema'] = _generator_parts(ckpt[source], G_kwargs, path, source)
    holds.append('G_ema')
    if source == 'g_ema' and is_generator_state(ckpt.get('g')):
        parts['G'] = _generator_parts(ckpt['g'], G_kwargs, path, 'g')
        holds.append('G')
    if isinstance(ckpt.get('d'), dict) and 'final_linear.1.weight' in ckpt['d']:
        D_kwargs = note.get('D_kwargs')
        D_kwargs = (kwargs_for('Discriminator', D_kwargs, 'd', path) if isinstance(D_kwargs, dict)
                    else _discriminator_kwargs(ckpt['d'], G_kwargs['img_resolution'], path))
        parts['D'] = _discriminator_parts(ckpt['d'], D_kwargs, path)
        holds.append('D')
    w_avg, how = _w_avg(ckpt, ckpt[source], G_kwargs, path)
    parts['G_ema'].tensors['mapping.w_avg'] = w_avg
    if parts['G'] is not None:  # our writer keeps the training G's own w_avg in its note
        g_avg = note.get('g_latent_avg')
        fits = isinstance(g_avg, torch.Tensor) and g_avg.numel() == G_kwargs['w_dim']
        parts['G'].tensors['mapping.w_avg'] = to_float32(g_avg).reshape(-1).clone() if fits else w_avg.clone()
    extra = dict(holds=holds, ignored=[key for key in IGNORED_KEYS if key in ckpt], w_avg_source=how,
                 rosinality_args=info)
    if source == 'g':
        extra['rosinality_note'] = 'the file has no g_ema; its g (the non-averaged generator) is used'
    if isinstance(ckpt.get('ada_aug_p'), (int, float)):
        extra['augment_p'] = float(ckpt['ada_aug_p'])
    if note:
        extra['written_by'] = 'stylescope'
        if isinstance(note.get('fingerprint'), str):
            extra['recorded_fingerprint'] = note['fingerprint']
    return parts, extra


def _is_swagan(state):
    rgb = state.get('to_rgb1.bias')
    return isinstance(rgb, torch.Tensor) and rgb.ndim == 4 and rgb.shape[1] != 3


def _tensor(state, name, path, key):
    t = state.get(name)
    if not isinstance(t, torch.Tensor):
        raise StylescopeError(f"{path}: its {key} lacks the tensor '{name}' a rosinality StyleGAN2 generator has; "
                              f'the file is damaged or from another architecture.')
    return t


def _generator_kwargs(state, args, note, path):
    """Our Generator kwargs from a rosinality state dict (+ its args), and what was inferred."""
    n_mlp = 0
    while f'style.{n_mlp + 1}.weight' in state:
        n_mlp += 1
    style = _tensor(state, 'style.1.weight', path, 'g_ema')
    style_dim = int(style.shape[1])
    num_rgb = 0
    while f'to_rgbs.{num_rgb}.conv.weight' in state:
        num_rgb += 1
    size = 2 ** (num_rgb + 2)
    channels = {4: int(_tensor(state, 'input.input', path, 'g_ema').shape[1])}
    for j in range(num_rgb):
        channels[2 ** (j + 3)] = int(_tensor(state, f'convs.{2 * j}.conv.weight', path, 'g_ema').shape[1])
    multiplier = args.get('channel_multiplier')
    multiplier = int(multiplier) if isinstance(multiplier, (int, float)) and multiplier > 0 else None
    base, cmax = _channel_layout(channels, multiplier, path)
    if multiplier is None and cmax == 512 and base % 16384 == 0 and size >= 64:
        multiplier = base // 16384
    lr_mlp = args.get('lr_mlp', ROS_LR_MLP)
    lr_mlp = lr_mlp if isinstance(lr_mlp, (int, float)) and lr_mlp > 0 else ROS_LR_MLP
    info = dict(size=size, style_dim=style_dim, n_mlp=n_mlp, channel_multiplier=multiplier,
                lr_mlp=float(lr_mlp), arch='stylegan2')
    if isinstance(note.get('G_kwargs'), dict):  # written by Stylescope: its exact kwargs (conv_clamp, ...)
        return kwargs_for('Generator', note['G_kwargs'], 'g_ema', path), info
    kwargs = dict(z_dim=style_dim, c_dim=0, w_dim=style_dim, img_resolution=size, img_channels=3,
                  mapping_kwargs=dict(num_layers=n_mlp, lr_multiplier=float(lr_mlp)),
                  synthesis_kwargs=dict(channel_base=base, channel_max=cmax, architecture='skip',
                                        resample_filter=list(ROS_BLUR)))
    return kwargs, info


def _channel_layout(channels, multiplier, path):
    """(channel_base, channel_max) with min(base // r, max) == channels[r] for every r; the
    rosinality table (base 16384 * multiplier, max 512) when it fits, else the smallest fit."""
    def fits(base, cmax):
        return all(min(base // r, cmax) == c for r, c in channels.items())
    for m in ([multiplier] if multiplier else []) + [2, 1]:
        if fits(16384 * m, 512):
            return 16384 * m, 512
    cmax = max(channels.values())
    below = sorted((r, c) for r, c in channels.items() if c < cmax)
    base = below[0][0] * below[0][1] if below else cmax * max(channels)
    if not fits(base, cmax):
        raise StylescopeError(f'{path}: its channel counts per resolution {channels} follow no '
                              f'min(channel_base / r, channel_max) rule, so Stylescope cannot rebuild its generator.')
    return base, cmax


def _discriminator_kwargs(state, img_resolution, path):
    channels = {img_resolution: int(_tensor(state, 'convs.0.0.weight', path, 'd').shape[0])}
    for i, k in enumerate(range(int(math.log2(img_resolution)), 2, -1), start=1):
        channels[2 ** (k - 1)] = int(_tensor(state, f'convs.{i}.conv2.1.weight', path, 'd').shape[0])
    base, cmax = _channel_layout(channels, None, path)
    return dict(c_dim=0, img_resolution=img_resolution, img_channels=3, architecture='resnet', channel_base=base,
                channel_max=cmax, block_kwargs=dict(resample_filter=list(ROS_BLUR)),
                epilogue_kwargs=dict(mbstd_group_size=ROS_MBSTD_GROUP, mbstd_num_channels=1))


def _convert(state, table, shapes, defaults, path, key):
    """{our name: tensor} from a rosinality state dict; shapes from our architecture."""
    tensors = {}
    for ours, ros, factor in table:
        t = _tensor(state, ros, path, key)
        shape = shapes.get(ours)
        if shape is None or t.numel() != math.prod(shape):
            raise StylescopeError(f"{path}: its {key} tensor '{ros}' has shape {list(t.shape)}, which does not fit "
                                  f'{ours} {list(shape or [])}; the file is damaged or from another architecture.')
        t = to_float32(t).reshape(shape)
        tensors[ours] = (t / factor if factor != 1 else t).clone()  # clone: off the file's memory map
    for name in shapes:  # buffers rosinality does not store: the official code never reads them
        if name not in tensors and name.endswith('resample_filter'):
            tensors[name] = defaults.clone()
    return tensors


def _generator_parts(state, kwargs, path, key):
    shapes = _expected(Generator, kwargs, path, key)
    table = generator_table(kwargs['img_resolution'], kwargs['mapping_kwargs']['num_layers'])
    filt = setup_filter((kwargs.get('synthesis_kwargs') or {}).get('resample_filter', ROS_BLUR))
    tensors = _convert(state, table, {k: v for k, v in shapes.items() if k != 'mapping.w_avg'}, filt, path, key)
    return NetParts(kwargs, tensors)


def _discriminator_parts(state, kwargs, path):
    shapes = _expected(Discriminator, kwargs, path, 'd')
    filt = setup_filter((kwargs.get('block_kwargs') or {}).get('resample_filter', ROS_BLUR))
    return NetParts(kwargs, _convert(state, discriminator_table(kwargs['img_resolution']), shapes, filt, path, 'd'))


def _expected(cls, kwargs, path, key):
    try:
        return expected_shapes(cls, kwargs)
    except (TypeError, ValueError, AssertionError, KeyError, ZeroDivisionError, RuntimeError) as e:
        raise StylescopeError(f'{path}: its {key} describes a network Stylescope cannot build '
                              f'({safe_pickle.short_reason(e)}); the file is damaged or from another '
                              'architecture.') from None


def _w_avg(ckpt, state, kwargs, path):
    w_dim = kwargs['w_dim']
    stored = ckpt.get('latent_avg')
    if isinstance(stored, torch.Tensor) and stored.numel() == w_dim:
        return to_float32(stored).reshape(w_dim).clone(), 'latent_avg stored in the file'
    return mean_w(state, kwargs), (f'mean of mapping(z) over {W_AVG_SAMPLES} z = np.random.RandomState({W_AVG_SEED})'
                                   f'.randn({W_AVG_SAMPLES}, {kwargs["z_dim"]}), computed in float64')


def mean_w(state, kwargs, samples=W_AVG_SAMPLES, seed=W_AVG_SEED):
    """Float64 mean of the mapping network's output over a fixed sample, rounded to float32:
    the same bits on any machine, unlike a float32 sum whose order depends on the CPU."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(samples, kwargs['z_dim']))
    x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    lr = float(kwargs['mapping_kwargs'].get('lr_multiplier', ROS_LR_MLP))
    for i in range(1, kwargs['mapping_kwargs']['num_layers'] + 1):
        weight = state[f'style.{i}.weight'].double()
        bias = state[f'style.{i}.bias'].double()
        x = F.leaky_relu(x @ (weight * (lr / math.sqrt(weight.shape[1]))).t() + bias * lr, 0.2) * math.sqrt(2)
    return x.mean(dim=0).float()


# ----------------------------------------------------------------------------------------------
# Writing

def _layout_multiplier(channels):
    """The rosinality channel_multiplier that gives these {resolution: channels}, or None."""
    for m in (2, 1, 3, 4, 8):  # config-f first: it is rosinality's default when any fits
        table = {r: 512 if r <= 32 else 16384 * m // r for r in channels}
        if table == channels:
            return m
    return None


def generator_problems(G):
    """Why rosinality's model.py cannot build this generator ([] when it can)."""
    s, m = G.init_kwargs.get('synthesis_kwargs') or {}, G.init_kwargs.get('mapping_kwargs') or {}
    problems = []
    if G.c_dim:
        problems.append('it is conditional (rosinality has no labels)')
    if G.z_dim != G.w_dim:
        problems.append(f'z_dim {G.z_dim} differs from w_dim {G.w_dim}')
    if G.img_channels != 3:
        problems.append(f'it makes {G.img_channels}-channel images')
    if s.get('architecture', 'skip') != 'skip':
        problems.append(f"its architecture is '{s['architecture']}', not 'skip'")
    if not s.get('use_noise', True):
        problems.append('it has no noise inputs')
    if list(s.get('resample_filter', ROS_BLUR)) != ROS_BLUR or list(m.get('layer_features') or [G.w_dim]) != [G.w_dim]:
        problems.append('its filters or mapping widths differ from the defaults')
    if s.get('activation', 'lrelu') != 'lrelu' or m.get('activation', 'lrelu') != 'lrelu':
        problems.append('its activation is not lrelu')
    if float(m.get('lr_multiplier', 0.01)) != ROS_LR_MLP:
        problems.append(f"its mapping lr_multiplier is {m['lr_multiplier']}, not rosinality's 0.01")
    channels = {b.resolution: b.out_channels for b in G.synthesis.blocks()}
    if _layout_multiplier(channels) is None:
        problems.append(f"its channels per resolution {channels} are not rosinality's table")
    return problems


def discriminator_problems(D):
    k = D.init_kwargs
    e, b = k.get('epilogue_kwargs') or {}, k.get('block_kwargs') or {}
    problems = []
    if D.c_dim or D.img_channels != 3 or k.get('architecture', 'resnet') != 'resnet':
        problems.append('it is conditional, not 3-channel or not a resnet discriminator')
    if e.get('mbstd_num_channels', 1) != 1 or list(b.get('resample_filter', ROS_BLUR)) != ROS_BLUR \
            or b.get('activation', 'lrelu') != 'lrelu' or e.get('activation', 'lrelu') != 'lrelu':
        problems.append('its minibatch-stddev features, filters or activation differ from the defaults')
    channels = {r: getattr(D, f'b{r}').conv1.weight.shape[0] for r in D.block_resolutions}
    channels = {r // 2: c for r, c in channels.items()}
    channels[D.img_resolution] = getattr(D, f'b{D.img_resolution}').conv0.weight.shape[0]
    if _layout_multiplier(channels) is None:
        problems.append("its channels per resolution are not rosinality's table")
    return problems


def rosinality_state(net, table):
    """{rosinality name: tensor} of one of our networks (contiguous CPU float32 copies)."""
    state = net.state_dict()
    return {ros: (state[ours].detach().to('cpu', torch.float32) * factor).reshape(_ros_shape(ros, state[ours].shape))
            .contiguous().clone() for ours, ros, factor in table}


def write_rosinality(path, G_ema, D=None, G=None, extra=None):
    """Write a checkpoint rosinality's model.py loads strict (`Generator(size, style_dim, n_mlp,
    channel_multiplier)`), atomically. Returns {'holds': [...], 'notes': [...], 'args': {...}}:
    a D rosinality cannot build is left out, with a note saying why."""
    from core.model_io import fingerprint  # model_io imports this module
    from core.networks_stylegan3 import is_stylegan3
    if is_stylegan3(G_ema):
        raise StylescopeError(f"{path}: rosinality's stylegan2-pytorch holds StyleGAN2 networks only, and this one is "
                              f'StyleGAN3; write an official .pkl (the stylegan3 repo loads it) or a .safetensors file.')
    if not isinstance(G_ema, Generator) or (G is not None and not isinstance(G, Generator)) \
            or (D is not None and not isinstance(D, Discriminator)):
        raise TypeError('write_rosinality takes core.networks Generator / Discriminator modules')
    problems = generator_problems(G_ema)
    if problems:
        raise StylescopeError(f"{path}: rosinality's model.py cannot build this generator ({'; '.join(problems)}); "
                              f'write an official .pkl or a Stylescope .safetensors file instead.')
    n_mlp = G_ema.mapping.num_layers
    channels = {b.resolution: b.out_channels for b in G_ema.synthesis.blocks()}
    multiplier = _layout_multiplier(channels)
    table = generator_table(G_ema.img_resolution, n_mlp)
    ckpt = {'g_ema': rosinality_state(G_ema, table), 'latent_avg': G_ema.mapping.w_avg.detach().cpu().clone()}
    notes, holds = [], ['g_ema']
    g_latent_avg = None
    if G is not None and G is not G_ema and not generator_problems(G):
        ckpt['g'] = rosinality_state(G, table)
        g_latent_avg = G.mapping.w_avg.detach().cpu().clone()
        holds.append('g')
    if D is not None:
        d_problems = discriminator_problems(D)
        if d_problems:
            notes.append(f"D left out: rosinality's model.py cannot build it ({'; '.join(d_problems)})")
            D = None
        else:
            ckpt['d'] = rosinality_state(D, discriminator_table(D.img_resolution))
            holds.append('d')
            group = (D.init_kwargs.get('epilogue_kwargs') or {}).get('mbstd_group_size', 4)
            if group != ROS_MBSTD_GROUP:
                notes.append(f'D minibatch-stddev group size {group} becomes rosinality\'s fixed {ROS_MBSTD_GROUP}')
    dropped = {k: v for k, v in (G_ema.init_kwargs.get('synthesis_kwargs') or {}).items()
               if k in ('conv_clamp', 'num_fp16_res') and v}
    if dropped:
        notes.append(f'{dropped} have no rosinality counterpart (its layers never clamp and run in float32)')
    args = dict(size=G_ema.img_resolution, style_dim=G_ema.w_dim, n_mlp=n_mlp, channel_multiplier=multiplier)
    ckpt[NOTE_KEY] = dict(json_ready(extra or {}), format_version=1, fingerprint=fingerprint(G_ema),
                          G_kwargs=json_ready(G_ema.init_kwargs),
                          D_kwargs=json_ready(D.init_kwargs) if D is not None else None, rosinality_args=args)
    if g_latent_avg is not None:
        ckpt[NOTE_KEY]['g_latent_avg'] = g_latent_avg
    try:
        # torch.save given a name raises RuntimeError when it cannot open it; given the file,
        # atomic_write's open() meets that as the OSError it words as a sentence.
        atomic_write(path, lambda f: torch.save(ckpt, f))
    except OSError as e:
        raise StylescopeError(f'could not write {path} ({e.strerror or e}); check the folder exists, is '
                              f'writable and has free space.') from None
    return dict(holds=holds, notes=notes, args=args)
