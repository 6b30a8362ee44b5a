"""Headroom checks on a trained model (issue #22, session 12): what a fixed per-band equaliser after the decoder,
or a tighter bound on the decoder's gain, would win, before either is built.

The equaliser multiplies the decoder's MDCT coefficients by one gain per band, fitted on training clips so each
band's mean power matches the originals' ("power"), or to the least-squares gain ("mmse"). Evaluated on test
clips (METRICS.md figures, signature) and by `aea score` of training-clip reconstructions, like bench_quality.

    .venv/bin/python bench/experiments/post_eq.py bench/.runs/real-default/best.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
import bench_quality  # noqa: E402
from real_music import real_music_folder  # noqa: E402

from autoenc_audio.checkpoints.checkpoint import load_checkpoint  # noqa: E402
from autoenc_audio.data import prepare_dataset  # noqa: E402
from autoenc_audio.models import frame  # noqa: E402

RESULTS = Path(__file__).parent / "results.jsonl"


def band_edges(hop: int, sample_rate: int, per_octave: int, start_hz: float) -> list[tuple[int, int]]:
    """Bins `[lo, hi)` of bands `per_octave` to an octave from 62.5 Hz; bins below `start_hz` left out."""
    edges = [0]
    hz = 62.5
    while hz < sample_rate / 2:
        edges.append(min(hop, max(edges[-1] + 1, round(hz / (sample_rate / 2) * hop))))
        hz *= 2 ** (1 / per_octave)
    edges.append(hop)
    start = round(start_hz / (sample_rate / 2) * hop)
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo and lo >= start]


@torch.no_grad()
def fit_gains(model, clips: np.ndarray, bands, mode: str) -> torch.Tensor:
    """Per-bin gain `[H]`, constant over each band, from the decoder's coefficients against the originals'."""
    hop = model.decoder.synthesis.hop
    original, decoded, cross = (
        torch.zeros(hop, dtype=torch.float64),
        torch.zeros(hop, dtype=torch.float64),
        torch.zeros(hop, dtype=torch.float64),
    )
    captured = []
    handle = model.decoder.synthesis.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    for start in range(0, len(clips), 16):
        audio = torch.from_numpy(clips[start : start + 16])[:, None]
        captured.clear()
        model.decode(model.encode(audio))
        mine = captured[0].double()
        theirs = model.encoder.analysis(audio).double()[..., : mine.shape[-1]]
        original += theirs.square().sum((0, 2))
        decoded += mine.square().sum((0, 2))
        cross += (theirs * mine).sum((0, 2))
    handle.remove()
    gains = torch.ones(hop, dtype=torch.float64)
    for lo, hi in bands:
        if mode == "power":
            gains[lo:hi] = (original[lo:hi].sum() / decoded[lo:hi].sum().clamp_min(1e-12)).sqrt()
        else:
            gains[lo:hi] = cross[lo:hi].sum() / decoded[lo:hi].sum().clamp_min(1e-12)
    return gains.float()


def with_equaliser(model, gains: torch.Tensor):
    model.decoder.synthesis.register_forward_pre_hook(lambda _m, args: (args[0] * gains[None, :, None],))
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--name", default="post-eq")
    parser.add_argument("--test-clips", type=int, default=128)
    parser.add_argument("--fit-clips", type=int, default=256)
    parser.add_argument("--variants", default="none,power-6,power-6-1k,mmse-6,power-3-1k,gainmax-1,gainmax-2")
    args = parser.parse_args()
    torch.set_num_threads(2)
    base = load_checkpoint(args.checkpoint)
    config = base.config
    prepared = prepare_dataset(real_music_folder(), config.audio, config.data, BENCH / ".cache")
    test = bench_quality.stack(prepared.splits["test"], args.test_clips)
    fit = bench_quality.stack(prepared.splits["train"], args.fit_clips)
    rate, hop = config.audio.sample_rate, base.model.decoder.synthesis.hop
    models, rows = {}, {}
    for variant in args.variants.split(","):
        model = load_checkpoint(args.checkpoint).model
        frame.GAIN_MAX = 3.0
        if variant.startswith("gainmax"):
            frame.GAIN_MAX = float(variant.split("-")[1])
        elif variant != "none":
            parts = variant.split("-")
            start = 1000.0 if parts[-1] == "1k" else 0.0
            gains = fit_gains(model, fit, band_edges(hop, rate, int(parts[1]), start), parts[0])
            with_equaliser(model, gains)
        metrics, signature = bench_quality.measure(bench_quality.model_reconstruct(model), test, rate)
        rows[variant] = {
            **{k: round(v, 4) for k, v in metrics.items()},
            "crest": [round(signature["crest_median"], 3), round(signature["crest_p90"], 3)],
            "octave_db": {k: round(v, 2) for k, v in signature["octave_db"].items()},
        }
        if variant.startswith("gainmax"):
            rows[variant]["score"] = bench_quality.score_reconstructions(
                {variant: [model]}, real_music_folder(), config.data
            )[variant]
        else:
            models[variant] = model
        print(variant, json.dumps(rows[variant]), flush=True)
    frame.GAIN_MAX = 3.0
    scores = bench_quality.score_reconstructions({k: [m] for k, m in models.items()}, real_music_folder(), config.data)
    for variant, score in scores.items():
        if variant in rows:
            rows[variant]["score"] = score
    with open(RESULTS, "a") as handle:
        handle.write(
            json.dumps({"name": args.name, "harness": "post_eq", "checkpoint": args.checkpoint, "rows": rows}) + "\n"
        )
    for variant, row in rows.items():
        print(variant, json.dumps(row))


if __name__ == "__main__":
    main()
