"""Test fixtures: network pickles laid out like the ones the official code writes.

The official training loop pickles {training_set_kwargs, G, D, G_ema, augment_pipe}; each
network module becomes a call to torch_utils.persistence._reconstruct_persistent_obj with one
meta dict {type, version, module_src, class_name, state}, where state is the module's __dict__
(plus _init_args / _init_kwargs) and tensors pickle the normal torch way. Neither torch_utils nor
dnnlib exists here, so this writer registers stand-in modules under those names only while it
pickles; the stand-ins are never importable at load time, which is the point: the reader must
not need them. Test-only code, never imported by core/.
"""
import contextlib
import copy
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import torch

PLACEHOLDER_SRC = '# Stylescope test fixture: stands in for the module source an official pickle embeds.\n'
# Module.__dict__ keys of torch 1.7 (the era of the official ADA pickles), in their order.
TORCH1_KEYS = ('training', '_parameters', '_buffers', '_non_persistent_buffers_set', '_backward_hooks',
               '_forward_hooks', '_forward_pre_hooks', '_state_dict_hooks', '_load_state_dict_pre_hooks',
               '_modules')


def _reconstruct_persistent_obj(meta):  # stand-in: only its pickled name matters
    raise RuntimeError('fixture stand-in; a network pickle must never be loaded through it')


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict (pickles as that global)."""


class Network:
    """Stand-in for a TensorFlow-era dnnlib.tflib.network.Network."""

    def __init__(self, state):
        self.__dict__.update(state)

    def __getstate__(self):
        return dict(self.__dict__)


class AugmentPipe(torch.nn.Module):
    """Enough of the official AugmentPipe for a pickle: its `p` buffer and a few settings."""

    def __init__(self, p):
        super().__init__()
        self.register_buffer('p', torch.tensor(float(p)))
        self.register_buffer('Hz_geom', torch.zeros([12]))
        self.xflip, self.rotate90, self.xint, self.xint_max = 1.0, 1.0, 1.0, 0.125


class SynthesisInput(torch.nn.Module):
    """Enough of a StyleGAN3 input layer for a pickle to look like one."""

    def __init__(self, channels=4):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn([channels, channels]))
        self.register_buffer('freqs', torch.randn([channels, 2]))
        self.register_buffer('transform', torch.eye(3))


_STAND_INS = {
    'torch_utils.persistence': {'_reconstruct_persistent_obj': _reconstruct_persistent_obj},
    'dnnlib.util': {'EasyDict': EasyDict},
    'dnnlib.tflib.network': {'Network': Network},
}


@contextlib.contextmanager
def _stand_in_modules():
    """Register torch_utils / dnnlib stand-ins in sys.modules while pickling, then remove them."""
    names = {'torch_utils', 'dnnlib', 'dnnlib.tflib'} | set(_STAND_INS)
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        for module_name, members in _STAND_INS.items():
            for attr, obj in members.items():
                obj.__module__, obj.__qualname__ = module_name, attr
                setattr(sys.modules[module_name], attr, obj)
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _easy(obj):
    """Nested dicts -> EasyDicts, as dnnlib.util.construct_class_by_name passes them."""
    if isinstance(obj, dict):
        return EasyDict({k: _easy(v) for k, v in obj.items()})
    return obj


class _OfficialPickler(pickle.Pickler):
    """Pickles every torch module the way torch_utils.persistence does."""

    def __init__(self, file, protocol, torch1_style, module_src, root_kwargs):
        super().__init__(file, protocol=protocol)
        self.torch1_style = torch1_style
        self.module_src = module_src
        self.root_kwargs = root_kwargs  # {id(root module): its recorded _init_kwargs}

    def reducer_override(self, obj):
        if not isinstance(obj, torch.nn.Module):
            return NotImplemented
        meta = dict(type='class', version=6, module_src=self.module_src, class_name=type(obj).__name__,
                    state=self._state(obj))
        return _reconstruct_persistent_obj, (meta,), None

    def _state(self, module):
        state = {k: v for k, v in module.__dict__.items() if k != 'init_kwargs'}
        if self.torch1_style:
            torch1 = {k: state[k] for k in TORCH1_KEYS}
            for key in ('_parameters', '_buffers', '_modules'):
                torch1[key] = OrderedDict(torch1[key])
            internal = set(torch.nn.Module().__dict__)
            attributes = {k: v for k, v in state.items() if k not in internal}
            state = {**torch1, **attributes}
        kwargs = self.root_kwargs.get(id(module))
        state['_init_args'] = ()
        state['_init_kwargs'] = {k: _easy(v) for k, v in kwargs.items()} if kwargs is not None else {}
        return state


def official_snapshot(G_ema, D=None, G=None, augment_p=0.0, training_set_kwargs=None):
    """The dict the official training loop pickles, with copies of the modules prepared the
    same way (eval, no grad, CPU). augment_p=None means no augment pipe (--aug=noaug)."""
    def prepared(module):
        return copy.deepcopy(module).eval().requires_grad_(False).cpu() if module is not None else None
    if training_set_kwargs is None:
        training_set_kwargs = dict(class_name='training.dataset.ImageFolderDataset', path='datasets/fixture.zip',
                                   use_labels=G_ema.c_dim > 0, max_size=64, xflip=False,
                                   resolution=G_ema.img_resolution)
    return dict(training_set_kwargs=dict(training_set_kwargs), G=prepared(G), D=prepared(D),
                G_ema=prepared(G_ema), augment_pipe=AugmentPipe(augment_p) if augment_p is not None else None)


def dump_official(obj, path, protocol=3, torch1_style=False, module_src=PLACEHOLDER_SRC, init_kwargs=None):
    """Pickle `obj` (usually an official_snapshot dict) the official way. Top-level modules
    record their init_kwargs (or init_kwargs[key] when given) as the root _init_kwargs."""
    init_kwargs = init_kwargs or {}
    roots = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, torch.nn.Module):
                roots[id(value)] = init_kwargs.get(key, getattr(value, 'init_kwargs', {}))
    with _stand_in_modules(), open(path, 'wb') as f:
        _OfficialPickler(f, protocol, torch1_style, module_src, roots).dump(obj)


def write_official_pickle(path, G_ema, D=None, G=None, augment_p=0.0, protocol=3, torch1_style=False,
                          module_src=PLACEHOLDER_SRC, init_kwargs=None):
    """Write a network pickle laid out like an official stylegan2-ada-pytorch snapshot."""
    snapshot = official_snapshot(G_ema, D=D, G=G, augment_p=augment_p)
    dump_official(snapshot, path, protocol=protocol, torch1_style=torch1_style, module_src=module_src,
                  init_kwargs=init_kwargs)


def write_tf_pickle(path, protocol=2):
    """A TensorFlow-era (G, D, Gs) tuple of dnnlib.tflib.network.Network objects."""
    def net(name):
        return Network(dict(version=4, name=name, static_kwargs={'resolution': 32}, components={},
                            build_module_src='raise SystemExit("TF source must never run")\n',
                            build_func_name=f'{name}_main', variables=[('dense/weight', np.zeros([2, 2], np.float32))]))
    with _stand_in_modules(), open(path, 'wb') as f:
        pickle.dump((net('G'), net('D'), net('Gs')), f, protocol=protocol)


def with_stylegan3_input(G):
    """A copy of G with a `synthesis.input` SynthesisInput layer, as StyleGAN3 generators have."""
    G = copy.deepcopy(G)
    G.synthesis.input = SynthesisInput()
    return G
