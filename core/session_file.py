"""Session files: the explorer's saved editing state and favourites, as JSON.

Written by explorer/state.py; read there and by `video --session` (favourites as keyframes),
so the format lives in core. Arrays are stored as base64 little-endian bytes with dtype and
shape; files are written under a temporary name and renamed, never half-written.
"""
import base64
import json
import os

import numpy as np

from core.atomic import atomic_write
from core.errors import StylescopeError

SESSION_FORMAT = 'stylescope-session'
SESSION_VERSION = 1


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


def write_json_atomic(path, data):
    """Write JSON under a temporary name in the same folder, then rename: never half-written."""
    atomic_write(path, lambda f: f.write(json.dumps(data).encode('utf-8')))


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
