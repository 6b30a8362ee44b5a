"""The run folder: its files, which checkpoint it offers, whether it is finished or resumable.

A run folder holds `best` and `last` checkpoints, `history.jsonl`,
`summary.json`, `config.toml` and `run.json` (the data folder and split it was
started on). Which model a command uses: `--model`, else `$AEA_MODEL`, else
the latest `aea train` run, recorded in the cache folder so `aea encode
song.mp3` right after `aea train` needs no `--model`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoints.header import BEST_NAME, LAST_NAME, pending_state_path, state_path
from ..config import Config, load_run_config
from ..errors import InputError
from ..export.manifest import refuse_export
from ..files import write_text_atomic

LATEST_RUN_FILE = "latest-run"


class NoModelError(InputError, FileNotFoundError):
    """No checkpoint given and none can be found; the message says how to get one."""


class RunError(InputError):
    """A run folder that cannot be read (corrupt history)."""


@dataclass(frozen=True)
class RunFiles:
    """The files of a run folder."""

    root: Path

    @property
    def last(self) -> Path:
        return self.root / LAST_NAME

    @property
    def best(self) -> Path:
        return self.root / BEST_NAME

    @property
    def checkpoint(self) -> Path | None:
        """The checkpoint a run offers: `best`, else `last` (None when it saved neither)."""
        for path in (self.best, self.last):
            if path.exists():
                return path
        return None

    @property
    def holds_run(self) -> bool:
        """A model was saved here: starting again would replace it."""
        return self.last.exists() or self.best.exists()

    @property
    def finished(self) -> bool:
        """Training ended: the summary was written, and a checkpoint is there to use."""
        return self.summary.is_file() and (self.best.is_file() or self.last.is_file())

    @property
    def resumable(self) -> bool:
        """`--resume` can continue it: a `last` checkpoint with its training state, and the config."""
        last = self.last
        return (
            last.is_file()
            and (state_path(last).is_file() or pending_state_path(last).is_file())
            and self.config.is_file()
        )

    @property
    def history(self) -> Path:
        return self.root / "history.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def run(self) -> Path:
        """What the run was started on (its data folder), for --resume."""
        return self.root / "run.json"

    def run_record(self) -> dict[str, Any]:
        """What `run.json` records (empty when there is none); a file that is not a JSON object is a RunError
        naming it, as a corrupt history is, not Python's JSON error from whichever command read it."""
        if not self.run.exists():
            return {}
        try:
            record = json.loads(self.run.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise RunError(f"{self.run}: corrupt ({error.msg})") from None
        except UnicodeDecodeError:
            raise RunError(f"{self.run}: corrupt (not UTF-8 text)") from None
        if not isinstance(record, dict):
            raise RunError(f"{self.run}: corrupt (a JSON object expected, not {type(record).__name__})")
        root = record.get("data_root")
        if root is not None and not isinstance(root, str):
            raise RunError(f"{self.run}: corrupt (data_root is {type(root).__name__}, not a folder's path)")
        return record

    @property
    def data_root(self) -> Path | None:
        """The data folder the run was trained on (None: the built-in corpus, or not recorded)."""
        root = self.run_record().get("data_root")
        return Path(root) if root else None

    def record_data_root(self, root: Path) -> None:
        """Record `root` as the run's data folder in `run.json`: where a resumed run whose folder moved now finds
        it (the split is checked to be the same before this)."""
        record = {**self.run_record(), "data_root": str(Path(root).resolve())}
        write_text_atomic(self.run, json.dumps(record) + "\n")

    def clear(self) -> None:
        """Remove a previous run's checkpoints (with their training state), history and summary."""
        for path in (self.last, self.best):
            for file in (path, state_path(path), pending_state_path(path)):
                file.unlink(missing_ok=True)
        for path in (self.history, self.summary, self.run):
            path.unlink(missing_ok=True)


def data_root_of_run(run_dir: Path) -> Path | None:
    """The data folder a run was trained on (None: the built-in corpus)."""
    return RunFiles(Path(run_dir)).data_root


def config_for_resume(run_dir: Path) -> Config:
    """The configuration a run was started with (its `config.toml`)."""
    path = RunFiles(Path(run_dir)).config
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: not a run folder (no config.toml); nothing to resume")
    return load_run_config(path)


def iterate_history(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The per-epoch records of a run (none when it has no history yet)."""
    path = RunFiles(Path(run_dir)).history
    if path.exists():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise RunError(f"{path}: corrupt line {number} ({error.msg})") from None
                if not isinstance(record, dict):
                    raise RunError(
                        f"{path}: corrupt line {number} (a record is a JSON object, not {type(record).__name__})"
                    )
                yield record


def record_latest_run(cache_dir: Path, run_dir: Path) -> None:
    """Remember `run_dir` as the current model's run (atomic write)."""
    write_text_atomic(cache_dir / LATEST_RUN_FILE, str(Path(run_dir).resolve()) + "\n")


def checkpoint_in(path: Path) -> Path:
    """A checkpoint file itself, or the best (else last) checkpoint of a run folder.

    An `aea export` folder (or a file in it) is refused here, the one place every model a command uses is found;
    a run folder's checkpoint is looked for first, so a run that also holds an export is still a model.
    """
    path = Path(path)
    if path.is_dir():
        checkpoint = RunFiles(path).checkpoint
        if checkpoint is not None:
            return checkpoint
        refuse_export(path)
        raise NoModelError(f"{path}: no best.safetensors or last.safetensors in this run folder")
    refuse_export(path)
    return path


def resolve_model(model: Path | None, cache_dir: Path, environment_model: str | None = None) -> tuple[Path, str]:
    """The checkpoint to use and where that choice came from.

    `model` (a checkpoint or run folder), else `environment_model` (a front end's default, the CLI's
    `$AEA_MODEL`), else the latest run recorded in `cache_dir`. The source is `"model"`,
    `"environment_model"` or `"latest training run (RECORD)"`.
    """
    if model is not None:
        return checkpoint_in(model), "model"
    if environment_model:
        return checkpoint_in(Path(environment_model)), "environment_model"
    record = cache_dir / LATEST_RUN_FILE
    if record.exists():
        run_dir = Path(record.read_text().strip())
        if run_dir.exists():
            return checkpoint_in(run_dir), f"latest training run ({record})"
    raise NoModelError(
        "no checkpoint given: pass model (a checkpoint or run folder) or environment_model, or train one with "
        "'aea train'",
        settings=("model", "environment_model"),
    )
