"""Speed and size of `aea explore`'s page in headless Chromium: slider release to sound, first load, folder size.

The model: `--model RUN` (the issue's measure: a 10-minute default run at N = 18376; its prior's pieces are on
the page when it has one), else the default arch at the default size PCA-initialised on the clips and every
weight moved by seeded noise (as bench_export.py: speed and size do not depend on the weights; the float16 error
does, so it is reported per model). The data: `--data DIR`; else the run's own data for `--model`, or a corpus of
`--tracks` tracks written by `aea synth corpus` for the untrained model.

Each model's results are kept under its own key in explore.json ("trained" for `--model`, "untrained"
otherwise), so the report shows both side by side; a run replaces only its own.

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
CACHE = Path(__file__).parent / ".cache"
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
    cache = CACHE if args.model else args.out / "cache"  # a run's data is preprocessed where the benches train
    data = args.data
    if data is None and args.model is None:
        data = args.out / "corpus"
        if not data.is_dir():
            aea("synth", data, "--tracks", args.tracks, "--seconds", 20)
    model = args.model or untrained_default(args.out, data, cache)
    site = args.out / ("site-trained" if args.model else "site")
    started = time.perf_counter()
    given_data = ["--data", data] if data is not None else []
    aea("explore", model, "-o", site, *given_data, "--clips", args.clips, "--overwrite", "--cache-dir", cache)
    write_seconds = time.perf_counter() - started
    manifest = json.loads((site / "manifest.json").read_text())
    page = measure_page(site, args.releases, args.loads)
    result = {
        "model": str(args.model) if args.model else "default arch, untrained (PCA-initialised, perturbed)",
        "training": training_facts(args.model),
        "latent_size": manifest["latent"]["size"],
        "clips": len(manifest["clips"]),
        "prior_pieces": len(manifest["prior"]["pieces"]),
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
    results = stored_results()
    results["trained" if args.model else "untrained"] = result
    (RESULTS / "explore.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "explore.md").write_text(report(results))
    print(report(results))


def training_facts(model: Path | None) -> dict | None:
    """Epochs, steps, wall time and speed from the run's summary.json (None for the untrained model)."""
    if model is None:
        return None
    summary = json.loads(((model if model.is_dir() else model.parent) / "summary.json").read_text())
    return {key: summary.get(key) for key in ("arch", "kind", "epochs", "steps", "wall_seconds", "clips_per_second")}


def stored_results() -> dict:
    """explore.json's results by model ("trained", "untrained"); a file of the older one-model layout is the
    untrained model's."""
    path = RESULTS / "explore.json"
    if not path.is_file():
        return {}
    stored = json.loads(path.read_text())
    return stored if "model" not in stored else {"untrained": stored}


ORDER = ("trained", "untrained")


def report(results: dict) -> str:
    runs = {key: results[key] for key in ORDER if key in results}
    columns = " | ".join(f"{key} model" for key in runs)

    def row(name: str, value) -> str:
        return f"| {name} | " + " | ".join(value(r) for r in runs.values()) + " |"

    def release(r: dict, q: float | None = None) -> str:
        times = r["release_to_sound_ms"]
        value = statistics.median(times) if q is None else percentile(times, q)
        return f"{value:.0f} ms"

    rows = [
        row("slider release to sound, median", release),
        row("slider release to sound, 90th percentile", lambda r: release(r, 0.9)),
        row("one decode in the browser, median", lambda r: f"{statistics.median(r['decode_ms']):.0f} ms"),
        row("first load (navigation to ready), median", lambda r: f"{statistics.median(r['first_load_ms']):.0f} ms"),
        row("folder size", lambda r: f"{r['folder_bytes'] / 1e6:.1f} MB"),
        row("clips; pieces of the prior", lambda r: f"{r['clips']}; {r.get('prior_pieces', 0)}"),
        row(
            "latents stored as (float16 error: decoded audio vs float32's, relative)",
            lambda r: f"{r['latents']['dtype']} ({r['latents']['float16_relative_error']:.1e})",
        ),
        row("self-test (relative error vs torch, median ms)", lambda r: f"`{r['selftest']}`"),
        row("`aea explore` wall time", lambda r: f"{r['write_seconds']} s"),
        row("machine", lambda r: r["machine"]),
        row("date", lambda r: r["date"]),
    ]
    models = "\n".join(f"- **{key}**: {describe(r)}" for key, r in runs.items())
    largest = "\n".join(
        f"- {key}: " + ", ".join(f"`{name}` {size / 1e6:.1f} MB" for name, size in r["largest_files"].items())
        for key, r in runs.items()
    )
    first = next(iter(runs.values()))
    verdict = "within" if statistics.median(first["release_to_sound_ms"]) <= IMMEDIATE_MS else "above"
    return f"""# aea explore: speed and size (bench/bench_explore.py)

{models}

Headless {first["chromium"]}. The {next(iter(runs))} model's median release to sound is {verdict} the
{IMMEDIATE_MS} ms a person feels as immediate.

| measure | {columns} |
|---|{"---|" * len(runs)}
{chr(10).join(rows)}

Largest files:
{largest}

Release to sound: the page's own timing, from the slider's `change` event to the decoded player's `playing`
event, over {len(first["release_to_sound_ms"])} releases (headless Chromium, real time, autoplay allowed, audio
muted). Speed and size do not depend on the weights; the float16 error does.
"""


def describe(r: dict) -> str:
    facts = r.get("training")
    if not facts:
        return f"{r['model']}, N = {r['latent_size']}."
    return (
        f"`{r['model']}`: {facts['arch']} / {facts['kind']}, N = {r['latent_size']}, trained "
        f"{facts['wall_seconds'] / 60:.0f} min ({facts['epochs']} epochs, {facts['steps']} steps, "
        f"{facts['clips_per_second']} clips/s) on the built-in corpus."
    )


if __name__ == "__main__":
    main()
