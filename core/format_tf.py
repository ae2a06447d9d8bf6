"""TensorFlow-era StyleGAN2 pickles (NVlabs/stylegan2, stylegan2-ada TF) -> our G_ema, G and D.

Such a file is a pickle of (G, D, Gs), each a dnnlib.tflib.network.Network. core.safe_pickle
reads them as passive TFNetworkRecords (only numpy arrays and those records are allowed, and
the TF source each carries in build_module_src is never run); here their variables become the
official PyTorch tensors. Gs, the moving average, is our G_ema; G and D are kept too.

The naming rules, layouts and kwargs defaults are those of the official conversion
(stylegan2-ada-pytorch's legacy.py, facts in shared/reference/checkpoint-formats.md, section
(a)), so a converted network draws the images the official conversion draws:
- dense weights are stored [in, out] and transposed; conv weights [kh, kw, in, out] and permuted
  to [out, in, kh, kw];
- the up-sampling convs (Conv0_up) and the generator's resnet Skip are flipped spatially: TF ran
  them as flipped transposed convolutions, the PyTorch layer as a true convolution;
- modulation biases get the +1 TF added at run time;
- noise{i} of the synthesis network are the const noise maps (index 0 at 4x4, then 2k-5 and
  2k-4 for conv0 / conv1 at 2**k);
- resample filters are rebuilt from `resample_kernel`.
One departure, for D only: when the file does not record `mbstd_group_size` (every StyleGAN2 TF
config-f pickle), the converted D groups 4 samples, as the TF network did, where the official
conversion groups the whole batch (the two agree for batches of 4 or fewer).
"""
from __future__ import annotations

import re

import numpy as np
import torch

from core import safe_pickle
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.network_parts import NetParts, expected_shapes
from core.networks import Discriminator, Generator
from core.ops import setup_filter

FORMAT = 'tf-pkl'
MIN_VERSION = 4  # older dnnlib networks have no components: their layouts are StyleGAN1's
MAX_DEPTH = 4
SUPPORTED = 'only StyleGAN2 (config-e/f) and StyleGAN2-ADA TensorFlow pickles convert, as with the official legacy.py'
# Run-time options a TF network recorded beside its architecture; they hold no weights.
_G_TOLERATED = {'truncation_psi', 'truncation_cutoff', 'style_mixing_prob', 'structure', 'conditioning',
                'fused_modconv', 'dlatent_avg_beta'}
_D_TOLERATED = {'structure'}
_DEFAULT_MBSTD_GROUP = 4  # D_stylegan2's default, which config-f pickles never record


def is_tf_pickle(data):
    return isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, safe_pickle.TFNetworkRecord)
                                                               for n in data)


def read(data, path):
    """(G, D, Gs) records -> ({'G_ema', 'G', 'D': NetParts}, extra meta)."""
    tf_G, tf_D, tf_Gs = data
    for net, role in ((tf_G, 'G'), (tf_D, 'D'), (tf_Gs, 'Gs')):
        _check_record(net, role, path)
    parts = {'G_ema': _generator_parts(tf_Gs, 'Gs', path), 'G': _generator_parts(tf_G, 'G', path),
             'D': _discriminator_parts(tf_D, path)}
    extra = dict(holds=['G_ema', 'G', 'D'], tf_version=int(tf_Gs.state['version']),
                 tf_build_func=str(tf_Gs.state.get('build_func_name')))
    if 'mbstd_group_size' not in tf_D.state['static_kwargs']:
        extra['tf_note'] = (f'D minibatch-stddev group size {_DEFAULT_MBSTD_GROUP} (the TensorFlow default, '
                            f'not recorded in the file)')
    return parts, extra


# ----------------------------------------------------------------------------------------------
# Records and variables

def _not_convertible(path, why):
    return StylescopeError(f'{path} is a TensorFlow StyleGAN/StyleGAN2 pickle {why}; {SUPPORTED}.')


def _check_record(net, role, path):
    state = net.state if hasattr(net, 'state') else None
    if not isinstance(state, dict):
        raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} network has no state')
    version = state.get('version')
    if type(version) is not int:
        raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} network has no version')
    if version < MIN_VERSION:
        raise _not_convertible(path, f'written by an old dnnlib (network version {version}, a StyleGAN1-era file)')
    for key, kind in (('static_kwargs', dict), ('components', dict), ('variables', (list, tuple))):
        if not isinstance(state.get(key), kind):
            raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} network has no readable {key}')
    if not all(isinstance(k, str) for k in state['static_kwargs']):
        raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} network has malformed kwargs')


def _variables(net, role, path, prefix='', depth=0):
    """{'<component key>/.../<variable>': float32 array} over the network and its components,
    prefixed by the components-dict key as the official conversion does."""
    if depth > MAX_DEPTH or not isinstance(net, safe_pickle.TFNetworkRecord) or not isinstance(net.state, dict):
        raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} has a malformed component {prefix!r}')
    found = {}
    for item in net.state.get('variables') or ():
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} has a malformed variable list')
        found[prefix + item[0]] = _float_array(item[1], prefix + item[0], role, path)
    components = net.state.get('components') or {}
    if not isinstance(components, dict):
        raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} has malformed components')
    for key, child in components.items():
        found.update(_variables(child, role, path, f'{prefix}{key}/', depth + 1))
    return found


def _float_array(value, name, role, path):
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == 'f':
        return np.asarray(value, dtype=np.float32)
    raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} variable {name} is not a float array')


class _Kwargs:
    """Reads a TF network's static kwargs the way the official conversion does: a value of
    None becomes `none`; afterwards every key must have been read or be tolerated."""

    def __init__(self, static, role, path, tolerated):
        self.static, self.role, self.path, self.tolerated = static, role, path, tolerated
        self.read = set()

    def __call__(self, name, default=None, none=None):
        self.read.add(name)
        value = self.static.get(name, default)
        return none if value is None else value

    def check_all_known(self):
        unknown = sorted(set(self.static) - self.read - self.tolerated)
        if unknown:
            raise _not_convertible(self.path, f"whose {self.role} was built with '{unknown[0]}'={self.static[unknown[0]]!r}, "
                                              f'an option no StyleGAN2 converter knows (a config A-D or StyleGAN1 '
                                              f'network?)')


def _to_torch(array):
    return torch.from_numpy(np.array(array, dtype=np.float32, order='C'))  # a copy; keeps 0-d arrays 0-d


def _dense(a):
    return a.T  # [in, out] -> [out, in]


def _conv(a, flip=False):
    if flip:
        a = a[::-1, ::-1]
    return a.transpose(3, 2, 0, 1)  # [kh, kw, in, out] -> [out, in, kh, kw]


def _fill(expected, source, variables, role, path, resample_kernel):
    """{our name: tensor} for every name of `expected`, each from source(name) ->
    (tf variable name, transform); None as tf name = a resample filter."""
    tensors, filt = {}, setup_filter(resample_kernel)
    for name, shape in expected.items():
        rule = source(name)
        if rule is None:
            raise _not_convertible(path, f'whose {role} has no TensorFlow counterpart for {name} '
                                         f'(an unusual architecture)')
        tf_name, transform = rule
        if tf_name is None:
            value = filt.clone()
        else:
            if tf_name not in variables:
                raise _not_convertible(path, f"whose {role} lacks the variable '{tf_name}' its architecture needs")
            value = _to_torch(transform(variables[tf_name]))
        if tuple(value.shape) != tuple(shape):
            raise StylescopeError(f"{path}: its TensorFlow {role} variable '{tf_name}' gives {name} the shape "
                                  f'{list(value.shape)}, expected {list(shape)} for the architecture its kwargs '
                                  f'describe; the file is damaged or not a StyleGAN2 network.')
        tensors[name] = value
    return tensors


# ----------------------------------------------------------------------------------------------
# Generator

_LAYER_RE = re.compile(r'synthesis\.b(\d+)\.(conv0|conv1|torgb)\.(.+)')


def _generator_kwargs(static, role, path):
    kw = _Kwargs(static, role, path, _G_TOLERATED)
    w_avg_beta = kw('w_avg_beta', static.get('dlatent_avg_beta', 0.995), none=1)
    kwargs = dict(
        z_dim=kw('latent_size', 512), c_dim=kw('label_size', 0), w_dim=kw('dlatent_size', 512),
        img_resolution=kw('resolution', 1024), img_channels=kw('num_channels', 3),
        mapping_kwargs=dict(num_layers=kw('mapping_layers', 8), embed_features=kw('label_fmaps'),
                            layer_features=kw('mapping_fmaps'), activation=kw('mapping_nonlinearity', 'lrelu'),
                            lr_multiplier=kw('mapping_lrmul', 0.01), w_avg_beta=w_avg_beta),
        synthesis_kwargs=dict(channel_base=kw('fmap_base', 16384) * 2, channel_max=kw('fmap_max', 512),
                              num_fp16_res=kw('num_fp16_res', 0), conv_clamp=kw('conv_clamp'),
                              architecture=kw('architecture', 'skip'),
                              resample_filter=kw('resample_kernel', [1, 3, 3, 1]),
                              use_noise=kw('use_noise', True), activation=kw('nonlinearity', 'lrelu')))
    kw.check_all_known()
    return _checked_kwargs(kwargs, role, path)


def _checked_kwargs(kwargs, role, path):
    """The kwargs as JSON-ready values; anything that is not (NaN, a foreign object) is one sentence."""
    try:
        return json_ready(kwargs)
    except ValueError as e:
        raise safe_pickle.corrupt_error(path, f'its TensorFlow {role} kwargs: {e}') from None


def _generator_source(name):
    """Our generator tensor name -> (TF variable, transform), or (None, None) for a filter."""
    if name.endswith('resample_filter'):
        return None, None
    if name == 'mapping.w_avg':
        return 'dlatent_avg', np.asarray
    m = re.fullmatch(r'mapping\.(embed|fc(\d+))\.(weight|bias)', name)
    if m:
        layer = 'LabelEmbed' if m.group(1) == 'embed' else f'Dense{m.group(2)}'
        return f'mapping/{layer}/{m.group(3)}', (_dense if m.group(3) == 'weight' else np.asarray)
    if name == 'synthesis.b4.const':
        return 'synthesis/4x4/Const/const', lambda a: a[0]
    m = re.fullmatch(r'synthesis\.b(\d+)\.skip\.weight', name)
    if m:
        r = m.group(1)
        return f'synthesis/{r}x{r}/Skip/weight', lambda a: _conv(a, flip=True)
    m = _LAYER_RE.fullmatch(name)
    if not m:
        return None
    r, layer, tensor = int(m.group(1)), m.group(2), m.group(3)
    scope = f'synthesis/{r}x{r}/' + {'conv0': 'Conv0_up', 'conv1': 'Conv' if r == 4 else 'Conv1',
                                     'torgb': 'ToRGB'}[layer]
    if tensor == 'noise_const':
        k = int(np.log2(r))
        index = 0 if r == 4 else 2 * k - 5 + (layer == 'conv1')
        return f'synthesis/noise{index}', lambda a: a[0, 0]
    if tensor == 'weight':
        return f'{scope}/weight', lambda a: _conv(a, flip=(layer == 'conv0'))
    if tensor == 'affine.weight':
        return f'{scope}/mod_weight', _dense
    if tensor == 'affine.bias':
        return f'{scope}/mod_bias', lambda a: a + 1
    if tensor in ('bias', 'noise_strength'):
        return f'{scope}/{tensor}', np.asarray
    return None


def _generator_parts(net, role, path):
    components = net.state['components']
    if not {'mapping', 'synthesis'} <= set(components):
        raise _not_convertible(path, f'whose {role} has no mapping and synthesis networks (a StyleGAN1 or '
                                     f'progressive-growing network?)')
    variables = _variables(net, role, path)
    if any(name.startswith('synthesis/ToRGB_lod') for name in variables):
        raise _not_convertible(path, f'whose {role} grows progressively (ToRGB_lod layers, a config A-D network)')
    kwargs = _generator_kwargs(net.state['static_kwargs'], role, path)
    if kwargs['c_dim'] and 'mapping/LabelEmbed/weight' not in variables:
        raise _not_convertible(path, f'whose conditional {role} concatenates labels (LabelConcat), a layer '
                                     f'StyleGAN2-ADA has no counterpart for')
    if 'dlatent_avg' not in variables and 'mapping/dlatent_avg' in variables:
        variables['dlatent_avg'] = variables['mapping/dlatent_avg']
    shapes = _expected(Generator, kwargs, role, path)
    tensors = _fill(shapes, _generator_source, variables, role, path, kwargs['synthesis_kwargs']['resample_filter'])
    return NetParts(kwargs, tensors)


def _expected(cls, kwargs, role, path):
    try:
        return expected_shapes(cls, kwargs)
    except (TypeError, ValueError, AssertionError, KeyError, ZeroDivisionError, RuntimeError) as e:
        raise _not_convertible(path, f'whose {role} kwargs describe a network Stylescope cannot build '
                                     f'({safe_pickle.short_reason(e)})') from None


# ----------------------------------------------------------------------------------------------
# Discriminator

def _discriminator_kwargs(static, path):
    kw = _Kwargs(static, 'D', path, _D_TOLERATED)
    group = kw('mbstd_group_size', _DEFAULT_MBSTD_GROUP)
    num_features = kw('mbstd_num_features', 1)
    if group is not None and group <= 1:
        num_features = 0  # TF built no minibatch-stddev layer at all for groups of one
    kwargs = dict(
        c_dim=kw('label_size', 0), img_resolution=kw('resolution', 1024), img_channels=kw('num_channels', 3),
        architecture=kw('architecture', 'resnet'), channel_base=kw('fmap_base', 16384) * 2,
        channel_max=kw('fmap_max', 512), num_fp16_res=kw('num_fp16_res', 0), conv_clamp=kw('conv_clamp'),
        cmap_dim=kw('mapping_fmaps'),
        block_kwargs=dict(activation=kw('nonlinearity', 'lrelu'), resample_filter=kw('resample_kernel', [1, 3, 3, 1]),
                          freeze_layers=kw('freeze_layers', 0)),
        mapping_kwargs=dict(num_layers=kw('mapping_layers', 0), embed_features=kw('mapping_fmaps'),
                            layer_features=kw('mapping_fmaps'), activation=kw('nonlinearity', 'lrelu'),
                            lr_multiplier=kw('mapping_lrmul', 0.1)),
        epilogue_kwargs=dict(mbstd_group_size=group, mbstd_num_channels=num_features,
                             activation=kw('nonlinearity', 'lrelu')))
    kw.check_all_known()
    return _checked_kwargs(kwargs, 'D', path)


def _discriminator_source(name):
    if name.endswith('resample_filter'):
        return None, None
    m = re.fullmatch(r'b(\d+)\.(fromrgb|conv0|conv1|skip|conv)\.(weight|bias)', name)
    if m:
        r, layer, tensor = m.groups()
        scope = {'fromrgb': 'FromRGB', 'conv0': 'Conv0', 'conv1': 'Conv1_down', 'skip': 'Skip', 'conv': 'Conv'}[layer]
        return f'{r}x{r}/{scope}/{tensor}', (_conv if tensor == 'weight' else np.asarray)
    m = re.fullmatch(r'(b4\.fc|b4\.out|mapping\.embed|mapping\.fc(\d+))\.(weight|bias)', name)
    if m:
        scope = {'b4.fc': '4x4/Dense0', 'b4.out': 'Output', 'mapping.embed': 'LabelEmbed'}.get(m.group(1)) \
            or f'Mapping{m.group(2)}'
        return f'{scope}/{m.group(3)}', (_dense if m.group(3) == 'weight' else np.asarray)
    return None


def _discriminator_parts(net, path):
    variables = _variables(net, 'D', path)
    if any(re.match(r'FromRGB_lod\d+/', name) for name in variables):
        raise _not_convertible(path, 'whose D grows progressively (FromRGB_lod layers, a config A-D network)')
    kwargs = _discriminator_kwargs(net.state['static_kwargs'], path)
    if kwargs['c_dim'] and 'LabelEmbed/weight' not in variables:
        raise _not_convertible(path, 'whose conditional D projects labels onto its output, a layer StyleGAN2-ADA '
                                     'has no counterpart for')
    shapes = _expected(Discriminator, kwargs, 'D', path)
    tensors = _fill(shapes, _discriminator_source, variables, 'D', path, kwargs['block_kwargs']['resample_filter'])
    return NetParts(kwargs, tensors)
