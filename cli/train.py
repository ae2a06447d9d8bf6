"""`train`: fit a StyleGAN2-ADA model to a dataset, as the official train.py does.

    python main.py train --data faces-64.zip --cfg small
    python main.py train --resume latest                    # continue the newest run in --outdir
    python main.py train --data cars.zip --resume ffhq.pkl  # fine-tune a network on new data
    torchrun --nproc_per_node 2 main.py train --data ...   # data-parallel over 2 processes

A new run gets its own folder `<outdir>/NNNNN-<dataset>-<cfg>`; `--resume latest`, a run folder,
or its newest network-snapshot-*.safetensors continue that run exactly, in place. Top-level
imports stay light: main.py builds the parser without loading torch.
"""
import os
import sys

from cli import options
from core.net_limits import MAX_COUNT, MAX_LAYERS
from train.presets import TRAIN_PRECISIONS

BATCH = options.Number(1, 65_536)
WIDTH = options.Number(1, 4096)  # channels and z / w dimensions: 512 in every official config
PROBABILITY = options.Number(0.0, 1.0, whole=False)


def add_parser(sub, parents=()):
    p = sub.add_parser('train', parents=list(parents), help='train a model on a dataset (StyleGAN2-ADA)',
                       description='Train StyleGAN2-ADA. Presets as the official --cfg; every value can be '
                                   'overridden. Run under torchrun for several GPUs/processes.')
    p.add_argument('--data', metavar='DIR|ZIP', help="training images: a folder or a zip made with 'dataset'")
    p.add_argument('--outdir', default='training-runs', metavar='DIR', help='where run folders go (default: %(default)s)')
    p.add_argument('--cfg', default='auto', choices=('auto', 'stylegan2', 'paper256', 'paper512', 'paper1024', 'cifar',
                                                     'small'), help='preset (default: auto; small = quick CPU runs)')
    p.add_argument('--resume', metavar='latest|PATH',
                   help='continue a run (latest, a run folder or its snapshot) or fine-tune a network file (.pkl)')
    g = p.add_argument_group('preset overrides')
    g.add_argument('--batch', type=BATCH, metavar='N', help='total batch size')
    g.add_argument('--batch-gpu', type=BATCH, metavar='N', help='images per process per pass (accumulates the rest)')
    g.add_argument('--gamma', type=options.Number(0.0, 1e6, whole=False), metavar='F', help='R1 weight')
    g.add_argument('--kimg', type=options.Number(0.0, 1e9, whole=False, low_open=True), metavar='F',
                   help='training length in thousands of images')
    g.add_argument('--lrate', type=options.Number(0.0, 1.0, whole=False, low_open=True), metavar='F',
                   help='learning rate of G and D')
    g.add_argument('--map', type=options.Number(1, MAX_LAYERS), metavar='N', help='mapping network depth')
    g.add_argument('--ema', type=options.Number(0.0, 1e6, whole=False), metavar='KIMG', help='G_ema half-life in kimg')
    g.add_argument('--mirror', action='store_true', default=None, help='add x-flipped copies of the images')
    g.add_argument('--aug', choices=('ada', 'noaug', 'fixed'), help='augmentation mode (default: ada)')
    g.add_argument('--p', type=PROBABILITY, metavar='P', help='augment probability for --aug fixed (default: 0.2)')
    g.add_argument('--target', type=PROBABILITY, metavar='F', help='ADA target for E[sign(D(real))] (default: 0.6)')
    g.add_argument('--augpipe', choices=('blit', 'geom', 'color', 'bg', 'bgc'), help='augmentations (default: bgc)')
    g.add_argument('--snap', type=options.Number(1, 1_000_000), metavar='TICKS',
                   help='ticks between snapshots and metrics (default: 50)')
    g.add_argument('--tick', type=options.Number(0.0, 1e6, whole=False, low_open=True), metavar='KIMG',
                   help='kimg per progress tick (default: 4)')
    g.add_argument('--seed', type=options.SEED, metavar='N', help='random seed (default: 0)')
    g.add_argument('--cond', action='store_true', default=None, help='condition on the dataset.json labels')
    g.add_argument('--subset', type=options.Number(1), metavar='N', help='train on a random subset of N images')
    g.add_argument('--cbase', type=options.Number(1, MAX_COUNT), metavar='N',
                   help='channel base (channels = min(cbase / res, cmax))')
    g.add_argument('--cmax', type=WIDTH, metavar='N', help='most channels of any layer')
    g.add_argument('--zdim', type=WIDTH, metavar='N', help='z and w dimensions')
    g.add_argument('--mbstd-group', type=BATCH, metavar='N', help='minibatch-stddev group size')
    g.add_argument('--fp32', action='store_true', default=None,
                   help='architecture: no fp16 layers or clamping on CUDA (not the same as --precision fp32)')
    g.add_argument('--precision', choices=TRAIN_PRECISIONS, default=None,
                   help='arithmetic of G and D: bf16 (bfloat16 forward and backward, float32 weights and '
                        'optimiser; about 1.5x faster on a CPU with AVX512-BF16 or AMX), fp32, or auto (the '
                        'official fp16 layers on CUDA, fp32 on CPU) (default: auto; a continued run may change it)')
    g.add_argument('--metrics', metavar='LIST', help='metrics at every snapshot, e.g. pxfid5k_full or fid50k_full')
    g.add_argument('--inception', metavar='PATH', help='official Inception .pt file for fid/kid metrics')
    g.add_argument('--workers', type=options.Number(0, 64), metavar='N',
                   help='data-loading processes (default: 3 on CUDA, 0 on CPU)')
    options.add_device(p)
    p.add_argument('--dry-run', action='store_true', help='print the options and exit')
    return p


# Flags a continued run may change: they do not alter what the next step computes.
RUNTIME_FLAGS = ('kimg', 'snap', 'tick', 'metrics', 'inception', 'workers', 'batch_gpu', 'precision')


def _overrides(args):
    from train.metrics import parse_metric_list
    metrics = parse_metric_list(args.metrics) if args.metrics is not None else None
    return dict(batch=args.batch, batch_gpu=args.batch_gpu, gamma=args.gamma, kimg=args.kimg, lrate=args.lrate,
                map=args.map, ema=args.ema, mirror=args.mirror, aug=args.aug, p=args.p, target=args.target,
                snap=args.snap, tick=args.tick, seed=args.seed, augpipe=args.augpipe, cbase=args.cbase, cmax=args.cmax,
                z_dim=args.zdim, mbstd=args.mbstd_group, cond=args.cond, subset=args.subset, metrics=metrics,
                inception=args.inception, workers=args.workers, data=args.data, fp32=args.fp32,
                precision=args.precision)


def _find_continuation(resume, outdir):
    """(run_dir, network, state path, state) when --resume names a run to continue, else None."""
    from core.errors import StylescopeError
    from train import snapshot
    if resume == 'latest':
        return snapshot.latest_run(outdir)
    if not os.path.exists(resume):
        raise StylescopeError(f'--resume {resume} does not exist; give latest, a run folder, a snapshot or a .pkl.')
    if os.path.isdir(resume):
        found = snapshot.load_complete(resume)
        if not found:
            raise StylescopeError(f'--resume {resume} holds no complete snapshot (network-snapshot-NNNNNN.safetensors '
                                  f'with its training-state-NNNNNN.pt); give another run folder or a network file.')
        return (resume,) + found
    if resume.endswith('.safetensors'):
        pair = snapshot.complete_pair(resume)
        if pair is not None:
            return (os.path.dirname(os.path.abspath(resume)), resume) + pair
    return None  # any other network file: fine-tune from its weights


def _plan(args, world):
    """Rank 0 decides what to run: -> (cfg dict, run_dir, Resume or None) or None for --dry-run."""
    from core.atomic import write_json
    from core.errors import StylescopeError
    from train import snapshot
    from train.dataset import ImageDataset
    from train.loop import Resume
    from train.presets import TrainConfig, make_config, validate

    overrides = _overrides(args)
    cont = _find_continuation(args.resume, args.outdir) if args.resume else None
    if cont is not None:
        run_dir, net_path, state_path, state = cont
        cfg = TrainConfig.from_dict(state['config'])
        for key, value in overrides.items():
            if value is None or getattr(cfg, key, None) == value:
                continue
            if key in RUNTIME_FLAGS:
                setattr(cfg, key, value)
            elif key == 'fp32':
                continue
            else:
                print(f'warning: --{key.replace("_", "-")} is ignored: a continued run keeps its options '
                      f'(start a new run to change it)', file=sys.stderr)
        cfg.device = args.device
        validate(cfg, world)
        newest = snapshot.load_complete(run_dir)
        if newest is None or not os.path.samefile(newest[0], net_path):
            run_dir = None  # an older snapshot: continue into a new folder, keep the later ones
        resume = Resume('continue', net_path, state_path)
        print(f'continuing {net_path} at kimg {state["cur_nimg"] / 1000:.3f}')
        if state['cur_nimg'] >= cfg.kimg * 1000:
            print(f'note: the run already reached --kimg {cfg.kimg:g}; pass a larger --kimg to train on')
    else:
        if not args.data:
            raise StylescopeError('--data is required for a new run: give a folder or zip of images (make one with '
                                  'python main.py dataset), or --resume latest to continue a run.')
        dataset = ImageDataset(args.data, use_labels=bool(args.cond))
        cfg = make_config(args.cfg, dataset.resolution, gpus=world, **overrides)
        cfg.device = args.device
        dataset.close()
        resume = None
        if args.resume:
            from core.model_io import open_network
            open_network(args.resume)  # a file that cannot be read stops here, before a run folder is made
            resume = Resume('weights', args.resume)
            print(f'fine-tuning {args.resume} (architecture from the file; ada_kimg 100, no G_ema ramp-up)')
    if args.dry_run:
        import json
        print(json.dumps(cfg.to_dict(), indent=2))
        return None
    if cont is None or run_dir is None:  # a new run, or a continuation of an older snapshot
        name = os.path.splitext(os.path.basename(os.path.normpath(cfg.data)))[0]
        desc = f'{name}-{cfg.cfg}' + ('-cond' if cfg.cond else '') + ('-mirror' if cfg.mirror else '')
        run_dir = snapshot.new_run_dir(args.outdir, desc)
        write_json(os.path.join(run_dir, 'training_options.json'),
                   dict(cfg.to_dict(), world_size=world, resume=args.resume), indent=2)
    print(f'run folder: {run_dir}')
    return cfg.to_dict(), run_dir, resume


def run(args):
    from core.errors import StylescopeError
    from train import distributed
    from train.loop import training_loop
    from train.presets import TrainConfig

    d = distributed.init(args.device)
    try:
        plan = error = None
        if d.is_main:
            try:
                plan = _plan(args, d.world)
            except StylescopeError as e:
                error = str(e)
        plan, error = distributed.broadcast_object(d, (plan, error))
        if error is not None:
            raise StylescopeError(error)
        if plan is None:
            return 0
        cfg_dict, run_dir, resume = plan
        result = training_loop(TrainConfig.from_dict(cfg_dict), run_dir, resume, d=d)
        if d.is_main:
            print(f'done: {result["cur_nimg"] / 1000:.3f} kimg; snapshots in {run_dir}')
        return 0
    finally:
        distributed.shutdown(d)
