"""Configuration: one frozen dataclass per concern, loaded from TOML and overridable.

A run's full configuration is stored in its checkpoint and run folder, so a model
always carries how it was made. Nothing here reads globals or the environment.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, cast

from .errors import InputError


class ConfigError(InputError, ValueError):
    """A configuration file or override that cannot be used."""


MAX_SAMPLE_RATE = 768_000
"""The highest sample rate a config may ask for (studio audio goes to 768 kHz): a rate far above it makes every clip
so long that the model's checks blame the latent size instead."""

MAX_SEED = 2**32 - 1
"""Seeds given as flags run from 0 to this: numpy, scikit-learn and torch all take them (a larger one overflows
some of them)."""

TORCH_SEEDS = (-(2**63), 2**63 - 1)
"""A config's training seeds: 64-bit integers, which `torch.manual_seed` takes (up to 2**64 - 1), leaving room for
the epoch added to them (`check_seed`)."""

DEVICES = ("auto", "cpu", "cuda", "mps")
"""The devices a config may name (`devices.resolve_device`); `auto` picks CUDA, then MPS, then the CPU."""

FLOAT32_MAX = 3.4028234663852886e38
"""torch's parameters are float32: a learning rate above this cannot be used (overflow)."""

MAX_CORPUS_TRACK_SECONDS = 600.0
"""The longest built-in corpus track: a track is rendered whole in memory, so its length bounds what building a
corpus needs (a few GB at this limit)."""


@dataclass(frozen=True)
class AudioConfig:
    """How any input file becomes a model input: mono, one rate, one clip length."""

    sample_rate: int = 22050
    clip_seconds: float = 5.0
    mono: bool = True

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def __post_init__(self) -> None:
        check_finite(self, "audio")
        if not 1000 <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ConfigError(
                f"audio.sample_rate must be at least 1000 Hz and at most {MAX_SAMPLE_RATE} Hz, got {self.sample_rate}",
                settings=("audio.sample_rate",),
            )
        if self.clip_seconds <= 0:
            raise ConfigError(
                f"audio.clip_seconds must be positive, got {self.clip_seconds}", settings=("audio.clip_seconds",)
            )
        if not self.mono:
            raise ConfigError("audio.mono = false is not supported: models take one channel")


@dataclass(frozen=True)
class DataConfig:
    """How a folder of tracks becomes train/validation/test clips.

    `train_fraction` trains on that share of the training tracks (stratified by label; the held-out tracks stay
    the same, and a smaller share's tracks are among a larger one's): what more data buys, on one test set.
    """

    hop_seconds: float | None = None  # None: non-overlapping clips
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    train_fraction: float = 1.0
    corpus_tracks: int = 100  # built-in corpus size when no --data is given
    corpus_seconds: float = 30.0

    def __post_init__(self) -> None:
        check_finite(self, "data")
        check_seed(self.split_seed, "data.split_seed", 0)
        if self.hop_seconds is not None and self.hop_seconds <= 0:
            raise ConfigError(f"data.hop_seconds must be positive, got {self.hop_seconds}")
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"data.{name} must be in [0, 1), got {value}")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ConfigError("data.validation_fraction + data.test_fraction must be below 1")
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"data.train_fraction must be above 0 and at most 1, got {self.train_fraction}")
        if self.corpus_tracks < 1:
            raise ConfigError(f"data.corpus_tracks must be at least 1, got {self.corpus_tracks}")
        if not 0 < self.corpus_seconds <= MAX_CORPUS_TRACK_SECONDS:
            raise ConfigError(
                f"data.corpus_seconds must be above 0 and at most {MAX_CORPUS_TRACK_SECONDS:g} (a corpus track is "
                f"rendered whole in memory), got {self.corpus_seconds:g}"
            )


MAX_MODEL_HOP = 16384
"""The largest `model.hop`: its MDCT basis (hop x 2 hop floats) is 2 GB here."""

MAX_MODEL_WIDTH = 4096
"""The largest `model.width`: a convolution of this width holds 200 MB of weights."""

DECODERS = ("gain", "gated", "energy")
"""The default model's decoders (`models/frame.py`): its correction network only scales the linear decoding's
coefficients ("gain"), also adds to them ("gated", the decoder before 2026-12), or gates and then restores coded
band energies ("energy", `models/band_energy.py`)."""


@dataclass(frozen=True)
class ModelConfig:
    """Which network, which latent kind and how many latent values.

    `latent` is the exact number of values in a clip's latent vector. The fields
    `hop`, `width`, `blocks` and `envelope` shape the default frame-rate model
    (`envelope`: the share of its latent channels that code the log energies of
    narrow bands above a quarter of the Nyquist frequency, 2.7 kHz at 22050 Hz,
    instead of coefficients: better MR-STFT and mel, lower SNR; 0, the default,
    for none; presets/spectral.toml); the `seed_*`
    fields pin the original 3-layer model's layers (empty: searched for `latent`).
    """

    arch: str = "default"  # default | seed
    kind: str = "ae"  # ae | vae
    latent: int = 18376
    hop: int = 512
    width: int = 128
    blocks: int = 2
    envelope: float = 0.0
    envelope_start: float = 0.25
    decoder: str = "gain"
    seed_channels: tuple[int, ...] = ()
    seed_kernels: tuple[int, ...] = ()
    seed_strides: tuple[int, ...] = ()
    seed_paddings: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_finite(self, "model")
        if self.arch not in ("default", "seed"):
            raise ConfigError(f"model.arch must be 'default' or 'seed', got {self.arch!r}")
        if self.kind not in ("ae", "vae"):
            raise ConfigError(f"model.kind must be 'ae' or 'vae', got {self.kind!r}")
        if self.latent < 1:
            raise ConfigError(f"model.latent must be positive, got {self.latent}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"model.decoder must be {', '.join(map(repr, DECODERS))}, got {self.decoder!r}")
        if not 0.0 <= self.envelope_start < 1.0:
            raise ConfigError(f"model.envelope_start must be at least 0 and below 1, got {self.envelope_start}")
        if not 0.0 <= self.envelope < 1.0:
            raise ConfigError(f"model.envelope must be at least 0 and below 1, got {self.envelope}")
        # the MDCT basis is hop x 2 hop floats and each layer width x width: far above these, allocation fails
        for name, lowest, highest in (("hop", 1, MAX_MODEL_HOP), ("width", 1, MAX_MODEL_WIDTH), ("blocks", 0, None)):
            value = getattr(self, name)
            if value < lowest or (highest is not None and value > highest):
                most = f" and at most {highest}" if highest is not None else ""
                raise ConfigError(f"model.{name} must be at least {lowest}{most}, got {value}")
        lengths = {len(self.seed_channels), len(self.seed_kernels), len(self.seed_strides), len(self.seed_paddings)}
        if len(lengths) != 1:
            raise ConfigError("model.seed_channels, seed_kernels, seed_strides and seed_paddings need equal lengths")
        for name in ("seed_channels", "seed_kernels", "seed_strides", "seed_paddings"):
            lowest = 0 if name == "seed_paddings" else 1
            if any(value < lowest for value in getattr(self, name)):
                raise ConfigError(
                    f"model.{name} must hold integers of at least {lowest}, got {list(getattr(self, name))}"
                )


DEFAULT_LOSS_WEIGHTS: dict[str, float] = {
    "l1": 20.0,
    "mrstft": 1.0,
    "mel": 2.0,
    "short_stft": 0.0,
    "excess": 0.0,
    "level": 0.0,
    "rmse": 0.0,
    "kl": 1e-4,
}
"""Every loss a run may weigh (`training.losses.LOSSES` and `kl`) and its default weight; a name not here is refused."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train: budget, optimiser, losses. `loss_weights` is applied once, in one place.

    `epochs`, `minutes` and `steps` (optimiser steps) all limit training, whichever ends first; `minutes` or
    `steps` given without `epochs` (a flag, or a TOML file) means no epoch limit. A step budget gives the same
    training on a busy machine as on a quiet one, where a clock budget would give fewer steps.
    """

    epochs: int | None = 20
    minutes: float | None = None
    steps: int | None = None
    batch_size: int = 4  # on a CPU the number of steps decides (presets/default.toml)
    lr: float = 5e-4
    weight_decay: float = 0.0
    seed: int = 0
    grad_clip: float = 1.0
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LOSS_WEIGHTS))
    kl_warmup_epochs: int = 5
    scheduler: str = "cosine"  # cosine | constant
    workers: int = 0
    device: str = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        check_finite(self, "train")
        check_budget(self, "train")
        # a Python caller's steps bypass _check_kind: 2.5 steps is refused here
        if self.steps is not None and (type(self.steps) is not int or self.steps < 1):
            raise ConfigError(f"train.steps must be an integer of at least 1, got {self.steps!r}")
        for name in ("batch_size", "workers"):  # grad_clip and kl_warmup_epochs at 0 or below: off, as always
            lowest = 1 if name == "batch_size" else 0
            if getattr(self, name) < lowest:
                raise ConfigError(f"train.{name} must be at least {lowest}, got {getattr(self, name)}")
        check_rate(self.lr, "train.lr")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be 0 or more, got {self.weight_decay}")
        if self.scheduler not in ("cosine", "constant"):
            raise ConfigError(f"train.scheduler must be 'cosine' or 'constant', got {self.scheduler!r}")
        check_seed(self.seed, "train.seed")
        check_device(self.device, "train.device")
        check_loss_weights(self.loss_weights)


PIECE_STYLES = ("label", "any")


@dataclass(frozen=True)
class PriorConfig:
    """The prior over latent frame sequences (`aea train-prior`) and how it generates.

    The prior keeps the frames of `memory_clips` training clips and a recurrent
    model of their phase-free features; generation walks over the memory,
    jumping where the context of the last `context_frames` frames matches and
    the model finds the continuation likely, on the beat, and replaying a run
    with `repeat_probability` (see `generation/walk.py`). Training keeps the
    state with the best validation loss and stops when it has not improved
    for `patience` epochs (0: never early). `piece_style` says what a
    random piece may play: "label", one label's clips (the label drawn by its
    share of the memory, so a piece keeps one style as a song does; a memory
    without labels plays all of it), or "any", the whole memory.
    """

    memory_clips: int = 1024
    feature_dims: int = 16
    hidden: int = 128
    sequence_frames: int = 64
    batch_size: int = 16
    lr: float = 2e-3
    epochs: int | None = 30
    minutes: float | None = None
    patience: int = 20
    seed: int = 0
    device: str = "auto"
    jump_probability: float = 0.02
    max_run_seconds: float = 1.5
    context_frames: int = 16
    candidates: int = 32
    search_clips: int = 256
    crossfade_frames: int = 4
    model_weight: float = 1.0
    repeat_probability: float = 0.8
    piece_style: str = "label"
    # The walk's finer settings (generation/walk.py). Stored priors without them read back these defaults, which are
    # the values aea used before they were settings, so old priors generate exactly what they did.
    shortest_beat_seconds: float = 0.25  # beat periods searched from 0.25 s (240 bpm) ...
    longest_beat_seconds: float = 1.5  # ... to 1.5 s (40 bpm): every tempo of the built-in corpus and GTZAN
    beat_tolerance_frames: int = 1  # a frame this near the beat grid is on the beat: onsets smear over a frame
    # So the beat goes on across jumps, a jump keeps to clips whose beat period is the piece's within 1 frame, or
    # within 2 ... up to beat_match_frames until same_beat_clips clips share it; else to any clip (too few to vary).
    beat_match_frames: int = 2
    same_beat_clips: int = 8
    lookahead_frames: int = 8  # frames of each candidate continuation the recurrent model scores (~0.2 s at 22050 Hz)
    max_repeats: int = 3  # a run is replayed at most this many times in a row: bars repeat, but not forever
    # How pieces are assembled (generation/prior_methods.py, generation/piece.py).
    style_share: float = 0.125  # a style: this share of the memory's clips nearest each source (bench NOTES)
    style_min_clips: int = 4  # ... and at least this many clips per source, so a small memory still has a choice
    style_tracks: int = 3  # a random piece keeps to a label of at least this many tracks: the walk must leave a track
    peak: float = 0.99  # a piece peaking above this is scaled down to it: written files are never clipped
    min_gain: float = 0.05  # the lowest gain that scaling fades to (-26 dB); the limiter handles the rest
    limiter_width: int = 64  # samples each side that the limiter's smooth gain spreads over (~3 ms at 22050 Hz)
    # Training: every validation_every-th memory clip is held out to measure the loss the kept state is chosen by.
    validation_every: int = 10

    def __post_init__(self) -> None:
        check_finite(self, "prior")
        for name in (
            "memory_clips",
            "feature_dims",
            "hidden",
            "sequence_frames",
            "batch_size",
            "context_frames",
            "candidates",
            "search_clips",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"prior.{name} must be at least 1, got {getattr(self, name)}")
        check_budget(self, "prior")
        if self.patience < 0:
            raise ConfigError(f"prior.patience must be 0 (never stop early) or more epochs, got {self.patience}")
        check_rate(self.lr, "prior.lr")
        check_seed(self.seed, "prior.seed", 1000)  # the prior seeds each epoch with seed * 1000 + epoch
        check_device(self.device, "prior.device")
        for name in ("jump_probability", "repeat_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"prior.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.piece_style not in PIECE_STYLES:
            raise ConfigError(f"prior.piece_style must be {' or '.join(PIECE_STYLES)}, got {self.piece_style!r}")
        if self.max_run_seconds <= 0:
            raise ConfigError(f"prior.max_run_seconds must be positive, got {self.max_run_seconds}")
        if self.crossfade_frames < 0 or self.model_weight < 0:
            raise ConfigError("prior.crossfade_frames and prior.model_weight must not be negative")
        if not 0 < self.shortest_beat_seconds <= self.longest_beat_seconds:
            raise ConfigError(
                f"prior.shortest_beat_seconds must be positive and at most prior.longest_beat_seconds, "
                f"got {self.shortest_beat_seconds} and {self.longest_beat_seconds}"
            )
        for name in ("lookahead_frames", "same_beat_clips", "style_min_clips", "style_tracks", "limiter_width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"prior.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("beat_tolerance_frames", "beat_match_frames", "max_repeats"):
            if getattr(self, name) < 0:
                raise ConfigError(f"prior.{name} must not be negative, got {getattr(self, name)}")
        for name in ("style_share", "peak", "min_gain"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"prior.{name} must be more than 0 and at most 1, got {getattr(self, name)}")
        if self.validation_every < 2:
            raise ConfigError(
                f"prior.validation_every must be at least 2 (1 would hold out every clip), got {self.validation_every}"
            )


@dataclass(frozen=True)
class Config:
    """Everything that defines a run."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config sections: {', '.join(sorted(unknown))}")
        for name in ("train", "prior"):
            budget = values.get(name)
            if (
                isinstance(budget, dict)
                and any(budget.get(key) is not None for key in ("minutes", "steps"))
                and "epochs" not in budget
            ):
                # `minutes` or `steps` alone: they decide, as with `--minutes` (TOML has no null, so a saved
                # run config without an epoch limit reads back this way).
                values = {**values, name: {**budget, "epochs": None}}
        sections = {}
        for section in dataclasses.fields(cls):
            section_type = cast(type, section.default_factory)  # each section's default_factory is its dataclass
            sections[section.name] = _build_section(section_type, section.name, values.get(section.name, {}))
        return cls(**sections)

    def override(self, **sections: dict[str, Any]) -> Config:
        """A copy with some fields replaced; `None` values are ignored (flag not given)."""
        merged = self.to_dict()
        for name, changes in sections.items():
            if name not in merged:
                raise ConfigError(f"unknown config section {name!r}")
            merged[name].update({k: v for k, v in changes.items() if v is not None})
        return Config.from_dict(merged)

    def with_budget(self, minutes: float | None, epochs: int | None, steps: int | None = None) -> Config:
        """A copy whose training budget is the one given (whichever of its limits ends first), or this config's own
        when none is given. A budget given replaces the whole old one: `minutes` or `steps` alone let the clock or
        the step count decide, not the preset's epochs, and `--epochs` on a run trained by the clock trains by
        epochs."""
        if minutes is None and epochs is None and steps is None:
            return self
        values = self.to_dict()
        values["train"].update(minutes=minutes, epochs=epochs, steps=steps)
        return Config.from_dict(values)


def _build_section(section_type: type, name: str, values: dict[str, Any]) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"config section [{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(section_type)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown keys in [{name}]: {', '.join(sorted(unknown))}")
    cleaned = {}
    for key, value in values.items():
        _check_kind(name, key, value, known[key])
        if isinstance(value, list):
            value = tuple(value)
        if key == "loss_weights" and isinstance(value, dict):
            value = {**section_type().loss_weights, **value}
        cleaned[key] = value
    try:
        return section_type(**cleaned)
    except TypeError as error:
        raise ConfigError(f"bad value in [{name}]: {error}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


_KINDS: dict[str, tuple[Any, str]] = {
    "bool": (lambda value: isinstance(value, bool), "true or false"),
    "int": (_is_int, "an integer"),
    "float": (_is_number, "a number"),
    "str": (lambda value: isinstance(value, str), "a string"),
    "tuple[int, ...]": (
        lambda value: isinstance(value, (list, tuple)) and all(map(_is_int, value)),
        "a list of integers",
    ),
    "dict[str, float]": (
        lambda value: isinstance(value, dict) and all(map(_is_number, value.values())),
        "a table of numbers",
    ),
}
"""A field's annotation -> the test a value of it passes and its name in a message: `true`, a string or a list where
a number is, reported in the file's terms, not as the Python error a comparison with it would raise."""


def _check_kind(section: str, key: str, value: Any, field: dataclasses.Field) -> None:
    """ConfigError unless `value` has the kind the field is annotated with (an int where an int is, a number where a
    float is, `None` only where the annotation allows it)."""
    annotation = str(field.type)
    optional = annotation.endswith(" | None")
    kind = annotation.removesuffix(" | None")
    if kind not in _KINDS or (value is None and optional):
        return
    fits, wanted = _KINDS[kind]
    if not fits(value):
        raise ConfigError(f"{section}.{key} must be {wanted}, got {value!r}")


def check_finite(section: Any, name: str) -> None:
    """ConfigError for a float setting that is NaN or infinite: no comparison refuses NaN (`nan <= 0` is false), so
    a budget of NaN minutes never ends and NaN seconds fail later as "cannot convert float NaN to integer". Infinite
    minutes are no clock limit (the epochs or steps end the run), as runs saved by an earlier aea may hold."""
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        values = value.items() if isinstance(value, dict) else [(None, value)]
        for key, number in values:
            if isinstance(number, float) and not math.isfinite(number) and not (item.name == "minutes" and number > 0):
                where = f"{name}.{item.name}" + (f".{key}" if key is not None else "")
                raise ConfigError(f"{where} must be a finite number, got {number}")


def check_budget(section: Any, name: str) -> None:
    """`epochs` and `minutes`, each unset or above 0 (`minutes = true` is refused by its kind)."""
    if section.epochs is not None and section.epochs < 1:
        raise ConfigError(f"{name}.epochs must be at least 1, got {section.epochs}")
    if section.minutes is not None and section.minutes <= 0:
        raise ConfigError(f"{name}.minutes must be positive, got {section.minutes}")


def check_rate(lr: float, key: str) -> None:
    if not 0 < lr <= FLOAT32_MAX:
        raise ConfigError(
            f"{key} must be above 0 and at most {FLOAT32_MAX:.3g} (float32's largest), got {lr}", settings=(key,)
        )


def check_seed(seed: int, key: str, scale: int = 1) -> None:
    """A seed torch takes (`torch.manual_seed(seed * scale + epoch)`), or with `scale` 0 one numpy takes (from 0).
    Wider than the flags' 0 to MAX_SEED: a run saved by an earlier aea with `--seed -1` trained, and must load."""
    lowest, highest = (0, TORCH_SEEDS[1]) if scale == 0 else (TORCH_SEEDS[0] // scale, TORCH_SEEDS[1] // scale)
    if not lowest <= seed <= highest:
        raise ConfigError(f"{key} must be from {lowest} to {highest}, got {seed}")


def check_device(device: str, key: str) -> None:
    """Refused when the file is read, not when a later command (train-prior, generate) first uses it."""
    if device not in DEVICES:
        raise ConfigError(f"{key} must be {', '.join(DEVICES[:-1])} or {DEVICES[-1]}, got {device!r}")


def check_loss_weights(weights: dict[str, float]) -> None:
    """Known losses, none negative (which would maximise that loss), one besides `kl` above 0 (else nothing trains
    the reconstruction: all-zero weights leave no loss to minimise)."""
    unknown = set(weights) - set(DEFAULT_LOSS_WEIGHTS)
    if unknown:
        raise ConfigError(f"train.loss_weights has unknown losses: {', '.join(sorted(unknown))}")
    negative = [f"{name} = {weight}" for name, weight in weights.items() if weight < 0]
    if negative:
        raise ConfigError(f"train.loss_weights must not be negative, got {', '.join(negative)}")
    if not any(weight > 0 for name, weight in weights.items() if name != "kl"):
        raise ConfigError("train.loss_weights must weigh at least one loss besides kl above 0, got none")


PRESETS_DIR = Path(__file__).parent / "presets"


def preset_names() -> list[str]:
    """The presets shipped with the package (`configs/` in the source tree links here)."""
    return sorted(path.stem for path in PRESETS_DIR.glob("*.toml"))


def resolve_config_path(value: str | Path | None) -> Path | None:
    """A TOML path, or the name of a shipped preset (`seed`, `tiny`, ...); a file (not a folder) of that name wins."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file() or path.suffix == ".toml":
        return path
    if (PRESETS_DIR / f"{value}.toml").is_file():
        return PRESETS_DIR / f"{value}.toml"
    if path.is_dir():
        raise ConfigError(f"{value}: is a folder, not a config file")
    raise ConfigError(f"{value}: no such config file or preset (presets: {', '.join(preset_names())})")


def with_legacy_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored config names what it was made with, also where a default changed since it was written.

    Written before `model.decoder` existed: the decoder was "gated". Defaults may change for new runs; an old
    checkpoint or run folder must still build the model it holds.
    """
    if not isinstance(stored, dict):
        return stored
    model = stored.get("model")
    if isinstance(model, dict) and "decoder" not in model:
        legacy = {"decoder": "gated", "envelope": 0.0, "envelope_start": 0.25}  # what those runs were built with
        stored = {**stored, "model": {**legacy, **model}}
    return stored


def load_run_config(path: str | Path) -> Config:
    """A run folder's saved `config.toml`, read as the run was made (`with_legacy_defaults`)."""
    return load_config(path, stored=True)


def load_config(path: str | Path | None = None, stored: bool = False) -> Config:
    """Defaults, then the values of a TOML file or a preset named like `seed`. Raises ConfigError naming the file.

    `stored`: the file is a run's own record (`load_run_config`), not settings for a new run.
    """
    path = resolve_config_path(path)
    if path is None:
        return Config()
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark, which TOML calls an invalid statement
        values = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a TOML config file (not UTF-8 text)") from None
    try:
        return Config.from_dict(with_legacy_defaults(values) if stored else values)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
