"""`directions`: find, import, tune and preview direction sets (core/directions.py).

  directions pca     --network N --out F.npz [--samples 100000] [--components 80]
  directions sefa    --network N --out F.npz [--layers 0-5] [--components 80]
  directions svm     --network N --out F.npz --labels labels.csv [--orthogonal-to F.npz:NAME ...]
  directions suggest F.npz --network N --out G.npz [--use-d]   (layer range per direction)
  directions import  FILE --network N --out F.npz               (InterfaceGAN / GANSpace / rosinality / projected_w)
  directions show    F.npz --network N --out strip.png [--seeds 0-5] [--steps 7] [--alpha 3]

`show` draws, for each direction and each seed, one row of `steps` images from -alpha to
+alpha slider units (rows: direction 0 seed 0, direction 0 seed 1, ...). On a conditional
network every action takes `--class` as `generate` does; without it each seed shows the class
drawn from its own RNG (NVIDIA's visualiser), and PCA's samples draw random classes.
"""
import dataclasses
import os

from cli import options
from core.direction_set import DEFAULT_COMPONENTS, SAMPLE_SEED
from core.errors import StylescopeError

MAX_GRID_PIXELS = 400_000_000  # about 1.2 GB of RGB: beyond this `show` asks for fewer rows or smaller cells
CLASS_HELP = 'class of a conditional network (default: each seed draws its own, as NVIDIA\'s visualiser)'


# ----------------------------------------------------------------------------------------------
# Parser

def _network_args(p, with_class=True):
    options.add_network_and_device(p)
    if with_class:
        options.add_class(p, CLASS_HELP)


def add_parser(sub, parents=()):
    """Add the `directions` command (with its own subcommands) to main.py's subparsers;
    `parents` (main.py's shared options such as --debug) go to every level."""
    parents = list(parents)
    p = sub.add_parser('directions', parents=parents, help='find, import and preview edit directions',
                       description='Find edit directions (PCA, SeFa, SVM from labels), import other tools\' '
                                   'files, propose layer ranges, and render preview strips.')
    actions = p.add_subparsers(dest='directions_command', metavar='ACTION', required=True)

    a = actions.add_parser('pca', parents=parents, help='principal components of W (GANSpace)')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--samples', type=int, default=100_000, metavar='N', help='mapped samples (default: 100000)')
    a.add_argument('--components', type=int, default=DEFAULT_COMPONENTS, metavar='K',
                   help=f'components kept (default: {DEFAULT_COMPONENTS}, at most w_dim)')
    a.add_argument('--chunk', type=int, default=2000, metavar='N', help='samples mapped at once (default: 2000)')
    a.add_argument('--seed', type=int, default=SAMPLE_SEED, help='sampling seed (default: 1, as GANSpace)')

    a = actions.add_parser('sefa', parents=parents, help='closed-form factorisation of style weights (SeFa)')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--layers', metavar='A-B', help='ws range to factorise and edit, inclusive (default: all)')
    a.add_argument('--components', type=int, default=DEFAULT_COMPONENTS, metavar='K',
                   help=f'directions kept (default: {DEFAULT_COMPONENTS}, at most w_dim)')
    a.add_argument('--include-torgb', action='store_true', help='also factorise the ToRGB layers of the range')

    a = actions.add_parser('svm', parents=parents, help='linear SVM boundary from labelled seeds (InterfaceGAN)')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--labels', required=True, metavar='CSV',
                   help="'seed,label' rows, label 0 or 1; a third column 'class' names the class each picture was "
                        'drawn with')
    a.add_argument('--psi', type=float, default=1.0,
                   help='truncation psi the labelled images were drawn with (default: 1)')
    a.add_argument('--name', default=None, help='direction name (default: the label file name)')
    a.add_argument('--layers', metavar='A-B', help='ws range the edit applies to, inclusive (default: all)')
    a.add_argument('--orthogonal-to', action='append', default=[], metavar='F.npz:NAME',
                   help='make the direction orthogonal to this one (all of the file without :NAME); repeatable')

    a = actions.add_parser('suggest', parents=parents, help='propose each direction\'s layer range')
    a.add_argument('directions', metavar='F.npz', help='direction file')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write (may be the input)')
    a.add_argument('--seeds', default='0-7', metavar='LIST', help='seeds measured (default: 0-7)')
    a.add_argument('--alpha', type=float, default=3.0, help='slider units applied (default: 3)')
    a.add_argument('--psi', type=float, default=0.7, help='truncation psi of the seeds (default: 0.7)')
    a.add_argument('--use-d', action='store_true', help="measure the discriminator's features instead of pixels")

    a = actions.add_parser('import', parents=parents, help='convert another tool\'s direction file')
    a.add_argument('source', metavar='FILE',
                   help='InterfaceGAN .npy, GANSpace .npz, rosinality .pt or projected_w .npz')
    _network_args(a, with_class=False)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')

    a = actions.add_parser('show', parents=parents, help='render a strip of edits per direction and seed')
    a.add_argument('directions', metavar='F.npz', help='direction file (any format open_directions reads)')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='PNG', help='image to write')
    a.add_argument('--seeds', default='0-5', metavar='LIST', help='seeds, one row each (default: 0-5)')
    a.add_argument('--steps', type=int, default=7, help='columns from -alpha to +alpha (default: 7)')
    a.add_argument('--alpha', type=float, default=3.0, help='largest slider value (default: 3)')
    a.add_argument('--psi', type=float, default=1.0, help='truncation psi (default: 1)')
    a.add_argument('--only', metavar='LIST',
                   help="directions to draw, by name or index: 'PC0,PC3' or '0-4' (default: all)")
    a.add_argument('--cell', type=int, default=256, metavar='PX', help='shrink images larger than this (default: 256)')
    options.add_noise_mode(a)
    return p


# ----------------------------------------------------------------------------------------------
# Helpers

def _open_network(args, want_D=False):
    """The LoadedNetwork of --network, its --class checked (tests replace this)."""
    from core.default_model import open_network_or_default
    from core.device import resolve_device
    net = open_network_or_default(args.network, resolve_device(args.device), want_D=want_D)
    _check_class(args, net.G)
    return net


def _check_class(args, G):
    class_idx = getattr(args, 'class_idx', None)
    if class_idx is None:
        return
    if G.c_dim == 0:
        raise StylescopeError(f'--class {class_idx} was given but the network is unconditional: drop --class')
    if not 0 <= class_idx < G.c_dim:
        raise StylescopeError(f'class {class_idx} is out of range: this network has {G.c_dim} classes, '
                              f'use --class 0 to {G.c_dim - 1}')


def conditions_from_specs(specs, G):
    """The vectors [M, w_dim] named by --orthogonal-to specs, or None when there are none."""
    import numpy as np

    from core.direction_files import open_directions
    rows = []
    for spec in specs:
        path, name = options.split_direction_spec(spec)
        dset = open_directions(path, G)
        rows.append(dset.vectors if name is None else dset.vectors[dset.index(name)][None])
    return np.concatenate(rows) if rows else None


def _save(dset, path):
    try:
        dset.save(path)
    except OSError as e:
        raise StylescopeError(f"cannot write '{path}' ({e.strerror}): choose another --out") from None


def _select(dset, text):
    if text is None:
        return dset
    picked = []
    for part in str(text).split(','):
        part = part.strip()
        if part in dset.names:
            picked.append(part)
        elif part.replace('-', '').isdigit():
            first, _, last = part.partition('-')
            picked.extend(range(int(first), int(last or first) + 1))
        else:
            raise StylescopeError(f"--only '{part}' names no direction: use names ({', '.join(dset.names[:5])}...) "
                                  'or indices like 0-4')
    return dset.subset(picked)


# ----------------------------------------------------------------------------------------------
# Actions

def _run_pca(args):
    from tqdm import tqdm

    from core.directions import PCADirections
    if args.samples < 2 or args.chunk < 1 or args.components < 1:
        raise StylescopeError('--samples must be at least 2, --chunk and --components at least 1: raise them')
    G = _open_network(args).G
    pca = PCADirections(args.components, args.samples, args.chunk, args.seed, class_idx=args.class_idx)
    with tqdm(total=args.samples, unit='w', desc='pca') as bar:
        pca.fit(G, progress=lambda done, total: bar.update(done - bar.n))
    _save(pca.directions_, args.out)
    top = pca.explained_variance_ratio_[:5].sum()
    print(f'wrote {args.out}: {len(pca.directions_)} PCA directions from {args.samples} samples '
          f'(the first {min(5, len(pca.directions_))} explain {top:.1%} of the variance)')


def _run_sefa(args):
    from core.directions import SeFaDirections
    from core.ws_rows import parse_row_range
    if args.components < 1:
        raise StylescopeError('--components must be at least 1: raise it')
    G = _open_network(args).G
    sefa = SeFaDirections(parse_row_range(args.layers, G.num_ws), args.components, args.include_torgb,
                          class_idx=args.class_idx).fit(G)
    _save(sefa.directions_, args.out)
    print(f'wrote {args.out}: {len(sefa.directions_)} SeFa directions from {len(sefa.layer_names_)} layers '
          f"({', '.join(sefa.layer_names_)})")


def _run_svm(args):
    from core.directions import SVMDirection
    from core.label_file import labels_from_csv
    from core.ws_rows import parse_row_range
    seeds, labels, classes = labels_from_csv(args.labels)
    G = _open_network(args).G
    if classes is not None and args.class_idx is not None:
        raise StylescopeError(f"'{args.labels}' names each seed's class, and --class names another: drop --class")
    conditions = conditions_from_specs(args.orthogonal_to, G)
    name = args.name or os.path.splitext(os.path.basename(args.labels))[0]
    svm = SVMDirection(orthogonal_to=conditions)
    dset = svm.fit_from_seeds(G, seeds, labels, psi=args.psi, name=name,
                              layers=parse_row_range(args.layers, G.num_ws),
                              classes=classes if classes is not None else args.class_idx)
    _save(dset, args.out)
    print(f"wrote {args.out}: direction '{name}' from {len(seeds)} labelled seeds "
          f'(training accuracy {svm.accuracy_:.1%}{", conditioned" if conditions is not None else ""})')


def _run_suggest(args):
    from tqdm import tqdm

    from core.direction_files import open_directions
    from core.directions import suggest_layer_ranges
    from core.seeds import parse_seeds
    net = _open_network(args, want_D=args.use_d)
    if args.use_d and net.D is None:
        raise StylescopeError(f"--use-d needs a discriminator but '{args.network}' has none: drop --use-d")
    dset = open_directions(args.directions, net.G)
    seeds = parse_seeds(args.seeds)
    with tqdm(total=len(dset), unit='dir', desc='suggest') as bar:
        out = suggest_layer_ranges(net.G, dset, D=net.D if args.use_d else None, seeds=seeds, alpha=args.alpha,
                                   psi=args.psi, class_idx=args.class_idx,
                                   progress=lambda done, total: bar.update(done - bar.n))
    _save(out, args.out)
    for name, s, e in zip(out.names, out.layer_start, out.layer_end):
        print(f'{name}: ws {s}-{e - 1}')
    print(f'wrote {args.out}')


def _run_import(args):
    from core.direction_files import open_directions
    from core.model_io import fingerprint
    G = _open_network(args).G
    dset = open_directions(args.source, G)
    meta = dict(dset.meta, fingerprint=dset.meta.get('fingerprint') or fingerprint(G), num_ws=G.num_ws)
    dset = dataclasses.replace(dset, meta=meta)
    _save(dset, args.out)
    print(f"wrote {args.out}: {len(dset)} direction{'s' * (len(dset) != 1)} from {args.source}")


def _run_show(args):
    import numpy as np
    import PIL.Image
    import torch
    from tqdm import tqdm

    from core.direction_files import open_directions
    from core.directions import seed_classes
    from core.images import make_grid, save_png
    from core.latent import add_offsets, ws_from_seeds
    from core.render import render_ws  # no_grad inside
    from core.seeds import parse_seeds
    if args.steps < 1 or args.cell < 8:
        raise StylescopeError('--steps must be at least 1 and --cell at least 8: raise them')
    seeds = parse_seeds(args.seeds)
    G = _open_network(args).G
    dset = _select(open_directions(args.directions, G), args.only)
    cell = min(args.cell, G.img_resolution)
    if len(dset) * len(seeds) * args.steps * cell * cell > MAX_GRID_PIXELS:
        raise StylescopeError(f'{len(dset)} directions x {len(seeds)} seeds x {args.steps} steps make too large an '
                              'image: pick fewer with --only or --seeds, or smaller cells with --cell')
    base = ws_from_seeds(G, seeds, seed_classes(G, seeds, args.class_idx), args.psi)
    alphas = np.linspace(-args.alpha, args.alpha, args.steps)
    images = []
    with tqdm(total=len(dset) * len(seeds), unit='row', desc='show') as bar:
        for k in range(len(dset)):
            for i in range(len(seeds)):
                sliders = np.zeros([args.steps, len(dset)])
                sliders[:, k] = alphas
                sweep = torch.cat([add_offsets(base[i:i + 1], dset.offsets_for(one)) for one in sliders])
                for img in render_ws(G, sweep, noise_mode=args.noise_mode):
                    if cell != G.img_resolution:
                        pil = PIL.Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img)
                        img = np.asarray(pil.resize((cell, cell), PIL.Image.LANCZOS)).reshape(cell, cell, -1)
                    images.append(img)
                bar.update(1)
    meta = {'Software': 'Stylescope', 'directions': ', '.join(dset.names), 'seeds': args.seeds,
            'alpha': f'{-args.alpha}..{args.alpha} in {args.steps} steps', 'psi': args.psi,
            'rows': 'each direction x each seed'}
    save_png(args.out, make_grid(images, cols=args.steps), meta)
    print(f'wrote {args.out}: {len(dset)} directions x {len(seeds)} seeds, {args.steps} steps from '
          f'{-args.alpha:g} to {args.alpha:g}')


ACTIONS = dict(pca=_run_pca, sefa=_run_sefa, svm=_run_svm, suggest=_run_suggest, show=_run_show)
ACTIONS['import'] = _run_import


def run(args):
    ACTIONS[args.directions_command](args)
    return 0
