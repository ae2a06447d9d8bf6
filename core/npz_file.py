"""Reading NumPy files the user gives (.npz / .npy: direction files, saved and projected w, noise
maps), with every way such a file can be broken turned into one StylescopeError sentence: missing,
empty, a damaged zip, pickled Python objects (never loaded), not a NumPy file at all."""
import os
import zipfile

import numpy as np

from core.errors import StylescopeError


def read_arrays(path, what):
    """{key: array} of an .npz file, or {'': array} of an .npy file. `what` names the file in the
    sentences ('direction file', 'w file', ...)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"{what} '{path}' does not exist: check the path")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):  # a .npy file
            return {'': data}
        with data:
            return {key: data[key] for key in data.files}
    except ValueError as exc:
        if 'allow_pickle' in str(exc) or 'pickled' in str(exc):
            raise StylescopeError(f"'{path}' holds pickled Python objects, which Stylescope never loads: "
                                  'save the arrays as plain numbers') from None
        raise StylescopeError(f"'{path}' is not a readable NumPy file ({exc}): "
                              f'check that it is a {what} and not damaged') from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise StylescopeError(f"'{path}' is not a readable NumPy file ({exc}): "
                              f'check that it is a {what} and not damaged') from None
