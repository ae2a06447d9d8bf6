"""FrozenArray: a read-only float32 copy of an array, compared and hashed by content.

Render requests and the explorer's editing states hold latents, direction vectors and noise
maps as FrozenArrays, so they stay immutable and cheap to compare (a 16-byte digest, computed
once). It imports no torch (the explorer's state is built from it); a torch tensor given to it
is copied to the CPU first.
"""
import hashlib

import numpy as np


class ContentHashed:
    """Immutable, compared and hashed by `digest`, a hash of the content that a subclass sets once
    in __init__ (with object.__setattr__). Two objects are equal when they are of one class and
    their digests are equal."""
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f'{type(self).__name__} is immutable')

    def __eq__(self, other):
        return type(other) is type(self) and self.digest == other.digest

    def __hash__(self):
        return hash(self.digest)


class FrozenArray(ContentHashed):
    """A read-only float32 copy of an array, compared and hashed by content (see the module docstring)."""
    __slots__ = ('array', 'digest')

    def __init__(self, values):
        if isinstance(values, FrozenArray):
            array, digest = values.array, values.digest
        else:
            if hasattr(values, 'detach'):  # a torch tensor, recognised without importing torch
                values = values.detach().cpu().numpy()
            array = np.array(values, dtype=np.float32, copy=True)
            array.setflags(write=False)
            digest = hashlib.blake2b(repr(array.shape).encode() + array.tobytes(), digest_size=16).digest()
        object.__setattr__(self, 'array', array)
        object.__setattr__(self, 'digest', digest)

    def __repr__(self):
        return f'FrozenArray(shape={list(self.array.shape)}, digest={self.digest.hex()[:8]})'

    @property
    def shape(self):
        return self.array.shape


def frozen(value):
    """None stays None; anything else becomes a FrozenArray."""
    return None if value is None else FrozenArray(value)
