"""Amplitude envelopes and smoothing, as arrays over a note's samples."""

from __future__ import annotations

import math

import numpy as np

_LN_1000 = math.log(1000.0)  # -60 dB, the decay that defines a T60 time


def _seconds_axis(samples: int, sample_rate: int) -> np.ndarray:
    """Time of each sample in seconds, float64 so long phases stay exact."""
    return np.arange(samples, dtype=np.float64) / sample_rate


def _exp_decay(samples: int, sample_rate: int, t60: float) -> np.ndarray:
    """Exponential decay reaching -60 dB after `t60` seconds, float32 `[samples]`."""
    return np.exp(np.arange(samples, dtype=np.float32) * np.float32(-_LN_1000 / (t60 * sample_rate)))


def _adsr(
    samples: int,
    sample_rate: int,
    attack: float,
    decay: float,
    sustain: float,
    gate: float,
    release: float,
) -> np.ndarray:
    """Attack-decay-sustain-release envelope, float32 `[samples]`.

    `gate` is how long the key is held in seconds; the release starts then.
    """
    held = max(gate, attack + decay)
    times = (0.0, attack, attack + decay, held, held + release)
    levels = (0.0, 1.0, sustain, sustain, 0.0)
    return np.interp(_seconds_axis(samples, sample_rate), times, levels).astype(np.float32)


def _box_smooth(signal: np.ndarray, width: int) -> np.ndarray:
    """Causal moving average over `width` samples: turns steps into linear ramps."""
    if width <= 1:
        return signal
    padded = np.concatenate((np.full(width, signal[0]), signal))
    summed = np.cumsum(padded, dtype=np.float64)
    return ((summed[width:] - summed[:-width]) / width).astype(signal.dtype)
