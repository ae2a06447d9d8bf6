"""Finding directions in W: the finders, shaped like scikit-learn estimators (learned state in
attributes ending in `_`; each leaves a ready core.direction_set.DirectionSet in `directions_`),
and the layer-range suggestion.

  PCADirections   GANSpace in W: exact streamed mean + scatter in float64, eigh, sorted.
  SeFaDirections  closed-form factorisation of the style-affine weights of a ws range.
  SVMDirection    InterfaceGAN: linear SVM on (w, 0/1 label), unit normal, optionally made
                  orthogonal to other directions (conditional boundary).
`suggest_layer_range` measures how much each layer group (coarse / middle / fine) reacts to a
direction and proposes a range. Other tools' files: core/direction_files.py.

Slider units: PCA uses each component's standard deviation (GANSpace's lat_stdev). SeFa and
SVM directions use the same idea, measured: the standard deviation of untruncated W along the
direction over `unit_samples` mapped samples (seed 1), so one unit means the same for every
method. Imported files keep their own units (InterfaceGAN and rosinality: raw W distance).

Classes of conditional models: every sampler takes `class_idx` (one class for every sample, as
`generate --class` does); without it a seed shows the class drawn from its own RNG after its z
(NVIDIA's visualiser), and PCA's samples draw theirs from a second stream.
Facts about the methods: shared/reference/editing-methods.md sections 1.1-1.3.
"""
import dataclasses

import numpy as np
import torch

from core.direction_set import DEFAULT_COMPONENTS, SAMPLE_SEED, DirectionSet, w_matrix
from core.errors import Cancelled, StylescopeError, is_cancelled
from core.latent import add_offsets, class_vectors, device_of, ws_from_seeds, ws_from_z
from core.model_io import fingerprint as model_fingerprint
from core.request import slider_offset
from core.seeds import class_from_seed
from core.ws_rows import layer_groups

UNIT_SAMPLES = 5000      # GANSpace measures lat_stdev on 5,000 samples


# ----------------------------------------------------------------------------------------------
# Sampling W in a fixed order; signs.

def seed_classes(G, seeds, class_idx=None):
    """The class each seed is shown with: `class_idx` for all, or each seed's own draw
    (class_from_seed); None for an unconditional model."""
    if G.c_dim == 0:
        return None
    if class_idx is not None:
        return [int(class_idx)] * len(seeds)
    return [class_from_seed(seed, G.z_dim, G.c_dim) for seed in seeds]


def _seed_w(G, seeds, psi=1.0, class_idx=None, classes=None, chunk=2000):
    """[len(seeds), w_dim] float64 w of seeds (official seed -> z, truncated with psi), each
    with its class (`classes`, one per seed, else from seed_classes). Mapped `chunk` seeds at a
    time: mapping returns every ws row, num_ws times the memory of the w kept."""
    seeds = list(seeds)
    classes = classes if classes is not None else seed_classes(G, seeds, class_idx)
    parts = [ws_from_seeds(G, seeds[i:i + chunk], None if classes is None else classes[i:i + chunk], psi)[:, 0]
             .to('cpu', torch.float64).numpy() for i in range(0, len(seeds), chunk)]
    return np.concatenate(parts) if parts else np.zeros([0, G.w_dim])


@torch.no_grad()
def iter_w_samples(G, n_samples, seed=SAMPLE_SEED, chunk=2000, psi=1.0, class_idx=None):
    """Yield untruncated (psi=1) w as float64 numpy chunks [b, w_dim], n_samples in all.

    z comes from one RandomState(seed) stream drawn chunk after chunk; since that stream does not
    depend on how it is cut, the samples (and anything fitted on them) do not depend on `chunk`.
    Conditional models: `class_idx` for every sample, or random classes from a second stream,
    RandomState(seed + 1).
    """
    rng = np.random.RandomState(seed)
    class_rng = np.random.RandomState(seed + 1)
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        z = rng.randn(b, G.z_dim)
        classes = None
        if G.c_dim > 0:
            classes = class_idx if class_idx is not None else class_rng.randint(G.c_dim, size=b).tolist()
        ws = ws_from_z(G, z, classes, psi)
        yield ws[:, 0].to('cpu', torch.float64).numpy()
        done += b


def w_std_along(G, vectors, n_samples=UNIT_SAMPLES, seed=SAMPLE_SEED, chunk=2000, class_idx=None):
    """Standard deviation of untruncated W along each unit row of `vectors` [K, w_dim]: the
    slider unit of SeFa and SVM directions."""
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, G.w_dim)
    proj = np.concatenate([w @ vectors.T for w in iter_w_samples(G, n_samples, seed, chunk, class_idx=class_idx)])
    return proj.std(axis=0, ddof=1)


def _fix_signs(vectors):
    """Rows flipped so that each row's largest-magnitude entry is positive (as scikit-learn's
    PCA does), making eigenvector signs reproducible."""
    idx = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(len(vectors)), idx])
    signs[signs == 0] = 1
    return vectors * signs[:, None]


# ----------------------------------------------------------------------------------------------
# PCA in W (GANSpace).

class PCADirections:
    """GANSpace's PCA of W, computed exactly: the mean and the w_dim x w_dim scatter matrix are
    streamed in float64 over `n_samples` mapped samples (memory: one chunk plus the matrix),
    merged chunk by chunk with Chan's formula, then `eigh`, sorted by variance.

    Learned: mean_, components_ [n_components, w_dim], explained_variance_ (ddof=1, as
    scikit-learn), explained_variance_ratio_, n_samples_seen_, directions_ (units = each
    component's standard deviation, range = all ws, centers = the mean's coordinates).
    """

    def __init__(self, n_components=DEFAULT_COMPONENTS, n_samples=100_000, chunk=2000, seed=SAMPLE_SEED,
                 class_idx=None):
        self.n_components = n_components
        self.n_samples = n_samples
        self.chunk = chunk
        self.seed = seed
        self.class_idx = class_idx

    def fit(self, G, progress=None, cancel=None):
        """progress(done, total) after each chunk; cancel (callable or Event) stops with Cancelled."""
        if self.n_samples < 2:
            raise StylescopeError(f'PCA needs at least 2 samples, got {self.n_samples}: raise --samples')
        n, mean, scatter = 0, np.zeros(G.w_dim), np.zeros([G.w_dim, G.w_dim])
        for w in iter_w_samples(G, self.n_samples, self.seed, self.chunk, class_idx=self.class_idx):
            if is_cancelled(cancel):
                raise Cancelled('PCA sampling was cancelled')
            b = len(w)
            w_mean = w.mean(axis=0)
            centered = w - w_mean
            delta = w_mean - mean
            scatter += centered.T @ centered + np.outer(delta, delta) * (n * b / (n + b))
            mean += delta * (b / (n + b))
            n += b
            if progress is not None:
                progress(n, self.n_samples)
        cov = scatter / (n - 1)
        eigval, eigvec = np.linalg.eigh((cov + cov.T) / 2)
        order = np.argsort(eigval)[::-1]
        eigval = np.clip(eigval[order], 0, None)
        k = min(self.n_components or G.w_dim, G.w_dim)
        self.mean_ = mean
        self.components_ = _fix_signs(eigvec[:, order].T[:k])
        self.explained_variance_ = eigval[:k]
        self.explained_variance_ratio_ = eigval[:k] / eigval.sum()
        self.n_samples_seen_ = n
        meta = dict(method='pca', space='W', fingerprint=model_fingerprint(G), sample_count=n, seed=self.seed,
                    w_dim=G.w_dim, num_ws=G.num_ws, mean=mean.tolist(), class_idx=self.class_idx,
                    per_direction=dict(explained_variance=self.explained_variance_.tolist(),
                                       explained_variance_ratio=self.explained_variance_ratio_.tolist()))
        self.directions_ = DirectionSet(self.components_, np.sqrt(np.maximum(self.explained_variance_, 1e-30)),
                                        np.zeros(k, int), np.full(k, G.num_ws), [f'PC{i}' for i in range(k)], meta,
                                        self.components_ @ mean)
        return self

    def transform(self, w):
        """Coordinates of w [N, w_dim] in standard deviations around the mean."""
        return self.directions_.project(w)


# ----------------------------------------------------------------------------------------------
# SeFa (closed-form factorisation of the style affine weights).

def style_layers(G):
    """[(name, layer, ws_index)] of every modulated layer, in ws order: a block reads ws from its
    start (block_ws_ranges), conv0 then conv1 then torgb (which shares its w with the next conv0)."""
    layers = []
    if not hasattr(G.synthesis, 'blocks'):  # StyleGAN3: layer i reads ws row i + 1; the last is ToRGB
        names = G.synthesis.layer_names
        return [(('torgb' if i == len(names) - 1 else name), layer, i + 1)
                for i, (name, layer) in enumerate(zip(names, G.synthesis.layers()))]
    for block, (start, _count) in zip(G.synthesis.blocks(), G.synthesis.block_ws_ranges()):
        idx = start
        for name in ('conv0', 'conv1'):
            if hasattr(block, name):
                layers.append((f'b{block.resolution}.{name}', getattr(block, name), idx))
                idx += 1
        if hasattr(block, 'torgb'):
            layers.append((f'b{block.resolution}.torgb', block.torgb, idx))
    return layers


class SeFaDirections:
    """SeFa's factorisation: the style-affine weights of the conv layers whose ws index lies in
    `layers` = (start, end) (all ws when None; ToRGB layers only with include_torgb=True), each
    channel's w_dim row normalised to unit length (genforce/sefa's variant, so the per-layer
    weight gain does not weigh layers against each other; rosinality's skips this), stacked as
    A [sum C, w_dim]; directions = eigenvectors of A^T A (symmetric `eigh`, float64), sorted by
    eigenvalue, largest first.

    Learned: eigenvalues_ (all w_dim), components_ [n_components, w_dim], layer_names_,
    directions_ (range = `layers`, unit = std of W along each direction, see the module doc).
    """

    def __init__(self, layers=None, n_components=DEFAULT_COMPONENTS, include_torgb=False,
                 unit_samples=UNIT_SAMPLES, class_idx=None):
        self.layers = layers
        self.n_components = n_components
        self.include_torgb = include_torgb
        self.unit_samples = unit_samples
        self.class_idx = class_idx

    def fit(self, G):
        start, end = self.layers if self.layers is not None else (0, G.num_ws)
        if not 0 <= start < end <= G.num_ws:
            raise StylescopeError(f'layer range {start}-{end - 1} does not fit this network: '
                                  f'choose ws between 0 and {G.num_ws - 1}')
        chosen = [(name, layer) for name, layer, idx in style_layers(G)
                  if start <= idx < end and (self.include_torgb or not name.endswith('torgb'))]
        if not chosen:
            raise StylescopeError(f'ws {start}-{end - 1} drive no conv layer: choose a wider --layers range')
        rows = []
        for _name, layer in chosen:
            weight = layer.affine.weight.detach().to('cpu', torch.float64).numpy() * layer.affine.weight_gain
            rows.append(weight / np.maximum(np.linalg.norm(weight, axis=1, keepdims=True), 1e-12))
        A = np.concatenate(rows)
        eigval, eigvec = np.linalg.eigh(A.T @ A)
        order = np.argsort(eigval)[::-1]
        k = min(self.n_components or G.w_dim, G.w_dim)
        self.eigenvalues_ = eigval[order]
        self.components_ = _fix_signs(eigvec[:, order].T[:k])
        self.layer_names_ = [name for name, _ in chosen]
        scales = (w_std_along(G, self.components_, self.unit_samples, class_idx=self.class_idx) if self.unit_samples
                  else np.ones(k))
        meta = dict(method='sefa', space='W', fingerprint=model_fingerprint(G), sample_count=self.unit_samples,
                    w_dim=G.w_dim, num_ws=G.num_ws, layers=[start, end], layer_names=self.layer_names_,
                    unit='std of W along the direction' if self.unit_samples else 'raw W distance',
                    per_direction=dict(eigenvalue=self.eigenvalues_[:k].tolist()))
        self.directions_ = DirectionSet(self.components_, np.maximum(scales, 1e-12), np.full(k, start),
                                        np.full(k, end), [f'SeFa{i}' for i in range(k)], meta)
        return self


# ----------------------------------------------------------------------------------------------
# InterfaceGAN: linear SVM boundaries from labels, conditional orthogonalisation, label files.

def orthogonalize(normal, conditions):
    """`normal` made orthogonal to every row of `conditions` and normalised (InterfaceGAN's
    conditional boundary). One condition: n - (n.c)c with c unit; several: subtract the least
    squares fit of n on the condition rows (InterfaceGAN solves (C C^T) x = C n, which is the same
    when the rows are independent; lstsq also copes with dependent ones)."""
    n = np.asarray(normal, dtype=np.float64).reshape(-1)
    C = np.asarray(conditions, dtype=np.float64).reshape(-1, n.shape[0])
    if len(C) == 1:
        c = C[0] / np.linalg.norm(C[0])
        out = n - (n @ c) * c
    else:
        x = np.linalg.lstsq(C.T, n, rcond=None)[0]
        out = n - C.T @ x
    norm = np.linalg.norm(out)
    if norm < 1e-6 * np.linalg.norm(n):
        raise StylescopeError('the direction lies in the span of the --orthogonal-to directions, so nothing is left '
                              'after removing them: condition on fewer or different directions')
    return out / norm


def _labels_array(labels, n):
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise StylescopeError(f'there are {len(labels)} labels for {n} samples: give one 0/1 label per sample')
    if not np.isin(labels, (0, 1)).all():
        raise StylescopeError('labels must be 0 or 1: mark each sample as without (0) or with (1) the attribute')
    if len(np.unique(labels)) < 2:
        raise StylescopeError('the labels are all the same: mark some samples 0 and some 1 before fitting')
    return labels.astype(np.int64)


class SVMDirection:
    """InterfaceGAN's boundary: a linear SVM (scikit-learn LinearSVC, C=1) separates w labelled 0
    from w labelled 1; the unit normal of the boundary (pointing to label 1) is the direction,
    the intercept only places `center_`. Inputs are centred and scaled by one global factor before
    fitting (which keeps the normal's direction) so the intercept penalty does not bias it.

    orthogonal_to: directions [M, w_dim] (or a DirectionSet) to condition on: the normal is made
    orthogonal to all of them (see `orthogonalize`).
    Learned: raw_normal_ (before conditioning), normal_, center_ (w . normal_ at the boundary),
    accuracy_ (on the training pairs), n_samples_; after fit_from_seeds also directions_.
    """

    def __init__(self, C=1.0, orthogonal_to=None, max_iter=20000):
        self.C = C
        self.orthogonal_to = orthogonal_to
        self.max_iter = max_iter

    def fit(self, w, labels):
        from sklearn.svm import LinearSVC
        w = w_matrix(w)
        labels = _labels_array(labels, len(w))
        mean = w.mean(axis=0)
        spread = float((w - mean).std()) or 1.0
        X = (w - mean) / spread
        svm = LinearSVC(C=self.C, max_iter=self.max_iter).fit(X, labels)
        coef, b = svm.coef_[0].astype(np.float64), float(svm.intercept_[0])
        norm = np.linalg.norm(coef)
        if norm == 0:
            raise StylescopeError('the SVM found no boundary between the labels: label more, or more distinct, samples')
        self.raw_normal_ = coef / norm
        self.normal_ = self.raw_normal_
        if self.orthogonal_to is not None:
            conditions = self.orthogonal_to
            if isinstance(conditions, DirectionSet):
                conditions = conditions.vectors
            self.normal_ = orthogonalize(self.raw_normal_, conditions)
        # the boundary passes through mean - (b * spread / |coef|) * raw_normal_
        boundary_point = mean - (b * spread / norm) * self.raw_normal_
        self.center_ = float(boundary_point @ self.normal_)
        self.accuracy_ = float(svm.score(X, labels))
        self.n_samples_ = len(w)
        return self

    def to_direction_set(self, G, name='attribute', layers=None, unit_samples=UNIT_SAMPLES, extra_meta=None):
        """The fitted normal as a one-direction set for G (unit = std of W along it)."""
        start, end = layers if layers is not None else (0, G.num_ws)
        scale = w_std_along(G, self.normal_, unit_samples)[0] if unit_samples else 1.0
        meta = dict(method='svm', space='W', fingerprint=model_fingerprint(G), sample_count=self.n_samples_,
                    w_dim=G.w_dim, num_ws=G.num_ws, conditioned=self.orthogonal_to is not None,
                    per_direction=dict(accuracy=[self.accuracy_]), **(extra_meta or {}))
        self.directions_ = DirectionSet(self.normal_[None], [max(scale, 1e-12)], [start], [end], [name], meta,
                                        [self.center_])
        return self.directions_

    def fit_from_seeds(self, G, seeds, labels, psi=1.0, name='attribute', layers=None, unit_samples=UNIT_SAMPLES,
                       classes=None):
        """Fit on the w of `seeds` (official seed convention, truncated with psi) and build directions_.
        classes: the class each seed was drawn with (a list), one class for all (an int), or None:
        each seed's own draw (seed_classes)."""
        if isinstance(classes, (list, tuple)):
            w = _seed_w(G, seeds, psi, classes=list(classes) if G.c_dim else None)
        else:
            w = _seed_w(G, seeds, psi, classes)
        self.fit(w, labels)
        return self.to_direction_set(G, name, layers, unit_samples, extra_meta=dict(psi=psi))


def direction_from_labels(G, w, labels, name='attribute', orthogonal_to=None, layers=None,
                          unit_samples=UNIT_SAMPLES):
    """What the GUI calls after a user labelled samples: w [N, w_dim] or ws [N, num_ws, w_dim]
    with 0/1 labels -> a one-direction DirectionSet."""
    return SVMDirection(orthogonal_to=orthogonal_to).fit(w, labels).to_direction_set(G, name, layers, unit_samples)


# ----------------------------------------------------------------------------------------------
# Layer-range suggestion.

def _looks(G, D, ws):
    """What is compared: the image, or D's block features [coarsest last] when D is given."""
    img = G.synthesis(ws, noise_mode='const')
    if D is None:
        return [img]
    feats, _, _ = D.features(img)
    return [feats[r] for r in sorted(feats, reverse=True)]


def _change(D, base, edited):
    if D is None:  # mean absolute pixel difference, in [-1, 1] image units
        return float((edited[0] - base[0]).abs().mean())
    return float(np.mean([float((e - b).abs().mean() / (b.abs().mean() + 1e-8)) for b, e in zip(base, edited)]))


@torch.no_grad()
def suggest_layer_range(G, direction, scale=None, D=None, seeds=range(8), alpha=3.0, psi=0.7, threshold=0.5,
                        class_idx=None):
    """Apply `direction` (unit [w_dim]) at +-alpha*scale to each layer group alone and measure
    the image change: mean absolute pixel difference, or, when the discriminator D is given, the
    relative change of its block features. Proposes [start, end) spanning every group whose
    effect is at least `threshold` of the largest. Returns (start, end, {group: effect}).
    scale None: the std of W along the direction (1,000 samples)."""
    d = np.asarray(direction, dtype=np.float64)
    d = (d if d.ndim == 2 else d.reshape(-1)) / np.linalg.norm(d)  # 2-D: a per-row direction [num_ws, w_dim]
    if scale is None:
        scale = float(w_std_along(G, d, 1000)[0])
    if D is not None and D.img_resolution != G.img_resolution:
        raise StylescopeError(f'the discriminator works at {D.img_resolution} px but the generator at '
                              f'{G.img_resolution} px: use the D of the same network file')
    seeds = list(seeds)
    base_ws = ws_from_seeds(G, seeds, seed_classes(G, seeds, class_idx), psi)
    base = _looks(G, D, base_ws)
    groups = {name: (s, e) for name, (s, e) in layer_groups(G).items() if e > s}
    effects = {}
    for group, (s, e) in groups.items():
        change = 0.0
        for sign in (1, -1):
            edited = add_offsets(base_ws, [slider_offset(d, scale, sign * alpha, s, e)])
            change += _change(D, base, _looks(G, D, edited)) / 2
        effects[group] = change
    top = max(effects.values())
    chosen = [g for g in groups if effects[g] >= threshold * top] or list(groups)
    return groups[chosen[0]][0], groups[chosen[-1]][1], effects


def suggest_layer_ranges(G, dset, D=None, progress=None, **kwargs):
    """suggest_layer_range for every direction of a set; returns the set with the proposed ranges
    (the measured effects are kept in meta per_direction 'layer_effects'). progress(done, total)."""
    starts, ends, all_effects = [], [], []
    for k in range(len(dset)):
        s, e, effects = suggest_layer_range(G, dset.edit_vector(k), float(dset.scales[k]), D=D, **kwargs)
        starts.append(s)
        ends.append(e)
        all_effects.append(effects)
        if progress is not None:
            progress(k + 1, len(dset))
    per = dict(dset.meta['per_direction'], layer_effects=all_effects)
    return dataclasses.replace(dset, layer_start=np.array(starts), layer_end=np.array(ends),
                               meta=dict(dset.meta, per_direction=per))


# ----------------------------------------------------------------------------------------------
# Slider ranges: how far a direction goes before its pictures leave the data.

LIMIT_STEPS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)  # slider units tried, in order
# "Still a picture of the data": D scores the edited pictures, on average, above the score that a
# quarter of unedited samples fall below. On the bundled model this gives PC0 +-3 (where its faces
# were seen to break) but a weak D lets some directions run further than a person would.
LIMIT_PERCENTILE = 25


@torch.no_grad()
def _d_scores(G, D, ws, c):
    img = G.synthesis(ws, noise_mode='const')
    return D(img, c).reshape(-1).double()


@torch.no_grad()
def suggest_slider_limits(G, D, dset, seeds=range(8), psi=0.7, reference_samples=64, class_idx=None,
                          progress=None):
    """A slider range per direction, from the discriminator: the largest step of LIMIT_STEPS (both
    signs, the smaller of the two) at which the mean D score of the edited `seeds` stays above the
    LIMIT_PERCENTILE-th percentile of D's scores of `reference_samples` unedited samples (psi 1):
    beyond it the pictures stop looking like the data. Returns the set with per_direction
    'slider_limit' filled. progress(done, total) after each direction."""
    if D is None:
        raise StylescopeError('slider ranges are measured with the discriminator, and this network file has none: '
                              'open a file with D (a training snapshot), or keep the default range')
    seeds = list(seeds)
    reference = list(range(10_000, 10_000 + reference_samples))
    c_ref = class_vectors(G.c_dim, seed_classes(G, reference, class_idx), len(reference), device_of(G))
    threshold = float(np.percentile(_d_scores(G, D, ws_from_seeds(G, reference, seed_classes(G, reference, class_idx)),
                                              c_ref).cpu().numpy(), LIMIT_PERCENTILE))
    classes = seed_classes(G, seeds, class_idx)
    base = ws_from_seeds(G, seeds, classes, psi)
    c = class_vectors(G.c_dim, classes, len(seeds), device_of(G))
    for k in range(len(dset)):
        reach = []
        for sign in (1, -1):
            good = 0.0
            for step in LIMIT_STEPS:
                offset = slider_offset(dset.edit_vector(k), dset.scales[k], sign * step, dset.layer_start[k],
                                       dset.layer_end[k])
                if float(_d_scores(G, D, add_offsets(base, [offset]), c).mean()) < threshold:
                    break
                good = step
            reach.append(good)
        dset = dset.with_limit(k, max(min(reach), LIMIT_STEPS[0]))
        if progress is not None:
            progress(k + 1, len(dset))
    return dset
