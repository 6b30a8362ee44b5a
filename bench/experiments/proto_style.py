"""Prototype harness (issue #14, session 10): which clips may a piece's walk play?

Generates 32 pieces of 20 s per variant and generation seed with a bench
model and its prior (default: `bench/.runs/generation-wide/model-ae`), cuts
them into 5 s clips, subsamples 32 (seed 1, as `aea score` does) and scores
them against R (the held-out tracks): c2st averaged over 8 subsamples of R
(`c2stR`) and the bench's own seed 0 (`c2st0`), fd against all of R, the four
named features; `--differences` also prints the features furthest from R's
mean, in R's standard deviations. `copied` is measured by the bench.

Variants (NOTES.md, session 10):
- random: `all` (the whole memory), `label` (one label a piece, drawn
  independently), `labelstrat` (drawn stratified over the set), `lib` (aea's
  `draw_style`), `anchorNN` / `trackNN` (the NN % of the memory nearest to a
  random clip / to any clip of a random clip's track);
- average of 3 held-out songs of a label (the bench's sources): `avgany`
  (the quarter nearest to any source: aea's rule before), `avgeach` (aea's
  `style_mask` now: each source's nearest eighth), `avgfull` (as avgany, by
  all channels' standardised log energies);
- `recon`: training clips through the autoencoder (the ceiling of any walk);
  with `--differences` also their paired loss per band and peak ratio.

    .venv/bin/python bench/experiments/proto_style.py --variants all,label,recon --seeds 1,101,201,301 --differences
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from autoenc_audio.checkpoints.checkpoint import load_checkpoint  # noqa: E402
from autoenc_audio.generation.assembly import frames_needed  # noqa: E402
from autoenc_audio.generation.prior_methods import _piece, draw_style, style_mask  # noqa: E402
from autoenc_audio.generation.walk import WalkRequest  # noqa: E402
from autoenc_audio.latents.batches import reconstruct_clips  # noqa: E402
from autoenc_audio.prior.header import prior_path  # noqa: E402
from autoenc_audio.prior.memory import EDGE_FRAMES  # noqa: E402
from autoenc_audio.prior.store import load_prior  # noqa: E402
from autoenc_audio.scoring.features import CLIP_SAMPLES, clips_features, cut_pieces, peak_normalise  # noqa: E402
from autoenc_audio.scoring.score_sets import RealData, _held_out_clips, checkpoint_data, load_real_data  # noqa: E402
from autoenc_audio.scoring.statistics import c2st, frechet_distance, subsample  # noqa: E402

RUN = ROOT / "bench" / ".runs" / "generation-wide" / "model-ae"
CACHE = ROOT / "bench" / ".cache"
PIECES, SECONDS = 32, 20.0
NAMES = (
    ["tonal", "continuity", "rhythm", "flatness"] + [f"mel{b}" for b in range(40)] + [f"mel{b}-std" for b in range(40)]
)


@dataclass
class Harness:
    checkpoint: object
    prior: object
    real: RealData
    reference: np.ndarray  # R's features [clips, 84]
    source_maps: list = field(default_factory=list)  # per average piece, its 3 sources' latent maps


def nearest_to_any(prior, maps: torch.Tensor, share: float, full: bool = False) -> torch.Tensor:
    """The `share` of memory clips nearest to any of `maps` by pooled features (16 axes, or all channels)."""

    def pooled(frames):
        if full:
            features = (prior.features.energy(frames) - prior.features.mean) / prior.features.std
        else:
            features = prior.features(frames)
        features = features[:, EDGE_FRAMES:-EDGE_FRAMES]
        return torch.cat([features.mean(1), features.std(1)], dim=1)

    distance = torch.cdist(pooled(prior.memory.frames), pooled(maps)).min(1).values
    mask = torch.zeros(len(distance), dtype=torch.bool)
    mask[torch.topk(distance, max(4, round(share * len(distance))), largest=False).indices] = True
    return mask


def allowed_clips(harness: Harness, variant: str, piece: int, generator: torch.Generator) -> torch.Tensor | None:
    """The memory clips piece `piece` may play under `variant` (None: all); labelstrat is made per set."""
    prior, memory = harness.prior, harness.prior.memory
    anchor = int(torch.randint(memory.clips, (1,), generator=generator))
    if variant == "all":
        return None
    if variant == "label":
        return memory.labels == memory.labels[anchor]
    if variant == "lib":
        return draw_style(prior, int(torch.randint(2**31, (1,), generator=generator)))[0]
    if variant.startswith("anchor"):
        return nearest_to_any(prior, memory.frames[anchor : anchor + 1], int(variant[6:]) / 100)
    if variant.startswith("track"):
        return nearest_to_any(prior, memory.frames[memory.tracks == memory.tracks[anchor]], int(variant[5:]) / 100)
    if variant in ("avgany", "avgfull"):
        return nearest_to_any(prior, harness.source_maps[piece], 0.25, full=variant == "avgfull")
    if variant == "avgeach":
        return style_mask(prior, harness.source_maps[piece])
    raise SystemExit(f"unknown variant {variant}")


def stratified_labels(harness: Harness, seed: int) -> list[torch.Tensor]:
    """Per piece, its label's clips: every label in proportion to its share of the memory, in a shuffled order."""
    labels = harness.prior.memory.labels
    generator = torch.Generator().manual_seed(20_000 + seed)
    order, offset = labels.sort().values, float(torch.rand((), generator=generator))
    drawn = [int(order[int((i + offset) / PIECES * len(order))]) for i in range(PIECES)]
    return [labels == drawn[j] for j in torch.randperm(PIECES, generator=generator).tolist()]


def generate(harness: Harness, variant: str, seed: int) -> np.ndarray:
    """32 scored clips `[32, 110250]` of 32 pieces made under `variant` with generation seed `seed`."""
    checkpoint = harness.checkpoint
    samples = int(SECONDS * checkpoint.config.audio.sample_rate)
    frames = frames_needed(checkpoint, samples)
    strata = stratified_labels(harness, seed) if variant == "labelstrat" else None
    clips = []
    for i in range(PIECES):
        generator = torch.Generator().manual_seed(10_000 + seed + i)
        allowed = strata[i] if strata is not None else allowed_clips(harness, variant, i, generator)
        piece = _piece(checkpoint, harness.prior, WalkRequest(frames, seed + i, 1.0, allowed=allowed), samples, {})
        clips.append(cut_pieces(piece.samples.astype(np.float64)))
    every = np.concatenate(clips)
    return every[subsample(len(every), 32, 1)]


def training_clips(real: RealData, seed: int) -> np.ndarray:
    """32 five-second clips `[32, 110250]` of the training tracks, chosen with `seed`, as they are (float32)."""
    index = [(n, s) for n, track in enumerate(real.training) for s in range(0, len(track) - CLIP_SAMPLES, CLIP_SAMPLES)]
    chosen = [index[i] for i in subsample(len(index), 32, seed)]
    return np.stack([real.training[n][s : s + CLIP_SAMPLES] for n, s in chosen]).astype(np.float32)


def print_differences(features: np.ndarray, reference: np.ndarray, top: int = 10) -> None:
    """The `top` features whose set mean is furthest from R's, in R's standard deviations."""
    difference = (features.mean(0) - reference.mean(0)) / (reference.std(0) + 1e-9)
    print(
        "   furthest from R:",
        " ".join(f"{NAMES[i]} {difference[i]:+.2f}" for i in np.argsort(-np.abs(difference))[:top]),
    )


def print_rendering(originals: np.ndarray, decoded: np.ndarray) -> None:
    """Paired, the same clips `[n, 110250]` as they are and through the autoencoder: the median ratio of their
    peaks (same loudness otherwise: the clicks), and the mean change of each mel band's log power after
    `aea score`'s peak normalisation."""
    ratio = np.median(np.abs(decoded).max(1) / np.abs(originals).max(1))
    before, _ = clips_features(np.stack([peak_normalise(clip) for clip in originals]))
    after, _ = clips_features(np.stack([peak_normalise(clip) for clip in decoded]))
    change = np.round((after - before)[:, 4:44].mean(0), 2).tolist()
    print(f"   reconstruction against original: peak ratio {ratio:.3f}; mel power change per band (nat) {change}")


def score_row(harness: Harness, variant: str, seed: int, differences: bool) -> dict:
    started = time.perf_counter()
    if variant == "recon":
        originals = training_clips(harness.real, seed)
        decoded = reconstruct_clips(harness.checkpoint.model, torch.from_numpy(originals).unsqueeze(1))[:, 0].numpy()
        clips = np.stack([peak_normalise(clip) for clip in decoded])
        if differences:
            print_rendering(originals.astype(np.float64), decoded.astype(np.float64))
    else:
        clips = generate(harness, variant, seed)
    features, _ = clips_features(clips)
    if differences:
        print_differences(features, harness.reference)
    reference = harness.reference
    return {
        "variant": variant,
        "seed": seed,
        "c2stR": round(float(np.mean([c2st(features, reference, s) for s in range(8)])), 3),
        "c2st0": round(c2st(features, reference, 0), 3),
        "fd": round(frechet_distance(features, reference), 1),
        **{name: round(float(v), 3) for name, v in zip(NAMES[:4], features[:, :4].mean(0))},
        "seconds": round(time.perf_counter() - started, 1),
    }


def load_harness(run: Path, variants: list[str]) -> Harness:
    checkpoint = load_checkpoint(run / "best.safetensors")
    root, data = checkpoint_data(run / "best.safetensors")
    real = load_real_data(root, data, CACHE)
    harness = Harness(checkpoint, load_prior(prior_path(run)), real, _held_out_clips(real, 32)[0].features)
    if any(variant.startswith("avg") for variant in variants):
        from bench_generation import test_songs, three_songs

        from autoenc_audio.generation.requests import source_maps

        songs = test_songs(checkpoint, root)
        labels = [label for label, paths in songs.items() if len(paths) >= 3]
        harness.source_maps = [
            source_maps(checkpoint, three_songs(songs, labels, i), "center", None) for i in range(PIECES)
        ]
    return harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="all,label")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--run", type=Path, default=RUN)
    parser.add_argument("--out", type=Path, help="also append each row to this JSON Lines file")
    parser.add_argument("--differences", action="store_true", help="print what tells each set from R")
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.seterr(all="ignore")
    variants = args.variants.split(",")
    harness = load_harness(args.run, variants)
    print("R", dict(zip(NAMES[:3], np.round(harness.reference[:, :3].mean(0), 3).tolist())), flush=True)
    for variant in variants:
        for seed in [int(s) for s in args.seeds.split(",")]:
            row = {"run": args.run.name, **score_row(harness, variant, seed, args.differences)}
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
