"""Pick the torch device from the `--device auto|cpu|cuda|mps` convention.

torch is imported by the functions, not by the module: the command line's parser takes
DEVICE_CHOICES from here without loading torch."""
from core.errors import StylescopeError

DEVICE_CHOICES = ('auto', 'cpu', 'cuda', 'mps')


def _mps_available():
    import torch
    backend = getattr(torch.backends, 'mps', None)
    return backend is not None and backend.is_available()


def resolve_device(name='auto'):
    """'auto' -> CUDA when present, else CPU; asking for an absent device is a user error."""
    import torch
    name = (name or 'auto').lower()
    if name not in DEVICE_CHOICES:
        raise StylescopeError(f"unknown device '{name}': use one of {', '.join(DEVICE_CHOICES)}")
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise StylescopeError("device 'cuda' was asked for but torch sees no CUDA GPU: "
                              "use --device cpu or install a CUDA build of torch")
    if name == 'mps' and not _mps_available():
        raise StylescopeError("device 'mps' was asked for but torch has no Apple MPS backend here: use --device cpu")
    return torch.device(name)


def set_torch_threads(reserve=1):
    """Give torch's intra-op pool every core but `reserve` (at least one thread), so a GUI thread
    keeps a core of its own while the render thread works. Returns the thread count."""
    import os

    import torch
    threads = max(1, (os.cpu_count() or 1) - int(reserve))
    torch.set_num_threads(threads)
    return threads
