"""Start-up time of `aea` commands, as a ratio to `python -c pass` (2 cores, best of --repeat runs).

Light commands (help, version, synth, data scan, info, plots of audio files)
must not import torch; model commands import it once. Each command runs as
`python -m autoenc_audio ...` in a fresh process, from the tree given by
--tree (its folder and first on PYTHONPATH), so an older checkout can be measured the same way.
Writes bench/results/startup.json and startup.md.

    .venv/bin/python bench/bench_startup.py
    .venv/bin/python bench/bench_startup.py --tree /tmp/old-checkout --out /tmp/before.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def timed(command: list[str], env: dict[str, str], repeat: int) -> float:
    """Best wall time in seconds of `repeat` runs (the first run warms the file cache and is not counted)."""
    best = float("inf")
    for attempt in range(repeat + 1):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, cwd=env["PYTHONPATH"])
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-400:]}")
        if attempt:
            best = min(best, elapsed)
    return best


def fixtures(folder: Path, python: list[str], env: dict[str, str]) -> dict[str, str]:
    """A song, a 2-track corpus and an untrained tiny checkpoint to run the commands on."""
    song = folder / "song.wav"
    t = np.arange(5 * 22050) / 22050
    soundfile.write(song, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 22050)
    subprocess.run(
        [*python, "synth", str(folder / "corpus"), "--tracks", "2", "--seconds", "5"],
        env=env,
        check=True,
        capture_output=True,
        cwd=env["PYTHONPATH"],
    )
    script = (
        "import sys; from autoenc_audio.checkpoints.checkpoint import save_checkpoint; from autoenc_audio.config import load_config;"
        "from autoenc_audio.models import build_model; c = load_config('tiny');"
        "save_checkpoint(sys.argv[1], build_model(c.model, c.audio), c)"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(folder / "model.safetensors")], env=env, check=True, cwd=env["PYTHONPATH"]
    )
    return {
        "song": str(song),
        "corpus": str(folder / "corpus"),
        "model": str(folder / "model.safetensors"),
        "out": str(folder),
    }


def commands(files: dict[str, str]) -> dict[str, list[str]]:
    return {
        "--version": ["--version"],
        "--help": ["--help"],
        "train --help": ["train", "--help"],
        "generate --help": ["generate", "--help"],
        "synth (2 tracks of 1 s)": ["synth", f"{files['out']}/c2", "--tracks", "2", "--seconds", "1"],
        "data scan": ["data", "scan", files["corpus"], "--json"],
        "info": ["info", files["model"], "--json"],
        "plot waveform (5 s)": ["plot", "waveform", files["song"], "-o", f"{files['out']}/w.png"],
        "plot spectrogram (5 s)": ["plot", "spectrogram", files["song"], "-o", f"{files['out']}/s.png"],
        "encode (model command)": ["encode", files["song"], "--model", files["model"], "-o", f"{files['out']}/z.pt"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="Checkout whose autoenc_audio is measured.")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "startup.json")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve()), "AEA_MODEL": ""}
    python = [sys.executable, "-m", "autoenc_audio"]
    baseline = timed([sys.executable, "-c", "pass"], env, args.repeat)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env["AEA_CACHE"] = folder
        files = fixtures(Path(folder), python, env)
        for name, command in commands(files).items():
            seconds = timed([*python, *command], env, args.repeat)
            rows.append({"command": name, "seconds": round(seconds, 3), "ratio": round(seconds / baseline, 1)})
            print(f"{name:28s} {seconds:6.3f} s  {seconds / baseline:5.1f}x", flush=True)
    result = {
        "tree": str(args.tree),
        "python_pass_seconds": round(baseline, 4),
        "repeat": args.repeat,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"python -c pass: {baseline:.3f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
