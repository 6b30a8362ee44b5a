"""Shared fixtures: every test makes its own audio."""

from __future__ import annotations

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

    def make(name: str, seconds: float = 6.0, rate: int = 44100, channels: int = 1, subtype: str | None = None, **kwargs) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, tone(seconds, rate, channels, **kwargs), rate, subtype=subtype)
        return path

    return make


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (tests/browser.py). Without one the test is skipped and says why (pytest -rs prints it)."""
    from browser import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium here: the page tests need Debian's chromium (.ci/run installs it with apt)")
    instance = Browser(executable)
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
