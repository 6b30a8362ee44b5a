"""`aea report`: a page to listen and look at trained runs."""

from __future__ import annotations

from pathlib import Path

import click

from .common import FolderPath, cache_dir_option, chosen_model, json_option, print_json
from .params import NonEmptyPath


@click.command()
@click.argument("runs", nargs=-1, type=NonEmptyPath(exists=True, path_type=Path))
@click.option(
    "--model",
    "models",
    multiple=True,
    type=NonEmptyPath(path_type=Path),
    help="A run folder or checkpoint, as RUNS are; repeat for several "
    "[default, with no RUNS: $AEA_MODEL, else the latest 'aea train' run].",
)
@click.option(
    "-o",
    "--out",
    type=FolderPath(),
    required=True,
    help="Folder for index.html and its files (one sub-folder per run): a new one or an earlier report's.",
)
@click.option(
    "--audio-format",
    type=click.Choice(["mp3", "flac", "wav"]),
    default="mp3",
    show_default=True,
    help="Format of the page's audio (mp3 keeps pages small).",
)
@click.option(
    "--clips-per-label",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Held-out tracks shown per label.",
)
@click.option(
    "--no-generate", is_flag=True, help="Do not make new pieces with a run's prior (files it holds are shown)."
)
@cache_dir_option
@json_option
def report(
    runs: tuple[Path, ...],
    models: tuple[Path, ...],
    out: Path,
    audio_format: str,
    clips_per_label: int,
    no_generate: bool,
    cache_dir: Path,
    as_json: bool,
) -> None:
    """Write a page for trained runs: curves, held-out clips heard and seen, generated pieces and their scores.

    Per run: the training curves, the centre clip of a held-out track of each
    label (original and reconstruction as players, both spectrograms, the
    metrics), two new 10 s pieces and a score of its prior against held-out
    clips when the run has a prior, and the generated files (in the run folder or
    a sub-folder of it, such as RUN/gen/) and score.json it already holds. A
    score that cannot be made (too few held-out 5 s clips) is skipped, and
    pieces made by other weights than the run's are left out, saying why on
    stderr and on the page. Several runs get a comparison
    table and a section each. The page is one HTML file with no script and no
    network; its files sit beside it in OUT. RUNS and --model both name runs;
    with neither, the current model's run is shown.

    \b
    Examples:
      aea report runs/a -o report/
      aea report runs/a runs/b --audio-format flac --clips-per-label 2 -o report/
      aea report --model runs/a -o report/
    """
    from ..pages.report import ReportRequest, write_report

    chosen = (*runs, *models) or (chosen_model(None, cache_dir)[0],)
    result = write_report(ReportRequest(chosen, out, cache_dir, audio_format, clips_per_label, not no_generate))
    for note in result.notes:  # what the page could not show, and why: also a note on the page
        click.echo(f"aea: {note}", err=True)
    if as_json:
        print_json({"page": str(result.page), "notes": list(result.notes)})
    else:
        click.echo(f"page {result.page}")


COMMANDS = [report]
