"""Training configuration: one dataclass holding every knob, and the official `--cfg` presets.

`make_config(preset, resolution, gpus, **overrides)` fills a TrainConfig the way the official
train.py does for `--cfg auto|stylegan2|paper256|paper512|paper1024|cifar` (values in
shared/reference/official-stylegan2-ada.md, section 1c), plus `small`, a narrow network for
quick CPU runs. Any preset value can be overridden (None = keep the preset's).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.errors import StylescopeError

AUG_MODES = ('ada', 'noaug', 'fixed')

# What G and D compute in; weights, gradients, optimiser state and snapshots are float32 in all.
#   auto: the official mixed precision: float16 in the num_fp16_res highest resolutions on CUDA,
#         float32 on CPU (what every run did before this field existed, so older runs resume as
#         they were);
#   fp32: float32 throughout, on every device;
#   bf16: bfloat16 forward and backward, R1 and path length included, in G's blocks from 32x32 up
#         (core.networks.BF16_MIN_RESOLUTION) and all of D's but its 4x4 epilogue, on CPU or CUDA.
#         Measured on the bundled model against fp32 on one batch: R1 penalty within 0.5% (batch
#         mean), path lengths 0.3%, their gradients 3-4% apart (cosine 0.9996+), as close as the
#         main losses' gradients are (about 5%).
# A run may change precision when continued: the next steps then compute in the new one (a
# continued run equals an uninterrupted one only at the same precision).
TRAIN_PRECISIONS = ('auto', 'fp32', 'bf16')

# name -> ref_gpus, kimg, mb, mbstd, fmaps, lrate, gamma, ema (kimg), ramp, map
# None in mb / mbstd / fmaps / lrate / gamma / ema means "the auto formula".
PRESETS = {
    'auto':      dict(ref_gpus=None, kimg=25000, mb=None, mbstd=None, fmaps=None, lrate=None, gamma=None,
                      ema=None, ramp=0.05, map=2),
    'stylegan2': dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=10, ema=10,
                      ramp=None, map=8),
    'paper256':  dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema=20,
                      ramp=None, map=8),
    'paper512':  dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=1, lrate=0.0025, gamma=0.5, ema=20,
                      ramp=None, map=8),
    'paper1024': dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=2, ema=10,
                      ramp=None, map=8),
    'cifar':     dict(ref_gpus=2, kimg=100000, mb=64, mbstd=32, fmaps=1, lrate=0.0025, gamma=0.01, ema=500,
                      ramp=0.05, map=2),
    # Stylescope's own: a narrow network (channels <= 128, z/w 128) for CPU runs of a few hundred kimg.
    'small':     dict(ref_gpus=1, kimg=200, mb=16, mbstd=4, fmaps=0.125, lrate=0.0025, gamma=None, ema=None,
                      ramp=0.05, map=2, cmax=128, zdim=128, tick=1),
}


@dataclass
class TrainConfig:
    """Everything a training run needs; saved as training_options.json in the run folder."""
    # data
    data: str = ''                    # dataset folder or zip
    cond: bool = False                # condition on dataset.json labels
    mirror: bool = False              # add x-flipped copies of every image
    subset: int | None = None         # train on a seeded random subset of this many images
    # run length and bookkeeping
    cfg: str = 'auto'
    kimg: float = 25000               # total training length in thousands of real images shown to D
    tick: float = 4                   # kimg per progress tick
    snap: int = 50                    # ticks between snapshots, sample grids and metrics
    seed: int = 0
    metrics: list = field(default_factory=list)
    inception: str | None = None      # official Inception .pt for fid/kid metrics
    # batch
    batch: int = 32                   # total batch over all processes
    batch_gpu: int = 32               # images per process per forward pass (gradient accumulation below batch)
    # networks
    z_dim: int = 512
    w_dim: int = 512
    map: int = 2                      # mapping network depth
    cbase: int = 16384                # channel_base: channels at resolution r = min(cbase / r, cmax)
    cmax: int = 512
    mbstd: int = 4                    # minibatch-stddev group size
    num_fp16_res: int = 4             # highest resolutions in fp16 (CUDA only)
    conv_clamp: int | None = 256
    D_architecture: str = 'resnet'
    # optimisation
    lrate: float = 0.0025
    gamma: float = 10.0               # R1 weight
    ema: float = 10.0                 # G_ema half-life in kimg
    ramp: float | None = 0.05         # G_ema ramp-up (fraction of images shown), None = off
    G_reg_interval: int = 4
    D_reg_interval: int = 16
    pl_weight: float = 2.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing: float = 0.9
    # augmentation
    aug: str = 'ada'                  # ada | noaug | fixed
    p: float = 0.2                    # augment probability for --aug fixed
    target: float = 0.6               # ADA target for E[sign(D(real))]
    augpipe: str = 'bgc'
    ada_interval: int = 4
    ada_kimg: float = 500
    # runtime (may change on resume)
    device: str = 'auto'
    workers: int | None = None        # data-loading processes (None: 3 on CUDA, 0 on CPU)
    precision: str = 'auto'           # auto | fp32 | bf16, see TRAIN_PRECISIONS

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def G_kwargs(self, c_dim, resolution, channels):
        return dict(z_dim=self.z_dim, c_dim=c_dim, w_dim=self.w_dim, img_resolution=resolution,
                    img_channels=channels, mapping_kwargs=dict(num_layers=self.map),
                    synthesis_kwargs=dict(channel_base=self.cbase, channel_max=self.cmax,
                                          num_fp16_res=self.num_fp16_res, conv_clamp=self.conv_clamp))

    def D_kwargs(self, c_dim, resolution, channels):
        return dict(c_dim=c_dim, img_resolution=resolution, img_channels=channels, architecture=self.D_architecture,
                    channel_base=self.cbase, channel_max=self.cmax, num_fp16_res=self.num_fp16_res,
                    conv_clamp=self.conv_clamp, epilogue_kwargs=dict(mbstd_group_size=self.mbstd))


OVERRIDABLE = ('batch', 'batch_gpu', 'gamma', 'kimg', 'lrate', 'map', 'ema', 'mirror', 'aug', 'p', 'target', 'snap',
               'seed', 'tick', 'augpipe', 'cbase', 'cmax', 'z_dim', 'mbstd', 'cond', 'subset', 'metrics',
               'inception', 'device', 'workers', 'data', 'fp32', 'precision')


def make_config(preset, resolution, gpus=1, **overrides) -> TrainConfig:
    """The official preset for this resolution and process count, then the overrides that are not None."""
    if preset not in PRESETS:
        raise StylescopeError(f"unknown --cfg '{preset}': use one of {', '.join(PRESETS)}")
    unknown = set(overrides) - set(OVERRIDABLE)
    assert not unknown, f'make_config: unknown overrides {sorted(unknown)}'
    overrides = {k: v for k, v in overrides.items() if v is not None}
    spec = dict(PRESETS[preset])
    res = int(resolution)

    # The preset, with the official auto formulas.
    if spec['ref_gpus'] is None:
        spec['ref_gpus'] = gpus
    mb = overrides.get('batch', spec['mb'])
    if mb is None:
        mb = max(min(gpus * min(4096 // res, 32), 64), gpus)
    if spec['mbstd'] is None:
        spec['mbstd'] = min(mb // gpus, 4)
    if spec['fmaps'] is None:
        spec['fmaps'] = 1 if res >= 512 else 0.5
    if spec['lrate'] is None:
        spec['lrate'] = 0.002 if res >= 1024 else 0.0025
    if spec['gamma'] is None:
        spec['gamma'] = 0.0002 * res ** 2 / mb
    if spec['ema'] is None:
        spec['ema'] = mb * 10 / 32
    batch_gpu = overrides.get('batch_gpu', max(1, min(mb // spec['ref_gpus'], mb // gpus)))

    cfg = TrainConfig(cfg=preset, kimg=spec['kimg'], batch=mb, batch_gpu=batch_gpu, mbstd=spec['mbstd'],
                      cbase=int(spec['fmaps'] * 32768), cmax=spec.get('cmax', 512), lrate=spec['lrate'],
                      gamma=spec['gamma'], ema=spec['ema'], ramp=spec['ramp'], map=spec['map'],
                      tick=spec.get('tick', 4))
    cfg.z_dim = cfg.w_dim = spec.get('zdim', 512)
    if preset == 'cifar':
        cfg.pl_weight, cfg.style_mixing, cfg.D_architecture = 0.0, 0.0, 'orig'

    # User overrides.
    fp32 = overrides.pop('fp32', False)
    if 'z_dim' in overrides:
        overrides['w_dim'] = overrides['z_dim']
    if 'batch' in overrides and 'mbstd' not in overrides and preset == 'auto':
        overrides['mbstd'] = min(mb // gpus, 4)
    for key, value in overrides.items():
        setattr(cfg, key, value)
    if fp32:
        cfg.num_fp16_res, cfg.conv_clamp = 0, None
    validate(cfg, gpus)
    return cfg


def validate(cfg: TrainConfig, gpus=1):
    """Refuse values the loop cannot run with, one sentence each."""
    def bad(msg):
        raise StylescopeError(msg)
    if cfg.aug not in AUG_MODES:
        bad(f"--aug '{cfg.aug}' is unknown: use one of {', '.join(AUG_MODES)}")
    if cfg.precision not in TRAIN_PRECISIONS:
        bad(f"--precision '{cfg.precision}' is unknown: use one of {', '.join(TRAIN_PRECISIONS)}")
    if cfg.batch < 1 or cfg.batch_gpu < 1:
        bad(f'--batch {cfg.batch} / --batch-gpu {cfg.batch_gpu} must be 1 or more')
    if cfg.batch % (cfg.batch_gpu * gpus) != 0:
        bad(f'--batch {cfg.batch} is not a multiple of --batch-gpu {cfg.batch_gpu} x {gpus} processes: '
            f'pick a batch that the processes can split evenly')
    group = min(cfg.mbstd, cfg.batch_gpu)
    if cfg.mbstd > 0 and cfg.batch_gpu % group != 0:
        bad(f'--batch-gpu {cfg.batch_gpu} is not a multiple of the minibatch-stddev group {cfg.mbstd}: '
            f'use --mbstd-group that divides it')
    if cfg.pl_weight > 0 and cfg.batch_gpu // cfg.pl_batch_shrink < 1:
        bad(f'--batch-gpu {cfg.batch_gpu} is too small for path-length regularisation: use 2 or more')
    if cfg.kimg <= 0 or cfg.tick <= 0 or cfg.snap < 1:
        bad('--kimg and --tick must be positive and --snap at least 1')
    if cfg.lrate <= 0 or cfg.gamma < 0 or cfg.ema < 0:
        bad('--lrate must be positive, --gamma and --ema not negative')
    if cfg.aug == 'fixed' and cfg.p < 0:
        bad(f'--p {cfg.p} is negative: use a probability from 0 to 1')
    if cfg.map < 1 or cfg.z_dim < 1 or cfg.cbase < 1 or cfg.cmax < 1:
        bad('--map, --zdim, --cbase and --cmax must be positive')
