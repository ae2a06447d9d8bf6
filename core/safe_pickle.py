"""Restricted reader for official StyleGAN2-ADA network pickles.

A network pickle names Python callables that the stock unpickler would import and call, and
every network module in it carries the full source of its Python module, which the official
loader exec()s. This reader resolves only the few globals a network pickle needs (tensors,
containers, numpy scalars, persistence records) to safe replacements, refuses every other
global before it can be called, and never runs the embedded source: each network module
becomes a passive `PersistentRecord`. Facts about the format:
shared/reference/official-stylegan2-ada.md, section 1a.
"""
import _compat_pickle
import codecs
import collections
import hashlib
import io
import pickle
import struct
import warnings

import numpy as np
import torch

from core.errors import StylescopeError

PERSISTENCE_VERSION = 6
TF_NETWORK_CLASS = ('dnnlib.tflib.network', 'Network')
# Marks of StyleGAN3 networks: its Fourier-feature input layer, and the op only its
# generator's module source imports (the stylegan3 repo's StyleGAN2 classes do not).
STYLEGAN3_CLASSES = {'SynthesisInput'}
STYLEGAN3_SOURCE_MARKS = ('filtered_lrelu',)


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict, no attribute magic."""


class PersistentRecord:
    """A torch_utils.persistence object kept as data: class name, state (the module's
    __dict__) and a sha256 of the embedded module source, which is never executed."""
    __slots__ = ('class_name', 'state', 'source_sha256')

    def __init__(self, class_name, state, source_sha256):
        self.class_name = class_name
        self.state = state
        self.source_sha256 = source_sha256

    def __repr__(self):
        return f'PersistentRecord({self.class_name!r})'


class _Corrupt(Exception):
    """Raised inside the unpickler for malformed data; reported as a corrupt file."""


def _expect(condition, what):
    if not condition:
        raise _Corrupt(what)


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    # Only real storages (from _load_storage) with plain integer geometry reach torch.
    _expect(isinstance(storage, torch.storage.TypedStorage), 'a tensor without a storage')
    geometry = [offset, *size, *stride]
    _expect(all(type(v) is int and v >= 0 for v in geometry), 'a tensor with a bad shape')
    _expect(len(size) == len(stride), 'a tensor with a bad shape')
    return torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), False,
                                           collections.OrderedDict())


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    # Parameters come back as plain tensors: the loader copies them into its own modules.
    _expect(isinstance(data, torch.Tensor), 'a parameter without a tensor')
    return data


def _latin1_encode(text, encoding='latin1'):
    # Protocol 2 writes bytes as _codecs.encode(str, 'latin1'); nothing else is needed.
    _expect(isinstance(text, str) and encoding in ('latin1', 'latin-1'), 'a bad byte string')
    return codecs.encode(text, 'latin1')


def _numpy_dtype(spec, align=False, copy=False):
    _expect(isinstance(spec, str), 'a bad numpy dtype')
    dtype = np.dtype(spec, align, copy)
    _expect(not dtype.hasobject, 'a numpy object dtype')
    return dtype


def _numpy_scalar(dtype, data=None):
    _expect(isinstance(dtype, np.dtype) and not dtype.hasobject, 'a numpy object scalar')
    _expect(isinstance(data, bytes) and len(data) == dtype.itemsize, 'a bad numpy scalar')
    return np.frombuffer(data, dtype)[0]


class _GuardedArray(np.ndarray):
    """ndarray whose unpickling state is checked (no object dtype) before numpy sees it."""

    def __setstate__(self, state):
        _expect(isinstance(state, tuple) and len(state) == 5, 'a bad numpy array')
        dtype, raw = state[2], state[4]
        _expect(isinstance(dtype, np.dtype) and not dtype.hasobject, 'a numpy object array')
        _expect(isinstance(raw, bytes), 'a bad numpy array')
        super().__setstate__(state)


# What `numpy.ndarray` resolves to: a token only _numpy_reconstruct accepts, not callable.
_NDARRAY_TOKEN = object()


def _numpy_reconstruct(cls, shape, typecode):
    _expect(cls is _NDARRAY_TOKEN, 'a numpy array of an unknown class')
    return np.ndarray.__new__(_GuardedArray, (0,), np.dtype('b'))


def _numpy_frombuffer(buffer, dtype, shape, order):
    # Protocol 5 writes arrays as _frombuffer(bytearray, dtype, shape, order).
    _expect(isinstance(buffer, (bytes, bytearray)) and isinstance(dtype, np.dtype) and not dtype.hasobject,
            'a bad numpy array')
    _expect(order in ('C', 'F') and all(type(n) is int and n >= 0 for n in shape), 'a bad numpy array')
    return np.frombuffer(bytes(buffer), dtype).reshape(shape, order=order)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose find_class knows only the globals of a network pickle."""

    def __init__(self, file, name):
        super().__init__(file)
        self._name = name
        self._sha_cache = {}

    def find_class(self, module, name):
        # Protocol 2 spells some globals the Python 2 way (__builtin__.set): use Python 3 names.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name),
                                                       (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        target = _ALLOWED.get((module, name))
        if target is not None:
            return target
        if (module, name) == ('torch_utils.persistence', '_reconstruct_persistent_obj'):
            return self._make_record
        if (module, name) == ('torch.storage', '_load_from_bytes'):
            return self._load_storage
        if (module, name) == TF_NETWORK_CLASS:
            raise StylescopeError(
                f'{self._name} is a TensorFlow StyleGAN/StyleGAN2 pickle; convert it with the official '
                f'legacy.py first (python legacy.py --source={self._name} --dest=converted.pkl) '
                f'or download the PyTorch version of the model.')
        raise StylescopeError(
            f"{self._name}: refused to unpickle '{module}.{name}': the file references code outside a "
            f'network pickle; only official StyleGAN2-ADA pickles and Stylescope .safetensors files '
            f'can be opened.')

    def _load_storage(self, blob):
        # The blob is a legacy torch.save stream; torch's weights-only reader parses it and
        # refuses any global other than storage classes.
        _expect(isinstance(blob, bytes), 'a bad tensor storage')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # TypedStorage deprecation notices
                storage = torch.load(io.BytesIO(blob), map_location='cpu', weights_only=True)
        except pickle.UnpicklingError:
            raise StylescopeError(
                f'{self._name}: refused to load a tensor storage that is corrupt or references code outside a '
                f'network pickle; get a fresh copy of the file from where it came from.') from None
        _expect(isinstance(storage, torch.storage.TypedStorage), 'a bad tensor storage')
        return storage

    def _make_record(self, meta):
        _expect(isinstance(meta, dict), 'a bad persistence record')
        _expect(meta.get('type') == 'class' and meta.get('version') == PERSISTENCE_VERSION,
                f"a persistence record of type {meta.get('type')!r} version {meta.get('version')!r}")
        class_name, source, state = meta.get('class_name'), meta.get('module_src'), meta.get('state')
        _expect(isinstance(class_name, str) and isinstance(source, str) and isinstance(state, dict),
                'a bad persistence record')
        if class_name in STYLEGAN3_CLASSES or any(mark in source for mark in STYLEGAN3_SOURCE_MARKS):
            raise stylegan3_error(self._name)
        sha = self._sha_cache.get(id(source))  # records share one memoised source string
        if sha is None:
            sha = self._sha_cache[id(source)] = hashlib.sha256(source.encode('utf-8', 'replace')).hexdigest()
        return PersistentRecord(class_name, state, sha)


_ALLOWED = {
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('builtins', 'set'): set,
    ('_codecs', 'encode'): _latin1_encode,
    ('numpy', 'dtype'): _numpy_dtype,
    ('numpy', 'ndarray'): _NDARRAY_TOKEN,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy._core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy.core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _numpy_reconstruct,
    ('numpy.core.numeric', '_frombuffer'): _numpy_frombuffer,
    ('numpy._core.numeric', '_frombuffer'): _numpy_frombuffer,
    ('dnnlib.util', 'EasyDict'): EasyDict,
    ('dnnlib', 'EasyDict'): EasyDict,
}


def stylegan3_error(name):
    return StylescopeError(f'{name} is a StyleGAN3 pickle; Stylescope opens StyleGAN2-ADA networks only, '
                           f'so pick a StyleGAN2 or StyleGAN2-ADA model.')


def short_reason(error):
    text = str(error).splitlines()[0][:120].rstrip('.') if str(error) else ''
    return text or type(error).__name__


def unreadable_error(name, error):
    return StylescopeError(f'could not read {name} ({error.strerror or error}); check that the file is there '
                           f'and that you may read it.')


def corrupt_error(name, reason):
    return StylescopeError(f'{name} is truncated or corrupt ({reason}); download or copy the file again.')


# Everything malformed data can make the C unpickler or our replacements raise.
_LOAD_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, RuntimeError, MemoryError, struct.error, OverflowError, UnicodeDecodeError,
                _Corrupt)


def load_pickle(path, name):
    """Unpickle `path` with the restricted reader; `name` is how messages call the file."""
    try:
        f = open(path, 'rb')
    except OSError as e:
        raise unreadable_error(name, e) from None
    with f:
        head = f.read(4)
        if not head:
            raise corrupt_error(name, 'the file is empty')
        if head.startswith(b'PK\x03\x04'):
            raise StylescopeError(f'{name} is a zip archive (a torch.save checkpoint?), not a network pickle; '
                                  f'open an official StyleGAN2-ADA .pkl or a Stylescope .safetensors file.')
        f.seek(0)
        try:
            return _RestrictedUnpickler(f, name).load()
        except StylescopeError:
            raise
        except _LOAD_ERRORS as e:
            raise corrupt_error(name, short_reason(e)) from None


def record_tensors(record, name, prefix=''):
    """({dotted name: tensor} of the persistent parameters and buffers of a module record and
    its sub-records, {dotted module path: class name}); `name` is the file, for messages."""
    tensors, modules = {}, {}
    try:
        _walk(record, prefix, tensors, modules, name)
    except (TypeError, AttributeError) as e:  # keys or tables of the wrong type
        raise corrupt_error(name, short_reason(e)) from None
    return tensors, modules


MAX_DEPTH = 32  # a StyleGAN2 module tree is 4 deep; anything far deeper is not a network


def _walk(record, prefix, tensors, modules, name, depth=0):
    where = prefix.rstrip('.') or 'root'
    if not isinstance(record, PersistentRecord) or depth > MAX_DEPTH:
        raise corrupt_error(name, f'module {where} is not a network record')
    modules[prefix.rstrip('.')] = record.class_name
    state = record.state
    skip = state.get('_non_persistent_buffers_set') or set()
    for table in ('_parameters', '_buffers', '_modules'):
        if not isinstance(state.get(table) or {}, dict):
            raise corrupt_error(name, f'module {where} has a malformed {table} table')
    for table in ('_parameters', '_buffers'):
        for key, value in (state.get(table) or {}).items():
            if value is None or (table == '_buffers' and key in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise corrupt_error(name, f'{prefix}{key} is not a tensor')
            tensors[prefix + key] = value
    for key, child in (state.get('_modules') or {}).items():
        if child is not None:
            _walk(child, f'{prefix}{key}.', tensors, modules, name, depth + 1)
