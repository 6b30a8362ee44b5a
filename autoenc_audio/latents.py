"""Latent vectors: encoding files, decoding latent files, reconstructing, in batches.

Everything works in batches so memory stays at one batch of audio whatever the
number or length of the inputs. Shapes: clips `[count, 1, clip_samples]`,
latents `[count, latent_size]`.

Whole tracks (`whole=True`) are cut into clips at starts 0, hop, 2 hop, ...
(default hop: half a clip, so clips overlap by 50 %; the last clip is
zero-padded) and streamed from the file (`audio.TrackClips`). Decoding joins
the clips back by weighted overlap-add (`OverlapAdd`): each clip is faded in
and out over the overlap with raised-cosine (sin^2 / cos^2) ramps, which at
50 % overlap is a Hann window, and the sum is divided by the sum of the
windows. The windows sum to exactly one (first clip without fade-in, last
without fade-out), so joining the original clips gives back the original track
sample for sample, and reconstructions cross-fade smoothly with no seams.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from .errors import InputError
from . import __version__
from .audio import (
    SILENCE_PEAK, STDIN_NAME, AudioError, Clip, CropMode, TrackClips, audio_writer, is_audio_path, load_clip, load_track, write_audio,
)
from .checkpoint import Checkpoint, load_checkpoint
from .latent_files import LatentFile, make_metadata
from .metrics import GUARD, METRIC_NAMES, evaluate
from .models import Autoencoder

Progress = Callable[[int, int], None]
OnError = Callable[[str, BaseException], None]
INPUT_FAILURES: tuple[type[BaseException], ...] = (AudioError, FileNotFoundError, PermissionError, IsADirectoryError)
"""Errors that make one input unusable; with many inputs such an input is reported and skipped."""


class LatentError(InputError):
    """Latents or inputs that cannot be used as asked (wrong size, nothing usable); exit 2 in the CLI."""


class LatentSizeError(LatentError, ValueError):
    """A latent of another size than the model's."""


class NoUsableInput(LatentError):
    """Every input failed; each was already reported through `on_error`."""


# ----------------------------------------------------------------------------- batches of tensors


def batches(items: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


@torch.no_grad()
def encode_clips(model: Autoencoder, clips: torch.Tensor | Iterable[torch.Tensor], batch_size: int = 16,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """Clips `[count, 1, samples]` (or an iterable of such batches) -> latents `[count, latent_size]` on the CPU."""
    model.eval()
    chunks = batches(clips, batch_size) if isinstance(clips, torch.Tensor) else clips
    out = [model.encode(chunk.to(device)).float().cpu() for chunk in chunks]
    return torch.cat(out) if out else torch.empty(0, model.latent_size)


@torch.no_grad()
def decode_latents(model: Autoencoder, latents: torch.Tensor, batch_size: int = 16,
                   device: str | torch.device = "cpu") -> torch.Tensor:
    """Latents `[count, latent_size]` -> clips `[count, 1, clip_samples]` on the CPU."""
    if latents.dim() == 1:
        latents = latents.unsqueeze(0)
    if latents.shape[-1] != model.latent_size:
        raise LatentSizeError(f"latent has {latents.shape[-1]} values but the model expects {model.latent_size}")
    model.eval()
    out = [model.decode(chunk.to(device).float()).float().cpu() for chunk in batches(latents, batch_size)]
    return torch.cat(out)


@torch.no_grad()
def reconstruct_clips(model: Autoencoder, clips: torch.Tensor, batch_size: int = 16,
                      device: str | torch.device = "cpu") -> torch.Tensor:
    """Encode then decode clips `[count, 1, samples]`."""
    return decode_latents(model, encode_clips(model, clips, batch_size, device), batch_size, device)


def reconstruction_metrics(original: torch.Tensor, reconstruction: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """METRICS.md figures of a reconstruction against its (preprocessed) original."""
    return evaluate(original, reconstruction, sample_rate=sample_rate)


# ----------------------------------------------------------------------------- the model


def open_model(model: Path | None, cache_dir: Path, environment_model: str | None = None,
               device: str = "cpu") -> Checkpoint:
    """The checkpoint a command uses (`--model`, else `$AEA_MODEL`, else the latest run), loaded on `device`.

    `device` may be `auto`. The result's `path` is the checkpoint file.
    """
    from .runs import resolve_model
    from .devices import resolve_device

    path, _ = resolve_model(model, cache_dir, environment_model)
    return load_checkpoint(path, resolve_device(device))


def model_device(checkpoint: Checkpoint) -> torch.device:
    return next(checkpoint.model.parameters()).device


def fingerprint_warning(latent_file: LatentFile, checkpoint: Checkpoint) -> str | None:
    """A warning when the latents were made by other weights than `checkpoint`'s (None when they match or are unknown)."""
    theirs = latent_file.fingerprint
    if theirs is None or theirs == checkpoint.fingerprint:
        return None
    made_with = latent_file.metadata.get("model") or "another model"
    return (f"{latent_file.name}: latents were encoded by model {theirs} ({made_with}), decoding with "
            f"{checkpoint.fingerprint} ({checkpoint.path}); the sound will not match")


def check_size(latent_file: LatentFile, checkpoint: Checkpoint) -> None:
    size = checkpoint.model.latent_size
    if latent_file.latent_size != size:
        raise LatentSizeError(
            f"{latent_file.name}: latent has {latent_file.latent_size} values per vector but the model "
            f"({checkpoint.path}) expects {size}")


# ----------------------------------------------------------------------------- inputs


def expand_inputs(inputs: Sequence[str], stdin_lines: Iterable[str] | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Files, folders (recursive, audio files only), quoted globs and `-` (paths read from `stdin_lines`).

    Returns the paths in order (missing files kept: they fail when read) and
    problems found while expanding (folder or glob with no audio files).
    """
    paths: list[str] = []
    problems: list[tuple[str, str]] = []
    for item in inputs:
        if item == "-":
            if stdin_lines is None:
                problems.append(("-", "no standard input to read paths from"))
                continue
            paths.extend(line.strip() for line in stdin_lines if line.strip())
        elif Path(item).is_dir():
            found = sorted(str(p) for p in Path(item).rglob("*") if p.is_file() and is_audio_path(p))
            if not found:
                problems.append((item, "no audio files in this folder"))
            paths.extend(found)
        elif not Path(item).exists() and any(ch in item for ch in "*?["):
            found = sorted(p for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not found:
                problems.append((item, "no files match this pattern"))
            paths.extend(found)
        else:
            paths.append(item)
    return paths, problems


def single_input(inputs: Sequence[str]) -> bool:
    """One plain file argument (not a folder, glob or `-`): encode writes a vector, not a matrix."""
    return len(inputs) == 1 and inputs[0] != "-" and not Path(inputs[0]).is_dir() and (
        Path(inputs[0]).exists() or not any(ch in inputs[0] for ch in "*?["))


def _renamed(error: BaseException, source: str, name: str) -> BaseException:
    """`error` with the input's path replaced by the name it is reported by (stdin's temporary file)."""
    return AudioError(str(error).replace(source, name)) if name != source and isinstance(error, AudioError) else error


def _report(on_error: OnError | None, source: str, error: BaseException) -> None:
    if on_error is None:
        raise error
    on_error(source, error)


@dataclass
class EncodedInput:
    """What happened to one input: where its rows are in the matrix and how its clips were taken."""

    source: str
    start: int
    stop: int
    offset_seconds: float
    padded: bool
    silent: bool
    valid_seconds: float
    track_samples: int | None = None

    @property
    def clips(self) -> int:
        return self.stop - self.start


@dataclass
class EncodeResult:
    latent_file: LatentFile
    inputs: list[EncodedInput]
    failures: list[tuple[str, str]] = field(default_factory=list)


def clip_crop(crop: CropMode, offset: float | None) -> CropMode | float:
    return offset if offset is not None else crop


def encode_inputs(
    checkpoint: Checkpoint,
    paths: Sequence[str],
    *,
    whole: bool = False,
    crop: CropMode = "start",
    offset: float | None = None,
    hop_seconds: float | None = None,
    seed: int = 0,
    vector: bool = False,
    batch_size: int = 16,
    progress: Progress | None = None,
    on_error: OnError | None = None,
    names: dict[str, str] | None = None,
) -> EncodeResult:
    """Encode files into one latent file (not written): a vector, an (inputs x N) matrix or a `whole` sequence.

    One clip per input (`crop` or `offset`), or with `whole` every clip of each
    track at `hop_seconds` (default half a clip). An input that fails is passed
    to `on_error(source, error)` and skipped (raised when `on_error` is None);
    `NoUsableInput` when none is left. `names` renames inputs in the result and
    errors (a temporary file holding stdin's audio -> `STDIN_NAME`).
    """
    names = names or {}
    model, audio = checkpoint.model, checkpoint.config.audio
    device = model_device(checkpoint)
    rng = np.random.default_rng(seed)
    rows: list[torch.Tensor] = []
    encoded: list[EncodedInput] = []
    failures: list[tuple[str, str]] = []
    offsets: list[float] = []
    padded: list[bool] = []
    hop = hop_samples(audio.clip_samples, audio.sample_rate, hop_seconds)

    def fail(source: str, error: BaseException) -> None:
        name = names.get(source, source)
        error = _renamed(error, source, name)
        failures.append((name, str(error)))
        _report(on_error, name, error)

    def flush(pending: list[tuple[Clip, int]]) -> None:
        if pending:
            batch = torch.stack([torch.from_numpy(clip.samples) for clip, _ in pending]).unsqueeze(1)
            rows.append(encode_clips(model, batch, batch_size, device))
            pending.clear()

    count = 0
    pending: list[tuple[Clip, int]] = []
    for number, source in enumerate(paths):
        try:
            if whole:
                before, before_clips = len(rows), len(offsets)
                clips = TrackClips(source, audio, hop)
                try:
                    first = _encode_stream(clips, model, batch_size, device, rows, offsets, padded,
                                           progress if len(paths) == 1 else None)
                except BaseException:  # a track that fails part-way leaves nothing behind
                    del rows[before:], offsets[before_clips:], padded[before_clips:]
                    raise
                size = sum(len(r) for r in rows[before:])
                encoded.append(EncodedInput(names.get(source, source), count, count + size, 0.0, first.padded, first.silent,
                                            clips.track_samples / audio.sample_rate, clips.track_samples))
                count += size
            else:
                clip = load_clip(source, audio, clip_crop(crop, offset), rng)
                pending.append((clip, number))
                offsets.append(clip.offset_seconds)
                padded.append(clip.padded)
                encoded.append(EncodedInput(names.get(source, source), count, count + 1, clip.offset_seconds, clip.padded, clip.silent,
                                            clip.valid_samples / audio.sample_rate))
                count += 1
                if len(pending) >= batch_size:
                    flush(pending)
        except INPUT_FAILURES as error:
            fail(source, error)
        if progress:
            progress(number + 1, len(paths))
    flush(pending)
    if not encoded:
        raise NoUsableInput(f"nothing encoded: {'all ' + str(len(paths)) + ' inputs' if len(paths) != 1 else 'the input'} failed"
                            if paths else "nothing to encode: no input files")
    latents = rows[0] if len(rows) == 1 else torch.cat(rows)
    rows.clear()
    kind = "sequence" if whole else ("vector" if vector and len(encoded) == 1 else "matrix")
    if kind == "vector":
        latents = latents[0]
    fields = {
        "sources": [e.source for e in encoded for _ in range(e.clips)],
        "offsets": offsets,
        "padded": padded,
        **model_fields(checkpoint),
    }
    if whole:
        fields["hop_samples"] = hop
        fields["tracks"] = [{"source": e.source, "start": e.start, "stop": e.stop, "samples": e.track_samples} for e in encoded]
    else:
        fields["crop"] = "offset" if offset is not None else crop
    return EncodeResult(LatentFile(latents, make_metadata(kind, latents, **fields)), encoded, failures)


def _encode_stream(clips: TrackClips, model, batch_size, device, rows, offsets, padded, progress=None) -> Clip:
    """Encode a track's clips a batch at a time into one preallocated `[clips, N]` tensor (appended to `rows`)."""
    first: Clip | None = None
    pending: list[Clip] = []
    out = torch.empty(clips.expected_clips, model.latent_size)
    count = 0

    def run() -> None:
        nonlocal out, count
        latents = _encode_batch(model, pending, device)
        if count + len(latents) > len(out):  # a compressed file may decode longer than its header says
            out = torch.cat([out, torch.empty(max(len(out) // 4, len(latents)), model.latent_size)])
        out[count : count + len(latents)] = latents
        count += len(latents)
        offsets.extend(c.offset_seconds for c in pending)
        padded.extend(c.padded for c in pending)
        pending.clear()
        if progress:  # one long track: progress in clips
            progress(count, max(count, clips.expected_clips))

    for clip in clips:
        first = first or clip
        pending.append(clip)
        if len(pending) == batch_size:
            run()
    if pending:
        run()
    assert first is not None
    rows.append(out if count == len(out) else out[:count].clone())  # a view would save its whole storage
    return first


def _encode_batch(model: Autoencoder, clips: Sequence[Clip], device) -> torch.Tensor:
    batch = torch.stack([torch.from_numpy(clip.samples) for clip in clips]).unsqueeze(1)
    return encode_clips(model, batch, len(clips), device)


def model_fields(checkpoint: Checkpoint) -> dict:
    audio = checkpoint.config.audio
    return {
        "model_fingerprint": checkpoint.fingerprint,
        "model": str(checkpoint.path),
        "model_kind": checkpoint.config.model.kind,
        "sample_rate": audio.sample_rate,
        "clip_samples": audio.clip_samples,
        "aea_version": __version__,
    }


def hop_samples(clip_samples: int, sample_rate: int, hop_seconds: float | None) -> int:
    """The whole-track hop in samples: `hop_seconds`, default half a clip; between 1 sample and one clip."""
    if hop_seconds is None:
        return max(1, clip_samples // 2)
    hop = int(round(hop_seconds * sample_rate))
    if not 1 <= hop <= clip_samples:
        raise LatentError(f"--hop must be between {1 / sample_rate:g} s and one clip ({clip_samples / sample_rate:g} s), got {hop_seconds:g}")
    return hop


# ----------------------------------------------------------------------------- joining clips


class OverlapAdd:
    """Join clips taken at starts 0, hop, 2 hop, ... back into one track, in a stream.

    `push(clip)` returns the samples that no later clip can change; `finish()`
    the rest, cut to `track_samples`. Weights: raised-cosine fades over the
    overlap (a Hann window at 50 %), none before the first clip's start or after
    the last clip's end, normalised by their sum, so the weights sum to one.
    When `count` is not known in advance, pass `last=True` with the last clip.
    """

    def __init__(self, clip_samples: int, hop: int, count: int | None = None, track_samples: int | None = None) -> None:
        if not 1 <= hop <= clip_samples:
            raise ValueError(f"hop {hop} must be between 1 and the clip length {clip_samples}")
        self.clip, self.hop, self.count, self.track_samples = clip_samples, hop, count, track_samples
        overlap = clip_samples - hop
        self.fade_in = np.ones(clip_samples)
        self.fade_in[:overlap] = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / max(overlap, 1)) ** 2
        self.fade_out = self.fade_in[::-1].copy()
        self.values = np.zeros(clip_samples)
        self.weights = np.zeros(clip_samples)
        self.pushed = 0
        self.emitted = 0

    def _emit(self, samples: np.ndarray) -> np.ndarray:
        if self.track_samples is not None:
            samples = samples[: max(0, self.track_samples - self.emitted)]
        self.emitted += len(samples)
        return samples.astype(np.float32)

    def push(self, clip: np.ndarray, last: bool | None = None) -> np.ndarray:
        index = self.pushed
        if self.count is not None and index >= self.count:
            raise ValueError(f"more than the {self.count} clips announced")
        if last is None:
            last = self.count is not None and index == self.count - 1
        out = np.zeros(0)
        if index > 0:
            out = self.values[: self.hop] / np.maximum(self.weights[: self.hop], GUARD)
            self.values = np.concatenate([self.values[self.hop :], np.zeros(self.hop)])
            self.weights = np.concatenate([self.weights[self.hop :], np.zeros(self.hop)])
        window = np.ones(self.clip)
        if index > 0:
            window *= self.fade_in
        if not last:
            window *= self.fade_out
        self.values += window * np.asarray(clip, dtype=np.float64).reshape(-1)[: self.clip]
        self.weights += window
        self.pushed += 1
        return self._emit(out)

    def finish(self, track_samples: int | None = None) -> np.ndarray:
        """The remaining samples; the track is `track_samples` long (default: as given, else all the clips cover)."""
        if track_samples is not None:
            self.track_samples = track_samples
        if self.track_samples is None:
            self.track_samples = (self.pushed - 1) * self.hop + self.clip
        tail = self._emit(self.values / np.maximum(self.weights, GUARD)) if self.pushed else np.zeros(0, np.float32)
        if self.emitted < self.track_samples:  # fewer clips than the track needs: silence after them
            tail = np.concatenate([tail, np.zeros(self.track_samples - self.emitted, dtype=np.float32)])
            self.emitted = self.track_samples
        return tail


def join_clips(clips: np.ndarray | torch.Tensor, hop: int, track_samples: int | None = None) -> np.ndarray:
    """`[count, clip_samples]` (or `[count, 1, clip_samples]`) -> one track, by `OverlapAdd`."""
    clips = np.asarray(clips).reshape(len(clips), -1)
    joiner = OverlapAdd(clips.shape[1], hop, len(clips), track_samples)
    return np.concatenate([joiner.push(c) for c in clips] + [joiner.finish()])


class TrackMetrics:
    """Metrics of a long reconstruction, fed in pieces.

    `snr_db` and `si_sdr_db` are exact over the whole track (from running sums);
    `mrstft`, `mel_l1` and `lsd_db` are means over consecutive chunks of one
    clip length, weighted by length (the STFT metrics need a bounded window).
    """

    def __init__(self, sample_rate: int, chunk_samples: int) -> None:
        self.sample_rate, self.chunk = sample_rate, chunk_samples
        self.xx = self.yy = self.xy = self.ee = 0.0
        self.spectral: dict[str, float] = {}
        self.weight = 0
        self.x: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.buffered = 0

    def add(self, reference: np.ndarray, estimate: np.ndarray) -> None:
        x, y = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
        self.xx += float(x @ x)
        self.yy += float(y @ y)
        self.xy += float(x @ y)
        self.ee += float((x - y) @ (x - y))
        self.x.append(reference)
        self.y.append(estimate)
        self.buffered += len(reference)
        while self.buffered >= self.chunk:
            self._chunk(self.chunk)

    def _chunk(self, size: int) -> None:
        x, y = np.concatenate(self.x), np.concatenate(self.y)
        values = evaluate(torch.from_numpy(x[:size]).view(1, -1), torch.from_numpy(y[:size]).view(1, -1), self.sample_rate)
        for name in ("mrstft", "mel_l1", "lsd_db"):
            self.spectral[name] = self.spectral.get(name, 0.0) + values[name] * size
        self.weight += size
        self.x, self.y, self.buffered = [x[size:]], [y[size:]], len(x) - size

    def result(self) -> dict[str, float]:
        if self.buffered >= 2048 or (self.buffered and not self.weight):
            self._chunk(self.buffered)
        snr = 10 * math.log10((self.xx + GUARD) / (self.ee + GUARD))
        scale = self.xy / (self.xx + GUARD)
        target = scale * scale * self.xx
        residual = max(target - 2 * scale * self.xy + self.yy, 0.0)
        si_sdr = 10 * math.log10((target + GUARD) / (residual + GUARD))
        out = {"snr_db": snr, "si_sdr_db": si_sdr}
        out.update({k: v / max(self.weight, 1) for k, v in self.spectral.items()})
        return {name: out[name] for name in METRIC_NAMES if name in out}


# ----------------------------------------------------------------------------- outputs


def is_folder_target(out: str) -> bool:
    """`-o` names a folder: it exists as one, ends with a slash, or has no extension."""
    return out != "-" and (Path(out).is_dir() or out.endswith(("/", os.sep)) or not Path(out).suffix)


def output_paths(out: str, names: Sequence[str], extension: str = ".wav") -> list[str]:
    """Where each of `names` goes: `out` itself for one output to a file or `-`; `OUT-000.ext`, ...
    for many to a file name; `DIR/000-name.ext` (or `DIR/name.ext` for one) in a folder."""
    if is_folder_target(out):
        folder = Path(out)
        if len(names) == 1:
            return [str(folder / f"{names[0]}{extension}")]
        return [str(folder / f"{index:03d}-{name}{extension}") for index, name in enumerate(names)]
    if len(names) == 1:
        return [out]
    if out == "-":
        raise LatentError(f"-o - takes one output, but there are {len(names)}: give a folder or a file name to number")
    path = Path(out)
    return [str(path.with_name(f"{path.stem}-{index:03d}{path.suffix}")) for index in range(len(names))]


def stem_of(source: str | None, fallback: str) -> str:
    return Path(source).stem if source and source not in ("-", STDIN_NAME) else fallback


# ----------------------------------------------------------------------------- decoding


@dataclass
class Written:
    """One audio file written, with what it came from."""

    path: str
    source: str | None
    rows: tuple[int, int]
    samples: int
    metrics: dict[str, float] | None = None
    input_path: str | None = None
    offset_seconds: float = 0.0
    padded: bool = False
    silent: bool = False
    valid_seconds: float | None = None


def decode_file(
    checkpoint: Checkpoint,
    latent_file: LatentFile,
    out: str,
    *,
    join: bool | None = None,
    hop: int | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
) -> list[Written]:
    """Decode a latent file to audio: a vector to one file, a matrix to one file per row, a sequence to one
    track per source (joined by overlap-add). `join` forces (True) or refuses (False) joining rows."""
    check_size(latent_file, checkpoint)
    matrix, meta = latent_file.matrix, latent_file.metadata
    audio = checkpoint.config.audio
    if join is None:
        join = latent_file.kind == "sequence"
    if join:
        tracks = meta.get("tracks") if latent_file.kind == "sequence" else None
        tracks = tracks or [{"source": None, "start": 0, "stop": len(matrix), "samples": None}]
        hop = hop or int(meta.get("hop_samples") or max(1, audio.clip_samples // 2))
        if not 1 <= hop <= audio.clip_samples:
            raise LatentError(f"{latent_file.name}: hop of {hop} samples does not fit this model's {audio.clip_samples}-sample clips")
        names = [stem_of(t.get("source"), "decoded") for t in tracks]
        targets = output_paths(out, names)
        written = []
        for target, track in zip(targets, tracks):
            rows = matrix[int(track["start"]) : int(track["stop"])]
            written.append(write_joined(checkpoint, rows, target, hop, track.get("samples"), batch_size, progress))
            written[-1].source, written[-1].rows = track.get("source"), (int(track["start"]), int(track["stop"]))
        return written
    sources = latent_file.sources if len(latent_file.sources) == len(matrix) else [None] * len(matrix)
    names = [stem_of(source, f"row{index:03d}") for index, source in enumerate(sources)]
    targets = output_paths(out, names)
    written = []
    done = 0
    for start in range(0, len(matrix), batch_size):
        clips = decode_latents(checkpoint.model, matrix[start : start + batch_size], batch_size, model_device(checkpoint))
        for offset, clip in enumerate(clips):
            row = start + offset
            write_audio(targets[row], clip[0].numpy(), audio.sample_rate)
            written.append(Written(targets[row], sources[row], (row, row + 1), clip.shape[-1]))
        done += len(clips)
        if progress:
            progress(done, len(matrix))
    return written


def write_joined(checkpoint: Checkpoint, rows: torch.Tensor, target: str, hop: int, track_samples: int | None,
                 batch_size: int, progress: Progress | None = None) -> Written:
    """Decode a sequence `[clips, N]` batch by batch and overlap-add it into one track, streamed to `target`."""
    audio = checkpoint.config.audio
    joiner = OverlapAdd(audio.clip_samples, hop, len(rows), track_samples)
    with audio_writer(target, audio.sample_rate) as write:
        for start in range(0, len(rows), batch_size):
            for clip in decode_latents(checkpoint.model, rows[start : start + batch_size], batch_size, model_device(checkpoint)):
                write(joiner.push(clip[0].numpy()))
            if progress:
                progress(min(start + batch_size, len(rows)), len(rows))
        write(joiner.finish())
    return Written(target, None, (0, len(rows)), joiner.emitted)


# ----------------------------------------------------------------------------- reconstructing


def input_path_for(target: str) -> str:
    """Where `--save-input` puts the preprocessed original: `out.wav` -> `out.input.wav`."""
    path = Path(target)
    return str(path.with_name(f"{path.stem}.input{path.suffix}"))


def reconstruct_inputs(
    checkpoint: Checkpoint,
    paths: Sequence[str],
    out: str,
    *,
    whole: bool = False,
    crop: CropMode = "start",
    offset: float | None = None,
    hop_seconds: float | None = None,
    seed: int = 0,
    save_input: bool = False,
    batch_size: int = 16,
    progress: Progress | None = None,
    on_error: OnError | None = None,
    names: dict[str, str] | None = None,
) -> list[Written]:
    """Encode then decode each input, write the result and measure it against the preprocessed input.

    One clip per input, or with `whole` the full track (streamed, joined by
    overlap-add; metrics as `TrackMetrics`). `save_input` writes the
    preprocessed original beside each output (`input_path_for`). `names`
    renames inputs in the result and errors, as in `encode_inputs`.
    """
    names = names or {}
    if save_input and out == "-":
        raise LatentError("--save-input needs -o FILE or a folder, not -")
    audio, model = checkpoint.config.audio, checkpoint.model
    device = model_device(checkpoint)
    hop = hop_samples(audio.clip_samples, audio.sample_rate, hop_seconds)
    rng = np.random.default_rng(seed)
    targets = output_paths(out, [stem_of(p, "input") for p in paths])
    written: list[Written] = []
    for number, (source, target) in enumerate(zip(paths, targets)):
        try:
            if whole:
                written.append(_reconstruct_track(checkpoint, source, target, hop, save_input, batch_size))
                written[-1].source = names.get(source, source)
            else:
                clip = load_clip(source, audio, clip_crop(crop, offset), rng)
                original = torch.from_numpy(clip.samples).view(1, 1, -1)
                latent = encode_clips(model, original, batch_size, device)
                reconstruction = decode_latents(model, latent, batch_size, device)
                write_audio(target, reconstruction[0, 0].numpy(), audio.sample_rate)
                saved = None
                if save_input:
                    saved = input_path_for(target)
                    write_audio(saved, clip.samples, audio.sample_rate)
                metrics = reconstruction_metrics(original, reconstruction, audio.sample_rate)
                written.append(Written(target, names.get(source, source), (0, 1), audio.clip_samples, metrics, saved,
                                       clip.offset_seconds, clip.padded, clip.silent, clip.valid_samples / audio.sample_rate))
        except INPUT_FAILURES as error:
            name = names.get(source, source)
            _report(on_error, name, _renamed(error, source, name))
        if progress:
            progress(number + 1, len(paths))
    if not written:
        raise NoUsableInput(f"nothing reconstructed: {'all inputs' if len(paths) != 1 else 'the input'} failed")
    return written


def plot_reconstruction(checkpoint: Checkpoint, item: Written, source_path: str, whole: bool = False,
                        title: str | None = None) -> Path:
    """The comparison figure of one reconstruction, beside it (`out.wav` -> `out.png`).

    Read back from the files just written (the saved input when there is one,
    else the input at `source_path` taken as `reconstruct_inputs` took it), so
    the figure shows exactly what the files hold.
    """
    from .plots import plot_compare  # matplotlib: loaded only when a figure is drawn

    audio = checkpoint.config.audio
    reconstruction = load_track(item.path, audio)
    if item.input_path:
        original = load_track(item.input_path, audio)
    elif whole:
        original = load_track(source_path, audio)
    else:
        original = load_clip(source_path, audio, item.offset_seconds).samples
    length = min(len(original), len(reconstruction))
    metrics = {k: v for k, v in (item.metrics or {}).items() if isinstance(v, float)}
    return plot_compare(original[:length], reconstruction[:length], audio.sample_rate, metrics,
                        Path(item.path).with_suffix(".png"),
                        title=f"{title or Path(item.source or item.path).name}: original vs reconstruction")


def _reconstruct_track(checkpoint: Checkpoint, source: str, target: str, hop: int, save_input: bool,
                       batch_size: int) -> Written:
    """Stream a whole track: clips -> encode -> decode -> overlap-add, for the original and the reconstruction."""
    audio = checkpoint.config.audio
    clips = TrackClips(source, audio, hop)
    saved = input_path_for(target) if save_input else None
    metrics = TrackMetrics(audio.sample_rate, audio.clip_samples)
    join_x, join_y = OverlapAdd(audio.clip_samples, hop), OverlapAdd(audio.clip_samples, hop)
    with audio_writer(target, audio.sample_rate) as write, (
            audio_writer(saved, audio.sample_rate) if saved else _NoWriter()) as write_input:

        peak = 0.0

        def emit(x: np.ndarray, y: np.ndarray) -> None:
            nonlocal peak
            peak = max(peak, float(np.abs(x).max(initial=0.0)))
            metrics.add(x, y)
            write(y)
            write_input(x)

        held = None  # one clip of look-ahead: the last clip is joined without a fade-out
        for pair in _reconstructed_pairs(checkpoint, clips, batch_size):
            if held is not None:
                emit(join_x.push(held[0], last=False), join_y.push(held[1], last=False))
            held = pair
        assert held is not None
        x, y = join_x.push(held[0], last=True), join_y.push(held[1], last=True)
        emit(np.concatenate([x, join_x.finish(clips.track_samples)]), np.concatenate([y, join_y.finish(clips.track_samples)]))
    return Written(target, source, (0, join_y.pushed), join_y.emitted, metrics.result(), saved, 0.0,
                   clips.track_samples < audio.clip_samples, peak < SILENCE_PEAK, clips.track_samples / audio.sample_rate)


def _reconstructed_pairs(checkpoint: Checkpoint, clips: Iterable[Clip], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(original, reconstruction) clip pairs, computed a batch at a time."""
    pending: list[Clip] = []

    def run() -> list[tuple[np.ndarray, np.ndarray]]:
        stacked = torch.stack([torch.from_numpy(c.samples) for c in pending]).unsqueeze(1)
        decoded = reconstruct_clips(checkpoint.model, stacked, batch_size, model_device(checkpoint))
        return [(clip.samples, result[0].numpy()) for clip, result in zip(pending, decoded)]

    for clip in clips:
        pending.append(clip)
        if len(pending) == batch_size:
            yield from run()
            pending = []
    if pending:
        yield from run()


class _NoWriter:
    def __enter__(self):
        return lambda samples: None

    def __exit__(self, *exc) -> None:
        pass
