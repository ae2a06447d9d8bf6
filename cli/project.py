"""`project`: find the w (or w+) whose image matches a photo, fully offline.

    python main.py project --network ffhq.pkl --target me.jpg --outdir out \\
        --landmarks 412,530,598,528,440,700,580,698 --space w+ --save-video

Writes to --outdir: target.png (the aligned target), proj.png (the projection), projected_w.npz
(the official layout: key 'w', float32 [1, num_ws, w_dim], plus a JSON 'meta' that names the noise
file), projected_noise.npz (the optimised noise maps proj.png was drawn with: `generate
--projected-noise` and the explorer's Load w draw the w with them), projection.json (what ran: losses, options,
alignment) and, with --save-video, proj.mp4 (target and projection side by side, one frame per
step, 10 fps). Ctrl+C stops the optimisation and still writes every output from the best step
so far. Each file is written under a temporary name and renamed when complete.
"""
import os
import sys

from cli import options
from core.align import LANDMARK_HELP
from core.errors import StylescopeError

VIDEO_FPS = 10


def add_parser(subparsers, parents=()):
    """Register `project` on an argparse subparsers object."""
    p = subparsers.add_parser(
        'project', parents=list(parents), help='find the latent of a photo (projection)',
        description='Optimise a w (then optionally w+) so that the network draws the target photo, with the '
                    "official projector's schedule and losses that need no download: the discriminator's "
                    'features (when the network file has D), MS-SSIM and a Laplacian-pyramid L1, plus VGG16 '
                    'from a local file with --vgg.')
    options.add_network(p)
    p.add_argument('--target', required=True, metavar='IMAGE', help='photo to project (.jpg, .png, ...)')
    p.add_argument('--outdir', required=True, metavar='DIR', help='output folder, created if needed')
    p.add_argument('--num-steps', type=int, default=1000, metavar='N', help='steps in W (default: 1000)')
    p.add_argument('--space', choices=('w', 'w+'), default='w',
                   help='w: one w for every layer (best for editing); w+: then a second stage frees each '
                        'layer\'s w (closer match, edits less well) (default: w)')
    p.add_argument('--w-plus-steps', type=int, default=None, metavar='N',
                   help='steps of the w+ stage (default: half of --num-steps)')
    p.add_argument('--seed', type=int, default=303, help='random seed of the noise maps and w noise (default: 303)')
    p.add_argument('--noise-init', choices=('const', 'random'), default='const',
                   help="noise maps start as the network's const noise (default) or re-drawn at random "
                        '(the official projector)')
    p.add_argument('--save-video', action='store_true', help='also write proj.mp4 of the optimisation')
    p.add_argument('--landmarks', metavar='X,Y,...', help='align the face as FFHQ was: ' + LANDMARK_HELP +
                   ' (default: centre crop)')
    p.add_argument('--vgg', metavar='PATH', help="the official projector's vgg16.pt (TorchScript), if you have "
                   'it: adds its feature distance to the loss')
    p.add_argument('--loss-weights', metavar='NAME=W,...',
                   help='override loss weights, e.g. d_features=1,ms_ssim=0.5,laplacian_l1=1,vgg=1 (0 turns one off)')
    options.add_class(p)
    options.add_device(p)
    return p


def parse_loss_weights(text):
    """'ms_ssim=0.5,vgg=0' -> {'ms_ssim': 0.5, 'vgg': 0.0}."""
    from core.image_losses import DEFAULT_WEIGHTS
    weights = {}
    for part in (text or '').split(','):
        if not part.strip():
            continue
        name, _, value = part.partition('=')
        name = name.strip()
        try:
            value = float(value)
        except ValueError:
            value = -1.0
        if name not in DEFAULT_WEIGHTS or not value >= 0:
            raise StylescopeError(f"bad --loss-weights '{text}': use NAME=WEIGHT pairs with names from "
                                  f"{', '.join(DEFAULT_WEIGHTS)} and weights of 0 or more")
        weights[name] = value
    return weights


class _Run:
    """The optimisation loop as an iterable that ends quietly on Ctrl+C (remembering it), so a
    video writer consuming it still closes a valid file."""

    def __init__(self, projector, bar, target=None):
        self.projector, self.bar, self.target = projector, bar, target
        self.interrupted = False

    def __iter__(self):
        frames = 0
        try:
            for snap in self.projector.steps():
                self.bar.update(1)
                self.bar.set_postfix_str(f'{snap.stage} loss {snap.loss:.4f}', refresh=False)
                frames += 1
                yield self._frame(snap.image)
        except KeyboardInterrupt:
            self.interrupted = True
        if frames == 0:  # stopped before the first step: a one-frame video of the start
            yield self._frame(self.projector.result().image)

    def _frame(self, image):
        import numpy as np
        return image if self.target is None else np.concatenate([self.target, image], axis=1)


def run(args):
    from tqdm import tqdm

    from core import projection
    from core.align import prepare_target
    from core.atomic import write_json
    from core.default_model import open_network_or_default
    from core.device import resolve_device
    from core.image_losses import load_vgg
    from core.images import save_png
    from core.latent import class_vector
    from core.video import write_video

    settings = projection.ProjectionOptions(num_steps=args.num_steps, space=args.space, w_plus_steps=args.w_plus_steps,
                                            seed=args.seed, loss_weights=parse_loss_weights(args.loss_weights),
                                            noise_init=args.noise_init)
    device = resolve_device(args.device)
    net = open_network_or_default(args.network, device, want_D=True)
    G = net.G
    c = class_vector(G.c_dim, args.class_idx, device)
    target, align_info = prepare_target(args.target, G.img_resolution, G.img_channels, args.landmarks)
    vgg = load_vgg(args.vgg, device) if args.vgg else None
    if net.meta.get('random_init'):
        print('warning: the default network is an untrained stand-in: projections will not look like the photo',
              file=sys.stderr)
    options.make_outdir(args.outdir)
    out = lambda name: os.path.join(args.outdir, name)  # noqa: E731

    projector = projection.Projector(G, target, D=net.D, vgg=vgg, options=settings, c=c)
    print(f'loss: {projector.describe_loss()}')
    if net.D is None:
        print('note: the network file has no discriminator, so its features are not part of the loss')
    save_png(out('target.png'), target)

    video_note = None
    with tqdm(total=projector.total_steps, unit='step', desc=f'project ({args.space})') as bar:
        loop = _Run(projector, bar, target if args.save_video else None)
        if args.save_video:
            try:
                write_video(iter(loop), projector.total_steps, out('proj.mp4'), 'mp4', fps=VIDEO_FPS)
            except KeyboardInterrupt:  # landed in the encoder rather than the loop: no video
                loop.interrupted = True
                video_note = 'proj.mp4 was not written (interrupted while encoding)'
        else:
            for _ in loop:
                pass

    result = projector.result()
    meta = result.meta(network=net.meta.get('source'), fingerprint=net.meta.get('fingerprint'),
                       target=os.path.abspath(args.target), class_idx=args.class_idx, seed=args.seed,
                       alignment=align_info, options=projection.options_dict(settings), interrupted=loop.interrupted,
                       noise_file='projected_noise.npz')
    save_png(out('proj.png'), result.image)
    projection.save_projected_w(out('projected_w.npz'), result.ws, meta)
    projection.save_noise_maps(out('projected_noise.npz'), result.noise)
    write_json(out('projection.json'), meta, indent=2)
    written = 'target.png, proj.png, projected_w.npz, projected_noise.npz, projection.json'
    if args.save_video and video_note is None:
        written += ', proj.mp4'
    if video_note:
        print(f'warning: {video_note}', file=sys.stderr)
    if loop.interrupted:
        print(f'interrupted after {result.steps_done} of {result.total_steps} steps: kept the best step '
              f'({result.best_step}, loss {result.loss:.4f}); wrote {written} to {args.outdir}')
        return 130
    print(f'best loss {result.loss:.4f} at step {result.best_step}; wrote {written} to {args.outdir}')
    return 0
