"""Projection quality and speed.

    python bench/projection.py                                   # default network, known w
    python bench/projection.py --network run/ --data /work/shared/datasets/congress-portraits-64.zip --limit 16

1. Known w: for each seed, the image of its w (const noise) is projected in W and in W+; printed
   is the PSNR of the projection (drawn with its optimised noise maps, as proj.png) and of the
   projected ws drawn with the network's own noise (as `generate --projected-w` draws it).
2. Speed: seconds per 100 optimisation steps on this device (loss and gradients included).
3. With --data ZIP (the official dataset layout): PSNR and SSIM of the W, W+ and PTI (pivotal
   tuning: the W result as the pivot, then --pti-steps of tuning a copy of the network, core.pti)
   reconstructions of the held-out images 00004/img00004800.png .. 00004/img00004995.png (--limit N
   takes N of them, evenly spaced), the seconds each space took per image, and how much one edit
   changes each reconstruction: PC0 at +2 sigma and, when the direction file has it, `colour` at
   +2, each in its own layer range (the network's companion direction file, or --directions), as
   the mean absolute pixel change (0-255) it makes, beside the change it makes to generated faces
   (seeds 0-15): "fits better" weighed against "edits worse". Real-face numbers mean something only
   with a trained network.

    python bench/projection.py --seeds none --data /work/shared/datasets/congress-portraits-64.zip --limit 16 \
        --steps 300 --pti-steps 200 --threads 1
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
from core.pti import PivotalTuner, PTIOptions  # noqa: E402
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
    p.add_argument('--pti-steps', type=int, default=350, help='PTI tuning steps after the W pivot (default: 350)')
    p.add_argument('--directions', help="direction file of the edits (default: the network's companion file)")
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
        edits = bench_edits(G, net.meta.get('source'), args.directions)
        real_faces(G, D, args.data, args.limit, args.steps, extra, stats, args.noise_init, args.pti_steps, edits)


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


def bench_edits(G, source, path=None):
    """[(label, offset [num_ws, w_dim] float32)]: PC0 at +2 sigma and `colour` at +2 (when the file
    has them), each over its own layer range."""
    from core import direction_files
    if path is None:
        path = direction_files.companion_path(source) if source and os.path.exists(source) else None
    if path is None:
        print('note: no direction file beside the network (give --directions): no edit columns')
        return []
    dset = direction_files.open_directions(path, G)
    edits = []
    for name in ('PC0', 'colour'):
        if name not in dset.names:
            print(f'note: {path} has no direction {name}')
            continue
        k = dset.index(name)
        offset = np.zeros([G.num_ws, G.w_dim], np.float32)
        offset[dset.layer_start[k]:dset.layer_end[k]] = 2 * dset.scales[k] * dset.vectors[k]
        edits.append((f'{name} +2', offset))
    print(f"edits from {path}: {', '.join(label for label, _ in edits) or 'none'}")
    return edits


def edit_change(G, ws, edit, noise=None):
    """Mean absolute pixel change (0-255) the edit offset makes to ws drawn by G (with noise maps)."""
    ws = torch.as_tensor(np.asarray(ws, np.float32))
    maps = None if not noise else {k: torch.from_numpy(np.asarray(v)) for k, v in noise.items()}
    device = G.mapping.fc0.weight.device
    before = G.synthesis(ws.to(device), noise_mode='const', noise_inputs=maps)
    after = G.synthesis((ws + torch.from_numpy(edit)).to(device), noise_mode='const', noise_inputs=maps)
    from core.images import to_uint8
    return float(np.abs(to_uint8(after).astype(np.float64) - to_uint8(before)).mean())


SPACES = ('W', 'W+', 'PTI')


def real_faces(G, D, data, limit, steps, extra, stats, noise_init, pti_steps, edits):
    print(f'\nreal faces: held-out images of {data}; noise maps start {noise_init}; W {steps} steps, W+ those then '
          f'{extra}, PTI the W result then {pti_steps} tuning steps (lr 3e-4, locality 0.1)')
    edit_cols = [f'{space} {label}' for label, _ in edits for space in SPACES]
    head = ''.join(f'{c:>9}' for c in ('W psnr', 'W+ psnr', 'PTI psnr', 'W ssim', 'W+ ssim', 'PTI ssim'))
    print(f"{'image':>24}{head}" + ''.join(f'{c:>14}' for c in edit_cols))
    scores, seconds = [], {space: [] for space in SPACES}
    with torch.no_grad():
        generated = ws_from_seeds(G, list(range(16))).cpu().numpy()
        baseline = {label: mean([edit_change(G, w[None], edit) for w in generated]) for label, edit in edits}
    for name, target in held_out_images(data, limit, G.img_resolution):
        res_w, _ = project(G, D, target, 'w', steps, extra, stats, noise_init)
        res_plus, _ = project(G, D, target, 'w+', steps, extra, stats, noise_init)
        tuner = PivotalTuner(G, target, res_w.ws, D=D, options=PTIOptions(num_steps=pti_steps))
        for _ in tuner.steps():
            pass
        tuned = tuner.tuned_network()
        pti_image = tuner.best_image
        images = [res_w.image, res_plus.image, pti_image]
        row = [psnr(im, target) for im in images] + [ssim_uint8(im, target) for im in images]
        with torch.no_grad():
            for _, edit in edits:
                row += [edit_change(G, res_w.ws, edit, res_w.noise), edit_change(G, res_plus.ws, edit, res_plus.noise),
                        edit_change(tuned, res_w.ws, edit)]
        seconds['W'].append(res_w.seconds)
        seconds['W+'].append(res_plus.seconds)
        seconds['PTI'].append(res_w.seconds + tuner.seconds)
        scores.append(row)
        print(f'{name:>24}' + ''.join(f'{v:>9.2f}' if i < 3 else f'{v:>9.4f}' for i, v in enumerate(row[:6]))
              + ''.join(f'{v:>14.2f}' for v in row[6:]), flush=True)
        del tuned, tuner
    m = [mean(c) for c in zip(*scores)]
    print(f"{'mean of ' + str(len(scores)):>24}" + ''.join(f'{v:>9.2f}' if i < 3 else f'{v:>9.4f}'
                                                           for i, v in enumerate(m[:6]))
          + ''.join(f'{v:>14.2f}' for v in m[6:]))
    print(f'PTI - W+: {m[2] - m[1]:+.2f} dB PSNR (target: +3 dB or more), {m[5] - m[4]:+.4f} SSIM')
    for j, (label, _) in enumerate(edits):
        per = m[6 + 3 * j: 9 + 3 * j]
        print(f"edit {label}: mean |pixel change| W {per[0]:.2f}, W+ {per[1]:.2f}, PTI {per[2]:.2f}; on generated "
              f"faces (seeds 0-15) {baseline[label]:.2f}")
    print('seconds per image: ' + ', '.join(f'{space} {mean(seconds[space]):.1f}' for space in SPACES)
          + ' (PTI includes its W pivot)')


if __name__ == '__main__':
    main()
