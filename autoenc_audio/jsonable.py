"""Values json cannot write on its own (tensors, numpy arrays and numbers, paths, sets, NaN) as JSON values.

No torch import: a tensor is recognised by its `detach` method, so light commands can use this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
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


def json_text(value: Any, default: Callable[[Any], Any] = json_value, indent: int | None = None) -> str:
    """`value` as strict JSON text: a non-finite float (NaN, inf: an undefined score) is written `null`, since
    `json.dumps` writes a bare `NaN` that JSON.parse, Go and serde refuse. `default` converts what json cannot
    write (`json_value`, `json_value_or_text` or `str`); its result is made finite too."""
    return json.dumps(finite(value, default), indent=indent, allow_nan=False)


def finite(value: Any, default: Callable[[Any], Any] = json_value) -> Any:
    """`value` as plain JSON data (through `default` where json cannot write it), non-finite floats as None."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item, default) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item, default) for item in value]
    return finite(default(value), default)
