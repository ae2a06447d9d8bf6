"""Photo -> w (then optionally w+): the official projector's optimisation, with offline losses.

Schedule (stylegan2-ada-pytorch projector.py, shared/reference/editing-methods.md 1.5):
- w_avg and w_std from 10,000 z of RandomState(123) through G.mapping; the search starts at w_avg;
- every noise map is optimised together with w, starting from the network's own const noise
  (a draw of randn, as the official projector's re-drawn maps are, and the noise a seed's picture
  was drawn with) or, with noise_init 'random', re-drawn at random (seeded) as the official code;
- Adam (0.9, 0.999); at t = step / steps the learning rate is
      lr0 * (1/2 - 1/2 cos(pi * min(1, (1 - t) / 0.25))) * min(1, t / 0.05)
  and Gaussian noise of std w_std * 0.05 * max(0, 1 - t / 0.75)^2 is added to w before rendering;
- loss = image distance + 1e5 * noise regularisation (squared autocorrelation of each noise map at
  one-pixel shifts in x and y, at every 2x2-average-pooled level down to 8x8);
- after each step every noise map is renormalised to zero mean and unit variance.
Stage 1 searches one w (W space, as the official projector); with space 'w+' a second stage then
frees every ws row, starting from stage 1's w with the noise maps carried on, with the same shape
of schedule at a smaller learning rate and no w noise (see ProjectionOptions).

The image distance is core.image_losses.PerceptualLoss (no download: D features, MS-SSIM,
Laplacian-pyramid L1, and VGG16 only from a local file).

G is only read: its noise_const buffers stay as they are (the optimised maps travel as
`noise_inputs`), gradients are taken with torch.autograd.grad (no .grad is ever set on G or D),
randomness comes from the projector's own torch.Generator. The explorer can therefore project in
a worker thread while it renders from the same G.

Use:
    projector = Projector(G, target_uint8, D=D)
    for snap in projector.steps(cancel=event):    # ProjectionStep: progress, image, ws
        ...
    result = projector.result()                   # the best step so far, also after cancel / Ctrl+C
"""
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.atomic import atomic_write
from core.bounded_read import parse_json
from core.errors import StylescopeError, is_cancelled
from core.image_losses import PerceptualLoss
from core.images import to_uint8
from core.noise import check_maps, noise_layers
from core.noise_spec import NoiseMaps
from core.npz_file import read_arrays

SPACES = ('w', 'w+')
NOISE_INITS = ('const', 'random')


@dataclass(frozen=True)
class ProjectionOptions:
    """The official projector's parameters, plus the optional W+ stage and the loss weights."""
    num_steps: int = 1000                 # stage 1 (W)
    space: str = 'w'                      # 'w' or 'w+' (adds stage 2)
    w_plus_steps: int = None              # stage 2 length; None: num_steps // 2
    seed: int = 303
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5
    w_plus_learning_rate: float = 0.05    # stage 2 starts near a solution: a smaller step
    w_plus_noise_factor: float = 0.0
    loss_weights: dict = field(default_factory=dict)  # {part: weight}; see core.image_losses
    force_fp32: bool = False              # on CUDA, fp16 high-resolution blocks as the official code
    noise_init: str = 'const'             # the noise maps start as G's noise_const; 'random': re-drawn

    def __post_init__(self):
        if self.space not in SPACES:
            raise StylescopeError(f"unknown projection space '{self.space}': use w or w+")
        if not (isinstance(self.num_steps, int) and self.num_steps >= 1):
            raise StylescopeError(f'--num-steps {self.num_steps} is not allowed: use 1 or more steps')
        if self.w_plus_steps is not None and self.w_plus_steps < 0:
            raise StylescopeError(f'--w-plus-steps {self.w_plus_steps} is negative: use 0 or more steps')
        if self.noise_init not in NOISE_INITS:
            raise StylescopeError(f"unknown noise init '{self.noise_init}': use {' or '.join(NOISE_INITS)}")
        if self.w_avg_samples < 1:
            raise StylescopeError(f'w_avg_samples {self.w_avg_samples} is not allowed: use 1 or more')

    @property
    def stage_steps(self):
        """[('w', n)] or [('w', n), ('w+', m)]."""
        stages = [('w', self.num_steps)]
        if self.space == 'w+':
            m = self.num_steps // 2 if self.w_plus_steps is None else self.w_plus_steps
            if m > 0:
                stages.append(('w+', m))
        return stages


@dataclass
class ProjectionStep:
    """One optimisation step, as reported to a progress bar or GUI."""
    stage: str                # 'w' or 'w+'
    step: int                 # 0-based over all stages
    total: int                # steps over all stages
    loss: float               # image distance at this step (the weighted sum, no noise regulariser)
    losses: dict              # {part: unweighted value}
    best_loss: float
    image: np.ndarray         # uint8 HWC: the image that was scored
    ws: np.ndarray            # float32 [1, num_ws, w_dim]: the ws that made it (w noise included)
    lr: float
    best_image: np.ndarray    # uint8 HWC: the best step's image so far (the start image until a step
                              # scores below inf: a NaN loss never does)


@dataclass
class ProjectionResult:
    """The best step: its ws, noise maps and image (that image is ws rendered with those maps)."""
    ws: np.ndarray            # float32 [1, num_ws, w_dim]
    noise: dict               # {'b16.conv0': float32 [16, 16], ...}
    image: np.ndarray         # uint8 HWC
    target: np.ndarray        # uint8 HWC
    loss: float               # inf when no step ran
    best_step: int            # -1 when no step ran (ws = w_avg)
    steps_done: int
    total_steps: int
    stopped: bool             # cancelled or interrupted before the last step
    space: str
    loss_info: dict
    seconds: float

    def meta(self, **extra):
        """JSON-ready summary: what ran and how it went."""
        return dict(software='Stylescope', space=self.space, loss=self.loss_info,
                    final_loss=None if math.isinf(self.loss) else round(self.loss, 6), best_step=self.best_step,
                    steps_done=self.steps_done, total_steps=self.total_steps, stopped_early=self.stopped,
                    seconds=round(self.seconds, 2), **extra)


@dataclass
class _Best:
    loss: float
    step: int
    ws: torch.Tensor
    noise: dict
    image: np.ndarray


# --- pieces of the schedule ------------------------------------------------------------------------

@torch.no_grad()
def w_stats(G, c=None, samples=10000, seed=123, batch=2000):
    """(w_avg [1, 1, w_dim], w_std scalar) of `samples` z of RandomState(seed) through G.mapping,
    as the official projector computes them. Conditional networks need c [1, c_dim]."""
    if G.c_dim > 0 and c is None:
        raise StylescopeError(f'the network is conditional ({G.c_dim} classes): give a class to project with')
    device = G.mapping.fc0.weight.device
    z = torch.from_numpy(np.random.RandomState(seed).randn(samples, G.z_dim)).to(device, torch.float32)
    ws = []
    for chunk in z.split(batch):
        cc = c.to(device).expand(len(chunk), -1) if c is not None else None
        ws.append(G.mapping(chunk, cc, skip_w_avg_update=True)[:, :1])
    w = torch.cat(ws).double()
    w_avg = w.mean(dim=0, keepdim=True)
    w_std = float(((w - w_avg).square().sum() / samples).sqrt())
    return w_avg.float(), w_std


def learning_rate(t, lr0, rampdown=0.25, rampup=0.05):
    """lr0 * cosine ramp-down over the last `rampdown` of the run * linear ramp-up over `rampup`."""
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return lr0 * ramp * min(1.0, t / rampup)


def w_noise_std(t, w_std, factor=0.05, ramp_length=0.75):
    return w_std * factor * max(0.0, 1.0 - t / ramp_length) ** 2


def noise_regularization(maps):
    """Sum over maps and pyramid levels (down to 8x8) of the squared mean products of each map
    with itself shifted one pixel in x and in y."""
    reg = 0.0
    for m in maps:
        n = m.reshape(1, 1, m.shape[-2], m.shape[-1])
        while True:
            reg = reg + (n * torch.roll(n, shifts=1, dims=3)).mean() ** 2
            reg = reg + (n * torch.roll(n, shifts=1, dims=2)).mean() ** 2
            if n.shape[2] <= 8:
                break
            n = F.avg_pool2d(n, kernel_size=2)
    return reg


@torch.no_grad()
def _normalize_(maps):
    for m in maps:
        m.sub_(m.mean())
        m.mul_(m.square().mean().rsqrt())


# --- the projector ---------------------------------------------------------------------------------

class Projector:
    """Optimise ws (and noise maps) so that G's image matches `target`.

    G: a Generator (only read); target: uint8 HWC [R, R, C] at G's resolution (core.align makes
    one from a photo); D: the network's Discriminator or None; vgg: core.image_losses.load_vgg(...)
    or None; c: [1, c_dim] label for conditional networks; stats: (w_avg, w_std) from `w_stats`,
    to reuse between projections of one network.
    """

    def __init__(self, G, target, D=None, vgg=None, options=None, c=None, stats=None):
        self.G = G
        self.options = options or ProjectionOptions()
        self.device = G.mapping.fc0.weight.device
        target = np.asarray(target)
        want = (G.img_resolution, G.img_resolution, G.img_channels)
        if target.dtype != np.uint8 or target.shape != want:
            raise StylescopeError(f'the projection target is {target.dtype} {list(target.shape)}: it must be uint8 '
                                  f'{list(want)} (use core.align.prepare_target)')
        self.target = target
        self.loss = PerceptualLoss(target, D=D, vgg=vgg, weights=self.options.loss_weights, device=self.device)
        self.c = c
        self.w_avg, self.w_std = stats if stats is not None else w_stats(G, c, self.options.w_avg_samples)
        self.w_avg = self.w_avg.to(self.device).reshape(1, 1, G.w_dim)
        self.total_steps = sum(n for _, n in self.options.stage_steps)
        self.steps_done = 0
        self.stopped = False
        self._started = False
        self._seconds = 0.0

        self._gen = torch.Generator(device='cpu')
        self._gen.manual_seed(self.options.seed)
        self.noise_names = noise_layers(G)
        self.noise = {name: self._initial_noise(name).requires_grad_(True) for name in self.noise_names}
        self.w = self.w_avg.clone()  # the live w (stage 1: [1, 1, w_dim]; stage 2: [1, num_ws, w_dim])
        with torch.no_grad():
            start_ws = self.w_avg.repeat(1, G.num_ws, 1)
            start_img = self._synthesize(start_ws, self.noise)
        self._best = _Best(math.inf, -1, start_ws, {k: v.detach().clone() for k, v in self.noise.items()},
                           to_uint8(start_img)[0])

    def _initial_noise(self, name):
        """Our own copy of one layer's starting noise map (G's buffers stay untouched)."""
        const = self.G.synthesis.get_submodule(name).noise_const
        if self.options.noise_init == 'random':
            return self._randn(const.shape)
        return const.detach().to(self.device, torch.float32).clone()

    def _randn(self, shape):
        return torch.randn(tuple(shape), generator=self._gen).to(self.device)

    def _synthesize(self, ws, noise):
        return self.G.synthesis(ws, noise_mode='const', noise_inputs=noise, force_fp32=self.options.force_fp32)

    def describe_loss(self):
        if not self.noise:  # a network without noise inputs (StyleGAN3): nothing to regularise
            return self.loss.describe()
        return self.loss.describe() + f' + {self.options.regularize_noise_weight:g} x noise regularisation'

    def steps(self, cancel=None):
        """Run the stages, yielding a ProjectionStep after every step. Stops early (without an
        error) when `cancel` (threading.Event or callable) is set; `result()` then has the best
        step so far. A projector runs once: a second call yields nothing."""
        if self._started:
            return
        self._started = True
        opts = self.options
        step = 0
        for stage, n_steps in opts.stage_steps:
            if stage == 'w+':
                lr0, noise_factor = opts.w_plus_learning_rate, opts.w_plus_noise_factor
                w = self.w.detach().repeat(1, self.G.num_ws, 1)  # every ws row free from here on
            else:
                lr0, noise_factor = opts.initial_learning_rate, opts.initial_noise_factor
                w = self.w.detach().clone()
            self.w = w.requires_grad_(True)
            maps = list(self.noise.values())
            params = [w] + maps
            optimizer = torch.optim.Adam(params, betas=(0.9, 0.999), lr=lr0)
            for i in range(n_steps):
                if is_cancelled(cancel):
                    self.stopped = True
                    return
                started = time.perf_counter()
                t = i / n_steps
                lr = learning_rate(t, lr0, opts.lr_rampdown_length, opts.lr_rampup_length)
                sigma = w_noise_std(t, self.w_std, noise_factor, opts.noise_ramp_length)
                ws = w + self._randn(w.shape) * sigma if sigma > 0 else w
                if ws.shape[1] == 1:
                    ws = ws.repeat(1, self.G.num_ws, 1)
                img = self._synthesize(ws, self.noise)
                dist, parts = self.loss(img)
                total = dist + opts.regularize_noise_weight * noise_regularization(maps) if maps else dist
                grads = torch.autograd.grad(total, params, allow_unused=True)

                loss = float(dist.detach())
                image = to_uint8(img)[0]
                if loss < self._best.loss:  # one assignment: a Ctrl+C never sees half a record
                    self._best = _Best(loss, step, ws.detach().clone(),
                                       {k: v.detach().clone() for k, v in self.noise.items()}, image)
                for p, g in zip(params, grads):
                    p.grad = g if g is not None else torch.zeros_like(p)
                for group in optimizer.param_groups:
                    group['lr'] = lr
                optimizer.step()
                _normalize_(maps)
                self._seconds += time.perf_counter() - started
                self.steps_done = step + 1
                yield ProjectionStep(stage, step, self.total_steps, loss, {k: float(v.detach()) for k, v in parts.items()},
                                     self._best.loss, image, ws.detach().cpu().numpy().astype(np.float32), lr,
                                     self._best.image)
                step += 1

    def run(self, progress=None, cancel=None):
        """All steps; progress(ProjectionStep) after each; returns result()."""
        for snap in self.steps(cancel):
            if progress is not None:
                progress(snap)
        return self.result()

    def result(self):
        best = self._best
        return ProjectionResult(
            ws=best.ws.detach().cpu().numpy().astype(np.float32),
            noise={k: v.cpu().numpy().astype(np.float32) for k, v in best.noise.items()},
            image=best.image, target=self.target, loss=best.loss, best_step=best.step,
            steps_done=self.steps_done, total_steps=self.total_steps,
            stopped=self.steps_done < self.total_steps, space=self.options.space, loss_info=self.loss.info(),
            seconds=self._seconds)


def project(G, target, D=None, vgg=None, options=None, c=None, progress=None, cancel=None):
    """One call: Projector(...).run(progress, cancel)."""
    return Projector(G, target, D=D, vgg=vgg, options=options, c=c).run(progress, cancel)


# --- files -----------------------------------------------------------------------------------------

def save_projected_w(path, ws, meta=None):
    """The official projected_w.npz: key 'w' float32 [1, num_ws, w_dim], plus 'meta' (a JSON
    string, ignored by the official generate.py). Written atomically."""
    ws = np.asarray(ws, dtype=np.float32)
    assert ws.ndim == 3 and ws.shape[0] == 1, f'projected w must be [1, num_ws, w_dim], got {ws.shape}'
    arrays = dict(w=ws)
    if meta is not None:
        arrays['meta'] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def save_noise_maps(path, noise):
    """Optimised noise maps {'b16.conv0': [16, 16]} as an .npz, atomically."""
    atomic_write(path, lambda f: np.savez(f, **{k: np.asarray(v, dtype=np.float32) for k, v in noise.items()}))


def load_noise_maps(path, G=None):
    """A noise-map file as save_noise_maps writes it (`project`'s projected_noise.npz) -> NoiseMaps;
    with G, checked to fit that network (every map names one of its noise layers, at its size)."""
    path = os.fspath(path)
    arrays = read_arrays(path, 'noise map file')
    if '' in arrays:  # an .npy
        raise StylescopeError(f"noise map file '{path}' is not a readable .npz of noise maps (it holds a single "
                              "array, not one map per layer): use the projected_noise.npz that `project` wrote")
    try:
        maps = NoiseMaps(arrays)
        if G is not None:
            check_maps(maps, G)
    except StylescopeError as e:
        raise StylescopeError(f"noise map file '{path}' does not fit: {e}") from None
    return maps


def companion_noise_file(w_path):
    """The noise-map file `project` wrote beside a projected_w.npz (its meta's 'noise_file', in the
    same folder), or None: no meta (official projector, or any other w file) or no such file."""
    w_path = os.fspath(w_path)
    try:
        meta = read_arrays(w_path, 'w file').get('meta')
        meta = {} if meta is None else parse_json(str(meta), w_path, 'the meta of w file')
    except StylescopeError:  # not a NumPy file, or a meta that is no (sane) JSON
        return None
    name = meta.get('noise_file') if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        return None
    path = os.path.join(os.path.dirname(w_path), os.path.basename(name))
    return path if os.path.isfile(path) else None


def options_dict(options):
    return {k: v for k, v in asdict(options).items()}
