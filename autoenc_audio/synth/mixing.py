"""Stereo buses `[samples, 2]`: placing notes, delay, reverb and the master stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .envelopes import _exp_decay
from .oscillators import _pan_gains
from .theory import _Song

_REVERB_DECIMATION = 4  # the reverb tail runs at a quarter rate: it is dark anyway

PEAK_DBFS = -1.0
"""Every track is normalised to this sample peak."""


@dataclass(frozen=True)
class _Layer:
    """A stereo bus `[samples, 2]` and how much of it feeds the shared reverb."""

    bus: np.ndarray
    reverb_send: float


def _stereo_bus(samples: int) -> np.ndarray:
    return np.zeros((samples, 2), dtype=np.float32)


def _place(bus: np.ndarray, mono: np.ndarray, start: int, gain: float = 1.0, pan: float = 0.0) -> None:
    """Add a mono note `[n]` into a stereo bus `[samples, 2]` at sample `start`, panned."""
    end = min(bus.shape[0], start + mono.size)
    if start >= end:
        return
    left, right = _pan_gains(pan)
    segment = mono[: end - start]
    bus[start:end, 0] += np.float32(gain * left) * segment
    bus[start:end, 1] += np.float32(gain * right) * segment


def _ping_pong(bus: np.ndarray, delay: int, feedback: float, repeats: int = 4) -> np.ndarray:
    """Stereo echo bouncing between the channels: width and motion for sparse parts."""
    echoed = bus.copy()
    mono = bus.mean(axis=1)
    for repeat in range(1, repeats + 1):
        offset = repeat * delay
        if offset >= bus.shape[0]:
            break
        echoed[offset:, (repeat + 1) % 2] += np.float32(feedback**repeat) * mono[:-offset]
    return echoed


def _fft_size(length: int) -> int:
    """Smallest 2^a 3^b 5^c >= length: sizes numpy's FFT handles fast."""
    best = 1 << max(0, (length - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            size = power35
            while size < length:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


def _reverb(send: np.ndarray, sample_rate: int, rng: np.random.Generator, t60: float) -> np.ndarray:
    """A dark stereo room: the send `[samples, 2]` convolved with decaying noise.

    Runs at a quarter of the sample rate (a reverb tail has little treble)
    and uses an independent noise impulse response per channel for width.
    """
    samples = send.shape[0]
    usable = samples - samples % _REVERB_DECIMATION
    if usable == 0:
        return np.zeros_like(send)
    low_rate = sample_rate // _REVERB_DECIMATION
    decimated = send[:usable].reshape(-1, _REVERB_DECIMATION, 2).mean(axis=1)
    tail = int(min(t60, 3.0) * low_rate)
    predelay = int(0.02 * low_rate)
    response = rng.standard_normal((predelay + tail, 2)).astype(np.float32)
    response[:predelay] = 0.0
    response[predelay:] *= _exp_decay(tail, low_rate, t60)[:, None]
    response /= np.sqrt(np.sum(response**2, axis=0, keepdims=True))  # unit energy: sends set the level
    size = _fft_size(decimated.shape[0] + response.shape[0])
    wet = np.fft.irfft(np.fft.rfft(decimated, n=size, axis=0) * np.fft.rfft(response, n=size, axis=0), n=size, axis=0)
    wet = wet[: decimated.shape[0]]
    positions = (np.arange(samples) - (_REVERB_DECIMATION - 1) / 2) / _REVERB_DECIMATION
    grid = np.arange(wet.shape[0])
    return np.stack([np.interp(positions, grid, wet[:, channel]) for channel in range(2)], axis=1).astype(np.float32)


def _master(layers: Sequence[_Layer], song: _Song, reverb_t60: float) -> np.ndarray:
    """Sum the layers, add the reverb return, fade the edges and set the peak to -1 dBFS."""
    sample_rate = song.grid.sample_rate
    dry = np.zeros_like(layers[0].bus)
    send = np.zeros_like(layers[0].bus)
    for layer in layers:
        dry += layer.bus
        send += np.float32(layer.reverb_send) * layer.bus
    mix = dry + _reverb(send, sample_rate, song.rng, reverb_t60)
    fade_in = min(mix.shape[0], int(0.003 * sample_rate))
    fade_out = min(mix.shape[0], int(0.05 * sample_rate))
    mix[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)[:, None]
    mix[mix.shape[0] - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)[:, None]
    peak = float(np.max(np.abs(mix)))
    if peak > 0.0:
        mix *= np.float32(10.0 ** (PEAK_DBFS / 20.0) / peak)
    return mix.astype(np.float32)
