"""A latent as a short line of text, for copy and paste: {"seed": 42}, or {"w": base64 float32,
"shape": [num_ws, w_dim]}; pasting also takes a bare seed or a JSON list of numbers. No Qt, no torch.
"""
import base64
import json

import numpy as np

from core.errors import StylescopeError
from core.seeds import MAX_SEED


def latent_to_text(state, ws=None):
    """The current latent as one line of JSON: {"seed": 42} (with "toward_next": f between seeds,
    "class" on conditional models), or {"w": [num_ws, w_dim] as base64 float32}. Pass `ws` to copy an edited ws instead."""
    if ws is None and state.w is None:
        d = dict(seed=state.seed)
        if state.seed_frac:
            d['toward_next'] = state.seed_frac
    else:
        array = np.asarray(ws if ws is not None else state.w.array, dtype=np.float32)
        d = dict(w=base64.b64encode(array.astype('<f4').tobytes()).decode('ascii'), shape=list(array.shape))
    if state.class_idx is not None:
        d['class'] = state.class_idx
    return json.dumps(d)


def latent_from_text(text, num_ws, w_dim):
    """Parse a pasted latent into EditState changes: a seed ('42', {"seed": 42}), a w as
    {"w": base64, "shape": [...]} or as a JSON list [w_dim] / [num_ws, w_dim]."""
    text = str(text).strip()
    bad = StylescopeError('the clipboard holds no latent: copy one from Stylescope, or paste a seed number '
                          f'or a JSON list of {w_dim} (or {num_ws} x {w_dim}) numbers')
    try:
        data = json.loads(text)
    except ValueError:
        raise bad from None
    changes = {}
    if isinstance(data, dict) and isinstance(data.get('class'), int):
        changes['class_idx'] = data['class']
    frac = 0.0
    if isinstance(data, dict) and 'seed' in data:
        frac = data.get('toward_next', 0.0)
        data = data['seed']
    if isinstance(data, bool):
        raise bad
    if isinstance(data, int):
        if not 0 <= data <= MAX_SEED:
            raise StylescopeError(f'seed {data} is out of range: use a whole number from 0 to {MAX_SEED}')
        if not (isinstance(frac, (int, float)) and 0 <= frac < 1):
            raise bad
        return dict(changes, seed=data, seed_frac=float(frac) if data < MAX_SEED else 0.0, w=None, w_label='')
    if isinstance(data, dict) and isinstance(data.get('w'), str):
        try:
            array = np.frombuffer(base64.b64decode(data['w']), dtype='<f4').reshape(data.get('shape', [-1]))
        except (TypeError, ValueError):
            raise bad from None
    elif isinstance(data, list):
        try:
            array = np.array(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise bad from None
    else:
        raise bad
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.shape == (w_dim,):
        array = np.repeat(array[None], num_ws, axis=0)
    if array.shape != (num_ws, w_dim):
        raise StylescopeError(f'the pasted latent has shape {list(array.shape)}: this network wants '
                              f'[{w_dim}] or [{num_ws}, {w_dim}]')
    if not np.isfinite(array).all():
        raise StylescopeError('the pasted latent holds NaN or infinite values: copy it again')
    return dict(changes, w=array, w_label='pasted latent', psi=1.0, cutoff=None)  # as it was copied
