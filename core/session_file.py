"""Session files: the explorer's saved editing state and favourites, as JSON. No torch, no Qt.

The one owner of the format, both ways: the explorer (explorer/state.py) encodes its states with
the codecs here and writes and reads sessions through `write_session` / `read_session`;
`video --session` reads the favourites' ws. Arrays are stored as base64 little-endian bytes with
dtype and shape. A projected latent's noise maps are stored once per session, in a table keyed
by their digest that states and favourites name. Files are written atomically (core/atomic.py).

Layout: {format, version, model: {fingerprint, source, num_ws, w_dim}, state, favourites: [{name,
state, ws, thumbnail}], noise_maps: {digest: {layer: array}} (only when some state has maps)}.
"""
import base64
import json
import os

import numpy as np

from core.atomic import write_json
from core.direction_set import DirectionSet
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.noise_spec import NoiseMaps, NoiseSpec
from core.request import Latent

SESSION_FORMAT = 'stylescope-session'
SESSION_VERSION = 1


# ----------------------------------------------------------------------------------------------
# Codecs of the values a session holds

def encode_array(array):
    array = np.ascontiguousarray(array)
    if array.dtype.kind == 'f':
        array = array.astype('<f4')
    elif array.dtype == np.uint8:
        pass
    else:
        array = array.astype('<i8')
    return dict(dtype=array.dtype.str, shape=list(array.shape), data=base64.b64encode(array.tobytes()).decode('ascii'))


def decode_array(d):
    try:
        dtype = np.dtype(d['dtype'])
        if dtype.kind not in 'fiu':
            raise ValueError(f'dtype {dtype} is not a number type')
        array = np.frombuffer(base64.b64decode(d['data']), dtype=dtype).reshape(d['shape'])
    except (KeyError, TypeError, ValueError) as exc:
        raise StylescopeError(f'a saved array is damaged ({exc}): save the session again') from None
    if array.dtype.kind == 'f' and not np.isfinite(array).all():
        raise StylescopeError('a saved array holds NaN or infinite values: save the session again')
    return array.copy()


def encode_latent(latent):
    return dict(seed=latent.seed) if latent.w is None else dict(w=encode_array(latent.w.array))


def decode_latent(d):
    return Latent(seed=int(d['seed'])) if d.get('w') is None else Latent(w=decode_array(d['w']))


def encode_directions(dset):
    return dict(vectors=encode_array(dset.vectors), scales=encode_array(dset.scales),
                layer_start=[int(v) for v in dset.layer_start], layer_end=[int(v) for v in dset.layer_end],
                centers=encode_array(dset.centers), names=list(dset.names), meta=json_ready(dset.meta))


def decode_directions(d):
    try:
        return DirectionSet(decode_array(d['vectors']), decode_array(d['scales']), np.array(d['layer_start']),
                            np.array(d['layer_end']), d['names'], d.get('meta') or {},
                            decode_array(d['centers']) if d.get('centers') else None)
    except ValueError as exc:
        raise StylescopeError(f'the saved directions are damaged ({exc}): save the session again') from None


def encode_noise(spec):
    """A NoiseSpec's mode, seed and strengths (its maps travel apart: encode_maps)."""
    return dict(mode=spec.mode, seed=spec.seed, scales=[list(s) for s in spec.scales])


def decode_noise(d):
    d = d or {}
    return NoiseSpec(d.get('mode', 'const'), d.get('seed', 0), [tuple(s) for s in d.get('scales', ())])


def encode_maps(maps, table):
    """Noise maps for a state's dict: inline {layer: array} (table None), or their digest (hex)
    with the arrays put in `table` once."""
    if table is None:
        return _encode_map_arrays(maps)
    key = maps.digest.hex()
    if key not in table:
        table[key] = _encode_map_arrays(maps)
    return key


def _encode_map_arrays(maps):
    return {name: encode_array(array) for name, array in maps.arrays().items()}


def decode_maps(value, table):
    """The NoiseMaps of encode_maps's value (None: none). A set named by digest is decoded once:
    its NoiseMaps then replaces the entry in `table` (pass your own copy of the session's table),
    so the picture and the favourites that share a set share one NoiseMaps."""
    if value is None:
        return None
    if isinstance(value, str):
        entry = table.get(value) if isinstance(table, dict) else None
        if isinstance(entry, NoiseMaps):
            return entry
        if not isinstance(entry, dict):
            raise StylescopeError('the session names noise maps it does not hold: save the session again')
        table[value] = decode_maps(entry, None)
        return table[value]
    return NoiseMaps({name: decode_array(array) for name, array in value.items()})


# ----------------------------------------------------------------------------------------------
# The file

def session_dict(model, state, favourites, maps_table):
    """The file's dict from already encoded parts: model facts (fingerprint, source, num_ws,
    w_dim), the state's dict, the favourites' dicts and the noise-map table they fill."""
    d = dict(format=SESSION_FORMAT, version=SESSION_VERSION,
             model={key: model.get(key) for key in ('fingerprint', 'source', 'num_ws', 'w_dim')},
             state=state, favourites=list(favourites))
    if maps_table:
        d['noise_maps'] = maps_table
    return d


def write_session(path, session):
    write_json(path, session)


def read_session(path):
    """A session file's dict; refuses anything that is not a Stylescope session."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"session file '{path}' does not exist: check the path")
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StylescopeError(f"'{path}' is not a readable session file ({exc}): "
                              'open a .json session saved by Stylescope') from None
    if not isinstance(data, dict) or data.get('format') != SESSION_FORMAT or 'state' not in data:
        raise StylescopeError(f"'{path}' is not a Stylescope session file: open a .json session saved by Stylescope")
    if int(data.get('version', 0)) > SESSION_VERSION:
        raise StylescopeError(f"'{path}' was saved by a newer Stylescope (session version {data['version']}): "
                              'update Stylescope to open it')
    return data


def session_favourite_ws(path, num_ws, w_dim):
    """The ws [num_ws, w_dim] of every favourite in a session file, in order (video keyframes)."""
    session = read_session(path)
    favourites = session.get('favourites') or []
    if not favourites:
        raise StylescopeError(f"session file '{os.fspath(path)}' has no favourites: add favourites in the "
                              'explorer (Add favourite) and save the session again')
    ws = []
    for fav in favourites:
        array = decode_array(fav['ws']).astype(np.float32)
        if array.shape != (num_ws, w_dim):
            raise StylescopeError(f"session file '{os.fspath(path)}' holds ws of shape {list(array.shape)}, this "
                                  f'network needs [{num_ws}, {w_dim}]: use the network the session was saved with')
        ws.append(array)
    return ws
