"""The layer viewer's data (core/layer_capture.py, core/layer_maps.py): the maps a render carries
equal the activation the network computes at that layer, checked against a direct layer-by-layer
run of the network (StyleGAN2 and StyleGAN3), whether the layer ran in this render or came from
the cache; switching layers or editing reruns only from the layer or the edit, never the whole
picture; the views and their colour scale show those numbers; the `layers` command writes them."""
import numpy as np
import PIL.Image
import pytest
import torch

from core.errors import StylescopeError
from core.latent import ws_from_seeds
from core.layer_capture import capture_of, layer_names, synthesis_layers
from core.layer_maps import ColourScale, LayerCapture, auto_zoom, enlarge, layer_view
from core.model_io import save_network
from core.networks_stylegan3 import is_stylegan3
from core.render import make_renderer
from core.request import Offset, RenderRequest
from tests.test_stylegan3 import make_G
from tests.tiny_nets import tiny_generator

import main


@pytest.fixture(scope='module', params=['stylegan2', 'stylegan3'])
def G(request):
    return tiny_generator(seed=1, res=32) if request.param == 'stylegan2' else make_G('T', seed=2).requires_grad_(False)


@torch.no_grad()
def direct_outputs(G, ws):
    """{layer name: output [N, C, H, W]}, running the synthesis network's layers one by one."""
    out = {}
    synthesis = G.synthesis
    if is_stylegan3(G):
        x = out['input'] = synthesis.input(ws[:, 0])
        for i, (name, layer) in enumerate(zip(synthesis.layer_names, synthesis.layers())):
            x = out[name] = layer(x, ws[:, i + 1], noise_mode='const')
        return out
    x = None
    for block, (start, count) in zip(synthesis.blocks(), synthesis.block_ws_ranges()):
        assert block.architecture == 'skip'
        w = ws[:, start:start + count].unbind(dim=1)
        i = 0
        if block.in_channels == 0:
            x = block.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        else:
            x = out[f'b{block.resolution}.conv0'] = block.conv0(x, w[0], noise_mode='const')
            i = 1
        x = out[f'b{block.resolution}.conv1'] = block.conv1(x, w[i], noise_mode='const')
        out[f'b{block.resolution}.torgb'] = block.torgb(x, w[i + 1])
    return out


def assert_is(capture, expected, name):
    assert capture is not None and capture.layer == name and capture.stride == 1
    ref = expected[0].numpy()
    assert capture.shape == ref.shape
    np.testing.assert_allclose(capture.maps, ref, rtol=1e-5, atol=1e-6)
    assert capture.value_range == pytest.approx((ref.min(), ref.max()), rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(capture.channel_mean, ref.mean(axis=(1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(capture.channel_activity, np.abs(ref).mean(axis=(1, 2)), rtol=1e-4, atol=1e-6)


def test_the_layers_are_listed_in_run_order(G):
    rows = synthesis_layers(G)
    names = [row['name'] for row in rows]
    ws = ws_from_seeds(G, [0])
    expected = direct_outputs(G, ws)
    assert names == list(expected)  # the direct run fills its dict in run order
    for row in rows:
        assert expected[row['name']].shape[1:] == (row['channels'], row['height'], row['width'])
    if is_stylegan3(G):
        assert names[0] == 'input' and names[1:] == list(G.synthesis.layer_names)
    else:
        assert names[:3] == ['b4.conv1', 'b4.torgb', 'b8.conv0'] and names[-1] == f'b{G.img_resolution}.torgb'


def test_every_layer_captured_equals_the_network_activation(G):
    """One renderer, every layer in turn on one picture: the first render draws it whole, each
    later one only what the captured layer needs (its block, or the layers up to it)."""
    renderer = make_renderer(G)
    request = RenderRequest(seed=5, psi=0.7, precision='fp32')
    expected = direct_outputs(G, renderer.ws_for_request(request))
    first = renderer.render(request)
    assert first.capture is None  # no layer asked for: nothing caught
    all_blocks = len(first.computed_blocks)
    for name in layer_names(G):
        result = renderer.render(request.replace(capture=name))
        assert_is(result.capture, expected[name], name)
        assert len(result.computed_blocks) < all_blocks  # never a full render again
        np.testing.assert_array_equal(result.image, first.image)
    # asked again: the newest captures are kept, nothing runs
    result = renderer.render(request.replace(capture=layer_names(G)[-3]))
    assert result.computed_blocks == () and result.capture.layer == layer_names(G)[-3]


def test_the_capture_follows_edits_without_extra_renders(G):
    renderer = make_renderer(G)
    names = layer_names(G)
    coarse, fine = names[2], names[-2]
    base = RenderRequest(seed=9, psi=0.8, precision='fp32', capture=coarse)
    renderer.render(base)
    rng = np.random.RandomState(0)
    edited = base.replace(offsets=[Offset(rng.randn(G.w_dim), 3.0, G.num_ws - 2, G.num_ws)])  # fine rows only
    result = renderer.render(edited)
    assert_is(result.capture, direct_outputs(G, renderer.ws_for_request(edited))[coarse], coarse)
    assert result.reused_blocks  # the coarse part came from the cache, the capture with it
    result = renderer.render(edited.replace(capture=fine))
    assert_is(result.capture, direct_outputs(G, renderer.ws_for_request(edited))[fine], fine)
    psi = edited.replace(psi=0.4, capture=fine)  # the whole picture changes: a full render, which catches the layer
    result = renderer.render(psi)
    assert_is(result.capture, direct_outputs(G, renderer.ws_for_request(psi))[fine], fine)


def test_a_preview_carries_the_layer_only_when_it_ran():
    G = tiny_generator(seed=1, res=32)
    renderer = make_renderer(G)
    request = RenderRequest(seed=2, precision='fp32', preview=True, preview_resolution=8, preview_always=True)
    assert renderer.render(request.replace(capture='b8.conv1')).capture.layer == 'b8.conv1'
    assert renderer.render(request.replace(capture='b32.conv1')).capture is None  # past the preview: not run
    full = renderer.render(request.replace(capture='b32.conv1', preview=False))  # after the drag
    assert full.capture.layer == 'b32.conv1' and full.computed_blocks == (16, 32)


def test_unknown_layers_are_one_sentence(G):
    with pytest.raises(StylescopeError, match="no layer 'b2048.conv0'"):
        make_renderer(G).render(RenderRequest(capture='b2048.conv0'))


def test_large_layers_are_carried_as_means_with_exact_statistics():
    x = torch.randn(1, 5, 12, 10)
    capture = capture_of(x, 'big', max_values=5 * 3 * 3)
    assert capture.stride == 4 and capture.maps.shape == (5, 3, 3) and capture.shape == (5, 12, 10)
    np.testing.assert_allclose(capture.maps[:, 0, 0], x[0, :, :4, :4].mean(dim=(1, 2)).numpy(), rtol=1e-5)
    assert capture.value_range == (float(x.min()), float(x.max()))
    np.testing.assert_allclose(capture.channel_activity, x[0].abs().mean(dim=(1, 2)).numpy(), rtol=1e-5)
    assert 'means of 4x4 pixels' in capture.describe()


def _capture(maps):
    maps = np.asarray(maps, dtype=np.float32)
    return LayerCapture('b8.conv1', maps.shape, maps, 1, (maps.min(), maps.max()), maps.mean(axis=(1, 2)),
                        np.abs(maps).mean(axis=(1, 2)))


def test_views_show_the_numbers_on_one_colour_scale():
    maps = np.random.RandomState(3).randn(7, 4, 5).astype(np.float32)
    maps[4] *= 5  # the most active channel
    capture = _capture(maps)
    view = layer_view(capture, 'mosaic')
    scale = ColourScale.of(maps)
    assert view.scale == scale and view.grid == (3, 3) and view.channels == tuple(range(7))
    assert view.image.shape == (3 * 4 + 2, 3 * 5 + 2, 3)
    for c in range(7):  # tile c at row c // 3, column c % 3, each 1 pixel apart
        r, col = divmod(c, 3)
        np.testing.assert_array_equal(view.image[r * 5:r * 5 + 4, col * 6:col * 6 + 5], scale.colours(maps[c]))
        assert view.channel_at(col * 6 + 2, r * 5 + 1) == c
    assert view.channel_at(5, 0) is None  # a gap
    one = layer_view(capture, 'channel', channel=2)
    np.testing.assert_array_equal(one.image, ColourScale.of(maps[2]).colours(maps[2]))
    mean = layer_view(capture, 'mean')
    np.testing.assert_array_equal(mean.image, ColourScale.of(maps.mean(axis=0)).colours(maps.mean(axis=0)))
    active = layer_view(capture, 'active', count=3)
    assert active.channels == tuple(np.argsort(-np.abs(maps).mean(axis=(1, 2)))[:3]) and active.channels[0] == 4
    # the scale: -limit blue, 0 grey, +limit red, symmetric
    colours = ColourScale(2.0).colours(np.array([-2.0, 0.0, 2.0, 5.0]))
    assert colours[0][2] > colours[0][0] and colours[2][0] > colours[2][2] and (colours[1] == colours[1][0]).all()
    np.testing.assert_array_equal(colours[2], colours[3])  # clipped
    assert ColourScale.of(np.zeros(3)).limit == 1.0


def test_layers_command_writes_the_maps(tmp_path, capsys):
    G = tiny_generator(seed=1, res=32)
    net = tmp_path / 'net.safetensors'
    save_network(net, G)
    out = tmp_path / 'maps.png'
    code = main.main(['layers', '--network', str(net), '--seed', '7', '--trunc', '0.6', '--layer', 'b16.conv0',
                      '--view', 'channel', '--channel', '3', '--zoom', '2', '--out', str(out),
                      '--image', str(tmp_path / 'pic.png')])
    assert code == 0 and 'b16.conv0' in capsys.readouterr().out
    expected = direct_outputs(G, ws_from_seeds(G, [7], psi=0.6))['b16.conv0'][0, 3].numpy()
    image = np.asarray(PIL.Image.open(out))
    top = image[:32]  # 16 x 16 maps, each pixel 2 x 2
    reference = enlarge(ColourScale.of(expected).colours(expected), 2)
    assert np.abs(top.astype(int) - reference).max() <= 1  # the same colours, to float rounding of the scale
    assert image.shape[0] > 32 and (tmp_path / 'pic.png').exists()
    assert 'colour_scale' in PIL.Image.open(out).text
    code = main.main(['layers', '--network', str(net), '--layer', 'b16.conv0', '--view', 'channel',
                      '--channel', '99', '--out', str(tmp_path / 'x.png')])
    assert code == 2 and 'out of range' in capsys.readouterr().err and not (tmp_path / 'x.png').exists()
    assert main.main(['layers', '--network', str(net), '--list']) == 0
    assert 'b32.torgb' in capsys.readouterr().out
    assert auto_zoom(layer_view(_capture(np.zeros([1, 16, 16])), 'channel')) == 32


@pytest.mark.parametrize('code', ["import core.layer_maps", "import main\ntry:\n    main.main(['layers', '--help'])\n"
                                  "except SystemExit:\n    pass",
                                  "import main\ntry:\n    main.main(['directions', 'stylespace', '--help'])\n"
                                  "except SystemExit:\n    pass"])
def test_the_views_and_the_help_load_neither_torch_nor_qt(code):
    from tests.test_layers import _loaded_by
    assert _loaded_by(code) == '[]'
