"""Spectra in numpy: the STFT and the HTK mel scale, for figures and scores that need no torch.

The same definitions as `metrics` (METRICS.md): periodic Hann window, frames
centred with reflect padding, HTK mel triangles from 0 Hz to Nyquist. `aea
score`'s features (`scoring.features`) use the same STFT with zero padding.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

DEFAULT_SAMPLE_RATE = 22050
MEL_BANDS = 80
MEL_FFT = 2048
MEL_HOP = 512


def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window `[n_fft]` (as `torch.hann_window(periodic=True)`)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)


def windowed_spectra(samples: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Complex spectra `[n_fft//2+1, frames]` of the Hann-windowed `n_fft`-sample frames of `samples`, every `hop`.

    No padding: frame t covers samples `t*hop .. t*hop + n_fft` of `samples` `[samples]`, and a
    partial frame at the end is dropped. The one STFT core; `stft` centres the frames.
    """
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(samples, dtype=np.float64), n_fft)[::hop]
    return np.fft.rfft(frames * hann_window(n_fft), axis=-1).T


def stft(samples: np.ndarray, n_fft: int, hop: int | None = None, padding: str = "reflect") -> np.ndarray:
    """Complex STFT `[n_fft//2+1, 1 + samples // hop]` of mono `samples` `[samples]`, hop n_fft/4 by default.

    Frames are centred: the signal is padded by n_fft/2 on each side, so frame t is centred on
    sample t * hop. `padding` "reflect" mirrors the signal (zeros when it is too short to
    reflect), as torch.stft does for `metrics`; "zeros" pads with silence, as `aea score` does.
    """
    if padding not in ("reflect", "zeros"):
        raise ValueError(f"padding must be 'reflect' or 'zeros', got {padding!r}")
    hop = hop or n_fft // 4
    samples = np.asarray(samples, dtype=np.float64)
    mode: Literal["reflect", "constant"] = (
        "reflect" if padding == "reflect" and samples.shape[-1] > n_fft // 2 else "constant"
    )
    return windowed_spectra(np.pad(samples, n_fft // 2, mode=mode), n_fft, hop)


def stft_power(samples: np.ndarray, n_fft: int, hop: int | None = None) -> np.ndarray:
    """`|STFT|^2`, `[n_fft//2+1, frames]` (float64)."""
    spectrum = stft(samples, n_fft, hop)
    return spectrum.real**2 + spectrum.imag**2


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: `2595 log10(1 + f / 700)` (negative frequencies count as 0)."""
    return 2595.0 * np.log10(1.0 + np.maximum(np.asarray(hz, dtype=np.float64), 0.0) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_edges(sample_rate: int, n_mels: int = MEL_BANDS) -> np.ndarray:
    """The `n_mels + 2` band edges in Hz, equally spaced on the HTK mel scale from 0 Hz to Nyquist."""
    return mel_to_hz(np.linspace(0.0, float(hz_to_mel(sample_rate / 2.0)), n_mels + 2))


@functools.lru_cache(maxsize=16)
def _mel_filterbank_cached(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    bin_hz = np.arange(n_fft // 2 + 1, dtype=np.float64) * sample_rate / n_fft
    edges = mel_edges(sample_rate, n_mels)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None] - lower) / (centre - lower)
    falling = (upper - bin_hz[None]) / (upper - centre)
    bank = np.clip(np.minimum(rising, falling), 0.0, None)
    bank.setflags(write=False)
    return bank


def mel_filterbank(sample_rate: int = DEFAULT_SAMPLE_RATE, n_fft: int = MEL_FFT, n_mels: int = MEL_BANDS) -> np.ndarray:
    """HTK mel filterbank `[n_mels, n_fft//2+1]` (float64): triangles from 0 Hz to Nyquist, peak 1 (unnormalised).

    Band m rises from edge m to edge m+1 and falls to edge m+2, so between the
    first and last centres the bands sum to exactly 1 at every FFT bin.
    """
    return _mel_filterbank_cached(int(sample_rate), int(n_fft), int(n_mels)).copy()
