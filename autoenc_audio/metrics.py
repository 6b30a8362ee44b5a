"""Reconstruction metrics, exactly as defined in `METRICS.md`.

Every function takes a reference `x` and an estimate `y` as float tensors of
shape `[batch, samples]` or `[batch, 1, samples]` (same shape, same sample
rate) and returns one value per item, `[batch]`. They are plain torch code and
differentiable, so `training/losses.py` builds its training losses from the same STFT
and mel helpers: training optimises what is reported.

Definitions (METRICS.md):

- `snr_db`: `10 log10(sum x^2 / sum (x - y)^2)`.
- `si_sdr_db`: `t = (<y,x>/<x,x>) x`, `10 log10(sum t^2 / sum (t - y)^2)`.
- `mrstft`: mean over n_fft in {512, 1024, 2048} (hop n_fft/4, periodic Hann,
  centred with reflect padding) of spectral convergence
  `||X|-|Y||_F / ||X||_F` plus `mean |ln(|X|+1e-7) - ln(|Y|+1e-7)|`.
- `mel_l1`: 80-band HTK mel filterbank (0 Hz to Nyquist, unnormalised
  triangles) on the power STFT (n_fft 2048, hop 512, Hann),
  `mean |log10(M_x+1e-5) - log10(M_y+1e-5)|`.
- `lsd_db`: power STFT (n_fft 2048, hop 512) + 1e-10, per frame
  `sqrt(mean over bins (10 log10 P_x - 10 log10 P_y)^2)`, mean over frames.
- `spectral_flatness`: geometric over arithmetic mean of the power spectrum per
  frame (n_fft 2048, hop 512), mean over frames (white noise ~0.56).

Silent references: every ratio adds `GUARD = 1e-12` to its numerator and
denominator (energies; `GUARD` is far below any audible signal's energy), so
a silent reference gives finite numbers, never NaN: SNR of silence against
silence is 0 dB, identical non-silent signals give a very high SNR (> 100 dB).
Spectral convergence adds `SPECTRAL_FLOOR`^2 per time-frequency bin to the
reference's energy instead (an STFT magnitude of 1e-3 is noise ~85 dB below
full scale; on music this changes the ratio by ~1e-7): against a silent
reference it then measures how far the estimate is above that floor (~20 for
noise at -60 dBFS, 0 for silence) instead of dividing by nothing (~1e7).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from . import spectra
from .metric_info import METRIC_NAMES
from .spectra import DEFAULT_SAMPLE_RATE, MEL_BANDS, MEL_FFT, MEL_HOP

FFT_SIZES: tuple[int, ...] = (512, 1024, 2048)
"""The MR-STFT resolutions (hop = n_fft / 4)."""

MAG_EPS = 1e-7  # inside ln(|X| + eps) of the MR-STFT log-magnitude term
MEL_EPS = 1e-5  # inside log10(M + eps) of mel_l1
POWER_EPS = 1e-10  # added to the power spectrum of lsd_db and spectral_flatness
GUARD = 1e-12  # added to energies in ratios so a silent reference gives no NaN
SPECTRAL_FLOOR = 1e-3  # per-bin STFT magnitude added (squared) to spectral convergence's energies


# ---------------------------------------------------------------- helpers


def as_batch(audio: torch.Tensor) -> torch.Tensor:
    """`[batch, samples]` or `[batch, 1, samples]` -> `[batch, samples]` (a view)."""
    if audio.dim() == 3:
        if audio.shape[1] != 1:
            raise ValueError(f"expected mono audio [batch, 1, samples], got {list(audio.shape)}")
        return audio[:, 0]
    if audio.dim() != 2:
        raise ValueError(f"expected [batch, samples] or [batch, 1, samples], got {list(audio.shape)}")
    return audio


def _pair(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = as_batch(reference), as_batch(estimate)
    if x.shape != y.shape:
        raise ValueError(f"reference {list(x.shape)} and estimate {list(y.shape)} differ in shape")
    return x, y


@functools.lru_cache(maxsize=32)
def _window(n_fft: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, device=device, dtype=dtype)


def stft(audio: torch.Tensor, n_fft: int, hop: int | None = None) -> torch.Tensor:
    """Complex STFT `[batch, n_fft//2+1, frames]` of `[batch, samples]` audio.

    Periodic Hann window of length n_fft, hop n_fft/4 by default, centred with
    reflect padding (falls back to zero padding for clips shorter than n_fft/2,
    where reflect is undefined).
    """
    audio = as_batch(audio)
    hop = hop or n_fft // 4
    window = _window(n_fft, str(audio.device), audio.dtype)
    pad_mode = "reflect" if audio.shape[-1] > n_fft // 2 else "constant"
    return torch.stft(audio, n_fft, hop_length=hop, window=window, center=True, pad_mode=pad_mode, return_complex=True)


def stft_magnitude(audio: torch.Tensor, n_fft: int, hop: int | None = None) -> torch.Tensor:
    """`|STFT|`, `[batch, n_fft//2+1, frames]`; differentiable (the gradient at 0 is 0)."""
    return stft(audio, n_fft, hop).abs()


def stft_power(audio: torch.Tensor, n_fft: int, hop: int | None = None) -> torch.Tensor:
    """`|STFT|^2`, `[batch, n_fft//2+1, frames]`."""
    return power_of(stft(audio, n_fft, hop))


def power_of(spectrum: torch.Tensor) -> torch.Tensor:
    """`|X|^2` of a complex spectrogram, without the square root of `abs`."""
    return spectrum.real.square() + spectrum.imag.square()


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    """HTK mel scale: `2595 log10(1 + f / 700)`."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (torch.pow(10.0, mel / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def _mel_filterbank_cached(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    return torch.from_numpy(spectra.mel_filterbank(sample_rate, n_fft, n_mels)).to(torch.float32)


def mel_filterbank(
    sample_rate: int = DEFAULT_SAMPLE_RATE, n_fft: int = MEL_FFT, n_mels: int = MEL_BANDS
) -> torch.Tensor:
    """HTK mel filterbank `[n_mels, n_fft//2+1]`: triangles from 0 Hz to Nyquist, peak 1 (unnormalised).

    Band edges are `n_mels + 2` points equally spaced on the HTK mel scale;
    band m rises from edge m to edge m+1 and falls to edge m+2, so between the
    first and last centres the bands sum to exactly 1 at every FFT bin.
    """
    return _mel_filterbank_cached(int(sample_rate), int(n_fft), int(n_mels)).clone()


def mel_power(audio: torch.Tensor, sample_rate: int = DEFAULT_SAMPLE_RATE) -> torch.Tensor:
    """Mel power spectrogram `[batch, 80, frames]` (power STFT n_fft 2048, hop 512)."""
    return mel_of_power(stft_power(audio, MEL_FFT, MEL_HOP), sample_rate)


def mel_of_power(power: torch.Tensor, sample_rate: int = DEFAULT_SAMPLE_RATE) -> torch.Tensor:
    """`[batch, 1025, frames]` power STFT (n_fft 2048) -> `[batch, 80, frames]` mel power."""
    bank = _mel_filterbank_cached(int(sample_rate), MEL_FFT, MEL_BANDS).to(power.device, power.dtype)
    return torch.matmul(bank, power)


# ---------------------------------------------------------------- metrics (per item, [batch])


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio in dB, `[batch]`; higher is better."""
    x, y = _pair(reference, estimate)
    signal = x.square().sum(-1)
    noise = (x - y).square().sum(-1)
    return 10.0 * torch.log10((signal + GUARD) / (noise + GUARD))


def si_sdr_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB, `[batch]`: invariant to scaling the estimate."""
    x, y = _pair(reference, estimate)
    scale = (y * x).sum(-1, keepdim=True) / (x.square().sum(-1, keepdim=True) + GUARD)
    target = scale * x
    return 10.0 * torch.log10((target.square().sum(-1) + GUARD) / ((target - y).square().sum(-1) + GUARD))


def spectral_convergence(mag_x: torch.Tensor, mag_y: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """`||X| - |Y||_F / ||X||_F` over `dims`; the reference energy is raised by `SPECTRAL_FLOOR`^2 per bin.

    Identical spectra give 0 (and a finite gradient: `GUARD` under the root); against silence the
    result is the estimate's RMS magnitude over the floor.
    """
    floor = SPECTRAL_FLOOR**2 * math.prod(mag_x.shape[d] for d in dims)
    difference = (mag_x - mag_y).square().sum(dim=dims)
    energy = mag_x.square().sum(dim=dims)
    return torch.sqrt((difference + GUARD) / (energy + floor))


def stft_distance(
    reference: torch.Tensor, estimate: torch.Tensor, n_fft: int, hop: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectral convergence and log-magnitude L1 at one resolution, each `[batch]`."""
    x, y = _pair(reference, estimate)
    mag_x, mag_y = stft_magnitude(x, n_fft, hop), stft_magnitude(y, n_fft, hop)
    convergence = spectral_convergence(mag_x, mag_y, dims=(1, 2))
    log_magnitude = (torch.log(mag_x + MAG_EPS) - torch.log(mag_y + MAG_EPS)).abs().mean(dim=(1, 2))
    return convergence, log_magnitude


def mrstft_terms(
    reference: torch.Tensor, estimate: torch.Tensor, fft_sizes: tuple[int, ...] = FFT_SIZES
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectral convergence and log-magnitude terms of `mrstft`, each averaged over resolutions, `[batch]`."""
    convergence, log_magnitude = [], []
    for n_fft in fft_sizes:
        sc, lm = stft_distance(reference, estimate, n_fft)
        convergence.append(sc)
        log_magnitude.append(lm)
    return torch.stack(convergence).mean(0), torch.stack(log_magnitude).mean(0)


def mrstft(reference: torch.Tensor, estimate: torch.Tensor, fft_sizes: tuple[int, ...] = FFT_SIZES) -> torch.Tensor:
    """Multi-resolution STFT distance, `[batch]`; 0 is perfect."""
    convergence, log_magnitude = mrstft_terms(reference, estimate, fft_sizes)
    return convergence + log_magnitude


def mel_l1(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int = DEFAULT_SAMPLE_RATE) -> torch.Tensor:
    """Mean absolute log10 mel-power difference, `[batch]`; 0 is perfect."""
    x, y = _pair(reference, estimate)
    return mel_distance(mel_power(x, sample_rate), mel_power(y, sample_rate))


def mel_distance(mel_x: torch.Tensor, mel_y: torch.Tensor) -> torch.Tensor:
    """`[batch]`: mean absolute log10 difference of two mel power spectrograms `[batch, 80, frames]`."""
    return (torch.log10(mel_x + MEL_EPS) - torch.log10(mel_y + MEL_EPS)).abs().mean(dim=(1, 2))


def lsd_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Log-spectral distance in dB, `[batch]`; 0 is perfect."""
    x, y = _pair(reference, estimate)
    power_x = stft_power(x, MEL_FFT, MEL_HOP) + POWER_EPS
    power_y = stft_power(y, MEL_FFT, MEL_HOP) + POWER_EPS
    difference = 10.0 * (torch.log10(power_x) - torch.log10(power_y))
    return difference.square().mean(dim=1).sqrt().mean(dim=1)


def spectral_flatness(audio: torch.Tensor) -> torch.Tensor:
    """Geometric / arithmetic mean of the power spectrum per frame, mean over frames, `[batch]`.

    n_fft 2048, hop 512, Hann; `POWER_EPS` is added to the power so digital
    silence gives a finite value. White noise is about 0.56 (`exp(-Euler gamma)`),
    tonal music far below.
    """
    power = stft_power(as_batch(audio), MEL_FFT, MEL_HOP) + POWER_EPS
    geometric = torch.exp(torch.log(power).mean(dim=1))
    arithmetic = power.mean(dim=1)
    return (geometric / arithmetic).mean(dim=1)


METRICS: dict[str, Callable[..., torch.Tensor]] = {  # (reference, estimate), mel_l1 also the sample rate
    "snr_db": snr_db,
    "si_sdr_db": si_sdr_db,
    "mrstft": mrstft,
    "mel_l1": mel_l1,
    "lsd_db": lsd_db,
}
"""Name -> per-item metric function, in report order (`METRIC_NAMES`)."""
assert tuple(METRICS) == METRIC_NAMES


@torch.no_grad()
def evaluate(
    reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int = DEFAULT_SAMPLE_RATE
) -> dict[str, float]:
    """Batch means of every metric: keys `snr_db, si_sdr_db, mrstft, mel_l1, lsd_db`."""
    x, y = _pair(reference, estimate)
    x, y = x.float(), y.float()
    results = {}
    for name, function in METRICS.items():
        values = function(x, y, sample_rate) if name == "mel_l1" else function(x, y)
        value = float(values.mean())
        results[name] = value if math.isfinite(value) else float("nan")
    return results
