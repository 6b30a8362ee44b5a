"""The autoencoder wrapper shared by every architecture.

An architecture supplies an encoder mapping audio `[batch, 1, samples]` to a
feature map `[batch, channels * (2 if variational else 1), frames]` and a
decoder mapping `[batch, channels, frames]` back to `[batch, 1, samples']`.
This wrapper turns the feature map into a flat latent of exactly
`latent_size` values: the map is flattened channel-major and cut to
`latent_size`, so when `channels * frames` exceeds it, the last channel
covers only its first frames (the decoder sees zeros for the rest). For a
variational model the map carries mean and log-variance channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LatentLayout:
    """How `size` latent values are laid out as `[channels, frames]`."""

    size: int
    channels: int
    frames: int

    def __post_init__(self) -> None:
        capacity = self.channels * self.frames
        if not (capacity - self.frames < self.size <= capacity):
            raise ValueError(f"latent size {self.size} does not fit {self.channels} x {self.frames}")

    @property
    def unused(self) -> int:
        """Positions of the last channel left empty."""
        return self.channels * self.frames - self.size

    def describe(self) -> str:
        if self.unused == 0:
            return f"{self.size} = {self.channels} channels x {self.frames} frames"
        used = self.frames - self.unused
        return (
            f"{self.size} = {self.channels} channels x {self.frames} frames - {self.unused} "
            f"(the last channel covers the first {used} frames)"
        )


def layout_for(latent_size: int, frames: int) -> LatentLayout:
    """The fewest channels of `frames` frames that hold `latent_size` values."""
    frames = min(frames, latent_size)
    channels = -(-latent_size // frames)
    return LatentLayout(latent_size, channels, frames)


class DataInitialized(nn.Module):
    """An encoder or decoder whose start is fitted to data (e.g. the MDCT front end's linear optimum)."""

    def initialize_from_data(self, audio: torch.Tensor, autoencoder: Autoencoder) -> None:
        """Fit the start to a batch `[batch, 1, clip_samples]`, with the whole `autoencoder` at hand."""
        raise NotImplementedError


class Autoencoder(nn.Module):
    """Encoder, decoder and the exact-size latent between them.

    Shapes: audio `[batch, 1, clip_samples]`; latent `[batch, latent_size]`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        layout: LatentLayout,
        clip_samples: int,
        variational: bool,
        frame_hop: int,
        arch_description: str = "",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.layout = layout
        self.clip_samples = clip_samples
        self.variational = variational
        self.frame_hop = frame_hop
        """Samples per latent frame: frame t of a clip's `[channels, frames]` map starts near sample t * frame_hop."""
        self.arch_description = arch_description
        """What the architecture is, in words (shown by `aea info`)."""

    @property
    def latent_size(self) -> int:
        return self.layout.size

    def _flatten(self, features: torch.Tensor) -> torch.Tensor:
        """`[batch, channels, frames]` -> `[batch, latent_size]`."""
        expected = (self.layout.channels, self.layout.frames)
        if tuple(features.shape[1:]) != expected:
            raise RuntimeError(f"encoder produced {tuple(features.shape[1:])}, expected {expected}")
        return features.flatten(1)[:, : self.layout.size]

    def encode_distribution(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mean `[batch, latent_size]` and log-variance (None for a plain AE)."""
        features = self.encoder(audio)
        if not self.variational:
            return self._flatten(features), None
        mean, logvar = features.chunk(2, dim=1)
        return self._flatten(mean), self._flatten(logvar).clamp(-30.0, 20.0)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """The deterministic latent (the mean for a VAE): `[batch, latent_size]`."""
        return self.encode_distribution(audio)[0]

    def frames_of(self, latent: torch.Tensor) -> torch.Tensor:
        """`[batch, latent_size]` -> the latent map `[batch, channels, frames]` (unused positions are zeros)."""
        padded = nn.functional.pad(latent, (0, self.layout.unused))
        return padded.view(latent.shape[0], self.layout.channels, self.layout.frames)

    def latent_of(self, frames: torch.Tensor) -> torch.Tensor:
        """The latent map `[batch, channels, frames]` -> `[batch, latent_size]` (the inverse of `frames_of`)."""
        return frames.flatten(1)[:, : self.layout.size]

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """`[batch, latent_size]` -> audio `[batch, 1, clip_samples]`."""
        if latent.dim() != 2 or latent.shape[1] != self.layout.size:
            raise ValueError(f"latent must be [batch, {self.layout.size}], got {list(latent.shape)}")
        audio = self.decoder(self.frames_of(latent))
        return fit_length(audio, self.clip_samples)

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction plus what the losses need: `recon`, `latent`, and for a VAE `kl`."""
        mean, logvar = self.encode_distribution(audio)
        outputs: dict[str, torch.Tensor] = {}
        latent = mean
        if logvar is not None:
            if self.training:
                latent = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
            outputs["kl"] = kl.sum(dim=1).mean() / self.layout.size
        outputs["latent"] = latent
        outputs["recon"] = self.decode(latent)
        return outputs

    @torch.no_grad()
    def initialize_from_data(self, audio: torch.Tensor) -> None:
        """Data-dependent initialisation from a batch `[batch, 1, clip_samples]`, where the arch has one."""
        for part in (self.encoder, self.decoder):
            if isinstance(part, DataInitialized):
                part.initialize_from_data(audio, self)


def fit_length(audio: torch.Tensor, samples: int) -> torch.Tensor:
    """Crop or zero-pad the last axis to exactly `samples`."""
    length = audio.shape[-1]
    if length > samples:
        return audio[..., :samples]
    if length < samples:
        return nn.functional.pad(audio, (0, samples - length))
    return audio
