"""Projection quality and speed.

    python bench/projection.py                                   # default network, known w
    python bench/projection.py --network run/ --data /work/shared/datasets/congress-portraits-64.zip --limit 16

1. Known w: for each seed, the image of its w (const noise) is projected in W and in W+; printed
   is the PSNR of the projection (drawn with its optimised noise maps, as proj.png) and of the
   projected ws drawn with the network's own noise (as `generate --projected-w` draws it).
2. Speed: seconds per 100 optimisation steps on this device (loss and gradients included).
3. With --data ZIP (the official dataset layout): PSNR and SSIM of the W and W+ reconstructions
   of the held-out images 00004/img00004800.png .. 00004/img00004995.png (--limit N takes N of
   them, evenly spaced). Real-face numbers mean something only with a trained network.
"""
import argparse
import io
import os
import statistics
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as main.py does for every command
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import torch  # noqa: E402

from core.align import center_crop  # noqa: E402
from core.default_model import open_network_or_default  # noqa: E402
from core.device import resolve_device  # noqa: E402
from core.image_losses import psnr, ssim_uint8  # noqa: E402
from core.latent import ws_from_seeds  # noqa: E402
from core.seeds import parse_seeds  # noqa: E402
from core.projection import ProjectionOptions, Projector, w_stats  # noqa: E402
from core.render import render_ws  # noqa: E402

HELD_OUT = [f'00004/img{i:08d}.png' for i in range(4800, 4996)]


def project(G, D, target, space, steps, w_plus_steps, stats, noise_init):
    options = ProjectionOptions(num_steps=steps, space=space, w_plus_steps=w_plus_steps, noise_init=noise_init)
    projector = Projector(G, target, D=D, options=options, stats=stats)
    result = projector.run()
    return result, projector.describe_loss()


def held_out_images(path, limit, size):
    with zipfile.ZipFile(path) as z:
        names = [n for n in HELD_OUT if n in set(z.namelist())]
        if not names:
            sys.exit(f'error: {path} has none of the held-out images {HELD_OUT[0]} .. {HELD_OUT[-1]}')
        if limit and limit < len(names):
            names = [names[int(i)] for i in np.linspace(0, len(names) - 1, limit).round()]
        for name in names:
            with PIL.Image.open(io.BytesIO(z.read(name))) as img:
                yield name, center_crop(img.convert('RGB'), size)


def mean(values):
    return statistics.fmean(values) if values else float('nan')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--network', help='network file (default: the bundled / random default network)')
    p.add_argument('--seeds', default='1-3', help="seeds of the known-w targets (default: 1-3; 'none': skip them)")
    p.add_argument('--steps', type=int, default=1000, help='W steps (default: 1000, as the official projector)')
    p.add_argument('--w-plus-steps', type=int, default=None, help='extra W+ steps (default: half of --steps)')
    p.add_argument('--data', help='dataset zip of real faces (held-out images 00004/img00004800..4995)')
    p.add_argument('--limit', type=int, default=0, help='use N of the held-out images (default: all 196)')
    p.add_argument('--noise-init', choices=('const', 'random'), default='const',
                   help="noise maps start as the network's const noise (default) or at random (official)")
    p.add_argument('--device', default='cpu', help='cpu, cuda or auto (default: cpu)')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    net = open_network_or_default(args.network, device, want_D=True)
    G, D = net.G, net.D
    print(f"network: {net.meta.get('source')} ({G.img_resolution}px, w_dim {G.w_dim}, num_ws {G.num_ws}, "
          f"D {'yes' if D is not None else 'no'}); device {device}, {torch.get_num_threads()} threads")
    stats = w_stats(G)
    extra = args.steps // 2 if args.w_plus_steps is None else args.w_plus_steps

    if args.seeds != 'none':
        known_w(G, D, device, parse_seeds(args.seeds), args.steps, extra, stats, args.noise_init)
    if args.data:
        real_faces(G, D, args.data, args.limit, args.steps, extra, stats, args.noise_init)


def known_w(G, D, device, seeds, steps, extra, stats, noise_init):
    print(f'\nknown w: {steps} W steps; W+ = those then {extra} W+ steps; noise maps start {noise_init}')
    print(f"{'seed':>6} {'W psnr':>8} {'(G noise)':>9} {'W+ psnr':>8} {'(G noise)':>9}")
    rows, per100, described = [], [], None
    for seed in seeds:
        ws = ws_from_seeds(G, [seed])
        target = render_ws(G, ws)[0]
        row = []
        for space in ('w', 'w+'):
            res, described = project(G, D, target, space, steps, extra, stats, noise_init)
            own_noise = render_ws(G, torch.from_numpy(res.ws).to(device))[0]
            row += [psnr(res.image, target), psnr(own_noise, target)]
            per100.append(res.seconds / res.steps_done * 100)
        rows.append(row)
        print(f'{seed:>6} ' + ' '.join(f'{v:>8.2f}' if i % 2 == 0 else f'{v:>9.2f}' for i, v in enumerate(row)),
              flush=True)
    cols = list(zip(*rows))
    print(f"{'mean':>6} " + ' '.join(f'{mean(c):>8.2f}' if i % 2 == 0 else f'{mean(c):>9.2f}'
                                      for i, c in enumerate(cols)))
    print(f'loss: {described}')
    print(f'time per 100 steps: {mean(per100):.2f} s (median {statistics.median(per100):.2f} s) on {device}')


def real_faces(G, D, data, limit, steps, extra, stats, noise_init):
    print(f'\nreal faces: held-out images of {data}; noise maps start {noise_init}')
    print(f"{'image':>24} {'W psnr':>8} {'W ssim':>7} {'W+ psnr':>8} {'W+ ssim':>8}")
    scores = []
    for name, target in held_out_images(data, limit, G.img_resolution):
        row = []
        for space in ('w', 'w+'):
            res, _ = project(G, D, target, space, steps, extra, stats, noise_init)
            row += [psnr(res.image, target), ssim_uint8(res.image, target)]
        scores.append(row)
        print(f'{name:>24} {row[0]:>8.2f} {row[1]:>7.4f} {row[2]:>8.2f} {row[3]:>8.4f}', flush=True)
    m = [mean(c) for c in zip(*scores)]
    print(f"{'mean of ' + str(len(scores)):>24} {m[0]:>8.2f} {m[1]:>7.4f} {m[2]:>8.2f} {m[3]:>8.4f}")


if __name__ == '__main__':
    main()
