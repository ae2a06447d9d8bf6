"""Helpers shared by the checkpoint-format tests (test_formats_*.py)."""
import os
import subprocess

import numpy as np
import torch


def to_uint8(img):
    """NCHW float in [-1, 1] -> uint8 the way images are saved (DESIGN.md)."""
    return (torch.as_tensor(img, dtype=torch.float64) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def grey_diff(a, b):
    """(max, mean) absolute difference in grey levels of two image batches."""
    d = (to_uint8(a).int() - to_uint8(b).int()).abs().double()
    return int(d.max()), float(d.mean())


def seeds_z(seeds, z_dim):
    """z for seeds as every tool draws them: RandomState(seed).randn(z_dim)."""
    return torch.from_numpy(np.stack([np.random.RandomState(s).randn(z_dim) for s in seeds]))


def assert_one_sentence(excinfo, name):
    message = str(excinfo.value)
    assert str(name) in message, message
    assert '\n' not in message and message.endswith('.'), message


def assert_same_tensors(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype and torch.equal(sa[name], sb[name]), name


class Payload:
    """Pickles as a call of `reduce_value` = (callable, args)."""

    def __init__(self, reduce_value):
        self.reduce_value = reduce_value

    def __reduce__(self):
        return self.reduce_value


def system_payload(marker):
    return Payload((os.system, (f'touch {marker}',)))


def subprocess_payload(marker):
    return Payload((subprocess.call, (['touch', str(marker)],)))
