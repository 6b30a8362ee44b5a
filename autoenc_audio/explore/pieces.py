"""The pieces of the run's prior an explore page plays, made by `aea generate --mode random`'s own code.

The prior is a walk over the run's memory of training latents (`aea train-prior`); its pieces are made here,
in torch, when the site is written, not in the browser. A run without a prior gets a page that says how to
train one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checkpoints.checkpoint import Checkpoint
from ..generation.requests import GenerateRequest, find_prior, generate_pieces
from .content import ExploreRequest

NO_PRIOR = (
    "This run has no prior, so there are no pieces from one here: train it with "
    "aea train-prior --model RUN (a few minutes), then write this page again with aea explore."
)
LEFT_OUT = "Pieces from the run's prior were left out when this page was written (aea explore --pieces 0)."
SHOWN_FACTS = ("seed", "temperature", "style", "label", "jumps", "tracks_visited", "gain")


@dataclass(frozen=True)
class PriorPieces:
    """The pieces `[S]` each (float32, peak at most the prior's), and what the page says of them: `pieces` (each
    one's facts), `command` (the `aea generate` call that makes the same pieces) or `missing` (why none)."""

    audio: list[np.ndarray]
    record: dict[str, Any]


def prior_pieces(checkpoint: Checkpoint, request: ExploreRequest) -> PriorPieces:
    """`request.pieces` pieces of `request.piece_seconds` from the prior beside the checkpoint (seeds
    `piece_seed`, `piece_seed + 1`, ...); none, saying why, without a prior or with `pieces` 0. A prior of
    another model is a PriorError (as `aea generate` refuses it)."""
    if request.pieces == 0:
        return PriorPieces([], {"pieces": [], "missing": LEFT_OUT})
    prior = find_prior(checkpoint, None)
    if prior is None:
        return PriorPieces([], {"pieces": [], "missing": NO_PRIOR})
    generate = GenerateRequest("random", "prior", request.piece_seconds, request.pieces, seed=request.piece_seed)
    made = generate_pieces(checkpoint, generate, prior=prior).pieces
    rate = checkpoint.config.audio.sample_rate
    pieces = [
        {
            "name": f"prior-{piece.metadata['seed']}",
            "seconds": round(len(piece.samples) / rate, 3),
            **{key: piece.metadata[key] for key in SHOWN_FACTS if piece.metadata.get(key) is not None},
        }
        for piece in made
    ]
    command = (
        f"aea generate --model RUN --mode random --method prior --seconds {request.piece_seconds:g} "
        f"--n {request.pieces} --seed {request.piece_seed}"
    )
    record = {"pieces": pieces, "command": command, "prior_fingerprint": prior.fingerprint, "epoch": prior.epoch}
    return PriorPieces([np.asarray(piece.samples, dtype=np.float32) for piece in made], record)
