"""How good reconstructions are: non-learned references, the decoder signature, and sweeps over latent sizes."""
