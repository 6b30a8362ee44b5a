"""Pieces of any length from latent frame sequences: cut into clip windows, decoded, joined.

A model decodes one clip's latent map `[channels, frames]` at a time. A longer
sequence of frames is cut into windows of one clip's frames that overlap by a
quarter, each is decoded, and the clips are joined by overlap-add with
raised-cosine fades (as a whole song is joined), so there are no clicks.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checkpoints.checkpoint import Checkpoint
from ..latents.batches import decode_latents
from ..latents.model import model_device
from ..latents.overlap import join_clips


def window_hop(frames_per_clip: int) -> int:
    """Frames between window starts: windows overlap by a quarter of a clip."""
    return max(1, frames_per_clip - max(1, frames_per_clip // 4))


def windows_needed(checkpoint: Checkpoint, samples: int) -> int:
    """Clip windows a piece of `samples` samples takes: one, and as many more as its length past one clip needs."""
    model = checkpoint.model
    spare = max(0, samples - model.clip_samples)
    return -(-spare // (window_hop(model.layout.frames) * model.frame_hop)) + 1  # whole windows: rounded up


def frames_needed(checkpoint: Checkpoint, samples: int) -> int:
    """Latent frames a piece of `samples` samples takes (whole windows)."""
    frames = checkpoint.model.layout.frames
    return (windows_needed(checkpoint, samples) - 1) * window_hop(frames) + frames


def decode_frames(
    checkpoint: Checkpoint,
    frames: torch.Tensor,
    samples: int,
    first_latent: torch.Tensor | None = None,
    batch_size: int = 16,
) -> np.ndarray:
    """Audio `[samples]` from frames `[channels, frames_needed(samples)]`.

    `first_latent` `[latent_size]` replaces the first window (a continuation
    starts with exactly the reconstruction of its opening).
    """
    model = checkpoint.model
    per_clip, hop = model.layout.frames, window_hop(model.layout.frames)
    count = (frames.shape[1] - per_clip) // hop + 1
    windows = torch.stack([frames[:, j * hop : j * hop + per_clip] for j in range(count)])
    latents = model.latent_of(windows.to(torch.float32))
    if first_latent is not None:
        latents[0] = first_latent
    clips = decode_latents(model, latents, batch_size, model_device(checkpoint))[:, 0].numpy()
    return join_clips(clips, hop * model.frame_hop, samples)
