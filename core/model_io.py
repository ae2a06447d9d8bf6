"""Open any network file -> LoadedNetwork(G, D, meta); write Stylescope .safetensors files.

Accepted: an official stylegan2-ada-pytorch network pickle (read by core.safe_pickle: no code
from the file ever runs), a Stylescope `.safetensors` file (`save_network`), and a training run
folder (its newest `network-snapshot-NNNNNN.*`). Every bad input stops with one StylescopeError
sentence that names the file and the fix.

Native file layout: tensors `G_ema.<name>` (+ optional `G.<name>`, `D.<name>`), string metadata
`format='stylescope-network'`, `format_version='1'`, `G_kwargs` / `D_kwargs` (JSON constructor
arguments), `fingerprint`, and each extra_meta entry JSON-encoded under its own key.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass

import safetensors
import safetensors.torch
import torch

from core import safe_pickle
from core.atomic import atomic_path
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.networks import Discriminator, Generator

FORMAT_NAME = 'stylescope-network'
FORMAT_VERSION = '1'
SNAPSHOT_RE = re.compile(r'^network-snapshot-(\d+)\.(safetensors|pkl)$')
_RESERVED_META = ('format', 'format_version', 'G_kwargs', 'D_kwargs', 'fingerprint')
_G_ARGS = ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels', 'mapping_kwargs', 'synthesis_kwargs')
_D_ARGS = ('c_dim', 'img_resolution', 'img_channels', 'architecture', 'channel_base', 'channel_max',
           'num_fp16_res', 'conv_clamp', 'cmap_dim', 'block_kwargs', 'mapping_kwargs', 'epilogue_kwargs')
# The stylegan3 repo's StyleGAN2 classes take a forward-pass default that holds no weights.
_RUNTIME_ONLY_KWARGS = ('fused_modconv_default',)
_KINDS = ('official StyleGAN2-ADA .pkl files, Stylescope .safetensors files and training run folders')


@dataclass
class LoadedNetwork:
    G: Generator                 # G_ema, the inference generator: eval(), requires_grad False
    D: Discriminator | None      # only with want_D / want_training and when the file has one
    meta: dict


@dataclass
class _NetParts:
    """One network as found in a file: constructor kwargs and {name: tensor}."""
    kwargs: dict
    tensors: dict


# ----------------------------------------------------------------------------------------------
# Opening

def open_network(path, device='cpu', want_D=False, want_training=False) -> LoadedNetwork:
    """Open an official .pkl, a Stylescope .safetensors or a run folder (newest snapshot).

    meta: source, format, G_kwargs, D_kwargs, resolution, c_dim, z_dim, w_dim, num_ws,
    img_channels, fingerprint, augment_p, training_set_kwargs, run_folder, plus any extra
    metadata of a .safetensors file; with want_training also G_train (non-EMA G, when present)
    and D is loaded whenever the file has one.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise StylescopeError(f'{path} does not exist; check the path (Stylescope opens {_KINDS}).')
    run_folder = None
    fmt = None
    if os.path.isdir(path):
        run_folder, path, fmt = path, newest_snapshot(path), 'run-folder'
    ext = os.path.splitext(path)[1].lower()
    if ext == '.pkl':
        parts, extra = _read_official_pickle(path)
        fmt = fmt or 'official-pkl'
    elif ext == '.safetensors':
        parts, extra = _read_safetensors(path)
        fmt = fmt or 'safetensors'
    else:
        raise StylescopeError(f"{path}: unknown network file type '{ext or '(none)'}'; Stylescope opens {_KINDS}.")

    G = _build(Generator, parts['G_ema'], 'G_ema', path)
    meta = dict(source=os.path.abspath(path), format=fmt, run_folder=run_folder and os.path.abspath(run_folder),
                G_kwargs=parts['G_ema'].kwargs, D_kwargs=parts['D'].kwargs if parts.get('D') else None,
                resolution=G.img_resolution, c_dim=G.c_dim, z_dim=G.z_dim, w_dim=G.w_dim, num_ws=G.num_ws,
                img_channels=G.img_channels, fingerprint=fingerprint(G),
                augment_p=extra.get('augment_p'), training_set_kwargs=extra.get('training_set_kwargs'))
    meta.update({key: value for key, value in extra.items() if key not in meta})
    D = None
    if (want_D or want_training) and parts.get('D'):
        D = _build(Discriminator, parts['D'], 'D', path).to(device)
    if want_training and parts.get('G'):
        meta['G_train'] = _build(Generator, parts['G'], 'G', path).to(device)
    return LoadedNetwork(G=G.to(device), D=D, meta=meta)


def newest_snapshot(folder) -> str:
    """Path of the run folder's newest network-snapshot-NNNNNN.safetensors / .pkl (highest
    NNNNNN; a .safetensors wins over a .pkl of the same number)."""
    found = []
    for entry in os.scandir(folder):
        m = SNAPSHOT_RE.match(entry.name)
        if m and entry.is_file():
            found.append((int(m.group(1)), m.group(2) == 'safetensors', entry.path))
    if not found:
        raise StylescopeError(f'{folder} contains no network-snapshot-NNNNNN.safetensors or .pkl file; pass a '
                              f'training run folder that has snapshots, or a network file.')
    return max(found)[2]


def _read_official_pickle(path):
    """-> ({'G_ema', 'G', 'D': _NetParts or None}, extra meta) from an official network pickle."""
    data = safe_pickle.load_pickle(path, path)
    if not isinstance(data, dict) or not isinstance(data.get('G_ema'), safe_pickle.PersistentRecord):
        raise StylescopeError(f'{path} is not a StyleGAN2-ADA network pickle (it has no G_ema network); '
                              f'open the network-snapshot-*.pkl a training run wrote, or a pretrained model.')
    parts = {}
    for key, class_name in (('G_ema', 'Generator'), ('G', 'Generator'), ('D', 'Discriminator')):
        record = data.get(key)
        parts[key] = _record_parts(record, key, class_name, path) if record is not None else None
    return parts, dict(augment_p=_augment_p(data.get('augment_pipe'), path),
                       training_set_kwargs=_json_ready_or_none(data.get('training_set_kwargs')))


def _record_parts(record, key, class_name, path):
    tensors, modules = safe_pickle.record_tensors(record, path)
    if 'synthesis.input' in modules:
        raise safe_pickle.stylegan3_error(path)
    if record.class_name != class_name:
        raise StylescopeError(f"{path}: its {key} is a '{record.class_name}', not a StyleGAN2-ADA {class_name}; "
                              f'only StyleGAN2-ADA networks can be opened.')
    args, kwargs = record.state.get('_init_args') or (), record.state.get('_init_kwargs')
    names = _G_ARGS if class_name == 'Generator' else _D_ARGS
    if not isinstance(args, tuple) or not isinstance(kwargs, dict) or len(args) > len(names):
        raise safe_pickle.corrupt_error(path, f'{key} has no readable constructor arguments')
    return _NetParts(_kwargs_for(class_name, {**dict(zip(names, args)), **kwargs}, key, path),
                     {name: _to_float32(t) for name, t in tensors.items()})


def _kwargs_for(class_name, raw, key, path):
    try:
        return _generator_kwargs(raw) if class_name == 'Generator' else json_ready(raw)
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


def _read_safetensors(path):
    try:
        with safetensors.safe_open(path, framework='pt') as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except OSError as e:
        raise safe_pickle.unreadable_error(path, e) from None
    except (safetensors.SafetensorError, ValueError, RuntimeError) as e:
        raise safe_pickle.corrupt_error(path, safe_pickle.short_reason(e)) from None
    if header.get('format') != FORMAT_NAME:
        raise StylescopeError(f'{path} is a .safetensors file but not a Stylescope network (no '
                              f"format='{FORMAT_NAME}' metadata); save networks with Stylescope, or open a .pkl.")
    if header.get('format_version') != FORMAT_VERSION:
        raise StylescopeError(f"{path} uses network format version {header.get('format_version')!r}, which this "
                              f'Stylescope does not know; update Stylescope.')
    meta = {key: _json(header[key], key, path) for key in header if key not in _RESERVED_META}
    parts = {}
    for prefix, kwargs_key in (('G_ema', 'G_kwargs'), ('G', 'G_kwargs'), ('D', 'D_kwargs')):
        group = {k[len(prefix) + 1:]: _to_float32(t) for k, t in tensors.items() if k.startswith(prefix + '.')}
        if not group:
            parts[prefix] = None
            continue
        if kwargs_key not in header:
            raise safe_pickle.corrupt_error(path, f'{kwargs_key} metadata is missing')
        kwargs = _json(header[kwargs_key], kwargs_key, path)
        if not isinstance(kwargs, dict):
            raise safe_pickle.corrupt_error(path, f'metadata {kwargs_key} is not a JSON object')
        parts[prefix] = _NetParts(_kwargs_for('Discriminator' if prefix == 'D' else 'Generator', kwargs, prefix, path),
                                  group)
    if parts['G_ema'] is None:
        raise safe_pickle.corrupt_error(path, 'it holds no G_ema tensors')
    return parts, meta


def _to_float32(t):
    return t.float() if t.is_floating_point() and t.dtype != torch.float32 else t


def _json(text, key, path):
    try:
        return json.loads(text)
    except ValueError:
        raise safe_pickle.corrupt_error(path, f'metadata {key} is not JSON') from None


def _build(cls, parts, key, path):
    """cls(**kwargs) holding the file's tensors; eval, no grad, on CPU. Built on the meta
    device first, so no memory is allocated or randomly filled before the file's tensors
    are checked against the architecture its kwargs describe."""
    try:
        with torch.device('meta'):
            net = cls(**parts.kwargs)
    except (TypeError, ValueError, AssertionError, KeyError, ZeroDivisionError, RuntimeError) as e:
        raise StylescopeError(f'{path}: its {key} was built with arguments Stylescope cannot rebuild ({e}); only '
                              f'StyleGAN2-ADA generators and discriminators are supported.') from None
    _check_tensors(net.state_dict(), parts.tensors, key, path)
    net.load_state_dict(parts.tensors, strict=True, assign=True)
    if _has_meta_tensors(net):  # a tensor the file does not hold (say, a non-persistent buffer)
        net = cls(**parts.kwargs)
        net.load_state_dict(parts.tensors, strict=True)
    return net.eval().requires_grad_(False)


def _check_tensors(expected, found, key, path):
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        detail = f'missing {missing[:3]}' if missing else f'unexpected {unexpected[:3]}'
        raise StylescopeError(f'{path}: its {key} tensors do not match its architecture ({detail}); the file is '
                              f'not a StyleGAN2-ADA network or is damaged.')
    for name, ref in expected.items():
        t = found[name]
        if tuple(t.shape) != tuple(ref.shape) or t.dtype != ref.dtype:
            raise StylescopeError(f'{path}: its {key} tensor {name} is {str(t.dtype)[6:]} {list(t.shape)}, expected '
                                  f'{str(ref.dtype)[6:]} {list(ref.shape)}; the file is damaged or not a '
                                  f'StyleGAN2-ADA network.')


def _has_meta_tensors(net):
    for module in net.modules():
        tensors = list(module._parameters.values()) + list(module._buffers.values()) + list(vars(module).values())
        if any(isinstance(t, torch.Tensor) and t.is_meta for t in tensors):
            return True
    return False


def _json_ready_or_none(obj):
    try:
        return json_ready(obj) if isinstance(obj, dict) else None
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------
# Saving

def save_network(path, G_ema, D=None, G=None, extra_meta=None) -> None:
    """Write a Stylescope .safetensors network, atomically (temp file in the same folder, then
    rename), so an interrupted save never leaves a half-written file at `path`."""
    path = os.fspath(path)
    if not path.lower().endswith('.safetensors'):
        raise StylescopeError(f'{path}: networks are saved as .safetensors; give the file that extension.')
    if not isinstance(G_ema, Generator) or (G is not None and not isinstance(G, Generator)) \
            or (D is not None and not isinstance(D, Discriminator)):
        raise TypeError('save_network takes core.networks Generator / Discriminator modules')
    tensors, storages = {}, set()
    for prefix, net in (('G_ema', G_ema), ('G', G), ('D', D)):
        if net is not None:
            _add_tensors(tensors, storages, prefix, net)
    header = {'format': FORMAT_NAME, 'format_version': FORMAT_VERSION,
              'G_kwargs': json.dumps(json_ready(G_ema.init_kwargs)), 'fingerprint': fingerprint(G_ema)}
    if D is not None:
        header['D_kwargs'] = json.dumps(json_ready(D.init_kwargs))
    for key, value in (extra_meta or {}).items():
        if key in _RESERVED_META:
            raise ValueError(f'extra_meta may not set the reserved key {key!r}')
        header[key] = json.dumps(json_ready(value))
    try:
        with atomic_path(path) as tmp:
            safetensors.torch.save_file(tensors, tmp, metadata=header)
    except OSError as e:
        raise StylescopeError(f'could not write {path} ({e.strerror or e}); check the folder exists, is '
                              f'writable and has free space.') from None


def _add_tensors(tensors, storages, prefix, net):
    for name, t in net.state_dict().items():
        t = t.detach().to('cpu').contiguous()
        if t.untyped_storage().data_ptr() in storages:  # safetensors refuses shared memory
            t = t.clone()
        storages.add(t.untyped_storage().data_ptr())
        tensors[f'{prefix}.{name}'] = t


# ----------------------------------------------------------------------------------------------
# Identity and summary

def fingerprint(G) -> str:
    """First 16 hex digits of a sha256 over G.state_dict(), names sorted: for each tensor the
    UTF-8 text '<name>:<shape as a Python list>\\n', then its values as little-endian float32."""
    h = hashlib.sha256()
    state = G.state_dict()
    for name in sorted(state):
        t = state[name].detach().to('cpu', torch.float32).contiguous()
        h.update(f'{name}:{list(t.shape)}\n'.encode())
        h.update(t.numpy().astype('<f4', copy=False).tobytes())
    return h.hexdigest()[:16]


def layer_groups(num_ws_or_resolution=None, *, num_ws=None, resolution=None) -> dict:
    """{'coarse': (start, end), 'middle': ..., 'fine': ...} ws index ranges, end exclusive.

    ws rows 2j and 2j+1 belong to resolution 4 * 2**j (the StyleGAN paper's convention, as in
    DESIGN.md: 1024 -> 0-3, 4-7, 8-17); coarse = up to 8x8, middle = 16 and 32, fine = 64 and
    above. Pass a Generator (anything with .num_ws), num_ws=, resolution=, or one int: ints that
    could be either (4, 8, 16) must be passed by keyword.
    """
    n = _resolve_num_ws(num_ws_or_resolution, num_ws, resolution)
    res_of = [4 << (i // 2) for i in range(n)]
    ends = [sum(1 for r in res_of if r <= top) for top in (8, 32, res_of[-1])]
    return {'coarse': (0, ends[0]), 'middle': (ends[0], ends[1]), 'fine': (ends[1], ends[2])}


def _resolve_num_ws(value, num_ws, resolution):
    if value is not None and hasattr(value, 'num_ws'):
        return int(value.num_ws)
    if value is not None:
        value = int(value)
        is_resolution = value >= 4 and value & (value - 1) == 0
        if is_resolution and value < 32:  # 4, 8, 16 are also num_ws of 8, 32, 512 models
            raise ValueError(f'layer_groups({value}) is ambiguous; pass num_ws={value} or resolution={value}')
        num_ws, resolution = (None, value) if is_resolution else (value, None)
    if resolution is not None:
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f'resolution must be a power of two >= 4, got {resolution}')
        return 2 * int(resolution).bit_length() - 4
    if num_ws is None or num_ws < 2 or num_ws % 2:
        raise ValueError(f'layer_groups needs a Generator, an even num_ws >= 2 or a resolution, got {num_ws}')
    return int(num_ws)


def network_summary(G) -> dict:
    """Architecture, sizes, layer groups and parameter counts of a Generator (for `main.py info`)."""
    synthesis = G.synthesis
    blocks = []
    for block, (start, count) in zip(synthesis.blocks(), synthesis.block_ws_ranges()):
        blocks.append(dict(name=f'b{block.resolution}', resolution=block.resolution, in_channels=block.in_channels,
                           out_channels=block.out_channels, ws=(start, start + count),
                           params=_count(block.parameters()), use_fp16=bool(block.use_fp16)))
    return dict(resolution=G.img_resolution, z_dim=G.z_dim, w_dim=G.w_dim, c_dim=G.c_dim, num_ws=G.num_ws,
                img_channels=G.img_channels,
                architecture=G.init_kwargs.get('synthesis_kwargs', {}).get('architecture', 'skip'),
                mapping_layers=G.mapping.num_layers, layer_groups=layer_groups(G), blocks=blocks,
                params=dict(mapping=_count(G.mapping.parameters()), synthesis=_count(synthesis.parameters()),
                            total=_count(G.parameters())),
                buffers=_count(G.buffers()))


def _count(tensors):
    return int(sum(t.numel() for t in tensors))
