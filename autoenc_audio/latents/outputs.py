"""Where each output file goes, and the record of one file written."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio import STDIN_NAME
from .failures import LatentError


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
        raise LatentError(
            f"out '-' (standard output) takes one output, but there are {len(names)}: give a folder or a file "
            "name to number",
            settings=("out",),
        )
    path = Path(out)
    return [str(path.with_name(f"{path.stem}-{index:03d}{path.suffix}")) for index in range(len(names))]


def stem_of(source: str | None, fallback: str) -> str:
    return Path(source).stem if source and source not in ("-", STDIN_NAME) else fallback


@dataclass
class Written:
    """One audio file written, with what it came from."""

    path: str
    source: str | None
    rows: tuple[int, int]
    samples: int
    metrics: dict[str, Any] | None = None  # floats by name; `aea reconstruct --plot` adds "figure", a path
    input_path: str | None = None
    offset_seconds: float = 0.0
    padded: bool = False
    silent: bool = False
    valid_seconds: float | None = None


def input_path_for(target: str) -> str:
    """Where `--save-input` puts the preprocessed original: `out.wav` -> `out.input.wav`."""
    path = Path(target)
    return str(path.with_name(f"{path.stem}.input{path.suffix}"))
