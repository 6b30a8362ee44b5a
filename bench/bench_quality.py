"""Reconstruction quality at the same N and the same CPU budget: the default against seed and the references.

For each dataset (real music from Debian packages, and the built-in corpus),
trains each `--presets` recipe (default: `default`, the default model, and
`gated`, the decoder it replaced) with every `--seeds` training seed, and
`--arch seed` (the original recipe, configs/seed.toml) once, for the same
wall-clock budget at N = `--latent` (a run folder with a summary.json is
reused: delete it to train again). Scores the best checkpoints on the same
held-out test tracks beside the references at the same N (soxr resampling to
N samples and back; frame-wise PCA, 512-sample frames; Opus at N x 16 bits
per clip, hard CBR, when opus-tools is installed: bench set-up installs it).

Three tables per dataset:
- quality: METRICS.md figures, a preset's as the mean and range over its seeds;
- decoder signature on the test clips: crest ratio (peak/RMS over the
  original's; median and 90th percentile) and the level of each octave
  against the original's, in dB;
- `aea score` of reconstructions of 32 training clips against the held-out
  clips (c2st averaged over 8 subsamples of R, and fd), beside the same
  training clips as they are (the floor). Real music only.

Writes bench/results/quality.json and quality.md.

    .venv/bin/python bench/bench_quality.py --minutes 10 --seeds 0,1,2          # the committed numbers
    .venv/bin/python bench/bench_quality.py --minutes 1 --seeds 0 --quick        # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from real_music import install, real_music_folder

from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.config import load_config
from autoenc_audio.data import builtin_corpus, prepare_dataset
from autoenc_audio.latents.batches import reconstruct_clips
from autoenc_audio.metrics import evaluate
from autoenc_audio.quality.references import OpusReference, build_references, opus_available
from autoenc_audio.quality.signature import SignatureAccumulator
from autoenc_audio.scoring.features import CLIP_SAMPLES, clips_features, peak_normalise
from autoenc_audio.scoring.score_sets import _held_out_clips, load_real_data
from autoenc_audio.scoring.statistics import c2st, frechet_distance, subsample
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache"
METRIC_NAMES = ("snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db")
PRESETS = {
    "gated": {
        "model": {"decoder": "gated", "envelope": 0.0},
        "train": {"loss_weights": {"l1": 20.0, "mrstft": 1.0, "mel": 0.0, "short_stft": 0.0, "rmse": 0.0, "kl": 1e-4}},
    },
    "short": {"train": {"loss_weights": {"short_stft": 1.0}}},
    "exlev": {"train": {"loss_weights": {"excess": 4.0, "level": 1.0}}},
}
"""Named recipes besides the presets in configs/: the default recipe with these overrides. "gated" is the default
before 2026-12-05; "short" adds the short-window STFT term (NOTES, session 12); "exlev" the one-sided short-window
excess term and the band-level term (session 13)."""
SCORE_CLIPS = 32


def stack(dataset, limit: int | None = None) -> np.ndarray:
    picks = (
        range(len(dataset)) if limit is None else np.linspace(0, len(dataset) - 1, min(limit, len(dataset))).astype(int)
    )
    return np.stack([dataset.clip(int(i)) for i in picks])


def recipe(preset: str, latent: int, seed: int, minutes: float):
    """The config of `preset` (a file in configs/, or a PRESETS entry over the default) at N = `latent`."""
    path = ROOT / "configs" / f"{preset}.toml"
    config = load_config(path if path.exists() else ROOT / "configs" / "default.toml").override(
        **PRESETS.get(preset, {})
    )
    return config.override(model={"latent": latent}, train={"device": "cpu", "seed": seed}).with_budget(minutes, None)


def trained(run_dir: Path, config, root: Path) -> dict:
    """The run's summary, training it first unless it finished earlier."""
    if (run_dir / "summary.json").exists():  # finished earlier: delete the folder to train again
        return json.loads((run_dir / "summary.json").read_text())
    return train(config, run_dir, CACHE, data_root=root, overwrite=True)


@torch.no_grad()
def measure(reconstruct, clips: np.ndarray, sample_rate: int) -> tuple[dict, dict]:
    """METRICS.md figures (clip-weighted means) and the signature of `reconstruct` on `clips`, decoding each batch once."""
    accumulator, totals = SignatureAccumulator(sample_rate), {}
    for start in range(0, len(clips), 16):
        batch = torch.from_numpy(clips[start : start + 16])
        decoded = torch.from_numpy(np.asarray(reconstruct(batch.numpy()), dtype=np.float32))
        accumulator.add(batch, decoded)
        for key, value in evaluate(batch, decoded, sample_rate).items():
            totals[key] = totals.get(key, 0.0) + value * len(batch)
    return {key: value / len(clips) for key, value in totals.items()}, accumulator.result().to_dict()


def model_reconstruct(model):
    return lambda batch: reconstruct_clips(model, torch.from_numpy(batch)[:, None])[:, 0].numpy()


def score_reconstructions(models: dict[str, list], root: Path, data) -> dict:
    """c2st (mean over 8 subsamples of R) and fd of reconstructions of 32 training clips, per model list, and the floor."""
    real = load_real_data(root, data, CACHE)
    reference = _held_out_clips(real, SCORE_CLIPS)[0].features
    index = [(n, s) for n, track in enumerate(real.training) for s in range(0, len(track) - CLIP_SAMPLES, CLIP_SAMPLES)]
    rows = {}
    for name, runs in {"real training clips (floor)": [None], **models}.items():
        scores = []
        for number, model in enumerate(runs):
            chosen = [index[i] for i in subsample(len(index), SCORE_CLIPS, number + 1)]
            clips = np.stack([real.training[n][s : s + CLIP_SAMPLES] for n, s in chosen]).astype(np.float32)
            if model is not None:
                clips = model_reconstruct(model)(clips)
            features, _ = clips_features(np.stack([peak_normalise(c.astype(np.float64)) for c in clips]))
            scores.append(
                {
                    "c2st": float(np.mean([c2st(features, reference, s) for s in range(8)])),
                    "fd": frechet_distance(features, reference),
                }
            )
        rows[name] = {key: summarise([s[key] for s in scores]) for key in ("c2st", "fd")}
        print("score", name, json.dumps(rows[name]), flush=True)
    return rows


def summarise(values: list[float]) -> dict:
    return {
        "mean": float(np.mean(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "n": len(values),
    }


def train_presets(name: str, root: Path, args, test: np.ndarray, sample_rate: int) -> tuple[dict, dict, dict]:
    """Rows (mean and range over seeds), signatures and loaded models of every preset, and of seed."""
    rows, signatures, models = {}, {}, {}
    for preset in [*args.presets.split(","), *(["seed"] if args.with_seed else [])]:
        first = preset == args.presets.split(",")[0]
        chosen = dict(item.split("=", 1) for item in args.preset_seeds).get(preset)
        seeds = (
            [0]
            if preset == "seed"
            else [int(s) for s in (chosen or (args.seeds if first else args.baseline_seeds or args.seeds)).split(",")]
        )
        runs = []
        for seed in seeds:
            run_dir = (
                args.out / f"{name}-{preset}"
                if (preset == "seed" or seed == 0)
                else args.out / f"{name}-{preset}-s{seed}"
            )
            summary = trained(run_dir, recipe(preset, args.latent, seed, args.minutes), root)
            model = load_checkpoint(run_dir / "best.safetensors").model
            runs.append((summary, model))
            print(name, preset, seed, json.dumps({k: summary["test"][k] for k in METRIC_NAMES}), flush=True)
        rows[preset] = {
            **{k: summarise([s["test"][k] for s, _ in runs]) for k in METRIC_NAMES},
            "train_clips_per_s": summarise([s["clips_per_second"] for s, _ in runs]),
            "epochs": runs[0][0]["epochs"],
            "latent": runs[0][1].layout.describe(),
        }
        signatures[preset] = [measure(model_reconstruct(m), test, sample_rate)[1] for _, m in runs]
        models[preset] = [m for _, m in runs]
    return rows, signatures, models


def run_dataset(name: str, root: Path, args) -> dict:
    config = load_config(ROOT / "configs" / "default.toml")
    prepared = prepare_dataset(root, config.audio, config.data, CACHE)
    test, rate = stack(prepared.splits["test"]), config.audio.sample_rate
    rows, signatures, models = train_presets(name, root, args, test, rate)
    fit = stack(prepared.splits["train"], limit=1500)
    references = dict(build_references(args.latent, test.shape[1], fit))
    if opus_available():
        references["opus"] = OpusReference(args.latent, test.shape[1], rate)
    for reference, coder in references.items():
        metrics, signature = measure(coder.reconstruct, test, rate)
        rows[reference] = {k: summarise([v]) for k, v in metrics.items() if k in METRIC_NAMES}
        signatures[reference] = [signature]
        print(name, reference, json.dumps({k: v["mean"] for k, v in rows[reference].items()}), flush=True)
    block = {
        "test_clips": len(test),
        "test_tracks": len(prepared.splits["test"].index.tracks),
        "rows": rows,
        "signatures": {k: merge_signatures(v) for k, v in signatures.items()},
    }
    if name == "real":
        block["score"] = score_reconstructions({p: models[p] for p in args.presets.split(",")}, root, config.data)
    return block


def merge_signatures(signatures: list[dict]) -> dict:
    """Mean over seeds of each figure of a preset's signatures."""
    octaves = signatures[0]["octave_db"].keys()
    return {
        "crest_median": float(np.mean([s["crest_median"] for s in signatures])),
        "crest_p90": float(np.mean([s["crest_p90"] for s in signatures])),
        "octave_db": {o: float(np.mean([s["octave_db"][o] for s in signatures])) for o in octaves},
    }


def spread(entry: dict, digits: int) -> str:
    if entry["n"] == 1:
        return f"{entry['mean']:.{digits}f}"
    return f"{entry['mean']:.{digits}f} ({entry['min']:.{digits}f}-{entry['max']:.{digits}f})"


def quality_table(block: dict) -> list[str]:
    lines = [
        "| method | SNR dB | SI-SDR dB | MR-STFT | mel | LSD dB | train clips/s | epochs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, row in block["rows"].items():
        speed = spread(row["train_clips_per_s"], 1) if "train_clips_per_s" in row else "-"
        lines.append(
            f"| {method} | {spread(row['snr_db'], 2)} | {spread(row['si_sdr_db'], 2)} | {spread(row['mrstft'], 3)} | "
            f"{spread(row['mel_l1'], 3)} | {spread(row['lsd_db'], 2)} | {speed} | {row.get('epochs', '-')} |"
        )
    return lines


def signature_table(block: dict) -> list[str]:
    octaves = list(next(iter(block["signatures"].values()))["octave_db"])
    lines = [
        "| method | crest median | crest p90 | " + " | ".join(f"{o} Hz dB" for o in octaves) + " |",
        "|---|---|---|" + "---|" * len(octaves),
    ]
    for method, s in block["signatures"].items():
        lines.append(
            f"| {method} | {s['crest_median']:.3f} | {s['crest_p90']:.3f} | "
            + " | ".join(f"{s['octave_db'][o]:+.1f}" for o in octaves)
            + " |"
        )
    return lines


def ratios(block: dict) -> list[str]:
    rows, lines = block["rows"], []
    if "opus" in rows:
        for preset in [p for p in rows if "train_clips_per_s" in rows[p] and p != "seed"]:
            lines.append(
                f"- {preset} / Opus at equal bits: MR-STFT {rows[preset]['mrstft']['mean'] / rows['opus']['mrstft']['mean']:.2f}x, "
                f"mel {rows[preset]['mel_l1']['mean'] / rows['opus']['mel_l1']['mean']:.2f}x"
            )
    if "seed" in rows and "default" in rows:
        lines.append(
            f"- MR-STFT seed / default: {rows['seed']['mrstft']['mean'] / rows['default']['mrstft']['mean']:.2f}x"
        )
    return lines


def markdown(results: dict) -> str:
    lines = [
        f"# Reconstruction quality at N = {results['latent']}, {results['minutes']:g} min of training each",
        "",
        f"Machine: {results['machine']}. Metrics as in METRICS.md, on held-out test tracks (split by track). "
        f"A preset's figures are the mean (and range) over training seeds {results['seeds']}.",
        "",
    ]
    for dataset, block in results["datasets"].items():
        lines += [
            f"## {dataset} ({block['test_tracks']} test tracks, {block['test_clips']} clips)",
            "",
            *quality_table(block),
            "",
            *ratios(block),
            "",
            "Decoder signature on the test clips (crest: peak/RMS over the original's; octaves: "
            "level against the original's):",
            "",
            *signature_table(block),
            "",
        ]
        if "score" in block:
            lines += [
                "`aea score` of reconstructions of 32 training clips against the held-out clips (c2st: mean of 8 "
                "subsamples of R):",
                "",
                "| set | c2st | fd |",
                "|---|---|---|",
            ]
            lines += [
                f"| {name} | {spread(row['c2st'], 3)} | {spread(row['fd'], 1)} |"
                for name, row in block["score"].items()
            ]
            lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--latent", type=int, default=18376)
    parser.add_argument("--seeds", default="0,1,2", help="training seeds of each preset")
    parser.add_argument("--presets", default="default,gated", help="recipes to train (configs/ names or PRESETS)")
    parser.add_argument("--baseline-seeds", help="training seeds of the presets after the first [default: --seeds]")
    parser.add_argument(
        "--preset-seeds",
        action="append",
        default=[],
        metavar="PRESET=SEEDS",
        help="training seeds of one preset, e.g. short=0,1,2 (repeatable)",
    )
    parser.add_argument("--datasets", default="real,corpus")
    parser.add_argument("--no-seed", dest="with_seed", action="store_false", help="leave out the seed arch's row")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".runs")
    parser.add_argument("--name", default="quality", help="results file name")
    parser.add_argument("--quick", action="store_true", help="do not overwrite the committed results")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if not opus_available() and os.geteuid() == 0:
        install(["opus-tools"])  # bench set-up, as the real music is
    roots = {
        "real": real_music_folder(),
        "corpus": builtin_corpus(CACHE, load_config(ROOT / "configs" / "default.toml").data),
    }
    results = {
        "latent": args.latent,
        "minutes": args.minutes,
        "seeds": args.seeds,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, CPU",
        "created": time.strftime("%Y-%m-%d"),
        "datasets": {},
    }
    for name in args.datasets.split(","):
        results["datasets"][name] = run_dataset(name, roots[name], args)
    suffix = "-quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.name}{suffix}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
