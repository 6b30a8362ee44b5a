"""A generated piece (audio and the facts its sidecar records), and fitting its peak below full scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PEAK = 0.99
"""A piece whose peak would pass this is scaled down to it (the sidecar's `gain`), so files are never clipped;
a continuation only after its exact opening (`gain_from_seconds`)."""

MIN_GAIN = 0.05
"""The lowest gain `fit_peak` fades to (-26 dB): below it, the limiter takes the rest."""


@dataclass
class Piece:
    samples: np.ndarray  # [samples]
    metadata: dict[str, Any]


def fit_peak(audio: np.ndarray, exact: int = 0, ramp: int = 0) -> tuple[np.ndarray, float]:
    """`audio` `[samples]` scaled so its peak is at most PEAK, and the gain it ends at.

    The first `exact` samples (a continuation's opening, its exact
    reconstruction) are kept; the gain is reached over the next `ramp` samples
    by a raised-cosine fade and held from there. Splices of loud and quiet
    tracks can overshoot full scale: scaling down beats clipping.
    """
    rest = np.abs(audio[exact:]).astype(np.float64)
    if not len(rest) or rest.max() <= PEAK:
        return audio, 1.0
    ramp = min(ramp, len(rest))
    shape = np.sin(0.5 * np.pi * (np.arange(ramp) + 0.5) / max(ramp, 1)) ** 2  # 0 -> 1 over the fade
    need = np.minimum(1.0, PEAK / np.maximum(rest, 1e-12))  # the gain each sample may have at most
    gain = float(need[ramp:].min()) if len(rest) > ramp else 1.0
    inside = need[:ramp] < 1
    if inside.any():  # a fade sample at shape s has gain 1 - (1 - g) s: low enough only if g is
        gain = min(gain, float((1 - (1 - need[:ramp][inside]) / shape[inside]).min()))
    gain = max(gain, MIN_GAIN)
    curve = np.concatenate([1 - (1 - gain) * shape, np.full(len(rest) - ramp, gain)])
    if bool((rest * curve > PEAK * (1 + 1e-9)).any()):  # peaks the fade reaches too late: limit them smoothly
        curve = np.minimum(curve, _limiting_gain(need))
    out = audio.copy()
    out[exact:] = audio[exact:] * curve
    return out, gain


def _limiting_gain(need: np.ndarray, width: int = 64) -> np.ndarray:
    """A smooth gain `[samples]` at most `need` wherever `need` < 1: a minimum filter, then a Hann window."""
    from scipy.ndimage import minimum_filter1d

    floor = minimum_filter1d(need, 2 * width + 1, mode="nearest")
    window = np.hanning(2 * width + 3)[1:-1]
    return np.convolve(np.pad(floor, width, mode="edge"), window / window.sum(), mode="valid")[: len(need)]
