"""Writing what `aea generate` made: each piece as audio with a JSON sidecar, and where its page goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..audio import write_audio
from ..checkpoints.checkpoint import Checkpoint
from ..files import atomic_path
from ..latents.failures import LatentError
from ..latents.model import model_fields
from ..latents.outputs import is_folder_target, output_paths
from .piece import Piece


def write_pieces(checkpoint: Checkpoint, pieces: Sequence[Piece], out: str, mode: str, sidecar: bool = True
                 ) -> list[dict[str, Any]]:
    """Write each piece (numbered when several; `-` for one) with a sidecar NAME.json saying how it was made."""
    rate = checkpoint.config.audio.sample_rate
    common = {k: v for k, v in model_fields(checkpoint).items() if k != "aea_version"}
    names = ["morph" if piece.metadata.get("morph") else mode for piece in pieces]
    written = []
    for target, piece in zip(output_paths(out, names), pieces):
        write_audio(target, piece.samples, rate)
        record = {"path": target, **piece.metadata, **common, "seconds": len(piece.samples) / rate}
        if sidecar and target != "-":
            side = Path(target).with_suffix(".json")
            with atomic_path(side) as temporary:
                temporary.write_text(json.dumps(record, indent=2) + "\n")
            record["sidecar"] = str(side)
        written.append(record)
    return written


def page_path(out: str) -> Path:
    """Where `generate --html` writes its page: `DIR/index.html` for a folder, `NAME.html` beside `NAME.wav`."""
    if out == "-":
        raise LatentError("--html writes a page beside the audio files; -o - writes none (give a file or folder)")
    return Path(out) / "index.html" if is_folder_target(out) else Path(out).with_suffix(".html")
