"""The built-in synthetic corpus: shapes, determinism, layout, and that styles are music and differ."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from autoenc_audio.synth.corpus import SYNTH_SAMPLE_RATE, render_track, write_corpus
from autoenc_audio.synth.styles import STYLES

FRAME = 2048
PEAK = 10 ** (-1 / 20)  # -1 dBFS


def _frames(signal: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Overlapping frames `[count, size]` of a mono signal."""
    count = 1 + (signal.size - size) // hop
    return signal[np.arange(size)[None, :] + hop * np.arange(count)[:, None]]


def _power_spectra(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windowed power spectra `[frames, bins]` of the mono mixdown and the bin frequencies."""
    mono = audio.mean(axis=1, dtype=np.float64) if audio.ndim == 2 else audio.astype(np.float64)
    power = np.abs(np.fft.rfft(_frames(mono, FRAME, FRAME // 2) * np.hanning(FRAME), axis=1)) ** 2
    return power, np.fft.rfftfreq(FRAME, 1 / SYNTH_SAMPLE_RATE)


def spectral_flatness(audio: np.ndarray) -> float:
    """Geometric over arithmetic mean of each frame's power spectrum, averaged over audible frames.

    1 for white noise, near 0 for tones; silent frames are skipped because
    their flatness is meaningless.
    """
    power, _ = _power_spectra(audio)
    energy = power.sum(axis=1)
    audible = power[energy > 1e-6 * energy.max()] + 1e-20
    return float(np.mean(np.exp(np.log(audible).mean(axis=1)) / audible.mean(axis=1)))


def style_features(audio: np.ndarray) -> np.ndarray:
    """Timbre, register and rhythm descriptors a genre classifier could use.

    log spectral centroid, log share of energy below 200 Hz, log onset rate
    (10 ms loudness jumps of 6 dB), loudness variation, and the quiet floor
    between events relative to the loud parts.
    """
    power, hz = _power_spectra(audio)
    centroid = np.log((power * hz).sum() / power.sum())
    bass_share = np.log(power[:, hz < 200].sum() / power.sum() + 1e-9)
    mono = audio.mean(axis=1, dtype=np.float64)
    hop = SYNTH_SAMPLE_RATE // 100
    rms = np.sqrt((_frames(mono, hop, hop) ** 2).mean(axis=1)) + 1e-6
    onsets_per_second = np.sum(np.diff(20 * np.log10(rms)) > 6) / (mono.size / SYNTH_SAMPLE_RATE)
    variation = rms.std() / rms.mean()
    floor = np.log(np.percentile(rms, 10) / np.percentile(rms, 90))
    return np.array([centroid, bass_share, np.log1p(onsets_per_second), variation, floor])


@pytest.fixture(scope="module")
def style_examples() -> dict[str, list[np.ndarray]]:
    """Three 3-second tracks per style."""
    return {style: [render_track(style, seed, 3.0) for seed in range(3)] for style in STYLES}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("corpus")
    return out, write_corpus(out, tracks=6, seconds=1.0, seed=7)


def test_each_named_style_renders_its_own_music_and_other_names_are_refused() -> None:
    tracks = {style: render_track(style, 0, 0.5, sample_rate=8000) for style in STYLES}
    assert len(tracks) >= 5
    digests = {track.tobytes() for track in tracks.values()}
    assert len(digests) == len(STYLES), "two styles rendered the same samples"
    with pytest.raises(ValueError, match="unknown style 'polka'; choose one of " + ", ".join(STYLES)):
        render_track("polka", 0, 0.5)


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders_loud_finite_stereo_of_the_exact_length(style: str) -> None:
    audio = render_track(style, seed=5, seconds=1.25)
    assert audio.dtype == np.float32
    assert audio.shape == (round(1.25 * SYNTH_SAMPLE_RATE), 2)
    assert np.all(np.isfinite(audio))
    peak = np.max(np.abs(audio))
    assert peak <= 1.0
    assert peak == pytest.approx(PEAK, rel=1e-3)
    assert np.sqrt(np.mean(audio**2)) > 0.01
    assert not np.allclose(audio[:, 0], audio[:, 1]), "the mix should be genuinely stereo"


def test_the_sample_count_is_rounded_from_seconds_at_any_rate() -> None:
    assert render_track("pads", 0, 0.30001).shape == (13230, 2)
    assert render_track("groove", 0, 0.5, sample_rate=22050).shape == (11025, 2)


@pytest.mark.parametrize("style", STYLES)
def test_the_seed_decides_the_track(style: str) -> None:
    """Exact: one process renders the same seed with the same numpy calls twice."""
    first = render_track(style, seed=11, seconds=1.0)
    np.testing.assert_array_equal(first, render_track(style, seed=11, seconds=1.0))
    other = render_track(style, seed=12, seconds=1.0)
    assert np.mean(np.abs(first - other)) > 0.01


def test_corpus_uses_the_gtzan_layout_with_every_style(small_corpus: tuple[Path, list[Path]]) -> None:
    out, paths = small_corpus
    expected = sorted(out / style / f"{style}.00000.wav" for style in STYLES)
    assert paths == expected
    left = sorted(p for p in out.rglob("*") if p.is_file())
    assert left == sorted([*expected, out / "aea-synth.json"]), "no temporary files left behind"
    for path in paths:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (44100, 2, 44100)
        assert info.subtype == "PCM_16"
        audio, rate = sf.read(path, dtype="float32")
        assert rate == 44100 and audio.shape == (44100, 2)
        assert 0.85 < np.max(np.abs(audio)) <= 0.9


def test_same_seed_gives_byte_identical_files(small_corpus: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """Byte-identical within one process: the same seed and numpy calls, then 16-bit PCM."""
    out, paths = small_corpus
    again = write_corpus(tmp_path / "again", tracks=6, seconds=1.0, seed=7)
    assert [p.relative_to(tmp_path / "again") for p in again] == [p.relative_to(out) for p in paths]
    for first, second in zip(paths, again, strict=True):
        assert first.read_bytes() == second.read_bytes()
    other = write_corpus(tmp_path / "other", tracks=6, seconds=1.0, seed=8)
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(paths, other, strict=True))


def test_tracks_are_dealt_round_robin_and_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    paths = write_corpus(tmp_path, tracks=len(STYLES) + 2, seconds=0.2, progress=lambda *args: calls.append(args))
    total = len(STYLES) + 2
    assert calls == [(done, total) for done in range(1, total + 1)]
    names = {p.relative_to(tmp_path).as_posix() for p in paths}
    assert f"{STYLES[0]}/{STYLES[0]}.00001.wav" in names
    assert f"{STYLES[1]}/{STYLES[1]}.00001.wav" in names
    assert f"{STYLES[2]}/{STYLES[2]}.00001.wav" not in names
    assert len(names) == total


def test_a_single_track_is_allowed(tmp_path: Path) -> None:
    assert write_corpus(tmp_path, tracks=1, seconds=0.1) == [tmp_path / STYLES[0] / f"{STYLES[0]}.00000.wav"]


def test_flatness_metric_sanity() -> None:
    noise = np.random.default_rng(0).standard_normal((SYNTH_SAMPLE_RATE, 2))
    assert spectral_flatness(noise) > 0.5


def test_no_style_is_noise(style_examples: dict[str, list[np.ndarray]]) -> None:
    for style, tracks in style_examples.items():
        flatness = np.mean([spectral_flatness(track) for track in tracks])
        assert flatness < 0.2, f"{style} is too noise-like (flatness {flatness:.3f})"


def test_styles_are_distinguishable_by_simple_features(style_examples: dict[str, list[np.ndarray]]) -> None:
    """Leave-one-out nearest-centroid on five descriptors gets most tracks right."""
    features = np.array([style_features(track) for tracks in style_examples.values() for track in tracks])
    labels = np.repeat(np.arange(len(STYLES)), 3)
    standard = (features - features.mean(axis=0)) / features.std(axis=0)
    correct = 0
    for held_out in range(len(labels)):
        rest = np.arange(len(labels)) != held_out
        centroids = np.array([standard[rest & (labels == s)].mean(axis=0) for s in range(len(STYLES))])
        correct += np.argmin(((centroids - standard[held_out]) ** 2).sum(axis=1)) == labels[held_out]
    assert correct / len(labels) >= 0.75
    centroids = np.array([standard[labels == s].mean(axis=0) for s in range(len(STYLES))])
    distances = np.sqrt(((centroids[:, None] - centroids[None]) ** 2).sum(axis=2))
    assert distances[~np.eye(len(STYLES), dtype=bool)].min() > 0.75


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda tmp: render_track("polka", 0, 1.0), "unknown style"),
        (lambda tmp: render_track("pads", 0, 0.0), "seconds"),
        (lambda tmp: render_track("pads", -1, 1.0), "seed"),
        (lambda tmp: write_corpus(tmp, tracks=0), "tracks"),
        (lambda tmp: write_corpus(tmp, tracks=2, seconds=-1.0), "seconds"),
    ],
)
def test_bad_arguments_raise_value_error(call, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        call(tmp_path)
    assert not any(tmp_path.iterdir()), "nothing is written before the arguments are checked"


def test_the_library_does_not_import_click() -> None:
    code = "import sys, autoenc_audio.synth.corpus; print('click' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
