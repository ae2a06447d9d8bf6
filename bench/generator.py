"""Generator speed: ms per image at batch 1 and 8, Stylescope in fp32 and bf16 beside the official code.

    python bench/generator.py                          # Stylescope only
    python bench/generator.py --official /path/to/stylegan2-ada-pytorch

With --official, the official Generator is built from that checkout (it is only imported,
never copied), given the same weights, and timed in the same run; the last column is
official ms / Stylescope ms (above 1 means Stylescope is faster). CPU runs fp32 (the
official code gets force_fp32=True); on CUDA both run their fp16 high-resolution blocks.
The bf16 column is Stylescope with precision='bf16' (core.precision), its speed-up the fp32 (CPU)
or fp16 (CUDA) time over it; `--no-bf16` leaves it out. The variants of one row are timed
alternately, so that a change in machine load slows them alike.
"""
import argparse
import copy
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as main.py does for every command
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # as main.py: busy-waiting threads collapse on a loaded machine

import torch  # noqa: E402

from core.networks import Generator  # noqa: E402

CONFIGS = {  # name -> (resolution, channel_base); channel_max 512, 8 mapping layers, z = w = 512
    '256 (paper256)': (256, 16384),
    '512 (config-f)': (512, 32768),
    '1024 (config-f)': (1024, 32768),
}


def generator_kwargs(resolution, channel_base):
    return dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution, img_channels=3,
                mapping_kwargs=dict(num_layers=8),
                synthesis_kwargs=dict(channel_base=channel_base, channel_max=512, num_fp16_res=4, conv_clamp=256))


def time_calls(fns, device, repeats, warmup=1):
    """Median wall time in seconds of each of fns, called in turn `repeats` times."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            if device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def load_official(directory):
    sys.path.insert(0, os.path.abspath(directory))
    from training.networks import Generator as OfficialGenerator  # noqa: imported from the user's checkout
    return OfficialGenerator


def bench_one(name, batch, device, repeats, official_cls, bf16=True):
    """ms per image: (Stylescope, Stylescope bf16 or None, official or None)."""
    resolution, channel_base = CONFIGS[name]
    torch.manual_seed(0)
    kwargs = generator_kwargs(resolution, channel_base)
    G = Generator(**copy.deepcopy(kwargs)).eval().requires_grad_(False).to(device)
    z = torch.randn([batch, G.z_dim], device=device)
    extra = {'force_fp32': True} if device.type == 'cpu' else {}
    fns = [lambda: G(z, None, noise_mode='const', **extra)]
    if bf16:
        fns.append(lambda: G(z, None, noise_mode='const', precision='bf16'))
    if official_cls is not None:
        G_off = official_cls(**copy.deepcopy(kwargs)).eval().requires_grad_(False)
        G_off.load_state_dict(G.state_dict(), strict=True)
        G_off = G_off.to(device)
        fns.append(lambda: G_off(z, None, noise_mode='const', **extra))
    with torch.no_grad():
        times = [t * 1000 / batch for t in time_calls(fns, device, repeats)]
    ours = times.pop(0)
    ours_bf16 = times.pop(0) if bf16 else None
    official = times.pop(0) if official_cls is not None else None
    return ours, ours_bf16, official


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--official', metavar='DIR', help='checkout of NVlabs/stylegan2-ada-pytorch to time beside')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--sizes', default=','.join(c.split()[0] for c in CONFIGS),
                        help='comma list of resolutions among 256,512,1024')
    parser.add_argument('--batches', default='1,8')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    parser.add_argument('--no-bf16', dest='bf16', action='store_false', help='leave out the bf16 column')
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    official_cls = load_official(args.official) if args.official else None
    sizes = set(args.sizes.split(','))
    batches = [int(b) for b in args.batches.split(',')]

    precision = 'fp32' if device.type == 'cpu' else 'fp16 high-res blocks'
    print(f'# Generator ms per image, {device.type} {precision} (bf16: precision=bf16), torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads, median of {args.repeats}')
    print('| model | batch | Stylescope ms/img | bf16 ms/img | bf16 speed-up | official ms/img '
          '| official / Stylescope |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for name in CONFIGS:
        if name.split()[0] not in sizes:
            continue
        for batch in batches:
            ours, ours_bf16, official = bench_one(name, batch, device, args.repeats, official_cls, args.bf16)
            bf16_txt = f'{ours_bf16:.0f}' if ours_bf16 is not None else '-'
            speedup = f'{ours / ours_bf16:.2f}x' if ours_bf16 is not None else '-'
            off_txt = f'{official:.0f}' if official is not None else '-'
            ratio = f'{official / ours:.2f}x' if official is not None else '-'
            print(f'| {name} | {batch} | {ours:.0f} | {bf16_txt} | {speedup} | {off_txt} | {ratio} |', flush=True)


if __name__ == '__main__':
    main()
