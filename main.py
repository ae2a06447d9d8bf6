"""Stylescope command line: no subcommand opens the explorer; subcommands work on network files.

Parsing and dispatch only: each command's body lives in its own module, imported when run
(so `--help` stays fast and the CLI never loads Qt). Bad input ends with one line,
`error: ...`, on stderr and exit code 2; `--debug` shows the traceback as well.
"""
import argparse
import importlib
import os
import sys
import traceback

# Idle OpenMP threads spin by default; when another process loads the 2 cores that can make
# torch 30x slower (measured, shared/reference/environment.md). Must be set before torch loads.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

COMMANDS = {  # subcommand -> module with run(args) -> exit code
    'explore': 'explorer.app',
    'generate': 'core.cli_generate',
    'convert': 'core.cli_convert',
    'info': 'core.cli_info',
    'directions': 'core.cli_directions',
    'video': 'core.cli_video',
    'project': 'core.cli_project',
    'train': 'train.cli_train',
    'dataset': 'train.cli_dataset',
    'metrics': 'train.cli_metrics',
}
OWN_PARSERS = ('video', 'directions', 'project', 'train', 'dataset', 'metrics')  # modules with add_parser()
DEVICES = ('auto', 'cpu', 'cuda', 'mps')
NETWORK_HELP = ('network file: official .pkl, Stylescope .safetensors or a training run folder '
                '(default: the bundled model)')


def _add_explore(sub, common):
    p = sub.add_parser('explore', parents=[common], help='open the latent-space explorer (the default)')
    p.add_argument('--network', metavar='PATH', help=NETWORK_HELP)
    p.add_argument('--device', choices=DEVICES, default='auto', help='torch device (default: auto = CUDA if present)')


def _add_generate(sub, common):
    p = sub.add_parser('generate', parents=[common], help='write images for a list of seeds',
                       description='Write seedNNNN.png for each seed, as the official generate.py does.')
    p.add_argument('--network', metavar='PATH', help=NETWORK_HELP)
    p.add_argument('--seeds', metavar='LIST', help="seed list such as '0-7,42' (ranges inclusive)")
    p.add_argument('--projected-w', metavar='FILE', help="draw saved ws instead (projected_w.npz, key 'w'; "
                   "writes projNN.png; seeds are ignored)")
    p.add_argument('--projected-noise', metavar='FILE',
                   help="with --projected-w: draw with these noise maps (project's projected_noise.npz) instead of "
                        "the network's own, so projNN.png is proj.png")
    p.add_argument('--trunc', type=float, default=1.0, metavar='PSI', help='truncation psi (default: 1)')
    p.add_argument('--trunc-cutoff', type=int, default=None, metavar='N',
                   help='truncate only ws rows 0..N-1 (default: all)')
    p.add_argument('--noise-mode', choices=('const', 'random', 'none'), default='const',
                   help='per-pixel noise (default: const)')
    p.add_argument('--class', dest='class_idx', type=int, default=None, metavar='IDX',
                   help='class index, required for conditional networks')
    p.add_argument('--outdir', default='out', metavar='DIR', help='output folder, created if needed (default: out)')
    p.add_argument('--grid', action='store_true', help='also write all images tiled into grid.png')
    p.add_argument('--device', choices=DEVICES, default='auto', help='torch device (default: auto = CUDA if present)')
    p.add_argument('--batch', type=int, default=8, metavar='N', help='images per forward pass (default: 8)')


def _add_convert(sub, common):
    p = sub.add_parser('convert', parents=[common], help='convert a network file to Stylescope .safetensors')
    p.add_argument('src', metavar='SRC', help='network file or training run folder')
    p.add_argument('dst', metavar='DST.safetensors', help='output file')


def _add_info(sub, common):
    p = sub.add_parser('info', parents=[common], help='describe a network file')
    p.add_argument('path', metavar='PATH', help='network file or training run folder')


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--debug', action='store_true', default=argparse.SUPPRESS,
                        help='show the full traceback on errors')
    parser = argparse.ArgumentParser(prog='stylescope', description='StyleGAN2-ADA latent-space explorer.')
    parser.add_argument('--debug', action='store_true', help='show the full traceback on errors')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for add in (_add_explore, _add_generate, _add_convert, _add_info):
        add(sub, common)
    for command in OWN_PARSERS:  # light imports: each module's heavy ones wait for its run()
        importlib.import_module(COMMANDS[command]).add_parser(sub, [common])
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command is None:  # no subcommand: the explorer on the default network
        args = argparse.Namespace(**{**vars(args), 'command': 'explore', 'network': None, 'device': 'auto'})
    from core.allocator import keep_freed_memory
    from core.errors import StylescopeError
    keep_freed_memory()  # big CPU tensors without page faults (core/allocator.py)
    try:
        return importlib.import_module(COMMANDS[args.command]).run(args)
    except StylescopeError as e:
        if args.debug:
            traceback.print_exc()
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
