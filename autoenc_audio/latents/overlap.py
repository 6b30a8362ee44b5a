"""Joining clips taken every `hop` samples back into one track by weighted overlap-add."""

from __future__ import annotations

import numpy as np
import torch

from ..metrics import GUARD


class OverlapAdd:
    """Join clips taken at starts 0, hop, 2 hop, ... back into one track, in a stream.

    `push(clip)` returns the samples that no later clip can change; `finish()`
    the rest, cut to `track_samples`. Weights: raised-cosine fades over the
    overlap (a Hann window at 50 %), none before the first clip's start or after
    the last clip's end, normalised by their sum, so the weights sum to one.
    When `count` is not known in advance, pass `last=True` with the last clip.
    """

    def __init__(self, clip_samples: int, hop: int, count: int | None = None, track_samples: int | None = None) -> None:
        if not 1 <= hop <= clip_samples:
            raise ValueError(f"hop {hop} must be between 1 and the clip length {clip_samples}")
        self.clip, self.hop, self.count, self.track_samples = clip_samples, hop, count, track_samples
        overlap = clip_samples - hop
        self.fade_in = np.ones(clip_samples)
        self.fade_in[:overlap] = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / max(overlap, 1)) ** 2
        self.fade_out = self.fade_in[::-1].copy()
        self.values = np.zeros(clip_samples)
        self.weights = np.zeros(clip_samples)
        self.pushed = 0
        self.emitted = 0

    def _emit(self, samples: np.ndarray) -> np.ndarray:
        if self.track_samples is not None:
            samples = samples[: max(0, self.track_samples - self.emitted)]
        self.emitted += len(samples)
        return samples.astype(np.float32)

    def push(self, clip: np.ndarray, last: bool | None = None) -> np.ndarray:
        index = self.pushed
        if self.count is not None and index >= self.count:
            raise ValueError(f"more than the {self.count} clips announced")
        if last is None:
            last = self.count is not None and index == self.count - 1
        out = np.zeros(0)
        if index > 0:
            out = self.values[: self.hop] / np.maximum(self.weights[: self.hop], GUARD)
            self.values = np.concatenate([self.values[self.hop :], np.zeros(self.hop)])
            self.weights = np.concatenate([self.weights[self.hop :], np.zeros(self.hop)])
        window = np.ones(self.clip)
        if index > 0:
            window *= self.fade_in
        if not last:
            window *= self.fade_out
        self.values += window * np.asarray(clip, dtype=np.float64).reshape(-1)[: self.clip]
        self.weights += window
        self.pushed += 1
        return self._emit(out)

    def finish(self, track_samples: int | None = None) -> np.ndarray:
        """The remaining samples; the track is `track_samples` long (default: as given, else all the clips cover)."""
        if track_samples is not None:
            self.track_samples = track_samples
        if self.track_samples is None:
            self.track_samples = (self.pushed - 1) * self.hop + self.clip
        tail = self._emit(self.values / np.maximum(self.weights, GUARD)) if self.pushed else np.zeros(0, np.float32)
        if self.emitted < self.track_samples:  # fewer clips than the track needs: silence after them
            tail = np.concatenate([tail, np.zeros(self.track_samples - self.emitted, dtype=np.float32)])
            self.emitted = self.track_samples
        return tail


def join_clips(clips: np.ndarray | torch.Tensor, hop: int, track_samples: int | None = None) -> np.ndarray:
    """`[count, clip_samples]` (or `[count, 1, clip_samples]`) -> one track, by `OverlapAdd`."""
    clips = np.asarray(clips).reshape(len(clips), -1)
    joiner = OverlapAdd(clips.shape[1], hop, len(clips), track_samples)
    return np.concatenate([joiner.push(c) for c in clips] + [joiner.finish()])
