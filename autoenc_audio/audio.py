"""Reading, preprocessing and writing audio files.

Every input, whatever its container, rate, bit depth or channel count, goes
through one explicit step: mix to mono (mean of channels), resample with soxr
to the target rate, and take a clip of the target length. Only the frames a
clip needs are decoded where the format can seek, so a 5 s clip from a
10-minute MP3 costs a 5 s decode.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

import numpy as np
import soundfile

from .config import AudioConfig
from .errors import ClippingWarning, InputError, TruncatedAudioWarning
from .files import PathLike, atomic_path, cannot_write, make_folder, out_of_space, write_standard_output
from .mixing import preprocess

CropMode = Literal["start", "center", "random"]

READ_EXTENSIONS: tuple[str, ...] = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".mp2", ".aif", ".aiff")
READ_EXTENSIONS += (".aifc", ".caf", ".w64", ".rf64", ".au", ".snd")  # and the rarer containers libsndfile reads
WRITE_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
_KNOWN_UNSUPPORTED: tuple[str, ...] = (
    ".m4a",
    ".m4b",
    ".aac",
    ".mp4",
    ".wma",
    ".webm",
    ".mka",
    ".ape",
    ".alac",
    ".amr",
    ".wv",
    ".tta",
)
_KNOWN_UNSUPPORTED += (".dsf", ".dff", ".mpc", ".ac3", ".dts", ".ra", ".mkv", ".mov", ".avi", ".3gp")
SILENCE_PEAK = 2.0**-15  # a clip whose peak is below one step of 16-bit audio is reported as silent
# soxr needs a little context either side of a cut to avoid edge ringing.
_RESAMPLE_MARGIN_SECONDS = 0.05


UNKNOWN_FRAMES = 2**63 - 1  # libsndfile's frame count for a header that holds none (a FLAC written to a pipe)
_MPEG_ESTIMATE_SLACK = 8 * 1152  # frames: eight MPEG frames, the least shortfall an estimated length may have
_BLOCK_FRAMES = 2**19  # frames decoded at a time where a file is read in blocks (about 10 s at 48 kHz)

STDIN_NAME = "<stdin>"
"""What results and errors call audio read from standard input."""


class AudioError(InputError):
    """An input that cannot be used; the message names the file and the cause."""


def _output_format(path: Path) -> tuple[str, str]:
    """(container, subtype) that `path`'s extension asks for; AudioError for one aea cannot write."""
    suffix = path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise AudioError(
            f"{path}: cannot write {suffix or 'files without an extension'}; use .wav, .flac, .ogg or .mp3"
        )
    return WRITE_FORMATS[suffix]


def _samples_to_write(path: PathLike, samples: np.ndarray) -> tuple[np.ndarray, int, float]:
    """`samples` as float32 clipped to [-1, 1], with how many were beyond full scale and the peak before
    clipping; AudioError for NaN or infinite samples."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim > 2 or (samples.ndim == 2 and samples.shape[1] > 2):
        raise AudioError(
            f"{path}: {samples.shape} is not audio to write ([samples] or [samples, channels], at most 2 channels)"
        )
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    magnitude = np.abs(samples)
    beyond = int(np.count_nonzero(magnitude > 1.0))
    return (np.clip(samples, -1.0, 1.0) if beyond else samples), beyond, float(magnitude.max(initial=0.0))


def _warn_clipped(path: PathLike, beyond: int, total: int, peak: float) -> None:
    """A `ClippingWarning` naming the file, when any sample was clipped; issued once the file is written."""
    if beyond:
        name = "standard output" if str(path) == "-" else str(path)
        warnings.warn(
            ClippingWarning(
                f"{name}: {beyond} of {total} samples beyond full scale were clipped "
                f"(peak {peak:.2f}, {20 * math.log10(peak):+.1f} dBFS)"
            ),
            stacklevel=3,
        )


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header."""

    path: str
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class Clip:
    """One preprocessed clip: mono float32 `[clip_samples]` at the target rate.

    `padded` says the source ran out before the clip was full (the tail is zeros,
    `valid_samples` long is real audio); `silent` that the clip has no signal.
    """

    samples: np.ndarray
    source: str
    offset_seconds: float
    padded: bool
    valid_samples: int
    silent: bool


def sniff_audio_suffix(head: bytes) -> str | None:
    """The file suffix of audio bytes by their magic number (WAV, FLAC, Ogg, AIFF, MP3), or None: what
    arrives on a pipe (`ffmpeg -i song.m4a -f wav - | aea encode -`) has no name to tell it by."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return None


def is_audio_path(path: PathLike) -> bool:
    """True when the file name has an extension aea reads."""
    return Path(path).suffix.lower() in READ_EXTENSIONS


def is_unsupported_audio_path(path: PathLike) -> bool:
    """True when the file name has the extension of an audio container aea cannot read (`.m4a`, `.aac`, ...)."""
    return Path(path).suffix.lower() in _KNOWN_UNSUPPORTED


def conversion_hint(path: PathLike) -> str:
    """How to make a file of an unsupported format readable: "convert to ... (e.g. ffmpeg -i 'x.m4a' 'x.flac')"."""
    path = Path(path)
    return f"convert to WAV, FLAC, OGG or MP3 (e.g. ffmpeg -i '{path.name}' '{path.stem}.flac')"


def audio_files_under(folder: PathLike) -> list[Path]:
    """Every file under `folder` (recursive, sorted, through symlinked folders) named as audio: the formats aea
    reads, and those it cannot (`.m4a`, ...) or broken links, which then fail when read, saying why, rather than
    being passed over in silence."""
    found: list[Path] = []
    seen: set[str] = set()  # the real folders walked: a link back up the tree is walked once
    for where, folders, files in os.walk(os.fspath(folder), followlinks=True):
        real = os.path.realpath(where)
        if real in seen:
            folders.clear()
            continue
        seen.add(real)
        folders.sort()  # the order of the walk, and so which of two links to one folder is kept, is the names'
        named = (Path(where) / name for name in files)
        found += [p for p in named if is_audio_path(p) or is_unsupported_audio_path(p)]
    return sorted(found)


def _check_path(path: PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: {'a broken link' if path.is_symlink() else 'no such file'}")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    suffix = path.suffix.lower()
    if suffix in _KNOWN_UNSUPPORTED:
        raise AudioError(f"{path}: {suffix} files are not supported; {conversion_hint(path)}")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")
    return path


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence file descriptor 2 while libsndfile probes a file: its MP3 decoder (libmpg123) prints
    resync notes there for a corrupt file, which would break aea's one-line errors."""
    with _STDERR_LOCK:  # threads opening files at once must not save each other's /dev/null
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def native_path(source: Any) -> Any:
    """A path soundfile can open: soundfile encodes a str path strictly, so a name whose bytes are not UTF-8 (a
    Latin-1 café.wav, which Python holds with surrogates) goes as the bytes the OS holds; any other path and
    streams pass as they are (the handle's `name` stays a str)."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    try:
        os.fspath(source).encode(sys.getfilesystemencoding())
    except UnicodeEncodeError:
        return os.fsencode(source)
    return source


class _Reader(soundfile.SoundFile):
    """A SoundFile whose reads only decode on: soundfile seeks to where it stands after each read (for files
    open to write), which fails at the end of a FLAC whose header holds no length and makes an MP3 decoder
    resync, so blocks of a stream would not join up. `can_seek`: whether `seek` may be used."""

    def seekable(self) -> bool:
        return False

    @property
    def can_seek(self) -> bool:
        return super().seekable()


def _open(source: PathLike | BinaryIO, name: str) -> _Reader:
    """Open for reading; callers hold `_native_stderr_silenced()` around the open and the reads."""
    try:
        return _Reader(native_path(source))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        detail = str(error).split(":")[-1].strip() or "unreadable"
        if "possibly a pipe" in detail:  # libsndfile's words for a stream its MP3 decoder rejected
            detail = "no valid audio stream"
        supported = "WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF"
        raise AudioError(f"{name}: not a readable audio file ({detail}); supported: {supported}") from None


def _decoded(handle: _Reader, name: str, frames: int, block: int) -> Iterator[np.ndarray]:
    """What decodes from the handle's position, `frames` frames (all when negative), as float32 `[n, channels]`
    blocks of at most `block` frames: a short read is the end, so a truncated download gives what it holds and
    nothing made up. Each read silences native stderr alone: a consumer's output between blocks is kept."""
    left = frames
    while left != 0:
        wanted = block if left < 0 else min(block, left)
        with _native_stderr_silenced():
            try:
                data = handle.read(wanted, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError) as error:
                raise AudioError(f"{name}: corrupt or truncated audio ({error})") from None
        if not np.isfinite(data).all():
            raise AudioError(f"{name}: contains NaN or infinite samples")
        if len(data):
            yield data
        if len(data) < wanted:
            return
        left = left - len(data) if left > 0 else left


def promised_frames(audio_format: str, header: int) -> int:
    """The frames a header's count guarantees: all of them, but for MPEG audio without a Xing header, whose length
    libsndfile estimates from the size and bitrate, a little over what a complete file decodes to."""
    if header == UNKNOWN_FRAMES or audio_format != "MP3":
        return header
    return header - max(_MPEG_ESTIMATE_SLACK, header // 100)


def _warn_truncated(name: str, decoded: int, header: int, rate: int, audio_format: str) -> None:
    """A `TruncatedAudioWarning` naming the file, when it decodes to fewer frames than its header promises."""
    if header != UNKNOWN_FRAMES and decoded < promised_frames(audio_format, header):
        said = f"{name}: decodes to {decoded / rate:.2f} s though its header says {header / rate:.2f} s (truncated?)"
        warnings.warn(TruncatedAudioWarning(said), stacklevel=3)


def stream_frames(path: PathLike, block_frames: int = _BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """A whole file as float32 `[n, channels]` blocks of at most `block_frames` (memory: one block), of what
    decodes; then a `TruncatedAudioWarning` where its header promised more (a truncated download)."""
    path = _check_path(path)
    with _native_stderr_silenced():
        handle = _open(path, str(path))
    decoded, header, rate, audio_format = 0, handle.frames, handle.samplerate, handle.format
    with handle:
        for data in _decoded(handle, str(path), -1, block_frames):
            decoded += len(data)
            yield data
    _warn_truncated(str(path), decoded, header, rate, audio_format)


def probe(path: PathLike) -> AudioInfo:
    """Header facts of an audio file, its length decoded where the header has none (a FLAC written to a pipe);
    a header's length is trusted (readers notice a file that holds less). Raises AudioError naming the file."""
    path = _check_path(path)
    with _native_stderr_silenced(), _open(path, str(path)) as handle:
        info = AudioInfo(str(path), handle.format, handle.subtype, handle.samplerate, handle.channels, handle.frames)
    if info.frames == UNKNOWN_FRAMES:
        info = dataclasses.replace(info, frames=sum(len(data) for data in stream_frames(path)))
    if info.frames <= 0:
        raise AudioError(f"{path}: contains no audio frames")
    return info


def _skip_to(handle: _Reader, start_frame: int) -> bool:
    """Move to `start_frame` (seeking where the format can); False when the file ends before it."""
    if start_frame <= 0:
        return True
    if handle.frames == UNKNOWN_FRAMES:  # libFLAC seeks anywhere before the end, and fails at or past it
        try:
            return handle.seek(start_frame) == start_frame
        except (soundfile.LibsndfileError, RuntimeError):
            return False
    if start_frame < handle.frames and handle.can_seek:
        return handle.seek(start_frame) == start_frame
    return start_frame < handle.frames and len(handle.read(start_frame, dtype="float32")) == start_frame


def read_frames(
    source: PathLike | BinaryIO, start_frame: int = 0, frames: int = -1, name: str | None = None
) -> tuple[np.ndarray, int]:
    """Decode `frames` frames (all when -1) from `start_frame`: `[frames, channels]` float32 and the rate.

    Seeks instead of decoding what comes before, so the cost follows the frames read. Gives what decodes:
    fewer frames where the file ends first, with a `TruncatedAudioWarning` where its header promised more.
    """
    if isinstance(source, (str, os.PathLike)):
        source = _check_path(source)
        name = name or str(source)
    name = name or "<stream>"
    data, rate, header, audio_format = _read(source, start_frame, frames, name)
    if 0 < len(data) and (frames < 0 or len(data) < frames):  # ended before what was asked: short of the header?
        _warn_truncated(name, start_frame + len(data), header, rate, audio_format)
    return data, rate


def _read(source: PathLike | BinaryIO, start_frame: int, frames: int, name: str) -> tuple[np.ndarray, int, int, str]:
    """`read_frames` without its warning: `[frames, channels]`, the rate, the header's frame count
    (`UNKNOWN_FRAMES` when it has none) and the format."""
    with _native_stderr_silenced():
        handle = _open(source, name)
    with handle:
        if handle.frames == 0:
            raise AudioError(f"{name}: contains no audio frames")
        rate, header, audio_format = handle.samplerate, handle.frames, handle.format
        nothing = np.zeros((0, handle.channels), np.float32)
        with _native_stderr_silenced():
            try:
                started = _skip_to(handle, start_frame)
            except (soundfile.LibsndfileError, RuntimeError) as error:
                raise AudioError(f"{name}: corrupt or truncated audio ({error})") from None
        if not started:
            data = nothing
        elif header == UNKNOWN_FRAMES:  # a length found by decoding: in blocks, joined once
            data = np.concatenate([nothing, *_decoded(handle, name, frames, _BLOCK_FRAMES)])
        else:  # one read, one allocation: the header's length bounds it
            count = header - start_frame if frames < 0 else min(frames, header - start_frame)
            data = next(_decoded(handle, name, count, max(1, count)), nothing)
    return data, rate, header, audio_format


def load_track(path: PathLike, config: AudioConfig) -> np.ndarray:
    """A whole file, preprocessed: mono float32 `[samples]` at `config.sample_rate`."""
    data, rate = read_frames(path)
    return preprocess(data, rate, config, str(path))


def choose_offset(
    duration_seconds: float,
    clip_seconds: float,
    crop: CropMode | float = "start",
    rng: np.random.Generator | None = None,
) -> float:
    """Where a clip starts, in seconds, for a track of `duration_seconds`."""
    room = max(0.0, duration_seconds - clip_seconds)
    if isinstance(crop, (int, float)) and not isinstance(crop, bool):
        if crop < 0:
            raise AudioError(f"offset must not be negative, got {crop}")
        return float(crop)
    if crop == "start":
        return 0.0
    if crop == "center":
        return room / 2
    if crop == "random":
        rng = rng if rng is not None else np.random.default_rng()
        return float(rng.uniform(0.0, room)) if room > 0 else 0.0
    raise AudioError(f"unknown crop mode {crop!r}: use start, center, random or an offset in seconds")


def load_clip(
    path: PathLike,
    config: AudioConfig,
    crop: CropMode | float = "start",
    rng: np.random.Generator | None = None,
) -> Clip:
    """One clip of `config.clip_samples` from a file, decoding only what it needs; from a truncated download,
    chosen from what decodes, with a `TruncatedAudioWarning` (the one case that decodes it all, to find its end)."""
    info = probe(path)
    offset = choose_offset(info.duration_seconds, config.clip_seconds, crop, rng)
    clip, complete = _clip_at(path, info, config, offset)
    if complete:
        return clip
    decoded = dataclasses.replace(info, frames=sum(len(data) for data in stream_frames(path)))  # and warns
    if isinstance(crop, str):  # where centre and random fall depends on the length
        offset = choose_offset(decoded.duration_seconds, config.clip_seconds, crop, rng)
    return _clip_at(path, decoded, config, offset)[0]


def _clip_at(path: PathLike, info: AudioInfo, config: AudioConfig, offset: float) -> tuple[Clip, bool]:
    """The clip at `offset` seconds of the file `info` describes, and whether its frames all decoded (False:
    the file holds less than `info` says)."""
    if offset >= info.duration_seconds:
        raise AudioError(f"{path}: offset {offset:.2f} s is past the end ({info.duration_seconds:.2f} s)")
    # The lead-in is a whole number of resampling periods, so it maps to whole output samples.
    period = info.sample_rate // math.gcd(info.sample_rate, config.sample_rate)
    margin = int(_RESAMPLE_MARGIN_SECONDS * info.sample_rate)
    start = int(round(offset * info.sample_rate))
    lead = min(max(margin // period, 1), start // period) * period
    wanted = int(np.ceil(config.clip_seconds * info.sample_rate)) + lead + margin
    data, rate, _, _ = _read(Path(path), start - lead, wanted, str(path))
    mono = preprocess(data, rate, config, str(path))
    skip = lead * config.sample_rate // rate
    promised = promised_frames(info.format, info.frames) - start + lead
    return make_clip(mono[skip:], config, str(path), offset), len(data) >= min(wanted, promised)


def make_clip(samples: np.ndarray, config: AudioConfig, source: str, offset_seconds: float) -> Clip:
    """Cut or zero-pad preprocessed mono `[samples]` to one clip `[clip_samples]`."""
    length = config.clip_samples
    valid = min(len(samples), length)
    clip = np.zeros(length, dtype=np.float32)
    clip[:valid] = samples[:valid]
    silent = bool(valid == 0 or np.abs(clip).max() < SILENCE_PEAK)
    return Clip(clip, source, offset_seconds, valid < length, valid, silent)


def write_audio(path: PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write `[samples]` or `[samples, channels]` by extension; `-` writes WAV to stdout.

    Atomic: a temporary file in the same folder is renamed over the target, so
    an interrupted write never leaves a partial file. Samples beyond full scale
    are clipped, with a `ClippingWarning`.
    """
    samples, beyond, peak = _samples_to_write(path, samples)
    if str(path) == "-":
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
        write_standard_output(buffer.getbuffer())
    else:
        path = Path(path)
        container, subtype = _output_format(path)
        make_folder(path.parent)
        with atomic_path(path) as temporary:
            soundfile.write(native_path(temporary), samples, sample_rate, format=container, subtype=subtype)
    _warn_clipped(path, beyond, samples.size, peak)


# ----------------------------------------------------------------------------- whole tracks, streamed


def clip_count(track_samples: int, clip_samples: int, hop_samples: int) -> int:
    """How many clips at starts 0, hop, 2 hop, ... cover a track (the last one may be padded); at least 1."""
    if track_samples <= clip_samples:
        return 1
    return -(-(track_samples - clip_samples) // hop_samples) + 1


class audio_writer:
    """Write audio in pieces to `path` (by extension; `-`: WAV on stdout), atomically.

    `with audio_writer(path, rate) as write: write(samples)`; nothing appears
    at `path` unless the block completes. For `-` the WAV is assembled in a
    temporary file (its header needs the length) and then copied to stdout.
    """

    def __init__(self, path: PathLike, sample_rate: int) -> None:
        self.path = str(path)
        self.sample_rate = sample_rate
        self._atomic: atomic_path | None = None
        self._handle: soundfile.SoundFile | None = None
        self._temporary: tempfile.TemporaryDirectory | None = None
        self._written = self._beyond = 0
        self._peak = 0.0

    def __enter__(self) -> Callable[[np.ndarray], None]:
        if self.path == "-":
            self._temporary = tempfile.TemporaryDirectory(prefix="aea-")
            target, container, subtype = Path(self._temporary.name) / "out.wav", "WAV", "PCM_16"
        else:
            path = Path(self.path)
            container, subtype = _output_format(path)
            make_folder(path.parent)
            self._atomic = atomic_path(path)
            target = self._atomic.__enter__()
        self._target = target
        try:
            self._handle = soundfile.SoundFile(
                native_path(target), "w", samplerate=self.sample_rate, channels=1, format=container, subtype=subtype
            )
        except (RuntimeError, OSError) as error:  # the header already meets a full disk
            self._abandon(error)
            raise
        return self.write

    def write(self, samples: np.ndarray) -> None:
        """Append `samples` `[n]`; a failed write is an OutputError naming the file (a full disk as one)."""
        assert self._handle is not None
        samples, beyond, peak = _samples_to_write(self.path, samples)
        self._written, self._beyond, self._peak = (
            self._written + samples.size,
            self._beyond + beyond,
            max(self._peak, peak),
        )
        try:
            self._handle.write(samples)
        except (RuntimeError, OSError) as error:
            if self._atomic is None:
                raise
            # Told here, while the partial file still takes its space: the body's other writers pass it on.
            raise cannot_write(self.path, error, out_of_space(Path(self.path).parent, error)) from None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self._handle is not None
        try:
            self._handle.close()  # writes what is buffered: a full disk can fail here too
        except (RuntimeError, OSError) as error:
            if exc is None:  # else the body's own error is the one to tell
                self._abandon(error)
                raise
        if exc is not None:
            self._abandon(None)
            return
        self._keep()
        _warn_clipped(self.path, self._beyond, self._written, self._peak)

    def _abandon(self, error: BaseException | None) -> None:
        """Remove the unfinished file; `error`, this file's own write failure, is raised as an OutputError
        when it means a full disk (an error of the caller's block is left as it is)."""
        if self._atomic is None:
            assert self._temporary is not None
            self._temporary.cleanup()
        elif error is None:
            self._atomic.discard()
        else:
            self._atomic.__exit__(type(error), error, error.__traceback__)

    def _keep(self) -> None:
        """Rename the finished file into place, or copy it to stdout."""
        if self._atomic is not None:
            self._atomic.__exit__(None, None, None)
            return
        assert self._temporary is not None
        try:
            with open(self._target, "rb") as handle:
                write_standard_output(handle)
        finally:
            self._temporary.cleanup()
