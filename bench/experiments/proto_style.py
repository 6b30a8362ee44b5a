"""Prototype harness (issue #14, session 10): which clips may a random piece's walk play?

Generates 32 pieces of 20 s per variant and generation seed with the wide
bench's model and prior (`bench/.runs/generation-wide/model-ae`), cuts them
into 5 s clips, subsamples 32 (seed 1, as `aea score` does) and scores them
against R (the 23 held-out tracks): c2st averaged over 8 subsamples of R
(`c2stR`) and the bench's own seed 0 (`c2st0`), fd against all of R, the four
named features. `copied` is measured by the bench for the variant adopted.

    .venv/bin/python bench/experiments/proto_style.py --variants all,anchor25 --seeds 1,101,201
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from autoenc_audio.checkpoint import load_checkpoint  # noqa: E402
from autoenc_audio.pieces import frames_needed  # noqa: E402
from autoenc_audio.prior.memory import EDGE_FRAMES  # noqa: E402
from autoenc_audio.prior.sample import _piece, draw_style, label_mask, style_mask  # noqa: E402
from autoenc_audio.prior.store import load_prior, prior_path  # noqa: E402
from autoenc_audio.prior.walk import WalkRequest  # noqa: E402
from autoenc_audio.score import checkpoint_data, load_real_data, _held_out_clips, _floor_clips  # noqa: E402
from autoenc_audio.score_features import clips_features, cut_pieces  # noqa: E402
from autoenc_audio.score_stats import c2st, frechet_distance, subsample  # noqa: E402

RUN = ROOT / "bench" / ".runs" / "generation-wide" / "model-ae"
CACHE = ROOT / "bench" / ".cache"
PIECES, SECONDS = 32, 20.0
SOURCE_MAPS: list = []  # per average piece, its 3 sources' latent maps


def average_mask(variant: str, prior, maps: torch.Tensor) -> torch.Tensor:
    """Memory clips an average piece of sources `maps` may play: `avg` (aea's style_mask), `avgeach` (the
    nearest eighth to each source), `avgfull` (as avg, by every channel's standardised log energy)."""
    if variant == "avg":
        return style_mask(prior, maps)
    def pooled(frames, full):
        if full:
            energy = prior.features.energy(frames)[:, EDGE_FRAMES:-EDGE_FRAMES]
            features = (energy - prior.features.mean) / prior.features.std
        else:
            features = prior.features(frames)[:, EDGE_FRAMES:-EDGE_FRAMES]
        return torch.cat([features.mean(1), features.std(1)], dim=1)
    full = variant == "avgfull"
    distance = torch.cdist(pooled(prior.memory.frames, full), pooled(maps, full))  # [clips, sources]
    mask = torch.zeros(len(distance), dtype=torch.bool)
    if variant == "avgeach":
        for column in distance.T:
            mask[torch.topk(column, round(0.125 * len(column)), largest=False).indices] = True
    else:
        mask[torch.topk(distance.min(1).values, round(0.25 * len(distance)), largest=False).indices] = True
    return mask


def mask_for(variant: str, prior, generator: torch.Generator) -> torch.Tensor | None:
    """The memory clips piece may play under `variant` (None: all)."""
    memory = prior.memory
    if variant == "all":
        return None
    if variant == "label":
        labels = memory.labels[torch.randint(memory.clips, (1,), generator=generator)]
        return label_mask(prior, memory.label_names[int(labels)])
    if variant == "lib":  # aea's own piece_style
        return draw_style(prior, int(torch.randint(2**31, (1,), generator=generator)))[0]
    if variant.startswith("anchor"):  # anchor clip, share in percent
        share = int(variant[len("anchor"):]) / 100
        anchor = int(torch.randint(memory.clips, (1,), generator=generator))
        return style_mask(prior, memory.frames[anchor : anchor + 1], share)
    if variant.startswith("track"):  # every clip of an anchor's track as sources
        share = int(variant[len("track"):]) / 100
        anchor = int(torch.randint(memory.clips, (1,), generator=generator))
        same = memory.tracks == memory.tracks[anchor]
        return style_mask(prior, memory.frames[same], share)
    raise SystemExit(f"unknown variant {variant}")


def reconstructions(checkpoint, real, seed: int) -> np.ndarray:
    """32 training clips (5 s, chosen with `seed`) through the autoencoder: the ceiling of any walk."""
    from autoenc_audio.latents import reconstruct_clips

    index = [(n, s) for n, track in enumerate(real.training) for s in range(0, len(track) - 110250, 110250)]
    chosen = [index[i] for i in subsample(len(index), 32, seed)]
    clips = np.stack([real.training[n][s : s + 110250] for n, s in chosen]).astype(np.float32)
    decoded = reconstruct_clips(checkpoint.model, torch.from_numpy(clips).unsqueeze(1))[:, 0].numpy()
    return np.concatenate([cut_pieces(clip.astype(np.float64)) for clip in decoded])


def generate(checkpoint, prior, variant: str, seed: int) -> np.ndarray:
    rate = checkpoint.config.audio.sample_rate
    samples = int(SECONDS * rate)
    frames = frames_needed(checkpoint, samples)
    clips = []
    if variant == "labelstrat":
        generator = torch.Generator().manual_seed(20_000 + seed)
        order = prior.memory.labels.sort().values
        u = float(torch.rand((), generator=generator))
        drawn = [int(order[int((i + u) / PIECES * len(order))]) for i in range(PIECES)]
        drawn = [drawn[j] for j in torch.randperm(PIECES, generator=generator).tolist()]
    for i in range(PIECES):
        generator = torch.Generator().manual_seed(10_000 + seed + i)
        if variant == "labelstrat":
            allowed = prior.memory.labels == drawn[i]
        elif variant.startswith("avg"):
            allowed = average_mask(variant, prior, SOURCE_MAPS[i])
        else:
            allowed = mask_for(variant, prior, generator)
        piece = _piece(checkpoint, prior, WalkRequest(frames, seed + i, 1.0, allowed=allowed), samples, {})
        clips.append(cut_pieces(piece.samples.astype(np.float64)))
    every = np.concatenate(clips)
    return every[subsample(len(every), 32, 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="all,anchor25")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--out", type=Path, default=Path("/tmp/proto_style.jsonl"))
    parser.add_argument("--run", type=Path, default=RUN)
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.seterr(all="ignore")
    checkpoint = load_checkpoint(args.run / "best.safetensors")
    prior = load_prior(prior_path(args.run))
    root, data = checkpoint_data(args.run / "best.safetensors")
    real = load_real_data(root, data, CACHE)
    if any(v.startswith("avg") for v in args.variants.split(",")):
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_generation import test_songs, three_songs
        from autoenc_audio.compose import source_maps
        songs = test_songs(checkpoint, root)
        labels = [label for label, paths in songs.items() if len(paths) >= 3]
        SOURCE_MAPS.extend(source_maps(checkpoint, three_songs(songs, labels, i), "center", None) for i in range(PIECES))
    held_out, _ = _held_out_clips(real, 32)
    reference = held_out.features
    floor, _ = clips_features(_floor_clips(real, 32))
    np.save("/tmp/proto_R.npy", reference)
    print("R", np.round(reference[:, :3].mean(0), 3), "floor c2stR",
          round(float(np.mean([c2st(floor, reference, s) for s in range(8)])), 3), flush=True)
    for variant in args.variants.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            started = time.perf_counter()
            clips = reconstructions(checkpoint, real, seed) if variant == "recon" else generate(checkpoint, prior, variant, seed)
            features, _ = clips_features(clips)
            row = {"run": args.run.name, "variant": variant, "seed": seed,
                   "c2stR": round(float(np.mean([c2st(features, reference, s) for s in range(8)])), 3),
                   "c2st0": round(c2st(features, reference, 0), 3),
                   "fd": round(frechet_distance(features, reference), 1),
                   **{name: round(float(v), 3) for name, v in zip(("tonal", "continuity", "rhythm", "flatness"),
                                                                  features[:, :4].mean(0))},
                   "seconds": round(time.perf_counter() - started, 1)}
            print(json.dumps(row), flush=True)
            np.save(f"/tmp/proto_feat_{args.run.name}-{variant}_{seed}.npy", features)
            with args.out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
