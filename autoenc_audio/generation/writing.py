"""Writing what `aea generate` made: each piece as audio with a JSON sidecar, and where its page goes.

A sidecar records how its piece was made: the piece's facts (method, seed,
sources, gain...), the model, the aea version, the request as carried out
and, for the prior's methods, every setting of the prior; `regenerate` makes
the same samples again from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..audio import write_audio
from ..checkpoints.checkpoint import Checkpoint
from ..files import atomic_path
from ..latents.model import model_fields
from ..latents.outputs import is_folder_target, output_paths
from .errors import RequestError
from .piece import Piece


def write_pieces(
    checkpoint: Checkpoint, pieces: Sequence[Piece], out: str, mode: str, sidecar: bool = True
) -> list[dict[str, Any]]:
    """Write each piece (numbered when several; `-` for one) with a sidecar NAME.json saying how it was made;
    returns each file's record (the sidecar's content, with `path` and `sidecar`)."""
    rate = checkpoint.config.audio.sample_rate
    common = model_fields(checkpoint)  # the model's fingerprint and path, and the aea version that wrote the piece
    names = ["morph" if piece.metadata.get("morph") else mode for piece in pieces]
    written = []
    for target, piece in zip(output_paths(out, names), pieces):
        write_audio(target, piece.samples, rate)
        record = {"path": target, **piece.metadata, **common, "seconds": len(piece.samples) / rate}
        for settings in ("request", "prior_settings"):  # last: the facts a reader looks for come first
            if settings in record:
                record[settings] = record.pop(settings)
        if sidecar and target != "-":
            side = Path(target).with_suffix(".json")
            with atomic_path(side) as temporary:
                temporary.write_text(json.dumps(record, indent=2) + "\n")
            record["sidecar"] = str(side)
        written.append(record)
    return written


def page_path(out: str) -> Path:
    """Where the page of pieces written to `out` goes: `DIR/index.html` for a folder, `NAME.html` beside `NAME.wav`."""
    if out == "-":
        raise RequestError(
            "a page goes beside the audio files, and audio written to standard output ('-') has none: "
            "give a file or folder",
            "out",
            "html",
        )
    return Path(out) / "index.html" if is_folder_target(out) else Path(out).with_suffix(".html")
