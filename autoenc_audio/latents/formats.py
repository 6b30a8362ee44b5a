"""What latent files are called: their formats, extensions and first bytes (no torch needed).

`files` reads and writes them; commands that only need to tell a
latent file from an audio file by its name import this module alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

FORMAT_NAME = "aea-latents"
FORMAT_VERSION = 1
FORMATS = ("pt", "npy", "npz", "safetensors")
LATENT_EXTENSIONS = tuple(f".{name}" for name in FORMATS)
STDOUT_FORMAT = "pt"


class LatentFileError(InputError):
    """A latent file that cannot be read, written or used; the message names it."""


def format_for(path: str | os.PathLike, explicit: str | None = None, sequence: bool = False) -> str:
    """The format to write: `explicit`, else the extension, else (stdout) `STDOUT_FORMAT`.

    A `sequence` (the clips of whole tracks) needs a format with metadata: a bare
    `.npy` would decode as separate clips, not as the track.
    """
    if explicit:
        fmt = explicit.lower().lstrip(".")
        if fmt not in FORMATS:
            raise LatentFileError(f"unknown latent format {fmt!r}: use {', '.join(FORMATS)}")
        said = Path(path).suffix.lower().lstrip(".") if str(path) != "-" else ""
        if said in FORMATS and said != fmt:  # .pt holding .npz bytes would not read back as the name says
            raise LatentFileError(f"{path}: the extension says {said}, the format asked for is {fmt}; give one")
    elif str(path) == "-":
        fmt = STDOUT_FORMAT
    else:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise LatentFileError(
                f"{path}: latent files end in {', '.join(LATENT_EXTENSIONS)} (got {fmt or 'no extension'!r})"
            )
    if sequence and fmt == "npy":
        raise LatentFileError(
            f"{path}: .npy keeps no track layout, so the clips of whole tracks would decode as "
            f"separate clips; use .pt, .npz or .safetensors"
        )
    return fmt


def is_latent_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in LATENT_EXTENSIONS


def sniff_format(head: bytes) -> str | None:
    """The format of a latent file from its first bytes (None: not one of ours)."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "zip"  # .pt or .npz: told apart by their members
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return None
