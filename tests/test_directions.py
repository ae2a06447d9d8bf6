"""Direction sets (core/directions.py) and the `directions` CLI, on tiny random networks."""
import argparse
import copy
import os
import threading
import warnings

import numpy as np
import PIL.Image
import pytest
import torch

from cli import directions as cli_directions
from cli import options as cli_options
from core import direction_files as df
from core import direction_set as ds
from core import directions as dr
from core.errors import Cancelled, StylescopeError
from core.label_file import labels_from_csv, write_labels
from core.latent import add_offsets, ws_from_seeds
from core.seeds import class_from_seed
from core.ws_rows import parse_row_range
from core.model_io import fingerprint as model_fingerprint
from core.model_io import save_network
from core.networks import Discriminator, Generator

TINY = dict(z_dim=16, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=512, channel_max=32))


def _tiny_generator(w_dim=16, seed=1):
    torch.manual_seed(seed)
    G = Generator(c_dim=0, **dict(TINY, w_dim=w_dim)).eval().requires_grad_(False)
    G.mapping.w_avg.copy_(torch.randn(G.w_dim))  # a trained-looking w_avg
    return G


@pytest.fixture(scope='module')
def G():
    return _tiny_generator()


@pytest.fixture(scope='module')
def net_file(tmp_path_factory, G):
    torch.manual_seed(5)
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=512, channel_max=32).eval()
    path = tmp_path_factory.mktemp('nets') / 'tiny.safetensors'
    save_network(str(path), G, D=D)
    return str(path)


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _small_set(w_dim=16, fingerprint=None):
    rng = np.random.RandomState(0)
    return ds.DirectionSet(rng.randn(3, w_dim), [1.5, 2.0, 0.5], [0, 1, 2], [6, 3, 4], ['a', 'b', 'c'],
                           dict(method='test', fingerprint=fingerprint, per_direction=dict(score=[1, 2, 3])),
                           centers=[0.1, 0.2, 0.3])


# ----------------------------------------------------------------------------------------------
# InterfaceGAN: planted labels, conditional orthogonality, label files

def _planted(G, seeds, rng, noise=0.0):
    w = ws_from_seeds(G, seeds, psi=1.0)[:, 0].double().numpy()
    normal = _unit(rng.randn(G.w_dim))
    score = (w - w.mean(axis=0)) @ normal
    labels = (score + noise * score.std() * rng.randn(len(seeds)) > 0).astype(int)
    return w, normal, labels


def test_svm_recovers_planted_normal_from_csv(G, tmp_path):
    rng = np.random.RandomState(3)
    seeds = list(range(1500))
    _, normal, labels = _planted(G, seeds, rng, noise=0.1)
    csv = tmp_path / 'smile.csv'
    csv.write_text('seed,label\n# hand labelled\n' + ''.join(f'{s},{l}\n' for s, l in zip(seeds, labels)))
    got_seeds, got_labels, got_classes = labels_from_csv(csv)
    assert got_seeds == seeds and (got_labels == labels).all() and got_classes is None
    svm = dr.SVMDirection()
    dset = svm.fit_from_seeds(G, got_seeds, got_labels, psi=1.0, name='smile', unit_samples=500)
    assert float(dset.vectors[0] @ normal) > 0.95
    assert dset.names == ['smile'] and dset.meta['method'] == 'svm' and dset.meta['sample_count'] == 1500
    assert svm.accuracy_ > 0.85 and dset.scales[0] > 0


def test_gui_api_recovers_planted_normal_from_ws(G):
    rng = np.random.RandomState(4)
    w, normal, labels = _planted(G, list(range(2000, 2800)), rng)
    ws = torch.from_numpy(w).float()[:, None].repeat(1, G.num_ws, 1)
    dset = dr.direction_from_labels(G, ws, labels, name='glasses', unit_samples=300)
    assert float(dset.vectors[0] @ normal) > 0.95
    # the boundary sits at coordinate 0: the two classes fall on either side
    coords = dset.project(w)[:, 0]
    assert (np.sign(coords) == np.where(labels == 1, 1, -1)).mean() > 0.95


def test_conditional_orthogonality_formulas():
    rng = np.random.RandomState(0)
    n, c1, c2, c3 = (_unit(rng.randn(16)) for _ in range(4))
    one = dr.orthogonalize(n, c1)
    assert np.allclose(one, _unit(n - (n @ c1) * c1))
    # InterfaceGAN's two-condition formula
    a = (n @ c1 - (n @ c2) * (c1 @ c2)) / (1 - (c1 @ c2) ** 2 + 1e-8)
    b = (n @ c2 - (n @ c1) * (c1 @ c2)) / (1 - (c1 @ c2) ** 2 + 1e-8)
    assert np.allclose(dr.orthogonalize(n, [c1, c2]), _unit(n - a * c1 - b * c2), atol=1e-6)
    three = dr.orthogonalize(n, np.stack([c1, c2, c3]))
    assert np.abs(np.stack([c1, c2, c3]) @ three).max() < 1e-10
    assert np.isclose(np.linalg.norm(three), 1) and three @ n > 0
    with pytest.raises(StylescopeError, match='span'):
        dr.orthogonalize(0.6 * c1 - 0.8 * c2, [c1, c2])


def test_svm_conditioned_on_other_directions(G):
    rng = np.random.RandomState(5)
    w, normal, labels = _planted(G, list(range(600)), rng)
    conditions = _small_set()
    svm = dr.SVMDirection(orthogonal_to=conditions).fit(w, labels)
    assert np.abs(conditions.vectors.astype(np.float64) @ svm.normal_).max() < 1e-6
    assert svm.raw_normal_ @ normal > 0.95
    assert np.allclose(svm.normal_, dr.orthogonalize(svm.raw_normal_, conditions.vectors))


def test_labels_from_csv_errors(tmp_path):
    bad = tmp_path / 'bad.csv'
    bad.write_text('seed,label\n1,0\n2,1\n3,yes\n')
    with pytest.raises(StylescopeError, match=r"line 4 of '.*bad\.csv'"):
        labels_from_csv(bad)
    bad.write_text('1,0\n2,1\n3,2\n')
    with pytest.raises(StylescopeError, match='line 3'):
        labels_from_csv(bad)
    bad.write_text('1,0\n2,1\n1,1\n')
    with pytest.raises(StylescopeError, match='seed 1 has two different labels'):
        labels_from_csv(bad)
    bad.write_text('1,1\n2,1\n')
    with pytest.raises(StylescopeError, match='labelled 0 and seeds labelled 1'):
        labels_from_csv(bad)
    with pytest.raises(StylescopeError, match='does not exist'):
        labels_from_csv(tmp_path / 'missing.csv')
    with pytest.raises(StylescopeError, match='all the same'):
        dr.SVMDirection().fit(np.zeros([4, 16]), [1, 1, 1, 1])


# ----------------------------------------------------------------------------------------------
# PCA (GANSpace)

def test_pca_equals_scikit_learn_on_same_samples(G):
    from sklearn.decomposition import PCA
    pca = dr.PCADirections(n_components=6, n_samples=3000, chunk=700, seed=1).fit(G)
    W = np.concatenate(list(dr.iter_w_samples(G, 3000, seed=1, chunk=3000)))
    ref = PCA(n_components=6).fit(W)
    signs = np.sign((ref.components_ * pca.components_).sum(axis=1))
    assert np.allclose(pca.components_ * signs[:, None], ref.components_, atol=1e-6)
    assert np.allclose(pca.explained_variance_, ref.explained_variance_, rtol=1e-6)
    assert np.allclose(pca.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-6)
    assert np.allclose(pca.mean_, ref.mean_, atol=1e-6)
    assert (np.diff(pca.explained_variance_) <= 0).all()
    dset = pca.directions_
    # unit = each component's standard deviation; coordinates = sklearn's transform / that std
    assert np.allclose(dset.scales, np.sqrt(ref.explained_variance_), rtol=1e-5)
    assert np.allclose(pca.transform(W[:50]), ref.transform(W[:50]) * signs / np.sqrt(ref.explained_variance_),
                       atol=1e-4)
    assert dset.meta['sample_count'] == 3000 and dset.meta['method'] == 'pca'
    assert (dset.layer_start == 0).all() and (dset.layer_end == G.num_ws).all()


def test_pca_does_not_depend_on_chunk_size_and_can_cancel(G):
    a = dr.PCADirections(n_components=4, n_samples=1000, chunk=1000).fit(G)
    calls = []
    b = dr.PCADirections(n_components=4, n_samples=1000, chunk=128).fit(G, progress=lambda d, t: calls.append((d, t)))
    assert np.allclose(a.components_, b.components_, atol=1e-5)
    assert np.allclose(a.explained_variance_, b.explained_variance_, rtol=1e-5)
    assert calls[-1] == (1000, 1000) and len(calls) == 8
    stop = threading.Event()
    with pytest.raises(Cancelled):
        dr.PCADirections(n_samples=1000, chunk=100).fit(G, progress=lambda d, t: stop.set(), cancel=stop)


# ----------------------------------------------------------------------------------------------
# SeFa

def _normalised_affines(G, names):
    rows = []
    for name, layer, _ in dr.style_layers(G):
        if name in names:
            weight = layer.affine.weight.double().numpy()
            rows.append(weight / np.linalg.norm(weight, axis=1, keepdims=True))
    return np.concatenate(rows)


def test_sefa_order_and_layers(G):
    assert [(n, i) for n, _, i in dr.style_layers(G)] == [
        ('b4.conv1', 0), ('b4.torgb', 1), ('b8.conv0', 1), ('b8.conv1', 2), ('b8.torgb', 3),
        ('b16.conv0', 3), ('b16.conv1', 4), ('b16.torgb', 5)]
    sefa = dr.SeFaDirections(layers=(1, 3), unit_samples=300).fit(G)
    assert sefa.layer_names_ == ['b8.conv0', 'b8.conv1']
    A = _normalised_affines(G, sefa.layer_names_)
    V = sefa.components_
    energy = ((A @ V.T) ** 2).sum(axis=0)  # ||A d_k||^2 = eigenvalue k
    assert np.allclose(energy, sefa.eigenvalues_[:len(V)])
    assert (np.diff(sefa.eigenvalues_) <= 1e-12).all() and sefa.eigenvalues_[0] > sefa.eigenvalues_[1]
    assert np.allclose(V @ V.T, np.eye(len(V)), atol=1e-10)
    # the first direction is A's top right-singular vector
    top = np.linalg.svd(A)[2][0]
    assert abs(top @ V[0]) > 1 - 1e-8
    dset = sefa.directions_
    assert (dset.layer_start == 1).all() and (dset.layer_end == 3).all() and dset.meta['method'] == 'sefa'
    assert np.allclose(dset.scales, dr.w_std_along(G, V, 300), rtol=1e-5)
    with_rgb = dr.SeFaDirections(layers=(1, 3), include_torgb=True, unit_samples=0).fit(G)
    assert with_rgb.layer_names_ == ['b4.torgb', 'b8.conv0', 'b8.conv1'] and (with_rgb.directions_.scales == 1).all()
    with pytest.raises(StylescopeError, match='does not fit'):
        dr.SeFaDirections(layers=(2, 9)).fit(G)


# ----------------------------------------------------------------------------------------------
# The set: apply, project, helpers, file round trip and validation

def _apply(dset, ws, alphas):
    """ws [N, num_ws, w_dim] (numpy) edited by the sliders `alphas`, as the renderer edits them."""
    return add_offsets(torch.from_numpy(np.asarray(ws, dtype=np.float32)), dset.offsets_for(alphas)).numpy()


def test_sliders_add_alpha_scale_d_to_their_range_only():
    dset = _small_set()
    rng = np.random.RandomState(1)
    ws = rng.randn(2, 6, 16).astype(np.float32)
    out = _apply(dset, ws, [0.0, 2.0, 0.0])  # direction b: rows [1, 3)
    expected = ws.copy()
    expected[:, 1:3] += 2.0 * dset.scales[1] * dset.vectors[1]
    assert np.allclose(out, expected, atol=1e-6)
    assert np.array_equal(out[:, [0, 3, 4, 5]], ws[:, [0, 3, 4, 5]])
    # several directions at once; zero sliders give no offset; ranges past num_ws are cut
    alphas = np.array([1.0, -1.0, 0.5])
    ref = ws.astype(np.float64).copy()
    for k, (s, e) in enumerate(zip(dset.layer_start, dset.layer_end)):
        ref[:, s:e] += alphas[k] * dset.scales[k] * dset.vectors[k]
    assert np.allclose(_apply(dset, ws, alphas), ref, atol=1e-5)
    assert len(dset.offsets_for([0.0, 2.0, 0.0])) == 1
    ws4 = ws[:, :4]
    assert np.allclose(_apply(dset, ws4, [1, 0, 0])[:, :4] - ws4, dset.scales[0] * dset.vectors[0], atol=1e-6)


def test_project_reads_back_the_slider(G):
    dset = _small_set().subset(['b'])
    ws = np.random.RandomState(2).randn(3, 6, 16)
    before = dset.project(ws)
    after = dset.project(_apply(dset, ws, [1.75]))
    assert np.allclose(after - before, 1.75)
    w = ws[:, 0]
    assert np.allclose(dset.project(w)[:, 0], (w @ dset.vectors[0] - dset.centers[0]) / dset.scales[0], atol=1e-5)


def test_set_helpers_keep_per_direction_meta():
    dset = _small_set()
    renamed = dset.rename('b', 'smile')
    assert renamed.names == ['a', 'smile', 'c'] and dset.names == ['a', 'b', 'c']
    with pytest.raises(StylescopeError, match='already exists'):
        dset.rename('a', 'c')
    removed = dset.remove('a')
    assert removed.names == ['b', 'c'] and removed.meta['per_direction']['score'] == [2, 3]
    ranged = dset.with_range(2, 0, 5).with_scale('a', 4.0)
    assert (ranged.layer_start[2], ranged.layer_end[2], ranged.scales[0]) == (0, 5, 4.0)
    with pytest.raises(StylescopeError):
        dset.with_range(0, 3, 3)
    merged = dset.merge(removed.rename('b', 'x'))
    assert merged.names == ['a', 'b', 'c', 'x', 'c (2)']
    assert merged.meta['per_direction']['score'] == [1, 2, 3, 2, 3]
    with pytest.raises(StylescopeError, match='no direction named'):
        dset.index('nope')
    # non-unit rows are normalised with their length folded into the unit: edits stay the same
    scaled = ds.DirectionSet(dset.vectors * 3, dset.scales, dset.layer_start, dset.layer_end, dset.names)
    assert np.allclose(np.linalg.norm(scaled.vectors, axis=1), 1) and np.allclose(scaled.scales, dset.scales * 3)


def test_file_round_trip(tmp_path):
    dset = _small_set(fingerprint='abc')
    path = tmp_path / 'dirs.npz'
    dset.save(path)
    dset.rename('a', 'z').save(path)  # overwrite
    assert sorted(os.listdir(tmp_path)) == ['dirs.npz']  # no temporary file left behind
    with np.load(path) as data:
        assert set(data.files) >= set(ds.NATIVE_KEYS)
    back = df.load(path)
    assert back.names == ['z', 'b', 'c']
    for key in ('vectors', 'scales', 'layer_start', 'layer_end', 'centers'):
        assert np.array_equal(getattr(back, key), getattr(dset, key)), key
    assert back.meta['method'] == 'test' and back.meta['fingerprint'] == 'abc'
    assert back.meta['per_direction'] == {'score': [1, 2, 3]}


def _write_npz(path, **overrides):
    dset = _small_set()
    arrays = dict(vectors=dset.vectors, scales=dset.scales, layer_start=dset.layer_start,
                  layer_end=dset.layer_end, meta=np.array('{"names": ["a", "b", "c"]}'))
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize('overrides, message', [
    (dict(scales=None), 'lacks scales'),
    (dict(scales=np.ones(2)), r'scales has 2 entries for 3 vectors'),
    (dict(vectors=np.full([3, 16], np.nan)), 'NaN'),
    (dict(vectors=np.ones([3, 4, 4])), 'vectors must be'),
    (dict(layer_end=np.array([6, 1, 4])), 'start < end'),
    (dict(meta=np.array('not json')), 'is not valid JSON'),
    (dict(meta=np.array('[1, 2]')), 'meta is not a JSON object'),
    (dict(meta=np.array('{"names": ["a", "a", "c"]}')), 'unique'),
    (dict(layer_start=np.array([0.5, 1, 2])), 'integers'),
    (dict(scales=np.array([1.0, 0.0, 2.0])), 'positive'),
])
def test_bad_direction_files_are_refused(tmp_path, overrides, message):
    path = tmp_path / 'bad.npz'
    _write_npz(path, **overrides)
    with pytest.raises(StylescopeError, match=message) as err:
        df.load(path)
    assert 'bad.npz' in str(err.value)


def test_unreadable_files_are_refused(tmp_path):
    with pytest.raises(StylescopeError, match='does not exist'):
        df.load(tmp_path / 'missing.npz')
    junk = tmp_path / 'junk.npz'
    junk.write_bytes(b'this is not a zip file at all')
    with pytest.raises(StylescopeError, match='junk.npz'):
        df.load(junk)
    pickled = tmp_path / 'pickled.npz'
    _write_npz(pickled, meta=np.array([{'names': ['a']}], dtype=object))
    with pytest.raises(StylescopeError, match='pickled Python objects'):
        df.load(pickled)


def test_fingerprint_mismatch_warns_and_wrong_w_dim_is_refused(G, tmp_path):
    path = tmp_path / 'd.npz'
    _small_set(fingerprint='0123456789abcdef').save(path)
    with pytest.warns(UserWarning, match='made for another model'):
        df.load(path, fingerprint='fedcba9876543210')
    with pytest.warns(UserWarning, match='made for another model'):
        df.load(path, G=G)
    _small_set(fingerprint=model_fingerprint(G)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert len(df.load(path, G=G)) == 3
    _small_set(w_dim=8).save(path)
    with pytest.raises(StylescopeError, match=r"w_dim 8 but the network's w_dim is 16") as err:
        df.load(path, G=G)
    assert 'd.npz' in str(err.value)


def test_ranges_past_num_ws_are_cut_with_a_warning(G, tmp_path):
    path = tmp_path / 'big.npz'
    ds.DirectionSet(np.eye(16)[:2], [1, 1], [0, 10], [18, 18], ['x', 'y']).save(path)
    with pytest.warns(UserWarning, match='cut to fit'):
        dset = df.load(path, G=G)
    assert list(dset.layer_end) == [6, 6] and list(dset.layer_start) == [0, 5]


# ----------------------------------------------------------------------------------------------
# Importers

def test_interfacegan_round_trip(G, tmp_path):
    normal = _unit(np.random.RandomState(0).randn(1, 16))
    path = tmp_path / 'stylegan_ffhq_smile_w_boundary.npy'
    np.save(path, normal)
    dset = df.open_directions(path, G)
    assert dset.names == ['stylegan_ffhq_smile_w'] and dset.scales[0] == 1 and dset.meta['method'] == 'interfacegan'
    assert np.allclose(dset.vectors[0], normal[0]) and (dset.layer_end == G.num_ws).all()
    again = tmp_path / 'again.npy'
    df.export_interfacegan(dset, 0, again)
    assert np.load(again).shape == (1, 16) and np.allclose(np.load(again), normal, atol=1e-7)
    np.save(tmp_path / 'wide.npy', np.ones([1, 512]))
    with pytest.raises(StylescopeError, match='length 512'):
        df.open_directions(tmp_path / 'wide.npy', G)
    np.save(tmp_path / 'many.npy', np.ones([3, 16]))
    with pytest.raises(StylescopeError, match='not an InterfaceGAN boundary'):
        df.open_directions(tmp_path / 'many.npy', G)


def test_ganspace_round_trip(G, tmp_path):
    pca = dr.PCADirections(n_components=5, n_samples=500).fit(G).directions_
    path = tmp_path / 'ganspace.npz'
    df.export_ganspace(pca, path)
    with np.load(path) as data:
        assert data['lat_comp'].shape == (5, 1, 16) and data['lat_stdev'].shape == (5,)
    back = df.open_directions(path, G)
    assert np.allclose(back.vectors, pca.vectors, atol=1e-6) and np.allclose(back.scales, pca.scales)
    assert np.allclose(back.centers, pca.centers, atol=1e-5)
    assert np.allclose(back.meta['per_direction']['explained_variance_ratio'],
                       pca.meta['per_direction']['explained_variance_ratio'])
    # a GANSpace-made cache: lat_comp [C, 1, w_dim] without lat_mean
    comp = np.linalg.qr(np.random.RandomState(1).randn(16, 16))[0][:4, None, :].astype(np.float32)
    np.savez(tmp_path / 'cache.npz', lat_comp=comp, lat_stdev=np.array([3, 2, 1, 0.5], np.float32))
    cache = df.open_directions(tmp_path / 'cache.npz', G)
    assert np.allclose(cache.vectors, comp[:, 0], atol=1e-6) and np.allclose(cache.scales, [3, 2, 1, 0.5])
    np.savez(tmp_path / 'other.npz', lat_comp=np.ones([2, 1, 32]), lat_stdev=np.ones(2))
    with pytest.raises(StylescopeError, match='w_dim is 16'):
        df.open_directions(tmp_path / 'other.npz', G)


class _Sneaky:
    def __reduce__(self):
        return (print, ('this must never run',))


def test_rosinality_round_trip_and_refusal(G, tmp_path):
    eigvec = torch.linalg.qr(torch.randn(16, 16))[0]
    path = tmp_path / 'factor.pt'
    torch.save({'ckpt': 'stylegan2-ffhq.pt', 'eigvec': eigvec}, path)
    dset = df.open_directions(path, G)
    assert len(dset) == 16 and np.allclose(dset.vectors, eigvec.numpy().T, atol=1e-6)
    assert dset.meta['ckpt'] == 'stylegan2-ffhq.pt' and (dset.scales == 1).all()
    df.export_rosinality(dset, tmp_path / 'again.pt')
    assert np.allclose(df.open_directions(tmp_path / 'again.pt', G).vectors, dset.vectors)
    torch.save({'eigvec': eigvec, 'extra': _Sneaky()}, tmp_path / 'evil.pt')
    with pytest.raises(StylescopeError, match='refused'):
        df.open_directions(tmp_path / 'evil.pt', G)
    torch.save({'something': eigvec}, tmp_path / 'plain.pt')
    with pytest.raises(StylescopeError, match="no 'eigvec'"):
        df.open_directions(tmp_path / 'plain.pt', G)
    torch.save({'eigvec': torch.eye(8)}, tmp_path / 'small.pt')
    with pytest.raises(StylescopeError, match='w_dim is 16'):
        df.open_directions(tmp_path / 'small.pt', G)


def test_projected_w_round_trip(G, tmp_path):
    target = np.random.RandomState(7).randn(16).astype(np.float32)
    path = tmp_path / 'projected_w.npz'
    np.savez(path, w=np.tile(target, [1, G.num_ws, 1]))
    dset = df.open_directions(path, G)
    assert dset.names == ['projected_w'] and dset.meta['method'] == 'projected_w'
    w_avg = G.mapping.w_avg.numpy()
    moved = _apply(dset, np.tile(w_avg, [1, G.num_ws, 1]), [1.0])
    assert np.allclose(moved, np.tile(target, [1, G.num_ws, 1]), atol=1e-5)
    plus = np.tile(target, [1, G.num_ws, 1])
    plus[0, 0] += 1
    np.savez(tmp_path / 'plus.npz', w=plus)
    rows = df.open_directions(tmp_path / 'plus.npz', G)  # W+: a per-row direction, w_avg -> the projection
    assert rows.is_per_row(0) and rows.meta['space'] == 'W+'
    assert np.allclose(_apply(rows, np.tile(w_avg, [1, G.num_ws, 1]), [1.0]), plus, atol=1e-5)
    np.savez(tmp_path / 'several.npz', w=np.stack([plus[0], plus[0][::-1]]))
    with pytest.warns(UserWarning, match='several ws'):
        df.open_directions(tmp_path / 'several.npz', G)
    np.savez(tmp_path / 'wrong.npz', w=np.ones([1, G.num_ws, 8]))
    with pytest.raises(StylescopeError, match='w_dim is 16'):
        df.open_directions(tmp_path / 'wrong.npz', G)


def test_open_directions_refuses_unknown_files(G, tmp_path):
    (tmp_path / 'x.txt').write_text('hello')
    with pytest.raises(StylescopeError, match='is not a direction file'):
        df.open_directions(tmp_path / 'x.txt', G)
    np.savez(tmp_path / 'odd.npz', foo=np.ones(3))
    with pytest.raises(StylescopeError, match='holds none of'):
        df.open_directions(tmp_path / 'odd.npz', G)


# ----------------------------------------------------------------------------------------------
# Layer-range suggestion

def _silence_layers(G, names):
    """A copy of G whose listed layers ignore w (zero affine weights): edits there change nothing."""
    G = copy.deepcopy(G)
    for name, layer, _ in dr.style_layers(G):
        if name in names:
            layer.affine.weight.zero_()
    return G


def test_suggest_layer_range_finds_the_group_that_reacts(G):
    d = _unit(np.random.RandomState(0).randn(16))
    start, end, effects = dr.suggest_layer_range(G, d, scale=1.0, seeds=range(4))
    assert set(effects) == {'coarse', 'middle'} and (start, end) in ((0, 4), (0, 6), (4, 6))
    deaf_middle = _silence_layers(G, ['b16.conv1', 'b16.torgb'])  # ws 4 and 5
    start, end, effects = dr.suggest_layer_range(deaf_middle, d, scale=1.0, seeds=range(4))
    assert (start, end) == (0, 4) and effects['middle'] == 0
    deaf_coarse = _silence_layers(G, ['b4.conv1', 'b4.torgb', 'b8.conv0', 'b8.conv1', 'b8.torgb', 'b16.conv0'])
    start, end, effects = dr.suggest_layer_range(deaf_coarse, d, scale=1.0, seeds=range(4))
    assert (start, end) == (4, 6) and effects['coarse'] == 0


def test_suggest_layer_ranges_with_discriminator(G):
    torch.manual_seed(5)
    D = Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=512, channel_max=32).eval()
    deaf_middle = _silence_layers(G, ['b16.conv1', 'b16.torgb'])
    dset = _small_set()
    out = dr.suggest_layer_ranges(deaf_middle, dset, D=D, seeds=range(3))
    assert list(out.layer_start) == [0, 0, 0] and list(out.layer_end) == [4, 4, 4]
    effects = out.meta['per_direction']['layer_effects']
    assert len(effects) == 3 and all(e['middle'] == 0 and e['coarse'] > 0 for e in effects)


# ----------------------------------------------------------------------------------------------
# CLI

def _cli(argv):
    common = argparse.ArgumentParser(add_help=False)  # as main.py passes its shared --debug
    common.add_argument('--debug', action='store_true', default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog='stylescope')
    cli_directions.add_parser(parser.add_subparsers(dest='command'), [common])
    return cli_directions.run(parser.parse_args(argv))


def test_cli_parsers():
    assert (cli_directions.DEFAULT_COMPONENTS, cli_directions.SAMPLE_SEED) == (dr.DEFAULT_COMPONENTS, dr.SAMPLE_SEED)
    assert parse_row_range('2-4', 6) == (2, 5) and parse_row_range(None, 6) == (0, 6)
    assert parse_row_range('3', 6) == (3, 4)
    with pytest.raises(StylescopeError, match='--layers'):
        parse_row_range('4-9', 6)
    assert cli_options.split_direction_spec('a/b.npz:smile') == ('a/b.npz', 'smile')
    assert cli_options.split_direction_spec('a/b.npz') == ('a/b.npz', None)
    assert cli_options.split_direction_spec('C:\\d\\b.npz') == ('C:\\d\\b.npz', None)
    assert cli_options.split_direction_spec('C:\\d\\b.npz:age') == ('C:\\d\\b.npz', 'age')


def test_cli_end_to_end(G, net_file, tmp_path, capsys):
    pca, sefa, svm, tuned = (str(tmp_path / f'{n}.npz') for n in ('pca', 'sefa', 'svm', 'tuned'))
    assert _cli(['directions', 'pca', '--network', net_file, '--out', pca, '--samples', '600', '--components', '4',
                 '--device', 'cpu']) == 0
    assert 'PCA directions from 600 samples' in capsys.readouterr().out
    pca_set = df.load(pca, G=G)
    assert pca_set.names == ['PC0', 'PC1', 'PC2', 'PC3'] and pca_set.meta['fingerprint'] == model_fingerprint(G)
    _cli(['directions', 'sefa', '--network', net_file, '--out', sefa, '--layers', '0-2', '--components', '3'])
    sefa_set = df.load(sefa, G=G)
    assert len(sefa_set) == 3 and (sefa_set.layer_end == 3).all()

    rng = np.random.RandomState(9)
    seeds = list(range(400))
    _, _, labels = _planted(G, seeds, rng)
    csv = tmp_path / 'age.csv'
    csv.write_text(''.join(f'{s},{label}\n' for s, label in zip(seeds, labels)))
    _cli(['directions', 'svm', '--network', net_file, '--out', svm, '--labels', str(csv),
          '--orthogonal-to', f'{pca}:PC0', '--orthogonal-to', f'{sefa}:SeFa1'])
    svm_set = df.load(svm, G=G)
    assert svm_set.names == ['age'] and svm_set.meta['conditioned']
    assert abs(float(svm_set.vectors[0] @ pca_set.vectors[0])) < 1e-5
    assert abs(float(svm_set.vectors[0] @ sefa_set.vectors[1])) < 1e-5

    _cli(['directions', 'suggest', pca, '--network', net_file, '--out', tuned, '--seeds', '0-2', '--use-d', '--limits'])
    tuned_set = df.load(tuned, G=G)
    assert all(tuned_set.limit_of(k) in dr.LIMIT_STEPS for k in range(len(tuned_set)))
    assert tuned_set.meta['per_direction']['slider_limit'] == [tuned_set.limit_of(k) for k in range(len(tuned_set))]
    assert tuned_set.meta['method'] == 'pca' and len(tuned_set.meta['per_direction']['layer_effects']) == 4

    np.save(tmp_path / 'smile_boundary.npy', _unit(rng.randn(1, 16)))
    imported = str(tmp_path / 'imported.npz')
    _cli(['directions', 'import', str(tmp_path / 'smile_boundary.npy'), '--network', net_file, '--out', imported])
    assert df.load(imported, G=G).names == ['smile']

    strip = str(tmp_path / 'strip.png')
    _cli(['directions', 'show', pca, '--network', net_file, '--out', strip, '--seeds', '0-2', '--steps', '5',
          '--only', 'PC0,PC2'])
    with PIL.Image.open(strip) as img:
        assert img.size == (5 * 16, 2 * 3 * 16)
        assert 'PC0, PC2' in img.text['directions']
    with pytest.raises(StylescopeError, match='--only'):
        _cli(['directions', 'show', pca, '--network', net_file, '--out', strip, '--only', 'nope'])


def test_main_py_dispatches_directions(net_file, tmp_path, capsys):
    import main
    out = str(tmp_path / 'sefa.npz')
    assert main.main(['directions', 'sefa', '--network', net_file, '--out', out, '--components', '2']) == 0
    assert main.main(['directions', 'sefa', '--network', net_file, '--out', out, '--layers', '3-40']) == 2
    assert "error: --layers '3-40' is not a ws range" in capsys.readouterr().err


def test_conditional_labels_fit_the_pictures_of_their_classes(tmp_path):
    """A label file that names each seed's class fits the w of those pictures (the ones generate
    --class draws); --class names one class for all; without either, each seed draws its own."""
    torch.manual_seed(4)
    G = Generator(c_dim=3, **TINY).eval().requires_grad_(False)
    path = str(tmp_path / 'cond.safetensors')
    save_network(path, G)
    rng = np.random.RandomState(2)
    seeds = list(range(300))
    classes = list(rng.randint(3, size=len(seeds)))
    w = ws_from_seeds(G, seeds, classes)[:, 0].double().numpy()
    labels = ((w - w.mean(axis=0)) @ _unit(rng.randn(16)) > 0).astype(int)
    labels_csv = tmp_path / 'attr.csv'
    write_labels(labels_csv, seeds, labels, classes)
    got_seeds, got_labels, got_classes = labels_from_csv(labels_csv)
    assert (got_seeds, list(got_labels), got_classes) == (seeds, list(labels), classes)
    out = str(tmp_path / 'attr.npz')
    assert _cli(['directions', 'svm', '--network', path, '--out', out, '--labels', str(labels_csv)]) == 0
    expected = dr.SVMDirection().fit(w, labels)
    assert np.allclose(df.load(out, G=G).vectors[0], expected.normal_, atol=1e-5)
    with pytest.raises(StylescopeError, match='drop --class'):
        _cli(['directions', 'svm', '--network', path, '--out', out, '--labels', str(labels_csv), '--class', '1'])
    # --class 1 for every seed: the pictures of class 1
    plain_csv = tmp_path / 'plain.csv'
    write_labels(plain_csv, seeds, labels)
    assert _cli(['directions', 'svm', '--network', path, '--out', out, '--labels', str(plain_csv), '--class', '1']) == 0
    w1 = ws_from_seeds(G, seeds, 1)[:, 0].double().numpy()
    assert np.allclose(df.load(out, G=G).vectors[0], dr.SVMDirection().fit(w1, labels).normal_, atol=1e-5)
    # no class at all: each seed's own draw, as the visualiser (and before this change)
    assert dr.seed_classes(G, [5, 6]) == [class_from_seed(5, G.z_dim, 3), class_from_seed(6, G.z_dim, 3)]
    pca = str(tmp_path / 'pca.npz')
    assert _cli(['directions', 'pca', '--network', path, '--out', pca, '--samples', '200', '--components', '2',
                 '--class', '2']) == 0
    assert df.load(pca, G=G).meta['class_idx'] == 2
    with pytest.raises(StylescopeError, match='out of range'):
        _cli(['directions', 'pca', '--network', path, '--out', pca, '--class', '3'])
    bad = tmp_path / 'mixed.csv'
    bad.write_text('1,0,2\n2,1\n')
    with pytest.raises(StylescopeError, match='some rows but not on others'):
        labels_from_csv(bad)
    bad.write_bytes(b'\xff\xfe\x00bin')
    with pytest.raises(StylescopeError, match='is not text'):
        labels_from_csv(bad)


def test_slider_limits_follow_the_discriminator(G):
    """A range per direction: as far as D still scores the edited pictures like the data."""
    class ConstantD(torch.nn.Module):  # every picture looks like the data
        def forward(self, img, c):
            return torch.zeros(len(img), 1)

    class StrictD(torch.nn.Module):  # the reference looks like the data; of the edits, only the first one does
        def __init__(self):
            super().__init__()
            self.seen = None

        def forward(self, img, c):
            if self.seen is None or len(img) != len(self.seen):  # the reference, then the first edit (+1)
                self.seen = img.detach().clone()
                return torch.ones(len(img), 1)
            return torch.where((img - self.seen).abs().amax(dim=(1, 2, 3)) < 1e-6, 1.0, -1.0).reshape(-1, 1)

    dset = _small_set()
    easy = dr.suggest_slider_limits(G, ConstantD(), dset, seeds=range(2), reference_samples=8)
    assert [easy.limit_of(k) for k in range(3)] == [dr.LIMIT_STEPS[-1]] * 3
    strict = dr.suggest_slider_limits(G, StrictD(), dset, seeds=range(2), reference_samples=8)
    assert [strict.limit_of(k) for k in range(3)] == [dr.LIMIT_STEPS[0]] * 3  # never below the smallest step
    with pytest.raises(StylescopeError, match='discriminator'):
        dr.suggest_slider_limits(G, None, dset)
    assert dset.limit_of(0) == ds.DEFAULT_LIMIT  # unmeasured: the default
