"""Explicit noise maps: G.synthesis(ws, noise_inputs={'b8.conv0': map}) replaces single layers'
noise for one call without writing G's buffers (the projector optimises its own copies)."""
import pytest
import torch

from core.networks import Generator
from core.noise import noise_layers

TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=512, channel_max=32))


@pytest.fixture(scope='module')
def G():
    torch.manual_seed(0)
    G = Generator(**TINY).eval().requires_grad_(False)
    for name, param in G.named_parameters():
        if name.endswith('noise_strength'):
            param.fill_(0.5)  # a fresh G has strength 0: noise would not show
    return G


def _ws(G, seed=1):
    torch.manual_seed(seed)
    return G.mapping(torch.randn([1, G.z_dim]), None)


def _const_maps(G):
    return {name: G.synthesis.get_submodule(name).noise_const.clone() for name in noise_layers(G)}


def test_noise_inputs_equal_to_the_buffers_give_the_const_image(G):
    ws = _ws(G)
    ref = G.synthesis(ws, noise_mode='const')
    assert torch.equal(G.synthesis(ws, noise_mode='const', noise_inputs=_const_maps(G)), ref)
    batched = {name: m[None, None] for name, m in _const_maps(G).items()}  # [N, 1, H, W] works too
    assert torch.equal(G.synthesis(ws, noise_mode='const', noise_inputs=batched), ref)


def test_other_maps_change_the_image_but_never_the_buffers(G):
    ws = _ws(G)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    ref = G.synthesis(ws, noise_mode='const')
    maps = {name: torch.randn_like(m) for name, m in _const_maps(G).items()}
    out = G.synthesis(ws, noise_mode='const', noise_inputs=maps)
    assert (out - ref).abs().max() > 1e-3
    # a single layer: only that layer's noise differs from 'const'
    one = G.synthesis(ws, noise_mode='const', noise_inputs={'b16.conv1': maps['b16.conv1']})
    assert (one - ref).abs().max() > 1e-4
    assert not torch.equal(one, out)
    for k, v in G.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_gradients_flow_into_the_maps(G):
    ws = _ws(G).requires_grad_(True)
    maps = {name: torch.randn_like(m).requires_grad_(True) for name, m in _const_maps(G).items()}
    img = G.synthesis(ws, noise_mode='const', noise_inputs=maps)
    grads = torch.autograd.grad(img.square().sum(), [ws, *maps.values()])
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in G.parameters())


def test_mode_none_ignores_the_maps_and_random_mode_uses_them(G):
    ws = _ws(G)
    maps = {name: torch.randn_like(m) for name, m in _const_maps(G).items()}
    assert torch.equal(G.synthesis(ws, noise_mode='none', noise_inputs=maps), G.synthesis(ws, noise_mode='none'))
    a = G.synthesis(ws, noise_mode='random', noise_inputs=maps)
    b = G.synthesis(ws, noise_mode='random', noise_inputs=maps)
    assert torch.equal(a, b)  # every layer has an explicit map: nothing random is left
    assert torch.equal(a, G.synthesis(ws, noise_mode='const', noise_inputs=maps))


def test_a_map_of_the_wrong_size_is_refused(G):
    with pytest.raises(AssertionError, match='noise_input'):
        G.synthesis(_ws(G), noise_mode='const', noise_inputs={'b8.conv0': torch.zeros(4, 4)})
