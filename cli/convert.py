"""`convert`: any network file -> another format: Stylescope .safetensors, an official
stylegan2-ada-pytorch .pkl, a rosinality stylegan2-pytorch .pt, or an ONNX graph of the generator
(core.model_io.save_as). The format follows the output's extension unless --format names it."""
from cli.options import Number

FORMATS = ('safetensors', 'official', 'rosinality', 'onnx')


def add_parser(sub, parents=()):
    p = sub.add_parser('convert', parents=list(parents), help='convert a network file to another format',
                       description='Write a network in another format: .safetensors (Stylescope), .pkl (the '
                                   "official code's legacy.load_network_pkl loads it), .pt (rosinality's model.py "
                                   'loads it) or .onnx (the generator, const noise baked in). G_ema, G and D are '
                                   'kept where the format has room; the weights keep their fingerprint.')
    p.add_argument('src', metavar='SRC', help='network file or training run folder')
    p.add_argument('dst', metavar='DST', help='output file: .safetensors, .pkl, .pt or .onnx')
    p.add_argument('--format', choices=FORMATS, default=None,
                   help='output format (default: from the extension of DST)')
    p.add_argument('--onnx-input', choices=('z', 'ws'), default='z',
                   help='ONNX graph input: z (mapping included, with class and psi inputs) or ws (synthesis only) '
                        '(default: z)')
    p.add_argument('--onnx-batch', type=Number(1, 1024), default=1, metavar='N',
                   help='ONNX batch size, fixed (default: 1)')
    return p


def run(args):
    from core.atomic import check_writable
    from core.model_io import format_for_path, open_network, save_as
    fmt = format_for_path(args.dst, args.format)  # a bad name or extension stops before the file is read
    check_writable(args.dst)
    net = open_network(args.src, device='cpu', want_training=True)
    written = save_as(args.dst, net, fmt, **(dict(input=args.onnx_input, batch=args.onnx_batch)
                                            if fmt == 'onnx' else {}))
    print(f"wrote {args.dst} ({', '.join(written['holds'])}) from the {net.meta['format']} file {net.meta['source']}")
    for note in written.get('notes') or ():
        print(f'note: {note}')
    return 0
