"""ARCHITECTURE.md stays true as the code changes: it names every package and every root module."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autoenc_audio"
PAGE = ROOT / "ARCHITECTURE.md"


def subpackages() -> list[str]:
    """Every folder under autoenc_audio/ with an __init__.py, as `name/` (nested ones as `a/b/`)."""
    return sorted(
        f"{init.parent.relative_to(PACKAGE).as_posix()}/"
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE
    )


def root_modules() -> list[str]:
    """Every module in the package root but `__init__.py`, as `name.py`."""
    return sorted(path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py")


def test_the_package_has_what_the_test_looks_for():
    # guards the two helpers: if they found nothing, the test below could not fail
    assert {"cli/", "models/", "scoring/"} <= set(subpackages())
    assert {"config.py", "audio.py"} <= set(root_modules())


def test_architecture_names_every_package_and_root_module():
    text = PAGE.read_text()
    missing = [name for name in subpackages() + root_modules() if f"`{name}`" not in text]
    assert not missing, f"ARCHITECTURE.md does not name {', '.join(missing)}: add each with its one job"
