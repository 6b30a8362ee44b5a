"""The prior's memory: latent frames of training clips, and their phase-free features.

A latent frame of the default model holds MDCT coefficients, whose signs and
sizes follow each partial's phase from frame to frame; that is why sampling
independent values gives noise. The memory keeps real frames (so generated
audio has real phase progressions) and describes each frame by features that
do not depend on phase: log energies per channel, smoothed over two frames,
standardised and reduced by PCA. Those features are what the context match
and the recurrent model see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..data import ClipDataset, evenly_spread
from ..models.base import Autoencoder

EDGE_FRAMES = 2
"""Frames at each end of a clip's map that also cover padding outside the clip: never played from the memory."""

Progress = Callable[[int, int], None]


@dataclass
class FrameMemory:
    """Latent maps of training clips and where they come from.

    `frames` `[clips, channels, frames]`; `tracks`, `starts` (sample), `labels`
    (-1: none) `[clips]`; `label_names` index the labels.
    """

    frames: torch.Tensor
    tracks: torch.Tensor
    starts: torch.Tensor
    labels: torch.Tensor
    label_names: list[str]

    @property
    def clips(self) -> int:
        return int(self.frames.shape[0])


@torch.no_grad()
def build_memory(
    model: Autoencoder,
    dataset: ClipDataset,
    labels: list[str],
    clips: int,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> FrameMemory:
    """Encode up to `clips` training clips, evenly spread over the split, into a `FrameMemory`."""
    picks = [int(i) for i in evenly_spread(len(dataset), clips, include_last=False)]
    maps = []
    for start in range(0, len(picks), batch_size):
        chosen = picks[start : start + batch_size]
        audio = torch.stack([torch.from_numpy(dataset.clip(i)) for i in chosen]).unsqueeze(1).to(device)
        latent = model.encode(audio)
        maps.append(model.frames_of(latent).float().cpu())
        if progress:
            progress(start + len(chosen), len(picks))
    items = [dataset.index.items[i] for i in picks]
    return FrameMemory(
        frames=torch.cat(maps).half().float(),  # as stored: training and a resumed run see the same frames
        tracks=torch.tensor([track for track, _ in items], dtype=torch.int64),
        starts=torch.tensor([start for _, start in items], dtype=torch.int64),
        labels=torch.tensor([dataset.track_labels[track] for track, _ in items], dtype=torch.int64),
        label_names=list(labels),
    )


def smoothed_power(frames: torch.Tensor) -> torch.Tensor:
    """Each frame's square averaged with the previous frame's, `[..., channels, frames]`: evens out most
    of the MDCT's frame-to-frame phase flutter."""
    power = frames.float().square()
    return torch.cat([power[..., :1], 0.5 * (power[..., 1:] + power[..., :-1])], dim=-1)


@dataclass
class FeatureMap:
    """Standardised log energies projected on their first principal axes: `[..., channels, T]` -> `[..., T, dims]`."""

    floor: torch.Tensor  # [] added to the power before the log, so silence is finite
    mean: torch.Tensor  # [channels]
    std: torch.Tensor  # [channels]
    basis: torch.Tensor  # [channels, dims]

    def energy(self, frames: torch.Tensor) -> torch.Tensor:
        """Log energies `[..., T, channels]` of a latent map `[..., channels, T]`."""
        return torch.log(smoothed_power(frames) + self.floor).transpose(-1, -2)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return ((self.energy(frames) - self.mean) / self.std) @ self.basis

    @property
    def dims(self) -> int:
        return int(self.basis.shape[1])


def fit_features(memory: FrameMemory, dims: int) -> FeatureMap:
    """PCA of the memory's standardised log energies, `dims` axes (fewer when there are fewer channels)."""
    inner = memory.frames[..., EDGE_FRAMES:-EDGE_FRAMES]
    floor = 1e-6 * smoothed_power(inner).mean().clamp(min=1e-12)
    energy = torch.log(smoothed_power(inner) + floor).transpose(1, 2).reshape(-1, memory.frames.shape[1])
    mean = energy.mean(0)
    std = energy.std(0).clamp(min=1e-3)
    standard = ((energy - mean) / std).double()
    dims = min(dims, standard.shape[1])
    _, _, vectors = torch.linalg.svd(standard - standard.mean(0), full_matrices=False)
    basis = vectors[:dims].T.float()
    basis = basis / basis.norm(dim=0, keepdim=True)
    return FeatureMap(floor.float(), mean.float(), std.float(), basis)
