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
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from real_music import real_music_folder

from autoenc_audio.analysis.analyse import run_analysis
from autoenc_audio.config import load_config
from autoenc_audio.data import builtin_corpus
from autoenc_audio.metric_info import format_value
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache"
VIEW_COLUMNS = (
    ("latent", "latent"),
    ("latent_pooled", "latent pooled"),
    ("raw_waveform", "raw waveform"),
    ("log_mel", "log-mel"),
)


def train_model(root: Path, latent: int, minutes: float, run_dir: Path) -> dict:
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        return json.loads(summary_path.read_text())
    config = (
        load_config(ROOT / "configs" / "default.toml")
        .override(model={"latent": latent}, train={"device": "cpu"})
        .with_budget(minutes, None)
    )
    return train(config, run_dir, CACHE, data_root=root, overwrite=True)


def run_dataset(name: str, root: Path, sizes: list[int], minutes: float, out: Path, rebuild: bool = False) -> dict:
    """Train (or reuse) the models and analyse them; `rebuild` only re-reads a finished analysis."""
    models, trained = [], {}
    for size in sizes:
        run_dir = out / f"{name}-analyze-n{size}"
        summary = (
            json.loads((run_dir / "summary.json").read_text()) if rebuild else train_model(root, size, minutes, run_dir)
        )
        trained[size] = {
            "epochs": summary["epochs"],
            "clips_per_s": summary["clips_per_second"],
            "test_snr_db": summary["test"]["snr_db"],
            "test_mrstft": summary["test"]["mrstft"],
        }
        print(name, size, json.dumps(trained[size]), flush=True)
        models.append(run_dir / "best.safetensors")
    report = out / f"analyze-{name}"
    if rebuild:
        analysis = json.loads((report / "analysis.json").read_text())
    else:
        analysis = run_analysis(models, root, CACHE, report, message=lambda text: print(text, flush=True))
    return summarise(root, trained, analysis)


def summarise(root: Path, trained: dict, analysis: dict) -> dict:
    """Per model and view: test and cv (stratified by label, grouped by track) accuracy and balanced
    accuracy, k-means, neighbours; the numbers of cv folds scored."""
    first = analysis["models"][0]
    views = {}
    for result in analysis["models"]:
        probes = result["probes"]
        views[str(result["latent_size"])] = {
            view: {
                "test_accuracy": probes[view]["logistic"]["accuracy"],
                "test_balanced": probes[view]["logistic"]["balanced_accuracy"],
                "cv_accuracy": probes[view]["logistic"].get("cv", {}).get("accuracy"),
                "cv_balanced": probes[view]["logistic"].get("cv", {}).get("balanced_accuracy"),
                "tree_cv_balanced": probes[view]["tree"].get("cv", {}).get("balanced_accuracy"),
                "kmeans_homogeneity": probes[view]["kmeans"].get("homogeneity"),  # none when k-means was skipped
                "neighbour_agreement": probes[view]["neighbour_agreement"],
            }
            for view, _ in VIEW_COLUMNS
            if view in probes
        }
    folds = sorted(
        {
            probes[view][kind]["cv"]["folds"]
            for probes in (result["probes"] for result in analysis["models"])
            for view, _ in VIEW_COLUMNS
            if view in probes
            for kind in ("logistic", "tree")
            if "folds" in probes[view][kind].get("cv", {})
        }
    )
    return {
        "data": str(root),
        "labels": first["labels"],
        "clips": first["clips"],
        "tracks": first["tracks"],
        "chance": first["probes"].get("chance"),
        "cv_folds": folds,
        "training": {str(k): v for k, v in trained.items()},
        "analysis_seconds": analysis["seconds"],
        "views": views,
    }


def markdown(name: str, minutes: float, block: dict) -> str:
    clips = block["clips"]
    chance = block["chance"] or {}
    lines = [
        f"# `aea analyze` on {name}: three latent sizes",
        "",
        f"Data `{block['data']}`: labels {', '.join(block['labels'])}; {block['tracks']} tracks, clips "
        f"{clips['train']} train / {clips['validation']} validation / {clips['test']} test (split by track). "
        f"Default models trained {minutes:g} min each on 2 CPU cores; analysis of all three took "
        f"{block['analysis_seconds']:.0f} s. Logistic-regression probes train on the training split and score "
        f"the test split; `cv` is {'/'.join(map(str, block.get('cv_folds') or [5]))}-fold cross-validation stratified by label, "
        "grouped by track, over all labelled clips (the steadier "
        "figure). Balanced accuracy (mean recall over labels) is the honest one when labels are unbalanced: "
        "its chance level is 1/k whatever the class sizes.",
        "",
        "| N | epochs | test SNR dB | test MR-STFT | view | test acc. | test balanced | cv acc. | cv balanced | "
        "tree cv balanced | k-means homogeneity | NN label agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, views in sorted(block["views"].items(), key=lambda item: int(item[0])):
        trained = block["training"][size]
        for view, title in VIEW_COLUMNS:
            row = views.get(view)
            if row is None:
                continue
            lines.append(
                f"| {size} | {trained['epochs']} | {trained['test_snr_db']:.2f} | {trained['test_mrstft']:.3f} | "
                f"{title} | {format_value(row['test_accuracy'])} | {format_value(row['test_balanced'])} | {format_value(row['cv_accuracy'])} | "
                f"{format_value(row['cv_balanced'])} | {format_value(row['tree_cv_balanced'])} | {format_value(row['kmeans_homogeneity'])} | "
                f"{format_value(row['neighbour_agreement'])} |"
            )
    lines += [
        "",
        f"Chance: {format_value(chance.get('uniform'))} balanced (1/k); plain accuracy of always answering the training "
        f"split's majority label: {format_value(chance.get('majority'))} on the test clips.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--sizes", default="9184,18376,36752")
    parser.add_argument("--datasets", default="real,corpus")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".runs")
    parser.add_argument("--quick", action="store_true", help="do not overwrite the committed results")
    parser.add_argument("--rebuild", action="store_true", help="rewrite the results from a finished run (no training)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    sizes = [int(size) for size in args.sizes.split(",")]
    roots = {
        "real": real_music_folder,
        "corpus": lambda: builtin_corpus(CACHE, load_config(ROOT / "configs" / "default.toml").data),
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = "-quick" if args.quick else ""
    for name in args.datasets.split(","):
        block = run_dataset(
            name, roots[name](), sizes, args.minutes, args.out / "quick" if args.quick else args.out, args.rebuild
        )
        block.update(
            {"minutes": args.minutes, "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, CPU"}
        )
        (RESULTS / f"analyze-{name}{suffix}.json").write_text(json.dumps(block, indent=2, default=str) + "\n")
        (RESULTS / f"analyze-{name}{suffix}.md").write_text(markdown(name, args.minutes, block))
        print(markdown(name, args.minutes, block))


if __name__ == "__main__":
    main()
