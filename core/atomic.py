"""Atomic file writes: nothing the user made is ever left half-written.

`atomic_path(path)` yields a temporary name in the same folder; when the block finishes, the
file is flushed to disk, given the usual permissions and renamed over `path` in one step. If
the block raises, the temporary file is removed and `path` is untouched.
"""
import contextlib
import os
import uuid


def default_file_mode():
    """0o666 less the umask: what a plain open() would give (mkstemp and safetensors use 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def atomic_write(path, write):
    """Call write(file object) on a temporary binary file, then move it over `path`."""
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        write(f)
