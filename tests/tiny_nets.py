"""Tiny generators for fast tests: deterministic, with visible noise and an off-centre w_avg; and
a tiny discriminator to save with them (the projection's loss uses D's features)."""
import torch

from core.networks import Discriminator, Generator


def tiny_generator(seed=0, c_dim=0, res=32, architecture='skip'):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=res, img_channels=3,
                      mapping_kwargs=dict(num_layers=2),
                      synthesis_kwargs=dict(channel_base=1024, channel_max=32, architecture=architecture))
        G.eval().requires_grad_(False)
        gen = torch.Generator().manual_seed(seed + 1)
        for name, p in G.named_parameters():
            if name.endswith('noise_strength'):  # zero at init: give the noise a visible effect
                p.copy_(0.2 + 0.3 * torch.rand([], generator=gen))
        G.mapping.w_avg.copy_(torch.randn([G.w_dim], generator=gen))
    return G


def tiny_discriminator(seed=0, res=32):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 100)
        D = Discriminator(c_dim=0, img_resolution=res, img_channels=3, channel_base=1024, channel_max=32)
    return D.eval().requires_grad_(False)
