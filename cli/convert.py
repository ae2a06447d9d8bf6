"""`convert`: any network file -> Stylescope .safetensors, keeping G_ema, D and G when present."""
from core.errors import StylescopeError

CARRIED_META = ('augment_p', 'training_set_kwargs')  # training facts worth keeping in the new file


def add_parser(sub, parents=()):
    p = sub.add_parser('convert', parents=list(parents), help='convert a network file to Stylescope .safetensors')
    p.add_argument('src', metavar='SRC', help='network file or training run folder')
    p.add_argument('dst', metavar='DST.safetensors', help='output file')
    return p


def run(args):
    from core.model_io import open_network, save_network
    if not str(args.dst).lower().endswith('.safetensors'):
        raise StylescopeError(f"output '{args.dst}' must end in .safetensors: name it like model.safetensors")
    net = open_network(args.src, device='cpu', want_training=True)
    G_train = net.meta.pop('G_train', None)
    extra = {key: net.meta[key] for key in CARRIED_META if net.meta.get(key) is not None}
    extra.update(converted_from=net.meta['source'], converted_from_format=net.meta['format'])
    save_network(args.dst, net.G, D=net.D, G=G_train, extra_meta=extra)
    kept = ', '.join(name for name, net_ in (('G_ema', net.G), ('D', net.D), ('G', G_train)) if net_ is not None)
    print(f"wrote {args.dst} ({kept}) from the {net.meta['format']} file {net.meta['source']}")
    return 0
