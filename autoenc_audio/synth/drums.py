"""Drum and percussion hits, each a mono float array `[samples]` drawn from the track's RNG."""

from __future__ import annotations

import numpy as np

from .envelopes import _adsr, _exp_decay, _seconds_axis
from .oscillators import _steady_phase, _table_index, _wavetable
from .voices import _sine


def _band_mask(hz: np.ndarray, low: float | None, high: float | None, order: int = 2) -> np.ndarray:
    """Butterworth-shaped magnitude response of a band-pass (either edge optional)."""
    mask = np.ones_like(hz)
    if low is not None:
        mask /= np.sqrt(1.0 + (low / np.maximum(hz, 1e-9)) ** (2 * order))
    if high is not None:
        mask /= np.sqrt(1.0 + (hz / high) ** (2 * order))
    return mask


def _filtered_noise(
    rng: np.random.Generator, samples: int, sample_rate: int, low: float | None, high: float | None
) -> np.ndarray:
    """Band-limited noise with peak 1, float32 `[samples]` (filtered before any envelope)."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum *= _band_mask(np.fft.rfftfreq(samples, 1.0 / sample_rate), low, high)
    noise = np.fft.irfft(spectrum, n=samples)
    return (noise / max(float(np.max(np.abs(noise))), 1e-9)).astype(np.float32)


def _pitch_drop_sine(start_hz: float, end_hz: float, drop_seconds: float, samples: int, sample_rate: int) -> np.ndarray:
    """A sine whose pitch falls exponentially from `start_hz` to `end_hz`: drum skins do this."""
    seconds = _seconds_axis(samples, sample_rate)
    hz = end_hz + (start_hz - end_hz) * np.exp(-seconds / drop_seconds)
    return np.sin(2 * np.pi * np.cumsum(hz) / sample_rate).astype(np.float32)


def _kick(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(rng.uniform(0.3, 0.5) * sample_rate)
    body = _pitch_drop_sine(rng.uniform(120, 200), rng.uniform(42, 60), rng.uniform(0.02, 0.05), samples, sample_rate)
    click = _filtered_noise(rng, samples, sample_rate, 1500, 6000) * _exp_decay(samples, sample_rate, 0.01)
    return body * _exp_decay(samples, sample_rate, samples / sample_rate) + 0.3 * click


def _snare(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(rng.uniform(0.2, 0.3) * sample_rate)
    tone_hz = rng.uniform(160, 240)
    body = _pitch_drop_sine(tone_hz * 1.5, tone_hz, 0.01, samples, sample_rate) * _exp_decay(samples, sample_rate, 0.12)
    wires = _filtered_noise(rng, samples, sample_rate, rng.uniform(1200, 2500), rng.uniform(7000, 11000))
    return 0.6 * body + wires * _exp_decay(samples, sample_rate, samples / sample_rate)


def _hat(rng: np.random.Generator, sample_rate: int, open_hat: bool) -> np.ndarray:
    t60 = rng.uniform(0.25, 0.45) if open_hat else rng.uniform(0.04, 0.08)
    samples = int(t60 * sample_rate)
    metal = _filtered_noise(rng, samples, sample_rate, rng.uniform(6000, 8500), 16000)
    return metal * _exp_decay(samples, sample_rate, t60)


def _clap(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(0.3 * sample_rate)
    noise = _filtered_noise(rng, samples, sample_rate, 900, 3500)
    seconds = _seconds_axis(samples, sample_rate)
    bursts = sum(np.exp(-np.maximum(seconds - k * 0.011, 0) / 0.004) * (seconds >= k * 0.011) for k in range(3))
    tail = np.exp(-np.maximum(seconds - 0.033, 0) / 0.06) * (seconds >= 0.033)
    return (noise * (0.7 * bursts + tail)).astype(np.float32)


def _tom(rng: np.random.Generator, sample_rate: int, hz: float) -> np.ndarray:
    samples = int(rng.uniform(0.3, 0.5) * sample_rate)
    body = _pitch_drop_sine(hz * 1.3, hz, 0.06, samples, sample_rate)
    return body * _exp_decay(samples, sample_rate, samples / sample_rate)


def _conga(rng: np.random.Generator, sample_rate: int, hz: float) -> np.ndarray:
    samples = int(0.25 * sample_rate)
    body = _pitch_drop_sine(hz * 1.15, hz, 0.015, samples, sample_rate) * _exp_decay(samples, sample_rate, 0.22)
    slap = _filtered_noise(rng, samples, sample_rate, 2000, 6000) * _exp_decay(samples, sample_rate, 0.015)
    return body + 0.25 * slap


def _shaker(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(0.09 * sample_rate)
    beads = _filtered_noise(rng, samples, sample_rate, rng.uniform(4000, 6000), 12000)
    return beads * _adsr(samples, sample_rate, 0.02, 0.0, 1.0, 0.02, 0.05)


def _cowbell(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Two detuned square-ish partials, as on the classic drum machines."""
    samples = int(0.35 * sample_rate)
    table = _wavetable("square", 2 * 800.0, sample_rate, max_harmonics=9)
    low_hz = rng.uniform(520, 600)
    partials = sum(table[_table_index(_steady_phase(hz, samples, sample_rate))] for hz in (low_hz, low_hz * 1.48))
    return partials * _exp_decay(samples, sample_rate, 0.3)


def _woodblock(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(0.08 * sample_rate)
    hz = rng.uniform(700, 1400)
    knock = _sine(hz, samples, sample_rate) + 0.4 * _sine(hz * 2.7, samples, sample_rate)
    return knock * _exp_decay(samples, sample_rate, 0.05)
