"""A dataset's clips encoded by one model, with the baseline views (raw waveform, log-mel) beside them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..checkpoints.checkpoint import Checkpoint, load_checkpoint
from ..data import PreparedData, evenly_spread, prepare_dataset
from ..latents.batches import encode_clips
from ..metrics import mel_power
from ..runs.folder import data_root_of_run
from ..scoring.score_sets import trained_data_root
from .stats import AnalysisError, pooled_view

Progress = Callable[[int, int], None]

Message = Callable[[str], None]

RAW_DIMS = 4096

MAX_CLIPS = 4000

VIEWS = ("latent", "latent_pooled", "raw_waveform", "log_mel")

VIEW_TITLES = {  # in VIEWS' order: the pages list the views in this order
    "latent": "latent vector",
    "latent_pooled": "latent pooled over time (mean, std per channel)",
    "raw_waveform": f"raw waveform (resampled to {RAW_DIMS} samples)",
    "log_mel": "log-mel mean and std (160 values)",
}


@dataclass
class EncodedSet:
    """A dataset's clips as latents and baseline features, one row per clip."""

    latents: np.ndarray
    labels: np.ndarray  # label index, -1 when the track has none
    label_names: list[str]
    names: list[str]  # "file.wav@5s"
    tracks: np.ndarray  # a track number shared by a track's clips
    splits: np.ndarray  # "train" | "validation" | "test"
    channels: int
    frames: int
    baselines: dict[str, np.ndarray] = field(default_factory=dict)

    def views(self) -> dict[str, np.ndarray]:
        out = {"latent": self.latents, "latent_pooled": pooled_view(self.latents, self.channels, self.frames)}
        out.update(self.baselines)
        return out


def select_clips(
    prepared: PreparedData, max_clips: int = MAX_CLIPS, splits: Sequence[str] = ("train", "validation", "test")
) -> list[tuple[str, int]]:
    """`(split, clip index)` of the clips to use: all, or an even spread of each split, proportional, up to `max_clips`."""
    sizes = {name: len(prepared.splits[name]) for name in splits}
    total = sum(sizes.values())
    if total == 0:
        raise AnalysisError(f"{prepared.root}: no clips to analyse: {prepared.empty_splits_text(splits)}")
    keep = split_shares(sizes, max_clips)
    return [(name, int(i)) for name, size in sizes.items() for i in evenly_spread(size, keep[name])]


def split_shares(sizes: dict[str, int], max_clips: int) -> dict[str, int]:
    """Clips kept of each split: all when they fit, else `max_clips` in all, shared in proportion (largest
    remainders), a split with clips keeping at least one while the maximum allows. Rounding each split on its own
    gave 41 of 40."""
    total = sum(sizes.values())
    if total <= max_clips:
        return dict(sizes)
    quota = {name: max_clips * size / total for name, size in sizes.items()}
    keep = {name: min(size, max(min(size, 1), math.floor(quota[name]))) for name, size in sizes.items()}
    while sum(keep.values()) > max_clips:  # the one-clip minimums took more than their share
        keep[max(keep, key=lambda name: keep[name])] -= 1
    while sum(keep.values()) < max_clips:
        short = [name for name in keep if keep[name] < sizes[name]]
        keep[max(short, key=lambda name: quota[name] - keep[name])] += 1
    return keep


def log_mel_features(clips: torch.Tensor, sample_rate: int) -> np.ndarray:
    """Mean and std over frames of log10 mel power (80 bands), `[count, 160]`."""
    logmel = torch.log10(mel_power(clips, sample_rate) + 1e-5)
    return torch.cat([logmel.mean(-1), logmel.std(-1)], dim=1).numpy().astype(np.float32)


def raw_features(clips: np.ndarray, dims: int = RAW_DIMS) -> np.ndarray:
    """The waveform resampled (soxr) to `dims` samples, `[count, dims]`."""
    from ..quality.references import ResampleReference

    return ResampleReference(min(dims, clips.shape[1]), clips.shape[1]).encode(clips)


def encode_dataset(
    checkpoint: Checkpoint,
    prepared: PreparedData,
    items: Sequence[tuple[str, int]],
    batch_size: int = 16,
    baselines: bool = True,
    progress: Progress | None = None,
) -> EncodedSet:
    """Encode the selected clips with the checkpoint's model, in batches, with raw and log-mel features."""
    model = checkpoint.model
    layout = model.layout
    sample_rate = checkpoint.config.audio.sample_rate
    count = len(items)
    latents = np.zeros((count, layout.size), dtype=np.float32)
    features: dict[str, list[np.ndarray]] = {"raw_waveform": [], "log_mel": []}
    labels, names, tracks, splits = [], [], [], []
    track_numbers: dict[str, int] = {}
    for split, index in items:
        dataset = prepared.splits[split]
        track_index, start = dataset.index.items[index]
        track = dataset.index.tracks[track_index]
        labels.append(dataset.track_labels[track_index])
        names.append(f"{track.path.name}@{start / sample_rate:g}s")
        tracks.append(track_numbers.setdefault(str(track.path), len(track_numbers)))
        splits.append(split)
    if progress:
        progress(0, count)
    for start in range(0, count, batch_size):
        chunk = items[start : start + batch_size]
        clips = np.stack([prepared.splits[split].clip(index) for split, index in chunk])
        audio = torch.from_numpy(clips)
        latents[start : start + len(chunk)] = encode_clips(model, audio[:, None], batch_size).numpy()
        if baselines:
            features["raw_waveform"].append(raw_features(clips))
            with torch.no_grad():
                features["log_mel"].append(log_mel_features(audio, sample_rate))
        if progress:
            progress(min(start + batch_size, count), count)
    return EncodedSet(
        latents=latents,
        labels=np.asarray(labels),
        label_names=list(prepared.labels),
        names=names,
        tracks=np.asarray(tracks),
        splits=np.asarray(splits),
        channels=layout.channels,
        frames=layout.frames,
        baselines={k: np.concatenate(v) for k, v in features.items() if v},
    )


def load_for_analysis(
    model_path: Path, data_root: Path | None, cache_dir: Path, progress: Progress | None = None
) -> tuple[Checkpoint, PreparedData]:
    """The checkpoint and its dataset split as in training (`data_root`, else the data its run was trained
    on, else the built-in corpus)."""
    checkpoint = load_checkpoint(model_path)
    config = checkpoint.config
    root = data_root or trained_data_root(checkpoint.path, cache_dir)
    prepared = prepare_dataset(root, config.audio, config.data, cache_dir, progress=progress)
    return checkpoint, prepared


def split_warning(model_path: Path, checkpoint: Checkpoint, prepared: PreparedData) -> str | None:
    """What to say when the clips analysed are not split as the model's training split them (None: they are).

    Another folder than the one it was trained on (its run's `run.json`, else the checkpoint's data summary, when
    either records it as an absolute path) is other data: every clip is new to the model. The same folder split otherwise (tracks added or removed) may put
    clips it trained on among the 'test' ones.
    """
    trained = checkpoint.info.get("data") or {}
    if not trained.get("split") or trained["split"] == prepared.split_digest():
        return None
    root = data_root_of_run(checkpoint.path.parent) or trained.get("root")
    if root is not None and _placed_elsewhere(Path(root), Path(prepared.root)):
        return (
            f"warning: {model_path} was trained on other data ({root}), not {prepared.root}: every clip here is new "
            "to it, and 'train' and 'test' are this data's own split"
        )
    return (
        f"warning: {model_path} was trained on another train/validation/test split of this data, or on other data: "
        f"some 'test' clips may be ones it trained on"
    )


def _placed_elsewhere(trained_on: Path, analysed: Path) -> bool:
    """Whether the folder a model was trained on is known to be another than `analysed`: a relative path is
    relative to the folder training ran in, unknown here, so only an absolute one tells."""
    return trained_on.is_absolute() and trained_on.resolve() != analysed.resolve()
