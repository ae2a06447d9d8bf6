"""Open any network file -> LoadedNetwork(G, D, meta); write any of the formats back.

Accepted (recognised by content, not by name): official stylegan2-ada-pytorch pickles and the
ones Stylescope writes for the official code (core.format_official), TensorFlow-era StyleGAN2
pickles (core.format_tf), rosinality stylegan2-pytorch .pt checkpoints (core.format_rosinality),
Stylescope `.safetensors` files (`save_network`, here), and a training run folder (its newest
`network-snapshot-NNNNNN.*`). Pickles go through core.safe_pickle and torch files through
torch.load(weights_only=True): no code from a file ever runs. `.onnx` is export-only
(core.format_onnx). Every bad input stops with one StylescopeError sentence that names the
file and the fix.

Writing: `save_as(path, net, fmt)` dispatches to `save_network` (.safetensors),
`format_official.write_official_pickle` (.pkl), `format_rosinality.write_rosinality` (.pt) and
`format_onnx.export_onnx` (.onnx). Each keeps the weights' fingerprint: a network read back from
any of them has the fingerprint of the one written.

Native file layout: tensors `G_ema.<name>` (+ optional `G.<name>`, `D.<name>`), string metadata
`format='stylescope-network'`, `format_version='1'`, `architecture` ('stylegan2' or 'stylegan3';
files written before StyleGAN3 support lack it and are StyleGAN2), `G_kwargs` / `D_kwargs` (JSON constructor
arguments), `fingerprint`, and each extra_meta entry JSON-encoded under its own key.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass

import safetensors
import safetensors.torch
import torch

from core import format_official, format_rosinality, format_tf, safe_pickle
from core.atomic import atomic_path, write_error
from core.bounded_read import parse_json
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.network_parts import GENERATORS, NetParts, architecture_of, build, build_generator, to_float32
from core.networks import Discriminator
from core.networks_stylegan3 import is_stylegan3
from core.ws_rows import layer_groups

FORMAT_NAME = 'stylescope-network'
FORMAT_VERSION = '1'
SNAPSHOT_RE = re.compile(r'^network-snapshot-(\d+)\.(safetensors|pkl)$')
_RESERVED_META = ('format', 'format_version', 'architecture', 'G_kwargs', 'D_kwargs', 'fingerprint')
_KINDS = ('official StyleGAN2-ADA, StyleGAN3 and TensorFlow StyleGAN2 .pkl files, rosinality .pt checkpoints, '
          'Stylescope .safetensors files and training run folders')
# meta['format'] of each reader; a run folder reports 'run-folder' and its snapshot's format as snapshot_format.
FORMATS = {'official': format_official.FORMAT, 'tf': format_tf.FORMAT, 'rosinality': format_rosinality.FORMAT,
           'safetensors': 'safetensors'}
# Writers by name, and the extension each one's files take.
WRITE_FORMATS = {'safetensors': ('.safetensors',), 'official': ('.pkl',), 'rosinality': ('.pt', '.pth'),
                 'onnx': ('.onnx',)}
# The head of a legacy (pre-zip) torch.save stream: protocol 2, then its magic number as a LONG1.
_TORCH_LEGACY_MAGIC = b'\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19'

@dataclass
class LoadedNetwork:
    G: torch.nn.Module           # G_ema, the inference generator (core.networks or core.networks_stylegan3
                                 # Generator): eval(), requires_grad False
    D: Discriminator | None      # only with want_D / want_training and when the file has one
    meta: dict


# ----------------------------------------------------------------------------------------------
# Opening

def open_network(path, device='cpu', want_D=False, want_training=False) -> LoadedNetwork:
    """Open any network file Stylescope reads (see the module docstring) or a run folder.

    meta: source, format (see FORMATS, or 'run-folder'), architecture ('stylegan2' or
    'stylegan3', the network_parts.GENERATORS key), holds (the networks the file has:
    'G_ema', 'G', 'D'), ignored (what the file has that Stylescope does not use, e.g. optimiser
    states), contents (a sentence saying both), G_kwargs, D_kwargs, resolution, c_dim, z_dim,
    w_dim, num_ws, img_channels, fingerprint, augment_p, training_set_kwargs, run_folder, plus
    what the format's reader adds (rosinality: w_avg_source, rosinality_args; TF: tf_version,
    tf_build_func) and any extra metadata of a .safetensors file; with want_training also
    G_train (non-EMA G, when present) and D is loaded whenever the file has one.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise StylescopeError(f'{path} does not exist; check the path (Stylescope opens {_KINDS}).')
    run_folder = None
    if os.path.isdir(path):
        run_folder, path = path, newest_snapshot(path)
    parts, extra, fmt = _read_any(path)

    G = build_generator(parts['G_ema'], 'G_ema', path)
    holds = extra.pop('holds', None) or [key for key in ('G_ema', 'G', 'D') if parts.get(key)]
    ignored = extra.pop('ignored', [])
    meta = dict(source=os.path.abspath(path), format='run-folder' if run_folder else fmt,
                run_folder=run_folder and os.path.abspath(run_folder),
                holds=holds, ignored=ignored, contents=describe_contents(holds, ignored),
                architecture=parts['G_ema'].architecture, G_kwargs=parts['G_ema'].kwargs, D_kwargs=parts['D'].kwargs if parts.get('D') else None,
                resolution=G.img_resolution, c_dim=G.c_dim, z_dim=G.z_dim, w_dim=G.w_dim, num_ws=G.num_ws,
                img_channels=G.img_channels, fingerprint=fingerprint(G),
                augment_p=extra.get('augment_p'), training_set_kwargs=extra.get('training_set_kwargs'))
    if run_folder:
        meta['snapshot_format'] = fmt
    meta.update({key: value for key, value in extra.items() if key not in meta})
    D = None
    if (want_D or want_training) and parts.get('D'):
        D = build(Discriminator, parts['D'], 'D', path).to(device)
    if want_training and parts.get('G'):
        meta['G_train'] = build_generator(parts['G'], 'G', path).to(device)
    return LoadedNetwork(G=G.to(device), D=D, meta=meta)


def describe_contents(holds, ignored=()):
    """'G_ema, G and D; optimiser state ignored' and the like, for `info` and the GUI."""
    names = {'G_ema': 'G_ema', 'G': 'G (non-averaged)', 'D': 'D'}
    listed = [names.get(key, key) for key in holds]
    text = ' and '.join(listed) if len(listed) < 3 else ', '.join(listed[:-1]) + ' and ' + listed[-1]
    text = (text or 'nothing') + (' only' if list(holds) == ['G_ema'] else '')
    if any(key.endswith('_optim') for key in ignored):
        text += '; optimiser state ignored'
    return text


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


def file_kind(path) -> str:
    """What a file is by its first bytes: 'torch-zip' (torch.save), 'torch-legacy' (old
    torch.save), 'safetensors', 'pickle', 'empty' or 'unknown'."""
    try:
        with open(path, 'rb') as f:
            head = f.read(16)
    except OSError as e:
        raise safe_pickle.unreadable_error(path, e) from None
    if not head:
        return 'empty'
    if head.startswith(b'PK\x03\x04'):
        return 'torch-zip'
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return 'torch-legacy'
    if len(head) >= 9 and head[8:9] == b'{' and 0 < struct.unpack('<Q', head[:8])[0] < 2 ** 30:
        return 'safetensors'
    if head[:1] == b'\x80' and 2 <= head[1] <= 5:
        return 'pickle'
    return 'unknown'


def _read_any(path):
    """-> ({'G_ema', 'G', 'D': NetParts or None}, extra meta, format name)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == '.onnx':
        raise StylescopeError(f'{path} is an ONNX export, which Stylescope writes but cannot open (the graph '
                              f'does not describe the network in a form that can be rebuilt); open the file it '
                              f'was exported from.')
    kind = file_kind(path)
    if kind == 'empty':
        raise safe_pickle.corrupt_error(path, 'the file is empty')
    if kind in ('torch-zip', 'torch-legacy'):
        return (*format_rosinality.read(format_rosinality.load_checkpoint(path), path), format_rosinality.FORMAT)
    if kind == 'safetensors' or (kind == 'unknown' and ext == '.safetensors'):
        return (*_read_safetensors(path), FORMATS['safetensors'])
    if kind == 'pickle' or ext in ('.pkl', '.pickle'):
        data = safe_pickle.load_pickle(path, path)
        if format_tf.is_tf_pickle(data):
            return (*format_tf.read(data, path), format_tf.FORMAT)
        if format_rosinality.is_generator_state(data):  # a bare state dict pickled without torch.save
            return (*format_rosinality.read(data, path), format_rosinality.FORMAT)
        # StyleGAN2 and StyleGAN3 alike: format_official.read tells them apart by their records.
        return (*format_official.read(data, path), format_official.FORMAT)
    raise StylescopeError(f"{path}: unknown network file type (the '{ext or '(none)'}' file is not a pickle, a torch "
                          f'checkpoint or a .safetensors file); Stylescope opens {_KINDS}.')


def _read_safetensors(path):
    try:
        with safetensors.safe_open(path, framework='pt') as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except OSError as e:
        raise safe_pickle.unreadable_error(path, e) from None
    except MemoryError:  # the file is mapped whole, and each tensor copied out of it
        raise StylescopeError(f'{path} ({os.path.getsize(path):,} bytes) does not fit in the memory left to '
                              f'Stylescope; close other programs, or open it on a machine with more memory.') from None
    except (safetensors.SafetensorError, ValueError, RuntimeError) as e:
        raise safe_pickle.corrupt_error(path, safe_pickle.short_reason(e)) from None
    if header.get('format') != FORMAT_NAME:
        raise StylescopeError(f'{path} is a .safetensors file but not a Stylescope network (no '
                              f"format='{FORMAT_NAME}' metadata); save networks with Stylescope, or open a .pkl.")
    if header.get('format_version') != FORMAT_VERSION:
        raise StylescopeError(f"{path} uses network format version {header.get('format_version')!r}, which this "
                              f'Stylescope does not know; update Stylescope.')
    meta = {key: _json(header[key], key, path) for key in header if key not in _RESERVED_META}
    architecture = header.get('architecture', 'stylegan2')  # files from before StyleGAN3 support: StyleGAN2
    if architecture not in GENERATORS:
        raise StylescopeError(f"{path} holds a '{architecture}' network, which this Stylescope does not know; "
                              f'update Stylescope.')
    parts = {}
    for prefix, kwargs_key in (('G_ema', 'G_kwargs'), ('G', 'G_kwargs'), ('D', 'D_kwargs')):
        group = {k[len(prefix) + 1:]: to_float32(t) for k, t in tensors.items() if k.startswith(prefix + '.')}
        if not group:
            parts[prefix] = None
            continue
        if kwargs_key not in header:
            raise safe_pickle.corrupt_error(path, f'{kwargs_key} metadata is missing')
        kwargs = _json(header[kwargs_key], kwargs_key, path)
        if not isinstance(kwargs, dict):
            raise safe_pickle.corrupt_error(path, f'metadata {kwargs_key} is not a JSON object')
        class_name = 'Discriminator' if prefix == 'D' else 'Generator'
        kind = 'stylegan2' if prefix == 'D' else architecture  # the discriminator is StyleGAN2's for both
        parts[prefix] = NetParts(format_official.kwargs_for(class_name, kwargs, prefix, path, kind), group, kind)
    if parts['G_ema'] is None:
        raise safe_pickle.corrupt_error(path, 'it holds no G_ema tensors')
    return parts, meta


def _json(text, key, path):
    return parse_json(text, path, f'the {key} metadata of')


# ----------------------------------------------------------------------------------------------
# Saving

def save_network(path, G_ema, D=None, G=None, extra_meta=None) -> None:
    """Write a Stylescope .safetensors network, atomically (temp file in the same folder, then
    rename), so an interrupted save never leaves a half-written file at `path`."""
    path = os.fspath(path)
    if not path.lower().endswith('.safetensors'):
        raise StylescopeError(f'{path}: networks are saved as .safetensors; give the file that extension.')
    generators = tuple(GENERATORS.values())
    if not isinstance(G_ema, generators) or (G is not None and type(G) is not type(G_ema)) \
            or (D is not None and not isinstance(D, Discriminator)):
        raise TypeError('save_network takes a core.networks or core.networks_stylegan3 Generator (G_ema and G of '
                        'one kind) and a core.networks Discriminator')
    tensors, storages = {}, set()
    for prefix, net in (('G_ema', G_ema), ('G', G), ('D', D)):
        if net is not None:
            _add_tensors(tensors, storages, prefix, net)
    header = {'format': FORMAT_NAME, 'format_version': FORMAT_VERSION, 'architecture': architecture_of(G_ema),
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
    except safetensors.SafetensorError as e:  # its own error for a file it could not write (OSErrors: atomic_path)
        raise write_error(path, e) from None


# Facts about the source a converted file records (where the format has room for them).
CARRIED_META = ('augment_p', 'training_set_kwargs')


def format_for_path(path, fmt=None) -> str:
    """The writer for `path`: fmt when given (one of WRITE_FORMATS), else by the extension."""
    path = os.fspath(path)
    if fmt is not None:
        if fmt not in WRITE_FORMATS:
            raise StylescopeError(f"unknown output format '{fmt}' for {path}; use one of {', '.join(WRITE_FORMATS)}.")
        return fmt
    ext = os.path.splitext(path)[1].lower()
    for name, extensions in WRITE_FORMATS.items():
        if ext in extensions:
            return name
    raise StylescopeError(f"{path}: cannot tell the output format from the extension '{ext or '(none)'}'; name "
                          f'the file .safetensors, .pkl (official), .pt (rosinality) or .onnx, or pass a format.')


def save_as(path, net, fmt=None, **options) -> dict:
    """Write a LoadedNetwork (G_ema = net.G, D = net.D, G = net.meta['G_train'] when present;
    open it with want_training=True to carry all three) in `fmt` (see format_for_path).

    options: onnx: input='z'|'ws', batch=1, truncation_cutoff=None. Returns
    {'format', 'path', 'holds': [...], 'notes': [...]} (notes: what the format could not keep)."""
    path = os.fspath(path)
    fmt = format_for_path(path, fmt)
    meta = net.meta or {}
    G_train = meta.get('G_train')
    source = dict(converted_from=meta.get('source'), converted_from_format=meta.get('format'))
    carried = {key: meta[key] for key in CARRIED_META if meta.get(key) is not None}
    if fmt == 'safetensors':
        save_network(path, net.G, D=net.D, G=G_train, extra_meta={**carried, **source})
        holds = ['G_ema'] + (['G'] if G_train is not None else []) + (['D'] if net.D is not None else [])
        return dict(format=fmt, path=path, holds=holds, notes=[])
    if fmt == 'official':
        format_official.write_official_pickle(path, net.G, D=net.D, G=G_train,
                                              training_set_kwargs=meta.get('training_set_kwargs'), extra=source)
        holds = ['G_ema', 'G'] + (['D'] if net.D is not None else [])
        notes = [] if G_train is not None else ['G is a copy of G_ema (the source had no separate G)']
        if net.D is None:
            notes.append('D is an empty placeholder (the official loader needs one; the source had no D)')
        return dict(format=fmt, path=path, holds=holds, notes=notes)
    if fmt == 'rosinality':
        summary = format_rosinality.write_rosinality(path, net.G, D=net.D, G=G_train, extra=source)
        return dict(format=fmt, path=path, **summary)
    from core import format_onnx  # needs the optional onnx packages: imported only to export
    summary = format_onnx.export_onnx(path, net.G, extra=source, **options)
    return dict(format=fmt, path=path, holds=['G_ema'], notes=[], **summary)


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


def network_summary(G) -> dict:
    """Architecture, sizes, layer groups and parameter counts of a generator (for `main.py info`).
    StyleGAN2: architecture 'skip' / 'resnet' / 'orig' and `blocks` (one per resolution);
    StyleGAN3: architecture 'stylegan3-t' / 'stylegan3-r' and `layers` (one per ws row, as
    SynthesisNetwork.layer_info: sampling rate, size, channels, cutoff)."""
    synthesis = G.synthesis
    summary = dict(resolution=G.img_resolution, z_dim=G.z_dim, w_dim=G.w_dim, c_dim=G.c_dim, num_ws=G.num_ws,
                   img_channels=G.img_channels, mapping_layers=G.mapping.num_layers, layer_groups=layer_groups(G),
                   params=dict(mapping=_count(G.mapping.parameters()), synthesis=_count(synthesis.parameters()),
                               total=_count(G.parameters())),
                   buffers=_count(G.buffers()))
    if is_stylegan3(G):
        radial = bool(G.init_kwargs.get('use_radial_filters'))
        summary.update(architecture='stylegan3-r' if radial else 'stylegan3-t', layers=synthesis.layer_info())
        return summary
    blocks = []
    for block, (start, count) in zip(synthesis.blocks(), synthesis.block_ws_ranges()):
        blocks.append(dict(name=f'b{block.resolution}', resolution=block.resolution, in_channels=block.in_channels,
                           out_channels=block.out_channels, ws=(start, start + count),
                           params=_count(block.parameters()), use_fp16=bool(block.use_fp16)))
    summary.update(architecture=G.init_kwargs.get('synthesis_kwargs', {}).get('architecture', 'skip'), blocks=blocks)
    return summary


def _count(tensors):
    return int(sum(t.numel() for t in tensors))
