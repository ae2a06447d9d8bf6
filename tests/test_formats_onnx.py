"""ONNX export: ONNX Runtime draws our image (within 1 grey level), the fingerprint travels along."""
import numpy as np
import pytest
import torch

from core.errors import StylescopeError
from core.model_io import LoadedNetwork, fingerprint, open_network, save_as
from core.networks import Generator
from tests.format_helpers import assert_one_sentence, grey_diff, seeds_z

ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')
from core.format_onnx import export_onnx, read_metadata  # noqa: E402


def make_G(c_dim=0):
    torch.manual_seed(0)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
                  synthesis_kwargs=dict(channel_base=256, channel_max=32, conv_clamp=256))
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        for name, p in G.named_parameters():
            if name.endswith('noise_strength'):
                p.fill_(0.3)
    return G.eval().requires_grad_(False)


def session(path):
    return ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])


def test_z_graph_draws_our_image(tmp_path):
    G = make_G()
    path = tmp_path / 'G.onnx'
    summary = save_as(path, LoadedNetwork(G, None, {'source': 'g.safetensors', 'format': 'safetensors'}))
    assert summary['inputs'] == ['z', 'psi'] and summary['fingerprint'] == fingerprint(G)
    meta = read_metadata(path)
    assert meta['fingerprint'] == fingerprint(G) and meta['noise_mode'] == 'const' and meta['input'] == 'z'
    s = session(path)
    assert [i.name for i in s.get_inputs()] == ['z', 'psi']
    for seed in (0, 7):
        z = seeds_z([seed], 16).float()
        for psi in (1.0, 0.6):
            img = s.run(None, {'z': z.numpy(), 'psi': np.array(psi, np.float32)})[0]
            with torch.no_grad():
                ref = G(z, None, truncation_psi=psi, noise_mode='const')
            assert grey_diff(torch.from_numpy(img), ref)[0] <= 1
            assert np.abs(img - ref.numpy()).max() < 1e-4
    with pytest.raises(StylescopeError, match='ONNX export') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


def test_conditional_ws_graph_at_a_fixed_batch(tmp_path):
    G = make_G(c_dim=3)
    path = tmp_path / 'G_ws.onnx'
    export_onnx(path, G, input='ws', batch=2)
    z, c = seeds_z([1, 2], 16).float(), torch.eye(3)[:2]
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=0.7, truncation_cutoff=4)
        ref = G.synthesis(ws, noise_mode='const')
    img = session(path).run(None, {'ws': ws.numpy()})[0]
    assert img.shape == (2, 3, 16, 16) and grey_diff(torch.from_numpy(img), ref)[0] <= 1
