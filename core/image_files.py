"""Opening picture files the user gives (photos to project, dataset images), and the largest
picture Stylescope reads or writes. No torch.

A PNG or JPEG header can claim 50000x50000 pixels in a few bytes; decoding it would need 7.5 GB.
Pillow refuses (DecompressionBombError) or only warns (DecompressionBombWarning, printed as two
lines of stderr) depending on how far past its global limit a picture is. `open_image` decides
explicitly instead, from the header, before a pixel is decoded, and says so in one sentence; the
writers keep their grids under the same limit, so whatever Stylescope writes it (and Pillow) can
open again.
"""
import warnings

import PIL.Image

from core.errors import StylescopeError

MAX_IMAGE_PIXELS = 89_478_485  # Pillow's default limit (a 9459x9459 picture, 268 MB of RGB)


def too_large(name, what='an image'):
    return StylescopeError(f"'{name}' is {what} of more than {MAX_IMAGE_PIXELS:,} pixels, more than Stylescope "
                           'opens (a picture that large is usually a decompression bomb): shrink it first')


def open_image(fp, name):
    """PIL.Image.open(fp), lazily (nothing decoded yet), refused with too_large's sentence when its
    header claims more than MAX_IMAGE_PIXELS. Other errors are Pillow's, for the caller to word."""
    with warnings.catch_warnings():
        warnings.simplefilter('error', PIL.Image.DecompressionBombWarning)
        try:
            img = PIL.Image.open(fp)
        except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning):
            raise too_large(name) from None
    if img.width * img.height > MAX_IMAGE_PIXELS:
        img.close()
        raise too_large(name, f'a {img.width}x{img.height} image')
    return img


def check_image_size(count, height, width, what, fix):
    """Refuse, before it is drawn, a picture of `count` cells of height x width pixels that would
    be larger than MAX_IMAGE_PIXELS; `what` names it, `fix` says what to change."""
    pixels = count * height * width
    if pixels > MAX_IMAGE_PIXELS:
        raise StylescopeError(f'{what} would be {pixels:,} pixels, more than the {MAX_IMAGE_PIXELS:,} an image file may '
                              f'hold here: {fix}')
