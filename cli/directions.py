"""`directions`: find, import, tune and preview direction sets (core/directions.py).

  directions pca     --network N --out F.npz [--samples 100000] [--components 80]
  directions sefa    --network N --out F.npz [--layers 0-5] [--components 80]
  directions svm     --network N --out F.npz --labels labels.csv [--orthogonal-to F.npz:NAME ...]
  directions suggest F.npz --network N --out G.npz [--use-d]   (layer range per direction)
  directions import  FILE --network N --out F.npz               (InterfaceGAN / GANSpace / rosinality / projected_w)
  directions show    F.npz --network N --out strip.png [--seeds 0-5] [--steps 7] [--alpha 3]
  directions diff    --network N --from SEED|W.npz --to SEED|W.npz --out F.npz [--rows a-b] [--trunc PSI]
  directions stylespace --network N --labels L.csv --out F.npz [--top K]   (or --channel b16.conv1:45 ...)

`diff` is latent arithmetic: the direction "A -> B" whose vector is w_B - w_A (per ws row when the
rows differ, so a W+ difference stays W+) and whose unit is that difference, so
`generate --seeds A --edit F.npz:0=1` draws B (core.direction_set.difference). A seed is drawn with
--trunc / --trunc-cutoff as `generate` draws it; a W.npz (a projected_w.npz) is used as it is, as
`generate --projected-w` draws it.

`stylespace` makes StyleSpace channels (single channels of the styles s = affine(w), Wu et al.
2021; core/stylespace.py): with --labels the K channels whose s differs most between the seeds
labelled 1 and 0 (normalised by their spread), each signed so that + moves toward the attribute;
with --channel the named ones. Each slider unit is that channel's std over --samples mapped samples.

`show` draws, for each direction and each seed, one row of `steps` images from -alpha to
+alpha slider units (rows: direction 0 seed 0, direction 0 seed 1, ...). On a conditional
network every action takes `--class` as `generate` does; without it each seed shows the class
drawn from its own RNG (NVIDIA's visualiser), and PCA's samples draw random classes.
"""
import dataclasses
import os
import re

from cli import options
from core.direction_set import DEFAULT_COMPONENTS, SAMPLE_SEED
from core.errors import StylescopeError
from core.seeds import MAX_SEED

MAX_SAMPLES = 10_000_000  # PCA streams its samples, so this bounds time (GANSpace uses 1,000,000), not memory
MAX_CHUNK = 50_000        # samples mapped at once: a 512-wide mapping network's activations, 100 MB each
COMPONENTS = options.Number(1, 4096)  # at most w_dim, checked against the network by the finders
MAX_STEPS = 1000          # columns of `show`
MAX_SUGGEST_SEEDS = 64    # `suggest` draws all its seeds in one batch, for each layer group and sign
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
    a.add_argument('--samples', type=options.Number(2, MAX_SAMPLES), default=100_000, metavar='N',
                   help='mapped samples (default: 100000)')
    a.add_argument('--components', type=COMPONENTS, default=DEFAULT_COMPONENTS, metavar='K',
                   help=f'components kept (default: {DEFAULT_COMPONENTS}, at most w_dim)')
    a.add_argument('--chunk', type=options.Number(1, MAX_CHUNK), default=2000, metavar='N',
                   help='samples mapped at once (default: 2000)')
    # The classes of a conditional model's samples come from RandomState(seed + 1).
    a.add_argument('--seed', type=options.Number(0, MAX_SEED - 1), default=SAMPLE_SEED,
                   help='sampling seed (default: 1, as GANSpace)')

    a = actions.add_parser('sefa', parents=parents, help='closed-form factorisation of style weights (SeFa)')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--layers', metavar='A-B', help='ws range to factorise and edit, inclusive (default: all)')
    a.add_argument('--components', type=COMPONENTS, default=DEFAULT_COMPONENTS, metavar='K',
                   help=f'directions kept (default: {DEFAULT_COMPONENTS}, at most w_dim)')
    a.add_argument('--include-torgb', action='store_true', help='also factorise the ToRGB layers of the range')

    a = actions.add_parser('svm', parents=parents, help='linear SVM boundary from labelled seeds (InterfaceGAN)')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--labels', required=True, metavar='CSV',
                   help="'seed,label' rows, label 0 or 1; a third column 'class' names the class each picture was "
                        'drawn with')
    a.add_argument('--psi', type=options.PSI, default=1.0,
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
    a.add_argument('--alpha', type=options.AMOUNT, default=3.0, help='slider units applied (default: 3)')
    a.add_argument('--psi', type=options.PSI, default=0.7, help='truncation psi of the seeds (default: 0.7)')
    a.add_argument('--use-d', action='store_true', help="measure the discriminator's features instead of pixels")
    a.add_argument('--limits', action='store_true',
                   help="also each slider's range: as far as the discriminator still scores the edited seeds like "
                        'the data (needs a network file with D)')

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
    a.add_argument('--steps', type=options.Number(1, MAX_STEPS), default=7,
                   help='columns from -alpha to +alpha (default: 7)')
    a.add_argument('--alpha', type=options.AMOUNT, default=3.0, help='largest slider value (default: 3)')
    a.add_argument('--psi', type=options.PSI, default=1.0, help='truncation psi (default: 1)')
    a.add_argument('--only', metavar='LIST',
                   help="directions to draw, by name or index: 'PC0,PC3' or '0-4' (default: all)")
    a.add_argument('--cell', type=options.Number(8, 4096), default=256, metavar='PX',
                   help='shrink images larger than this (default: 256)')
    options.add_noise_mode(a)
    options.add_precision(a)

    a = actions.add_parser('diff', parents=parents, help='"A -> B": the change between two pictures as a direction',
                           description='Latent arithmetic: the direction from picture A to picture B (w_B - w_A, '
                                       'per ws row when the rows differ), in units of that difference, so 1 turns '
                                       'A into B; apply it to any picture with generate/video --edit F.npz:0=AMOUNT.')
    options.add_network_and_device(a)
    a.add_argument('--from', dest='from_', required=True, metavar='SEED|W.npz',
                   help="picture A: a seed, or a saved w ('w' [1, num_ws, w_dim], e.g. project's projected_w.npz)")
    a.add_argument('--to', required=True, metavar='SEED|W.npz', help='picture B, as --from')
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--rows', metavar='A-B', help='ws rows the edit reaches, inclusive (default: all; the coarse rows '
                   'alone move pose but not texture)')
    a.add_argument('--name', default=None,
                   help="direction name (default: 'A → B' in words, e.g. 'seed 1 → seed 2')")
    options.add_truncation(a)
    options.add_class(a)

    a = actions.add_parser('stylespace', parents=parents, help='single StyleSpace channels, ranked from labels',
                           description='StyleSpace channels (one channel of the styles s = affine(w) of one layer) as '
                                       'directions, in units of their std over samples: the channels most tied to '
                                       'the attribute of a label file (--labels), or named ones (--channel).')
    _network_args(a)
    a.add_argument('--out', required=True, metavar='F.npz', help='direction file to write')
    a.add_argument('--labels', metavar='CSV', help="'seed,label[,class]' rows, label 0 or 1 (the labelling "
                                                  "dialog's file): rank the channels by how they tell them apart")
    a.add_argument('--channel', action='append', default=[], metavar='LAYER:C',
                   help='a channel to make a slider of, such as b16.conv1:45 (see layers --list); repeatable')
    a.add_argument('--top', type=options.Number(1, 10_000), default=10, metavar='K',
                   help='ranked channels kept (default: 10)')
    a.add_argument('--psi', type=options.PSI, default=1.0,
                   help='truncation psi the labelled images were drawn with (default: 1)')
    a.add_argument('--samples', type=options.Number(2, MAX_SAMPLES), default=10_000, metavar='N',
                   help="mapped samples for each channel's mean and std (default: 10000)")
    a.add_argument('--seed', type=options.Number(0, MAX_SEED - 1), default=SAMPLE_SEED,
                   help='sampling seed of those samples (default: 1)')
    a.add_argument('--include-torgb', action='store_true', help='rank the ToRGB layers\' channels too')
    a.add_argument('--name', default=None, help='attribute name (default: the label file name)')
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


def _select(dset, text):
    if text is None:
        return dset
    picked = []
    for part in str(text).split(','):
        part = part.strip()
        match = re.fullmatch(r'(\d{1,18})(?:-(\d{1,18}))?', part)
        if part in dset.names:
            picked.append(part)
        elif match:
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            if last >= len(dset):  # refused before a range of that length is built
                raise StylescopeError(f"--only '{part}' reaches past the set's {len(dset)} directions: use indices "
                                      f'0 to {len(dset) - 1}')
            picked.extend(range(first, last + 1))
        else:
            raise StylescopeError(f"--only '{part}' names no direction: use names ({', '.join(dset.names[:5])}...) "
                                  'or indices like 0-4')
    return dset.subset(picked)


# ----------------------------------------------------------------------------------------------
# Actions

def _run_pca(args):
    from tqdm import tqdm

    from core.directions import PCADirections
    G = _open_network(args).G
    pca = PCADirections(args.components, args.samples, args.chunk, args.seed, class_idx=args.class_idx)
    with tqdm(total=args.samples, unit='w', desc='pca') as bar:
        pca.fit(G, progress=lambda done, total: bar.update(done - bar.n))
    pca.directions_.save(args.out)
    top = pca.explained_variance_ratio_[:5].sum()
    print(f'wrote {args.out}: {len(pca.directions_)} PCA directions from {args.samples} samples '
          f'(the first {min(5, len(pca.directions_))} explain {top:.1%} of the variance)')


def _run_sefa(args):
    from core.directions import SeFaDirections
    from core.ws_rows import parse_row_range
    G = _open_network(args).G
    sefa = SeFaDirections(parse_row_range(args.layers, G.num_ws), args.components, args.include_torgb,
                          class_idx=args.class_idx).fit(G)
    sefa.directions_.save(args.out)
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
    dset.save(args.out)
    print(f"wrote {args.out}: direction '{name}' from {len(seeds)} labelled seeds "
          f'(training accuracy {svm.accuracy_:.1%}{", conditioned" if conditions is not None else ""})')


def _run_suggest(args):
    from tqdm import tqdm

    from core.direction_files import open_directions
    from core.directions import suggest_layer_ranges
    from core.seeds import parse_seeds
    net = _open_network(args, want_D=args.use_d or args.limits)
    for flag, wanted in (('--use-d', args.use_d), ('--limits', args.limits)):
        if wanted and net.D is None:
            raise StylescopeError(f"{flag} needs a discriminator but '{args.network}' has none: drop {flag}")
    seeds = parse_seeds(args.seeds, limit=MAX_SUGGEST_SEEDS, flag='--seeds')
    dset = open_directions(args.directions, net.G)
    with tqdm(total=len(dset), unit='dir', desc='suggest') as bar:
        out = suggest_layer_ranges(net.G, dset, D=net.D if args.use_d else None, seeds=seeds, alpha=args.alpha,
                                   psi=args.psi, class_idx=args.class_idx,
                                   progress=lambda done, total: bar.update(done - bar.n))
    if args.limits:
        from core.directions import suggest_slider_limits
        with tqdm(total=len(out), unit='dir', desc='limits') as bar:
            out = suggest_slider_limits(net.G, net.D, out, seeds=seeds, psi=args.psi, class_idx=args.class_idx,
                                        progress=lambda done, total: bar.update(done - bar.n))
    out.save(args.out)
    for k, (name, s, e) in enumerate(zip(out.names, out.layer_start, out.layer_end)):
        print(f'{name}: ws {s}-{e - 1}' + (f', slider ±{out.limit_of(k):g}' if args.limits else ''))
    print(f'wrote {args.out}')


def _run_import(args):
    from core.direction_files import open_directions
    from core.model_io import fingerprint
    G = _open_network(args).G
    dset = open_directions(args.source, G)
    meta = dict(dset.meta, fingerprint=dset.meta.get('fingerprint') or fingerprint(G), num_ws=G.num_ws)
    dset = dataclasses.replace(dset, meta=meta)
    dset.save(args.out)
    print(f"wrote {args.out}: {len(dset)} direction{'s' * (len(dset) != 1)} from {args.source}")


def _run_show(args):
    import numpy as np
    import PIL.Image
    import torch
    from tqdm import tqdm

    from core.direction_files import open_directions
    from core.directions import seed_classes
    from core.image_files import check_image_size
    from core.images import make_grid, save_png
    from core.latent import add_offsets, ws_from_seeds
    from core.render import render_ws  # no_grad inside
    from core.request import style_offsets_from_directions
    from core.seeds import parse_seeds
    from core.stylespace import style_offset_tensors
    seeds = parse_seeds(args.seeds)
    G = _open_network(args).G
    dset = _select(open_directions(args.directions, G), args.only)
    cell = min(args.cell, G.img_resolution)
    check_image_size(len(dset) * len(seeds) * args.steps, cell, cell,
                     f'{len(dset)} directions x {len(seeds)} seeds x {args.steps} steps',
                     'pick fewer with --only or --seeds, or smaller cells with --cell')
    base = ws_from_seeds(G, seeds, seed_classes(G, seeds, args.class_idx), args.psi)
    alphas = np.linspace(-args.alpha, args.alpha, args.steps)
    images = []
    with tqdm(total=len(dset) * len(seeds), unit='row', desc='show') as bar:
        for k in range(len(dset)):
            for i in range(len(seeds)):
                sliders = np.zeros([args.steps, len(dset)])
                sliders[:, k] = alphas
                sweep = torch.cat([add_offsets(base[i:i + 1], dset.offsets_for(one)) for one in sliders])
                styles = (style_offset_tensors(G, [style_offsets_from_directions(dset, one) for one in sliders],
                                               batch=len(sliders)) if dset.style_names() else None)
                for img in render_ws(G, sweep, noise_mode=args.noise_mode, precision=args.precision,
                                     style_offsets=styles):
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


def _endpoint(text, G, args, flag):
    """(ws [num_ws, w_dim] float32 numpy, label) of --from / --to: a seed drawn as `generate` draws
    it (truncation, class), or the one ws of a saved w file, as it is."""
    from core.latent import load_ws_file, ws_from_seeds
    from core.seeds import check_seed
    text = str(text).strip()
    if re.fullmatch(r'\d{1,100}', text):  # a seed (check_seed says so when it is too large)
        seed = check_seed(int(text))
        ws = ws_from_seeds(G, [seed], args.class_idx if G.c_dim else None, args.trunc, args.trunc_cutoff)
        return ws[0].cpu().numpy(), f'seed {seed}'
    ws = load_ws_file(text, G.num_ws, G.w_dim)
    if len(ws) != 1:
        raise StylescopeError(f"{flag} '{text}' holds {len(ws)} ws, and a direction goes from one picture to "
                              'another: save the one you mean on its own')
    return ws[0], os.path.splitext(os.path.basename(text))[0]


def _run_diff(args):
    from core.direction_set import difference
    from core.model_io import fingerprint
    from core.ws_rows import parse_row_range, rows_text
    G = _open_network(args).G
    a, label_a = _endpoint(args.from_, G, args, '--from')
    b, label_b = _endpoint(args.to, G, args, '--to')
    start, end = parse_row_range(args.rows, G.num_ws, '--rows')
    name = args.name or f'{label_a} → {label_b}'
    meta = dict(fingerprint=fingerprint(G), psi=args.trunc, cutoff=args.trunc_cutoff, class_idx=args.class_idx)
    dset = difference(a, b, name, (start, end), meta, labels=(label_a, label_b))
    dset.save(args.out)
    kind = 'a vector per ws row (W+)' if dset.is_per_row(0) else 'one W vector'
    print(f"wrote {args.out}: direction '{name}', {kind} on ws rows {rows_text(start, end)}, unit |w_B - w_A| = "
          f'{float(dset.scales[0]):.4g} (1 turns {label_a} into {label_b})')


def _run_stylespace(args):
    from tqdm import tqdm

    from core import stylespace
    if bool(args.labels) == bool(args.channel):
        raise StylescopeError('directions stylespace takes --labels (rank the channels by a label file) or --channel '
                              'LAYER:C (name them), one of the two')
    if args.labels:
        from core.label_file import labels_from_csv
        seeds, labels, classes = labels_from_csv(args.labels)
    G = _open_network(args).G
    picks = [stylespace.channel_spec(text, G) for text in args.channel]
    with tqdm(total=args.samples, unit='w', desc='style statistics') as bar:
        stats = stylespace.style_statistics(G, args.samples, args.seed, class_idx=args.class_idx,
                                            progress=lambda done, total: bar.update(done - bar.n))
    if picks:
        dset = stylespace.style_channel_directions(G, stats, picks, [args.name] if args.name and len(picks) == 1
                                                   else None)
        dset.save(args.out)
        print(f'wrote {args.out}: {len(dset)} StyleSpace channel{"s" * (len(dset) != 1)} ({", ".join(dset.names)}), '
              f"unit: each channel's std over {stats.sample_count:,} samples")
        return
    if classes is not None and args.class_idx is not None:
        raise StylescopeError(f"'{args.labels}' names each seed's class, and --class names another: drop --class")
    from core.directions import seed_classes
    name = args.name or os.path.splitext(os.path.basename(args.labels))[0]
    classes = (classes if G.c_dim else None) if classes is not None else seed_classes(G, seeds, args.class_idx)
    dset, ranking = stylespace.rank_from_seeds(G, seeds, labels, stats, psi=args.psi, classes=classes, k=args.top,
                                               attribute=name, include_torgb=args.include_torgb)
    dset.save(args.out)
    print(f"wrote {args.out}: the {len(dset)} StyleSpace channels most tied to '{name}' of "
          f'{len(ranking.ranked_):,}, from {len(seeds)} labelled seeds:')
    for k, (layer, channel, score) in enumerate(ranking.top(args.top)):
        print(f'  {k + 1:>3}. {stylespace.channel_name(layer, channel):<18} score {score:+.3f}')


ACTIONS = dict(pca=_run_pca, sefa=_run_sefa, svm=_run_svm, suggest=_run_suggest, show=_run_show, diff=_run_diff,
               stylespace=_run_stylespace)
ACTIONS['import'] = _run_import


def run(args):
    from core.atomic import check_writable
    check_writable(args.out)  # before the network is read and the work begins
    ACTIONS[args.directions_command](args)
    return 0
