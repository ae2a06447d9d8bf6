"""`explore` (and no subcommand at all): the latent-space explorer."""
from cli import options


def add_parser(sub, parents=()):
    p = sub.add_parser('explore', parents=list(parents), help='open the latent-space explorer (the default)')
    options.add_network_and_device(p)
    return p


def run(args):
    from explorer.app import run_explorer
    return run_explorer(getattr(args, 'network', None), getattr(args, 'device', 'auto'))
