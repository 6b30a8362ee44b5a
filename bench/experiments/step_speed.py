"""Training step speed of decoder and loss variants on real clips (2 torch threads, batch 4, N = 18376).

Times `train_step` after 3 warm-up steps, over `--steps` steps, for each variant, in one process so they share
the machine's state; `shared` computes MR-STFT and mel from one set of STFTs (`losses.loss_terms`), `separate`
calls each loss on its own (what training did before).

    .venv/bin/python bench/experiments/step_speed.py --steps 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from real_music import real_music_folder  # noqa: E402

from autoenc_audio.config import load_config  # noqa: E402
from autoenc_audio.data import prepare_dataset  # noqa: E402
from autoenc_audio.models import build_model  # noqa: E402
from autoenc_audio.training import loop as train_module  # noqa: E402
from autoenc_audio.training import losses  # noqa: E402

NO_MEL = {"l1": 20.0, "mrstft": 1.0, "mel": 0.0, "short_stft": 0.0, "rmse": 0.0, "kl": 1e-4}
WITH_MEL = {**NO_MEL, "mel": 2.0}
WITH_SHORT = {**WITH_MEL, "short_stft": 1.0}
VARIANTS = {
    "gated, no mel": ("gated", NO_MEL, True),
    "gain, no mel": ("gain", NO_MEL, True),
    "gain, mel, separate": ("gain", WITH_MEL, False),
    "gain, mel, shared (the default)": ("gain", WITH_MEL, True),
    "gain, mel, short_stft": ("gain", WITH_SHORT, True),
}


def separate_terms(reference, estimate, names, *, sample_rate):
    """Each loss on its own STFTs (the rate-dependent ones at `sample_rate`), as before the shared Spectra."""
    return {
        name: losses.LOSSES[name](
            reference, estimate, **({"sample_rate": sample_rate} if name in losses.RATE_LOSSES else {})
        )
        for name in names
    }


def seconds_per_step(decoder: str, weights: dict, shared: bool, batches: list, steps: int) -> float:
    config = load_config("default").override(model={"decoder": decoder})
    torch.manual_seed(0)
    model = build_model(config.model, config.audio)
    model.initialize_from_data(torch.cat(batches[:8]))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    train_module.loss_terms = losses.loss_terms if shared else separate_terms
    for number in range(steps + 3):
        if number == 3:
            started = time.perf_counter()
        train_module.train_step(
            model,
            batches[number % len(batches)],
            optimizer,
            weights,
            1.0,
            1.0,
            autocast=False,
            sample_rate=config.audio.sample_rate,
        )
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = load_config("default")
    train_set = prepare_dataset(real_music_folder(), config.audio, config.data, BENCH / ".cache").splits["train"]
    batches = [torch.stack([train_set[i * 4 + k][0] for k in range(4)]) for i in range(16)]
    rows = {name: seconds_per_step(*variant, batches, args.steps) for name, variant in VARIANTS.items()}
    base = rows["gated, no mel"]
    for name, seconds in rows.items():
        print(
            json.dumps(
                {
                    "variant": name,
                    "ms_per_step": round(1000 * seconds, 1),
                    "clips_per_s": round(4 / seconds, 1),
                    "vs_gated": round(base / seconds, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
