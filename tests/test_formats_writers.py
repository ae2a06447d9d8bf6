"""Writers: official .pkl (module-path globals, no source), rosinality .pt, and the save_as dispatcher.

Each round trip ours -> format -> ours must be bit-identical in every tensor, so the fingerprint a
direction file or session recorded still matches. The official pickle is also loaded the way the
official loader does it from its checkout (stock unpickler, classes resolved by module path), here
with stand-in classes, and the rosinality one is checked against rosinality's key set and maths.
"""
import contextlib
import pickle
import pickletools
import sys
import types

import numpy as np
import pytest
import torch

from core import model_io, networks, safe_pickle
from core.errors import StylescopeError
from core.format_official import write_official_pickle
from core.format_rosinality import write_rosinality
from core.model_io import LoadedNetwork, fingerprint, format_for_path, open_network, save_as
from core.networks import Discriminator, Generator
from tests import reference_rosinality as ros
from tests.format_helpers import assert_one_sentence, assert_same_tensors, grey_diff, seeds_z


def make_G(c_dim=0, seed=0, res=16, channel_base=256, channel_max=32, w_dim=16, **synthesis):
    torch.manual_seed(seed)
    G = Generator(z_dim=w_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=res, img_channels=3,
                  mapping_kwargs=dict(num_layers=2),
                  synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max, **synthesis))
    with torch.no_grad():  # non-trivial buffers and biases, so no mix-up goes unnoticed
        G.mapping.w_avg.normal_()
        for name, p in G.named_parameters():
            if name.endswith('noise_strength'):
                p.fill_(0.2)
            elif name.endswith('bias'):
                p.add_(0.1 * torch.randn_like(p))
    return G.eval().requires_grad_(False)


def make_D(c_dim=0, seed=1, res=16, channel_base=256, channel_max=32, **kwargs):
    torch.manual_seed(seed)
    return Discriminator(c_dim=c_dim, img_resolution=res, img_channels=3, channel_base=channel_base,
                         channel_max=channel_max, **kwargs).eval().requires_grad_(False)


def pickle_globals(path):
    """Every module.name the pickle at `path` references, as our restricted reader meets them."""
    found = set()

    class Recording(safe_pickle._RestrictedUnpickler):
        def find_class(self, module, name):
            found.add(f'{module}.{name}')
            return super().find_class(module, name)
    with open(path, 'rb') as f:
        Recording(f, str(path)).load()
    return found


@contextlib.contextmanager
def official_classes():
    """Stand-ins for an official checkout on sys.path: training.networks.<Class> resolve to
    classes with the official names (here: ours), dnnlib.util.EasyDict to a dict."""
    names = ('training', 'training.networks', 'dnnlib', 'dnnlib.util')
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        for cls in ('Generator', 'MappingNetwork', 'SynthesisNetwork', 'SynthesisBlock', 'SynthesisLayer', 'ToRGBLayer',
                    'FullyConnectedLayer', 'Conv2dLayer', 'Discriminator', 'DiscriminatorBlock',
                    'DiscriminatorEpilogue', 'MinibatchStdLayer'):
            setattr(sys.modules['training.networks'], cls,
                    type(cls, (getattr(networks, cls),), {'__module__': 'training.networks'}))
        sys.modules['dnnlib.util'].EasyDict = type('EasyDict', (dict,), {})
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


# ----------------------------------------------------------------------------------------------
# Official pickles

def test_official_pickle_round_trip_is_bit_identical(tmp_path):
    G_ema, G, D = make_G(conv_clamp=256, num_fp16_res=2), make_G(seed=5, conv_clamp=256, num_fp16_res=2), make_D()
    path = tmp_path / 'network.pkl'
    write_official_pickle(path, G_ema, D=D, G=G, training_set_kwargs=dict(path='data.zip', resolution=16),
                          extra=dict(converted_from='x.safetensors'))
    net = open_network(path, want_training=True)
    assert_same_tensors(net.G, G_ema)
    assert_same_tensors(net.meta['G_train'], G)
    assert_same_tensors(net.D, D)
    assert net.meta['fingerprint'] == fingerprint(G_ema) == net.meta['recorded_fingerprint']
    assert net.meta['format'] == 'official-pkl' and net.meta['written_by'] == 'stylescope'
    assert net.meta['G_kwargs'] == G_ema.init_kwargs and net.meta['D_kwargs'] == D.init_kwargs
    assert net.meta['training_set_kwargs'] == dict(path='data.zip', resolution=16)
    # No NVIDIA source and no persistence records: only classes by module path, tensors, containers.
    data = path.read_bytes()
    assert b'module_src' not in data and b'torch_utils' not in data
    allowed = {'dnnlib.util.EasyDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter',
               'torch.storage._load_from_bytes', 'collections.OrderedDict', 'numpy.dtype',
               'numpy._core.multiarray.scalar', 'numpy.core.multiarray.scalar'}
    found = pickle_globals(path)
    assert {g for g in found if not g.startswith('training.networks.')} <= allowed, found
    assert 'training.networks.Generator' in found and 'training.networks.Discriminator' in found
    assert pickletools.genops(data).__next__()[1] == 4  # protocol 4: Python 3.7 reads it


def test_official_pickle_loads_like_an_official_checkout_would(tmp_path):
    G_ema, D = make_G(c_dim=3, architecture='resnet', conv_clamp=256), make_D(c_dim=3, mapping_kwargs=dict(num_layers=2))
    path = tmp_path / 'network.pkl'
    write_official_pickle(path, G_ema, D=D)
    with official_classes(), open(path, 'rb') as f:
        data = pickle.load(f)  # the stock unpickler, on a file we wrote ourselves
    assert set(data) >= {'G', 'D', 'G_ema', 'training_set_kwargs'}
    G2, D2 = data['G_ema'], data['D']
    assert type(G2).__module__ == 'training.networks' and type(D2).__name__ == 'Discriminator'
    assert isinstance(G2._init_kwargs, dict) and G2._init_kwargs['synthesis_kwargs']['architecture'] == 'resnet'
    assert G2.synthesis.b8.conv0.act_gain == np.sqrt(2) and type(G2.synthesis.b8.conv0.act_gain) is np.float64
    z, c = seeds_z([0, 1], 16).float(), torch.eye(3)[:2]
    with torch.no_grad():
        assert torch.equal(G2(z, c, noise_mode='const'), G_ema(z, c, noise_mode='const'))
        img = torch.randn([2, 3, 16, 16])
        assert torch.equal(D2(img, c), D(img, c))


def test_official_pickle_without_D_or_G(tmp_path):
    G_ema = make_G()
    path = tmp_path / 'network.pkl'
    write_official_pickle(path, G_ema)
    with official_classes(), open(path, 'rb') as f:
        data = pickle.load(f)
    assert isinstance(data['D'], torch.nn.Identity) and data['G'] is data['G_ema']  # the official loader needs both
    net = open_network(path, want_training=True)
    assert net.D is None and 'G_train' not in net.meta and net.meta['holds'] == ['G_ema']
    assert_same_tensors(net.G, G_ema)


# ----------------------------------------------------------------------------------------------
# rosinality checkpoints

def rosinality_nets(res=8, style_dim=16, **synthesis):
    """Networks rosinality's model.py can build: its channel table (512 up to 32x32, multiplier 1)."""
    G = make_G(res=res, w_dim=style_dim, channel_base=16384, channel_max=512, **synthesis)
    D = make_D(res=res, channel_base=16384, channel_max=512)
    return G, D


def test_rosinality_round_trip_is_bit_identical_and_loads_strict(tmp_path):
    G_ema, D = rosinality_nets(conv_clamp=256, num_fp16_res=1)
    G = make_G(seed=9, res=8, channel_base=16384, channel_max=512, conv_clamp=256, num_fp16_res=1)
    path = tmp_path / 'ours.pt'
    summary = write_rosinality(path, G_ema, D=D, G=G)
    assert summary['holds'] == ['g_ema', 'g', 'd'] and summary['args']['channel_multiplier'] == 2
    assert any('conv_clamp' in note for note in summary['notes'])
    ckpt = torch.load(path, weights_only=True)
    # rosinality's Generator(8, 16, 2, channel_multiplier) / Discriminator(8) have exactly these tensors
    for key, shapes in (('g_ema', ros.generator_shapes(8, 16, 2, 2)), ('g', ros.generator_shapes(8, 16, 2, 2)),
                        ('d', ros.discriminator_shapes(8, 2))):
        assert {k: tuple(v.shape) for k, v in ckpt[key].items()} == shapes, key
    z = seeds_z([0, 3], 16)
    with torch.no_grad():
        ours = G_ema(z.float(), None, noise_mode='const').double()
    ref = ros.generator({k: v.double() for k, v in ckpt['g_ema'].items()}, z, size=8, n_mlp=2)
    assert (ours - ref).abs().max() < 1e-4 and grey_diff(ours, ref)[0] <= 1
    net = open_network(path, want_training=True)
    assert_same_tensors(net.G, G_ema)
    assert_same_tensors(net.meta['G_train'], G)
    assert_same_tensors(net.D, D)
    assert net.meta['fingerprint'] == fingerprint(G_ema) == net.meta['recorded_fingerprint']
    assert net.meta['G_kwargs'] == G_ema.init_kwargs  # conv_clamp and num_fp16_res come back from the note


def test_rosinality_writer_refuses_what_model_py_cannot_build(tmp_path):
    path = tmp_path / 'x.pt'
    with pytest.raises(StylescopeError, match='conditional') as excinfo:
        write_rosinality(path, make_G(c_dim=3))
    assert_one_sentence(excinfo, path)
    with pytest.raises(StylescopeError, match="not rosinality's table"):
        write_rosinality(path, make_G())  # 32 channels at 4x4: rosinality always has 512
    assert not path.exists()
    G, _ = rosinality_nets()
    summary = write_rosinality(path, G, D=make_D(res=8, channel_base=16384, channel_max=512, architecture='skip'))
    assert summary['holds'] == ['g_ema'] and 'D left out' in summary['notes'][0]


# ----------------------------------------------------------------------------------------------
# save_as and atomic writes

@pytest.mark.parametrize('name,fmt', [('a.safetensors', 'safetensors'), ('a.pkl', 'official'), ('a.pt', 'rosinality'),
                                      ('a.PTH', 'rosinality'), ('a.onnx', 'onnx')])
def test_format_for_path(name, fmt):
    assert format_for_path(name) == fmt


def test_save_as_keeps_the_fingerprint_in_every_format(tmp_path):
    G, D = rosinality_nets()
    source = tmp_path / 'source.safetensors'
    model_io.save_network(source, G, D=D, extra_meta=dict(augment_p=0.25))
    net = open_network(source, want_training=True)
    for name in ('copy.safetensors', 'copy.pkl', 'copy.pt'):
        summary = save_as(tmp_path / name, net)
        back = open_network(tmp_path / name, want_D=True)
        assert back.meta['fingerprint'] == net.meta['fingerprint'], name
        assert_same_tensors(back.D, D)
        assert summary['path'].endswith(name)
    assert open_network(tmp_path / 'copy.safetensors').meta['converted_from_format'] == 'safetensors'
    with pytest.raises(StylescopeError, match='cannot tell the output format') as excinfo:
        save_as(tmp_path / 'copy.bin', net)
    assert_one_sentence(excinfo, tmp_path / 'copy.bin')


@pytest.mark.parametrize('fmt', ['official', 'rosinality'])
def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, fmt):
    G, _ = rosinality_nets()
    path = tmp_path / ('net.pkl' if fmt == 'official' else 'net.pt')
    save_as(path, LoadedNetwork(G, None, {}))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, 'No space left on device')
    if fmt == 'official':
        monkeypatch.setattr('core.format_official._OfficialPickler.dump', broken)
    else:
        monkeypatch.setattr('core.format_rosinality.torch.save', broken)
    with pytest.raises(StylescopeError, match='No space left') as excinfo:
        save_as(path, LoadedNetwork(make_G(seed=3, res=8, channel_base=16384, channel_max=512), None, {}))
    assert str(path) in str(excinfo.value) and '\n' not in str(excinfo.value)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]
