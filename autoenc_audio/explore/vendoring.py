"""The browser runtime of `aea explore`: the npm package onnxruntime-web, pinned, vendored into the package at build.

`make setup` (hence `make test`, `.ci/run` and `make dist`) runs
`python -m autoenc_audio.explore.vendoring`: `npm pack` fetches the pinned
tarball, its sha512 must equal `INTEGRITY` (the registry's `dist.integrity`
for `VERSION`, pinned here), and only `FILES` are copied into `vendor/`
beside this module (git-ignored; package data, so the wheel carries them).
Nothing is fetched when aea runs or when a page opens: `runtime_files` finds
the vendored files or says in one line how to get them. Stdlib only, so the
step runs before anything else is installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "onnxruntime-web"
VERSION = "1.30.0"
INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
"""The registry's `dist.integrity` of `PACKAGE@VERSION` (`npm view onnxruntime-web@1.30.0 dist.integrity`)."""

FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""What the page needs from `package/dist/`: the WebAssembly-only build as a classic script (it defines the
global `ort`), the Emscripten glue it imports, and the single-threaded SIMD WebAssembly binary."""

VENDOR = Path(__file__).resolve().parent / "vendor"
ORIGIN_NAME = "ORIGIN.json"
GET_IT = "make vendor (or: python -m autoenc_audio.explore.vendoring)"


class VendorError(RuntimeError):
    """The vendored runtime is missing, or a tarball is not the pinned one; the message says what to do.

    Not an `InputError`: nothing the user gave is wrong, the installation is incomplete (exit 1)."""


def runtime_files(folder: Path | None = None) -> dict[str, Path]:
    """The vendored files by name (in `folder`, default `VENDOR`); VendorError (one line, how to get them) when any
    is missing or not the pin."""
    folder = VENDOR if folder is None else folder
    paths = {name: folder / name for name in FILES}
    missing = [name for name, path in paths.items() if not path.is_file()]
    origin = folder / ORIGIN_NAME
    if missing or not origin.is_file():
        raise VendorError(
            f"{folder}: the browser runtime ({PACKAGE} {VERSION}) is not vendored "
            f"(missing {', '.join(missing) or ORIGIN_NAME}); run {GET_IT} in aea's source tree"
        )
    recorded = json.loads(origin.read_text()).get("version")
    if recorded != VERSION:
        raise VendorError(f"{folder}: vendored {PACKAGE} is {recorded}, aea pins {VERSION}; run {GET_IT}")
    return paths


def check_integrity(tarball: Path, integrity: str = INTEGRITY) -> None:
    """VendorError unless `tarball`'s sha512 is `integrity` (npm's `sha512-<base64>` form)."""
    digest = hashlib.sha512(Path(tarball).read_bytes()).digest()
    found = "sha512-" + base64.b64encode(digest).decode()
    if found != integrity:
        raise VendorError(f"{tarball}: sha512 {found} is not the pinned {integrity}; refusing to vendor it")


def extract(tarball: Path, folder: Path = VENDOR, integrity: str = INTEGRITY) -> list[Path]:
    """Check `tarball` against the pin, then copy `FILES` from its `package/dist/` into `folder` (replacing it)."""
    check_integrity(tarball, integrity)
    staging = Path(tempfile.mkdtemp(prefix=".vendor.", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp makes it 0700; installed package data must be readable by all
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for name in FILES:
                member = archive.getmember(f"package/dist/{name}")
                source = archive.extractfile(member)
                if source is None:
                    raise VendorError(f"{tarball}: package/dist/{name} is not a file")
                (staging / name).write_bytes(source.read())
        origin = {"package": PACKAGE, "version": VERSION, "integrity": integrity, "files": list(FILES)}
        origin["license"] = "MIT (Copyright (c) Microsoft Corporation)"
        (staging / ORIGIN_NAME).write_text(json.dumps(origin, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [folder / name for name in FILES]


def fetch_tarball(into: Path) -> Path:
    """`npm pack PACKAGE@VERSION` into `into` (npm's own cache makes a second run offline); returns the tarball."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(f"npm is not installed: it fetches {PACKAGE} {VERSION} from the npm registry")
    done = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", str(into)],
        capture_output=True,
        text=True,
    )
    tarball = into / f"{PACKAGE}-{VERSION}.tgz"
    if done.returncode != 0 or not tarball.is_file():
        reason = (done.stderr.strip().splitlines() or ["no tarball"])[-1]
        raise VendorError(f"npm pack {PACKAGE}@{VERSION} failed: {reason}")
    return tarball


def vendor(folder: Path = VENDOR) -> list[Path]:
    """Fetch, check and copy the pinned runtime into `folder`; nothing changes when it is already there."""
    try:
        runtime_files(folder)
        (folder / ORIGIN_NAME).touch()  # newer than this module: make sees the step done
        return [folder / name for name in FILES]
    except VendorError:
        pass
    with tempfile.TemporaryDirectory(prefix="aea-npm-") as temporary:
        return extract(fetch_tarball(Path(temporary)), folder)


def main() -> int:
    try:
        written = vendor()
    except VendorError as error:
        print(f"vendoring: error: {error}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in written)
    print(f"vendored {PACKAGE} {VERSION} ({len(written)} files, {size / 1e6:.1f} MB) in {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
