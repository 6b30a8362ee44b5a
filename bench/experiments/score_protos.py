"""`aea score` of kept prototypes (bench/.runs/proto-NAME.pt): c2st (mean of 8 subsamples of R) and fd of
reconstructions of 32 training clips against the held-out tracks, as bench_quality scores a preset.

    .venv/bin/python bench/experiments/score_protos.py P-base P-short1
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
import bench_quality  # noqa: E402
from real_music import real_music_folder  # noqa: E402

from autoenc_audio.config import Config  # noqa: E402
from autoenc_audio.models import build_model  # noqa: E402

RESULTS = Path(__file__).parent / "results.jsonl"


def kept(name: str):
    stored = torch.load(BENCH / ".runs" / f"proto-{name}.pt", weights_only=False)
    config = Config.from_dict(stored["config"])
    model = build_model(config.model, config.audio)
    model.load_state_dict(stored["state"])
    return config, model.eval()


def main() -> None:
    torch.set_num_threads(1)
    models = {name: kept(name) for name in sys.argv[1:]}
    data = next(iter(models.values()))[0].data
    scores = bench_quality.score_reconstructions({n: [m] for n, (_, m) in models.items()}, real_music_folder(), data)
    with open(RESULTS, "a") as handle:
        for name in models:
            row = {"name": name, "harness": "score_protos", **{k: round(v["mean"], 4) for k, v in scores[name].items()}}
            handle.write(json.dumps(row) + "\n")
            print(json.dumps(row))


if __name__ == "__main__":
    main()
