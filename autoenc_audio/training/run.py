"""A training run before its first step: the model, data, optimiser and state, new or restored for `--resume`.

`start_run` checks the run folder, loads the data (rank 0 first), builds the
optimiser and either fits the model's linear start on training clips or
restores the `last` checkpoint with its optimiser, RNG and position in the
epoch; `Run` carries all of it through the loop (`loop.py`). A finished run
resumed with a larger budget trains on with a fresh learning-rate schedule
over the added budget (`_train_on`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler

from ..checkpoints.checkpoint import load_checkpoint, load_training_state, set_rng_state
from ..checkpoints.header import read_metadata
from ..config import Config, TrainConfig, load_run_config, with_legacy_defaults
from ..data import ClipDataset, DatasetError, PreparedData, builtin_corpus, evenly_spread, prepare_dataset
from ..errors import InputError, counted
from ..files import make_folder, write_text_atomic
from ..models import build_model
from ..models.base import Autoencoder
from ..runs.folder import RunError, RunFiles, iterate_history
from ..tomlwrite import dump_toml
from .distributed import Distributed, setup_distributed

INIT_CLIPS = 512
"""Training clips the linear start is fitted on (evenly spread): more clips give a better start, at a one-off cost."""


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


def _check_same_split(files: RunFiles, prepared: PreparedData) -> None:
    """Resuming on another split (tracks added or removed, another split rule) would train on held-out tracks."""
    recorded = files.run_record().get("split")
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


def _say_empty_splits(prepared: PreparedData, reporter: Any) -> None:
    """One line for a split without tracks: what training does instead, and that a summary has no test rows."""
    if not len(prepared.splits["validation"]):
        reporter.message(f"{prepared.empty_splits_text(['validation'])}: validating on the training clips")
    if not len(prepared.splits["test"]):
        instead = "testing on the validation clips" if len(prepared.splits["validation"]) else "no test metrics"
        reporter.message(f"{prepared.empty_splits_text(['test'])}: {instead}")


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
    # Where the learning-rate schedule began: 0 for the run's own; the end of a finished run that a larger budget
    # trains on (epoch, step and seconds there), so the added budget gets a whole schedule of its own.
    schedule_epoch: int = 0
    schedule_step: int = 0
    schedule_seconds: float = 0.0


def budget_spent(train: TrainConfig, state: TrainingState) -> bool:
    """Whether `state` has used up the budget of `train`: its epochs, minutes or steps, whichever ends first."""
    out_of_time = train.minutes is not None and state.elapsed_seconds >= train.minutes * 60
    out_of_steps = train.steps is not None and state.step >= train.steps
    return out_of_time or out_of_steps or (train.epochs is not None and state.epoch >= train.epochs)


def describe_budget(train: TrainConfig) -> str:
    """`train`'s budget in words: "6 epochs", "10 minutes", "3000 steps" or "6 epochs or 10 minutes"."""
    parts = [counted(train.epochs, "epoch")] if train.epochs is not None else []
    parts += [f"{train.minutes:g} {'minute' if train.minutes == 1 else 'minutes'}"] if train.minutes is not None else []
    parts += [counted(train.steps, "step")] if train.steps is not None else []
    return " or ".join(parts)


def prepare_run(config: Config, run_dir: Path, resume: bool, overwrite: bool) -> Autoencoder:
    """Check that a run can start, before any data work or process launch, and build its model.

    RunError for `resume` with `overwrite`, when `run_dir` holds a run that would be replaced
    without `overwrite`, or when `resume` is given settings its last checkpoint was not trained with
    (`check_resumed_config`); ConfigError for settings no model can have (e.g. the latent size).
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
    if resume:
        check_resumed_config(files, config)
    return build_model(config.model, config.audio)


RESUME_MAY_CHANGE = frozenset({"epochs", "minutes", "steps", "device", "workers", "compile"})
"""The `[train]` settings a resumed run may change: its budget, and where and how the same run is computed (what
`aea train --resume` takes: cli/train_resume.py `TAKEN`). Any other setting would change the model, its data or its
training half-way through."""


def _settings(config: Config | dict[str, Any]) -> dict[str, Any]:
    """`config`'s settings as "section.key" -> JSON value (a table such as loss_weights by its keys), but those a
    resumed run may change; through JSON, so a config read from TOML and one stored in a checkpoint compare alike."""
    values = config.to_dict() if isinstance(config, Config) else config
    flat: dict[str, Any] = {}
    for section, table in json.loads(json.dumps(values)).items():
        for key, value in table.items():
            if section == "train" and key in RESUME_MAY_CHANGE:
                continue
            for name, leaf in value.items() if isinstance(value, dict) else [("", value)]:
                flat[f"{section}.{key}" + (f".{name}" if name else "")] = leaf
    return flat


def check_resumed_config(files: RunFiles, config: Config) -> None:
    """RunError when `config` (a resume's: the run's config.toml, as the CLI reads it) differs from the config its
    last checkpoint was trained with, but for the budget and `RESUME_MAY_CHANGE`: an edited sample rate would go on
    training on other audio, with no word, and an edited architecture fail in torch's words."""
    if not files.last.is_file():
        return  # `_restore` says there is nothing to resume
    stored = read_metadata(files.last)["config"]
    try:
        trained = _settings(Config.from_dict(with_legacy_defaults(stored)))
    except Exception:  # noqa: BLE001 - a stored config this aea cannot read: loading the checkpoint says so
        return
    given = _settings(config)
    differ = [name for name in given if given[name] != trained.get(name, given[name])]
    if not differ:
        return
    name, others = differ[0], ", ".join(differ[1:])
    more = f" ({others} {'differs' if len(differ) == 2 else 'differ'} too)" if others else ""
    try:
        source = files.config if files.config.is_file() and _settings(load_run_config(files.config)) == given else None
    except InputError:
        source = None
    advice = "restore it" if source else "resume with the config it was trained with (its config.toml)"
    raise RunError(
        f"{source or 'config'}: {name} is {json.dumps(given[name])} but {files.last.name} was trained with "
        f"{json.dumps(trained[name])}{more}; {advice} or start a new run"
    )


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
    claimed: bool = True  # False for a new run until its first write (`claim_folder`)
    data_root: Path | None = None  # the data folder a new run records in run.json (None: the built-in corpus)

    def claim_folder(self) -> None:
        """Before a new run's first write (rank 0): remove what a run it overwrites left, then write its config.toml
        and run.json. Not at its start: a start that fails (no data, a bad setting, a loss that diverges in the first
        epoch) leaves the old run as it was, its checkpoints beside their own config; and from here on no file of the
        old run can mix with the new run's (its history appended to, its best kept as the new run's best)."""
        if self.claimed:
            return
        self.files.clear()
        _write_run_files(self.files, self.config, self.data_root, self.data)
        self.claimed = True

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
        """How far the learning-rate schedule is, 0 to 1, by epochs' steps, the step budget or time, whichever is
        furthest: the schedule decays over the budget that ends first.

        Counted from where the schedule began (`TrainingState.schedule_*`: the run's start, or the end of the
        finished run that a larger budget trains on) to the end of the budget.
        """
        state, settings, fractions = self.state, self.config.train, [0.0]
        done = state.step - state.schedule_step
        planned_steps = self.steps_per_epoch * (settings.epochs - state.schedule_epoch) if settings.epochs else 0
        for total in (planned_steps, (settings.steps or 0) - state.schedule_step):
            if total > 0:
                fractions.append(done / total)
        if self.budget_seconds and self.budget_seconds > state.schedule_seconds:
            fractions.append(
                (state.elapsed_seconds - state.schedule_seconds) / (self.budget_seconds - state.schedule_seconds)
            )
        return min(1.0, max(fractions))

    def out_of_time(self) -> bool:
        return self.budget_seconds is not None and self.state.elapsed_seconds >= self.budget_seconds

    def out_of_steps(self) -> bool:
        steps = self.config.train.steps
        return steps is not None and self.state.step >= steps

    def out_of_budget(self) -> bool:
        return budget_spent(self.config.train, self.state)


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
    prepared = load_data(config, data_root, cache_dir, config.train.workers, reporter, job)
    train_set, validation_set = prepared.splits["train"], prepared.splits["validation"]
    if len(validation_set) == 0:
        validation_set = train_set
    if job.is_main:
        _say_empty_splits(prepared, reporter)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    state = TrainingState()
    if resume:
        _check_same_split(files, prepared)
        if job.is_main and data_root is not None and files.data_root != Path(data_root).resolve():
            files.record_data_root(data_root)  # the same tracks in a folder that moved (`_check_same_split`)
        state, trained_with = _restore(files, model, optimizer, job)
        finished = budget_spent(trained_with.train, state) and budget_spent(config.train, state)
        if job.is_main and not finished:  # a finished run given no larger budget says only that (`_train_on`)
            reporter.message(f"resuming {files.root} at epoch {state.epoch + 1}, step {state.step}")
        if job.is_main:
            if not files.config.exists() or files.config.read_text() != dump_toml(config.to_dict()):
                write_text_atomic(files.config, dump_toml(config.to_dict()))  # a later resume keeps this budget
        _train_on(state, trained_with.train, config.train, files, reporter, job)
    else:
        _initialize(model, train_set, job.device)  # the run's files are written at its first save (`claim_folder`)
    sampler: DistributedSampler[tuple[torch.Tensor, int]] = DistributedSampler(
        as_torch_dataset(train_set), num_replicas=job.world_size, rank=job.rank, shuffle=True, seed=config.train.seed
    )
    info = {"data": prepared.summary(), "parameters": sum(p.numel() for p in model.parameters())}
    return Run(
        config,
        files,
        job,
        model,
        _network(model, config, job, reporter),
        optimizer,
        prepared,
        validation_set,
        sampler,
        reporter,
        state,
        info=info,
        claimed=resume,
        data_root=data_root,
    )


def _write_run_files(files: RunFiles, config: Config, data_root: Path | None, prepared: PreparedData) -> None:
    """A new run's config and what it was started on; no history yet."""
    make_folder(files.root)
    write_text_atomic(files.config, dump_toml(config.to_dict()))
    write_text_atomic(
        files.run,
        json.dumps(
            {"data_root": str(Path(data_root).resolve()) if data_root else None, "split": prepared.split_digest()}
        )
        + "\n",
    )
    files.history.unlink(missing_ok=True)


def _network(model: Autoencoder, config: Config, job: Distributed, reporter: Reporter) -> torch.nn.Module:
    """The model wrapped for training: DDP across processes, torch.compile on CUDA when asked (elsewhere said to be
    left out, as config.toml still records it)."""
    network: torch.nn.Module = model
    if job.world_size > 1:
        network = DistributedDataParallel(model, device_ids=[job.device.index] if job.device.type == "cuda" else None)
    if config.train.compile and job.device.type == "cuda":
        network = torch.compile(network)  # type: ignore[assignment]  # typed as a callable; a module is returned
    elif config.train.compile and job.is_main:
        reporter.message(f"compile is for CUDA: training on {job.device.type} without it")
    return network


def _initialize(model: Autoencoder, train_set: ClipDataset, device: torch.device) -> None:
    picks = evenly_spread(len(train_set), INIT_CLIPS, rounded=False)
    audio = torch.stack([train_set[int(i)][0] for i in picks]).to(device)
    model.initialize_from_data(audio)


def _train_on(
    state: TrainingState, before: TrainConfig, now: TrainConfig, files: RunFiles, reporter: Reporter, job: Distributed
) -> None:
    """A resumed run that had finished (`state` spent the budget it last trained with, `before`) and is given a
    larger one (`now`) gets a fresh learning-rate schedule over the added budget: its own had decayed to the floor,
    and the longer budget's schedule would jump back up to whatever rate it has at this point, a rate the first
    epochs were never shaped for. An interrupted run keeps its schedule, so it ends with an uninterrupted run's
    weights."""
    if not budget_spent(before, state):
        return
    if budget_spent(now, state):
        if job.is_main:
            given = "" if now == before else f"; the budget given, {describe_budget(now)}, is no larger"
            reporter.message(
                f"{files.root} has trained its whole budget ({describe_budget(before)}){given}: give a larger budget "
                f"(more epochs, minutes or steps) to train on"
            )
        return
    state.schedule_epoch, state.schedule_step, state.schedule_seconds = state.epoch, state.step, state.elapsed_seconds
    if job.is_main:
        reporter.message(
            f"training the finished run on to {describe_budget(now)}, with a fresh learning-rate schedule "
            f"over the added budget"
        )


def _restore(
    files: RunFiles, model: Autoencoder, optimizer: torch.optim.Optimizer, job: Distributed
) -> tuple[TrainingState, Config]:
    """The saved state of `last`, with its weights and optimiser loaded, and the config it was saved with."""
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
    return state, checkpoint.config
