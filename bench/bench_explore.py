"""Speed and size of `aea explore`'s page in headless Chromium: slider release to sound, first load, folder size.

The model: `--model RUN` (the issue's measure: a 10-minute default run at N = 18376), else the default arch at
the default size PCA-initialised on the clips and every weight moved by seeded noise (as bench_export.py: speed
and size do not depend on the weights; the float16 error does, so it is reported as measured on that model).
The data: `--data DIR`, else a built-in corpus of `--tracks` tracks written by `aea synth corpus`.

`aea explore` writes the site (timed); then Debian's Chromium, driven by Playwright's Python package in real
time (not --virtual-time-budget, which freezes performance.now()), with autoplay allowed:
- first load: navigation start to the page's `state.ready` (runtime started, data unpacked, clip 0 decoded),
  in `--loads` fresh tabs, from file://;
- release to sound: `--releases` slider releases (a `change` event, as letting go of the mouse gives) to the
  decoded player's `playing` event, as the page itself times it (`state.lastReleaseToSoundMs`);
- the self-test line (`?selftest`): browser vs torch relative error and median decode time.

Writes bench/results/explore.json and explore.md. Run: .venv/bin/python bench/bench_explore.py [--model RUN]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
IMMEDIATE_MS = 300


def untrained_default(folder: Path, songs: Path, cache: Path) -> Path:
    """The default model PCA-initialised on the songs' training clips, perturbed by seeded noise, saved."""
    import torch

    from autoenc_audio.checkpoints.checkpoint import save_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.data import prepare_dataset
    from autoenc_audio.models import build_model

    config = load_config("default")
    prepared = prepare_dataset(songs, config.audio, config.data, cache)
    train = prepared.splits["train"]
    model = build_model(config.model, config.audio)
    model.initialize_from_data(torch.stack([train[i][0] for i in range(min(len(train), 64))]))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
    return save_checkpoint(folder / "default.safetensors", model, config, labels=prepared.labels)


def aea(*args: str | Path) -> str:
    done = subprocess.run([sys.executable, "-m", "autoenc_audio", *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"aea {' '.join(map(str, args))} failed: {done.stderr.strip()}")
    return done.stdout


def measure_page(site: Path, releases: int, loads: int) -> dict:
    """First loads, release-to-sound times and the self-test line, in Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium: apt-get install chromium")
    url = (site / "index.html").as_uri()
    flags = ["--no-sandbox", "--mute-audio", "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=flags)
        first = []
        for _ in range(loads):
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("window.aeaExplore && window.aeaExplore.state.ready", timeout=120_000)
            first.append(page.evaluate("performance.now()"))
            page.close()
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("window.aeaExplore.state.ready", timeout=120_000)
        directions = page.evaluate("window.aeaExplore.state.directions.length")
        times = []
        for number in range(releases):
            page.evaluate("window.aeaExplore.state.lastReleaseToSoundMs = null")
            value = [1.5, -1.0, 2.5, -2.0][number % 4]
            page.fill(f"#direction-{number % directions}", str(value))  # sets the value, fires input and change
            page.wait_for_function("window.aeaExplore.state.lastReleaseToSoundMs !== null", timeout=60_000)
            times.append(page.evaluate("window.aeaExplore.state.lastReleaseToSoundMs"))
        decodes = page.evaluate("window.aeaExplore.state.decodeTimes")
        page.close()
        page = browser.new_page()
        page.goto(url + "?selftest")
        page.wait_for_function(
            "document.getElementById('selftest').textContent.startsWith('selftest:')", timeout=120_000
        )
        selftest = page.text_content("#selftest")
        browser.close()
    return {"first_load_ms": first, "release_to_sound_ms": times, "decode_ms": decodes, "selftest": selftest}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="a run folder or checkpoint (default: untrained default model)")
    parser.add_argument("--data", type=Path, help="dataset folder (default: a small built-in corpus)")
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--releases", type=int, default=30)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".runs" / "explore")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "cache"
    data = args.data
    if data is None:
        data = args.out / "corpus"
        if not data.is_dir():
            aea("synth", data, "--tracks", args.tracks, "--seconds", 20)
    model = args.model or untrained_default(args.out, data, cache)
    site = args.out / "site"
    started = time.perf_counter()
    aea("explore", model, "-o", site, "--data", data, "--clips", args.clips, "--overwrite", "--cache-dir", cache)
    write_seconds = time.perf_counter() - started
    manifest = json.loads((site / "manifest.json").read_text())
    page = measure_page(site, args.releases, args.loads)
    result = {
        "model": str(args.model) if args.model else "default arch, untrained (PCA-initialised, perturbed)",
        "latent_size": manifest["latent"]["size"],
        "clips": len(manifest["clips"]),
        "folder_bytes": sum(manifest["files"].values()) + (site / "manifest.json").stat().st_size,
        "largest_files": dict(sorted(manifest["files"].items(), key=lambda kv: -kv[1])[:5]),
        "latents": manifest["latents"],
        "write_seconds": round(write_seconds, 1),
        **page,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        "chromium": subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "explore.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "explore.md").write_text(report(result))
    print(report(result))


def report(r: dict) -> str:
    times, loads = r["release_to_sound_ms"], r["first_load_ms"]
    median, p90 = statistics.median(times), percentile(times, 0.9)
    verdict = "within" if median <= IMMEDIATE_MS else "above"
    return f"""# aea explore: speed and size (bench/bench_explore.py)

Model: {r["model"]}, N = {r["latent_size"]}; {r["clips"]} clips. {r["machine"]}; {r["chromium"]}; {r["date"]}.

| measure | value |
|---|---|
| slider release to sound, median | {median:.0f} ms ({verdict} the {IMMEDIATE_MS} ms a person feels as immediate) |
| slider release to sound, 90th percentile | {p90:.0f} ms |
| one decode in the browser, median | {statistics.median(r["decode_ms"]):.0f} ms |
| first load (navigation to ready), median of {len(loads)} | {statistics.median(loads):.0f} ms |
| folder size | {r["folder_bytes"] / 1e6:.1f} MB |
| latents stored as | {r["latents"]["dtype"]} (decoded audio within {r["latents"]["float16_relative_error"]:.2g} of float32's, relative) |
| self-test | `{r["selftest"]}` |
| `aea explore` wall time | {r["write_seconds"]} s |

Largest files: {", ".join(f"`{name}` {size / 1e6:.1f} MB" for name, size in r["largest_files"].items())}.

Release to sound: the page's own timing, from the slider's `change` event to the decoded player's `playing`
event, over {len(times)} releases (headless Chromium, real time, autoplay allowed, audio muted).
"""


if __name__ == "__main__":
    main()
