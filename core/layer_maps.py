"""A synthesis layer's feature maps for the layer viewer, as plain data: `LayerCapture` (what the
renderer keeps of one layer's output for the picture; core/layer_capture.py makes it from the
tensor) and its views, each an RGB image on one colour scale: a mosaic of every channel, one
channel large, the mean over the channels, or a mosaic of the most active channels. No torch, no
Qt: the explorer's layer viewer and the `layers` command draw the same pixels from the same
numbers.

Colours: one diverging scale centred on 0 per view, blue for negative values, light grey for 0,
red for positive, running from -m to +m where m is the largest magnitude the view shows (its
`ColourScale`), so a colour means the same value in every tile of a mosaic.
"""
import math
from dataclasses import dataclass

import numpy as np

VIEWS = ('mosaic', 'channel', 'mean', 'active')
VIEW_NAMES = {'mosaic': 'all channels', 'channel': 'one channel', 'mean': 'mean of the channels',
              'active': 'most active channels'}
DEFAULT_ACTIVE = 16     # channels in the 'active' view
GAP_COLOUR = (24, 24, 24)
# The diverging map's anchors at -1, 0, +1 (blue, light grey, red), linearly interpolated.
_ANCHORS = np.array([[59, 76, 192], [221, 221, 221], [180, 4, 38]], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class LayerCapture:
    """One synthesis layer's output for one picture (the batch's first image).

    layer: its name ('b16.conv1', 'b16.torgb', 'L3_52_512', 'input'); shape: (C, H, W) of the
    output; maps: float32 [C, h, w], the output itself (stride 1) or, for a layer too large to
    carry whole (more than core.layer_capture.MAX_VALUES values), its means over stride x stride
    pixels; value_range: (min, max) over the whole output; channel_mean / channel_activity: [C],
    each channel's mean and mean absolute value (how active it is), over the whole output;
    dtype: what the layer computed in ('float32', 'float16', 'bfloat16')."""
    layer: str
    shape: tuple
    maps: np.ndarray
    stride: int
    value_range: tuple
    channel_mean: np.ndarray
    channel_activity: np.ndarray
    dtype: str = 'float32'

    def __post_init__(self):
        c, h, w = (int(n) for n in self.shape)
        maps = np.asarray(self.maps, dtype=np.float32)
        assert maps.ndim == 3 and maps.shape[0] == c, f'maps {maps.shape} for a layer of shape {self.shape}'
        assert maps.shape[1] == math.ceil(h / self.stride) and maps.shape[2] == math.ceil(w / self.stride), \
            f'maps {maps.shape} are not the {self.stride}x{self.stride} means of {self.shape}'
        for name in ('channel_mean', 'channel_activity'):
            values = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            assert values.shape == (c,), f'{name} has {values.size} values for {c} channels'
            object.__setattr__(self, name, values)
        object.__setattr__(self, 'maps', maps)
        object.__setattr__(self, 'shape', (c, h, w))
        object.__setattr__(self, 'value_range', (float(self.value_range[0]), float(self.value_range[1])))

    @property
    def channels(self):
        return self.shape[0]

    def most_active(self, count=DEFAULT_ACTIVE):
        """The indices of the `count` channels of largest mean |value|, most active first."""
        order = np.argsort(-self.channel_activity, kind='stable')
        return [int(c) for c in order[:max(1, int(count))]]

    def describe(self):
        """'b16.conv1: 32 channels of 16x16, values -3.21 to 4.05 (float32)' (and the averaging)."""
        c, h, w = self.shape
        lo, hi = self.value_range
        text = f'{self.layer}: {c} channel{"s" * (c != 1)} of {w}x{h}, values {lo:.3g} to {hi:.3g} ({self.dtype})'
        if self.stride > 1:
            text += f'; shown as means of {self.stride}x{self.stride} pixels'
        return text


@dataclass(frozen=True)
class ColourScale:
    """Values from -limit (blue) through 0 (light grey) to +limit (red)."""
    limit: float

    @classmethod
    def of(cls, values):
        """The scale of the largest magnitude among `values` (1 when they are all 0)."""
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        m = float(np.abs(finite).max()) if finite.size else 0.0
        return cls(m if m > 0 else 1.0)

    def colours(self, values):
        """uint8 RGB [..., 3] of `values` (clipped to the scale; NaN shows as 0)."""
        t = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)) / self.limit, -1.0, 1.0)
        low = t < 0
        frac = np.where(low, t + 1, t)[..., None]  # position within the lower or the upper half
        lower = _ANCHORS[0] + frac * (_ANCHORS[1] - _ANCHORS[0])
        upper = _ANCHORS[1] + frac * (_ANCHORS[2] - _ANCHORS[1])
        return np.rint(np.where(low[..., None], lower, upper)).astype(np.uint8)

    def bar(self, width=256, height=12):
        """The scale as a horizontal strip [height, width, 3], -limit at the left."""
        row = self.colours(np.linspace(-self.limit, self.limit, max(2, int(width))))
        return np.repeat(row[None], max(1, int(height)), axis=0)

    def ticks(self):
        """(-limit, 0, +limit) as short labels."""
        return (f'{-self.limit:.3g}', '0', f'{self.limit:.3g}')


@dataclass(frozen=True, eq=False)
class LayerView:
    """One view of a capture: `image` uint8 [H, W, 3]; `scale` its ColourScale; `channels` the
    channels shown, in tile order (one for 'channel', none for 'mean'); `grid` (rows, cols) of the
    tiles, each `tile` (h, w) pixels, `gap` pixels apart; `title` in words."""
    image: np.ndarray
    scale: ColourScale
    channels: tuple
    grid: tuple
    tile: tuple
    gap: int
    title: str

    def channel_at(self, x, y):
        """The channel whose tile holds image pixel (x, y), or None (a gap, outside, or the mean)."""
        if not self.channels:
            return None
        rows, cols = self.grid
        th, tw = self.tile
        col, row = int(x) // (tw + self.gap), int(y) // (th + self.gap)
        if not (0 <= col < cols and 0 <= row < rows) or int(x) % (tw + self.gap) >= tw \
                or int(y) % (th + self.gap) >= th:
            return None
        index = row * cols + col
        return self.channels[index] if index < len(self.channels) else None


def mosaic_grid(count, tile_h=1, tile_w=1):
    """(rows, cols) for `count` tiles, as square as the tiles allow."""
    cols = max(1, math.ceil(math.sqrt(count * tile_h / max(tile_w, 1))))
    return math.ceil(count / cols), cols


def mosaic(maps, scale, gap=1):
    """Tiles of maps [n, h, w] in a near-square grid on one colour scale: (uint8 [H, W, 3], (rows, cols))."""
    n, h, w = maps.shape
    rows, cols = mosaic_grid(n, h, w)
    image = np.empty([rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3], dtype=np.uint8)
    image[:] = GAP_COLOUR
    colours = scale.colours(maps)
    for i in range(n):
        r, c = divmod(i, cols)
        image[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = colours[i]
    return image, (rows, cols)


def layer_view(capture, mode='mosaic', channel=0, count=DEFAULT_ACTIVE, gap=1):
    """The view `mode` (one of VIEWS) of a LayerCapture as a LayerView: every channel, channel
    `channel` alone, the mean over channels, or the `count` most active channels (largest mean
    |value|), most active first."""
    if mode not in VIEWS:
        raise ValueError(f'unknown layer view {mode!r}: use one of {", ".join(VIEWS)}')
    maps = capture.maps
    _, h, w = maps.shape
    if mode == 'mean':
        values = maps.mean(axis=0)
        scale = ColourScale.of(values)
        return LayerView(scale.colours(values), scale, (), (1, 1), (h, w), 0,
                         f'{capture.layer}: mean of its {capture.channels} channels')
    if mode == 'channel':
        c = min(max(int(channel), 0), capture.channels - 1)
        scale = ColourScale.of(maps[c])
        return LayerView(scale.colours(maps[c]), scale, (c,), (1, 1), (h, w), 0,
                         f'{capture.layer}: channel {c} of {capture.channels}')
    channels = list(range(capture.channels)) if mode == 'mosaic' else capture.most_active(count)
    chosen = maps[channels]
    scale = ColourScale.of(chosen)
    image, grid = mosaic(chosen, scale, gap)
    title = (f'{capture.layer}: all {capture.channels} channels' if mode == 'mosaic'
             else f'{capture.layer}: the {len(channels)} most active of {capture.channels} channels')
    return LayerView(image, scale, tuple(channels), grid, (h, w), gap, title)


def enlarge(image, factor):
    """Each pixel as a factor x factor block (nearest neighbour), for small maps."""
    factor = max(1, int(factor))
    return image if factor == 1 else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def sheet(view, zoom=1, bar_height=12, gap=4):
    """A view enlarged `zoom` times with its colour scale below it, as one uint8 image (the
    `layers` command's PNG): the bar runs from -limit (left) to +limit (right) across the width."""
    image = enlarge(view.image, zoom)
    bar = view.scale.bar(image.shape[1], bar_height)
    out = np.empty([image.shape[0] + gap + bar.shape[0], image.shape[1], 3], dtype=np.uint8)
    out[:] = GAP_COLOUR
    out[:image.shape[0]] = image
    out[image.shape[0] + gap:] = bar
    return out


def auto_zoom(view, target=512, most=64):
    """The whole zoom that brings a view's longer side to about `target` pixels (1 if it is larger)."""
    side = max(view.image.shape[:2])
    return int(min(most, max(1, target // max(side, 1))))
