"""New music from a model: requests, latent and prior methods, the walk, assembling pieces and writing them."""
