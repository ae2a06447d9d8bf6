"""StyleGAN2 losses: non-saturating logistic loss, lazy R1, lazy path-length regularisation,
style mixing (shared/reference/official-stylegan2-ada.md, 1c).

A training step runs the phases Gmain, Greg, Dmain, Dreg; the loop skips Greg / Dreg except
every G_reg_interval / D_reg_interval steps and passes `gain` = that interval (the lazy
regularisation correction), divided by the number of accumulation rounds. Each call
accumulates gradients into the parameters that currently require them and returns its
statistics as detached tensors (no device sync).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.latent import device_of

PHASES = ('Gmain', 'Greg', 'Dmain', 'Dreg')


class StyleGAN2Loss:
    """precision: the networks' call argument for every G and D pass (None: the official fp16
    blocks on CUDA, float32 on CPU; 'fp32'; 'bf16': see core.networks._block_precision). The
    weights and their gradients stay float32 whatever it is (each layer casts its weights for the
    call), and so does the mapping network. reg_precision: the same for the R1 and path-length
    passes, default precision (bf16 measured close enough: see train/presets.py)."""

    def __init__(self, G, D, augment_pipe=None, ada=None, style_mixing_prob=0.9, r1_gamma=10.0, pl_batch_shrink=2,
                 pl_decay=0.01, pl_weight=2.0, precision=None, reg_precision=None):
        self.G, self.D, self.augment_pipe, self.ada = G, D, augment_pipe, ada
        self.precision = precision
        self.reg_precision = precision if reg_precision is None else reg_precision
        self.style_mixing_prob = style_mixing_prob
        self.r1_gamma = r1_gamma
        self.pl_batch_shrink = pl_batch_shrink
        self.pl_decay = pl_decay
        self.pl_weight = pl_weight
        device = device_of(G)
        self.pl_mean = torch.zeros([], device=device)  # running mean of path lengths (saved with the run)

    def run_G(self, z, c, precision=None):
        """Mapping (with style mixing: from a random layer on, the ws of a second z) and synthesis."""
        ws = self.G.mapping(z, c)
        if self.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = int(torch.randint(1, num_ws, []))
            if float(torch.rand([])) >= self.style_mixing_prob:
                cutoff = num_ws
            if cutoff < num_ws:
                ws2 = self.G.mapping(torch.randn_like(z), c, skip_w_avg_update=True)
                ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        img = self.G.synthesis(ws, noise_mode='random', precision=precision)
        return img, ws

    def run_D(self, img, c, precision=None):
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        return self.D(img, c, precision=precision)

    def accumulate_gradients(self, phase, real_img, real_c, gen_z, gen_c, gain=1.0):
        """Backward of this phase's loss on one round of the batch; returns {stat: tensor}."""
        assert phase in PHASES, f'unknown phase {phase}'
        stats = {}

        if phase == 'Gmain':  # G wants D to call its images real: softplus(-D(G(z)))
            gen_img, _ws = self.run_G(gen_z, gen_c, self.precision)
            logits = self.run_D(gen_img, gen_c, self.precision)
            loss_G = F.softplus(-logits)
            loss_G.mean().mul(gain).backward()
            stats['Loss/scores/fake'] = logits.detach()
            stats['Loss/G/loss'] = loss_G.detach()

        elif phase == 'Greg' and self.pl_weight > 0:  # path length: |J^T y| should stay constant
            batch = max(1, gen_z.shape[0] // self.pl_batch_shrink)
            gen_img, ws = self.run_G(gen_z[:batch], gen_c[:batch], self.reg_precision)
            H, W = gen_img.shape[2:]
            pl_noise = torch.randn_like(gen_img) / np.sqrt(H * W)
            grads, = torch.autograd.grad(outputs=[(gen_img * pl_noise).sum()], inputs=[ws], create_graph=True)
            pl_lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()
            pl_mean = self.pl_mean.lerp(pl_lengths.mean().detach(), self.pl_decay)
            self.pl_mean.copy_(pl_mean)
            pl_penalty = (pl_lengths - pl_mean).square()
            loss_pl = pl_penalty * self.pl_weight
            (gen_img[:, 0, 0, 0] * 0 + loss_pl).mean().mul(gain).backward()  # *0 keeps every G weight in the graph
            stats['Loss/pl_penalty'] = pl_penalty.detach()
            stats['Loss/G/reg'] = loss_pl.detach()

        elif phase == 'Dmain':  # D: softplus(D(fake)) + softplus(-D(real))
            with torch.no_grad():
                gen_img, _ws = self.run_G(gen_z, gen_c, self.precision)
            logits_fake = self.run_D(gen_img, gen_c, self.precision)
            loss_fake = F.softplus(logits_fake)
            loss_fake.mean().mul(gain).backward()
            logits_real = self.run_D(real_img.detach(), real_c, self.precision)
            loss_real = F.softplus(-logits_real)
            loss_real.mean().mul(gain).backward()
            if self.ada is not None:
                self.ada.accumulate(logits_real)
            stats['Loss/scores/fake'] = logits_fake.detach()
            stats['Loss/scores/real'] = logits_real.detach()
            stats['Loss/signs/real'] = logits_real.detach().sign()
            stats['Loss/D/loss'] = (loss_fake + loss_real).detach()

        elif phase == 'Dreg' and self.r1_gamma > 0:  # R1: gamma/2 |grad_x D(aug(x))|^2 on real images
            real = real_img.detach().requires_grad_(True)
            logits_real = self.run_D(real, real_c, self.reg_precision)
            r1_grads, = torch.autograd.grad(outputs=[logits_real.sum()], inputs=[real], create_graph=True)
            r1_penalty = r1_grads.square().sum(dim=[1, 2, 3])
            loss_r1 = r1_penalty * (self.r1_gamma / 2)
            (logits_real * 0 + loss_r1).mean().mul(gain).backward()
            stats['Loss/r1_penalty'] = r1_penalty.detach()
            stats['Loss/D/reg'] = loss_r1.detach()
        return stats

    def state_dict(self):
        return {'pl_mean': self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state):
        self.pl_mean.copy_(state['pl_mean'])
