"""The bundled model (assets/default.safetensors) and its direction file, as a fresh clone has them."""
import os
import warnings

import numpy as np
import PIL.Image
import pytest

import main
from core.default_model import DEFAULT_MODEL_PATH, open_default_network
from core.direction_files import companion_path, open_directions
from core.model_io import fingerprint, open_network
from core.render import render_seeds

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
REFERENCE_SEEDS = (42, 1234)  # drawn by scripts/build_default_assets.py when the model was built


@pytest.fixture(scope='module')
def default():
    return open_default_network()


def test_the_bundled_model_is_a_trained_network_that_fits_the_budget(default):
    assert os.path.isfile(DEFAULT_MODEL_PATH), 'assets/default.safetensors is missing'
    assert os.path.getsize(DEFAULT_MODEL_PATH) <= 60 * 2 ** 20
    assert not default.meta.get('random_init')
    G = default.G
    assert (G.img_resolution, G.img_channels, G.c_dim) == (64, 3, 0)
    assert default.meta['fingerprint'] == fingerprint(G)
    full = open_network(DEFAULT_MODEL_PATH, want_training=True)
    assert full.D is not None and full.meta.get('G_train') is not None  # D for projection, G to train on
    assert open_default_network(want_D=True).D is not None  # `project` without --network uses its D


def test_its_direction_file_is_made_for_it(default):
    path = companion_path(DEFAULT_MODEL_PATH)
    assert path is not None, 'assets/default.directions.npz is missing'
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a fingerprint mismatch warns: here it must not
        dset = open_directions(path, default.G)
    assert dset.meta['fingerprint'] == default.meta['fingerprint']
    names = set(dset.names)
    assert {'PC0', 'SeFa0', 'colour'} <= names
    assert len([n for n in names if not n.startswith(('PC', 'SeFa'))]) >= 3, 'three named directions from labels'
    assert (dset.layer_end <= default.G.num_ws).all() and (dset.layer_start < dset.layer_end).all()


@pytest.mark.parametrize('seed', REFERENCE_SEEDS)
def test_a_fixed_seed_draws_the_stored_reference(default, seed):
    want = np.asarray(PIL.Image.open(os.path.join(DATA, f'default-seed{seed:04d}.png')).convert('RGB'), dtype=np.int16)
    got = render_seeds(default.G, [seed])[0].astype(np.int16)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1


def test_generate_defaults_to_it(tmp_path):
    assert main.main(['generate', '--seeds', '42', '--outdir', str(tmp_path)]) in (0, None)
    out = np.asarray(PIL.Image.open(tmp_path / 'seed0042.png').convert('RGB'), dtype=np.int16)
    want = np.asarray(PIL.Image.open(os.path.join(DATA, 'default-seed0042.png')).convert('RGB'), dtype=np.int16)
    assert np.abs(out - want).max() <= 1
