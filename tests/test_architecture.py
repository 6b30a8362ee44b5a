"""ARCHITECTURE.md stays true as the code changes, and the tree keeps the house rules' shape.

ARCHITECTURE.md names every package and every root module. The package root holds at most 15 modules (each
other concern lives in its package), no module reaches 600 lines and no function 80 (decorators left out, its
docstring counted): each check names the offenders, so the next addition that breaks a rule is found by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autoenc_audio"
PAGE = ROOT / "ARCHITECTURE.md"
MAX_ROOT_MODULES = 15
MAX_MODULE_LINES = 600  # a module has fewer lines than this
MAX_FUNCTION_LINES = 80  # a function (or method), from its `def` line to its last line, has fewer than this


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


def package_modules() -> list[Path]:
    """Every module of the package, nested packages included."""
    return sorted(PACKAGE.rglob("*.py"))


def function_lengths(source: str) -> list[tuple[str, int, int]]:
    """(qualified name, `def` line, lines) of every function and method in `source`, nested ones included.

    A function runs from its `def` line to its last line: decorators are left out, its docstring counts.
    """
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    assert child.end_lineno is not None  # set by ast.parse
                    found.append((name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_shape_checks_measure_what_they_say():
    # guards the measures below: decorators left out, docstrings counted, methods and nested functions found
    source = (
        "@decorator\n"
        "def outer():\n"
        '    """A docstring."""\n'
        "\n"
        "    def inner():\n"
        "        return 1\n"
        "    return inner\n"
        "\n"
        "class Box:\n"
        "    async def method(self):\n"
        "        pass\n"
    )
    assert function_lengths(source) == [("outer", 2, 6), ("outer.inner", 5, 2), ("Box.method", 10, 2)]
    scanned = {path.relative_to(PACKAGE).as_posix() for path in package_modules()}
    assert {"__main__.py", "config.py", "cli/common.py", "models/frame.py"} <= scanned


def test_the_package_root_holds_at_most_15_modules():
    modules = [name for name in root_modules() if name != "__main__.py"]
    assert len(modules) <= MAX_ROOT_MODULES, (
        f"{len(modules)} modules in autoenc_audio/ (at most {MAX_ROOT_MODULES} besides __init__.py and __main__.py): "
        f"{', '.join(modules)}; fold a concern's modules into its package"
    )


def test_no_module_reaches_600_lines():
    long = []
    for path in package_modules():
        lines = len(path.read_text().splitlines())
        if lines >= MAX_MODULE_LINES:
            long.append(f"{path.relative_to(PACKAGE).as_posix()} ({lines} lines)")
    assert not long, f"modules of {MAX_MODULE_LINES} lines or more: {', '.join(long)}; split each by what it does"


def test_no_function_reaches_80_lines():
    long = []
    for path in package_modules():
        for name, line, lines in function_lengths(path.read_text()):
            if lines >= MAX_FUNCTION_LINES:
                long.append(f"{path.relative_to(PACKAGE).as_posix()}:{line} {name} ({lines} lines)")
    assert not long, (
        f"functions of {MAX_FUNCTION_LINES} lines or more: {', '.join(long)}; "
        "move their work into helpers or the library (a command keeps its help)"
    )
