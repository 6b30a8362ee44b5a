"""`aea score`: features against their definitions (docs/scoring.md), statistics, and the command on synthetic music."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.errors import InputError
from autoenc_audio.scoring import features as F
from autoenc_audio.scoring import statistics as score_stats
from autoenc_audio.scoring.score_sets import ScoreError, checkpoint_data, load_set, shaped_noise
from autoenc_audio.spectra import hann_window
from autoenc_audio.synth.corpus import render_track

ROOT = Path(__file__).resolve().parents[1]
RATE = F.SAMPLE_RATE
SECONDS = np.arange(F.CLIP_SAMPLES) / RATE


def _magnitude(signal: np.ndarray) -> np.ndarray:
    return F.stft_magnitude(F.peak_normalise(signal))


def _white(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(F.CLIP_SAMPLES)


def _click_train(bpm: float = 120.0) -> np.ndarray:
    """Short decaying 2 kHz clicks every beat, nothing in between: `[110250]`."""
    signal = np.zeros(F.CLIP_SAMPLES)
    click = np.sin(2 * np.pi * 2000 * np.arange(256) / RATE) * np.exp(-np.arange(256) / 40)
    for start in np.arange(0.1, 5.0, 60 / bpm):
        begin = int(start * RATE)
        signal[begin : begin + 256] += click[: F.CLIP_SAMPLES - begin]
    return signal


def _dilogarithm(x: float) -> float:
    return sum(x**k / k**2 for k in range(1, 400))


# ----------------------------------------------------------------------------- clips


def test_pieces_are_5_s_at_peak_half_and_short_remainders_are_dropped():
    signal = np.sin(2 * np.pi * 3 * np.arange(int(12.3 * RATE)) / RATE) * np.linspace(0.1, 2.0, int(12.3 * RATE))
    pieces = F.cut_pieces(signal)
    assert pieces.shape == (2, F.CLIP_SAMPLES)  # 12.3 s: two pieces, the 2.3 s rest dropped
    assert np.allclose(np.abs(pieces).max(axis=1), 0.5)
    assert F.cut_pieces(signal[: F.CLIP_SAMPLES - 100]).shape == (1, F.CLIP_SAMPLES)  # within 10 ms: padded
    assert F.cut_pieces(signal[: int(4.9 * RATE)]).shape == (0, F.CLIP_SAMPLES)
    assert len(F.cut_pieces(signal, hop=F.CLIP_SAMPLES // 2)) == 3  # the data's hop when clips overlap


def test_a_set_is_resampled_mono_and_subsampled(tmp_path):
    stereo = np.stack([np.sin(2 * np.pi * 440 * np.arange(44100 * 11) / 44100)] * 2, axis=1) * 0.1
    (tmp_path / "set" / "deeper").mkdir(parents=True)
    for number in range(5):
        soundfile.write(tmp_path / "set" / ("deeper" if number % 2 else "") / f"{number}.flac", stereo, 44100)
    (tmp_path / "set" / "notes.txt").write_text("not audio")
    clips = load_set(tmp_path / "set", clips=8)  # 5 files x 2 pieces = 10, subsampled to 8
    assert clips.shape == (8, F.CLIP_SAMPLES) and np.allclose(np.abs(clips).max(axis=1), 0.5)
    with pytest.raises(ScoreError) as caught:
        load_set(tmp_path / "set", clips=12)
    assert str(caught.value).endswith(
        "10 clips of 5 s; 12 are needed (generate more five-second audio, or ask for fewer with clips=N, 8 to 10)"
    )
    for file in list((tmp_path / "set").rglob("*.flac"))[:2]:
        file.unlink()  # 6 clips: fewer than any score takes, so fewer is not offered
    with pytest.raises(ScoreError) as caught:
        load_set(tmp_path / "set", clips=8)
    assert str(caught.value).endswith(
        "6 clips of 5 s; 8 are needed (generate more five-second audio; no score takes fewer than 8)"
    )


# ----------------------------------------------------------------------------- features


def test_stft_frames_and_the_84_values():
    magnitude = _magnitude(_white())
    assert magnitude.shape == (1025, 216) and magnitude.min() >= F.MAGNITUDE_FLOOR
    assert F.timbre(magnitude).shape == (80,)
    features, log_mels = F.clips_features(F.cut_pieces(_white()))
    assert features.shape == (1, 84) == (1, len(F.FEATURE_NAMES)) and log_mels.shape == (1, 40, 216)


def test_a_long_track_is_transformed_in_chunks_exactly():
    track = np.random.default_rng(1).standard_normal(RATE * 7)
    whole = F.log_mel(F.stft_magnitude(track)).astype(np.float32)
    assert np.allclose(F.track_log_mel(track, chunk_frames=100), whole, atol=1e-4)


def test_tonal_of_a_pure_tone_is_near_its_bound_and_far_above_noise():
    """A sine on A4: chroma peaks at A (index 9, C = 0). One pitch class spread by the filterbank's
    half-semitone Gaussian gives p = (e^-2, 1, e^-2) / sum and tonal 0.732; the window's main lobe
    spreads it a little more, so the tone sits just below that bound."""
    magnitude = _magnitude(np.sin(2 * np.pi * 440 * SECONDS))
    assert np.argmax(F.chroma(magnitude**2).mean(axis=1)) == 9
    assert abs(F.estimate_tuning(magnitude**2)) <= 0.03
    bump = np.array([np.exp(-2), 1, np.exp(-2)]) / (1 + 2 * np.exp(-2))
    bound = 1 + (bump * np.log(bump)).sum() / np.log(12)
    tone = F.tonal(magnitude)
    assert bound - 0.1 < tone <= bound + 1e-6
    chord = F.tonal(_magnitude(sum(np.sin(2 * np.pi * f * SECONDS) for f in (261.63, 329.63, 392.0))))
    noise = F.tonal(_magnitude(_white()))
    assert noise < 0.01 and chord > 10 * noise and tone > chord  # three classes: less clarity than one


def test_detuned_tone_is_found_by_the_tuning_estimate():
    magnitude = _magnitude(np.sin(2 * np.pi * 440 * 2 ** (0.3 / 12) * SECONDS))  # 30 cents sharp
    assert abs(F.estimate_tuning(magnitude**2) - 0.3) <= 0.05  # parabolic peaks of a Hann lobe: a few cents off
    assert np.argmax(F.chroma(magnitude**2).mean(axis=1)) == 9


def test_features_match_librosa_where_it_defines_them():
    librosa = pytest.importorskip("librosa")
    for signal in (np.sin(2 * np.pi * 300 * SECONDS), render_track("arpeggio", 3, 5.0, RATE).mean(axis=1)):
        magnitude = _magnitude(signal)
        power = magnitude**2
        assert F.estimate_tuning(power) == pytest.approx(librosa.estimate_tuning(S=power, sr=RATE, bins_per_octave=12))
        theirs = librosa.feature.chroma_stft(S=power, sr=RATE)
        ours = F.chroma(power)
        assert np.allclose(ours / ours.sum(axis=0), theirs / theirs.sum(axis=0), atol=1e-6)
    assert np.allclose(F.mel_filterbank(40), librosa.filters.mel(sr=RATE, n_fft=2048, n_mels=40), atol=1e-6)


def test_continuity_of_a_steady_tone_is_one_and_of_white_noise_its_analytic_value():
    """White noise: adjacent frames' log magnitudes are log-powers of complex Gaussians with coherence
    rho^2 (rho: the Hann window's overlap at hop 512), whose correlation is Li2(rho^2) / Li2(1)."""
    harmonic = sum(np.sin(2 * np.pi * 220 * k * SECONDS) / k for k in range(1, 8))
    assert F.continuity(_magnitude(harmonic)) > 0.97
    window = hann_window(F.N_FFT)
    rho = (window[: -F.HOP] * window[F.HOP :]).sum() / (window**2).sum()
    analytic = _dilogarithm(rho**2) / _dilogarithm(1.0)  # 0.301
    noise = np.mean([F.continuity(_magnitude(_white(seed))) for seed in range(3)])
    assert noise == pytest.approx(analytic, abs=0.03)


def test_rhythm_of_a_120_bpm_click_train_is_high_and_of_noise_low():
    clicks = F.rhythm(_magnitude(_click_train()))
    noise = np.mean([F.rhythm(_magnitude(_white(seed))) for seed in range(3)])
    assert clicks > 0.6 and noise < 0.2
    onsets = F.onset_strength(_magnitude(_click_train()))
    lag = np.argmax(np.correlate(onsets - onsets.mean(), onsets - onsets.mean(), "full")[len(onsets) - 1 + 11 :]) + 11
    assert min(abs(lag - beats * 0.5 * RATE / F.HOP) for beats in (1, 2, 3)) < 1  # whole beats of 21.5 frames


def test_flatness_of_white_noise_is_the_rayleigh_value_and_of_a_tone_near_zero():
    """|S| of white noise is Rayleigh: exp(E ln r) / E r = exp((ln 2 - gamma) / 2) / sqrt(pi / 2) = 0.8455."""
    rayleigh = np.exp((np.log(2) - np.euler_gamma) / 2) / np.sqrt(np.pi / 2)
    assert F.flatness(_magnitude(_white())) == pytest.approx(rayleigh, abs=0.005)
    assert F.flatness(_magnitude(np.sin(2 * np.pi * 440 * SECONDS))) < 0.01


# ----------------------------------------------------------------------------- statistics


def test_frechet_distance_is_the_textbook_formula():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(0)
    generated, real = rng.standard_normal((200, 6)) + 0.5, rng.standard_normal((300, 6)) * 1.5
    mean, std = real.mean(axis=0), real.std(axis=0)
    g, r = (generated - mean) / std, (real - mean) / std
    cov_g, cov_r = np.cov(g, rowvar=False), np.cov(r, rowvar=False)
    expected = np.sum((g.mean(0) - r.mean(0)) ** 2) + np.trace(cov_g + cov_r - 2 * sqrtm(cov_g @ cov_r).real)
    assert score_stats.frechet_distance(generated, real) == pytest.approx(expected, rel=1e-6)
    assert score_stats.frechet_distance(real, real) == pytest.approx(0, abs=1e-6)
    assert np.isfinite(score_stats.frechet_distance(generated[:20], rng.standard_normal((30, 6))))


def test_c2st_is_half_for_one_distribution_and_one_for_two():
    rng = np.random.default_rng(0)
    same = score_stats.c2st(rng.standard_normal((64, 10)), rng.standard_normal((100, 10)))
    apart = score_stats.c2st(rng.standard_normal((32, 10)) + 2, rng.standard_normal((32, 10)))
    assert 0.3 < same < 0.7 and apart == 1.0


def test_copied_finds_a_copied_window_at_any_frame_offset_exactly():
    rng = np.random.default_rng(0)
    tracks = [rng.standard_normal((40, n)).cumsum(axis=1) for n in (700, 1500, 86, 50)]
    clips = rng.standard_normal((2, 40, 216))
    clips[1] = tracks[1][:, 333:549] + 0.05 * rng.standard_normal((40, 216))
    assert score_stats.window_starts(216) == [0, 22, 43, 65, 86, 108, 129]
    queries = score_stats.window_queries(clips)
    finder = score_stats.CopyFinder(queries)
    for track in tracks:
        finder.add_track(track)
    brute = np.zeros(len(queries))
    for track in tracks:
        for start in range(track.shape[1] - 85):
            window = track[:, start : start + 86] - track[:, start : start + 86].mean(axis=1, keepdims=True)
            brute = np.maximum(brute, (queries * window).sum(axis=(1, 2)) / np.linalg.norm(window))
    assert np.allclose(finder.maxima(), brute, atol=1e-4)
    sets = [score_stats.window_queries(clips[:1]), score_stats.window_queries(clips[1:])]
    both = score_stats.CopyFinder(np.concatenate(sets))
    for track in tracks:
        both.add_track(track)
    assert score_stats.shares_of_copies(both.maxima(), [len(q) for q in sets]) == [0.0, 1.0]


def test_shaped_noise_has_the_spectrum_and_the_loudness_envelope():
    hz = np.arange(1025) * RATE / 2048
    mean_magnitude = np.exp(-hz / 2000) + 0.01 * np.exp(-(((hz - 6000) / 800) ** 2)) + 1e-4  # smooth, as an average is
    template = np.concatenate([np.zeros(F.CLIP_SAMPLES // 2), _white()[: F.CLIP_SAMPLES - F.CLIP_SAMPLES // 2]])
    noise = shaped_noise(mean_magnitude, template[None], seed=3)[0]
    assert np.abs(noise).max() == pytest.approx(0.5)
    assert np.abs(noise[: F.CLIP_SAMPLES // 2 - 2205]).max() < 1e-3  # silent where the template is
    ratio = np.log(F.stft_magnitude(noise)[:, 120:].mean(axis=1) / mean_magnitude)
    assert np.abs(ratio - np.median(ratio)).max() < 0.3  # the same shape, within the frames' random scatter


def test_checkpoint_data_reads_the_header_without_torch(tmp_path):
    metadata = {
        "format": "aea-checkpoint",
        "config": json.dumps({"data": {"test_fraction": 0.2}}),
        "info": json.dumps({"data": {"root": "/somewhere/music"}}),
    }
    header = json.dumps({"__metadata__": metadata}).encode()
    (tmp_path / "best.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    root, data = checkpoint_data(tmp_path / "best.safetensors")
    assert root == Path("/somewhere/music") and data.test_fraction == 0.2
    (tmp_path / "run.json").write_text(json.dumps({"data_root": None}))
    assert checkpoint_data(tmp_path / "best.safetensors")[0] is None  # the built-in corpus
    (tmp_path / "junk.safetensors").write_bytes(b"\x05" + b"\x00" * 20)
    with pytest.raises(ScoreError, match="not a readable aea checkpoint"):
        checkpoint_data(tmp_path / "junk.safetensors")


@pytest.mark.slow
def test_scoring_never_imports_torch():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from autoenc_audio.scoring.score_sets import RealData, score_against
        from autoenc_audio.synth.corpus import render_track
        tracks = [render_track(s, n, 10.0, 22050).mean(axis=1) for n in range(4) for s in ("arpeggio", "groove")]
        real = RealData(root="synthetic", held_out=tracks[:4], training=tracks[4:], hop=110250)
        sets = [("copy", np.stack([tracks[4][:110250], tracks[5][:110250]] * 4))]
        report = score_against(sets, real, clips=8)
        assert [row.kind for row in report.rows] == ["reference", "control", "control", "generated"]
        assert report.rows[-1].copied == 1.0, report.rows[-1]
        print("torch" in sys.modules)
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ----------------------------------------------------------------------------- the command on synthetic music


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    """20 tracks x 2 labels (plucked arpeggios; bass, chords and drums) of 20 s, and 8 new 10 s tracks of both."""
    root = tmp_path_factory.mktemp("music")
    for style in ("arpeggio", "groove"):
        for number in range(20):
            path = root / "data" / style / f"{style}.{number:03d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, render_track(style, number, 20.0, RATE).mean(axis=1), RATE)
        for number in range(4):
            path = root / "new" / f"{style}.{number:03d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, render_track(style, 1000 + number, 10.0, RATE).mean(axis=1), RATE)
    return root


def _run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="aea")


@pytest.mark.slow
def test_score_puts_shaped_noise_far_and_new_real_music_near(music):
    result = _run(
        "score", music / "new", "--data", music / "data", "--clips", 16, "--json", "--cache-dir", music / "cache"
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.output.strip().splitlines())}
    held_out, floor, noise, new = (
        rows["held-out real (R)"],
        rows["real floor"],
        rows["shaped noise"],
        rows[str(music / "new")],
    )
    assert [held_out["kind"], floor["kind"], noise["kind"], new["kind"]] == [
        "reference",
        "control",
        "control",
        "generated",
    ]
    assert held_out["clips"] == 16 and held_out["c2st"] is None  # 4 test tracks x 4 clips
    assert noise["c2st"] >= 0.9 and new["c2st"] <= 0.8 and floor["c2st"] <= 0.8
    assert noise["fd"] > 3 * new["fd"] and noise["fd"] > 3 * floor["fd"]
    assert noise["tonal"] < new["tonal"] / 3 and noise["continuity"] < new["continuity"] - 0.15
    assert floor["copied"] >= 0.9 and new["copied"] <= 0.1 and noise["copied"] is None


@pytest.mark.slow
def test_score_with_a_model_uses_its_data_and_split(music, tmp_path):
    import torch

    from autoenc_audio.checkpoints.checkpoint import save_checkpoint
    from autoenc_audio.config import AudioConfig, Config, DataConfig, ModelConfig
    from autoenc_audio.models import build_model

    config = Config(
        audio=AudioConfig(sample_rate=2000, clip_seconds=1.0),
        data=DataConfig(test_fraction=0.2),
        model=ModelConfig(arch="seed", latent=96),
    )
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "run" / "best.safetensors", build_model(config.model, config.audio), config)
    (tmp_path / "run" / "run.json").write_text(json.dumps({"data_root": str(music / "data")}))
    result = _run("score", music / "new", "--model", tmp_path / "run", "--clips", 8, "--cache-dir", music / "cache")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"# aea score: against 32 held-out clips (8 test tracks) of {music / 'data'}")
    assert "real floor\tcontrol\t8\t" in result.output and "shaped noise" in result.output


@pytest.mark.slow
def test_too_few_clips_and_bad_paths_are_one_line_errors(music, tmp_path):
    short = tmp_path / "short.wav"
    soundfile.write(short, np.zeros(RATE * 12), RATE)
    for args, expected in (
        ((short, "--data", music / "data"), f"aea: error: {short}: 2 clips of 5 s; 32 are needed"),
        ((tmp_path / "nope", "--data", music / "data"), f"aea: error: {tmp_path / 'nope'}: no such file or folder"),
        (
            (music / "new", "--data", tmp_path / "nodata", "--clips", 8),
            f"aea: error: {tmp_path / 'nodata'}: no such folder",
        ),
        ((music / "new", "--data", music / "data", "--model", tmp_path), "aea score: error: give --model or --data"),
    ):
        result = _run("score", *args, "--cache-dir", tmp_path / "cache")
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(expected), result.output
    piped = CliRunner().invoke(cli, ["score", "-", "--data", str(music / "data")], input=short.read_bytes())
    assert piped.exit_code == 2 and piped.output.startswith("aea: error: <stdin>: 2 clips of 5 s; 32 are needed")


@pytest.mark.slow
def test_too_few_clips_are_refused_in_one_line_by_the_api_as_by_the_command(music, tmp_path):
    """c2st's 5-fold cross-validation needs clips: `aea.score(clips=3)` ended in a scikit-learn traceback."""
    import autoenc_audio as aea
    from autoenc_audio.scoring.score_sets import ScoreError

    for clips in (3, 7):
        with pytest.raises(ScoreError) as caught:
            aea.score([music / "new"], data=music / "data", clips=clips, cache_dir=tmp_path / "cache")
        assert str(caught.value) == (
            f"{clips} clips are too few to score a set: the classifier's 5-fold cross-validation needs at least 8; "
            "ask for more with clips=N"
        )
        result = _run("score", music / "new", "--data", music / "data", "--clips", clips, "--cache-dir", tmp_path)
        assert result.exit_code == 2
        assert result.output.strip().splitlines() == [
            f"aea: error: {clips} clips are too few to score a set: the classifier's 5-fold cross-validation needs "
            "at least 8; ask for more with --clips N"
        ]


def test_a_set_s_m4a_is_an_error_saying_how_to_convert_it(tmp_path):
    """A folder of .m4a said only "no audio files in this folder"; beside WAVs, it was left out without a word."""
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "song.m4a").write_bytes(bytes(100))
    hint = "convert to WAV, FLAC, OGG or MP3 (e.g. ffmpeg -i 'song.m4a' 'song.flac')"
    with pytest.raises(InputError, match=r"song\.m4a: \.m4a files are not supported; ") as caught:
        load_set(tmp_path / "set", clips=8)
    assert str(caught.value).endswith(hint)
    soundfile.write(tmp_path / "set" / "a.wav", np.zeros(RATE * 6, np.float32), RATE)
    with pytest.raises(InputError, match=r"song\.m4a: \.m4a files are not supported; "):
        load_set(tmp_path / "set", clips=1)
