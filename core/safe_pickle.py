"""Restricted reader for network pickles: official StyleGAN2-ADA and StyleGAN3, TF-era, Stylescope-written.

A network pickle names Python callables that the stock unpickler would import and call, and
every network module in it carries the full source of its Python module, which the official
loader exec()s. This reader resolves only the few globals a network pickle needs (tensors,
containers, numpy scalars and arrays, network records) to safe replacements, refuses every other
global before it can be called, and never runs any embedded source. Three kinds of network
record come back as passive data:
- `PersistentRecord`: a torch_utils.persistence object of an official pickle (its module
  source is hashed, never executed);
- `PersistentRecord` subclasses named by module path (`training.networks.Generator`, ...), as
  Stylescope's own official-pickle writer emits them (core.format_official);
- `TFNetworkRecord`: a dnnlib.tflib.network.Network of a TensorFlow-era pickle (its
  build_module_src is never executed; core.format_tf converts its variables).
One pickle holds one family: TensorFlow records beside torch tensors are refused.
Facts about the formats: shared/reference/official-stylegan2-ada.md (1a) and
shared/reference/checkpoint-formats.md.
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

from core.errors import StylescopeError, short_reason  # noqa: F401 (readers call safe_pickle.short_reason)

PERSISTENCE_VERSION = 6
TF_NETWORK_CLASS = ('dnnlib.tflib.network', 'Network')
# Marks of StyleGAN3 networks: its Fourier-feature input layer, and the op only its
# generator's module source imports (the stylegan3 repo's StyleGAN2 classes do not).
STYLEGAN3_CLASSES = {'SynthesisInput'}
STYLEGAN3_SOURCE_MARKS = ('filtered_lrelu',)
# The module path and classes of the stylegan3 repo's StyleGAN3 networks, as Stylescope's writer
# names them (core.format_official).
STYLEGAN3_MODULE_PATH = 'training.networks_stylegan3'
STYLEGAN3_CLASS_NAMES = ('Generator', 'MappingNetwork', 'SynthesisNetwork', 'SynthesisInput', 'SynthesisLayer',
                         'FullyConnectedLayer')
# Module paths under which Stylescope's writer names the official classes: stylegan2-ada-pytorch
# and the stylegan3 repo's copy of the StyleGAN2 networks. Only these class names resolve there.
OFFICIAL_MODULE_PATHS = ('training.networks', 'training.networks_stylegan2')
OFFICIAL_CLASS_NAMES = ('Generator', 'MappingNetwork', 'SynthesisNetwork', 'SynthesisBlock', 'SynthesisLayer',
                        'ToRGBLayer', 'FullyConnectedLayer', 'Conv2dLayer', 'Discriminator', 'DiscriminatorBlock',
                        'DiscriminatorEpilogue', 'MinibatchStdLayer')
AUGMENT_PIPE_CLASS = ('training.augment', 'AugmentPipe')
# The official loader needs some module as D; a file written without one holds this stand-in.
PLACEHOLDER_CLASS = ('torch.nn.modules.linear', 'Identity')


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict, no attribute magic."""


class PersistentRecord:
    """A network module kept as data: class name, state (the module's __dict__) and a sha256
    of the embedded module source (None when the file names the class by module path), which
    is never executed. is_stylegan3 says the record belongs to a StyleGAN3 network."""
    __slots__ = ('class_name', 'state', 'source_sha256', 'is_stylegan3')

    def __init__(self, class_name, state, source_sha256, is_stylegan3=False):
        self.class_name = class_name
        self.state = state
        self.source_sha256 = source_sha256
        self.is_stylegan3 = is_stylegan3

    def __repr__(self):
        return f'PersistentRecord({self.class_name!r})'


class ModuleRecord(PersistentRecord):
    """A module pickled as GLOBAL <module path>.<class> + NEWOBJ + BUILD(state): what the
    unpickler gets instead of the class. Subclasses per class name come from _module_record_type."""
    __slots__ = ()
    record_class_name = None
    record_is_stylegan3 = False

    def __new__(cls, *args):
        # NEWOBJ calls only __new__; an empty state until BUILD fills it in (a file without
        # the BUILD then reads as a module without tensors, not as a crash).
        self = object.__new__(cls)
        PersistentRecord.__init__(self, cls.record_class_name, {}, None, cls.record_is_stylegan3)
        return self

    def __setstate__(self, state):
        _expect(isinstance(state, dict), 'a module record without a state dict')
        self.class_name = self.record_class_name
        self.state = state
        self.source_sha256 = None
        self.is_stylegan3 = self.record_is_stylegan3


_MODULE_RECORD_TYPES = {}


def _module_record_type(class_name, stylegan3=False):
    # NEWOBJ needs a type; one passive subclass per class name (and family), made once.
    cls = _MODULE_RECORD_TYPES.get((class_name, stylegan3))
    if cls is None:
        cls = _MODULE_RECORD_TYPES[class_name, stylegan3] = type(
            f"{class_name}{'SG3' if stylegan3 else ''}Record", (ModuleRecord,),
            {'__slots__': (), 'record_class_name': class_name, 'record_is_stylegan3': stylegan3})
    return cls


class TFNetworkRecord:
    """A dnnlib.tflib.network.Network of a TensorFlow-era pickle kept as data: its pickled
    state dict (version, name, static_kwargs, components, build_module_src, variables, ...)."""
    __slots__ = ('state',)

    def __setstate__(self, state):
        _expect(isinstance(state, dict), 'a TensorFlow network without a state dict')
        self.state = state

    def __getattr__(self, key):  # net.variables, net.components, ... as the official stub reads them
        if key == 'state':
            raise AttributeError(key)
        try:
            return self.state[key]
        except KeyError:
            raise AttributeError(key) from None

    def __repr__(self):
        return f"TFNetworkRecord({self.state.get('name')!r})" if hasattr(self, 'state') else 'TFNetworkRecord()'


class _Corrupt(Exception):
    """Raised inside the unpickler for malformed data; reported as a corrupt file."""


class _Refused(Exception):
    """Raised inside the unpickler for data that could carry code (numpy object arrays)."""


def _expect(condition, what):
    if not condition:
        raise _Corrupt(what)


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    # Only real storages (from _load_storage) with plain integer geometry reach torch.
    _expect(isinstance(storage, torch.storage.TypedStorage), 'a tensor without a storage')
    geometry = [offset, *size, *stride]
    _expect(all(type(v) is int and v >= 0 for v in geometry), 'a tensor with a bad shape')
    _expect(len(size) == len(stride), 'a tensor with a bad shape')
    tensor = torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), False,
                                             collections.OrderedDict())
    _expect(not claims_more_than_it_holds(tensor), 'a tensor that claims more elements than its storage holds')
    return tensor


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
    if dtype.hasobject:  # object arrays and scalars unpickle arbitrary Python objects
        raise _Refused('a numpy array or scalar of Python objects')
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
        self._family = None  # 'torch' or 'tf', set by the first network global seen

    def find_class(self, module, name):
        # Protocol 2 spells some globals the Python 2 way (__builtin__.set): use Python 3 names.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name),
                                                       (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        target = _ALLOWED.get((module, name))
        if target is not None:
            if module.startswith('torch'):
                self._claim('torch')
            return target
        if (module, name) == ('torch_utils.persistence', '_reconstruct_persistent_obj'):
            self._claim('torch')
            return self._make_record
        if (module, name) == ('torch.storage', '_load_from_bytes'):
            self._claim('torch')
            return self._load_storage
        if (module, name) == TF_NETWORK_CLASS:
            self._claim('tf')
            return TFNetworkRecord
        if (module in OFFICIAL_MODULE_PATHS and name in OFFICIAL_CLASS_NAMES) or (module, name) in (
                AUGMENT_PIPE_CLASS, PLACEHOLDER_CLASS):
            self._claim('torch')
            return _module_record_type(name)
        if module == STYLEGAN3_MODULE_PATH and name in STYLEGAN3_CLASS_NAMES:
            self._claim('torch')
            return _module_record_type(name, stylegan3=True)
        raise StylescopeError(
            f"{self._name}: refused to unpickle '{module}.{name}': the file references code outside a "
            f'network pickle; only StyleGAN2 / StyleGAN3 network pickles (official, TensorFlow-era or written by '
            f'Stylescope), rosinality .pt checkpoints and Stylescope .safetensors files can be opened.')

    def _claim(self, family):
        # A TensorFlow pickle holds numpy arrays only; torch objects beside its network records
        # mean the file was put together by hand, so neither reading of it can be trusted.
        if self._family is None:
            self._family = family
        elif self._family != family:
            raise StylescopeError(
                f'{self._name}: refused to unpickle a file that mixes TensorFlow network records with PyTorch '
                f'objects; no tool writes such pickles, so get the model again from where it came from.')

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
        # StyleGAN3 is recognised here, where its module source is seen (and never run).
        is_stylegan3 = class_name in STYLEGAN3_CLASSES or any(mark in source for mark in STYLEGAN3_SOURCE_MARKS)
        sha = self._sha_cache.get(id(source))  # records share one memoised source string
        if sha is None:
            sha = self._sha_cache[id(source)] = hashlib.sha256(source.encode('utf-8', 'replace')).hexdigest()
        return PersistentRecord(class_name, state, sha, is_stylegan3)


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
                                  f'open it through core.model_io.open_network, which reads rosinality checkpoints.')
        if not head.startswith(b'\x80'):  # every binary pickle (protocol 2 and later) opens with PROTO
            raise StylescopeError(f'{name} is not a network pickle (it does not start as a pickle does: a text file '
                                  'or another kind of file renamed .pkl?); open a StyleGAN network .pkl, a Stylescope '
                                  '.safetensors or a rosinality .pt file.')
        f.seek(0)
        try:
            return check_loaded(_RestrictedUnpickler(f, name).load(), name)
        except StylescopeError:
            raise
        except _Refused as e:
            raise StylescopeError(f'{name}: refused to unpickle {e}, which can carry code; a network pickle holds '
                                  f'only numeric arrays, so get the file again from where it came from.') from None
        except _LOAD_ERRORS as e:
            raise corrupt_error(name, short_reason(e)) from None


# What a loaded file may unfold into: a network pickle or checkpoint is ~10,000 values and 6 deep.
# A pickle (and torch.save) stores a shared object once and refers to it after, so a few bytes
# can hold a list of ten references to a list of ten references ... forty deep: 10**40 values
# to whoever walks it (json, str, repr), a "billion laughs".
MAX_LOADED_VALUES = 1_000_000
MAX_LOADED_DEPTH = 64


def claims_more_than_it_holds(t):
    """A view over fewer elements than it has (a stride of 0 lets 8 bytes claim a terabyte): the
    first copy of it, to float32 say, would allocate all of it. Network tensors never are."""
    return t.numel() > 0 and (t.storage_offset() + t.numel()) * t.element_size() > t.untyped_storage().nbytes()


def _children(obj):
    if isinstance(obj, dict):
        return list(obj.keys()) + list(obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, (PersistentRecord, TFNetworkRecord)):
        return [getattr(obj, 'state', None)]
    if hasattr(obj, '__dict__') and type(obj).__name__ == 'Namespace':  # argparse.Namespace of a checkpoint
        return list(vars(obj).values())
    return []


def check_loaded(obj, name):
    """`obj` (what a file loaded into), refused with one sentence naming the file when it
    unfolds into more than MAX_LOADED_VALUES values counted as a walk would count them (shared
    references each time), nests deeper than MAX_LOADED_DEPTH, contains itself, or holds a
    tensor that claims more than its storage. Each distinct object is visited once."""
    sizes, open_ = {}, set()
    stack = [(obj, 0, False)]
    while stack:
        node, depth, finishing = stack.pop()
        key = id(node)
        if finishing:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_LOADED_VALUES:
                raise corrupt_error(name, f'it unfolds into more than {MAX_LOADED_VALUES:,} values through shared '
                                          'references')
            continue
        if key in sizes:
            continue
        if key in open_:
            raise corrupt_error(name, 'it contains itself')
        if depth > MAX_LOADED_DEPTH:
            raise corrupt_error(name, f'it nests more than {MAX_LOADED_DEPTH} levels deep')
        if isinstance(node, torch.Tensor):
            if claims_more_than_it_holds(node):
                raise corrupt_error(name, 'a tensor claims more elements than its storage holds')
            sizes[key] = 1
            continue
        children = _children(node)
        if not children:
            sizes[key] = 1
            continue
        open_.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children)
    return obj


def record_tensors(record, name, prefix=''):
    """({dotted name: tensor} of the persistent parameters and buffers of a module record and
    its sub-records, {dotted module path: class name}); `name` is the file, for messages."""
    tensors, modules = {}, {}
    try:
        _walk(record, prefix, tensors, modules, name)
    except (TypeError, AttributeError) as e:  # keys or tables of the wrong type
        raise corrupt_error(name, short_reason(e)) from None
    return tensors, modules


MAX_DEPTH = 32  # a StyleGAN module tree is 4 deep; anything far deeper is not a network


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


def contains_stylegan3(record, depth=0, seen=None):
    """True when a module record or any record below it belongs to a StyleGAN3 network (each
    record looked at once, however often the file shares it)."""
    seen = set() if seen is None else seen
    if not isinstance(record, PersistentRecord) or depth > MAX_DEPTH or id(record) in seen:
        return False
    seen.add(id(record))
    if record.is_stylegan3 or record.class_name in STYLEGAN3_CLASSES:
        return True
    children = record.state.get('_modules') if isinstance(record.state, dict) else None
    return isinstance(children, dict) and any(contains_stylegan3(c, depth + 1, seen) for c in children.values())
