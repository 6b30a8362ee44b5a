"""Values json cannot write on its own (tensors, numpy arrays and numbers, paths, sets) as JSON values.

No torch import: a tensor is recognised by its `detach` method, so light commands can use this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def json_value(value: Any) -> Any:
    """`value` as plain JSON data, for `json.dumps(default=json_value)`; TypeError for anything else."""
    if hasattr(value, "detach") and hasattr(value, "tolist"):  # a torch tensor
        return value.detach().cpu().tolist()
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} values cannot be stored")


def json_value_or_text(value: Any) -> Any:
    """`json_value`, with anything else written as its `str` (for reports, where nothing may stop the write)."""
    try:
        return json_value(value)
    except TypeError:
        return str(value)
