"""Reading NumPy files the user gives (.npz / .npy: direction files, saved and projected w, noise
maps), with every way such a file can be broken turned into one StylescopeError sentence: missing,
empty, a damaged zip, pickled Python objects (never loaded), not a NumPy file at all, or a header
that claims more than the file holds.

An .npy header states its array's shape, and numpy allocates that much before it reads a byte:
a 100-byte file can claim 4 TB. Here each header is read first and its size checked against
what the file (or the zip member, by its declared size) actually holds and against
MAX_ARRAY_BYTES, before anything is allocated; zip members go through core.bounded_read.
"""
import math
import os
import zipfile

import numpy as np

from core.bounded_read import ZIP_ERRORS, check_size
from core.errors import StylescopeError, short_reason

MAX_ARRAY_BYTES = 1 << 30  # all arrays of one file; 10,000 saved ws of a 1024 px model are 370 MB
_MAGIC = b'\x93NUMPY'


def _unreadable(path, what, why):
    return StylescopeError(f"'{path}' is not a readable NumPy file ({why}): check that it is a {what} and not damaged")


def _pickled(path):
    return StylescopeError(f"'{path}' holds pickled Python objects, which Stylescope never loads: "
                           'save the arrays as plain numbers')


def _header(f, path, what):
    """(shape, fortran_order, dtype, data bytes) of the .npy header at f's position."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f'.npy format version {version[0]}.{version[1]}')
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise _unreadable(path, what, short_reason(e)) from None
    if dtype.hasobject:
        raise _pickled(path)
    return shape, fortran, dtype, math.prod(shape) * dtype.itemsize


def _read_array(f, path, what, available, budget):
    """The array whose .npy header is at f's position; `available`: the bytes the file or member
    holds from there. Its claimed size is checked against both before any memory is taken."""
    start = f.tell()
    shape, fortran, dtype, nbytes = _header(f, path, what)
    if nbytes > available - (f.tell() - start):
        raise _unreadable(path, what, f'its header claims {nbytes:,} bytes of data, more than the file holds')
    check_size(nbytes, budget, path, what)
    buf = bytearray(nbytes)
    view, done = memoryview(buf), 0
    while done < nbytes:
        got = f.readinto(view[done:])
        if not got:
            raise _unreadable(path, what, 'its data ends early')
        done += got
    return np.frombuffer(buf, dtype).reshape(shape, order='F' if fortran else 'C'), nbytes


def read_arrays(path, what):
    """{key: array} of an .npz file, or {'': array} of an .npy file. `what` names the file in the
    sentences ('direction file', 'w file', ...)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"{what} '{path}' does not exist: check the path")
    try:
        with open(path, 'rb') as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(len(_MAGIC)) == _MAGIC:
                f.seek(0)
                return {'': _read_array(f, path, what, size, MAX_ARRAY_BYTES)[0]}
        if not zipfile.is_zipfile(path):
            raise _unreadable(path, what, 'neither an .npy array nor an .npz archive')
        return _read_npz(path, what)
    except OSError as e:
        raise _unreadable(path, what, e.strerror or short_reason(e)) from None


def _read_npz(path, what):
    arrays, budget = {}, MAX_ARRAY_BYTES
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith('.npy'):
                    continue  # np.savez writes nothing else
                check_size(info.file_size, budget, path, what)
                with archive.open(info) as f:
                    array, nbytes = _read_array(f, path, what, info.file_size, budget)
                arrays[info.filename[:-len('.npy')]] = array
                budget -= nbytes
    except ZIP_ERRORS as e:
        raise _unreadable(path, what, short_reason(e)) from None
    return arrays
