"""The model a latent command uses, and the checks that latents fit it."""

from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoints.checkpoint import Checkpoint, load_checkpoint
from ..version import __version__
from .failures import LatentSizeError
from .files import LatentFile


def open_model(
    model: Path | None, cache_dir: Path, environment_model: str | None = None, device: str = "cpu"
) -> Checkpoint:
    """The checkpoint `resolve_model` picks (`model`, else `environment_model`, else the latest run), loaded on `device`.

    `device` may be `auto`. The result's `path` is the checkpoint file.
    """
    from ..devices import resolve_device
    from ..runs.folder import resolve_model

    path, _ = resolve_model(model, cache_dir, environment_model)
    return load_checkpoint(path, resolve_device(device))


def model_device(checkpoint: Checkpoint) -> torch.device:
    return next(checkpoint.model.parameters()).device


def fingerprint_warning(latent_file: LatentFile, checkpoint: Checkpoint) -> str | None:
    """A warning when the latents were made by other weights than `checkpoint`'s (None when they match or are unknown)."""
    theirs = latent_file.fingerprint
    if theirs is None or theirs == checkpoint.fingerprint:
        return None
    made_with = latent_file.metadata.get("model") or "another model"
    return (
        f"{latent_file.name}: latents were encoded by model {theirs} ({made_with}), decoding with "
        f"{checkpoint.fingerprint} ({checkpoint.path}); the sound will not match"
    )


def check_size(latent_file: LatentFile, checkpoint: Checkpoint) -> None:
    size = checkpoint.model.latent_size
    if latent_file.latent_size != size:
        raise LatentSizeError(
            f"{latent_file.name}: latent has {latent_file.latent_size} values per vector but the model "
            f"({checkpoint.path}) expects {size}"
        )


def model_fields(checkpoint: Checkpoint) -> dict:
    audio = checkpoint.config.audio
    return {
        "model_fingerprint": checkpoint.fingerprint,
        "model": str(checkpoint.path),
        "model_kind": checkpoint.config.model.kind,
        "sample_rate": audio.sample_rate,
        "clip_samples": audio.clip_samples,
        "aea_version": __version__,
    }
