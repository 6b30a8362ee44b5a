"""Differentiable training losses, built on the metric helpers of `metrics.py`.

One STFT / mel implementation serves both reporting and training, so with
default arguments `multi_resolution_stft_loss` equals `metrics.mrstft` for
a single clip (its spectral convergence is batch-wide, see there) and `mel_loss` the batch mean of `metrics.mel_l1`: training
optimises what aea reports. Every loss takes `reference, estimate` of shape
`[batch, samples]` or `[batch, 1, samples]` and returns a scalar.
"""

from __future__ import annotations

import torch

from . import metrics
from .metrics import DEFAULT_SAMPLE_RATE, FFT_SIZES, MAG_EPS, as_batch, mel_l1, spectral_convergence, stft_magnitude


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
    x, y = as_batch(reference), as_batch(estimate)
    total = x.new_zeros(())
    for n_fft in fft_sizes:
        magnitude_x, magnitude_y = stft_magnitude(x, n_fft), stft_magnitude(y, n_fft)
        convergence = spectral_convergence(magnitude_x, magnitude_y, dims=(0, 1, 2))
        log_magnitude = (torch.log(magnitude_x + MAG_EPS) - torch.log(magnitude_y + MAG_EPS)).abs().mean()
        total = total + convergence_weight * convergence + log_magnitude_weight * log_magnitude
    return total / len(fft_sizes)


def mel_loss(
    reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int = DEFAULT_SAMPLE_RATE
) -> torch.Tensor:
    """Batch mean of the `mel_l1` metric (80-band HTK mel, log10 power, eps 1e-5)."""
    return mel_l1(reference, estimate, sample_rate).mean()


LOSSES = {
    "l1": waveform_l1,
    "rmse": waveform_rmse,
    "mrstft": multi_resolution_stft_loss,
    "mel": mel_loss,
}
"""Name (as in `TrainConfig.loss_weights`, except `kl`) -> loss function."""

__all__ = [
    "LOSSES",
    "MAG_EPS",
    "mel_loss",
    "metrics",
    "multi_resolution_stft_loss",
    "waveform_l1",
    "waveform_rmse",
]
