"""One writer per run folder: a second is refused naming the owner's pid; a lock left by a killed one is taken over."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autoenc_audio.errors import StaleLockWarning
from autoenc_audio.runs import lock as run_lock
from autoenc_audio.runs.lock import RunBusyError, hold_run, lock_path

ROOT = Path(__file__).resolve().parents[1]


def test_the_lock_holds_the_owner_pid_and_is_removed_on_exit_even_on_an_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RuntimeError, match="training failed"):
        with hold_run(run, "training") as path:
            assert path == lock_path(run) and path.read_text() == f"{os.getpid()}\ntraining\n"
            raise RuntimeError("training failed")
    assert list(run.iterdir()) == []


def test_a_folder_the_lock_created_goes_again_when_nothing_was_written(tmp_path):
    with hold_run(tmp_path / "new", "training"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()


def test_a_second_holder_is_refused_naming_the_folder_and_the_owner(tmp_path):
    """Checked while the owner still holds the folder: the refusal leaves its lock file, its pid and its lock in
    place, so a third try is refused too (after the owner leaves, the file is gone whatever the refusal did)."""
    owner_line = f"{os.getpid()}\ntraining\n"
    refusal = (
        f"{tmp_path}: in use by another aea process (pid {os.getpid()}, training); "
        "wait for it to end, or use another run folder"
    )
    with hold_run(tmp_path, "training"):
        with pytest.raises(RunBusyError) as caught:
            with hold_run(tmp_path, "training a prior"):
                pytest.fail("a second holder got the folder")
        assert str(caught.value) == refusal
        assert lock_path(tmp_path).read_text() == owner_line  # the refused one neither removed nor rewrote it
        with pytest.raises(RunBusyError, match=re.escape(refusal)):
            with hold_run(tmp_path, "training"):
                pytest.fail("the refusal released the owner's lock")
    assert not lock_path(tmp_path).exists()


def test_a_lock_whose_owner_ended_is_taken_over_with_a_warning(tmp_path, dead_pid):
    lock_path(tmp_path).write_text(f"{dead_pid}\ntraining\n")  # no process holds it: its owner was killed
    with pytest.warns(StaleLockWarning, match=rf"taking over the lock left by pid {dead_pid} \(training\)"):
        with hold_run(tmp_path, "training"):
            assert lock_path(tmp_path).read_text() == f"{os.getpid()}\ntraining\n"
    assert not lock_path(tmp_path).exists()


def test_without_flock_a_live_owner_pid_refuses_and_a_dead_one_is_taken_over(tmp_path, monkeypatch, dead_pid):
    """Where flock is missing (Windows, some network filesystems) whether the pid in the file runs decides."""
    monkeypatch.setattr(run_lock, "fcntl", None)
    with hold_run(tmp_path, "training"):
        with pytest.raises(RunBusyError, match=f"pid {os.getpid()}, training"):
            with hold_run(tmp_path, "training"):
                pass
    lock_path(tmp_path).write_text(f"{dead_pid}\ntraining a prior\n")
    with pytest.warns(StaleLockWarning, match=rf"pid {dead_pid} \(training a prior\)"):
        with hold_run(tmp_path, "training"):
            pass


def aea(*args, cache):
    command = [sys.executable, "-m", "autoenc_audio", *map(str, args), "--cache-dir", str(cache)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "AEA_MODEL": ""}, timeout=120)


@pytest.mark.slow
def test_train_and_train_prior_in_a_folder_another_process_holds_are_refused_in_one_line(
    tmp_path, write_songs, make_checkpoint
):
    songs = write_songs(tmp_path / "songs")
    run = tmp_path / "run"
    make_checkpoint(songs, tmp_path / "cache", run / "best.safetensors")
    before = (run / "best.safetensors").read_bytes()
    refusal = f"aea: error: {run}: in use by another aea process (pid {os.getpid()}, training); "
    with hold_run(run, "training"):
        trained = aea("train", "--config", "tiny", "--data", songs, "--out", run, "--overwrite", cache=tmp_path / "c")
        prior = aea("train-prior", "--model", run / "best.safetensors", "--epochs", "1", cache=tmp_path / "c")
        for result in (trained, prior):
            assert result.returncode == 2 and result.stderr.startswith(refusal), result.stderr
            assert len(result.stderr.splitlines()) == 1, result.stderr
    assert (run / "best.safetensors").read_bytes() == before


@pytest.mark.slow
def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from autoenc_audio.runs.lock import hold_run\n"
            f"with hold_run({str(tmp_path)!r}, 'training'):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(RunBusyError, match=f"pid {holder.pid}, training"):
            with hold_run(tmp_path, "training"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_path(tmp_path).read_text() == f"{holder.pid}\ntraining\n"  # kill -9 leaves the file
    with pytest.warns(StaleLockWarning, match=f"pid {holder.pid} \\(training\\), which ended"):
        with hold_run(tmp_path, "training"):
            pass
    assert not lock_path(tmp_path).exists()


# ----------------------------------------------------------------------------- issue 29: the launch, the unlink, stale


def hold_in_child(folder, env):
    """`hold_run(folder)` in a fresh process with `env`: "held", or the refusal's message."""
    code = (
        "import sys\nfrom autoenc_audio.runs.lock import hold_run, RunBusyError\n"
        f"try:\n    with hold_run({str(folder)!r}, 'training'):\n        print('held')\n"
        "except RunBusyError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_processes_the_holder_launches_may_work_in_its_folder_and_no_other(tmp_path):
    """`aea train --nproc` holds the folder across torchrun's launch: its ranks are let in, nobody else is."""
    with hold_run(tmp_path, "training") as path:
        launched = {**os.environ, **run_lock.holder_environment(path), "RANK": "0"}
        assert hold_in_child(tmp_path, launched) == "held"
        assert path.read_text() == f"{os.getpid()}\ntraining\n"  # the rank left the holder's lock as it was
        assert hold_in_child(tmp_path, dict(os.environ)).startswith(f"{tmp_path}: in use by another aea process")
        forged = {**launched, run_lock.HOLDER_VARIABLE: f"{os.getppid()}:{path.resolve()}"}  # not the lock's pid
        assert hold_in_child(tmp_path, forged).startswith(f"{tmp_path}: in use by another aea process")
        other = tmp_path / "other"
        assert hold_in_child(other, launched) == "held"  # another folder is taken as usual ...
    assert not lock_path(tmp_path).exists() and not other.exists()  # ... and released


@pytest.mark.slow
def test_a_second_aea_train_is_refused_while_nproc_launches_torchrun(tmp_path, write_songs, monkeypatch):
    """The launch's gap: `aea train --nproc 2` let go of the lock before torchrun started its ranks."""
    from click.testing import CliRunner

    from autoenc_audio.cli import cli

    songs = write_songs(tmp_path / "songs")
    run = tmp_path / "run"
    seen = {}

    def launch(command, **kwargs):  # stands for torchrun: what a rank and another user see meanwhile
        seen["rank 0"] = hold_in_child(run, {**kwargs.get("env", os.environ), "RANK": "0"})
        seen["second"] = aea("train", "--config", "tiny", "--data", songs, "--out", run, "--epochs", 1, cache=tmp_path)
        return 0

    monkeypatch.setattr(subprocess, "call", launch)
    args = ["train", "--nproc", "2", "--config", "tiny", "--data", songs, "--out", run, "--cache-dir", tmp_path]
    result = CliRunner().invoke(cli, [str(arg) for arg in args], env={"AEA_MODEL": ""})
    assert result.exit_code == 0, result.output
    assert seen["rank 0"] == "held"
    second = seen["second"]
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith(f"aea: error: {run}: in use by another aea process (pid {os.getpid()}, training)")
    assert len(second.stderr.splitlines()) == 1
    assert not lock_path(run).exists()


def test_a_lock_file_that_cannot_be_removed_still_lets_the_folder_go(tmp_path, monkeypatch):
    """A failed unlink must not leak the locked descriptor: this process could never take the folder again."""
    descriptors = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    real_unlink = Path.unlink

    def refuse(self, missing_ok=False):
        if self.name == run_lock.LOCK_NAME:
            raise PermissionError(13, "Permission denied", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    with hold_run(tmp_path, "training"):
        pass
    monkeypatch.undo()
    if descriptors is not None:
        assert len(os.listdir("/proc/self/fd")) == descriptors
    with pytest.warns(StaleLockWarning):  # the file stayed behind; its lock did not
        with hold_run(tmp_path, "training a prior"):
            assert lock_path(tmp_path).read_text() == f"{os.getpid()}\ntraining a prior\n"


def test_a_lock_that_may_be_stale_says_deleting_it_is_safe_once_no_aea_runs(tmp_path, monkeypatch):
    """Without flock a live pid refuses, and a pid can be reused by another program: say how to get out."""
    monkeypatch.setattr(run_lock, "fcntl", None)
    other_program = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_path(tmp_path).write_text(f"{other_program.pid}\ntraining\n")
        with pytest.raises(RunBusyError) as caught:
            with hold_run(tmp_path, "training"):
                pass
    finally:
        other_program.kill()
        other_program.wait()
    assert str(caught.value) == (
        f"{tmp_path}: in use by another aea process (pid {other_program.pid}, training); wait for it to end, or use "
        f"another run folder; once no aea process runs, deleting {lock_path(tmp_path)} is safe"
    )
