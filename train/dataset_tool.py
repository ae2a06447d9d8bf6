"""Turn a folder or zip of arbitrary images into a training zip (official dataset_tool layout);
`python main.py dataset` (cli/dataset.py) drives it.

Every readable image is converted to RGB (EXIF rotation applied), made square by the chosen
transform, resized with Lanczos to --resolution and written as `00000/img00000000.png`, ... into
an uncompressed zip together with `dataset.json` (labels carried over from the source's
dataset.json when it has them). Unreadable files are skipped and counted. The zip is written
under a temporary name and renamed at the end, so an interrupted run leaves nothing behind.

Transforms: none (stretch to a square, as the official dataset_tool does without --transform),
`center-crop` (largest centred square), `center-crop-wide` (fit the width, centre-crop or
letterbox the height with black bars: for wide pictures such as cars).
"""
import json
import os
import sys
import zipfile

import PIL.Image
import PIL.ImageOps

from core.atomic import atomic_path
from core.errors import StylescopeError
from core.image_dataset import IMAGE_EXTENSIONS, read_dataset_json
from core.image_files import open_image

TRANSFORMS = ('center-crop', 'center-crop-wide')


def _list_source(source):
    """-> (sorted image names, opener(name) -> binary file, labels {name: label} or None)."""
    if os.path.isdir(source):
        names = []
        for root, _dirs, files in os.walk(source):
            for fname in files:
                names.append(os.path.relpath(os.path.join(root, fname), source).replace(os.sep, '/'))

        def opener(name):
            return open(os.path.join(source, name), 'rb')
        archive_or_none = None
    elif zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        names = archive.namelist()
        archive_or_none = archive

        def opener(name):
            return archive.open(name)
    else:
        raise StylescopeError(f'--source {source} is neither a folder nor a zip file; give a folder of images or '
                              f'a zip of them.')
    labels = None
    if 'dataset.json' in names:
        where = os.path.join(source, 'dataset.json') if archive_or_none is None else f'{source}:dataset.json'
        try:
            raw = read_dataset_json(where, os.path.join(source, 'dataset.json'), archive_or_none)
            labels = {str(k).replace('\\', '/'): v for k, v in raw} if raw else None
        except StylescopeError as e:
            print(f'warning: {e}; labels are dropped', file=sys.stderr)
        except (ValueError, AttributeError, TypeError):
            print(f'warning: {where} is not {{"labels": [[file, label], ...]}}; labels are dropped', file=sys.stderr)
    images = sorted(n for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
    return images, opener, labels


def make_square(img, resolution, transform):
    """PIL RGB image -> resolution x resolution PIL image."""
    w, h = img.size
    if transform == 'center-crop':
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    elif transform == 'center-crop-wide':
        new_h = max(1, round(h * resolution / w))
        img = img.resize((resolution, new_h), PIL.Image.LANCZOS)
        canvas = PIL.Image.new('RGB', (resolution, resolution))
        canvas.paste(img, (0, (resolution - new_h) // 2))  # taller images are cropped, shorter letterboxed
        return canvas
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), PIL.Image.LANCZOS)
    return img


def prepare(source, dest, resolution, transform=None, max_images=None, progress=True):
    """Write the training zip; returns (written, skipped names, how many non-square images were stretched)."""
    from tqdm import tqdm
    names, opener, labels = _list_source(source)
    if not names:
        raise StylescopeError(f'--source {source} holds no images ({", ".join(IMAGE_EXTENSIONS)}); point it at a '
                              f'folder or zip of pictures.')
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise StylescopeError(f'the folder of --dest {dest} does not exist; create it first or choose another path.')
    written, skipped, stretched, out_labels = 0, [], 0, []
    try:
        with atomic_path(dest) as tmp:
            with zipfile.ZipFile(tmp, 'w', compression=zipfile.ZIP_STORED) as out, \
                    tqdm(total=min(len(names), max_images or len(names)), unit='img', desc='dataset',
                         disable=not progress) as bar:
                for name in names:
                    if max_images is not None and written >= max_images:
                        break
                    try:
                        with opener(name) as f:
                            img = open_image(f, name)  # a decompression bomb is skipped like any unreadable file
                            img = PIL.ImageOps.exif_transpose(img)
                            img = img.convert('RGB')
                    except Exception:  # any decoder failure: count it and go on
                        skipped.append(name)
                        continue
                    stretched += transform is None and img.size[0] != img.size[1]
                    img = make_square(img, resolution, transform)
                    arcname = f'{written // 1000:05d}/img{written:08d}.png'
                    with out.open(arcname, 'w') as f:
                        img.save(f, format='PNG', compress_level=1)
                    if labels is not None:
                        out_labels.append([arcname, labels.get(name)])
                    written += 1
                    bar.update(1)
                if labels is not None and any(label is None for _, label in out_labels):
                    print('warning: some images have no label in the source dataset.json; labels are dropped',
                          file=sys.stderr)
                has_labels = labels is not None and written and all(label is not None for _, label in out_labels)
                out.writestr('dataset.json', json.dumps({'labels': out_labels if has_labels else None}))
            if written == 0:
                raise StylescopeError(f'--source {source}: none of its {len(names)} image files could be read; '
                                      'check that they are real pictures.')
    except OSError as e:
        raise StylescopeError(f'could not write {dest} ({e.strerror or e}); check the folder is writable and has '
                              f'free space.') from None
    return written, skipped, stretched
