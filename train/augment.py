"""ADA: the augmentations D sees every image through, and the controller that tunes their strength.

AugmentPipe follows the paper's pipeline (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", appendix B) in three stages, each transform applied to a sample
with probability `p * multiplier` and its parameter drawn from the paper's distribution:

  pixel blitting   xflip (flip or not, 50/50), rotate90 (k * 90 deg, k uniform in 0..3),
                   xint (integer translation, uniform in +-xint_max of the image size)
  geometric        scale (isotropic, 2^N(0, scale_std)), rotate (uniform angle; applied twice
                   with probability 1 - sqrt(1 - p) each), aniso (2^N(0, aniso_std) on x, its
                   inverse on y), xfrac (translation N(0, xfrac_std) of the image size)
  colour           brightness (+N(0, brightness_std)), contrast (x 2^N(0, contrast_std)), lumaflip
                   (mirror along the luma axis, 50/50), hue (rotation about the luma axis, uniform
                   angle), saturation (chroma x 2^N(0, saturation_std))

Blits are exact pixel moves (reflection at the borders). The geometric stage composes one
sampling matrix per image and resamples once: 2x bilinear upsampling, grid_sample with
reflection padding, then a [1,3,3,1] low-pass and 2x downsampling (our own anti-aliasing, milder
than the official wavelet filters). Colour transforms compose one 4x4 matrix applied to RGB in
[-1, 1]. Images a transform leaves alone come out bit-identical; with p = 0 nothing is computed.
All of it is differentiable twice, as R1 needs.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import StylescopeError

_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
AUGPIPE_SPECS = {
    'blit': _BLIT, 'geom': _GEOM, 'color': _COLOR,
    'bg': {**_BLIT, **_GEOM}, 'bgc': {**_BLIT, **_GEOM, **_COLOR},
}


def make_augment_pipe(spec='bgc', p=0.0):
    if spec not in AUGPIPE_SPECS:
        raise StylescopeError(f"--augpipe '{spec}' is unknown: use one of {', '.join(AUGPIPE_SPECS)}")
    pipe = AugmentPipe(**AUGPIPE_SPECS[spec])
    pipe.p.fill_(p)
    return pipe


def _lowpass_down2(x):
    """[1,3,3,1] separable low-pass, then keep every 2nd pixel (edges replicated): 2H -> H."""
    C = x.shape[1]
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=x.device, dtype=x.dtype) / 8
    x = F.pad(x, [1, 1, 1, 1], mode='replicate')
    x = F.conv2d(x, taps.view(1, 1, 1, 4).repeat(C, 1, 1, 1), stride=(1, 2), groups=C)
    return F.conv2d(x, taps.view(1, 1, 4, 1).repeat(C, 1, 1, 1), stride=(2, 1), groups=C)


def _reflect_index(idx, n):
    """Mirror integer indices into [0, n) without repeating the edge pixel (numpy 'reflect')."""
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = idx.remainder(period)
    return torch.where(idx >= n, period - idx, idx)


def _mat3(entries, N, device):
    """[N, 3, 3] from a nested list of scalars or [N] tensors."""
    rows = [torch.stack([torch.as_tensor(v, dtype=torch.float32, device=device).expand(N) for v in row], dim=-1)
            for row in entries]
    return torch.stack(rows, dim=-2)


def _mat4(entries, N, device):
    return _mat3(entries, N, device)  # same construction, four rows of four


class AugmentPipe(torch.nn.Module):
    """images [N, C, H, W] in [-1, 1] -> augmented images; `p` (a buffer, saved with the run)
    scales every transform's probability. Argument names are the paper's; multipliers of 0
    switch a transform off."""

    def __init__(self, xflip=0, rotate90=0, xint=0, xint_max=0.125, scale=0, rotate=0, aniso=0, xfrac=0,
                 scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125, brightness=0, contrast=0,
                 lumaflip=0, hue=0, saturation=0, brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1):
        super().__init__()
        self.register_buffer('p', torch.zeros([]))
        self.xflip, self.rotate90, self.xint, self.xint_max = float(xflip), float(rotate90), float(xint), xint_max
        self.scale, self.rotate, self.aniso, self.xfrac = float(scale), float(rotate), float(aniso), float(xfrac)
        self.scale_std, self.rotate_max, self.aniso_std, self.xfrac_std = scale_std, rotate_max, aniso_std, xfrac_std
        self.brightness, self.contrast, self.lumaflip = float(brightness), float(contrast), float(lumaflip)
        self.hue, self.saturation = float(hue), float(saturation)
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std

    def extra_repr(self):
        on = [name for name in ('xflip', 'rotate90', 'xint', 'scale', 'rotate', 'aniso', 'xfrac', 'brightness',
                                'contrast', 'lumaflip', 'hue', 'saturation') if getattr(self, name) > 0]
        return f'p={float(self.p):.4f}, transforms={on}'

    def forward(self, images):
        N, C, H, W = images.shape
        assert H == W, f'AugmentPipe needs square images, got {H}x{W}'
        assert C in (1, 3), f'AugmentPipe needs 1 or 3 channels, got {C}'
        p = float(self.p)
        if p <= 0:
            return images
        images = self._blit(images, p)
        images = self._geometric(images, p)
        return self._color(images, p)

    def _on(self, mult, p, N, device):
        """[N] bool: which samples get a transform of this probability multiplier."""
        return torch.rand([N], device=device) < mult * p

    # -- stage 1: pixel blitting -------------------------------------------------------------

    def _blit(self, x, p):
        N, _C, H, W = x.shape
        dev = x.device
        if self.xflip > 0:
            flip = self._on(self.xflip, p, N, dev) & (torch.rand([N], device=dev) < 0.5)
            x = torch.where(flip.view(N, 1, 1, 1), x.flip(3), x)
        if self.rotate90 > 0:
            k = torch.randint(0, 4, [N], device=dev) * self._on(self.rotate90, p, N, dev)
            for quarter in (1, 2, 3):
                x = torch.where((k == quarter).view(N, 1, 1, 1), torch.rot90(x, quarter, dims=(2, 3)), x)
        if self.xint > 0:
            shift = (torch.rand([N, 2], device=dev) * 2 - 1) * self.xint_max
            shift = torch.round(shift * W).to(torch.int64) * self._on(self.xint, p, N, dev).view(N, 1)
            if bool(shift.any()):
                rows = _reflect_index(torch.arange(H, device=dev).view(1, H) - shift[:, 1:2], H)   # [N, H]
                cols = _reflect_index(torch.arange(W, device=dev).view(1, W) - shift[:, 0:1], W)   # [N, W]
                n = torch.arange(N, device=dev).view(N, 1, 1)
                x = x[n, :, rows.view(N, H, 1), cols.view(N, 1, W)].permute(0, 3, 1, 2)  # [N,H,W,C] -> NCHW
        return x

    # -- stage 2: general geometric transforms ------------------------------------------------

    def _geometric(self, x, p):
        """One inverse (output -> input) matrix per sample in normalised [-1, 1] coordinates."""
        N = x.shape[0]
        dev = x.device
        if self.scale == 0 and self.rotate == 0 and self.aniso == 0 and self.xfrac == 0:
            return x
        inv = torch.eye(3, device=dev).repeat(N, 1, 1)
        moved = torch.zeros([N], dtype=torch.bool, device=dev)

        def then(on, matrix_inv):  # the forward transforms compose left to right, inverses right to left
            nonlocal inv, moved
            eye = torch.eye(3, device=dev).expand(N, 3, 3)
            inv = inv @ torch.where(on.view(N, 1, 1), matrix_inv, eye)
            moved = moved | on

        def rotation(on):
            theta = (torch.rand([N], device=dev) * 2 - 1) * math.pi * self.rotate_max
            c, s = torch.cos(-theta), torch.sin(-theta)
            then(on, _mat3([[c, -s, 0], [s, c, 0], [0, 0, 1]], N, dev))

        if self.scale > 0:
            s = torch.exp2(torch.randn([N], device=dev) * self.scale_std)
            then(self._on(self.scale, p, N, dev), _mat3([[1 / s, 0, 0], [0, 1 / s, 0], [0, 0, 1]], N, dev))
        p_rot = 1 - math.sqrt(max(1 - self.rotate * p, 0))
        if self.rotate > 0:
            rotation(self._on(1, p_rot, N, dev))
        if self.aniso > 0:
            s = torch.exp2(torch.randn([N], device=dev) * self.aniso_std)
            then(self._on(self.aniso, p, N, dev), _mat3([[1 / s, 0, 0], [0, s, 0], [0, 0, 1]], N, dev))
        if self.rotate > 0:
            rotation(self._on(1, p_rot, N, dev))
        if self.xfrac > 0:
            t = torch.randn([N, 2], device=dev) * self.xfrac_std * 2  # image size = 2 in normalised units
            then(self._on(self.xfrac, p, N, dev), _mat3([[1, 0, -t[:, 0]], [0, 1, -t[:, 1]], [0, 0, 1]], N, dev))
        if not bool(moved.any()):
            return x
        return torch.where(moved.view(N, 1, 1, 1), self._resample(x, inv), x)

    @staticmethod
    def _resample(x, inv):
        N, C, H, W = x.shape
        up = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
        grid = F.affine_grid(inv[:, :2, :], [N, C, 2 * H, 2 * W], align_corners=False)
        y = F.grid_sample(up, grid, mode='bilinear', padding_mode='reflection', align_corners=False)
        return _lowpass_down2(y)

    # -- stage 3: colour transforms ----------------------------------------------------------

    def _color(self, x, p):
        N, C, H, W = x.shape
        dev = x.device
        if max(self.brightness, self.contrast, self.lumaflip, self.hue, self.saturation) == 0:
            return x
        eye = torch.eye(4, device=dev)
        v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)  # the luma axis
        vv = torch.outer(v, v)
        M = eye.repeat(N, 1, 1)

        def then(on, matrix):
            nonlocal M
            M = torch.where(on.view(N, 1, 1), matrix, eye.expand(N, 4, 4)) @ M

        if self.brightness > 0:
            b = torch.randn([N], device=dev) * self.brightness_std
            then(self._on(self.brightness, p, N, dev), _mat4([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b],
                                                              [0, 0, 0, 1]], N, dev))
        if self.contrast > 0:
            c = torch.exp2(torch.randn([N], device=dev) * self.contrast_std)
            then(self._on(self.contrast, p, N, dev), _mat4([[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0],
                                                            [0, 0, 0, 1]], N, dev))
        if self.lumaflip > 0:
            flip = self._on(self.lumaflip, p, N, dev) & (torch.rand([N], device=dev) < 0.5)
            then(flip, (eye - 2 * vv).expand(N, 4, 4))
        if self.hue > 0:
            theta = (torch.rand([N], device=dev) * 2 - 1) * math.pi * self.hue_max
            then(self._on(self.hue, p, N, dev), self._luma_rotation(theta, v, vv))
        if self.saturation > 0:
            s = torch.exp2(torch.randn([N], device=dev) * self.saturation_std)
            sat = vv + (eye - vv) * s.view(N, 1, 1)
            sat[:, 3, 3] = 1
            then(self._on(self.saturation, p, N, dev), sat)

        if C == 3:
            y = M[:, :3, :3] @ x.reshape(N, 3, H * W) + M[:, :3, 3:]
        else:  # grayscale: transform the grey colour (g, g, g), keep the mean of the result
            gain = M[:, :3, :3].sum(dim=2).mean(dim=1).view(N, 1, 1)
            y = x.reshape(N, 1, H * W) * gain + M[:, :3, 3].mean(dim=1).view(N, 1, 1)
        return y.reshape(N, C, H, W)

    @staticmethod
    def _luma_rotation(theta, v, vv):
        """Rotation by theta about the luma axis (Rodrigues), as [N, 4, 4]."""
        N = theta.shape[0]
        cross = torch.zeros([4, 4], device=v.device)
        cross[0, 1], cross[0, 2], cross[1, 2] = -v[2], v[1], -v[0]
        cross = cross - cross.t()
        c, s = torch.cos(theta).view(N, 1, 1), torch.sin(theta).view(N, 1, 1)
        eye3 = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], device=v.device))
        R = c * eye3 + s * cross + (1 - c) * vv
        R[:, 3, 3] = 1
        return R


class AdaptiveAugment:
    """The ADA heuristic: every `interval` steps, r_t = E[sign(D(real))] over those steps;
    p += sign(r_t - target) * batch * interval / (ada_kimg * 1000), kept at 0 or above.
    With fixed p (target None) it only keeps the statistic."""

    def __init__(self, pipe: AugmentPipe, target=0.6, batch=32, interval=4, ada_kimg=500):
        self.pipe, self.target, self.batch, self.interval, self.ada_kimg = pipe, target, batch, interval, ada_kimg
        self._sum = torch.zeros([2], dtype=torch.float64, device=pipe.p.device)  # [sum of signs, count]
        self.last_rt = None

    def accumulate(self, real_logits):
        """Record D's logits on (augmented) real images; no device sync."""
        logits = real_logits.detach().flatten()
        self._sum += torch.stack([logits.sign().sum().double(), torch.tensor(logits.numel(), dtype=torch.float64,
                                                                             device=logits.device)])

    def update(self, reduce_sum=None):
        """End of an interval: adjust p (reduce_sum all-reduces the statistic across processes)."""
        stat = self._sum.clone()
        self._sum.zero_()
        if reduce_sum is not None:
            stat = reduce_sum(stat)
        if float(stat[1]) == 0:
            return None
        self.last_rt = float(stat[0] / stat[1])
        if self.target is not None:
            adjust = np.sign(self.last_rt - self.target) * self.batch * self.interval / (self.ada_kimg * 1000)
            self.pipe.p.copy_((self.pipe.p + adjust).clamp(min=0))
        return self.last_rt

    def state_dict(self):
        return {'sum': self._sum.cpu().clone(), 'last_rt': self.last_rt}

    def load_state_dict(self, state):
        self._sum.copy_(state['sum'])
        self.last_rt = state['last_rt']
