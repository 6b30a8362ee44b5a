"""Reading `torch.save` files safely: plain tensors and containers only, with a one-line refusal otherwise."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import IO, Any

import torch

from ..errors import InputError

REFUSAL = "holds Python objects, not plain tensors; refused (aea never runs code from a file)"


class UnsafeFileError(InputError):
    """A torch file that would need to run Python code (pickled objects) to load."""


def load_plain(source: str | Path | IO[bytes], name: str) -> Any:
    """`torch.load(source, weights_only=True)` on the CPU; a file with Python objects raises UnsafeFileError naming `name`.

    torch's own refusal is a 300-character paragraph suggesting `weights_only=False`,
    which is exactly what aea must never do with a file it was handed.
    """
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only load failed" in str(error).lower():
            raise UnsafeFileError(f"{name}: {REFUSAL}") from None
        raise
