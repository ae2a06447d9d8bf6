"""Which arithmetic a render runs in: the `--precision fp32|bf16|auto` setting, resolved per device.

    resolve_precision('auto', 'cpu', purpose='preview')  # 'bf16' on a CPU where it is faster
    G.synthesis(ws, precision=resolve_precision(...))     # likewise block(...), block.forward_from(...)

The value goes to the network as a call argument (core.networks: None | 'fp32' | 'fp16' |
'bf16'), never into the module, so one network serves renders of different precisions at once.

- 'fp32': float32 throughout, on every device: today's CPU result, bit for bit.
- 'bf16': bfloat16 in the blocks from 32x32 up, float32 below and for styles, demodulation,
  noise maps and the image sum. On this project's CPU (AVX512-BF16) a batch-1 frame takes about
  half the time (paper256 and 1024 config-f); the bundled model's images differ from fp32 by 0.30
  grey levels on average, at most 8, and 0.15% of the values by more than 2 (64 seeds; the
  85.7-kimg model it replaced: 0.17, 3, 0.0014%).
- 'auto': on CUDA the official mixed precision ('fp16': float16 in the high-resolution blocks,
  as before this setting existed); on a CPU, bf16 for drag previews where bf16_is_faster(), and
  fp32 for everything final (frames, exports, videos); elsewhere (MPS) fp32.

torch is imported by the functions, not by the module, so importing this costs nothing; the
names of the setting live in core/precision_choices.py, which the torch-free request types and
the command line's parser import.
"""
import functools
import time

from core.errors import StylescopeError

from core.precision_choices import PRECISIONS, PURPOSES  # noqa: F401 (PRECISIONS: the names callers check)

# bf16 is taken for previews when its matmul takes at most this share of fp32's time: the
# network gains less than the bare matmul (its elementwise passes gain nothing in bf16), so a
# CPU only slightly faster in bf16 would render no faster. Where bf16 is emulated (no AVX512-BF16
# or AMX) the matmul is several times slower than fp32 and the probe says no.
FASTER_RATIO = 0.75
_PROBE_SIZE = 256     # a 256x256 matmul: about 0.2-0.4 ms in fp32 on one core of this CPU
_PROBE_ROUNDS = 5


@functools.lru_cache(maxsize=None)
def _probe(device_type):
    import torch
    if device_type == 'cuda':
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type != 'cpu':
        return False
    gen = torch.Generator().manual_seed(0)
    a = torch.randn([_PROBE_SIZE, _PROBE_SIZE], generator=gen)
    b = torch.randn([_PROBE_SIZE, _PROBE_SIZE], generator=gen)
    pairs = {torch.float32: (a, b), torch.bfloat16: (a.bfloat16(), b.bfloat16())}
    best = {dtype: float('inf') for dtype in pairs}
    for dtype, (x, y) in pairs.items():  # first calls: kernel selection and JIT, not timed
        torch.mm(x, y)
    for _ in range(_PROBE_ROUNDS):  # alternated, the fastest of each: a busy machine slows both alike
        for dtype, (x, y) in pairs.items():
            start = time.perf_counter()
            torch.mm(x, y)
            best[dtype] = min(best[dtype], time.perf_counter() - start)
    return best[torch.bfloat16] <= FASTER_RATIO * best[torch.float32]


def bf16_is_faster(device='cpu'):
    """Whether bfloat16 arithmetic beats float32 on this device: on a CPU a small matmul timed in
    both once per process (a few ms; cached); on CUDA whether the GPU supports bf16; else False."""
    return _probe(_device_type(device))


def _device_type(device):
    import torch
    return torch.device(device).type


def resolve_precision(precision, device='cpu', purpose='final'):
    """'auto' | 'fp32' | 'bf16' -> the network's precision argument ('fp32', 'bf16' or 'fp16'),
    for a render on `device` made for `purpose` ('preview': shown while a control moves, replaced
    by a 'final' render when it stops; 'final': anything kept or shown at rest)."""
    if precision not in PRECISIONS:
        raise StylescopeError(f"unknown precision '{precision}': use one of {', '.join(PRECISIONS)}")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    if precision != 'auto':
        return precision
    device_type = _device_type(device)
    if device_type == 'cuda':
        return 'fp16'
    if device_type == 'cpu' and purpose == 'preview' and bf16_is_faster('cpu'):
        return 'bf16'
    return 'fp32'
