"""`layers`: one synthesis layer's feature maps for a picture, as the explorer's layer viewer
shows them (core/layer_maps.py draws both), written as a PNG with its colour scale below.

  layers --network N --seed S --layer b16.conv1 --out maps.png [--view mosaic|channel|mean|active]
         [--channel C] [--top K] [--trunc PSI] [--edit F.npz:NAME=AMOUNT ...] [--image picture.png]
  layers --network N --list        (the layers there are, their shapes, and the style layers)

Layers: StyleGAN2 'b{res}.conv0', 'b{res}.conv1', 'b{res}.torgb' of each block; StyleGAN3 'input'
and 'L0_36_512' ... The picture is drawn as `generate` draws a seed (truncation, class, then the
edits); --edit takes W directions and StyleSpace channels alike (a channel's AMOUNT is in its std
over samples), so `directions stylespace` output can be looked at layer by layer. Colours: blue
below 0, red above, on one scale from -m to +m (m: the largest magnitude shown).
"""
from cli import options
from core.errors import StylescopeError
from core.layer_maps import DEFAULT_ACTIVE, VIEW_NAMES, VIEWS


def add_parser(sub, parents=()):
    p = sub.add_parser('layers', parents=list(parents), help="write a synthesis layer's feature maps for a seed",
                       description="Write one synthesis layer's feature maps for a seed as a PNG: all channels, one "
                                   'channel, their mean, or the most active channels, on one colour scale.')
    options.add_network(p)
    p.add_argument('--seed', type=options.SEED, default=0, help='seed of the picture (default: 0)')
    p.add_argument('--layer', metavar='NAME', help="layer to show, such as b16.conv1 or L3_52_512 (see --list)")
    p.add_argument('--out', metavar='PNG', help='feature-map image to write')
    p.add_argument('--view', choices=VIEWS, default='mosaic',
                   help='; '.join(f'{key}: {name}' for key, name in VIEW_NAMES.items()) + ' (default: mosaic)')
    p.add_argument('--channel', type=options.Number(0), default=0, metavar='C', help='channel of --view channel')
    p.add_argument('--top', type=options.Number(1, 4096), default=DEFAULT_ACTIVE, metavar='K',
                   help=f'channels of --view active (default: {DEFAULT_ACTIVE})')
    p.add_argument('--zoom', type=options.Number(1, 64), default=None, metavar='Z',
                   help='enlarge each map pixel Z times (default: to about 512 px)')
    p.add_argument('--image', metavar='PNG', help='also write the picture itself')
    p.add_argument('--list', action='store_true', help='list the layers and style layers of the network and stop')
    options.add_truncation(p)
    options.add_class(p)
    options.add_edit(p)
    options.add_noise_mode(p)
    options.add_device(p)
    return p


def _list(G):
    from core.layer_capture import synthesis_layers
    from core.stylespace import style_layers
    print(f"{'layer':<20}{'output (C x H x W)':<22}ws row")
    for row in synthesis_layers(G):
        shape = f"{row['channels']} x {row['height']} x {row['width']}"
        print(f"{row['name']:<20}{shape:<22}{row['ws']}")
    print(f'\nstyle layers (StyleSpace channels, {sum(layer.channels for layer in style_layers(G)):,} in all):')
    print(', '.join(f'{layer.name} ({layer.channels})' for layer in style_layers(G)))


def run(args):
    if not args.list:
        missing = [flag for flag, value in (('--layer', args.layer), ('--out', args.out)) if not value]
        if missing:
            raise StylescopeError(f"layers needs {' and '.join(missing)}: name a layer (see 'layers --list') and the "
                                  'PNG to write')
        from core.atomic import check_writable
        for path in filter(None, (args.out, args.image)):
            check_writable(path)
    from core.default_model import open_network_or_default
    from core.device import resolve_device
    from core.images import save_png
    from core.latent import class_vector
    from core.layer_maps import auto_zoom, layer_view, sheet
    from core.noise_spec import NoiseSpec
    from core.render import make_renderer
    from core.request import RenderRequest
    from core.edits import edit_offsets
    net = open_network_or_default(args.network, resolve_device(args.device))
    G = net.G
    if args.list:
        _list(G)
        return 0
    class_vector(G.c_dim, args.class_idx)  # a conditional network without --class stops here
    offsets, styles = edit_offsets(args.edit, G)
    request = RenderRequest(seed=args.seed, class_idx=args.class_idx if G.c_dim else None, psi=args.trunc,
                            cutoff=args.trunc_cutoff, offsets=offsets, style_offsets=styles,
                            noise=NoiseSpec(args.noise_mode), capture=args.layer, precision='fp32')
    result = make_renderer(G).render(request)
    capture = result.capture
    if args.view == 'channel' and args.channel >= capture.channels:
        raise StylescopeError(f'--channel {args.channel} is out of range: {args.layer} has {capture.channels} '
                              f'channels, use 0 to {capture.channels - 1}')
    view = layer_view(capture, args.view, args.channel, args.top)
    zoom = args.zoom or auto_zoom(view)
    lo, hi = capture.value_range
    meta = {'Software': 'Stylescope', 'layer': args.layer, 'shape': 'x'.join(map(str, capture.shape)),
            'values': f'{lo:.6g}..{hi:.6g}', 'view': view.title, 'channels': ','.join(map(str, view.channels)),
            'colour_scale': f'{-view.scale.limit:.6g} (blue) .. 0 (grey) .. {view.scale.limit:.6g} (red)',
            'seed': args.seed, 'truncation_psi': args.trunc, 'fingerprint': net.meta.get('fingerprint')}
    if args.edit:
        from core.edits import describe
        meta['edits'] = describe(args.edit)
    save_png(args.out, sheet(view, zoom), meta)
    if args.image:
        save_png(args.image, result.image, {'Software': 'Stylescope', 'seed': args.seed})
    print(f'wrote {args.out}: {view.title}; {capture.describe()}; colours from {-view.scale.limit:.3g} (blue) to '
          f'{view.scale.limit:.3g} (red)' + (f'; and the picture to {args.image}' if args.image else ''))
    return 0
