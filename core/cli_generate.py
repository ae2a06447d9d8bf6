"""`generate`: seeds -> seedNNNN.png (and grid.png), pixel for pixel as the official generate.py."""
import os
import sys

from tqdm import tqdm

from core.default_model import open_network_or_default
from core.device import resolve_device
from core.errors import StylescopeError
from core.images import make_grid, save_png
from core.latent import class_vector, parse_seeds
from core.render import render_seeds


def _check_options(args):
    if args.batch < 1:
        raise StylescopeError(f'--batch {args.batch} is not allowed: use a batch size of 1 or more')
    if args.trunc_cutoff is not None and args.trunc_cutoff < 0:
        raise StylescopeError(f'--trunc-cutoff {args.trunc_cutoff} is negative: use a ws index from 0 up')


def _make_outdir(outdir):
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as e:
        raise StylescopeError(f"cannot create output folder '{outdir}' ({e.strerror}): choose another --outdir")


def _png_metadata(args, meta, seed):
    return {'Software': 'Stylescope', 'seed': seed, 'truncation_psi': args.trunc,
            'truncation_cutoff': args.trunc_cutoff, 'noise_mode': args.noise_mode, 'class': args.class_idx,
            'network': meta.get('source'), 'fingerprint': meta.get('fingerprint')}


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def run(args):
    _check_options(args)
    seeds = parse_seeds(args.seeds)
    device = resolve_device(args.device)
    net = open_network_or_default(args.network, device)
    G = net.G
    if G.c_dim == 0 and args.class_idx is not None:
        print('warning: --class is ignored: the network is unconditional', file=sys.stderr)
    c = class_vector(G.c_dim, args.class_idx, device)
    _make_outdir(args.outdir)
    kept = []
    with tqdm(total=len(seeds), unit='img', desc='generate') as progress:
        for batch in _batches(seeds, args.batch):
            images = render_seeds(G, batch, c, args.trunc, args.trunc_cutoff, args.noise_mode)
            for seed, img in zip(batch, images):
                save_png(os.path.join(args.outdir, f'seed{seed:04d}.png'), img, _png_metadata(args, net.meta, seed))
                if args.grid:
                    kept.append(img)
            progress.update(len(batch))
    if args.grid:
        save_png(os.path.join(args.outdir, 'grid.png'), make_grid(kept))
    print(f"wrote {len(seeds)} image{'s' * (len(seeds) != 1)}{' and grid.png' if args.grid else ''} to {args.outdir}")
    return 0
