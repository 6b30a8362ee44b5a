"""Reconstruction quality at the same N and the same CPU budget: default vs seed vs references.

For each dataset (real music from Debian packages, and the built-in corpus),
trains `--arch default` (its recipe) and `--arch seed` (the original recipe,
configs/seed.toml) for the same wall-clock budget at N = 18376 (a run folder
with a summary.json is reused: delete it to train again), evaluates both
best checkpoints on the same held-out test tracks, and adds the non-learned
references at the same N fitted on the same training tracks (soxr resampling
to N samples and back; frame-wise PCA, 512-sample frames). Writes
bench/results/quality.json and quality.md.

    .venv/bin/python bench/bench_quality.py --minutes 10            # the committed numbers
    .venv/bin/python bench/bench_quality.py --minutes 1 --quick     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from real_music import real_music_folder  # noqa: E402

from autoenc_audio.checkpoint import load_checkpoint  # noqa: E402
from autoenc_audio.config import load_config  # noqa: E402
from autoenc_audio.data import builtin_corpus, prepare_dataset  # noqa: E402
from autoenc_audio.references import reference_metrics  # noqa: E402
from autoenc_audio.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache"
METRIC_NAMES = ("snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db")


def stack(dataset, limit: int | None = None) -> np.ndarray:
    picks = range(len(dataset)) if limit is None else np.linspace(0, len(dataset) - 1, min(limit, len(dataset))).astype(int)
    return np.stack([dataset.clip(int(i)) for i in picks])


def run_dataset(name: str, root: Path, minutes: float, latent: int, out: Path) -> dict:
    rows = {}
    for arch, preset in (("default", "default"), ("seed", "seed")):
        config = load_config(ROOT / "configs" / f"{preset}.toml").override(
            model={"latent": latent}, train={"device": "cpu"}).with_budget(minutes, None)
        run_dir = out / f"{name}-{arch}"
        started = time.perf_counter()
        if (run_dir / "summary.json").exists():  # finished earlier: delete the folder to train again
            summary = json.loads((run_dir / "summary.json").read_text())
        else:
            summary = train(config, run_dir, CACHE, data_root=root, overwrite=True)
        checkpoint = load_checkpoint(run_dir / "best.safetensors")
        rows[arch] = {
            **{k: summary["test"][k] for k in METRIC_NAMES},
            "train_clips_per_s": summary["clips_per_second"],
            "epochs": summary["epochs"],
            "parameters": summary["parameters"],
            "wall_s": summary.get("wall_seconds", round(time.perf_counter() - started, 1)),
            "latent": checkpoint.model.layout.describe(),
        }
        print(name, arch, json.dumps(rows[arch]), flush=True)
    config = load_config(ROOT / "configs" / "default.toml")
    prepared = prepare_dataset(root, config.audio, config.data, CACHE)
    test = stack(prepared.splits["test"])
    fit = stack(prepared.splits["train"], limit=1500)
    for reference, values in reference_metrics(latent, test, fit, config.audio.sample_rate).items():
        rows[reference] = {k: values[k] for k in METRIC_NAMES}
        print(name, reference, json.dumps(rows[reference]), flush=True)
    return {"test_clips": len(test), "test_tracks": len(prepared.splits["test"].index.tracks), "rows": rows}


def markdown(results: dict) -> str:
    lines = [f"# Reconstruction quality at N = {results['latent']}, {results['minutes']:g} min of training each",
             "", f"Machine: {results['machine']}. Metrics as in METRICS.md, on held-out test tracks (split by track).", ""]
    for dataset, block in results["datasets"].items():
        lines += [f"## {dataset} ({block['test_tracks']} test tracks, {block['test_clips']} clips)", "",
                  "| method | SNR dB | SI-SDR dB | MR-STFT | mel | LSD dB | train clips/s | epochs |",
                  "|---|---|---|---|---|---|---|---|"]
        for method, row in block["rows"].items():
            speed = f"{row['train_clips_per_s']:.1f}" if "train_clips_per_s" in row else "-"
            epochs = str(row.get("epochs", "-"))
            lines.append(f"| {method} | {row['snr_db']:.2f} | {row['si_sdr_db']:.2f} | {row['mrstft']:.3f} | "
                         f"{row['mel_l1']:.3f} | {row['lsd_db']:.2f} | {speed} | {epochs} |")
        rows = block["rows"]
        lines += ["", f"MR-STFT ratio seed / default: {rows['seed']['mrstft'] / rows['default']['mrstft']:.2f}x", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--latent", type=int, default=18376)
    parser.add_argument("--datasets", default="real,corpus")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".runs")
    parser.add_argument("--quick", action="store_true", help="do not overwrite the committed results")
    args = parser.parse_args()
    torch.set_num_threads(2)
    roots = {"real": real_music_folder(), "corpus": builtin_corpus(CACHE, load_config(ROOT / "configs" / "default.toml").data)}
    results = {"latent": args.latent, "minutes": args.minutes,
               "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, CPU", "datasets": {}}
    for name in args.datasets.split(","):
        results["datasets"][name] = run_dataset(name, roots[name], args.minutes, args.latent, args.out)
    suffix = "-quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"quality{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"quality{suffix}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
