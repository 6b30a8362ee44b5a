"""What an explore site holds, computed with the model in torch: clips, their latents, the latent statistics.

Shapes: `N` is the latent size, `S` the clip's samples, `C` the chosen clips,
`K` the principal directions kept.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoints.checkpoint import Checkpoint
from ..data import PreparedData, evenly_spread, prepare_dataset
from ..errors import InputError
from ..export.runtime import relative_error
from ..latents.batches import decode_latents, encode_clips
from ..scoring.score_sets import trained_data_root

SPLIT_ORDER = ("test", "validation", "train")
"""Clips are taken from the test split first: what the model never trained on."""
FLOAT16_TOLERANCE = 1e-3
"""Latents are stored as float16 when the audio they decode to stays this close (relative) to float32's."""
MIN_PIECE_SECONDS = 0.1
"""The shortest piece of the prior a page holds: Chromium decodes an Ogg Vorbis of 256 samples or fewer (0.032 s
at 8 kHz) to nothing, "Unable to decode audio data", and drops a first block of each; 0.1 s leaves some sound."""


class ExploreError(InputError):
    """A site that cannot be built as asked; the message names the file or setting."""


@dataclass(frozen=True)
class ExploreRequest:
    """What to put on the site: how many clips, how many directions, how many clips fit the statistics, and how
    many pieces of the run's prior (when it has one; 0: none), how long, from which seed."""

    clips: int = 64
    directions: int = 8
    fit_clips: int = 512
    references: int = 2
    batch_size: int = 16
    pieces: int = 4
    piece_seconds: float = 10.0
    piece_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("clips", "directions", "fit_clips", "references", "batch_size"):
            if getattr(self, name) < 1:
                raise ExploreError(f"{name} must be at least 1, got {getattr(self, name)}", settings=(name,))
        if self.pieces < 0:
            raise ExploreError(f"pieces must be at least 0, got {self.pieces}", settings=("pieces",))
        if not (math.isfinite(self.piece_seconds) and self.piece_seconds >= MIN_PIECE_SECONDS):
            raise ExploreError(
                f"piece_seconds must be a finite number of at least {MIN_PIECE_SECONDS:g} (a shorter piece may not "
                f"play in a browser), got {self.piece_seconds:g}",
                settings=("piece_seconds",),
            )


@dataclass
class Clips:
    """The chosen clips: names ("file.wav@5s"), label index (-1: none), split, audio `[C, S]` float32."""

    names: list[str]
    labels: list[int]
    splits: list[str]
    audio: np.ndarray


@dataclass
class Statistics:
    """The dataset's latents summed up: mean `[N]`, principal directions `[K, N]` (unit rows) with their standard
    deviations `[K]`, and the per-dimension Gaussian `gaussian_mean`, `gaussian_std` `[N]` random vectors use."""

    mean: np.ndarray
    directions: np.ndarray
    direction_std: np.ndarray
    gaussian_mean: np.ndarray
    gaussian_std: np.ndarray
    gaussian_source: str
    fit_clips: int


def prepare(checkpoint: Checkpoint, data_root: Path | None, cache_dir: Path) -> PreparedData:
    """The dataset split as in training: `data_root`, else the data the checkpoint was trained on (`trained_data_root`)."""
    config = checkpoint.config
    root = data_root or trained_data_root(checkpoint.path, cache_dir)
    return prepare_dataset(root, config.audio, config.data, cache_dir)


def choose_clips(prepared: PreparedData, count: int) -> list[tuple[str, int]]:
    """Up to `count` `(split, clip index)`, grouped by label: one clip of every track before a second of any.

    In each pass, labels take turns and each gives one clip of its next track not yet taken in that pass (a
    label's tracks from the test split first, then validation, then train), so the page hears as many songs
    as it can, evenly over the labels; a track's clips come centre first, then spread (`spread_order`).
    """
    tracks: dict[int, list[list[tuple[str, int]]]] = defaultdict(list)  # label -> its tracks' clips, in order
    for split in SPLIT_ORDER:
        dataset = prepared.splits[split]
        clips_of: dict[int, list[int]] = defaultdict(list)
        for index, (track, _) in enumerate(dataset.index.items):
            clips_of[track].append(index)
        for track, indices in sorted(clips_of.items()):
            ordered = [indices[i] for i in spread_order(len(indices))]
            tracks[dataset.track_labels[track]].append([(split, index) for index in ordered])
    chosen: dict[int, list[tuple[str, int]]] = defaultdict(list)
    taken, depth = 0, 0
    while taken < count and any(len(clips) > depth for queues in tracks.values() for clips in queues):
        queues = {label: [clips[depth] for clips in tracks[label] if len(clips) > depth] for label in sorted(tracks)}
        for turn in range(max(map(len, queues.values()))):
            for label, picks in queues.items():
                if turn < len(picks) and taken < count:
                    chosen[label].append(picks[turn])
                    taken += 1
        depth += 1
    if not taken:
        raise ExploreError(f"{prepared.root}: no clips to put on the page")
    return [item for label in sorted(chosen) for item in chosen[label]]


def spread_order(total: int) -> list[int]:
    """The indices `0 .. total - 1`, the centre first, then each the farthest from those before it (ties: the
    earliest), so that any first few of a track's clips are spread over it."""
    if total <= 0:
        return []
    order = [total // 2]
    rest = [i for i in range(total) if i != order[0]]
    while rest:
        best = max(rest, key=lambda i: (min(abs(i - j) for j in order), -i))
        order.append(best)
        rest.remove(best)
    return order


def load_clips(prepared: PreparedData, items: list[tuple[str, int]], sample_rate: int) -> Clips:
    """The audio and names of `items` (from `choose_clips`)."""
    names, labels, splits, audio = [], [], [], []
    for split, index in items:
        dataset = prepared.splits[split]
        track_index, start = dataset.index.items[index]
        names.append(f"{dataset.index.tracks[track_index].path.name}@{start / sample_rate:g}s")
        labels.append(int(dataset.track_labels[track_index]))
        splits.append(split)
        audio.append(dataset.clip(index))
    return Clips(names, labels, splits, np.stack(audio))


def encode(checkpoint: Checkpoint, audio: np.ndarray, batch_size: int) -> np.ndarray:
    """Clips `[C, S]` -> latents `[C, N]` float32 (a VAE's mean), on the CPU."""
    clips = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[:, None]
    return encode_clips(checkpoint.model, clips, batch_size).numpy().astype(np.float32)


def decode(checkpoint: Checkpoint, latents: np.ndarray, batch_size: int) -> np.ndarray:
    """Latents `[C, N]` -> audio `[C, S]` float32, as the model decodes in torch."""
    out = decode_latents(
        checkpoint.model, torch.from_numpy(np.ascontiguousarray(latents, dtype=np.float32)), batch_size
    )
    return out[:, 0].numpy().astype(np.float32)


def fit_statistics(checkpoint: Checkpoint, prepared: PreparedData, request: ExploreRequest) -> Statistics:
    """Mean and principal directions of the latents of up to `fit_clips` training clips (evenly spread), and the
    Gaussian `aea generate --mode random` samples: the checkpoint's stored per-dimension statistics when it has
    them, else those of the same clips."""
    train = prepared.splits["train"] if len(prepared.splits["train"]) else prepared.held_out
    picks = evenly_spread(len(train), request.fit_clips)
    if len(picks) < 2:
        raise ExploreError(f"{prepared.root}: at least 2 training clips are needed for the latent statistics")
    latents = encode(checkpoint, np.stack([train.clip(int(i)) for i in picks]), request.batch_size).astype(np.float64)
    mean = latents.mean(0)
    _, singular, right = np.linalg.svd(latents - mean, full_matrices=False)
    keep = min(request.directions, int((singular > 1e-6 * singular[0]).sum()))  # no direction the clips lack
    directions = right[:keep]
    directions *= np.where(directions.sum(1, keepdims=True) < 0, -1.0, 1.0)  # a fixed sign: reproducible sliders
    std = singular[:keep] / np.sqrt(len(latents) - 1)
    if checkpoint.latent_mean is not None and checkpoint.latent_std is not None:
        g_mean, g_std = checkpoint.latent_mean.cpu().double().numpy(), checkpoint.latent_std.cpu().double().numpy()
        source = "the per-dimension mean and std of the training latents stored in the checkpoint"
    else:
        g_mean, g_std = mean, latents.std(0, ddof=1)
        source = f"the per-dimension mean and std of {len(latents)} training clips' latents"
    return Statistics(
        mean.astype(np.float32),
        directions.astype(np.float32),
        std.astype(np.float32),
        g_mean.astype(np.float32),
        g_std.astype(np.float32),
        source,
        len(latents),
    )


def storage_dtype(checkpoint: Checkpoint, latents: np.ndarray, batch_size: int) -> tuple[str, float, np.ndarray]:
    """ "float16" when the rounded latents decode within `FLOAT16_TOLERANCE` of float32's (else "float32"), the
    relative error measured, and the torch decode `[C, S]` of the latents as they will be stored."""
    exact = decode(checkpoint, latents, batch_size)
    rounded = decode(checkpoint, latents.astype(np.float16).astype(np.float32), batch_size)
    error = relative_error(rounded, exact)
    return ("float16", error, rounded) if error <= FLOAT16_TOLERANCE else ("float32", error, exact)


def project(latents: np.ndarray, statistics: Statistics) -> np.ndarray:
    """Coordinates `[C, K]` of latents `[C, N]` on the principal directions, about the mean."""
    return ((latents - statistics.mean) @ statistics.directions.T).astype(np.float32)
