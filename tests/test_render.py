"""Renderer: cached renders equal full renders bit for bit, only the blocks an edit reaches are
recomputed, noise settings stay per request, plus the latent helpers the renderer builds on."""
import threading

import numpy as np
import pytest
import torch

from core.errors import StylescopeError
from core.images import to_uint8
from core.frozen import FrozenArray
from core.interpolate import catmull_rom, lerp, slerp
from core.latent import add_offsets, as_ws, load_ws_file, mix_ws, truncate
from core.noise import noise_layers
from core.noise_spec import NoiseMaps, NoiseSpec, layer_resolution
from core.render import _LRU, Renderer, synthesize
from core.request import Latent, Mix, Offset, RenderRequest, offsets_from_directions
from core.seeds import z_from_seed
from tiny_nets import tiny_generator as _tiny_generator

RES = 64  # blocks 4, 8, 16, 32, 64; num_ws 10: coarse rows 0-3, middle 4-7, fine 8-9


def tiny_generator(seed=0, c_dim=0, res=RES, architecture='skip'):
    return _tiny_generator(seed=seed, c_dim=c_dim, res=res, architecture=architecture)


@pytest.fixture(scope='module')
def G():
    return tiny_generator()


def fine_rows(G):
    """ws rows read only by blocks of 64 px and up (DESIGN.md's fine group)."""
    coarser = {r for b, (s, n) in zip(G.synthesis.blocks(), G.synthesis.block_ws_ranges()) if b.resolution < 64
               for r in range(s, s + n)}
    return sorted(set(range(G.num_ws)) - coarser)


def layer_row(G, resolution, name):
    """The ws row read by one layer ('conv0', 'conv1', 'torgb') of the block of `resolution`."""
    for block, (start, count) in zip(G.synthesis.blocks(), G.synthesis.block_ws_ranges()):
        if block.resolution == resolution:
            return start + (block.conv_layers() + ['torgb']).index(name)


def full_render(G, renderer, request):
    """Uncached reference: the request's ws through every block, as float tensor and uint8."""
    img = synthesize(G, renderer.ws_for_request(request), request.noise)
    return img, to_uint8(img)[0]


def noise_maps(G, seed, layers=None):
    """Gaussian maps {'b16.conv0': [16, 16], ...} for `layers` (default: every noise layer)."""
    rng = np.random.RandomState(seed)
    return {name: rng.randn(layer_resolution(name), layer_resolution(name)).astype(np.float32)
            for name in (layers or noise_layers(G))}


def direction(seed, w_dim=16):
    v = np.random.RandomState(seed).randn(w_dim)
    return v / np.linalg.norm(v)


def state_of(G):
    return {k: v.clone() for k, v in G.state_dict().items()}


def assert_state_unchanged(G, before):
    after = G.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), f'{k} changed'


# --- requests ------------------------------------------------------------------------------------

def test_requests_are_immutable_and_compare_by_content():
    w = np.random.RandomState(0).randn(16).astype(np.float32)
    a = RenderRequest(w=w, psi=0.5, request_id=1)
    w[0] = 99  # the request froze its own copy
    b = RenderRequest(w=np.random.RandomState(0).randn(16), psi=0.5, request_id=2)
    assert a == b and hash(a) == hash(b)
    assert a != b.replace(psi=0.6)
    with pytest.raises(Exception):
        a.psi = 1.0
    with pytest.raises(ValueError):
        a.w.array[0] = 1.0
    assert RenderRequest(mixing=[(5, [3, 2])]).mixing == (Mix(Latent(seed=5), (2, 3)),)
    assert RenderRequest(noise=NoiseSpec('const', 0, {'b8.conv0': 1.0})) == RenderRequest()
    assert {RenderRequest(seed=1), RenderRequest(seed=1, request_id=9)} == {RenderRequest(seed=1)}
    with pytest.raises(StylescopeError):
        RenderRequest(seed=-1)
    with pytest.raises(StylescopeError):
        NoiseSpec('loud')


# --- exactness -----------------------------------------------------------------------------------

def test_const_render_equals_the_official_path(G):
    renderer = Renderer(G)
    for seed, psi, cutoff in [(3, 1.0, None), (7, 0.6, None), (7, 0.6, 4)]:
        result = renderer.render(RenderRequest(seed=seed, psi=psi, cutoff=cutoff))
        z = torch.from_numpy(z_from_seed(seed, G.z_dim))
        ws = G.mapping(z, None, truncation_psi=psi, truncation_cutoff=cutoff)
        np.testing.assert_array_equal(result.ws, ws[0].numpy())
        official = to_uint8(G.synthesis(ws, noise_mode='const'))[0]
        np.testing.assert_array_equal(result.image, official)
        assert result.image.shape == (RES, RES, 3) and result.image.dtype == np.uint8
    scales = {'b16.conv0': 0.0, 'b64.conv1': 2.5}
    result = renderer.render(RenderRequest(seed=3, noise=NoiseSpec('const', 0, scales)))
    ws = renderer.ws_for_request(RenderRequest(seed=3))
    np.testing.assert_array_equal(result.image, to_uint8(G.synthesis(ws, noise_mode='const', noise_scales=scales))[0])
    result = renderer.render(RenderRequest(seed=3, noise=NoiseSpec('none')))
    np.testing.assert_array_equal(result.image, to_uint8(G.synthesis(ws, noise_mode='none'))[0])


def edit_sequence(G):
    """One request per kind of edit, each following the previous one as a user would."""
    fine = fine_rows(G)
    saved_w = np.random.RandomState(5).randn(G.num_ws, G.w_dim).astype(np.float32)
    base = RenderRequest(seed=1, psi=0.7)
    d_fine = Offset(direction(1), 2.0, fine[0], G.num_ws)
    d_coarse = Offset(direction(2), -1.5, 0, 4)
    d_middle = Offset(direction(3), 1.0, 4, 8)
    d_conv1 = Offset(direction(4), 1.5, layer_row(G, 32, 'conv1'), G.num_ws)  # b32's conv0 output unchanged
    d_last = Offset(direction(4), 1.5, G.num_ws - 1, G.num_ws)  # the last ToRGB only
    every = noise_maps(G, 7)
    fine_maps = noise_maps(G, 9, [name for name in noise_layers(G) if layer_resolution(name) >= 32])
    conv1_map = noise_maps(G, 10, ['b16.conv1'])  # its block's conv0 keeps its random draw
    steps = [
        ('base', base),
        ('seed', base.replace(seed=2)),
        ('psi', base.replace(seed=2, psi=0.5)),
        ('cutoff', base.replace(seed=2, psi=0.5, cutoff=4)),
        ('mix seed fine', base.replace(mixing=((9, tuple(fine)),))),
        ('mix saved w coarse', base.replace(mixing=((9, tuple(fine)), (Latent(w=saved_w), (0, 1, 2))))),
        ('fine direction', base.replace(offsets=(d_fine,))),
        ('fine direction more', base.replace(offsets=(Offset(d_fine.vector, 3.0, d_fine.start, d_fine.end),))),
        ('coarse direction', base.replace(offsets=(d_coarse,))),
        ('middle direction', base.replace(offsets=(d_middle,))),
        ('two directions', base.replace(offsets=(d_coarse, d_fine))),
        ('from a conv1 row', base.replace(offsets=(d_conv1,))),
        ('from the last torgb row', base.replace(offsets=(d_last,))),
        ('explicit w', RenderRequest(w=saved_w)),
        ('explicit w edited', RenderRequest(w=saved_w, offsets=(d_fine,))),
        ('explicit z', RenderRequest(z=np.random.RandomState(4).randn(G.z_dim), psi=0.8)),
        ('noise off one layer', base.replace(noise=NoiseSpec('const', 0, {'b32.conv1': 0}))),
        ('noise strength', base.replace(noise=NoiseSpec('const', 0, {'b32.conv1': 3.0}))),
        ('noise none', base.replace(noise=NoiseSpec('none'))),
        ('noise random', base.replace(noise=NoiseSpec('random', 11))),
        ('noise random seed', base.replace(noise=NoiseSpec('random', 12))),
        ('noise random layer off', base.replace(noise=NoiseSpec('random', 12, {'b64.conv0': 0}))),
        ('noise random conv1 strength', base.replace(noise=NoiseSpec('random', 12, {'b32.conv1': 0.5}))),
        ('noise random, from a conv1 row', base.replace(noise=NoiseSpec('random', 12), offsets=(d_conv1,))),
        # explicit noise maps (a projected latent's): every layer, some layers, with every mode
        ('maps', RenderRequest(w=saved_w, noise=NoiseSpec(maps=every))),
        ('maps, fine direction', RenderRequest(w=saved_w, offsets=(d_fine,), noise=NoiseSpec(maps=every))),
        ('maps, from a conv1 row', RenderRequest(w=saved_w, offsets=(d_conv1,), noise=NoiseSpec(maps=every))),
        ('maps, strength', RenderRequest(w=saved_w, noise=NoiseSpec('const', 0, {'b32.conv1': 2.0}, every))),
        ('maps, one layer off', RenderRequest(w=saved_w, noise=NoiseSpec('const', 0, {'b16.conv0': 0}, every))),
        ('other maps', RenderRequest(w=saved_w, noise=NoiseSpec(maps=noise_maps(G, 8)))),
        ('maps of fine layers', RenderRequest(w=saved_w, noise=NoiseSpec(maps=fine_maps))),
        ('maps of fine layers, random', RenderRequest(w=saved_w, noise=NoiseSpec('random', 12, maps=fine_maps))),
        ('maps of one conv1, random', base.replace(noise=NoiseSpec('random', 12, maps=conv1_map),
                                                  offsets=(d_conv1,))),
        ('maps, mode none', RenderRequest(w=saved_w, noise=NoiseSpec('none', maps=every))),
        ('no maps again', RenderRequest(w=saved_w)),
        ('back to base', base),
    ]
    if G.synthesis.b16.architecture == 'skip':  # b16's own ToRGB row (also b32's conv0 row)
        d_torgb = Offset(direction(4), 1.5, layer_row(G, 16, 'torgb'), G.num_ws)
        steps[-1:-1] = [('from a torgb row', base.replace(offsets=(d_torgb,))),
                        ('noise random, from a torgb row', base.replace(noise=NoiseSpec('random', 12),
                                                                        offsets=(d_torgb,)))]
    return steps


@pytest.mark.parametrize('architecture', ['skip', 'orig', 'resnet'])
def test_cached_render_equals_full_render_for_every_edit(architecture):
    G = tiny_generator(architecture=architecture)
    renderer = Renderer(G)
    for name, request in edit_sequence(G):
        result = renderer.render(request)
        img, image = full_render(G, renderer, request)
        np.testing.assert_array_equal(result.image, image, err_msg=name)
        ws = renderer.ws_for_request(request)
        cached_img = renderer._synthesize(ws, request.noise, None).img  # float output, cache hit
        assert torch.equal(cached_img, img), name
        assert len(result.computed_blocks) + len(result.reused_blocks) == len(G.synthesis.blocks())
        if architecture == 'resnet':  # cached by whole blocks only: the skip branch reads the input
            assert result.reused_layers == (), name
    assert renderer.cache_info()['hits'] > 0


def test_an_edit_recomputes_only_the_blocks_it_reaches(G):
    renderer = Renderer(G)
    fine = fine_rows(G)
    base = RenderRequest(seed=4, psi=0.7)
    first = renderer.render(base)
    assert first.computed_blocks == (4, 8, 16, 32, 64) and first.reused_blocks == ()
    again = renderer.render(base.replace(request_id=5))
    assert again.computed_blocks == () and again.request_id == 5
    np.testing.assert_array_equal(again.image, first.image)

    fine_edit = renderer.render(base.replace(offsets=(Offset(direction(1), 2.0, fine[0], G.num_ws),)))
    assert fine_edit.computed_blocks == (64,) and fine_edit.reused_blocks == (4, 8, 16, 32)
    middle_edit = renderer.render(base.replace(offsets=(Offset(direction(1), 2.0, 4, 8),)))
    assert middle_edit.computed_blocks == (16, 32, 64)
    coarse_edit = renderer.render(base.replace(offsets=(Offset(direction(1), 2.0, 0, 4),)))
    assert coarse_edit.computed_blocks == (4, 8, 16, 32, 64)
    mix_fine = renderer.render(base.replace(mixing=((8, fine),)))
    assert mix_fine.computed_blocks == (64,)
    cutoff = renderer.render(base.replace(cutoff=4))  # psi now reaches rows 0-3 only: rows 4+ untruncated
    assert cutoff.computed_blocks == (16, 32, 64)
    noise_edit = renderer.render(base.replace(noise=NoiseSpec('const', 0, {'b32.conv0': 0.5})))
    assert noise_edit.computed_blocks == (32, 64)
    zero_slider = renderer.render(base.replace(offsets=offsets_from_directions(
        type('D', (), dict(vectors=[direction(1)], scales=[1.0], layer_start=[0], layer_end=[10]))(), [0.0])))
    assert zero_slider.computed_blocks == ()


def test_an_edit_from_a_conv1_or_torgb_row_reruns_only_the_later_layers(G):
    """The layers of a block before the edit's first row come from the cache: conv0's output for
    an edit from the block's conv1 row, the block's x for one from its ToRGB row (not for the last
    block, whose x is not kept); the block still counts as computed."""
    renderer = Renderer(G)
    base = RenderRequest(seed=4, psi=0.7, precision='fp32')  # previews too: one cache chain (see below)

    def edit(start, noise=NoiseSpec()):
        request = base.replace(offsets=(Offset(direction(5), 1.5, start, G.num_ws),), noise=noise)
        result = renderer.render(request)
        np.testing.assert_array_equal(result.image, full_render(G, renderer, request)[1])
        return result.computed_blocks, result.reused_layers

    renderer.render(base)
    assert edit(layer_row(G, 32, 'conv1')) == ((32, 64), ('b32.conv0',))
    assert edit(layer_row(G, 16, 'torgb')) == ((16, 32, 64), ('b16.conv0', 'b16.conv1'))
    assert edit(layer_row(G, 4, 'torgb')) == ((4, 8, 16, 32, 64), ('b4.conv1',))
    assert edit(layer_row(G, 64, 'conv1')) == ((64,), ('b64.conv0',))
    assert edit(G.num_ws - 1) == ((64,), ('b64.conv0',))
    assert edit(0) == ((4, 8, 16, 32, 64), ())
    # noise: random noise too (the skipped conv0's draw is replayed), and one conv1's noise alone
    random = NoiseSpec('random', 3)
    renderer.render(base.replace(noise=random))
    assert edit(layer_row(G, 16, 'conv1'), random) == ((16, 32, 64), ('b16.conv0',))
    for noise in (random.with_scale('b32.conv1', 0.5), NoiseSpec('const', 0, {'b32.conv1': 0.5})):
        request = base.replace(noise=noise)
        result = renderer.render(request)
        assert result.computed_blocks == (32, 64) and result.reused_layers == ('b32.conv0',)
        np.testing.assert_array_equal(result.image, full_render(G, renderer, request)[1])
    # a preview whose block is reached from its conv1 row is still a preview
    middle = Offset(direction(6), 1.0, layer_row(G, 16, 'conv1'), G.num_ws)
    preview = renderer.render(base.replace(offsets=(middle,), preview=True, preview_resolution=16))
    assert preview.preview and preview.computed_blocks == (16,) and preview.reused_layers == ('b16.conv0',)


# --- noise ---------------------------------------------------------------------------------------

def test_turning_one_layer_off_changes_only_that_layer(G):
    renderer = Renderer(G)
    base = RenderRequest(seed=2)
    on = renderer.render(base)
    off = renderer.render(base.replace(noise=NoiseSpec('const', 0, {'b64.conv1': 0})))
    assert off.computed_blocks == (64,) and not np.array_equal(on.image, off.image)
    # the same as a network whose b64.conv1 has no noise strength at all
    G2 = tiny_generator()
    G2.synthesis.b64.conv1.noise_strength.zero_()
    np.testing.assert_array_equal(Renderer(G2).render(base).image, off.image)

    # random noise: a layer switched off leaves the noise of its neighbour in the block unchanged
    random = NoiseSpec('random', 21)
    G3 = tiny_generator()
    G3.synthesis.b16.conv0.noise_strength.zero_()
    reference = Renderer(G3).render(base.replace(noise=random)).image
    result = renderer.render(base.replace(noise=random.with_scale('b16.conv0', 0)))
    np.testing.assert_array_equal(result.image, reference)
    assert not np.array_equal(renderer.render(base.replace(noise=random)).image, result.image)


def test_noise_settings_never_leak_between_renders(G):
    before = state_of(G)
    specs = [NoiseSpec('const'), NoiseSpec('none'), NoiseSpec('random', 3), NoiseSpec('random', 3, {'b8.conv1': 0}),
             NoiseSpec('const', 0, {'b16.conv0': 4.0, 'b64.conv1': 0}), NoiseSpec(maps=noise_maps(G, 4)),
             NoiseSpec('random', 3, maps=noise_maps(G, 5, ['b8.conv1', 'b32.conv0']))]
    requests = [RenderRequest(seed=6, noise=spec) for spec in specs]
    alone = [Renderer(G).render(r).image for r in requests]  # each on a fresh renderer
    assert len({a.tobytes() for a in alone}) == len(specs)

    shared = Renderer(G)  # one after the other, in shuffled order, on one renderer
    for idx in [4, 5, 0, 6, 3, 1, 5, 2, 0, 6, 4]:
        np.testing.assert_array_equal(shared.render(requests[idx]).image, alone[idx])

    results, errors = {}, []

    def work(idx):  # three at once, on three renderers sharing G
        try:
            renderer = Renderer(G)
            for _ in range(3):
                for j in (idx, idx + 2):
                    results[(j, _)] = renderer.render(requests[j]).image
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (j, _), image in results.items():
        np.testing.assert_array_equal(image, alone[j])
    assert_state_unchanged(G, before)


def test_noise_maps_replace_the_layers_noise_as_the_official_path_draws_them(G):
    """Explicit maps (a projection's) are what G.synthesis draws with noise_inputs: strength
    multipliers still apply, 'random' draws them too, 'none' still means no noise."""
    renderer = Renderer(G)
    ws = renderer.ws_for_request(RenderRequest(seed=3))
    maps = noise_maps(G, 1)
    inputs = {name: torch.from_numpy(m) for name, m in maps.items()}
    with_maps = RenderRequest(seed=3, noise=NoiseSpec(maps=maps))
    official = to_uint8(G.synthesis(ws, noise_mode='const', noise_inputs=inputs))[0]
    np.testing.assert_array_equal(renderer.render(with_maps).image, official)
    const = renderer.render(RenderRequest(seed=3)).image
    assert np.abs(official.astype(int) - const).max() > 5  # the maps are drawn, not noise_const
    scales = {'b16.conv0': 0.0, 'b64.conv1': 2.5}
    np.testing.assert_array_equal(
        renderer.render(with_maps.replace(noise=NoiseSpec('const', 0, scales, maps))).image,
        to_uint8(G.synthesis(ws, noise_mode='const', noise_inputs=inputs, noise_scales=scales))[0])
    # every layer has a map: nothing random is left, whatever the seed
    for seed in (1, 2):
        random = with_maps.replace(noise=NoiseSpec('random', seed, maps=maps))
        np.testing.assert_array_equal(renderer.render(random).image, official)
    none = renderer.render(RenderRequest(seed=3, noise=NoiseSpec('none'))).image
    np.testing.assert_array_equal(renderer.render(with_maps.replace(noise=NoiseSpec('none', maps=maps))).image, none)
    # maps of the 64 px layers only: the coarser blocks come from the cache of the render without maps
    fine = renderer.render(RenderRequest(seed=3, noise=NoiseSpec(maps=noise_maps(G, 1, ['b64.conv0', 'b64.conv1']))))
    assert fine.computed_blocks == (64,) and not np.array_equal(fine.image, const)
    conv1 = renderer.render(RenderRequest(seed=3, noise=NoiseSpec(maps=noise_maps(G, 1, ['b64.conv1']))))
    assert conv1.computed_blocks == (64,) and conv1.reused_layers == ('b64.conv0',)


def test_noise_maps_are_frozen_compared_by_content_and_checked(G, tmp_path):
    maps = noise_maps(G, 2)
    spec = NoiseSpec(maps=maps)
    maps['b4.conv1'][0, 0] = 99.0  # the spec froze its own copies
    assert spec == NoiseSpec(maps=noise_maps(G, 2)) and hash(spec) == hash(NoiseSpec(maps=noise_maps(G, 2)))
    assert spec != NoiseSpec() and spec != NoiseSpec(maps=noise_maps(G, 3)) and NoiseSpec(maps={}) == NoiseSpec()
    assert spec.with_scale('b8.conv0', 0.5).maps == spec.maps and spec.with_maps(None).maps is None
    assert NoiseSpec('random', None, maps=spec.maps).resolved().maps == spec.maps
    assert RenderRequest(noise=spec) != RenderRequest() and len({RenderRequest(noise=spec), RenderRequest()}) == 2
    with pytest.raises(ValueError):
        spec.maps.get('b4.conv1').array[0, 0] = 1.0
    assert isinstance(spec.maps, NoiseMaps) and spec.maps.names() == sorted(noise_layers(G))
    renderer = Renderer(G)
    with pytest.raises(StylescopeError, match="noise map for layer 'b128.conv0', which this network does not have"):
        renderer.render(RenderRequest(noise=NoiseSpec(maps={'b128.conv0': np.zeros([128, 128])})))
    with pytest.raises(StylescopeError, match="noise map of layer 'b16.conv0' is 8x8 but this network draws 16x16"):
        renderer.render(RenderRequest(noise=NoiseSpec(maps={'b16.conv0': np.zeros([8, 8])})))
    with pytest.raises(StylescopeError, match='square'):
        NoiseSpec(maps={'b16.conv0': np.zeros([16, 8])})
    with pytest.raises(StylescopeError, match='NaN'):
        NoiseSpec(maps={'b16.conv0': np.full([16, 16], np.nan)})
    with pytest.raises(StylescopeError, match="the noise map of layer 'b16.conv0' is not an array of numbers"):
        NoiseMaps({'b16.conv0': np.full([16, 16], 'a')})
    # a network without noise layers: a sentence, not an IndexError
    assert spec.maps.misfit([]) == ("there is a noise map for layer 'b16.conv0', which this network does not have "
                                    '(it has no noise layers): use noise maps projected with this network')


def test_noise_maps_are_checked_against_the_network_once(G, monkeypatch):
    from core import render
    checked = []
    real = render.check_maps
    monkeypatch.setattr(render, 'check_maps', lambda maps, G: checked.append(maps.digest) or real(maps, G))
    renderer = Renderer(G)
    spec = NoiseSpec(maps=noise_maps(G, 2))
    for psi in (1.0, 0.5):
        renderer.render(RenderRequest(seed=1, psi=psi, noise=spec))
    renderer.render(RenderRequest(seed=1, noise=NoiseSpec('random', 3, maps=noise_maps(G, 2))))  # equal maps
    assert checked == [spec.maps.digest]


def test_random_noise_is_reproducible_with_a_seed_and_fresh_without(G):
    a = Renderer(G).render(RenderRequest(seed=1, noise=NoiseSpec('random', 5))).image
    b = Renderer(G).render(RenderRequest(seed=1, noise=NoiseSpec('random', 5))).image
    np.testing.assert_array_equal(a, b)
    renderer = Renderer(G)
    unseeded = RenderRequest(seed=1, noise=NoiseSpec('random', None))
    first, second = renderer.render(unseeded), renderer.render(unseeded)
    assert not np.array_equal(first.image, second.image)
    assert second.computed_blocks == (4, 8, 16, 32, 64)  # never served from the cache
    assert noise_layers(G)[:3] == ['b4.conv1', 'b8.conv0', 'b8.conv1']


# --- preview, output size, memory ----------------------------------------------------------------

def test_preview_stops_early_and_the_full_render_reuses_it(G):
    renderer = Renderer(G)
    request = RenderRequest(seed=8, psi=0.7, precision='fp32')  # 'auto' previews are bf16 on such a CPU: see below
    preview = renderer.render(request.replace(preview=True, preview_resolution=16))
    assert preview.preview and preview.image.shape == (16, 16, 3) and preview.computed_blocks == (4, 8, 16)
    full = renderer.render(request)
    assert not full.preview and full.computed_blocks == (32, 64)
    np.testing.assert_array_equal(full.image, full_render(G, renderer, request)[1])
    # an edit finer than the preview: the preview would not show it, so the full image is drawn
    fine = renderer.render(request.replace(preview=True, preview_resolution=16,
                                           offsets=(Offset(direction(1), 2.0, fine_rows(G)[0], G.num_ws),)))
    assert not fine.preview and fine.computed_blocks == (64,)
    sized = renderer.render(request.replace(output_size=24))
    assert sized.image.shape == (24, 24, 3) and sized.resolution == RES and sized.computed_blocks == ()
    sized_preview = renderer.render(request.replace(seed=9, preview=True, preview_resolution=32, output_size=RES))
    assert sized_preview.preview and sized_preview.image.shape == (RES, RES, 3) and sized_preview.resolution == 32


def test_cache_memory_is_bounded(G):
    renderer = Renderer(G, cache_mb=0.2)
    for seed in range(6):
        request = RenderRequest(seed=seed)
        np.testing.assert_array_equal(renderer.render(request).image, full_render(G, renderer, request)[1])
        info = renderer.cache_info()
        assert 0 < info['block_bytes'] <= info['block_limit']


def test_a_put_without_room_keeps_the_entry_it_would_replace():
    lru = _LRU(10, size_of=len)
    lru.put('kept', b'123456')
    lru.put('a', b'1234')
    assert lru.total == 10
    assert not lru.put('a', b'12345', keep=('kept',))  # 5 + the kept 6 do not fit in 10
    assert lru.peek('a') == b'1234' and lru.peek('kept') == b'123456' and lru.total == 10
    assert lru.put('a', b'abcd', keep=('kept', 'a'))  # its own old entry does not count as kept
    assert lru.peek('a') == b'abcd' and len(lru) == 2 and lru.total == 10
    assert lru.put('b', b'12345')  # evicts the least recent ('kept') to make room
    assert lru.peek('kept') is None and lru.total == 9


def chain_bytes(G, request):
    """Cache bytes one render of `request` leaves in an empty, roomy cache."""
    renderer = Renderer(G)
    renderer.render(request)
    return renderer.cache_info()['block_bytes']


def test_under_memory_pressure_the_prefix_outlives_the_deep_blocks(G):
    """The issue's reproduction: seed 0, five coarse edits (each a new chain from b4), seed 0 again,
    a middle edit. The cache holds 5.5 chains, so half of seed 0's entries must go: they must be its
    deep ones, so that the middle edit still finds b4 and b8 of seed 0 (LRU by insertion would evict
    b4 first and keep b64, and the middle edit would recompute everything)."""
    base = RenderRequest(seed=0)
    renderer = Renderer(G, cache_mb=5.5 * chain_bytes(G, base) / 2 ** 20)
    renderer.render(base)
    for k in range(5):
        renderer.render(base.replace(offsets=(Offset(direction(2), 1.0 + k, 0, 4),)))
    again = renderer.render(base)
    np.testing.assert_array_equal(again.image, full_render(G, renderer, base)[1])
    middle = base.replace(offsets=(Offset(direction(3), 1.0, 4, 8),))
    result = renderer.render(middle)
    assert result.computed_blocks == (16, 32, 64) and result.reused_blocks == (4, 8)
    np.testing.assert_array_equal(result.image, full_render(G, renderer, middle)[1])
    info = renderer.cache_info()
    assert info['block_bytes'] <= info['block_limit']


def test_a_cache_smaller_than_one_image_keeps_the_prefix(G):
    """When one render's blocks do not all fit, the shallow ones stay (they serve every edit of
    the image) and the deepest are not kept; a render whose deep entries are gone resumes from
    the deepest one left, and an edit finds the prefix."""
    base = RenderRequest(seed=0)
    renderer = Renderer(G, cache_mb=0.6 * chain_bytes(G, base) / 2 ** 20)
    first = renderer.render(base)
    again = renderer.render(base)
    assert again.computed_blocks and again.reused_blocks  # resumed, not from b4
    np.testing.assert_array_equal(again.image, first.image)
    middle = base.replace(offsets=(Offset(direction(3), 1.0, 4, 8),))
    result = renderer.render(middle)
    assert result.computed_blocks == (16, 32, 64)
    np.testing.assert_array_equal(result.image, full_render(G, renderer, middle)[1])
    info = renderer.cache_info()
    assert 0 < info['block_bytes'] <= info['block_limit']


# --- latents -------------------------------------------------------------------------------------

def test_ws_follow_the_edit_order(G):
    renderer = Renderer(G)
    v = direction(7)
    request = RenderRequest(seed=3, psi=0.5, mixing=((4, (0, 1)),), offsets=(Offset(v, 2.0, 1, 3),))
    ws = renderer.ws_for_request(request)
    z = lambda s: torch.from_numpy(z_from_seed(s, G.z_dim))  # noqa: E731
    base = G.mapping(z(3), None, truncation_psi=0.5)
    other = G.mapping(z(4), None, truncation_psi=0.5)
    expect = base.clone()
    expect[:, :2] = other[:, :2]
    expect[:, 1:3] += torch.from_numpy(v).float() * 2.0  # added after truncation: not shrunk by psi
    torch.testing.assert_close(ws, expect, rtol=0, atol=1e-6)
    assert torch.equal(truncate(G.mapping(z(3), None), G.mapping.w_avg, 0.5), base)
    assert torch.equal(mix_ws(base, [(other, (0, 1))])[:, 2:], base[:, 2:])
    assert torch.equal(add_offsets(base, [Offset(v, 0.0, 0, 10)]), base)
    saved = np.random.RandomState(1).randn(1, G.w_dim).astype(np.float32)  # a single w: every row
    rows = torch.from_numpy(saved).repeat(G.num_ws, 1)[None]
    assert torch.equal(renderer.ws_for_request(RenderRequest(w=saved)), rows)  # psi 1: as saved
    ws = renderer.ws_for_request(RenderRequest(w=saved, psi=0.1, cutoff=4))  # a loaded w is truncated too
    assert torch.equal(ws, truncate(rows, G.mapping.w_avg, 0.1, 4)) and torch.equal(ws[:, 4:], rows[:, 4:])
    mixed = renderer.ws_for_request(RenderRequest(seed=3, psi=0.5, mixing=((Latent(w=saved), (0, 1)),)))
    assert torch.equal(mixed[:, :2], rows[:, :2])  # a mixing source's w (a favourite's) is what it shows


def test_walking_between_seeds_slerps_their_z(G):
    from core.interpolate import slerp
    renderer = Renderer(G)
    z = slerp(z_from_seed(3, G.z_dim), z_from_seed(4, G.z_dim), 0.25)
    walked = renderer.ws_for_request(RenderRequest(seed=3, seed_frac=0.25, psi=0.7))
    torch.testing.assert_close(walked, G.mapping(torch.from_numpy(z).float(), None, truncation_psi=0.7),
                               rtol=0, atol=1e-6)
    assert RenderRequest(seed=3, seed_frac=0.25) != RenderRequest(seed=3)
    assert torch.equal(renderer.ws_for_request(RenderRequest(seed=3, seed_frac=0.0)),
                       renderer.ws_for_request(RenderRequest(seed=3)))
    with pytest.raises(StylescopeError, match='next seed'):
        RenderRequest(seed=3, seed_frac=1.0)


def test_bad_latent_input_is_a_clear_error(G, tmp_path):
    renderer = Renderer(G)
    with pytest.raises(StylescopeError, match='rows'):
        renderer.render(RenderRequest(mixing=((1, (0, 10)),)))
    with pytest.raises(StylescopeError, match='shape'):
        renderer.render(RenderRequest(w=np.zeros([3, G.w_dim])))
    with pytest.raises(StylescopeError, match='NaN'):
        renderer.render(RenderRequest(w=np.full([G.w_dim], np.nan)))
    with pytest.raises(StylescopeError, match='layers'):
        renderer.render(RenderRequest(offsets=(Offset(direction(1), 1.0, 4, 11),)))
    conditional = tiny_generator(c_dim=3)
    cond = Renderer(conditional)
    with pytest.raises(StylescopeError, match='--class'):
        cond.render(RenderRequest(seed=1))
    a, b = cond.render(RenderRequest(seed=1, class_idx=0)), cond.render(RenderRequest(seed=1, class_idx=2))
    assert not np.array_equal(a.image, b.image) and b.computed_blocks == (4, 8, 16, 32, 64)
    bad = tmp_path / 'bad.npz'
    np.savez(bad, w=np.zeros([2, 3]))
    with pytest.raises(StylescopeError, match='bad.npz'):
        load_ws_file(bad, G.num_ws, G.w_dim)
    with pytest.raises(StylescopeError, match='does not exist'):
        load_ws_file(tmp_path / 'missing.npz', G.num_ws, G.w_dim)
    for name, content in (('empty.npz', b''), ('damaged.npz', b'PK\x03\x04 not a whole zip')):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(StylescopeError, match=f"'.*{name}' is not a readable NumPy file"):
            load_ws_file(tmp_path / name, G.num_ws, G.w_dim)


def test_load_ws_file_shapes(G, tmp_path):
    ws = np.random.RandomState(0).randn(2, G.num_ws, G.w_dim).astype(np.float32)
    np.savez(tmp_path / 'projected_w.npz', w=ws)  # the official projector's layout
    np.testing.assert_array_equal(load_ws_file(tmp_path / 'projected_w.npz', G.num_ws, G.w_dim), ws)
    np.save(tmp_path / 'one.npy', ws[0, 0])  # one w: repeated on every row
    loaded = load_ws_file(tmp_path / 'one.npy', G.num_ws, G.w_dim)
    assert loaded.shape == (1, G.num_ws, G.w_dim) and (loaded[0] == ws[0, 0]).all()
    assert as_ws(ws[0], G.num_ws, G.w_dim).shape == (1, G.num_ws, G.w_dim)


def test_interpolation_endpoints():
    rs = np.random.RandomState(0)
    a, b = rs.randn(2, 16), rs.randn(2, 16)
    for f in (lerp, slerp):
        np.testing.assert_array_equal(f(a, b, 0.0), a)
        np.testing.assert_allclose(f(a, b, 1.0), b, rtol=0, atol=1e-12)
    mid = slerp(a, b, 0.5)
    cos = lambda x, y: (x * y).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)  # noqa: E731
    np.testing.assert_allclose(cos(mid, a), cos(mid, b), atol=1e-9)  # halfway along the arc
    norm = lambda x: np.linalg.norm(x, axis=-1)  # noqa: E731
    np.testing.assert_allclose(norm(mid), (norm(a) + norm(b)) / 2)
    np.testing.assert_allclose(slerp(a, 3 * a, 0.5), 2 * a)  # parallel: no division by zero
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert torch.equal(slerp(ta, tb, 0.0), ta)
    p = rs.randn(4, 16)
    np.testing.assert_array_equal(catmull_rom(*p, 0.0), p[1])
    np.testing.assert_allclose(catmull_rom(*p, 1.0), p[2], atol=1e-12)
    assert FrozenArray(a) == FrozenArray(a.copy()) and FrozenArray(a) != FrozenArray(b)


def test_preview_always_stays_a_preview_when_cached(G):
    """A drag back to an earlier value finds its preview blocks cached: with preview_always the
    renderer returns that preview again instead of falling back to a full render."""
    renderer = Renderer(G)
    request = RenderRequest(seed=3, offsets=(Offset(direction(1), 1.0, 0, G.num_ws),), preview=True,
                            preview_resolution=16)
    first = renderer.render(request)
    assert first.preview and first.resolution == 16
    again = renderer.render(request.replace(preview_always=True))
    assert again.preview and again.computed_blocks == () and np.array_equal(again.image, first.image)
    assert not renderer.render(request).preview  # the default: a cached preview means a finer change
    # with every block cached, preview_always still answers at the preview's size
    assert renderer.render(request.replace(preview_always=True)).resolution == 16


def test_precision_chains_never_mix(G):
    """bf16 frames (drafts, previews, or precision bf16) and fp32 frames have caches of their own:
    a final fp32 frame is never drawn from bf16 tensors, and a bf16 render reuses bf16 ones."""
    renderer = Renderer(G)
    request = RenderRequest(seed=5, psi=0.7)
    final = renderer.render(request)
    assert final.precision == 'fp32'
    bf16 = renderer.render(request.replace(precision='bf16'))
    assert bf16.precision == 'bf16' and bf16.computed_blocks == (4, 8, 16, 32, 64)  # nothing of fp32's reused
    diff = np.abs(bf16.image.astype(int) - final.image.astype(int))
    assert 0 < diff.max() <= 30 and diff.mean() < 3
    fine = request.replace(offsets=(Offset(direction(1), 2.0, fine_rows(G)[0], G.num_ws),))
    again = renderer.render(fine.replace(precision='bf16'))
    assert again.reused_blocks and again.precision == 'bf16'
    np.testing.assert_array_equal(again.image, Renderer(G).render(fine.replace(precision='bf16')).image)
    exact = renderer.render(fine)
    assert exact.precision == 'fp32'
    np.testing.assert_array_equal(exact.image, full_render(G, renderer, fine)[1])
    draft = renderer.render(request.replace(draft=True, precision='auto'))
    expected = 'bf16' if renderer.precision_for(request.replace(draft=True)) == 'bf16' else 'fp32'
    assert draft.precision == expected
    assert renderer.render(request.replace(precision='fp32', draft=True)).precision == 'fp32'
    assert Renderer(G, force_fp32=True).render(request.replace(precision='bf16')).precision == 'fp32'
