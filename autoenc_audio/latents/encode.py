"""Encoding files into one latent file: a vector, an (inputs x N) matrix or whole-track sequences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio import Clip, CropMode, load_clip
from ..checkpoints.checkpoint import Checkpoint
from ..models.base import Autoencoder
from .batches import encode_clips
from .failures import INPUT_FAILURES, NoUsableInput, OnError, Progress, renamed_error, report_failure
from .files import LatentFile, make_metadata
from .inputs import clip_crop, whole_track_hop_samples
from .model import model_device, model_fields
from .tracks import TrackClips


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


@dataclass(frozen=True)
class ClipPlace:
    """Where one latent row's clip was taken in its input."""

    offset_seconds: float
    padded: bool


@dataclass
class LatentRows:
    """Latent rows in input order, in chunks `[rows, N]`, with where each row's clip was taken."""

    chunks: list[torch.Tensor] = field(default_factory=list)
    places: list[ClipPlace] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.places)

    def add(self, latents: torch.Tensor, places: Sequence[ClipPlace]) -> None:
        self.chunks.append(latents)
        self.places.extend(places)

    def take(self) -> torch.Tensor:
        """All rows as one `[rows, N]` tensor; the chunks are let go."""
        latents = self.chunks[0] if len(self.chunks) == 1 else torch.cat(self.chunks)
        self.chunks.clear()
        return latents


@dataclass(frozen=True)
class EncodeRequest:
    """How clips are taken from each input: one per input (`crop` or `offset`) or every clip of a `whole` track."""

    whole: bool
    crop: CropMode
    offset: float | None
    hop: int  # whole-track hop in samples
    batch_size: int


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
    audio = checkpoint.config.audio
    hop = whole_track_hop_samples(audio.clip_samples, audio.sample_rate, hop_seconds)
    request = EncodeRequest(whole, crop, offset, hop, batch_size)
    rng = np.random.default_rng(seed)
    rows, pending = LatentRows(), _PendingClips(checkpoint, batch_size)
    encoded: list[EncodedInput] = []
    failures: list[tuple[str, str]] = []
    for number, source in enumerate(paths):
        name = names.get(source, source)
        try:
            if whole:
                encoded.append(
                    _encode_track(checkpoint, source, name, request, rows, progress if len(paths) == 1 else None)
                )
            else:
                clip = load_clip(source, audio, clip_crop(crop, offset), rng)
                row = rows.count + len(pending.clips)
                encoded.append(
                    EncodedInput(
                        name,
                        row,
                        row + 1,
                        clip.offset_seconds,
                        clip.padded,
                        clip.silent,
                        clip.valid_samples / audio.sample_rate,
                    )
                )
                pending.add(clip, rows)
        except INPUT_FAILURES as error:
            error = renamed_error(error, source, name)
            failures.append((name, str(error)))
            report_failure(on_error, name, error)
        if progress:
            progress(number + 1, len(paths))
    pending.flush(rows)
    if not encoded:
        raise NoUsableInput(
            f"nothing encoded: {'all ' + str(len(paths)) + ' inputs' if len(paths) != 1 else 'the input'} failed"
            if paths
            else "nothing to encode: no input files"
        )
    kind = "sequence" if whole else ("vector" if vector and len(encoded) == 1 else "matrix")
    return EncodeResult(_latent_file(checkpoint, kind, rows, encoded, request), encoded, failures)


def _latent_file(
    checkpoint: Checkpoint, kind: str, rows: LatentRows, encoded: Sequence[EncodedInput], request: EncodeRequest
) -> LatentFile:
    """The latent file of the encoded rows, with each row's source and clip position in its metadata."""
    places = list(rows.places)
    latents = rows.take()
    if kind == "vector":
        latents = latents[0]
    fields = {
        "sources": [e.source for e in encoded for _ in range(e.clips)],
        "offsets": [p.offset_seconds for p in places],
        "padded": [p.padded for p in places],
        **model_fields(checkpoint),
    }
    if request.whole:
        fields["hop_samples"] = request.hop
        fields["tracks"] = [
            {"source": e.source, "start": e.start, "stop": e.stop, "samples": e.track_samples} for e in encoded
        ]
    else:
        fields["crop"] = "offset" if request.offset is not None else request.crop
    return LatentFile(latents, make_metadata(kind, latents, **fields))


class _PendingClips:
    """Single clips of several inputs, encoded together once a batch is full."""

    def __init__(self, checkpoint: Checkpoint, batch_size: int) -> None:
        self.checkpoint, self.batch_size = checkpoint, batch_size
        self.clips: list[Clip] = []

    def add(self, clip: Clip, rows: LatentRows) -> None:
        self.clips.append(clip)
        if len(self.clips) >= self.batch_size:
            self.flush(rows)

    def flush(self, rows: LatentRows) -> None:
        if self.clips:
            batch = torch.stack([torch.from_numpy(clip.samples) for clip in self.clips]).unsqueeze(1)
            rows.add(
                encode_clips(self.checkpoint.model, batch, self.batch_size, model_device(self.checkpoint)),
                [ClipPlace(clip.offset_seconds, clip.padded) for clip in self.clips],
            )
            self.clips.clear()


def _encode_track(
    checkpoint: Checkpoint, source: str, name: str, request: EncodeRequest, rows: LatentRows, progress: Progress | None
) -> EncodedInput:
    """Every clip of one track, streamed; its rows join `rows` only once the whole track is encoded."""
    audio = checkpoint.config.audio
    clips = TrackClips(source, audio, request.hop)
    track = _encode_stream(clips, checkpoint, request.batch_size, progress)
    start = rows.count
    rows.add(track.latents, track.places)
    assert clips.track_samples is not None  # known once the clips are read
    return EncodedInput(
        name,
        start,
        rows.count,
        0.0,
        track.first.padded,  # the track is shorter than one clip
        track.silent,
        clips.track_samples / audio.sample_rate,
        clips.track_samples,
    )


@dataclass
class _TrackLatents:
    """One track's latent rows `[clips, N]`, where each clip was taken, its first clip, and whether every clip was
    silent (a track is not silent for a quiet opening)."""

    latents: torch.Tensor
    places: list[ClipPlace]
    first: Clip
    silent: bool


def _encode_stream(
    clips: TrackClips, checkpoint: Checkpoint, batch_size: int, progress: Progress | None
) -> _TrackLatents:
    """A track's clips encoded a batch at a time into one preallocated `[clips, N]` tensor."""
    model, device = checkpoint.model, model_device(checkpoint)
    out = torch.empty(clips.expected_clips, model.latent_size)
    places: list[ClipPlace] = []
    pending: list[Clip] = []

    def run() -> None:
        nonlocal out
        latents = _encode_batch(model, pending, device)
        count = len(places)
        if count + len(latents) > len(out):  # a compressed file may decode longer than its header says
            out = torch.cat([out, torch.empty(max(len(out) // 4, len(latents)), model.latent_size)])
        out[count : count + len(latents)] = latents
        places.extend(ClipPlace(c.offset_seconds, c.padded) for c in pending)
        pending.clear()
        if progress:  # one long track: progress in clips
            progress(len(places), max(len(places), clips.expected_clips))

    first: Clip | None = None
    silent = True
    for clip in clips:
        first = first or clip
        silent = silent and clip.silent
        pending.append(clip)
        if len(pending) == batch_size:
            run()
    if pending:
        run()
    assert first is not None
    count = len(places)
    kept = out if count == len(out) else out[:count].clone()  # a view would keep its whole storage
    return _TrackLatents(kept, places, first, silent)


def _encode_batch(model: Autoencoder, clips: Sequence[Clip], device: str | torch.device) -> torch.Tensor:
    batch = torch.stack([torch.from_numpy(clip.samples) for clip in clips]).unsqueeze(1)
    return encode_clips(model, batch, len(clips), device)
