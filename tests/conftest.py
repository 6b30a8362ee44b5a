"""Shared fixtures: every test makes its own audio."""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """A chord of harmonics per channel, `[frames, channels]`; channel c is scaled by (c + 1) / channels."""
    t = np.arange(int(round(seconds * rate))) / rate
    mono = amplitude * (0.6 * np.sin(2 * np.pi * freq * t) + 0.4 * np.sin(2 * np.pi * 1.5 * freq * t))
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


@pytest.fixture
def make_audio(tmp_path: Path):
    """Write a test file: make_audio(name, seconds, rate, channels, subtype=None, **tone_kwargs)."""

    def make(
        name: str, seconds: float = 6.0, rate: int = 44100, channels: int = 1, subtype: str | None = None, **kwargs
    ) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, tone(seconds, rate, channels, **kwargs), rate, subtype=subtype)
        return path

    return make


def truncated_mp3(path: Path, seconds: float = 12.0, rate: int = 22050, keep: float = 0.6) -> Path:
    """An incomplete download: an MP3 of `seconds` of tone cut to its first `keep` of bytes. Its header (a Xing
    frame) still says `seconds`; it decodes to about `keep * seconds`."""
    whole = io.BytesIO()
    soundfile.write(whole, tone(seconds, rate)[:, 0], rate, format="MP3", subtype="MPEG_LAYER_III")
    data = whole.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def unknown_length_flac(path: Path, seconds: float = 3.0, rate: int = 44100) -> Path:
    """A valid FLAC whose header holds no length, as `ffmpeg ... -f flac -` writes to a pipe: STREAMINFO's
    total-samples field and MD5 zeroed (libsndfile then reports 2**63 - 1 frames)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, tone(seconds, rate), rate, format="FLAC", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO first: 34 bytes from offset 8
    data[21] &= 0xF0  # the 36-bit total samples: bytes 21 (low 4 bits) to 25
    data[22:26] = bytes(4)
    data[26:42] = bytes(16)  # MD5 unknown too
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "configs" / "tiny.toml"


def _write_songs(root: Path, labels=("low", "high"), tracks=3, seconds=2.2, rate=8000) -> Path:
    """Labelled sub-folders of short harmonic tones with clicks, one pitch per track."""
    rng = np.random.default_rng(0)
    for number_label, label in enumerate(labels):
        (root / label).mkdir(parents=True, exist_ok=True)
        for number in range(tracks):
            t = np.arange(int(seconds * rate)) / rate
            base = 110.0 * (4**number_label) * (1 + number / 8)
            audio = 0.4 * np.sin(2 * np.pi * base * t) + 0.05 * (rng.random(len(t)) - 0.5) * np.exp(-((t % 0.25) * 30))
            soundfile.write(root / label / f"{label}.{number:05d}.wav", audio.astype("float32"), rate)
    return root


def _make_checkpoint(songs: Path, cache: Path, out: Path) -> Path:
    """A PCA-initialised tiny model saved as a checkpoint (no training: fast, and a real model)."""
    import torch

    from autoenc_audio.checkpoints.checkpoint import save_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.data import prepare_dataset
    from autoenc_audio.models import build_model

    tiny = load_config(TINY_CONFIG)
    prepared = prepare_dataset(songs, tiny.audio, tiny.data, cache)
    model = build_model(tiny.model, tiny.audio)
    train = prepared.splits["train"]
    model.initialize_from_data(torch.stack([train[i][0] for i in range(len(train))]))
    return save_checkpoint(out, model, tiny, labels=prepared.labels)


def _make_run_with_prior(songs: Path, cache: Path, run: Path) -> Path:
    """A tiny model trained one epoch on `songs` into the run folder `run`, with a prior of 2 epochs beside it."""
    import dataclasses

    from autoenc_audio.checkpoints.checkpoint import load_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.prior.train import train_prior
    from autoenc_audio.training.loop import train

    config = load_config(TINY_CONFIG).override(train={"epochs": 1, "device": "cpu"})
    train(config, run, cache, data_root=songs)
    checkpoint = load_checkpoint(run / "best.safetensors")
    train_prior(checkpoint, run, dataclasses.replace(config.prior, epochs=2, device="cpu"), cache)
    return run


@pytest.fixture(scope="session")
def write_songs():
    """write_songs(root, labels=("low", "high"), tracks=3, seconds=2.2, rate=8000) -> root."""
    return _write_songs


@pytest.fixture(scope="session")
def make_checkpoint():
    """make_checkpoint(songs, cache, out) -> a checkpoint of an untrained, PCA-initialised tiny model."""
    return _make_checkpoint


@pytest.fixture(scope="session")
def make_run_with_prior():
    """make_run_with_prior(songs, cache, run) -> a run folder: a tiny model trained 1 epoch and its prior (seconds)."""
    return _make_run_with_prior


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has ended and been reaped, so none runs under it: a lock file's owner that was
    killed. Linux hands out pids in turn and wraps only at pid_max, so it is not reused within a test (a fixed
    number such as 4194303 can be a live process where pid_max is 4194304)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    return child.pid


@pytest.fixture
def full_disk_at_write(monkeypatch):
    """full_disk_at_write(n): the n-th `Path.write_bytes` from now on (how checkpoints and priors are written)
    finds the disk full: half its bytes land, then ENOSPC, as a real full disk does."""

    def arm(number: int) -> None:
        real_write_bytes, writes = Path.write_bytes, []

        def write_bytes(self, data):
            writes.append(self)
            if len(writes) != number:
                return real_write_bytes(self, data)
            real_write_bytes(self, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(Path, "write_bytes", write_bytes)

    return arm


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs at tmp_path/disk, for a real full disk; unmounted afterwards. Skipped, saying why, where
    it cannot be mounted (not root, or no mount allowed in a container)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs; the ENOSPC tests cover the rest")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("a real full disk needs mount and umount to make a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip() or mounted.returncode}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)]).returncode != 0:
            subprocess.run(["umount", "--lazy", str(disk)])


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (tests/browser.py). Without one the test is skipped and says why (pytest -rs prints it)."""
    from browser import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium here: the page tests need Debian's chromium (.ci/run installs it with apt)")
    try:
        instance = Browser(executable)
    except (RuntimeError, TimeoutError, OSError) as error:
        pytest.skip(f"chromium ({executable}) did not start: {error}")
    yield instance
    instance.close()


@pytest.fixture
def check_page(browser):
    """check_page(path): load the page in Chromium and fail on what a person would find wrong; returns the report."""
    from browser import problems

    def check(path: Path):
        report = browser.check_page(path)
        assert problems(report, path) == [], problems(report, path)
        return report

    return check


def _write_tone_songs(root: Path) -> Path:
    """Eight 3.2 s tracks in two labelled folders (a melody of tones plus noise bursts, 8 kHz, seeded): the tiny
    preset's training data whose validation loss falls for several epochs."""
    import soundfile

    rng = np.random.default_rng(0)
    for label, base in (("low", 110.0), ("high", 880.0)):
        (root / label).mkdir(parents=True)
        for number in range(4):
            t = np.arange(int(3.2 * 8000)) / 8000
            melody = np.sin(2 * np.pi * base * (1 + number / 8) * t) * (0.5 + 0.3 * np.sin(2 * np.pi * 2 * t))
            hits = (rng.random(len(t)) - 0.5) * np.exp(-((t % 0.25) * 30))
            soundfile.write(
                root / label / f"{label}.{number:05d}.wav", (0.4 * melody + 0.2 * hits).astype("float32"), 8000
            )
    return root


@pytest.fixture(scope="session")
def write_tone_songs():
    return _write_tone_songs


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright's Python package (never its own browser download), autoplay allowed
    and muted; skipped, saying why, without either."""
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium here: the page tests need Debian's chromium (.ci/run installs it with apt)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: make setup")
    with sync_api.sync_playwright() as playwright:
        flags = ["--no-sandbox", "--mute-audio", "--autoplay-policy=no-user-gesture-required"]
        browser = playwright.chromium.launch(executable_path=executable, args=flags)
        yield browser
        browser.close()
