"""`aea analyze` and `aea sweep`: what the latents hold, and how quality depends on their size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..metric_info import format_value
from .common import (
    FolderPath,
    cache_dir_option,
    chosen_model,
    device_option,
    json_option,
    print_json,
    print_table,
    progress_bar,
)
from .params import SEED, FiniteFloat, NonEmptyPath


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    type=NonEmptyPath(path_type=Path),
    help="Checkpoint or run folder; repeat to compare sizes [default: $AEA_MODEL, else the latest run].",
)
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Folder of songs, labels from sub-folders [default: the data the model was trained on].",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=FolderPath(),
    required=True,
    help="Report folder: report.md, analysis.json, index.html, figures (a new one or an earlier analysis's).",
)
@click.option(
    "--max-clips",
    type=click.IntRange(min=10),
    default=4000,
    show_default=True,
    help="At most this many clips per model, evenly spread over the splits.",
)
@click.option(
    "--cv-folds",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Folds of the probes' cross-validation, stratified by label and grouped by track (0: off).",
)
@click.option("--tsne/--no-tsne", default=True, show_default=True, help="Draw a t-SNE map (at most 1500 clips).")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Clips per encoding batch."
)
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True, help="Figure format."
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of k-means, t-SNE and tree probes.")
@click.option(
    "--audio-format",
    type=click.Choice(["wav", "flac", "mp3"]),
    default="wav",
    show_default=True,
    help="Format of the neighbour clips the page plays.",
)
@cache_dir_option
@json_option
def analyze(
    models: tuple[Path, ...],
    data_root: Path | None,
    out_dir: Path,
    max_clips: int,
    cv_folds: int,
    tsne: bool,
    batch_size: int,
    fmt: str,
    seed: int,
    audio_format: str,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Analyse latent vectors: PCA, k-means, label probes against baselines, latent statistics.

    Encodes the dataset (train/validation/test split by track, as in training)
    and compares the latent with the raw waveform, log-mel statistics and
    chance. Several --model give one comparison table across latent sizes.
    Writes report.md, analysis.json and index.html, a page with every table
    and figure where the nearest-neighbour lists are players.

    \b
    Example:
      aea analyze --model runs/n9184 --model runs/n18376 --data genres/ -o analysis/
    """
    from ..analysis.analyse import run_analysis

    paths = [chosen_model(model, cache_dir)[0] for model in models or (None,)]
    analysis = run_analysis(
        paths,
        data_root,
        cache_dir,
        out_dir,
        max_clips=max_clips,
        batch_size=batch_size,
        tsne=tsne,
        cv_folds=cv_folds,
        fmt=fmt,
        seed=seed,
        progress_factory=progress_bar,
        message=lambda text: click.echo(f"aea: {text}", err=True),
        audio_format=audio_format,
    )
    _print_analysis(analysis, as_json)


def _print_analysis(analysis: dict[str, Any], as_json: bool) -> None:
    """The files, the comparison and the time as one JSON line, or the probes' table (a row per model, named by its
    run, as two models of one size may be compared) and the files."""
    if as_json:
        print_json(
            {
                "report": analysis["report"],
                "page": analysis["page"],
                "comparison": analysis["comparison"],
                "seconds": analysis["seconds"],
            }
        )
        return
    rows = []
    for row in analysis["comparison"]:
        rows.append(
            (
                str(row.get("run", "")),
                str(row["latent_size"]),
                format_value(row.get("latent_logistic")),
                format_value(row.get("latent_pooled_logistic")),
                format_value(row.get("raw_waveform_logistic")),
                format_value(row.get("log_mel_logistic")),
                format_value(row.get("latent_tree")),
                format_value(row.get("latent_homogeneity")),
                format_value(row.get("chance_majority")),
            )
        )
    print_table(
        "label probes: test accuracy (logistic unless marked)",
        rows,
        ("run", "N", "latent", "pooled", "raw wave", "log-mel", "latent tree", "homogeneity", "chance"),
    )
    click.echo(f"report: {analysis['report']}")
    click.echo(f"page: {analysis['page']}")


@click.command()
@click.option("--latents", "latent_list", required=True, help="Comma-separated latent sizes, e.g. 55112,18376,9184.")
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Folder of songs [default: the built-in corpus].",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=FolderPath(),
    required=True,
    help="Sweep folder: one run per size, report.md, sweep.json, figures, audio/ (a new one or an earlier sweep's).",
)
@click.option(
    "--minutes-per-model",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Training budget of each model in minutes.",
)
@click.option(
    "--steps-per-model",
    type=click.IntRange(min=1),
    default=None,
    help="Training budget of each model in optimiser steps: the same for every size however busy the machine.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs per model [default: the config's].")
@click.option("--arch", type=click.Choice(["default", "seed"]), default=None, help="Architecture of every model.")
@click.option("--kind", type=click.Choice(["ae", "vae"]), default=None, help="Plain or variational.")
@click.option("--config", "config_file", default=None, help="TOML config file or preset name; flags override it.")
@click.option("--seed", type=SEED, default=None, help="Training seed (the same for every size).")
@device_option("Where to train.")
@click.option(
    "--criterion",
    type=click.Choice(["mrstft", "mel_l1", "snr_db", "si_sdr_db", "lsd_db"]),
    default="mrstft",
    show_default=True,
    help="Metric of the proposal rule.",
)
@click.option(
    "--tolerance",
    type=FiniteFloat(min=0),
    default=0.10,
    show_default=True,
    help="How far from the largest N the proposal may be: relative for distances, dB for SNR/SI-SDR.",
)
@click.option(
    "--listen",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Held-out clips the page and report let you hear at every size.",
)
@click.option(
    "--audio-format",
    type=click.Choice(["wav", "flac", "mp3"]),
    default="wav",
    show_default=True,
    help="Format of those clips (mp3 keeps the page small).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True, help="Figure format."
)
@cache_dir_option
@json_option
def sweep(
    latent_list: str,
    data_root: Path | None,
    out_dir: Path,
    minutes_per_model: float | None,
    steps_per_model: int | None,
    epochs: int | None,
    arch: str | None,
    kind: str | None,
    config_file: str | None,
    seed: int | None,
    device: str | None,
    criterion: str,
    tolerance: float,
    listen: int,
    audio_format: str,
    fmt: str,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Train one model per latent size and chart reconstruction quality against N.

    Same data, budget and seed for every size; every model and the resample
    and frame-PCA references are scored on the same test clips. Proposes the
    smallest N within --tolerance of the largest. Writes report.md, sweep.json
    and index.html, a page to listen down the sizes (--listen clips, each at
    every N, with spectrograms, metrics and the chart). Re-running reuses
    finished models and resumes interrupted ones.

    \b
    Examples:
      aea sweep --latents 55112,32151,24496,18376,9184 --minutes-per-model 10 -o sweeps/a
      aea sweep --latents 55112,32151,24496,18376,9184 --steps-per-model 3000 --data genres/ -o sweeps/b
      aea sweep --latents 36752,18376,9184 --listen 3 --audio-format mp3 -o sweeps/a
    """
    from ..config import load_config
    from ..quality.sweep import ProposalRule, SweepBudget, SweepOutputs, parse_latents, run_sweep
    from .train_commands import ConsoleReporter

    sizes = parse_latents(latent_list)
    config = load_config(config_file).override(
        model={"arch": arch, "kind": kind}, train={"seed": seed, "device": device}
    )
    result = run_sweep(
        sizes,
        out_dir,
        cache_dir,
        config,
        data_root,
        SweepBudget(minutes_per_model, epochs, steps_per_model),
        ProposalRule(criterion, tolerance),
        reporter=ConsoleReporter(),
        message=lambda text: click.echo(f"aea: {text}", err=True),
        outputs=SweepOutputs(fmt, listen, audio_format),
    )
    _print_sweep(result, as_json)


def _print_sweep(result: dict[str, Any], as_json: bool) -> None:
    """The models, references and proposal as one JSON line, or a table per size, the proposal and the files."""
    proposal = result["proposal"]
    if as_json:
        print_json(
            {
                "report": result["report"],
                "page": result["page"],
                "models": result["models"],
                "references": result["references"],
                "references_left_out": result["references_left_out"],
                "proposal": proposal,
            }
        )
        return
    rows = [
        (
            str(r["latent"]),
            f"{r['compression']:.1f}:1",
            f"{r['parameters']:,}" if r.get("parameters") else "–",
            f"{r['snr_db']:.2f}",
            f"{r['si_sdr_db']:.2f}",
            f"{r['mrstft']:.3f}",
            f"{r['mel_l1']:.3f}",
            format_value(r.get("train_seconds"), 0),
        )
        for r in result["models"]
    ]
    print_table(
        f"sweep ({result['test_clips']} test clips)",
        rows,
        ("N", "ratio", "params", "SNR dB", "SI-SDR dB", "MR-STFT", "mel", "train s"),
    )
    click.echo(f"proposed N = {proposal['latent']}; rule: {proposal['rule']}")
    click.echo(f"report: {result['report']}")
    click.echo(f"page: {result['page']}")


COMMANDS = [analyze, sweep]
