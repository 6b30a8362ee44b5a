"""Encoding and decoding tensors a batch at a time, so memory stays at one batch whatever the count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from ..metrics import evaluate
from ..models.base import Autoencoder
from .failures import LatentSizeError


def batches(items: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


@torch.no_grad()
def encode_clips(
    model: Autoencoder,
    clips: torch.Tensor | Iterable[torch.Tensor],
    batch_size: int = 16,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Clips `[count, 1, samples]` (or an iterable of such batches) -> latents `[count, latent_size]` on the CPU."""
    model.eval()
    chunks = batches(clips, batch_size) if isinstance(clips, torch.Tensor) else clips
    out = [model.encode(chunk.to(device)).float().cpu() for chunk in chunks]
    return torch.cat(out) if out else torch.empty(0, model.latent_size)


@torch.no_grad()
def decode_latents(
    model: Autoencoder, latents: torch.Tensor, batch_size: int = 16, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Latents `[count, latent_size]` -> clips `[count, 1, clip_samples]` on the CPU."""
    if latents.dim() == 1:
        latents = latents.unsqueeze(0)
    if latents.shape[-1] != model.latent_size:
        raise LatentSizeError(f"latent has {latents.shape[-1]} values but the model expects {model.latent_size}")
    model.eval()
    out = [model.decode(chunk.to(device).float()).float().cpu() for chunk in batches(latents, batch_size)]
    return torch.cat(out)


@torch.no_grad()
def reconstruct_clips(
    model: Autoencoder, clips: torch.Tensor, batch_size: int = 16, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Encode then decode clips `[count, 1, samples]`."""
    return decode_latents(model, encode_clips(model, clips, batch_size, device), batch_size, device)


def reconstruction_metrics(original: torch.Tensor, reconstruction: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """METRICS.md figures of a reconstruction against its (preprocessed) original."""
    return evaluate(original, reconstruction, sample_rate=sample_rate)
