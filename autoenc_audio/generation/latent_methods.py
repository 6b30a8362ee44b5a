"""New sounds from latent vectors: random samples, averages, interpolations.

- random: a VAE samples its prior N(0, T^2 I); a plain autoencoder samples the
  diagonal Gaussian fitted on its training latents (per-dimension mean and std
  stored in the checkpoint), `mean + T * std * eps`. `naive=True` draws
  unscaled N(0, I) vectors like the original assignment did, to hear why that
  gives noise. A checkpoint without latent statistics falls back to naive
  sampling, and says so in the result's `notes`.
- average: the (optionally weighted) mean latent of given songs or latent
  files, or of every training clip of one label of a dataset.
- interpolate: K latents from A to B, linear or spherical (slerp); slerp turns
  about the training mean when the checkpoint has one (else about zero), so it
  keeps the distance from the typical latent instead of cutting through it.

Every result carries JSON-able metadata (mode, seed, sources, ...); `requests`
decodes it and `writing` writes each file with a sidecar `OUT.json`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio import CropMode, load_clip
from ..checkpoints.checkpoint import Checkpoint
from ..data import DatasetError, prepare_dataset
from ..latents.batches import encode_clips
from ..latents.failures import Progress
from ..latents.files import load_latents
from ..latents.formats import is_latent_path
from ..latents.inputs import clip_crop
from ..latents.model import check_size, fingerprint_warning, model_device
from .errors import RequestError

METHODS = ("linear", "slerp")


@dataclass
class Generation:
    """Latents to decode `[count, N]` and what made them; `morph` joins them into one clip."""

    latents: torch.Tensor
    metadata: dict[str, Any]
    per_item: list[dict[str, Any]] = field(default_factory=list)
    morph: bool = False
    notes: list[str] = field(default_factory=list)


def new_seed() -> int:
    """A fresh seed, recorded in the metadata so a request without a seed can be repeated."""
    return secrets.randbits(31)


# ----------------------------------------------------------------------------- random


def sample_random(
    checkpoint: Checkpoint, n: int = 1, seed: int | None = None, temperature: float = 1.0, naive: bool = False
) -> Generation:
    """`n` random latents (see the module docstring for the distribution)."""
    if n < 1:
        raise RequestError(f"n must be at least 1, got {n}", "n")
    if temperature < 0:
        raise RequestError(f"temperature must not be negative, got {temperature}", "temperature")
    seed = new_seed() if seed is None else seed
    size = checkpoint.model.latent_size
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, size, generator=generator)
    notes = []
    if naive:
        distribution, latents = "naive N(0, 1)", noise
    elif checkpoint.config.model.kind == "vae":
        distribution, latents = "VAE prior N(0, T^2)", noise * temperature
    elif checkpoint.latent_mean is None or checkpoint.latent_std is None:
        distribution, latents = "naive N(0, 1) (no latent statistics in the checkpoint)", noise
        notes.append(
            f"{checkpoint.path}: no latent statistics stored (an older checkpoint): "
            "sampling unscaled N(0, 1) as naive sampling does; retrain to sample the fitted Gaussian"
        )
    else:
        mean, std = checkpoint.latent_mean.cpu().float(), checkpoint.latent_std.cpu().float()
        distribution, latents = "fitted Gaussian mean + T * std * N(0, 1)", mean + temperature * std * noise
    metadata = {
        "mode": "random",
        "seed": seed,
        "n": n,
        "temperature": temperature,
        "naive": naive,
        "distribution": distribution,
    }
    return Generation(latents, metadata, [{"index": i} for i in range(n)], notes=notes)


# ----------------------------------------------------------------------------- latents of sources


def source_latents(
    checkpoint: Checkpoint,
    sources: Sequence[str],
    crop: CropMode = "center",
    offset: float | None = None,
    seed: int = 0,
    batch_size: int = 16,
    warnings: list[str] | None = None,
) -> torch.Tensor:
    """One latent per source `[len(sources), N]`: audio files are encoded (one clip by `crop`/`offset`);
    latent files give their vector (a one-row matrix) or, for many rows, their mean. A latent file encoded by
    other weights is used, as `aea decode` uses it, and said in `warnings` (once per file): it will not sound
    as it did."""
    audio, model = checkpoint.config.audio, checkpoint.model
    rng = np.random.default_rng(seed)
    out = []
    for source in sources:
        if is_latent_path(source):
            latent_file = load_latents(source)
            check_size(latent_file, checkpoint)
            warning = fingerprint_warning(latent_file, checkpoint)
            if warnings is not None and warning and warning not in warnings:
                warnings.append(warning)
            out.append(latent_file.matrix.mean(0))
        else:
            clip = load_clip(source, audio, clip_crop(crop, offset), rng)
            tensor = torch.from_numpy(clip.samples).view(1, 1, -1)
            out.append(encode_clips(model, tensor, batch_size, model_device(checkpoint))[0])
    return torch.stack(out)


def label_latents(
    checkpoint: Checkpoint,
    data_root: Path,
    label: str,
    cache_dir: Path,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> tuple[torch.Tensor, int]:
    """Mean latent of every training-split clip of `label` in `data_root` (split and clips by the checkpoint's
    data and audio config), and the number of clips."""
    config = checkpoint.config
    prepared = prepare_dataset(data_root, config.audio, config.data, cache_dir)
    train = prepared.splits["train"]
    if label not in prepared.labels:
        raise DatasetError(
            f"{data_root}: no label {label!r}; labels: {', '.join(prepared.labels) or '(none: no sub-folders)'}"
        )
    number = prepared.labels.index(label)
    items = [i for i, (track, _) in enumerate(train.index.items) if train.track_labels[track] == number]
    if not items:
        raise DatasetError(f"{data_root}: label {label!r} has no clips in the training split")
    total = torch.zeros(checkpoint.model.latent_size, dtype=torch.float64)
    for start in range(0, len(items), batch_size):
        chosen = items[start : start + batch_size]
        batch = torch.stack([torch.from_numpy(train.clip(i)) for i in chosen]).unsqueeze(1)
        total += encode_clips(checkpoint.model, batch, batch_size, model_device(checkpoint)).double().sum(0)
        if progress:
            progress(start + len(chosen), len(items))
    return (total / len(items)).float(), len(items)


# ----------------------------------------------------------------------------- average


def average(
    checkpoint: Checkpoint,
    sources: Sequence[str] = (),
    weights: Sequence[float] | None = None,
    label: str | None = None,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    crop: CropMode = "center",
    offset: float | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> Generation:
    """The mean latent of `sources` (weighted by `weights`, normalised to sum 1), or of a label's training clips."""
    if label is not None:
        if sources:
            raise RequestError(f"give either sources or a label, not both (label {label!r})", "sources", "label")
        if data_root is None or cache_dir is None:
            raise RequestError(f"label {label!r} needs data_root, the dataset the label comes from", "data_root")
        mean, clips = label_latents(checkpoint, data_root, label, cache_dir, batch_size, progress)
        metadata = {"mode": "average", "label": label, "data": str(data_root), "clips": clips, "sources": []}
        return Generation(mean.unsqueeze(0), metadata, [{}])
    if not sources:
        raise RequestError(
            "average needs sources (songs or latent files) or a label with its data_root", "sources", "label"
        )
    if weights is not None and len(weights) != len(sources):
        raise RequestError(f"weights has {len(weights)} values for {len(sources)} sources", "weights")
    w = torch.tensor(list(weights) if weights is not None else [1.0] * len(sources), dtype=torch.float32)
    if not bool(torch.isfinite(w).all()) or (w < 0).any() or float(w.sum()) <= 0:
        raise RequestError(
            f"weights must be finite, non-negative, with a positive sum, got {list(weights or ())}", "weights"
        )
    w = w / w.sum()
    warnings: list[str] = []
    latents = source_latents(checkpoint, sources, crop, offset, batch_size=batch_size, warnings=warnings)
    mean = (w[:, None] * latents).sum(0, keepdim=True)
    metadata = {
        "mode": "average",
        "sources": list(sources),
        "weights": w.tolist(),
        "crop": crop if offset is None else "offset",
    }
    if offset is not None:
        metadata["offset"] = offset
    return Generation(mean, metadata, [{}], notes=warnings)


# ----------------------------------------------------------------------------- interpolate


def interpolation_weights(steps: int) -> list[float]:
    return [0.5] if steps == 1 else [i / (steps - 1) for i in range(steps)]


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, centre: torch.Tensor | None = None) -> torch.Tensor:
    """Spherical interpolation from `a` (t=0) to `b` (t=1) about `centre` (default zero); linear when they are parallel."""
    centre = torch.zeros_like(a) if centre is None else centre
    u, v = (a - centre).double(), (b - centre).double()
    cosine = float((u @ v) / (u.norm() * v.norm()).clamp_min(1e-12))
    omega = math.acos(max(-1.0, min(1.0, cosine)))
    if omega < 1e-6:
        mixed = (1 - t) * u + t * v
    else:
        mixed = (math.sin((1 - t) * omega) * u + math.sin(t * omega) * v) / math.sin(omega)
    return (mixed + centre.double()).float()


def interpolate(
    checkpoint: Checkpoint,
    sources: Sequence[str],
    steps: int = 5,
    method: str = "linear",
    morph: bool = False,
    crop: CropMode = "center",
    offset: float | None = None,
    batch_size: int = 16,
) -> Generation:
    """`steps` latents from the first source to the second (inclusive), linear or slerp."""
    if len(sources) != 2:
        raise RequestError(f"interpolate needs exactly two sources, got {len(sources)}", "sources")
    if steps < 1:
        raise RequestError(f"steps must be at least 1, got {steps}", "steps")
    if method not in METHODS:
        raise RequestError(f"method must be linear or slerp, got {method!r}", "method")
    warnings: list[str] = []
    a, b = source_latents(checkpoint, sources, crop, offset, batch_size=batch_size, warnings=warnings)
    centre = checkpoint.latent_mean.cpu().float() if checkpoint.latent_mean is not None else None
    ts = interpolation_weights(steps)
    rows = [(1 - t) * a + t * b if method == "linear" else slerp(a, b, t, centre) for t in ts]
    metadata = {
        "mode": "interpolate",
        "sources": list(sources),
        "steps": steps,
        "method": method,
        "morph": morph,
        "slerp_centre": ("training mean" if centre is not None else "zero") if method == "slerp" else None,
    }
    per_item = [{"step": i, "t": t} for i, t in enumerate(ts)]
    return Generation(torch.stack(rows), metadata, per_item, morph=morph, notes=warnings)
