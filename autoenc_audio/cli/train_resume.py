"""`aea train --resume`: which flags a resumed run takes, and which it names and ignores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import Config

IGNORED = {
    "latent": "--latent",
    "arch": "--arch",
    "kind": "--kind",
    "config_file": "--config",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "seed": "--seed",
    "sample_rate": "--sample-rate",
    "clip_seconds": "--clip-seconds",
}
"""`aea train`'s parameters that would change the model, its data or its training, by their flags: a resumed run keeps
its own."""

TAKEN = {"device": "device", "workers": "workers", "compile_model": "compile"}
"""`aea train`'s parameters of where and how the same run is computed, by their `[train]` settings: a resumed run
takes them."""


def resumed_config(
    out: Path | None,
    data_root: Path | None,
    budget: tuple[float | None, int | None, int | None],
    params: dict[str, Any],
) -> tuple[Config, Path | None]:
    """`--resume`: the run's own config with the new budget (minutes, epochs, steps) and the `TAKEN` settings among
    `params` (`aea train`'s, as Click parsed them), and the data it was trained on (a different --data is refused,
    but where that folder is gone: a run whose data moved resumes on it, and records it); the `IGNORED` flags given
    are named and ignored."""
    from ..runs.folder import RunError, config_for_resume, data_root_of_run

    if out is None:
        raise click.UsageError("--resume needs --out RUN_DIR (the run to continue)")
    config = (
        config_for_resume(out)
        .with_budget(*budget)
        .override(train={setting: params.get(name) for name, setting in TAKEN.items()})
    )
    trained_on = data_root_of_run(out)
    moved = trained_on is not None and not trained_on.exists()  # a --data is then where it went; the split is checked
    if moved and data_root is None:
        raise RunError(f"{out} was trained on {trained_on}, which is not there; give --data with the moved folder")
    if not moved and data_root is not None and (trained_on is None or Path(data_root).resolve() != trained_on):
        raise click.UsageError(f"--resume: {out} was trained on {trained_on or 'the built-in corpus'}, not {data_root}")
    given = [flag for name, flag in IGNORED.items() if params.get(name) is not None]
    if given:
        click.echo(f"aea: --resume keeps the run's own settings; ignoring {', '.join(given)}", err=True)
    return config, data_root if moved else trained_on
