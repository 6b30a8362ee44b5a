"""Decoder prototypes (issue #22): a fixed number of steps of aea's own train_step, then metrics and signature.

Steps, not minutes, so that two prototypes can run side by side (one thread each) and still compare: the
same data (the bench's real music, aea's split), the same linear start (train._initialize), the same batches
(seeded), the default recipe's loss weights and cosine schedule. Evaluates on `--eval-clips` held-out test
clips spread over the test tracks: METRICS.md figures plus the decoder signature (crest ratio, octave
levels). Appends a row to results.jsonl and can keep the model (`--keep`).

    .venv/bin/python bench/experiments/proto_decoder.py energy-2k7 --steps 1500 --threads 1 \
        --set model.decoder='"energy"' --set model.envelope=0.094
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
import bench_quality  # noqa: E402
from real_music import real_music_folder  # noqa: E402

from autoenc_audio import metrics  # noqa: E402
from autoenc_audio.config import load_config  # noqa: E402
from autoenc_audio.data import prepare_dataset  # noqa: E402
from autoenc_audio.models import build_model  # noqa: E402
from autoenc_audio.spectra import DEFAULT_SAMPLE_RATE  # noqa: E402
from autoenc_audio.training import loop as train_module  # noqa: E402
from autoenc_audio.training import losses  # noqa: E402
from autoenc_audio.training import run as run_module  # noqa: E402

CACHE = BENCH / ".cache"
RESULTS = Path(__file__).parent / "results.jsonl"


def parse_sets(items: list[str]) -> dict[str, dict]:
    overrides: dict[str, dict] = {}
    for item in items:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        overrides.setdefault(section, {})[name] = parsed
    return overrides


def mel_512(reference, estimate):
    """The mel term's 80-band log10 distance on a 512-point STFT (hop 128): the top bands at a 4x finer time."""
    bank = metrics.mel_filterbank(DEFAULT_SAMPLE_RATE, 512)
    power = [bank @ metrics.power_of(metrics.stft(metrics.as_batch(a), 512)) for a in (reference, estimate)]
    return metrics.mel_distance(*power).mean()


def band_level(reference, estimate):
    """Per clip and band (40 mel bands), |log10 of the clip's mean power| difference: the octave bar as a loss."""
    powers = [metrics.power_of(metrics.stft(metrics.as_batch(a), 2048)).mean(-1) for a in (reference, estimate)]
    bank = metrics.mel_filterbank(DEFAULT_SAMPLE_RATE, 2048, 40)
    return metrics.mel_distance(*(bank @ p[..., None] for p in powers)).mean()


def excess_energy(reference, estimate, n_fft: int = 256, floor_hz: float = 1000.0):
    """One-sided: how much louder (log10 power) each 256-point frame is above `floor_hz` than the original's.

    A click is a short frame whose top band holds more energy than the original's; a frame quieter than the
    original costs nothing here, so unlike a two-sided short-window term this does not pull the quiet gaps
    between events up (the smoothing that raised c2st in session 12, item 4).
    """
    first_bin = int(floor_hz * n_fft / DEFAULT_SAMPLE_RATE)
    energy = [
        metrics.power_of(metrics.stft(metrics.as_batch(a), n_fft))[..., first_bin:, :].sum(-2)
        for a in (reference, estimate)
    ]
    floor = 1e-3 * energy[0].mean(-1, keepdim=True) + 1e-9  # 30 dB under the clip's mean: near-silence is not a click
    return torch.relu(torch.log10(energy[1] + floor) - torch.log10(energy[0] + floor)).mean()


EXTRA_LOSSES = {
    "short": losses.short_stft_loss,
    "mel512": mel_512,
    "level": band_level,
    "excess": excess_energy,
    "excess512": lambda reference, estimate: excess_energy(reference, estimate, n_fft=512),
}
"""Experimental loss terms, by name, for `--extra NAME=WEIGHT`."""


def evenly(count: int, picks: int) -> np.ndarray:
    return np.linspace(0, count - 1, min(picks, count)).astype(int)


def measure(model, dataset, clips: int, sample_rate: int) -> dict:
    """`bench_quality.measure` on `clips` test clips spread over the test tracks, rounded for the log."""
    model.eval()
    audio = np.stack([dataset.clip(int(i)) for i in evenly(len(dataset), clips)])
    metrics, signature = bench_quality.measure(bench_quality.model_reconstruct(model), audio, sample_rate)
    row = {name: round(value, 4) for name, value in metrics.items()}
    row["crest_median"], row["crest_p90"] = round(signature["crest_median"], 3), round(signature["crest_p90"], 3)
    row["octave_db"] = {k: round(v, 2) for k, v in signature["octave_db"].items()}
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-clips", type=int, default=96)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--extra", action="append", default=[], help="NAME=WEIGHT of EXTRA_LOSSES, added to the recipe")
    parser.add_argument("--keep", action="store_true", help="save the model to bench/.runs/proto-NAME.pt")
    parser.add_argument("--freeze-envelope", action="store_true", help="the envelope's PCA projections stay fixed")
    parser.add_argument("--gate-only", action="store_true", help="the decoder's additive correction stays at zero")
    parser.add_argument(
        "--no-gate", action="store_true", help="the decoder's gate stays at 1 (with --gate-only: a linear decoder)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = (
        load_config("default").override(train={"device": "cpu", "seed": args.seed}).override(**parse_sets(args.set))
    )
    prepared = prepare_dataset(real_music_folder(), config.audio, config.data, CACHE)
    train_set, test_set = prepared.splits["train"], prepared.splits["test"]
    torch.manual_seed(args.seed)
    model = build_model(config.model, config.audio)
    run_module._initialize(model, train_set, torch.device("cpu"))
    if args.freeze_envelope:
        for name, parameter in model.named_parameters():
            if ".envelope." in name:
                parameter.requires_grad_(False)
    if args.gate_only and model.decoder.correct.out is not None:
        for parameter in model.decoder.correct.out.parameters():
            parameter.requires_grad_(False)
    if args.no_gate:
        for parameter in model.decoder.gain.parameters():
            parameter.requires_grad_(False)
    start_row = measure(model, test_set, args.eval_clips, config.audio.sample_rate)
    print("start", json.dumps(start_row), flush=True)
    settings = config.train
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rng = np.random.default_rng(args.seed)
    weights = dict(settings.loss_weights)
    for item in args.extra:
        name, weight = item.split("=")
        losses.LOSSES[name] = EXTRA_LOSSES[name]
        weights[name] = float(weight)
    started, step_losses = time.perf_counter(), []
    for step in range(args.steps):
        lr = train_module.learning_rate(settings.lr, settings.scheduler, step / args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        picks = rng.choice(len(train_set), settings.batch_size, replace=False)
        audio = torch.stack([train_set[int(i)][0] for i in picks])
        outcome = train_module.train_step(
            model,
            audio,
            optimizer,
            weights,
            1.0,
            settings.grad_clip,
            autocast=False,
            sample_rate=config.audio.sample_rate,
        )
        step_losses.append(outcome["loss"])
        if (step + 1) % 250 == 0:
            print(
                f"step {step + 1} loss {np.mean(step_losses[-250:]):.4f} {time.perf_counter() - started:.0f}s",
                flush=True,
            )
    seconds = time.perf_counter() - started
    row = {
        "name": args.name,
        "harness": "proto_decoder",
        "steps": args.steps,
        "seed": args.seed,
        "freeze_envelope": args.freeze_envelope,
        "gate_only": args.gate_only,
        "no_gate": args.no_gate,
        "overrides": parse_sets(args.set),
        "extra": args.extra,
        "train_s": round(seconds, 1),
        "steps_per_s": round(args.steps / seconds, 2),
        "threads": args.threads,
        **measure(model, test_set, args.eval_clips, config.audio.sample_rate),
        "start": start_row,
    }
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
    if args.keep:
        torch.save({"config": config.to_dict(), "state": model.state_dict()}, BENCH / ".runs" / f"proto-{args.name}.pt")


if __name__ == "__main__":
    main()
