"""Latent files: what `aea encode` writes and `aea decode` reads.

One array of latents plus metadata, in the format the extension names:

    .pt           torch.save of {"latents": Tensor, "metadata": dict}: tensors and
                  plain values only, so torch.load(path, weights_only=True) reads it
    .npy          the bare array (no metadata)
    .npz          arrays "latents" and "sources", and "metadata" (a JSON string)
    .safetensors  tensor "latents"; the header's metadata holds "format" and
                  "metadata" (a JSON string)

The array is a vector `[N]` (one input), a matrix `[inputs, N]` (many inputs)
or a sequence `[clips, N]` (`--whole`: consecutive, overlapping clips of one or
more tracks). The metadata (every format but `.npy`):

    format            "aea-latents"
    version           1
    kind              "vector" | "matrix" | "sequence"
    shape             the array's shape
    latent_size       N
    model_fingerprint the encoding model's weights fingerprint
    model             the checkpoint path it was encoded with
    sample_rate, clip_samples   the model's preprocessing
    sources           per row: the input file
    offsets           per row: where the clip starts in its source, seconds
    padded            per row: the source ran out before the clip was full
    hop_samples       (sequence) distance between clip starts
    tracks            (sequence) [{"source", "start", "stop", "samples"}]: rows
                      start..stop of the array are one track of `samples` samples

Reading sniffs the content, not the name, so `-` (stdin) works for any format.
Writing is atomic (temporary file, then rename); `-` writes to stdout.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from ..checkpoints.safe_load import UnsafeFileError, load_plain
from ..errors import first_line
from ..files import OutputError, atomic_path, make_folder, write_standard_output
from .formats import (
    FORMAT_NAME,
    FORMAT_VERSION,
    FORMATS,
    LATENT_EXTENSIONS,
    LatentFileError,
    format_for,
    sniff_format,
)


@dataclass
class LatentFile:
    """Latents `[N]` or `[rows, N]` (float32, CPU) and their metadata ({} for a bare `.npy`)."""

    latents: torch.Tensor
    metadata: dict[str, Any] = field(default_factory=dict)
    name: str = "<latents>"

    @property
    def kind(self) -> str:
        if self.metadata.get("kind") in ("vector", "matrix", "sequence"):
            return self.metadata["kind"]
        return "vector" if self.latents.dim() == 1 else "matrix"

    @property
    def matrix(self) -> torch.Tensor:
        """The latents as `[rows, N]`."""
        return self.latents.reshape(1, -1) if self.latents.dim() == 1 else self.latents

    @property
    def latent_size(self) -> int:
        return int(self.latents.shape[-1])

    @property
    def sources(self) -> list[str]:
        sources = self.metadata.get("sources")
        return [str(s) for s in sources] if isinstance(sources, list) else []

    @property
    def fingerprint(self) -> str | None:
        value = self.metadata.get("model_fingerprint")
        return str(value) if value else None


def make_metadata(kind: str, latents: torch.Tensor, **fields: Any) -> dict[str, Any]:
    """The standard metadata dict for `latents` (extra `fields` are added as given)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "shape": list(latents.shape),
        "latent_size": int(latents.shape[-1]),
        **fields,
    }


# ----------------------------------------------------------------------------- writing


def write_to(handle: BinaryIO, latent_file: LatentFile, fmt: str) -> None:
    """Serialise to an open binary file in `fmt` (one of FORMATS), without an extra copy of the latents."""
    latents = latent_file.latents.detach().to("cpu", torch.float32).contiguous()
    metadata = _plain(latent_file.metadata)
    if fmt == "pt":
        torch.save({"latents": latents, "metadata": metadata}, handle)
    elif fmt == "npy":
        np.save(handle, latents.numpy(), allow_pickle=False)
    elif fmt == "npz":
        sources = np.array([str(s) for s in metadata.get("sources", [])], dtype=np.str_)
        np.savez(handle, latents=latents.numpy(), sources=sources, metadata=np.array(json.dumps(metadata)))
    elif fmt == "safetensors":
        # safetensors.numpy, not .torch: the same file, but safetensors.torch.save makes a ctypes array type per
        # byte count, which ctypes keeps for the life of the process (a slow leak when each track has its length).
        from safetensors.numpy import save

        handle.write(
            save({"latents": latents.numpy()}, metadata={"format": FORMAT_NAME, "metadata": json.dumps(metadata)})
        )
    else:
        raise LatentFileError(f"unknown latent format {fmt!r}: use {', '.join(FORMATS)}")


def save_latents(path: str | os.PathLike, latent_file: LatentFile, fmt: str | None = None) -> str:
    """Write atomically to `path` (format from the extension or `fmt`); `-` writes to stdout. Returns the format."""
    fmt = format_for(path, fmt, sequence=latent_file.kind == "sequence")
    if str(path) == "-":
        buffer = io.BytesIO()  # torch.save and np.savez need a seekable file
        write_to(buffer, latent_file, fmt)
        write_standard_output(buffer.getbuffer())
        return fmt
    path = Path(path)
    try:
        make_folder(path.parent)
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                write_to(handle, latent_file, fmt)
    except OutputError:
        raise  # a full disk is a failure (exit 1), not bad input; a parent that is a file is named
    except OSError as error:
        raise LatentFileError(f"{path}: cannot write ({error.strerror or error})") from None
    return fmt


def _plain(value: Any) -> Any:
    """Metadata as JSON-able primitives (paths and numpy values converted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (str, os.PathLike)):  # a file name whose bytes are not UTF-8 gets U+FFFD where they were
        return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise LatentFileError(f"latent metadata cannot hold a {type(value).__name__}")


# ----------------------------------------------------------------------------- reading


def load_latents(source: str | os.PathLike | BinaryIO) -> LatentFile:
    """Read a latent file (any format, sniffed) from a path, `-` (stdin) or a binary stream."""
    if isinstance(source, (str, os.PathLike)) and str(source) == "-":
        return from_bytes(sys.stdin.buffer.read(), "<stdin>")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise LatentFileError(f"{path}: no such file")
        if path.is_dir():
            raise LatentFileError(f"{path}: is a directory, not a latent file")
        return from_bytes(path.read_bytes(), str(path))
    return from_bytes(source.read(), getattr(source, "name", "<stream>"))


def from_bytes(data: bytes, name: str) -> LatentFile:
    if not data:
        raise LatentFileError(f"{name}: empty input, expected a latent file")
    fmt = sniff_format(data[:16])
    metadata: dict[str, Any]
    try:
        if fmt == "npy":
            array = np.load(io.BytesIO(data), allow_pickle=False)
            latents, metadata = torch.from_numpy(np.ascontiguousarray(array)), {}
        elif fmt == "zip":
            members = zipfile.ZipFile(io.BytesIO(data)).namelist()
            if members and all(member.endswith(".npy") for member in members):  # numpy's .npz; torch's .pt pickles
                latents, metadata = _read_npz(data, name)
            else:
                latents, metadata = _read_pt(data, name)
        elif fmt == "safetensors":
            latents, metadata = _read_safetensors(data, name)
        else:
            raise LatentFileError(
                f"{name}: not a latent file (expected {', '.join(LATENT_EXTENSIONS)}; audio goes to 'aea encode')"
            )
    except LatentFileError:
        raise
    except UnsafeFileError as error:
        raise LatentFileError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - numpy/zip/torch/safetensors errors of any kind
        raise LatentFileError(f"{name}: unreadable latent file ({first_line(error)})") from None
    return _validated(latents, metadata, name)


def _read_npz(data: bytes, name: str) -> tuple[torch.Tensor, dict]:
    """aea's `.npz` (a `latents` array beside its metadata), or one a user saved with a single array
    (`np.savez("z.npz", z)`), read as a bare matrix as `.npy` is."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = archive.files
        if "latents" not in arrays and len(arrays) != 1:
            raise LatentFileError(
                f"{name}: a .npz latent file holds a 'latents' array or a single array, not {', '.join(arrays)}"
            )
        latents = torch.from_numpy(np.ascontiguousarray(archive["latents" if "latents" in arrays else arrays[0]]))
        metadata = json.loads(str(archive["metadata"])) if "metadata" in arrays else {}
    return latents, metadata


def _read_pt(data: bytes, name: str) -> tuple[torch.Tensor, dict]:
    loaded = load_plain(io.BytesIO(data), name)
    if isinstance(loaded, torch.Tensor):
        return loaded, {}
    if not isinstance(loaded, dict) or not isinstance(loaded.get("latents"), torch.Tensor):
        raise LatentFileError(f"{name}: a .pt latent file holds a tensor or a dict with a 'latents' tensor")
    metadata = loaded.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise LatentFileError(f"{name}: 'metadata' must be a dict")
    return loaded["latents"], metadata


def _read_safetensors(data: bytes, name: str) -> tuple[torch.Tensor, dict]:
    from safetensors.torch import load

    tensors = load(data)
    header_size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_size])
    raw = header.get("__metadata__") or {}
    if "latents" not in tensors:
        if len(tensors) != 1:
            raise LatentFileError(f"{name}: no 'latents' tensor in this safetensors file")
        tensors = {"latents": next(iter(tensors.values()))}
    metadata = json.loads(raw["metadata"]) if "metadata" in raw else {}
    return tensors["latents"], metadata


def _validated(latents: torch.Tensor, metadata: dict, name: str) -> LatentFile:
    if latents.dim() not in (1, 2) or latents.numel() == 0:
        raise LatentFileError(
            f"{name}: latents must be a vector [N] or a matrix [rows, N], got shape {list(latents.shape)}"
        )
    if not latents.is_floating_point():
        raise LatentFileError(f"{name}: latents must be floating point, got {latents.dtype}")
    latents = latents.to(torch.float32)
    if not torch.isfinite(latents).all():
        raise LatentFileError(f"{name}: latents contain NaN or infinite values")
    if metadata.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise LatentFileError(f"{name}: not an aea latent file (format {metadata.get('format')!r})")
    if int(metadata.get("version", FORMAT_VERSION)) > FORMAT_VERSION:
        raise LatentFileError(
            f"{name}: latent file version {metadata['version']} is newer than this aea reads; upgrade aea"
        )
    return LatentFile(latents, metadata, name)
