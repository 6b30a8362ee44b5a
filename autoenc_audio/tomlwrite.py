"""A small TOML writer for aea's own configs (tables of scalars, arrays and inline tables).

Python reads TOML (`tomllib`) but does not write it; aea only needs to write the
plain shapes its config dataclasses have, so this stays a few lines.
"""

from __future__ import annotations

import json
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(sections: dict[str, dict[str, Any]]) -> str:
    """`{section: {key: value}}` as TOML text; keys whose value is None are left out (TOML has no null)."""
    lines = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_value(value)}" for key, value in table.items() if value is not None)
        lines.append("")
    return "\n".join(lines)
