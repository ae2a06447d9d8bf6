"""StyleGAN3 networks in files: official stylegan3-repo pickles (their embedded source never
run), the pickles Stylescope writes for the stylegan3 repo, Stylescope .safetensors, `info`.

The official pickles are made by tests/official_pickle.py, the same writer the StyleGAN2 pickle
tests use, from our own StyleGAN3 modules (whose attribute names are the official ones) with a
module source that would leave a marker file if anything ran it.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch

from core.errors import StylescopeError
from core.format_official import write_official_pickle as write_for_official_code
from core.model_io import fingerprint, network_summary, open_network, save_as, save_network
from core.networks import Discriminator
from core.networks_stylegan3 import is_stylegan3
from tests.format_helpers import assert_one_sentence, assert_same_tensors, seeds_z
from tests.official_pickle import write_official_pickle
from tests.test_stylegan3 import make_G

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def payload_source(marker):
    """Module source as the stylegan3 repo embeds it (it imports filtered_lrelu), with a line
    that leaves `marker` behind if it is ever executed."""
    return (f'import os\nos.system("touch {marker}")\nopen("{marker}", "w").close()\n'
            'from torch_utils.ops import filtered_lrelu\n')


def render(G, seeds=(0, 1), psi=0.7):
    with torch.no_grad():
        return G(seeds_z(seeds, G.z_dim).float(), None, truncation_psi=psi)


@pytest.fixture(scope='module', params=['T', 'R'])
def sg3(request):
    G = make_G(request.param, seed=2)
    torch.manual_seed(3)
    D = Discriminator(c_dim=0, img_resolution=64, img_channels=3, channel_base=512, channel_max=16).eval()
    return request.param, G, D


def test_official_pickle_opens_without_running_its_source(tmp_path, sg3):
    cfg, G, D = sg3
    marker = tmp_path / 'source-ran'
    path = tmp_path / f'stylegan3-{cfg.lower()}.pkl'
    write_official_pickle(path, G, D=D, G=G, protocol=4, module_src=payload_source(marker))
    net = open_network(path, want_D=True)
    assert not marker.exists()
    assert is_stylegan3(net.G) and net.meta['architecture'] == 'stylegan3'
    assert net.meta['holds'] == ['G_ema', 'G', 'D'] and isinstance(net.D, Discriminator)
    assert_same_tensors(net.G, G)
    assert_same_tensors(net.D, D)
    assert torch.equal(render(net.G), render(G))
    assert net.meta['fingerprint'] == fingerprint(G)


def test_safetensors_round_trip_records_the_architecture(tmp_path, sg3):
    cfg, G, D = sg3
    path = tmp_path / 'net.safetensors'
    save_network(path, G, D=D)
    with safetensors.safe_open(str(path), framework='pt') as f:
        assert f.metadata()['architecture'] == 'stylegan3'
    net = open_network(path, want_D=True)
    assert is_stylegan3(net.G) and net.G.init_kwargs == G.init_kwargs
    assert_same_tensors(net.G, G)
    assert torch.equal(render(net.G), render(G))


def test_convert_to_the_stylegan3_repo_pickle_and_back(tmp_path, sg3):
    cfg, G, D = sg3
    src = tmp_path / 'net.safetensors'
    save_network(src, G, D=D)
    out = tmp_path / 'for-stylegan3.pkl'
    summary = save_as(out, open_network(src, want_D=True, want_training=True))
    assert summary['format'] == 'official'
    data = out.read_bytes()
    # Named for the stylegan3 repo's classes: its StyleGAN3 generator and its StyleGAN2 discriminator.
    assert b'training.networks_stylegan3' in data and b'training.networks_stylegan2' in data
    assert re.search(rb'training\.networks(?!_)', data) is None  # not stylegan2-ada-pytorch's module
    assert b'filtered_lrelu' not in data  # no source travels
    back = open_network(out, want_D=True)
    assert is_stylegan3(back.G)
    assert_same_tensors(back.G, G)
    assert_same_tensors(back.D, D)


def test_generator_kinds_must_agree(tmp_path, sg3):
    cfg, G, D = sg3
    from tests.test_model_io import make_G as make_stylegan2
    with pytest.raises(TypeError):
        save_network(tmp_path / 'x.safetensors', G, G=make_stylegan2())
    with pytest.raises(TypeError):
        write_for_official_code(tmp_path / 'x.pkl', G, G=make_stylegan2())


def test_unknown_architecture_refused(tmp_path, sg3):
    cfg, G, D = sg3
    path = tmp_path / 'net.safetensors'
    save_network(path, G)
    tensors = safetensors.torch.load_file(str(path))
    with safetensors.safe_open(str(path), framework='pt') as f:
        meta = dict(f.metadata())
    meta['architecture'] = 'stylegan9'
    safetensors.torch.save_file(tensors, str(path), metadata=meta)
    with pytest.raises(StylescopeError, match='stylegan9') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


def test_stylegan3_kwargs_past_the_bounds_refused(tmp_path, sg3):
    cfg, G, D = sg3
    path = tmp_path / 'net.safetensors'
    save_network(path, G)
    tensors = safetensors.torch.load_file(str(path))
    with safetensors.safe_open(str(path), framework='pt') as f:
        meta = dict(f.metadata())
    for key, value in (('filter_size', 1 << 16), ('margin_size', 10 ** 6), ('first_cutoff', -2)):
        kwargs = dict(json.loads(meta['G_kwargs']), **{key: value})
        safetensors.torch.save_file(tensors, str(path), metadata=dict(meta, G_kwargs=json.dumps(kwargs)))
        with pytest.raises(StylescopeError, match=key) as excinfo:
            open_network(path)
        assert_one_sentence(excinfo, path)


def test_summary_and_info_list_every_layer(tmp_path, sg3):
    cfg, G, D = sg3
    summary = network_summary(G)
    assert summary['architecture'] == f'stylegan3-{cfg.lower()}' and summary['num_ws'] == 16
    assert [row['ws'] for row in summary['layers']] == list(range(16))
    assert summary['layers'][-1]['size'] == 64 and summary['layer_groups'] == G.synthesis.layer_groups()
    path = tmp_path / 'net.safetensors'
    save_network(path, G)
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'main.py'), 'info', str(path)], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert f'StyleGAN3-{cfg}' in out.stdout and 'num_ws' in out.stdout
    table = [line.split() for line in out.stdout.splitlines() if line.strip().startswith(('0 ', '15 '))]
    assert table[0][1] == 'input' and table[-1][1].startswith('L14_64_3')


def test_rosinality_refuses_and_onnx_exports_stylegan3(tmp_path, sg3):
    cfg, G, D = sg3
    src = tmp_path / 'net.safetensors'
    save_network(src, G)
    net = open_network(src)
    with pytest.raises(StylescopeError, match='StyleGAN2 networks only') as excinfo:
        save_as(tmp_path / 'net.pt', net)
    assert_one_sentence(excinfo, tmp_path / 'net.pt')
    assert not list(tmp_path.glob('*.pt*'))
    ort = pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    out = tmp_path / 'net.onnx'
    save_as(out, net)
    session = ort.InferenceSession(str(out))
    z = seeds_z([0, 1], G.z_dim).float()
    images = [session.run(None, {'z': z[i:i + 1].numpy(), 'psi': np.array(0.7, np.float32)})[0] for i in range(2)]
    expected = render(G)
    assert np.abs(np.concatenate(images) - expected.numpy()).max() < 1e-4
