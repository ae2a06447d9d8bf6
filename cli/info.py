"""`info`: what a network file holds (shapes, layer groups, parameter counts, fingerprint)."""


def add_parser(sub, parents=()):
    p = sub.add_parser('info', parents=list(parents), help='describe a network file')
    p.add_argument('path', metavar='PATH', help='network file or training run folder')
    return p


def _millions(count):
    return f'{count / 1e6:.2f}M ({count:,})'


def describe(net):
    """Lines of text for one LoadedNetwork."""
    from core.model_io import network_summary
    from core.ws_rows import rows_text
    G, meta, summary = net.G, net.meta, network_summary(net.G)
    res = G.img_resolution
    lines = [
        ('Source', f"{meta.get('source')} ({meta.get('format')})"),
        ('Resolution', f'{res}x{res}, {G.img_channels} channel{"s" * (G.img_channels != 1)}'),
        ('z_dim / w_dim', f'{G.z_dim} / {G.w_dim}'),
        ('num_ws', str(G.num_ws)),
        ('c_dim', f'{G.c_dim}' + (' (unconditional)' if G.c_dim == 0 else ' classes')),
    ]
    for name, (start, end) in summary['layer_groups'].items():
        lines.append((f'{name.capitalize()} ws', rows_text(start, end)))
    lines += [('G mapping params', _millions(summary['params']['mapping'])),
              ('G synthesis params', _millions(summary['params']['synthesis']))]
    if net.D is not None:
        lines.append(('Discriminator params', _millions(sum(p.numel() for p in net.D.parameters()))))
    else:
        lines.append(('Discriminator', 'not in this file'))
    lines.append(('Fingerprint', str(meta.get('fingerprint'))))
    width = max(len(key) for key, _ in lines)
    return [f'{key:<{width}}  {value}' for key, value in lines]


def run(args):
    from core.model_io import open_network
    net = open_network(args.path, device='cpu', want_D=True)
    print('\n'.join(describe(net)))
    return 0
