"""Keep freed memory in the process (glibc): big CPU tensors then cost no page faults.

glibc serves every allocation over 32 MB (a 1024 px activation is 64-134 MB) with a fresh
mmap and unmaps it on free, so each such tensor is page-faulted in again, zero-filled, on every
render: on the project's 2-core CPU that was 14-42 s of kernel time per render benchmark and
made a cached edit at 1024 px 2.28x faster than a full frame instead of 3.23x (bench/render.py,
both measured in one session). With mmap off and trimming off, freed blocks stay in the heap and
the next frame reuses them. Threads other than the main one get their own arenas, whose heaps are
at most 64 MiB: for anything larger glibc falls back to mmap whatever M_MMAP_MAX says, so the
explorer's render thread kept paying (two-finest-blocks edit at 1024: 541 ms on the main thread,
1,228 ms on a worker thread). One arena for every thread (M_ARENA_MAX 1) ends that: 588 ms on the
worker thread, and 0.2 s of kernel time instead of 11.5 s over 9 renders. The cost: the process
keeps its peak memory until it exits, and threads share one malloc lock (torch allocates few,
large blocks). Not glibc (macOS, Windows, musl): nothing happens.
"""
import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_TRIM_NEVER = 2 ** 31 - 1  # the largest int mallopt takes: the heap is trimmed only when over 2 GiB at its top is free


def keep_freed_memory():
    """Tell glibc's malloc to serve large blocks from the one main heap, for every thread, and to
    keep freed ones. Returns whether it applied (False where the C library is not glibc). Call
    once, early: before other threads allocate."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) for param, value in
               ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _TRIM_NEVER)))
