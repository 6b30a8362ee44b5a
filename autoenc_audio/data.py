"""Folders of songs as training data: scanning, a preprocessing cache, splits, clips.

A dataset is a folder scanned recursively; a file's label is its parent folder
relative to the root (`genres/jazz/jazz.00042.wav` -> `jazz`). Every track is
decoded and resampled once into a cache of mono float32 `.npy` arrays, read
memory-mapped by later epochs and later runs. Splits are made by track, so no
track has clips on two sides.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .audio import AudioError, audio_files_under, conversion_hint, is_unsupported_audio_path, load_track, probe
from .config import AudioConfig, DataConfig
from .errors import InputError, counted
from .files import PathLike, atomic_path, make_folder

if TYPE_CHECKING:  # torch is imported where a clip becomes a tensor, so that `aea` starts fast
    import torch

CACHE_FORMAT = 1
SPLITS = ("train", "validation", "test")
Progress = Callable[[int, int], None]


class DatasetError(InputError):
    """A dataset that cannot be used (no folder, no readable file)."""


@dataclass(frozen=True)
class Track:
    """One audio file of a dataset; `label` is its folder relative to the root (None at the root)."""

    path: Path
    label: str | None
    duration_seconds: float


@dataclass
class ScanResult:
    """The readable tracks of a folder and the files skipped, with why."""

    root: Path
    tracks: list[Track]
    skipped: list[tuple[str, str]]

    @property
    def labels(self) -> list[str]:
        return sorted({t.label for t in self.tracks if t.label is not None})


def default_cache_dir() -> Path:
    """`$AEA_CACHE`, else `$XDG_CACHE_HOME/aea`, else `~/.cache/aea`."""
    if os.environ.get("AEA_CACHE"):
        return Path(os.environ["AEA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aea"


def scan_folder(root: PathLike) -> ScanResult:
    """Every readable audio file under `root`, sorted by path. Reads headers only. Files of an audio format aea
    cannot read (`.m4a`, `.aac`, ...) are skipped with a conversion hint rather than passed over in silence.

    Raises DatasetError when `root` is not a folder or holds no readable audio.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (give a folder of audio files)")
    tracks, skipped = [], []
    for path in audio_files_under(root):
        try:
            info = probe(path)
        except AudioError as error:
            skipped.append((str(path), str(error).removeprefix(f"{path}: ")))
            continue
        relative_parent = path.parent.relative_to(root).as_posix()
        label = None if relative_parent == "." else relative_parent
        tracks.append(Track(path, label, info.duration_seconds))
    if not tracks:
        raise _no_tracks_error(root, [Path(path) for path, _ in skipped])
    return ScanResult(root, tracks, skipped)


def _no_tracks_error(root: Path, skipped: list[Path]) -> DatasetError:
    """A folder without tracks: how many files were unreadable, and how to convert files of an unsupported format."""
    detail = f" ({len(skipped)} unreadable)" if skipped else ""
    unsupported = [path for path in skipped if is_unsupported_audio_path(path)]
    if unsupported:
        suffixes = ", ".join(sorted({path.suffix.lower() for path in unsupported}))
        detail += f"; {suffixes} files are not supported: {conversion_hint(unsupported[0])}"
    return DatasetError(f"{root}: no readable audio files{detail}")


def clip_starts(samples: int, clip_samples: int, hop_samples: int) -> list[int]:
    """Start of every full clip of a track; a track shorter than a clip gives one (padded) clip at 0."""
    if samples <= clip_samples:
        return [0]
    return list(range(0, samples - clip_samples + 1, hop_samples))


def dataset_hop_samples(audio: AudioConfig, data: DataConfig) -> int:
    """Samples between the starts of a track's clips in a dataset: `data.hop_seconds`, else one clip (no overlap)."""
    hop = data.hop_seconds if data.hop_seconds is not None else audio.clip_seconds
    return max(1, int(round(hop * audio.sample_rate)))


def split_tracks(
    tracks: Sequence[Track], validation_fraction: float, test_fraction: float, seed: int, train_fraction: float = 1.0
) -> dict[str, list[Track]]:
    """Deterministic train/validation/test split by track, stratified by label.

    Tracks are shuffled within each label, then dealt round-robin across labels
    so every prefix of the order is balanced; test takes the first share, then
    validation, then train; `train_fraction` keeps that share of train (at least one track), the first in the same
    order, so it stays balanced and a smaller share's tracks are among a larger one's. A label never gives more than its own share of
    tracks (rounded up) to test and validation together, and keeps one for
    training: a label with few tracks among large ones would otherwise go
    wholly to test (its first tracks come early in the round-robin) and never
    be trained on. Each non-zero fraction still gets at least one track when
    there are three or more tracks, even if that takes a one-track label's
    only track; when the caps leave fewer held-out tracks than asked, test and
    validation share them in proportion to their fractions.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[Track]] = defaultdict(list)
    for track in sorted(tracks, key=lambda t: str(t.path)):
        by_label[track.label or ""].append(track)
    queues = []
    for label in sorted(by_label):
        group = by_label[label]
        queues.append([group[i] for i in rng.permutation(len(group))])
    order: list[Track] = []
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    total = len(order)

    def share(fraction: float) -> int:
        count = int(round(total * fraction))
        return max(count, 1) if fraction > 0 and total >= 3 else count

    n_test, n_validation = share(test_fraction), share(validation_fraction)
    held_share = test_fraction + validation_fraction
    cap = {label: min(math.ceil(len(group) * held_share - 1e-9), len(group) - 1) for label, group in by_label.items()}
    held: list[Track] = []
    taken: dict[str, int] = defaultdict(int)
    for track in order:
        label = track.label or ""
        if len(held) < n_test + n_validation and taken[label] < cap[label]:
            held.append(track)
            taken[label] += 1
    held_paths = {track.path for track in held}
    for track in order:  # caps must not leave a requested split empty (a few one-track labels)
        if len(held) >= (n_test > 0) + (n_validation > 0):
            break
        if track.path not in held_paths:
            held.append(track)
            held_paths.add(track.path)
    if len(held) < n_test + n_validation:
        n_test = round(len(held) * test_fraction / held_share) if held_share else 0
        if test_fraction > 0 and validation_fraction > 0 and len(held) >= 2:
            n_test = min(max(n_test, 1), len(held) - 1)
    train = [track for track in order if track.path not in held_paths]
    return {
        "test": held[:n_test],
        "validation": held[n_test:],
        "train": train[: max(1, int(round(len(train) * train_fraction)))] if train else train,
    }


class TrackCache:
    """Preprocessed tracks as mono float32 `.npy` files, keyed by file identity and settings.

    The key covers the absolute path, size, modification time and the
    preprocessing (rate, mono), so a changed file or setting is decoded again.
    A cache entry that does not load cleanly is rebuilt, never trusted.
    """

    def __init__(self, cache_dir: PathLike, audio: AudioConfig) -> None:
        self.root = Path(cache_dir) / "tracks"
        self.audio = audio

    def entry(self, path: PathLike) -> Path:
        path = Path(path).resolve()
        stat = path.stat()
        identity = json.dumps(
            [CACHE_FORMAT, str(path), stat.st_size, stat.st_mtime_ns, self.audio.sample_rate, self.audio.mono]
        )
        key = hashlib.sha1(identity.encode()).hexdigest()
        return self.root / key[:2] / f"{key}.npy"

    def cached(self, path: PathLike) -> np.ndarray | None:
        """The cached array `[samples]` (memory-mapped) or None when missing or corrupt."""
        entry = self.entry(path)
        if not entry.exists():
            return None
        try:
            array = np.load(entry, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError):
            entry.unlink(missing_ok=True)
            return None
        if array.dtype != np.float32 or array.ndim != 1:
            entry.unlink(missing_ok=True)
            return None
        return array

    def load(self, path: PathLike) -> np.ndarray:
        """The preprocessed track `[samples]`, decoding and storing it on a miss."""
        array = self.cached(path)
        if array is not None:
            return array
        self.store(path, load_track(path, self.audio))
        array = self.cached(path)
        assert array is not None
        return array

    def store(self, path: PathLike, samples: np.ndarray) -> None:
        entry = self.entry(path)
        make_folder(entry.parent)
        with atomic_path(entry) as temporary:
            with open(temporary, "wb") as handle:
                np.save(handle, np.ascontiguousarray(samples, dtype=np.float32), allow_pickle=False)


Decoded = tuple[str, np.ndarray | None, str | None, list[Warning]]
"""A track decoded for the cache: its path, samples or None, the error or None, and the warnings decoding gave."""


def _decode_for_cache(path: str, audio: dict) -> Decoded:
    """One track decoded; its warnings (a truncated file, cancelling channels) are returned, not shown, so that
    the process that fills the cache shows them as aea does, whichever worker process decoded the track."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            samples, error = load_track(path, AudioConfig(**audio)), None
        except AudioError as failed:
            samples, error = None, str(failed)
    return path, samples, error, [item.message for item in caught if isinstance(item.message, Warning)]


def fill_cache(
    cache: TrackCache, tracks: Sequence[Track], workers: int = 1, progress: Progress | None = None
) -> list[tuple[str, str]]:
    """Decode every track missing from the cache, in `workers` processes. Returns failures (path, reason)."""
    missing = [t for t in tracks if cache.cached(t.path) is None]
    total, done, failures = len(tracks), len(tracks) - len(missing), []
    if progress:
        progress(done, total)
    for path, samples, error, said in _decode_missing(missing, asdict(cache.audio), workers):
        for warning in said:
            warnings.warn(warning, stacklevel=2)
        if samples is None:
            assert error is not None  # _decode_missing gives samples or an error
            failures.append((path, error.removeprefix(f"{path}: ")))
        else:
            cache.store(path, samples)
        done += 1
        if progress:
            progress(done, total)
    return failures


def _decode_missing(missing: Sequence[Track], audio: dict[str, Any], workers: int) -> Iterator[Decoded]:
    """Each track `Decoded`, in `workers` processes when there are several."""
    if workers > 1 and len(missing) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(_decode_for_cache, [str(t.path) for t in missing], [audio] * len(missing))
    else:
        for track in missing:
            yield _decode_for_cache(str(track.path), audio)


@dataclass
class ClipIndex:
    """Where each clip of a split comes from: track number and start sample."""

    tracks: list[Track]
    items: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.items)


def index_clips(tracks: Sequence[Track], arrays: Sequence[np.ndarray], clip_samples: int, hop: int) -> ClipIndex:
    items = [
        (number, start) for number, array in enumerate(arrays) for start in clip_starts(len(array), clip_samples, hop)
    ]
    return ClipIndex(list(tracks), items)


class ClipDataset:
    """Clips of cached tracks: item -> (audio `[1, clip_samples]` float32 tensor, label index or -1).

    A map-style dataset as torch's DataLoader takes it; torch is imported only
    when items are taken, so scanning and splitting need no torch.
    """

    def __init__(
        self, tracks: Sequence[Track], arrays: Sequence[np.ndarray], labels: Sequence[str], audio: AudioConfig, hop: int
    ) -> None:
        self.arrays = list(arrays)
        self.clip_samples = audio.clip_samples
        self.index = index_clips(tracks, self.arrays, self.clip_samples, hop)
        label_number = {label: number for number, label in enumerate(labels)}
        self.track_labels = [label_number.get(t.label, -1) if t.label is not None else -1 for t in tracks]

    def __len__(self) -> int:
        return len(self.index)

    def clip(self, item: int) -> np.ndarray:
        """The clip `[clip_samples]`, zero-padded when the track is short."""
        number, start = self.index.items[item]
        array = self.arrays[number]
        out = np.zeros(self.clip_samples, dtype=np.float32)
        piece = array[start : start + self.clip_samples]
        out[: len(piece)] = piece
        return out

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        import torch

        number, _ = self.index.items[item]
        return torch.from_numpy(self.clip(item)).unsqueeze(0), self.track_labels[number]


@dataclass
class PreparedData:
    """A dataset ready for training: its splits as clip datasets, labels and what was skipped."""

    root: Path
    labels: list[str]
    splits: dict[str, ClipDataset]
    skipped: list[tuple[str, str]]

    @property
    def held_out(self) -> ClipDataset:
        """The split models are tested and listened to on: test, else validation (a split with no test tracks)."""
        return self.splits[self.held_out_split]

    @property
    def held_out_split(self) -> str:
        """The name of the split `held_out` is: a summary says it, so validation metrics are not read as test ones."""
        return "test" if len(self.splits["test"]) else "validation"

    @property
    def track_count(self) -> int:
        """Tracks in the data, all splits together."""
        return sum(len(split.index.tracks) for split in self.splits.values())

    def empty_splits_text(self, names: Sequence[str] = SPLITS) -> str:
        """Which of `names` have no tracks, and how many the data has: "no test tracks (the data has 2 tracks)"."""
        empty = [name for name in names if len(self.splits[name].index.tracks) == 0]
        return f"no {' or '.join(empty)} tracks (the data has {counted(self.track_count, 'track')})" if empty else ""

    def split_digest(self) -> str:
        """A short hash of which track (path relative to the root) is in which split: a resumed run checks it."""
        digest = hashlib.sha256()
        for name in sorted(self.splits):
            for track in sorted(_relative(t.path, self.root) for t in self.splits[name].index.tracks):
                digest.update(f"{name}\0{track}\n".encode())
        return digest.hexdigest()[:16]

    def summary(self) -> dict:
        return {
            "root": str(self.root),
            "labels": self.labels,
            "tracks": {name: len(split.index.tracks) for name, split in self.splits.items()},
            "clips": {name: len(split) for name, split in self.splits.items()},
            "skipped": len(self.skipped),
            "split": self.split_digest(),
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def prepare_dataset(
    root: PathLike,
    audio: AudioConfig,
    data: DataConfig,
    cache_dir: PathLike,
    workers: int = 1,
    progress: Progress | None = None,
) -> PreparedData:
    """Scan, cache and split a folder into clip datasets for train, validation and test."""
    scan = scan_folder(root)
    cache = TrackCache(cache_dir, audio)
    failures = fill_cache(cache, scan.tracks, workers, progress)
    failed = {path for path, _ in failures}
    tracks = [t for t in scan.tracks if str(t.path) not in failed]
    if not tracks:
        raise DatasetError(f"{root}: no readable audio files ({len(failures)} unreadable)")
    labels = sorted({t.label for t in tracks if t.label is not None})
    hop = dataset_hop_samples(audio, data)
    splits = {}
    split = split_tracks(tracks, data.validation_fraction, data.test_fraction, data.split_seed, data.train_fraction)
    for name, members in split.items():
        arrays = [cache.load(t.path) for t in members]
        splits[name] = ClipDataset(members, arrays, labels, audio, hop)
    return PreparedData(Path(root), labels, splits, scan.skipped + failures)


def summarize_scan(scan: ScanResult, audio: AudioConfig, data: DataConfig) -> dict:
    """Tracks, clips and duration per label, from headers (no decoding)."""
    hop = dataset_hop_samples(audio, data)
    per_label: dict[str, dict] = {}
    for track in scan.tracks:
        samples = int(track.duration_seconds * audio.sample_rate)
        row = per_label.setdefault(track.label or "(none)", {"tracks": 0, "clips": 0, "seconds": 0.0})
        row["tracks"] += 1
        row["clips"] += len(clip_starts(samples, audio.clip_samples, hop))
        row["seconds"] += track.duration_seconds
    return {
        "root": str(scan.root),
        "tracks": len(scan.tracks),
        "clips": sum(r["clips"] for r in per_label.values()),
        "seconds": sum(r["seconds"] for r in per_label.values()),
        "labels": per_label,
        "skipped": [{"path": p, "reason": r} for p, r in scan.skipped],
    }


def builtin_corpus_folder(cache_dir: PathLike, data: DataConfig, seed: int = 0) -> Path:
    """Where `builtin_corpus` writes the corpus of `data`: its name says which corpus a recorded data root was, so
    a model trained on it in another cache can be given the same tracks again."""
    return Path(cache_dir) / f"corpus-s{seed}-n{data.corpus_tracks}-t{data.corpus_seconds:g}"


def builtin_corpus(cache_dir: PathLike, data: DataConfig, seed: int = 0, progress: Progress | None = None) -> Path:
    """The built-in synthetic corpus folder, written once into the cache and reused.

    A marker file written last says the folder is complete, so an interrupted
    build is redone rather than used half-made.
    """
    from .synth.corpus import write_corpus

    folder = builtin_corpus_folder(cache_dir, data, seed)
    marker = folder / ".complete"
    if not marker.exists():
        write_corpus(folder, tracks=data.corpus_tracks, seconds=data.corpus_seconds, seed=seed, progress=progress)
        marker.write_text("ok\n")
    return folder


def evenly_spread(total: int, count: int, rounded: bool = True, include_last: bool = True) -> np.ndarray:
    """`min(count, total)` distinct indices `[picks]` from 0 to `total - 1`, both ends included, evenly spaced.

    `rounded=False` truncates instead of rounding: the clips the training start and latent statistics were
    always taken from, so that trained weights stay reproducible. `include_last=False` steps by `total / count`
    from 0 (the last item is left out): the clips a prior's memory was always built from.
    """
    if not include_last:
        return np.array([int(i * total / count) for i in range(count)] if count < total else range(total), dtype=int)
    positions = np.linspace(0, total - 1, min(total, count))
    return (positions.round() if rounded else positions).astype(int)
