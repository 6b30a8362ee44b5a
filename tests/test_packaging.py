"""What pyproject.toml and the README promise about installing aea matches what the code imports, and the built
wheel installs and runs on its own."""

import ast
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

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


# The wheel as a user gets it: built as `make dist` builds it, installed into a fresh venv (no dev extra, nothing of
# the checkout), run from a folder outside the checkout. Slow: it installs torch and the declared dependencies.


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """`make dist`'s build (the sdist, then the wheel from it) into a fresh folder, from a copy of the project
    without the checkout's build leftovers: a stale `*.egg-info` would list files that pyproject.toml no longer
    ships. Offline, pip cannot fetch the build backend into build's isolated environment: then this venv's own
    setuptools builds them (`--no-isolation`), the same backend, or the tests skip saying why."""
    pytest.importorskip("build", reason="`build` is in the dev extra: `make setup` installs it")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "build", "--outdir", str(out), str(source)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 and "No matching distribution found" in done.stdout + done.stderr:
        backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
        if not backend_installed(backend):
            pytest.skip(f"offline: pip cannot fetch the build backend ({', '.join(backend)}) and this venv lacks it")
        done = subprocess.run([*command, "--no-isolation"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def backend_installed(requirements: list[str]) -> bool:
    """Whether this venv holds every build requirement (`setuptools>=77`) at a version it allows."""
    from packaging.requirements import Requirement

    for requirement in map(Requirement, requirements):
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True


def only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def clean_env(cache: Path) -> dict[str, str]:
    """This process's environment without what would let the checkout or this venv leak into the fresh venv."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV", "AEA_"))}
    return {**env, "PYTHONNOUSERSITE": "1", "AEA_CACHE": str(cache)}


@pytest.mark.slow
def test_the_sdist_and_the_wheel_hold_every_file_the_package_reads(dist):
    package_files = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    presets = {name for name in package_files if name.startswith("autoenc_audio/presets/")}
    assert len(presets) >= 2 and all(name.endswith(".toml") for name in presets)
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        in_wheel = set(wheel.namelist())
        entry_points = next(wheel.read(name).decode() for name in in_wheel if name.endswith("entry_points.txt"))
    assert package_files - in_wheel == set(), "missing from the wheel"
    assert "aea = autoenc_audio.cli:main" in entry_points
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert package_files - in_sdist == set(), "missing from the sdist"


NETWORK_FAILURES = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ConnectTimeout",
    "ProxyError",
    "Read timed out",
)
"""What pip prints when no package index can be reached: offline, which alone may skip the test."""


def install_options(requirements: list[str], env: dict[str, str]) -> list[str]:
    """pip's options that install `requirements` into a fresh venv here: `--no-index` when local files (pip's
    find-links) hold them all, so the test reads no network; none when a package index can be reached. Skips
    the test, saying why, only when no index can be reached (offline) or the torch spec is one nothing here
    satisfies; a wheel whose own dependencies no index satisfies is a packaging bug, and fails. A dry run of the
    resolver, a few seconds: it reads the wheels' metadata and downloads nothing large."""

    def resolves(*options: str) -> tuple[bool, str, str]:
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", *options]
        done = subprocess.run([*command, *requirements], env=env, capture_output=True, text=True, timeout=300)
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        return done.returncode == 0, (errors or done.stderr.splitlines()[-1:] or ["no output"])[0], done.stderr

    local, why_not_local, _ = resolves("--no-index")
    if local:
        return ["--no-index"]
    online, why_not_online, said = resolves("--timeout", "10", "--retries", "1")
    if online:
        return []
    offline = any(sign in said for sign in NETWORK_FAILURES)
    torch_unavailable = any(f"requirement {spec}" in why_not_online for spec in requirements[:-1])
    assert offline or torch_unavailable, f"the wheel's dependencies cannot be installed from the index: {said}"
    pytest.skip(
        f"cannot install {' '.join(requirements[:-1])} and the wheel's dependencies into a fresh venv here: "
        f"not from local files ({why_not_local}) nor from a package index ({why_not_online})"
    )


# Imports every module of the installed package: a module-level import of an undeclared dependency fails here.
IMPORT_ALL = """
import importlib, pkgutil, autoenc_audio
names = [m.name for m in pkgutil.walk_packages(autoenc_audio.__path__, "autoenc_audio.") if m.name != "autoenc_audio.__main__"]
for name in names:
    importlib.import_module(name)
print(autoenc_audio.__file__, len(names))
"""


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_trains_encodes_decodes_outside_the_checkout(dist, tmp_path):
    from autoenc_audio import __version__

    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    env = clean_env(tmp_path / "cache")
    python, aea = venv / "bin" / "python", venv / "bin" / "aea"

    def run(*args: str | Path) -> str:
        done = subprocess.run([str(arg) for arg in args], cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # The torch build the project venv was set up with (make passes TORCH_SPEC), else this venv's torch version.
    torch_spec = shlex.split(os.environ.get("TORCH_SPEC") or f"torch=={importlib.metadata.version('torch')}")
    options = install_options([*torch_spec, str(only(dist, "*.whl"))], env)
    run(sys.executable, "-m", "venv", venv)
    install = (python, "-m", "pip", "install", "--quiet", "--no-compile", *options)  # compiling torch: half the time
    run(*install, *torch_spec)
    run(*install, only(dist, "*.whl"))

    assert run(aea, "--version").strip() == f"aea, version {__version__}"
    location, modules = run(python, "-c", IMPORT_ALL).split()
    assert Path(location).is_relative_to(venv) and int(modules) > 50
    run(aea, "synth", "corpus", "--tracks", "8", "--seconds", "3")
    songs = sorted((work / "corpus").rglob("*.wav"))
    assert len(songs) == 8
    # The preset by name: there is no configs/ here, so it comes from the installed package.
    summary = json.loads(
        run(aea, "train", "--config", "tiny", "--data", "corpus", "--epochs", "1", "--out", "run", "--json")
        .strip()
        .splitlines()[-1]
    )
    assert summary["latent_size"] == 512 and (work / "run" / "best.safetensors").is_file()
    run(aea, "encode", "--model", "run", songs[0], "-o", "z.npy")
    assert np.load(work / "z.npy").shape == (512,)
    run(aea, "decode", "--model", "run", "z.npy", "-o", "again.wav")
    decoded = soundfile.info(work / "again.wav")
    assert (decoded.samplerate, decoded.frames) == (8000, 8000)  # the tiny preset: 1 s clips at 8 kHz
