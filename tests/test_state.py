"""The explorer's editing state without Qt: requests, undo / redo, sessions, latent text."""
import json

import numpy as np
import pytest

from core.direction_set import DirectionSet
from core.errors import StylescopeError
from core.noise_spec import NoiseSpec, layer_resolution
from core.request import Latent
from core.session_file import read_session
from explorer.drag_preview import Gesture
from explorer.edit_state import EditState, MixSource
from explorer.latent_text import latent_from_text, latent_to_text
from explorer.state import DEFAULT_PSI, EditorModel

NUM_WS, W_DIM = 10, 16
INFO = dict(num_ws=NUM_WS, w_dim=W_DIM, c_dim=0, fingerprint='aaaa', source='tiny.safetensors')


def dset(k=3, w_dim=W_DIM, names=None):
    rng = np.random.RandomState(k)
    return DirectionSet(rng.randn(k, w_dim), np.linspace(1, 2, k), np.zeros(k, int), np.full(k, NUM_WS),
                        names or [f'd{i}' for i in range(k)], dict(method='pca'))


def model_with_network():
    model = EditorModel()
    model.set_network(INFO)
    return model


def test_request_follows_the_state():
    d = dset()
    state = EditState(seed=5, psi=0.7, cutoff=4, directions=d, alphas=(0, 2.0, 0),
                      mixing=(MixSource('seed 9', 9, (8, 9)),), noise=NoiseSpec('random', 3))
    req = state.request()
    assert req.seed == 5 and req.psi == 0.7 and req.cutoff == 4 and req.noise == NoiseSpec('random', 3)
    assert len(req.offsets) == 1
    off = req.offsets[0]
    assert off.amount == pytest.approx(2.0 * d.scales[1]) and (off.start, off.end) == (0, NUM_WS)
    np.testing.assert_array_equal(off.vector.array, d.vectors[1])
    assert req.mixing[0].source == Latent(seed=9) and req.mixing[0].rows == (8, 9)
    original = state.request(original=True)
    assert original.offsets == () and original.mixing == () and original.seed == 5
    assert state.request(preview=True).preview
    w = np.ones([NUM_WS, W_DIM], np.float32)
    assert EditState(w=w).request().w.shape == (NUM_WS, W_DIM)
    assert state.is_edited and not any(state.reset_edits().alphas) and state.reset_edits().is_edited  # mixing stays


def test_direction_helpers_keep_sliders_aligned():
    state = EditState().add_directions(dset(2)).with_alpha(1, 3.0)
    state = state.add_directions(dset(2))  # clashing names get a suffix
    assert state.directions.names == ['d0', 'd1', 'd0 (2)', 'd1 (2)'] and state.alphas == (0, 3.0, 0, 0)
    state = state.remove_direction(0)
    assert state.directions.names == ['d1', 'd0 (2)', 'd1 (2)'] and state.alphas == (3.0, 0, 0)
    state = state.rename_direction(0, 'smile').with_range(0, 2, 5)
    assert state.directions.names[0] == 'smile' and (state.directions.layer_start[0], state.directions.layer_end[0]) == (2, 5)
    with pytest.raises(StylescopeError):
        state.rename_direction(0, 'd0 (2)')
    for _ in range(3):
        state = state.remove_direction(0)
    assert state.directions is None and state.alphas == ()


def test_mixing_rows_belong_to_one_source():
    state = EditState(mixing=(MixSource('a', 1), MixSource('b', 2)))
    state = state.with_mix_rows(0, [0, 1, 2, 3]).with_mix_rows(1, [2, 3, 4])
    assert state.mixing[0].rows == (0, 1) and state.mixing[1].rows == (2, 3, 4)
    assert state.mix_owner(3) == 1 and state.mix_owner(0) == 0 and state.mix_owner(7) is None


def test_undo_redo_and_drag_coalescing():
    model = model_with_network()
    seen = []
    model.events.state.connect(lambda new, old: seen.append(new))
    model.update(seed=1)
    model.update(seed=2)
    for psi in (0.9, 0.8, 0.7):  # one drag
        model.update(Gesture('psi'), psi=psi)
    model.end_gesture()
    model.update(Gesture('psi'), psi=0.5)  # a new drag
    assert model.state.psi == 0.5 and len(seen) == 6
    model.undo()
    assert model.state.psi == 0.7
    model.undo()
    assert model.state.psi == DEFAULT_PSI and model.state.seed == 2
    model.undo()
    assert model.state.seed == 1
    model.redo()
    model.redo()
    assert model.state.psi == 0.7 and model.can_redo
    model.update(seed=9)  # a new edit drops the redo branch
    assert not model.can_redo
    model.update(seed=9)  # no change, no step
    model.undo()
    assert model.state.seed == 2 and model.state.psi == 0.7


def test_dragging_ends_the_gesture():
    model = model_with_network()
    model.set_dragging(True)
    model.update(Gesture('psi'), psi=0.5)
    model.update(Gesture('psi'), psi=0.4)
    model.set_dragging(False)
    model.update(Gesture('psi'), psi=0.3)
    model.undo()
    assert model.state.psi == 0.4
    model.undo()
    assert model.state.psi == DEFAULT_PSI


def test_new_network_starts_afresh_and_fits_the_state():
    model = model_with_network()
    model.update(seed=4, directions=dset(), alphas=(1, 0, 0))
    model.add_favourite(np.zeros([NUM_WS, W_DIM]))
    model.set_network(dict(INFO, c_dim=5, fingerprint='bbbb'))
    assert model.state.seed == 0 and model.state.class_idx == 0 and not model.can_undo and model.favourites == []
    state, warnings = EditState(directions=dset(w_dim=8), cutoff=99, class_idx=3).fitted_to(NUM_WS, W_DIM, 0)
    assert state.directions is None and state.cutoff is None and state.class_idx is None and warnings


def test_session_round_trip(tmp_path):
    model = model_with_network()
    w = np.random.RandomState(0).randn(NUM_WS, W_DIM).astype(np.float32)
    model.update(w=w, w_label='projected_w.npz', psi=0.6, cutoff=8, directions=dset(), alphas=(0.5, 0, -2.0),
                 mixing=(MixSource('seed 3', 3, (0, 1)), MixSource('fav', Latent(w=w * 2), (9,))),
                 noise=NoiseSpec('random', 11, {'b8.conv0': 0.0, 'b16.conv1': 1.5}))
    model.add_favourite(w, np.full([8, 8, 3], 7, np.uint8), name='nice')
    path = tmp_path / 'session.json'
    model.save_session(path)
    saved = model.state

    other = model_with_network()
    assert other.load_session(path) == []
    s = other.state
    assert s.request() == saved.request()
    assert s.w_label == 'projected_w.npz' and s.directions.names == saved.directions.names
    np.testing.assert_array_equal(s.directions.vectors, saved.directions.vectors)
    np.testing.assert_array_equal(s.directions.centers, saved.directions.centers)
    assert s.directions.meta['method'] == 'pca'
    fav = other.favourites[0]
    assert fav.name == 'nice' and fav.thumbnail.dtype == np.uint8 and fav.thumbnail.shape == (8, 8, 3)
    np.testing.assert_array_equal(fav.ws, w)
    other.undo()  # loading a session is one undoable step
    assert other.state.request() == EditState(psi=DEFAULT_PSI).request()
    json.loads(path.read_text())  # plain JSON


def test_session_from_another_model_warns(tmp_path):
    model = model_with_network()
    model.update(seed=3)
    path = tmp_path / 's.json'
    model.save_session(path)
    other = EditorModel()
    other.set_network(dict(INFO, fingerprint='zzzz'))
    warnings = other.load_session(path)
    assert len(warnings) == 1 and 'another model' in warnings[0] and other.state.seed == 3


def test_bad_session_files_are_refused(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"hello": 1}')
    with pytest.raises(StylescopeError, match='not a Stylescope session'):
        read_session(bad)
    bad.write_text('not json')
    with pytest.raises(StylescopeError, match="bad.json' is not valid JSON"):
        read_session(bad)
    with pytest.raises(StylescopeError, match='does not exist'):
        read_session(tmp_path / 'missing.json')
    # the atomic writer leaves nothing behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.json']


def test_latent_text_round_trip():
    state = EditState(seed=42)
    assert latent_from_text(latent_to_text(state), NUM_WS, W_DIM) == dict(seed=42, seed_frac=0.0, w=None, w_label='')
    between = latent_from_text(latent_to_text(state.replace(seed_frac=0.25)), NUM_WS, W_DIM)
    assert (between['seed'], between['seed_frac']) == (42, 0.25)
    assert latent_from_text('7', NUM_WS, W_DIM)['seed'] == 7
    ws = np.random.RandomState(1).randn(NUM_WS, W_DIM).astype(np.float32)
    changes = latent_from_text(latent_to_text(state, ws=ws), NUM_WS, W_DIM)
    np.testing.assert_array_equal(changes['w'], ws)
    one = latent_from_text(json.dumps(list(range(W_DIM))), NUM_WS, W_DIM)['w']
    assert one.shape == (NUM_WS, W_DIM) and one[3, 5] == 5
    assert latent_from_text('{"seed": 3, "class": 2}', NUM_WS, W_DIM)['class_idx'] == 2
    for text in ('hello', '[1, 2]', 'true', '{"w": "!!"}', '{"seed": 3, "toward_next": 1.5}'):
        with pytest.raises(StylescopeError):
            latent_from_text(text, NUM_WS, W_DIM)


def test_compact_state_keeps_only_used_directions():
    state = EditState(directions=dset(), alphas=(0, 1.5, 0))
    d = state.to_dict(compact=True)
    assert d['directions']['names'] == ['d1'] and d['alphas'] == [1.5]
    assert EditState.from_dict(d).request() == state.request()


# --- a projected latent's noise maps ---------------------------------------------------------------

LAYERS = ['b4.conv1'] + [f'b{r}.conv{i}' for r in (8, 16, 32, 64) for i in (0, 1)]  # a 64 px network's


def projected(seed=0, label='face.png'):
    """A state as the projection leaves it: a w and its optimised noise maps."""
    rng = np.random.RandomState(seed)
    maps = {name: rng.randn(layer_resolution(name), layer_resolution(name)).astype(np.float32) for name in LAYERS}
    return EditState(w=rng.randn(NUM_WS, W_DIM).astype(np.float32), w_label=label, noise_maps=maps), maps


def test_noise_maps_belong_to_the_latent():
    state, maps = projected()
    req = state.request()
    assert req.noise.maps == state.noise_maps and req.noise.mode == 'const' and len(state.noise_maps) == len(LAYERS)
    np.testing.assert_array_equal(state.noise_maps.get('b64.conv1').array, maps['b64.conv1'])
    assert state.latent_label == 'w from face.png with its noise maps'
    # edits keep them: directions, noise settings, psi, mixing, class; the original (A/B) too
    edited = (state.add_directions(dset()).with_alpha(0, 1.0).replace(noise=NoiseSpec('random', 4, {'b8.conv0': 2.0}))
              .replace(psi=0.5, class_idx=None, mixing=(MixSource('seed 9', 9, (0, 1)),)))
    assert edited.noise_maps == state.noise_maps
    assert edited.request().noise == NoiseSpec('random', 4, {'b8.conv0': 2.0}, state.noise_maps)
    assert edited.request(original=True).noise.maps == state.noise_maps
    assert state.replace(w=state.w.array.copy(), w_label='renamed').noise_maps == state.noise_maps  # the same w
    # another latent drops them
    for changes in (dict(seed=3, w=None, w_label=''), dict(w=None), dict(w=np.zeros([NUM_WS, W_DIM])),
                    dict(seed=5, w=None)):
        dropped = state.replace(**changes)
        assert dropped.noise_maps is None and dropped.request().noise.maps is None, changes
    # ... but a seed changed under the w that is shown is not another latent: the picture stays
    for changes in (dict(seed=5), dict(seed=5, w=state.w.array.copy())):
        kept = state.replace(**changes)
        assert kept.noise_maps == state.noise_maps and kept.request() == state.request(), changes
    assert state.replace(w=np.zeros([NUM_WS, W_DIM]), noise_maps=maps).noise_maps == state.noise_maps
    with pytest.raises(ValueError, match='explicit w'):
        EditState(noise_maps=maps)
    # the model: a new seed drops them, undo brings them back
    model = model_with_network()
    model.set_state(state)
    model.update(seed=1, w=None, w_label='')
    assert model.state.noise_maps is None
    model.undo()
    assert model.state == state


def test_noise_maps_that_do_not_fit_the_network_are_left_out():
    state, maps = projected()
    fitted, warnings = state.fitted_to(NUM_WS, W_DIM, 0, LAYERS)
    assert fitted == state and warnings == []
    fitted, warnings = state.fitted_to(NUM_WS, W_DIM, 0, LAYERS[:-1])
    assert fitted.noise_maps is None and fitted.w is not None
    assert warnings == ["w from face.png is drawn with the network's own noise: there is a noise "
                        "map for layer 'b64.conv1', which this network does not have (its noise layers are b4.conv1 "
                        "to b64.conv0): use noise maps projected with this network"]
    small = EditState(w=state.w, noise_maps=dict(maps, **{'b16.conv0': np.zeros([8, 8], np.float32)}))
    assert small.fitted_to(NUM_WS, W_DIM, 0, LAYERS)[0].noise_maps is None
    assert small.fitted_to(NUM_WS, W_DIM, 0)[0].noise_maps is not None  # no layer list: not checked


def test_sessions_store_noise_maps_once_and_older_sessions_still_load(tmp_path):
    model = model_with_network()
    state, maps = projected()
    model.set_state(state)
    model.add_favourite(state.w.array, name='projected face')
    other, _ = projected(seed=1, label='other.png')
    model.add_favourite(other.w.array, name='other face', state=other)
    path = tmp_path / 'session.json'
    model.save_session(path)
    saved = json.loads(path.read_text())
    key = state.noise_maps.digest.hex()
    assert sorted(saved['noise_maps']) == sorted([key, other.noise_maps.digest.hex()])  # each set once
    assert saved['state']['noise_maps'] == saved['favourites'][0]['state']['noise_maps'] == key
    assert saved['noise_maps'][key]['b64.conv0']['dtype'] == '<f4'  # float32: the same pixels after loading

    loaded = model_with_network()
    assert loaded.load_session(path) == []
    assert loaded.state == state and loaded.state.request() == state.request()
    assert [f.state for f in loaded.favourites] == [state, other]
    assert loaded.favourites[0].state.noise_maps is loaded.state.noise_maps  # a shared set is decoded once
    np.testing.assert_array_equal(loaded.state.noise_maps.get('b32.conv1').array, maps['b32.conv1'])

    # a network without one of their layers: loaded without them, with a warning
    narrow = EditorModel()
    narrow.set_network(dict(INFO, noise_layers=LAYERS[:-1]))
    warnings = narrow.load_session(path)
    assert len(warnings) == 2 and warnings[0].startswith("w from face.png is drawn with the network's own noise")
    assert warnings[1] == ("the favourites 'projected face', 'other face' are drawn with the network's own noise: "
                           'their noise maps do not fit this network')
    assert narrow.state.w == state.w and narrow.state.noise_maps is None
    assert [f.state.noise_maps for f in narrow.favourites] == [None, None]

    # a session of the earlier format (no noise maps anywhere) loads as before
    older = model_with_network()
    older.update(seed=4, psi=0.7)
    old = older.session_dict()
    assert 'noise_maps' not in old and old['state']['noise_maps'] is None
    del old['state']['noise_maps']
    (tmp_path / 'old.json').write_text(json.dumps(old))
    assert loaded.load_session(tmp_path / 'old.json') == [] and loaded.state.seed == 4
    assert loaded.state.noise_maps is None
    # a state naming maps the session does not hold is a sentence
    saved['noise_maps'] = {}
    (tmp_path / 'broken.json').write_text(json.dumps(saved))
    with pytest.raises(StylescopeError, match='names noise maps it does not hold'):
        loaded.load_session(tmp_path / 'broken.json')
    # PNG metadata (compact) names the maps but leaves out their megabytes
    compact = state.to_dict(compact=True)
    assert compact['noise_maps'] is None and compact['noise_maps_digest'] == key
    assert EditState.from_dict(state.to_dict()) == state  # inline outside a session


# ----------------------------------------------------------------------------------------------
# Events per field and the drag-preview policy, without a display

def _blocks(resolutions):
    """A network info's blocks as a skip StyleGAN2 reads its ws: b4 rows 0-1 (conv1, ToRGB), each
    later block three rows starting at the previous block's ToRGB row; cost grows with the area."""
    blocks, start = [], 0
    for res in resolutions:
        count = 2 if res == 4 else 3
        blocks.append(dict(resolution=res, ws_start=start, ws_count=count, cost=res ** 2))
        start += count - 1
    return blocks


def test_each_change_emits_only_its_fields_events():
    model = model_with_network()
    model.update(directions=dset(), alphas=(0.0, 0.0, 0.0))
    fired = []
    for name in model.events.names:
        getattr(model.events, name).connect(lambda *args, name=name: fired.append(name))
    model.set_state(model.state.with_alpha(1, 0.5), Gesture('alpha', 1))
    assert fired == ['state', 'alphas', 'edited', 'history']
    fired.clear()
    model.set_state(model.state.with_alpha(1, 0.75), Gesture('alpha', 1))  # still edited: no 'edited'
    assert fired == ['state', 'alphas', 'history']
    fired.clear()
    model.update(psi=0.5, cutoff=4)
    assert fired == ['state', 'psi', 'cutoff', 'history']
    fired.clear()
    model.update(seed=3)
    assert fired == ['state', 'seed', 'history']


def test_drag_preview_policy():
    from explorer.drag_preview import block_rows, noise_layer_rows, preview_resolution
    blocks = _blocks([4, 8, 16, 32, 64, 128, 256])
    info = dict(num_ws=14, can_preview=True, blocks=blocks)
    assert block_rows(info, 16) == (3, 4, 5) and noise_layer_rows(info, 'b16.conv1') == (3, 4, 5)
    assert preview_resolution(info, Gesture('alpha', 0, range(0, 14)), last_full_ms=20.0) is None  # fast: in full
    slow = 1000.0  # a full frame of 1 s: the 100 ms budget stops the preview well before 256
    res = preview_resolution(info, Gesture('alpha', 0, range(0, 14)), slow)
    assert res is not None and 32 <= res < 256
    assert preview_resolution(info, Gesture('alpha', 0, range(12, 14)), slow) is None  # finer than the preview
    assert preview_resolution(info, None, slow) == res  # no gesture known: all rows
    assert preview_resolution(dict(info, can_preview=False), None, slow) is None  # resnet: no early image
    model = model_with_network()
    model.network = dict(model.network, **info)
    model.set_dragging(True)
    model.update(Gesture('psi'), psi=0.5)
    assert model.render_request(slow).preview and model.render_request(slow).preview_resolution == res
    assert not model.render_request(slow, full=True).preview and not model.render_request(20.0).preview
    model.set_dragging(False)
    assert not model.render_request(slow).preview
