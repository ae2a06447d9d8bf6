"""Stylescope core: networks, model files, latents, directions, rendering. Never imports Qt."""
