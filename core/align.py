"""Photo -> square target image at the model's resolution, cropped the way the training data was.

- `center_crop`: the official projector's preparation: the largest centred square, Lanczos-resized.
- `align_face`: FFHQ-style alignment from eye and mouth points the user gives (no detector can be
  downloaded). FFHQ's recipe: with the eye centres and the mouth centre,
      eye_to_eye   = right eye - left eye,     eye_to_mouth = mouth - (eye centre)
      x = eye_to_eye - perp(eye_to_mouth), normalised, times max(2.0 |eye_to_eye|, 1.8 |eye_to_mouth|)
      y = perp(x)                              (perp rotates a vector by 90 degrees: (-v_y, v_x))
      c = eye centre + 0.1 eye_to_mouth
  and the crop is the square with corners c - x - y (top left), c - x + y, c + x + y, c + x - y,
  of side 2|x|, resampled to the output size. A face tilted in the photo comes out upright.
  Where the square reaches past the photo, the photo is mirrored at its border (FFHQ mirrors too,
  and also blurs that band; we do not).

Points are given as `x,y` pixel coordinates of the photo as an image viewer shows it (EXIF rotation
applied), x to the right, y down, in this order:
  left eye, right eye, left mouth corner, right mouth corner  (8 numbers), or
  left eye, right eye, mouth centre                           (6 numbers),
where left and right are as you look at the picture (the subject's right eye is the left point).
Coordinates are pixel centres: (0, 0) is the centre of the top-left pixel.
"""
import os

import numpy as np
import PIL.Image
import PIL.ImageOps

from core.errors import StylescopeError, short_reason
from core.image_files import open_image

LANDMARK_ORDER = ('left eye', 'right eye', 'left mouth corner', 'right mouth corner')
LANDMARK_HELP = ('x1,y1,...: left eye, right eye, left mouth corner, right mouth corner (8 numbers), '
                 'or left eye, right eye, mouth centre (6 numbers); pixels of the photo, left/right as you '
                 'look at it')


# --- reading ---------------------------------------------------------------------------------------

def load_image(path):
    """Open a photo as an upright (EXIF-rotated) PIL image; any problem is a StylescopeError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"target image '{path}' does not exist: check the path")
    try:
        with open_image(path, path) as img:
            img.load()
            img = PIL.ImageOps.exif_transpose(img)
    except StylescopeError:
        raise
    except (PIL.UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        raise StylescopeError(f"target '{path}' is not an image that can be read ({short_reason(e)}): "
                              f"give a .jpg or .png photo") from None
    if img.width < 1 or img.height < 1:
        raise StylescopeError(f"target image '{path}' is empty: give a real photo")
    return img


def _to_mode(img, channels):
    """RGB for 3-channel models, L for 1-channel ones (alpha is dropped)."""
    mode = 'L' if channels == 1 else 'RGB'
    if img.mode == mode:
        return img
    if img.mode in ('RGBA', 'LA', 'P', 'PA'):
        img = img.convert('RGBA')
    return img.convert(mode)


def to_array(img, channels):
    """PIL image -> uint8 HWC with `channels` channels."""
    array = np.asarray(_to_mode(img, channels), dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


# --- landmarks -------------------------------------------------------------------------------------

def parse_landmarks(text):
    """'x1,y1,...' (8 or 6 numbers, see the module docstring) -> float64 array [4, 2] or [3, 2]."""
    parts = [p for p in str(text).replace(';', ',').replace(' ', ',').split(',') if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = None
    if values is None or len(values) not in (6, 8) or not np.all(np.isfinite(values)):
        raise StylescopeError(f"bad --landmarks '{text}': give 8 numbers x,y for the left eye, right eye, "
                              f"left mouth corner and right mouth corner (or 6: eyes and mouth centre)")
    return np.array(values, dtype=np.float64).reshape(-1, 2)


def check_landmarks(points, width, height, where='the photo'):
    """Refuse points outside the image and eyes that coincide."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape not in ((4, 2), (3, 2)):
        raise StylescopeError(f'landmarks have shape {list(points.shape)}: give 4 points (eyes, mouth corners) '
                              f'or 3 (eyes, mouth centre)')
    names = LANDMARK_ORDER if len(points) == 4 else LANDMARK_ORDER[:2] + ('mouth centre',)
    for name, (x, y) in zip(names, points):
        if not (np.isfinite(x) and np.isfinite(y)):
            raise StylescopeError(f'the {name} landmark is not a number: give pixel coordinates')
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise StylescopeError(f'the {name} landmark ({x:g}, {y:g}) lies outside {where} '
                                  f'({width}x{height} pixels): give x from 0 to {width - 1} and y from 0 to '
                                  f'{height - 1}, in the order {", ".join(names)}')
    eye_dist = np.hypot(*(points[1] - points[0]))
    mouth = points[2:].mean(axis=0)
    if eye_dist < 1 or np.hypot(*(mouth - points[:2].mean(axis=0))) < 1:
        raise StylescopeError('the eye and mouth landmarks are (almost) on one spot: click the two eye '
                              'centres and the mouth, at least a pixel apart')
    return points


# --- the FFHQ square -------------------------------------------------------------------------------

def _perp(v):
    return np.array([-v[1], v[0]])


def ffhq_quad(points):
    """Eye and mouth points [4 or 3, 2] -> the FFHQ crop square, corners [4, 2] in the order
    top-left, bottom-left, bottom-right, top-right (in continuous pixel-centre coordinates)."""
    points = np.asarray(points, dtype=np.float64)
    eye_left, eye_right = points[0], points[1]
    mouth = points[2:].mean(axis=0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = mouth - eye_avg
    x = eye_to_eye - _perp(eye_to_mouth)
    x = x / np.hypot(*x)
    x = x * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = _perp(x)
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def _sample_square(img, quad, out_size):
    """Resample the square `quad` of `img` to out_size x out_size, mirroring the photo where the
    square leaves it. Shrinks big photos first (box filter) so bicubic sampling does not alias."""
    quad = np.asarray(quad, dtype=np.float64) + 0.5  # continuous coordinates: pixel i spans [i, i+1]
    side = np.hypot(*(quad[3] - quad[0]))
    shrink = int(np.floor(side / out_size / 2))
    if shrink > 1:
        old = np.array(img.size, dtype=np.float64)
        img = img.resize((max(1, round(img.width / shrink)), max(1, round(img.height / shrink))), PIL.Image.BOX)
        quad = quad * np.array(img.size) / old
        side = np.hypot(*(quad[3] - quad[0]))
    # mirror the border when the square leaves the photo
    lo = np.floor(quad.min(axis=0)).astype(int)
    hi = np.ceil(quad.max(axis=0)).astype(int)
    pad_l, pad_t = max(0, -lo[0]) + 2, max(0, -lo[1]) + 2
    pad_r, pad_b = max(0, hi[0] - img.width) + 2, max(0, hi[1] - img.height) + 2
    if lo[0] < 0 or lo[1] < 0 or hi[0] > img.width or hi[1] > img.height:
        array = np.asarray(img)
        widths = [(pad_t, pad_b), (pad_l, pad_r)] + [(0, 0)] * (array.ndim - 2)
        img = PIL.Image.fromarray(np.pad(array, widths, mode='symmetric'))
        quad = quad + np.array([pad_l, pad_t])
    work = int(np.clip(round(side), out_size, 4 * out_size))
    out = img.transform((work, work), PIL.Image.QUAD, data=tuple(quad.flatten()), resample=PIL.Image.BICUBIC)
    if work != out_size:
        out = out.resize((out_size, out_size), PIL.Image.LANCZOS)
    return out


def align_face(img, points, size, channels=3):
    """FFHQ-aligned uint8 HWC [size, size, channels] from a PIL photo and eye/mouth points."""
    img = _to_mode(img, channels)
    points = check_landmarks(points, img.width, img.height)
    return to_array(_sample_square(img, ffhq_quad(points), size), channels)


def center_crop(img, size, channels=3):
    """The official projector's target: centred square crop, Lanczos-resized; uint8 HWC."""
    img = _to_mode(img, channels)
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
    if img.size != (size, size):
        img = img.resize((size, size), PIL.Image.LANCZOS)
    return to_array(img, channels)


def prepare_target(path, size, channels=3, landmarks=None):
    """Read a photo and crop it for a model of `size` pixels: FFHQ alignment with landmarks
    (an array or the --landmarks text), else the centre crop. Returns (uint8 HWC, info dict)."""
    img = load_image(path)
    if landmarks is None:
        return center_crop(img, size, channels), dict(alignment='center-crop', photo_size=list(img.size))
    if isinstance(landmarks, str):
        landmarks = parse_landmarks(landmarks)
    points = check_landmarks(landmarks, img.width, img.height, where=f"'{os.fspath(path)}'")
    target = to_array(_sample_square(_to_mode(img, channels), ffhq_quad(points), size), channels)
    return target, dict(alignment='ffhq-landmarks', landmarks=points.round(3).tolist(), photo_size=list(img.size),
                        landmark_order=list(LANDMARK_ORDER if len(points) == 4
                                            else LANDMARK_ORDER[:2] + ('mouth centre',)))
