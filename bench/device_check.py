"""The device half of bench/device_check.sh: on the accelerator (or, --cpu-smoke, tiny sizes on the
CPU) prints, in one run:
- the image difference of the half-precision render to float32 (fp16 on CUDA, bf16 on the CPU):
  mean and max grey levels and the share of values more than 2 levels apart, over --seeds seeds;
- render speed, batch 1, ms and fps at each size (256 / 512 / 1024, or 32 / 64 for the smoke),
  in float32 and in the device's fast precision, ours, and the official code's beside it when
  --official names a stylegan2-ada-pytorch checkout;
- the peak accelerator memory of each.
Random weights (config-f channels for 512 and 1024, paper256's for 256), seeds 0..N-1.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.device import resolve_device  # noqa: E402
from core.images import to_uint8  # noqa: E402
from core.latent import ws_from_seeds  # noqa: E402
from core.networks import Generator  # noqa: E402

CONFIGS = {  # resolution -> (channel_base, channel_max, mapping layers, z/w dim)
    32: (2048, 64, 2, 64), 64: (4096, 128, 2, 128),
    256: (16384, 512, 8, 512), 512: (32768, 512, 8, 512), 1024: (32768, 512, 8, 512),
}


def generator(resolution, device):
    base, cmax, layers, dim = CONFIGS[resolution]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(resolution)
        G = Generator(z_dim=dim, c_dim=0, w_dim=dim, img_resolution=resolution, img_channels=3,
                      mapping_kwargs=dict(num_layers=layers),
                      synthesis_kwargs=dict(channel_base=base, channel_max=cmax, num_fp16_res=4, conv_clamp=256))
    return G.eval().requires_grad_(False).to(device)


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@torch.no_grad()
def time_render(G, ws, precision, device, repeats):
    G.synthesis(ws, noise_mode='const', precision=precision)  # warm-up: kernels, allocator
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        G.synthesis(ws, noise_mode='const', precision=precision)
        synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


@torch.no_grad()
def difference(G, seeds, fast, device):
    levels = []
    for seed in seeds:
        ws = ws_from_seeds(G, [seed])
        a = to_uint8(G.synthesis(ws, noise_mode='const', precision='fp32')).astype(np.int16)
        b = to_uint8(G.synthesis(ws, noise_mode='const', precision=fast)).astype(np.int16)
        levels.append(np.abs(a - b))
    levels = np.stack(levels)
    return float(levels.mean()), int(levels.max()), float((levels > 2).mean())


def official_ms(checkout, G, ws, device, repeats):
    """The official code on the same weights (its reference ops on CPU, its plugins on CUDA)."""
    sys.path.insert(0, checkout)
    from training.networks import Generator as Official  # noqa: PLC0415 (the user's checkout, not ours)
    official = Official(**G.init_kwargs).eval().requires_grad_(False).to(device)
    official.load_state_dict(G.state_dict())
    with torch.no_grad():
        official.synthesis(ws, noise_mode='const')
        synchronize(device)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            official.synthesis(ws, noise_mode='const')
            synchronize(device)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cpu-smoke', action='store_true', help='tiny sizes on the CPU, under a minute')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--seeds', type=int, default=None, help='seeds for the image difference (default 64; 4)')
    parser.add_argument('--repeats', type=int, default=None, help='timed renders per cell (default 10; 3)')
    parser.add_argument('--official', metavar='DIR', help='a stylegan2-ada-pytorch checkout to time beside ours')
    args = parser.parse_args()
    device = torch.device('cpu') if args.cpu_smoke else resolve_device(args.device)
    sizes = (32, 64) if args.cpu_smoke else (256, 512, 1024)
    seeds = range(args.seeds or (4 if args.cpu_smoke else 64))
    repeats = args.repeats or (3 if args.cpu_smoke else 10)
    fast = 'fp16' if device.type == 'cuda' else 'bf16'
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f'device: {name}; torch {torch.__version__}; fast precision: {fast}')
    print(f'| size | fp32 ms | fp32 fps | {fast} ms | {fast} fps | official ms | peak MiB | {fast} vs fp32: mean / max '
          'grey, share > 2 |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for size in sizes:
        G = generator(size, device)
        ws = ws_from_seeds(G, [0])
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        ms32 = time_render(G, ws, 'fp32', device, repeats)
        ms_fast = time_render(G, ws, fast, device, repeats)
        peak = torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == 'cuda' else float('nan')
        official = official_ms(args.official, G, ws, device, repeats) if args.official else float('nan')
        mean, worst, share = difference(G, seeds, fast, device)
        print(f'| {size} | {ms32:.1f} | {1e3 / ms32:.1f} | {ms_fast:.1f} | {1e3 / ms_fast:.1f} | {official:.1f} | '
              f'{peak:.0f} | {mean:.3f} / {worst}, {100 * share:.4f}% |', flush=True)


if __name__ == '__main__':
    main()
