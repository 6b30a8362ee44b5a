"""`aea analyze` at three latent sizes on real music and on the built-in corpus.

For each dataset, trains one default model per latent size (the smallest size
the original assignment proposed, half of it and double it: 9184, 18376,
36752) for the same wall-clock budget, then runs the analysis of `aea analyze`
on all of them at once: label probes on the latents, on the latents pooled over
time, on the raw waveform and on log-mel statistics, against chance. Finished
models (a `summary.json` in their run folder) are reused. Writes
bench/results/analyze-<dataset>.json and .md; the report with its figures stays
in bench/.runs/analyze-<dataset>/.

    .venv/bin/python bench/bench_analyze.py --minutes 5 --datasets real
    .venv/bin/python bench/bench_analyze.py --minutes 0.5 --datasets corpus --quick
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from real_music import real_music_folder  # noqa: E402

from autoenc_audio.analysis import run_analysis  # noqa: E402
from autoenc_audio.config import load_config  # noqa: E402
from autoenc_audio.data import builtin_corpus  # noqa: E402
from autoenc_audio.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache"
VIEW_COLUMNS = (("latent", "latent"), ("latent_pooled", "latent pooled"), ("raw_waveform", "raw waveform"),
                ("log_mel", "log-mel"))


def train_model(root: Path, latent: int, minutes: float, run_dir: Path) -> dict:
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        return json.loads(summary_path.read_text())
    config = load_config(ROOT / "configs" / "default.toml").override(
        model={"latent": latent}, train={"minutes": minutes, "device": "cpu"})
    config = type(config).from_dict({**config.to_dict(), "train": {**config.to_dict()["train"], "epochs": None}})
    return train(config, run_dir, CACHE, data_root=root)


def run_dataset(name: str, root: Path, sizes: list[int], minutes: float, out: Path) -> dict:
    models = []
    trained = {}
    for size in sizes:
        run_dir = out / f"{name}-analyze-n{size}"
        summary = train_model(root, size, minutes, run_dir)
        trained[size] = {"epochs": summary["epochs"], "clips_per_s": summary["clips_per_second"],
                         "test_snr_db": summary["test"]["snr_db"], "test_mrstft": summary["test"]["mrstft"]}
        print(name, size, json.dumps(trained[size]), flush=True)
        models.append(run_dir / "best.safetensors")
    started = time.perf_counter()
    analysis = run_analysis(models, root, CACHE, out / f"analyze-{name}", message=lambda text: print(text, flush=True))
    first = analysis["models"][0]
    return {"data": str(root), "labels": first["labels"], "clips": first["clips"], "tracks": first["tracks"],
            "training": trained, "analysis_seconds": round(time.perf_counter() - started, 1),
            "comparison": analysis["comparison"],
            "cv": {str(result["latent_size"]): {view: {kind: result["probes"][view][kind].get("cv", {}).get("accuracy")
                                                      for kind in ("logistic", "tree")}
                                               for view, _ in VIEW_COLUMNS if view in result["probes"]}
                   for result in analysis["models"]}}


def _f(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown(name: str, minutes: float, block: dict) -> str:
    clips = block["clips"]
    lines = [f"# `aea analyze` on {name}: three latent sizes", "",
             f"Data `{block['data']}`: labels {', '.join(block['labels'])}; {block['tracks']} tracks, clips "
             f"{clips['train']} train / {clips['validation']} validation / {clips['test']} test (split by track). "
             f"Default models trained {minutes:g} min each on 2 CPU cores; analysis of all three took "
             f"{block['analysis_seconds']:.0f} s. Probes train on the training split and score the test split; "
             "`cv` is 5-fold cross-validation grouped by track over all labelled clips (the steadier figure).", "",
             "| N | epochs | test SNR dB | test MR-STFT | view | logistic test acc. | logistic cv | tree cv | "
             "k-means homogeneity | NN label agreement |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in block["comparison"]:
        size = row["latent_size"]
        trained = block["training"][size] if size in block["training"] else block["training"][str(size)]
        cv = block["cv"][str(size)]
        for view, title in VIEW_COLUMNS:
            lines.append(f"| {size} | {trained['epochs']} | {trained['test_snr_db']:.2f} | {trained['test_mrstft']:.3f} | "
                         f"{title} | {_f(row.get(f'{view}_logistic'))} | {_f(row.get(f'{view}_logistic_cv'))} | "
                         f"{_f(cv.get(view, {}).get('tree'))} | {_f(row.get(f'{view}_homogeneity'))} | "
                         f"{_f(row.get(f'{view}_neighbour'))} |")
    first = block["comparison"][0]
    lines += ["", f"Chance: {_f(first.get('chance_majority'))} (training majority class on the test clips), "
                  f"{_f(first.get('chance_uniform'))} (1/k).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--sizes", default="9184,18376,36752")
    parser.add_argument("--datasets", default="real,corpus")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".runs")
    parser.add_argument("--quick", action="store_true", help="do not overwrite the committed results")
    args = parser.parse_args()
    torch.set_num_threads(2)
    sizes = [int(size) for size in args.sizes.split(",")]
    roots = {"real": real_music_folder, "corpus": lambda: builtin_corpus(CACHE, load_config(ROOT / "configs" / "default.toml").data)}
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ""
    for name in args.datasets.split(","):
        block = run_dataset(name, roots[name](), sizes, args.minutes, args.out / "quick" if args.quick else args.out)
        block.update({"minutes": args.minutes, "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, CPU"})
        (RESULTS / f"analyze-{name}{suffix}.json").write_text(json.dumps(block, indent=2, default=str) + "\n")
        (RESULTS / f"analyze-{name}{suffix}.md").write_text(markdown(name, args.minutes, block))
        print(markdown(name, args.minutes, block))


if __name__ == "__main__":
    main()
