"""`video`: interpolation, direction-sweep and (StyleGAN3) motion videos (mp4, gif or png frames).

    python main.py video --seeds 1,5,9 --interp slerp --loop --out walk.mp4
    python main.py video --seeds 1-4 --grid 2x2 --sweep dirs.npz:smile --amount 3 --out smile.gif
    python main.py video --network sg3-t.pkl --seeds 1 --pan 0.25 --rotate 360 --out equivariance.mp4
    python main.py video --seeds 1,5 --edit smile.npz:0=1.5 --out smiling_walk.mp4

`--edit F.npz:NAME=AMOUNT` (repeatable) adds direction edits to every frame, after truncation.
"""
import re
import sys

from cli import options
from core import video_limits as limits
from core.errors import StylescopeError


def add_parser(subparsers, parents=()):
    """Register `video` on an argparse subparsers object."""
    p = subparsers.add_parser(
        'video', parents=list(parents), help='write an interpolation or direction-sweep video',
        description='Interpolate between keyframes (seeds and saved w) or sweep a direction, and write an '
                    'mp4, a gif or a folder of png frames. The same arguments always give the same frames.')
    options.add_network(p)
    p.add_argument('--seeds', metavar='LIST', help="keyframe seeds such as '1,5,9' or '0-3' (ranges inclusive)")
    p.add_argument('--w-files', nargs='+', default=[], metavar='FILE',
                   help="saved w as keyframes (.npz with key 'w', e.g. projected_w.npz, or .npy); after the seeds")
    p.add_argument('--interp', choices=('lerp', 'slerp', 'cubic'), default='lerp',
                   help='lerp, slerp (in z) or cubic (smooth Catmull-Rom in w) (default: lerp)')
    p.add_argument('--space', choices=('z', 'w'), default=None,
                   help='interpolate z or w (default: z for slerp, w otherwise; z needs seeds)')
    p.add_argument('--session', metavar='FILE',
                   help="a session saved by the explorer: its favourites are keyframes, after seeds and w files")
    p.add_argument('--loop', action='store_true', help='join the last keyframe back to the first (seamless loop)')
    p.add_argument('--fps', type=options.Number(0.0, limits.MAX_FPS, whole=False, low_open=True), default=30.0,
                   help='frames per second (default: 30)')
    p.add_argument('--duration', type=options.Number(0.0, limits.MAX_DURATION, whole=False, low_open=True),
                   default=4.0, metavar='SECONDS', help='video length (default: 4)')
    p.add_argument('--sweep', metavar='DIRFILE[:NAME]',
                   help='sweep one direction from a direction file (name or index; default: the first)')
    p.add_argument('--pan', type=options.Number(-10.0, 10.0, whole=False), default=None, metavar='WIDTHS',
                   help="StyleGAN3: move each cell's picture across and back by this many image widths")
    p.add_argument('--rotate', type=options.Number(-3600.0, 3600.0, whole=False), default=None, metavar='DEGREES',
                   help="StyleGAN3: turn each cell's picture by this many degrees over the video (360: a full turn)")
    p.add_argument('--amount', type=options.AMOUNT, default=3.0,
                   help='sweep from -AMOUNT to +AMOUNT slider units and back (default: 3)')
    p.add_argument('--grid', metavar='COLSxROWS', help='tile several cells, e.g. 2x2: keyframes are shared out '
                   'in consecutive groups (a sweep needs one seed per cell)')
    p.add_argument('--format', choices=('mp4', 'gif', 'png'), default=None,
                   help='output format (default: from --out: .mp4, .gif, otherwise a folder of png frames)')
    p.add_argument('--quality', type=options.Number(1.0, 10.0, whole=False), default=8,
                   help='mp4 quality, 1 (small) to 10 (best) (default: 8)')
    p.add_argument('--size', type=options.Number(4, limits.MAX_SIDE), default=None, metavar='PX',
                   help='pixels per cell (default: the model\'s)')
    options.add_truncation(p)
    options.add_edit(p)
    options.add_class(p)
    options.add_noise_mode(p)
    p.add_argument('--noise-seed', type=options.SEED, default=0, metavar='N', help='seed of random noise (default: 0)')
    options.add_device(p)
    options.add_precision(p)
    p.add_argument('--out', required=True, metavar='PATH', help='output .mp4, .gif or folder for png frames')
    return p


def parse_grid(text):
    """'2x3' -> (cols 2, rows 3)."""
    match = re.fullmatch(r'\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*', str(text))
    if match is None or not all(1 <= int(n) <= limits.MAX_GRID_SIDE for n in match.groups()):
        raise StylescopeError(f"bad --grid '{text}': use COLSxROWS such as 2x2, each from 1 to {limits.MAX_GRID_SIDE}")
    return int(match.group(1)), int(match.group(2))


def _load_direction(spec, G):
    from core.direction_files import open_directions
    path, name = options.split_direction_spec(spec)
    dset = open_directions(path, G)
    k = dset.index(0 if name is None else name)
    return dset.names[k], dset.edit_vector(k), float(dset.scales[k]), int(dset.layer_start[k]), int(dset.layer_end[k])


def _with_edits(frames, edits, styles=()):
    """Every frame's requests with the --edit offsets (on w, and on StyleSpace channels) added after
    their own (a sweep's)."""
    if not edits and not styles:
        return frames
    return [[request.replace(offsets=request.offsets + edits, style_offsets=request.style_offsets + styles)
             for request in frame] for frame in frames]


def _keyframes(args, G, most):
    """The keyframes of --seeds, --w-files and --session, in that order; more than `most` (one a
    frame in every cell) is refused, a seed range before it is built."""
    from core.latent import load_ws_file
    from core.request import Latent
    from core.seeds import parse_seeds, seed_count
    if args.seeds and seed_count(args.seeds, '--seeds') > most:
        raise _too_many_keyframes(f"--seeds '{args.seeds}'", seed_count(args.seeds), most)
    keys = [Latent(seed=s) for s in parse_seeds(args.seeds, flag='--seeds')] if args.seeds else []
    for path in args.w_files:
        keys.extend(Latent(w=w) for w in load_ws_file(path, G.num_ws, G.w_dim))
    if args.session:
        from core.session_file import session_favourite_ws
        keys.extend(Latent(w=w) for w in session_favourite_ws(args.session, G.num_ws, G.w_dim))
    if not keys:
        raise StylescopeError('no keyframes: give --seeds, --w-files and/or --session')
    if len(keys) > most:
        raise _too_many_keyframes('--seeds, --w-files and --session', len(keys), most)
    return keys


def _too_many_keyframes(what, count, most):
    return StylescopeError(f'{what} give {count:,} keyframes, more than the {most:,} frames of the video hold: give '
                           'fewer, or raise --fps or --duration')


def _open_network(path, device):
    from core.default_model import open_network_or_default
    return open_network_or_default(path, device)


def run(args):
    from tqdm import tqdm

    from core import video
    from core.device import resolve_device
    from core.noise_spec import NoiseSpec
    from core.networks_stylegan3 import is_stylegan3
    from core.render import make_renderer

    fmt = video.check_output(args.out, args.format, args.quality)
    settings = video.VideoOptions(fps=args.fps, duration=args.duration, interp=args.interp, space=args.space,
                                  loop=args.loop, psi=args.trunc, cutoff=args.trunc_cutoff, class_idx=args.class_idx,
                                  noise=NoiseSpec(args.noise_mode, args.noise_seed), size=args.size,
                                  precision=args.precision)
    cols, rows = parse_grid(args.grid) if args.grid else (None, None)
    cells = 1 if cols is None else cols * rows
    device = resolve_device(args.device)
    net = _open_network(args.network, device)
    G = net.G
    limits.check_video_size(settings.n_frames, args.size or G.img_resolution, cells, fmt)
    if G.c_dim == 0 and args.class_idx is not None:
        print('warning: --class is ignored: the network is unconditional', file=sys.stderr)
    keys = _keyframes(args, G, settings.n_frames * cells)
    from core.edits import describe, edit_offsets
    edits, styles = edit_offsets(args.edit, G)  # files and names checked before any frame is drawn
    renderer = make_renderer(G)
    moving = args.pan is not None or args.rotate is not None
    if moving and args.sweep:
        raise StylescopeError('--pan / --rotate and --sweep make different videos: choose one of them')
    if moving and not is_stylegan3(G):
        raise StylescopeError("--pan and --rotate move a StyleGAN3 network's picture through its input transform, and "
                              f"'{net.meta.get('source')}' is a StyleGAN2 network: give a StyleGAN3 network.")
    if moving:
        if cols is not None and cols * rows != len(keys):
            raise StylescopeError(f'a {cols}x{rows} motion grid needs {cols * rows} seeds / w, got {len(keys)}')
        requests = video.motion_requests(keys, args.pan or 0.0, args.rotate or 0.0, settings)
        what = f'motion (pan {args.pan or 0:g} widths, rotate {args.rotate or 0:g} degrees)'
    elif args.sweep:
        if cols is not None and cols * rows != len(keys):
            raise StylescopeError(f'a {cols}x{rows} sweep grid needs {cols * rows} seeds / w, got {len(keys)}')
        name, vector, scale, start, end = _load_direction(args.sweep, G)
        requests = video.sweep_requests(renderer, keys, vector, scale, start, end, args.amount, settings)
        what = f"sweep of '{name}' (+-{args.amount:g})"
    else:
        requests = video.interpolation_requests(renderer, keys, settings, n_cells=cells)
        what = f'{args.interp} through {len(keys) // cells} keyframes'
    requests = _with_edits(requests, edits, styles)
    what += f', with {describe(args.edit)}' if args.edit else ''
    n_frames = len(requests)
    with tqdm(total=n_frames, unit='frame', desc='video') as bar:
        video.export_video(renderer, requests, args.out, fmt, args.fps, args.quality, cols,
                           progress=lambda done, total: bar.update(done - bar.n))
    print(f'wrote {n_frames} frames ({what}) to {args.out}')
    return 0
