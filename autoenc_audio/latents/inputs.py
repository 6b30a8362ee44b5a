"""Which files a command reads (folders, globs, `-`) and how clips are taken from them."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..audio import CropMode, audio_files_under
from .failures import LatentError


def expand_inputs(
    inputs: Sequence[str], stdin_lines: Iterable[str] | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Files, folders (recursive, audio files only), quoted globs and `-` (paths read from `stdin_lines`).

    Returns the paths in order (missing files kept: they fail when read, as do
    a folder's files of audio formats aea cannot read, saying how to convert
    them) and problems found while expanding (folder or glob with no audio files).
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
            found = [str(path) for path in audio_files_under(item)]
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
    return (
        len(inputs) == 1
        and inputs[0] != "-"
        and not Path(inputs[0]).is_dir()
        and (Path(inputs[0]).exists() or not any(ch in inputs[0] for ch in "*?["))
    )


def clip_crop(crop: CropMode, offset: float | None) -> CropMode | float:
    return offset if offset is not None else crop


def whole_track_hop_samples(clip_samples: int, sample_rate: int, hop_seconds: float | None) -> int:
    """The whole-track hop in samples: `hop_seconds`, default half a clip; between 1 sample and one clip."""
    if hop_seconds is None:
        return max(1, clip_samples // 2)
    hop = int(round(hop_seconds * sample_rate))
    if not 1 <= hop <= clip_samples:
        raise LatentError(
            f"hop_seconds must be between {1 / sample_rate:g} s and one clip ({clip_samples / sample_rate:g} s), "
            f"got {hop_seconds:g}",
            settings=("hop_seconds",),
        )
    return hop
