"""Band-limited wavetable oscillators and panning gains."""

from __future__ import annotations

import math

import numpy as np

from .envelopes import _seconds_axis

_TABLE_SIZE = 4096  # samples per wavetable cycle: fine enough for nearest-sample lookup


def _harmonic_amplitudes(timbre: str, count: int) -> np.ndarray:
    """Amplitudes of harmonics 1..count for a named classic waveform."""
    harmonic = np.arange(1, count + 1, dtype=np.float64)
    odd = harmonic % 2 == 1
    if timbre == "saw":
        return 1.0 / harmonic
    if timbre == "square":
        return np.where(odd, 1.0 / harmonic, 0.0)
    if timbre == "hollow":  # clarinet-like: odd harmonics strong, a little even colour
        return np.where(odd, 1.0 / harmonic, 0.15 / harmonic**2)
    if timbre == "soft":
        return 1.0 / harmonic**2
    if timbre == "organ":  # drawbar-like: 8', 4', 2 2/3' and 2' footages
        drawbars = {1: 1.0, 2: 0.5, 3: 0.3, 4: 0.25}
        return np.array([drawbars.get(int(h), 0.0) for h in harmonic])
    raise ValueError(f"unknown timbre {timbre!r}")


def _wavetable(timbre: str, top_hz: float, sample_rate: int, max_harmonics: int = 48) -> np.ndarray:
    """One cycle of a waveform, band-limited so that `top_hz` does not alias.

    Returns float32 `[_TABLE_SIZE]` with peak 1.
    """
    count = int(np.clip(0.45 * sample_rate / top_hz, 1, max_harmonics))
    spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : count + 1] = -1j * _harmonic_amplitudes(timbre, count)  # sine phase
    table = np.fft.irfft(spectrum, n=_TABLE_SIZE)
    return (table / np.max(np.abs(table))).astype(np.float32)


def _table_index(phase_cycles: np.ndarray) -> np.ndarray:
    """Wavetable positions for phases measured in cycles (any non-negative size)."""
    return (phase_cycles * _TABLE_SIZE).astype(np.int64) & (_TABLE_SIZE - 1)


def _sine_of(phase_cycles: np.ndarray) -> np.ndarray:
    """sin(2 pi phase) in float32; the phase is reduced to one cycle first so float32 stays exact."""
    return np.sin(np.float32(2 * np.pi) * (phase_cycles % 1.0).astype(np.float32))


def _steady_phase(hz: float, samples: int, sample_rate: int, start: float = 0.0) -> np.ndarray:
    """Phase in cycles of a constant-pitch oscillator."""
    return start + hz * _seconds_axis(samples, sample_rate)


def _morph_oscillator(
    dark: np.ndarray, bright: np.ndarray, phase_cycles: np.ndarray, brightness: np.ndarray | float
) -> np.ndarray:
    """Crossfade two wavetables: a cheap stand-in for a moving low-pass filter."""
    index = _table_index(phase_cycles)
    low = dark[index]
    return low + brightness * (bright[index] - low)


def _pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power left/right gains for pan in [-1 (left), 1 (right)]."""
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)
