"""`aea generate`: one request and the method each mode uses (`writing` writes the files).

Methods per mode (the default first):
- random: `prior` (a walk over the run's prior; without one, `gaussian` with a
  note), `gaussian` (the fitted latent Gaussian; `naive` N(0, 1)).
- continue: `prior` only: a song's opening, reconstructed, then continued.
- average: `prior` (a piece in the style of the sources or of a label),
  `mean` (the plain mean latent, as the original assignment did).
- interpolate: `linear` or `slerp` between two sources.
`--seconds` sets the length of prior and Gaussian pieces; the others are one clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from . import latent_methods as gen
from ..audio import CropMode
from ..checkpoints.checkpoint import Checkpoint
from ..latents.batches import decode_latents
from ..latents.failures import LatentError, Progress
from ..latents.model import model_device
from ..latents.overlap import join_clips
from ..prior.store import Prior, PriorError, load_prior, prior_path
from .assembly import window_hop
from .piece import Piece
from .prior_methods import continuation, random_pieces, style_pieces

CONTINUE_SECONDS = 20.0
"""A continuation's length when --seconds is not given (the opening included)."""

METHODS = {"random": ("prior", "gaussian"), "continue": ("prior",), "average": ("prior", "mean"),
           "interpolate": ("linear", "slerp")}


@dataclass(frozen=True)
class GenerateRequest:
    """Everything `aea generate` was asked, with None for what was not given."""

    mode: str
    method: str | None = None
    seconds: float | None = None
    n: int = 1
    seed: int | None = None
    temperature: float = 1.0
    naive: bool = False
    sources: tuple[str, ...] = ()
    weights: tuple[float, ...] | None = None
    label: str | None = None
    data_root: Path | None = None
    steps: int = 5
    morph: bool = False
    crop: CropMode = "center"
    offset: float | None = None
    prime_seconds: float | None = None
    prior: Path | None = None
    cache_dir: Path | None = None
    batch_size: int = 16


@dataclass
class Outcome:
    pieces: list[Piece]
    notes: list[str] = field(default_factory=list)


def find_prior(checkpoint: Checkpoint, path: Path | None) -> Prior | None:
    """The prior given, else the one beside the checkpoint (None when there is none); checked against the model."""
    candidate = Path(path) if path is not None else prior_path(checkpoint.path.parent)
    if path is None and not candidate.exists():
        return None
    prior = load_prior(candidate)
    prior.check_belongs_to(checkpoint)
    return prior


def choose_method(request: GenerateRequest, prior: Prior | None) -> tuple[str, list[str]]:
    """The method to use and any one-line note about the choice; LatentError for one the mode has not."""
    allowed = METHODS[request.mode]
    if request.method is not None and request.method not in allowed:
        raise LatentError(f"--method {request.method} is not for --mode {request.mode}; use {' or '.join(allowed)}")
    method = request.method or ("gaussian" if request.mode == "random" and request.naive else allowed[0])
    if method == "prior" and prior is None:
        if request.method is None and request.mode in ("random", "average"):
            fallback = allowed[1]
            return fallback, [f"no prior for this model: using --method {fallback} (train one with 'aea train-prior')"]
        raise PriorError(f"--mode {request.mode} needs a prior: train one with 'aea train-prior' (or pass --prior FILE)")
    if request.naive and method != "gaussian":
        raise LatentError("--naive draws unscaled Gaussian vectors: use it with --mode random --method gaussian")
    if request.weights is not None and method != "mean":
        raise LatentError(f"--weights weighs the sources of --method mean, not of --method {method}")
    if request.seconds is not None and method not in ("prior", "gaussian"):
        raise LatentError(f"--seconds sets the length of prior and gaussian pieces; --method {method} gives one clip")
    return method, []


def generate_pieces(checkpoint: Checkpoint, request: GenerateRequest, progress: Progress | None = None,
                    prior: Prior | None = None) -> Outcome:
    """The pieces `request` asks for, decoded to audio; `prior`: one already loaded (else `find_prior`)."""
    if prior is None and "prior" in METHODS[request.mode]:
        prior = find_prior(checkpoint, request.prior)
    method, notes = choose_method(request, prior)
    seed = gen.new_seed() if request.seed is None else request.seed
    seconds = request.seconds or checkpoint.config.audio.clip_seconds
    if method == "prior" and request.mode == "random":
        return Outcome(random_pieces(checkpoint, prior, seconds, request.n, seed, request.temperature), notes)
    if method == "prior" and request.mode == "continue":
        if len(request.sources) != 1:
            raise LatentError(f"--mode continue takes one song (--from SONG), got {len(request.sources)}")
        piece = continuation(checkpoint, prior, request.sources[0], request.seconds or CONTINUE_SECONDS, seed,
                             request.temperature, request.offset or 0.0, request.prime_seconds)
        return Outcome([piece], notes)
    if method == "prior":
        maps = None if request.label else source_maps(checkpoint, request.sources, request.crop, request.offset)
        return Outcome(style_pieces(checkpoint, prior, seconds, request.n, seed, request.temperature, request.sources,
                                    request.label, maps), notes)
    if method == "gaussian":
        return Outcome(gaussian_pieces(checkpoint, request, seed, seconds), notes)
    return Outcome(_clip_pieces(checkpoint, request, progress), notes)


def source_maps(checkpoint: Checkpoint, sources: Sequence[str], crop: CropMode, offset: float | None) -> torch.Tensor:
    """Latent maps `[sources, channels, frames]` of one clip of each source song."""
    if not sources:
        raise LatentError("average needs --from FILE... (songs) or --label L")
    latents = gen.source_latents(checkpoint, sources, crop, offset)
    return checkpoint.model.frames_of(latents)


def gaussian_pieces(checkpoint: Checkpoint, request: GenerateRequest, seed: int, seconds: float) -> list[Piece]:
    """Samples of the fitted Gaussian (or naive N(0, 1)), clip windows joined to `seconds`."""
    model, audio = checkpoint.model, checkpoint.config.audio
    samples = int(round(seconds * audio.sample_rate))
    hop = window_hop(model.layout.frames) * model.frame_hop
    windows = max(0, -(-(samples - model.clip_samples) // hop)) + 1
    pieces = []
    for index in range(request.n):
        drawn = gen.sample_random(checkpoint, windows, seed + index, request.temperature, request.naive)
        clips = decode_latents(model, drawn.latents, request.batch_size, model_device(checkpoint))[:, 0].numpy()
        metadata = {**drawn.metadata, "method": "gaussian", "seed": seed + index, "index": index, "n": request.n}
        pieces.append(Piece(join_clips(clips, hop, samples), metadata))
    return pieces


def _clip_pieces(checkpoint: Checkpoint, request: GenerateRequest, progress: Progress | None) -> list[Piece]:
    """The plain mean latent, or an interpolation: clips decoded as `generate` always did."""
    if request.mode == "average":
        generation = gen.average(checkpoint, request.sources, request.weights, request.label, request.data_root,
                                 request.cache_dir, request.crop, request.offset, request.batch_size, progress)
        generation.metadata["method"] = "mean"
    else:
        generation = gen.interpolate(checkpoint, request.sources, request.steps, request.method or "linear", request.morph,
                                     request.crop, request.offset, request.batch_size)
    clips = decode_latents(checkpoint.model, generation.latents, request.batch_size, model_device(checkpoint))[:, 0].numpy()
    if generation.morph:
        hop = max(1, checkpoint.config.audio.clip_samples // 2)
        return [Piece(join_clips(clips, hop), {**generation.metadata, "hop_samples": hop,
                                               "t": [item.get("t") for item in generation.per_item]})]
    return [Piece(clip, {**generation.metadata, **extra}) for clip, extra in zip(clips, generation.per_item)]
