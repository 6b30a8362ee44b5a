"""The Python API: `aea.load(run)` gives a `Model` that encodes, decodes, reconstructs and generates.

The same library calls as the commands, with arrays and tensors in and out instead of files: a file encoded
here and with `aea encode` gives the same latent, and a latent decoded here and written with `write_audio` gives
the same bytes as `aea decode`. Errors are the library's own (`errors.InputError` and its kinds).
The examples assume a run at `runs/demo` (`make demo`); `tests/test_docs_python.py` runs docs/python.md's.

    >>> import autoenc_audio as aea
    >>> model = aea.load("runs/demo")
    >>> z = model.encode("song.wav")
    >>> audio = model.decode(z)
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard, overload

import numpy as np
import torch

from .audio import (
    Clip,
    CropMode,
    choose_offset,
    clip_count,
    load_clip,
    load_track,
    make_clip,
    preprocess,
)
from .audio import write_audio as write_audio_file
from .checkpoints.checkpoint import Checkpoint, load_checkpoint
from .config import Config
from .data import default_cache_dir
from .errors import InputError, counted
from .generation.piece import Piece
from .generation.requests import GenerateRequest, generate_pieces
from .generation.writing import write_pieces
from .latents.batches import decode_latents, encode_clips, reconstruct_clips, reconstruction_metrics
from .latents.encode import encode_inputs
from .latents.inputs import clip_crop, whole_track_hop_samples
from .latents.model import model_device
from .latents.overlap import join_clips
from .latents.track_metrics import TrackMetrics
from .runs.folder import checkpoint_in
from .scoring.score_sets import DEFAULT_CLIPS, score_sets

__all__ = ["Encoded", "Model", "Reconstruction", "load", "score", "write_audio"]

AudioInput = str | os.PathLike | np.ndarray | torch.Tensor
"""A file aea reads (WAV, FLAC, OGG, MP3, AIFF), or samples with a rate: `[samples]`, `[samples, channels]`, or
`[channels, samples]` (torchaudio's and librosa's layout) with 1 or 2 channels."""
CHANNELS_FIRST = (1, 2)
"""Channel counts taken in `[channels, samples]` layout; more channels must come as `[samples, channels]`."""
SAMPLES_PER_CHANNEL = 8
"""How many times longer than the channel axis the samples axis must be for a 2-D shape to be unambiguous."""

SCORE_FIELDS = ("name", "kind", "clips", "c2st", "fd", "tonal", "continuity", "rhythm", "flatness", "copied")
"""The fields of each `score` record: those `aea score --json` prints, in its order."""


class ApiInputError(InputError):
    """An argument the API cannot use (an array without its rate, a latent of the wrong shape)."""


@dataclass(frozen=True)
class Encoded:
    """A whole track's latents: `latents` `[clips, N]` of clips taken every `hop_samples`, and the track's length.

    `Model.decode` joins it back into one track by overlap-add, as `aea decode` does with a sequence file.
    """

    latents: torch.Tensor
    hop_samples: int
    track_samples: int


@dataclass(frozen=True)
class Reconstruction:
    """`audio` `[samples]`, the `original` it came from (mono, at the model's rate) and METRICS.md `metrics`."""

    audio: np.ndarray
    original: np.ndarray
    metrics: dict[str, float]
    sample_rate: int


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> Model:
    """The model of a run folder (its best checkpoint) or of a checkpoint file.

    >>> model = load("runs/demo")
    >>> model.latent_size, model.sample_rate
    (9184, 22050)
    """
    return Model(load_checkpoint(checkpoint_in(Path(path)), _device(device)))


def _device(device: str | torch.device) -> torch.device:
    """`device` as torch names it ("auto" as `aea` picks one); ApiInputError naming it and the valid ones."""
    from .devices import resolve_device

    if device == "auto":
        return resolve_device("auto")
    try:
        parsed = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError):
        raise ApiInputError(
            f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' (or 'cuda:1', ...) or 'mps'", settings=("device",)
        ) from None
    if parsed.type in ("cuda", "mps"):
        resolve_device(parsed.type)  # a ConfigError (an InputError) when there is none
    return parsed


class Model:
    """A trained autoencoder and what it was trained with; built by `load`."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint

    def __repr__(self) -> str:
        return f"Model({str(self.checkpoint.path)!r}, N={self.latent_size}, sample_rate={self.sample_rate})"

    @property
    def config(self) -> Config:
        return self.checkpoint.config

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    @property
    def clip_samples(self) -> int:
        return self.config.audio.clip_samples

    @property
    def latent_size(self) -> int:
        """N: the values of one clip's latent."""
        return self.checkpoint.model.latent_size

    @property
    def labels(self) -> list[str]:
        return self.checkpoint.labels

    @property
    def fingerprint(self) -> str:
        return self.checkpoint.fingerprint

    @property
    def device(self) -> torch.device:
        return model_device(self.checkpoint)

    @overload
    def encode(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        whole: Literal[False] = False,
        crop: CropMode = "start",
        offset: float | None = None,
        hop_seconds: float | None = None,
        seed: int = 0,
    ) -> torch.Tensor: ...

    @overload
    def encode(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        whole: Literal[True],
        crop: CropMode = "start",
        offset: float | None = None,
        hop_seconds: float | None = None,
        seed: int = 0,
    ) -> Encoded: ...

    @overload
    def encode(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        whole: bool,
        crop: CropMode = "start",
        offset: float | None = None,
        hop_seconds: float | None = None,
        seed: int = 0,
    ) -> torch.Tensor | Encoded: ...

    def encode(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        whole: bool = False,
        crop: CropMode = "start",
        offset: float | None = None,
        hop_seconds: float | None = None,
        seed: int = 0,
    ) -> torch.Tensor | Encoded:
        """One clip's latent `[N]` (`crop` or `offset` picks the clip), or with `whole` every clip's (`Encoded`).

        `audio` is a file or samples with their `sample_rate` (resampled and mixed to mono as `aea encode` does).

        >>> z = model.encode("song.wav")
        >>> track = model.encode("song.wav", whole=True)
        >>> track.latents.shape
        torch.Size([12, 9184])
        """
        if _is_file(audio, sample_rate):
            result = encode_inputs(
                self.checkpoint, [str(audio)], whole=whole, crop=crop, offset=offset, hop_seconds=hop_seconds, seed=seed
            )
            latents = result.latent_file.latents
            if not whole:
                return latents[0]
            track = result.inputs[0]
            assert track.track_samples is not None  # set for whole tracks
            return Encoded(latents, int(result.latent_file.metadata["hop_samples"]), track.track_samples)
        samples = self._samples(audio, sample_rate)
        if not whole:
            clip = self._clip(samples, crop, offset, seed)
            return encode_clips(self.checkpoint.model, _batch([clip]), device=self.device)[0]
        hop = self._hop(hop_seconds)
        latents = encode_clips(self.checkpoint.model, _batch(self._clips(samples, hop)), device=self.device)
        return Encoded(latents, hop, len(samples))

    def decode(self, latents: torch.Tensor | np.ndarray | Encoded) -> np.ndarray:
        """A latent `[N]` -> one clip `[clip_samples]`; `[clips, N]` -> `[clips, clip_samples]`; `Encoded` -> a track.

        Float32 samples at `model.sample_rate`, as `aea decode` writes them.

        >>> audio = model.decode(z)
        >>> model.decode(track).shape
        (661500,)
        """
        if isinstance(latents, Encoded):
            return self._join(latents)
        values = _latent_values(latents)
        if values.dim() not in (1, 2) or values.numel() == 0:
            raise ApiInputError(f"latents must be [N] or [clips, N], got shape {list(values.shape)}")
        clips = decode_latents(self.checkpoint.model, values, device=self.device)[:, 0].numpy()
        return clips[0] if values.dim() == 1 else clips

    def reconstruct(
        self,
        audio: AudioInput,
        sample_rate: int | None = None,
        *,
        whole: bool = False,
        crop: CropMode = "start",
        offset: float | None = None,
        hop_seconds: float | None = None,
        seed: int = 0,
    ) -> Reconstruction:
        """Encode then decode one clip (or with `whole` the track), measured against the original as
        `aea reconstruct` measures it.

        >>> model.reconstruct("song.wav").metrics["snr_db"]
        11.2
        """
        if whole:
            original = self._track(audio, sample_rate)
            encoded = self.encode(original, self.sample_rate, whole=True, hop_seconds=hop_seconds)
            result = self._join(encoded)
            measured = TrackMetrics(self.sample_rate, self.clip_samples)
            measured.add(original, result)
            return Reconstruction(result, original, measured.result(), self.sample_rate)
        if _is_file(audio, sample_rate):
            clip = load_clip(audio, self.config.audio, clip_crop(crop, offset), np.random.default_rng(seed))
        else:
            clip = self._clip(self._samples(audio, sample_rate), crop, offset, seed)
        original_batch = _batch([clip])
        decoded = reconstruct_clips(self.checkpoint.model, original_batch, device=self.device)
        metrics = reconstruction_metrics(original_batch, decoded, self.sample_rate)
        return Reconstruction(decoded[0, 0].numpy(), clip.samples, metrics, self.sample_rate)

    def generate(
        self,
        mode: str = "random",
        *,
        seconds: float | None = None,
        n: int = 1,
        seed: int | None = None,
        **options: Any,
    ) -> list[Piece]:
        """New audio, as `aea generate`: each `Piece` has `samples` `[samples]` and the `metadata` of its sidecar.

        `options` are the other fields of `GenerateRequest` (`method`, `sources`, `label`, `temperature`, ...);
        `sources` is a list of files, or one file. A run with a prior walks it; without one, `random` falls back
        to the fitted Gaussian, and the piece's metadata says so. Bad values raise `InputError` kinds.

        >>> pieces = model.generate(mode="random", seconds=20, n=4, seed=1)
        >>> pieces[0].samples.shape
        (441000,)
        """
        _check_options(options)
        given = frozenset(options)  # an option passed is refused by a mode that ignores it, even at its default
        options.setdefault("cache_dir", default_cache_dir())
        if "sources" in options:
            options["sources"] = tuple(str(source) for source in _as_list(options["sources"]))
        request = GenerateRequest(mode, seconds=seconds, n=n, seed=seed, given=given, **options)
        return generate_pieces(self.checkpoint, request).pieces

    def write(self, pieces: Sequence[Piece], out: str | os.PathLike) -> list[str]:
        """Write pieces as `aea generate -o OUT` does: audio files (numbered in a folder) with a JSON sidecar each.

        >>> model.write(pieces, "gen/")
        ['gen/000-random.wav', 'gen/001-random.wav', ...]
        """
        if isinstance(pieces, (np.ndarray, torch.Tensor)) or not all(isinstance(piece, Piece) for piece in pieces):
            raise ApiInputError(
                f"write takes the pieces generate returns, got {type(pieces).__name__}: write decoded audio with "
                "aea.write_audio(path, audio, model.sample_rate)"
            )
        if not pieces:
            raise ApiInputError("no pieces to write")
        mode = str(pieces[0].metadata.get("request", {}).get("mode", "piece"))
        return [record["path"] for record in write_pieces(self.checkpoint, pieces, str(out), mode)]

    # ------------------------------------------------------------------ samples to clips

    def _samples(self, audio: AudioInput, sample_rate: int | None) -> np.ndarray:
        """Samples (`AudioInput`'s layouts) at `sample_rate` -> mono float32 at the model's rate."""
        rate = _sample_rate(sample_rate)
        values = _frames_at_full_scale(audio)
        if not np.isfinite(values).all():
            raise ApiInputError("samples contain NaN or infinite values")
        return preprocess(values, rate, self.config.audio)

    def _track(self, audio: AudioInput, sample_rate: int | None) -> np.ndarray:
        if _is_file(audio, sample_rate):
            return load_track(audio, self.config.audio)
        return self._samples(audio, sample_rate)

    def _clip(self, samples: np.ndarray, crop: CropMode, offset: float | None, seed: int) -> Clip:
        """One clip of preprocessed samples, taken where `aea encode` would take it in a file of them."""
        seconds = len(samples) / self.sample_rate
        start = choose_offset(
            seconds, self.config.audio.clip_seconds, clip_crop(crop, offset), np.random.default_rng(seed)
        )
        if start >= seconds:
            raise ApiInputError(f"offset {start:.2f} s is past the end ({seconds:.2f} s)")
        return make_clip(samples[int(round(start * self.sample_rate)) :], self.config.audio, "<samples>", start)

    def _hop(self, hop_seconds: float | None) -> int:
        return whole_track_hop_samples(self.clip_samples, self.sample_rate, hop_seconds)

    def _clips(self, samples: np.ndarray, hop: int) -> list[Clip]:
        """Every clip of a track at starts 0, hop, 2 hop, ...; the last one zero-padded."""
        count = clip_count(len(samples), self.clip_samples, hop)
        return [
            make_clip(samples[i * hop :], self.config.audio, "<samples>", i * hop / self.sample_rate)
            for i in range(count)
        ]

    def _join(self, encoded: Encoded) -> np.ndarray:
        """Decode a whole track's latents and overlap-add them, as `aea decode` joins a sequence."""
        latents = _latent_values(encoded.latents)
        if latents.dim() != 2 or latents.numel() == 0:
            raise ApiInputError(f"Encoded.latents must be [clips, N], got shape {list(latents.shape)}")
        return join_clips(self.decode(latents), encoded.hop_samples, encoded.track_samples)


def score(
    sets: Sequence[str | os.PathLike] | str | os.PathLike,
    model: Model | str | os.PathLike | None = None,
    *,
    data: str | os.PathLike | None = None,
    clips: int = DEFAULT_CLIPS,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Score sets of audio (files or folders; one may be given alone) as music, as `aea score --json` does: one
    record per row.

    Against the held-out clips of the data `model` was trained on, or of the folder `data`. Rows: the held-out
    clips themselves ("reference"), the two controls, then each set ("generated"); fields as in `SCORE_FIELDS`.

    >>> table = score(["gen/"], model=model)
    >>> [(row["name"], row["c2st"]) for row in table]
    """
    if isinstance(model, Model):
        checkpoint: Path | None = model.checkpoint.path
    else:
        checkpoint = None if model is None else checkpoint_in(Path(model))
    report = score_sets(
        _as_list(sets),
        checkpoint=checkpoint,
        data_root=data,
        cache_dir=cache_dir if cache_dir is not None else default_cache_dir(),
        clips=clips,
        seed=seed,
    )
    return [{name: getattr(row, name) for name in SCORE_FIELDS} for row in report.rows]


GENERATE_OPTIONS = tuple(
    item.name for item in dataclasses.fields(GenerateRequest) if item.name not in ("mode", "given")
)
"""The keyword arguments `Model.generate` takes: the fields of `GenerateRequest` but its mode (an argument) and
`given` (which options the command line typed, for its refusals)."""


def _check_options(options: dict[str, Any]) -> None:
    """ApiInputError naming the options `Model.generate` does not take, and those it does."""
    unknown = sorted(set(options) - set(GENERATE_OPTIONS))
    if unknown:
        raise ApiInputError(
            f"generate takes no option {', '.join(unknown)}; its options: {', '.join(GENERATE_OPTIONS)}",
            settings=unknown,
        )


def _as_list(items: Sequence[str | os.PathLike] | str | os.PathLike) -> list[str | os.PathLike]:
    """A file or folder given alone as a list of one; a string is one path, not a sequence of characters."""
    return [items] if isinstance(items, (str, os.PathLike)) else list(items)


def _is_file(audio: Any, sample_rate: Any) -> TypeGuard[str | os.PathLike]:
    """True when `audio` is one file, False for samples; ApiInputError for audio given another way (several paths,
    bytes, an open file, a file with a sample_rate), saying what to give instead."""
    if isinstance(audio, (str, os.PathLike)):
        if sample_rate is not None:
            raise ApiInputError(
                f"sample_rate is for samples, not a file: {audio}'s rate is read from the file",
                settings=("sample_rate",),
            )
        return True
    if isinstance(audio, (list, tuple)) and audio and all(isinstance(item, (str, os.PathLike)) for item in audio):
        raise ApiInputError(
            f"audio is one file or one array of samples, got a {type(audio).__name__} of "
            f"{counted(len(audio), 'path')}: give one file a call"
        )
    if isinstance(audio, (bytes, bytearray, memoryview)) or hasattr(audio, "read"):
        given = "an open file" if hasattr(audio, "read") else "bytes"
        raise ApiInputError(
            f"audio given as {given}: give a file path, or samples with their sample_rate "
            "(samples, sample_rate = soundfile.read(...))"
        )
    return False


def _sample_rate(sample_rate: Any) -> int:
    """The rate of samples given as an array, a positive whole number of Hz."""
    if sample_rate is None:
        raise ApiInputError("audio given as samples needs its sample_rate", settings=("sample_rate",))
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.number)):
        raise ApiInputError(f"sample_rate must be a whole number of Hz, got {sample_rate!r}", settings=("sample_rate",))
    if not math.isfinite(float(sample_rate)) or sample_rate <= 0 or sample_rate != int(sample_rate):
        raise ApiInputError(
            f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}", settings=("sample_rate",)
        )
    return int(sample_rate)


def write_audio(path: str | os.PathLike, audio: np.ndarray | torch.Tensor, sample_rate: int) -> None:
    """Write samples (`AudioInput`'s layouts: `[samples]`, `[samples, channels]` or `[channels, samples]`; floats at
    full scale ±1, or integer PCM scaled as `encode` scales it) to a WAV, FLAC, OGG or MP3 file by its extension, as
    `aea decode` writes; `-` writes WAV to stdout. Atomic; samples beyond full scale are clipped with a warning."""
    shape = tuple(audio.shape) if isinstance(audio, (np.ndarray, torch.Tensor)) else np.shape(audio)
    if len(shape) > 2 or (len(shape) == 2 and min(shape) > 2):
        raise ApiInputError(
            f"{path}: {shape} is not audio to write ([samples], [samples, channels] or [channels, samples], at most "
            "2 channels): write the clips of a batch one a call"
        )
    write_audio_file(path, _frames_at_full_scale(audio), _sample_rate(sample_rate))


def _frames_at_full_scale(audio: Any) -> np.ndarray:
    """Samples in a layout `AudioInput` allows -> `[samples]` or `[samples, channels]` float32 at full scale ±1."""
    if isinstance(audio, (list, tuple)) and any(isinstance(item, (np.ndarray, torch.Tensor)) for item in audio):
        raise ApiInputError(
            f"audio is one array of samples, got a {type(audio).__name__} of {counted(len(audio), 'array')}: give one "
            "track a call (channels go in one array: [samples, channels])"
        )
    values = _tensor_samples(audio) if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if values.ndim not in (1, 2) or values.size == 0:
        raise ApiInputError(
            f"samples must be [samples], [samples, channels] or [channels, samples], got shape {list(values.shape)}"
        )
    return _full_scale(_frames_first(values))


def _tensor_samples(audio: torch.Tensor) -> np.ndarray:
    """A tensor's samples as numpy: floats numpy has no type for (bfloat16) as float32."""
    values = audio.detach().cpu()
    return (values.float() if values.is_floating_point() else values).numpy()


def _latent_values(latents: Any) -> torch.Tensor:
    """Latents as float32; a latent file's name is refused saying how to read it."""
    if isinstance(latents, (str, os.PathLike)):
        raise ApiInputError(
            f"decode takes latents, not a file: read {latents} first with "
            f"autoenc_audio.latents.files.load_latents({str(latents)!r}) (docs/python.md: clips, or whole tracks)"
        )
    try:
        return torch.as_tensor(latents, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise ApiInputError(f"latents must be a tensor or array of numbers, got {type(latents).__name__}") from None


PCM_DTYPES = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.int8))


def _full_scale(values: np.ndarray) -> np.ndarray:
    """Samples as float32 at full scale ±1: integer PCM (int16 from `scipy.io.wavfile.read`, 8-bit WAV's uint8) is
    scaled as soundfile scales it; taken as floats, int16 music would be 30,000 times too loud."""
    if values.dtype.kind == "f":
        return values.astype(np.float32, copy=False)
    if values.dtype not in PCM_DTYPES:  # int64 is numpy's default for Python ints: no PCM, no full scale
        raise ApiInputError(
            f"samples must be floats or integer PCM ({', '.join(map(str, PCM_DTYPES))}), got {values.dtype}"
        )
    half = 2.0 ** (8 * values.dtype.itemsize - 1)
    centre = half if values.dtype == np.uint8 else 0.0  # 8-bit WAV is unsigned, centred on 128
    return ((values.astype(np.float64) - centre) / half).astype(np.float32)


def _frames_first(values: np.ndarray) -> np.ndarray:
    """`[samples]` or `[samples, channels]` as given; `[channels, samples]` (1 or 2 channels) transposed.

    Which axis holds the channels is told by length: the samples axis is `SAMPLES_PER_CHANNEL` times the longer.
    Read the wrong way, a stereo track would be two samples of a million channels: a silent clip, with no error.
    """
    if values.ndim == 1:
        return values
    rows, columns = values.shape
    if rows >= SAMPLES_PER_CHANNEL * columns:
        return values
    if rows in CHANNELS_FIRST and columns >= SAMPLES_PER_CHANNEL * rows:
        return values.T
    raise ApiInputError(
        f"samples of shape {list(values.shape)} are ambiguous: give [samples, channels], or [channels, samples] with "
        f"{' or '.join(map(str, CHANNELS_FIRST))} channels, with at least {SAMPLES_PER_CHANNEL} times as many samples "
        "as channels"
    )


def _batch(clips: Sequence[Clip]) -> torch.Tensor:
    """Clips -> `[count, 1, clip_samples]`."""
    return torch.stack([torch.from_numpy(clip.samples) for clip in clips]).unsqueeze(1)
