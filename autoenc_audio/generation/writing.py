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
from typing import TYPE_CHECKING, Any

from ..audio import write_audio
from ..checkpoints.checkpoint import Checkpoint
from ..files import atomic_path, refuse_overwriting_inputs
from ..latents.model import model_fields
from ..latents.outputs import is_folder_target, output_paths
from .errors import RequestError
from .piece import Piece

if TYPE_CHECKING:
    from .requests import GenerateRequest


def write_pieces(
    checkpoint: Checkpoint, pieces: Sequence[Piece], out: str, mode: str, sidecar: bool = True
) -> list[dict[str, Any]]:
    """Write each piece (numbered when several; `-` for one) with a sidecar NAME.json saying how it was made;
    returns each file's record (the sidecar's content, with `path` and `sidecar`). A file to write that is one of
    the pieces' sources is refused before any is written."""
    rate = checkpoint.config.audio.sample_rate
    common = model_fields(checkpoint)  # the model's fingerprint and path, and the aea version that wrote the piece
    names = ["morph" if piece.metadata.get("morph") else mode for piece in pieces]
    targets = output_paths(out, names)
    refuse_overwriting_inputs(files_written(targets, sidecar), _sources(pieces))
    written = []
    for target, piece in zip(targets, pieces):
        write_audio(target, piece.samples, rate)
        record = {"path": target, **piece.metadata, **common, "seconds": len(piece.samples) / rate}
        for settings in ("request", "prior_settings"):  # last: the facts a reader looks for come first
            if settings in record:
                record[settings] = record.pop(settings)
        if sidecar and target != "-":
            side = sidecar_path(target)
            with atomic_path(side) as temporary:
                temporary.write_text(json.dumps(record, indent=2) + "\n")
            record["sidecar"] = str(side)
        written.append(record)
    return written


def sidecar_path(target: str) -> Path:
    """Where the sidecar of the piece written to `target` goes: `NAME.json` beside `NAME.wav`."""
    return Path(target).with_suffix(".json")


def files_written(targets: Sequence[str], sidecar: bool = True) -> list[str]:
    """The files that writing pieces to `targets` makes: each piece and (with `sidecar`) its sidecar."""
    sidecars = [str(sidecar_path(target)) for target in targets if sidecar and target != "-"]
    return list(targets) + sidecars


def planned_pieces(request: GenerateRequest) -> int:
    """How many pieces `request` makes: one continuation or morph, `steps` interpolation steps, else `n`."""
    if request.mode == "interpolate":
        return 1 if request.morph else request.steps
    return 1 if request.mode == "continue" else request.n


def refuse_writing_sources(request: GenerateRequest, out: str) -> None:
    """Before any piece is made: InputError when a file that writing `request`'s pieces to `out` would make (a piece
    or its sidecar) is one of its sources, which the write would replace (`write_pieces` checks again)."""
    names = ["morph" if request.morph else request.mode] * planned_pieces(request)
    refuse_overwriting_inputs(files_written(output_paths(out, names)), request.sources)


def _sources(pieces: Sequence[Piece]) -> list[str]:
    """The source files the pieces were made from, as their metadata records them."""
    found: dict[str, None] = {}
    for piece in pieces:
        for record in (piece.metadata, piece.metadata.get("request") or {}):
            found.update(dict.fromkeys(str(source) for source in record.get("sources") or ()))
    return list(found)


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
