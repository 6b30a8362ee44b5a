"""`aea score`: is generated audio music? Sets scored against held-out real clips, beside two controls."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import counted
from .common import cache_dir_option, chosen_model, is_tty, json_option, print_json, print_table, stdin_file
from .params import SEED, NonEmptyPath

COLUMNS = ("name", "kind", "clips", "c2st", "fd", "tonal", "continuity", "rhythm", "flatness", "copied")
DECIMALS = {"c2st": 2, "fd": 1, "tonal": 3, "continuity": 2, "rhythm": 2, "flatness": 3, "copied": 2}


def _cell(column: str, value: object) -> str:
    if value is None:
        return "–"
    if column in DECIMALS:
        return f"{value:.{DECIMALS[column]}f}"
    return str(value)


@click.command()
@click.argument("generated", nargs=-1, required=True, type=NonEmptyPath(path_type=Path))
@click.option(
    "--model",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Score against the held-out clips of the data this checkpoint or run folder was trained on "
    "[default: $AEA_MODEL, else the latest 'aea train' run].",
)
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Score against the held-out clips of this folder instead (aea's default split).",
)
@click.option(
    "--clips",
    type=int,
    default=32,
    show_default=True,
    help="Clips each set is scored on (at least 8; 5 s each; a larger set is subsampled).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the shaped-noise control.")
@cache_dir_option
@json_option
def score(
    generated: tuple[Path, ...],
    model: Path | None,
    data_root: Path | None,
    clips: int,
    seed: int,
    cache_dir: Path,
    as_json: bool,
) -> None:
    """Score audio sets (files or folders) as music against held-out real clips (docs/scoring.md).

    Each GENERATED argument is a set, cut into 5 s clips; - reads one file from stdin. Reported: c2st (0.5:
    a classifier cannot tell the set from real clips, 1.0: trivially told
    apart), fd (Frechet distance of 84 features, lower is better), the mean
    tonal clarity, continuity, rhythm and flatness, and copied (share of 2 s
    windows that copy the training tracks). Beside them come the held-out
    clips themselves and two controls on the same data: the real floor
    (training clips) and shaped noise (music-coloured noise: the thing to beat).

    \b
    Example:
      aea generate --mode random --n 32 -o gen/ && aea score gen/
    """
    from ..scoring.score_sets import score_sets

    if model is not None and data_root is not None:
        raise click.UsageError("give --model or --data, not both")
    checkpoint = None
    if data_root is None:
        checkpoint = chosen_model(model, cache_dir)[0]
    message = (lambda text: click.echo(f"aea: {text}", err=True)) if is_tty() else None
    with stdin_file(generated) as (paths, names):
        report = score_sets(
            paths,
            checkpoint=checkpoint,
            data_root=data_root,
            cache_dir=cache_dir,
            clips=clips,
            seed=seed,
            message=message,
        )
    values = [{column: getattr(row, column) for column in COLUMNS} for row in report.rows]
    for value in values:
        value["name"] = names.get(value["name"], value["name"])  # `<stdin>`, not the temporary file
    if as_json:
        for value in values:
            print_json(value)
        return
    rows = [tuple(_cell(column, value[column]) for column in COLUMNS) for value in values]
    held_out = report.rows[0].clips
    print_table(
        f"aea score: against {counted(held_out, 'held-out clip')} ({counted(report.held_out_tracks, 'test track')}) "
        f"of {report.root}",
        rows,
        COLUMNS,
    )


COMMANDS = [score]
