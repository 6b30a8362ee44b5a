"""Rendering one track and writing the corpus in the GTZAN layout."""

from __future__ import annotations

import json
import math
import operator
import os
import pathlib
from collections.abc import Callable

import numpy as np
import soundfile as sf

from ..config import MAX_CORPUS_TRACK_SECONDS
from ..errors import InputError
from ..files import atomic_path, make_folder, write_text_atomic
from .mixing import _master
from .styles import _STYLE_TABLE, STYLES
from .theory import _compose_song

SYNTH_SAMPLE_RATE = 44100
"""Sample rate of the corpus: CD rate, so that loaders must resample."""

MANIFEST = "aea-synth.json"
"""What `write_corpus` records beside a corpus it wrote whole: the settings it was written with."""


class SynthError(InputError, ValueError):
    """A corpus that cannot be written as asked (a track too long to render)."""


def _sample_count(seconds: float, sample_rate: int) -> int:
    """Samples in a track of `seconds`, rejecting durations that make no track."""
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive finite number, got {seconds!r}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    samples = round(seconds * sample_rate)
    if samples < 1:
        raise ValueError(f"{seconds} s is shorter than one sample at {sample_rate} Hz")
    return samples


def render_track(style: str, seed: int, seconds: float, sample_rate: int = SYNTH_SAMPLE_RATE) -> np.ndarray:
    """Compose and render one track of `style`.

    Returns float32 `[samples, 2]` (stereo) with `samples =
    round(seconds * sample_rate)` and a peak of -1 dBFS. The same
    (style, seed, seconds, sample_rate) always gives identical samples.

    Raises ValueError for an unknown style, a negative seed or a
    non-positive duration.
    """
    if style not in _STYLE_TABLE:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    samples = _sample_count(seconds, sample_rate)
    spec = _STYLE_TABLE[style]
    rng = np.random.default_rng([seed, STYLES.index(style)])
    song = _compose_song(rng, spec.feel, samples, sample_rate)
    return _master(spec.render(song), song, spec.reverb_t60)


def _track_seed(corpus_seed: int, index: int) -> int:
    """An independent seed per track, so adding tracks never changes earlier ones."""
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def _write_wav_atomically(path: pathlib.Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM via a temporary file in the same folder, so readers never see half a file.

    Quantising here (rather than in libsndfile) pins the exact bytes.
    """
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    make_folder(path.parent)
    with atomic_path(path) as temporary:
        sf.write(temporary, pcm, sample_rate, subtype="PCM_16", format="WAV")


def corpus_paths(out_dir: str | os.PathLike[str], tracks: int) -> list[pathlib.Path]:
    """Where `write_corpus` puts its `tracks` tracks, in the order it renders them (track i is style
    `STYLES[i % len(STYLES)]`)."""
    root = pathlib.Path(out_dir)
    return [
        root / STYLES[index % len(STYLES)] / f"{STYLES[index % len(STYLES)]}.{index // len(STYLES):05d}.wav"
        for index in range(tracks)
    ]


def foreign_audio(
    out_dir: str | os.PathLike[str], tracks: int, replacing: dict[str, int | float] | None = None
) -> list[pathlib.Path]:
    """Audio files already in `out_dir` that a corpus of `tracks` tracks would not write: writing beside them
    would leave a mixed corpus (another run's tracks, or a user's music) that trains as one. The tracks of the
    corpus it is `replacing` (`existing_corpus`), which `remove_corpus` deletes first, are not foreign."""
    from ..audio import is_audio_path

    root = pathlib.Path(out_dir)
    if not root.is_dir():
        return []
    planned = set(corpus_paths(root, tracks)) | set(_corpus_files(root, replacing) if replacing else [])
    return sorted(p for p in root.rglob("*") if p.is_file() and is_audio_path(p) and p not in planned)


def corpus_settings(tracks: int, seconds: float, seed: int) -> dict[str, int | float]:
    """What the manifest records of a corpus: its tracks, their length, its seed and sample rate."""
    return {"tracks": tracks, "seconds": float(seconds), "seed": seed, "sample_rate": SYNTH_SAMPLE_RATE}


def existing_corpus(out_dir: str | os.PathLike[str]) -> dict[str, int | float] | None:
    """The settings of the corpus already in `out_dir`: its manifest's, else what its files tell (their number and
    length, from the first; a corpus written before manifests, or one interrupted); None when it holds none."""
    from ..audio import is_audio_path

    root = pathlib.Path(out_dir)
    try:
        recorded = json.loads((root / MANIFEST).read_text())
        if isinstance(recorded, dict):
            return recorded
    except (OSError, ValueError):
        pass
    audio = sorted(p for p in root.rglob("*") if p.is_file() and is_audio_path(p)) if root.is_dir() else []
    ours = sorted(set(audio) & set(corpus_paths(root, len(audio))))
    if not ours:
        return None
    try:
        info = sf.info(str(ours[0]))
    except (OSError, RuntimeError):
        return None
    return {"seconds": info.frames / info.samplerate, "sample_rate": info.samplerate, "files": len(audio)}


def corpus_differs(existing: dict[str, int | float] | None, tracks: int, seconds: float, seed: int) -> bool:
    """Whether `existing` (`existing_corpus`) is a corpus of other settings than these: writing would replace its
    tracks with others. Settings it does not record (a corpus without a manifest: its tracks and seed) are taken
    to agree, so an interrupted corpus is finished by writing it again."""
    if existing is None:
        return False
    wanted = corpus_settings(tracks, seconds, seed)
    if round(float(existing.get("seconds", seconds)) * SYNTH_SAMPLE_RATE) != round(seconds * SYNTH_SAMPLE_RATE):
        return True
    return any(existing.get(name, wanted[name]) != wanted[name] for name in ("tracks", "seed", "sample_rate"))


def remove_corpus(out_dir: str | os.PathLike[str], existing: dict[str, int | float]) -> None:
    """Delete the tracks of the corpus `existing` in `out_dir` (`existing_corpus`) and its manifest, nothing else."""
    root = pathlib.Path(out_dir)
    (root / MANIFEST).unlink(missing_ok=True)
    for path in _corpus_files(root, existing):
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()  # a style the new corpus has no track of: no empty label folder is left


def _corpus_files(root: pathlib.Path, existing: dict[str, int | float]) -> list[pathlib.Path]:
    """Where the tracks of the corpus `existing` (`existing_corpus`) in `root` lie."""
    return corpus_paths(root, int(existing.get("tracks", existing.get("files", 0))))


def write_corpus(
    out_dir: str | os.PathLike[str],
    tracks: int = 200,
    seconds: float = 30.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[pathlib.Path]:
    """Render `tracks` tracks into `out_dir` in the GTZAN layout and return their paths, sorted.

    Tracks are dealt round-robin over `STYLES` (track i is style
    `STYLES[i % len(STYLES)]`), so every style is represented even for small
    counts; files are `out_dir/<style>/<style>.00000.wav` numbered per style,
    44.1 kHz stereo 16-bit PCM. `progress(done, total)` is called after each
    file. The same arguments always produce byte-identical files.

    Raises ValueError if `tracks < 1`, `seconds <= 0` or `seed < 0`; SynthError (also a ValueError) if `seconds`
    is over `MAX_CORPUS_TRACK_SECONDS`.
    """
    tracks = operator.index(tracks)
    if tracks < 1:
        raise ValueError(f"tracks must be at least 1, got {tracks}")
    _sample_count(seconds, SYNTH_SAMPLE_RATE)
    if seconds > MAX_CORPUS_TRACK_SECONDS:
        raise SynthError(
            f"seconds must be at most {MAX_CORPUS_TRACK_SECONDS:g} (a track is rendered whole in memory: "
            f"{MAX_CORPUS_TRACK_SECONDS:g} s take about 2 GB), got {seconds:g}",
            settings=("seconds",),
        )
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    paths = []
    for index, path in enumerate(corpus_paths(out_dir, tracks)):
        style = STYLES[index % len(STYLES)]
        audio = render_track(style, _track_seed(seed, index), seconds)
        _write_wav_atomically(path, audio, SYNTH_SAMPLE_RATE)
        paths.append(path)
        if progress is not None:
            progress(index + 1, tracks)
    write_text_atomic(pathlib.Path(out_dir) / MANIFEST, json.dumps(corpus_settings(tracks, seconds, seed)) + "\n")
    return sorted(paths)
