"""Decoding latent files to audio: one file per row, or one track per source joined by overlap-add."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..audio import audio_writer, write_audio
from ..checkpoints.checkpoint import Checkpoint
from ..files import refuse_overwriting_inputs
from .batches import decode_latents
from .failures import LatentError, Progress
from .files import LatentFile
from .model import check_size, model_device
from .outputs import STDIN_NAME, Written, output_paths, stem_of
from .overlap import OverlapAdd


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
    track per source (joined by overlap-add). `join` forces (True) or refuses (False) joining rows. An output
    that is the latent file itself (named by `latent_file.name`), or a song its rows were encoded from (as the file
    records them: decoding `z.pt` into the folder of its song), is refused before decoding."""
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
            raise LatentError(
                f"{latent_file.name}: hop of {hop} samples does not fit this model's {audio.clip_samples}-sample clips"
            )
        names = [stem_of(t.get("source"), "decoded") for t in tracks]
        targets = output_paths(out, names)
        refuse_overwriting_inputs(
            targets, [latent_file.name, *_songs_recorded(latent_file, [t.get("source") for t in tracks])]
        )
        written = []
        for target, track in zip(targets, tracks):
            rows = matrix[int(track["start"]) : int(track["stop"])]
            written.append(write_joined(checkpoint, rows, target, hop, track.get("samples"), batch_size, progress))
            written[-1].source, written[-1].rows = track.get("source"), (int(track["start"]), int(track["stop"]))
        return written
    sources = latent_file.sources if len(latent_file.sources) == len(matrix) else [None] * len(matrix)
    names = [stem_of(source, f"row{index:03d}") for index, source in enumerate(sources)]
    targets = output_paths(out, names)
    refuse_overwriting_inputs(targets, [latent_file.name, *_songs_recorded(latent_file, sources)])
    written = []
    done = 0
    for start in range(0, len(matrix), batch_size):
        clips = decode_latents(
            checkpoint.model, matrix[start : start + batch_size], batch_size, model_device(checkpoint)
        )
        for offset, clip in enumerate(clips):
            row = start + offset
            write_audio(targets[row], clip[0].numpy(), audio.sample_rate)
            written.append(Written(targets[row], sources[row], (row, row + 1), clip.shape[-1]))
        done += len(clips)
        if progress:
            progress(done, len(matrix))
    return written


def write_joined(
    checkpoint: Checkpoint,
    rows: torch.Tensor,
    target: str,
    hop: int,
    track_samples: int | None,
    batch_size: int,
    progress: Progress | None = None,
) -> Written:
    """Decode a sequence `[clips, N]` batch by batch and overlap-add it into one track, streamed to `target`."""
    audio = checkpoint.config.audio
    joiner = OverlapAdd(audio.clip_samples, hop, len(rows), track_samples)
    with audio_writer(target, audio.sample_rate) as write:
        for start in range(0, len(rows), batch_size):
            for clip in decode_latents(
                checkpoint.model, rows[start : start + batch_size], batch_size, model_device(checkpoint)
            ):
                write(joiner.push(clip[0].numpy()))
            if progress:
                progress(min(start + batch_size, len(rows)), len(rows))
        write(joiner.finish())
    return Written(target, None, (0, len(rows)), joiner.emitted)


def _songs_recorded(latent_file: LatentFile, sources: Sequence[str | None]) -> list[str]:
    """Where the songs a latent file's rows came from may be: each recorded path as given, and a relative one also
    beside the latent file (paths are recorded as typed, relative to a folder encoding ran in, not known here)."""
    beside = Path(latent_file.name).parent
    found = []
    for source in sources:
        if source and source not in ("-", STDIN_NAME):
            found += [source] if Path(source).is_absolute() else [source, str(beside / source)]
    return found
