"""A JSON-ready copy of the metadata Stylescope writes (network kwargs, direction meta, sessions).

Official pickles carry EasyDicts, tuples and numpy scalars in their kwargs; json.dumps takes none
of them as they are, and a tuple read back as a list must still compare equal to the original.

What a pickle holds can also be hostile: a dict that contains itself, lists nested thousands
deep (RecursionError), or a "billion laughs" of shared references (a few bytes that unfold into
more values than memory holds). The copy is therefore bounded in depth (the depth at which
core.bounded_read refuses JSON) and in the number of values, and refuses with ValueError.
"""
from __future__ import annotations

import numpy as np

from core.bounded_read import MAX_JSON_DEPTH

MAX_VALUES = 1_000_000  # network kwargs hold ~30 values; a direction set's meta a few thousand


def json_ready(obj):
    """dicts (EasyDicts included) -> dict with str keys, tuples -> lists, numpy -> Python numbers."""
    return _ready(obj, MAX_JSON_DEPTH, [MAX_VALUES])


def _ready(obj, depth, budget):
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f'it holds more than {MAX_VALUES:,} values')
    if isinstance(obj, (dict, list, tuple)) and depth == 0:
        raise ValueError(f'it nests more than {MAX_JSON_DEPTH} levels deep (or contains itself)')
    if isinstance(obj, dict):
        return {str(k): _ready(v, depth - 1, budget) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_ready(v, depth - 1, budget) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.size > budget[0]:
            raise ValueError(f'it holds more than {MAX_VALUES:,} values')
        budget[0] -= obj.size
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ValueError(f'cannot store a {type(obj).__name__} as JSON')
