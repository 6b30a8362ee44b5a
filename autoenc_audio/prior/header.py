"""A prior file's name and metadata, read without torch (for `aea info`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import safe_open

from ..checkpoints.header import run_fingerprints
from ..errors import InputError, first_line

PRIOR_FILE = "prior.safetensors"
STATE_FILE = "prior.state.pt"
PENDING_STATE_FILE = STATE_FILE + ".pending"
FORMAT_NAME = "aea-prior"
FORMAT_VERSION = 1
JSON_FIELDS = ("config", "autoencoder", "data", "labels", "history", "progress", "kept")


class PriorError(InputError):
    """A prior that cannot be read or does not belong to the model; the message names the file.

    `settings`: the arguments at fault (`resume`, `overwrite`), so a front end can say how they were given (the
    CLI names its flags; the message never names one), as `InputError`'s.
    """

    def __init__(self, message: str, *settings: str) -> None:
        super().__init__(message, settings=settings)


def prior_path(run_dir: Path) -> Path:
    return Path(run_dir) / PRIOR_FILE


def read_prior_metadata(path: Path, framework: str = "numpy") -> dict[str, Any]:
    """The prior's validated metadata with JSON fields decoded; every problem is a one-line PriorError."""
    path = Path(path)
    if not path.is_file():
        raise PriorError(f"{path}: no prior here (train one with 'aea train-prior')")
    try:
        with safe_open(str(path), framework=framework) as handle:
            raw = dict(handle.metadata() or {})
    except Exception as error:  # noqa: BLE001 - SafetensorError, OSError, ...
        raise PriorError(f"{path}: not a readable safetensors file ({first_line(error)})") from None
    if raw.get("format") != FORMAT_NAME:
        raise PriorError(f"{path}: not an aea prior (format {raw.get('format')!r})")
    if int(raw.get("format_version", "0")) > FORMAT_VERSION:
        raise PriorError(f"{path}: prior format {raw['format_version']} is newer than this aea reads; upgrade aea")
    for key in JSON_FIELDS:
        try:
            raw[key] = json.loads(raw.get(key, "null"))
        except json.JSONDecodeError as error:
            raise PriorError(f"{path}: corrupt metadata field {key!r} ({error.msg})") from None
    return raw


def prior_left_behind(run_dir: Path) -> Path | None:
    """The run's prior when none of the run's checkpoints holds the weights it was made for, so that generation
    refuses it: the run was trained on or again since (`aea train --resume`, `--overwrite`), in this folder or in
    the one it was copied from. Judged by the weights' fingerprint, not by the checkpoint path the prior records: a
    copied run's prior records its original's path. None when there is no prior, it fits, or a file cannot be read.
    """
    path = prior_path(run_dir)
    if not path.is_file():
        return None
    try:
        made_for = (read_prior_metadata(path)["autoencoder"] or {}).get("fingerprint")
    except (InputError, OSError, ValueError):
        return None
    held = run_fingerprints(run_dir)
    return path if held and made_for not in held else None
