"""`generate`: seeds -> seedNNNN.png (and grid.png), pixel for pixel as the official generate.py;
or, with --projected-w, each saved ws -> projNN.png (seeds ignored, as in the official script).
Like the official script, --projected-w draws with the network's own noise (--noise-mode); add
--projected-noise projected_noise.npz to draw with the maps `project` optimised (proj.png).
`--edit F.npz:NAME=AMOUNT` (repeatable) adds direction edits after truncation (core/edits.py)."""
import os
import sys

from cli import options
from core.errors import StylescopeError


def add_parser(sub, parents=()):
    p = sub.add_parser('generate', parents=list(parents), help='write images for a list of seeds',
                       description='Write seedNNNN.png for each seed, as the official generate.py does.')
    options.add_network(p)
    p.add_argument('--seeds', metavar='LIST', help="seed list such as '0-7,42' (ranges inclusive)")
    p.add_argument('--projected-w', metavar='FILE', help="draw saved ws instead (projected_w.npz, key 'w'; "
                   "writes projNN.png; seeds are ignored)")
    p.add_argument('--projected-noise', metavar='FILE',
                   help="with --projected-w: draw with these noise maps (project's projected_noise.npz) instead of "
                        "the network's own, so projNN.png is proj.png")
    options.add_truncation(p)
    options.add_edit(p)
    options.add_noise_mode(p)
    options.add_class(p)
    p.add_argument('--outdir', default='out', metavar='DIR', help='output folder, created if needed (default: out)')
    p.add_argument('--grid', action='store_true', help='also write all images tiled into grid.png')
    options.add_device(p)
    options.add_precision(p)
    p.add_argument('--batch', type=options.Number(1, 1024), default=8, metavar='N',
                   help='images per forward pass (default: 8)')
    return p


def _png_metadata(args, meta, seed):
    return {'Software': 'Stylescope', 'seed': seed, 'truncation_psi': args.trunc,
            'truncation_cutoff': args.trunc_cutoff, 'noise_mode': args.noise_mode, 'class': args.class_idx,
            'network': meta.get('source'), 'fingerprint': meta.get('fingerprint'), **_edit_metadata(args)}


def _edit_metadata(args):
    from core.edits import describe
    return {'edits': describe(args.edit)} if args.edit else {}


def _edits(args, G):
    """The --edit offsets for G: (W offsets, StyleSpace offsets as G.synthesis takes them or None);
    files opened and names checked before anything is written."""
    from core.edits import edit_offsets
    from core.stylespace import style_offset_tensors
    offsets, styles = edit_offsets(args.edit, G)
    return offsets, (style_offset_tensors(G, styles) if styles else None)


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _run_projected_w(args):
    """Each ws of an .npz ('w' [n, num_ws, w_dim]) -> projNN.png, as the official generate.py."""
    import torch
    from tqdm import tqdm

    from core.default_model import open_network_or_default
    from core.device import resolve_device
    from core.images import save_png
    from core.latent import load_ws_file
    from core.render import render_ws
    if args.seeds is not None:
        print('warning: --seeds is ignored with --projected-w', file=sys.stderr)
    from core.latent import add_offsets
    device = resolve_device(args.device)
    net = open_network_or_default(args.network, device)
    ws = torch.from_numpy(load_ws_file(args.projected_w, net.G.num_ws, net.G.w_dim)).to(device)
    offsets, styles = _edits(args, net.G)
    ws = add_offsets(ws, offsets)  # a projected w is drawn as it is (no truncation), then edited
    maps, noise_file = None, args.projected_noise
    if noise_file:
        from core.projection import load_noise_maps
        maps = load_noise_maps(noise_file, net.G)
        if args.noise_mode == 'none':
            print('warning: --projected-noise is ignored with --noise-mode none (no noise at all)', file=sys.stderr)
    options.make_outdir(args.outdir, names=[f'proj{idx:02d}.png' for idx in range(len(ws))])
    for idx, w in enumerate(tqdm(ws, unit='img', desc='generate')):
        img = render_ws(net.G, w.unsqueeze(0), args.noise_mode, maps, precision=args.precision,
                        style_offsets=styles)[0]
        meta = {'Software': 'Stylescope', 'projected_w': os.path.abspath(args.projected_w), 'index': idx,
                'noise_mode': args.noise_mode, 'network': net.meta.get('source'),
                'fingerprint': net.meta.get('fingerprint'), **_edit_metadata(args)}
        if noise_file:
            meta['projected_noise'] = os.path.abspath(noise_file)
        save_png(os.path.join(args.outdir, f'proj{idx:02d}.png'), img, meta)
    print(f"wrote {len(ws)} image{'s' * (len(ws) != 1)} from {args.projected_w} to {args.outdir}")
    return 0


def run(args):
    if args.projected_w:
        return _run_projected_w(args)
    if args.projected_noise:
        raise StylescopeError('--projected-noise goes with --projected-w: give the projected_w.npz its maps belong to')
    if args.seeds is None:
        raise StylescopeError('nothing to generate: give --seeds (such as 0-7) or --projected-w FILE')
    from tqdm import tqdm

    from core.default_model import open_network_or_default
    from core.device import resolve_device
    from core.images import make_grid, save_png
    from core.latent import add_offsets, class_vector, ws_from_seeds
    from core.render import render_ws
    from core.seeds import parse_seeds
    seeds = parse_seeds(args.seeds)
    device = resolve_device(args.device)
    net = open_network_or_default(args.network, device)
    G = net.G
    if G.c_dim == 0 and args.class_idx is not None:
        print('warning: --class is ignored: the network is unconditional', file=sys.stderr)
    class_vector(G.c_dim, args.class_idx)  # a missing or bad --class stops here, before any output
    class_idx = args.class_idx if G.c_dim else None
    edits, styles = _edits(args, G)
    if args.grid:  # every image is kept for it
        from core.image_files import check_image_size
        check_image_size(len(seeds), G.img_resolution, G.img_resolution, f'grid.png of {len(seeds):,} images',
                         'ask for fewer --seeds, or drop --grid')
    options.make_outdir(args.outdir, names=[f'seed{seed:04d}.png' for seed in seeds] + ['grid.png'] * args.grid)
    kept = []
    with tqdm(total=len(seeds), unit='img', desc='generate') as progress:
        for batch in _batches(seeds, args.batch):
            ws = ws_from_seeds(G, batch, class_idx, args.trunc, args.trunc_cutoff)  # as render_seeds draws them
            images = render_ws(G, add_offsets(ws, edits) if edits else ws, args.noise_mode, precision=args.precision,
                               style_offsets=styles)
            for seed, img in zip(batch, images):
                save_png(os.path.join(args.outdir, f'seed{seed:04d}.png'), img, _png_metadata(args, net.meta, seed))
                if args.grid:
                    kept.append(img)
            progress.update(len(batch))
    if args.grid:
        save_png(os.path.join(args.outdir, 'grid.png'), make_grid(kept))
    print(f"wrote {len(seeds)} image{'s' * (len(seeds) != 1)}{' and grid.png' if args.grid else ''} to {args.outdir}")
    return 0
