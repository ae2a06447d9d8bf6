"""Image distances that need no download: for projection (`PerceptualLoss`) and for measuring it.

The official projector compares VGG16 features, a network it downloads. Stylescope cannot, so
`PerceptualLoss` adds up what the user has (shared/reference/editing-methods.md 1.5, 1.7):
- 'd_features': the discriminator's own block activations (multi-scale), when the network file
  has D: per block, the squared feature difference relative to the target's feature energy;
- 'ms_ssim': 1 - MS-SSIM (Gaussian window 11, sigma 1.5, scale weights 0.0448, 0.2856, 0.3001,
  0.2363, 0.1333; as many scales as the image allows, smallest side 8, weights renormalised);
- 'laplacian_l1': mean absolute difference of each band of a Laplacian pyramid (down to 8x8,
  plus the low-pass rest), averaged over the bands, in [-1, 1] pixel units;
- 'vgg': only with a local copy of the official projector's VGG16 TorchScript file (`load_vgg`):
  features of images in [0, 255], area-downsampled to 256 when larger, squared distance summed.
Images are NCHW float in [-1, 1] at the model's resolution.

Default weights are 1, except MS-SSIM at 0.3: on the untrained 64px default network, W projections
of known-w images (300 steps, 3 seeds) reached 20.7 / 22.0 / 24.4 dB mean PSNR with MS-SSIM weight
1 / 0.3 / 0, so MS-SSIM stays in (structure and contrast on real photos) at a weight that does not
fight the pixel terms. Retune with bench/projection.py --data once a trained network exists.
"""
import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import StylescopeError
from core.ops import downsample2d, setup_filter, upsample2d

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
DEFAULT_WEIGHTS = dict(d_features=1.0, ms_ssim=0.3, laplacian_l1=1.0, vgg=1.0)
LOSS_TITLES = dict(d_features='discriminator features', ms_ssim='MS-SSIM', laplacian_l1='Laplacian-pyramid L1',
                   vgg='VGG16 features')
MIN_SIDE = 8  # smallest image side the MS-SSIM scales and the Laplacian pyramid go down to


# --- measures --------------------------------------------------------------------------------------

def image_to_tensor(array, device='cpu'):
    """uint8 HWC (or NHWC) -> float NCHW in [-1, 1], the training normalisation x / 127.5 - 1."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[None]
    t = torch.from_numpy(np.array(array, dtype=np.float32)).to(device=device)
    return t.permute(0, 3, 1, 2) / 127.5 - 1


def psnr(a, b):
    """PSNR in dB between two uint8 images of one shape (inf when equal)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f'psnr of shapes {a.shape} and {b.shape}'
    mse = np.mean((a - b) ** 2)
    return float('inf') if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def _gaussian_1d(size, sigma, device):
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _blur_valid(x, g):
    """Separable depthwise Gaussian filter, 'valid' borders."""
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _ssim_and_cs(x, y, data_range, win=11, sigma=1.5):
    """Mean SSIM and mean contrast-structure term per image and channel: two [N, C] tensors.
    The window shrinks (odd) for images smaller than 11 pixels."""
    size = min(win, x.shape[2], x.shape[3])
    size -= 1 - size % 2
    g = _gaussian_1d(size, sigma, x.device)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = _blur_valid(x, g), _blur_valid(y, g)
    var_x = _blur_valid(x * x, g) - mu_x ** 2
    var_y = _blur_valid(y * y, g) - mu_y ** 2
    cov = _blur_valid(x * y, g) - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * cs
    return ssim_map.mean(dim=(2, 3)), cs.mean(dim=(2, 3))


def ssim(x, y, data_range=2.0):
    """Single-scale SSIM per image [N] (Gaussian window 11, sigma 1.5), mean over channels."""
    return _ssim_and_cs(x, y, data_range)[0].mean(dim=1)


def ssim_uint8(a, b):
    """SSIM of two uint8 HWC images, as a float."""
    return float(ssim(image_to_tensor(a).add(1).mul(127.5), image_to_tensor(b).add(1).mul(127.5), 255.0)[0])


def ms_ssim_levels(size):
    """How many MS-SSIM scales fit an image of `size` pixels (smallest side MIN_SIDE, at most 5)."""
    levels = 1
    while levels < len(MS_SSIM_WEIGHTS) and size // 2 ** levels >= MIN_SIDE:
        levels += 1
    return levels


def ms_ssim(x, y, data_range=2.0):
    """Multi-scale SSIM per image [N], mean over channels (negative terms clamped to a small
    positive value, as usual, so the fractional powers stay defined)."""
    levels = ms_ssim_levels(min(x.shape[2], x.shape[3]))
    weights = torch.tensor(MS_SSIM_WEIGHTS[:levels], device=x.device)
    weights = weights / weights.sum()
    value = 1
    for level in range(levels):
        s, cs = _ssim_and_cs(x, y, data_range)
        term = (s if level == levels - 1 else cs).clamp(min=1e-4)
        value = value * term ** weights[level]
        if level < levels - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value.mean(dim=1)


def laplacian_pyramid(x, f):
    """Bands [finest, ..., low-pass rest] down to MIN_SIDE pixels, with the [1,3,3,1] filter."""
    bands = []
    while min(x.shape[2], x.shape[3]) >= 2 * MIN_SIDE:
        down = downsample2d(x, f)
        bands.append(x - upsample2d(down, f))
        x = down
    bands.append(x)
    return bands


# --- the discriminator and VGG as feature extractors -------------------------------------------------

def d_feature_distance(D, img, target_feats):
    """Mean over D's blocks of |f(img) - f(target)|^2 / |f(target)|^2 (each block counts alike)."""
    feats = D.features(img, force_fp32=True)[0]
    terms = [(feats[k].float() - t).square().mean() / (t.square().mean() + 1e-8) for k, t in target_feats.items()]
    return torch.stack(terms).mean()


def load_vgg(path, device='cpu'):
    """The official projector's VGG16 feature network (a TorchScript file), from a local path.
    Loaded on the CPU first (torch.jit.load; TorchScript runs no Python from the file), then moved."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"VGG file '{path}' does not exist: give the path of the official projector's "
                              f"vgg16.pt, or leave out --vgg")
    try:
        with warnings.catch_warnings():  # torch 2.13 calls TorchScript deprecated; the file is TorchScript
            warnings.simplefilter('ignore', DeprecationWarning)
            vgg = torch.jit.load(path, map_location='cpu')
    except Exception as e:  # torch raises RuntimeError, ValueError, zipfile errors ... for non-TorchScript files
        raise StylescopeError(f"VGG file '{path}' is not a TorchScript file ({str(e).splitlines()[0][:120]}): "
                              f"give the official projector's vgg16.pt") from None
    vgg = vgg.eval().to(device)
    for p in vgg.parameters():
        p.requires_grad_(False)
    vgg.stylescope_path = path
    return vgg


def _vgg_input(img):
    """[-1, 1] -> [0, 255], 3 channels, area-downsampled to 256 when larger (the official use)."""
    x = (img + 1) * (255 / 2)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    if x.shape[2] > 256:
        x = F.interpolate(x, size=(256, 256), mode='area')
    return x


def vgg_features(vgg, img):
    try:
        return vgg(_vgg_input(img), resize_images=False, return_lpips=True)
    except Exception as e:
        path = getattr(vgg, 'stylescope_path', 'the VGG file')
        raise StylescopeError(f"'{path}' does not work as the official VGG16 feature network "
                              f"({str(e).splitlines()[0][:120]}): give the projector's vgg16.pt or leave out "
                              f"--vgg") from None


# --- the projection loss -----------------------------------------------------------------------------

class PerceptualLoss:
    """Distance of a synthesised image to one fixed target, from the parts available.

    target: uint8 HWC at the model's resolution; D: a Discriminator of the same resolution or
    None; vgg: from `load_vgg` or None; weights: {part: weight} (0 turns a part off).
    `names` lists the parts that run; `describe()` says it in words. Nothing is written to D or
    vgg: gradients are taken with torch.autograd.grad by the caller.
    """

    def __init__(self, target, D=None, vgg=None, weights=None, device='cpu'):
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.target = image_to_tensor(target, device)
        self.resolution = self.target.shape[2]
        self.D = D if D is not None and self._d_fits(D) else None
        self.vgg = vgg
        self._filter = setup_filter([1, 3, 3, 1]).to(device)
        with torch.no_grad():
            self._target_bands = laplacian_pyramid(self.target, self._filter)
            self._target_d = ({k: v.float() for k, v in self.D.features(self.target, force_fp32=True)[0].items()}
                              if self.D is not None and self.weights['d_features'] else None)
            self._target_vgg = (vgg_features(vgg, self.target) if vgg is not None and self.weights['vgg']
                                else None)
        self.names = [name for name in ('d_features', 'ms_ssim', 'laplacian_l1', 'vgg')
                      if self.weights[name] and self._available(name)]
        if not self.names:
            raise StylescopeError('every projection loss is turned off: give at least one a weight above 0')

    def _d_fits(self, D):
        return D.img_resolution == self.resolution and D.img_channels == self.target.shape[1]

    def _available(self, name):
        return {'d_features': self.D is not None, 'vgg': self.vgg is not None}.get(name, True)

    def describe(self):
        parts = []
        for name in self.names:
            title = LOSS_TITLES[name]
            if name == 'd_features':
                title += f' ({len(self._target_d)} scales)'
            elif name == 'ms_ssim':
                title += f' ({ms_ssim_levels(self.resolution)} scales)'
            elif name == 'laplacian_l1':
                title += f' ({len(self._target_bands)} levels)'
            elif name == 'vgg':
                title += f" ({getattr(self.vgg, 'stylescope_path', 'TorchScript')})"
            parts.append(f'{self.weights[name]:g} x {title}')
        return ' + '.join(parts)

    def info(self):
        """JSON-ready record of what ran."""
        return dict(parts=list(self.names), weights={n: self.weights[n] for n in self.names},
                    description=self.describe(),
                    vgg_path=getattr(self.vgg, 'stylescope_path', None) if self.vgg is not None else None)

    def __call__(self, img):
        """img [1, C, H, W] in [-1, 1] -> (weighted sum, {part: unweighted value tensor})."""
        parts = {}
        if 'd_features' in self.names:
            parts['d_features'] = d_feature_distance(self.D, img, self._target_d)
        if 'ms_ssim' in self.names:
            parts['ms_ssim'] = 1 - ms_ssim(img, self.target).mean()
        if 'laplacian_l1' in self.names:
            bands = laplacian_pyramid(img, self._filter)
            parts['laplacian_l1'] = torch.stack([(b - t).abs().mean()
                                                 for b, t in zip(bands, self._target_bands)]).mean()
        if 'vgg' in self.names:
            parts['vgg'] = (vgg_features(self.vgg, img) - self._target_vgg).square().sum()
        total = sum(self.weights[name] * value for name, value in parts.items())
        return total, parts
