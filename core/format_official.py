"""Official network pickles (stylegan2-ada-pytorch and the stylegan3 repo): read them, and write
ones the official code loads.

Reading: the restricted unpickler (core.safe_pickle) turns every network module into a passive
record; this module turns G_ema / G / D records into NetParts for our StyleGAN2 or StyleGAN3
generator and the StyleGAN2 discriminator (which StyleGAN3 also trains with). It reads both the
official layout (torch_utils.persistence records, their module source never run) and the layout
`write_official_pickle` emits.

Writing: `write_official_pickle` emits {'G', 'D', 'G_ema', 'training_set_kwargs'} where each
module is named by its module path (GLOBAL `training.networks.<Class>`, or for StyleGAN3
`training.networks_stylegan3.<Class>` with D under `training.networks_stylegan2`; NEWOBJ, BUILD
with the module's __dict__) and no source code travels in the file: run from the official
checkout, the names resolve to NVIDIA's own classes and `nn.Module.__setstate__` restores them,
so `legacy.load_network_pkl` and `generate.py` / `gen_images.py` work as with a pickle of their
own (the ways a writer can do this and the state each class's forward reads: shared/reference/
checkpoint-formats.md, section (c)). Outside such a checkout the file opens only through a
reader like ours, which is the price of not redistributing NVIDIA's code.
"""
from __future__ import annotations

import collections
import pickle

import numpy as np
import torch

from core import safe_pickle
from core.atomic import atomic_write
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.network_parts import NetParts, to_float32
from core.networks import Discriminator, Generator
from core.networks_stylegan3 import Generator as StyleGAN3Generator

FORMAT = 'official-pkl'
_G_ARGS = ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels', 'mapping_kwargs', 'synthesis_kwargs')
_D_ARGS = ('c_dim', 'img_resolution', 'img_channels', 'architecture', 'channel_base', 'channel_max',
           'num_fp16_res', 'conv_clamp', 'cmap_dim', 'block_kwargs', 'mapping_kwargs', 'epilogue_kwargs')
# The stylegan3 repo's StyleGAN2 classes take a forward-pass default that holds no weights.
_RUNTIME_ONLY_KWARGS = ('fused_modconv_default',)
# The key under which our writer leaves a note for our reader; the official loader ignores it.
NOTE_KEY = 'stylescope'


# ----------------------------------------------------------------------------------------------
# Reading

def is_network_dict(data):
    return isinstance(data, dict) and isinstance(data.get('G_ema'), safe_pickle.PersistentRecord)


def read(data, path):
    """Unpickled official network dict -> ({'G_ema', 'G', 'D': NetParts or None}, extra meta).
    Generators are StyleGAN2 or StyleGAN3 by their records (safe_pickle.contains_stylegan3);
    a StyleGAN3 pickle's D is the stylegan3 repo's StyleGAN2 discriminator."""
    if not is_network_dict(data):
        raise StylescopeError(f'{path} is a pickle but not of a StyleGAN network (it holds no G_ema network); open '
                              'a training snapshot (network-snapshot-*.safetensors or .pkl) or a pretrained model.')
    note = data.get(NOTE_KEY) if isinstance(data.get(NOTE_KEY), dict) else {}
    parts, holds = {}, []
    for key, class_name in (('G_ema', 'Generator'), ('G', 'Generator'), ('D', 'Discriminator')):
        record = data.get(key)
        if record is not None and record.class_name == safe_pickle.PLACEHOLDER_CLASS[1]:
            record = None  # our writer's stand-in for "no D": the official loader insists on one
        if key == 'G' and record is data.get('G_ema'):
            record = None  # our writer's G when the source had no separate training G
        parts[key] = record_parts(record, key, class_name, path) if record is not None else None
        if record is not None:
            holds.append(key)
    if parts['G'] is not None and parts['G'].architecture != parts['G_ema'].architecture:
        raise safe_pickle.corrupt_error(path, 'its G and G_ema are networks of different kinds')
    extra = dict(augment_p=_augment_p(data.get('augment_pipe'), path),
                 training_set_kwargs=_json_ready_or_none(data.get('training_set_kwargs')), holds=holds)
    if note:
        extra['written_by'] = 'stylescope'
        if isinstance(note.get('fingerprint'), str):
            extra['recorded_fingerprint'] = note['fingerprint']
    return parts, extra


def record_parts(record, key, class_name, path):
    tensors, modules = safe_pickle.record_tensors(record, path)
    stylegan3 = class_name == 'Generator' and safe_pickle.contains_stylegan3(record)
    if record.class_name != class_name:
        raise StylescopeError(f"{path}: its {key} is a '{record.class_name}', not a StyleGAN {class_name}; "
                              f'only StyleGAN2-ADA and StyleGAN3 networks can be opened.')
    if 'synthesis.input' in modules and not stylegan3:
        raise safe_pickle.corrupt_error(path, f'its {key} has a StyleGAN3 input layer in a StyleGAN2 network')
    args, kwargs = record.state.get('_init_args') or (), record.state.get('_init_kwargs')
    names = _G_ARGS if class_name == 'Generator' else _D_ARGS
    if not isinstance(args, tuple) or not isinstance(kwargs, dict) or len(args) > len(names):
        raise safe_pickle.corrupt_error(path, f'{key} has no readable constructor arguments')
    architecture = 'stylegan3' if stylegan3 else 'stylegan2'
    raw = {**dict(zip(names, args)), **kwargs}
    return NetParts(kwargs_for(class_name, raw, key, path, architecture),
                    {name: to_float32(t) for name, t in tensors.items()}, architecture)


def kwargs_for(class_name, raw, key, path, architecture='stylegan2'):
    """Constructor kwargs as our generators / Discriminator take them, JSON-ready. StyleGAN3
    generators take the official (flat) arguments as they are."""
    try:
        if class_name != 'Generator' or architecture == 'stylegan3':
            return json_ready(raw)
        return _generator_kwargs(raw)
    except (TypeError, ValueError) as e:
        raise safe_pickle.corrupt_error(path, f'{key} constructor arguments: {e}') from None


def _generator_kwargs(raw):
    """Plain kwargs for our Generator; the stylegan3 repo's StyleGAN2 generator takes the
    synthesis arguments flat, so anything unknown at the top moves into synthesis_kwargs."""
    kwargs = json_ready(raw)
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k not in _G_ARGS}
    synthesis = dict(kwargs.get('synthesis_kwargs') or {}, **flat)
    for key in _RUNTIME_ONLY_KWARGS:
        synthesis.pop(key, None)
    if synthesis or 'synthesis_kwargs' in kwargs:
        kwargs['synthesis_kwargs'] = synthesis
    return kwargs


def _augment_p(record, path):
    if record is None:
        return None
    tensors, _ = safe_pickle.record_tensors(record, path)
    p = tensors.get('p')
    if p is None or p.numel() != 1:
        return None
    return float(p.reshape([]))


def _json_ready_or_none(obj):
    try:
        return json_ready(obj) if isinstance(obj, dict) else None
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------
# Writing

MODULE_PATH = 'training.networks'
# The stylegan3 repo keeps its StyleGAN2 classes (whose discriminator StyleGAN3 trains with) here.
STYLEGAN3_REPO_SG2_PATH = 'training.networks_stylegan2'
PICKLE_PROTOCOL = 4  # the Python 3.7 of the stylegan2-ada-pytorch era reads 4, not 5

# Plain attributes each official class's forward (or its loader) reads, per class; the names
# are the official ones, and ours carry the same names and values. The stylegan3 repo's copy of
# these classes reads a few more (in_/out_channels, w_dim, num_fp16_res): written too, harmless
# to stylegan2-ada-pytorch, so the state is complete for either.
_ATTRIBUTES = {
    'Generator': ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels', 'num_ws'),
    'MappingNetwork': ('z_dim', 'c_dim', 'w_dim', 'num_ws', 'num_layers', 'w_avg_beta'),
    'FullyConnectedLayer': ('in_features', 'out_features', 'activation', 'weight_gain', 'bias_gain'),
    'SynthesisNetwork': ('w_dim', 'img_resolution', 'img_resolution_log2', 'img_channels', 'block_resolutions',
                         'num_ws', 'num_fp16_res'),
    'SynthesisBlock': ('in_channels', 'out_channels', 'w_dim', 'resolution', 'img_channels', 'is_last',
                       'architecture', 'use_fp16', 'channels_last', 'num_conv', 'num_torgb'),
    'SynthesisLayer': ('in_channels', 'out_channels', 'w_dim', 'resolution', 'up', 'use_noise', 'activation',
                       'conv_clamp', 'padding', 'act_gain'),
    'ToRGBLayer': ('in_channels', 'out_channels', 'w_dim', 'conv_clamp', 'weight_gain'),
    'Conv2dLayer': ('in_channels', 'out_channels', 'activation', 'up', 'down', 'conv_clamp', 'padding',
                    'weight_gain', 'act_gain'),
    'Discriminator': ('c_dim', 'img_resolution', 'img_resolution_log2', 'img_channels', 'block_resolutions'),
    'DiscriminatorBlock': ('in_channels', 'resolution', 'img_channels', 'first_layer_idx', 'architecture',
                           'use_fp16', 'channels_last', 'num_layers'),
    'DiscriminatorEpilogue': ('in_channels', 'cmap_dim', 'resolution', 'img_channels', 'architecture'),
    'MinibatchStdLayer': ('group_size', 'num_channels'),
}
# Gains the official code keeps as numpy float64 (np.sqrt results): written the same way.
_FLOAT64_ATTRIBUTES = ('weight_gain', 'act_gain')
# The hook tables of an nn.Module's __dict__. torch's Module.__setstate__ re-creates most that a
# file lacks but not _forward_hooks / _backward_hooks, and old torch none of them: write all, empty.
_HOOK_TABLES = ('_backward_pre_hooks', '_backward_hooks', '_forward_hooks', '_forward_hooks_with_kwargs',
                '_forward_hooks_always_called', '_forward_pre_hooks', '_forward_pre_hooks_with_kwargs',
                '_state_dict_hooks', '_state_dict_pre_hooks', '_load_state_dict_pre_hooks',
                '_load_state_dict_post_hooks')


class _EasyDict(dict):
    """A dict the writer emits as dnnlib.util.EasyDict (how the official code nests kwargs)."""


class _Placeholder:
    """Stands for "no discriminator": written as an empty torch.nn.Identity module."""


def _easy(obj):
    if isinstance(obj, dict):
        return _EasyDict({k: _easy(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return [_easy(v) for v in obj]
    return obj


def _module_internals(module):
    """The nn.Module part of a state: tensors (detached CPU copies), children, empty hooks."""
    def parameter(t):
        return None if t is None else torch.nn.Parameter(t.detach().to('cpu').clone(), requires_grad=False)

    def buffer(t):
        return None if t is None else t.detach().to('cpu').clone()
    state = {'training': False}
    if module is not None:
        state['_parameters'] = {k: parameter(v) for k, v in module._parameters.items()}
        state['_buffers'] = {k: buffer(v) for k, v in module._buffers.items()}
        state['_non_persistent_buffers_set'] = set(module._non_persistent_buffers_set)
        state['_modules'] = dict(module._modules)
    else:
        state.update(_parameters={}, _buffers={}, _non_persistent_buffers_set=set(), _modules={})
    for table in _HOOK_TABLES:
        state[table] = collections.OrderedDict()
    state['_is_full_backward_hook'] = None
    return state


def _attribute(module, root, name):
    """Value of an official attribute on one of our modules (a few live only in kwargs)."""
    if hasattr(module, name):
        value = getattr(module, name)
    elif name == 'num_fp16_res':  # SynthesisNetwork: ours keeps it in the Generator's kwargs
        value = (root.init_kwargs.get('synthesis_kwargs') or {}).get('num_fp16_res', 0)
    elif name == 'w_dim':  # SynthesisLayer / ToRGBLayer: the width of their affine layer
        value = module.affine.in_features
    else:
        raise TypeError(f'{type(module).__name__} has no attribute {name!r} for an official pickle')
    if name in _FLOAT64_ATTRIBUTES:
        value = np.float64(value)
    return list(value) if isinstance(value, tuple) else value


class _OfficialPickler(pickle._Pickler):
    """Pure-Python pickler that writes our modules as GLOBAL <official class> + NEWOBJ + BUILD.

    The opcodes are written here rather than by registering stand-in classes under
    `training.networks` in sys.modules, which would be visible to every thread of the app."""

    def __init__(self, file, roots, stylegan2_path=MODULE_PATH):
        super().__init__(file, protocol=PICKLE_PROTOCOL)
        self.roots = roots  # {id(root module): (root, its recorded _init_kwargs)}
        self.current_root = None
        self.stylegan2_path = stylegan2_path  # where the StyleGAN2 classes live in the repo the file is for

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, (torch.nn.Module, _Placeholder)) or type(obj) is _EasyDict:
            memo = self.memo.get(id(obj))
            if memo is not None:
                self.write(self.get(memo[0]))
                return
            if type(obj) is _EasyDict:
                self._save_object('dnnlib.util', 'EasyDict', obj, None, list(obj.items()))
            elif isinstance(obj, _Placeholder):
                self._save_object(*safe_pickle.PLACEHOLDER_CLASS, obj, _module_internals(None))
            else:
                self._save_object(*self._describe(obj))
            return
        super().save(obj, save_persistent_id)

    def _describe(self, module):
        name = type(module).__name__
        if type(module).__module__ == 'core.networks_stylegan3':
            return self._describe_stylegan3(module)
        if name not in _ATTRIBUTES or not isinstance(module, (torch.nn.Module,)):
            raise TypeError(f'an official StyleGAN2 pickle cannot hold a {name} module')
        if id(module) in self.roots:
            self.current_root, init_kwargs = self.roots[id(module)]
        else:
            init_kwargs = {}  # submodules: the official loader reads only the roots' kwargs
        state = _module_internals(module)
        for attr, value in vars(module).items():
            # Absent layers (a bias=False conv's bias, a missing mbstd) are plain None attributes
            # the official forward tests, as in ours.
            if value is None and not attr.startswith('_'):
                state[attr] = None
        for attr in _ATTRIBUTES[name]:
            state[attr] = _attribute(module, self.current_root, attr)
        state['_init_args'] = ()
        state['_init_kwargs'] = _easy(init_kwargs)
        return self.stylegan2_path, name, module, state

    def _describe_stylegan3(self, module):
        # Our StyleGAN3 modules carry the official attribute names and values one to one
        # (core/networks_stylegan3.py), so their plain attributes are the official state.
        name = type(module).__name__
        if name not in safe_pickle.STYLEGAN3_CLASS_NAMES:
            raise TypeError(f'an official StyleGAN3 pickle cannot hold a {name} module')
        init_kwargs = self.roots[id(module)][1] if id(module) in self.roots else {}
        state = _module_internals(module)
        for attr, value in vars(module).items():
            if not attr.startswith('_') and attr not in ('training', 'init_kwargs'):
                state[attr] = list(value) if isinstance(value, tuple) else value
        state['_init_args'] = ()
        state['_init_kwargs'] = _easy(init_kwargs)
        return safe_pickle.STYLEGAN3_MODULE_PATH, name, module, state

    def _save_object(self, module_path, class_name, obj, state, items=None):
        self.save(module_path)
        self.save(class_name)
        self.write(pickle.STACK_GLOBAL + pickle.EMPTY_TUPLE + pickle.NEWOBJ)
        self.memoize(obj)
        if items:
            self.write(pickle.MARK)
            for key, value in items:
                self.save(key)
                self.save(value)
            self.write(pickle.SETITEMS)
        if state is not None:
            self.save(state)
            self.write(pickle.BUILD)


def write_official_pickle(path, G_ema, D=None, G=None, training_set_kwargs=None, extra=None):
    """Write {'G', 'D', 'G_ema', 'training_set_kwargs'} as a pickle the official loader
    (legacy.load_network_pkl) loads when run from its checkout, atomically: for a StyleGAN2
    G_ema, stylegan2-ada-pytorch's (classes under training.networks); for a StyleGAN3 one, the
    stylegan3 repo's (training.networks_stylegan3, its D under training.networks_stylegan2).

    G defaults to G_ema (the official loader needs all three); without D an empty
    torch.nn.Identity stands in (generation never touches D; training from the file starts
    a fresh D). `extra` (JSON-ready dict) goes into the note our reader keeps in meta."""
    from core.model_io import fingerprint  # model_io imports this module
    if not isinstance(G_ema, (Generator, StyleGAN3Generator)) or (G is not None and type(G) is not type(G_ema)) \
            or (D is not None and not isinstance(D, Discriminator)):
        raise TypeError('write_official_pickle takes a core.networks or core.networks_stylegan3 Generator (G and '
                        'G_ema of one kind) and a core.networks Discriminator')
    G = G if G is not None else G_ema
    note = dict(json_ready(extra or {}), format_version=1, fingerprint=fingerprint(G_ema),
                holds=['G_ema'] + (['G'] if G is not G_ema else []) + (['D'] if D is not None else []))
    data = {'training_set_kwargs': json_ready(training_set_kwargs) if training_set_kwargs is not None else None,
            'G': G, 'D': D if D is not None else _Placeholder(), 'G_ema': G_ema, NOTE_KEY: note}
    roots = {id(net): (net, json_ready(net.init_kwargs)) for net in (G, G_ema, D) if net is not None}
    stylegan2_path = STYLEGAN3_REPO_SG2_PATH if isinstance(G_ema, StyleGAN3Generator) else MODULE_PATH

    def write(f):
        _OfficialPickler(f, roots, stylegan2_path).dump(data)
    try:
        atomic_write(path, write)
    except OSError as e:
        raise StylescopeError(f'could not write {path} ({e.strerror or e}); check the folder exists, is '
                              f'writable and has free space.') from None
