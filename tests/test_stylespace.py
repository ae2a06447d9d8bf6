"""StyleSpace channels (core/stylespace.py): an edit of one channel changes that channel of s and
nothing else, in every modulated layer, as the network itself computes its styles (StyleGAN2 and
StyleGAN3); the planted channel of synthetic labels is ranked first; the channel statistics are the
samples' mean and std; cached renders with StyleSpace edits equal full renders and rerun only
from the edited layer on; style-channel direction files, sessions and states round-trip, and
malformed ones are refused with one sentence."""
import json
import os

import numpy as np
import pytest
import torch

from core import direction_files, session_file, stylespace
from core import networks, networks_stylegan3
from core.direction_set import DirectionSet, load as load_set
from core.errors import StylescopeError
from core.label_file import write_labels
from core.latent import ws_from_seeds
from core.model_io import save_network
from core.render import make_renderer
from core.request import RenderRequest, StyleOffset, offsets_from_directions, style_offsets_from_directions
from explorer.edit_state import EditState
from tests.test_stylegan3 import make_G
from tests.tiny_nets import tiny_generator

import main


@pytest.fixture(scope='module')
def G2():
    return tiny_generator(seed=3, res=32)


@pytest.fixture(scope='module')
def G3():
    return make_G('T', seed=5).requires_grad_(False)


@pytest.fixture(scope='module', params=['stylegan2', 'stylegan3'])
def G(request, G2, G3):
    return G2 if request.param == 'stylegan2' else G3


@pytest.fixture(scope='module')
def stats(G):
    return stylespace.style_statistics(G, 600)


def recorded_styles(G, monkeypatch, ws, style_offsets=None, renderer=None, request=None):
    """The styles every modulated convolution of one synthesis run receives, in run order (what
    the network computes, read where it is used)."""
    calls = []
    module = networks_stylegan3 if networks_stylegan3.is_stylegan3(G) else networks
    real = module.modulated_conv2d

    def spy(x, weight, styles, *args, **kwargs):
        calls.append(styles.detach().to(torch.float64).clone())
        return real(x, weight, styles, *args, **kwargs)
    monkeypatch.setattr(module, 'modulated_conv2d', spy)
    with torch.no_grad():
        if renderer is not None:
            renderer.render(request)
        else:
            G.synthesis(ws, noise_mode='const', style_offsets=style_offsets)
    monkeypatch.setattr(module, 'modulated_conv2d', real)
    return calls


def style_gain(layer):
    """What synthesis multiplies s by before the convolution (ToRGB's weight gain; 1 elsewhere)."""
    if isinstance(layer.module, networks.ToRGBLayer):
        return layer.module.weight_gain
    if getattr(layer.module, 'is_torgb', False):
        return 1 / np.sqrt(layer.module.in_channels * layer.module.conv_kernel ** 2)
    return 1.0


def test_styles_of_are_the_styles_synthesis_uses(G, monkeypatch):
    ws = ws_from_seeds(G, [1, 2], psi=0.7, cutoff=3)  # rows differ past the cutoff
    calls = recorded_styles(G, monkeypatch, ws)
    layers = stylespace.style_layers(G)
    assert len(calls) == len(layers)
    styles = stylespace.styles_of(G, ws)
    for layer, used in zip(layers, calls):  # style_layers is in run order
        np.testing.assert_allclose(used.numpy(), styles[layer.name] * style_gain(layer), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('where', ['first', 'middle', 'torgb'])
def test_one_channel_edit_changes_only_that_channel_of_s(G, monkeypatch, where):
    layers = stylespace.style_layers(G)
    torgb = [lr for lr in layers if lr.torgb][0]
    layer = {'first': layers[0], 'middle': layers[len(layers) // 2], 'torgb': torgb}[where]
    channel, amount = layer.channels // 2, 2.5
    ws = ws_from_seeds(G, [4], psi=0.8)
    before = recorded_styles(G, monkeypatch, ws)
    after = recorded_styles(G, monkeypatch, ws, stylespace.style_offset_tensors(G, [StyleOffset(layer.name, channel,
                                                                                                 amount)]))
    changed = [(i, c) for i, (a, b) in enumerate(zip(before, after)) for c in torch.nonzero(a[0] != b[0]).flatten()]
    index = [lr.name for lr in layers].index(layer.name)
    assert changed == [(index, channel)]
    diff = float(after[index][0, channel] - before[index][0, channel])
    assert diff == pytest.approx(amount * style_gain(layer), rel=1e-5)

    # the same through the renderer and a RenderRequest (the explorer's and the CLI's way in)
    request = RenderRequest(seed=4, psi=0.8, precision='fp32', style_offsets=[(layer.name, channel, amount)])
    through = recorded_styles(G, monkeypatch, None, renderer=make_renderer(G), request=request)
    assert len(through) == len(after)
    for a, b in zip(through, after):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_statistics_are_the_samples_mean_and_std(G, stats):
    from core.directions import iter_w_samples
    w = np.concatenate(list(iter_w_samples(G, 600)))
    ws = np.repeat(w[:, None], G.num_ws, axis=1).astype(np.float32)
    styles = stylespace.styles_of(G, ws)
    assert stats.sample_count == 600 and stats.layers == tuple(layer.name for layer in stylespace.style_layers(G))
    for name in stats.layers:
        np.testing.assert_allclose(stats.mean[name], styles[name].mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stats.std[name], styles[name].std(axis=0, ddof=1), rtol=1e-4, atol=1e-6)
    chunked = stylespace.style_statistics(G, 600, chunk=77)  # the chunks do not change the samples
    name = stats.layers[-1]
    np.testing.assert_allclose(chunked.std[name], stats.std[name], rtol=1e-9)


@pytest.mark.parametrize('pick', [0.3, 0.7])
def test_the_planted_channel_is_ranked_first(G, stats, pick):
    """Labels from the sign of one channel (around its median) over 300 seeds: that channel is
    the first one ranked, with a positive score (larger s in the samples labelled 1)."""
    layers = [lr for lr in stylespace.style_layers(G) if not lr.torgb]
    layer = layers[int(pick * len(layers))]
    channel = layer.channels // 3
    seeds = list(range(300))
    s = stylespace.styles_of(G, ws_from_seeds(G, seeds, psi=0.7))[layer.name][:, channel]
    labels = (s > np.median(s)).astype(int)
    dset, ranking = stylespace.rank_from_seeds(G, seeds, labels, stats, psi=0.7, k=5, attribute='planted')
    assert ranking.ranked_[0][:2] == (layer.name, channel) and ranking.ranked_[0][2] > 0
    assert abs(ranking.ranked_[0][2]) > 1.05 * abs(ranking.ranked_[1][2])
    assert dset.style_channel(0) == (layer.name, channel, 1) and dset.names[0] == f'planted {layer.name}:{channel}'
    assert len(dset) == 5 and all(dset.is_style_channel(k) for k in range(5))
    # flipped labels: still first, now with the sign that makes + point toward the attribute
    flipped, _ = stylespace.rank_from_seeds(G, seeds, 1 - labels, stats, psi=0.7, k=1)
    assert flipped.style_channel(0) == (layer.name, channel, -1)
    offsets = style_offsets_from_directions(flipped, [2.0])
    assert offsets == (StyleOffset(layer.name, channel, -2.0 * float(flipped.scales[0])),)


def test_the_ranking_needs_both_labels():
    styles = {'b4.conv1': np.random.RandomState(0).randn(6, 3)}
    with pytest.raises(StylescopeError, match='labelled 1 .* labelled 0'):
        stylespace.StyleChannelRanking().fit(styles, [1] * 6)
    with pytest.raises(StylescopeError, match='at least 2'):
        stylespace.StyleChannelRanking().fit(styles, [1, 0, 0, 0, 0, 0])


def test_project_reads_the_channel_in_std_from_its_mean(G, stats):
    layer = stylespace.style_layers(G)[2]
    dset = stylespace.style_channel_directions(G, stats, [(layer.name, 1), (layer.name, 2, -1)])
    ws = ws_from_seeds(G, [3, 8], psi=0.6).numpy()
    s = stylespace.styles_of(G, ws)[layer.name]
    coords = dset.project(ws)
    expected_0 = (s[:, 1] - stats.mean[layer.name][1]) / stats.std[layer.name][1]
    expected_1 = -(s[:, 2] - stats.mean[layer.name][2]) / stats.std[layer.name][2]
    np.testing.assert_allclose(coords[:, 0], expected_0, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(coords[:, 1], expected_1, rtol=1e-4, atol=1e-4)
    assert dset.layer_start[0] == layer.ws_row and dset.layer_end[0] == layer.ws_row + 1
    assert dset.limit_of(0) == stylespace.STYLE_LIMIT


# ----------------------------------------------------------------------------------------------
# Cached rendering

def _full(G, request):
    return make_renderer(G).render(request)


def test_cached_render_equals_full_render_with_style_edits(G):
    layers = stylespace.style_layers(G)
    torgbs = [lr for lr in layers if lr.torgb]  # StyleGAN3 has one, the last layer
    a, b, torgb = layers[1], layers[len(layers) // 2], torgbs[-2 if len(torgbs) > 1 else -1]
    base = RenderRequest(seed=6, psi=0.7, precision='fp32')
    requests = [base,
                base.replace(style_offsets=[(b.name, 3, 2.0)]),
                base.replace(style_offsets=[(b.name, 3, -1.5)]),
                base.replace(style_offsets=[(b.name, 3, -1.5), (a.name, 0, 1.0)]),
                base.replace(style_offsets=[(torgb.name, 1, 3.0)]),
                base.replace(style_offsets=[(b.name, 3, 1.0), (b.name, 3, 1.0)]),  # two offsets of one channel add up
                base.replace(style_offsets=[(b.name, 3, 2.0)]),
                base]
    renderer = make_renderer(G)
    results = [renderer.render(r) for r in requests]
    for request, result in zip(requests, results):
        np.testing.assert_array_equal(result.image, _full(G, request).image)
    assert not np.array_equal(results[0].image, results[1].image)
    np.testing.assert_array_equal(results[5].image, results[6].image)
    # the edit of one layer's styles reran from that layer on, the layers before it came from the cache
    names = [lr.name for lr in layers]
    if networks_stylegan3.is_stylegan3(G):
        assert results[1].computed_blocks == tuple(G.synthesis.layer_names[names.index(b.name):])
        assert results[4].computed_blocks == tuple(G.synthesis.layer_names[names.index(torgb.name):])
    else:
        block = int(b.name.split('.')[0][1:])
        assert results[1].computed_blocks[0] == block and block not in results[1].reused_blocks
        assert results[1].reused_layers == ((f'b{block}.conv0',) if b.name.endswith('conv1') else ())
        block = int(torgb.name.split('.')[0][1:])  # a ToRGB before the last: only the images from it on
        assert results[4].computed_blocks[0] == block
        assert results[4].reused_layers == (f'b{block}.conv0', f'b{block}.conv1')
    assert results[7].computed_blocks == ()  # back to the start: all of it cached


def test_style_edits_on_resnet_and_orig_networks():
    for architecture in ('resnet', 'orig'):
        G = tiny_generator(seed=2, res=32, architecture=architecture)
        renderer = make_renderer(G)
        name = [lr.name for lr in stylespace.style_layers(G)][3]
        for amount in (0.0, 1.5, -2.0):
            request = RenderRequest(seed=1, precision='fp32', style_offsets=[(name, 2, amount)] if amount else ())
            np.testing.assert_array_equal(renderer.render(request).image, _full(G, request).image)


def test_bad_style_offsets_are_one_sentence(G2):
    renderer = make_renderer(G2)
    with pytest.raises(StylescopeError, match="layer 'b64.conv1'"):
        renderer.render(RenderRequest(style_offsets=[('b64.conv1', 0, 1.0)]))
    with pytest.raises(StylescopeError, match='channel 99'):
        renderer.render(RenderRequest(style_offsets=[('b8.conv0', 99, 1.0)]))
    with pytest.raises(ValueError):
        StyleOffset('b8.conv0', -1, 1.0)


# ----------------------------------------------------------------------------------------------
# Direction files, sessions, states

def test_style_channel_files_round_trip(G2, tmp_path):
    stats = stylespace.style_statistics(G2, 300)
    channels = stylespace.style_channel_directions(G2, stats, [('b16.conv1', 5), ('b8.torgb', 2, -1)])
    w_dirs = DirectionSet(np.eye(2, G2.w_dim), [0.5, 2.0], [0, 2], [8, 4], ['pc0', 'pc1'], dict(method='pca'))
    dset = w_dirs.merge(channels)
    path = tmp_path / 'mixed.npz'
    dset.save(path)
    meta = json.loads(str(np.load(path)['meta']))
    assert meta['version'] == 3 and meta['per_direction']['kind'] == ['w', 'w', 'style_channel', 'style_channel']
    loaded = direction_files.load(path, G2)
    assert loaded.names == dset.names
    assert [loaded.kind_of(k) for k in range(4)] == ['w', 'w', 'style_channel', 'style_channel']
    assert loaded.style_channel(2) == ('b16.conv1', 5, 1) and loaded.style_channel(3) == ('b8.torgb', 2, -1)
    np.testing.assert_allclose(loaded.scales[2:], [stats.std['b16.conv1'][5], stats.std['b8.torgb'][2]], rtol=1e-6)
    np.testing.assert_array_equal(loaded.vectors, dset.vectors)
    # the sliders: W offsets for the W directions, offsets on s for the channels
    alphas = [1.0, 0.0, 2.0, 3.0]
    assert len(offsets_from_directions(loaded, alphas)) == 1
    assert style_offsets_from_directions(loaded, alphas) == (
        StyleOffset('b16.conv1', 5, 2.0 * float(loaded.scales[2])),
        StyleOffset('b8.torgb', 2, -3.0 * float(loaded.scales[3])))
    # a session and the editing state keep them
    again = session_file.decode_directions(json.loads(json.dumps(session_file.encode_directions(loaded))))
    assert again.style_channel(3) == ('b8.torgb', 2, -1) and again.names == loaded.names
    state = EditState(seed=2, directions=again, alphas=alphas)
    assert state.request().style_offsets == style_offsets_from_directions(loaded, alphas)
    assert state.request(original=True).style_offsets == ()
    assert EditState.from_dict(json.loads(json.dumps(state.to_dict()))).request() == state.request()
    # a state moved to a network without those layers drops them, with a warning
    fitted, warnings = state.fitted_to(G2.num_ws, G2.w_dim, 0, style_layers={'b16.conv1': 4, 'b8.torgb': 32})
    assert fitted.directions.names == ['pc0', 'pc1', dset.names[3]] and 'b16.conv1:5' in warnings[0]


def test_a_style_channel_is_not_a_w_edit(G2, tmp_path):
    stats = stylespace.style_statistics(G2, 100)
    dset = stylespace.style_channel_directions(G2, stats, [('b16.conv1', 5)])
    with pytest.raises(StylescopeError, match='StyleSpace channel'):
        dset.edit_vector(0)
    for export in (lambda: direction_files.export_ganspace(dset, tmp_path / 'g.npz'),
                   lambda: direction_files.export_rosinality(dset, tmp_path / 'r.pt'),
                   lambda: direction_files.export_interfacegan(dset, 0, tmp_path / 'i.npy')):
        with pytest.raises(StylescopeError, match='StyleSpace channels'):
            export()
    assert not os.listdir(tmp_path)


def _tampered(path, tmp_path, change):
    arrays = dict(np.load(path))
    meta = json.loads(str(arrays['meta']))
    change(meta['per_direction'])
    arrays['meta'] = np.array(json.dumps(meta))
    out = tmp_path / 'tampered.npz'
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize('change, words', [
    (lambda per: per.pop('style_layer'), 'names no layer'),
    (lambda per: per['style_channel'].__setitem__(0, -3), 'no channel index'),
    (lambda per: per['style_channel'].__setitem__(0, 'x'), 'no channel index'),
    (lambda per: per['style_sign'].__setitem__(0, 2), 'style_sign'),
    (lambda per: per['style_gain'].__setitem__(0, -1.0), 'style_gain'),
    (lambda per: per['kind'].__setitem__(0, 'style_column'), 'does not know'),
])
def test_malformed_style_files_are_refused_with_one_sentence(G2, tmp_path, change, words):
    path = tmp_path / 'channels.npz'
    stylespace.style_channel_directions(G2, stylespace.style_statistics(G2, 100), [('b16.conv1', 5)]).save(path)
    bad = _tampered(path, tmp_path, change)
    with pytest.raises(StylescopeError) as info:
        load_set(bad)
    text = str(info.value)
    assert words in text and str(bad) in text and 'damaged' in text and '\n' not in text


@pytest.mark.parametrize('layer, channel, words', [('b64.conv1', 5, "'b64.conv1'"), ('b16.conv1', 40, 'channel 40')])
def test_channels_of_another_network_are_refused(G2, tmp_path, layer, channel, words, capsys):
    path = tmp_path / 'channels.npz'
    stylespace.style_channel_directions(G2, stylespace.style_statistics(G2, 100), [('b16.conv1', 5)]).save(path)
    bad = _tampered(path, tmp_path, lambda per: (per['style_layer'].__setitem__(0, layer),
                                                 per['style_channel'].__setitem__(0, channel)))
    with pytest.raises(StylescopeError, match=words) as info:
        direction_files.open_directions(bad, G2)
    assert str(bad) in str(info.value)
    net = tmp_path / 'net.safetensors'
    save_network(net, G2)
    code = main.main(['layers', '--network', str(net), '--layer', 'b8.conv1', '--out', str(tmp_path / 'm.png'),
                      '--edit', f'{bad}:0=2'])
    err = capsys.readouterr().err
    assert code == 2 and words.strip("'") in err and err.count('\n') == 1 and 'Traceback' not in err


# ----------------------------------------------------------------------------------------------
# The command line

def test_directions_stylespace_command(G2, tmp_path, capsys):
    net = tmp_path / 'net.safetensors'
    save_network(net, G2)
    seeds = list(range(200))
    s = stylespace.styles_of(G2, ws_from_seeds(G2, seeds))['b8.conv1'][:, 11]
    write_labels(tmp_path / 'planted.csv', seeds, (s > np.median(s)).astype(int))
    out = tmp_path / 'ranked.npz'
    assert main.main(['directions', 'stylespace', '--network', str(net), '--labels', str(tmp_path / 'planted.csv'),
                      '--out', str(out), '--top', '4', '--samples', '500']) == 0
    dset = direction_files.open_directions(out, G2)
    assert len(dset) == 4 and dset.style_channel(0) == ('b8.conv1', 11, 1) and dset.names[0] == 'planted b8.conv1:11'
    assert 'b8.conv1:11' in capsys.readouterr().out
    named = tmp_path / 'named.npz'
    assert main.main(['directions', 'stylespace', '--network', str(net), '--channel', 'b4.conv1:3', '--channel',
                      'b32.torgb:0', '--out', str(named), '--samples', '300']) == 0
    assert [direction_files.open_directions(named, G2).style_channel(k) for k in range(2)] == [
        ('b4.conv1', 3, 1), ('b32.torgb', 0, 1)]
    capsys.readouterr()
    assert main.main(['directions', 'stylespace', '--network', str(net), '--channel', 'b4.conv9:3',
                      '--out', str(tmp_path / 'x.npz')]) == 2
    assert "'b4.conv9'" in capsys.readouterr().err
    assert main.main(['directions', 'stylespace', '--network', str(net), '--out', str(tmp_path / 'x.npz')]) == 2
    assert not (tmp_path / 'x.npz').exists()
    # `show` draws the channel's strip: its columns differ (the edit is on s, not a no-op on w)
    strip = tmp_path / 'strip.png'
    assert main.main(['directions', 'show', str(named), '--network', str(net), '--out', str(strip), '--seeds', '1',
                      '--steps', '3', '--alpha', '8', '--only', '0']) == 0
    import PIL.Image
    cells = np.split(np.asarray(PIL.Image.open(strip)), 3, axis=1)
    assert not np.array_equal(cells[0], cells[2])


def test_generate_and_video_edit_a_style_channel(G2, tmp_path):
    """`--edit F.npz:NAME=AMOUNT` of a channel draws what the renderer draws for that slider."""
    import PIL.Image
    from core.render import Renderer
    from core.request import RenderRequest, style_offsets_from_directions
    net = tmp_path / 'net.safetensors'
    save_network(net, G2)
    path = tmp_path / 'channel.npz'
    assert main.main(['directions', 'stylespace', '--network', str(net), '--channel', 'b16.conv0:2', '--out',
                      str(path), '--samples', '300']) == 0
    dset = direction_files.open_directions(path, G2)
    assert main.main(['generate', '--network', str(net), '--seeds', '3', '--trunc', '0.7', '--edit', f'{path}:0=4',
                      '--outdir', str(tmp_path / 'out')]) == 0
    drawn = np.asarray(PIL.Image.open(tmp_path / 'out' / 'seed0003.png'))
    request = RenderRequest(seed=3, psi=0.7, style_offsets=style_offsets_from_directions(dset, (4.0,)))
    expected = Renderer(G2).render(request).image
    plain = Renderer(G2).render(RenderRequest(seed=3, psi=0.7)).image
    assert not np.array_equal(expected, plain)
    assert np.abs(drawn.astype(int) - expected.astype(int)).max() <= 1  # batch vs block-by-block rounding
    assert main.main(['video', '--network', str(net), '--seeds', '3', '--trunc', '0.7', '--edit', f'{path}:0=4',
                      '--duration', '0.25', '--fps', '4', '--out', str(tmp_path / 'frames')]) == 0
    frame = np.asarray(PIL.Image.open(sorted((tmp_path / 'frames').glob('*.png'))[0]))
    np.testing.assert_array_equal(frame, expected)
