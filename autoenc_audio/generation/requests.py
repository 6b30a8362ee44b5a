"""`aea generate`: one request and the method each mode uses (`writing` writes the files).

Every piece's metadata records the request as carried out (`request`: the
method and seed chosen, the length resolved) and, for the prior's methods,
every setting of the prior (`prior_settings`), so that its sidecar alone
regenerates it (`regenerate`).

Methods per mode (the default first):
- random: `prior` (a walk over the run's prior; without one, `gaussian` with a
  note), `gaussian` (the fitted latent Gaussian; `naive` N(0, 1)).
- continue: `prior` only: a song's opening, reconstructed, then continued.
- average: `prior` (a piece in the style of the sources or of a label),
  `mean` (the plain mean latent, as the original assignment did).
- interpolate: `linear` or `slerp` between two sources.
`seconds` sets the length of prior and Gaussian pieces; the others are one clip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..audio import CropMode
from ..checkpoints.checkpoint import Checkpoint
from ..latents.batches import decode_latents
from ..latents.failures import Progress
from ..latents.model import model_device
from ..latents.overlap import join_clips
from ..prior.header import prior_path
from ..prior.store import Prior, load_prior
from . import latent_methods as gen
from .assembly import window_hop, windows_needed
from .errors import RequestError
from .piece import Piece
from .prior_methods import continuation, random_pieces, style_pieces

CONTINUE_SECONDS = 20.0
"""A continuation's length when `seconds` is not given (the opening included)."""

METHODS = {
    "random": ("prior", "gaussian"),
    "continue": ("prior",),
    "average": ("prior", "mean"),
    "interpolate": ("linear", "slerp"),
}


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


RECORDED_ELSEWHERE = ("cache_dir",)
"""Request fields a sidecar leaves out: where to cache, not what to make."""


@dataclass
class Outcome:
    """The pieces, notes on how the request was read (a fallback method) and warnings the user must see
    (each also in the metadata of the pieces it concerns)."""

    pieces: list[Piece]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def request_record(request: GenerateRequest) -> dict[str, Any]:
    """The request as JSON-able values (paths as strings, tuples as lists), for a sidecar."""
    record = {}
    for item in dataclasses.fields(request):
        value = getattr(request, item.name)
        if item.name not in RECORDED_ELSEWHERE:
            record[item.name] = (
                str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value
            )
    return record


def request_from_record(record: dict[str, Any], cache_dir: Path | None = None) -> GenerateRequest:
    """The request a sidecar's `request` recorded; RequestError naming a field this aea does not know."""
    known = {item.name for item in dataclasses.fields(GenerateRequest)}
    unknown = sorted(set(record) - known)
    if unknown:
        raise RequestError(f"recorded request fields unknown to this aea: {', '.join(unknown)}")
    values = dict(record)
    for name in ("data_root", "prior"):
        values[name] = Path(values[name]) if values.get(name) is not None else None
    values["sources"] = tuple(values.get("sources") or ())
    values["weights"] = tuple(values["weights"]) if values.get("weights") is not None else None
    return GenerateRequest(**values, cache_dir=cache_dir)


def find_prior(checkpoint: Checkpoint, path: Path | None) -> Prior | None:
    """The prior given, else the one beside the checkpoint (None when there is none); checked against the model."""
    candidate = Path(path) if path is not None else prior_path(checkpoint.path.parent)
    if path is None and not candidate.exists():
        return None
    prior = load_prior(candidate)
    prior.check_belongs_to(checkpoint)
    return prior


def choose_method(request: GenerateRequest, prior: Prior | None) -> tuple[str, list[str]]:
    """The method to use and any one-line note about the choice; RequestError for one the mode has not."""
    allowed = METHODS[request.mode]
    if request.method is not None and request.method not in allowed:
        raise RequestError(
            f"method {request.method!r} is not for mode {request.mode!r}; use {' or '.join(map(repr, allowed))}",
            "method",
            "mode",
        )
    method = request.method or ("gaussian" if request.mode == "random" and request.naive else allowed[0])
    if method == "prior" and prior is None:
        if request.method is None and request.mode in ("random", "average"):
            fallback = allowed[1]
            return fallback, [f"no prior for this model: using method {fallback!r} (train one with 'aea train-prior')"]
        raise RequestError(
            f"mode {request.mode!r} needs a prior: train one with 'aea train-prior', or give the path of one", "prior"
        )
    if request.naive and method != "gaussian":
        raise RequestError(
            f"naive draws unscaled Gaussian vectors: it is for mode 'random' with method 'gaussian', "
            f"not method {method!r}",
            "naive",
            "method",
        )
    if request.weights is not None and method != "mean":
        raise RequestError(f"weights weigh the sources of method 'mean', not of method {method!r}", "weights", "method")
    if request.seconds is not None and method not in ("prior", "gaussian"):
        raise RequestError(
            f"seconds sets the length of prior and gaussian pieces; method {method!r} gives one clip",
            "seconds",
            "method",
        )
    return method, []


def generate_pieces(
    checkpoint: Checkpoint, request: GenerateRequest, progress: Progress | None = None, prior: Prior | None = None
) -> Outcome:
    """The pieces `request` asks for, decoded to audio; `prior`: one already loaded (else `find_prior`).

    Each piece's metadata holds the request as carried out (`request`) and, for the prior's methods, the prior's
    settings (`prior_settings`); warnings (a checkpoint without latent statistics) are on the outcome too.
    """
    if prior is None and "prior" in METHODS[request.mode]:
        prior = find_prior(checkpoint, request.prior)
    method, notes = choose_method(request, prior)
    carried = carried_out(checkpoint, request, method)
    pieces = _pieces(checkpoint, carried, progress, prior)
    settings: dict[str, Any] = {"request": request_record(carried)}
    if method == "prior" and prior is not None:
        settings["prior_settings"] = dataclasses.asdict(prior.config)
    for piece in pieces:
        piece.metadata.update(settings)
    warnings = list(dict.fromkeys(w for piece in pieces for w in piece.metadata.get("warnings", [])))  # each once
    return Outcome(pieces, notes, warnings)


def carried_out(checkpoint: Checkpoint, request: GenerateRequest, method: str) -> GenerateRequest:
    """`request` with what was left to aea made explicit: the method, the seed and the length of a prior or Gaussian
    piece (one clip; a continuation CONTINUE_SECONDS), so that the record of it alone repeats it."""
    seconds = request.seconds
    if method in ("prior", "gaussian"):
        seconds = seconds or (CONTINUE_SECONDS if request.mode == "continue" else checkpoint.config.audio.clip_seconds)
    seed = gen.new_seed() if request.seed is None else request.seed
    return dataclasses.replace(request, method=method, seed=seed, seconds=seconds)


def _pieces(
    checkpoint: Checkpoint, request: GenerateRequest, progress: Progress | None, prior: Prior | None
) -> list[Piece]:
    """The pieces of a request carried out (`carried_out`: method, seed and length given)."""
    method, seed, seconds = request.method, request.seed or 0, request.seconds or 0.0
    if method == "prior":
        if prior is None:
            raise RequestError(f"mode {request.mode!r} needs a prior", "prior")
        if request.mode == "random":
            return random_pieces(checkpoint, prior, seconds, request.n, seed, request.temperature)
        if request.mode == "continue":
            if len(request.sources) != 1:
                raise RequestError(f"mode 'continue' takes one source song, got {len(request.sources)}", "sources")
            return [
                continuation(
                    checkpoint,
                    prior,
                    request.sources[0],
                    seconds,
                    seed,
                    request.temperature,
                    request.offset or 0.0,
                    request.prime_seconds,
                )
            ]
        maps = None if request.label else source_maps(checkpoint, request.sources, request.crop, request.offset)
        return style_pieces(
            checkpoint, prior, seconds, request.n, seed, request.temperature, request.sources, request.label, maps
        )
    if method == "gaussian":
        return gaussian_pieces(checkpoint, request, seed, seconds)
    return _clip_pieces(checkpoint, request, progress)


def source_maps(checkpoint: Checkpoint, sources: Sequence[str], crop: CropMode, offset: float | None) -> torch.Tensor:
    """Latent maps `[sources, channels, frames]` of one clip of each source song."""
    if not sources:
        raise RequestError("average needs sources (songs) or a label", "sources", "label")
    latents = gen.source_latents(checkpoint, sources, crop, offset)
    return checkpoint.model.frames_of(latents)


def gaussian_pieces(checkpoint: Checkpoint, request: GenerateRequest, seed: int, seconds: float) -> list[Piece]:
    """Samples of the fitted Gaussian (or naive N(0, 1)), clip windows joined to `seconds`; a piece sampled
    naively for want of latent statistics says so in its metadata's `warnings`."""
    model, audio = checkpoint.model, checkpoint.config.audio
    samples = int(round(seconds * audio.sample_rate))
    hop = window_hop(model.layout.frames) * model.frame_hop
    windows = windows_needed(checkpoint, samples)
    pieces = []
    for index in range(request.n):
        drawn = gen.sample_random(checkpoint, windows, seed + index, request.temperature, request.naive)
        clips = decode_latents(model, drawn.latents, request.batch_size, model_device(checkpoint))[:, 0].numpy()
        metadata = {**drawn.metadata, "method": "gaussian", "seed": seed + index, "index": index, "n": request.n}
        if drawn.notes:
            metadata["warnings"] = list(drawn.notes)
        pieces.append(Piece(join_clips(clips, hop, samples), metadata))
    return pieces


def _clip_pieces(checkpoint: Checkpoint, request: GenerateRequest, progress: Progress | None) -> list[Piece]:
    """The plain mean latent, or an interpolation: clips decoded as `generate` always did."""
    if request.mode == "average":
        generation = gen.average(
            checkpoint,
            request.sources,
            request.weights,
            request.label,
            request.data_root,
            request.cache_dir,
            request.crop,
            request.offset,
            request.batch_size,
            progress,
        )
        generation.metadata["method"] = "mean"
    else:
        generation = gen.interpolate(
            checkpoint,
            request.sources,
            request.steps,
            request.method or "linear",
            request.morph,
            request.crop,
            request.offset,
            request.batch_size,
        )
    clips = decode_latents(checkpoint.model, generation.latents, request.batch_size, model_device(checkpoint))[
        :, 0
    ].numpy()
    if generation.morph:
        hop = max(1, checkpoint.config.audio.clip_samples // 2)
        return [
            Piece(
                join_clips(clips, hop),
                {**generation.metadata, "hop_samples": hop, "t": [item.get("t") for item in generation.per_item]},
            )
        ]
    return [Piece(clip, {**generation.metadata, **extra}) for clip, extra in zip(clips, generation.per_item)]
