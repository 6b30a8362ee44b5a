"""A model's encoder and decoder as graphs of fixed clip length and any batch size, ready to trace.

Shapes: the encoder graph maps audio `[batch, clip_samples]` (float32, mono,
at the model's sample rate) to the latent `[batch, N]` (a VAE's mean); the
decoder graph maps `[batch, N]` back to `[batch, clip_samples]`. No channel
axis: a host holding clips as rows of a matrix feeds them as they are.

Everything the model does is inside: the MDCT analysis and synthesis, the
PCA projections, the corrections and gates, the latent's flattening. The one
change is how the MDCT analysis cuts frames: the model uses `unfold`, which
torch's ONNX exporter cannot export once the batch axis is dynamic, so the
graphs frame the fixed-length clip with a reshape instead (the same numbers).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..models.base import Autoencoder
from ..models.frame import MDCTAnalysis, frame_count

PARTS = ("encoder", "decoder")
INPUT_NAMES = {"encoder": "audio", "decoder": "latent"}
OUTPUT_NAMES = {"encoder": "latent", "decoder": "audio"}


class FixedLengthAnalysis(nn.Module):
    """`MDCTAnalysis` for clips of exactly `length` samples: audio `[B,1,length]` -> coefficients `[B,H,T]`.

    The padded clip is `T + 1` blocks of `H` samples; frame t is blocks t and t+1 side by side.
    """

    basis: torch.Tensor  # [H, 2H], a buffer (register_buffer), declared so that type checkers see a tensor

    def __init__(self, analysis: MDCTAnalysis, length: int) -> None:
        super().__init__()
        self.hop = analysis.hop
        self.length = length
        self.frames = frame_count(length, self.hop)
        self.register_buffer("basis", analysis.basis.detach().clone())

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        hop = self.hop
        padded = nn.functional.pad(audio[:, 0], (hop, (self.frames + 1) * hop - self.length - hop))
        blocks = padded.reshape(-1, self.frames + 1, hop)
        windows = torch.cat([blocks[:, :-1], blocks[:, 1:]], dim=-1)  # [B, T, 2H]
        return torch.matmul(self.basis, windows.transpose(1, 2))


class EncoderGraph(nn.Module):
    """Audio `[batch, clip_samples]` -> latent `[batch, N]` (the mean for a VAE)."""

    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.model.encode(audio[:, None, :])


class DecoderGraph(nn.Module):
    """Latent `[batch, N]` -> audio `[batch, clip_samples]`."""

    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.decode(latent)[:, 0, :]


def graph_of(model: Autoencoder, part: str) -> nn.Module:
    """`part` ("encoder" or "decoder") of a CPU copy of `model` as a traceable graph in eval mode; `model` is untouched."""
    copied = copy.deepcopy(model).to("cpu").eval()
    for module in list(copied.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, MDCTAnalysis):
                setattr(module, name, FixedLengthAnalysis(child, copied.clip_samples))
    graph = EncoderGraph(copied) if part == "encoder" else DecoderGraph(copied)
    return graph.eval()


def check_clips(clip_samples: int, sample_rate: int, count: int) -> torch.Tensor:
    """`[count, clip_samples]` music-like test clips: a chord with decaying notes and noise bursts, peak 0.5.

    Deterministic (a fixed seed), so an export's check is reproducible.
    """
    generator = torch.Generator().manual_seed(0)
    time = torch.arange(clip_samples, dtype=torch.float64) / sample_rate
    clips = []
    for index in range(count):
        root = 110.0 * 2 ** (index / 5)
        notes = sum(
            torch.sin(2 * math.pi * root * ratio * time) / (1 + number)
            for number, ratio in enumerate((1.0, 1.25, 1.5, 2.0))
        )
        beat = torch.exp(-((time % 0.25) * 12.0))
        noise = torch.randn(clip_samples, generator=generator, dtype=torch.float64) * torch.exp(-((time % 0.5) * 40.0))
        clip = notes * beat + 0.3 * noise
        clips.append(0.5 * clip / clip.abs().max())
    return torch.stack(clips).float()
