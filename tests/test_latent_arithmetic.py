"""Latent arithmetic (issue 19, part 1): "A -> B" as a direction (core.direction_set.difference),
per-row (W+) directions in the direction file, `directions diff`, `--edit F.npz:NAME=AMOUNT` on
generate and video, and "A -> B" from two favourites in the explorer."""
import os

import numpy as np
import PIL.Image
import pytest
import torch

import main
from core import direction_files as df
from core import direction_set as ds
from core.direction_set import DirectionSet, difference
from core.errors import StylescopeError
from core.latent import add_offsets, ws_from_seeds
from core.model_io import fingerprint, save_network
from core.projection import save_projected_w
from core.render import Renderer, render_ws
from core.request import Offset, RenderRequest
from tests.tiny_nets import tiny_generator

NUM_WS = 8  # the tiny 32 px network: coarse 0-3, middle 4-7
COARSE = (0, 4)


@pytest.fixture(scope='module')
def G():
    return tiny_generator(seed=3)


@pytest.fixture(scope='module')
def net(tmp_path_factory, G):
    path = tmp_path_factory.mktemp('net') / 'tiny.safetensors'
    save_network(str(path), G)
    return str(path)


@pytest.fixture(scope='module')
def renderer(G):
    return Renderer(G)


def _seed_ws(G, seed, psi=1.0, cutoff=None):
    return ws_from_seeds(G, [seed], None, psi, cutoff)[0].numpy()


def _w_plus(G, seed):
    """A projected-looking W+ latent: a seed's ws with every row moved differently."""
    rng = np.random.RandomState(seed)
    return (_seed_ws(G, seed) + 0.5 * rng.randn(G.num_ws, G.w_dim)).astype(np.float32)


def _image(renderer, **request):
    return renderer.render(RenderRequest(**request)).image


def _assert_same_picture(a, b):
    """Rendered uint8 pictures equal to float rounding (a w a few ulps away may flip a pixel by 1)."""
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert (a != b).mean() < 0.01


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ') and 'Traceback' not in err[0], err
    return err[0]


# --- the direction -------------------------------------------------------------------------------

@pytest.mark.parametrize('psi, cutoff', [(1.0, None), (0.7, None), (0.6, 3)])
def test_seed_a_to_b_at_one_renders_b(G, renderer, psi, cutoff):
    a, b = _seed_ws(G, 1, psi, cutoff), _seed_ws(G, 2, psi, cutoff)
    dset = difference(a, b, 'seed 1 → seed 2')
    assert dset.is_per_row(0) == (cutoff is not None)  # a cutoff makes the rows of the difference differ
    assert dset.kind_of(0) == ('w_rows' if cutoff is not None else 'w')
    np.testing.assert_allclose(dset.scales[0], np.linalg.norm(b - a) if cutoff else np.linalg.norm(b[0] - a[0]),
                               rtol=1e-5)
    request = RenderRequest(seed=1, psi=psi, cutoff=cutoff, offsets=dset.offsets_for([1.0]))
    np.testing.assert_allclose(renderer.ws_array(request), b, atol=1e-5)
    _assert_same_picture(renderer.render(request).image, _image(renderer, seed=2, psi=psi, cutoff=cutoff))
    assert np.allclose(dset.project(np.stack([a, b])).ravel(), [0, 1], atol=1e-4)  # A reads 0, B reads 1


def test_projected_w_plus_a_to_b_at_one_renders_b(G, renderer):
    a, b = _w_plus(G, 5), _w_plus(G, 6)
    dset = difference(a, b)
    assert dset.is_per_row(0) and dset.meta['space'] == 'W+' and dset.row_vectors[0].shape == (NUM_WS, G.w_dim)
    assert np.isclose(np.linalg.norm(dset.row_vectors[0]), 1, atol=1e-5)  # unit rows, the length is the unit
    edited = add_offsets(torch.from_numpy(a)[None], dset.offsets_for([1.0]))[0].numpy()
    np.testing.assert_allclose(edited, b, atol=1e-5)
    request = RenderRequest(w=a, offsets=dset.offsets_for([1.0]))
    _assert_same_picture(renderer.render(request).image, _image(renderer, w=b))
    half = renderer.ws_array(RenderRequest(w=a, offsets=dset.offsets_for([0.5])))
    np.testing.assert_allclose(half, (a + b) / 2, atol=1e-5)
    assert np.allclose(dset.project(np.stack([a, b, (a + b) / 2])).ravel(), [0, 1, 0.5], atol=1e-4)


def test_a_coarse_only_range_changes_only_those_rows(G, renderer):
    a, b = _w_plus(G, 5), _w_plus(G, 6)
    dset = difference(a, b, layers=COARSE)
    ws = renderer.ws_array(RenderRequest(w=a, offsets=dset.offsets_for([1.0])))
    np.testing.assert_allclose(ws[:4], b[:4], atol=1e-5)  # the coarse rows are B's
    np.testing.assert_array_equal(ws[4:], a[4:])  # the others are A's, untouched
    # the same direction, widened later to every row, is A -> B entire
    wide = dset.with_range(0, 0, NUM_WS)
    np.testing.assert_allclose(renderer.ws_array(RenderRequest(w=a, offsets=wide.offsets_for([1.0]))), b, atol=1e-5)
    # and on a third picture it adds the coarse change only (expression transfer: w1 + (w3 - w2))
    c = _w_plus(G, 7)
    moved = renderer.ws_array(RenderRequest(w=c, offsets=dset.offsets_for([1.0])))
    np.testing.assert_allclose(moved[:4], c[:4] + (b - a)[:4], atol=1e-5)
    np.testing.assert_array_equal(moved[4:], c[4:])


def test_the_direction_refuses_what_is_not_a_change(G):
    a = _w_plus(G, 5)
    with pytest.raises(StylescopeError, match='the same in ws rows 0-7'):
        difference(a, a.copy())
    b = a.copy()
    b[6] += 1
    with pytest.raises(StylescopeError, match='the same in ws rows 0-3'):
        difference(a, b, layers=COARSE)
    with pytest.raises(StylescopeError, match='one network'):
        difference(a, b[:4])


def test_sets_of_mixed_kinds_merge_subset_project_and_edit(G):
    rng = np.random.RandomState(0)
    pca = DirectionSet(rng.randn(3, G.w_dim), [1, 2, 3], [0] * 3, [NUM_WS] * 3, ['PC0', 'PC1', 'PC2'],
                       dict(method='pca', per_direction=dict(explained_variance_ratio=[0.5, 0.3, 0.2])))
    a, b = _w_plus(G, 5), _w_plus(G, 6)
    mixed = pca.merge(difference(a, b, 'A → B', COARSE))
    assert [mixed.kind_of(k) for k in range(4)] == ['w', 'w', 'w', 'w_rows']
    assert mixed.method_of(3) == 'difference' and mixed.method_of(0) == 'pca'
    assert mixed.meta['per_direction']['explained_variance_ratio'][:3] == [0.5, 0.3, 0.2]
    coords = mixed.project(np.stack([a, b]))  # PCA coordinates and the difference's, side by side
    assert coords.shape == (2, 4) and np.allclose(coords[:, 3], [0, 1], atol=1e-4)
    assert np.isfinite(mixed.project(a[0][None])).all()  # a single w (every row) reads too
    np.testing.assert_allclose(coords[:, :3], pca.project(np.stack([a, b])), rtol=1e-5)
    only_pca = mixed.subset([0, 2])
    assert only_pca.row_vectors is None and only_pca.per_row_names() == []
    again = mixed.subset([3, 1])
    assert again.is_per_row(0) and not again.is_per_row(1)
    np.testing.assert_array_equal(again.row_vectors[0], mixed.row_vectors[3])
    renamed = mixed.rename(3, 'pose').with_limit(3, 1.5)
    np.testing.assert_array_equal(renamed.row_vectors[3], mixed.row_vectors[3])
    assert renamed.scales[3] == mixed.scales[3]
    offsets = mixed.offsets_for([0, 1.0, 0, 1.0])
    assert [o.per_row for o in offsets] == [False, True]
    ws = add_offsets(torch.from_numpy(a)[None], offsets)[0].numpy()
    expected = a.copy()
    expected += mixed.scales[1] * mixed.vectors[1]
    expected[:4] += (b - a)[:4]
    np.testing.assert_allclose(ws, expected, atol=1e-5)


def test_renderer_refuses_a_per_row_offset_of_another_network(renderer):
    bad = Offset(np.ones([5, 16]), 1.0, 0, 4)
    with pytest.raises(StylescopeError, match=r'\[5, 16\].*\[8, 16\] per row'):
        renderer.render(RenderRequest(seed=1, offsets=(bad,)))


# --- the file -----------------------------------------------------------------------------------

def _mixed_set(G):
    rng = np.random.RandomState(1)
    pca = DirectionSet(rng.randn(2, G.w_dim), [1, 2], [0, 0], [NUM_WS] * 2, ['PC0', 'PC1'], dict(method='pca'))
    first = difference(_w_plus(G, 5), _w_plus(G, 6), 'A → B', COARSE, dict(fingerprint=fingerprint(G)))
    second = difference(_seed_ws(G, 1), _seed_ws(G, 2), 'seed 1 → seed 2')
    return pca.merge(first).merge(second)


def test_the_file_round_trips(G, tmp_path):
    dset = _mixed_set(G)
    path = tmp_path / 'mixed.npz'
    dset.save(path)
    with np.load(path) as f:
        assert f['row_vectors'].shape == (1, NUM_WS, G.w_dim) and f['vectors'].shape == (4, G.w_dim)
    back = df.load(path, G)
    assert back.names == dset.names and [back.kind_of(k) for k in range(4)] == ['w', 'w', 'w_rows', 'w']
    for name in ('vectors', 'scales', 'centers', 'layer_start', 'layer_end'):
        np.testing.assert_array_equal(getattr(back, name), getattr(dset, name))
    np.testing.assert_array_equal(back.row_vectors[2], dset.row_vectors[2])
    assert back.row_vectors[0] is None and back.limit_of(2) == ds.DIFFERENCE_LIMIT
    np.testing.assert_array_equal(back.project(_w_plus(G, 9)[None]), dset.project(_w_plus(G, 9)[None]))
    # a set without per-row directions is written as before: no row_vectors, version 1
    dset.subset([0, 1]).save(tmp_path / 'plain.npz')
    with np.load(tmp_path / 'plain.npz') as f:
        assert 'row_vectors' not in f.files and '"version": 1' in str(f['meta'])


def _write_with(path, dset, **changes):
    """dset's file with some arrays replaced (None: left out) or meta per_direction keys changed."""
    dset.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta_changes = changes.pop('per_direction', None)
    if meta_changes is not None:
        import json
        meta = json.loads(str(arrays['meta']))
        meta['per_direction'].update(meta_changes)
        arrays['meta'] = np.array(json.dumps(meta))
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize('change, why', [
    (dict(row_vectors=None), 'no row_vectors array'),
    (dict(row_vectors=np.zeros([1, NUM_WS, 16], np.int32)), 'must be a float'),
    (dict(row_vectors=np.ones([1, NUM_WS, 5], np.float32)), r'must be a float \[M, num_ws, 16\]'),
    (dict(row_vectors=np.ones([NUM_WS, 16], np.float32)), r'must be a float \[M, num_ws, 16\]'),
    (dict(row_vectors=np.ones([2, NUM_WS, 16], np.float32)), "holds 2 per-row directions but meta marks 1"),
    (dict(row_vectors=np.zeros([1, NUM_WS, 16], np.float32)), 'are all zero'),
    (dict(row_vectors=np.full([1, NUM_WS, 16], np.nan, np.float32)), 'NaN'),
    (dict(row_vectors=np.ones([1, 2, 16], np.float32)), 'reaches ws row 3 but has row vectors for 2 rows'),
    (dict(per_direction=dict(kind=['w', 'w', 'w', 'w'])), "holds 1 per-row directions but meta marks 0"),
    (dict(per_direction=dict(kind=['style', 'w', 'w_rows', 'w'])), "kind 'style'"),
])
def test_malformed_per_row_files_give_one_sentence(G, tmp_path, change, why):
    path = _write_with(tmp_path / 'bad.npz', _mixed_set(G), **change)
    with pytest.raises(StylescopeError, match=why) as info:
        df.open_directions(path, G)
    text = str(info.value)
    assert 'bad.npz' in text and 'is damaged' in text and '\n' not in text


def test_per_row_directions_of_another_num_ws_are_refused(G, tmp_path):
    rows = np.random.RandomState(0).randn(6, G.w_dim)  # a network with 6 ws rows
    dset = difference(np.zeros([6, G.w_dim]), rows, 'elsewhere')
    dset.save(tmp_path / 'six.npz')
    with pytest.raises(StylescopeError, match=r"per-row directions \(elsewhere\) for 6 ws rows but the network has 8"):
        df.open_directions(tmp_path / 'six.npz', G)


def test_exports_refuse_per_row_directions_with_one_sentence(G, tmp_path):
    dset = _mixed_set(G)
    with pytest.raises(StylescopeError, match="'A → B' is a per-row direction.*InterfaceGAN .npy holds one") as info:
        df.export_interfacegan(dset, 'A → B', tmp_path / 'ab_boundary.npy')
    assert '\n' not in str(info.value) and not (tmp_path / 'ab_boundary.npy').exists()
    df.export_interfacegan(dset, 'seed 1 → seed 2', tmp_path / 's_boundary.npy')  # one W vector: exported
    assert np.load(tmp_path / 's_boundary.npy').shape == (1, G.w_dim)
    for export, name in ((df.export_ganspace, 'g.npz'), (df.export_rosinality, 'f.pt')):
        with pytest.raises(StylescopeError, match=r'per-row directions \(A → B: .*remove them first'):
            export(dset, tmp_path / name)
        assert not (tmp_path / name).exists()
        export(dset.subset([0, 1, 3]), tmp_path / name)  # without it the set exports
    assert len(df.open_directions(tmp_path / 'g.npz', G)) == 3


def test_a_w_plus_projected_w_imports_as_a_per_row_direction(G, tmp_path):
    target = _w_plus(G, 4)
    save_projected_w(tmp_path / 'photo.npz', target[None])
    dset = df.open_directions(tmp_path / 'photo.npz', G)
    assert dset.is_per_row(0) and dset.meta['method'] == 'projected_w' and dset.names == ['photo']
    w_avg = np.tile(G.mapping.w_avg.numpy(), [NUM_WS, 1])
    moved = add_offsets(torch.from_numpy(w_avg)[None], dset.offsets_for([1.0]))[0].numpy()
    np.testing.assert_allclose(moved, target, atol=1e-5)


def test_sessions_keep_per_row_directions(G):
    from core.session_file import decode_directions, encode_directions
    dset = _mixed_set(G)
    back = decode_directions(encode_directions(dset))
    assert [back.kind_of(k) for k in range(len(back))] == [dset.kind_of(k) for k in range(len(dset))]
    np.testing.assert_array_equal(back.row_vectors[2], dset.row_vectors[2])


# --- the command line ----------------------------------------------------------------------------

def _read(path):
    return np.asarray(PIL.Image.open(path).convert('RGB'))


@pytest.mark.parametrize('trunc', [[], ['--trunc', '0.7'], ['--trunc', '0.6', '--trunc-cutoff', '3']])
def test_generate_edit_after_directions_diff_draws_seed_2(net, tmp_path, capsys, trunc):
    d = str(tmp_path / 'd.npz')
    assert main.main(['directions', 'diff', '--network', net, '--from', '1', '--to', '2', '--out', d, *trunc]) == 0
    assert "seed 1 → seed 2" in capsys.readouterr().out
    out = tmp_path / 'out'
    assert main.main(['generate', '--network', net, '--seeds', '1,2', '--outdir', str(out), *trunc]) == 0
    assert main.main(['generate', '--network', net, '--seeds', '1', '--edit', f'{d}:0=1', '--outdir',
                      str(tmp_path / 'edited'), *trunc]) == 0
    _assert_same_picture(_read(tmp_path / 'edited' / 'seed0001.png'), _read(out / 'seed0002.png'))
    assert not np.array_equal(_read(out / 'seed0001.png'), _read(out / 'seed0002.png'))
    assert PIL.Image.open(tmp_path / 'edited' / 'seed0001.png').info['edits'] == f'{d}:0=1'
    # by name, and half-way: the ws half-way between, drawn
    assert main.main(['generate', '--network', net, '--seeds', '1', '--edit', f'{d}:seed 1 → seed 2=0',
                      '--outdir', str(tmp_path / 'zero'), *trunc]) == 0
    np.testing.assert_array_equal(_read(tmp_path / 'zero' / 'seed0001.png'), _read(out / 'seed0001.png'))


def test_diff_between_projected_ws_with_rows(net, G, tmp_path, capsys):
    a, b = _w_plus(G, 5), _w_plus(G, 6)
    save_projected_w(tmp_path / 'a.npz', a[None])
    save_projected_w(tmp_path / 'b.npz', b[None])
    d = str(tmp_path / 'pose.npz')
    assert main.main(['directions', 'diff', '--network', net, '--from', str(tmp_path / 'a.npz'), '--to',
                      str(tmp_path / 'b.npz'), '--rows', '0-3', '--name', 'pose', '--out', d]) == 0
    assert 'a vector per ws row (W+) on ws rows 0-3' in capsys.readouterr().out
    dset = df.load(d, G)
    assert dset.names == ['pose'] and (dset.layer_start[0], dset.layer_end[0]) == COARSE and dset.is_per_row(0)
    assert main.main(['generate', '--network', net, '--projected-w', str(tmp_path / 'a.npz'), '--edit', f'{d}:pose=1',
                      '--outdir', str(tmp_path / 'out')]) == 0
    mixed = a.copy()
    mixed[:4] = b[:4]  # A with B's coarse rows: B's pose, A's texture
    _assert_same_picture(_read(tmp_path / 'out' / 'proj00.png'), render_ws(G, torch.from_numpy(mixed)[None])[0])
    # a seed to a projected w, the other way round
    assert main.main(['directions', 'diff', '--network', net, '--from', '3', '--to', str(tmp_path / 'b.npz'),
                      '--out', d]) == 0
    assert main.main(['generate', '--network', net, '--seeds', '3', '--edit', f'{d}:0=1', '--outdir',
                      str(tmp_path / 'to_b')]) == 0
    _assert_same_picture(_read(tmp_path / 'to_b' / 'seed0003.png'), render_ws(G, torch.from_numpy(b)[None])[0])


def test_video_takes_edits_on_every_frame(net, G, renderer, tmp_path, monkeypatch):
    from core import video
    d = str(tmp_path / 'd.npz')
    assert main.main(['directions', 'diff', '--network', net, '--from', '1', '--to', '2', '--out', d]) == 0
    seen = []
    real = video.export_video

    def export(renderer, requests, *args, **kwargs):
        seen.append(requests)
        return real(renderer, requests, *args, **kwargs)
    monkeypatch.setattr(video, 'export_video', export)
    out = tmp_path / 'frames'
    assert main.main(['video', '--network', net, '--seeds', '1', '--sweep', d, '--amount', '1', '--fps', '2',
                      '--duration', '1', '--edit', f'{d}:0=1', '--out', str(out), '--format', 'png']) == 0
    frames = seen[0]
    assert len(frames) == 2 and all(len(r.offsets) == 2 for frame in frames for r in frame)
    # the sweep's first frame is at -1 (from seed 1 back by A -> B) and the edit adds +1: seed 1 itself
    first = _read(out / sorted(os.listdir(out))[0])
    _assert_same_picture(first, _image(renderer, seed=1))


@pytest.mark.parametrize('edit, message', [
    ('{d}', 'has no amount'),
    ('{d}:0=lots', "'lots' is not an amount"),
    ('{d}:0=nan', 'the amount nan is not allowed'),
    ('{d}:0=5000', 'the amount 5000.0 is not allowed'),
    ('{d}:smile=1', "has no direction named 'smile': its directions are 'seed 1 → seed 2'"),
    ('{d}:3=1', 'holds 1 direction, so index 3 is out of range'),
    ('{missing}:0=1', 'missing.npz'),
])
def test_bad_edit_specs_give_one_sentence_and_exit_2(net, tmp_path, capsys, edit, message):
    d = str(tmp_path / 'd.npz')
    assert main.main(['directions', 'diff', '--network', net, '--from', '1', '--to', '2', '--out', d]) == 0
    capsys.readouterr()
    spec = edit.format(d=d, missing=tmp_path / 'missing.npz')
    code = main.main(['generate', '--network', net, '--seeds', '1', '--edit', spec, '--outdir', str(tmp_path / 'o')])
    assert code == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / 'o' / 'seed0001.png').exists()


def test_edit_without_a_name_needs_a_file_of_one_direction(net, G, tmp_path, capsys):
    _mixed_set(G).save(tmp_path / 'many.npz')
    code = main.main(['generate', '--network', net, '--seeds', '1', '--edit', f'{tmp_path / "many.npz"}=1',
                      '--outdir', str(tmp_path / 'o')])
    assert code == 2
    line = _error_line(capsys)
    assert "holds 4 directions, so name one" in line and "'PC0', 'PC1', 'A → B', 'seed 1 → seed 2'" in line


def test_an_edit_made_for_another_model_warns(net, tmp_path):
    other = tiny_generator(seed=11)
    d = str(tmp_path / 'other.npz')
    difference(_seed_ws(other, 1), _seed_ws(other, 2), meta=dict(fingerprint=fingerprint(other))).save(d)
    with pytest.warns(UserWarning, match='made for another model'):
        assert main.main(['generate', '--network', net, '--seeds', '1', '--edit', f'{d}:0=1', '--outdir',
                          str(tmp_path / 'o')]) == 0


@pytest.mark.parametrize('argv, message', [
    (['--from', '1', '--to', '1'], 'seed 1 and seed 1 are the same'),
    (['--from', '1', '--to', '2', '--rows', '3-9'], "--rows '3-9' is not a ws range"),
    (['--from', '1', '--to', '{missing}'], 'missing.npz'),
])
def test_bad_diff_arguments_give_one_sentence(net, tmp_path, capsys, argv, message):
    argv = [a.format(missing=tmp_path / 'missing.npz') for a in argv]
    code = main.main(['directions', 'diff', '--network', net, *argv, '--out', str(tmp_path / 'd.npz')])
    assert code == 2 and message in _error_line(capsys) and not (tmp_path / 'd.npz').exists()


# --- the explorer ---------------------------------------------------------------------------------

@pytest.fixture
def window(qtbot, tmp_path):
    from tests.gui_helpers import open_window, write_tiny_network
    path = str(write_tiny_network(tmp_path / 'gui.safetensors'))
    yield from open_window(qtbot, tmp_path, path)


def test_gui_a_to_b_from_two_favourites(window, qtbot):
    from tests.gui_helpers import screenshot, settle
    history, panel = window.history_panel, window.directions_panel
    window.truncation_panel.cutoff_slider.setValue(4)  # truncated rows 0-3 only: the seeds differ per row
    window.latent_panel.seed_box.setValue(1)
    settle(window, qtbot)
    fav_a = history.add_favourite(name='smiling')
    window.latent_panel.seed_box.setValue(2)
    settle(window, qtbot)
    fav_b = history.add_favourite(name='frowning')
    b_picture = window.image_view.current_array().copy()
    window.latent_panel.seed_box.setValue(7)  # somewhere else: "Show A first" brings A back
    settle(window, qtbot)

    actions = [a.text() for a in history.favourite_menu(0).actions()]
    assert 'Direction A → B from this favourite...' in actions
    next(a for a in history.favourite_menu(0).actions() if a.text().startswith('Direction')).trigger()
    dialog = panel.difference_dialog
    assert dialog.a_combo.currentText() == 'smiling' and dialog.b_combo.currentText() == 'frowning'
    assert dialog.name_edit.placeholderText() == 'smiling → frowning' and dialog.show_a_box.isEnabled()
    screenshot(dialog, 'a_to_b_dialog.png')
    assert dialog.accept_difference() == 'smiling → frowning'
    settle(window, qtbot)
    state = window.model.state
    assert state.seed == 1 and state.directions.names[-1] == 'smiling → frowning'
    k = len(state.directions) - 1
    assert state.directions.is_per_row(k) and state.directions.method_of(k) == 'difference'
    row = panel.row_of('smiling → frowning')
    assert row.unit_label.text() == 'Δ' and not row.export_action.isEnabled()
    assert row.projection_label.text() == 'at +0.00'  # A reads 0 along A -> B

    row.slider.setValue(1.0)
    settle(window, qtbot)
    np.testing.assert_allclose(window.last_result.ws, fav_b.ws, atol=1e-5)
    _assert_same_picture(window.image_view.current_array(), b_picture)
    assert row.projection_label.text() == 'at +1.00'
    screenshot(window, 'a_to_b_at_1.png')

    row.preset_buttons['coarse'].click()  # only the coarse rows of A -> B: B's pose on A
    settle(window, qtbot)
    ws = window.last_result.ws
    np.testing.assert_allclose(ws[:4], fav_b.ws[:4], atol=1e-5)
    np.testing.assert_array_equal(ws[4:], fav_a.ws[4:])
    window.model.undo()  # the range, then the slider, then the whole addition go back step by step
    window.model.undo()
    window.model.undo()
    assert window.model.state.seed == 7 and (window.model.state.directions is None
                                              or 'smiling → frowning' not in window.model.state.directions.names)


def test_gui_a_to_b_from_the_current_picture(window, qtbot):
    from tests.gui_helpers import settle
    history, panel = window.history_panel, window.directions_panel
    window.latent_panel.seed_box.setValue(4)
    settle(window, qtbot)
    target = history.add_favourite(name='target')
    window.latent_panel.seed_box.setValue(5)
    settle(window, qtbot)
    current_ws = window.last_result.ws.copy()
    dialog = panel.open_difference()
    assert dialog.a_combo.currentText() == 'the current picture' and dialog.b_combo.currentText() == 'target'
    assert not dialog.show_a_box.isEnabled()
    dialog.b_combo.setCurrentIndex(0)  # A and B the same: refused until they differ
    assert not dialog.add_button.isEnabled() and 'two different pictures' in dialog.problem.text()
    dialog.b_combo.setCurrentIndex(1)
    dialog.rows_combo.setCurrentIndex(dialog.rows_combo.findText('coarse (ws 0-3)'))
    dialog.name_edit.setText('pose')
    assert dialog.accept_difference() == 'pose'
    settle(window, qtbot)
    d = window.model.state.directions
    k = d.names.index('pose')
    assert (d.layer_start[k], d.layer_end[k]) == COARSE and not d.is_per_row(k)  # psi on every row: one W vector
    panel.row_of('pose').slider.setValue(1.0)
    settle(window, qtbot)
    ws = window.last_result.ws
    np.testing.assert_allclose(ws[:4], target.ws[:4], atol=1e-5)
    np.testing.assert_array_equal(ws[4:], current_ws[4:])


def test_gui_a_to_b_between_two_steps_of_the_undo_history(window, qtbot):
    """No favourite needed: earlier pictures of the undo history are ends of A -> B too, with
    the exact ws they were drawn from."""
    from tests.gui_helpers import screenshot, settle
    panel = window.directions_panel
    drawn = {}
    for seed in (3, 8, 6):
        window.latent_panel.seed_box.setValue(seed)
        settle(window, qtbot)
        drawn[seed] = (window.last_result.ws.copy(), window.image_view.current_array().copy())
    dialog = panel.open_difference()
    labels = [dialog.a_combo.itemText(i) for i in range(dialog.a_combo.count())]
    assert labels[0] == 'the current picture'
    assert '1 step back (seed 8)' in labels and '2 steps back (seed 3)' in labels
    dialog.a_combo.setCurrentIndex(labels.index('2 steps back (seed 3)'))
    dialog.b_combo.setCurrentIndex(labels.index('1 step back (seed 8)'))
    assert dialog.show_a_box.isEnabled() and dialog.add_button.isEnabled()
    screenshot(dialog, 'a_to_b_from_history.png')
    name = dialog.accept_difference()
    settle(window, qtbot)
    assert window.model.state.seed == 3  # "Show A first": the picture of 2 steps back
    panel.row_of(name).slider.setValue(1.0)
    settle(window, qtbot)
    np.testing.assert_allclose(window.last_result.ws, drawn[8][0], atol=1e-5)
    _assert_same_picture(window.image_view.current_array(), drawn[8][1])
    window.model.reset(window.model.state)  # a new start forgets the drawn pictures with the history
    assert window.model.history_pictures() == []
