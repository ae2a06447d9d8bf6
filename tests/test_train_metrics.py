"""Metrics: the distances against closed forms, the offline pixel metrics, the Inception path
(a stand-in TorchScript detector with the official calling convention), and the metrics command."""
import json
import os

import numpy as np
import PIL.Image
import pytest
import torch

import main
from core.errors import StylescopeError
from core.model_io import save_network
from core.networks import Generator
from train.dataset import ImageDataset
from train.metrics import (InceptionFeatures, compute_metric, frechet_distance, kernel_distance, parse_metric,
                           parse_metric_list)


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('mdata') / 'imgs'
    root.mkdir()
    rnd = np.random.RandomState(1)
    for i in range(40):
        PIL.Image.fromarray(rnd.randint(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / f'{i:03d}.png')
    return str(root)


@pytest.fixture(scope='module')
def tiny_G():
    torch.manual_seed(0)
    return Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=8, img_channels=3, mapping_kwargs=dict(num_layers=1),
                     synthesis_kwargs=dict(channel_base=128, channel_max=16)).eval()


class _StandInDetector(torch.nn.Module):
    """Same call as NVIDIA's Inception file: uint8 NCHW RGB, return_features=True -> [N, F]."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = x.to(torch.float32) / 255
        return torch.cat([x.mean(dim=[2, 3]), x.std(dim=[2, 3])], dim=1)


def test_names():
    assert parse_metric('fid50k_full') == dict(name='fid50k_full', pixel=False, kind='fid', num_gen=50000, full=True)
    assert parse_metric('pxkid200')['num_gen'] == 200 and parse_metric('pxkid200')['pixel']
    assert parse_metric_list('pxfid1k, kid50k_full') == ['pxfid1k', 'kid50k_full'] and parse_metric_list('none') == []
    with pytest.raises(StylescopeError, match="unknown metric 'is50k'"):
        parse_metric('is50k')


def test_frechet_distance_matches_the_gaussian_closed_form():
    rnd = np.random.RandomState(0)
    a = rnd.randn(20000, 2) * [1.0, 2.0] + [0.0, 1.0]
    b = rnd.randn(20000, 2) * [3.0, 2.0] + [1.0, 1.0]
    # independent axes: |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2 = 1 + 4
    assert frechet_distance(a, b) == pytest.approx(5.0, rel=0.03)
    assert abs(frechet_distance(a, a)) < 1e-6


def test_kernel_distance_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rnd = np.random.RandomState(1)
    a, b = rnd.randn(600, 8), rnd.randn(600, 8)
    same = kernel_distance(a, b, num_subsets=20, max_subset_size=300)
    moved = kernel_distance(a, b + 1.0, num_subsets=20, max_subset_size=300)
    assert abs(same) < 0.02 and moved > 10 * max(abs(same), 1e-3)


def test_pixel_metrics_offline(dataset_dir, tiny_G):
    ds = ImageDataset(dataset_dir)
    cache = {}
    fid = compute_metric('pxfid64_full', tiny_G, ds, cache=cache)['pxfid64_full']
    kid = compute_metric('pxkid64', tiny_G, ds, cache=cache)['pxkid64']
    assert np.isfinite(fid) and fid > 0 and np.isfinite(kid)
    assert compute_metric('pxfid64_full', tiny_G, ds, cache=cache)['pxfid64_full'] == fid   # seeded
    rng_before = torch.get_rng_state()
    compute_metric('pxfid16', tiny_G, ds)
    assert torch.equal(torch.get_rng_state(), rng_before)     # never touches the training RNG


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_inception_metrics_need_the_users_file(dataset_dir, tiny_G, tmp_path):
    ds = ImageDataset(dataset_dir)
    with pytest.raises(StylescopeError, match='--inception PATH'):
        compute_metric('fid50_full', tiny_G, ds)
    with pytest.raises(StylescopeError, match='does not exist'):
        InceptionFeatures(str(tmp_path / 'inception-2015-12-05.pt'), 'cpu')
    (tmp_path / 'junk.pt').write_bytes(b'junk')
    with pytest.raises(StylescopeError, match='not a TorchScript Inception network'):
        InceptionFeatures(str(tmp_path / 'junk.pt'), 'cpu')
    detector = str(tmp_path / 'detector.pt')
    torch.jit.script(_StandInDetector()).save(detector)
    result = compute_metric('kid50_full', tiny_G, ds, inception=detector)
    assert np.isfinite(result['kid50_full'])


def test_metrics_command(dataset_dir, tiny_G, tmp_path, capsys):
    run = tmp_path / '00000-run'
    run.mkdir()
    (run / 'training_options.json').write_text('{}')
    save_network(str(run / 'network-snapshot-000000.safetensors'), tiny_G,
                 extra_meta=dict(training_set_kwargs=dict(path=dataset_dir, xflip=False)))
    assert main.main(['metrics', '--network', str(run), '--metrics', 'pxfid32_full,pxkid32', '--device', 'cpu']) == 0
    out = capsys.readouterr().out
    assert 'pxfid32_full = ' in out and 'pxkid32 = ' in out
    record = json.loads((run / 'metric-pxfid32_full.jsonl').read_text().splitlines()[0])
    assert record['snapshot'] == 'network-snapshot-000000.safetensors'
    assert main.main(['metrics', '--network', str(run), '--metrics', 'fid50k_full']) == 2
    assert 'needs the official Inception network' in capsys.readouterr().err
    assert not os.path.exists(run / 'metric-fid50k_full.jsonl')
