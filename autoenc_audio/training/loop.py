"""Training: one `train_step`, epochs with validation, checkpoints, DDP; `run.py` sets a run up or resumes it.

The loop is deliberately short. What makes it safe to interrupt: every epoch
ends with a `last` checkpoint holding the optimiser, RNG and the position in
the epoch, and Ctrl-C saves the same mid-epoch, so `--resume` replays exactly
the batches that remain, in the same order, with the same random draws.
Under `torchrun` the same code runs with DistributedDataParallel; only rank 0
writes files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Subset

from ..checkpoints.checkpoint import (
    load_checkpoint,
    load_training_state,
    rng_state,
    save_checkpoint,
)
from ..config import Config
from ..data import ClipDataset, evenly_spread
from ..errors import TERMINATION_SIGNALS, SavedInterrupt
from ..files import append_text, write_text_atomic
from ..jsonable import json_text
from ..metrics import evaluate
from ..models.base import Autoencoder
from ..runs.folder import RunFiles, iterate_history
from ..runs.lock import hold_run
from ..version import __version__
from .curve import trend_of_history
from .distributed import launched_as_main, shared_clock
from .losses import LOSSES, loss_terms
from .run import Reporter, Run, SilentReporter, as_torch_dataset, start_run

LATENT_STATS_CLIPS = 2048


class TrainingInterrupted(SavedInterrupt):
    """Ctrl-C during training; the run was saved and can be resumed."""


STOP_SIGNALS = (signal.SIGINT, *TERMINATION_SIGNALS)
"""What asks training to stop and save: Ctrl-C, `kill`, `timeout`, `docker stop` and a closed terminal."""


class StopAtBatchBoundary:
    """The first Ctrl-C (or SIGTERM, SIGHUP) asks training to stop after the current step, so the saved
    weights, optimiser and position agree; a second one interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self) -> StopAtBatchBoundary:
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self._handle) for number in STOP_SIGNALS}
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for number, previous in self.previous.items():
            if previous is not None:
                signal.signal(number, previous)


def compute_losses(
    outputs: dict[str, torch.Tensor],
    audio: torch.Tensor,
    weights: dict[str, float],
    kl_scale: float = 1.0,
    *,
    sample_rate: int,
) -> dict[str, torch.Tensor]:
    """Every weighted loss term and their sum `loss`; weights are applied here and only here.

    `sample_rate`: the model's (`config.audio.sample_rate`), where the mel, excess and level terms place their bands;
    required, so that no caller trains on bands placed for another rate.
    """
    recon = outputs["recon"].float()
    names = [name for name, weight in weights.items() if weight and name in LOSSES]
    terms = loss_terms(audio, recon, names, sample_rate=sample_rate)
    if "kl" in outputs and weights.get("kl"):
        terms["kl"] = outputs["kl"].float()
    total = sum(weights[name] * value * (kl_scale if name == "kl" else 1.0) for name, value in terms.items())
    terms["loss"] = total  # type: ignore[assignment]  # sum() of tensors; its int start 0 only with no terms
    return terms


def train_step(
    model: torch.nn.Module,
    audio: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    weights: dict[str, float],
    kl_scale: float,
    grad_clip: float,
    autocast: bool,
    *,
    sample_rate: int,
) -> dict[str, float]:
    """One optimiser step on a batch `[batch, 1, samples]` at `sample_rate` (the model's); returns named metrics."""
    model.train()
    with torch.autocast(audio.device.type, dtype=torch.bfloat16, enabled=autocast):
        outputs = model(audio)
    losses = compute_losses(outputs, audio, weights, kl_scale, sample_rate=sample_rate)
    optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return {name: float(value.detach()) for name, value in losses.items()}


@torch.no_grad()
def evaluate_model(
    model: Autoencoder,
    dataset: ClipDataset,
    weights: dict[str, float],
    batch_size: int,
    device: torch.device,
    sample_rate: int,
) -> dict[str, float]:
    """Mean losses and metrics (SNR, SI-SDR, MR-STFT, mel, LSD) over a split, clip-weighted."""
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    for audio, _ in DataLoader(as_torch_dataset(dataset), batch_size=batch_size, shuffle=False):
        audio = audio.to(device)
        outputs = model(audio)
        values = {k: float(v) for k, v in compute_losses(outputs, audio, weights, sample_rate=sample_rate).items()}
        values.update(evaluate(audio, outputs["recon"], sample_rate=sample_rate))
        for name, value in values.items():
            totals[name] = totals.get(name, 0.0) + value * len(audio)
        count += len(audio)
    return {name: value / max(count, 1) for name, value in totals.items()}


def learning_rate(base: float, schedule: str, progress: float) -> float:
    """Linear warm-up over the first 2 % of training, then constant or cosine down to 5 %."""
    warmup = 0.02
    if progress < warmup:
        return base * max(progress / warmup, 0.01)
    if schedule == "constant":
        return base
    fraction = min(1.0, (progress - warmup) / (1 - warmup))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction)))


@torch.no_grad()
def latent_statistics(
    model: Autoencoder, dataset: ClipDataset, batch_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std `[latent_size]` of training latents (up to 2048 clips, evenly spread)."""
    model.eval()
    picks = evenly_spread(len(dataset), LATENT_STATS_CLIPS, rounded=False)
    subset = Subset(as_torch_dataset(dataset), picks.tolist())
    total = torch.zeros(model.latent_size, dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    for audio, _ in DataLoader(subset, batch_size=batch_size):
        latent = model.encode(audio.to(device)).double().cpu()
        total += latent.sum(0)
        squares += latent.square().sum(0)
        count += len(latent)
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    return mean.float(), std.float()


def epoch_batches(sampler: DistributedSampler, epoch: int, batch_size: int) -> list[list[int]]:
    """This rank's batches of an epoch, a fixed function of (seed, epoch)."""
    sampler.set_epoch(epoch)
    indices = list(sampler)
    return [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]


def train(
    config: Config,
    run_dir: Path,
    cache_dir: Path,
    data_root: Path | None = None,
    resume: bool = False,
    reporter: Reporter | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train a model as `config` says, writing checkpoints, history and summary into `run_dir`.

    A `run_dir` that already holds a run is continued (`resume`) or started
    again (`overwrite`); otherwise RunError, so no finished run is lost.
    `run_dir` is held for the whole run (`runs.lock.hold_run`): RunBusyError
    when another process is training there.
    Returns the summary (test metrics of the best checkpoint, sizes, speed).
    Raises TrainingInterrupted after saving when interrupted with Ctrl-C.
    """
    with hold_run(run_dir, "training") if launched_as_main() else contextlib.nullcontext():
        return _train(config, RunFiles(Path(run_dir)), cache_dir, data_root, resume, reporter, overwrite)


def _train(
    config: Config,
    files: RunFiles,
    cache_dir: Path,
    data_root: Path | None,
    resume: bool,
    reporter: Reporter | None,
    overwrite: bool,
) -> dict[str, Any]:
    run = start_run(config, files, cache_dir, data_root, resume, reporter or SilentReporter(), overwrite)
    run.started = time.perf_counter() - run.state.elapsed_seconds
    with StopAtBatchBoundary() as interrupt:
        try:
            while not run.out_of_budget():
                run_epoch(run, interrupt)
                record = validate(run)
                log_epoch(run, record)  # first: a resume drops records of epochs later than `last`
                save(run)
        except KeyboardInterrupt:
            run.state.elapsed_seconds = time.perf_counter() - run.started
            save(run)
            raise TrainingInterrupted(
                f"interrupted: saved {files.last}; continue with resume=True and run_dir {files.root}",
                settings=("resume=True", "run_dir"),
            ) from None
    try:
        summary = finish(run)
    except KeyboardInterrupt:  # the budget is trained and saved: a resume only tests and writes the summary
        raise TrainingInterrupted(
            f"interrupted while testing: {files.last} is trained and saved; finish with resume=True and run_dir "
            f"{files.root}",
            settings=("resume=True", "run_dir"),
        ) from None
    if run.job.world_size > 1:
        dist.destroy_process_group()
    return summary


def run_epoch(run: Run, interrupt: StopAtBatchBoundary) -> None:
    """The epoch's remaining batches, one `train_step` each; stops early at the time or step budget.

    KeyboardInterrupt after the step in which Ctrl-C was asked for.
    """
    state, settings = run.state, run.config.train
    batches = epoch_batches(run.sampler, state.epoch, settings.batch_size)
    run.reporter.start_epoch(state.epoch + 1, len(batches), state.batch)
    # Its own generator keeps the loader from drawing on the global RNG, which resume restores.
    loader = DataLoader(
        as_torch_dataset(run.train_set),
        batch_sampler=batches[state.batch :],
        num_workers=settings.workers,
        generator=torch.Generator().manual_seed(settings.seed + state.epoch),
    )
    for audio, _ in loader:
        metrics = _step(run, audio.to(run.job.device))
        run.reporter.advance({**metrics, "lr": run.optimizer.param_groups[0]["lr"]})
        if interrupt.requested:
            raise KeyboardInterrupt
        if run.out_of_time() or run.out_of_steps():
            break


def _step(run: Run, audio: torch.Tensor) -> dict[str, float]:
    """One optimiser step on `audio` `[batch, 1, samples]` at the scheduled learning rate and KL weight."""
    state, settings = run.state, run.config.train
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(settings.lr, settings.scheduler, run.progress())
    warm = settings.kl_warmup_epochs
    kl_scale = min(1.0, (state.step / run.steps_per_epoch) / warm) if warm > 0 else 1.0
    metrics = train_step(
        run.network,
        audio,
        run.optimizer,
        run.weights,
        kl_scale,
        settings.grad_clip,
        autocast=run.job.device.type == "cuda",
        sample_rate=run.config.audio.sample_rate,
    )
    if not math.isfinite(metrics["loss"]):
        raise FloatingPointError(
            f"loss became {metrics['loss']} at step {state.step}: lower the learning rate (train.lr)"
        )
    state.batch += 1
    state.step += 1
    state.clips_seen += len(audio) * run.job.world_size
    state.elapsed_seconds = shared_clock(time.perf_counter() - run.started, run.job)
    for name, value in metrics.items():
        state.epoch_sums[name] = state.epoch_sums.get(name, 0.0) + value
    state.epoch_sums["batches"] = state.epoch_sums.get("batches", 0.0) + 1
    return metrics


def validate(run: Run) -> dict[str, Any]:
    """End the epoch: its history record (train means, validation metrics); saves `best` when it improved."""
    state = run.state
    batches = max(state.epoch_sums.pop("batches", 1.0), 1.0)
    train_means = {f"train_{k}": v / batches for k, v in state.epoch_sums.items()}
    validation = evaluate_model(
        run.model,
        run.validation_set,
        run.weights,
        run.config.train.batch_size,
        run.job.device,
        run.config.audio.sample_rate,
    )
    record = {
        "epoch": state.epoch + 1,
        "step": state.step,
        **train_means,
        **{f"val_{k}": v for k, v in validation.items()},
        "lr": run.optimizer.param_groups[0]["lr"],
        "elapsed_seconds": round(state.elapsed_seconds, 2),
        "clips_per_second": state.clips_seen / max(state.elapsed_seconds, 1e-9),
    }
    _refuse_divergence(run, validation["loss"])
    state.epoch += 1
    state.batch = 0
    state.epoch_sums = {}
    if run.job.is_main and validation["loss"] < state.best_loss:
        state.best_loss = validation["loss"]
        run.claim_folder()
        save_checkpoint(
            run.files.best,
            run.model,
            run.config,
            labels=run.data.labels,
            info={**run.info, "epoch": state.epoch, "validation": validation},
        )
        record["best"] = True
    return record


def _refuse_divergence(run: Run, validation_loss: float) -> None:
    """FloatingPointError when the epoch ends with a non-finite validation loss or weights: `_step` checks the loss
    before each update, not what the last update made, and a diverged epoch must not be saved as `best`, recorded as
    the latest run, or written as NaN into the history and summary."""
    weights_finite = all(bool(torch.isfinite(p).all()) for p in run.model.parameters())
    if math.isfinite(validation_loss) and weights_finite:
        return
    what = f"validation loss became {validation_loss}" if weights_finite else "weights became non-finite"
    raise FloatingPointError(f"{what} at step {run.state.step}: lower the learning rate (train.lr)")


def save(run: Run) -> None:
    """The `last` checkpoint with everything resuming needs: optimiser, RNG, position in the epoch."""
    if run.job.is_main:
        run.claim_folder()
        training_state = {
            "optimizer": run.optimizer.state_dict(),
            "rng": rng_state(),
            "progress": dataclasses.asdict(run.state),
        }
        save_checkpoint(
            run.files.last, run.model, run.config, labels=run.data.labels, info=run.info, training_state=training_state
        )
    run.job.barrier()


def log_epoch(run: Run, record: dict[str, Any]) -> None:
    """Append the epoch's record to the history and show it."""
    if run.job.is_main:
        run.claim_folder()
        append_text(run.files.history, json.dumps(record) + "\n")
        run.reporter.end_epoch(record)


def finish(run: Run) -> dict[str, Any]:
    """Test the best checkpoint and store the summary and latent statistics in both checkpoints; returns the summary."""
    job, batch_size = run.job, run.config.train.batch_size
    job.barrier()
    best = load_checkpoint(run.files.checkpoint or run.files.last, device=str(job.device))
    test_set = run.data.held_out
    test = (
        evaluate_model(best.model, test_set, run.weights, batch_size, job.device, run.config.audio.sample_rate)
        if len(test_set)
        else {}
    )
    mean, std = latent_statistics(best.model, run.train_set, batch_size, job.device)
    summary = _summary(run, best.model, test, len(test_set))
    if job.is_main:
        final_info = {**best.metadata.get("info", {}), "test": test, "summary": summary}
        stats: dict[str, Any] = {"labels": run.data.labels, "info": final_info, "latent_mean": mean, "latent_std": std}
        save_checkpoint(run.files.best, best.model, run.config, **stats)
        training_state = load_training_state(run.files.last)
        save_checkpoint(run.files.last, run.model, run.config, **stats, training_state=training_state)
        write_text_atomic(run.files.summary, json_text(summary, indent=2) + "\n")  # NaN as null
    job.barrier()
    return summary


def _summary(run: Run, best_model: Autoencoder, test: dict[str, float], test_clips: int) -> dict[str, Any]:
    """What `summary.json` holds: the model, how long it trained, whether its validation loss was still falling
    at the end (`curve.trend_of_history`), and its test metrics with the split they were measured on."""
    state, config = run.state, run.config
    return {
        "aea_version": __version__,
        "arch": config.model.arch,
        "kind": config.model.kind,
        "latent_size": best_model.latent_size,
        "latent_layout": best_model.layout.describe(),
        "parameters": run.info["parameters"],
        "epochs": state.epoch,
        "steps": state.step,
        "wall_seconds": round(state.elapsed_seconds, 2),
        "clips_per_second": round(state.clips_seen / max(state.elapsed_seconds, 1e-9), 2),
        "best_validation_loss": state.best_loss,
        **trend_of_history(iterate_history(run.files.root)),
        "test": test,
        "test_clips": test_clips,
        "held_out_split": run.data.held_out_split if test_clips else None,  # "test" holds validation metrics then
        "data": run.data.summary(),
    }
