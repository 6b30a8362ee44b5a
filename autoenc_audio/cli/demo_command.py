"""`aea demo`: the whole pipeline on the built-in corpus, for `make demo`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import counted
from ..metric_info import format_value
from .common import FolderPath, cache_dir_option, json_option, print_json, print_table, progress_bar
from .params import FiniteFloat
from .train_commands import ConsoleReporter, PriorConsoleReporter

if TYPE_CHECKING:
    from ..demo import DemoResult

SCORE_COLUMNS = ("c2st", "fd", "tonal", "continuity", "rhythm", "copied")


@click.command()
@click.option(
    "--out",
    type=FolderPath(),
    default=Path("runs/demo"),
    show_default=True,
    help="Folder for the run and its outputs.",
)
@click.option("--config", "config_file", default="demo", show_default=True, help="Config file or preset name.")
@click.option(
    "--minutes",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Training budget [default: the config's].",
)
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out (make demo does).")
@cache_dir_option
@json_option
def demo(out: Path, config_file: str, minutes: float | None, overwrite: bool, cache_dir: Path, as_json: bool) -> None:
    """Build the built-in corpus, train a model on it, reconstruct, generate and plot.

    Writes under --out: the run (checkpoints, history, summary), a held-out
    clip and its reconstruction with metrics, an average of one style, a random
    sample, an interpolation between two held-out songs, figures, the run page
    (index.html) and the explore page (explore/index.html, where the decoder
    runs in the browser; skipped, saying why, when its runtime is not
    vendored). A run already in --out is kept unless --overwrite says to
    replace it. --json prints what was written and measured as one JSON line.

    \b
    Example:
      aea demo --out runs/demo --minutes 1 --overwrite
      aea demo --minutes 1 --overwrite --json | jq .reconstruction.metrics
    """
    from ..config import load_config
    from ..demo import run_demo
    from ..training.run import describe_budget

    config = load_config(config_file).with_budget(minutes, None)
    with contextlib.ExitStack() as corpus_stage:
        bar = corpus_stage.enter_context(progress_bar("building the built-in corpus"))

        def show_corpus(corpus: Path, summary: dict) -> None:
            corpus_stage.close()  # the corpus bar ends here: training shows its own progress
            rows = [
                (label, str(r["tracks"]), str(r["clips"]), f"{r['seconds'] / 60:.1f}")
                for label, r in sorted(summary["labels"].items())
            ]
            if not as_json:
                print_table(f"built-in corpus: {corpus}", rows, ("label", "tracks", "clips", "minutes"))
            click.echo(
                f"training {config.model.arch} model, latent {config.model.latent}, for "
                f"{describe_budget(config.train)} into {out}",
                err=True,
            )

        result = run_demo(
            config,
            out,
            cache_dir,
            reporter=ConsoleReporter(),
            corpus_progress=bar,
            on_corpus=show_corpus,
            overwrite=overwrite,
            prior_reporter=PriorConsoleReporter(),
        )
    if as_json:
        for note in result.notes:
            click.echo(f"aea: {note}", err=True)
        print_json(_record(result))
    else:
        _print_result(result, out)


def _print_result(result: DemoResult, out: Path) -> None:
    """The tables for people: what was written and measured, then how the pieces score; notes on stderr."""
    rows = [
        ("run", str(out)),
        ("latent", result.training["latent_layout"]),
        ("train time", f"{result.training['wall_seconds']:.0f} s, {counted(result.training['epochs'], 'epoch')}"),
    ]
    rows += [(f"held-out {k}", f"{v:.3f}") for k, v in (result.reconstruction.metrics or {}).items()]
    rows += [
        ("audio", _names(result.audio)),
        ("figures", _names(result.figures)),
        ("model", "best.safetensors, last.safetensors, history.jsonl, summary.json"),
    ]
    print_table(f"demo: reconstruction of held-out {Path(result.held_out).name}", rows, ("what", "value"))
    for note in result.notes:
        click.echo(f"aea: {note}", err=True)
    score = [
        (row["name"].split("/")[-1], str(row["clips"]), *(format_value(row[key], 2) for key in SCORE_COLUMNS))
        for row in result.score
    ]
    if score:
        print_table(
            "demo: is it music? (aea score against held-out clips; docs/scoring.md)",
            score,
            ("name", "clips", *SCORE_COLUMNS),
        )
    if result.explore:
        click.echo(f"explore {result.explore}")
    if result.page:
        click.echo(f"page {result.page}")


def _record(result: DemoResult) -> dict[str, Any]:
    """The demo's outputs and figures as one JSON object: the run, its training summary, the held-out
    reconstruction and its metrics, the audio, figures, score rows and pages."""
    return {
        "run_dir": str(result.run_dir),
        "training": result.training,
        "held_out": result.held_out,
        "reconstruction": {"path": result.reconstruction.path, "metrics": result.reconstruction.metrics},
        "audio": result.audio,
        "figures": result.figures,
        "score": result.score,
        "notes": result.notes,
        "page": result.page,
        "explore": result.explore,
    }


def _names(paths: list[str]) -> str:
    return ", ".join(Path(path).name for path in paths)


COMMANDS = [demo]
