"""`aea train` and `aea train-prior` refuse what cannot run before any data work, in one line with exit 2."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.runs.lock import hold_run

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def test_resume_and_overwrite_together_are_refused_and_the_run_is_kept(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.toml").write_text((ROOT / "configs" / "tiny.toml").read_text())
    (tmp_path / "run" / "last.safetensors").write_bytes(b"a model")
    result = run("train", "--out", tmp_path / "run", "--resume", "--overwrite", "--cache-dir", tmp_path)
    assert result.exit_code == 2 and "give one of them" in result.output
    assert (tmp_path / "run" / "last.safetensors").read_bytes() == b"a model"


def test_resume_of_a_folder_that_is_no_run_says_there_is_nothing_to_resume(tmp_path):
    result = run("train", "--config", "tiny", "--out", tmp_path / "empty", "--resume", "--cache-dir", tmp_path)
    assert result.exit_code == 2 and "not a run folder (no config.toml); nothing to resume" in result.output


def test_train_prior_without_a_model_says_how_to_get_one(tmp_path):
    result = run("train-prior", "--cache-dir", tmp_path / "cache", env={"AEA_MODEL": ""})
    assert result.exit_code == 2 and "train one with 'aea train'" in result.output


def test_train_prior_help_says_its_defaults_come_from_the_runs_config_and_names_them_truly():
    """A tiny run keeps 64 clips, not the 1024 the help once promised: the help names the config as the source."""
    from autoenc_audio.config import load_config

    result = run("train-prior", "--help", env={"COLUMNS": "400"})
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    assert "[default: 1024]" not in help_text and "[default: 20;" not in help_text
    clips = {name: load_config(name).prior.memory_clips for name in (None, "tiny", "demo")}
    assert (
        f"[default: [prior] memory_clips of the run's config: {clips[None]} unless it sets one; "
        f"the tiny preset {clips['tiny']}, demo {clips['demo']}]"
    ) in help_text
    assert f"[default: [prior] patience of the run's config, {load_config(None).prior.patience} unless" in help_text


def test_a_lock_left_by_a_killed_run_is_taken_over_with_one_warning_line(tmp_path, dead_pid):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.safetensors").write_bytes(b"a model")
    (tmp_path / "run" / "aea.lock").write_text(f"{dead_pid}\ntraining\n")  # no process holds it
    result = run("train", "--config", "tiny", "--out", tmp_path / "run", "--cache-dir", tmp_path)
    warning, error = result.stderr.splitlines()
    assert warning == (
        f"aea: warning: {tmp_path / 'run'}: taking over the lock left by pid {dead_pid} (training), "
        "which ended without releasing it"
    )
    assert result.exit_code == 2 and "already holds a run" in error
    assert not (tmp_path / "run" / "aea.lock").exists()


def test_a_run_folder_in_use_is_refused_before_launching_processes(tmp_path):
    with hold_run(tmp_path / "run", "training"):
        result = run("train", "--config", "tiny", "--out", tmp_path / "run", "--nproc", "2", "--cache-dir", tmp_path)
    assert result.exit_code == 2 and result.stderr == (
        f"aea: error: {tmp_path / 'run'}: in use by another aea process (pid {os.getpid()}, training); "
        "wait for it to end, or use another run folder\n"
    )


@pytest.mark.slow
def test_steps_trains_that_many_steps_and_resume_with_more_steps_goes_on(tmp_path, write_songs):
    songs = write_songs(tmp_path / "songs", tracks=4)
    common = ("--out", tmp_path / "run", "--cache-dir", tmp_path / "cache", "--json")
    first = run("train", "--config", "tiny", "--data", songs, "--steps", 3, *common)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.splitlines()[-1])["steps"] == 3
    more = run("train", "--resume", "--steps", 4, *common)
    assert more.exit_code == 0, more.output
    assert json.loads(more.output.splitlines()[-1])["steps"] == 4
    assert run("train", "--steps", 0, *common).exit_code == 2


@pytest.mark.slow
def test_resume_names_ignored_audio_flags_takes_the_device_and_a_finished_run_says_only_so(tmp_path, write_songs):
    """`--resume` trained at the run's own rate and clip length without naming --sample-rate and --clip-seconds,
    accepted --device cuda on a machine without one (and trained on the CPU), dropped --workers; a finished run
    printed "resuming ... at epoch" before saying it had trained its whole budget."""
    songs = write_songs(tmp_path / "songs", tracks=4)
    common = ("--out", tmp_path / "run", "--cache-dir", tmp_path / "cache")
    assert run("train", "--config", "tiny", "--data", songs, "--steps", 2, "--device", "cpu", *common).exit_code == 0
    changed = run(
        "train", "--resume", "--steps", 3, "--sample-rate", 44100, "--clip-seconds", 2, "--workers", 1, *common
    )
    assert changed.exit_code == 0, changed.output
    assert "ignoring --sample-rate, --clip-seconds" in changed.output
    config = (tmp_path / "run" / "config.toml").read_text()
    assert "workers = 1" in config and "sample_rate = 8000" in config
    if not torch.cuda.is_available():
        gpu = run("train", "--resume", "--steps", 4, "--device", "cuda", *common)
        assert gpu.exit_code == 2 and "no CUDA GPU is available" in gpu.output
    finished = run("train", "--resume", "--steps", 3, *common)
    assert finished.exit_code == 0 and "has trained its whole budget" in finished.output
    assert "resuming" not in finished.output


def test_a_prior_without_validation_clips_shows_none_not_nan(capsys):
    """`aea train-prior` on a memory of 8 clips printed `val nan` every epoch, and `aea info` `val loss nan`."""
    from autoenc_audio.cli.common import print_json
    from autoenc_audio.cli.train_commands import _loss

    assert _loss(float("nan")) == _loss(None) == "none (no validation clips)"
    assert _loss(1.23456) == "1.2346" and _loss(1.23456, 3) == "1.235"
    print_json({"val_loss": float("nan"), "train_loss": 2.5})  # train-prior --json prints its summary so
    assert capsys.readouterr().out == '{"val_loss": null, "train_loss": 2.5}\n'  # null, not NaN


@pytest.mark.parametrize("rank, shown", [("0", True), ("1", False)])
@pytest.mark.parametrize("interrupt", ["saved", "before saving"])
def test_ctrl_c_in_a_job_of_nproc_ranks_is_said_once_by_rank_0(tmp_path, monkeypatch, rank, shown, interrupt):
    """Ctrl-C under `aea train --nproc 2` printed "aea: interrupted: saved ...; continue with --resume" per rank."""
    from autoenc_audio.training import loop

    def interrupted(*args, **kwargs):
        if interrupt == "saved":
            raise loop.TrainingInterrupted(
                f"interrupted: saved {tmp_path / 'run' / 'last.safetensors'}; continue with resume=True and run_dir "
                f"{tmp_path / 'run'}",
                settings=("resume=True", "run_dir"),
            )
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train", interrupted)
    args = ("train", "--config", "tiny", "--out", tmp_path / "run", "--nproc", "2", "--cache-dir", tmp_path)
    result = run(*args, env={"RANK": rank, "WORLD_SIZE": "2", "AEA_MODEL": ""})  # one of torchrun's ranks
    assert result.exit_code == 130
    said = (
        f"aea: interrupted: saved {tmp_path / 'run' / 'last.safetensors'}; continue with --resume and --out "
        f"{tmp_path / 'run'}"
        if interrupt == "saved"
        else "aea: interrupted"
    )
    assert result.stderr.splitlines() == ([said] if shown else [])


def test_ctrl_c_while_the_ranks_train_is_left_to_them_and_the_job_s_status_is_the_command_s(tmp_path, monkeypatch):
    """The launching command said "aea: interrupted" on Ctrl-C and killed torchrun, leaving its ranks running
    after the run folder's lock was let go; it now waits for the job, whose rank 0 says how to resume."""

    def job(command, **kwargs):  # stands for torchrun: Ctrl-C reaches the command too, while it waits
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        return 130

    monkeypatch.setattr(subprocess, "call", job)
    result = run("train", "--config", "tiny", "--out", tmp_path / "run", "--nproc", "2", "--cache-dir", tmp_path)
    assert result.exit_code == 130 and result.stderr == ""
    assert not (tmp_path / "run").exists()  # its lock let go after the job, and the empty folder removed


def test_a_job_s_status_is_its_rank_0_s_and_a_rank_killed_by_a_signal_is_named():
    """torchrun's report of a failed rank (a table and a traceback) is left out: the rank said why itself."""
    from types import SimpleNamespace

    from autoenc_audio.cli.torchrun import failed_status

    assert failed_status({1: SimpleNamespace(exitcode=1), 0: SimpleNamespace(exitcode=2)}) == (2, None)
    assert failed_status({1: SimpleNamespace(exitcode=-9)}) == (
        137,
        "training process 1 of the job was killed by SIGKILL",
    )


@pytest.mark.parametrize("command", ["train", "demo"])
def test_a_run_folder_under_a_file_names_the_file(tmp_path, command):
    """`aea train --out afile/r` said "afile/r/aea.lock: cannot write (Not a directory)"."""
    (tmp_path / "afile").write_text("x")
    result = run(command, "--config", "tiny", "--out", tmp_path / "afile" / "r", "--cache-dir", tmp_path)
    assert (
        result.exit_code == 2 and result.stderr.splitlines()[-1] == f"aea: error: {tmp_path / 'afile'}: not a directory"
    )


def test_info_of_an_audio_file_says_it_is_audio_not_a_corrupt_checkpoint(tmp_path):
    """`aea info song.wav` said the file was "not a readable safetensors file, truncated or corrupt"."""
    import numpy as np
    import soundfile as sf

    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(800, dtype=np.float32), 8000)
    renamed = tmp_path / "song.safetensors"  # told by its bytes when its name does not say
    renamed.write_bytes(song.read_bytes())
    for path in (song, renamed):
        result = run("info", path, "--cache-dir", tmp_path)
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert f"{path}: an audio file, not a checkpoint or run folder" in result.output
        assert "corrupt" not in result.output


def _info(path, tmp_path):
    result = run("info", path, "--cache-dir", tmp_path)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


def test_info_says_what_aeas_own_files_are_when_given_as_a_model(tmp_path):
    """A run's config.toml and history.jsonl and aea's .npy latents were "truncated or corrupt"; aea's own .pt latent
    file "a pickled PyTorch file; aea reads only .safetensors", though 'aea decode' reads it."""
    from autoenc_audio.latents.files import LatentFile, make_metadata, save_latents

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "best.safetensors").write_bytes(b"a model")
    (run_dir / "config.toml").write_text((ROOT / "configs" / "tiny.toml").read_text())
    (run_dir / "history.jsonl").write_text('{"epoch": 1}\n')
    assert _info(run_dir / "config.toml", tmp_path) == (
        f"aea: error: {run_dir / 'config.toml'}: a run's config, not a model checkpoint; give its run folder ({run_dir})"
    )
    assert f"{run_dir / 'history.jsonl'}: a run's training history, not a model checkpoint" in _info(
        run_dir / "history.jsonl", tmp_path
    )
    (tmp_path / "settings.toml").write_text("[train]\nlr = 0.001\n")
    assert "settings.toml: a TOML file, not a model checkpoint" in _info(tmp_path / "settings.toml", tmp_path)
    latents = torch.randn(2, 8)
    for fmt in ("pt", "npz", "safetensors"):
        path = tmp_path / f"z.{fmt}"
        save_latents(path, LatentFile(latents, make_metadata("matrix", latents)))
        assert _info(path, tmp_path) == (
            f"aea: error: {path}: an aea latent file (from 'aea encode'; 'aea decode' reads it), not a model "
            f"checkpoint or run folder"
        )
    save_latents(tmp_path / "z.npy", LatentFile(latents))
    assert "z.npy: a NumPy array (as 'aea encode' writes latents, which 'aea decode' reads)" in _info(
        tmp_path / "z.npy", tmp_path
    )


def test_info_refuses_a_checkpoint_whose_weights_are_corrupt_as_every_other_command_does(tmp_path):
    """`aea info` exited 0 and described it as healthy; `aea reconstruct` said the weights are corrupt."""
    from autoenc_audio.checkpoints.checkpoint import save_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.models import build_model

    config = load_config(ROOT / "configs" / "tiny.toml")
    path = save_checkpoint(tmp_path / "model.safetensors", build_model(config.model, config.audio), config)
    assert run("info", path, "--cache-dir", tmp_path).exit_code == 0
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # inside the tensor data: still a valid safetensors file
    path.write_bytes(bytes(data))
    assert _info(path, tmp_path) == (
        f"aea: error: {path}: weights are corrupt (fingerprint does not match the metadata)"
    )
