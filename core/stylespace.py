"""StyleSpace (Wu et al., "StyleSpace analysis", 2021): single channels of the style vectors s,
the affine outputs s = affine(w) of each modulated layer, as edits.

- `style_layers(G)`: the modulated layers in ws order with their channel counts (StyleGAN2:
  'b4.conv1', 'b4.torgb', 'b8.conv0', ...; StyleGAN3: 'L0_36_512' ... 'L14_..._3'; the StyleGAN3
  input's affine moves the Fourier features and is not a style);
- `styles_of(G, ws)`: s of every layer for ws, as synthesis computes it;
- `style_statistics`: mean and standard deviation of every channel over mapped samples (a
  `StyleStats`): one channel's std is its slider unit;
- `StyleChannelRanking`: which channels are most tied to an attribute, from labelled samples: the
  difference of the channel's mean over positive and negative samples, divided by their pooled
  standard deviation (an effect size, |d| ~ 2.7 for a channel that decides the label by its sign);
- `style_channel_directions`: channels as a core.direction_set.DirectionSet of kind
  'style_channel' (its file, sessions, undo and sliders as every direction's), applied by the
  renderer as an offset on s (core.request.style_slider_offset owns that formula; `offset_vectors`
  sums a request's offsets per layer).

Facts: shared/reference/editing-methods.md section 1.4.
"""
import dataclasses

import numpy as np
import torch

from core.direction_set import SAMPLE_SEED, DirectionSet
from core.errors import Cancelled, StylescopeError, is_cancelled
from core.latent import ws_from_seeds
from core.request import STYLE_CHANNEL, StyleOffset

STATS_SAMPLES = 10_000  # the StyleCLIP port measures its channel statistics on about 11,000 samples
STYLE_LIMIT = 10.0      # a channel's slider runs over +-10 std (the StyleSpace notebook's range)
DEFAULT_TOP = 10        # channels a ranking keeps
SPREAD_FLOOR = 1e-3     # of a channel's std over samples: the least spread a ranking divides by


@dataclasses.dataclass(frozen=True)
class StyleLayer:
    """A modulated layer: its name, module, the ws row its affine reads, its channel count."""
    name: str
    module: object
    ws_row: int
    channels: int
    torgb: bool


def style_layers(G):
    """[StyleLayer] of every modulated layer, in ws order (module docstring)."""
    synthesis = G.synthesis
    if not hasattr(synthesis, 'blocks'):  # StyleGAN3: layer i reads ws row i + 1
        return [StyleLayer(name, layer, i + 1, int(layer.in_channels), bool(layer.is_torgb))
                for i, (name, layer) in enumerate(zip(synthesis.layer_names, synthesis.layers()))]
    out = []
    for block, (start, _count) in zip(synthesis.blocks(), synthesis.block_ws_ranges()):
        row = start
        for part in block.conv_layers():
            layer = getattr(block, part)
            out.append(StyleLayer(f'b{block.resolution}.{part}', layer, row, int(layer.in_channels), False))
            row += 1
        if block.num_torgb:
            out.append(StyleLayer(f'b{block.resolution}.torgb', block.torgb, row, int(block.torgb.in_channels), True))
    return out


def style_layer_table(G):
    """[dict(name, channels, ws, torgb)] of style_layers(G), plain values (for the explorer)."""
    return [dict(name=layer.name, channels=layer.channels, ws=layer.ws_row, torgb=layer.torgb)
            for layer in style_layers(G)]


def _by_name(G):
    return {layer.name: layer for layer in style_layers(G)}


def _ws_tensor(G, ws):
    ws = ws if isinstance(ws, torch.Tensor) else torch.from_numpy(np.asarray(ws, dtype=np.float32))
    ws = ws.to(G.mapping.w_avg.device, torch.float32)
    if ws.ndim == 2:
        ws = ws[None]
    assert ws.ndim == 3 and ws.shape[1:] == (G.num_ws, G.w_dim), \
        f'want ws [N, {G.num_ws}, {G.w_dim}], got {list(ws.shape)}'
    return ws


@torch.no_grad()
def styles_of(G, ws, layers=None):
    """{layer name: s [N, C] float64 numpy}: each modulated layer's affine(w) of its ws row, as
    synthesis computes it (before a ToRGB's weight gain). ws: [N, num_ws, w_dim] (or one
    [num_ws, w_dim]); layers: names to compute (default all)."""
    ws = _ws_tensor(G, ws)
    wanted = None if layers is None else set(layers)
    return {layer.name: layer.module.affine(ws[:, layer.ws_row]).to('cpu', torch.float64).numpy()
            for layer in style_layers(G) if wanted is None or layer.name in wanted}


# ----------------------------------------------------------------------------------------------
# Channel statistics over samples.

@dataclasses.dataclass(eq=False)
class StyleStats:
    """Mean and standard deviation of every style channel over `sample_count` mapped samples
    (z from RandomState(seed), truncated with psi): `layers` names in ws order, `mean` / `std`
    {name: float64 [C]}."""
    layers: tuple
    mean: dict
    std: dict
    sample_count: int
    seed: int = SAMPLE_SEED
    psi: float = 1.0

    def channels(self, layer):
        return len(self.mean[layer])


@torch.no_grad()
def style_statistics(G, n_samples=STATS_SAMPLES, seed=SAMPLE_SEED, psi=1.0, class_idx=None, chunk=1000,
                     progress=None, cancel=None):
    """StyleStats of G over n_samples samples (float64 sums, so the chunking changes nothing);
    progress(done, total) after each chunk; `cancel` (an Event) stops it with Cancelled."""
    from core.directions import iter_w_samples
    if n_samples < 2:
        raise StylescopeError(f'style statistics need at least 2 samples, not {n_samples}: use e.g. 10000')
    layers = style_layers(G)
    sums = {layer.name: np.zeros(layer.channels) for layer in layers}
    squares = {layer.name: np.zeros(layer.channels) for layer in layers}
    device = G.mapping.w_avg.device
    done = 0
    for w in iter_w_samples(G, n_samples, seed, chunk, psi=psi, class_idx=class_idx):
        w = torch.from_numpy(w).to(device, torch.float32)
        for layer in layers:  # mapping gives every ws row the same w
            s = layer.module.affine(w).to(torch.float64)
            sums[layer.name] += s.sum(dim=0).cpu().numpy()
            squares[layer.name] += s.square().sum(dim=0).cpu().numpy()
        done += len(w)
        if progress is not None:
            progress(done, n_samples)
        if is_cancelled(cancel):
            raise Cancelled('style statistics cancelled')
    mean = {name: sums[name] / done for name in sums}
    std = {name: np.sqrt(np.maximum(squares[name] / done - mean[name] ** 2, 0) * done / (done - 1)) for name in sums}
    return StyleStats(tuple(layer.name for layer in layers), mean, std, done, seed, float(psi))


# ----------------------------------------------------------------------------------------------
# Ranking channels by how much they tell labelled samples apart.

def _labels(labels, n):
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise StylescopeError(f'there are {len(labels)} labels for {n} samples: give one 0/1 label per sample')
    if not np.isin(labels, (0, 1)).all() or len(np.unique(labels)) < 2:
        raise StylescopeError('StyleSpace ranking needs samples labelled 1 (with the attribute) and samples labelled 0 '
                              '(without): label some of each')
    if min((labels == 1).sum(), (labels == 0).sum()) < 2:
        raise StylescopeError('StyleSpace ranking needs at least 2 samples with the attribute and 2 without, to '
                              'measure how each channel spreads: label more samples')
    return labels.astype(bool)


class StyleChannelRanking:
    """Channels ranked by how strongly their s differs between samples with (label 1) and
    without (label 0) an attribute: score = (mean_with - mean_without) / spread, spread = the
    pooled standard deviation of the two groups (at least SPREAD_FLOOR of the channel's std over
    `stats`' samples, when given). The sign says which way: positive = larger in samples with it.

    include_torgb: rank the ToRGB layers' channels too (they colour, they do not shape).
    Learned: scores_ {layer: [C]}, gaps_ {layer: [C]} (mean difference in units of the channel's
    std over samples: how far a slider moves from the one group's mean to the other's; None
    without stats), n_samples_, ranked_ [(layer, channel, score)] by |score|, largest first."""

    def __init__(self, include_torgb=False):
        self.include_torgb = include_torgb

    def fit(self, styles, labels, stats=None, torgb_layers=()):
        """styles: {layer: s [N, C]} (styles_of); labels [N] 0/1."""
        names = [name for name in styles if self.include_torgb or name not in set(torgb_layers)]
        if not names:
            raise StylescopeError('there are no style channels to rank: include the ToRGB layers')
        n = len(next(iter(styles.values())))
        positive = _labels(labels, n)
        self.scores_, self.gaps_ = {}, {} if stats is not None else None
        for name in names:
            s = np.asarray(styles[name], dtype=np.float64)
            assert s.shape[0] == n, f'{name}: {s.shape[0]} samples for {n} labels'
            a, b = s[positive], s[~positive]
            diff = a.mean(axis=0) - b.mean(axis=0)
            spread = np.sqrt(0.5 * (a.var(axis=0, ddof=1) + b.var(axis=0, ddof=1)))
            floor = SPREAD_FLOOR * stats.std[name] if stats is not None else 0.0
            self.scores_[name] = diff / np.maximum(np.maximum(spread, floor), 1e-12)
            if stats is not None:
                self.gaps_[name] = diff / np.maximum(stats.std[name], 1e-12)
        flat = [(name, c, float(v)) for name in names for c, v in enumerate(self.scores_[name])]
        self.ranked_ = sorted(flat, key=lambda item: -abs(item[2]))
        self.n_samples_ = n
        return self

    def top(self, k=DEFAULT_TOP):
        return self.ranked_[:max(1, int(k))]


# ----------------------------------------------------------------------------------------------
# Channels as directions.

def channel_spec(text, G=None):
    """'b16.conv1:45' -> ('b16.conv1', 45), checked against G's layers when given."""
    layer, sep, channel = str(text).strip().rpartition(':')
    try:
        channel = int(channel)
        assert sep and layer and channel >= 0
    except (ValueError, AssertionError):
        raise StylescopeError(f"'{text}' is not a style channel: write LAYER:CHANNEL, such as b16.conv1:45") from None
    if G is not None:
        check_channel(G, layer, channel, f"'{text}'")
    return layer, channel


def check_channel(G, layer, channel, where):
    """One sentence when G has no modulated layer `layer` or it has no channel `channel`."""
    layers = _by_name(G)
    if layer not in layers:
        names = list(layers)
        shown = ', '.join(names[:6]) + (f' ... {names[-1]}' if len(names) > 6 else '')
        raise StylescopeError(f"{where} names the style layer '{layer}', which this network does not have: its "
                              f'modulated layers are {shown}; use channels of this network')
    if not 0 <= channel < layers[layer].channels:
        raise StylescopeError(f"{where} names channel {channel} of '{layer}', which has {layers[layer].channels} "
                              f'channels: use 0 to {layers[layer].channels - 1}')


def check_style_directions(dset, G, where):
    """Refuse a direction set whose StyleSpace channels are not channels of G (one sentence)."""
    for k in range(len(dset)):
        if dset.kind_of(k) == STYLE_CHANNEL:
            layer, channel, _sign = dset.style_channel(k)
            check_channel(G, layer, channel, f"{where} (direction '{dset.names[k]}')")
    return dset


def channel_name(layer, channel):
    return f'{layer}:{int(channel)}'


def style_channel_directions(G, stats, picks, names=None, meta=None, per_direction=None):
    """A DirectionSet of kind 'style_channel' for `picks` [(layer, channel)] or [(layer, channel,
    sign)]: each slider adds alpha * sign * std to s[layer][channel] (std over `stats`' samples,
    its unit), range +-STYLE_LIMIT. Its W vector (what reads W alone) is sign * that channel's
    affine weight row, normalised: the W direction that moves the channel most; its center makes
    `project` give the channel's own value in std from the samples' mean (times sign)."""
    from core.model_io import fingerprint as model_fingerprint
    layers = _by_name(G)
    picks = [tuple(p) + (1,) * (3 - len(p)) for p in picks]
    if not picks:
        raise StylescopeError('no style channels were picked: name at least one, such as b16.conv1:45')
    vectors, scales, starts, centers, gains = [], [], [], [], []
    for layer, channel, sign in picks:
        check_channel(G, layer, int(channel), 'the pick')
        affine = layers[layer].module.affine
        row = affine.weight[int(channel)].detach().to('cpu', torch.float64).numpy() * affine.weight_gain
        bias = 0.0 if affine.bias is None else float(affine.bias[int(channel)]) * affine.bias_gain
        norm = float(np.linalg.norm(row))
        if norm < 1e-12:
            raise StylescopeError(f'style channel {channel_name(layer, channel)} does not depend on w (its affine '
                                  'weights are zero): pick another channel')
        sign = 1 if sign >= 0 else -1
        std = float(stats.std[layer][int(channel)])
        vectors.append(sign * row / norm)
        scales.append(max(std, 1e-12))
        starts.append(layers[layer].ws_row)
        gains.append(norm)
        centers.append(sign * (float(stats.mean[layer][int(channel)]) - bias))
    names = list(names) if names is not None else [channel_name(layer, channel) for layer, channel, _ in picks]
    per = dict(kind=[STYLE_CHANNEL] * len(picks), style_layer=[p[0] for p in picks],
               style_channel=[int(p[1]) for p in picks], style_sign=[1 if p[2] >= 0 else -1 for p in picks],
               style_gain=gains, slider_limit=[STYLE_LIMIT] * len(picks),
               origin=[f'StyleSpace channels, std over {stats.sample_count:,} samples'] * len(picks))
    per.update(per_direction or {})
    meta = dict(dict(method='stylespace', space='S', fingerprint=model_fingerprint(G), sample_count=stats.sample_count,
                     w_dim=G.w_dim, num_ws=G.num_ws, psi=stats.psi, unit="std of the channel's s over samples"),
                **(meta or {}))
    meta['per_direction'] = per
    return DirectionSet(np.array(vectors), scales, starts, np.array(starts) + 1, names, meta, centers)


def ranked_directions(G, stats, ranking, k=DEFAULT_TOP, attribute='attribute'):
    """The k best channels of a fitted StyleChannelRanking as style-channel directions, best
    first, each signed so that + moves toward the attribute; names 'attribute b16.conv1:45'."""
    top = ranking.top(k)
    picks = [(layer, channel, 1 if score >= 0 else -1) for layer, channel, score in top]
    names = [f'{attribute} {channel_name(layer, channel)}' for layer, channel, _ in top]
    per = dict(score=[abs(score) for _, _, score in top], attribute=[attribute] * len(top))
    if ranking.gaps_ is not None:
        per['gap'] = [abs(float(ranking.gaps_[layer][channel])) for layer, channel, _ in top]
    meta = dict(labelled_samples=ranking.n_samples_, ranked_channels=len(ranking.ranked_))
    return style_channel_directions(G, stats, picks, names, meta, per)


def rank_from_seeds(G, seeds, labels, stats, psi=1.0, cutoff=None, classes=None, k=DEFAULT_TOP,
                    attribute='attribute', include_torgb=False):
    """`directions stylespace`: the ranked channels of labelled seeds, each drawn as `generate`
    draws it (psi, cutoff, its class), as style-channel directions."""
    ws = ws_from_seeds(G, list(seeds), classes, psi, cutoff)
    torgb = [layer.name for layer in style_layers(G) if layer.torgb]
    ranking = StyleChannelRanking(include_torgb).fit(styles_of(G, ws), labels, stats, torgb)
    return ranked_directions(G, stats, ranking, k, attribute), ranking


# ----------------------------------------------------------------------------------------------
# Offsets on s.

def offset_vectors(style_offsets, channels):
    """{layer: float32 [C]} of a request's StyleOffsets summed per layer and channel (in a fixed
    order, so equal requests give equal bytes); channels: {layer: C} of the network. Unknown layers
    and channels are one sentence."""
    out = {}
    for offset in sorted(style_offsets, key=lambda o: (o.layer, o.channel, o.amount)):
        if offset.layer not in channels:
            raise StylescopeError(f"a StyleSpace edit names the layer '{offset.layer}', which this network does not "
                                  'have: use channels made for this network')
        if not 0 <= offset.channel < channels[offset.layer]:
            raise StylescopeError(f"a StyleSpace edit names channel {offset.channel} of '{offset.layer}', which has "
                                  f'{channels[offset.layer]}: use channels made for this network')
        vector = out.setdefault(offset.layer, np.zeros(channels[offset.layer], dtype=np.float64))
        vector[offset.channel] += offset.amount
    return {layer: vector.astype(np.float32) for layer, vector in out.items() if vector.any()}


def channel_counts(G):
    return {layer.name: layer.channels for layer in style_layers(G)}


def style_offset_tensors(G, style_offsets, batch=None):
    """{layer: tensor [C]} (or [batch, C] rows per image when style_offsets is a list of such
    tuples, one per image) on G's device, for G.synthesis(..., style_offsets=...)."""
    device = G.mapping.w_avg.device
    counts = channel_counts(G)
    if batch is None:
        return {layer: torch.from_numpy(v).to(device) for layer, v in offset_vectors(style_offsets, counts).items()}
    per_image = [offset_vectors(offsets, counts) for offsets in style_offsets]
    layers = sorted({layer for vectors in per_image for layer in vectors})
    return {layer: torch.from_numpy(np.stack([v.get(layer, np.zeros(counts[layer], np.float32)) for v in per_image]))
            .to(device) for layer in layers}


__all__ = ['STATS_SAMPLES', 'STYLE_LIMIT', 'StyleLayer', 'StyleOffset', 'StyleStats', 'StyleChannelRanking',
           'style_layers', 'style_layer_table', 'styles_of', 'style_statistics', 'style_channel_directions',
           'ranked_directions', 'rank_from_seeds', 'offset_vectors', 'style_offset_tensors',
           'channel_spec', 'check_channel', 'check_style_directions', 'channel_name', 'channel_counts']
