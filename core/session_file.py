"""Session files: the explorer's saved editing state and favourites, as JSON. No torch, no Qt.

The one owner of the format, both ways: the explorer (explorer/state.py) encodes its states with
the codecs here and writes and reads sessions through `write_session` / `read_session`;
`video --session` reads the favourites' ws. Arrays are stored as base64 little-endian bytes with
dtype and shape. A projected latent's noise maps are stored once per session, in a table keyed
by their digest that states and favourites name. Files are written atomically (core/atomic.py).

Layout: {format, version, model: {fingerprint, source, num_ws, w_dim[, tuned_from, source_network: of a
network tuned to a photo, the fingerprint and path of the one it was tuned from]}, state, favourites: [{name,
state, ws, thumbnail}], noise_maps: {digest: {layer: array}} (only when some state has maps)}.
"""
import base64
import os

import numpy as np

from core.atomic import write_json
from core.bounded_read import read_json_file
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


def decode_array(d, where='a saved array'):
    """The array of encode_array's dict; `where` names it in the sentence when it is damaged."""
    try:
        dtype = np.dtype(d['dtype'])
        if dtype.kind not in 'fiu':
            raise ValueError(f'dtype {dtype} is not a number type')
        array = np.frombuffer(base64.b64decode(d['data'], validate=True), dtype=dtype).reshape(d['shape'])
    except (KeyError, TypeError, ValueError) as exc:
        raise StylescopeError(f'{where} is damaged ({str(exc)[:100]}): save the session again') from None
    if array.dtype.kind == 'f' and not np.isfinite(array).all():
        raise StylescopeError(f'{where} holds NaN or infinite values: save the session again')
    return array.copy()


def encode_latent(latent):
    return dict(seed=latent.seed) if latent.w is None else dict(w=encode_array(latent.w.array))


def decode_latent(d):
    return Latent(seed=int(d['seed'])) if d.get('w') is None else Latent(w=decode_array(d['w']))


def encode_directions(dset):
    d = dict(vectors=encode_array(dset.vectors), scales=encode_array(dset.scales),
             layer_start=[int(v) for v in dset.layer_start], layer_end=[int(v) for v in dset.layer_end],
             centers=encode_array(dset.centers), names=list(dset.names), meta=json_ready(dset.meta))
    if dset.row_vectors is not None:  # per-row directions ("A -> B")
        d['row_vectors'] = [None if r is None else encode_array(r) for r in dset.row_vectors]
    return d


def decode_directions(d):
    rows = d.get('row_vectors')
    try:
        rows = None if rows is None else [None if r is None else decode_array(r, 'a saved per-row direction')
                                          for r in rows]
        return DirectionSet(decode_array(d['vectors']), decode_array(d['scales']), np.array(d['layer_start']),
                            np.array(d['layer_end']), d['names'], d.get('meta') or {},
                            decode_array(d['centers']) if d.get('centers') else None, rows)
    except (ValueError, TypeError) as exc:
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
    facts = {key: model.get(key) for key in ('fingerprint', 'source', 'num_ws', 'w_dim')}
    # a network tuned to a photo (PTI): source is the tuned file; these name the network it came from
    facts.update({key: model[key] for key in ('tuned_from', 'source_network') if model.get(key)})
    d = dict(format=SESSION_FORMAT, version=SESSION_VERSION, model=facts, state=state, favourites=list(favourites))
    if maps_table:
        d['noise_maps'] = maps_table
    return d


def write_session(path, session):
    write_json(path, session)


def read_session(path):
    """A session file's dict, checked against the layout above (check_session), so that every
    reader (the explorer, `video --session`) may take its parts as they are said to be."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"session file '{path}' does not exist: check the path")
    data = read_json_file(path, 'session file')
    check_session(data, path)
    return data


def _wrong(path, field, found, wanted):
    kind = 'null' if found is None else type(found).__name__
    return StylescopeError(f"session file '{path}': {field} is {kind}, not {wanted}; open a session saved by "
                           'Stylescope, or save it again')


def _check_array(value, path, field, optional=False):
    if optional and value is None:
        return
    if not isinstance(value, dict):
        raise _wrong(path, field, value, 'an array')
    for key, kind, wanted in (('dtype', str, 'a dtype name'), ('shape', list, 'a list of sizes'),
                              ('data', str, 'base64 text')):
        if not isinstance(value.get(key), kind):
            raise _wrong(path, f'{field}.{key}', value.get(key), wanted)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value['shape']):
        raise _wrong(path, f'{field}.shape', value['shape'], 'a list of sizes')


def check_session(data, path):
    """Refuse, naming the first wrong field, a dict that is not a session of the layout above:
    format, version (a whole number, not newer than this Stylescope's), model (an object),
    state (an object), favourites (a list of objects with a name, a state, ws and a thumbnail
    array or null), noise_maps (an object). Inside a state, core values are the explorer's to
    check (explorer/edit_state.py)."""
    if not isinstance(data, dict) or data.get('format') != SESSION_FORMAT:
        raise StylescopeError(f"'{path}' is not a Stylescope session file: open a .json session saved by Stylescope")
    version = data.get('version', 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise _wrong(path, 'version', version, 'a whole number')
    if version > SESSION_VERSION:
        raise StylescopeError(f"'{path}' was saved by a newer Stylescope (session version {version}): "
                              'update Stylescope to open it')
    if 'state' not in data:
        raise StylescopeError(f"session file '{path}' has no state: open a session saved by Stylescope")
    for field in ('model', 'state', 'noise_maps'):
        if field in data and not isinstance(data[field], dict) and not (field != 'state' and data[field] is None):
            raise _wrong(path, field, data[field], 'an object')
    favourites = data.get('favourites', [])
    if not isinstance(favourites, list):
        raise _wrong(path, 'favourites', favourites, 'a list')
    for i, fav in enumerate(favourites):
        field = f'favourites[{i}]'
        if not isinstance(fav, dict):
            raise _wrong(path, field, fav, 'an object')
        if not isinstance(fav.get('name'), str):
            raise _wrong(path, f'{field}.name', fav.get('name'), 'text')
        if not isinstance(fav.get('state'), dict):
            raise _wrong(path, f'{field}.state', fav.get('state'), 'an object')
        _check_array(fav.get('ws'), path, f'{field}.ws')
        _check_array(fav.get('thumbnail'), path, f'{field}.thumbnail', optional=True)


def session_favourite_ws(path, num_ws, w_dim):
    """The ws [num_ws, w_dim] of every favourite in a session file, in order (video keyframes)."""
    session = read_session(path)
    favourites = session.get('favourites') or []
    if not favourites:
        raise StylescopeError(f"session file '{os.fspath(path)}' has no favourites: add favourites in the "
                              'explorer (Add favourite) and save the session again')
    ws = []
    for i, fav in enumerate(favourites):
        array = decode_array(fav['ws'], f"favourites[{i}].ws of session file '{os.fspath(path)}'").astype(np.float32)
        if array.shape != (num_ws, w_dim):
            raise StylescopeError(f"session file '{os.fspath(path)}' holds ws of shape {list(array.shape)}, this "
                                  f'network needs [{num_ws}, {w_dim}]: use the network the session was saved with')
        ws.append(array)
    return ws
