"""core.networks and core.ops against tests/reference_impl.py, an independent float64 spec.

The networks are randomly initialised, and then every tensor that is constant at
initialisation (biases, noise strengths, w_avg, the resampling filters) is set to random
values too, so that every path contributes to the output. Resampling filters are random and
asymmetric, so a flipped filter or a filter read from the wrong buffer shows.

Images are compared on the [-1, 1] scale: the max abs difference divided by max(1, peak of
the reference image) must stay below 1e-4.
"""
import copy
import math
import os
import sys

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reference_impl as ref  # noqa: E402
from core import ops  # noqa: E402
from core.networks import (Discriminator, Generator, MappingNetwork, MinibatchStdLayer,  # noqa: E402
                           SynthesisLayer)

ARCHS = ['skip', 'resnet', 'orig']
TOL = 1e-4


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def rel_error(ours, expected):
    """Max abs difference, measured on the [-1, 1] scale (divided by max(1, peak))."""
    assert tuple(ours.shape) == tuple(expected.shape), f'shape {tuple(ours.shape)} != {tuple(expected.shape)}'
    expected = expected.detach().double().cpu()
    peak = max(1.0, expected.abs().max().item())
    return (ours.detach().double().cpu() - expected).abs().max().item() / peak


def assert_close(ours, expected, tol=TOL, what='output'):
    err = rel_error(ours, expected)
    assert err <= tol, f'{what}: max abs diff {err:.3g} (on the [-1, 1] scale) > {tol:g}'


def f64(module):
    return {k: v.detach().to(torch.float64).cpu() for k, v in module.state_dict().items()}


def random_filter(gen, kind='asymmetric', size=4):
    if kind == 'default':
        return ops.setup_filter([1, 3, 3, 1])
    if kind == 'separable':
        f = torch.outer(torch.rand(size, generator=gen) + 0.1, torch.rand(size, generator=gen) + 0.1)
    else:
        f = torch.rand([size, size], generator=gen) + 0.1
    return f / f.sum()


def randomize_(net, seed=0, filters='asymmetric', mapping_lr=0.01):
    """Give every tensor that starts out constant a random value (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(net.named_parameters()) + list(net.named_buffers()):
            r = torch.randn(t.shape, generator=gen)
            if name.endswith('noise_strength'):
                t.copy_((0.3 + 0.4 * r.abs()) * (1 if r.item() > -0.5 else -1))
            elif name.endswith('affine.bias'):
                t.copy_(1 + 0.3 * r)
            elif 'mapping.' in name and name.endswith('bias'):
                t.copy_(0.3 * r / mapping_lr)                   # runtime bias = stored * lr_multiplier
            elif name.endswith('bias'):
                t.copy_(0.3 * r)
            elif name.endswith('w_avg'):
                t.copy_(r)
            elif name.endswith('resample_filter'):
                t.copy_(random_filter(gen, filters))
    return net


def make_G(res=32, arch='skip', z_dim=16, w_dim=16, c_dim=0, img_channels=3, channel_base=2048, channel_max=64,
           conv_clamp=256, mapping_layers=2, seed=0, filters='asymmetric', mapping_kwargs=None, **synthesis_kwargs):
    kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=res, img_channels=img_channels,
                  mapping_kwargs=dict(num_layers=mapping_layers, **(mapping_kwargs or {})),
                  synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max, architecture=arch,
                                        conv_clamp=conv_clamp, **synthesis_kwargs))
    torch.manual_seed(seed)
    G = Generator(**kwargs).eval()
    randomize_(G, seed, filters)
    return G, kwargs


def make_D(res=32, arch='resnet', c_dim=0, img_channels=3, channel_base=1024, channel_max=32, conv_clamp=256,
           seed=0, filters='asymmetric', **kwargs):
    kwargs = dict(c_dim=c_dim, img_resolution=res, img_channels=img_channels, architecture=arch,
                  channel_base=channel_base, channel_max=channel_max, conv_clamp=conv_clamp, **kwargs)
    torch.manual_seed(seed)
    D = Discriminator(**kwargs).eval()
    randomize_(D, seed, filters)
    return D, kwargs


def ref_G(G, kwargs, z, c=None, **kw):
    return ref.generator(f64(G), z.double(), None if c is None else c.double(), **kwargs, **kw)


def ref_synthesis(G, kwargs, ws, **kw):
    return ref.synthesis(ref.sub(f64(G), 'synthesis.'), ws.double(), w_dim=kwargs['w_dim'],
                         img_resolution=kwargs['img_resolution'], img_channels=kwargs['img_channels'],
                         **kwargs['synthesis_kwargs'], **kw)


def random_noise_inputs(G, batch, seed):
    """The noise the network draws for noise_mode='random' from a generator seeded with `seed`:
    one randn([N, 1, R, R]) per layer, in layer order (the official code's order too)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = {}
    for block in G.synthesis.blocks():
        for name in block.conv_layers():
            r = block.resolution
            inputs[f'b{r}.{name}'] = torch.randn([batch, 1, r, r], generator=gen).double()
    return inputs


def randn(*shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------
# Mapping network
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('num_layers', [1, 2, 8])
@pytest.mark.parametrize('c_dim', [0, 5])
def test_mapping_matches_reference(num_layers, c_dim):
    kwargs = dict(z_dim=12, c_dim=c_dim, w_dim=16, num_ws=6, num_layers=num_layers,
                  embed_features=10 if c_dim else None, layer_features=20)
    torch.manual_seed(1)
    M = randomize_(MappingNetwork(**kwargs).eval(), seed=1)
    z, c = randn(3, 12, seed=2), randn(3, c_dim, seed=3)
    for psi in (1, 0.7, 0.5):
        for cutoff in (None, 2, 0):
            with torch.no_grad():
                ws = M(z, c if c_dim else None, truncation_psi=psi, truncation_cutoff=cutoff)
            expected = ref.mapping(f64(M), z.double(), c.double() if c_dim else None, truncation_psi=psi,
                                   truncation_cutoff=cutoff, **kwargs)
            assert_close(ws, expected, what=f'mapping psi={psi} cutoff={cutoff}')
            if cutoff == 2 and psi != 1:
                assert torch.equal(ws[:, 2:], ws[:, -1:].expand(-1, 4, -1)), 'rows past the cutoff are untruncated'
                assert not torch.allclose(ws[:, 0], ws[:, -1])
            if cutoff == 0:
                assert torch.equal(ws[:, 0], ws[:, -1]), 'cutoff 0 truncates nothing'


def test_mapping_w_avg_tracking_in_training_mode():
    kwargs = dict(z_dim=8, c_dim=0, w_dim=8, num_ws=4, num_layers=2, w_avg_beta=0.9)
    M = randomize_(MappingNetwork(**kwargs), seed=4)
    z = randn(5, 8, seed=5)
    w = ref.mapping(f64(M), z.double(), None, **dict(kwargs, num_ws=None))
    w_avg0 = M.w_avg.clone()

    M.eval()
    M(z, None)
    assert torch.equal(M.w_avg, w_avg0), 'eval mode must not touch w_avg'
    M.train()
    M(z, None, skip_w_avg_update=True)
    assert torch.equal(M.w_avg, w_avg0)

    ws = M(z, None, truncation_psi=0.5)
    new_avg = ref.updated_w_avg(w_avg0.double(), w, beta=0.9)
    assert_close(M.w_avg, new_avg, what='w_avg after one training step')
    # truncation in training mode uses the freshly updated average
    assert_close(ws, (new_avg + 0.5 * (w - new_avg))[:, None].expand(-1, 4, -1), what='truncated ws')


# ---------------------------------------------------------------------------------------
# Generator / synthesis parity
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('res', [32, 64, 128])
@pytest.mark.parametrize('arch', ARCHS)
def test_generator_matches_reference(arch, res, batch):
    G, kwargs = make_G(res=res, arch=arch, seed=res + batch)
    z = randn(batch, 16, seed=batch)
    with torch.no_grad():
        img = G(z, None, truncation_psi=0.7, noise_mode='const')
    assert img.dtype == torch.float32 and img.shape == (batch, 3, res, res)
    assert_close(img, ref_G(G, kwargs, z, truncation_psi=0.7, noise_mode='const'), what=f'G {arch} {res} N={batch}')


def test_generator_default_filters_and_conditional():
    G, kwargs = make_G(res=32, c_dim=4, filters='default', mapping_layers=8,
                       mapping_kwargs=dict(embed_features=8, layer_features=24))
    z, c = randn(2, 16, seed=1), torch.eye(4)[[1, 3]]
    with torch.no_grad():
        img = G(z, c, truncation_psi=0.5, truncation_cutoff=2, noise_mode='const')
    expected = ref_G(G, kwargs, z, c, truncation_psi=0.5, truncation_cutoff=2, noise_mode='const')
    assert_close(img, expected)


@pytest.mark.parametrize('noise_mode', ['const', 'none', 'random'])
@pytest.mark.parametrize('arch', ARCHS)
def test_synthesis_ws_routing_and_noise_modes(arch, noise_mode):
    """Every ws row different, so a layer reading the wrong row shows."""
    G, kwargs = make_G(res=32, arch=arch, seed=7)
    ws = randn(2, G.num_ws, 16, seed=8)
    with torch.no_grad():
        img = G.synthesis(ws, noise_mode=noise_mode, noise_generator=torch.Generator().manual_seed(9))
    noise_inputs = random_noise_inputs(G, 2, seed=9) if noise_mode == 'random' else None
    expected = ref_synthesis(G, kwargs, ws, noise_mode=noise_mode, noise_inputs=noise_inputs)
    assert_close(img, expected, what=f'synthesis {arch} noise {noise_mode}')


@pytest.mark.parametrize('conv_clamp', [None, 256, 0.5])
@pytest.mark.parametrize('arch', ARCHS)
def test_generator_conv_clamp(arch, conv_clamp):
    """conv_clamp 0.5 actually clamps (with sqrt(.5) * clamp inside resnet blocks)."""
    G, kwargs = make_G(res=16, arch=arch, conv_clamp=conv_clamp, seed=11)
    z = randn(2, 16, seed=12)
    with torch.no_grad():
        img = G(z, None, noise_mode='const')
    expected = ref_G(G, kwargs, z, noise_mode='const')
    assert_close(img, expected)
    if conv_clamp == 0.5 and arch != 'skip':  # the image is one clamped ToRGB output
        assert img.abs().max() <= 0.5 + 1e-6


@pytest.mark.parametrize('use_noise', [True, False])
@pytest.mark.parametrize('img_channels', [1, 4])
def test_generator_odd_channel_counts(img_channels, use_noise):
    G, kwargs = make_G(res=64, z_dim=7, w_dim=12, img_channels=img_channels, channel_base=1000, channel_max=24,
                       mapping_layers=3, use_noise=use_noise, arch='resnet' if use_noise else 'skip', seed=13)
    assert G.synthesis.b64.conv0.weight.shape == (1000 // 64, 24, 3, 3)
    z = randn(3, 7, seed=14)
    with torch.no_grad():
        img = G(z, None, noise_mode='const')
    assert_close(img, ref_G(G, kwargs, z, noise_mode='const'))


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('batch', [1, 3])
def test_fused_and_unfused_modconv_agree_with_reference(batch, fused):
    G, kwargs = make_G(res=64, arch='skip', seed=15)
    ws = randn(batch, G.num_ws, 16, seed=16)
    with torch.no_grad():
        img = G.synthesis(ws, noise_mode='const', fused_modconv=fused)
    assert_close(img, ref_synthesis(G, kwargs, ws, noise_mode='const'))


def _high_res_case(arch, res, batch):
    # 8 channels at the top resolution, 16 below it, 32 from res/4 down
    G, kwargs = make_G(res=res, arch=arch, channel_base=8 * res, channel_max=32, seed=res)
    z = randn(batch, 16, seed=res)
    with torch.no_grad():
        img = G(z, None, truncation_psi=0.7, truncation_cutoff=2, noise_mode='const')
    expected = ref_G(G, kwargs, z, truncation_psi=0.7, truncation_cutoff=2, noise_mode='const')
    assert_close(img, expected, what=f'G {arch} {res} N={batch}')


@pytest.mark.parametrize('arch,res', [('skip', 256), ('resnet', 256), ('orig', 256), ('skip', 512)])
def test_generator_high_resolution_tiny_channels(arch, res):
    _high_res_case(arch, res, batch=1)


@pytest.mark.slow
@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('res', [512, 1024])
@pytest.mark.parametrize('arch', ARCHS)
def test_generator_high_resolution_tiny_channels_slow(arch, res, batch):
    _high_res_case(arch, res, batch)


# ---------------------------------------------------------------------------------------
# Discriminator parity
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('c_dim', [0, 4])
@pytest.mark.parametrize('arch', ARCHS)
def test_discriminator_matches_reference(arch, c_dim):
    D, kwargs = make_D(res=32, arch=arch, c_dim=c_dim, seed=21, epilogue_kwargs=dict(mbstd_group_size=2))
    img, c = randn(4, 3, 32, 32, seed=22), randn(4, c_dim, seed=23)
    with torch.no_grad():
        logits = D(img, c if c_dim else None)
    assert logits.shape == (4, 1)
    expected = ref.discriminator(f64(D), img.double(), c.double() if c_dim else None, **kwargs)
    assert_close(logits, expected, what=f'D {arch} c_dim={c_dim}')


@pytest.mark.parametrize('arch', ARCHS)
def test_discriminator_clamp_channels_and_resolution(arch):
    D, kwargs = make_D(res=64, arch=arch, img_channels=1, channel_base=1000, channel_max=24, conv_clamp=0.5,
                       seed=24, cmap_dim=6, c_dim=3, mapping_kwargs=dict(num_layers=2))
    img, c = randn(2, 1, 64, 64, seed=25), torch.eye(3)[[0, 2]]
    with torch.no_grad():
        logits = D(img, c)
    assert_close(logits, ref.discriminator(f64(D), img.double(), c.double(), **kwargs))


@pytest.mark.parametrize('group_size,batch,num_channels', [
    (4, 4, 1), (2, 6, 1), (4, 2, 1), (3, 6, 2), (None, 3, 1), (1, 2, 1), (4, 4, 0)])
def test_discriminator_minibatch_std_groups(group_size, batch, num_channels):
    D, kwargs = make_D(res=16, arch='resnet', seed=26,
                       epilogue_kwargs=dict(mbstd_group_size=group_size, mbstd_num_channels=num_channels))
    if num_channels:
        assert D.b4.conv.weight.shape[1] == 32 + num_channels
    img = randn(batch, 3, 16, 16, seed=27)
    with torch.no_grad():
        logits = D(img, None)
    assert_close(logits, ref.discriminator(f64(D), img.double(), None, **kwargs))
    # the layer itself, on features whose groups differ visibly
    x = randn(batch, 4, 3, 3, seed=28) * torch.arange(1, batch + 1.0).reshape(-1, 1, 1, 1)
    if num_channels:
        out = MinibatchStdLayer(group_size, num_channels)(x)
        assert_close(out, ref.minibatch_std(x.double(), group_size, num_channels))


def test_minibatch_std_groups_are_strided():
    """With N=4 and G=2, samples {0, 2} and {1, 3} form the groups (stride N/G)."""
    x = torch.zeros(4, 1, 1, 1)
    x[:, 0, 0, 0] = torch.tensor([0.0, 10.0, 2.0, 30.0])
    y = MinibatchStdLayer(2)(x)[:, 1, 0, 0]
    assert torch.allclose(y, torch.tensor([1.0, 10.0, 1.0, 10.0]), atol=1e-3)


# ---------------------------------------------------------------------------------------
# Module tree and parameter names
# ---------------------------------------------------------------------------------------

def expected_G_tensors(res, channel_base, channel_max, z_dim, w_dim, c_dim=0, mapping_layers=8,
                       architecture='skip', use_noise=True, img_channels=3, embed_features=None):
    """name -> shape of every tensor of a Generator, from the table in the reference facts."""
    def ch(r):
        return min(channel_base // r, channel_max)
    t = {}
    embed = (embed_features or w_dim) if c_dim else 0
    if c_dim:
        t['mapping.embed.weight'], t['mapping.embed.bias'] = (embed, c_dim), (embed,)
    widths = [z_dim + embed] + [w_dim] * mapping_layers
    for i in range(mapping_layers):
        t[f'mapping.fc{i}.weight'], t[f'mapping.fc{i}.bias'] = (widths[i + 1], widths[i]), (widths[i + 1],)
    t['mapping.w_avg'] = (w_dim,)

    def layer(prefix, cin, cout, r):
        t[f'{prefix}.weight'], t[f'{prefix}.bias'] = (cout, cin, 3, 3), (cout,)
        t[f'{prefix}.affine.weight'], t[f'{prefix}.affine.bias'] = (cin, w_dim), (cin,)
        t[f'{prefix}.resample_filter'] = (4, 4)
        if use_noise:
            t[f'{prefix}.noise_strength'], t[f'{prefix}.noise_const'] = (), (r, r)

    def torgb(prefix, cin):
        t[f'{prefix}.weight'], t[f'{prefix}.bias'] = (img_channels, cin, 1, 1), (img_channels,)
        t[f'{prefix}.affine.weight'], t[f'{prefix}.affine.bias'] = (cin, w_dim), (cin,)

    for r in [2 ** i for i in range(2, int(math.log2(res)) + 1)]:
        p = f'synthesis.b{r}'
        t[f'{p}.resample_filter'] = (4, 4)
        if r == 4:
            t[f'{p}.const'] = (ch(4), 4, 4)
        else:
            layer(f'{p}.conv0', ch(r // 2), ch(r), r)
            if architecture == 'resnet':
                t[f'{p}.skip.weight'], t[f'{p}.skip.resample_filter'] = (ch(r), ch(r // 2), 1, 1), (4, 4)
        layer(f'{p}.conv1', ch(r), ch(r), r)
        if architecture == 'skip' or r == res:
            torgb(f'{p}.torgb', ch(r))
    return t


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


PAPER256_G = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                  mapping_kwargs=dict(num_layers=8),
                  synthesis_kwargs=dict(channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256))


def test_paper256_generator_names_and_shapes():
    G = Generator(**PAPER256_G)
    got = shapes(G)
    assert len(got) == 144
    assert got == expected_G_tensors(256, 16384, 512, z_dim=512, w_dim=512)
    for name, shape in [
            ('mapping.fc7.weight', (512, 512)), ('mapping.w_avg', (512,)), ('synthesis.b4.const', (512, 4, 4)),
            ('synthesis.b4.conv1.noise_strength', ()), ('synthesis.b4.conv1.affine.weight', (512, 512)),
            ('synthesis.b4.torgb.weight', (3, 512, 1, 1)), ('synthesis.b64.conv0.weight', (256, 512, 3, 3)),
            ('synthesis.b64.conv0.affine.weight', (512, 512)), ('synthesis.b128.torgb.weight', (3, 128, 1, 1)),
            ('synthesis.b256.conv0.weight', (64, 128, 3, 3)), ('synthesis.b256.conv1.noise_const', (256, 256)),
            ('synthesis.b256.resample_filter', (4, 4))]:
        assert got[name] == shape, name
    buffers = {k for k, _ in G.named_buffers()}
    assert buffers == {k for k in got if k.endswith(('w_avg', 'resample_filter', 'noise_const'))}
    assert [b.use_fp16 for b in G.synthesis.blocks()] == [False, False, False, True, True, True, True]
    assert G.num_ws == G.mapping.num_ws == 14
    taps = torch.tensor([1., 3, 3, 1])
    assert torch.equal(G.synthesis.b8.resample_filter, torch.outer(taps, taps) / 64)


@pytest.mark.parametrize('variant', ['resnet', 'orig', 'no_noise', 'conditional'])
def test_generator_names_follow_the_table(variant):
    arch = variant if variant in ('resnet', 'orig') else 'skip'
    c_dim = 3 if variant == 'conditional' else 0
    use_noise = variant != 'no_noise'
    G = Generator(z_dim=8, c_dim=c_dim, w_dim=16, img_resolution=32, img_channels=3,
                  mapping_kwargs=dict(num_layers=3, embed_features=5 if c_dim else None),
                  synthesis_kwargs=dict(channel_base=256, channel_max=32, architecture=arch, use_noise=use_noise))
    expected = expected_G_tensors(32, 256, 32, z_dim=8, w_dim=16, c_dim=c_dim, mapping_layers=3, architecture=arch,
                                  use_noise=use_noise, embed_features=5)
    assert shapes(G) == expected
    names = set(expected)
    if variant == 'resnet':
        assert 'synthesis.b32.skip.weight' in names and 'synthesis.b16.torgb.weight' not in names
    if variant == 'no_noise':
        assert not any('noise' in n for n in names)


def test_paper256_discriminator_names():
    D = Discriminator(c_dim=0, img_resolution=256, img_channels=3, channel_base=16384, channel_max=512,
                      num_fp16_res=4, conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=8))
    got = shapes(D)
    for name, shape in [('b256.fromrgb.weight', (64, 3, 1, 1)), ('b256.fromrgb.bias', (64,)),
                        ('b256.conv0.weight', (64, 64, 3, 3)), ('b256.conv1.weight', (128, 64, 3, 3)),
                        ('b256.skip.weight', (128, 64, 1, 1)), ('b8.conv1.weight', (512, 512, 3, 3)),
                        ('b4.conv.weight', (512, 513, 3, 3)), ('b4.fc.weight', (512, 8192)),
                        ('b4.out.weight', (1, 512)), ('b4.out.bias', (1,)), ('b256.resample_filter', (4, 4)),
                        ('b128.conv1.resample_filter', (4, 4)), ('b128.skip.resample_filter', (4, 4))]:
        assert got[name] == shape, name
    assert 'b256.skip.bias' not in got and 'b128.fromrgb.weight' not in got
    assert not any(k.startswith('mapping.') for k in got)
    blocks = [f'b{r}' for r in (256, 128, 64, 32, 16, 8)]
    assert {k.split('.')[0] for k in got} == set(blocks + ['b4'])

    Dc = Discriminator(c_dim=5, img_resolution=32, img_channels=3, architecture='skip', channel_base=512,
                       channel_max=64)
    got = shapes(Dc)
    assert got['mapping.embed.weight'] == (64, 5) and got['mapping.fc7.weight'] == (64, 64)
    assert got['b4.out.weight'] == (64, 64) and 'b16.fromrgb.weight' in got and 'b4.fromrgb.weight' in got


# ---------------------------------------------------------------------------------------
# ws layout
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('arch', ARCHS)
def test_block_ws_ranges_follow_the_official_slicing(arch):
    for res in [4, 8, 32, 256, 1024]:
        G = Generator(z_dim=4, c_dim=0, w_dim=4, img_resolution=res, img_channels=3,
                      mapping_kwargs=dict(num_layers=1),
                      synthesis_kwargs=dict(channel_base=4 * res, channel_max=4, architecture=arch))
        assert G.num_ws == G.synthesis.num_ws == G.mapping.num_ws == 2 * int(math.log2(res)) - 2 == ref.num_ws(res)
        ranges = G.synthesis.block_ws_ranges()
        assert len(ranges) == len(G.synthesis.blocks())
        for block, (start, count) in zip(G.synthesis.blocks(), ranges):
            layers = block.conv_layers() + (['torgb'] if hasattr(block, 'torgb') else [])
            assert count == len(layers)
            for offset, name in enumerate(layers):
                assert start + offset == ref.ws_index(block.resolution, name), (res, block.resolution, name)
        assert ranges[-1][0] + ranges[-1][1] == G.num_ws
    assert ref.ws_index(4, 'torgb') == 1 and ref.ws_index(8, 'conv0') == 1 and ref.ws_index(1024, 'torgb') == 17


# ---------------------------------------------------------------------------------------
# Noise control
# ---------------------------------------------------------------------------------------

def _state(module):
    return {k: v.detach().clone() for k, v in list(module.named_parameters()) + list(module.named_buffers())}


def _assert_state_equal(module, before):
    after = _state(module)
    assert after.keys() == before.keys()
    for k in before:
        assert torch.equal(after[k], before[k]), f'{k} changed'


@pytest.mark.parametrize('noise_mode', ['const', 'random'])
def test_noise_scales_equal_scaled_noise_strength(noise_mode):
    """A scale acts like scaling that layer's noise_strength, in random mode too: muting one
    layer leaves the noise every other layer draws from the same generator unchanged."""
    G, _ = make_G(res=32, arch='skip', seed=31)
    ws = randn(2, G.num_ws, 16, seed=32)
    for scales in ({'b16.conv0': 0.0}, {'b16.conv0': 0.5, 'b4.conv1': 2.0, 'b32.conv1': 0.0}):
        G2 = copy.deepcopy(G)
        with torch.no_grad():
            for key, s in scales.items():
                G2.synthesis.get_submodule(key).noise_strength.mul_(s)
            img = G.synthesis(ws, noise_mode=noise_mode, noise_scales=scales,
                              noise_generator=torch.Generator().manual_seed(33))
            img2 = G2.synthesis(ws, noise_mode=noise_mode, noise_generator=torch.Generator().manual_seed(33))
            plain = G.synthesis(ws, noise_mode=noise_mode, noise_generator=torch.Generator().manual_seed(33))
        assert torch.allclose(img, img2, atol=1e-5, rtol=0), f'{scales}: {(img - img2).abs().max():.3g}'
        assert not torch.allclose(img, plain, atol=1e-4)


def test_synthesis_layer_noise_scale_matches_reference():
    torch.manual_seed(34)
    layer = randomize_(SynthesisLayer(6, 5, w_dim=8, resolution=16, up=2, conv_clamp=256).eval(), seed=34)
    x, w = randn(2, 6, 8, 8, seed=35), randn(2, 8, seed=36)
    p = f64(layer)
    for scale in (0.0, 0.5, 1.0, 3.0):
        with torch.no_grad():
            y = layer(x, w, noise_mode='const', noise_scale=scale)
        expected = torch.stack([ref.synthesis_layer(p, x[n].double(), w[n].double(), up=2, conv_clamp=256,
                                                    noise=p['noise_const'] * p['noise_strength'] * scale)
                                for n in range(2)])
        assert_close(y, expected, what=f'noise_scale {scale}')


def test_noise_generator_makes_random_mode_reproducible():
    G, _ = make_G(res=32, seed=37)
    ws = randn(2, G.num_ws, 16, seed=38)
    with torch.no_grad():
        a = G.synthesis(ws, noise_mode='random', noise_generator=torch.Generator().manual_seed(1))
        b = G.synthesis(ws, noise_mode='random', noise_generator=torch.Generator().manual_seed(1))
        c = G.synthesis(ws, noise_mode='random', noise_generator=torch.Generator().manual_seed(2))
        d = G.synthesis(ws, noise_mode='const', noise_generator=torch.Generator().manual_seed(2))
        e = G.synthesis(ws, noise_mode='const')
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-3)
    assert torch.equal(d, e), 'const mode ignores the generator'


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('noise_mode', ['const', 'random'])
def test_a_block_run_in_parts_equals_forward(arch, noise_mode):
    """conv0_output then forward_from('conv1'), or forward_from('torgb') on the block's own x, give
    forward()'s tensors bit for bit and leave their inputs alone (the renderer caches them). Each
    call gets a generator at the block's start, as forward() does: the skipped conv0 draw is
    replayed. A 'resnet' block's conv0 output is not enough to resume it (its skip branch reads
    the block's input): it runs whole or from ToRGB."""
    G, _ = make_G(res=64, arch=arch, seed=40)
    ws = randn(2, G.num_ws, 16, seed=41)
    kwargs = dict(noise_mode=noise_mode, noise_scales={'conv0': 0.5, 'conv1': 2.0})

    def gen():
        return torch.Generator().manual_seed(42)

    def same(a, b):
        return a is None and b is None or torch.equal(a, b)

    x = img = None
    with torch.no_grad():
        for block, (start, count) in zip(G.synthesis.blocks(), G.synthesis.block_ws_ranges()):
            rows = ws.narrow(1, start, count)
            img_in = None if img is None else img.clone()
            x1, img1 = block(x, img, rows, noise_generator=gen(), **kwargs)
            if block.in_channels and arch != 'resnet':
                x0 = block.conv0_output(x, rows, noise_generator=gen(), **kwargs)
                x0_copy = x0.clone()
                x2, img2 = block.forward_from('conv1', x0, img, rows, noise_generator=gen(), **kwargs)
                assert torch.equal(x2, x1) and same(img2, img1), f'b{block.resolution} from conv1'
                assert torch.equal(x0, x0_copy)
            else:
                with pytest.raises(AssertionError):
                    block.forward_from('conv1', x1, img, rows, **kwargs)
            x1_copy = x1.clone()
            x3, img3 = block.forward_from('torgb', x1, img, rows, noise_generator=gen(), **kwargs)
            assert x3 is x1 and same(img3, img1), f'b{block.resolution} from torgb'
            assert torch.equal(x1, x1_copy) and same(img, img_in)
            x, img = x1, img1


@pytest.mark.parametrize('arch', ['skip', 'resnet'])
@pytest.mark.parametrize('grad', [False, True])
def test_calls_never_mutate_module_state_or_inputs(grad, arch):
    G, _ = make_G(res=64, arch=arch, seed=39, c_dim=2)
    G.requires_grad_(grad)
    before = _state(G)
    z, c = randn(2, 16, seed=40), torch.eye(2)
    ws = randn(2, G.num_ws, 16, seed=41)
    ws_before = ws.clone()
    (s4, n4), (s8, n8) = G.synthesis.block_ws_ranges()[:2]
    with torch.set_grad_enabled(grad):
        G(z, c, truncation_psi=0.5, noise_mode='random', noise_scales={'b16.conv0': 0.0, 'b64.conv1': 2.0},
          noise_generator=torch.Generator().manual_seed(0))
        G.synthesis(ws, noise_mode='const', noise_scales={'b8.conv1': 0.3})
        # feeding one block's output to the next twice (as a render cache does): the input survives
        x, img = G.synthesis.b4(None, None, ws[:, s4:s4 + n4], noise_mode='const')
        x_copy = x.clone()
        img_copy = img.clone() if img is not None else None
        first = G.synthesis.b8(x, img, ws[:, s8:s8 + n8], noise_mode='const')
        second = G.synthesis.b8(x, img, ws[:, s8:s8 + n8], noise_mode='const')
    assert torch.equal(x, x_copy)
    assert (img is None and arch == 'resnet') or torch.equal(img, img_copy)
    assert torch.equal(first[0], second[0])
    assert torch.equal(ws, ws_before)
    _assert_state_equal(G, before)


# ---------------------------------------------------------------------------------------
# Training mode and gradients
# ---------------------------------------------------------------------------------------

def _leaf_f64(module):
    return {k: v.detach().double().requires_grad_(v.requires_grad)
            for k, v in list(module.named_parameters()) + list(module.named_buffers())}


def _assert_grads_close(module, ref_params, tol=1e-3):
    """Per tensor, relative to its own largest gradient, but not below 1% of the largest
    gradient of all: some gradients (the biases' share of the R1 penalty) are tiny sums of
    cancelling terms, only float32-accurate relative to the whole."""
    grads = {name: (p.grad, ref_params[name].grad) for name, p in module.named_parameters()}
    zero = torch.zeros([], dtype=torch.float64)
    overall = max((g_ref.abs().max().item() for _, g_ref in grads.values() if g_ref is not None), default=0)
    assert overall > 0
    for name, (g, g_ref) in grads.items():
        g_ref = zero if g_ref is None else g_ref
        if g_ref.abs().max() > 0:
            assert g is not None, f'no gradient for {name}'
        g = zero if g is None else g.double()
        scale = max(g_ref.abs().max().item(), 0.01 * overall)
        err = (g - g_ref).abs().max().item() / scale
        assert err <= tol, f'{name}: gradient differs by {err:.3g} relative'


@pytest.mark.parametrize('arch', ['skip', 'resnet'])
def test_generator_training_mode_forward_and_gradients(arch):
    G, kwargs = make_G(res=16, arch=arch, c_dim=3, seed=42)
    G.train()
    z, c = randn(3, 16, seed=43), torch.eye(3)
    img = G(z, c, noise_mode='const')
    target = randn(*img.shape, seed=44)
    (img * target).sum().backward()

    params = _leaf_f64(G)
    expected = ref.generator(params, z.double(), c.double(), noise_mode='const', **kwargs)
    assert_close(img, expected, what='training-mode forward')
    (expected * target.double()).sum().backward()
    _assert_grads_close(G, params)


@pytest.mark.parametrize('batch', [1, 3])
def test_gradient_wrt_ws_in_eval_mode(batch):
    """What projection does: G in eval mode, frozen, gradients wrt ws (fused path for N=1)."""
    G, kwargs = make_G(res=32, arch='skip', seed=45)
    G.requires_grad_(False)
    ws = randn(batch, G.num_ws, 16, seed=46).requires_grad_(True)
    img = G.synthesis(ws, noise_mode='const')
    target = randn(*img.shape, seed=47)
    (img * target).sum().backward()
    ws64 = ws.detach().double().requires_grad_(True)
    expected = ref_synthesis(G, kwargs, ws64, noise_mode='const')
    (expected * target.double()).sum().backward()
    assert_close(img, expected)
    err = (ws.grad.double() - ws64.grad).abs().max().item() / ws64.grad.abs().max().item()
    assert err <= 1e-3, f'grad wrt ws differs by {err:.3g} relative'


@pytest.mark.parametrize('arch', ARCHS)
def test_discriminator_r1_double_backward(arch):
    D, kwargs = make_D(res=16, arch=arch, c_dim=2, seed=48, mapping_kwargs=dict(num_layers=2),
                       epilogue_kwargs=dict(mbstd_group_size=2))
    D.train()
    img, c = randn(4, 3, 16, 16, seed=49).requires_grad_(True), torch.eye(2)[[0, 1, 1, 0]]
    logits = D(img, c)
    (r1_grads,) = torch.autograd.grad(logits.sum(), img, create_graph=True)
    penalty = r1_grads.square().sum()
    penalty.backward()

    params = _leaf_f64(D)
    img64 = img.detach().double().requires_grad_(True)
    logits64 = ref.discriminator(params, img64, c.double(), **kwargs)
    assert_close(logits, logits64, what='D logits')
    (r1_64,) = torch.autograd.grad(logits64.sum(), img64, create_graph=True)
    err = (r1_grads.double() - r1_64).abs().max().item() / r1_64.abs().max().item()
    assert err <= 1e-3, f'dD/dimg differs by {err:.3g} relative'
    r1_64.square().sum().backward()
    # Second-order gradients are float32-sensitive: the reference itself, run in float32,
    # is off by up to 1e-3 here (orig arch biases); a wrong double backward is off by O(1).
    _assert_grads_close(D, params, tol=1e-2)


# ---------------------------------------------------------------------------------------
# ops: fast paths against the definitions
# ---------------------------------------------------------------------------------------

def ref_upfirdn(x, f, **kwargs):
    return ref.batched(ref.upfirdn2d, x.double(), f.double(), **kwargs)


FILTER_KINDS = ['asymmetric', 'separable', 'default']


@pytest.mark.parametrize('kind', FILTER_KINDS)
def test_upfirdn2d_is_the_definition(kind):
    f = random_filter(torch.Generator().manual_seed(1), kind)
    x = randn(2, 3, 7, 6, seed=2)
    for kw in [dict(), dict(pad=(1, 2, 0, 3)), dict(pad=(2, 2, 2, 2)), dict(up=2, pad=(2, 1, 2, 1), gain=4),
               dict(down=2, pad=(1, 1, 1, 1)), dict(up=2, pad=(-1, 0, 1, -2), gain=3), dict(down=2, pad=(2, -1, 0, 1)),
               dict(up=3, down=2, pad=(1, 1, 2, 2))]:
        assert_close(ops.upfirdn2d(x, f, **kw), ref_upfirdn(x, f, **kw), tol=1e-6, what=str(kw))


@pytest.mark.parametrize('kind', FILTER_KINDS)
@pytest.mark.parametrize('size', [(8, 8), (5, 7)])
def test_upsample_and_downsample_fast_paths(kind, size):
    f = random_filter(torch.Generator().manual_seed(3), kind)
    x = randn(2, 4, *size, seed=4)
    up = ops.upsample2d(x, f)
    assert up.shape == (2, 4, 2 * size[0], 2 * size[1])
    assert_close(up, ref_upfirdn(x, f, up=2, pad=(2, 1, 2, 1), gain=4), tol=1e-6)
    assert_close(up, ops.upfirdn2d(x, f, up=2, pad=(2, 1, 2, 1), gain=4), tol=1e-6)
    down = ops.downsample2d(x, f)
    assert_close(down, ref_upfirdn(x, f, down=2, pad=(1, 1, 1, 1)), tol=1e-6)
    assert_close(down, ops.upfirdn2d(x, f, down=2, pad=(1, 1, 1, 1)), tol=1e-6)
    xc = x.contiguous(memory_format=torch.channels_last)
    assert_close(ops.upsample2d(xc, f), up, tol=1e-6)
    assert_close(ops.downsample2d(xc, f), down, tol=1e-6)


@pytest.mark.parametrize('kind', FILTER_KINDS)
@pytest.mark.parametrize('groups', [1, 2])
@pytest.mark.parametrize('flip_weight', [False, True])
def test_conv2d_resample_fast_paths(flip_weight, groups, kind):
    """up: == conv(upfirdn2d(up=2, pad 3,2,3,2, gain 4)); down: == conv(upfirdn2d(pad 2), stride 2);
    1x1: resample after (up) / before (down) the conv; flip_weight=False is a true convolution."""
    f = random_filter(torch.Generator().manual_seed(5), kind)
    x = randn(2, 4, 6, 6, seed=6)
    x64 = x.double()
    w3 = randn(6, 4 // groups, 3, 3, seed=7)
    w1 = randn(6, 4 // groups, 1, 1, seed=8)
    wc = (w3 if flip_weight else w3.flip([2, 3])).double()       # what plain conv2d (a correlation) needs

    got = ops.conv2d_resample(x, w3, f, up=2, padding=1, groups=groups, flip_weight=flip_weight)
    want = F.conv2d(ref_upfirdn(x, f, up=2, pad=(3, 2, 3, 2), gain=4), wc, groups=groups)
    assert_close(got, want, tol=1e-5, what='up=2 3x3')

    got = ops.conv2d_resample(x, w3, f, down=2, padding=1, groups=groups, flip_weight=flip_weight)
    want = F.conv2d(ref_upfirdn(x, f, pad=(2, 2, 2, 2)), wc, stride=2, groups=groups)
    assert_close(got, want, tol=1e-5, what='down=2 3x3')

    got = ops.conv2d_resample(x, w3, f, padding=1, groups=groups, flip_weight=flip_weight)
    assert_close(got, F.conv2d(x64, wc, padding=1, groups=groups), tol=1e-5, what='3x3')

    got = ops.conv2d_resample(x, w1, f, up=2, groups=groups, flip_weight=flip_weight)
    want = ref_upfirdn(F.conv2d(x64, w1.double(), groups=groups), f, up=2, pad=(2, 1, 2, 1), gain=4)
    assert_close(got, want, tol=1e-5, what='up=2 1x1')

    got = ops.conv2d_resample(x, w1, f, down=2, groups=groups, flip_weight=flip_weight)
    want = F.conv2d(ref_upfirdn(x, f, down=2, pad=(1, 1, 1, 1)), w1.double(), groups=groups)
    assert_close(got, want, tol=1e-5, what='down=2 1x1')


@pytest.mark.parametrize('kind', ['asymmetric', 'default'])
@pytest.mark.parametrize('groups', [1, 2])
@pytest.mark.parametrize('flip_weight', [False, True])
def test_conv2d_resample_up_phase_route(monkeypatch, flip_weight, groups, kind):
    """up=2 with a 3x3 kernel: the phase route (CPU, channels_last, large maps) equals the
    transposed route and the definition for every padding, and so do its gradients."""
    f = random_filter(torch.Generator().manual_seed(30), kind)
    x = randn(2, 4 * groups, 7, 5, seed=31).contiguous(memory_format=torch.channels_last)
    w = randn(6 * groups, 4, 3, 3, seed=32)
    wc = (w if flip_weight else w.flip([2, 3])).double()
    assert not ops._use_phase_route(x, 2, 3) and not ops._use_phase_route(x.contiguous(), 2, 3)
    for padding in (0, 1, 2):
        def run(x, w, min_pixels):
            monkeypatch.setattr(ops, 'PHASE_ROUTE_MIN_PIXELS', min_pixels)
            return ops.conv2d_resample(x, w, f, up=2, padding=padding, groups=groups, flip_weight=flip_weight)

        want = F.conv2d(ref_upfirdn(x, f, up=2, pad=(padding + 2, padding + 1) * 2, gain=4), wc, groups=groups)
        outs, grads = [], []
        for min_pixels in (1, 1 << 40):  # phase route, transposed route
            xg, wg = x.double().requires_grad_(True), w.double().requires_grad_(True)
            monkeypatch.setattr(ops, 'PHASE_ROUTE_MIN_PIXELS', min_pixels)
            assert ops._use_phase_route(xg, 2, 3) == (min_pixels == 1)
            out = run(xg.float(), wg.float(), min_pixels)
            assert_close(out, want, tol=1e-5, what=f'padding {padding}, min_pixels {min_pixels}')
            out = run(xg, wg, min_pixels)
            # first order, and second order through the input gradient (which depends on w only):
            # the path-length penalty differentiates through G's gradients
            gx, gw = torch.autograd.grad((out * randn(*out.shape, seed=33).double()).sum(), [xg, wg], create_graph=True)
            (gx * randn(*gx.shape, seed=34).double()).sum().backward()
            outs.append(out)
            grads.append((gx.detach(), gw.detach(), wg.grad))
        assert ops._is_channels_last(outs[0])
        for g_phase, g_transposed in zip(*grads):
            assert torch.allclose(g_phase, g_transposed, rtol=0, atol=1e-12 * g_transposed.abs().max().item()), \
                f'gradients differ, padding {padding}'


def test_fused_modconv_of_one_sample_keeps_channels_last():
    """A [1,C,H,W] channels_last map stays channels_last through the fused modulated conv: mkldnn
    would otherwise copy it to NCHW (and run the FIR and the next layer on NCHW, 2-3x slower)."""
    x = randn(1, 4, 6, 6, seed=34).contiguous(memory_format=torch.channels_last)
    weight, styles = randn(5, 4, 3, 3, seed=35), randn(1, 4, seed=36) + 1
    for up in (1, 2):
        out = ops.modulated_conv2d(x, weight, styles, up=up, padding=1, resample_filter=ops.setup_filter(),
                                   flip_weight=(up == 1), fused_modconv=True)
        assert ops._is_channels_last(out), f'up={up}: strides {out.stride()}'


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('up,k,demodulate,style_scale', [
    (1, 3, True, 1), (2, 3, True, 1), (1, 1, False, 1), (1, 3, False, 1), (1, 3, True, 1e-4)])
def test_modulated_conv2d_fused_and_unfused(up, k, demodulate, style_scale, channels_last):
    """style_scale 1e-4 makes the demodulation epsilon (1e-8) matter."""
    gen = torch.Generator().manual_seed(9)
    N, I, O, H = 3, 5, 4, 6
    x, weight = randn(N, I, H, H, seed=10), randn(O, I, k, k, seed=11)
    styles = (randn(N, I, seed=12) + 1) * style_scale
    noise = randn(1, 1, H * up, H * up, seed=13)
    f = random_filter(gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = torch.stack([ref.modulated_conv(x[n].double(), weight.double(), styles[n].double(),
                                               demodulate=demodulate, up=up, f=f.double())
                            for n in range(N)]) + noise.double()
    for fused in (True, False):
        got = ops.modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=k // 2, resample_filter=f,
                                   demodulate=demodulate, flip_weight=(up == 1), fused_modconv=fused)
        assert_close(got, expected, tol=1e-5, what=f'fused={fused}')


@pytest.mark.parametrize('act', ['linear', 'relu', 'lrelu'])
def test_bias_act(act):
    x, b = randn(2, 5, 3, 3, seed=14) * 3, randn(5, seed=15)
    for gain in (None, 1, 0.5):
        for clamp in (None, 1.0):
            expected = ref.batched(ref.bias_act, x.double(), b.double(), act, gain=gain, clamp=clamp)
            assert_close(ops.bias_act(x, b, act, gain=gain, clamp=clamp), expected, tol=1e-6)
            xi = x.clone()
            out = ops.bias_act(xi, b, act, gain=gain, clamp=clamp, inplace=True)
            assert_close(out, expected, tol=1e-6, what='inplace')
    # a tensor autograd needs is never overwritten
    xg = x.clone().requires_grad_(True)
    out = ops.bias_act(xg, b, act, inplace=True)
    assert torch.equal(xg.detach(), x)
    out.sum().backward()
    assert xg.grad is not None
    # no bias, 2-D input (fully connected)
    v = randn(4, 6, seed=16)
    assert_close(ops.bias_act(v, None, act), torch.stack([ref.bias_act(r, None, act) for r in v.double()]), tol=1e-6)


def test_small_ops():
    assert torch.equal(ops.setup_filter([1, 3, 3, 1]),
                       torch.tensor([[1., 3, 3, 1], [3, 9, 9, 3], [3, 9, 9, 3], [1, 3, 3, 1]]) / 64)
    x = randn(3, 7, seed=17)
    assert_close(ops.normalize_2nd_moment(x), torch.stack([ref.normalize_2nd_moment(r) for r in x.double()]), tol=1e-6)


def test_assert_shape():
    t = torch.zeros(2, 3, 4)
    ops.assert_shape(t, [2, 3, 4])
    ops.assert_shape(t, [None, 3, None])
    with pytest.raises(AssertionError, match=r'\[2, 3, 4\]'):
        ops.assert_shape(t, [2, 5, 4], 'thing')
    with pytest.raises(AssertionError, match='dims'):
        ops.assert_shape(t, [2, 3])
    with pytest.raises(AssertionError, match='thing'):
        ops.assert_shape(t, [None, None, 5], 'thing')


def test_networks_reject_wrong_shapes():
    G, _ = make_G(res=16, seed=50)
    with pytest.raises(AssertionError):
        G.synthesis(torch.zeros(1, G.num_ws + 1, 16))
    with pytest.raises(AssertionError):
        G.synthesis(torch.zeros(1, G.num_ws, 15))
    with pytest.raises(AssertionError):
        G.mapping(torch.zeros(1, 15), None)
    with pytest.raises(AssertionError):
        G.synthesis.b8(torch.zeros(1, 7, 4, 4), None, torch.zeros(1, 3, 16))
    D, _ = make_D(res=16, seed=51)
    with pytest.raises(AssertionError):
        D(torch.zeros(2, 3, 32, 32), None)
    Dc, _ = make_D(res=16, c_dim=2, seed=52)
    with pytest.raises(AssertionError):
        Dc(torch.zeros(2, 3, 16, 16), torch.zeros(2, 3))


# ---------------------------------------------------------------------------------------
# CUDA: the fp16 high-resolution blocks
# ---------------------------------------------------------------------------------------

@pytest.fixture
def no_tf32():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('arch', ['skip', 'resnet'])
def test_cuda_fp16_generator_and_discriminator(arch, batch, no_tf32):
    G, kwargs = make_G(res=64, arch=arch, num_fp16_res=2, seed=60)
    z = randn(batch, 16, seed=61)
    expected = ref_G(G, kwargs, z, noise_mode='const')
    G = G.cuda()
    assert [b.use_fp16 for b in G.synthesis.blocks()] == [False, False, False, True, True]
    with torch.no_grad():
        img32 = G(z.cuda(), None, noise_mode='const', force_fp32=True)
        img16 = G(z.cuda(), None, noise_mode='const')
    assert img32.dtype == img16.dtype == torch.float32
    assert_close(img32, expected, what='CUDA fp32')
    assert_close(img16, expected, tol=2e-2, what='CUDA fp16')
    assert rel_error(img16, expected) > 0  # the fp16 blocks did run in half precision

    D, dkw = make_D(res=64, arch=arch, num_fp16_res=2, seed=62, epilogue_kwargs=dict(mbstd_group_size=batch))
    img = randn(batch, 3, 64, 64, seed=63)
    expected = ref.discriminator(f64(D), img.double(), None, **dkw)
    D = D.cuda()
    with torch.no_grad():
        assert_close(D(img.cuda(), None, force_fp32=True), expected, what='CUDA D fp32')
        assert_close(D(img.cuda(), None), expected, tol=2e-2, what='CUDA D fp16')
