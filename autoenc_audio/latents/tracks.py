"""A whole track's clips, streamed from its file: what `whole=True` encodes and reconstructs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

from ..audio import AudioError, Clip, clip_count, make_clip, probe, stream_frames
from ..config import AudioConfig
from ..files import PathLike
from ..mixing import MixCheck, to_mono


class TrackClips:
    """Every clip of a whole track, streamed: iterate to get `Clip`s at starts 0, hop, 2 hop, ...

    The file is decoded in blocks (`audio.stream_frames`), mixed to mono and
    resampled with `soxr.ResampleStream` (the same output as resampling the
    whole track at once), so memory stays at one block plus one clip whatever
    the track's length. Clips overlap when `hop_samples < clip_samples`; the
    last clip is zero-padded, and together they cover every sample. After
    iteration, `track_samples` is the preprocessed track's length: what
    decodes, which for a truncated download is less than `expected_samples`
    (its header's promise), with a `TruncatedAudioWarning`.
    """

    BLOCK_SECONDS = 10.0

    def __init__(self, path: PathLike, config: AudioConfig, hop_samples: int) -> None:
        if not 1 <= hop_samples <= config.clip_samples:
            raise ValueError(
                f"hop must be between 1 and the clip length ({config.clip_samples} samples), got {hop_samples}"
            )
        self.info = probe(path)
        self.path = Path(path)
        self.config = config
        self.hop = hop_samples
        self.track_samples: int | None = None

    @property
    def expected_samples(self) -> int:
        """The preprocessed length predicted from the header (exact for PCM formats)."""
        return int(math.ceil(self.info.frames * self.config.sample_rate / self.info.sample_rate))

    @property
    def expected_clips(self) -> int:
        return clip_count(self.expected_samples, self.config.clip_samples, self.hop)

    def _mono_blocks(self) -> Iterator[np.ndarray]:
        """Mono blocks at the target rate, of what decodes (a truncated download ends where its audio does)."""
        rate = self.info.sample_rate
        stream = (
            None
            if rate == self.config.sample_rate
            else soxr.ResampleStream(rate, self.config.sample_rate, 1, dtype="float32", quality="HQ")
        )
        mix = MixCheck()
        for data in stream_frames(self.path, max(1, int(self.BLOCK_SECONDS * rate))):
            mono = to_mono(data)
            mix.add(data, mono)
            yield mono if stream is None else stream.resample_chunk(mono)
        mix.warn(str(self.path))
        if stream is not None:
            yield stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)

    def __iter__(self) -> Iterator[Clip]:
        clip, hop = self.config.clip_samples, self.hop
        buffer = np.zeros(0, dtype=np.float32)
        base = 0  # track position of buffer[0]
        start = 0  # next clip's start
        total = 0
        for piece in self._mono_blocks():
            total += len(piece)
            buffer = np.concatenate([buffer, piece.astype(np.float32, copy=False)])
            while start + clip <= base + len(buffer):
                yield make_clip(
                    buffer[start - base : start - base + clip],
                    self.config,
                    str(self.path),
                    start / self.config.sample_rate,
                )
                start += hop
                drop = min(start - base, len(buffer))
                buffer, base = buffer[drop:], base + drop
        self.track_samples = total
        if total == 0:
            raise AudioError(f"{self.path}: contains no audio frames")
        for _ in range(clip_count(total, clip, hop) - (start // hop)):
            yield make_clip(buffer[start - base :], self.config, str(self.path), start / self.config.sample_rate)
            start += hop
