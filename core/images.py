"""Image tensors -> uint8 arrays -> PNG files and grids.

Convention (official generate.py): NCHW float in [-1, 1] maps to uint8 as
`(img * 127.5 + 128).clamp(0, 255)`, truncated toward zero by the cast.
"""
import math

import numpy as np
import PIL.Image
import PIL.PngImagePlugin
import torch

from core.atomic import atomic_write


def to_uint8(img_nchw):
    """[N, C, H, W] float tensor in [-1, 1] -> numpy uint8 [N, H, W, C] (HWC per image)."""
    assert img_nchw.ndim == 4, f'to_uint8 wants NCHW, got shape {tuple(img_nchw.shape)}'
    img = (img_nchw.detach().to(torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return img.permute(0, 2, 3, 1).cpu().numpy()


def _pil_image(array):
    assert array.dtype == np.uint8 and array.ndim == 3, f'want HWC uint8, got {array.dtype} {array.shape}'
    if array.shape[2] == 1:
        return PIL.Image.fromarray(array[:, :, 0], 'L')
    assert array.shape[2] == 3, f'want 1 or 3 channels, got {array.shape[2]}'
    return PIL.Image.fromarray(array, 'RGB')


def _png_info(metadata):
    info = PIL.PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(str(key), str(value))
    return info


def save_png(path, array, metadata=None):
    """Write an HWC uint8 array as PNG, atomically (temporary file, then rename).

    metadata: optional {key: value} stored as PNG text chunks (seed, psi, model fingerprint...).
    """
    atomic_write(path, lambda f: _pil_image(array).save(f, format='PNG', pnginfo=_png_info(metadata)))


def make_grid(images, cols=None):
    """Tile equally sized HWC uint8 images row by row; cols defaults to a near-square layout.
    Unused cells stay black."""
    assert len(images) > 0, 'make_grid needs at least one image'
    shape = images[0].shape
    assert all(img.shape == shape for img in images), 'make_grid needs images of one size'
    cols = cols or math.ceil(math.sqrt(len(images)))
    cols = max(1, min(cols, len(images)))
    rows = math.ceil(len(images) / cols)
    h, w, c = shape
    grid = np.zeros([rows * h, cols * w, c], dtype=np.uint8)
    for idx, img in enumerate(images):
        r, k = divmod(idx, cols)
        grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = img
    return grid
