"""Model architectures and the one factory that builds them from a config."""

from __future__ import annotations

from ..config import AudioConfig, ConfigError, ModelConfig
from .base import Autoencoder


def build_model(model: ModelConfig, audio: AudioConfig) -> Autoencoder:
    """The autoencoder described by `model` for clips of `audio.clip_samples` samples."""
    if not 1 <= model.latent <= audio.clip_samples:
        raise ConfigError(
            f"model.latent must be between 1 and the clip length ({audio.clip_samples} samples), got {model.latent}",
            settings=("model.latent",),
        )
    if model.arch == "seed":
        from .seed import build_seed

        return build_seed(model, audio.clip_samples)
    from .frame import build_frame

    return build_frame(model, audio.clip_samples)
