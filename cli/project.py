"""`project`: find the w (or w+, or a pivot w and a tuned network) whose image matches a photo,
fully offline; one photo or many.

    python main.py project --network ffhq.pkl --target me.jpg --outdir out \\
        --landmarks 412,530,598,528,440,700,580,698 --space w+ --save-video
    python main.py project --target me.jpg --outdir out --space pti       # pivotal tuning
    python main.py project --target photos/ --outdir out --space w        # a batch: out/<photo>/...

Writes to --outdir: target.png (the aligned target), proj.png (the projection), projected_w.npz
(the official layout: key 'w', float32 [1, num_ws, w_dim], plus a JSON 'meta' that names the noise
file), projected_noise.npz (networks with noise inputs, not StyleGAN3: the noise maps proj.png was drawn with: `generate
--projected-noise` and the explorer's Load w draw the w with them), projection.json (what ran: losses, options,
alignment, PSNR and SSIM to the target) and, with --save-video, proj.mp4 (target and projection side by
side, one frame per step, 10 fps). With --space pti also tuned.safetensors: the network tuned to this
photo (core.pti; its mapping is the source's, so seeds and directions keep their meaning), which
draws proj.png from projected_w.npz (the pivot) with its own const noise; open it anywhere a
--network is taken. Ctrl+C stops the optimisation and still writes every output from the best step
so far. Each file is written under a temporary name and renamed when complete.

Several --target photos, or a folder of them, make a batch (core.batch_projection): one sub-folder
of --outdir per photo, each appearing only when all its outputs are written, summary.csv beside
them; a re-run skips the finished photos, so a batch stopped by Ctrl+C or a kill goes on where it
stopped (the photo in progress then starts again).
"""
import os
import sys
import time

from cli import options
from core.align import LANDMARK_HELP
from core.errors import StylescopeError

VIDEO_FPS = 10
MAX_LOSS_WEIGHT = 1e6  # the defaults are 0.5 to 1; nan and inf would make every step's loss nan
MAX_STEPS = 1_000_000  # 1,000 is the official schedule; a million steps is days of work
NOISE_FILE = 'projected_noise.npz'  # only for networks with noise inputs (StyleGAN3 has none)
OUTPUTS = ('target.png', 'proj.png', 'projected_w.npz', NOISE_FILE, 'projection.json')
TUNED = 'tuned.safetensors'
SPACES = ('w', 'w+', 'pti')


def add_parser(subparsers, parents=()):
    """Register `project` on an argparse subparsers object."""
    p = subparsers.add_parser(
        'project', parents=list(parents), help='find the latent of a photo (projection, pivotal tuning)',
        description='Optimise a w (then optionally w+, or tune a copy of the network to the photo: PTI) so that '
                    "the network draws the target photo, with the official projector's schedule and losses that "
                    "need no download: the discriminator's features (when the network file has D), MS-SSIM and a "
                    'Laplacian-pyramid L1, plus VGG16 from a local file with --vgg. Several photos or a folder '
                    'make a batch: one sub-folder per photo and summary.csv; a re-run skips finished photos.')
    options.add_network(p)
    p.add_argument('--target', required=True, nargs='+', metavar='IMAGE|FOLDER',
                   help='photo to project (.jpg, .png, ...); several photos or a folder of them: a batch')
    p.add_argument('--outdir', required=True, metavar='DIR', help='output folder, created if needed')
    p.add_argument('--num-steps', type=options.Number(1, MAX_STEPS), default=1000, metavar='N',
                   help='steps in W (the pivot, for pti) (default: 1000)')
    p.add_argument('--space', choices=SPACES, default='w',
                   help="w: one w for every layer (best for editing); w+: then a second stage frees each "
                        "layer's w (closer match, edits less well); pti: the W projection as a pivot, then a copy "
                        'of the network is tuned to the photo (closest match; writes tuned.safetensors) '
                        '(default: w)')
    p.add_argument('--w-plus-steps', type=options.Number(0, MAX_STEPS), default=None, metavar='N',
                   help='steps of the w+ stage (default: half of --num-steps)')
    p.add_argument('--pti-steps', type=options.Number(1, MAX_STEPS), default=350, metavar='N',
                   help='pti: tuning steps after the pivot (default: 350, as the PTI paper)')
    p.add_argument('--pti-lr', type=options.Number(0.0, 1.0, whole=False, low_open=True), default=3e-4, metavar='LR',
                   help='pti: learning rate of the tuning (default: 3e-4, as the PTI paper)')
    p.add_argument('--pti-locality', type=options.Number(0.0, MAX_LOSS_WEIGHT, whole=False), default=0.1,
                   metavar='W', help="pti: weight of the locality term that keeps the tuned network's pictures of "
                                     'other w near the pivot unchanged (default: 0.1, as the paper; 0: off)')
    p.add_argument('--seed', type=options.SEED, default=303, help='random seed of the noise maps and w noise (default: 303)')
    p.add_argument('--noise-init', choices=('const', 'random'), default='const',
                   help="noise maps start as the network's const noise (default) or re-drawn at random "
                        '(the official projector)')
    p.add_argument('--save-video', action='store_true', help='also write proj.mp4 of the optimisation')
    p.add_argument('--landmarks', metavar='X,Y,...|auto', help='align the face as FFHQ was: ' + LANDMARK_HELP +
                   " (one photo only), or 'auto': found by the optional detector (pip install "
                   "'stylescope[landmarks]'), for every photo of a batch too (default: centre crop)")
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
        if name not in DEFAULT_WEIGHTS or not 0 <= value <= MAX_LOSS_WEIGHT:
            raise StylescopeError(f"bad --loss-weights '{text}': use NAME=WEIGHT pairs with names from "
                                  f"{', '.join(DEFAULT_WEIGHTS)} and weights from 0 to {MAX_LOSS_WEIGHT:g}")
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


class _Job:
    """What every photo of a run shares: the network, the loss's parts, the settings."""

    def __init__(self, args):
        from core.default_model import open_network_or_default
        from core.device import resolve_device
        from core.image_losses import load_vgg
        from core.latent import class_vector
        from core.projection import ProjectionOptions
        from core.pti import PTIOptions

        self.args = args
        weights = parse_loss_weights(args.loss_weights)
        self.pti = args.space == 'pti'
        self.settings = ProjectionOptions(num_steps=args.num_steps, space='w' if self.pti else args.space,
                                          w_plus_steps=args.w_plus_steps, seed=args.seed, loss_weights=weights,
                                          noise_init=args.noise_init)
        self.pti_options = PTIOptions(num_steps=args.pti_steps, learning_rate=args.pti_lr,
                                      locality_weight=args.pti_locality, seed=args.seed,
                                      loss_weights=weights) if self.pti else None
        self.device = resolve_device(args.device)
        self.net = open_network_or_default(args.network, self.device, want_D=True)
        self.G = self.net.G
        self.c = class_vector(self.G.c_dim, args.class_idx, self.device)
        self.vgg = load_vgg(args.vgg, self.device) if args.vgg else None
        self.stats = None
        from core.noise import noise_layers
        self.outputs = OUTPUTS if noise_layers(self.G) else tuple(n for n in OUTPUTS if n != NOISE_FILE)

    def names(self):
        return self.outputs + ((TUNED,) if self.pti else ()) + (('proj.mp4',) if self.args.save_video else ())

    def target(self, path, landmarks=None):
        from core.align import load_image, prepare_target
        if landmarks == 'auto':
            from core import landmarks as detector
            landmarks = detector.detect(load_image(path))
            if landmarks is None:
                raise StylescopeError(f"no face was found in '{path}': give its --landmarks X,Y,... by hand, or leave "
                                      '--landmarks out for a centre crop')
        return prepare_target(path, self.G.img_resolution, self.G.img_channels, landmarks)

    def projector(self, target):
        from core import projection
        from core.pti import PTIProjector
        if self.stats is None:  # w_avg / w_std once per run, not once per photo
            self.stats = projection.w_stats(self.G, self.c, self.settings.w_avg_samples)
        common = dict(D=self.net.D, vgg=self.vgg, options=self.settings, c=self.c, stats=self.stats)
        if self.pti:
            return PTIProjector(self.G, target, pti=self.pti_options, **common)
        return projection.Projector(self.G, target, **common)

    def settings_key(self):
        from core.batch_projection import settings_key
        a = self.args
        return settings_key(a.space, a.num_steps, a.w_plus_steps if a.space == 'w+' else None,
                            a.pti_steps if self.pti else None, a.seed, self.net.meta.get('fingerprint'))

    def project(self, photo, target, align_info, outdir, desc, announce=False):
        """Run one photo's projection with a progress bar and write its outputs into outdir.
        Returns (result, meta, interrupted, written names, notes, write_record): write_record(extra)
        writes projection.json (meta plus extra), the caller's last step."""
        from tqdm import tqdm

        from core import projection
        from core.atomic import write_json
        from core.image_losses import psnr, ssim_uint8
        from core.images import save_png
        from core.video import write_video

        out = lambda name: os.path.join(outdir, name)  # noqa: E731
        args = self.args
        projector = self.projector(target)
        if announce:
            print(f'loss: {projector.describe_loss()}')
            if self.net.D is None:
                print('note: the network file has no discriminator, so its features are not part of the loss')
        save_png(out('target.png'), target)
        notes = []
        with tqdm(total=projector.total_steps, unit='step', desc=desc) as bar:
            loop = _Run(projector, bar, target if args.save_video else None)
            if args.save_video:
                try:
                    write_video(iter(loop), projector.total_steps, out('proj.mp4'), 'mp4', fps=VIDEO_FPS)
                except KeyboardInterrupt:  # landed in the encoder rather than the loop: no video
                    loop.interrupted = True
                    notes.append('proj.mp4 was not written (interrupted while encoding)')
            else:
                for _ in loop:
                    pass

        result = projector.result()
        fit = dict(psnr=round(psnr(result.image, target), 4), ssim=round(ssim_uint8(result.image, target), 5))
        meta = result.meta(network=self.net.meta.get('source'), fingerprint=self.net.meta.get('fingerprint'),
                           target=os.path.abspath(photo), class_idx=args.class_idx, seed=args.seed,
                           alignment=align_info, options=projection.options_dict(self.settings),
                           interrupted=loop.interrupted,
                           noise_file=NOISE_FILE if NOISE_FILE in self.outputs else None, **fit)
        written = list(self.outputs)
        if self.pti:
            meta['pti'] = self._write_tuned(result, out(TUNED), notes)
            if meta['pti'].get('file'):
                written.append(TUNED)
        save_png(out('proj.png'), result.image)
        projection.save_projected_w(out('projected_w.npz'), result.ws, meta)
        if NOISE_FILE in self.outputs:
            projection.save_noise_maps(out(NOISE_FILE), result.noise)
        if args.save_video and not any(n.startswith('proj.mp4') for n in notes):
            written.append('proj.mp4')
        return result, meta, loop.interrupted, written, notes, (lambda extra=None: write_json(
            out('projection.json'), {**meta, **(extra or {})}, indent=2))

    def _write_tuned(self, result, path, notes):
        """tuned.safetensors of a PTI result (none when no tuning step ran); its part of the meta."""
        from core import pti
        from core.projection import options_dict
        info = dict(options=options_dict(self.pti_options), tuning_steps=result.tuning_steps,
                    tuning_best_step=result.tuning_best_step)
        if result.G is None:
            if os.path.isfile(path):  # from an earlier run: it does not belong to these outputs
                os.remove(path)
            notes.append(f'no tuning step ran, so {TUNED} was not written: the outputs are the W pivot')
            info['file'] = None
            return info
        size = pti.save_tuned(path, result, self.G, self.net.meta.get('source'))
        note = pti.size_note(self.G, TUNED)
        if note:
            notes.append(note)
        info.update(file=TUNED, bytes=size)
        return info


def run(args):
    from core import batch_projection

    photos = batch_projection.list_photos(args.target)
    batch = len(args.target) > 1 or os.path.isdir(args.target[0])
    if batch and args.landmarks and args.landmarks != 'auto':
        raise StylescopeError('--landmarks are the points of one photo: give a single --target, or leave '
                              '--landmarks out to centre-crop every photo of the batch')
    job = _Job(args)
    if job.net.meta.get('random_init'):
        print('warning: the default network is an untrained stand-in: projections will not look like the photo',
              file=sys.stderr)
    if batch:
        return _run_batch(job, photos)
    return _run_single(job, photos[0])


def _run_single(job, photo):
    args = job.args
    target, align_info = job.target(photo, args.landmarks)
    options.make_outdir(args.outdir, names=job.names())
    result, meta, interrupted, written, notes, write_record = job.project(
        photo, target, align_info, args.outdir, f'project ({args.space})', announce=True)
    write_record()
    for note in notes:
        print(f'note: {note}' if not note.startswith('proj.mp4') else f'warning: {note}', file=sys.stderr)
    written = ', '.join(written)
    if interrupted:
        print(f'interrupted after {result.steps_done} of {result.total_steps} steps: kept the best step '
              f'({result.best_step}, loss {result.loss:.4f}); wrote {written} to {args.outdir}')
        return 130
    print(f"best loss {result.loss:.4f} at step {result.best_step} (PSNR {meta['psnr']:.2f} dB); wrote {written} "
          f'to {args.outdir}')
    return 0


def _run_batch(job, photos):
    from core import batch_projection as bp
    from core.atomic import atomic_folder

    args = job.args
    options.make_outdir(args.outdir, names=(bp.SUMMARY,))
    names = bp.folder_names(photos)
    key = job.settings_key()
    rows = {}
    todo = []
    for photo, name in zip(photos, names):  # every check before any work: a bad photo stops the run now
        folder = os.path.join(args.outdir, name)
        row = bp.finished_row(folder, key)
        if row is not None:
            rows[name] = row
        else:
            job.target(photo, args.landmarks)  # readable, an image (with a face): else its sentence, now
            todo.append((photo, name))
    bp.remove_stale_temporaries(args.outdir, [name for _, name in todo])
    summary = os.path.join(args.outdir, bp.SUMMARY)

    def write_summary():
        bp.write_summary(summary, [rows[name] for name in names if name in rows])

    write_summary()
    print(f'batch of {len(photos)} photos ({args.space}): {len(rows)} already finished in {args.outdir}, '
          f'{len(todo)} to project')
    for i, (photo, name) in enumerate(todo):
        target, align_info = job.target(photo, args.landmarks)
        started = time.perf_counter()
        folder = os.path.join(args.outdir, name)
        try:
            with atomic_folder(folder) as tmp:
                result, meta, interrupted, _, notes, write_record = job.project(
                    photo, target, align_info, tmp, f'{i + 1}/{len(todo)} {name} ({args.space})')
                if interrupted:
                    raise KeyboardInterrupt
                row = bp.summary_row(photo, args.space, result.steps_done, meta['psnr'], meta['ssim'],
                                     time.perf_counter() - started)
                write_record(dict(batch=bp.batch_record(row, key)))  # the record last: then the folder appears
        except KeyboardInterrupt:
            write_summary()
            print(f'interrupted during {os.path.basename(photo)}: {len(rows)} of {len(photos)} photos are finished '
                  f'in {args.outdir} (see {bp.SUMMARY}); run the same command again to project the other '
                  f'{len(photos) - len(rows)}')
            return 130
        rows[name] = row
        write_summary()
        for note in notes:
            print(f'note ({name}): {note}', file=sys.stderr)
    print(f'{len(rows)} of {len(photos)} photos projected into {args.outdir}; summary in {summary}')
    return 0
