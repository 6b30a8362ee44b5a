"""One writer per run folder: a second is refused naming the owner's pid; a lock left by a killed one is taken over."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autoenc_audio import run_lock
from autoenc_audio.errors import StaleLockWarning
from autoenc_audio.run_lock import RunBusyError, hold_run, lock_path

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
            "import sys, time; from autoenc_audio.run_lock import hold_run\n"
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
