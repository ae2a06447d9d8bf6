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
        ('Holds', str(meta.get('contents') or 'G_ema')),
        ('Architecture', _architecture(summary)),
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
    if meta.get('w_avg_source'):
        lines.append(('w_avg', str(meta['w_avg_source'])))
    width = max(len(key) for key, _ in lines)
    return [f'{key:<{width}}  {value}' for key, value in lines] + _layer_table(summary)


def _architecture(summary):
    name = summary['architecture']
    if name.startswith('stylegan3'):
        return f'StyleGAN3-{name[-1].upper()} (no noise inputs; the input layer takes a transform)'
    return f'StyleGAN2 ({name})'


def _layer_table(summary):
    """One line per StyleGAN3 layer (ws row) or StyleGAN2 block."""
    if 'layers' in summary:
        lines = ['', f"{'ws':>3}  {'layer':<16} {'rate':>6} {'size':>5} {'channels':>8} {'cutoff':>8}  group"]
        for row in summary['layers']:
            lines.append(f"{row['ws']:>3}  {row['name']:<16} {row['sampling_rate']:>6g} {row['size']:>5} "
                         f"{row['channels']:>8} {row['cutoff']:>8.2f}  {row['group']}")
        return lines
    lines = ['', f"{'block':<7} {'ws':>7} {'in':>5} {'out':>5} {'params':>12}  fp16 on CUDA"]
    for block in summary['blocks']:
        start, end = block['ws']
        lines.append(f"{block['name']:<7} {f'{start}-{end - 1}':>7} {block['in_channels']:>5} "
                     f"{block['out_channels']:>5} {block['params']:>12,}  {'yes' if block['use_fp16'] else 'no'}")
    return lines


def run(args):
    from core.model_io import open_network
    net = open_network(args.path, device='cpu', want_D=True)
    print('\n'.join(describe(net)))
    return 0
