"""New pieces from the prior: random, continuing a song, or in the style of songs or of a label.

Each function returns `Piece`s: audio of exactly the asked length and the
facts a sidecar records (method, prior fingerprint, seed, sources, jumps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..audio import load_clip
from ..checkpoints.checkpoint import Checkpoint
from ..latents.batches import encode_clips
from ..latents.model import model_device
from ..prior.memory import EDGE_FRAMES
from ..prior.store import Prior
from .assembly import decode_frames, frames_needed, window_hop
from .errors import RequestError
from .piece import Piece, fit_peak
from .walk import WalkRequest, walk


def seconds_to_samples(checkpoint: Checkpoint, seconds: float) -> int:
    """A piece's length in samples; RequestError for one under a sample, or not a finite number."""
    rate = checkpoint.config.audio.sample_rate
    if not (math.isfinite(seconds) and round(seconds * rate) >= 1):
        raise RequestError(f"seconds must be at least one sample ({1 / rate:.3g} s), got {seconds:g}", "seconds")
    return int(round(seconds * rate))


def _piece(
    checkpoint: Checkpoint,
    prior: Prior,
    request: WalkRequest,
    samples: int,
    facts: dict[str, Any],
    first_latent: torch.Tensor | None = None,
) -> Piece:
    result = walk(prior, request)
    audio = decode_frames(checkpoint, result.frames, samples, first_latent)
    model = checkpoint.model
    exact = 0 if first_latent is None else window_hop(model.layout.frames) * model.frame_hop  # before the first fade
    audio, gain = fit_peak(audio, prior.config, exact, model.clip_samples - exact if exact else 0)
    metadata = {
        "gain": round(gain, 4),
        "method": "prior",
        "prior": str(prior.path),
        "prior_fingerprint": prior.fingerprint,
        "seed": request.seed,
        "temperature": request.temperature,
        "jumps": len(result.jumps),
        "tracks_visited": len({jump["track"] for jump in result.jumps}),
        **facts,
    }
    if exact and gain < 1:
        metadata["gain_from_seconds"] = round(exact / checkpoint.config.audio.sample_rate, 3)
    return Piece(audio, metadata)


def random_pieces(
    checkpoint: Checkpoint, prior: Prior, seconds: float, n: int, seed: int, temperature: float = 1.0
) -> list[Piece]:
    """`n` new pieces of `seconds` each; piece i uses seed `seed + i` and keeps to the style `draw_style` gives it."""
    samples = seconds_to_samples(checkpoint, seconds)
    frames = frames_needed(checkpoint, samples)
    pieces = []
    for i in range(n):
        allowed, facts = draw_style(prior, seed + i)
        request = WalkRequest(frames, seed + i, temperature, allowed=allowed)
        pieces.append(_piece(checkpoint, prior, request, samples, {"mode": "random", "index": i, **facts}))
    return pieces


def draw_style(prior: Prior, seed: int) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """The memory clips `[clips]` a random piece may play (None: all) and the facts its sidecar records.

    With `[prior] piece_style = "label"` a piece keeps to one label (clips
    without one count as one more), drawn by its share of the memory: one
    style a piece, as a song has one, and each style as often as the data.
    A label of fewer than `style_tracks` tracks (the prior's config) plays the
    whole memory, since the walk must leave a track to make new music.
    """
    memory = prior.memory
    if prior.config.piece_style != "label" or not bool((memory.labels >= 0).any()):
        return None, {"style": "whole memory"}
    generator = torch.Generator().manual_seed((2 * seed + 1) % 2**63)  # a stream apart from the walk's
    drawn = int(memory.labels[torch.randint(memory.clips, (1,), generator=generator)])
    allowed = memory.labels == drawn
    if len(memory.tracks[allowed].unique()) < prior.config.style_tracks:
        return None, {"style": "whole memory"}
    label = memory.label_names[drawn] if drawn >= 0 else None
    return allowed, {"style": "one label", "label": label, "style_clips": int(allowed.sum())}


def continuation(
    checkpoint: Checkpoint,
    prior: Prior,
    source: str,
    seconds: float,
    seed: int,
    temperature: float = 1.0,
    offset: float = 0.0,
    prime_seconds: float | None = None,
) -> Piece:
    """`source`'s opening (`prime_seconds` from `offset`, at most one clip) reconstructed, then continued by
    the prior to `seconds` in all. With a whole clip as the opening, the piece's first three quarters of a
    clip (before the first window's crossfade) are exactly its reconstruction."""
    audio_config, model = checkpoint.config.audio, checkpoint.model
    prime_seconds = audio_config.clip_seconds if prime_seconds is None else prime_seconds
    if not 0 < prime_seconds <= audio_config.clip_seconds:
        raise RequestError(
            f"prime_seconds must be more than 0 and at most one clip ({audio_config.clip_seconds:g} s), "
            f"got {prime_seconds:g}",
            "prime_seconds",
        )
    samples = seconds_to_samples(checkpoint, seconds)
    prime_samples = int(round(prime_seconds * audio_config.sample_rate))
    if samples < prime_samples:
        raise RequestError(
            f"seconds ({seconds:g}) is shorter than the opening it continues (prime_seconds {prime_seconds:g})",
            "seconds",
            "prime_seconds",
        )
    clip = load_clip(source, audio_config, offset, np.random.default_rng(0)).samples.copy()
    clip[prime_samples:] = 0.0
    latent = encode_clips(model, torch.from_numpy(clip).view(1, 1, -1), 1, model_device(checkpoint))
    whole = prime_samples == model.clip_samples
    prime = model.frames_of(latent)[0, :, : None if whole else -(-prime_samples // model.frame_hop) + EDGE_FRAMES]
    request = WalkRequest(frames_needed(checkpoint, samples), seed, temperature, prime=prime)
    facts = {"mode": "continue", "sources": [source], "offset": offset, "prime_seconds": prime_seconds}
    return _piece(checkpoint, prior, request, samples, facts, first_latent=latent[0] if whole else None)


def style_mask(prior: Prior, maps: torch.Tensor) -> torch.Tensor:
    """Memory clips `[clips]` bool: the `style_share` (at least `style_min_clips`, the prior's config) nearest to
    each of the sources' latent maps `[sources, channels, frames]`, by the mean and spread of their phase-free
    features. Each source gets its own neighbours, so no one source's style (nor clips near all of them) crowds
    the others out."""
    if prior.cache.get("style") is None:  # the memory's side, once per loaded prior
        prior.cache["style"] = _pooled_features(prior, prior.memory.frames)
    distance = torch.cdist(prior.cache["style"], _pooled_features(prior, maps))  # [clips, sources]
    config = prior.config
    keep = min(len(distance), max(config.style_min_clips, round(config.style_share * len(distance))))
    mask = torch.zeros(len(distance), dtype=torch.bool)
    for column in distance.T:
        mask[torch.topk(column, keep, largest=False).indices] = True
    return mask


def _pooled_features(prior: Prior, maps: torch.Tensor) -> torch.Tensor:
    """Mean and spread over time `[maps, 2 * dims]` of the phase-free features of latent maps `[maps, channels, frames]`."""
    features = prior.features(maps)[:, EDGE_FRAMES:-EDGE_FRAMES]
    return torch.cat([features.mean(1), features.std(1)], dim=1)


def label_mask(prior: Prior, label: str) -> torch.Tensor:
    names = prior.memory.label_names
    if label not in names:
        raise RequestError(f"no label {label!r} in the prior's memory; labels: {', '.join(names) or '(none)'}", "label")
    mask = prior.memory.labels == names.index(label)
    if not bool(mask.any()):
        raise RequestError(f"label {label!r} has no clip in the prior's memory", "label")
    return mask


def style_pieces(
    checkpoint: Checkpoint,
    prior: Prior,
    seconds: float,
    n: int,
    seed: int,
    temperature: float = 1.0,
    sources: Sequence[str] = (),
    label: str | None = None,
    source_maps: torch.Tensor | None = None,
) -> list[Piece]:
    """`n` pieces in the mixed style of `sources` (their latent maps `source_maps`) or of a label's training clips."""
    facts: dict[str, Any]
    if label is not None:
        allowed, facts = label_mask(prior, label), {"label": label}
    elif source_maps is not None and len(source_maps):
        allowed, facts = style_mask(prior, source_maps), {"sources": list(sources)}
    else:
        raise RequestError("average needs sources (songs or latent files) or a label", "sources", "label")
    samples = seconds_to_samples(checkpoint, seconds)
    frames = frames_needed(checkpoint, samples)
    facts = {"mode": "average", **facts, "style_clips": int(allowed.sum())}
    return [
        _piece(
            checkpoint,
            prior,
            WalkRequest(frames, seed + i, temperature, allowed=allowed),
            samples,
            {**facts, "index": i},
        )
        for i in range(n)
    ]
