"""The default model: a lapped-transform (MDCT) autoencoder that learns at the frame rate.

Why this shape: on a CPU, speed of learning decides quality, and a network that
works at the sample rate (SEANet-like) is too slow to learn anything in
minutes. This model is cheap at the sample rate and rich at the frame rate:

    audio [B,1,L]
      -> MDCT analysis (fixed; unfold + matmul, window 2H, hop H, sine window) [B,H,T]
      -> K - E coefficient channels: linear projection (1x1 conv H -> K-E, PCA
         of the data's MDCT coefficients, weighted so high bands also get
         components), and E envelope channels (0 by default): a centred PCA
         of the log energies of narrow bands above 2.7 kHz (`band_energy.Bands`); plus a
         nonlinear residual correction at the frame rate (zero-initialised)  [B,K,T]  (x2 for a VAE)
    latent [B,K,T] (flattened to exactly N values by the Autoencoder wrapper)
      -> linear expansion (the projection's weighted inverse) * exp(log-gain
         gate from a frame-rate network, zero-initialised)                  [B,H,T]
      -> MDCT synthesis (fixed; matmul + overlap-add)                        [B,1,L]

Three decoders (`model.decoder`): "gain" (the default) as drawn; "gated" (the
default before 2026-12, which old checkpoints name) also adds a correction to
the coefficients and, with envelope channels, rescales bands to their energies
before the gate; "energy" gates, then restores coded band energies last
(`band_energy.py`). Why no additive correction by default: it learns to put
energy where the original has none at attacks, and those clicks are what a
listener, and `aea score`, notice first.

Why the envelope channels (optional, `model.envelope`, 0 by default): above
a few kHz a fixed coefficient subspace cannot follow where a note's partials
are (it reconstructs a fixed comb of the basis's own partials), and
log-magnitude metrics weigh those quiet bins like loud ones. A share of the
channels may code the log energy of narrow high bands instead; that trades
SNR for spectral distance, so it is a choice, not the default.

Why the gate: MR-STFT and mel are dominated by log-magnitude error in quiet
time-frequency bins, where truncation leakage makes the reconstruction too
loud. A multiplicative per-coefficient gain lets the decoder silence leakage and
restore dropped energy, which an additive correction learns far more slowly.
It cannot create energy where the linear decoding has none, so it cannot click.

The MDCT is critically sampled (H coefficients per hop of H samples) and
perfect-reconstruction, and its overlapping windows avoid the blocking edges of
rectangular frames (frame PCA), whose broadband error lands in quiet
high-frequency bins that dominate MR-STFT. After `initialize_from_data` the
model is exactly weighted PCA in the MDCT domain (plus energy matching
when it has envelope channels); training refines it.

Exact latent size (`T` frames of `K` channels, `layout_for(N, T)`): with
`T = ceil(L/H) + 1` frames, `T*H >= L + H > N`, so `K = ceil(N/T) <= H`
always. Only when `N < T` (tiny latents) the hop grows to the smallest `H'`
with `ceil(L/H') + 1 <= N`, giving one channel of `T <= N` frames; it may
grow to `MAX_HOP` = 2048, so the smallest latent is `ceil(L/2048) + 1`
(55 for 5 s at 22050 Hz; 5 for 8192 samples), below which a ConfigError says so.

The MDCT itself is fixed (buffers): the weight gradients of a 2H x H transform
would cost as much as the rest of a training step. The PCA projections are learnable, reparametrised as
`init + scale * delta` (`delta` starts at zero): under Adam this is a
per-part learning rate, so they drift slowly whatever the trainer's lr.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from ..config import ConfigError, ModelConfig
from . import band_energy
from .band_energy import Bands
from .base import Autoencoder, DataInitialized, layout_for

LOGVAR_INIT = -6.0
"""Initial log-variance of a VAE's latent (std 0.05 against unit-variance PCA channels)."""

PCA_ALPHA = 0.25
"""Per-bin weight `mean|c_j|^-alpha` before PCA: 0 is plain PCA, 1 whitens the average spectrum."""

MAX_HOP = 2048
"""Largest hop the tiny-latent rule may grow to (the MDCT basis is H x 2H floats)."""

INIT_CHUNK = 16
"""Clips analysed at a time when fitting the PCA start."""

GAIN_MAX = 3.0
"""Largest log-gain the decoder's gate may apply to a coefficient (e^3 = 20x)."""
PROJECTION_SCALE = 0.1

ENVELOPE_MIN_CHANNELS = 8
"""Latents with fewer channels per frame code coefficients only."""
ENVELOPE_GAIN_MAX = 6.0
"""Largest log-amplitude change energy matching may make to a band (e^6 = 400x)."""
ENVELOPE_START = 1 / 4
"""Where the envelope bands start, as a fraction of the Nyquist frequency (2756 Hz at 22050 Hz).

Starting lower, the bands would also rescale loud mid bands the coefficient code already holds well, at a cost in SNR."""


def smallest_latent(clip_samples: int) -> int:
    """The fewest latent values the default model can have on `clip_samples`-sample clips: one a frame at MAX_HOP."""
    return frame_count(clip_samples, MAX_HOP)


def frame_hop(latent_size: int, clip_samples: int, hop: int) -> int:
    """The hop actually used: `hop`, grown only when the latent has fewer values than frames."""
    if frame_count(clip_samples, hop) <= latent_size:
        return hop
    if smallest_latent(clip_samples) > latent_size:  # checked first: below 2 values no hop is enough
        raise ConfigError(
            f"latent {latent_size} is too small for the default model on {clip_samples}-sample clips: "
            f"it needs at least {smallest_latent(clip_samples)} values (one per {MAX_HOP}-sample frame)"
        )
    # smallest h with ceil(L/h) + 1 <= N, i.e. ceil(L/h) <= N - 1
    h = -(-clip_samples // max(latent_size - 1, 1))
    while frame_count(clip_samples, h) > latent_size:
        h += 1
    return h


def frame_count(clip_samples: int, hop: int) -> int:
    """MDCT frames `T = ceil(L/H) + 1` covering a clip of `L` samples with hop `H`."""
    return -(-clip_samples // hop) + 1


def mdct_basis(hop: int) -> torch.Tensor:
    """Orthonormal MDCT basis with a sine window, `[hop, 2*hop]` (coefficient, sample).

    `X_k = sqrt(2/H) sum_n w_n x_n cos(pi/H (n + 1/2 + H/2)(k + 1/2))`; with
    the same matrix for synthesis and overlap-add at hop H, time-domain
    aliasing cancels (Princen-Bradley) and reconstruction is exact.
    """
    n = torch.arange(2 * hop, dtype=torch.float64)
    k = torch.arange(hop, dtype=torch.float64)
    window = torch.sin(math.pi * (n + 0.5) / (2 * hop))
    phase = math.pi / hop * (n[None, :] + 0.5 + hop / 2) * (k[:, None] + 0.5)
    return (math.sqrt(2.0 / hop) * window[None, :] * torch.cos(phase)).float()


class Reparametrized(nn.Module):
    """A weight `init + scale * delta` with `init` a buffer and `delta` (zero at start) learned."""

    init: torch.Tensor  # a buffer (register_buffer), declared so that type checkers see a tensor

    def __init__(self, init: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.register_buffer("init", init.clone())
        self.delta = nn.Parameter(torch.zeros_like(init))
        self.scale = scale

    def forward(self) -> torch.Tensor:
        return self.init + self.scale * self.delta

    @torch.no_grad()
    def reset(self, value: torch.Tensor) -> None:
        """Set the weight to `value` (and `delta` to 0)."""
        self.init.copy_(value)
        self.delta.zero_()


class MDCTAnalysis(nn.Module):
    """Audio `[B,1,L]` -> coefficients `[B,H,T]`, `T = ceil(L/H) + 1` (window 2H, hop H).

    A strided convolution written as unfold + matrix product, which on a CPU is
    faster than `conv1d` / `conv_transpose1d` with a 2H-long kernel.
    """

    basis: torch.Tensor  # a buffer (register_buffer), declared so that type checkers see a tensor

    def __init__(self, hop: int) -> None:
        super().__init__()
        self.hop = hop
        self.register_buffer("basis", mdct_basis(hop))  # [H, 2H], fixed (see module doc)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        length = audio.shape[-1]
        frames = frame_count(length, self.hop)
        padded = nn.functional.pad(audio[:, 0], (self.hop, (frames + 1) * self.hop - length - self.hop))
        windows = padded.unfold(-1, 2 * self.hop, self.hop)  # [B, T, 2H]
        return torch.matmul(self.basis, windows.transpose(1, 2))


class MDCTSynthesis(nn.Module):
    """Coefficients `[B,H,T]` -> audio `[B,1,(T-1)*H]` by overlap-add (a transposed strided conv).

    Each frame gives 2H samples; frame t's second half overlaps frame t+1's
    first half, so overlap-add is one shifted sum, no `conv_transpose1d`.
    """

    basis: torch.Tensor  # a buffer (register_buffer), declared so that type checkers see a tensor

    def __init__(self, hop: int) -> None:
        super().__init__()
        self.hop = hop
        self.register_buffer("basis", mdct_basis(hop))  # [H, 2H], fixed (see module doc)

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        frames = torch.matmul(coefficients.transpose(1, 2), self.basis)  # [B, T, 2H]
        first, second = frames[..., : self.hop], frames[..., self.hop :]
        # samples [t*H, (t+1)*H) of the padded signal, t = 1..T-1: second half of frame t-1 + first half of frame t
        audio = first[:, 1:] + second[:, :-1]
        return audio.reshape(audio.shape[0], 1, -1)


class Projection(nn.Module):
    """A 1x1 convolution `[B,C_in,T] -> [B,C_out,T]` with a reparametrised weight (no bias)."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        init = torch.zeros(channels_out, channels_in)
        eye = min(channels_in, channels_out)
        init[:eye, :eye] = torch.eye(eye)
        self.weight = Reparametrized(init, PROJECTION_SCALE)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oi,bit->bot", self.weight(), features)


class ResidualBlock(nn.Module):
    """`x + conv1x1(GELU(conv_k3_dilated(GELU(x))))`, `[B,W,T] -> [B,W,T]` (frame rate)."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.activation(self.conv(self.activation(x))))


def _zeroed(conv: nn.Conv1d, bias: float = 0.0) -> nn.Conv1d:
    """`conv` with zero weights and a constant `bias`: a layer that starts as a no-op (or a fixed offset)."""
    nn.init.zeros_(conv.weight)
    assert conv.bias is not None  # nn.Conv1d's default bias=True
    nn.init.constant_(conv.bias, bias)
    return conv


class Correction(nn.Module):
    """Nonlinear frame-rate correction `[B,C_in,T] -> [B,C_out,T]`, zero at initialisation.

    Conv in (kernel 3; kernel 1 in the encoder, whose input has 2H channels),
    `blocks` residual blocks (dilations 1, 2, 4, 8: a receptive field of
    several frames), GELU, zero-initialised 1x1 out: the model starts exactly
    at its linear solution. With `channels_out` 0 it has no out layer, only the
    hidden features a decoder's gate reads.
    """

    def __init__(self, channels_in: int, channels_out: int, width: int, blocks: int, kernel: int = 3) -> None:
        super().__init__()
        self.inp = nn.Conv1d(channels_in, width, kernel, padding=kernel // 2)
        self.blocks = nn.Sequential(*[ResidualBlock(width, 2 ** (i % 4)) for i in range(blocks)])
        self.activation = nn.GELU()
        self.out: nn.Conv1d | None = None  # channels_out 0: hidden features only (the energy decoder's gate)
        if channels_out:
            self.out = _zeroed(nn.Conv1d(width, channels_out, 1))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.blocks(self.inp(x)))


def envelope_channels(channels: int, hop: int, share: float, start: float = ENVELOPE_START) -> int:
    """How many of a frame's `channels` latent channels code the band envelope (`share` of them; 0 for small latents)."""
    if channels < ENVELOPE_MIN_CHANNELS:
        return 0
    return min(round(channels * share), Bands(hop, start).count)


class EnvelopeEncoder(nn.Module):
    """Coefficients `[B,H,T]` -> envelope code `[B,E,T]`: centred PCA of the bands' log energies."""

    mean: torch.Tensor  # [bands], a buffer (register_buffer), declared so that type checkers see a tensor

    def __init__(self, hop: int, channels: int, start: float = ENVELOPE_START) -> None:
        super().__init__()
        self.bands = Bands(hop, start)
        self.register_buffer("mean", torch.zeros(self.bands.count))
        self.project = Projection(self.bands.count, channels)

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        return self.project(self.bands.log_energy(coefficients) - self.mean[:, None])


class EnvelopeDecoder(nn.Module):
    """Energy matching: coefficients `[B,H,T]` and code `[B,E,T]` -> coefficients whose bands have the coded energies.

    Closed form, so the code works before training: each band is multiplied
    by `sqrt(target / current)` energy, at most `ENVELOPE_GAIN_MAX` in log.
    """

    mean: torch.Tensor  # [bands], a buffer (register_buffer), declared so that type checkers see a tensor

    def __init__(self, hop: int, channels: int, start: float = ENVELOPE_START) -> None:
        super().__init__()
        self.bands = Bands(hop, start)
        self.register_buffer("mean", torch.zeros(self.bands.count))
        self.expand = Projection(channels, self.bands.count)

    def forward(self, coefficients: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        target = self.mean[:, None] + self.expand(code)
        log_gain = 0.5 * (target - self.bands.log_energy(coefficients))
        return self.bands.scale(coefficients, log_gain.clamp(-ENVELOPE_GAIN_MAX, ENVELOPE_GAIN_MAX))


def fit_envelope(
    encoder: EnvelopeEncoder, decoder: EnvelopeDecoder, total: torch.Tensor, gram: torch.Tensor, count: int
) -> None:
    """Centred PCA from the log energies' sum `[bands]` and Gram matrix `[bands,bands]` over `count` frames (float64).

    Channels are scaled to unit variance, as the coefficient channels are.
    """
    mean = total / count
    covariance = gram / count - mean[:, None] * mean[None, :]
    variances, eigenvectors = torch.linalg.eigh(covariance)
    channels = encoder.project.weight.init.shape[0]
    basis = eigenvectors.flip(1)[:, :channels]
    spread = variances.flip(0)[:channels].clamp_min(1e-12).sqrt()
    encoder.mean.copy_(mean.float())
    decoder.mean.copy_(mean.float())
    encoder.project.weight.reset((basis.T / spread[:, None]).float())
    decoder.expand.weight.reset((basis * spread[None]).float())


def log_features(coefficients: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """`[B,H,T]` -> `[B,2H,T]`: scaled coefficients and their log-magnitudes (what log losses see)."""
    scaled = coefficients / scale[:, None]
    return torch.cat([scaled, torch.log(scaled.square() + 1e-4)], dim=1)


class FrameEncoder(DataInitialized):
    """Audio `[B,1,L]` -> latent map `[B,K,T]` (AE) or `[B,2K,T]` (mean, log-variance; VAE).

    With `energy` (the energy decoder's encoder), the last `envelope` channels code what the linear decoding of
    the first `K - envelope` loses of each band's energy (`band_energy.py`); the correction does not touch them,
    so no loss can train the energies dark.
    """

    # Buffers (register_buffer), declared so that type checkers see tensors, not `Tensor | Module`.
    inverse: torch.Tensor  # [H, K - envelope], only with `energy`
    feature_scale: torch.Tensor  # [H]

    def __init__(
        self,
        hop: int,
        channels: int,
        envelope: int,
        width: int,
        blocks: int,
        variational: bool,
        envelope_start: float = ENVELOPE_START,
        energy: bool = False,
    ) -> None:
        super().__init__()
        self.analysis = MDCTAnalysis(hop)
        self.project = Projection(hop, channels - envelope)
        self.envelope = EnvelopeEncoder(hop, envelope, envelope_start) if envelope and not energy else None
        self.energy = band_energy.LossEncoder(hop, envelope, envelope_start) if envelope and energy else None
        if self.energy is not None:
            # A copy of the decoder's linear start: the encoder measures what it loses, and runs without the decoder.
            self.register_buffer("inverse", torch.zeros(hop, channels - envelope))
        self.variational = variational
        self.register_buffer("feature_scale", torch.ones(hop))
        corrected = channels - envelope if self.energy is not None else channels
        self.correct = Correction(2 * hop, corrected, width, blocks, kernel=1) if blocks > 0 else None
        self.logvar: nn.Conv1d | None = None
        if variational:
            self.logvar = _zeroed(nn.Conv1d(width if self.correct is not None else hop, channels, 1), LOGVAR_INIT)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        coefficients = self.analysis(audio)
        mean = self.project(coefficients)
        if self.envelope is not None:
            mean = torch.cat([mean, self.envelope(coefficients)], dim=1)
        hidden: torch.Tensor | None = None
        if self.correct is not None:
            assert self.correct.out is not None  # the encoder's correction always has an out layer
            hidden = self.correct.hidden(log_features(coefficients, self.feature_scale))
            mean = mean + self.correct.out(hidden)
        if self.energy is not None:
            linear = torch.einsum("hk,bkt->bht", self.inverse, mean)
            mean = torch.cat([mean, self.energy(coefficients, linear)], dim=1)
        if self.logvar is None:
            return mean
        logvar = self.logvar(hidden if hidden is not None else coefficients)
        return torch.cat([mean, logvar], dim=1)

    @torch.no_grad()
    def initialize_from_data(self, audio: torch.Tensor, autoencoder: Autoencoder) -> None:
        """Weighted PCA of the batch's MDCT coefficients sets both projections.

        Coefficient bin j is weighted by `w_j = mean|c_j|^-PCA_ALPHA` (partial
        whitening, so quiet high bands win components), uncentred PCA (the top
        K eigenvectors `V` of the weighted Gram matrix, accumulated over chunks
        of clips), and each latent channel is scaled to unit variance. Encoder: `diag(1/s) V^T diag(w)`; decoder: `diag(1/w) V diag(s)`,
        the right inverse that is the optimal reconstruction in the weighted norm.
        The last (partly used) channel gets the least important component.
        The decoder has no hook of its own: this one sets `autoencoder.decoder`.
        """
        decoder = autoencoder.decoder
        assert isinstance(decoder, FrameDecoder)  # a frame encoder is built with a frame decoder (build_frame)
        hop = self.analysis.hop
        # Statistics accumulated a chunk of clips at a time: memory O(H^2), not O(clips x samples).
        gram = torch.zeros(hop, hop, dtype=torch.float64, device=audio.device)
        total = torch.zeros(hop, dtype=torch.float64, device=audio.device)
        magnitude_total = torch.zeros(hop, dtype=torch.float64, device=audio.device)
        bands = self.envelope.bands if self.envelope is not None else None
        envelope_gram = (
            torch.zeros(bands.count, bands.count, dtype=torch.float64, device=audio.device) if bands else None
        )
        envelope_total = torch.zeros(bands.count, dtype=torch.float64, device=audio.device) if bands else None
        count = 0
        for chunk in audio.split(INIT_CHUNK):
            coefficients = self.analysis(chunk.float())  # [B,H,T]
            rows = coefficients.transpose(1, 2).reshape(-1, hop).double()
            gram += rows.T @ rows
            total += rows.sum(0)
            magnitude_total += rows.abs().sum(0)
            count += rows.shape[0]
            if bands is not None:
                assert envelope_gram is not None and envelope_total is not None  # made with `bands`
                log_energies = bands.log_energy(coefficients).transpose(1, 2).reshape(-1, bands.count).double()
                envelope_gram += log_energies.T @ log_energies
                envelope_total += log_energies.sum(0)
        if self.envelope is not None:
            assert decoder.envelope is not None and envelope_total is not None and envelope_gram is not None
            fit_envelope(self.envelope, decoder.envelope, envelope_total, envelope_gram, count)
        magnitude = magnitude_total / count + 1e-8
        weight = magnitude.pow(-PCA_ALPHA)
        weight = weight / weight.mean()
        weighted_gram = gram * weight[:, None] * weight[None, :]
        _, eigenvectors = torch.linalg.eigh(weighted_gram)  # eigenvalues ascending
        channels = self.project.weight.init.shape[0]
        rank = min(channels, count)  # fewer data rows than channels: the rest are unused directions
        basis = torch.zeros(hop, channels, dtype=torch.float64, device=audio.device)
        basis[:, :rank] = eigenvectors.flip(1)[:, :rank]
        mean = (total * weight) @ basis / count
        second = ((basis.T @ weighted_gram) * basis.T).sum(1) / count
        spread = ((second - mean.square()).clamp_min(0) * count / max(count - 1, 1)).sqrt().clamp_min(1e-6)
        self.project.weight.reset((basis.T * weight[None] / spread[:, None]).float())
        decoder.expand.weight.reset((basis / weight[:, None] * spread[None]).float())
        self.feature_scale.copy_(magnitude.float())
        if self.energy is not None:
            self.inverse.copy_(decoder.expand.weight.init)

            def pairs() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
                for chunk in audio.split(INIT_CHUNK):
                    coefficients = self.analysis(chunk.float())
                    yield coefficients, torch.einsum("hk,bkt->bht", self.inverse, self.project(coefficients))

            assert decoder.energy is not None  # built with the same `energy` flag as this encoder
            band_energy.fit_loss_envelope(self.energy, decoder.energy, pairs)


class FrameDecoder(nn.Module):
    """Latent map `[B,K,T]` -> audio `[B,1,(T-1)*H]` (the wrapper crops to the clip length).

    With `energy`, the last step restores each band's coded energy (`band_energy.EnergyRestorer`), after the
    gate, so nothing after it can make a band darker or a transient louder than the code says.
    """

    def __init__(
        self,
        hop: int,
        channels: int,
        envelope: int,
        width: int,
        blocks: int,
        envelope_start: float = ENVELOPE_START,
        energy: bool = False,
        additive: bool = True,
    ) -> None:
        super().__init__()
        self.coefficient_channels = channels - envelope
        self.expand = Projection(channels - envelope, hop)
        self.envelope = EnvelopeDecoder(hop, envelope, envelope_start) if envelope and not energy else None
        self.energy = band_energy.EnergyRestorer(hop, envelope, envelope_start) if envelope and energy else None
        # Without `additive` the correction only gates: an additive correction puts energy where the original has
        # none, at attacks (clicks).
        self.correct = Correction(channels, hop if additive else 0, width, blocks) if blocks > 0 else None
        self.gain: nn.Conv1d | None = None
        if blocks > 0:
            self.gain = _zeroed(nn.Conv1d(width, hop, 1))
        self.synthesis = MDCTSynthesis(hop)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        code, envelope_code = latent[:, : self.coefficient_channels], latent[:, self.coefficient_channels :]
        coefficients = self.expand(code)
        hidden: torch.Tensor | None = None
        if self.correct is not None:
            hidden = self.correct.hidden(latent)
            if self.correct.out is not None:
                coefficients = coefficients + self.correct.out(hidden)
        if self.envelope is not None:
            coefficients = self.envelope(coefficients, envelope_code)
        if hidden is not None and self.gain is not None:
            coefficients = coefficients * torch.exp(self.gain(hidden).clamp(max=GAIN_MAX))
        if self.energy is not None:
            linear = torch.einsum("hk,bkt->bht", self.expand.weight.init, code)
            coefficients = self.energy(coefficients, linear, envelope_code)
        return self.synthesis(coefficients)


def build_frame(model: ModelConfig, clip_samples: int) -> Autoencoder:
    """The default MDCT frame autoencoder for clips of `clip_samples` with exactly `model.latent` values."""
    if not 1 <= model.latent <= clip_samples:
        raise ConfigError(f"latent must be between 1 and the clip length ({clip_samples}), got {model.latent}")
    hop = frame_hop(model.latent, clip_samples, model.hop)
    layout = layout_for(model.latent, frame_count(clip_samples, hop))
    variational = model.kind == "vae"
    envelope = envelope_channels(layout.channels, hop, model.envelope, model.envelope_start)
    energy = model.decoder == "energy"
    encoder = FrameEncoder(
        hop, layout.channels, envelope, model.width, model.blocks, variational, model.envelope_start, energy
    )
    decoder = FrameDecoder(
        hop,
        layout.channels,
        envelope,
        model.width,
        model.blocks,
        model.envelope_start,
        energy,
        additive=model.decoder == "gated",
    )
    bands = Bands(hop, model.envelope_start)
    what = (
        f"the energy the coefficient code loses in {bands.count} bands from bin {bands.start} of {hop}, restored last"
        if energy
        else f"log energies of {bands.count} bands from bin {bands.start} of {hop}"
    )
    description = (
        f"MDCT hop {hop}, {layout.channels} channels per frame: {layout.channels - envelope} coefficient"
        + (f" + {envelope} envelope ({what})" if envelope else "")
        + f"; {model.decoder} decoder"
    )
    return Autoencoder(encoder, decoder, layout, clip_samples, variational, frame_hop=hop, arch_description=description)
