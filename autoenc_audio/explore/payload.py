"""Arrays and files as classic scripts, the one way a page opened from file:// can read them (no torch).

Chromium refuses `fetch()` and module imports of file:// URLs, but runs
`<script src>` from the page's folder. So every piece of data is a script
that stores a JSON value under a key of the global `AEA`: small values as
they are, binary ones as `{"encoding": "gzip+base64", ...}` that the page
turns back into bytes (`DecompressionStream`). The same files serve from
any static web server.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

GLOBAL = "AEA"
DTYPES = {"float16": "<f2", "float32": "<f4", "uint8": "u1"}


def packed_bytes(data: bytes, level: int = 6) -> dict[str, Any]:
    """`data` as a JSON value the page unpacks: gzip (deterministic: no time stamp), then base64."""
    return {
        "encoding": "gzip+base64",
        "bytes": len(data),
        "data": base64.b64encode(gzip.compress(data, level, mtime=0)).decode(),
    }


def packed_array(array: np.ndarray, dtype: str) -> dict[str, Any]:
    """`array` (any shape) as little-endian `dtype` ("float16", "float32" or "uint8") bytes packed for the page."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    values = np.ascontiguousarray(np.asarray(array).astype(DTYPES[dtype]))
    return {"dtype": dtype, "shape": list(values.shape), **packed_bytes(values.tobytes())}


def unpack(value: dict[str, Any]) -> bytes | np.ndarray:
    """The inverse of `packed_bytes` / `packed_array` (for tests and tools reading a site in Python)."""
    data = gzip.decompress(base64.b64decode(value["data"]))
    if "dtype" not in value:
        return data
    return np.frombuffer(data, dtype=DTYPES[value["dtype"]]).reshape(value["shape"])


def script_text(key: str, value: Any) -> str:
    """A classic script storing `value` (JSON) as `AEA[key]`; JSON is valid JavaScript, so no code is generated."""
    return f"(self.{GLOBAL} = self.{GLOBAL} || {{}})[{json.dumps(key)}] = {json.dumps(value, separators=(',', ':'))};\n"


def write_script(path: Path, key: str, value: Any) -> Path:
    """Write `script_text(key, value)` to `path` (inside a folder that is renamed into place as a whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script_text(key, value), encoding="utf-8")
    return path


def read_script(path: Path) -> tuple[str, Any]:
    """The key and value a script of `write_script` stores (for tests and tools)."""
    text = Path(path).read_text(encoding="utf-8")
    head, _, body = text.partition("] = ")
    return json.loads(head.rsplit("[", 1)[1]), json.loads(body.rstrip().rstrip(";"))
