"""A JSON-ready copy of the metadata Stylescope writes (network kwargs, direction meta, sessions).

Official pickles carry EasyDicts, tuples and numpy scalars in their kwargs; json.dumps takes none
of them as they are, and a tuple read back as a list must still compare equal to the original.
"""
from __future__ import annotations

import numpy as np


def json_ready(obj):
    """dicts (EasyDicts included) -> dict with str keys, tuples -> lists, numpy -> Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ValueError(f'cannot store a {type(obj).__name__} as JSON')
