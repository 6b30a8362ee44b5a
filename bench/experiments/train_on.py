"""Training a finished run on: a fresh learning-rate schedule over the added epochs against the tail of the longer
budget's schedule (what `--resume` with a larger budget did before) and against a run planned that long.

The tiny preset on the built-in corpus, per seed: 8 epochs planned; 3 epochs, then resumed to 8 with each schedule.
Prints the best validation loss of each and the trained-on runs' distance from the planned one. About 2.5 minutes
on 2 cores.

    .venv/bin/python bench/experiments/train_on.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from autoenc_audio.config import load_config
from autoenc_audio.training import run as run_module
from autoenc_audio.training.loop import train


def keep_the_old_schedule(*args: Any, **kwargs: Any) -> None:
    """Stands in for `run._train_on`: the resumed run keeps the longer budget's schedule where it stands."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--first", type=int, default=3, help="epochs of the finished run")
    parser.add_argument("--total", type=int, default=8, help="epochs it is trained on to")
    args = parser.parse_args()
    fresh = run_module._train_on
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "cache"
        for seed in args.seeds:
            tiny = load_config("tiny").override(train={"seed": seed})
            root = Path(scratch) / f"seed{seed}"
            loss = {
                "planned": train(tiny.with_budget(None, args.total), root / "planned", cache)["best_validation_loss"]
            }
            for name, schedule in (("fresh", fresh), ("tail", keep_the_old_schedule)):
                run_module._train_on = schedule
                train(tiny.with_budget(None, args.first), root / name, cache)
                resumed = train(tiny.with_budget(None, args.total), root / name, cache, resume=True)
                loss[name] = resumed["best_validation_loss"]
            run_module._train_on = fresh
            apart = {name: f"{100 * (loss[name] / loss['planned'] - 1):+.2f} %" for name in ("fresh", "tail")}
            print(f"seed {seed}: { ({k: round(v, 4) for k, v in loss.items()}) } against planned: {apart}", flush=True)
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
