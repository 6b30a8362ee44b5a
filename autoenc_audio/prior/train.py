"""`aea train-prior`: build the memory from a run's training clips and fit the recurrent model.

As `aea train`: a state object, one `train_step` returning named metrics, an
epoch and minute budget, a save after every epoch (atomic), Ctrl-C saves, and
`resume` continues exactly: every random choice derives from (seed, epoch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch

from ..checkpoint import Checkpoint
from ..config import PriorConfig
from ..data import prepare_dataset
from ..devices import resolve_device
from ..train import StopAtBatchBoundary, TrainingInterrupted
from .memory import EDGE_FRAMES, FeatureMap, FrameMemory, build_memory, fit_features
from .model import FeaturePrior
from .store import Prior, PriorError, autoencoder_fields, load_prior, load_prior_state, prior_path, save_prior

VALIDATION_EVERY = 10
"""Every 10th memory clip is held out of the model's training to measure its loss."""


class PriorReporter(Protocol):
    def message(self, text: str) -> None: ...
    def progress(self, done: int, total: int) -> None: ...
    def end_epoch(self, record: dict[str, Any]) -> None: ...


@dataclass
class PriorRun:
    """What one training of the prior works on."""

    prior: Prior
    optimizer: torch.optim.Optimizer
    train_features: torch.Tensor  # [clips, frames, dims]
    validation_features: torch.Tensor
    device: torch.device
    path: Path


def memory_features(features: FeatureMap, memory: FrameMemory) -> torch.Tensor:
    """Features `[clips, frames, dims]` of the memory's playable frames (edges cut)."""
    return features(memory.frames)[:, EDGE_FRAMES:-EDGE_FRAMES]


def train_step(run: PriorRun, batch: torch.Tensor) -> dict[str, float]:
    model = run.prior.model
    model.train()
    loss = model.loss(batch.to(run.device))
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    run.optimizer.step()
    return {"loss": loss.item()}


@torch.no_grad()
def validation_loss(run: PriorRun) -> float:
    if len(run.validation_features) == 0:
        return float("nan")
    run.prior.model.eval()
    return float(run.prior.model.loss(run.validation_features.to(run.device)))


def epoch_batches(features: torch.Tensor, config: PriorConfig, epoch: int) -> list[torch.Tensor]:
    """Random sub-sequences of `sequence_frames` frames, one per clip in a shuffled order, batched."""
    generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
    order = torch.randperm(len(features), generator=generator)
    length = min(config.sequence_frames + 1, features.shape[1])
    starts = torch.randint(0, features.shape[1] - length + 1, (len(features),), generator=generator)
    windows = torch.stack([features[i, s : s + length] for i, s in zip(order.tolist(), starts[order].tolist())])
    return list(windows.split(config.batch_size))


def new_prior(checkpoint: Checkpoint, config: PriorConfig, cache_dir: Path, reporter: PriorReporter) -> Prior:
    """Encode the run's training clips into a memory and fit the feature map; the model starts untrained."""
    data_summary = checkpoint.info.get("data") or {}
    root = data_summary.get("root")
    if not root:
        raise PriorError(f"{checkpoint.path}: the checkpoint does not say what data it was trained on")
    prepared = prepare_dataset(Path(root), checkpoint.config.audio, checkpoint.config.data, cache_dir)
    reporter.message(f"encoding up to {config.memory_clips} training clips into the prior's memory")
    model = checkpoint.model
    memory = build_memory(model, prepared.splits["train"], prepared.labels, config.memory_clips,
                          device=next(model.parameters()).device, progress=reporter.progress)
    features = fit_features(memory, config.feature_dims)
    torch.manual_seed(config.seed)
    data = {"root": str(root), "clips": memory.clips, "tracks": int(memory.tracks.unique().numel()),
            "labels": prepared.labels, "split": prepared.split_digest()}
    return Prior(config, memory, features, FeaturePrior(features.dims, config.hidden), autoencoder_fields(checkpoint), data)


def start_run(checkpoint: Checkpoint, run_dir: Path, config: PriorConfig, cache_dir: Path, resume: bool,
              reporter: PriorReporter) -> tuple[PriorRun, dict[str, Any] | None]:
    path = prior_path(run_dir)
    if resume:
        prior = load_prior(path)
        prior.check_belongs_to(checkpoint)
        state = load_prior_state(path, prior)
        prior.config = replace(prior.config, epochs=config.epochs, minutes=config.minutes, device=config.device)
    else:
        prior, state = new_prior(checkpoint, config, cache_dir, reporter), None
    device = resolve_device(prior.config.device)
    prior.model.to(device)
    optimizer = torch.optim.Adam(prior.model.parameters(), lr=prior.config.lr)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    features = memory_features(prior.features, prior.memory)
    held_out = torch.zeros(len(features), dtype=torch.bool)
    held_out[VALIDATION_EVERY - 1 :: VALIDATION_EVERY] = len(features) >= 2 * VALIDATION_EVERY
    return PriorRun(prior, optimizer, features[~held_out], features[held_out], device, path), state


def train_prior(checkpoint: Checkpoint, run_dir: Path, config: PriorConfig, cache_dir: Path, resume: bool = False,
                reporter: PriorReporter | None = None, overwrite: bool = False) -> Prior:
    """Fit (or, with `resume`, continue fitting) the prior of `checkpoint`'s run; saved as RUN/prior.safetensors."""
    reporter = reporter or _Silent()
    if not resume and prior_path(run_dir).exists() and not overwrite:
        raise PriorError(f"{prior_path(run_dir)}: a prior is already there; --resume continues it, --overwrite replaces it")
    run, _ = start_run(checkpoint, run_dir, config, cache_dir, resume, reporter)
    prior, limits = run.prior, run.prior.config
    deadline = time.monotonic() + 60 * limits.minutes if limits.minutes else math.inf
    epochs = limits.epochs if limits.epochs is not None else math.inf
    with StopAtBatchBoundary() as stop:
        while prior.epoch < epochs and time.monotonic() < deadline:  # epochs are short: the clock is read between them
            run_epoch(run, reporter, stop)
    return prior


def run_epoch(run: PriorRun, reporter: PriorReporter, stop: StopAtBatchBoundary) -> None:
    """One pass over the training clips, from batch `prior.position` on; saves at its end, or at Ctrl-C."""
    prior = run.prior
    batches = epoch_batches(run.train_features, prior.config, prior.epoch)
    losses = []
    for number in range(prior.position, len(batches)):
        losses.append(train_step(run, batches[number])["loss"])
        prior.step += 1
        prior.position = number + 1
        reporter.progress(number + 1, len(batches))
        if stop.requested and prior.position < len(batches):
            _save(run)
            raise TrainingInterrupted(f"interrupted: prior saved in {run.path}; continue with --resume")
    prior.epoch, prior.position = prior.epoch + 1, 0
    record = {"epoch": prior.epoch, "step": prior.step, "train_loss": sum(losses) / max(len(losses), 1),
              "val_loss": validation_loss(run)}
    prior.history.append(record)
    _save(run)
    reporter.end_epoch(record)
    if stop.requested:
        raise TrainingInterrupted(f"interrupted: prior saved in {run.path}; continue with --resume")


def _save(run: PriorRun) -> None:
    run.prior.model.cpu()
    state = {"optimizer": run.optimizer.state_dict()}
    save_prior(run.path, run.prior, state)
    run.prior.model.to(run.device)
    run.prior.path = run.path


class _Silent:
    def message(self, text: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass

    def end_epoch(self, record: dict[str, Any]) -> None:
        pass

