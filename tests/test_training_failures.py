"""A run that cannot start, diverges, or is resumed with settings or data its checkpoint does not fit: what the user
sees (one line, the exit code) and what stays in the run folder."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.training import loop
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
TINY = load_config(ROOT / "configs" / "tiny.toml").override(train={"device": "cpu"})

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def songs(tmp_path_factory, write_tone_songs):
    return write_tone_songs(tmp_path_factory.mktemp("songs"))


@pytest.fixture(scope="module")
def trained(songs, tmp_path_factory):
    """A finished tiny run of 3 epochs (copy it before changing it)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(TINY.override(train={"epochs": 3}), run, tmp_path_factory.mktemp("cache"), data_root=songs)
    return run


def aea(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def files_of(run: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(run.iterdir()) if path.is_file()}


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to, ignore=shutil.ignore_patterns("*.lock", ".lock*"))
    return to


@pytest.fixture
def diverging(monkeypatch):
    """Every training step leaves non-finite weights (the loss computed before its update stays finite), as a too
    high learning rate does at the last step of a run."""
    real_step = loop.train_step

    def step(model, *args, **kwargs):
        metrics = real_step(model, *args, **kwargs)
        with torch.no_grad():
            next(model.parameters()).fill_(float("inf"))
        return metrics

    monkeypatch.setattr(loop, "train_step", step)


def test_an_overwrite_that_cannot_start_leaves_the_old_run_as_it_was(trained, tmp_path):
    """`--overwrite` deleted the old checkpoints, history and summary before loading the data: a wrong --data left
    only config.toml."""
    run = copy_run(trained, tmp_path / "run")
    before = files_of(run)
    (tmp_path / "empty").mkdir()
    result = aea("train", "--config", "tiny", "--overwrite", "--out", run, "--data", tmp_path / "empty", "--steps", "1",
                 "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert result.exit_code == 2 and "no readable audio files" in result.output
    assert files_of(run) == before


def test_an_overwrite_that_diverges_in_its_first_epoch_leaves_the_old_run(trained, songs, tmp_path, diverging):
    run = copy_run(trained, tmp_path / "run")
    before = files_of(run)
    result = aea("train", "--config", "tiny", "--overwrite", "--out", run, "--data", songs, "--steps", "1",
                 "--latent", "256", "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert result.exit_code == 1 and "lower the learning rate" in result.output
    assert files_of(run) == before  # its config.toml too: the old checkpoints keep their own config


def test_an_overwrite_that_runs_keeps_no_file_of_the_old_run(trained, songs, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    config = TINY.override(model={"latent": 256}, train={"epochs": 1})
    train(config, run, tmp_path / "cache", data_root=songs, overwrite=True)
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1]
    assert load_config(run / "config.toml") == config
    assert json.loads((run / "summary.json").read_text())["latent_size"] == 256


def test_a_run_whose_weights_diverge_at_its_last_step_fails_and_is_not_kept(songs, tmp_path, diverging):
    """It was saved as best, exited 0, and became the model every command uses by default; summary.json held NaN."""
    result = aea("train", "--config", "tiny", "--out", tmp_path / "run", "--data", songs, "--steps", "1",
                 "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert result.exit_code == 1
    assert "aea: error: weights became non-finite at step 1: lower the learning rate" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "best.safetensors").exists() and not (tmp_path / "run" / "summary.json").exists()
    assert not (tmp_path / "cache" / "latest-run").exists()


def test_a_non_finite_validation_loss_ends_the_run(songs, tmp_path, monkeypatch):
    real_evaluate = loop.evaluate_model

    def evaluate(*args, **kwargs):
        return {**real_evaluate(*args, **kwargs), "loss": float("inf")}

    monkeypatch.setattr(loop, "evaluate_model", evaluate)
    with pytest.raises(FloatingPointError, match=r"^validation loss became inf at step \d+: lower the learning rate"):
        train(TINY.override(train={"steps": 2}), tmp_path / "run", tmp_path / "cache", data_root=songs)
    assert not (tmp_path / "run" / "best.safetensors").exists()
    assert not (tmp_path / "run" / "history.jsonl").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("width = 32", "width = 64"), "model.width is 64 but last.safetensors was trained with 32"),
        (
            ("sample_rate = 8000", "sample_rate = 16000"),
            "audio.sample_rate is 16000 but last.safetensors was trained with 8000",
        ),
        (("l1 = 20.0", "l1 = 10.0"), "train.loss_weights.l1 is 10.0 but last.safetensors was trained with 20.0"),
    ],
)
def test_a_resume_after_config_toml_was_edited_is_refused(trained, tmp_path, edit, message):
    """An edited sample rate went on training on other audio with no word; an edited width failed in torch's words."""
    run = copy_run(trained, tmp_path / "run")
    before = files_of(run)
    text = (run / "config.toml").read_text()
    assert edit[0] in text
    (run / "config.toml").write_text(text.replace(edit[0], edit[1]))
    result = aea("train", "--resume", "--out", run, "--epochs", "4", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 2
    assert result.output == f"aea: error: {run / 'config.toml'}: {message}; restore it or start a new run\n"
    assert files_of(run) == {**before, "config.toml": text.replace(edit[0], edit[1]).encode()}


def test_a_resume_may_change_the_budget_and_where_it_runs_in_config_toml(trained, tmp_path):
    run = copy_run(trained, tmp_path / "run")
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(
        text.replace('device = "cpu"', 'device = "auto"').replace("epochs = 3", "epochs = 4", 1)
    )
    result = aea("train", "--resume", "--out", run, "--device", "cpu", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "summary.json").read_text())["epochs"] == 4


def test_a_run_whose_data_folder_moved_resumes_with_data(songs, tmp_path):
    """--data was refused ("trained on X, not Y") even where X was gone: only hand-editing run.json could resume."""
    shutil.copytree(songs, tmp_path / "c2")
    run, cache = tmp_path / "run", tmp_path / "cache"
    train(TINY.override(train={"steps": 1}), run, cache, data_root=tmp_path / "c2")
    (tmp_path / "c2").rename(tmp_path / "c3")
    result = aea("train", "--resume", "--out", run, "--steps", "2", "--cache-dir", cache)
    assert result.exit_code == 2
    assert result.output == (
        f"aea: error: {run} was trained on {tmp_path / 'c2'}, which is not there; give --data with the moved folder\n"
    )
    result = aea("train", "--resume", "--out", run, "--steps", "2", "--data", tmp_path / "c3", "--cache-dir", cache)
    assert result.exit_code == 0, result.output
    assert json.loads((run / "run.json").read_text())["data_root"] == str(tmp_path / "c3")
    assert json.loads((run / "summary.json").read_text())["steps"] == 2
    shutil.copytree(songs, tmp_path / "other")  # while the recorded folder is there, another one is still refused
    result = aea("train", "--resume", "--out", run, "--steps", "3", "--data", tmp_path / "other", "--cache-dir", cache)
    assert result.exit_code == 2 and f"was trained on {tmp_path / 'c3'}, not" in result.output
