"""A checkpoint's header: its metadata and tensor shapes, read without torch (for `aea info`).

The file format is described in `checkpoint`, which writes checkpoints and
loads their tensors after this module has validated the header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import safe_open

from ..errors import InputError, first_line
from ..version import __version__

FORMAT_NAME = "aea-checkpoint"
FORMAT_VERSION = 1
MODEL_PREFIX = "model."
LATENT_MEAN_KEY = "latent_stats.mean"
LATENT_STD_KEY = "latent_stats.std"
STATE_SUFFIX = ".state.pt"
PRIOR_FORMAT_NAME = "aea-prior"
"""A run's prior file (`prior/header.py:FORMAT_NAME`; prior/ imports checkpoints/, so the name stands here too):
given where a checkpoint is expected, the error says to give its run folder."""
BEST_NAME, LAST_NAME = "best.safetensors", "last.safetensors"
RUN_CHECKPOINT_NAMES = (BEST_NAME, LAST_NAME)
"""The checkpoints a run folder holds (`runs/folder.py:RunFiles`); a folder with one of them is a run folder."""


class CheckpointError(InputError):
    """A checkpoint that cannot be written or used; the message names the file and the problem."""


def state_path(path: str | Path) -> Path:
    """The training-state sidecar of checkpoint `path`: `run/model.safetensors` -> `run/model.state.pt`."""
    path = Path(path)
    return path.with_name(path.stem + STATE_SUFFIX) if path.suffix else path.with_name(path.name + STATE_SUFFIX)


def pending_state_path(path: str | Path) -> Path:
    """Where a new training state waits while its checkpoint is being written (see `save_checkpoint`)."""
    sidecar = state_path(path)
    return sidecar.with_name(sidecar.name + ".pending")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata (JSON fields decoded), without building the model; for `aea info`.

    Adds `file`: {"bytes", "parameters", "stored_values", "tensors", "latent_stats", "training_state"};
    `parameters` counts the learned ones, as training reports them, not the fixed buffers (e.g.
    the MDCT basis) that `stored_values` also counts.
    """
    path = Path(path)
    metadata, shapes = read_header(path)
    stored = sum(_numel(shape) for key, shape in shapes.items() if key.startswith(MODEL_PREFIX))
    learned = metadata.pop("parameters", None)  # absent in checkpoints older than this field
    metadata["file"] = {
        "bytes": path.stat().st_size,
        "parameters": int(learned) if learned and learned.isdigit() else stored,
        "stored_values": stored,
        "tensors": sum(1 for key in shapes if key.startswith(MODEL_PREFIX)),
        "latent_stats": LATENT_MEAN_KEY in shapes or LATENT_STD_KEY in shapes,
        "training_state": state_path(path).is_file() or pending_state_path(path).is_file(),
    }
    return metadata


def run_fingerprints(run_dir: str | Path) -> set[str]:
    """The weights' fingerprints of a run's checkpoints (best and last, those there and readable): the weights a
    prior or a generated piece in this run may have been made with."""
    found = set()
    for path in (Path(run_dir) / name for name in RUN_CHECKPOINT_NAMES):
        try:
            fingerprint = read_metadata(path).get("weights_fingerprint") if path.is_file() else None
        except (InputError, OSError, ValueError):
            continue
        if fingerprint:
            found.add(str(fingerprint))
    return found


def _prior_given(path: Path) -> str:
    """The error for a run's prior given as a checkpoint: give the run folder, which holds the model and lists it."""
    run = path.parent
    if any((run / name).is_file() for name in RUN_CHECKPOINT_NAMES):
        where = f"give its run folder instead ('aea info {run}' describes the model and lists this prior)"
    else:
        where = "give the run folder (or checkpoint) of the model it was trained for"
    return f"{path}: is a run's prior (from 'aea train-prior'), not a model checkpoint; {where}"


def read_header(path: str | Path) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """Validated metadata (JSON fields decoded) and each tensor's shape. Every problem is a one-line CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            raw = handle.metadata() or {}
            shapes = {key: handle.get_slice(key).get_shape() for key in handle.keys()}
    except Exception as error:  # noqa: BLE001 - SafetensorError, OSError, ...
        if _looks_pickled(path):
            raise CheckpointError(
                f"{path}: not an aea checkpoint (a pickled PyTorch file; aea reads only .safetensors)"
            ) from None
        if _looks_audio(path):
            raise CheckpointError(
                f"{path}: an audio file, not a checkpoint or run folder (a model is a run folder or a "
                f".safetensors checkpoint)"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable safetensors file, truncated or corrupt ({first_line(error)})"
        ) from None

    name = raw.get("format")
    if name is None:
        raise CheckpointError(f"{path}: not an aea checkpoint (no aea metadata)")
    if name == PRIOR_FORMAT_NAME:
        raise CheckpointError(_prior_given(path))
    if name != FORMAT_NAME:
        raise CheckpointError(f"{path}: not an aea checkpoint (format {name!r})")
    try:
        version = int(raw.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{path}: bad format version {raw.get('format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this aea ({__version__}) reads "
            f"(up to {FORMAT_VERSION}); upgrade aea"
        )
    if version < 1:
        raise CheckpointError(f"{path}: bad format version {version}")
    metadata: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("config", "preprocessing", "latent", "labels", "info"):
            try:
                metadata[key] = json.loads(value)
            except json.JSONDecodeError as error:
                raise CheckpointError(f"{path}: corrupt metadata field {key!r} ({error.msg})") from None
        else:
            metadata[key] = value
    metadata["format_version"] = version
    if not isinstance(metadata.get("config"), dict):
        raise CheckpointError(f"{path}: checkpoint has no stored config")
    return metadata, shapes


def _looks_pickled(path: Path) -> bool:
    """A torch.save zip archive or a bare pickle (protocol 2+)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head == b"PK\x03\x04" or head[:1] == b"\x80"


def _looks_audio(path: Path) -> bool:
    """An audio file by its extension or its first bytes (WAV, FLAC, Ogg, AIFF, MP3, ...)."""
    from ..audio import is_audio_path, is_unsupported_audio_path, sniff_audio_suffix

    if is_audio_path(path) or is_unsupported_audio_path(path):
        return True
    try:
        with path.open("rb") as handle:
            return sniff_audio_suffix(handle.read(12)) is not None
    except OSError:
        return False


def _numel(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total
