"""Generator speed: ms per image at batch 1 and 8, Stylescope in fp32 and bf16 beside the official code.

    python bench/generator.py                          # Stylescope only
    python bench/generator.py --official /path/to/stylegan2-ada-pytorch --stylegan3 /path/to/stylegan3
    python bench/generator.py --onnx                   # and the ONNX export run by onnxruntime
    python bench/generator.py --sizes none --sg3-sizes 256,1024 --batches 1 --repeats 1

StyleGAN3 rows (T and R, the official configs: channel base 32768 / max 512 for T, 16384 at 256 as
the FFHQ-U 256 models; doubled for R, which also uses 1x1 convolutions and radial filters) time core.networks_stylegan3 beside the
stylegan3 repo's generator (--stylegan3 DIR), whose CPU path is its reference filtered leaky ReLU.
With --onnx each StyleGAN2 row also exports the network (input z, batch 1 or the row's batch) and
times it under onnxruntime on the same CPU threads.

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
from core import networks_stylegan3  # noqa: E402

CONFIGS = {  # name -> (resolution, channel_base); channel_max 512, 8 mapping layers, z = w = 512
    '256 (paper256)': (256, 16384),
    '512 (config-f)': (512, 32768),
    '1024 (config-f)': (1024, 32768),
}


SG3_CONFIGS = {  # name -> (config, resolution)
    'StyleGAN3-T 256': ('T', 256), 'StyleGAN3-R 256': ('R', 256),
    'StyleGAN3-T 1024': ('T', 1024), 'StyleGAN3-R 1024': ('R', 1024),
}


def stylegan3_kwargs(config, resolution):
    """The official configs: channel base 32768 (16384 at 256, as the FFHQ-U 256 models), max 512;
    R doubles both and uses 1x1 convolutions and radial filters."""
    base = 16384 if resolution <= 256 else 32768
    kwargs = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), channel_base=base, channel_max=512, magnitude_ema_beta=0.999)
    if config == 'R':
        kwargs.update(channel_base=2 * base, channel_max=1024, conv_kernel=1, use_radial_filters=True)
    return kwargs


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


def load_official_stylegan3(directory):
    # Its own `training` package: imported in a fresh name space so it does not meet stylegan2-ada's.
    for name in [m for m in sys.modules if m == 'training' or m.startswith(('training.', 'torch_utils', 'dnnlib'))]:
        del sys.modules[name]
    sys.path.insert(0, os.path.abspath(directory))
    from training.networks_stylegan3 import Generator as OfficialGenerator  # noqa: the user's checkout
    return OfficialGenerator


def onnx_ms(G, batch, threads):
    """ms per image of G exported to ONNX (input z, psi 1) and run by onnxruntime, or None without it."""
    try:
        import onnxruntime
        from core.format_onnx import export_onnx
    except ImportError:
        return None
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'g.onnx')
        export_onnx(path, G.cpu(), batch=batch)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        feed = {'z': torch.randn([batch, G.z_dim]).numpy(), 'psi': torch.tensor(1.0).numpy()}
        session.run(None, feed)
        spent = []
        for _ in range(3):
            start = time.perf_counter()
            session.run(None, feed)
            spent.append(time.perf_counter() - start)
    return statistics.median(spent) * 1000 / batch


def bench_stylegan3(name, batch, device, repeats, official_cls, bf16=True):
    """ms per image of a StyleGAN3 row: (Stylescope, Stylescope bf16 or None, official or None)."""
    config, resolution = SG3_CONFIGS[name]
    torch.manual_seed(0)
    kwargs = stylegan3_kwargs(config, resolution)
    G = networks_stylegan3.Generator(**copy.deepcopy(kwargs)).eval().requires_grad_(False).to(device)
    z = torch.randn([batch, G.z_dim], device=device)
    extra = {'force_fp32': True} if device.type == 'cpu' else {}
    fns = [lambda: G(z, None, **extra)]
    if bf16:
        fns.append(lambda: G(z, None, precision='bf16'))
    if official_cls is not None:
        G_off = official_cls(**copy.deepcopy(kwargs)).eval().requires_grad_(False)
        G_off.load_state_dict(G.state_dict(), strict=True)
        G_off = G_off.to(device)
        fns.append(lambda: G_off(z, None, **extra))
    with torch.no_grad():
        times = [t * 1000 / batch for t in time_calls(fns, device, repeats)]
    ours = times.pop(0)
    ours_bf16 = times.pop(0) if bf16 else None
    official = times.pop(0) if official_cls is not None else None
    return ours, ours_bf16, official


def bench_one(name, batch, device, repeats, official_cls, bf16=True, with_onnx=False):
    """ms per image: (Stylescope, Stylescope bf16 or None, official or None, onnxruntime or None)."""
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
    onnx = onnx_ms(G, batch, torch.get_num_threads()) if with_onnx and device.type == 'cpu' else None
    return ours, ours_bf16, official, onnx


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--official', metavar='DIR', help='checkout of NVlabs/stylegan2-ada-pytorch to time beside')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--sizes', default=','.join(c.split()[0] for c in CONFIGS),
                        help='comma list of StyleGAN2 resolutions among 256,512,1024 (none: no StyleGAN2 rows)')
    parser.add_argument('--sg3-sizes', default='256', help='StyleGAN3 resolutions among 256,1024 (default: 256; '
                        'none: no StyleGAN3 rows; a 1024 StyleGAN3-R frame takes a minute on 2 CPU cores)')
    parser.add_argument('--stylegan3', metavar='DIR', help='checkout of NVlabs/stylegan3 to time beside')
    parser.add_argument('--onnx', action='store_true', help='also export each StyleGAN2 row to ONNX and time it '
                        'in onnxruntime (needs the onnx extra)')
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
    sg3_sizes = set(args.sg3_sizes.split(','))
    batches = [int(b) for b in args.batches.split(',')]

    precision = 'fp32' if device.type == 'cpu' else 'fp16 high-res blocks'
    print(f'# Generator ms per image, {device.type} {precision} (bf16: precision=bf16), torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads, median of {args.repeats}')
    print('| model | batch | Stylescope ms/img | bf16 ms/img | bf16 speed-up | official ms/img '
          '| official / Stylescope | onnxruntime ms/img |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')

    def row(name, batch, ours, ours_bf16, official, onnx=None):
        bf16_txt = f'{ours_bf16:.0f}' if ours_bf16 is not None else '-'
        speedup = f'{ours / ours_bf16:.2f}x' if ours_bf16 is not None else '-'
        off_txt = f'{official:.0f}' if official is not None else '-'
        ratio = f'{official / ours:.2f}x' if official is not None else '-'
        onnx_txt = f'{onnx:.0f}' if onnx is not None else '-'
        print(f'| {name} | {batch} | {ours:.0f} | {bf16_txt} | {speedup} | {off_txt} | {ratio} | {onnx_txt} |',
              flush=True)

    for name in CONFIGS:
        if name.split()[0] not in sizes:
            continue
        for batch in batches:
            row(name, batch, *bench_one(name, batch, device, args.repeats, official_cls, args.bf16, args.onnx))
    sg3_official = load_official_stylegan3(args.stylegan3) if args.stylegan3 else None
    for name in SG3_CONFIGS:
        if name.split()[1] not in sg3_sizes:
            continue
        for batch in batches:
            row(name, batch, *bench_stylegan3(name, batch, device, args.repeats, sg3_official, args.bf16))


if __name__ == '__main__':
    main()
