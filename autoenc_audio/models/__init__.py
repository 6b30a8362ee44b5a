"""Model architectures and the one factory that builds them from a config."""

from __future__ import annotations

from ..config import AudioConfig, ConfigError, ModelConfig
from .base import Autoencoder


def build_model(model: ModelConfig, audio: AudioConfig) -> Autoencoder:
    """The autoencoder described by `model` for clips of `audio.clip_samples` samples."""
    from .frame import build_frame

    lowest, highest = latent_range(model, audio)
    if not lowest <= model.latent <= highest:
        more = "; longer clips (clip_seconds) or a higher sample_rate hold more" if model.latent > highest else ""
        raise ConfigError(
            f"model.latent must be {latent_range_text(model, audio)}, got {model.latent}{more}",
            settings=("model.latent", "clip_seconds", "sample_rate") if more else ("model.latent",),
        )
    if model.arch == "seed":
        from .seed import build_seed

        return build_seed(model, audio.clip_samples)
    return build_frame(model, audio.clip_samples)


def latent_range(model: ModelConfig, audio: AudioConfig) -> tuple[int, int]:
    """The fewest and most latent values `model`'s architecture can have on `audio`'s clips: the seed model any
    number up to the clip's samples; the default one value a frame at its longest hop at least."""
    from .frame import smallest_latent

    return (1 if model.arch == "seed" else smallest_latent(audio.clip_samples)), audio.clip_samples


def latent_range_text(model: ModelConfig, audio: AudioConfig) -> str:
    """`latent_range` in words, for the messages that refuse a size outside it (training, a sweep)."""
    lowest, highest = latent_range(model, audio)
    return (
        f"between {lowest} and the clip length ({highest} samples) for the {model.arch} model on "
        f"{audio.clip_seconds:g} s clips"
    )
