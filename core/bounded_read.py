"""Reading what a user's file claims to hold, within bounds. No torch.

A few bytes can claim gigabytes: a zip member whose header declares 3 GiB, a deflate stream that
inflates a thousandfold, a sparse file, JSON nested a hundred thousand deep (Python's parser
then raises RecursionError, and code that walks a result only a little less deep does too).
Every reader of user JSON (sessions, direction metadata, network metadata, dataset.json) and of
zip members (datasets, .npz files) goes through here, so each of them is refused in one sentence
that names the file before more than the limit is read or allocated.
"""
import json
import os
import zipfile
import zlib

from core.errors import StylescopeError, short_reason

MAX_JSON_BYTES = 256 << 20  # a session with projected 1024 px latents is ~15 MB each; ImageNet's labels ~60 MB
MAX_JSON_DEPTH = 64         # what Stylescope writes nests about ten deep


def too_large(name, what, size, limit):
    return StylescopeError(f"{what} '{name}' holds {size:,} bytes, more than the {limit:,} Stylescope reads: "
                           'it is damaged or not such a file')


def check_size(size, limit, name, what):
    if size > limit:
        raise too_large(name, what, size, limit)


def parse_json(text, name, what, max_depth=MAX_JSON_DEPTH):
    """json.loads(text) with its nesting limited; a malformed or too deep text is one sentence
    naming `what` '`name`'."""
    try:
        data = json.loads(text)
    except RecursionError:
        data = None
        depth = max_depth + 1
    except (ValueError, TypeError) as e:  # UnicodeDecodeError is a ValueError
        raise StylescopeError(f"{what} '{name}' is not valid JSON ({str(e)[:80]}): "
                              'it is damaged or not such a file') from None
    else:
        depth = json_depth(data, max_depth)
    if depth > max_depth:
        raise StylescopeError(f"{what} '{name}' nests its JSON more than {max_depth} levels deep: "
                              'it is damaged or not such a file')
    return data


def json_depth(data, stop):
    """How deep lists and dicts nest in `data` (0 for a plain value), counted without recursion;
    gives up (returns stop + 1) once past `stop`."""
    deepest, todo = 0, [(data, 0)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (list, dict)):
            depth += 1
            if depth > stop:
                return depth
            deepest = max(deepest, depth)
            todo.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def read_json_file(path, what, max_bytes=MAX_JSON_BYTES):
    """The JSON in the file at `path`: its size checked before it is read."""
    path = os.fspath(path)
    try:
        with open(path, 'rb') as f:
            check_size(os.fstat(f.fileno()).st_size, max_bytes, path, what)
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise StylescopeError(f"could not read {what} '{path}' ({e.strerror or e}): check the path and that you may "
                              'read it') from None
    return parse_json(raw, path, what)


def read_member(archive, member, name, what, max_bytes):
    """The bytes of `member` of an open zipfile.ZipFile: refused when its header declares more than
    max_bytes, and never more than it declares inflated. (zipfile's read() with no size inflates
    everything it reads in one call and only then cuts it to the declared size: a few MB that
    claim 16 bytes would take gigabytes. Asked for the declared size, it inflates that much.)"""
    info = archive.getinfo(member) if isinstance(member, str) else member
    check_size(info.file_size, max_bytes, name, what)
    try:
        with archive.open(info) as f:
            return f.read(info.file_size)
    except ZIP_ERRORS as e:
        raise StylescopeError(f"{what} '{name}' cannot be read from its zip ({short_reason(e)}): it is damaged; "
                              'make or copy it again') from None


# What a damaged member makes zipfile raise: a bad CRC or header, a broken deflate stream, data
# that ends early, a compression method or encryption it does not support.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError)


def read_json_member(archive, member, name, what, max_bytes=MAX_JSON_BYTES):
    return parse_json(read_member(archive, member, name, what, max_bytes), name, what)
