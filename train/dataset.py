"""Training images: a folder or zip in the official dataset_tool layout, and an endless sampler.

Layout (shared/reference/official-stylegan2-ada.md, 1d): image files anywhere below the root
(sorted by relative path, forward slashes), plus an optional `dataset.json` with
`{"labels": [["00000/img00000000.png", 6], ...]}` (integer labels become one-hot vectors,
lists of floats stay vectors). Every image must be square, of one power-of-two size, and RGB
or grayscale; anything else stops with one sentence naming the first bad file and the
`python main.py dataset` command that fixes it. Items are (uint8 [C, H, W], float32 label).
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import PIL.Image
import torch

from core.errors import StylescopeError

from train.dataset_tool import IMAGE_EXTENSIONS  # noqa: E402 (one list for the reader and the tool)
CHANNELS = {'RGB': 3, 'L': 1}


def fix_command(path, resolution=None, transform=True):
    """The `dataset` command line that turns `path` into a valid training zip."""
    root = os.fspath(path).rstrip('/\\')
    stem = os.path.splitext(os.path.basename(root))[0] or 'dataset'
    res = resolution if resolution and resolution & (resolution - 1) == 0 else 'N'
    return (f'python main.py dataset --source {root} --dest {stem}-{res}.zip --resolution {res}'
            + (' --transform center-crop' if transform else ''))


class ImageDataset(torch.utils.data.Dataset):
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
                    img = PIL.Image.open(f)
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
        try:
            with self._open_file('dataset.json') as f:
                labels = json.load(f).get('labels')
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise StylescopeError(f'{where} is not valid JSON of the form {{"labels": [[file, label], ...]}}; '
                                  f'fix it or delete it to train without labels.') from None
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
                ints = np.asarray(raw, dtype=np.int64)
                if ints.min() < 0:
                    raise ValueError
                return np.eye(int(ints.max()) + 1, dtype=np.float32)[ints]
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
                img = PIL.Image.open(f)
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

    # -- the Dataset protocol ----------------------------------------------------------------

    def __len__(self):
        return len(self._raw_idx)

    def __getitem__(self, idx):
        image = self.load_raw_image(int(self._raw_idx[idx]))
        if self._xflip[idx]:
            image = np.ascontiguousarray(image[:, :, ::-1])
        return torch.from_numpy(image), torch.from_numpy(self.get_label(idx))

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


class InfiniteSampler(torch.utils.data.Sampler):
    """Endless stream of dataset indices: epoch e is a permutation seeded by (seed, e); process
    `rank` of `world` takes every world-th index. `start` skips that many of this rank's items,
    which is how a resumed run sees exactly the images it would have seen."""

    def __init__(self, size, rank=0, world=1, seed=0, shuffle=True, start=0):
        assert size > 0 and 0 <= rank < world
        self.size, self.rank, self.world, self.seed, self.shuffle, self.start = size, rank, world, seed, shuffle, start

    def _epoch(self, epoch):
        if not self.shuffle:
            return torch.arange(self.size)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=gen)

    def __iter__(self):
        k = self.start
        epoch, order = -1, None
        while True:
            pos = k * self.world + self.rank
            if pos // self.size != epoch:
                epoch = pos // self.size
                order = self._epoch(epoch)
            yield int(order[pos % self.size])
            k += 1
