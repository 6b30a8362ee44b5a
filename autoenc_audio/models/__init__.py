"""Model architectures and the one factory that builds them from a config."""

from __future__ import annotations

from ..config import AudioConfig, ConfigError, ModelConfig
from .base import Autoencoder


def build_model(model: ModelConfig, audio: AudioConfig) -> Autoencoder:
    """The autoencoder described by `model` for clips of `audio.clip_samples` samples."""
    from .frame import build_frame, smallest_latent

    lowest = 1 if model.arch == "seed" else smallest_latent(audio.clip_samples)
    if not lowest <= model.latent <= audio.clip_samples:
        raise ConfigError(
            f"model.latent must be between {lowest} and the clip length ({audio.clip_samples} samples) for the "
            f"{model.arch} model on {audio.clip_seconds:g} s clips, got {model.latent}",
            settings=("model.latent",),
        )
    if model.arch == "seed":
        from .seed import build_seed

        return build_seed(model, audio.clip_samples)
    return build_frame(model, audio.clip_samples)
