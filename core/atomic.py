"""Atomic file writes: nothing the user made is ever left half-written.

`atomic_path(path)` yields a temporary name in the same folder; when the block finishes, the
file is flushed to disk, given the usual permissions and renamed over `path` in one step. If
the block raises, the temporary file is removed and `path` is untouched. Every writer of the
project goes through here (`atomic_write` for a file object, `write_json` for JSON), so a write
that fails (a read-only folder, a name taken by a folder, a full disk) is always the same one
sentence naming the path and the reason.
"""
import contextlib
import json
import os
import shutil
import uuid

from core.errors import StylescopeError, short_reason


def default_file_mode():
    """0o666 less the umask: what a plain open() would give (mkstemp and safetensors use 0o600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_error(path, exc):
    """The one sentence for an OSError met while writing `path`."""
    if isinstance(exc, IsADirectoryError) or os.path.isdir(path):
        why = 'a folder of that name is in the way'
    else:
        why = getattr(exc, 'strerror', None) or short_reason(exc)
    return StylescopeError(f"could not write '{path}' ({why}): choose another place, or make room there")


def check_writable(path, as_folder=False):
    """Before long work: raise write_error's sentence now if `path` could not be written later
    (its folder missing or refusing new files, or something in its place). as_folder: `path` is
    to become a folder (atomic_folder), so a folder already there is the caller's to judge."""
    path = os.fspath(path).rstrip('/\\') if as_folder else os.fspath(path)
    if os.path.isdir(path) and not as_folder:
        raise write_error(path, IsADirectoryError(path))
    if as_folder and os.path.exists(path) and not os.path.isdir(path):
        raise StylescopeError(f"could not write '{path}' (a file of that name is in the way): choose another place")
    check_folder(os.path.dirname(os.path.abspath(path)), path)


def check_folder(folder, path=None):
    """Raise a sentence naming `path` (default: the folder) unless `folder` exists and takes a
    new file. Tried for real, with a temporary file made and removed at once: mode bits do not
    tell (root ignores them; /proc, read-only mounts and ACLs refuse whatever they say)."""
    what = f"'{os.fspath(path)}' (its folder" if path is not None else f"into folder '{os.fspath(folder)}' (it"
    if not os.path.isdir(folder):
        raise StylescopeError(f'could not write {what} does not exist): create the folder or choose another place')
    probe = os.path.join(folder, f'.stylescope-probe.{uuid.uuid4().hex[:8]}.tmp')
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as e:
        raise StylescopeError(f'could not write {what} takes no new files: {e.strerror or e}): choose another '
                              'place') from None
    with contextlib.suppress(OSError):
        os.remove(probe)


def _tmp_name(path, suffix=''):
    """A fresh hidden name next to `path` (same folder, so the final rename is atomic); `suffix`
    for writers that read the format from the extension (.mp4)."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.path.join(folder, f'.{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp{suffix}')


@contextlib.contextmanager
def atomic_path(path, suffix=''):
    path = os.fspath(path)
    tmp = _tmp_name(path, suffix)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_folder(path):
    """A temporary folder beside `path` to fill; when the block ends it becomes `path` (an empty
    folder already there is replaced). If the block raises, the temporary folder is removed."""
    path = os.fspath(path).rstrip('/\\')
    tmp = _tmp_name(path)
    try:
        os.mkdir(tmp)
        yield tmp
        if os.path.isdir(path):
            os.rmdir(path)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write(path, write):
    """Call write(file object) on a temporary binary file, then move it over `path`."""
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        write(f)


def write_json(path, data, indent=None):
    """`data` as UTF-8 JSON, atomically."""
    text = json.dumps(data, indent=indent) + ('\n' if indent else '')
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))
