"""Values as strict JSON (autoenc_audio/jsonable.py): what `json.dumps` cannot write, or writes as invalid JSON."""

import json
from pathlib import Path

import numpy as np
import pytest

from autoenc_audio.jsonable import json_text, json_value, json_value_or_text


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_non_finite_numbers_become_null_at_any_depth():
    """`json.dumps` writes NaN and Infinity bare: the file is then refused by JSON.parse, Go and serde."""
    value = {
        "silhouette": float("nan"),
        "curve": [1.0, float("inf"), np.float64("-inf")],
        "nested": ({"x": np.float32("nan")}, np.array([0.5, np.nan])),
        "kept": [0, True, None, "NaN", 2.5],
    }
    text = json_text(value, indent=2)
    assert json.loads(text, parse_constant=_refuse) == {
        "silhouette": None,
        "curve": [1.0, None, None],
        "nested": [{"x": None}, [0.5, None]],
        "kept": [0, True, None, "NaN", 2.5],
    }


def test_the_default_converts_what_json_cannot_write_and_an_unknown_value_is_refused_or_written_as_text():
    assert json.loads(json_text({"p": Path("a/b"), "s": {3}}, json_value)) == {"p": "a/b", "s": [3]}
    with pytest.raises(TypeError, match="object values cannot be stored"):
        json_text(object())
    assert json.loads(json_text([object], json_value_or_text)) == [str(object)]
