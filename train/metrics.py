"""Quality metrics: FID and KID, with the official Inception network or with pixel features.

Names follow the official calc_metrics.py: `fid50k_full`, `kid50k_full`, `fid10k`, ... =
metric, number of generated images, and `_full` to compare against every real image (else at
most as many reals as generated images).

* `fid*` / `kid*` use NVIDIA's Inception-v3 TorchScript file (`inception-2015-12-05.pt`, the one
  the official metrics download). Stylescope never downloads anything: pass the file with
  `--inception PATH`. Only these numbers are comparable with published FID / KID values.
  (torch.jit.load runs the TorchScript graph stored in that file; give it only NVIDIA's file.)
* `pxfid*` / `pxkid*` work offline with no weights: the same Frechet / kernel distances on
  images area-downsampled to 16x16 (768 numbers per RGB image). They track training progress
  and rank snapshots of one run, but are NOT comparable with published FID / KID numbers.

FID = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) with biased covariances, as the official
code computes them; KID = the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over 100 subsets of at most 1000 images.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import StylescopeError

_NAME_RE = re.compile(r'^(px)?(fid|kid)(\d{1,9})(k?)(_full)?$')
MAX_GENERATED = 1_000_000  # 20 times the official fid50k; the features of each are kept in memory
PIXEL_SIZE = 16
INCEPTION_HINT = ('download inception-2015-12-05.pt (the file NVIDIA\'s metrics use) yourself and pass '
                  '--inception PATH, or use the offline pxfid/pxkid metrics')


def parse_metric(name):
    """'fid50k_full' -> dict(name, pixel=False, kind='fid', num_gen=50000, full=True)."""
    m = _NAME_RE.match(name.strip())
    if not m or int(m.group(3)) == 0:
        raise StylescopeError(f"unknown metric '{name}': use names like fid50k_full, kid50k_full (need --inception) "
                              f'or pxfid5k_full, pxkid5k (offline)')
    num = int(m.group(3)) * (1000 if m.group(4) else 1)
    if num > MAX_GENERATED:
        raise StylescopeError(f"metric '{name.strip()}' asks for {num:,} generated images, more than the "
                              f'{MAX_GENERATED:,} Stylescope computes: use fewer, such as fid50k_full')
    return dict(name=name.strip(), pixel=bool(m.group(1)), kind=m.group(2), num_gen=num, full=bool(m.group(5)))


def parse_metric_list(text):
    if not text or text == 'none':
        return []
    names = [n for n in (t.strip() for t in text.split(',')) if n]
    for n in names:
        parse_metric(n)
    return names


# -- feature extractors ----------------------------------------------------------------------

class PixelFeatures:
    """uint8 NCHW -> [N, 3 * 16 * 16] float64 tensor: RGB in [0, 1], area-averaged to 16x16."""
    name = 'pixels16'

    def __call__(self, images):
        x = images.to(torch.float32) / 255
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.adaptive_avg_pool2d(x, PIXEL_SIZE)
        return x.flatten(1).double().cpu()


class InceptionFeatures:
    """The official Inception-v3 TorchScript detector: uint8 NCHW RGB -> [N, 2048] pool features."""
    name = 'inception'

    def __init__(self, path, device):
        if not path:
            raise StylescopeError(f'FID and KID need the official Inception network: {INCEPTION_HINT}.')
        if not os.path.isfile(path):
            raise StylescopeError(f'--inception {path} does not exist: {INCEPTION_HINT}.')
        try:
            with warnings.catch_warnings():  # NVIDIA's file is TorchScript; torch 2.x flags jit.load as deprecated
                warnings.simplefilter('ignore', DeprecationWarning)
                self.net = torch.jit.load(path, map_location=device).eval()
        except Exception:
            raise StylescopeError(f'--inception {path} is not a TorchScript Inception network: {INCEPTION_HINT}.') \
                from None
        self.device = device

    def __call__(self, images):
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        with torch.no_grad():
            feats = self.net(images.to(self.device), return_features=True)
        return feats.double().cpu()


def make_extractor(pixel, inception_path=None, device='cpu'):
    return PixelFeatures() if pixel else InceptionFeatures(inception_path, device)


# -- features of reals and fakes -------------------------------------------------------------

def real_features(dataset, extractor, max_items=None, batch=64):
    n = len(dataset) if max_items is None else min(len(dataset), max_items)
    feats = []
    for start in range(0, n, batch):
        images = torch.stack([dataset[i][0] for i in range(start, min(n, start + batch))])
        feats.append(extractor(images))
    return torch.cat(feats)


@torch.no_grad()
def generated_features(G, dataset, extractor, num, batch=32, seed=0, device='cpu', precision=None):
    """num images of G (psi 1, random noise), labels drawn from the dataset, all from one seeded
    generator, so the global RNG (and a resumed training run) is never touched. precision: the
    network's argument (core.precision.resolve_precision; None: its default)."""
    gen = torch.Generator().manual_seed(seed)
    feats = []
    for start in range(0, num, batch):
        n = min(batch, num - start)
        z = torch.randn([n, G.z_dim], generator=gen).to(device)
        idx = torch.randint(len(dataset), [n], generator=gen).tolist()
        c = torch.from_numpy(np.stack([dataset.get_label(i) for i in idx])).to(device) if G.c_dim \
            else torch.zeros([n, 0], device=device)
        img = G(z, c, noise_mode='random', noise_generator=gen, precision=precision)
        feats.append(extractor((img * 127.5 + 128).clamp(0, 255).to(torch.uint8)))
    return torch.cat(feats)


# -- distances -------------------------------------------------------------------------------

# The linear algebra runs in torch (float64, CPU), not numpy: torch honours the process's thread
# settings, while OpenBLAS's own spinning threads can slow down 50x on a loaded 2-core machine.

def frechet_distance(feats_a, feats_b):
    a, b = (torch.as_tensor(f, dtype=torch.float64).cpu() for f in (feats_a, feats_b))
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = a.T @ a / len(a) - torch.outer(mu_a, mu_a)
    cov_b = b.T @ b / len(b) - torch.outer(mu_b, mu_b)
    # Tr((A B)^(1/2)) = Tr((A^(1/2) B A^(1/2))^(1/2)), and the latter is symmetric PSD.
    vals, vecs = torch.linalg.eigh(cov_a)
    sqrt_a = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
    mid = sqrt_a @ cov_b @ sqrt_a
    tr_sqrt = torch.linalg.eigvalsh((mid + mid.T) / 2).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * tr_sqrt)


def kernel_distance(feats_real, feats_gen, num_subsets=100, max_subset_size=1000, seed=123):
    real, gen = (torch.as_tensor(f, dtype=torch.float64).cpu() for f in (feats_real, feats_gen))
    d = real.shape[1]
    m = min(len(real), len(gen), max_subset_size)
    if m < 2:
        raise StylescopeError('KID needs at least 2 real and 2 generated images; use a larger dataset or metric.')
    rnd = np.random.RandomState(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = gen[torch.from_numpy(rnd.choice(len(gen), m, replace=False))]
        y = real[torch.from_numpy(rnd.choice(len(real), m, replace=False))]
        a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        b = (x @ y.T / d + 1) ** 3
        total += float((a.sum() - a.diagonal().sum()) / (m - 1) - b.sum() * 2 / m)
    return total / num_subsets / m


# -- one metric ------------------------------------------------------------------------------

def compute_metric(name, G, dataset, device='cpu', inception=None, cache=None, batch=32, precision=None):
    """{name: value} for G (in eval mode) against dataset. cache: a dict that keeps real
    features between calls (the training loop passes one)."""
    spec = parse_metric(name)
    cache = {} if cache is None else cache
    ext_key = ('pixels',) if spec['pixel'] else ('inception', inception)
    if ext_key not in cache:
        cache[ext_key] = make_extractor(spec['pixel'], inception, device)
    extractor = cache[ext_key]
    max_reals = None if spec['full'] else spec['num_gen']
    real_key = (ext_key, dataset.path, len(dataset), max_reals)
    if real_key not in cache:
        cache[real_key] = real_features(dataset, extractor, max_reals)
    feats_real = cache[real_key]
    feats_gen = generated_features(G, dataset, extractor, spec['num_gen'], batch=batch, device=device,
                                   precision=precision)
    if spec['kind'] == 'fid':
        value = frechet_distance(feats_real, feats_gen)
    else:
        value = kernel_distance(feats_real, feats_gen)
    return {spec['name']: value}
