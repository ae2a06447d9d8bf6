"""Small files that claim big things, for tests/test_bad_input.py: each builder writes a few
kilobytes (a deflate bomb of gigabytes: 1 kB a MiB), whatever the file pretends to hold, so
nothing large ever reaches the disk. Test-only code, never imported by core/."""
import copy
import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import safetensors.torch
import torch

from core.model_io import save_network
from tests import official_pickle
from tests.official_pickle import dump_official, official_snapshot


# ----------------------------------------------------------------------------------------------
# NumPy containers

def npy_header(shape, dtype='<f4'):
    """The bytes of a version 1.0 .npy header for an array of `shape` (its data not included)."""
    header = repr({'descr': dtype, 'fortran_order': False, 'shape': tuple(shape)})
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + ' ' * pad + '\n'
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode('latin1')


def npy_claiming(path, shape, dtype='<f4', data=b'\0' * 64):
    """An .npy whose header claims `shape` but which holds only `data`."""
    with open(path, 'wb') as f:
        f.write(npy_header(shape, dtype) + data)
    return path


def npz_of(path, members):
    """An .npz from {key: bytes of its .npy member}."""
    with zipfile.ZipFile(path, 'w') as z:
        for key, data in members.items():
            z.writestr(f'{key}.npy', data)
    return path


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def zip_by_hand(path, entries):
    """A zip from entries (name, data, uncompressed size, crc, declared size or None, deflated)
    as stored() and zeros_bomb() make them, written field by field so that the headers can claim
    what the data is not. Deflated data comes compressed, so a bomb never exists inflated here."""
    out, central = bytearray(), bytearray()
    for name, data, real_size, crc, declared, deflated in entries:
        size = real_size if declared is None else declared
        encoded, offset, method = name.encode(), len(out), 8 if deflated else 0
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, method, 0, 0, crc, len(data), size,
                           len(encoded), 0) + encoded + data
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, method, 0, 0, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    start = len(out)
    out += central + struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(entries), len(entries), len(central), start, 0)
    with open(path, 'wb') as f:
        f.write(bytes(out))
    return path


def stored(name, data, declared=None):
    """A zip_by_hand entry kept as it is (optionally declaring another size)."""
    return (name, data, len(data), zlib.crc32(data), declared, False)


def zeros_bomb(name, n_mib, declared=None, head=b''):
    """A zip_by_hand entry that inflates to `head` then zeros, about n_mib MiB in all, from a few
    kB: one 1 MiB deflate block flushed so it stands alone, repeated. Its CRC is left 0 (a reader
    that checks sizes first never gets that far)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(b'\0' * (1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)
    data = first + block * n_mib + comp.flush()
    return (name, data, len(head) + (n_mib << 20), 0, declared, True)


def deep_json(depth):
    return '[' * depth + ']' * depth


# ----------------------------------------------------------------------------------------------
# Images

def png_claiming(path, width, height):
    """A PNG whose header claims width x height RGB pixels, with almost no pixel data: the
    decompression-bomb shape Pillow warns about."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64))
                + chunk(b'IEND', b''))
    return path


# ----------------------------------------------------------------------------------------------
# Network files

def with_kwargs(G, **changes):
    """A copy of G whose recorded constructor kwargs say something else (the tensors stay)."""
    G = copy.deepcopy(G)
    kwargs = copy.deepcopy(G.init_kwargs)
    for key, value in changes.items():
        if '.' in key:
            outer, inner = key.split('.', 1)
            kwargs[outer] = dict(kwargs.get(outer) or {}, **{inner: value})
        else:
            kwargs[key] = value
    G.init_kwargs = kwargs
    return G


def poisoned(G, name='synthesis.b4.conv1.weight', value=float('nan')):
    """A copy of G with one tensor holding NaN (or inf): what a diverged training run saves."""
    G = copy.deepcopy(G)
    with torch.no_grad():
        dict(G.named_parameters())[name].view(-1)[0] = value
    return G


def safetensors_with_header(path, G, D=None, **header):
    """A Stylescope .safetensors of G (and D) whose metadata entries in `header` are replaced
    (strings)."""
    save_network(path, G, D=D)
    with safetensors.safe_open(path, framework='pt') as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(header)
    safetensors.torch.save_file(tensors, path, metadata=meta)
    return path


class _RawKwargsPickler(official_pickle._OfficialPickler):
    """The fixture's official pickler, with one module's _init_kwargs replaced by any object, as
    it is: self-referencing, nested, shared, not a dict."""

    def __init__(self, *args, raw_kwargs):
        super().__init__(*args)
        self.raw_kwargs = raw_kwargs

    def _state(self, module):
        state = super()._state(module)
        if id(module) in self.raw_kwargs:
            state['_init_kwargs'] = self.raw_kwargs[id(module)]
        return state


def official_with_kwargs(path, G, kwargs):
    """An official-layout pickle of G whose G_ema records `kwargs` (any picklable object)."""
    snapshot = official_snapshot(G, augment_p=None)
    G_ema = snapshot['G_ema']
    with official_pickle._stand_in_modules(), open(path, 'wb') as f:
        _RawKwargsPickler(f, 3, False, official_pickle.PLACEHOLDER_SRC, {id(G_ema): {}},
                          raw_kwargs={id(G_ema): kwargs}).dump(snapshot)
    return path


def official_with_tensor(path, G, name, tensor):
    """An official-layout pickle of G with one parameter replaced by `tensor` (which may be a
    view that claims more elements than its storage holds)."""
    snapshot = official_snapshot(G, augment_p=None)
    module_path, attr = name.rsplit('.', 1)
    module = snapshot['G_ema'].get_submodule(module_path)
    module._parameters[attr] = tensor
    dump_official(snapshot, path)
    return path


def billion_laughs(levels=40, width=10):
    """A list of `width` references to a list of `width` references ... `levels` deep: tiny as
    a pickle (every level is stored once), width**levels leaves when walked naively."""
    node = [0]
    for _ in range(levels):
        node = [node] * width
    return node


def self_referencing():
    d = {'num_layers': 2}
    d['again'] = d
    return d


def nested(depth):
    node = {}
    for _ in range(depth):
        node = {'a': node}
    return node


def write_json(path, data):
    with open(path, 'w') as f:
        f.write(data if isinstance(data, str) else json.dumps(data))
    return path


def folder(path):
    os.makedirs(path, exist_ok=True)
    return path
