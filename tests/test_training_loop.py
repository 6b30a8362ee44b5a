import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from autoenc_audio.checkpoints.checkpoint import load_checkpoint, load_training_state
from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.runs.folder import RunError
from autoenc_audio.training.loop import (
    TrainingInterrupted,
    compute_losses,
    learning_rate,
    train,
    train_step,
)
from autoenc_audio.training.run import SilentReporter

ROOT = Path(__file__).resolve().parents[1]
TINY = load_config(ROOT / "configs" / "tiny.toml")


@pytest.fixture(scope="module")
def songs(tmp_path_factory, write_tone_songs):
    """Six short tracks in two labelled folders (tones + noise bursts, 8 kHz)."""
    return write_tone_songs(tmp_path_factory.mktemp("songs"))


def tiny(**train_overrides):
    return TINY.override(train=train_overrides)


def weights(path):
    return load_checkpoint(path).model.state_dict()


def test_compute_losses_applies_weights_once():
    audio = torch.randn(2, 1, 4096) * 0.1
    outputs = {"recon": audio * 0.5}
    terms = compute_losses(outputs, audio, {"l1": 2.0, "mrstft": 0.0, "mel": 0.0, "rmse": 1.0}, sample_rate=22050)
    assert set(terms) == {"l1", "rmse", "loss"}
    assert torch.isclose(terms["loss"], 2 * terms["l1"] + terms["rmse"])


def test_a_training_step_at_8_khz_reports_the_mel_that_metrics_give_at_8_khz():
    """`train_step` hands the model's rate down to the mel term: with a learning rate of 0 the step leaves the model as
    it was, so the step's `mel` is the metric's `mel_l1` at 8 kHz on the same reconstruction (22,050 Hz bands differ)."""
    from autoenc_audio.metrics import mel_l1
    from autoenc_audio.models import build_model

    torch.manual_seed(0)
    model = build_model(TINY.model, TINY.audio)
    audio = torch.randn(2, 1, TINY.audio.clip_samples) * 0.1
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    step = train_step(model, audio, optimizer, {"mel": 1.0}, 1.0, 0.0, autocast=False, sample_rate=8000)
    with torch.no_grad():
        recon = model(audio)["recon"].float()
    assert step["mel"] == pytest.approx(float(mel_l1(audio, recon, 8000).mean()), rel=1e-5)
    assert step["mel"] != pytest.approx(float(mel_l1(audio, recon, 22050).mean()), rel=1e-3)


def test_learning_rate_schedule():
    assert learning_rate(1.0, "cosine", 0.0) < 0.05
    assert learning_rate(1.0, "cosine", 0.02) == pytest.approx(1.0)
    assert learning_rate(1.0, "cosine", 1.0) == pytest.approx(0.05)
    assert learning_rate(1.0, "constant", 0.7) == 1.0


@pytest.mark.slow
def test_train_writes_a_complete_run(songs, tmp_path):
    run = tmp_path / "run"
    summary = train(tiny(epochs=3), run, tmp_path / "cache", data_root=songs)
    for name in ("best.safetensors", "last.safetensors", "history.jsonl", "summary.json", "config.toml"):
        assert (run / name).exists(), name
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_snr_db", "val_mrstft", "val_mel_l1", "clips_per_second"} <= set(history[0])
    assert summary["latent_size"] == 512 and summary["test_clips"] > 0 and summary["held_out_split"] == "test"
    assert json.loads((run / "summary.json").read_text())["latent_size"] == 512
    best = load_checkpoint(run / "best.safetensors")
    assert best.latent_mean is not None and best.latent_mean.shape == (512,)
    assert best.latent_std.shape == (512,) and float(best.latent_std.max()) > 0
    assert best.labels == ["high", "low"]
    assert load_config(run / "config.toml") == tiny(epochs=3)


@pytest.mark.slow
def test_a_run_without_a_test_split_says_its_held_out_metrics_are_validation_ones(songs, tmp_path, capsys):
    """test_fraction = 0: the summary's "test" metrics are measured on the validation clips, and summary.json said
    nothing of it; it now records `held_out_split`, keeping the keys older readers use."""
    config = TINY.override(train={"epochs": 1}, data={"test_fraction": 0.0})
    train(config, tmp_path / "run", tmp_path / "cache", data_root=songs, reporter=SilentReporter())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["data"]["tracks"]["test"] == 0 and summary["test"] and summary["test_clips"] > 0
    assert summary["held_out_split"] == "validation"
    assert summary["test_clips"] == summary["data"]["clips"]["validation"]
    from click.testing import CliRunner

    from autoenc_audio.cli import cli
    from autoenc_audio.cli.train_commands import _print_training_summary

    shown = CliRunner().invoke(cli, ["info", "--model", str(tmp_path / "run")])
    assert shown.exit_code == 0 and "validation snr_db" in shown.output and "test snr_db" not in shown.output
    _print_training_summary(tmp_path / "run", summary, as_json=False)  # the table `aea train` ends with
    printed = capsys.readouterr().out
    assert "validation snr_db" in printed and "test snr_db" not in printed


@pytest.mark.slow
def test_loss_falls_over_training(songs, tmp_path):
    train(tiny(epochs=6, lr=3e-3), tmp_path / "run", tmp_path / "cache", data_root=songs)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


@pytest.mark.slow
def test_loss_falls_with_the_excess_and_level_terms(songs, tmp_path):
    weights = {"l1": 20.0, "mrstft": 1.0, "mel": 2.0, "excess": 4.0, "level": 1.0}
    train(tiny(epochs=6, lr=3e-3, loss_weights=weights), tmp_path / "run", tmp_path / "cache", data_root=songs)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


@pytest.mark.slow
def test_at_8_khz_the_mel_loss_is_the_mel_that_validation_reports(songs, tmp_path):
    """The tiny preset's 8 kHz: the mel term must place its bands for 8 kHz, as `metrics.evaluate` does.

    `val_mel` (the loss term) and `val_mel_l1` (the metric) come from the same validation batches and the same
    model, so they agree to float rounding; bands placed for 22,050 Hz give another number.
    """
    assert TINY.audio.sample_rate == 8000 and TINY.train.loss_weights["mel"] > 0
    train(tiny(epochs=1), tmp_path / "run", tmp_path / "cache", data_root=songs)
    record = json.loads((tmp_path / "run" / "history.jsonl").read_text().splitlines()[0])
    assert record["val_mel"] == pytest.approx(record["val_mel_l1"], rel=1e-5)


class Messages(SilentReporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


def test_compile_asked_on_a_cpu_is_said_to_be_left_out(songs, tmp_path):
    """`--compile` on a CPU was dropped without a word, while config.toml said compile = true."""
    said = Messages()
    train(
        tiny(epochs=1, compile=True, device="cpu"), tmp_path / "run", tmp_path / "cache", data_root=songs, reporter=said
    )
    assert "compile is for CUDA: training on cpu without it" in said.lines


@pytest.mark.slow
def test_same_seed_same_weights(songs, tmp_path):
    """Exact on one machine: the same seed, data order and kernels (one thread); not promised across CPUs."""
    for name in ("a", "b"):
        train(tiny(epochs=2), tmp_path / name, tmp_path / "cache", data_root=songs)
    first, second = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)


class AtStep(SilentReporter):
    """Calls `action` when training reports step `step` (raise KeyboardInterrupt, send a real SIGINT, ...)."""

    def __init__(self, step: int, action) -> None:
        self.step, self.seen, self.action = step, 0, action

    def advance(self, metrics):
        self.seen += 1
        if self.seen == self.step:
            self.action()


def raise_interrupt():
    raise KeyboardInterrupt


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_interrupted_run_resumes_to_the_same_weights(songs, tmp_path, kind):
    """Exact on one machine: both runs see the same data, seeds and kernels, and the state restores every RNG."""
    config = tiny(epochs=3).override(model={"kind": kind})
    train(config, tmp_path / "whole", tmp_path / "cache", data_root=songs)
    with pytest.raises(TrainingInterrupted, match="continue with resume=True"):
        train(config, tmp_path / "parts", tmp_path / "cache", data_root=songs, reporter=AtStep(4, raise_interrupt))
    assert load_training_state(tmp_path / "parts" / "last.safetensors")["progress"]["step"] == 4
    train(config, tmp_path / "parts", tmp_path / "cache", data_root=songs, resume=True)
    whole, parts = weights(tmp_path / "whole" / "last.safetensors"), weights(tmp_path / "parts" / "last.safetensors")
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    history = [json.loads(line)["epoch"] for line in (tmp_path / "parts" / "history.jsonl").read_text().splitlines()]
    assert history == [1, 2, 3]


@pytest.mark.slow
def test_ctrl_c_stops_at_a_batch_boundary_and_resumes_exactly(songs, tmp_path):
    """Exact on one machine: both runs see the same data, seeds and kernels, and the state restores every RNG."""
    config = tiny(epochs=2)
    train(config, tmp_path / "whole", tmp_path / "cache", data_root=songs)
    with pytest.raises(TrainingInterrupted):
        train(
            config,
            tmp_path / "parts",
            tmp_path / "cache",
            data_root=songs,
            reporter=AtStep(3, lambda: os.kill(os.getpid(), signal.SIGINT)),
        )
    assert load_training_state(tmp_path / "parts" / "last.safetensors")["progress"]["step"] == 3
    train(config, tmp_path / "parts", tmp_path / "cache", data_root=songs, resume=True)
    whole, parts = weights(tmp_path / "whole" / "last.safetensors"), weights(tmp_path / "parts" / "last.safetensors")
    assert all(torch.equal(whole[k], parts[k]) for k in whole)


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_kill_or_a_closed_terminal_saves_at_a_batch_boundary_as_ctrl_c_does(songs, tmp_path, number):
    """`kill`, `timeout` and `docker stop` send SIGTERM, a closed terminal SIGHUP: Python's default ended training
    at once, losing every step since the last epoch's save. Now they stop at the step, saved, as Ctrl-C does."""
    before = signal.getsignal(number)
    with pytest.raises(TrainingInterrupted):
        train(
            tiny(epochs=2),
            tmp_path / "run",
            tmp_path / "cache",
            data_root=songs,
            reporter=AtStep(3, lambda: os.kill(os.getpid(), number)),
        )
    assert load_training_state(tmp_path / "run" / "last.safetensors")["progress"]["step"] == 3
    assert signal.getsignal(number) == before  # the caller's handler back


@pytest.mark.slow
def test_ctrl_c_while_testing_says_how_to_finish_and_a_resume_finishes(songs, tmp_path, monkeypatch):
    """Ctrl-C after the last epoch, while the test clips were scored, said only "aea: interrupted"."""
    from autoenc_audio.training import loop

    finish = loop.finish

    def interrupted(run):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "finish", interrupted)
    with pytest.raises(TrainingInterrupted, match="interrupted while testing: .* is trained and saved; finish with"):
        train(tiny(epochs=1), tmp_path / "run", tmp_path / "cache", data_root=songs)
    monkeypatch.setattr(loop, "finish", finish)
    summary = train(tiny(epochs=1), tmp_path / "run", tmp_path / "cache", data_root=songs, resume=True)
    assert summary["epochs"] == 1 and (tmp_path / "run" / "summary.json").is_file()


@pytest.mark.slow
def test_minutes_budget_stops_training(songs, tmp_path):
    config = TINY.with_budget(minutes=0.03, epochs=None)
    summary = train(config, tmp_path / "run", tmp_path / "cache", data_root=songs)
    assert summary["wall_seconds"] >= 0.03 * 60
    assert (tmp_path / "run" / "best.safetensors").exists()


@pytest.mark.slow
def test_a_step_budget_stops_at_exactly_that_step_with_the_schedule_run_down(songs, tmp_path):
    """5 steps: the tiny data's third epoch is cut after its first batch; the cosine schedule decays over the 5 steps
    (the last step's rate is the schedule's at 4/5), not over the preset's epochs."""
    config = TINY.with_budget(None, None, steps=5)
    summary = train(config, tmp_path / "run", tmp_path / "cache", data_root=songs)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert summary["steps"] == 5 and history[-1]["step"] == 5 and len(history) == 3
    assert history[-1]["lr"] == pytest.approx(learning_rate(TINY.train.lr, "cosine", 4 / 5))
    assert load_config(tmp_path / "run" / "config.toml").train.steps == 5


@pytest.mark.slow
def test_a_step_budget_run_resumes_to_its_steps_and_a_larger_budget_trains_on(songs, tmp_path):
    """Exact on one machine: both runs see the same data, seeds and kernels, and the state restores every RNG."""
    config = TINY.with_budget(None, None, steps=5)
    train(config, tmp_path / "whole", tmp_path / "cache", data_root=songs)
    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path / "parts", tmp_path / "cache", data_root=songs, reporter=AtStep(3, raise_interrupt))
    assert train(config, tmp_path / "parts", tmp_path / "cache", data_root=songs, resume=True)["steps"] == 5
    whole, parts = weights(tmp_path / "whole" / "last.safetensors"), weights(tmp_path / "parts" / "last.safetensors")
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
    # trained on to 10 steps: a fresh schedule over the 5 added steps, so the last step's rate is the schedule's at
    # 4/5 again (the 10-step schedule where it stands would give its rate at 9/10)
    longer = config.with_budget(None, None, steps=10)
    assert train(longer, tmp_path / "parts", tmp_path / "cache", data_root=songs, resume=True)["steps"] == 10
    history = [json.loads(line) for line in (tmp_path / "parts" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["step"] == 10
    assert history[-1]["lr"] == pytest.approx(learning_rate(TINY.train.lr, "cosine", 4 / 5))


@pytest.mark.slow
def test_a_run_trained_by_steps_trains_on_when_resumed_with_epochs(songs, tmp_path):
    """The budget given on resume replaces the run's own (as `aea train --resume --epochs 3` builds it from the
    run's config.toml): the spent step limit does not stop the epochs."""
    from autoenc_audio.runs.folder import config_for_resume

    train(TINY.with_budget(None, None, steps=2), tmp_path / "run", tmp_path / "cache", data_root=songs)
    resumed = config_for_resume(tmp_path / "run").with_budget(None, 3)
    summary = train(resumed, tmp_path / "run", tmp_path / "cache", data_root=songs, resume=True)
    assert summary["epochs"] == 3 and summary["steps"] > 2
    assert load_config(tmp_path / "run" / "config.toml").train.steps is None


@pytest.mark.slow
def test_a_finished_run_is_not_overwritten_unless_asked(songs, tmp_path):
    config = tiny(epochs=1)
    train(config, tmp_path / "run", tmp_path / "cache", data_root=songs)
    before = (tmp_path / "run" / "best.safetensors").read_bytes()
    with pytest.raises(
        RunError, match="run already holds a run: continue it with resume=True, or start it again with overwrite=True"
    ):
        train(config.override(model={"latent": 97}), tmp_path / "run", tmp_path / "cache", data_root=songs)
    assert (tmp_path / "run" / "best.safetensors").read_bytes() == before
    with pytest.raises(TrainingInterrupted):  # interrupted in its first epoch: no old file may remain beside it
        train(
            config.override(model={"latent": 97}),
            tmp_path / "run",
            tmp_path / "cache",
            data_root=songs,
            overwrite=True,
            reporter=AtStep(1, raise_interrupt),
        )
    assert not (tmp_path / "run" / "best.safetensors").exists() and not (tmp_path / "run" / "summary.json").exists()
    assert load_checkpoint(tmp_path / "run" / "last.safetensors").model.latent_size == 97
    summary = train(
        config.override(model={"latent": 97}), tmp_path / "run", tmp_path / "cache", data_root=songs, overwrite=True
    )
    assert summary["latent_size"] == 97
    with pytest.raises(RunError, match="give one of them"):
        train(config, tmp_path / "run", tmp_path / "cache", data_root=songs, resume=True, overwrite=True)


@pytest.mark.slow
def test_resume_without_a_run_is_a_clear_error(songs, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tiny(), tmp_path / "none", tmp_path / "cache", data_root=songs, resume=True)


@pytest.mark.slow
def test_resume_refuses_a_changed_split(songs, tmp_path):
    """Tracks added since the run started would move tracks between splits: resuming would train on test tracks."""

    data = tmp_path / "songs"
    shutil.copytree(songs, data)
    config = tiny(epochs=2)
    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path / "run", tmp_path / "cache", data_root=data, reporter=AtStep(2, raise_interrupt))
    assert json.loads((tmp_path / "run" / "run.json").read_text())["split"]
    for number in range(4, 8):
        shutil.copy(data / "low" / "low.00000.wav", data / "low" / f"low.{number:05d}.wav")
    with pytest.raises(RunError, match="split has changed"):
        train(config, tmp_path / "run", tmp_path / "cache", data_root=data, resume=True)


@pytest.mark.slow
def test_two_process_gloo_run(songs, tmp_path):
    env = {**os.environ, "AEA_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "autoenc_audio",
        "train",
        "--config",
        str(ROOT / "configs" / "tiny.toml"),
        "--data",
        str(songs),
        "--out",
        str(tmp_path / "ddp"),
        "--nproc",
        "2",
        "--device",
        "cpu",
        "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["latent_size"] == 512
    assert sorted(p.name for p in (tmp_path / "ddp").glob("*.safetensors")) == ["best.safetensors", "last.safetensors"]
    history = (tmp_path / "ddp" / "history.jsonl").read_text().splitlines()
    assert len(history) == 2  # rank 0 alone writes


MATRIX = [
    ("default", "ae", 0.0),
    ("default", "vae", 0.0),
    ("default", "ae", 0.25),
    ("default", "vae", 0.25),
    ("seed", "ae", 0.0),
    ("seed", "vae", 0.0),
]


@pytest.fixture(scope="module")
def one_track(tmp_path_factory, write_songs):
    """One four-second track: four clips, all of them training clips, seen in every epoch."""
    return write_songs(tmp_path_factory.mktemp("one"), labels=("a",), tracks=1, seconds=4.0)


@pytest.mark.slow
@pytest.mark.parametrize("arch, kind, envelope", MATRIX, ids=[f"{a}-{k}-envelope{e:g}" for a, k, e in MATRIX])
def test_every_arch_kind_and_envelope_trains_through_the_loop(one_track, tmp_path, arch, kind, envelope):
    """Every model the CLI can build goes through the real `train()` loop, and its loss on the same clips falls."""
    config = TINY.override(
        model={"arch": arch, "kind": kind, "envelope": envelope}, train={"epochs": 3, "batch_size": 1, "lr": 5e-4}
    )
    summary = train(config, tmp_path / "run", tmp_path / "cache", data_root=one_track)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["step"]) for r in history] == [(1, 4), (2, 8), (3, 12)]
    assert summary["arch"] == arch and summary["kind"] == kind and ("train_kl" in history[0]) == (kind == "vae")
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def cli_train(*args, cache):
    """`aea train` in this process (monkeypatches apply); CliRunner keeps stderr apart."""
    return CliRunner().invoke(cli, ["train", *map(str, args), "--cache-dir", str(cache)], env={"AEA_MODEL": ""})


def full_disk_once_a_run_has_last(monkeypatch, run):
    """Every file write fails with ENOSPC, half written, once `run` holds a `last` checkpoint."""
    real_write_bytes = Path.write_bytes

    def write_bytes(self, data):
        if not (run / "last.safetensors").exists():
            return real_write_bytes(self, data)
        real_write_bytes(self, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


NO_SPACE_LINE = r"^aea: error: {run}/(best|last)\.safetensors: cannot write \(no space left on device\)$"
RUN_FILES = ["best.safetensors", "config.toml", "history.jsonl", "last.safetensors", "last.state.pt", "run.json"]


@pytest.mark.slow
def test_a_full_disk_stops_training_in_one_line_and_resume_finishes_the_same_run(songs, tmp_path, monkeypatch):
    """Exact on one machine, as resume is."""
    run, cache = tmp_path / "run", tmp_path / "cache"
    train(tiny(epochs=2), tmp_path / "whole", cache, data_root=songs)
    full_disk_once_a_run_has_last(monkeypatch, run)
    failed = cli_train("--config", "tiny", "--epochs", "2", "--data", songs, "--out", run, cache=cache)
    assert failed.exit_code == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert re.match(NO_SPACE_LINE.format(run=re.escape(str(run))), failed.stderr.splitlines()[-1]), failed.stderr
    assert sorted(p.name for p in run.iterdir()) == RUN_FILES  # no temporary, pending or lock file
    assert load_training_state(run / "last.safetensors")["progress"]["epoch"] == 1
    assert load_checkpoint(run / "best.safetensors").info["epoch"] == 1
    monkeypatch.undo()
    resumed = cli_train("--out", run, "--resume", cache=cache)
    assert resumed.exit_code == 0, resumed.stderr
    assert [json.loads(line)["epoch"] for line in (run / "history.jsonl").read_text().splitlines()] == [1, 2]
    whole, parts = weights(tmp_path / "whole" / "last.safetensors"), weights(run / "last.safetensors")
    assert all(torch.equal(whole[k], parts[k]) for k in whole)


@pytest.mark.slow
def test_a_real_full_disk_keeps_best_and_last_and_resume_works_once_there_is_room(songs, tmp_path, small_disk):
    run, cache = small_disk / "run", tmp_path / "cache"
    command = [sys.executable, "-m", "autoenc_audio", "train", "--out", str(run), "--cache-dir", str(cache)]
    first = subprocess.run([*command, "--config", "tiny", "--epochs", "1", "--data", str(songs)], capture_output=True)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.suffix in (".safetensors", ".pt")}
    filler = small_disk / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - 200_000))  # room for small files, not a checkpoint
    failed = subprocess.run([*command, "--resume", "--epochs", "2"], capture_output=True, text=True)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr[-2000:]
    assert re.match(NO_SPACE_LINE.format(run=re.escape(str(run))), failed.stderr.splitlines()[-1]), failed.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.suffix in (".safetensors", ".pt")} == before
    assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES + ["summary.json"])
    assert load_checkpoint(run / "last.safetensors").fingerprint and load_checkpoint(run / "best.safetensors")
    filler.unlink()
    resumed = subprocess.run([*command, "--resume", "--epochs", "2"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [json.loads(line)["epoch"] for line in (run / "history.jsonl").read_text().splitlines()] == [1, 2]
