"""The network every `--network` defaults to: the model embedded in assets/, or, until one is
trained and bundled, a small randomly initialised generator (it draws noise, not faces)."""
import os

import torch

from core.model_io import LoadedNetwork, fingerprint, open_network
from core.networks import Generator

ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'assets')
DEFAULT_MODEL_PATH = os.path.join(ASSETS_DIR, 'default.safetensors')
RANDOM_INIT_SEED = 0
RANDOM_G_KWARGS = dict(z_dim=128, c_dim=0, w_dim=128, img_resolution=64, img_channels=3,
                       mapping_kwargs=dict(num_layers=2),
                       synthesis_kwargs=dict(channel_base=8192, channel_max=128))


def random_generator(seed=RANDOM_INIT_SEED):
    """The stand-in generator, identical on every run (torch's global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(**RANDOM_G_KWARGS)
    return G.eval().requires_grad_(False)


def _random_meta(G):
    return dict(source='built-in random network', format='random-init', G_kwargs=G.init_kwargs, D_kwargs=None,
                resolution=G.img_resolution, c_dim=G.c_dim, z_dim=G.z_dim, w_dim=G.w_dim, num_ws=G.num_ws,
                img_channels=G.img_channels, fingerprint=fingerprint(G), augment_p=None,
                training_set_kwargs=None, random_init=True)


def open_default_network(device='cpu', want_D=False):
    """LoadedNetwork of the bundled model (with its D when want_D: projection's loss uses it), or of
    the random stand-in (meta['random_init'] = True, no D)."""
    if os.path.exists(DEFAULT_MODEL_PATH):
        return open_network(DEFAULT_MODEL_PATH, device=device, want_D=want_D)
    G = random_generator()
    return LoadedNetwork(G=G.to(device), D=None, meta=_random_meta(G))


def open_network_or_default(path, device='cpu', want_D=False):
    """`--network PATH` when given, else the default network."""
    if path is None:
        return open_default_network(device, want_D)
    return open_network(path, device=device, want_D=want_D)
