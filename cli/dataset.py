"""`dataset`: turn a folder or zip of arbitrary images into a training zip (train/dataset_tool.py)."""
import os

from cli.options import Number
from core.errors import StylescopeError
from core.net_limits import MAX_RESOLUTION  # a dataset no network could be trained on is refused here
from train.dataset_tool import TRANSFORMS


def add_parser(sub, parents=()):
    p = sub.add_parser('dataset', parents=list(parents), help='prepare a training dataset (zip) from a folder of images',
                       description='Convert a folder or zip of images into a training zip in the official '
                                   'dataset_tool layout: square, one power-of-two size, RGB.')
    p.add_argument('--source', required=True, metavar='DIR|ZIP', help='folder or zip of images (searched recursively)')
    p.add_argument('--dest', required=True, metavar='OUT.zip', help='the zip to write')
    p.add_argument('--resolution', required=True, type=Number(4, MAX_RESOLUTION, power_of_two=True), metavar='N',
                   help='output size, a power of two (e.g. 128)')
    p.add_argument('--transform', choices=TRANSFORMS, default=None,
                   help='center-crop: largest centred square; center-crop-wide: fit the width, crop or letterbox '
                        'the height (default: stretch to a square)')
    p.add_argument('--max-images', type=Number(1), default=None, metavar='N', help='stop after N images')
    return p


def _check_args(args):
    if not os.path.exists(args.source):
        raise StylescopeError(f'--source {args.source} does not exist; give a folder or zip of images.')
    if not args.dest.lower().endswith('.zip'):
        raise StylescopeError(f'--dest {args.dest} must be a .zip file name; for example '
                              f'--dest faces-{args.resolution}.zip.')
    if os.path.abspath(args.dest) == os.path.abspath(args.source):
        raise StylescopeError('--dest must differ from --source; choose another output file name.')
    from core.atomic import check_writable
    check_writable(args.dest)


def run(args):
    from train.dataset_tool import prepare  # noqa: I001 (the one call that does the work)
    _check_args(args)
    written, skipped, stretched = prepare(args.source, args.dest, args.resolution, args.transform, args.max_images)
    print(f'wrote {written} image{"s" * (written != 1)} ({args.resolution}x{args.resolution} RGB) to {args.dest}')
    if stretched:
        print(f'note: {stretched} non-square image{"s were" if stretched != 1 else " was"} stretched to a square; '
              f'use --transform center-crop to crop instead')
    if skipped:
        shown = ', '.join(skipped[:3]) + (', ...' if len(skipped) > 3 else '')
        print(f'skipped {len(skipped)} unreadable file{"s" * (len(skipped) != 1)}: {shown}')
    return 0
