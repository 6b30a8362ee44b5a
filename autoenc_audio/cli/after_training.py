"""What `aea train` says after a run, on stderr: that more training would help, and how; what in the run a
resume left behind."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from ..config import Config
from ..runs.folder import RunFiles


def train_on_line(out: Path, summary: dict[str, Any], config: Config) -> str:
    """The end-of-run line of a run whose validation loss was still falling: the fall, and the command that trains
    it on to twice its budget (a fresh learning-rate schedule over the added half), in the budget's own unit."""
    fall = summary["validation_fall"]
    settings = config.train
    doubled = [f"--epochs {2 * settings.epochs}"] if settings.epochs is not None else []
    doubled += [f"--minutes {2 * settings.minutes:g}"] if settings.minutes is not None else []
    doubled += [f"--steps {2 * settings.steps}"] if settings.steps is not None else []
    budget = " ".join(doubled) or f"--epochs {2 * summary['epochs']}"
    return (
        f"aea: validation loss still fell {fall['relative']:.1%} over the last {fall['epochs']} epochs: more "
        f"training would likely help; train on with a fresh learning-rate schedule: "
        f"aea train --resume --out {shlex.quote(str(out))} {budget}"
    )


def warn_outputs_left_behind(out: Path, how: str) -> None:
    """After `--resume` or `--overwrite` (`how`): the run's prior and explore pages were made from the weights
    before it (generation refuses such a prior); one line each, with the command that makes it again."""
    from ..checkpoints.header import read_metadata
    from ..explore.site import stale_pages
    from ..prior.header import prior_left_behind

    run = shlex.quote(str(out))
    if (prior := prior_left_behind(out)) is not None:
        click.echo(
            f"aea: {prior} was trained for the model before this {how} and no longer fits it; train it again: "
            f"aea train-prior --model {run} --overwrite",
            err=True,
        )
    checkpoint = RunFiles(out).checkpoint
    fingerprint = read_metadata(checkpoint).get("weights_fingerprint", "") if checkpoint else ""
    for page in stale_pages(out, fingerprint) if checkpoint else []:
        click.echo(
            f"aea: {page} shows the model before this {how}; write it again: "
            f"aea explore {run} -o {shlex.quote(str(page))} --overwrite",
            err=True,
        )
