"""`aea train-prior`: build the memory from a run's training clips and fit the recurrent model.

As `aea train`: a state object, one `train_step` returning named metrics, an
epoch and minute budget, a save after every epoch (atomic), Ctrl-C saves, and
`resume` continues exactly: every random choice derives from (seed, epoch).

The prior file keeps the state with the best validation loss, not the last: on
a small memory the recurrent model over-fits within minutes. Training stops
when validation has not improved for `patience` epochs; the file records which
epoch it kept and why training stopped (`Prior.kept`). The resumable state
beside it holds the latest weights.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch

from ..checkpoints.checkpoint import Checkpoint
from ..config import PriorConfig
from ..data import prepare_dataset
from ..devices import resolve_device
from ..errors import counted
from ..runs.lock import hold_run
from ..training.loop import StopAtBatchBoundary, TrainingInterrupted
from .header import PriorError, prior_path, read_prior_metadata
from .memory import EDGE_FRAMES, FeatureMap, FrameMemory, build_memory, fit_features
from .model import FeaturePrior
from .store import Prior, autoencoder_fields, load_prior, load_prior_state, mismatch, save_prior

MIN_PRIOR_FRAMES = 2 * EDGE_FRAMES + 2
"""Latent frames a clip needs for a prior: two inside the edges, one to predict from and one to predict."""


class PriorInterrupted(TrainingInterrupted):
    """Ctrl-C while the prior trained, after saving it; `resume` continues it exactly (the CLI names its flags)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"interrupted: prior saved in {path}; continue it exactly with resume=True and model {path.parent}",
            settings=("resume=True", "model"),
        )


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
    best_weights: dict[str, torch.Tensor] | None = None  # the kept state (None: nothing validated yet)


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
    check_frames(checkpoint)
    prepared = prepare_dataset(Path(root), checkpoint.config.audio, checkpoint.config.data, cache_dir)
    reporter.message(f"encoding up to {counted(config.memory_clips, 'training clip')} into the prior's memory")
    model = checkpoint.model
    memory = build_memory(
        model,
        prepared.splits["train"],
        prepared.labels,
        config.memory_clips,
        device=next(model.parameters()).device,
        progress=reporter.progress,
    )
    features = fit_features(memory, config.feature_dims)
    torch.manual_seed(config.seed)
    data = {
        "root": str(root),
        "clips": memory.clips,
        "tracks": int(memory.tracks.unique().numel()),
        "labels": prepared.labels,
        "split": prepared.split_digest(),
    }
    return Prior(
        config, memory, features, FeaturePrior(features.dims, config.hidden), autoencoder_fields(checkpoint), data
    )


def check_frames(checkpoint: Checkpoint) -> None:
    """PriorError, before any encoding, for a latent too short to model: the prior learns how a clip's latent frames
    follow one another, inside the EDGE_FRAMES the decoder's edges blur at each end."""
    layout, config = checkpoint.model.layout, checkpoint.config
    if layout.frames >= MIN_PRIOR_FRAMES:
        return
    if config.model.arch == "seed":  # its layers, searched for each size, set its frames: N = 40 has 5, 64 has 8
        advice = "train it with a larger latent size ('aea info' shows a model's latent as channels x frames)"
    else:
        advice = f"train the autoencoder with a latent size of {MIN_PRIOR_FRAMES} or more"
    raise PriorError(
        f"{checkpoint.path}: a prior models how latent frames follow one another, and this model's latent has "
        f"{counted(layout.frames, 'frame')} (N = {layout.size}); it needs at least {MIN_PRIOR_FRAMES}: {advice}"
    )


def start_run(
    checkpoint: Checkpoint, run_dir: Path, config: PriorConfig, cache_dir: Path, resume: bool, reporter: PriorReporter
) -> tuple[PriorRun, dict[str, Any] | None]:
    path = prior_path(run_dir)
    if resume:
        prior = load_prior(path)
        refuse_other_weights(path, prior.autoencoder, checkpoint, resume=True)
        state = load_prior_state(path, prior)
        prior.config = replace(
            prior.config, epochs=config.epochs, minutes=config.minutes, device=config.device, patience=config.patience
        )
    else:
        prior, state = new_prior(checkpoint, config, cache_dir, reporter), None
    device = resolve_device(prior.config.device)
    prior.model.to(device)
    optimizer = torch.optim.Adam(prior.model.parameters(), lr=prior.config.lr)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    best = None
    if state is not None:
        best = copy.deepcopy(prior.model.state_dict())  # the file's weights are the kept ones
        if "model" in state:  # the latest weights (files written before the best state was kept hold only those)
            prior.model.load_state_dict(state["model"])
    features = memory_features(prior.features, prior.memory)
    every = prior.config.validation_every  # every 10th clip, by default, measures the loss (from 11 clips on)
    held_out = torch.zeros(len(features), dtype=torch.bool)
    held_out[every - 1 :: every] = len(features) > every  # one clip kept back at least
    return PriorRun(prior, optimizer, features[~held_out], features[held_out], device, path, best), state


def train_prior(
    checkpoint: Checkpoint,
    run_dir: Path,
    config: PriorConfig,
    cache_dir: Path,
    resume: bool = False,
    reporter: PriorReporter | None = None,
    overwrite: bool = False,
) -> Prior:
    """Fit (or, with `resume`, continue fitting) the prior of `checkpoint`'s run; saved as RUN/prior.safetensors.

    `run_dir` is held while the prior trains (`runs.lock.hold_run`): RunBusyError when another process
    trains there, the autoencoder or a prior.
    """
    with hold_run(run_dir, "training a prior"):
        return _train_prior(checkpoint, Path(run_dir), config, cache_dir, resume, reporter or _Silent(), overwrite)


def refuse_other_weights(path: Path, made_for: dict[str, Any], checkpoint: Checkpoint, resume: bool) -> None:
    """PriorError when the prior at `path`, made for the autoencoder `made_for`, does not fit `checkpoint`: only
    replacing it helps (resuming cannot continue it: its memory holds the other weights' latents)."""
    why = mismatch(made_for, checkpoint)
    if why is None:
        return
    run = checkpoint.path.parent
    if resume:
        raise PriorError(
            f"{path}: {why}; resume cannot continue it: train it again for the run in {run} with 'aea train-prior' "
            "and overwrite=True",
            "resume",
            "overwrite=True",
        )
    raise PriorError(f"{path}: {why}; train it again for the run in {run} with overwrite=True", "overwrite=True")


def _made_for(path: Path) -> dict[str, Any]:
    """The autoencoder a prior file says it was made for ({} when it cannot be read: the plain refusal then)."""
    try:
        return dict(read_prior_metadata(path).get("autoencoder") or {})
    except PriorError:
        return {}


def _train_prior(
    checkpoint: Checkpoint,
    run_dir: Path,
    config: PriorConfig,
    cache_dir: Path,
    resume: bool,
    reporter: PriorReporter,
    overwrite: bool,
) -> Prior:
    if not resume and prior_path(run_dir).exists() and not overwrite:
        if made_for := _made_for(prior_path(run_dir)):  # one that cannot be read gets the plain refusal
            refuse_other_weights(prior_path(run_dir), made_for, checkpoint, resume=False)
        raise PriorError(
            f"{prior_path(run_dir)}: a prior is already there; resume continues it, overwrite replaces it",
            "resume",
            "overwrite",
        )
    run, _ = start_run(checkpoint, run_dir, config, cache_dir, resume, reporter)
    prior, limits = run.prior, run.prior.config
    budget = Budget(
        limits.epochs if limits.epochs is not None else math.inf,
        time.monotonic() + 60 * limits.minutes if limits.minutes else math.inf,
    )
    reason = stop_reason(run, budget)
    with StopAtBatchBoundary() as stop:
        while not reason:  # epochs are short: the clock is read between them
            reason = run_epoch(run, reporter, stop, budget)
    prior.kept = {**prior.kept, "stopped": reason}  # saved with the last epoch; nothing to save when none ran
    if run.best_weights is not None:
        prior.model.load_state_dict(run.best_weights)  # what the file holds is what the caller gets
    reporter.message(describe_kept(prior))
    return prior


@dataclass(frozen=True)
class Budget:
    """Where training stops at the latest: an epoch count and a `time.monotonic()` deadline (inf: none)."""

    epochs: float
    deadline: float


def stop_reason(run: PriorRun, budget: Budget) -> str:
    """Why training ends now, or "" to go on: the epoch limit, the clock, or validation that stopped improving."""
    prior = run.prior
    patience, best_epoch = prior.config.patience, prior.kept.get("epoch")
    if patience and best_epoch is not None and prior.position == 0 and prior.epoch - best_epoch >= patience:
        return (
            f"validation loss has not improved for {counted(prior.epoch - best_epoch, 'epoch')} (patience {patience})"
        )
    if prior.epoch >= budget.epochs:
        return f"reached the epoch limit ({counted(prior.epoch, 'epoch')})"
    if time.monotonic() >= budget.deadline:
        return f"the time budget ran out after epoch {prior.epoch}"
    return ""


def describe_kept(prior: Prior) -> str:
    """One line: which epoch's state the prior keeps, with its validation loss, and why training stopped."""
    kept = prior.kept
    if kept.get("epoch") is None:
        return f"prior: no epoch finished; {kept.get('stopped', '')}".rstrip("; ")
    loss = kept.get("val_loss")
    which = (
        f"kept epoch {kept['epoch']} of {prior.epoch} (best validation loss {loss:.4f})"
        if loss is not None and math.isfinite(loss)
        else f"kept the last epoch, {kept['epoch']} (no validation clips)"
    )
    return f"prior: {which}; stopped: {kept.get('stopped', '?')}"


def update_best(run: PriorRun, record: dict[str, Any]) -> None:
    """Keep this epoch's weights when its validation loss is the best so far (always, without validation clips)."""
    prior, loss = run.prior, record["val_loss"]
    best = prior.kept.get("val_loss")
    if not math.isfinite(loss) or best is None or not math.isfinite(best) or loss < best:
        run.best_weights = copy.deepcopy(prior.model.state_dict())
        prior.kept = {"epoch": prior.epoch, "val_loss": loss if math.isfinite(loss) else None}


def run_epoch(run: PriorRun, reporter: PriorReporter, stop: StopAtBatchBoundary, budget: Budget) -> str:
    """One pass over the training clips, from batch `prior.position` on; saves at its end, or at Ctrl-C.

    Returns why training stops after this epoch ("" to go on), which the save at its end records.
    """
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
            raise PriorInterrupted(run.path)
    prior.epoch, prior.position = prior.epoch + 1, 0
    record = {
        "epoch": prior.epoch,
        "step": prior.step,
        "train_loss": sum(losses) / max(len(losses), 1),
        "val_loss": validation_loss(run),
    }
    prior.history.append(record)
    update_best(run, record)
    reason = stop_reason(run, budget)
    if reason:
        prior.kept = {**prior.kept, "stopped": reason}
    _save(run)
    reporter.end_epoch(record)
    if stop.requested:
        raise PriorInterrupted(run.path)
    return reason


def _save(run: PriorRun) -> None:
    """The kept (best) weights to the prior file; the latest weights and the optimiser to the state beside it."""
    run.prior.model.cpu()
    state = {"optimizer": run.optimizer.state_dict(), "model": run.prior.model.state_dict()}
    best = {key: value.cpu() for key, value in run.best_weights.items()} if run.best_weights is not None else None
    save_prior(run.path, run.prior, state, weights=best)
    run.prior.model.to(run.device)
    run.prior.path = run.path


class _Silent:
    def message(self, text: str) -> None:
        pass

    def progress(self, done: int, total: int) -> None:
        pass

    def end_epoch(self, record: dict[str, Any]) -> None:
        pass
