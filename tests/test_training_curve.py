"""The end of a run: whether its validation loss was still falling (the summary's verdict and `aea train`'s one line),
and training a finished run on with a fresh learning-rate schedule, as that line says."""

import json
import shlex

import pytest
import torch
from click.testing import CliRunner
from conftest import TINY_CONFIG

from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.training.curve import MIN_FALL, trend_of_history, validation_trend
from autoenc_audio.training.loop import TrainingInterrupted, train
from autoenc_audio.training.run import SilentReporter

TINY = load_config(TINY_CONFIG)
STILL_FELL = "still fell"


@pytest.fixture(scope="module")
def songs(tmp_path_factory, write_tone_songs):
    """Eight short tracks in two labelled folders (tones + noise bursts, 8 kHz), on which the tiny model's
    validation loss falls at every epoch for six epochs: by over 2 % in its last two of three, by under 1 % in
    its last three of six (the tests check both before relying on them)."""
    return write_tone_songs(tmp_path_factory.mktemp("songs"))


def aea_train(*args, cache):
    """`aea train` in this process; CliRunner keeps stderr apart."""
    return CliRunner().invoke(cli, ["train", *map(str, args), "--cache-dir", str(cache)], env={"AEA_MODEL": ""})


def history_of(run):
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def lines_saying(text, words):
    return [line for line in text.splitlines() if words in line]


def test_a_loss_that_still_falls_at_the_end_is_still_improving():
    trend = validation_trend([10.0, 9.0, 8.5, 8.2, 8.0])
    assert trend is not None and trend.still_improving
    assert trend.epochs == 3 and trend.fall == pytest.approx((9.0 - 8.0) / 9.0)


def test_a_loss_that_has_flattened_is_not_still_improving():
    """Every epoch its best, but 0.35 % over the last three: the decaying learning rate, not more to learn."""
    trend = validation_trend([10.0, 9.0, 8.5, 8.49, 8.48, 8.47])
    assert trend is not None and not trend.still_improving and trend.fall == pytest.approx(0.03 / 8.5)


def test_a_loss_that_rose_at_the_end_is_not_still_improving_however_much_it_fell_before():
    trend = validation_trend([10.0, 9.0, 8.5, 8.6])
    assert trend is not None and not trend.still_improving and trend.fall == pytest.approx(0.14)
    assert not validation_trend([10.0, 9.0, 9.5]).still_improving  # a rise over the window: a negative fall
    assert validation_trend([10.0, 9.0, 9.5]).fall == pytest.approx(0.05)
    assert not validation_trend([9.0, 10.0, 9.5, 9.4]).still_improving  # fell, but not below the first epoch


def test_the_least_fall_that_counts_is_min_fall_and_runs_under_three_epochs_get_no_verdict():
    assert MIN_FALL == 0.01
    assert validation_trend([12.0, 10.0, 10.0, 10.0, 10.0 * (1 - 1.01 * MIN_FALL)]).still_improving
    assert not validation_trend([12.0, 10.0, 10.0, 10.0, 10.0 * (1 - 0.99 * MIN_FALL)]).still_improving
    assert validation_trend([10.0, 9.0, 8.0]).epochs == 2  # a three-epoch run: the fall since its first epoch
    assert validation_trend([10.0, 9.0]) is None and validation_trend([10.0]) is None and validation_trend([]) is None
    assert trend_of_history([{"val_loss": 10.0}, {"val_loss": 9.0}]) == {
        "still_improving": None,
        "validation_fall": None,
    }
    records = [{"epoch": 1, "val_loss": 10.0}, {"epoch": 2}, {"epoch": 3, "val_loss": 9.0}, {"val_loss": 8.0}]
    assert trend_of_history(records) == {
        "still_improving": True,
        "validation_fall": {"relative": 0.2, "epochs": 2},
    }


@pytest.mark.slow
def test_a_run_whose_validation_loss_still_falls_ends_with_one_line_saying_how_to_train_on(songs, tmp_path):
    run, cache = tmp_path / "run", tmp_path / "cache"
    result = aea_train("--config", "tiny", "--epochs", "3", "--data", songs, "--out", run, cache=cache)
    assert result.exit_code == 0, result.stderr
    losses = [record["val_loss"] for record in history_of(run)]
    assert losses[0] > losses[1] > losses[2] and losses[2] < losses[0] * (1 - 2 * MIN_FALL), losses  # still falls
    fall = (losses[0] - losses[2]) / losses[0]
    assert lines_saying(result.stderr, STILL_FELL) == [
        f"aea: validation loss still fell {fall:.1%} over the last 2 epochs: more training would likely help; "
        f"train on with a fresh learning-rate schedule: aea train --resume --out {shlex.quote(str(run))} --epochs 6"
    ]
    assert STILL_FELL not in result.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["still_improving"] is True
    assert summary["validation_fall"] == {"relative": pytest.approx(fall, abs=1e-6), "epochs": 2}
    again = aea_train("--resume", "--out", run, "--json", cache=cache)  # no larger budget: only finishes again
    assert again.exit_code == 0, again.stderr
    assert lines_saying(again.stderr, "has trained its whole budget") == [
        f"aea: {run} has trained its whole budget (3 epochs): give a larger budget (more epochs, minutes or steps) "
        "to train on"
    ]
    assert json.loads(again.stdout.splitlines()[-1])["still_improving"] is True
    shorter = aea_train("--resume", "--out", run, "--epochs", "2", "--json", cache=cache)
    assert shorter.exit_code == 0, shorter.stderr
    assert lines_saying(shorter.stderr, "has trained its whole budget") == [
        f"aea: {run} has trained its whole budget (3 epochs); the budget given, 2 epochs, is no larger: give a "
        "larger budget (more epochs, minutes or steps) to train on"
    ]
    assert lines_saying(again.stderr, STILL_FELL) == []  # --json: the field alone


@pytest.mark.slow
def test_a_run_whose_validation_loss_has_flattened_gets_no_line(songs, tmp_path):
    run = tmp_path / "run"
    result = aea_train("--config", "tiny", "--epochs", "6", "--data", songs, "--out", run, cache=tmp_path / "cache")
    assert result.exit_code == 0, result.stderr
    losses = [record["val_loss"] for record in history_of(run)]
    assert losses[-1] == min(losses) and losses[-1] > losses[-4] * (1 - MIN_FALL), losses  # best at the end, flat
    assert lines_saying(result.stderr, STILL_FELL) == []
    summary = json.loads((run / "summary.json").read_text())
    assert summary["still_improving"] is False and 0 < summary["validation_fall"]["relative"] < MIN_FALL
    short = aea_train(
        "--config", "tiny", "--epochs", "2", "--data", songs, "--out", tmp_path / "short", cache=tmp_path / "cache"
    )
    assert short.exit_code == 0 and lines_saying(short.stderr, STILL_FELL) == [], short.stderr
    assert json.loads((tmp_path / "short" / "summary.json").read_text())["still_improving"] is None


@pytest.mark.slow
def test_the_line_s_command_trains_on_with_a_fresh_schedule_and_keeps_what_the_run_had(songs, tmp_path):
    run, cache = tmp_path / "run", tmp_path / "cache"
    first = aea_train("--config", "tiny", "--epochs", "3", "--data", songs, "--out", run, cache=cache)
    assert first.exit_code == 0, first.stderr
    (line,) = lines_saying(first.stderr, STILL_FELL)
    before, best_before = history_of(run), json.loads((run / "summary.json").read_text())["best_validation_loss"]
    command = shlex.split(line.split(": aea ", 1)[1])
    assert command[0] == "train"
    more = CliRunner().invoke(cli, [*command, "--cache-dir", str(cache), "--json"], env={"AEA_MODEL": ""})
    assert more.exit_code == 0, more.stderr
    assert lines_saying(more.stderr, "with a fresh learning-rate schedule over the added budget"), more.stderr
    history = history_of(run)
    assert [record["epoch"] for record in history] == [1, 2, 3, 4, 5, 6] and history[:3] == before
    # the added three epochs run the schedule the first three ran: from the top down to its floor
    assert [record["lr"] for record in history[3:]] == pytest.approx([record["lr"] for record in before])
    assert history[-1]["val_loss"] < history[2]["val_loss"]  # the loss kept falling
    summary = json.loads(more.stdout.splitlines()[-1])
    assert summary["epochs"] == 6 and summary["best_validation_loss"] < best_before
    assert load_checkpoint(run / "best.safetensors").info["epoch"] > 3


class AtStep(SilentReporter):
    """Raises KeyboardInterrupt (a Ctrl-C) when training reports step `step` of this call."""

    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def advance(self, metrics):
        self.seen += 1
        if self.seen == self.step:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_training_on_interrupted_resumes_with_a_plain_resume_to_the_same_weights(songs, tmp_path):
    """Ctrl-C while a finished run trains on, then `aea train --resume --out RUN` with no budget: it trains the
    added epochs to the end, with the weights of training on without a break (exact: same process, same CPU)."""
    cache = tmp_path / "cache"
    for name in ("whole", "parts"):
        train(TINY.with_budget(None, 3), tmp_path / name, cache, data_root=songs)
    train(TINY.with_budget(None, 6), tmp_path / "whole", cache, data_root=songs, resume=True)
    with pytest.raises(TrainingInterrupted):
        train(TINY.with_budget(None, 6), tmp_path / "parts", cache, data_root=songs, resume=True, reporter=AtStep(3))
    resumed = aea_train("--resume", "--out", tmp_path / "parts", cache=cache)
    assert resumed.exit_code == 0, resumed.stderr
    assert [record["epoch"] for record in history_of(tmp_path / "parts")] == [1, 2, 3, 4, 5, 6]
    whole = load_checkpoint(tmp_path / "whole" / "last.safetensors").model.state_dict()
    parts = load_checkpoint(tmp_path / "parts" / "last.safetensors").model.state_dict()
    assert all(torch.equal(whole[key], parts[key]) for key in whole)
