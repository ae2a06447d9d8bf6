"""Stylescope command line: no subcommand opens the explorer; subcommands work on network files.

The table of commands only: each command's flags and body live in its own module under cli/
(its top imports neither torch nor Qt, so `--help` stays fast and the CLI never loads Qt). Bad
input ends with one line, `error: ...`, on stderr and exit code 2; `--debug` shows the traceback
as well.
"""
import argparse
import importlib
import os
import sys
import traceback

# Idle OpenMP threads spin by default; when another process loads the 2 cores that can make
# torch 30x slower (measured, shared/reference/environment.md). Must be set before torch loads.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

COMMANDS = ('explore', 'generate', 'convert', 'info', 'video', 'directions', 'project', 'train', 'dataset',
            'metrics', 'quiz', 'layers')  # each is the module cli.<name>, with add_parser(subparsers, parents) and run(args)


def command_module(name):
    return importlib.import_module(f'cli.{name}')


def build_parser():
    from cli.options import Parser  # one-line errors; every subparser inherits the class
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--debug', action='store_true', default=argparse.SUPPRESS,
                        help='show the full traceback on errors')
    parser = Parser(prog='stylescope', description='StyleGAN2-ADA latent-space explorer.')
    parser.add_argument('--debug', action='store_true', help='show the full traceback on errors')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMANDS:
        command_module(name).add_parser(sub, [common])
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a bad flag (2, its line already printed): a code, like every error
        return e.code
    if args.command is None:  # no subcommand: the explorer on the default network
        args = argparse.Namespace(**{**vars(args), 'command': 'explore', 'network': None, 'device': 'auto'})
    from core.allocator import keep_freed_memory
    from core.errors import StylescopeError, one_line
    keep_freed_memory()  # big CPU tensors without page faults (core/allocator.py)
    try:
        return command_module(args.command).run(args)
    except StylescopeError as e:
        if args.debug:
            traceback.print_exc()
        print(f'error: {one_line(e)}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
