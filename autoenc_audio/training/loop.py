"""Training: one `train_step`, epochs with validation, checkpoints, resume, DDP.

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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, cast

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from ..checkpoints.checkpoint import (
    load_checkpoint,
    load_training_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from ..config import Config
from ..data import ClipDataset, DatasetError, PreparedData, builtin_corpus, evenly_spread, prepare_dataset
from ..errors import SavedInterrupt
from ..files import append_text, write_text_atomic
from ..metrics import evaluate
from ..models import build_model
from ..models.base import Autoencoder
from ..runs.folder import RunError, RunFiles, iterate_history
from ..runs.lock import hold_run
from ..tomlwrite import dump_toml
from ..version import __version__
from .distributed import Distributed, launched_as_main, setup_distributed, shared_clock
from .losses import LOSSES, loss_terms

INIT_CLIPS = 512
"""Training clips the linear start is fitted on (evenly spread): more clips give a better start, at a one-off cost."""
LATENT_STATS_CLIPS = 2048


class Reporter(Protocol):
    """Where training tells what it is doing (the CLI shows it; the library never prints)."""

    def message(self, text: str) -> None: ...
    def start_epoch(self, epoch: int, steps: int, done: int) -> None: ...
    def advance(self, metrics: dict[str, float]) -> None: ...
    def end_epoch(self, record: dict[str, Any]) -> None: ...


class SilentReporter:
    def message(self, text: str) -> None:
        pass

    def start_epoch(self, epoch: int, steps: int, done: int) -> None:
        pass

    def advance(self, metrics: dict[str, float]) -> None:
        pass

    def end_epoch(self, record: dict[str, Any]) -> None:
        pass


class TrainingInterrupted(SavedInterrupt):
    """Ctrl-C during training; the run was saved and can be resumed."""


class StopAtBatchBoundary:
    """The first Ctrl-C asks training to stop after the current step, so the saved
    weights, optimiser and position agree; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Callable[[int, FrameType | None], Any] | int | None = None

    def __enter__(self) -> StopAtBatchBoundary:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _check_same_split(files: RunFiles, prepared: PreparedData) -> None:
    """Resuming on another split (tracks added or removed, another split rule) would train on held-out tracks."""
    recorded = json.loads(files.run.read_text()).get("split") if files.run.exists() else None
    if recorded is not None and recorded != prepared.split_digest():
        raise RunError(
            f"{files.root}: the dataset's train/validation/test split has changed since this run started "
            f"(tracks added, removed or moved); start a new run instead of resume=True",
            settings=("resume=True",),
        )


def as_torch_dataset(clips: ClipDataset) -> Dataset[tuple[torch.Tensor, int]]:
    """`clips` as torch's loaders see it: a map-style dataset of `(audio [1, clip_samples], label)` by duck typing
    (`__len__`, `__getitem__`), so that data.py need not import torch to define it."""
    return cast("Dataset[tuple[torch.Tensor, int]]", clips)


def compute_losses(
    outputs: dict[str, torch.Tensor], audio: torch.Tensor, weights: dict[str, float], kl_scale: float = 1.0
) -> dict[str, torch.Tensor]:
    """Every weighted loss term and their sum `loss`; weights are applied here and only here."""
    recon = outputs["recon"].float()
    terms = loss_terms(audio, recon, [name for name, weight in weights.items() if weight and name in LOSSES])
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
) -> dict[str, float]:
    """One optimiser step on a batch `[batch, 1, samples]`; returns named metrics."""
    model.train()
    with torch.autocast(audio.device.type, dtype=torch.bfloat16, enabled=autocast):
        outputs = model(audio)
    losses = compute_losses(outputs, audio, weights, kl_scale)
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
        values = {k: float(v) for k, v in compute_losses(outputs, audio, weights).items()}
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


def load_data(
    config: Config, data_root: Path | None, cache_dir: Path, workers: int, reporter: Reporter, job: Distributed
) -> PreparedData:
    """The dataset (built-in corpus when `data_root` is None); rank 0 fills the cache first."""

    def prepare() -> PreparedData:
        root = data_root
        if root is None:
            root = builtin_corpus(cache_dir, config.data, seed=0)
            if job.is_main:
                reporter.message(f"no data folder given: using the built-in corpus at {root}")
        return prepare_dataset(root, config.audio, config.data, cache_dir, workers=workers)

    # Rank 0 builds the corpus and fills the cache; the others then read it.
    if job.is_main:
        prepared = prepare()
    job.barrier()
    if not job.is_main:
        prepared = prepare()
    job.barrier()
    if job.is_main:
        for path, reason in prepared.skipped:
            reporter.message(f"skipped {path}: {reason}")
    if len(prepared.splits["train"]) == 0:
        raise DatasetError(f"{prepared.root}: no training clips after the split")
    return prepared


@dataclass
class TrainingState:
    """Where a run stands; saved beside `last` so a run can resume exactly."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    elapsed_seconds: float = 0.0
    clips_seen: int = 0
    best_loss: float = float("inf")
    epoch_sums: dict[str, float] = field(default_factory=dict)


def prepare_run(config: Config, run_dir: Path, resume: bool, overwrite: bool) -> Autoencoder:
    """Check that a run can start, before any data work or process launch, and build its model.

    RunError for `resume` with `overwrite`, or when `run_dir` holds a run that would be replaced
    without `overwrite`; ConfigError for settings no model can have (e.g. the latent size).
    """
    files = RunFiles(Path(run_dir))
    if resume and overwrite:
        raise RunError(
            "resume=True continues a run and overwrite=True starts it again: give one of them",
            settings=("resume=True", "overwrite=True"),
        )
    if not resume and not overwrite and files.holds_run:
        raise RunError(
            f"{files.root} already holds a run: continue it with resume=True, or start it again with overwrite=True",
            settings=("resume=True", "overwrite=True"),
        )
    return build_model(config.model, config.audio)


@dataclass
class Run:
    """One training run: what it trains, on what, where it writes, and where it stands."""

    config: Config
    files: RunFiles
    job: Distributed
    model: Autoencoder
    network: torch.nn.Module  # the model as trained: wrapped by DDP and torch.compile when they apply
    optimizer: torch.optim.Optimizer
    data: PreparedData
    validation_set: ClipDataset
    sampler: DistributedSampler
    reporter: Reporter
    state: TrainingState = field(default_factory=TrainingState)
    started: float = 0.0  # perf_counter() at the run's zero of elapsed time
    info: dict[str, Any] = field(default_factory=dict)  # what every checkpoint records about the data and model size

    @property
    def train_set(self) -> ClipDataset:
        return self.data.splits["train"]

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.config.train.loss_weights)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.sampler) / self.config.train.batch_size)

    @property
    def budget_seconds(self) -> float | None:
        return self.config.train.minutes * 60 if self.config.train.minutes else None

    def progress(self) -> float:
        """How far training is, 0 to 1, by steps or by time, whichever is further."""
        fractions = [0.0]
        epochs = self.config.train.epochs
        total_steps = self.steps_per_epoch * epochs if epochs else None
        if total_steps:
            fractions.append(self.state.step / total_steps)
        if self.budget_seconds:
            fractions.append(self.state.elapsed_seconds / self.budget_seconds)
        return min(1.0, max(fractions))

    def out_of_time(self) -> bool:
        return self.budget_seconds is not None and self.state.elapsed_seconds >= self.budget_seconds

    def out_of_budget(self) -> bool:
        epochs = self.config.train.epochs
        return self.out_of_time() or (epochs is not None and self.state.epoch >= epochs)


def start_run(
    config: Config,
    files: RunFiles,
    cache_dir: Path,
    data_root: Path | None,
    resume: bool,
    reporter: Reporter,
    overwrite: bool,
) -> Run:
    """A run ready for its first (or next) step: model, data, optimiser, and state restored or initialised."""
    job = setup_distributed(config.train.device)
    torch.manual_seed(config.train.seed)
    model = prepare_run(config, files.root, resume, overwrite).to(job.device)  # first: fails before any data work
    if overwrite and not resume and job.is_main:
        files.clear()  # no old checkpoint or summary may outlive the new run's first epoch
    prepared = load_data(config, data_root, cache_dir, config.train.workers, reporter, job)
    train_set, validation_set = prepared.splits["train"], prepared.splits["validation"]
    if len(validation_set) == 0:
        validation_set = train_set
        if job.is_main:
            reporter.message("no validation tracks: validating on the training clips")
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    state = TrainingState()
    if resume:
        _check_same_split(files, prepared)
        state = _restore(files, model, optimizer, job)
        if job.is_main:
            reporter.message(f"resuming {files.root} at epoch {state.epoch + 1}, step {state.step}")
    else:
        _initialize(model, train_set, job.device)
        if job.is_main:
            _write_run_files(files, config, data_root, prepared)
    sampler: DistributedSampler[tuple[torch.Tensor, int]] = DistributedSampler(
        as_torch_dataset(train_set), num_replicas=job.world_size, rank=job.rank, shuffle=True, seed=config.train.seed
    )
    info = {"data": prepared.summary(), "parameters": sum(p.numel() for p in model.parameters())}
    return Run(
        config,
        files,
        job,
        model,
        _network(model, config, job),
        optimizer,
        prepared,
        validation_set,
        sampler,
        reporter,
        state,
        info=info,
    )


def _write_run_files(files: RunFiles, config: Config, data_root: Path | None, prepared: PreparedData) -> None:
    """A new run's config and what it was started on; no history yet."""
    files.root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(files.config, dump_toml(config.to_dict()))
    write_text_atomic(
        files.run,
        json.dumps(
            {"data_root": str(Path(data_root).resolve()) if data_root else None, "split": prepared.split_digest()}
        )
        + "\n",
    )
    files.history.unlink(missing_ok=True)


def _network(model: Autoencoder, config: Config, job: Distributed) -> torch.nn.Module:
    """The model wrapped for training: DDP across processes, torch.compile on CUDA when asked."""
    network: torch.nn.Module = model
    if job.world_size > 1:
        network = DistributedDataParallel(model, device_ids=[job.device.index] if job.device.type == "cuda" else None)
    if config.train.compile and job.device.type == "cuda":
        network = torch.compile(network)  # type: ignore[assignment]  # typed as a callable; a module is returned
    return network


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
    summary = finish(run)
    if run.job.world_size > 1:
        dist.destroy_process_group()
    return summary


def run_epoch(run: Run, interrupt: StopAtBatchBoundary) -> None:
    """The epoch's remaining batches, one `train_step` each; stops early at the time budget.

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
        if run.out_of_time():
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
    state.epoch += 1
    state.batch = 0
    state.epoch_sums = {}
    if run.job.is_main and validation["loss"] < state.best_loss:
        state.best_loss = validation["loss"]
        save_checkpoint(
            run.files.best,
            run.model,
            run.config,
            labels=run.data.labels,
            info={**run.info, "epoch": state.epoch, "validation": validation},
        )
        record["best"] = True
    return record


def save(run: Run) -> None:
    """The `last` checkpoint with everything resuming needs: optimiser, RNG, position in the epoch."""
    if run.job.is_main:
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
        append_text(run.files.history, json.dumps(record) + "\n")
        run.reporter.end_epoch(record)


def _initialize(model: Autoencoder, train_set: ClipDataset, device: torch.device) -> None:
    picks = evenly_spread(len(train_set), INIT_CLIPS, rounded=False)
    audio = torch.stack([train_set[int(i)][0] for i in picks]).to(device)
    model.initialize_from_data(audio)


def _restore(files: RunFiles, model: Autoencoder, optimizer: torch.optim.Optimizer, job: Distributed) -> TrainingState:
    if not files.last.exists():
        raise FileNotFoundError(f"{files.last}: nothing to resume (no last checkpoint in {files.root})")
    checkpoint = load_checkpoint(files.last, device=str(job.device))
    model.load_state_dict(checkpoint.model.state_dict())
    saved = load_training_state(files.last)
    if saved is None:
        raise FileNotFoundError(f"{files.last}: its training state file is missing; cannot resume")
    optimizer.load_state_dict(saved["optimizer"])
    set_rng_state(saved["rng"])
    state = TrainingState(**saved["progress"])
    # Epochs logged after the saved state will be run again: drop their records.
    if job.is_main:
        kept = [r for r in iterate_history(files.root) if r["epoch"] <= state.epoch]
        write_text_atomic(files.history, "".join(json.dumps(r) + "\n" for r in kept))
    job.barrier()
    return state


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
        write_text_atomic(run.files.summary, json.dumps(summary, indent=2) + "\n")
    job.barrier()
    return summary


def _summary(run: Run, best_model: Autoencoder, test: dict[str, float], test_clips: int) -> dict[str, Any]:
    """What `summary.json` holds: the model, how long it trained, and its test metrics."""
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
        "test": test,
        "test_clips": test_clips,
        "data": run.data.summary(),
    }
