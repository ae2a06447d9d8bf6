"""A change in progress (`Gesture`: which control, which ws rows) and the resolution a drag renders
its frames at. No Qt, no torch: the policy is tested without a display.

While a slider is dragged and full frames are slow, the explorer renders previews: synthesis
stops at a smaller block (core.render.Renderer), chosen so that a frame takes about
PREVIEW_BUDGET_MS. A drag that only moves ws rows finer than the preview renders in full, since
a preview could not show it.
"""
from dataclasses import dataclass

from core.noise_spec import layer_resolution

PREVIEW_ABOVE_MS = 30.0   # while dragging, render previews when a full frame takes longer than this
PREVIEW_BUDGET_MS = 100.0  # ... choosing the preview resolution to take about this long


@dataclass(frozen=True)
class Gesture:
    """Many small changes that make one undo step (a slider drag). control: what is moved
    ('alpha', 'range', 'psi', 'cutoff', 'noise'); key: which one (a direction index, a noise
    layer's name, or None); rows: the ws rows the change moves (None: all of them)."""
    control: str
    key: object = None
    rows: tuple = None

    def __post_init__(self):
        if self.rows is not None:
            object.__setattr__(self, 'rows', tuple(int(r) for r in self.rows))


def block_rows(info, resolution):
    """The ws rows of the synthesis block of `resolution` (the network info's `blocks`)."""
    for block in info['blocks']:
        if block['resolution'] == resolution:
            return tuple(range(block['ws_start'], block['ws_start'] + block['ws_count']))
    return ()


def noise_layer_rows(info, layer):
    """The ws rows of the block a noise layer ('b16.conv0') belongs to: its noise changes them."""
    return block_rows(info, layer_resolution(layer))


def preview_resolution(info, gesture, last_full_ms):
    """None (render in full) or the preview resolution for a drag of `gesture`: the largest whose
    estimated time (the last full frame's, scaled by the blocks' share of the work) fits
    PREVIEW_BUDGET_MS, at least 32 px (or half the network's)."""
    if not (info and info.get('can_preview') and last_full_ms > PREVIEW_ABOVE_MS):
        return None
    blocks = info['blocks']
    total = sum(b['cost'] for b in blocks)
    final = blocks[-1]['resolution']
    chosen, done = min(32, final // 2), 0
    for block in blocks:
        done += block['cost']
        if last_full_ms * done / total <= PREVIEW_BUDGET_MS:
            chosen = max(chosen, block['resolution'])
    if chosen >= final:
        return None
    preview_rows = {row for block in blocks if block['resolution'] <= chosen
                    for row in range(block['ws_start'], block['ws_start'] + block['ws_count'])}
    moved = range(info['num_ws']) if gesture is None or gesture.rows is None else gesture.rows
    return chosen if preview_rows & set(moved) else None
