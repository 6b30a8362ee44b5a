"""`aea explore`: write the static site, a folder that opens by double-click and decodes in the browser.

The folder is built in a temporary sibling and renamed into place, so a
target holds a whole site or what was there before. Layout:

- `index.html`, `explore.js`, `explore.css`: the page (package data in `page/`)
- `runtime/`: onnxruntime-web's classic script as vendored, its glue module and
  WebAssembly binary as data scripts (`payload.py`), `ORIGIN.json`
- `data/`: the decoder (`aea export`'s file, checked against torch), latents,
  statistics, original audio (Ogg Vorbis), pieces of the run's prior (Ogg
  Vorbis; none without a prior), the self-test's torch decode, and `site.js`
  (what the page shows); `manifest.json` lists it all.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from ..checkpoints.checkpoint import Checkpoint
from ..data import PreparedData
from ..export.write import ExportRequest, export_model
from ..files import make_folder
from ..pages.folders import refuse_run_folder
from ..version import __version__
from . import content, vendoring
from .content import ExploreError, ExploreRequest
from .payload import packed_array, packed_bytes, write_script
from .pieces import prior_pieces

PAGE_FILES = ("index.html", "explore.js", "explore.css")
VORBIS_LEVEL = 0.6
"""libsndfile's Vorbis compression level for the originals: about 50 kbit/s mono, small beside the model's own
artefacts, and Ogg Vorbis plays at any sample rate in Chromium and Firefox (decodeAudioData too)."""


@dataclass(frozen=True)
class SiteResult:
    """The written site: its page, folder size in bytes, file count, and the manifest."""

    page: Path
    size: int
    files: int
    manifest: dict[str, Any]


def build_site(
    checkpoint: Checkpoint,
    out: Path,
    cache_dir: Path,
    data_root: Path | None = None,
    request: ExploreRequest | None = None,
    overwrite: bool = False,
) -> SiteResult:
    """Write the explore site of `checkpoint` to folder `out` (refused when it holds files, unless `overwrite`)."""
    request = request or ExploreRequest()
    runtime = vendoring.runtime_files()
    out = Path(out)
    _check_target(out, checkpoint.path, overwrite)
    make_folder(out.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        staging.chmod(0o755)
        manifest = _write_contents(checkpoint, staging, runtime, cache_dir, data_root, request)
        _replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = [path for path in out.rglob("*") if path.is_file()]
    return SiteResult(out / "index.html", sum(path.stat().st_size for path in files), len(files), manifest)


def _check_target(out: Path, checkpoint: Path, overwrite: bool) -> None:
    """ExploreError unless `out` is new, empty, or an earlier explore page that `overwrite` may replace: the whole
    folder is swapped, so a run folder, or one holding anything else, is never replaced."""
    if out.exists() and not out.is_dir():
        raise ExploreError(f"{out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if checkpoint.resolve().is_relative_to(out.resolve()):
        raise ExploreError(f"{out}: holds the checkpoint being explored ({checkpoint}); write the page elsewhere")
    refuse_run_folder(out)  # another run's: what every command writing a page refuses (`pages/folders.py`)
    if not _is_site(out):
        foreign = sorted(path.name for path in out.iterdir() if path.name not in SITE_ENTRIES | OS_LITTER)
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "") or "no explore manifest.json"
        raise ExploreError(f"{out}: holds files that are not an explore page ({shown}); give a new or empty folder")
    if not overwrite:
        raise ExploreError(
            f"{out}: holds an earlier explore page; give overwrite=True to replace it", settings=("overwrite=True",)
        )


SITE_ENTRIES = frozenset((*PAGE_FILES, "manifest.json", "runtime", "data"))
OS_LITTER = frozenset((".DS_Store", "Thumbs.db", "desktop.ini"))  # what a file browser leaves in a folder it opened


def _is_site(folder: Path) -> bool:
    """Whether `folder` is a page `build_site` wrote: its manifest says so and it holds nothing else."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    names = {path.name for path in folder.iterdir()} - OS_LITTER  # a `.git` or `.nojekyll` is the user's: refused
    return isinstance(manifest, dict) and manifest.get("format") == "aea-explore" and names <= SITE_ENTRIES


def stale_pages(run_dir: Path, fingerprint: str) -> list[Path]:
    """The explore pages in `run_dir`'s sub-folders (`make demo`'s `explore/`) made from other weights than
    `fingerprint`'s: after `aea train --resume` they show the model as it was."""
    pages = []
    for manifest in sorted(Path(run_dir).glob("*/manifest.json")):
        if _is_site(manifest.parent) and json.loads(manifest.read_text()).get("model_fingerprint") != fingerprint:
            pages.append(manifest.parent)
    return pages


def _write_contents(
    checkpoint: Checkpoint,
    folder: Path,
    runtime: dict[str, Path],
    cache_dir: Path,
    data_root: Path | None,
    request: ExploreRequest,
) -> dict[str, Any]:
    """Everything but the rename: the decoder, the data, the runtime, the page and the manifest."""
    exported = _export_decoder(checkpoint, folder / ".export")
    prepared = content.prepare(checkpoint, data_root, cache_dir)
    rate = checkpoint.config.audio.sample_rate
    clips = content.load_clips(prepared, content.choose_clips(prepared, request.clips), rate)
    latents = content.encode(checkpoint, clips.audio, request.batch_size)
    dtype, float16_error, decoded = content.storage_dtype(checkpoint, latents, request.batch_size)
    stored = latents.astype(np.float16).astype(np.float32) if dtype == "float16" else latents
    statistics = content.fit_statistics(checkpoint, prepared, request)
    made = prior_pieces(checkpoint, request)
    references = min(request.references, len(stored))
    data = folder / "data"
    write_script(data / "decoder.js", "decoder", packed_bytes(exported["bytes"]))
    write_script(data / "latents.js", "latents", packed_array(stored, dtype))
    write_script(data / "statistics.js", "statistics", _statistics_value(statistics))
    write_script(data / "audio.js", "audio", [packed_bytes(_vorbis(clip, rate)) for clip in clips.audio])
    write_script(data / "pieces.js", "pieces", [packed_bytes(_vorbis(piece, rate)) for piece in made.audio])
    write_script(
        data / "selftest.js",
        "selftest",
        {"clips": list(range(references)), "audio": packed_array(decoded[:references], "float32")},
    )
    _write_runtime(folder / "runtime", runtime)
    for name in PAGE_FILES:
        (folder / name).write_bytes(resources.files(__package__).joinpath("page", name).read_bytes())
    site = _site_record(checkpoint, exported["manifest"], prepared, clips, content.project(stored, statistics))
    site["latents"] = {
        "dtype": dtype,
        "float16_relative_error": float(f"{float16_error:.3g}"),
        "tolerance": content.FLOAT16_TOLERANCE,
    }
    site["statistics"] = {
        "fit_clips": statistics.fit_clips,
        "directions": len(statistics.directions),
        "gaussian": statistics.gaussian_source,
    }
    site["prior"] = made.record
    site["selftest"] = {"clips": references, "tolerance": 1e-4}
    write_script(data / "site.js", "site", site)
    files = {
        path.relative_to(folder).as_posix(): path.stat().st_size for path in sorted(folder.rglob("*")) if path.is_file()
    }
    manifest = {**site, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _site_record(
    checkpoint: Checkpoint, export: dict[str, Any], prepared: PreparedData, clips: content.Clips, points: np.ndarray
) -> dict[str, Any]:
    """What `data/site.js` says of the model, the data and the clips (`points` `[C, K]`: their map positions)."""
    return {
        "format": "aea-explore",
        "format_version": 1,
        "aea_version": __version__,
        "runtime": f"{vendoring.PACKAGE} {vendoring.VERSION}",
        "model": export["model"],
        "model_fingerprint": checkpoint.fingerprint,
        "variational": bool(checkpoint.model.variational),
        "sample_rate": checkpoint.config.audio.sample_rate,
        "clip_samples": checkpoint.config.audio.clip_samples,
        "latent": export["latent"],
        "decoder": export["parts"]["decoder"],
        "data": prepared.root.name,  # the folder's name only: a published page shows no local path
        "label_names": list(prepared.labels),
        "clips": [
            {"name": name, "label": label, "split": split, "pca": [round(float(v), 5) for v in point[:2]]}
            for name, label, split, point in zip(clips.names, clips.labels, clips.splits, points, strict=True)
        ],
        "original_audio": f"Ogg Vorbis, libsndfile compression level {VORBIS_LEVEL}",
    }


def _export_decoder(checkpoint: Checkpoint, folder: Path) -> dict[str, Any]:
    """The decoder as `aea export` writes and checks it: the ONNX bytes and `aea-export.json` (folder removed)."""
    result = export_model(checkpoint, ExportRequest(folder, "onnx", ("decoder",)))
    exported = {"bytes": result.parts[0].path.read_bytes(), "manifest": json.loads(result.manifest.read_text())}
    shutil.rmtree(folder)
    return exported


def _statistics_value(statistics: content.Statistics) -> dict[str, Any]:
    return {
        "mean": packed_array(statistics.mean, "float32"),
        "directions": packed_array(statistics.directions, "float32"),
        "direction_std": [float(v) for v in statistics.direction_std],
        "gaussian_mean": packed_array(statistics.gaussian_mean, "float32"),
        "gaussian_std": packed_array(statistics.gaussian_std, "float32"),
        "gaussian": statistics.gaussian_source,
    }


def _vorbis(clip: np.ndarray, sample_rate: int) -> bytes:
    """One clip `[S]` as Ogg Vorbis bytes."""
    buffer = io.BytesIO()
    samples = np.clip(clip, -1.0, 1.0).astype(np.float32)
    soundfile.write(buffer, samples, sample_rate, format="OGG", subtype="VORBIS", compression_level=VORBIS_LEVEL)
    return buffer.getvalue()


def _write_runtime(folder: Path, runtime: dict[str, Path]) -> None:
    """onnxruntime-web as vendored: its classic script copied, its glue and WebAssembly as data scripts."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(runtime["ort.wasm.min.js"], folder / "ort.wasm.min.js")
    shutil.copyfile(runtime["ort.wasm.min.js"].parent / vendoring.ORIGIN_NAME, folder / vendoring.ORIGIN_NAME)
    write_script(folder / "ort-glue.js", "ort-glue", runtime["ort-wasm-simd-threaded.mjs"].read_text(encoding="utf-8"))
    write_script(folder / "ort-wasm.js", "ort-wasm", packed_bytes(runtime["ort-wasm-simd-threaded.wasm"].read_bytes()))


def _replace(staging: Path, out: Path) -> None:
    """Rename `staging` onto `out`; an old `out` is moved aside first and removed once the new one is in place."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        old.rmdir()
        out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
