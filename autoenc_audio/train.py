"""Training: one `train_step`, epochs with validation, checkpoints, resume, DDP.

The loop is deliberately short. What makes it safe to interrupt: every epoch
ends with a `last` checkpoint holding the optimiser, RNG and the position in
the epoch, and Ctrl-C saves the same mid-epoch, so `--resume` replays exactly
the batches that remain, in the same order, with the same random draws.
Under `torchrun` the same code runs with DistributedDataParallel; only rank 0
writes files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from .errors import SavedInterrupt
from . import __version__
from .checkpoint import (
    load_checkpoint, load_training_state, rng_state, save_checkpoint, set_rng_state,
)
from .files import write_text_atomic
from .config import Config
from .devices import resolve_device
from .data import ClipDataset, DatasetError, PreparedData, builtin_corpus, prepare_dataset
from .losses import LOSSES
from .metrics import evaluate
from .models import Autoencoder, build_model
from .runs import RunError, RunFiles, config_for_resume, data_root_of_run, iterate_history  # noqa: F401 - re-exported for demo.py and the CLI
from .tomlwrite import dump_toml

INIT_CLIPS = 512
"""Training clips the linear start is fitted on: on the corpus 480 instead of 64 gave MR-STFT 1.289 vs 1.310."""
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
        self.previous = None

    def __enter__(self) -> "StopAtBatchBoundary":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


@dataclass
class Distributed:
    """This process's place in a (possibly one-process) job."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def shared_clock(elapsed_seconds: float, job: Distributed) -> float:
    """Rank 0's elapsed time on every rank, so all ranks stop a --minutes budget at the same step."""
    if job.world_size == 1:
        return elapsed_seconds
    clock = torch.tensor([elapsed_seconds], dtype=torch.float64, device=job.device)
    dist.broadcast(clock, src=0)
    return float(clock)


def _check_same_split(files: RunFiles, prepared: PreparedData) -> None:
    """Resuming on another split (tracks added or removed, another split rule) would train on held-out tracks."""
    recorded = json.loads(files.run.read_text()).get("split") if files.run.exists() else None
    if recorded is not None and recorded != prepared.split_digest():
        raise RunError(f"{files.root}: the dataset's train/validation/test split has changed since this run started "
                       f"(tracks added, removed or moved); start a new run instead of --resume")


def setup_distributed(device_name: str) -> Distributed:
    """Join the torchrun job described by the environment, or run alone."""
    device = resolve_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(0, 1, device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), device)


def compute_losses(
    outputs: dict[str, torch.Tensor], audio: torch.Tensor, weights: dict[str, float], kl_scale: float = 1.0
) -> dict[str, torch.Tensor]:
    """Every weighted loss term and their sum `loss`; weights are applied here and only here."""
    recon = outputs["recon"].float()
    terms = {name: LOSSES[name](audio, recon) for name, weight in weights.items() if weight and name in LOSSES}
    if "kl" in outputs and weights.get("kl"):
        terms["kl"] = outputs["kl"].float()
    total = sum(weights[name] * value * (kl_scale if name == "kl" else 1.0) for name, value in terms.items())
    terms["loss"] = total
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
    model: Autoencoder, dataset: ClipDataset, weights: dict[str, float], batch_size: int, device: torch.device,
    sample_rate: int,
) -> dict[str, float]:
    """Mean losses and metrics (SNR, SI-SDR, MR-STFT, mel, LSD) over a split, clip-weighted."""
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    for audio, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
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
def latent_statistics(model: Autoencoder, dataset: ClipDataset, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std `[latent_size]` of training latents (up to 2048 clips, evenly spread)."""
    model.eval()
    picks = np.linspace(0, len(dataset) - 1, min(len(dataset), LATENT_STATS_CLIPS)).astype(int)
    subset = torch.utils.data.Subset(dataset, sorted(set(picks.tolist())))
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


def load_data(config: Config, data_root: Path | None, cache_dir: Path, workers: int, reporter: Reporter, job: Distributed) -> PreparedData:
    """The dataset (built-in corpus when `data_root` is None); rank 0 fills the cache first."""
    def prepare() -> PreparedData:
        root = data_root
        if root is None:
            root = builtin_corpus(cache_dir, config.data, seed=0)
            if job.is_main:
                reporter.message(f"no --data given: using the built-in corpus at {root}")
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
        raise RunError("--resume continues a run and --overwrite starts it again: give one of them")
    if not resume and not overwrite and files.holds_run:
        raise RunError(f"{files.root} already holds a run: continue it with --resume, or start it again with --overwrite")
    return build_model(config.model, config.audio)


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
    Returns the summary (test metrics of the best checkpoint, sizes, speed).
    Raises TrainingInterrupted after saving when interrupted with Ctrl-C.
    """
    reporter = reporter or SilentReporter()
    files = RunFiles(Path(run_dir))
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
            files.root.mkdir(parents=True, exist_ok=True)
            write_text_atomic(files.config, dump_toml(config.to_dict()))
            write_text_atomic(files.run, json.dumps({"data_root": str(Path(data_root).resolve()) if data_root else None,
                                                     "split": prepared.split_digest()}) + "\n")
            files.history.unlink(missing_ok=True)

    network: torch.nn.Module = model
    if job.world_size > 1:
        network = DistributedDataParallel(model, device_ids=[job.device.index] if job.device.type == "cuda" else None)
    if config.train.compile and job.device.type == "cuda":
        network = torch.compile(network)
    autocast = job.device.type == "cuda"

    sampler = DistributedSampler(train_set, num_replicas=job.world_size, rank=job.rank, shuffle=True, seed=config.train.seed)
    batch_size = config.train.batch_size
    steps_per_epoch = math.ceil(len(sampler) / batch_size)
    epochs = config.train.epochs
    budget = config.train.minutes * 60 if config.train.minutes else None
    total_steps = steps_per_epoch * epochs if epochs else None
    weights = dict(config.train.loss_weights)
    info = {"data": prepared.summary(), "parameters": sum(p.numel() for p in model.parameters())}

    def progress() -> float:
        fractions = [0.0]
        if total_steps:
            fractions.append(state.step / total_steps)
        if budget:
            fractions.append(state.elapsed_seconds / budget)
        return min(1.0, max(fractions))

    def out_of_budget() -> bool:
        return (budget is not None and state.elapsed_seconds >= budget) or (epochs is not None and state.epoch >= epochs)

    def save_last() -> None:
        if job.is_main:
            training_state = {
                "optimizer": optimizer.state_dict(), "rng": rng_state(), "progress": dataclasses.asdict(state),
            }
            save_checkpoint(files.last, model, config, labels=prepared.labels, info=info, training_state=training_state)
        job.barrier()

    start_clock = time.perf_counter() - state.elapsed_seconds
    with StopAtBatchBoundary() as interrupt:
        try:
            while not out_of_budget():
                batches = epoch_batches(sampler, state.epoch, batch_size)
                reporter.start_epoch(state.epoch + 1, len(batches), state.batch)
                # Its own generator keeps the loader from drawing on the global RNG, which resume restores.
                loader = DataLoader(train_set, batch_sampler=batches[state.batch :], num_workers=config.train.workers,
                                    generator=torch.Generator().manual_seed(config.train.seed + state.epoch))
                for audio, _ in loader:
                    audio = audio.to(job.device)
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate(config.train.lr, config.train.scheduler, progress())
                    warm = config.train.kl_warmup_epochs
                    kl_scale = min(1.0, (state.step / steps_per_epoch) / warm) if warm > 0 else 1.0
                    metrics = train_step(network, audio, optimizer, weights, kl_scale, config.train.grad_clip, autocast)
                    if not math.isfinite(metrics["loss"]):
                        raise FloatingPointError(f"loss became {metrics['loss']} at step {state.step}: lower --lr")
                    state.batch += 1
                    state.step += 1
                    state.clips_seen += len(audio) * job.world_size
                    state.elapsed_seconds = shared_clock(time.perf_counter() - start_clock, job)
                    for name, value in metrics.items():
                        state.epoch_sums[name] = state.epoch_sums.get(name, 0.0) + value
                    state.epoch_sums["batches"] = state.epoch_sums.get("batches", 0.0) + 1
                    reporter.advance({**metrics, "lr": optimizer.param_groups[0]["lr"]})
                    if interrupt.requested:
                        raise KeyboardInterrupt
                    if budget is not None and state.elapsed_seconds >= budget:
                        break
                record = _end_epoch(state, model, validation_set, weights, batch_size, job, files, config, prepared, info, optimizer)
                save_last()
                if job.is_main:
                    with files.history.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")
                    reporter.end_epoch(record)
        except KeyboardInterrupt:
            state.elapsed_seconds = time.perf_counter() - start_clock
            save_last()
            raise TrainingInterrupted(f"interrupted: saved {files.last}; continue with: aea train --resume --out {files.root}") from None

    summary = _finish(model, prepared, weights, batch_size, job, files, config, state, info)
    if job.world_size > 1:
        dist.destroy_process_group()
    return summary


def _initialize(model: Autoencoder, train_set: ClipDataset, device: torch.device) -> None:
    picks = np.linspace(0, len(train_set) - 1, min(len(train_set), INIT_CLIPS)).astype(int)
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


def _end_epoch(state, model, validation_set, weights, batch_size, job, files, config, prepared, info, optimizer) -> dict:
    batches = max(state.epoch_sums.pop("batches", 1.0), 1.0)
    train_means = {f"train_{k}": v / batches for k, v in state.epoch_sums.items()}
    validation = evaluate_model(model, validation_set, weights, batch_size, job.device, config.audio.sample_rate)
    record = {
        "epoch": state.epoch + 1,
        "step": state.step,
        **train_means,
        **{f"val_{k}": v for k, v in validation.items()},
        "lr": optimizer.param_groups[0]["lr"],
        "elapsed_seconds": round(state.elapsed_seconds, 2),
        "clips_per_second": state.clips_seen / max(state.elapsed_seconds, 1e-9),
    }
    state.epoch += 1
    state.batch = 0
    state.epoch_sums = {}
    if job.is_main:
        if validation["loss"] < state.best_loss:
            state.best_loss = validation["loss"]
            save_checkpoint(files.best, model, config, labels=prepared.labels, info={**info, "epoch": state.epoch, "validation": validation})
            record["best"] = True
    return record


def _finish(model, prepared, weights, batch_size, job, files, config, state, info) -> dict[str, Any]:
    job.barrier()
    best = load_checkpoint(files.checkpoint or files.last, device=str(job.device))
    best_model = best.model
    test_set = prepared.splits["test"] if len(prepared.splits["test"]) else prepared.splits["validation"]
    test = evaluate_model(best_model, test_set, weights, batch_size, job.device, config.audio.sample_rate) if len(test_set) else {}
    mean, std = latent_statistics(best_model, prepared.splits["train"], batch_size, job.device)
    summary = {
        "aea_version": __version__,
        "arch": config.model.arch,
        "kind": config.model.kind,
        "latent_size": best_model.latent_size,
        "latent_layout": best_model.layout.describe(),
        "parameters": info["parameters"],
        "epochs": state.epoch,
        "steps": state.step,
        "wall_seconds": round(state.elapsed_seconds, 2),
        "clips_per_second": round(state.clips_seen / max(state.elapsed_seconds, 1e-9), 2),
        "best_validation_loss": state.best_loss,
        "test": test,
        "test_clips": len(test_set),
        "data": prepared.summary(),
    }
    if job.is_main:
        final_info = {**best.metadata.get("info", {}), "test": test, "summary": summary}
        save_checkpoint(files.best, best_model, config, labels=prepared.labels, info=final_info, latent_mean=mean, latent_std=std)
        training_state = load_training_state(files.last)
        save_checkpoint(files.last, model, config, labels=prepared.labels, info=final_info,
                        latent_mean=mean, latent_std=std, training_state=training_state)
        write_text_atomic(files.summary, json.dumps(summary, indent=2) + "\n")
    job.barrier()
    return summary
