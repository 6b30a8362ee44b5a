"""Train the default model with config overrides for a wall-clock budget; log test metrics.

Same data, split, test clips and evaluation as bench_quality.py (summary.json's
test metrics), so rows compare with bench/results/quality.json. Appends one
line to results.jsonl.

    .venv/bin/python bench/experiments/recipe.py corpus-lr2e-4 --dataset corpus --minutes 10 --set train.lr=0.0002
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from real_music import real_music_folder  # noqa: E402

from autoenc_audio.config import load_config  # noqa: E402
from autoenc_audio.data import builtin_corpus  # noqa: E402
from autoenc_audio.training import run as run_module  # noqa: E402
from autoenc_audio.training.loop import train  # noqa: E402

CACHE = BENCH / ".cache"


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--dataset", choices=("corpus", "real"), default="corpus")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--set", action="append", default=[], help="section.key=JSON value")
    parser.add_argument("--init-clips", type=int, help="training clips the linear start is fitted on")
    parser.add_argument(
        "--const",
        action="append",
        default=[],
        help="module.NAME=JSON value: a module constant of autoenc_audio, e.g. models.frame.PROJECTION_SCALE=1.0",
    )
    args = parser.parse_args()
    if args.init_clips:
        run_module.INIT_CLIPS = args.init_clips
    for item in args.const:
        key, value = item.split("=", 1)
        module_name, constant = key.rsplit(".", 1)
        module = importlib.import_module(f"autoenc_audio.{module_name}")
        if not hasattr(module, constant):
            raise SystemExit(f"autoenc_audio.{module_name} has no {constant}")
        setattr(module, constant, parse_value(value))
    torch.set_num_threads(2)
    overrides: dict[str, dict] = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        overrides.setdefault(section, {})[name] = parse_value(value)
    config = (
        load_config("default").override(train={"device": "cpu"}).with_budget(args.minutes, None).override(**overrides)
    )
    root = real_music_folder() if args.dataset == "real" else builtin_corpus(CACHE, config.data)
    run_dir = BENCH / ".runs" / f"exp-{args.name}"
    started = time.perf_counter()
    summary = train(config, run_dir, CACHE, data_root=root, overwrite=True)
    row = {
        "name": args.name,
        "dataset": args.dataset,
        "minutes": args.minutes,
        "overrides": overrides,
        "init_clips": args.init_clips,
        "constants": args.const,
        **{k: round(v, 4) for k, v in summary["test"].items() if isinstance(v, float)},
        "epochs": summary["epochs"],
        "clips_per_s": summary["clips_per_second"],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    with open(Path(__file__).parent / "results.jsonl", "a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
