"""A prior over latent frame sequences: memory of training frames, a recurrent model of their features, a walk."""
