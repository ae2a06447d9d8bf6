"""Training: datasets, ADA augmentation, StyleGAN2 losses, the training loop, metrics."""
