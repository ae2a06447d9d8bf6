"""`quiz`: a printable "Which face is real?" sheet for a room of people, and its answer key.

Each round of the sheet shows --per-round faces, half of them real photos from --data (a folder
or dataset zip, read as training reads it) and half drawn by the network at --trunc, all made the
same way (core/quiz.py: cropped square, resized to the network's resolution, then to --cell
pixels with one filter). The answers go to SHEET-key.csv beside the sheet, never into it."""
import argparse
import os

from cli import options
from core.errors import StylescopeError

ROUNDS = options.Number(1, 500)
CELL = options.Number(32, 1024)


def _per_round(text):
    value = options.Number(2, 16)(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f'{text} is odd: use an even number from 2 to 16, since half of every '
                                         'round is real')
    return value


def add_parser(sub, parents=()):
    p = sub.add_parser('quiz', parents=list(parents), help='a printable "Which face is real?" sheet and its key',
                       description='Write a printable "Which face is real?" sheet (real faces from --data beside '
                                   "faces the network draws) and its answer key, SHEET-key.csv, next to it.")
    options.add_network(p)
    p.add_argument('--data', required=True, metavar='PATH',
                   help='the real faces: a folder of images or a dataset zip (python main.py dataset makes one)')
    p.add_argument('--rounds', type=ROUNDS, default=20, metavar='N', help='rounds on the sheet (default: 20)')
    p.add_argument('--per-round', type=_per_round, default=2, metavar='N',
                   help='faces per round, half of them real (even; default: 2, pick the real one of a pair)')
    options.add_truncation(p)
    options.add_class(p)
    p.add_argument('--seed', type=options.SEED, default=0, metavar='N',
                   help='picks the real images, the generated seeds and their order (default: 0)')
    p.add_argument('--cell', type=CELL, default=192, metavar='PX', help='pixels per face on the sheet (default: 192)')
    p.add_argument('--out', required=True, metavar='SHEET.png', help='the sheet; its key is written beside it')
    options.add_device(p)
    options.add_precision(p, what='generated')
    return p


def run(args):
    from core.atomic import check_writable
    from core.quiz import check_sheet_size, key_path
    if not args.out.lower().endswith('.png'):
        raise StylescopeError(f"--out '{args.out}' is not a .png file: name the sheet such as sheet.png")
    check_writable(args.out)  # before any reading or drawing
    check_writable(key_path(args.out))
    check_sheet_size(args.rounds, args.per_round, args.cell)
    from tqdm import tqdm

    from core.default_model import open_network_or_default
    from core.device import resolve_device
    from core.latent import class_vector
    from core.quiz import plan_quiz, quiz_images, write_sheet
    from core.render import render_seeds
    from core.image_dataset import ImageFolder
    dataset = ImageFolder(args.data)
    plan = plan_quiz(len(dataset), args.rounds, args.per_round, args.seed, dataset.image_names,
                     where=f'--data {args.data}')
    device = resolve_device(args.device)
    net = open_network_or_default(args.network, device)
    G = net.G
    class_idx = args.class_idx if G.c_dim else None
    class_vector(G.c_dim, class_idx)  # a conditional network without --class stops here

    def draw(seeds):
        return render_seeds(G, seeds, class_idx, args.trunc, args.trunc_cutoff, precision=args.precision)

    with tqdm(total=len(plan.items()), unit='img', desc='quiz') as bar:
        def progress(done, total):
            bar.update(done - bar.n)
        images = quiz_images(plan, lambda i: dataset.load_raw_image(i).transpose(1, 2, 0), draw,
                             G.img_resolution, G.img_channels, progress=progress)
    dataset.close()
    meta = {'Software': 'Stylescope quiz', 'network': net.meta.get('source'),
            'fingerprint': net.meta.get('fingerprint'), 'dataset': os.path.abspath(args.data),
            'truncation_psi': args.trunc, 'truncation_cutoff': args.trunc_cutoff, 'seed': args.seed,
            'rounds': args.rounds, 'per_round': args.per_round}
    sheet, key = write_sheet(args.out, plan, images, args.cell, meta)
    print(f'wrote {sheet} ({args.rounds} round{"s" * (args.rounds != 1)} of {args.per_round} faces, '
          f'{plan.real_per_round} real in each) and its answer key {key}')
    return 0
