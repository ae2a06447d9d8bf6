"""ws rows: which row drives which layer group, and row ranges typed by users. No torch.

A StyleGAN2 generator reads ws [N, num_ws, w_dim]; rows 2j and 2j+1 belong to the block of
resolution 4 * 2**j (the StyleGAN paper's convention, as in DESIGN.md: 1024 -> coarse 0-3,
middle 4-7, fine 8-17): coarse = blocks up to 8x8, middle = 16 and 32, fine = 64 and above.
"""
from core.errors import StylescopeError

GROUPS = ('coarse', 'middle', 'fine')


def layer_groups(num_ws_or_resolution=None, *, num_ws=None, resolution=None) -> dict:
    """{'coarse': (start, end), 'middle': ..., 'fine': ...} ws index ranges, end exclusive (a
    group a small network lacks is empty: start == end).

    Pass a Generator (anything with .num_ws), num_ws=, resolution=, or one int: ints that could be
    either (4, 8, 16) must be passed by keyword. A StyleGAN3 generator groups its rows itself, by
    each layer's band (core.networks_stylegan3.SynthesisNetwork.layer_groups).
    """
    own = getattr(getattr(num_ws_or_resolution, 'synthesis', None), 'layer_groups', None)
    if own is not None:
        return own()
    n = _resolve_num_ws(num_ws_or_resolution, num_ws, resolution)
    res_of = [4 << (i // 2) for i in range(n)]
    ends = [sum(1 for r in res_of if r <= top) for top in (8, 32, res_of[-1])]
    return {'coarse': (0, ends[0]), 'middle': (ends[0], ends[1]), 'fine': (ends[1], ends[2])}


def _resolve_num_ws(value, num_ws, resolution):
    if value is not None and hasattr(value, 'num_ws'):
        return int(value.num_ws)
    if value is not None:
        value = int(value)
        is_resolution = value >= 4 and value & (value - 1) == 0
        if is_resolution and value < 32:  # 4, 8, 16 are also num_ws of 8, 32, 512 models
            raise ValueError(f'layer_groups({value}) is ambiguous; pass num_ws={value} or resolution={value}')
        num_ws, resolution = (None, value) if is_resolution else (value, None)
    if resolution is not None:
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f'resolution must be a power of two >= 4, got {resolution}')
        return 2 * int(resolution).bit_length() - 4
    if num_ws is None or num_ws < 2 or num_ws % 2:
        raise ValueError(f'layer_groups needs a Generator, an even num_ws >= 2 or a resolution, got {num_ws}')
    return int(num_ws)


def parse_row_range(text, num_ws, flag='--layers'):
    """'A-B' (inclusive) or 'A' -> (start, end) with end exclusive; None -> all ws."""
    if text is None:
        return 0, num_ws
    first, _, last = str(text).partition('-')
    try:
        start, end = int(first), int(last or first) + 1
    except ValueError:
        start, end = -1, -1
    if not 0 <= start < end <= num_ws:
        raise StylescopeError(f"{flag} '{text}' is not a ws range of this network: use A-B with "
                              f'0 <= A <= B <= {num_ws - 1}')
    return start, end


def rows_text(start, end):
    """(start, end) exclusive -> 'none', '4' or '4-7'."""
    return 'none' if end <= start else f'{start}' if end == start + 1 else f'{start}-{end - 1}'
