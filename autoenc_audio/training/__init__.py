"""Training an autoencoder: the loop (epochs, checkpoints, resume), its losses, and DDP ranks."""
