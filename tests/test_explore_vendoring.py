"""The vendored browser runtime (autoenc_audio/explore/vendoring.py): only the pinned tarball is taken, only the
files the page needs are copied, and a missing runtime is one line saying how to get it."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from autoenc_audio.explore import vendoring


def fake_tarball(path: Path, extra: tuple[str, ...] = ("ort.all.js", "ort.webgpu.min.js")) -> str:
    """An npm-style tarball with the page's files and others; returns its integrity in npm's form."""
    with tarfile.open(path, "w:gz") as archive:
        for name in (*vendoring.FILES, *extra):
            data = f"contents of {name}".encode()
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def test_a_tarball_matching_the_pin_gives_exactly_the_pages_files(tmp_path):
    integrity = fake_tarball(tmp_path / "ort.tgz")
    folder = tmp_path / "vendor"
    vendoring.extract(tmp_path / "ort.tgz", folder, integrity)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*vendoring.FILES, vendoring.ORIGIN_NAME])
    assert (folder / "ort.wasm.min.js").read_text() == "contents of ort.wasm.min.js"
    assert json.loads((folder / vendoring.ORIGIN_NAME).read_text())["version"] == vendoring.VERSION
    assert set(vendoring.runtime_files(folder)) == set(vendoring.FILES)


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_nothing_is_written(tmp_path):
    fake_tarball(tmp_path / "ort.tgz")
    with pytest.raises(vendoring.VendorError, match="is not the pinned"):
        vendoring.extract(tmp_path / "ort.tgz", tmp_path / "vendor")  # checked against the real pin
    assert not (tmp_path / "vendor").exists()


def test_a_missing_runtime_says_in_one_line_how_to_get_it(tmp_path):
    with pytest.raises(vendoring.VendorError) as raised:
        vendoring.runtime_files(tmp_path / "vendor")
    message = str(raised.value)
    assert "\n" not in message and "make vendor" in message and vendoring.VERSION in message


def test_the_pin_is_a_sha512_and_the_source_tree_holds_the_pinned_runtime():
    """`make setup` vendors it; where it did not (no npm), the test says so."""
    assert vendoring.INTEGRITY.startswith("sha512-") and len(base64.b64decode(vendoring.INTEGRITY[7:])) == 64
    try:
        files = vendoring.runtime_files()
    except vendoring.VendorError as error:
        pytest.skip(str(error))
    assert files["ort-wasm-simd-threaded.wasm"].read_bytes()[:4] == b"\0asm"
