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
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import torch

from ..audio import CropMode
from ..checkpoints.checkpoint import Checkpoint
from ..data import builtin_corpus
from ..latents.batches import decode_latents
from ..latents.failures import Progress
from ..latents.model import model_device
from ..latents.overlap import join_clips
from ..prior.header import prior_path
from ..prior.store import Prior, load_prior
from ..runs.folder import RunFiles
from . import latent_methods as gen
from .assembly import window_hop, windows_needed
from .errors import RequestError
from .piece import Piece
from .prior_methods import continuation, random_pieces, seconds_to_samples, style_pieces

CONTINUE_SECONDS = 20.0
"""A continuation's length when `seconds` is not given (the opening included)."""

METHODS = {
    "random": ("prior", "gaussian"),
    "continue": ("prior",),
    "average": ("prior", "mean"),
    "interpolate": ("linear", "slerp"),
}
CROPS = ("start", "center", "random")

APPLIES_TO = {
    "n": "mode 'random', and mode 'average' with method 'prior'",
    "steps": "mode 'interpolate'",
    "morph": "mode 'interpolate'",
    "prime_seconds": "mode 'continue'",
    "label": "mode 'average'",
    "sources": "mode 'continue', 'average' or 'interpolate'",
    "crop": "source files of mode 'average' or 'interpolate', not a label's clips",
    "offset": "source files of mode 'continue', 'average' or 'interpolate', not a label's clips",
    "temperature": "method 'prior' or 'gaussian' (not naive draws)",
    "prior": "method 'prior'",
}
"""Request fields that only some modes and methods use, and which (`option_uses` says it in code)."""


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
    given: frozenset[str] = frozenset()
    """Fields the user set explicitly (the command line's options): one the method ignores is refused even at
    its default value, as `--mode random --steps 5` is."""

    def __post_init__(self) -> None:
        check_values(self)


RECORDED_ELSEWHERE = ("cache_dir", "given")
"""Request fields a sidecar leaves out: where to cache and how the options were spelt, not what to make."""


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


def check_values(request: GenerateRequest) -> None:
    """RequestError for a value no mode can use: an unknown mode or crop, a count under 1, a number that is
    negative or not finite (NaN, infinity)."""
    if request.mode not in METHODS:
        raise RequestError(f"mode {request.mode!r} is not one of {', '.join(map(repr, METHODS))}", "mode")
    if request.crop not in CROPS:
        raise RequestError(f"crop {request.crop!r} is not one of {', '.join(map(repr, CROPS))}", "crop")
    for name in ("n", "steps"):
        value = getattr(request, name)
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise RequestError(f"{name} must be a whole number, at least 1, got {value!r}", name)
    for name in ("seconds", "prime_seconds", "temperature", "offset"):
        value, positive = getattr(request, name), name.endswith("seconds")
        if value is not None and not _finite(value, positive):
            bound = " above 0" if positive else ", 0 or more"
            raise RequestError(f"{name} must be a finite number{bound}, got {value}", name)


def _finite(value: object, positive: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return False
    number = float(value)
    return number > 0 if positive else number >= 0


def choose_method(request: GenerateRequest, prior: Prior | None, run: Path | None = None) -> tuple[str, list[str]]:
    """The method to use and any one-line note about the choice; RequestError for one the mode has not, or for
    an option that the method would leave unused. `run`: the model's folder, named in advice to train a prior."""
    allowed = METHODS[request.mode]
    if request.method is not None and request.method not in allowed:
        raise RequestError(
            f"method {request.method!r} is not for mode {request.mode!r}; use {' or '.join(map(repr, allowed))}",
            "method",
            "mode",
        )
    method = asked_method(request)
    notes: list[str] = []
    if method == "prior" and prior is None:
        method, notes = _without_prior(request, run)
    _check_method_options(request, method)
    check_options_apply(request, method)
    return method, notes


def asked_method(request: GenerateRequest) -> str:
    """The method `request` asks for; when it leaves it to aea, its mode's first (naive random draws: gaussian)."""
    return request.method or ("gaussian" if request.mode == "random" and request.naive else METHODS[request.mode][0])


def _without_prior(request: GenerateRequest, run: Path | None) -> tuple[str, list[str]]:
    """The method a request left to aea falls back to when the model has no prior, with its note."""
    if request.method is not None or request.mode not in ("random", "average"):
        raise RequestError(
            f"mode {request.mode!r} needs a prior: train one with 'aea train-prior', or give the path of one", "prior"
        )
    fallback = METHODS[request.mode][1]
    if fallback == "mean":
        _check_mean_fallback(request, run)
    return fallback, [f"no prior for this model: using method {fallback!r} (train one with 'aea train-prior')"]


def _check_mean_fallback(request: GenerateRequest, run: Path | None) -> None:
    """Without a prior an average is the plain mean latent (method 'mean'): one clip, and a label's mean needs the
    dataset the label comes from. RequestError, saying why, for a request that asks what it cannot give."""
    train = "train a prior" + (f" for {run}" if run is not None else "") + " with 'aea train-prior'"
    asked = [name for name, given in (("seconds", request.seconds is not None), ("n", request.n != 1)) if given]
    if asked:
        raise RequestError(
            "this model has no prior, so mode 'average' falls back to method 'mean', the plain mean latent, which is "
            f"one clip: it cannot honour {' or '.join(asked)}; {train}, or give the path of one",
            *asked,
        )
    if request.label is not None and request.data_root is None:
        raise RequestError(
            f"this model has no prior, so label {request.label!r} falls back to method 'mean', the mean latent of the "
            f"label's training clips, which needs data_root (the dataset the label comes from); {train} to make "
            "pieces of the label without it",
            "data_root",
        )


def _check_method_options(request: GenerateRequest, method: str) -> None:
    """RequestError for naive, weights or seconds given to a method that has no use for them."""
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


def option_uses(request: GenerateRequest, method: str) -> dict[str, bool]:
    """Whether each field of APPLIES_TO has an effect on what `method` makes of `request`."""
    mode, label = request.mode, request.label is not None
    return {
        "n": mode == "random" or (mode == "average" and method == "prior"),
        "steps": mode == "interpolate",
        "morph": mode == "interpolate",
        "prime_seconds": mode == "continue",
        "label": mode == "average",
        "sources": mode != "random",
        "crop": mode in ("average", "interpolate") and not label,
        "offset": mode != "random" and not label,
        "temperature": method in ("prior", "gaussian") and not request.naive,
        "prior": method == "prior",
    }


def check_options_apply(request: GenerateRequest, method: str) -> None:
    """RequestError naming an option given (other than its default, or set explicitly: `request.given`) that
    `method` in `request.mode` would ignore."""
    if request.mode == "average" and request.label is not None and request.sources:
        raise RequestError(f"give either sources or a label, not both (label {request.label!r})", "sources", "label")
    defaults = {item.name: item.default for item in dataclasses.fields(GenerateRequest)}
    for name, used in option_uses(request, method).items():
        value = getattr(request, name)
        if not used and (value != defaults[name] or name in request.given):
            shown = f"{name} {value}" if isinstance(value, Path) else name
            raise RequestError(
                f"{shown} has no effect with mode {request.mode!r}, method {method!r}: it is for {APPLIES_TO[name]}",
                name,
                "mode",
                "method",
            )


def generate_pieces(
    checkpoint: Checkpoint, request: GenerateRequest, progress: Progress | None = None, prior: Prior | None = None
) -> Outcome:
    """The pieces `request` asks for, decoded to audio; `prior`: one already loaded (else `find_prior`).

    Each piece's metadata holds the request as carried out (`request`) and, for the prior's methods, the prior's
    settings (`prior_settings`); warnings (a checkpoint without latent statistics) are on the outcome too.
    """
    if prior is None and "prior" in METHODS[request.mode] and asked_method(request) == "prior":
        prior = find_prior(checkpoint, request.prior)  # not for another method: a prior given to one is refused
    label_mean = request.mode == "average" and request.label is not None and not request.sources
    if label_mean and request.data_root is None and (prior is None or request.method == "mean"):
        request = dataclasses.replace(request, data_root=training_data(checkpoint, request.cache_dir))
    method, notes = choose_method(request, prior, checkpoint.path.parent)
    carried = carried_out(checkpoint, request, method)
    pieces = _pieces(checkpoint, carried, progress, prior)
    settings: dict[str, Any] = {"request": request_record(carried)}
    if method == "prior" and prior is not None:
        settings["prior_settings"] = dataclasses.asdict(prior.config)
    for piece in pieces:
        piece.metadata.update(settings)
    warnings = list(dict.fromkeys(w for piece in pieces for w in piece.metadata.get("warnings", [])))  # each once
    return Outcome(pieces, notes, warnings)


def training_data(checkpoint: Checkpoint, cache_dir: Path | None) -> Path | None:
    """The folder `checkpoint`'s run was trained on, where a label's mean latent comes from when no data is given:
    its `run.json`'s, or the built-in corpus it names by none; None for a checkpoint without its run folder."""
    run = RunFiles(checkpoint.path.parent)
    if not run.run.is_file():
        return None
    if run.data_root is not None and not run.data_root.is_dir():
        raise RequestError(
            f"the run in {run.root} was trained on {run.data_root}, which is not there; give data_root, the folder "
            "the label's clips come from",
            "data_root",
        )
    if run.data_root is not None:
        return run.data_root
    return builtin_corpus(cache_dir, checkpoint.config.data) if cache_dir is not None else None


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
        return _style_pieces(checkpoint, prior, request, seed, seconds)
    if method == "gaussian":
        return gaussian_pieces(checkpoint, request, seed, seconds)
    return _clip_pieces(checkpoint, request, progress)


def _style_pieces(
    checkpoint: Checkpoint, prior: Prior, request: GenerateRequest, seed: int, seconds: float
) -> list[Piece]:
    """Average with the prior: pieces in the style of the sources or the label; a source latent file of other
    weights is said in each piece's `warnings`."""
    warnings: list[str] = []
    maps = None if request.label else source_maps(checkpoint, request.sources, request.crop, request.offset, warnings)
    pieces = style_pieces(
        checkpoint, prior, seconds, request.n, seed, request.temperature, request.sources, request.label, maps
    )
    for piece in pieces if warnings else []:
        piece.metadata["warnings"] = [*piece.metadata.get("warnings", []), *warnings]
    return pieces


def source_maps(
    checkpoint: Checkpoint,
    sources: Sequence[str],
    crop: CropMode,
    offset: float | None,
    warnings: list[str] | None = None,
) -> torch.Tensor:
    """Latent maps `[sources, channels, frames]` of one clip of each source song (or latent file: one of other
    weights is said in `warnings`)."""
    if not sources:
        raise RequestError("average needs sources (songs) or a label", "sources", "label")
    latents = gen.source_latents(checkpoint, sources, crop, offset, warnings=warnings)
    return checkpoint.model.frames_of(latents)


def gaussian_pieces(checkpoint: Checkpoint, request: GenerateRequest, seed: int, seconds: float) -> list[Piece]:
    """Samples of the fitted Gaussian (or naive N(0, 1)), clip windows joined to `seconds`; a piece sampled
    naively for want of latent statistics says so in its metadata's `warnings`."""
    model = checkpoint.model
    samples = seconds_to_samples(checkpoint, seconds)
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
    if generation.notes:  # latent files of other weights: in each piece's sidecar, and said once by the outcome
        generation.metadata["warnings"] = list(generation.notes)
    if generation.morph:
        hop = max(1, checkpoint.config.audio.clip_samples // 2)
        return [
            Piece(
                join_clips(clips, hop),
                {**generation.metadata, "hop_samples": hop, "t": [item.get("t") for item in generation.per_item]},
            )
        ]
    return [Piece(clip, {**generation.metadata, **extra}) for clip, extra in zip(clips, generation.per_item)]
