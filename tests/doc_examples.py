"""Running a documentation page's ```python blocks, in order, in one session: the pages' examples cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(page: Path) -> list[str]:
    """The code of every ```python block of `page`, in order."""
    return PYTHON_BLOCK.findall(page.read_text())


def run_blocks(page: Path, session_name: str) -> dict:
    """Run every block of `page` in one namespace and return it; any example that raises fails the test."""
    session: dict = {"__name__": session_name}
    label = f"{page.parent.name}/{page.name}"
    for number, code in enumerate(python_blocks(page), 1):
        try:
            exec(compile(code, f"{label} example {number}", "exec"), session)
        except Exception as error:  # noqa: BLE001 - any failure of an example is the page's failure
            pytest.fail(f"{label} example {number} fails: {type(error).__name__}: {error}\n{code}")
    return session
