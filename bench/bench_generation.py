"""Is generated audio music? The table of docs/scoring.md for every way `aea generate` makes audio.

On the bench's real music (split by track), at N = 18376: trains the default
model (--minutes, 10) and its prior (--prior-minutes, at most 10), optionally a
VAE and its prior (--vae), generates 32 independent pieces of 20 s per set,
and scores 32 of their five-second clips (seed 1) with `aea score`'s library
against the held-out clips, beside the real floor and shaped noise. Finished
models and priors are reused. Writes bench/results/NAME.json and NAME.md
(`--name`, generation); the audio stays in --out. `--test-fraction` holds out
more tracks as R (aea's default 0.1 leaves 9 of the 93).

    .venv/bin/python bench/bench_generation.py
    .venv/bin/python bench/bench_generation.py --vae --sets random,continue
    .venv/bin/python bench/bench_generation.py --test-fraction 0.25 --name generation-wide --out bench/.runs/generation-wide
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).parent))
from real_music import real_music_folder

from autoenc_audio.audio import write_audio
from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.config import load_config
from autoenc_audio.data import prepare_dataset
from autoenc_audio.generation.requests import GenerateRequest, generate_pieces
from autoenc_audio.prior.header import prior_path
from autoenc_audio.prior.store import load_prior
from autoenc_audio.prior.train import train_prior
from autoenc_audio.scoring.score_sets import score_sets
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache"
CLIPS = 32
PIECES = 32  # independent pieces per set; their 5 s clips are subsampled to CLIPS (seed 1), as `aea score` does
PIECE_SECONDS = 20.0
SEEDED = ("random", "average", "label")  # the sets --seeds makes again with other generation seeds


def trained(kind: str, minutes: float, prior_minutes: float, out: Path, root: Path, test_fraction: float) -> Path:
    """The run folder of a `kind` (ae or vae) model with a prior, trained when missing."""
    run = out / f"model-{kind}"
    if not (run / "summary.json").exists():
        config = (
            load_config(ROOT / "configs" / "default.toml")
            .override(
                model={"latent": 18376, "kind": kind}, train={"device": "cpu"}, data={"test_fraction": test_fraction}
            )
            .with_budget(minutes, None)
        )
        train(config, run, CACHE, data_root=root, overwrite=True)
    if not prior_path(run).exists():
        checkpoint = load_checkpoint(run / "best.safetensors")  # the prior's settings: today's default preset
        config = load_config(ROOT / "configs" / "default.toml").prior
        train_prior(
            checkpoint, run, dataclasses.replace(config, minutes=prior_minutes, epochs=None, device="cpu"), CACHE
        )
    return run


def write_clips(folder: Path, pieces: list, rate: int, skip_seconds: float = 0.0) -> int:
    """Cut the pieces into 5 s clips (after `skip_seconds` of each) into `folder`; returns how many."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    count, clip = 0, 5 * rate
    for number, piece in enumerate(pieces):
        samples = piece.samples[int(skip_seconds * rate) :]
        for start in range(0, len(samples) - clip + 1, clip):
            write_audio(folder / f"{number:03d}-{start // clip:02d}.wav", samples[start : start + clip], rate)
            count += 1
    return count


def test_songs(checkpoint, root: Path) -> dict[str, list[str]]:
    """Held-out (test split) songs per label, in a fixed order."""
    prepared = prepare_dataset(root, checkpoint.config.audio, checkpoint.config.data, CACHE)
    test = prepared.splits["test"]
    songs: dict[str, list[str]] = {}
    for track in test.index.tracks:
        songs.setdefault(track.label, []).append(str(track.path))
    return {label: sorted(paths) for label, paths in songs.items()}


def three_songs(songs: dict[str, list[str]], labels: list[str], index: int) -> tuple[str, ...]:
    """Piece `index`'s sources: 3 held-out songs of one label, the labels in turn, each label's songs in turn."""
    label = labels[index % len(labels)]
    paths, start = songs[label], 3 * (index // len(labels))
    return tuple(paths[(start + k) % len(paths)] for k in range(3))


def reconstructed_training_clips(checkpoint, root: Path) -> list:
    """32 training clips, evenly spread, encoded and decoded: real music as the model renders it."""
    from autoenc_audio.data import evenly_spread
    from autoenc_audio.generation.piece import Piece
    from autoenc_audio.latents.batches import reconstruct_clips

    train_split = prepare_dataset(root, checkpoint.config.audio, checkpoint.config.data, CACHE).splits["train"]
    clips = torch.stack(
        [
            torch.from_numpy(train_split.clip(i))
            for i in evenly_spread(len(train_split), CLIPS, include_last=False).tolist()
        ]
    )
    decoded = reconstruct_clips(checkpoint.model, clips.unsqueeze(1))[:, 0].numpy()
    return [Piece(clip, {}) for clip in decoded]


@dataclass
class Sources:
    """What every set of one run is made from, loaded once: speeds leave start-up out."""

    run: Path
    root: Path
    checkpoint: Any
    prior: Any
    songs: dict[str, list[str]]  # held-out songs per label
    labels: list[str]  # the labels with at least 3 held-out songs (the average's sources)


def load_sources(run: Path, root: Path) -> Sources:
    checkpoint = load_checkpoint(run / "best.safetensors")
    songs = test_songs(checkpoint, root)
    prior = load_prior(prior_path(run))
    generate_pieces(checkpoint, GenerateRequest("random", "prior", 5.0, seed=0), prior=prior)  # lays out the memory
    return Sources(run, root, checkpoint, prior, songs, [label for label, paths in songs.items() if len(paths) >= 3])


def make_set(sources: Sources, name: str, seed: int) -> tuple[list, float]:
    """Set `name`'s pieces with generation seed `seed` (each piece's seed moved by `seed - 1`: 1 gives the
    committed tables' seeds), and the seconds of each piece's opening not to score."""
    checkpoint, prior, songs, labels, shift = sources.checkpoint, sources.prior, sources.songs, sources.labels, seed - 1
    if name in ("random", "gaussian", "naive"):
        request = GenerateRequest(
            "random",
            "prior" if name == "random" else "gaussian",
            PIECE_SECONDS,
            PIECES,
            seed=seed,
            naive=name == "naive",
        )
        return generate_pieces(checkpoint, request, prior=prior).pieces, 0.0
    if name == "continue":  # each held-out song in turn; score what the prior made, not the reconstructed opening
        every = [path for label in songs for path in songs[label]]
        return [
            generate_pieces(
                checkpoint,
                GenerateRequest(
                    "continue", "prior", PIECE_SECONDS + 5, seed=i + shift, sources=(every[i % len(every)],)
                ),
                prior=prior,
            ).pieces[0]
            for i in range(PIECES)
        ], 5.0
    if name == "average":  # pieces in the style of 3 held-out songs of a label
        return [
            generate_pieces(
                checkpoint,
                GenerateRequest(
                    "average", "prior", PIECE_SECONDS, seed=i + shift, sources=three_songs(songs, labels, i)
                ),
                prior=prior,
            ).pieces[0]
            for i in range(PIECES)
        ], 0.0
    if name == "mean":  # the assignment's plain mean latent of 3 songs, one clip each, at 32 offsets
        return [
            generate_pieces(
                checkpoint,
                GenerateRequest(
                    "average", "mean", seed=i, sources=three_songs(songs, labels, i), offset=5.0 * (i // len(labels))
                ),
            ).pieces[0]
            for i in range(CLIPS)
        ], 0.0
    if name == "label":
        names = prior.memory.label_names
        return [
            generate_pieces(
                checkpoint,
                GenerateRequest("average", "prior", PIECE_SECONDS, seed=i + shift, label=names[i % len(names)]),
                prior=prior,
            ).pieces[0]
            for i in range(PIECES)
        ], 0.0
    if name == "reconstruction":  # the ceiling of any walk: training clips through the autoencoder
        return reconstructed_training_clips(checkpoint, sources.root), 0.0
    raise SystemExit(f"unknown set {name}")


def generate_sets(
    run: Path, root: Path, sets: list[str], out: Path, seeds: Sequence[int] = (1,)
) -> tuple[dict[str, Path], dict[str, float]]:
    """Write each set's 32 clips; returns their folders and the real-time factor of each generation.

    The first seed makes every set; each further seed makes the prior's sets (`SEEDED`) again, named
    `NAME@SEED`."""
    sources = load_sources(run, root)
    rate = sources.checkpoint.config.audio.sample_rate
    folders, speed = {}, {}
    for seed in seeds:
        first = seed == seeds[0]
        for name in sets if first else [name for name in sets if name in SEEDED]:
            started = time.perf_counter()
            pieces, skip = make_set(sources, name, seed)
            elapsed = time.perf_counter() - started
            key = name if first else f"{name}@{seed}"
            speed[key] = round((sum(len(p.samples) for p in pieces) / rate - skip * len(pieces)) / elapsed, 1)
            folders[key] = out / "sets" / (f"{run.name}-{name}" if first else f"{run.name}-{name}-seed{seed}")
            count = write_clips(folders[key], pieces, rate, skip)
            print(f"{run.name} {key}: {count} clips, {speed[key]}x real time", flush=True)
    return folders, speed


def figure(folders: dict[str, Path], root: Path, run: Path) -> Path:
    """docs/generation.png: spectrograms of a held-out real clip, a Gaussian sample and a prior sample."""
    from autoenc_audio.audio import load_clip
    from autoenc_audio.plots.audio import plot_spectrograms

    checkpoint = load_checkpoint(run / "best.safetensors")
    song = next(iter(test_songs(checkpoint, root).values()))[0]
    real = load_clip(song, checkpoint.config.audio, "center", np.random.default_rng(0)).samples
    rate = checkpoint.config.audio.sample_rate
    signals = [(f"held-out real: {Path(song).name}", real, rate)]
    for name, title in (
        ("gaussian", "the fitted Gaussian (--method gaussian)"),
        ("random", "the prior (--mode random)"),
    ):
        clip = sorted(folders[name].glob("*.wav"))[0]
        signals.append((title, soundfile.read(clip, dtype="float32")[0], rate))
    return plot_spectrograms(
        signals, ROOT / "docs" / "generation.png", title="Real music, a Gaussian sample, a prior sample"
    )


def markdown(results: dict) -> str:
    lines = [
        "# Generation: is it music? (GENERATION.md)",
        "",
        f"Real music of the bench ({results['held_out_tracks']} held-out tracks, {results['training_tracks']} training "
        f"tracks), N = 18376, default model {results['minutes']:g} min, prior at most {results['prior_minutes']:g} min, "
        f"{results['machine']}. Every set: 32 clips of 5 s, subsampled (seed 1) from {results['pieces']} pieces of "
        f"{PIECE_SECONDS:g} s (continue: after each 5 s opening; the plain mean: one clip per piece). Speed: seconds of audio per second of generation "
        "(model loaded).",
        "",
        "| set | clips | c2st | fd | tonal | continuity | rhythm | flatness | copied | speed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda value, digits=3: "-" if value is None else f"{value:.{digits}f}"  # noqa: E731
    for row in results["rows"]:
        if "@" not in row["name"]:
            lines.append(
                f"| {row['name']} | {row['clips']} | {fmt(row['c2st'], 2)} | {fmt(row['fd'], 0)} | {fmt(row['tonal'])} | "
                f"{fmt(row['continuity'], 2)} | {fmt(row['rhythm'], 2)} | {fmt(row['flatness'])} | "
                f"{fmt(row['copied'], 2)} | {results['speed'].get(row['name'], '-')} |"
            )
    return "\n".join(lines + seed_summary(results["rows"])) + "\n"


def seed_summary(rows: list[dict]) -> list[str]:
    """Markdown lines: each set made with several generation seeds, its mean (and range) over them."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if row["kind"] == "generated":
            groups.setdefault(row["name"].split("@")[0], []).append(row)
    groups = {name: group for name, group in groups.items() if len(group) > 1}
    if not groups:
        return []
    lines = [
        "",
        "Over generation seeds (`--seeds`): the mean, and in brackets the range, of each set made with every seed.",
        "",
        "| set | seeds | c2st | fd | tonal | continuity | rhythm | copied (max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, group in groups.items():
        values = {key: [row[key] for row in group] for key in ("c2st", "fd", "tonal", "continuity", "rhythm", "copied")}
        lines.append(
            f"| {name} | {len(group)} | {_spread(values['c2st'], 2)} | {_spread(values['fd'], 0)} | {np.mean(values['tonal']):.3f} | "
            f"{np.mean(values['continuity']):.2f} | {np.mean(values['rhythm']):.2f} | {max(values['copied']):.2f} |"
        )
    return lines


def _spread(values: list[float], digits: int) -> str:
    """The mean and, in brackets, the range of `values`, to `digits` places."""
    return f"{np.mean(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--prior-minutes", type=float, default=10.0)
    parser.add_argument("--sets", default="random,continue,average,label,gaussian,naive,mean,reconstruction")
    parser.add_argument("--vae", action="store_true", help="also a VAE (10 min) and its prior's random samples")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".runs" / "generation")
    parser.add_argument("--quick", action="store_true", help="do not overwrite the committed results")
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="share of tracks held out as R (0.1, aea's default: 9 of 93 tracks; 0.25: 23)",
    )
    parser.add_argument("--name", default="generation", help="results file stem (bench/results/NAME.{json,md})")
    parser.add_argument(
        "--seeds",
        default="1",
        help="generation seeds of random, average and label (c2st and fd "
        "move by about +-0.05 and 2x between seeds of one method): the first gives the table, all a summary",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    root = real_music_folder()
    run = trained("ae", args.minutes, args.prior_minutes, args.out, root, args.test_fraction)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    folders, speed = generate_sets(run, root, args.sets.split(","), args.out, seeds)
    if args.vae:
        vae = trained("vae", args.minutes, args.prior_minutes, args.out, root, args.test_fraction)
        vae_folders, vae_speed = generate_sets(vae, root, ["random", "gaussian"], args.out)
        folders.update({f"vae {k}": v for k, v in vae_folders.items()})
        speed.update({f"vae {k}": v for k, v in vae_speed.items()})
    if {"gaussian", "random"} <= set(folders) and not args.quick and args.name == "generation":
        print("figure:", figure(folders, root, run), flush=True)
    names = {str(folder): name for name, folder in folders.items()}
    report = score_sets(
        list(folders.values()),
        checkpoint=run / "best.safetensors",
        cache_dir=CACHE,
        message=lambda text: print(text, flush=True),
    )
    rows = [{**row.__dict__, "name": names.get(row.name, row.name)} for row in report.rows]
    results = {
        "test_fraction": args.test_fraction,
        "pieces": PIECES,
        "minutes": args.minutes,
        "prior_minutes": args.prior_minutes,
        "machine": f"{platform.machine()}, 2 torch threads, CPU",
        "held_out_tracks": report.held_out_tracks,
        "training_tracks": report.training_tracks,
        "rows": rows,
        "speed": speed,
        "settings": json.loads(json.dumps(load_prior(prior_path(run)).config.__dict__)),
    }
    suffix = "-quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.name}{suffix}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
