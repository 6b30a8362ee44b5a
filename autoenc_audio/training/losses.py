"""Differentiable training losses, built on the metric helpers of `metrics.py`.

One STFT / mel implementation serves both reporting and training, so with
default arguments `multi_resolution_stft_loss` equals `metrics.mrstft` for
a single clip (its spectral convergence is batch-wide, see there) and `mel_loss` the batch mean of `metrics.mel_l1`: training
optimises what aea reports. Every loss takes `reference, estimate` of shape
`[batch, samples]` or `[batch, 1, samples]` and returns a scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..metrics import (
    FFT_SIZES,
    MAG_EPS,
    as_batch,
    mel_distance,
    mel_filterbank,
    mel_of_power,
    power_of,
    spectral_convergence,
    stft,
)
from ..spectra import DEFAULT_SAMPLE_RATE, MEL_FFT, MEL_HOP


class Spectra:
    """The complex STFTs of a reference and an estimate `[batch, samples]`, each size computed once.

    The MR-STFT's 2048-point STFT (hop 512) is also the mel loss's: sharing it
    spares two of the step's eight STFTs when both losses are weighted.
    """

    def __init__(self, reference: torch.Tensor, estimate: torch.Tensor) -> None:
        self.reference, self.estimate = as_batch(reference), as_batch(estimate)
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def pair(self, n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Complex STFTs `[batch, n_fft//2+1, frames]` (hop n_fft/4) of the reference and the estimate."""
        if n_fft not in self._cache:
            self._cache[n_fft] = (stft(self.reference, n_fft), stft(self.estimate, n_fft))
        return self._cache[n_fft]

    def magnitudes(self, n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.pair(n_fft)
        return x.abs(), y.abs()

    def mel_powers(self, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mel power spectrograms `[batch, 80, frames]` as `metrics.mel_power` computes them."""
        assert MEL_HOP == MEL_FFT // 4, "the mel STFT is shared only when its hop is the MR-STFT's"
        x, y = self.pair(MEL_FFT)
        return mel_of_power(power_of(x), sample_rate), mel_of_power(power_of(y), sample_rate)


def waveform_l1(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Mean absolute sample error."""
    x, y = as_batch(reference), as_batch(estimate)
    return (x - y).abs().mean()


def waveform_rmse(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Root mean squared sample error (the original model's loss)."""
    x, y = as_batch(reference), as_batch(estimate)
    return (x - y).square().mean().sqrt()


def multi_resolution_stft_loss(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    fft_sizes: tuple[int, ...] = FFT_SIZES,
    convergence_weight: float = 1.0,
    log_magnitude_weight: float = 1.0,
    spectra: Spectra | None = None,
) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over resolutions.

    The log-magnitude term (ln(|X| + 1e-7), n_fft 512/1024/2048, hop n_fft/4)
    is the metric's, averaged over the batch; it weighs quiet bins as much as
    loud ones, which is what the metric rewards on music. Spectral convergence
    is taken over the whole batch (`||X - Y|| / ||X||` of all its spectrograms,
    with the metric's silence floor): per clip, a silent clip (digital silence
    at the start of a real track) would swamp the batch's gradient. For a
    batch of one clip the loss equals the `mrstft` metric.
    """
    spectra = spectra or Spectra(reference, estimate)
    total = spectra.reference.new_zeros(())
    for n_fft in fft_sizes:
        magnitude_x, magnitude_y = spectra.magnitudes(n_fft)
        convergence = spectral_convergence(magnitude_x, magnitude_y, dims=(0, 1, 2))
        log_magnitude = (torch.log(magnitude_x + MAG_EPS) - torch.log(magnitude_y + MAG_EPS)).abs().mean()
        total = total + convergence_weight * convergence + log_magnitude_weight * log_magnitude
    return total / len(fft_sizes)


def mel_loss(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    spectra: Spectra | None = None,
) -> torch.Tensor:
    """Batch mean of the `mel_l1` metric (80-band HTK mel, log10 power, eps 1e-5)."""
    spectra = spectra or Spectra(reference, estimate)
    return mel_distance(*spectra.mel_powers(sample_rate)).mean()


SHORT_FFT_SIZES: tuple[int, ...] = (128, 256)
"""The `short_stft` term's resolutions: 5.8 and 11.6 ms at 22.05 kHz, short enough to see a click."""


def short_stft_loss(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    spectra: Spectra | None = None,
) -> torch.Tensor:
    """`multi_resolution_stft_loss` at 128 and 256 points (hop n_fft/4).

    The mel term's 2048-point frames cannot tell a click from hiss spread over 93 ms: both put the same energy in
    the top bands of the frame. A decoder asked for top-octave energy learns to pay it as a click at an attack,
    unless a loss sees the frame's time structure.
    """
    return multi_resolution_stft_loss(reference, estimate, fft_sizes=SHORT_FFT_SIZES, spectra=spectra)


EXCESS_FFT = 256
"""The `excess` term's frames: 11.6 ms at 22.05 kHz. On 512 points (the MR-STFT's smallest) it misses the clicks."""
EXCESS_FLOOR_HZ = 1000.0
EXCESS_SILENCE = 1e-3
"""Frames more than 30 dB under the clip's mean energy count as silence, where any hiss would be an 'excess'."""
LEVEL_BANDS = 40


def excess_energy_loss(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    spectra: Spectra | None = None,
) -> torch.Tensor:
    """How much louder (log10 energy above 1 kHz) each 256-point frame of the estimate is than the reference's.

    One-sided: a click is a short frame with more top-band energy than the original's, and a quieter frame costs
    nothing, so unlike a two-sided short-window term it does not pull the quiet gaps between events up.
    """
    spectra = spectra or Spectra(reference, estimate)
    first_bin = int(EXCESS_FLOOR_HZ * EXCESS_FFT / sample_rate)
    x, y = (power_of(s)[..., first_bin:, :].sum(-2) for s in spectra.pair(EXCESS_FFT))  # [batch, frames]
    floor = EXCESS_SILENCE * x.mean(-1, keepdim=True) + 1e-9
    return torch.relu(torch.log10(y + floor) - torch.log10(x + floor)).mean()


def band_level_loss(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    spectra: Spectra | None = None,
) -> torch.Tensor:
    """Per clip and 40 mel bands, the log10 distance of the clip's mean band power: each band's level, not shape.

    Asks for the top octaves' energy, which the waveform loss leaves dark. Alone, a decoder pays it as clicks at
    attacks; with `excess_energy_loss` it must spread it (NOTES, session 13).
    """
    spectra = spectra or Spectra(reference, estimate)
    bank = mel_filterbank(sample_rate, MEL_FFT, LEVEL_BANDS).to(spectra.reference.device, spectra.reference.dtype)
    x, y = (bank @ power_of(s).mean(-1, keepdim=True) for s in spectra.pair(MEL_FFT))  # [batch, bands, 1]
    return mel_distance(x, y).mean()


def loss_terms(
    reference: torch.Tensor, estimate: torch.Tensor, names: list[str], *, sample_rate: int
) -> dict[str, torch.Tensor]:
    """Each named loss of `LOSSES` (unweighted), the spectral ones sharing their STFTs through one `Spectra`.

    `sample_rate` is the model's: the losses of `RATE_LOSSES` place their bands (Hz) with it, as `metrics.evaluate`
    does, so that training optimises the mel that is reported; required, so no caller can forget it.
    """
    spectra = Spectra(reference, estimate)
    terms = {}
    for name in names:
        if name in WAVEFORM_LOSSES:
            terms[name] = WAVEFORM_LOSSES[name](reference, estimate)
        elif name in RATE_LOSSES:
            terms[name] = SPECTRAL_LOSSES[name](reference, estimate, sample_rate=sample_rate, spectra=spectra)
        else:
            terms[name] = SPECTRAL_LOSSES[name](reference, estimate, spectra=spectra)
    return terms


WAVEFORM_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": waveform_l1,
    "rmse": waveform_rmse,
}
SPECTRAL_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mrstft": multi_resolution_stft_loss,
    "mel": mel_loss,
    "short_stft": short_stft_loss,
    "excess": excess_energy_loss,
    "level": band_level_loss,
}
"""The losses that take `spectra=`: in one step they share each STFT size of the reference and the estimate."""
RATE_LOSSES = frozenset({"mel", "excess", "level"})
"""The spectral losses that also take `sample_rate=`: their bands are placed in Hz."""
LOSSES = {**WAVEFORM_LOSSES, **SPECTRAL_LOSSES}
"""Name (as in `TrainConfig.loss_weights`, except `kl`) -> loss function."""

__all__ = [
    "LOSSES",
    "Spectra",
    "loss_terms",
    "mel_loss",
    "SHORT_FFT_SIZES",
    "short_stft_loss",
    "excess_energy_loss",
    "band_level_loss",
    "multi_resolution_stft_loss",
    "waveform_l1",
    "waveform_rmse",
]
