"""The run folder: which checkpoint it offers, when it is finished or resumable, which model a command uses."""

import json
import re
from pathlib import Path

import pytest

from autoenc_audio.runs.folder import (
    NoModelError,
    RunError,
    RunFiles,
    checkpoint_in,
    iterate_history,
    record_latest_run,
    resolve_model,
)

ROOT = Path(__file__).resolve().parents[1]


def test_a_run_offers_best_else_last_and_says_when_it_has_neither(tmp_path):
    files = RunFiles(tmp_path)
    assert files.checkpoint is None and not files.holds_run
    with pytest.raises(NoModelError, match="no best.safetensors or last.safetensors"):
        checkpoint_in(tmp_path)
    files.last.write_bytes(b"last")
    assert files.checkpoint == files.last == checkpoint_in(tmp_path)
    files.best.write_bytes(b"best")
    assert files.checkpoint == files.best == checkpoint_in(tmp_path)
    assert checkpoint_in(files.last) == files.last  # a file is used as given


def test_finished_needs_a_summary_and_resumable_needs_the_training_state(tmp_path):
    files = RunFiles(tmp_path)
    files.last.write_bytes(b"weights")
    files.config.write_text("[train]\n")
    assert not files.finished and not files.resumable
    (tmp_path / "last.state.pt").write_bytes(b"state")
    assert files.resumable and not files.finished
    files.summary.write_text("{}")
    assert files.finished


def test_clear_removes_the_previous_run_but_not_its_config(tmp_path):
    files = RunFiles(tmp_path)
    for path in (
        files.last,
        files.best,
        tmp_path / "last.state.pt",
        files.history,
        files.summary,
        files.run,
        files.config,
    ):
        path.write_text("x")
    files.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_the_data_root_is_read_from_run_json(tmp_path):
    files = RunFiles(tmp_path)
    assert files.data_root is None
    files.run.write_text(json.dumps({"data_root": "/music/genres", "split": "abc"}))
    assert str(files.data_root) == "/music/genres"
    files.run.write_text(json.dumps({"data_root": None}))
    assert files.data_root is None  # the built-in corpus


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{bad", "corrupt (Expecting property name enclosed in double quotes)"),
        ("", "corrupt (Expecting value)"),
        ("[]", "corrupt (a JSON object expected, not list)"),
        ('{"data_root": 3}', "corrupt (data_root is int, not a folder's path)"),
    ],
)
def test_a_corrupt_run_json_is_named_with_exit_2(tmp_path, text, problem):
    """resume, generate, analyze, report and score said Python's JSON error ('list' object has no attribute 'get'),
    exit 1, no file named."""
    from click.testing import CliRunner

    from autoenc_audio.cli import cli

    files = RunFiles(tmp_path / "run")
    files.root.mkdir()
    files.run.write_text(text)
    with pytest.raises(RunError, match=rf"^{re.escape(str(files.run))}: {re.escape(problem)}$"):
        files.data_root  # noqa: B018 - the property reads the file
    (files.root / "config.toml").write_text((ROOT / "configs" / "tiny.toml").read_text())
    result = CliRunner().invoke(cli, ["train", "--resume", "--out", str(files.root), "--cache-dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output == f"aea: error: {files.run}: {problem}\n"


def test_score_reads_the_data_folder_from_run_json_and_names_a_corrupt_one(tmp_path, make_checkpoint, write_songs):
    from autoenc_audio.scoring.score_sets import checkpoint_data

    songs = write_songs(tmp_path / "songs", tracks=2)
    checkpoint = make_checkpoint(songs, tmp_path / "cache", tmp_path / "run" / "best.safetensors")
    files = RunFiles(checkpoint.parent)
    files.run.write_text(json.dumps({"data_root": str(songs), "split": "abc"}))
    assert checkpoint_data(checkpoint)[0] == songs
    files.run.write_text("{bad")
    with pytest.raises(RunError, match=rf"^{re.escape(str(files.run))}: corrupt \("):
        checkpoint_data(checkpoint)


def test_history_skips_blank_lines_and_names_a_corrupt_line(tmp_path):
    assert list(iterate_history(tmp_path)) == []
    RunFiles(tmp_path).history.write_text('{"epoch": 1}\n\n{"epoch": 2}\n')
    assert [r["epoch"] for r in iterate_history(tmp_path)] == [1, 2]
    RunFiles(tmp_path).history.write_text('{"epoch": 1}\n[1, 2]\n')
    with pytest.raises(RunError, match="corrupt line 2"):
        list(iterate_history(tmp_path))


def test_the_model_comes_from_the_option_then_the_environment_then_the_latest_run(tmp_path):
    runs = [tmp_path / name for name in ("given", "environment", "latest")]
    for run in runs:
        run.mkdir()
        RunFiles(run).best.write_bytes(b"x")
    cache = tmp_path / "cache"
    with pytest.raises(NoModelError, match="train one with 'aea train'"):
        resolve_model(None, cache)
    record_latest_run(cache, runs[2])
    assert resolve_model(None, cache) == (RunFiles(runs[2]).best, f"latest training run ({cache / 'latest-run'})")
    assert resolve_model(None, cache, str(runs[1])) == (RunFiles(runs[1]).best, "environment_model")
    assert resolve_model(runs[0], cache, str(runs[1])) == (RunFiles(runs[0]).best, "model")
