"""Pivotal Tuning Inversion (Roich et al., 2021): a photo -> a pivot w and a copy of G tuned to it.

1. The pivot: the photo's W projection (core.projection.Projector, space 'w', its schedule).
2. Pivotal tuning: a deep copy of G whose synthesis weights (every synthesis parameter; the
   mapping network stays as it is, so seeds and directions mean what they meant) are optimised
   so that tuned.synthesis(pivot) draws the photo. Facts of the paper's code (PTI
   configs/hyperparameters.py): Adam (0.9, 0.999) at a constant lr 3e-4, at most 350 steps, loss
   = 1 x L2 (pixel MSE) + 1 x LPIPS, the picture drawn with the network's own const noise.
   Stylescope has no LPIPS (a download), so the perceptual part is the projection's offline
   loss, core.image_losses.PerceptualLoss, with the projection's weights. The paper stops early
   when LPIPS falls under 0.07; with another loss that threshold means nothing, so every step runs.
3. Locality regularisation (the paper's code, criteria/localitly_regulizer.py): at every
   `locality_interval`-th step (1 in the paper's code: every step), `locality_samples` z (1) are
   drawn, w_z = mapping(z, psi 0.5), and w_r = w_p + alpha * (w_z - w_p) / ||w_z - w_p|| (alpha 30,
   the norm over the whole [num_ws, w_dim] code); the loss gains
       locality_weight * (L2 + perceptual)(tuned(w_r), source(w_r))
   with weight 0.1 for each part, so the tuned network keeps drawing what the source drew near the
   pivot. alpha is in W units: 30 suits networks whose w samples lie about 30-50 apart (FFHQ, the
   bundled model: a sample is about 38 from a psi-0.5 w); a tiny test network wants less.

The source G is only read (the explorer renders from it meanwhile); the tuned copy's gradients are
taken with torch.autograd.grad; randomness comes from the tuner's own torch.Generator. Stop (the
`cancel` event, Ctrl+C) keeps the best step: the tuned weights of the step whose image scored
best, copied whenever a step improves on it.

StyleGAN3 generators (core.networks_stylegan3) work as StyleGAN2 ones: they have no noise inputs,
so the pivot has no noise maps and 'const' noise means none.

Use:
    pti = PTIProjector(G, target, D=D)               # the W pivot, then the tuning
    for snap in pti.steps(cancel=event):              # core.projection.ProjectionStep, stage 'w' / 'pti'
        ...
    result = pti.result()                             # PTIResult: .G the tuned network (None before tuning)
    save_tuned('tuned.safetensors', result, G, source_path)
"""
import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from core.errors import StylescopeError, is_cancelled
from core.image_losses import PerceptualLoss, image_to_tensor
from core.images import to_uint8
from core.noise import noise_layers
from core.projection import ProjectionOptions, ProjectionResult, ProjectionStep, Projector

LARGE_BYTES = 100 * 2 ** 20  # a tuned file above this earns a size note (a 1024 generator: ~120 MB)


@dataclass(frozen=True)
class PTIOptions:
    """The pivotal tuning's parameters (the paper's defaults; see the module docstring)."""
    num_steps: int = 350
    learning_rate: float = 3e-4
    l2_weight: float = 1.0              # pixel MSE beside the perceptual loss (the paper's lambda_L2)
    locality_weight: float = 0.1        # the paper's lambda for each of the regulariser's L2 and perceptual
    locality_alpha: float = 30.0        # W distance of w_r from the pivot
    locality_interval: int = 1          # every n-th step (the paper's code: 1)
    locality_samples: int = 1
    locality_psi: float = 0.5           # truncation of the random w_z
    seed: int = 303
    loss_weights: dict = field(default_factory=dict)  # PerceptualLoss weights; {} = the projection's defaults

    def __post_init__(self):
        if not (isinstance(self.num_steps, int) and self.num_steps >= 0):
            raise StylescopeError(f'--pti-steps {self.num_steps} is not allowed: use 0 or more steps')
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise StylescopeError(f'--pti-lr {self.learning_rate} is not allowed: use a learning rate above 0')
        for name in ('l2_weight', 'locality_weight', 'locality_alpha'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise StylescopeError(f'PTI {name} {value} is not allowed: use a finite value of 0 or more')
        if self.locality_interval < 1 or self.locality_samples < 1:
            raise StylescopeError('the PTI locality interval and sample count must be 1 or more')


@dataclass
class PTIResult(ProjectionResult):
    """A ProjectionResult (ws: the pivot; image: the tuned network's best image of it; noise: the
    maps that image was drawn with, the network's own const noise) plus the tuned network."""
    G: object = None                    # the tuned Generator at its best step; None: no tuning step ran
    pivot: ProjectionResult = None      # the W projection the tuning started from
    tuning_steps: int = 0               # tuning steps run
    tuning_best_step: int = -1          # of those, the best one (0-based)
    pti_options: PTIOptions = None


def const_noise(G):
    """{layer: float32 array} of G's own noise_const buffers ({} for StyleGAN3): the maps a
    'const' render of G draws with."""
    return {name: G.synthesis.get_submodule(name).noise_const.detach().cpu().numpy().astype(np.float32)
            for name in noise_layers(G)}


# --- the tuning ------------------------------------------------------------------------------------

class PivotalTuner:
    """Tune a deep copy of G's synthesis so that it draws `target` from `pivot_ws`.

    G: a Generator (only read); target: uint8 HWC at G's resolution; pivot_ws: [1, num_ws, w_dim]
    (array or tensor); D / vgg / c: as core.projection.Projector; loss: a PerceptualLoss of this
    target to reuse (the pivot's), else one is made; step_offset / total: how the yielded steps
    count when the tuning follows other stages (PTIProjector)."""

    def __init__(self, G, target, pivot_ws, D=None, vgg=None, options=None, c=None, loss=None, step_offset=0,
                 total=None):
        self.source = G
        self.options = options or PTIOptions()
        self.device = G.mapping.fc0.weight.device
        self.c = c
        self.D, self.vgg = D, vgg
        self.target = np.asarray(target)
        self.loss = loss or PerceptualLoss(self.target, D=D, vgg=vgg, weights=self.options.loss_weights,
                                           device=self.device)
        self._target = image_to_tensor(self.target, self.device)
        self.pivot = torch.as_tensor(np.asarray(pivot_ws, dtype=np.float32)).to(self.device)
        want = (1, G.num_ws, G.w_dim)
        if tuple(self.pivot.shape) != want:
            raise StylescopeError(f'the PTI pivot is {list(self.pivot.shape)}: it must be {list(want)}')
        self.G = copy.deepcopy(G).eval().requires_grad_(False)
        self.params = dict(self.G.synthesis.named_parameters())
        for p in self.params.values():
            p.requires_grad_(True)
        self.step_offset = step_offset
        self.total_steps = step_offset + self.options.num_steps if total is None else total
        self.steps_done = 0
        self.stopped = False
        self._started = False
        self._seconds = 0.0
        self._gen = torch.Generator(device='cpu')
        self._gen.manual_seed(self.options.seed)
        with torch.no_grad():
            start = to_uint8(self._render(self.G, self.pivot))[0]
        self._best = (math.inf, -1, None, start)  # (loss, step, {name: weights} or None = as G, image)

    def _render(self, G, ws):
        return G.synthesis(ws, noise_mode='const', force_fp32=True)

    def describe_loss(self):
        o = self.options
        text = self.loss.describe()
        if o.l2_weight:
            text += f' + {o.l2_weight:g} x pixel L2'
        if o.locality_weight:
            text += f' + {o.locality_weight:g} x locality (L2 + the same loss near the pivot, alpha {o.locality_alpha:g})'
        return text

    def _fit(self, img):
        """(loss to the target, {part: value}): the perceptual loss plus the pixel L2."""
        dist, parts = self.loss(img)
        if self.options.l2_weight:
            parts['l2'] = (img - self._target).square().mean()
            dist = dist + self.options.l2_weight * parts['l2']
        return dist, parts

    def locality_ws(self):
        """w_r [S, num_ws, w_dim]: the pivot moved alpha toward S random w (mapping of seeded z at
        locality_psi)."""
        o = self.options
        z = torch.randn([o.locality_samples, self.source.z_dim], generator=self._gen).to(self.device)
        c = None if self.c is None else self.c.to(self.device).expand(len(z), -1)
        with torch.no_grad():
            w_z = self.source.mapping(z, c, truncation_psi=o.locality_psi)
        d = w_z - self.pivot
        norm = d.flatten(1).norm(dim=1).clamp(min=1e-8).view(-1, 1, 1)
        return self.pivot + o.locality_alpha * d / norm

    def _locality(self):
        """Mean over the samples of L2 + perceptual distance between the tuned and the source
        network's images of w_r."""
        w_r = self.locality_ws()
        terms = []
        for i in range(len(w_r)):
            ws = w_r[i:i + 1]
            with torch.no_grad():
                ref = self._render(self.source, ws)
            new = self._render(self.G, ws)
            perceptual = PerceptualLoss(to_uint8(ref)[0], D=self.D, vgg=self.vgg, weights=self.options.loss_weights,
                                        device=self.device)
            terms.append((new - ref).square().mean() + perceptual(new)[0])
        return torch.stack(terms).mean()

    def steps(self, cancel=None):
        """Yield a core.projection.ProjectionStep (stage 'pti') after every tuning step; stops early
        when `cancel` is set (result() then has the best step so far). Runs once."""
        if self._started:
            return
        self._started = True
        o = self.options
        params = list(self.params.values())
        optimizer = torch.optim.Adam(params, betas=(0.9, 0.999), lr=o.learning_rate)
        for i in range(o.num_steps):
            if is_cancelled(cancel):
                self.stopped = True
                return
            started = time.perf_counter()
            img = self._render(self.G, self.pivot)
            dist, parts = self._fit(img)
            total = dist
            if o.locality_weight and i % o.locality_interval == 0:
                parts['locality'] = self._locality()
                total = total + o.locality_weight * parts['locality']
            grads = torch.autograd.grad(total, params, allow_unused=True)
            loss = float(dist.detach())
            image = to_uint8(img)[0]
            if loss < self._best[0]:  # the weights that drew this image: copied before the update
                self._best = (loss, i, {k: v.detach().clone() for k, v in self.params.items()}, image)
            for p, g in zip(params, grads):
                p.grad = g if g is not None else torch.zeros_like(p)
            optimizer.step()
            for p in params:
                p.grad = None
            self._seconds += time.perf_counter() - started
            self.steps_done = i + 1
            yield ProjectionStep('pti', self.step_offset + i, self.total_steps, loss,
                                 {k: float(v.detach()) for k, v in parts.items()}, self._best[0], image,
                                 self.pivot.detach().cpu().numpy(), o.learning_rate, self._best[3])

    @property
    def best_image(self):
        """uint8 HWC: the picture of the best step so far (the pivot's before any step)."""
        return self._best[3]

    @property
    def seconds(self):
        """Seconds spent in tuning steps so far."""
        return self._seconds

    def tuned_network(self):
        """The tuned copy with the best step's weights (None when no step ran), frozen: call when
        the steps are over."""
        loss, step, weights, _ = self._best
        if weights is None:
            return None
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(weights[name])
        return self.G.requires_grad_(False).eval()


# --- pivot, then tuning ----------------------------------------------------------------------------

class PTIProjector:
    """The W projection (the pivot), then PivotalTuner: one stream of steps, one result.

    Takes Projector's arguments; options: ProjectionOptions (its space is taken as 'w': the pivot
    is a W projection, as in the paper); pti: PTIOptions."""

    def __init__(self, G, target, D=None, vgg=None, options=None, pti=None, c=None, stats=None):
        options = options or ProjectionOptions()
        if options.space != 'w':
            options = ProjectionOptions(**{**asdict(options), 'space': 'w'})
        self.G, self.D, self.vgg, self.c = G, D, vgg, c
        self.pti = pti or PTIOptions(loss_weights=options.loss_weights, seed=options.seed)
        self.projector = Projector(G, target, D=D, vgg=vgg, options=options, c=c, stats=stats)
        self.target = self.projector.target
        self.total_steps = self.projector.total_steps + self.pti.num_steps
        self.tuner = None
        self._started = False

    @property
    def stopped(self):
        return self.projector.stopped or (self.tuner is not None and self.tuner.stopped)

    @property
    def steps_done(self):
        return self.projector.steps_done + (self.tuner.steps_done if self.tuner is not None else 0)

    def describe_loss(self):
        tuner = self.tuner
        pivot = self.projector.describe_loss()
        if tuner is None:
            o = self.pti
            tuning = self.projector.loss.describe() + (f' + {o.l2_weight:g} x pixel L2' if o.l2_weight else '') + (
                f' + {o.locality_weight:g} x locality' if o.locality_weight else '')
        else:
            tuning = tuner.describe_loss()
        return f'pivot (W): {pivot}; tuning: {tuning}'

    def steps(self, cancel=None):
        """The pivot's steps (stage 'w'), then the tuning's (stage 'pti'); Stop in the pivot
        stage ends without tuning."""
        if self._started:
            return
        self._started = True
        yield from self.projector.steps(cancel)
        if self.projector.stopped or is_cancelled(cancel) or self.pti.num_steps == 0:
            return
        pivot = self.projector.result()
        self.tuner = PivotalTuner(self.G, self.target, pivot.ws, D=self.D, vgg=self.vgg, options=self.pti, c=self.c,
                                  loss=self.projector.loss, step_offset=self.projector.total_steps,
                                  total=self.total_steps)
        yield from self.tuner.steps(cancel)

    def run(self, progress=None, cancel=None):
        for snap in self.steps(cancel):
            if progress is not None:
                progress(snap)
        return self.result()

    def result(self):
        """PTIResult. Without a tuning step (stopped during the pivot, or 0 tuning steps) it is the
        W projection's result with G None."""
        pivot = self.projector.result()
        common = dict(target=self.target, steps_done=self.steps_done, total_steps=self.total_steps,
                      stopped=self.steps_done < self.total_steps, space='pti', pivot=pivot, pti_options=self.pti)
        tuner = self.tuner
        tuned = tuner.tuned_network() if tuner is not None else None
        if tuned is None:
            return PTIResult(ws=pivot.ws, noise=pivot.noise, image=pivot.image, loss=pivot.loss,
                             best_step=pivot.best_step, loss_info=pivot.loss_info, seconds=pivot.seconds, **common)
        loss, step, _, image = tuner._best
        info = dict(pivot.loss_info, tuning=tuner.describe_loss())
        return PTIResult(ws=pivot.ws, noise=const_noise(tuned), image=image, loss=loss,
                         best_step=self.projector.total_steps + step, loss_info=info,
                         seconds=pivot.seconds + tuner._seconds, G=tuned, tuning_steps=tuner.steps_done,
                         tuning_best_step=step, **common)


# --- the tuned network's file ----------------------------------------------------------------------

def tuned_meta(result, source_G, source_path=None):
    """The metadata a tuned network file records under 'pti': the pivot ws, the source's
    fingerprint and path, the steps and options."""
    from core.model_io import fingerprint
    return dict(pivot=np.asarray(result.ws, dtype=np.float32)[0].tolist(), source_fingerprint=fingerprint(source_G),
                source=None if source_path is None else str(source_path), steps=result.tuning_steps,
                best_step=result.tuning_best_step, pivot_steps=result.pivot.steps_done,
                options=asdict(result.pti_options) if result.pti_options is not None else None)


def save_tuned(path, result, source_G, source_path=None):
    """Write result.G as a Stylescope .safetensors network (atomically; G_ema only) with
    tuned_meta under 'pti'. Returns the file's size in bytes."""
    import os

    from core.model_io import save_network
    if result.G is None:
        raise StylescopeError('no tuning step ran, so there is no tuned network to save')
    save_network(path, result.G, extra_meta=dict(pti=tuned_meta(result, source_G, source_path)))
    return os.path.getsize(path)


def tuned_bytes(G):
    """About how large a tuned file of G is: its G_ema tensors as float32."""
    return sum(t.numel() * 4 for t in G.state_dict().values())


def size_note(G, what='tuned.safetensors'):
    """A sentence when a tuned network file of G is large (above LARGE_BYTES), else None."""
    size = tuned_bytes(G)
    if size <= LARGE_BYTES:
        return None
    return (f'{what} is about {size / 2 ** 20:,.0f} MiB: pivotal tuning keeps a whole generator for each photo; '
            'remove the tuned files you no longer need')


def pti_source(meta):
    """(source fingerprint, source path or None) a network's metadata names when it is a tuned
    network, else (None, None)."""
    pti = (meta or {}).get('pti')
    if not isinstance(pti, dict) or not isinstance(pti.get('source_fingerprint'), str):
        return None, None
    source = pti.get('source')
    return pti['source_fingerprint'], source if isinstance(source, str) else None
