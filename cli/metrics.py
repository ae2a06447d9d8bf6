"""`metrics`: FID / KID of a network against a dataset (see train/metrics.py for the names).

    python main.py metrics --network run/ --metrics pxfid5k_full                 # offline
    python main.py metrics --network model.pkl --data ffhq.zip --metrics fid50k_full --inception inception-2015-12-05.pt

Without --data the dataset recorded in the snapshot (training_set_kwargs) is used. Results are
printed and, for a network inside a training run folder, appended to metric-<name>.jsonl there.
"""
import json
import os
import sys
import time

from cli import options


def add_parser(sub, parents=()):
    p = sub.add_parser('metrics', parents=list(parents), help='compute FID / KID of a network',
                       description='fid*/kid* use the official Inception file (--inception, never downloaded); '
                                   'pxfid*/pxkid* need no weights but are not comparable with published numbers.')
    p.add_argument('--network', required=True, metavar='PATH', help='network file or training run folder')
    p.add_argument('--metrics', default='pxfid5k_full', metavar='LIST',
                   help='comma-separated, e.g. fid50k_full,kid50k_full or pxfid5k_full (default: %(default)s)')
    p.add_argument('--data', metavar='DIR|ZIP', help='real images (default: the dataset the snapshot was trained on)')
    p.add_argument('--mirror', action='store_true', default=None, help='include x-flipped reals')
    p.add_argument('--inception', metavar='PATH', help='official Inception TorchScript file (inception-2015-12-05.pt)')
    options.add_device(p)
    options.add_precision(p, what='generated for the metric')
    return p


def _append_line(path, line):
    """One JSON line added to the run's record in a single write, as the training loop adds its
    own; a failure is a warning, since the result was printed already."""
    try:
        with open(path, 'a') as f:
            f.write(line + '\n')
    except OSError as e:
        print(f"warning: could not record the result in '{path}' ({e.strerror or e})", file=sys.stderr)


def run(args):
    from core.atomic import check_folder
    from core.device import resolve_device
    from core.errors import StylescopeError
    from core.model_io import open_network
    from core.precision import resolve_precision
    from train.dataset import ImageDataset
    from train.metrics import compute_metric, parse_metric, parse_metric_list

    names = parse_metric_list(args.metrics)
    if not names:
        raise StylescopeError('--metrics is empty; name at least one metric, e.g. pxfid5k_full.')
    for name in names:  # fail before the slow part when the Inception file is missing
        if not parse_metric(name)['pixel'] and not args.inception:
            raise StylescopeError(f'metric {name} needs the official Inception network: download '
                                  f'inception-2015-12-05.pt yourself and pass --inception PATH, or use px{name}.')
    device = resolve_device(args.device)
    net = open_network(args.network, device)
    kwargs = net.meta.get('training_set_kwargs') or {}
    data = args.data or kwargs.get('path')
    if not data:
        raise StylescopeError(f'{args.network} does not record its training data; pass --data DIR|ZIP.')
    mirror = args.mirror if args.mirror is not None else bool(kwargs.get('xflip', False))
    dataset = ImageDataset(data, use_labels=net.G.c_dim > 0, xflip=mirror)
    if (dataset.resolution, dataset.num_channels) != (net.G.img_resolution, net.G.img_channels):
        raise StylescopeError(f'{data} holds {dataset.resolution}x{dataset.resolution} images but the network makes '
                              f'{net.G.img_resolution}x{net.G.img_resolution}; pass --data with images of that size.')
    if net.G.c_dim and dataset.label_dim != net.G.c_dim:
        raise StylescopeError(f'{data} has {dataset.label_dim} label dims but the network takes {net.G.c_dim}; pass '
                              f'the labelled dataset it was trained on.')
    run_folder = os.path.dirname(net.meta['source']) if os.path.isfile(
        os.path.join(os.path.dirname(net.meta['source']), 'training_options.json')) else None
    if run_folder is not None:
        try:
            check_folder(run_folder)
        except StylescopeError as e:  # the numbers are still worth computing and printing
            print(f'warning: results are printed but not recorded: {e}', file=sys.stderr)
            run_folder = None
    cache = {}
    for name in names:
        start = time.time()
        result = compute_metric(name, net.G, dataset, device=device, inception=args.inception, cache=cache,
                                precision=resolve_precision(args.precision, device, 'final'))
        elapsed = time.time() - start
        print(f'{name} = {result[name]:.4f}  ({elapsed:.1f} s, {os.path.basename(net.meta["source"])})')
        if run_folder:
            record = dict(results=result, metric=name, total_time=elapsed,
                          snapshot=os.path.basename(net.meta['source']), timestamp=time.time())
            _append_line(os.path.join(run_folder, f'metric-{name}.jsonl'), json.dumps(record))
    dataset.close()
    return 0
