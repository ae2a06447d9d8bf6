"""Training images as a torch Dataset (core.image_dataset reads them), and an endless sampler.

Items are (uint8 [C, H, W], float32 label) tensors; see core/image_dataset.py for the layout
and the checks.
"""
from __future__ import annotations

import torch

from core.image_dataset import ImageFolder


class ImageDataset(ImageFolder, torch.utils.data.Dataset):
    """core.image_dataset.ImageFolder as (image, label) tensors for a DataLoader."""

    def __getitem__(self, idx):
        return torch.from_numpy(self.load_image(idx)), torch.from_numpy(self.get_label(idx))


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
