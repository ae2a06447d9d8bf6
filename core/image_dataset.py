"""Dataset images: a folder or zip in the official dataset_tool layout, read without torch (training,
`metrics`, the quiz and the explorer read datasets through it; train/dataset.py makes it a torch Dataset).

Layout (shared/reference/official-stylegan2-ada.md, 1d): image files anywhere below the root
(sorted by relative path, forward slashes), plus an optional `dataset.json` with
`{"labels": [["00000/img00000000.png", 6], ...]}` (integer labels become one-hot vectors,
lists of floats stay vectors). Every image must be square, of one power-of-two size, and RGB
or grayscale; anything else stops with one sentence naming the first bad file and the
`python main.py dataset` command that fixes it. Items are uint8 [C, H, W] images and float32 labels.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from core.bounded_read import parse_json, read_json_file, read_member
from core.errors import StylescopeError
from core.image_files import open_image

# What the dataset reader and `dataset` (train/dataset_tool.py) read.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff', '.gif', '.ppm', '.pgm')
# dataset.json of 1.3 million labelled images (ImageNet) is about 60 MB.
MAX_LABELS_BYTES = 256 << 20
CHANNELS = {'RGB': 3, 'L': 1}
MAX_CLASSES = 100_000  # ImageNet-21k has 21,841; a class index past this is a damaged file, not a label
MAX_LABEL_VALUES = 1 << 28  # one-hot labels of every image, float32: 1 GiB


def fix_command(path, resolution=None, transform=True):
    """The `dataset` command line that turns `path` into a valid training zip."""
    root = os.fspath(path).rstrip('/\\')
    stem = os.path.splitext(os.path.basename(root))[0] or 'dataset'
    res = resolution if resolution and resolution & (resolution - 1) == 0 else 'N'
    return (f'python main.py dataset --source {root} --dest {stem}-{res}.zip --resolution {res}'
            + (' --transform center-crop' if transform else ''))



def read_dataset_json(where, path=None, archive=None):
    """The "labels" entry of a dataset.json (None when it has none), from the file at `path` or
    the member of an open zip `archive`; `where` names it. Its size is checked before it is read
    and its nesting while it is parsed (core.bounded_read), so a zip bomb or a sparse file of
    gigabytes is one sentence, not an allocation."""
    if archive is not None:
        data = parse_json(read_member(archive, 'dataset.json', where, 'labels file', MAX_LABELS_BYTES), where,
                          'labels file')
    else:
        data = read_json_file(path, 'labels file', MAX_LABELS_BYTES)
    if not isinstance(data, dict):
        raise StylescopeError(f"labels file '{where}' is not a JSON object of the form {{\"labels\": [[file, label], "
                              '...]}: fix it or delete it to train without labels')
    return data.get('labels')


class ImageFolder:
    """Images of a folder or zip; len() counts x-flipped copies when xflip=True."""

    def __init__(self, path, use_labels=False, xflip=False, max_size=None, random_seed=0):
        self.path = os.fspath(path)
        self.use_labels = use_labels
        if not os.path.exists(self.path):
            raise StylescopeError(f'dataset {self.path} does not exist; give a folder of images or a zip made with '
                                  f"'python main.py dataset'.")
        self._zip = None
        self._zip_pid = None
        if os.path.isdir(self.path):
            self._kind = 'dir'
            names = []
            for root, _dirs, files in os.walk(self.path):
                for fname in files:
                    rel = os.path.relpath(os.path.join(root, fname), self.path).replace(os.sep, '/')
                    names.append(rel)
        else:
            self._kind = 'zip'
            if not zipfile.is_zipfile(self.path):
                raise StylescopeError(f'dataset {self.path} is neither a folder nor a zip file; make one with: '
                                      f'{fix_command(self.path)}.')
            names = self._open_zip().namelist()
        self.image_names = sorted(n for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
        if not self.image_names:
            raise StylescopeError(f'dataset {self.path} holds no images ({", ".join(IMAGE_EXTENSIONS)}); point '
                                  f'--data at a folder or zip of images.')
        self.name = os.path.splitext(os.path.basename(self.path.rstrip('/\\')))[0]
        self._check_images()
        self._raw_labels = self._load_labels(names)
        if use_labels and self._raw_labels is None:
            raise StylescopeError(f'dataset {self.path} has no labels for every image (dataset.json), so it cannot '
                                  f'train a conditional model; drop --cond or add labels to dataset.json.')

        # Which raw images make up the dataset: an optional seeded subset, then x-flipped copies.
        self._raw_idx = np.arange(len(self.image_names), dtype=np.int64)
        if max_size is not None and max_size < len(self._raw_idx):
            rnd = np.random.RandomState(random_seed)
            self._raw_idx = np.sort(rnd.permutation(self._raw_idx)[:max_size])
        self._xflip = np.zeros(len(self._raw_idx), dtype=bool)
        if xflip:
            self._raw_idx = np.tile(self._raw_idx, 2)
            self._xflip = np.concatenate([self._xflip, np.ones_like(self._xflip)])

    # -- shape checks ------------------------------------------------------------------------

    def _check_images(self):
        """Read every image header: square, one power-of-two size, RGB or L, decodable header."""
        first = None
        for name in self.image_names:
            where = self._where(name)
            try:
                with self._open_file(name) as f:
                    img = open_image(f, where)
                    size, mode = img.size, img.mode
            except StylescopeError:
                raise
            except Exception:
                raise StylescopeError(f'{where} is not a readable image; remove it or rebuild the dataset with: '
                                      f'{fix_command(self.path)} (it skips unreadable files).') from None
            w, h = size
            if w != h:
                raise StylescopeError(f'{where} is {w}x{h}, not square; make a square dataset with: '
                                      f'{fix_command(self.path, first and first[0])}.')
            if w < 4 or w & (w - 1):
                raise StylescopeError(f'{where} is {w}x{h}, not a power-of-two size; resize the dataset with: '
                                      f'{fix_command(self.path, 1 << max(2, round(np.log2(max(w, 4)))))}.')
            if mode not in CHANNELS:
                raise StylescopeError(f"{where} has colour mode '{mode}', not RGB or grayscale; convert the dataset "
                                      f'to RGB with: {fix_command(self.path, w)}.')
            if first is None:
                first = (w, mode, name)
            elif w != first[0]:
                raise StylescopeError(f'{where} is {w}x{w} but {first[2]} is {first[0]}x{first[0]}; give every '
                                      f'image one size with: {fix_command(self.path, first[0])}.')
            elif CHANNELS[mode] != CHANNELS[first[1]]:
                raise StylescopeError(f"{where} is '{mode}' but {first[2]} is '{first[1]}'; give every image the "
                                      f'same channels with: {fix_command(self.path, first[0])}.')
        self.resolution = first[0]
        self.num_channels = CHANNELS[first[1]]

    # -- labels ------------------------------------------------------------------------------

    def _load_labels(self, names):
        if 'dataset.json' not in names:
            return None
        where = self._where('dataset.json')
        labels = read_dataset_json(where, os.path.join(self.path, 'dataset.json'),
                                   self._open_zip() if self._kind == 'zip' else None)
        if labels is None:
            return None
        try:
            table = {str(fname).replace('\\', '/'): label for fname, label in labels}
        except (TypeError, ValueError):
            raise StylescopeError(f'{where}: "labels" must be a list of [file, label] pairs; fix it or delete '
                                  f'the file to train without labels.') from None
        if any(name not in table for name in self.image_names):
            return None  # as the official loader: labels only when every image has one
        raw = [table[name] for name in self.image_names]
        try:
            if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw):
                if min(raw) < 0:
                    raise ValueError
                classes = max(raw) + 1
                if classes > MAX_CLASSES or classes * len(raw) > MAX_LABEL_VALUES:
                    raise StylescopeError(f'{where}: class {classes - 1:,} makes {classes:,} one-hot classes for '
                                          f'{len(raw):,} images, more than Stylescope trains; number the classes '
                                          'from 0 without gaps, or delete the file to train without labels.')
                one_hot = np.zeros([len(raw), classes], dtype=np.float32)
                one_hot[np.arange(len(raw)), np.asarray(raw, dtype=np.int64)] = 1
                return one_hot
            vectors = np.asarray(raw, dtype=np.float32)
            if vectors.ndim == 1:
                vectors = vectors[:, None]
            if vectors.ndim != 2:
                raise ValueError
            return vectors
        except (TypeError, ValueError):
            raise StylescopeError(f'{where}: labels must be non-negative integers (classes) or equal-length lists '
                                  f'of numbers; fix the file or delete it to train without labels.') from None

    # -- file access -------------------------------------------------------------------------

    def _where(self, name):
        return os.path.join(self.path, name) if self._kind == 'dir' else f'{self.path}:{name}'

    def _open_zip(self):
        if self._zip is None or self._zip_pid != os.getpid():  # one handle per (worker) process
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as e:
                raise StylescopeError(f'dataset {self.path} is a damaged zip ({e}); rebuild it with: '
                                      f'{fix_command(self.path)}.') from None
            self._zip_pid = os.getpid()
        return self._zip

    def _open_file(self, name):
        if self._kind == 'dir':
            return open(os.path.join(self.path, name), 'rb')
        try:
            return self._open_zip().open(name)  # a seekable stream: header checks read a few bytes only
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:  # damaged member header
            raise StylescopeError(f'{self._where(name)} cannot be read from the zip ({e}); rebuild the dataset with: '
                                  f'{fix_command(self.path)}.') from None

    def __getstate__(self):
        return {**self.__dict__, '_zip': None, '_zip_pid': None}

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def load_raw_image(self, raw_idx) -> np.ndarray:
        """uint8 [C, H, W] of image raw_idx; a file that fails to decode stops with its name."""
        name = self.image_names[raw_idx]
        try:
            with self._open_file(name) as f:
                img = open_image(f, self._where(name))
                img.load()
        except StylescopeError:
            raise
        except Exception:
            raise StylescopeError(f'{self._where(name)} is damaged and cannot be decoded; remove it or rebuild the '
                                  f'dataset with: {fix_command(self.path, self.resolution)} (it skips unreadable '
                                  f'files).') from None
        array = np.asarray(img)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.shape != (self.resolution, self.resolution, self.num_channels):
            raise StylescopeError(f'{self._where(name)} decodes to shape {list(array.shape)}, not '
                                  f'{[self.resolution, self.resolution, self.num_channels]}; rebuild the dataset '
                                  f'with: {fix_command(self.path, self.resolution)}.')
        return np.array(array.transpose(2, 0, 1), order='C')  # a writable copy

    # -- items -------------------------------------------------------------------------------

    def __len__(self):
        return len(self._raw_idx)

    def load_image(self, idx) -> np.ndarray:
        """uint8 [C, H, W] of item idx (x-flipped for the flipped copies)."""
        image = self.load_raw_image(int(self._raw_idx[idx]))
        return np.ascontiguousarray(image[:, :, ::-1]) if self._xflip[idx] else image

    def get_label(self, idx) -> np.ndarray:
        if not self.use_labels or self._raw_labels is None:
            return np.zeros([0], dtype=np.float32)
        return self._raw_labels[self._raw_idx[idx]].copy()

    @property
    def label_dim(self):
        return self._raw_labels.shape[1] if self.use_labels and self._raw_labels is not None else 0

    @property
    def has_labels(self):
        return self._raw_labels is not None

    def kwargs(self):
        """What rebuilds this dataset (stored in snapshots as training_set_kwargs)."""
        return dict(path=os.path.abspath(self.path), use_labels=self.use_labels, xflip=bool(self._xflip.any()),
                    resolution=self.resolution, num_channels=self.num_channels, size=len(self))
