"""Checkpoints: the safetensors file, its header read without torch, and `torch.save` files loaded safely."""
