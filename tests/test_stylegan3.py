"""core.networks_stylegan3 against tests/reference_stylegan3.py, an independent float64 spec, and
against the facts of shared/reference/stylegan3.md (names, shapes, per-layer tables).

Networks are small (64 px, at most 32 channels) and randomly initialised, then every tensor that
is constant at initialisation (biases, magnitude EMAs, w_avg, the input's affine) is randomised
too, and the input transform is a rotation plus a translation, so that every path shows.
"""
import math
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reference_stylegan3 as ref  # noqa: E402
from core import networks_stylegan3 as sg3  # noqa: E402

CONFIGS = {
    'T': dict(channel_base=1024, channel_max=32),
    'R': dict(channel_base=1024, channel_max=32, conv_kernel=1, use_radial_filters=True),
}
DIMS = dict(z_dim=32, c_dim=0, w_dim=32, img_resolution=64, img_channels=3)


def init_kwargs(cfg, **overrides):
    return dict(DIMS, magnitude_ema_beta=0.998891, **CONFIGS[cfg], **overrides)


def randomise(G, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith('bias'):
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
            if name.endswith('input.affine.weight'):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for name, b in G.named_buffers():
            if name.endswith('magnitude_ema'):
                b.fill_(float(torch.rand([], generator=g)) + 0.5)
            if name.endswith('w_avg'):
                b.copy_(torch.randn(b.shape, generator=g) * 0.5)
        G.synthesis.input.set_motion(angle=0.3, tx=0.07, ty=-0.05)
    return G


def make_G(cfg, seed=0, **overrides):
    torch.manual_seed(seed)
    return randomise(sg3.Generator(**init_kwargs(cfg, **overrides)).eval())


def to_u8(img):
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def specs_kwargs(kwargs):
    return {k: v for k, v in kwargs.items() if k not in ('z_dim', 'c_dim', 'w_dim', 'mapping_kwargs')}


# ---------------------------------------------------------------------------------------------
# Parity with the reference

@pytest.mark.parametrize('cfg', ['T', 'R'])
def test_generator_matches_reference(cfg):
    """Sample 0 at psi 1, sample 1 (another z) at psi 0.7, in one batch (the styles' RMS is
    taken over the batch): float64 to rounding, float32 within a grey level."""
    G = make_G(cfg).double()  # the float32 filters and weights, exactly, in float64
    z = torch.randn(2, DIMS['z_dim'], generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    sd = G.state_dict()
    with torch.no_grad():
        ws_ref = torch.cat([ref.mapping(ref.sub(sd, 'mapping.'), z[:1], None, 16, 1.0),
                            ref.mapping(ref.sub(sd, 'mapping.'), z[1:], None, 16, 0.7)])
        ws = torch.cat([G.mapping(z[:1], None), G.mapping(z[1:], None, truncation_psi=0.7)])
        assert (ws - ws_ref).abs().max().item() < 1e-12
        expected = ref.synthesis(ref.sub(sd, 'synthesis.'), ws_ref, init_kwargs(cfg))
        ours64 = G.synthesis(ws, noise_mode='const')
        alone64 = G.synthesis(ws[1:])  # one sample takes the other modulated-conv route
        G.float()
        ours32 = G.synthesis(ws.float(), noise_mode='const')
        alone32 = G.synthesis(ws[1:].float())
    peak = expected.abs().max().item()
    assert 0.05 < peak < 10, 'degenerate test image'
    assert (expected[0] - expected[1]).abs().max().item() > 0.05
    assert (ours64 - expected).abs().max().item() < 1e-10 * max(1.0, peak)
    assert ours32.dtype == torch.float32 and ours32.shape == (2, 3, 64, 64)
    assert (ours32.double() - expected).abs().max().item() < 1e-5 * max(1.0, peak)
    assert (to_u8(ours32).int() - to_u8(expected.float()).int()).abs().max().item() <= 1
    # alone, the batch's style RMS differs; demodulation cancels it up to its 1e-8
    assert (alone64 - expected[1:]).abs().max().item() < 1e-8 * max(1.0, peak)
    assert (alone32.double() - expected[1:]).abs().max().item() < 1e-5 * max(1.0, peak)


def test_mapping_matches_reference_conditional_and_cutoff():
    torch.manual_seed(0)
    G = sg3.Generator(**dict(init_kwargs('T'), c_dim=4)).double().eval()
    randomise(G)
    assert G.mapping.embed is not None and G.mapping.fc0.weight.shape == (32, 64)
    g = torch.Generator().manual_seed(2)
    z = torch.randn(3, 32, generator=g, dtype=torch.float64)
    c = torch.eye(4, dtype=torch.float64)[:3]
    sd = ref.sub(G.state_dict(), 'mapping.')
    for psi, cutoff in ((1.0, None), (0.7, None), (0.5, 8), (0.5, 0)):
        ours = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
        expected = ref.mapping(sd, z, c, 16, psi, cutoff)
        assert ours.shape == (3, 16, 32)
        assert (ours - expected).abs().max().item() < 1e-12
    ws = G.mapping(z, c, truncation_psi=0.5, truncation_cutoff=8)
    assert torch.equal(ws[:, 8:], G.mapping(z, c)[:, 8:]) and not torch.equal(ws[:, :8], G.mapping(z, c)[:, :8])


def random_filter(g, taps, ndim):
    f = torch.rand([taps] * ndim, generator=g, dtype=torch.float64) + 0.1  # asymmetric: orientation shows
    return f / f.sum()


@pytest.mark.parametrize('up,down,padding,fu_dim,fd_dim', [
    (2, 2, (9, 8, 9, 8), 1, 1),
    (4, 2, (-6, -9, -5, -8), 1, 2),
    (2, 2, (14, 3, 0, 13), 1, 1),       # padding beyond the filter, and odd totals
    (2, 1, (3, 4, 2, 2), 2, 0),         # 2-D up filter, no down filter
    (1, 2, (2, 1, 1, 2), 0, 1),         # no up filter, padding only
    (1, 1, (0, 0, 0, 0), 0, 0),         # ToRGB: bias and clamp only
])
def test_filtered_lrelu_matches_definition(up, down, padding, fu_dim, fd_dim):
    g = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(2, 3, 15, 17, generator=g, dtype=torch.float64) * 3
    b = torch.randn(3, generator=g, dtype=torch.float64)
    fu = random_filter(g, 6 * up, fu_dim) if fu_dim else None
    fd = random_filter(g, 6 * down, fd_dim) if fd_dim else None
    for gain, slope, clamp in ((math.sqrt(2), 0.2, 2.5), (1.0, 1.0, None)):
        ours = sg3.filtered_lrelu(x, fu, fd, b, up=up, down=down, padding=padding, gain=gain, slope=slope,
                                  clamp=clamp)
        expected = torch.stack([ref.filtered_lrelu(xn, fu, fd, b, up, down, padding, gain, slope, clamp) for xn in x])
        assert ours.shape == expected.shape
        assert (ours - expected).abs().max().item() < 1e-12
    x_before = x.clone()
    sg3.filtered_lrelu(x, fu, fd, b, up=up, down=down, padding=padding)
    assert torch.equal(x, x_before), 'the input was overwritten'


@pytest.mark.parametrize('cfg', ['T', 'R'])
def test_layer_specs_and_filters_match_reference(cfg):
    for res in (64, 256):
        kwargs = init_kwargs(cfg, img_resolution=res)
        torch.manual_seed(0)
        net = sg3.SynthesisNetwork(w_dim=8, **specs_kwargs(kwargs))
        inp, specs = ref.layer_specs(**specs_kwargs(kwargs))
        assert net.layer_names == [s['name'] for s in specs]
        assert (net.input.channels, int(net.input.size[0]), net.input.sampling_rate) == \
            (inp['channels'], inp['size'], inp['sampling_rate'])
        assert net.input.bandwidth == pytest.approx(inp['bandwidth'])
        for spec, layer in zip(specs, net.layers()):
            got = dict(in_channels=layer.in_channels, out_channels=layer.out_channels, in_size=int(layer.in_size[0]),
                       out_size=int(layer.out_size[0]), in_rate=layer.in_sampling_rate,
                       out_rate=layer.out_sampling_rate, tmp_rate=layer.tmp_sampling_rate, kernel=layer.conv_kernel,
                       up=layer.up_factor, down=layer.down_factor, up_taps=layer.up_taps, down_taps=layer.down_taps,
                       radial=layer.down_radial, padding=tuple(layer.padding), torgb=layer.is_torgb,
                       critical=layer.is_critically_sampled)
            assert got == {k: spec[k] for k in got}, spec['name']
            for key in ('in_cutoff', 'out_cutoff', 'in_half_width', 'out_half_width'):
                assert getattr(layer, key) == pytest.approx(spec[key], rel=1e-12)
            for ours, theirs in zip((layer.up_filter, layer.down_filter), ref.design_filters(spec)):
                assert (ours is None) == (theirs is None), spec['name']
                if ours is not None:
                    assert ours.dtype == torch.float32 and ours.shape == theirs.shape
                    assert (ours.double() - theirs).abs().max().item() < 1e-7, spec['name']


# ---------------------------------------------------------------------------------------------
# Facts of the reference sheet: names, shapes, the 1024 tables

def test_state_dict_names_and_shapes_small_config():
    """Section 9: T, R = 64, channel_base 4096, channel_max 128, 2 mapping layers."""
    G = sg3.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=64, img_channels=3, channel_base=4096,
                      channel_max=128)
    params, buffers = dict(G.named_parameters()), dict(G.named_buffers())
    assert len(params) == 67 and len(buffers) == 47
    assert G.synthesis.layer_names == [
        'L0_36_128', 'L1_36_128', 'L2_36_128', 'L3_36_128', 'L4_52_128', 'L5_52_128', 'L6_52_128', 'L7_52_128',
        'L8_84_128', 'L9_84_128', 'L10_84_102', 'L11_84_81', 'L12_84_64', 'L13_64_64', 'L14_64_3']
    shapes = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    assert shapes['mapping.fc0.weight'] == shapes['mapping.fc1.weight'] == (512, 512)
    assert shapes['mapping.fc1.bias'] == shapes['mapping.w_avg'] == (512,)
    assert shapes['synthesis.input.weight'] == (128, 128)
    assert shapes['synthesis.input.affine.weight'] == (4, 512) and shapes['synthesis.input.affine.bias'] == (4,)
    assert (shapes['synthesis.input.transform'], shapes['synthesis.input.freqs'], shapes['synthesis.input.phases']) \
        == ((3, 3), (128, 2), (128,))
    assert shapes['synthesis.L14_64_3.weight'] == (3, 64, 1, 1)
    assert 'synthesis.L14_64_3.up_filter' not in shapes and 'synthesis.L14_64_3.down_filter' not in shapes
    for i, name in enumerate(G.synthesis.layer_names[:-1]):
        layer = getattr(G.synthesis, name)
        O, I = layer.out_channels, layer.in_channels
        assert shapes[f'synthesis.{name}.weight'] == (O, I, 3, 3)
        assert shapes[f'synthesis.{name}.bias'] == (O,)
        assert shapes[f'synthesis.{name}.affine.weight'] == (I, 512)
        assert shapes[f'synthesis.{name}.magnitude_ema'] == ()
        assert shapes[f'synthesis.{name}.up_filter'] == ((24,) if i in (4, 8) else (12,))
        assert shapes[f'synthesis.{name}.down_filter'] == (12,)
        expected_padding = {4: [-6, -9] * 2, 8: [-6, -9] * 2, 13: [-11, -12] * 2}.get(i, [9, 8, 9, 8])
        assert layer.padding == expected_padding
        assert layer.use_fp16
    R = sg3.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=64, img_channels=3, channel_base=8192,
                      channel_max=256, conv_kernel=1, use_radial_filters=True)
    shapes = {k: tuple(v.shape) for k, v in R.state_dict().items()}
    for i, name in enumerate(R.synthesis.layer_names[:-1]):
        assert shapes[f'synthesis.{name}.down_filter'] == ((12,) if i >= 12 else (12, 12))
        assert shapes[f'synthesis.{name}.weight'][2:] == (1, 1)


def test_1024_tables():
    """Section 2's tables: T and R at 1024 px with their standard channel settings."""
    T = sg3.SynthesisNetwork(w_dim=8, img_resolution=1024, img_channels=3)
    assert T.layer_names == [
        'L0_36_512', 'L1_36_512', 'L2_52_512', 'L3_52_512', 'L4_84_512', 'L5_148_512', 'L6_148_512', 'L7_276_323',
        'L8_276_203', 'L9_532_128', 'L10_1044_81', 'L11_1044_51', 'L12_1044_32', 'L13_1024_32', 'L14_1024_3']
    pads = [tuple(layer.padding[:2]) for layer in T.layers()]
    assert pads == [(9, 8), (9, 8), (-6, -9), (9, 8), (-6, -9), (-6, -9), (9, 8), (-6, -9), (9, 8), (-6, -9),
                    (-6, -9), (9, 8), (9, 8), (-11, -12), (0, 0)]
    assert [layer.tmp_sampling_rate for layer in T.layers()] == \
        [32, 32, 64, 64, 128, 256, 256, 512, 512, 1024, 2048, 2048, 2048, 2048, 1024]
    assert [round(layer.out_cutoff, 2) for layer in T.layers()][:10] == \
        [2.0, 3.17, 5.04, 8.0, 12.7, 20.16, 32.0, 50.8, 80.63, 128.0]
    assert [layer.use_fp16 for layer in T.layers()] == [False] * 5 + [True] * 10
    assert T.num_ws == 16 and T.layer_groups() == {'coarse': (0, 3), 'middle': (3, 6), 'fine': (6, 16)}
    R = sg3.SynthesisNetwork(w_dim=8, img_resolution=1024, img_channels=3, channel_base=65536, channel_max=1024,
                             conv_kernel=1, use_radial_filters=True)
    assert [layer.out_channels for layer in R.layers()] == [1024] * 7 + [645, 406, 256, 161, 102, 64, 64, 3]
    assert [tuple(layer.padding[:2]) for layer in R.layers()][:3] == [(11, 10), (11, 10), (-2, -5)]
    assert tuple(R.layers()[13].padding[:2]) == (-9, -10)
    assert [layer.down_filter.ndim for layer in R.layers()[:14]] == [2] * 12 + [1, 1]


def test_layer_info_and_groups():
    net = sg3.SynthesisNetwork(w_dim=8, img_resolution=256, img_channels=3, channel_base=1024, channel_max=32)
    info = net.layer_info()
    assert [row['ws'] for row in info] == list(range(16))
    assert [row['name'] for row in info] == ['input'] + net.layer_names
    assert info[0]['sampling_rate'] == 16 and info[0]['size'] == 36 and info[0]['cutoff'] == 2
    assert info[-1]['torgb'] and info[-1]['size'] == 256 and info[-1]['channels'] == 3
    assert net.layer_groups() == {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, 16)}
    for name, (start, end) in net.layer_groups().items():
        assert all(row['group'] == name for row in info[start:end])
    assert sg3.SynthesisNetwork(w_dim=8, img_resolution=64, img_channels=3, channel_base=1024,
                                channel_max=32).layer_groups() == {'coarse': (0, 5), 'middle': (5, 11),
                                                                   'fine': (11, 16)}


# ---------------------------------------------------------------------------------------------
# API and behaviour

def test_api_and_official_init_kwargs():
    kwargs = dict(z_dim=32, c_dim=0, w_dim=32, img_resolution=64, img_channels=3, mapping_kwargs={'num_layers': 2},
                  channel_base=2048, channel_max=32, magnitude_ema_beta=0.998891, conv_kernel=1,
                  use_radial_filters=True)
    G = sg3.Generator(**kwargs).eval()
    assert G.init_kwargs == kwargs
    assert (G.z_dim, G.w_dim, G.c_dim, G.img_resolution, G.img_channels, G.num_ws) == (32, 32, 0, 64, 3, 16)
    assert G.mapping.w_avg.shape == (32,) and G.mapping.num_ws == 16
    z = torch.randn(2, 32)
    with torch.no_grad():
        ws = G.mapping(z, None, truncation_psi=0.7, truncation_cutoff=None, skip_w_avg_update=True)
        assert ws.shape == (2, 16, 32)
        img = G(z, None, truncation_psi=0.7, noise_mode='random')
        assert img.shape == (2, 3, 64, 64) and img.dtype == torch.float32
        for mode in ('const', 'none', 'random'):
            assert torch.equal(G.synthesis(ws, noise_mode=mode), img)
        assert torch.equal(G.synthesis(ws, noise_scales={}, noise_inputs=None, fused_modconv=None), img)
        with pytest.raises(ValueError, match='no noise'):
            G.synthesis(ws, noise_scales={'L3_36_32': 0.5})
        with pytest.raises(TypeError):
            G.synthesis(ws, noise_strength=2)
        with pytest.raises(AssertionError):
            G.synthesis(ws[:, :15])
    assert 'sampling_rate=16->16' in repr(G.synthesis)


def test_update_emas_moves_only_what_it_should():
    G = make_G('T')
    before = {k: v.clone() for k, v in G.state_dict().items()}
    with torch.no_grad():
        G(torch.randn(2, 32), None)
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    with torch.no_grad():
        G(torch.randn(2, 32), None, update_emas=True)
    state = G.state_dict()
    assert not torch.equal(state['mapping.w_avg'], before['mapping.w_avg'])
    assert all(not torch.equal(state[k], before[k]) for k in state if k.endswith('magnitude_ema'))


def test_layer_by_layer_equals_full_run_bit_for_bit():
    G = make_G('T')
    with torch.no_grad():
        for batch in (1, 2):
            ws = G.mapping(torch.randn(batch, 32), None, truncation_psi=0.7)
            full = G.synthesis(ws)
            x = G.synthesis.input_features(ws)
            for start, stop in ((0, 3), (3, 9), (9, 14)):
                x = G.synthesis.run_layers(x, ws, start, stop)
                assert x.shape[1] == getattr(G.synthesis, G.synthesis.layer_names[stop - 1]).out_channels
            img = G.synthesis.run_layers(x, ws, 14)
            assert torch.equal(img, full)
            assert torch.equal(G.synthesis.run_layers(G.synthesis.input_features(ws), ws, 0), full)


def test_transform_moves_the_picture():
    """T: an integer-pixel translation shifts the picture by that many pixels (up to the
    aliasing StyleGAN3 keeps small); R: a quarter turn is rot90 of the picture, to rounding."""
    z = torch.randn(1, 32, generator=torch.Generator().manual_seed(3))
    T = make_G('T')
    with torch.no_grad():
        T.synthesis.input.transform.copy_(torch.eye(3))
        base = T(z, None)
        T.synthesis.input.set_motion(tx=4 / 64, ty=-2 / 64)  # 4 px right, 2 px up
        moved = T(z, None)
    inner = (slice(None), slice(None), slice(8, 54), slice(12, 56))  # away from the margins the shift brings in
    error = (moved - torch.roll(base, shifts=(-2, 4), dims=(2, 3)))[inner].abs().max().item()
    change = (moved - base).abs().max().item()
    assert error < 0.01 * (base.max() - base.min()).item() and change > 10 * error

    R = make_G('R')
    with torch.no_grad():
        R.synthesis.input.transform.copy_(torch.eye(3))
        base = R(z, None)
        R.synthesis.input.set_motion(angle=math.pi / 2)
        turned = R(z, None)
    change = (turned - base).abs().max().item()
    assert change > 0.1 * (base.max() - base.min()).item()
    assert (turned - torch.rot90(base, 1, dims=(2, 3))).abs().max().item() < 1e-4 * change
    with torch.no_grad():
        R.synthesis.input.set_motion()
        assert torch.allclose(R.synthesis.input.transform, torch.eye(3))
        assert torch.equal(R(z, None), base)


def test_precision_argument():
    G = make_G('R')
    with torch.no_grad():
        ws = G.mapping(torch.randn(2, 32), None)
        full = G.synthesis(ws)
        assert torch.equal(G.synthesis(ws, precision='fp32'), full)
        assert torch.equal(G.synthesis(ws, precision='fp16'), full)  # the official rule: float32 on CPU
        assert torch.equal(G.synthesis(ws, precision='bf16', force_fp32=True), full)
        bf16 = G.synthesis(ws, precision='bf16')
        assert bf16.dtype == torch.float32
        assert 0 < (bf16 - full).abs().max().item() < 0.05 * (full.max() - full.min()).item()
        x = G.synthesis.run_layers(G.synthesis.input_features(ws), ws, 0, 9, precision='bf16')
        assert torch.equal(G.synthesis.run_layers(x, ws, 9, precision='bf16'), bf16)
        with pytest.raises(AssertionError, match='precision'):
            G.synthesis(ws, precision='fp8')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_fp16_layers_close_to_cpu():
    G = make_G('T')
    z = torch.randn(2, 32)
    with torch.no_grad():
        cpu = G(z, None)
        Gc = G.cuda()
        half = Gc(z.cuda(), None).cpu()
        full = Gc(z.cuda(), None, force_fp32=True).cpu()
    assert (full - cpu).abs().max().item() < 1e-4
    assert (to_u8(half).int() - to_u8(cpu).int()).abs().max().item() <= 8


# ----------------------------------------------------------------------------------------------
# The cached renderer on StyleGAN3 (core/render_stylegan3.py)

def _renderer_net():
    torch.manual_seed(3)
    G = sg3.Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3,
                                     channel_base=256, channel_max=32, num_layers=6, num_critical=2,
                                     mapping_kwargs=dict(num_layers=2))
    return G.eval().requires_grad_(False)


def test_cached_renders_equal_full_renders_for_every_edit():
    from core.errors import StylescopeError
    from core.noise_spec import NoiseSpec
    from core.render import make_renderer
    from core.render_stylegan3 import StyleGAN3Renderer
    from core.request import Mix, Offset, RenderRequest
    from core.images import to_uint8
    G = _renderer_net()
    renderer = make_renderer(G)
    assert isinstance(renderer, StyleGAN3Renderer)
    rng = np.random.RandomState(0)
    v = rng.randn(16).astype(np.float32)
    base = RenderRequest(seed=5, psi=0.7)
    requests = [base, base.replace(offsets=(Offset(v, 2.0, 5, G.num_ws),)),  # fine rows only
                base.replace(offsets=(Offset(v, 1.0, 0, 3),)), base.replace(mixing=(Mix(7, (4, 5, 6)),)),
                base.replace(motion=(30.0, 0.1, -0.05)), base.replace(motion=(30.0, 0.1, -0.05), seed=6)]
    for request in requests:
        result = renderer.render(request)
        ws = renderer.ws_for_request(request)
        transform = None
        if request.motion:
            transform = sg3.motion_transform(np.radians(request.motion[0]), *request.motion[1:])
        full = to_uint8(G.synthesis(ws, transform=transform))[0]
        np.testing.assert_array_equal(result.image, full)
    fine = renderer.render(requests[1].replace(offsets=(Offset(v, 3.0, 5, G.num_ws),)))
    assert fine.reused_blocks == ('input',) + tuple(G.synthesis.layer_names[:4])  # rows 0-4: the input, L0-L3
    moved = renderer.render(requests[4].replace(motion=(31.0, 0.1, -0.05)))
    assert moved.reused_blocks == ()  # the input moved: every layer runs
    with pytest.raises(StylescopeError, match='no noise inputs'):
        renderer.render(base.replace(noise=NoiseSpec(maps={'b4.conv1': np.zeros([4, 4], np.float32)})))
