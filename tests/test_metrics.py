"""The metrics follow METRICS.md: known values, invariances, no NaN on silence."""

import math

import pytest
import torch

from autoenc_audio import metrics
from autoenc_audio.metric_info import format_value

SR = 22050


def _music_like(batch: int = 2, samples: int = 8192, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / SR
    tones = sum(torch.sin(2 * math.pi * f * t) / (k + 1) for k, f in enumerate((220.0, 440.0, 660.0, 1320.0)))
    noise = 0.01 * torch.randn(batch, samples, generator=generator)
    return (0.3 * tones + noise).float()


def test_identical_signals_are_perfect() -> None:
    x = _music_like()
    values = metrics.evaluate(x, x.clone())
    assert values["snr_db"] > 100 and values["si_sdr_db"] > 100
    assert values["mrstft"] == pytest.approx(0.0, abs=1e-6)
    assert values["mel_l1"] == pytest.approx(0.0, abs=1e-6)
    assert values["lsd_db"] == pytest.approx(0.0, abs=1e-6)
    assert set(values) == {"snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db"}


def test_shapes_and_mono_channel_axis() -> None:
    x = _music_like(batch=3)
    y = x + 0.01
    for name, function in metrics.METRICS.items():
        flat = function(x, y)
        channel = function(x[:, None], y[:, None])
        assert flat.shape == (3,), name
        assert torch.allclose(flat, channel), name


def test_known_snr() -> None:
    x = _music_like(batch=1, samples=22050)
    noise = torch.randn_like(x)
    for target in (0.0, 10.0, 20.0, 35.0):
        scale = torch.sqrt(x.square().sum() / noise.square().sum() / 10 ** (target / 10))
        assert float(metrics.snr_db(x, x + scale * noise)) == pytest.approx(target, abs=0.1)


def test_si_sdr_invariant_to_scaling_estimate() -> None:
    x = _music_like()
    y = x + 0.05 * torch.randn_like(x)
    base = metrics.si_sdr_db(x, y)
    for factor in (0.1, 3.0, -2.0):
        assert torch.allclose(metrics.si_sdr_db(x, factor * y), base, atol=1e-3)
    assert not torch.allclose(metrics.snr_db(x, 3.0 * y), metrics.snr_db(x, y))


def test_worse_estimates_score_worse() -> None:
    x = _music_like()
    near = metrics.evaluate(x, x + 0.001 * torch.randn_like(x))
    far = metrics.evaluate(x, x + 0.1 * torch.randn_like(x))
    assert near["snr_db"] > far["snr_db"]
    for name in ("mrstft", "mel_l1", "lsd_db"):
        assert 0 < near[name] < far[name], name


def test_silent_reference_gives_no_nan() -> None:
    silence = torch.zeros(2, 4096)
    for estimate in (silence, 0.1 * torch.randn(2, 4096)):
        for value in metrics.evaluate(silence, estimate).values():
            assert math.isfinite(value)
    assert torch.isfinite(metrics.spectral_flatness(silence)).all()


def test_against_silence_spectral_convergence_measures_the_estimate_above_a_floor() -> None:
    """A silent input's reconstruction gets a sane score: louder noise scores worse, nothing explodes."""
    silence = torch.zeros(1, 22050)
    scores = [
        float(metrics.stft_distance(silence, level * torch.randn(1, 22050), 1024)[0]) for level in (1e-5, 1e-3, 1e-1)
    ]
    assert scores[0] < 2 < scores[1] < scores[2] < 5000, scores
    assert float(metrics.stft_distance(silence, silence, 1024)[0]) < 1e-3  # silence reconstructed as silence: perfect
    music = torch.sin(torch.arange(22050) * 0.05)[None] * 0.3
    floorless = (
        metrics.stft_magnitude(music, 1024) - metrics.stft_magnitude(0.9 * music, 1024)
    ).norm() / metrics.stft_magnitude(music, 1024).norm()
    assert float(metrics.stft_distance(music, 0.9 * music, 1024)[0]) == pytest.approx(float(floorless), rel=1e-5)


def test_spectral_flatness_noise_and_sine() -> None:
    noise = torch.randn(2, 4 * SR, generator=torch.Generator().manual_seed(1))
    flatness = metrics.spectral_flatness(noise)
    assert torch.allclose(flatness, torch.full((2,), 0.56), atol=0.03)
    t = torch.arange(4 * SR) / SR
    sine = torch.sin(2 * math.pi * 440 * t)[None]
    assert float(metrics.spectral_flatness(sine)) < 0.01


def test_mel_filterbank_shape_and_partition_of_unity() -> None:
    bank = metrics.mel_filterbank(SR, 2048, 80)
    assert bank.shape == (80, 1025)
    assert float(bank.min()) >= 0 and float(bank.max()) <= 1.0 + 1e-6
    freqs = torch.arange(1025) * SR / 2048
    edges = metrics.mel_to_hz(torch.linspace(0, float(metrics.hz_to_mel(SR / 2)), 82, dtype=torch.float64))
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    assert torch.allclose(bank.sum(0)[inside], torch.ones(int(inside.sum())), atol=1e-5)
    # HTK: the first band's centre is at mel(Nyquist)/81 mel.
    assert float(edges[1]) == pytest.approx(700 * (10 ** (2595 * math.log10(1 + SR / 2 / 700) / 81 / 2595) - 1))
    # each band peaks near 1 and its support lies inside its edges
    for m in (0, 40, 79):
        support = freqs[bank[m] > 0]
        assert float(support.min()) > float(edges[m]) and float(support.max()) < float(edges[m + 2])


def test_mrstft_terms_match_manual_definition() -> None:
    x, y = _music_like(batch=1), _music_like(batch=1, seed=3) * 0.5
    total = 0.0
    for n_fft in (512, 1024, 2048):
        window = torch.hann_window(n_fft, periodic=True)
        mx = torch.stft(x, n_fft, n_fft // 4, window=window, center=True, pad_mode="reflect", return_complex=True).abs()
        my = torch.stft(y, n_fft, n_fft // 4, window=window, center=True, pad_mode="reflect", return_complex=True).abs()
        total += float(torch.linalg.norm(mx - my) / torch.linalg.norm(mx))
        total += float((torch.log(mx + 1e-7) - torch.log(my + 1e-7)).abs().mean())
    assert float(metrics.mrstft(x, y)) == pytest.approx(total / 3, rel=1e-4)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        metrics.snr_db(torch.zeros(1, 100), torch.zeros(1, 101))


def test_report_numbers_are_formatted_one_way() -> None:
    """Tables and reports show missing or non-finite values as a dash, large counts grouped."""
    assert [format_value(v) for v in (None, float("nan"), float("inf"), 0.4567, 657237, 1234.5)] == [
        "–",
        "–",
        "–",
        "0.46",
        "657,237",
        "1,234.50",
    ]
    assert format_value(12.34, 0) == "12" and format_value("n/a") == "n/a"
    import numpy as np

    assert [format_value(v) for v in (np.float32(0.456), np.float64("nan"), np.int64(18376))] == [
        "0.46",
        "–",
        "18,376",
    ]
