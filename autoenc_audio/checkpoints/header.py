"""A checkpoint's header: its metadata and tensor shapes, read without torch (for `aea info`).

The file format is described in `checkpoint`, which writes checkpoints and
loads their tensors after this module has validated the header.
"""

from __future__ import annotations

import hashlib
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


SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}
"""safetensors' dtype codes by torch's names for them, as `checkpoint.weights_fingerprint` hashes them."""


def verify_weights(path: str | Path) -> None:
    """CheckpointError when the model weights of checkpoint `path` (whose header `read_header` accepted) do not match
    the fingerprint saved with them, as loading it finds. For `aea info`, which reads no tensors otherwise and must
    not describe as healthy a checkpoint that every other command refuses; without torch, so it stays light: the
    fingerprint of `checkpoint.weights_fingerprint` computed from the stored bytes (little-endian, contiguous)."""
    path = Path(path)
    expected = read_header(path)[0].get("weights_fingerprint")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            entries = json.loads(handle.read(length))
            for key in sorted(name for name in entries if name.startswith(MODEL_PREFIX)):
                dtype, shape, (start, end) = (entries[key][field] for field in ("dtype", "shape", "data_offsets"))
                if dtype not in SAFETENSORS_DTYPES:
                    return  # a type this check does not know: loading the checkpoint checks it
                handle.seek(8 + length + start)
                digest.update(key[len(MODEL_PREFIX) :].encode())
                digest.update(f"|{SAFETENSORS_DTYPES[dtype]}|{tuple(shape)}|".encode())
                digest.update(handle.read(end - start))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file, truncated or corrupt ({error})") from None
    if expected is not None and digest.hexdigest()[:16] != expected:
        raise CheckpointError(f"{path}: weights are corrupt (fingerprint does not match the metadata)")


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
        raise CheckpointError(_unreadable(path, error)) from None

    name = raw.get("format")
    if name is None:
        raise CheckpointError(f"{path}: not an aea checkpoint (no aea metadata)")
    if name == PRIOR_FORMAT_NAME:
        raise CheckpointError(_prior_given(path))
    if name == LATENTS_FORMAT_NAME:
        raise CheckpointError(f"{path}: {LATENT_FILE}")
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


LATENTS_FORMAT_NAME = "aea-latents"
"""`aea encode`'s latent files (`latents/formats.py:FORMAT_NAME`; latents/ imports checkpoints/)."""
LATENT_FILE = "an aea latent file (from 'aea encode'; 'aea decode' reads it), not a model checkpoint or run folder"
RUN_FILES = {
    "config.toml": "a run's config",
    "history.jsonl": "a run's training history",
    "summary.json": "a run's summary",
    "run.json": "a run's record of its data",
}
"""The text files of a run folder (`runs/folder.py:RunFiles`), by name: given as a model, the error says what they are."""
TEXT_SUFFIXES = {".toml": "a TOML file", ".json": "a JSON file", ".jsonl": "a JSON lines file"}


def _unreadable(path: Path, error: Exception) -> str:
    """Why `path`, which safetensors cannot open, is no checkpoint: what it is when aea can tell (a run's own text
    file, a latent file, a pickled PyTorch file, audio), else that it is truncated or corrupt."""
    with_run = any((path.parent / name).is_file() for name in RUN_CHECKPOINT_NAMES)
    if path.name in RUN_FILES and with_run:
        return f"{path}: {RUN_FILES[path.name]}, not a model checkpoint; give its run folder ({path.parent})"
    if path.suffix.lower() in TEXT_SUFFIXES:
        return (
            f"{path}: {TEXT_SUFFIXES[path.suffix.lower()]}, not a model checkpoint (a .safetensors file or run folder)"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        head = b""
    if head.startswith(b"\x93NUMPY"):
        return (
            f"{path}: a NumPy array (as 'aea encode' writes latents, which 'aea decode' reads), not a model checkpoint "
            f"or run folder"
        )
    if head.startswith(b"PK\x03\x04") and (LATENTS_FORMAT_NAME.encode() in head or b"latents.npy" in head):
        return f"{path}: {LATENT_FILE}"
    if _looks_pickled(path):
        return f"{path}: not an aea checkpoint (a pickled PyTorch file; aea reads only .safetensors)"
    if _looks_audio(path):
        return (
            f"{path}: an audio file, not a checkpoint or run folder (a model is a run folder or a .safetensors "
            f"checkpoint)"
        )
    return f"{path}: not a readable safetensors file, truncated or corrupt ({first_line(error)})"


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
