"""TensorFlow-era StyleGAN2 pickles: converted like the official legacy.py, read without running anything."""
import pickle

import numpy as np
import pytest
import torch

from core.errors import StylescopeError
from core.model_io import fingerprint, open_network
from tests.format_helpers import assert_one_sentence, grey_diff, seeds_z, subprocess_payload, system_payload
from tests.official_pickle import _stand_in_modules
from tests.reference_tf import make_tf_networks, tf_discriminator, tf_generator, write_tf_pickle

G_KW = dict(latent_size=16, dlatent_size=16, mapping_layers=2, resolution=16, num_channels=3, label_size=0,
            fmap_base=128, fmap_max=32)
D_KW = dict(resolution=16, num_channels=3, label_size=0, fmap_base=128, fmap_max=32)


def write(tmp_path, g_kwargs=G_KW, d_kwargs=D_KW, name='stylegan2-config-f.pkl', protocol=4, edit=None, **kw):
    nets, flat = make_tf_networks(g_kwargs, d_kwargs, **kw)
    if edit:
        edit(nets)
    path = tmp_path / name
    write_tf_pickle(path, nets, protocol=protocol)
    return path, flat


def generate(G, z, c=None, psi=1):
    c = c if c is not None else torch.zeros([z.shape[0], 0])
    with torch.no_grad():
        return G(z.float(), c.float(), truncation_psi=psi, noise_mode='const').double()


@pytest.mark.parametrize('protocol', [2, 4])
def test_tf_pickle_draws_what_the_tf_network_draws(tmp_path, protocol):
    path, flat = write(tmp_path, protocol=protocol)
    net = open_network(path, want_training=True)
    assert net.meta['format'] == 'tf-pkl' and net.meta['holds'] == ['G_ema', 'G', 'D']
    assert net.meta['contents'] == 'G_ema, G (non-averaged) and D' and 'group size 4' in net.meta['tf_note']
    z = seeds_z([0, 1, 2], 16)
    for G, role in ((net.G, 'Gs'), (net.meta['G_train'], 'G')):
        for psi in (1, 0.7):
            ours, ref = generate(G, z, psi=psi), tf_generator(flat[role], z, None, G_KW, psi=psi)
            assert (ours - ref).abs().max() < 1e-4
            assert grey_diff(ours, ref)[0] <= 1
    img = torch.randn([4, 3, 16, 16], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        logits = net.D(img.float(), None).double()
    assert (logits - tf_discriminator(flat['D'], img, None, D_KW)).abs().max() < 1e-4
    assert fingerprint(open_network(path).G) == net.meta['fingerprint']  # the same on every load


@pytest.mark.parametrize('variant', ['resnet', 'conditional-ada', 'no-noise-clamped'])
def test_tf_pickle_variants(tmp_path, variant):
    g_kwargs, d_kwargs = dict(G_KW), dict(D_KW)
    if variant == 'resnet':
        g_kwargs.update(architecture='resnet', truncation_psi=0.5, structure='auto')  # run-time options are ignored
    elif variant == 'conditional-ada':
        g_kwargs.update(label_size=3)
        d_kwargs.update(label_size=3, mbstd_group_size=2)
    else:  # the kwargs an ADA-TF net records: clamp, fp16 layers, no noise
        g_kwargs.update(use_noise=False, conv_clamp=0.5, num_fp16_res=2)
        d_kwargs.update(conv_clamp=256, num_fp16_res=2, mbstd_group_size=2)
    path, flat = write(tmp_path, g_kwargs, d_kwargs)
    net = open_network(path, want_D=True)
    z = seeds_z([5, 6], 16)
    c = torch.eye(3, dtype=torch.float64)[:2] if variant == 'conditional-ada' else None
    ours, ref = generate(net.G, z, c), tf_generator(flat['Gs'], z, c, g_kwargs)
    assert (ours - ref).abs().max() < 1e-4, variant
    img = torch.randn([4, 3, 16, 16], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    c = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0]] if c is not None else None
    with torch.no_grad():
        logits = net.D(img.float(), c.float() if c is not None else None).double()
    assert (logits - tf_discriminator(flat['D'], img, c, d_kwargs)).abs().max() < 1e-4, variant
    if variant == 'no-noise-clamped':
        assert net.G.init_kwargs['synthesis_kwargs']['conv_clamp'] == 0.5 and 'tf_note' not in net.meta


def _set_static(role, **values):
    def edit(nets):
        nets[{'G': 0, 'D': 1, 'Gs': 2}[role]].static_kwargs.update(values)
    return edit


@pytest.mark.parametrize('case,pattern', [
    ('old-version', 'old dnnlib'),
    ('unknown-kwarg', "built with 'synthesis_func'"),
    ('label-concat', 'LabelConcat'),
    ('missing-variable', "lacks the variable 'synthesis/8x8/Conv1/weight'"),
    ('wrong-shape', 'expected'),
    ('no-components', 'no mapping and synthesis networks'),
])
def test_unconvertible_tf_pickles_are_refused(tmp_path, case, pattern):
    edit, kw = None, {}
    if case == 'old-version':
        kw = dict(version=3)
    elif case == 'unknown-kwarg':
        edit = _set_static('Gs', synthesis_func='G_synthesis_stylegan_revised')
    elif case == 'label-concat':
        def edit(nets):
            mapping = nets[2].components['mapping']
            nets[2].static_kwargs['label_size'] = 2
            mapping.variables = [(n, v) for n, v in mapping.variables] + [('LabelConcat/weight', np.zeros([2, 16]))]
    elif case == 'missing-variable':
        def edit(nets):
            synthesis = nets[2].components['synthesis']
            synthesis.variables = [(n, v) for n, v in synthesis.variables if n != '8x8/Conv1/weight']
    elif case == 'wrong-shape':
        def edit(nets):
            synthesis = nets[2].components['synthesis']
            synthesis.variables = [(n, v[:, :, :1] if n == '8x8/Conv1/weight' else v) for n, v in synthesis.variables]
    else:
        def edit(nets):
            nets[2].components = {}
    path, _ = write(tmp_path, edit=edit, **kw)
    with pytest.raises(StylescopeError, match=pattern) as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


@pytest.mark.parametrize('where', ['object-array', 'bare-reduce', 'static-kwargs'])
def test_hostile_tf_pickle_refused_before_running(tmp_path, where):
    marker = tmp_path / 'pwned'
    payload = system_payload(marker) if where != 'static-kwargs' else subprocess_payload(marker)

    def edit(nets):
        if where == 'object-array':  # a "numpy record" that carries code
            value = np.array([payload, 1.0], dtype=object)
        else:
            value = payload
        if where == 'static-kwargs':
            nets[0].static_kwargs['resolution'] = value
        else:
            synthesis = nets[2].components['synthesis']
            synthesis.variables = synthesis.variables + [('noise99', value)]
    path, _ = write(tmp_path, edit=edit)
    with pytest.raises(StylescopeError, match='refused to unpickle') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)
    assert not marker.exists()


def test_tf_source_never_runs_and_torch_objects_are_refused(tmp_path):
    marker = tmp_path / 'pwned'
    source = f'import pathlib\npathlib.Path({str(marker)!r}).touch()\n'
    path, _ = write(tmp_path, source=source)
    open_network(path)
    assert not marker.exists()

    nets, _ = make_tf_networks(G_KW, D_KW)
    nets[1].variables = nets[1].variables + [('extra', torch.zeros(3))]
    mixed = tmp_path / 'mixed.pkl'
    with _stand_in_modules(), open(mixed, 'wb') as f:
        pickle.dump(nets, f, protocol=4)
    with pytest.raises(StylescopeError, match='mixes TensorFlow network records') as excinfo:
        open_network(mixed)
    assert_one_sentence(excinfo, mixed)
