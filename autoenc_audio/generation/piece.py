"""A generated piece (audio and the facts its sidecar records), and fitting its peak below full scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import PriorConfig


@dataclass
class Piece:
    samples: np.ndarray  # [samples]
    metadata: dict[str, Any]


def fit_peak(audio: np.ndarray, settings: PriorConfig, exact: int = 0, ramp: int = 0) -> tuple[np.ndarray, float]:
    """`audio` `[samples]` scaled so its peak is at most `settings.peak`, and the gain it ends at (the sidecar's
    `gain`).

    The first `exact` samples (a continuation's opening, its exact
    reconstruction) are kept; the gain is reached over the next `ramp` samples
    by a raised-cosine fade and held from there (the sidecar's `gain_from_seconds`),
    never below `settings.min_gain`; peaks the fade reaches too late are
    limited smoothly over `settings.limiter_width` samples. Splices of loud and
    quiet tracks can overshoot full scale: scaling down beats clipping.
    """
    peak = settings.peak
    rest = np.abs(audio[exact:]).astype(np.float64)
    if not len(rest) or rest.max() <= peak:
        return audio, 1.0
    ramp = min(ramp, len(rest))
    shape = np.sin(0.5 * np.pi * (np.arange(ramp) + 0.5) / max(ramp, 1)) ** 2  # 0 -> 1 over the fade
    need = np.minimum(1.0, peak / np.maximum(rest, 1e-12))  # the gain each sample may have at most
    gain = float(need[ramp:].min()) if len(rest) > ramp else 1.0
    inside = need[:ramp] < 1
    if inside.any():  # a fade sample at shape s has gain 1 - (1 - g) s: low enough only if g is
        gain = min(gain, float((1 - (1 - need[:ramp][inside]) / shape[inside]).min()))
    gain = max(gain, settings.min_gain)
    curve = np.concatenate([1 - (1 - gain) * shape, np.full(len(rest) - ramp, gain)])
    if bool((rest * curve > peak * (1 + 1e-9)).any()):  # peaks the fade reaches too late: limit them smoothly
        curve = np.minimum(curve, _limiting_gain(need, settings.limiter_width))
    out = audio.copy()
    out[exact:] = audio[exact:] * curve
    return out, gain


def _limiting_gain(need: np.ndarray, width: int) -> np.ndarray:
    """A smooth gain `[samples]` at most `need` wherever `need` < 1: a minimum filter, then a Hann window."""
    from scipy.ndimage import minimum_filter1d

    floor = minimum_filter1d(need, 2 * width + 1, mode="nearest")
    window = np.hanning(2 * width + 3)[1:-1]
    return np.convolve(np.pad(floor, width, mode="edge"), window / window.sum(), mode="valid")[: len(need)]
