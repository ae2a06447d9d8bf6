"""Turn latents into pictures: the one place where G.synthesis output becomes uint8 images.

Today: seeds -> images for the CLI and the explorer's worker. The explorer's cached
`Renderer` (RenderRequest -> image) will grow here.
"""
import torch

from core.images import to_uint8
from core.latent import ws_from_seeds


@torch.no_grad()
def render_ws(G, ws, noise_mode='const'):
    """ws [N, num_ws, w_dim] -> numpy uint8 [N, H, W, C]."""
    return to_uint8(G.synthesis(ws, noise_mode=noise_mode))


def render_seeds(G, seeds, c=None, psi=1.0, cutoff=None, noise_mode='const'):
    """Seeds -> numpy uint8 [len(seeds), H, W, C], as the official generate.py draws them."""
    return render_ws(G, ws_from_seeds(G, seeds, c, psi, cutoff), noise_mode)
