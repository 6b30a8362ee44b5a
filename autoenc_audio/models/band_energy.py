"""The energy decoder's band envelope: code what the coefficient code loses of each band's energy, restore it last.

A linear coefficient code (the frame model's PCA) keeps the loud, predictable
part of the spectrum and loses energy wherever it has too few components: the
top octaves, noise, the attack of a drum. A waveform loss then trains the rest
of the model to keep it dark, because a quiet guess has the smaller squared
error. The energy decoder stops that by construction, as CELT's gain-shape
split does:

- the encoder measures, per narrow band and frame, how much energy the linear
  decoding of its own coefficient code lacks: `log E(original) - log E(linear)`
  (energies pooled over three frames, so a steady tone's MDCT phase swing does
  not count), and codes that log ratio with a centred PCA in `E` latent
  channels. Bands the code holds well have a ratio near 0, so the few envelope
  channels are spent where energy is lost;
- the decoder computes the same linear decoding from the latent, adds the
  decoded ratio to its energy (the target), and rescales each band of its
  output, as the very last step, to that target. A band may be amplified at
  most `exp(FILL_GAIN)` times; the energy still missing is filled with fixed
  noise, so a band whose decoded shape holds only leakage is not blown up into
  a click.

Shapes: coefficients `[B,H,T]`, codes `[B,K,T]`, envelope codes `[B,E,T]`, log
energies `[B,bands,T]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

ENERGY_EPS = 1e-10
"""Added to band energies (mean squared MDCT coefficient) before the log."""
FILL_GAIN = 1.0
"""Largest log-amplitude gain (e^1 = 2.7x) a band's decoded shape gets; noise fills the rest of its energy."""
NOISE_FRAMES = 64
"""Frames of fixed noise tiled over a clip to fill bands."""
BAND_BINS = 128
"""Bands are hop / 128 MDCT bins wide (4 bins, 86 Hz, at hop 512 and 22050 Hz)."""


class Bands:
    """Equal bands of `hop // BAND_BINS` MDCT bins from bin `int(hop * start)` up, and their energies.

    `smooth`: energies pooled over frames t-1, t, t+1 (1/4, 1/2, 1/4), as the energy decoder measures them.
    """

    def __init__(self, hop: int, start: float, smooth: bool = False) -> None:
        self.hop = hop
        self.smooth = smooth
        self.width = max(hop // BAND_BINS, 1)
        self.start = int(hop * start)
        self.count = (hop - self.start) // self.width
        self.end = self.start + self.count * self.width

    def split(self, coefficients: torch.Tensor) -> torch.Tensor:
        """`[B,H,T]` -> `[B,bands,width,T]`."""
        batch, _, frames = coefficients.shape
        return coefficients[:, self.start : self.end].reshape(batch, self.count, self.width, frames)

    def log_energy(self, coefficients: torch.Tensor) -> torch.Tensor:
        """`[B,H,T]` -> `[B,bands,T]`: log mean square of each band's coefficients."""
        energy = self.split(coefficients).square().mean(2)
        if self.smooth:
            padded = nn.functional.pad(energy, (1, 1), mode="replicate")
            energy = 0.25 * padded[..., :-2] + 0.5 * padded[..., 1:-1] + 0.25 * padded[..., 2:]
        return torch.log(energy + ENERGY_EPS)

    def scale(self, coefficients: torch.Tensor, log_gain: torch.Tensor) -> torch.Tensor:
        """Multiply each band of `[B,H,T]` by `exp(log_gain)` `[B,bands,T]`; bins outside the bands unchanged."""
        batch, _, frames = coefficients.shape
        inside = (self.split(coefficients) * log_gain.exp()[:, :, None]).reshape(batch, -1, frames)
        return torch.cat([coefficients[:, : self.start], inside, coefficients[:, self.end :]], dim=1)

    def unit_noise(self) -> torch.Tensor:
        """Fixed noise `[H, NOISE_FRAMES]` with a mean square of exactly 1 in every band and frame (0 outside)."""
        noise = torch.randn(self.hop, NOISE_FRAMES, generator=torch.Generator().manual_seed(0))
        energy = self.split(noise[None]).square().mean(2)
        noise = self.scale(noise[None], -0.5 * torch.log(energy))[0]
        noise[: self.start] = 0
        noise[self.end :] = 0
        return noise


def linear_loss(bands: Bands, coefficients: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
    """`[B,bands,T]`: log energy of the original over its linear decoding's, per band and frame."""
    return bands.log_energy(coefficients) - bands.log_energy(linear)


class LossEncoder(nn.Module):
    """Coefficients and their linear decoding `[B,H,T]` -> envelope code `[B,E,T]` (centred PCA of `linear_loss`)."""

    # Buffers (register_buffer), declared so that type checkers see tensors, not `Tensor | Module`.
    mean: torch.Tensor  # [bands]
    project: torch.Tensor  # [E, bands]

    def __init__(self, hop: int, channels: int, start: float) -> None:
        super().__init__()
        self.bands = Bands(hop, start, smooth=True)
        self.register_buffer("mean", torch.zeros(self.bands.count))
        self.register_buffer("project", torch.zeros(channels, self.bands.count))

    def forward(self, coefficients: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
        loss = linear_loss(self.bands, coefficients, linear) - self.mean[:, None]
        return torch.einsum("ex,bxt->bet", self.project, loss)


class EnergyRestorer(nn.Module):
    """Decoded coefficients, their linear decoding and the envelope code -> coefficients with the coded band energies."""

    # Buffers (register_buffer), declared so that type checkers see tensors, not `Tensor | Module`.
    mean: torch.Tensor  # [bands]
    expand: torch.Tensor  # [bands, E]
    noise: torch.Tensor  # [bands, NOISE_FRAMES]

    def __init__(self, hop: int, channels: int, start: float) -> None:
        super().__init__()
        self.bands = Bands(hop, start, smooth=True)
        self.register_buffer("mean", torch.zeros(self.bands.count))
        self.register_buffer("expand", torch.zeros(self.bands.count, channels))
        self.register_buffer("noise", self.bands.unit_noise(), persistent=False)  # the same seed makes the same noise

    def target(self, linear: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """`[B,bands,T]`: the band log energies the output must have."""
        return self.bands.log_energy(linear) + self.mean[:, None] + torch.einsum("xe,bet->bxt", self.expand, code)

    def forward(self, coefficients: torch.Tensor, linear: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        target = self.target(linear, code)
        current = self.bands.log_energy(coefficients)
        log_gain = (0.5 * (target - current)).clamp(max=FILL_GAIN)  # never a floor: the shape's scale is free
        missing = (target.exp() - (current + 2 * log_gain).exp()).clamp_min(0)
        frames = coefficients.shape[-1]
        # the batch as `shape[0]`, not `len()`: a traced graph (`aea export`) then keeps its batch axis free
        noise = self.noise.repeat(1, -(-frames // NOISE_FRAMES))[None, :, :frames].expand(coefficients.shape[0], -1, -1)
        fill = self.bands.scale(noise, 0.5 * torch.log(missing + ENERGY_EPS))
        return self.bands.scale(coefficients, log_gain) + fill


@torch.no_grad()
def fit_loss_envelope(
    encoder: LossEncoder, restorer: EnergyRestorer, pairs: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]]
) -> None:
    """Centred PCA of `linear_loss` over `(coefficients, linear decoding)` chunks (`pairs()` yields them, and is
    called twice), then a per-band shift so that the restored mean power of each band equals the original's (a
    truncated PCA of log energies smooths their peaks, and mean power is dominated by the peaks)."""
    bands, count = encoder.bands, 0
    total = torch.zeros(bands.count, dtype=torch.float64)
    gram = torch.zeros(bands.count, bands.count, dtype=torch.float64)
    for coefficients, linear in pairs():
        rows = linear_loss(bands, coefficients, linear).transpose(1, 2).reshape(-1, bands.count).double().cpu()
        total += rows.sum(0)
        gram += rows.T @ rows
        count += len(rows)
    mean = total / count
    variances, vectors = torch.linalg.eigh(gram / count - mean[:, None] * mean[None])
    channels = encoder.project.shape[0]
    basis, spread = vectors.flip(1)[:, :channels], variances.flip(0)[:channels].clamp_min(1e-12).sqrt()
    device = encoder.mean.device
    encoder.mean.copy_(mean.float().to(device))
    encoder.project.copy_((basis.T / spread[:, None]).float().to(device))
    restorer.mean.copy_(mean.float().to(device))
    restorer.expand.copy_((basis * spread[None]).float().to(device))
    original = torch.zeros(bands.count, dtype=torch.float64)
    restored = torch.zeros_like(original)
    for coefficients, linear in pairs():
        original += bands.log_energy(coefficients).exp().sum((0, 2)).double().cpu()
        restored += restorer.target(linear, encoder(coefficients, linear)).exp().sum((0, 2)).double().cpu()
    restorer.mean += torch.log((original + 1e-30) / (restored + 1e-30)).float().to(device)
