"""What pyproject.toml and the README promise about installing aea matches what the code imports."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autoenc_audio"
DISTRIBUTIONS = {"sklearn": "scikit-learn"}  # import name -> distribution name, where they differ
STDLIB_SINCE = {"tomllib": (3, 11)}  # standard-library modules newer than some Pythons


def top_level_imports() -> set[str]:
    """Every top-level module name imported anywhere in the package (at any depth of the code)."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def distribution(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower()


def test_every_third_party_import_is_a_declared_dependency():
    """A dependency, or in an extra that a feature names when it is missing (`export`), not only in `dev`."""
    extras = project()["optional-dependencies"]
    optional = [spec for extra, specs in extras.items() if extra != "dev" for spec in specs]
    declared = {distribution(spec) for spec in project()["dependencies"] + optional}
    third_party = {
        name for name in top_level_imports() - {"autoenc_audio", "__future__"} if name not in sys.stdlib_module_names
    }
    undeclared = {DISTRIBUTIONS.get(name, name) for name in third_party} - declared
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {sorted(undeclared)}"


def test_the_python_floor_covers_every_standard_module_the_code_needs():
    floor = tuple(int(part) for part in re.search(r">=\s*(\d+)\.(\d+)", project()["requires-python"]).groups())
    needed = max((STDLIB_SINCE[name] for name in top_level_imports() & STDLIB_SINCE.keys()), default=(3, 0))
    assert floor >= needed, f"requires-python {floor} but the code imports a module of Python {needed}"
    assert f"Python {floor[0]}.{floor[1]}+" in (ROOT / "README.md").read_text(), "the README states another floor"


def test_the_dev_extra_installs_every_other_extra_so_the_tests_can_use_them():
    extras = project()["optional-dependencies"]
    dev = {distribution(spec) for spec in extras["dev"]}
    missing = {distribution(spec) for extra, specs in extras.items() if extra != "dev" for spec in specs} - dev
    assert not missing, f"in an extra but not in dev (make test would not install them): {sorted(missing)}"
