"""Which model a command uses: `--model`, else `$AEA_MODEL`, else the latest `aea train` run.

`aea train` records its run folder in the cache folder, so `aea encode song.mp3`
right after `aea train` needs no `--model`.
"""

from __future__ import annotations

from pathlib import Path

from .files import write_text_atomic

LATEST_RUN_FILE = "latest-run"


class NoModelError(FileNotFoundError):
    """No checkpoint given and none can be found; the message says how to get one."""


def record_latest_run(cache_dir: Path, run_dir: Path) -> None:
    """Remember `run_dir` as the current model's run (atomic write)."""
    write_text_atomic(cache_dir / LATEST_RUN_FILE, str(Path(run_dir).resolve()) + "\n")


def checkpoint_in(path: Path) -> Path:
    """A checkpoint file itself, or the best (else last) checkpoint of a run folder."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.safetensors", "last.safetensors"):
            if (path / name).exists():
                return path / name
        raise NoModelError(f"{path}: no best.safetensors or last.safetensors in this run folder")
    return path


def resolve_model(model: Path | None, cache_dir: Path, environment_model: str | None = None) -> tuple[Path, str]:
    """The checkpoint to use and where that choice came from (`--model`, `AEA_MODEL`, latest run)."""
    if model is not None:
        return checkpoint_in(model), "--model"
    if environment_model:
        return checkpoint_in(Path(environment_model)), "AEA_MODEL"
    record = cache_dir / LATEST_RUN_FILE
    if record.exists():
        run_dir = Path(record.read_text().strip())
        if run_dir.exists():
            return checkpoint_in(run_dir), f"latest training run ({record})"
    raise NoModelError(
        "no model: pass --model CHECKPOINT (or a run folder), set AEA_MODEL, or train one with 'aea train'"
    )
