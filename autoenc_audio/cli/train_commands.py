"""`aea train` and `aea info`: making models and describing them."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import Config, TrainConfig, load_config
from ..errors import counted
from ..metric_info import METRIC_NAMES, held_out_split
from ..runs.folder import record_latest_run
from .after_training import train_on_line, warn_outputs_left_behind
from .common import (
    FolderPath,
    audio_options,
    cache_dir_option,
    device_option,
    is_tty,
    json_option,
    model_argument_or_option,
    model_option,
    open_chosen_model,
    print_json,
    print_table,
    progress_bar,
    stderr_console,
)
from .params import SEED, FiniteFloat, NonEmptyPath
from .train_resume import resumed_config

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from .common import CountingBar


class ConsoleReporter:
    """A progress bar per epoch on a terminal; one plain line per epoch otherwise (all on stderr)."""

    def __init__(self) -> None:
        self.console = stderr_console()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def message(self, text: str) -> None:
        click.echo(f"aea: {text}", err=True)

    def start_epoch(self, epoch: int, steps: int, done: int) -> None:
        if not is_tty():
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn(f"epoch {epoch}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, completed=done, loss=float("nan"))

    def advance(self, metrics: dict[str, float]) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, loss=metrics["loss"])

    def end_epoch(self, record: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        click.echo(
            f"epoch {record['epoch']:>3}  train {record.get('train_loss', float('nan')):.4f}  "
            f"val {record['val_loss']:.4f}  snr {record['val_snr_db']:.2f} dB  mrstft {record['val_mrstft']:.3f}  "
            f"mel {record['val_mel_l1']:.3f}  {record['clips_per_second']:.1f} clips/s"
            + ("  *best" if record.get("best") else ""),
            err=True,
        )


def _strip_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        out.append(arg)
    return out


@click.command()
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Folder of songs, labels from sub-folders [default: the built-in corpus].",
)
@click.option(
    "--latent",
    type=click.IntRange(min=1),
    default=None,
    help="Exact number of latent values per clip, up to the clip's samples; the default model needs one per "
    "2048 samples (55 on 5 s clips) [default: 18376].",
)
@click.option(
    "--arch",
    type=click.Choice(["default", "seed"]),
    default=None,
    help="default: our model; seed: the original 3-layer model.",
)
@click.option(
    "--kind", type=click.Choice(["ae", "vae"]), default=None, help="Plain or variational autoencoder [default: ae]."
)
@click.option(
    "--config",
    "config_file",
    default=None,
    help="TOML config file or preset name (default, seed, seed-55112, spectral, demo, tiny); flags override it.",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help=f"Number of epochs [default: {TrainConfig().epochs}]."
)
@click.option(
    "--minutes",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Wall-clock budget; stops cleanly at its end.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help="Optimiser-step budget: the same training on a busy machine as on a quiet one.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help=f"Clips per batch, per process [default: {TrainConfig().batch_size}].",
)
@click.option(
    "--lr",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help=f"Adam learning rate [default: {TrainConfig().lr:g}].",
)
@click.option("--seed", type=SEED, default=None, help="Random seed (same seed, data and device: same weights on CPU).")
@click.option(
    "--out",
    "out",
    type=FolderPath(),
    default=None,
    help="Run folder [default: runs/DATE-ARCH-KIND-N].",
)
@device_option("Where to train [default: auto].")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its last checkpoint; a finished run given a larger --epochs or --minutes "
    "trains on, with a fresh learning-rate schedule over the added budget. --device, --workers and --compile are "
    "taken (exactly the same weights only on the same device); flags that change the model or data are ignored.",
)
@click.option(
    "--overwrite", is_flag=True, help="Start again in an --out that already holds a run (its checkpoints are replaced)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help=f"Data-loading processes [default: {TrainConfig().workers}: load in the training process].",
)
@click.option("--compile", "compile_model", is_flag=True, default=None, help="torch.compile the model (CUDA only).")
@click.option("--nproc", type=click.IntRange(min=1), default=None, help="Launch K processes with torchrun (DDP).")
@audio_options
@cache_dir_option
@json_option
def train(
    data_root: Path | None,
    latent: int | None,
    arch: str | None,
    kind: str | None,
    config_file: str | None,
    epochs: int | None,
    minutes: float | None,
    steps: int | None,
    batch_size: int | None,
    lr: float | None,
    seed: int | None,
    out: Path | None,
    device: str | None,
    resume: bool,
    overwrite: bool,
    workers: int | None,
    compile_model: bool,
    nproc: int | None,
    sample_rate: int | None,
    clip_seconds: float | None,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Train an autoencoder whose latent vector has exactly --latent values.

    Writes RUN_DIR/{best,last}.safetensors, history.jsonl, summary.json and
    config.toml. Ctrl-C saves; --resume continues exactly where it stopped.
    A run whose validation loss was still falling at its end says so in one
    line, with the command that trains it on.

    \b
    Examples:
      aea train --latent 18376 --minutes 10
      aea train --resume --out runs/x --minutes 20
      aea train --data genres/ --steps 3000
      aea train --data genres/ --arch seed --config seed --epochs 40
      aea train --nproc 2 --config tiny --out runs/ddp
    """
    from ..training.loop import train as run_training
    from ..training.run import SilentReporter

    if resume:
        config, data_root = resumed_config(out, data_root, (minutes, epochs, steps), click.get_current_context().params)
    else:
        config = (
            load_config(config_file)
            .override(
                audio={"sample_rate": sample_rate, "clip_seconds": clip_seconds},
                model={"latent": latent, "arch": arch, "kind": kind},
                train={
                    "batch_size": batch_size,
                    "lr": lr,
                    "seed": seed,
                    "device": device,
                    "workers": workers,
                    "compile": compile_model,
                },
            )
            .with_budget(minutes, epochs, steps)
        )
    out = out if out is not None else _new_run_dir(config)
    if nproc and nproc > 1 and "WORLD_SIZE" not in os.environ:
        raise SystemExit(_launch_torchrun(config, out, resume, overwrite, nproc))
    main_process = int(os.environ.get("RANK", "0")) == 0
    reporter = ConsoleReporter() if main_process else SilentReporter()
    summary = run_training(
        config, out, cache_dir, data_root=data_root, resume=resume, reporter=reporter, overwrite=overwrite
    )
    if main_process:
        record_latest_run(cache_dir, out)
        _print_training_summary(out, summary, as_json)
        if summary.get("still_improving") and not as_json:
            click.echo(train_on_line(out, summary, config), err=True)
        if resume or overwrite:
            warn_outputs_left_behind(out, "resume" if resume else "overwrite")


def _new_run_dir(config: Config) -> Path:
    """`runs/DATE-ARCH-KIND-N` in the working folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{config.model.arch}-{config.model.kind}-{config.model.latent}"


def _launch_torchrun(config: Config, out: Path, resume: bool, overwrite: bool, nproc: int) -> int:
    """`--nproc K`: check the run once here, then run this same command in K processes under torchrun; its exit code."""
    from ..runs.lock import hold_run, holder_environment
    from ..training.run import prepare_run
    from .torchrun import run_job, torchrun_command

    # held until the ranks end: a busy folder and bad settings fail here, once, and no other aea train can take
    # the folder while torchrun starts; the ranks find it theirs through the environment
    with hold_run(out, "training") as lock:
        prepare_run(config, out, resume, overwrite)
        command = torchrun_command(nproc, [*_strip_nproc(sys.argv[1:]), "--out", str(out)])
        return run_job(command, {**os.environ, **holder_environment(lock)})


def _print_training_summary(out: Path, summary: dict[str, Any], as_json: bool) -> None:
    """The summary as one JSON line, or a table of the run, its size, its time and its test metrics."""
    if as_json:
        print_json({"run_dir": str(out), **summary})
        return
    test = summary.get("test", {})
    rows = [
        ("run", str(out)),
        ("latent", summary["latent_layout"]),
        ("parameters", f"{summary['parameters']:,}"),
        ("epochs / steps", f"{summary['epochs']} / {summary['steps']}"),
        ("train time", f"{summary['wall_seconds']:.0f} s ({summary['clips_per_second']:.1f} clips/s)"),
    ]
    split = held_out_split(summary)  # "validation" when the data had no test track
    rows += [(f"{split} {name}", f"{test[name]:.3f}") for name in METRIC_NAMES if name in test]
    print_table("training summary", rows, ("what", "value"))


PRIOR_LINE_SECONDS = 5.0
"""At most one line per this many seconds of prior training."""


class PriorConsoleReporter:
    """A progress bar per epoch on a terminal; one plain line per epoch on stderr."""

    def __init__(self) -> None:
        self.bar: CountingBar | None = None
        self.printed = -math.inf

    def message(self, text: str) -> None:
        click.echo(f"aea: {text}", err=True)

    def progress(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = progress_bar("prior").__enter__()
        self.bar(done, total)

    def end_epoch(self, record: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
        if time.monotonic() - self.printed < PRIOR_LINE_SECONDS:  # epochs of a small memory take well under a second
            return
        self.printed = time.monotonic()
        click.echo(
            f"prior epoch {record['epoch']:>3}  train {record['train_loss']:.4f}  val {_loss(record['val_loss'])}",
            err=True,
        )


@click.command("train-prior")
@model_option
@click.option(
    "--minutes",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Wall-clock budget [default: the epochs decide].",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Epochs over the memory [default: [prior] epochs of the run's config].",
)
@click.option(
    "--memory-clips",
    type=click.IntRange(min=1),
    default=None,
    help="Training clips the prior keeps [default: [prior] memory_clips of the run's config: 1024 unless it sets "
    "one; the tiny preset 64, demo 512].",
)
@click.option(
    "--patience",
    type=click.IntRange(min=0),
    default=None,
    help="Stop when validation has not improved for this many epochs; 0 never stops early "
    "[default: [prior] patience of the run's config, 20 unless it sets one; with --resume, the prior's own].",
)
@click.option("--seed", type=SEED, default=None, help="Seed of the model's initialisation and batches.")
@device_option("Where to train [default: auto].")
@click.option("--resume", is_flag=True, help="Continue the run's prior exactly where it stopped.")
@click.option("--overwrite", is_flag=True, help="Replace a prior the run already has.")
@cache_dir_option
@json_option
def train_prior(
    model: Path | None,
    minutes: float | None,
    epochs: int | None,
    memory_clips: int | None,
    patience: int | None,
    seed: int | None,
    device: str | None,
    resume: bool,
    overwrite: bool,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Fit a prior over the latent frame sequences of a run's training music.

    Encodes up to --memory-clips training clips into a memory of latent
    frames and trains a recurrent model of how their phase-free features go
    on; 'aea generate' then walks over the memory to make music of any length.
    Saved as RUN/prior.safetensors, holding the epoch with the best
    validation loss; training stops when validation has not improved for
    --patience epochs. Ctrl-C saves, --resume continues exactly.

    \b
    Examples:
      aea train-prior --model runs/demo --minutes 2
      aea train-prior --model runs/demo --minutes 5 --patience 50
      aea train-prior --model runs/demo --resume --epochs 60
    """
    from ..prior.header import prior_path, read_prior_metadata
    from ..prior.train import train_prior as fit_prior

    checkpoint = open_chosen_model(model, cache_dir, device or "auto")
    if resume and patience is None and prior_path(checkpoint.path.parent).exists():  # keep the prior's own
        patience = (read_prior_metadata(prior_path(checkpoint.path.parent)).get("config") or {}).get("patience")
    config = checkpoint.config.override(
        prior={"minutes": minutes, "memory_clips": memory_clips, "seed": seed, "device": device, "patience": patience}
    )
    budget = {"epochs": epochs} if epochs is not None else ({"epochs": None} if minutes is not None else {})
    prior_config = dataclasses.replace(config.prior, **budget)
    prior = fit_prior(
        checkpoint,
        checkpoint.path.parent,
        prior_config,
        cache_dir,
        resume=resume,
        reporter=PriorConsoleReporter(),
        overwrite=overwrite,
    )
    last = prior.history[-1] if prior.history else {}
    summary = {
        "prior": str(prior.path),
        "epochs": prior.epoch,
        "steps": prior.step,
        "memory_clips": prior.memory.clips,
        "train_loss": last.get("train_loss"),
        "val_loss": last.get("val_loss"),  # NaN without validation clips: null in --json (print_json)
        "kept_epoch": prior.kept.get("epoch"),
        "kept_val_loss": prior.kept.get("val_loss"),
        "stopped": prior.kept.get("stopped"),
    }
    if as_json:
        print_json(summary)
        return
    shown = {**summary, "val_loss": _loss(summary["val_loss"]), "kept_val_loss": _loss(summary["kept_val_loss"])}
    print_table("prior", [(key, str(value)) for key, value in shown.items()], ("what", "value"))


@click.command()
@click.argument("argument", metavar="[MODEL]", required=False, type=NonEmptyPath(path_type=Path))
@model_option
@cache_dir_option
@json_option
def info(argument: Path | None, model: Path | None, cache_dir: Path, as_json: bool) -> None:
    """Describe a checkpoint: architecture, latent shape, parameters, preprocessing, data, metrics.

    MODEL or --model: a checkpoint or run folder; with neither, the current
    model ($AEA_MODEL, else the latest 'aea train' run). The first row says
    which it is and where that came from.

    \b
    Examples:
      aea info --model runs/demo
      aea info runs/demo/best.safetensors --json
    """
    from ..checkpoints.header import read_metadata, verify_weights

    path, source = model_argument_or_option(argument, model, cache_dir)
    metadata = read_metadata(path)
    verify_weights(path)  # as every command that uses the model does
    if as_json:
        from ..prior.header import prior_path, read_prior_metadata

        prior = read_prior_metadata(prior_path(path.parent)) if prior_path(path.parent).exists() else None
        print_json({"path": str(path), "source": source, **metadata, "prior": prior})
        return
    config = metadata.get("config", {})
    layout = metadata.get("latent", {})
    extra = metadata.get("info", {})
    model_section = config.get("model", {})
    rows = [
        ("checkpoint", f"{path} (from {source})"),
        (
            "architecture",
            f"{model_section.get('arch')} / {model_section.get('kind')}"
            + (f": {layout['arch']}" if layout.get("arch") else ""),
        ),
        ("latent", str(layout.get("description", layout.get("size")))),
        ("parameters", f"{metadata.get('file', {}).get('parameters', 0):,}"),
        ("fingerprint", str(metadata.get("weights_fingerprint"))),
        ("preprocessing", _describe_preprocessing(metadata.get("preprocessing", {}))),
        ("labels", ", ".join(metadata.get("labels", [])) or "(none)"),
    ]
    data_summary = extra.get("data")
    if data_summary:
        tracks, clips = data_summary["tracks"], data_summary["clips"]
        rows.append(("training data", data_summary["root"]))
        rows.append(
            (
                "split (train/val/test)",
                f"{tracks['train']}/{tracks['validation']}/{tracks['test']} tracks, "
                f"{clips['train']}/{clips['validation']}/{clips['test']} clips",
            )
        )
    summary = extra.get("summary") or {}
    if summary:
        rows.append(
            (
                "training",
                f"{counted(summary['epochs'], 'epoch')}, {summary['wall_seconds']:.0f} s, "
                f"{summary['clips_per_second']:.1f} clips/s",
            )
        )
    for name in METRIC_NAMES:
        if name in (extra.get("test") or {}):
            rows.append((f"{held_out_split(extra)} {name}", f"{extra['test'][name]:.3f}"))
    rows += _prior_rows(path)
    print_table("aea model", rows, ("what", "value"))


def _prior_rows(checkpoint_path: Path) -> list[tuple[str, str]]:
    """What `aea info` says of the prior beside a checkpoint (nothing when there is none)."""
    from ..prior.header import prior_left_behind, prior_path, read_prior_metadata

    path = prior_path(Path(checkpoint_path).parent)
    if not path.exists():
        return [("prior", "(none: 'aea train-prior' fits one)")]
    prior = read_prior_metadata(path)
    progress, history, kept = prior.get("progress") or {}, prior.get("history") or [], prior.get("kept") or {}
    last = f", val loss {_loss(history[-1]['val_loss'], 3)}" if history else ""
    if isinstance(kept.get("val_loss"), (int, float)):
        last += f", keeps epoch {kept.get('epoch')} (val loss {kept['val_loss']:.3f})"
    data = prior["data"]
    rows = [
        (
            "prior",
            f"{path}: {counted(progress.get('epoch', 0), 'epoch')}{last}, memory of {counted(data.get('clips'), 'clip')} "
            f"from {counted(data.get('tracks'), 'track')}, fingerprint {prior.get('fingerprint')}",
        )
    ]
    if kept.get("stopped"):  # why training stopped, as `aea train-prior` said it (older priors may lack it)
        rows.append(("prior stopped", str(kept["stopped"])))
    if prior_left_behind(path.parent) is not None:
        rows.append(
            (
                "prior fits",
                f"no: the run's model was trained on or again since, or the prior is another model's; "
                f"aea train-prior --model {path.parent} --overwrite",
            )
        )
    return rows


def _loss(value: Any, digits: int = 4) -> str:
    """A prior's validation loss, or "none (no validation clips)" for the NaN of a memory too small to hold any."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.{digits}f}"
    return "none (no validation clips)"


def _describe_preprocessing(pre: dict[str, Any]) -> str:
    if not pre:
        return "?"
    seconds = pre.get("clip_samples", 0) / max(pre.get("sample_rate", 1), 1)
    return f"{'mono' if pre.get('mono', True) else 'multi-channel'}, {pre.get('sample_rate')} Hz, {seconds:g} s clips"


COMMANDS = [train, train_prior, info]
