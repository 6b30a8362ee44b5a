"""The folder `aea export` writes, described by `aea-export.json`; recognised without torch.

The JSON beside the graphs says everything a host needs to feed them: the
sample rate, the clip length, the latent size and layout, which files hold
which part, and the model's fingerprint (the same as the checkpoint's, so
latents from `aea encode` and from the exported encoder can be matched).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import write_text_atomic

MANIFEST_NAME = "aea-export.json"
FORMAT_NAME = "aea-export"
FORMAT_VERSION = 1
GRAPH_SUFFIXES = (".onnx", ".pt")


class ExportedModelError(InputError):
    """An exported model given where a checkpoint is needed; the message says what to give instead."""


def export_folder_of(path: Path) -> Path | None:
    """The export folder `path` is or belongs to (the folder, its JSON, or a graph beside it); None otherwise."""
    path = Path(path)
    if path.is_dir():
        return path if (path / MANIFEST_NAME).is_file() else None
    if path.name == MANIFEST_NAME or (path.suffix in GRAPH_SUFFIXES and (path.parent / MANIFEST_NAME).is_file()):
        return path.parent
    return None


def refuse_export(path: Path) -> None:
    """ExportedModelError when `path` is an exported model: commands that load a model need its checkpoint."""
    folder = export_folder_of(path)
    if folder is None:
        return
    try:
        fingerprint = json.loads((folder / MANIFEST_NAME).read_text()).get("model_fingerprint")
    except (OSError, ValueError, AttributeError):
        fingerprint = None
    origin = f" (model {fingerprint})" if isinstance(fingerprint, str) else ""
    raise ExportedModelError(
        f"{path}: is an exported model, not a checkpoint; give the run folder or .safetensors checkpoint "
        f"it was exported from{origin}"
    )


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write `manifest` as `folder/aea-export.json` (atomic); returns its path."""
    path = Path(folder) / MANIFEST_NAME
    write_text_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return path


def listed_files(folder: Path) -> list[str]:
    """The graph files `folder/aea-export.json` lists (names in the folder), in its order; [] without a readable aea
    JSON. Only plain names with a graph suffix: a hand-edited JSON never points outside the folder."""
    try:
        manifest = read_manifest(folder)
    except ExportedModelError:
        return []
    parts = manifest.get("parts")
    names = (
        [entry.get("file") for entry in parts.values() if isinstance(entry, dict)] if isinstance(parts, dict) else []
    )
    return [
        name
        for name in names
        if isinstance(name, str) and name == Path(name).name and Path(name).suffix in GRAPH_SUFFIXES
    ]


def remove_manifest(folder: Path) -> None:
    """Remove `folder/aea-export.json` if there is one (OSError when it cannot be removed)."""
    (Path(folder) / MANIFEST_NAME).unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The JSON of export folder `folder`; ExportedModelError when it is missing or not an aea export."""
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExportedModelError(f"{folder}: not an export folder (no {MANIFEST_NAME})") from None
    except (OSError, ValueError) as error:
        raise ExportedModelError(f"{path}: unreadable ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ExportedModelError(f"{path}: not an aea export")
    return manifest
