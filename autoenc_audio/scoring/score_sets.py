"""`aea score`: is generated audio music? Sets of clips scored against held-out real clips (docs/scoring.md).

Each set (a file or a folder of audio files) is cut into 5 s clips at
22050 Hz, peak normalised to 0.5, and scored on `clips` of them (32 by
default; a larger set is subsampled with seed 1) against R, every held-out
clip: the clips of the test split, by track, of the data a model was trained
on (its run's data folder and split settings) or of a folder given directly
(aea's default split). Reported per set: `c2st`, `fd`, the means of `tonal`,
`continuity`, `rhythm` and `flatness`, and `copied` (2 s windows that copy
the training tracks). Beside them, always, R's own means and two controls on
the same data: the real floor (clips of the training tracks) and shaped
noise (random-phase noise with the training clips' mean magnitude spectrum,
under the loudness envelope of a clip of R).

Nothing here imports torch: a model's data settings are read from its
checkpoint's safetensors header (plain JSON). Reading the data folder uses
`data.py` (scan, split, decode cache), imported only when scoring runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import audio_files_under, load_track
from ..config import AudioConfig, Config, DataConfig
from ..errors import InputError, counted
from ..runs.folder import RunFiles
from .features import (
    BINS,
    CLIP_SAMPLES,
    SAMPLE_RATE,
    clip_features,
    clips_features,
    cut_pieces,
    iter_pieces,
    peak_normalise,
    piece_starts,
    stft_magnitude,
    track_log_mel,
)
from .statistics import C2ST_FOLDS, CopyFinder, c2st, frechet_distance, shares_of_copies, subsample, window_queries

DEFAULT_CLIPS = 32
MIN_CLIPS = 8
"""The fewest clips a set is scored on: c2st's stratified `C2ST_FOLDS`-fold cross-validation needs a few per fold."""
SET_SEED = 1  # the subsample of a set larger than `clips`
ENVELOPE_SECONDS = 0.1
SCORE_AUDIO = AudioConfig(sample_rate=SAMPLE_RATE, clip_seconds=CLIP_SAMPLES / SAMPLE_RATE)
Message = Callable[[str], None]


class ScoreError(InputError):
    """A set or reference that cannot be scored (missing, too few clips); the message says what is needed."""


@dataclass(frozen=True)
class SetScore:
    """One row of `aea score`. `kind`: "generated" (a set given), "control" or "reference" (R itself).

    `c2st` and `fd` are None for the reference row; `copied` is None for the
    shaped-noise control (noise copies nothing).
    """

    name: str
    kind: str
    clips: int
    c2st: float | None
    fd: float | None
    tonal: float
    continuity: float
    rhythm: float
    flatness: float
    copied: float | None


@dataclass(frozen=True)
class ScoreReport:
    """Every row, and what R was: the data folder, its held-out (test) and training track counts."""

    root: str
    held_out_tracks: int
    training_tracks: int
    rows: list[SetScore]


@dataclass(frozen=True)
class RealData:
    """The data scored against: decoded mono 22050 Hz tracks `[samples]` of the test and training splits."""

    root: Path
    held_out: list[np.ndarray]
    training: list[np.ndarray]
    hop: int  # samples between clip starts, from the data's config


@dataclass(frozen=True)
class _Clips:
    """A set's scored clips: features `[n, 84]` and 40-band log-mels `[n, 40, 216]`."""

    name: str
    kind: str
    features: np.ndarray
    log_mels: np.ndarray


# ----------------------------------------------------------------------------- sets


def _audio_files(path: Path) -> list[Path]:
    """The audio files a set argument names: the file itself, or every audio file under a folder."""
    if not path.exists():
        raise ScoreError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = audio_files_under(path)  # an .m4a among them fails when read, saying how to convert it
    if not files:
        raise ScoreError(f"{path}: no audio files in this folder")
    return files


class TooFewClips(ScoreError):
    """Fewer clips than a score asks for. Its parts stay readable (`found`, `count`, `clips`, `remedy`) so a caller
    that has no way to ask for fewer (`aea report`, the demo) can give advice that fits it instead."""

    def __init__(self, found: str, count: int, clips: int, remedy: str) -> None:
        self.found, self.count, self.clips, self.remedy = found, count, clips, remedy
        if count >= MIN_CLIPS:
            super().__init__(
                f"{found}; {clips} are needed ({remedy}, or ask for fewer with clips=N, {MIN_CLIPS} to {count})",
                settings=("clips=N",),
            )
        else:
            super().__init__(f"{found}; {clips} are needed ({remedy}; no score takes fewer than {MIN_CLIPS})")

    def __reduce__(self) -> tuple[type, tuple[str, int, int, str]]:
        return TooFewClips, (self.found, self.count, self.clips, self.remedy)


def too_few_clips(found: str, count: int, clips: int, remedy: str) -> TooFewClips:
    """The error for `count` clips where `clips` are asked for: fewer are offered only when `count` can be scored
    (at least `MIN_CLIPS`); otherwise asking for fewer would be refused in turn."""
    return TooFewClips(found, count, clips, remedy)


def load_set(path: str | os.PathLike, clips: int = DEFAULT_CLIPS) -> np.ndarray:
    """The `clips` scored clips `[clips, 110250]` of a set (file or folder), peak normalised.

    Every file is cut into 5 s pieces (a file or remainder shorter than 5 s is
    dropped); more than `clips` pieces are subsampled with seed 1. Raises
    ScoreError naming the set when it gives fewer than `clips`.
    """
    path = Path(path)
    pieces = [cut_pieces(load_track(file, SCORE_AUDIO)).astype(np.float32) for file in _audio_files(path)]
    every = np.concatenate(pieces) if pieces else np.zeros((0, CLIP_SAMPLES))
    if len(every) < clips:
        raise too_few_clips(
            f"{path}: {counted(len(every), 'clip')} of 5 s", len(every), clips, "generate more five-second audio"
        )
    return every[subsample(len(every), clips, SET_SEED)].astype(np.float64)


# ----------------------------------------------------------------------------- the real data


def checkpoint_data(checkpoint: str | os.PathLike) -> tuple[Path | None, DataConfig]:
    """The data folder (None: the built-in corpus) and data settings a checkpoint was trained with.

    Read without torch: the config from the safetensors header (an 8-byte
    little-endian length, then JSON whose `__metadata__` holds aea's fields),
    the folder from the run's `run.json` beside it, else from the training
    summary stored in the checkpoint.
    """
    path = Path(checkpoint)
    try:
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if not 2 <= length <= 100_000_000:
                raise ValueError("bad header length")
            metadata = json.loads(handle.read(length)).get("__metadata__") or {}
        if metadata.get("format") != "aea-checkpoint":
            raise ValueError("no aea metadata")
        config = Config.from_dict(json.loads(metadata["config"]))
        info = json.loads(metadata.get("info") or "{}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ScoreError(f"{path}: not a readable aea checkpoint ({error})") from None
    run = RunFiles(path.parent)
    if run.run.is_file():
        return run.data_root, config.data  # RunError naming a corrupt run.json
    stored = (info.get("data") or {}).get("root") if isinstance(info, dict) else None
    return (Path(stored) if stored else None), config.data


class TrainedDataGone(ScoreError):
    """The data folder a checkpoint records is not on this machine (or not at that path from here): `root`."""

    def __init__(self, checkpoint: Path, root: Path) -> None:
        super().__init__(
            f"{checkpoint} was trained on {root}, which is not here (a relative path is taken from the current "
            "folder); give --data with that folder"
        )
        self.root = root


def trained_data_root(checkpoint: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """The data folder a checkpoint was trained on, as found here: its run's or its own record (`checkpoint_data`),
    or the built-in corpus (built in `cache_dir`, also when it was recorded in another cache). Commands that show
    a model's data use it so a checkpoint shared alone is never shown on other audio; TrainedDataGone when the
    recorded folder is not here."""
    from ..data import builtin_corpus, builtin_corpus_folder

    root, data = checkpoint_data(checkpoint)
    if root is None or (not root.is_dir() and root.name == builtin_corpus_folder(cache_dir, data).name):
        return builtin_corpus(cache_dir, data)
    if not root.is_dir():
        raise TrainedDataGone(Path(checkpoint), root)
    return root


def load_real_data(
    root: Path | None, data: DataConfig, cache_dir: str | os.PathLike, message: Message | None = None
) -> RealData:
    """The test and training tracks of `root` (None: the built-in corpus), split by track as training splits them.

    Tracks are decoded once into aea's cache (mono, 22050 Hz); unreadable
    ones are left out before splitting, as `prepare_dataset` does.
    """
    from ..data import TrackCache, builtin_corpus, dataset_hop_samples, fill_cache, scan_folder, split_tracks

    if root is None:
        root = builtin_corpus(cache_dir, data)
    scan = scan_folder(root)
    cache = TrackCache(cache_dir, SCORE_AUDIO)
    if message:
        message(f"decoding {counted(len(scan.tracks), 'track')} of {root} (cached)")
    failed = {path for path, _ in fill_cache(cache, scan.tracks)}
    tracks = [track for track in scan.tracks if str(track.path) not in failed]
    splits = split_tracks(tracks, data.validation_fraction, data.test_fraction, data.split_seed, data.train_fraction)
    return RealData(
        Path(root),
        [cache.load(t.path) for t in splits["test"]],
        [cache.load(t.path) for t in splits["train"]],
        dataset_hop_samples(SCORE_AUDIO, data),
    )


def _held_out_clips(real: RealData, clips: int) -> tuple[_Clips, np.ndarray]:
    """R: features of every held-out clip (log-mels of `clips` of them, seed 1), and those clips' audio `[clips, 110250]`."""
    count = sum(len(piece_starts(len(track), real.hop)) for track in real.held_out)
    if count < clips:
        raise too_few_clips(
            f"{real.root}: {counted(count, 'held-out clip')} of 5 s ({counted(len(real.held_out), 'test track')})",
            count,
            clips,
            "more or longer test tracks",
        )
    chosen = set(subsample(count, clips, SET_SEED).tolist())
    features, log_mels, audio = [], [], []
    for number, clip in enumerate(piece for track in real.held_out for piece in iter_pieces(track, real.hop)):
        vector, bands = clip_features(clip)
        features.append(vector)
        if number in chosen:
            log_mels.append(bands)
            audio.append(clip)
    return _Clips("held-out real (R)", "reference", np.stack(features), np.stack(log_mels)), np.stack(audio)


def _floor_clips(real: RealData, clips: int) -> np.ndarray:
    """`clips` clips `[clips, 110250]` of the training tracks (seed 1 over all of them), peak normalised."""
    index = [
        (number, start) for number, track in enumerate(real.training) for start in piece_starts(len(track), real.hop)
    ]
    if len(index) < clips:
        raise ScoreError(
            f"{real.root}: {counted(len(index), 'training clip')} of 5 s; {clips} are needed for the real floor"
        )
    chosen = [index[i] for i in subsample(len(index), clips, SET_SEED)]
    return np.stack([cut_pieces(real.training[n][start : start + CLIP_SAMPLES])[0] for n, start in chosen])


def _training_pass(real: RealData, scored: Sequence[_Clips], copies: bool) -> tuple[np.ndarray, list[float | None]]:
    """One pass over the training tracks: their clips' mean `|S|` `[1025]`, and each scored set's `copied`."""
    queries = [window_queries(s.log_mels) for s in scored] if copies else []
    finder = CopyFinder(np.concatenate(queries)) if copies else None
    total, frames = np.zeros(BINS), 0
    for track in real.training:
        for piece in iter_pieces(track, real.hop):
            magnitude = stft_magnitude(piece)
            total += magnitude.sum(axis=1)
            frames += magnitude.shape[1]
        if finder is not None:
            finder.add_track(track_log_mel(np.asarray(track)))
    mean_magnitude = total / max(frames, 1)
    if finder is None:
        return mean_magnitude, [None] * len(scored)
    return mean_magnitude, list(shares_of_copies(finder.maxima(), [len(q) for q in queries]))


# ----------------------------------------------------------------------------- shaped noise


def _moving_rms(clip: np.ndarray, width: int) -> np.ndarray:
    """RMS of `clip [samples]` over a centred window of `width` samples (fewer at the ends): `[samples]`."""
    sums = np.concatenate([[0.0], np.cumsum(clip**2)])
    index = np.arange(len(clip))
    low, high = np.clip(index - width // 2, 0, len(clip)), np.clip(index - width // 2 + width, 0, len(clip))
    return np.sqrt(np.clip((sums[high] - sums[low]) / (high - low), 0, None))


def shaped_noise(mean_magnitude: np.ndarray, templates: np.ndarray, seed: int = 0) -> np.ndarray:
    """Music-coloured noise: one clip `[110250]` per template clip, `[n, 110250]`, peak normalised.

    Random-phase noise whose magnitude spectrum is `mean_magnitude [1025]`
    (the training clips' mean `|S|`, interpolated to the clip's frequency
    grid), scaled to the template clip's loudness envelope (RMS over 100 ms).
    """
    rng = np.random.default_rng(seed)
    fine = np.fft.rfftfreq(CLIP_SAMPLES, 1 / SAMPLE_RATE)
    amplitude = np.interp(fine, np.arange(BINS) * SAMPLE_RATE / (2 * (BINS - 1)), mean_magnitude)
    width = int(ENVELOPE_SECONDS * SAMPLE_RATE)
    out = np.zeros((len(templates), CLIP_SAMPLES))
    for row, template in enumerate(templates):
        noise = np.fft.irfft(amplitude * np.exp(2j * np.pi * rng.random(len(fine))), n=CLIP_SAMPLES)
        noise /= max(float(np.sqrt(np.mean(noise**2))), 1e-12)
        out[row] = peak_normalise(noise * _moving_rms(template, width))
    return out


# ----------------------------------------------------------------------------- scores


def _row(scored: _Clips, real: np.ndarray | None, copied: float | None) -> SetScore:
    means = scored.features[:, :4].mean(axis=0)
    return SetScore(
        name=scored.name,
        kind=scored.kind,
        clips=len(scored.features),
        c2st=c2st(scored.features, real, seed=0) if real is not None else None,
        fd=frechet_distance(scored.features, real) if real is not None else None,
        tonal=float(means[0]),
        continuity=float(means[1]),
        rhythm=float(means[2]),
        flatness=float(means[3]),
        copied=copied,
    )


def _scored(name: str, kind: str, clips: np.ndarray) -> _Clips:
    features, log_mels = clips_features(clips)
    return _Clips(name, kind, features, log_mels)


def check_clips(clips: int) -> None:
    """ScoreError when `clips` is under `MIN_CLIPS`: the one check `aea score` and `aea.score` share."""
    if clips < MIN_CLIPS:
        raise ScoreError(
            f"{clips} clips are too few to score a set: the classifier's {C2ST_FOLDS}-fold cross-validation needs at "
            f"least {MIN_CLIPS}; ask for more with clips=N",
            settings=("clips=N",),
        )


def score_against(
    sets: Sequence[tuple[str, np.ndarray]],
    real: RealData,
    clips: int = DEFAULT_CLIPS,
    seed: int = 0,
    copies: bool = True,
    message: Message | None = None,
) -> ScoreReport:
    """Score named sets of clips `[clips, 110250]` against `real`: R, then the controls, then the sets.

    `copies`: measure `copied` against the training tracks (one pass over them).
    `seed`: the shaped-noise control's random phases.
    """
    from threadpoolctl import threadpool_limits

    check_clips(clips)
    # Small matrix products throughout: BLAS threads only contend (10x slower on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _score_against(sets, real, clips, seed, copies, message)


def _score_against(
    sets: Sequence[tuple[str, np.ndarray]], real: RealData, clips: int, seed: int, copies: bool, message: Message | None
) -> ScoreReport:
    if message:
        message(f"features of {counted(len(real.held_out), 'held-out track')}")
    held_out, templates = _held_out_clips(real, clips)
    floor = _scored("real floor", "control", _floor_clips(real, clips))
    generated = [_scored(name, "generated", audio) for name, audio in sets]
    if message:
        message(f"{counted(len(real.training), 'training track')}: mean spectrum" + (" and copies" if copies else ""))
    mean_magnitude, shares = _training_pass(real, [held_out, floor, *generated], copies)
    noise = _scored("shaped noise", "control", shaped_noise(mean_magnitude, templates, seed))
    reference = held_out.features
    rows = [_row(held_out, None, shares[0]), _row(floor, reference, shares[1]), _row(noise, reference, None)]
    rows += [_row(scored, reference, share) for scored, share in zip(generated, shares[2:])]
    return ScoreReport(str(real.root), len(real.held_out), len(real.training), rows)


def score_sets(
    paths: Sequence[str | os.PathLike],
    *,
    checkpoint: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike,
    clips: int = DEFAULT_CLIPS,
    seed: int = 0,
    message: Message | None = None,
) -> ScoreReport:
    """`aea score`: each path (file or folder) a set, scored against the held-out clips of a model's data or a folder.

    With `checkpoint`, R and the training tracks come from the data and split
    settings it was trained with; with `data_root`, from that folder split
    with aea's default settings (`copied` then means: copies the folder's
    training split). Sets are read first, so a bad set fails before any work.
    """
    check_clips(clips)
    if (checkpoint is None) == (data_root is None):
        raise ScoreError("score needs exactly one of a model and a data folder")
    sets = [(str(path), load_set(path, clips)) for path in paths]
    if checkpoint is not None:
        root, data = checkpoint_data(checkpoint)
    else:
        assert data_root is not None  # exactly one of the two, checked above
        root, data = Path(data_root), DataConfig()
    if checkpoint is not None and root is not None and not root.is_dir():
        raise ScoreError(
            f"{checkpoint}: its training data {root} is gone; score against a copy with data_root",
            settings=("data_root",),
        )
    real = load_real_data(root, data, cache_dir, message)
    return score_against(sets, real, clips=clips, seed=seed, message=message)
