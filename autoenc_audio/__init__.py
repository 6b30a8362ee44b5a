"""aea: learn compact latent vectors of music with convolutional autoencoders."""

__version__ = "0.2.0"
