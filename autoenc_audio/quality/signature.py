"""A decoder's signature: what it does to transients and to the level of each octave.

Two figures a listener notices before any distance metric does:

- `crest_ratios`: peak/RMS of the estimate over peak/RMS of the reference, per
  clip. Above 1 the decoder adds spikes (clicks at transients); below 1 it
  smears attacks.
- `octave_levels`: the mean power of each octave band of the estimate against
  the reference's, in dB (`OCTAVE_EDGES`: below 250 Hz, 250-500, ..., 4-8 kHz,
  above 8 kHz). Negative at the top is a dark, muffled decoder.

Both take `reference, estimate` as `[clips, samples]` (or `[clips, 1, samples]`)
tensors at one sample rate; `decoder_signature` summarises them over a set of
clips (median and 90th percentile of the crest ratio, the mean dB per octave).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..metrics import as_batch, stft_power

OCTAVE_EDGES: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
"""Upper edges of the octave bands in Hz; the last band runs from 8 kHz to the Nyquist frequency."""

SIGNATURE_FFT = 2048
"""STFT size of the octave levels (hop a quarter of it)."""

SILENT_RMS = 1e-4
"""Clips whose reference RMS is below this (about -80 dBFS) have no crest to compare."""


def octave_bands(sample_rate: int) -> list[tuple[float, float]]:
    """`(low, high)` Hz of each octave band below the Nyquist frequency of `sample_rate`."""
    edges = [0.0, *[e for e in OCTAVE_EDGES if e < sample_rate / 2], sample_rate / 2]
    return list(zip(edges[:-1], edges[1:]))


def octave_names(sample_rate: int) -> list[str]:
    """Readable names of the octave bands that exist below the Nyquist frequency of `sample_rate`."""
    names = []
    for low, high in octave_bands(sample_rate):
        if low == 0:
            names.append(f"<{_hz(high)}")
        elif high == sample_rate / 2:
            names.append(f">{_hz(low)}")
        else:
            names.append(f"{_hz(low)}-{_hz(high)}")
    return names


def _hz(value: float) -> str:
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def crest_ratios(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """`[clips]`: (peak/RMS of the estimate) / (peak/RMS of the reference); NaN for silent references."""
    x, y = as_batch(reference).double(), as_batch(estimate).double()
    rms_x, rms_y = x.square().mean(-1).sqrt(), y.square().mean(-1).sqrt()
    crest_x = x.abs().amax(-1) / rms_x.clamp_min(1e-30)
    crest_y = y.abs().amax(-1) / rms_y.clamp_min(1e-30)
    ratio = crest_y / crest_x
    return torch.where((rms_x > SILENT_RMS) & (rms_y > 0), ratio, torch.full_like(ratio, math.nan)).float()


def band_powers(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """`[clips, octaves]`: mean STFT power in each octave band (`octave_names` order)."""
    power = stft_power(as_batch(audio).float(), SIGNATURE_FFT)  # [clips, bins, frames]
    frequencies = torch.arange(power.shape[1], dtype=torch.float64) * sample_rate / SIGNATURE_FFT
    columns = []
    for low, high in octave_bands(sample_rate):
        inside = (frequencies >= low) & ((frequencies < high) | (high == sample_rate / 2))  # the top band keeps Nyquist
        mask = inside.to(power.device)
        columns.append(power[:, mask].mean(dim=(1, 2)))
    return torch.stack(columns, dim=1)


def octave_levels(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """`[clips, octaves]`: level of each octave of the estimate minus the reference's, in dB (NaN where the reference has no power)."""
    px, py = band_powers(reference, sample_rate).double(), band_powers(estimate, sample_rate).double()
    difference = 10 * torch.log10((py + 1e-20) / (px + 1e-20))
    return torch.where(px > 1e-12, difference, torch.full_like(difference, math.nan)).float()


@dataclass(frozen=True)
class Signature:
    """A decoder's signature over a set of clips."""

    crest_median: float
    crest_p90: float
    octave_db: dict[str, float]  # octave name -> mean level difference in dB
    clips: int

    def to_dict(self) -> dict[str, object]:
        return {
            "crest_median": self.crest_median,
            "crest_p90": self.crest_p90,
            "octave_db": dict(self.octave_db),
            "clips": self.clips,
        }


class SignatureAccumulator:
    """Collects crest ratios and octave levels batch by batch, for sets too large to hold at once."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.crests: list[torch.Tensor] = []
        self.levels: list[torch.Tensor] = []

    def add(self, reference: torch.Tensor, estimate: torch.Tensor) -> None:
        self.crests.append(crest_ratios(reference, estimate).cpu())
        self.levels.append(octave_levels(reference, estimate, self.sample_rate).cpu())

    def result(self) -> Signature:
        crests = torch.cat(self.crests) if self.crests else torch.zeros(0)
        crests = crests[~crests.isnan()]
        levels = torch.cat(self.levels) if self.levels else torch.zeros(0, len(octave_names(self.sample_rate)))
        means = [float(column[~column.isnan()].mean()) if (~column.isnan()).any() else math.nan for column in levels.T]
        quantile = (lambda q: float(torch.quantile(crests, q))) if len(crests) else (lambda q: math.nan)
        return Signature(quantile(0.5), quantile(0.9), dict(zip(octave_names(self.sample_rate), means)), len(levels))


def decoder_signature(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int) -> Signature:
    """The signature of `estimate` against `reference`, both `[clips, samples]`."""
    accumulator = SignatureAccumulator(sample_rate)
    accumulator.add(reference, estimate)
    return accumulator.result()
