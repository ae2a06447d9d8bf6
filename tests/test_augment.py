"""ADA augmentations checked against their definitions, and the adaptive p."""
import math

import numpy as np
import pytest
import torch

from core.errors import StylescopeError
from train.augment import AdaptiveAugment, AugmentPipe, make_augment_pipe


def _images(n=16, c=3, size=16, seed=0):
    return torch.rand([n, c, size, size], generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _smooth(n=4, size=16):
    """Low-frequency images, for checks that go through bilinear resampling."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing='ij')
    imgs = [torch.stack([torch.sin(1.3 * xx + k), torch.cos(0.9 * yy - k), 0.5 * xx * yy]) for k in range(n)]
    return torch.stack(imgs)


def _pipe(p=1.0, **multipliers):
    pipe = AugmentPipe(**multipliers)
    pipe.p.fill_(p)
    return pipe


def _twice(pipe, x, seed):
    torch.manual_seed(seed)
    y = pipe(x)
    torch.manual_seed(seed)
    return y, pipe(y)


def test_p_zero_leaves_images_untouched():
    x = _images()
    assert make_augment_pipe('bgc', 0.0)(x) is x
    pipe = make_augment_pipe('bgc', 1e-9)   # some transforms may run, nearly every sample untouched
    torch.manual_seed(0)
    assert torch.equal(pipe(x), x)


def test_unknown_spec_is_refused():
    with pytest.raises(StylescopeError, match="--augpipe 'bgcx' is unknown"):
        make_augment_pipe('bgcx')


def test_xflip_flips_or_not_and_twice_is_identity():
    x = _images(64)
    y, z = _twice(_pipe(xflip=1), x, seed=1)
    flipped = [torch.equal(y[i], x[i].flip(2)) for i in range(64)]
    same = [torch.equal(y[i], x[i]) for i in range(64)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 16 < sum(flipped) < 48                    # a coin flip per image at p = 1
    assert torch.equal(z, x)                         # the same flips applied twice


def test_rotate90_is_a_quarter_turn_and_four_turns_are_identity():
    x = _images(32)
    torch.manual_seed(2)
    y = _pipe(rotate90=1)(x)
    for i in range(32):
        assert any(torch.equal(y[i], torch.rot90(x[i], k, dims=(1, 2))) for k in range(4))
    pipe = _pipe(rotate90=1)
    z = x
    for _ in range(4):
        torch.manual_seed(3)
        z = pipe(z)
    assert torch.equal(z, x)


def test_integer_translation_moves_whole_pixels_with_reflection():
    x = _images(16, size=16)
    torch.manual_seed(4)
    y = _pipe(xint=1)(x)
    pad = np.pad(x.numpy(), [(0, 0), (0, 0), (2, 2), (2, 2)], mode='reflect')   # xint_max 0.125 * 16 = 2 px
    moved = 0
    for i in range(16):
        shifts = [(tx, ty) for tx in range(-2, 3) for ty in range(-2, 3)
                  if np.array_equal(y[i].numpy(), pad[i, :, 2 - ty:18 - ty, 2 - tx:18 - tx])]
        assert shifts, f'sample {i} is not an integer shift of its input'
        moved += shifts != [(0, 0)]
    assert moved > 8


def test_geometric_resampling_follows_the_matrix():
    x = _smooth()
    N = x.shape[0]
    identity = torch.eye(3).repeat(N, 1, 1)
    assert (AugmentPipe._resample(x, identity) - x).abs().max() < 0.05    # only the anti-aliasing blur
    quarter = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]).repeat(N, 1, 1)
    rotated = AugmentPipe._resample(x, quarter)
    best = min((rotated - torch.rot90(x, k, dims=(2, 3))).abs().max().item() for k in (1, 3))
    assert best < 0.05
    half = torch.tensor([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 1]]).repeat(N, 1, 1)   # sample the centre: 2x zoom
    zoomed = AugmentPipe._resample(x, half)
    assert (zoomed[:, :, 6:10, 6:10].mean() - x[:, :, 7:9, 7:9].mean()).abs() < 0.05


def test_geometric_stage_keeps_shape_and_untouched_samples():
    x = _smooth(8)
    torch.manual_seed(5)
    y = make_augment_pipe('geom', 0.5)(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert any(torch.equal(y[i], x[i]) for i in range(8)) and not torch.equal(y, x)


def test_brightness_adds_and_contrast_multiplies_a_constant():
    x = _images(8)
    torch.manual_seed(6)
    y = _pipe(brightness=1)(x)
    offset = (y - x).flatten(1)
    assert torch.allclose(offset, offset[:, :1].expand_as(offset), atol=1e-6)
    assert offset[:, 0].abs().max() > 0.01
    torch.manual_seed(7)
    y = _pipe(contrast=1)(x)
    ratio = (y / x).flatten(1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-4)


def test_lumaflip_twice_is_identity_and_hue_saturation_keep_grey_and_luma():
    x = _images(8)
    y, z = _twice(_pipe(lumaflip=1), x, seed=8)
    assert torch.allclose(z, x, atol=1e-5) and not torch.allclose(y, x)
    grey = _images(8, c=1).repeat(1, 3, 1, 1)
    torch.manual_seed(9)
    assert torch.allclose(_pipe(hue=1, saturation=1)(grey), grey, atol=1e-5)
    torch.manual_seed(10)
    y = _pipe(hue=1)(x)
    assert torch.allclose(y.mean(1), x.mean(1), atol=1e-5)                    # luma kept
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1), atol=1e-4)            # a rotation
    assert not torch.allclose(y, x, atol=1e-3)


def test_full_pipeline_on_rgb_and_grayscale_and_twice_differentiable():
    for c in (1, 3):
        x = _images(4, c=c).requires_grad_(True)
        w = torch.nn.Parameter(torch.randn(2, c, 3, 3))
        torch.manual_seed(11)
        y = make_augment_pipe('bgc', 0.8)(x)
        assert y.shape == x.shape
        score = torch.nn.functional.conv2d(y, w).square().sum()
        grad, = torch.autograd.grad(score, x, create_graph=True)   # R1 differentiates twice
        grad.square().sum().backward()
        assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_adaptive_p_moves_toward_the_target():
    pipe = make_augment_pipe('bgc', 0.0)
    ada = AdaptiveAugment(pipe, target=0.6, batch=32, interval=4, ada_kimg=500)
    step = 32 * 4 / 500_000
    for _ in range(3):                      # D overfits: sign(D(real)) = +1 > 0.6, so p grows
        ada.accumulate(torch.ones(32, 1))
        assert ada.update() == 1.0
    assert float(pipe.p) == pytest.approx(3 * step)
    ada.accumulate(torch.tensor([1.0, -1.0, -1.0, 1.0]))   # r_t = 0 < 0.6: p shrinks
    ada.update()
    assert float(pipe.p) == pytest.approx(2 * step)
    for _ in range(5):
        ada.accumulate(-torch.ones(8))
        ada.update()
    assert float(pipe.p) == 0.0            # never below zero
    fixed = make_augment_pipe('bgc', 0.3)
    hold = AdaptiveAugment(fixed, target=None)
    hold.accumulate(torch.ones(8))
    assert hold.update() == 1.0 and float(fixed.p) == pytest.approx(0.3)


def test_adaptive_state_round_trips():
    pipe = make_augment_pipe('bgc', 0.1)
    ada = AdaptiveAugment(pipe)
    ada.accumulate(torch.tensor([1.0, -1.0, 1.0]))
    other = AdaptiveAugment(make_augment_pipe('bgc', 0.1))
    other.load_state_dict(ada.state_dict())
    assert other.update() == pytest.approx(1 / 3) and math.isclose(ada.update(), 1 / 3)
