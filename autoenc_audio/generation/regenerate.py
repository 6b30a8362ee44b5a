"""Regenerating a piece from its sidecar alone: the same request, seed, settings and files give the same samples.

A sidecar (`writing`) records the request as carried out (the method and
seed chosen, the length resolved), the model's and the prior's fingerprints
and every setting of the prior. Piece i of a prior or Gaussian request is
made from seed `seed + i` alone, so it is regenerated alone; a mean or an
interpolation is made again whole and the piece picked by its step.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ..audio import STDIN_NAME
from ..checkpoints.checkpoint import Checkpoint, load_checkpoint
from ..config import ConfigError, PriorConfig
from ..errors import first_line
from ..prior.store import Prior
from .errors import RequestError
from .piece import Piece
from .requests import find_prior, generate_pieces, request_from_record


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """A sidecar's record; RequestError when the file is missing or not one."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise RequestError(f"{path}: no such sidecar") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f"{path}: not a readable sidecar ({first_line(error)})") from None
    if not isinstance(record, dict):
        raise RequestError(f"{path}: not a sidecar (a JSON object is)")
    if not isinstance(record.get("request"), dict):
        raise RequestError(
            f"{path}: records no request (written by aea {record.get('aea_version') or 'before 0.2.0'}), "
            "so it cannot be regenerated"
        )
    return record


def regenerate(
    sidecar: str | Path, checkpoint: Checkpoint | None = None, prior: Prior | None = None, cache_dir: Path | None = None
) -> Piece:
    """The piece sidecar `NAME.json` describes, made again; its samples `[samples]` are the ones written to NAME.

    `checkpoint`: the model (default: the one the sidecar names, loaded); `prior`: the prior (default: the one
    the sidecar names), run with the prior settings the sidecar records. Both must be the ones the piece was
    made with (their fingerprints are checked), and sources are read from the paths recorded.
    """
    record = read_sidecar(sidecar)
    checkpoint = checkpoint if checkpoint is not None else load_checkpoint(record["model"])
    if record.get("model_fingerprint") != checkpoint.fingerprint:
        raise RequestError(
            f"{sidecar}: made by model {record.get('model_fingerprint')}, not by this one ({checkpoint.fingerprint})"
        )
    request = request_from_record(record["request"], cache_dir)
    if STDIN_NAME in map(str, request.sources):
        raise RequestError(f"{sidecar}: made from a song piped to stdin, which was not kept; it cannot be regenerated")
    if request.method in ("prior", "gaussian") and request.n > 1:  # piece i depends on seed + i only
        request = dataclasses.replace(request, seed=record["seed"], n=1)
    if request.method == "prior":
        prior = _recorded_prior(sidecar, record, checkpoint, prior)
    pieces = generate_pieces(checkpoint, request, prior=prior).pieces
    key = "step" if "step" in record else "index"
    piece = pieces[0] if len(pieces) == 1 else next((p for p in pieces if p.metadata.get(key) == record.get(key)), None)
    if piece is None:
        raise RequestError(f"{sidecar}: the request makes no piece of {key} {record.get(key)}")
    piece.metadata.update({name: record[name] for name in ("index", "n", "request") if name in record})
    return piece


def _recorded_prior(sidecar: str | Path, record: dict[str, Any], checkpoint: Checkpoint, prior: Prior | None) -> Prior:
    """The prior the piece was made with, set as the sidecar records."""
    prior = prior if prior is not None else find_prior(checkpoint, Path(record["prior"]))
    if prior is None or prior.fingerprint != record.get("prior_fingerprint"):
        found = prior.fingerprint if prior is not None else "none"
        raise RequestError(f"{sidecar}: made with prior {record.get('prior_fingerprint')}, not {found}", "prior")
    try:
        settings = PriorConfig(**record.get("prior_settings", {}))
    except (TypeError, ConfigError) as error:
        raise RequestError(f"{sidecar}: prior settings this aea cannot use ({first_line(error)})") from None
    return dataclasses.replace(prior, config=settings)
