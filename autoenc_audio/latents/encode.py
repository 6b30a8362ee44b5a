"""Encoding files into one latent file: a vector, an (inputs x N) matrix or whole-track sequences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..audio import Clip, CropMode, TrackClips, load_clip
from ..checkpoint import Checkpoint
from ..latent_files import LatentFile, make_metadata
from ..models import Autoencoder
from .batches import encode_clips
from .inputs import clip_crop, hop_samples
from .model import model_device, model_fields
from .reporting import INPUT_FAILURES, NoUsableInput, OnError, Progress, renamed_error, report_failure


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
        error = renamed_error(error, source, name)
        failures.append((name, str(error)))
        report_failure(on_error, name, error)

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
