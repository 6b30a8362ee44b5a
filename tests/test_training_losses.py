"""Training losses: zero on identical inputs, positive otherwise, differentiable, equal to the metrics."""

import math

import pytest
import torch

from autoenc_audio import metrics
from autoenc_audio.training import losses


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(8192) / 22050
    x = (0.3 * torch.sin(2 * math.pi * 330 * t) + 0.01 * torch.randn(2, 8192, generator=generator))[:, None]
    y = x + 0.02 * torch.randn(x.shape, generator=generator)
    return x.float(), y.float()


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_zero_on_identical_positive_otherwise(name: str) -> None:
    x, y = _pair()
    loss = losses.LOSSES[name]
    assert float(loss(x, x.clone())) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(x, y)) > 0


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_gradients_flow_and_are_finite(name: str) -> None:
    x, y = _pair()
    y = y.clone().requires_grad_(True)
    losses.LOSSES[name](x, y).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and float(y.grad.abs().sum()) > 0


def test_gradients_finite_on_silent_estimate() -> None:
    x, _ = _pair()
    y = torch.zeros_like(x, requires_grad=True)
    (losses.multi_resolution_stft_loss(x, y) + losses.mel_loss(x, y)).backward()
    assert torch.isfinite(y.grad).all()


def test_default_losses_equal_reported_metrics() -> None:
    x, y = _pair()
    for item in range(len(x)):
        one_x, one_y = x[item : item + 1], y[item : item + 1]
        assert float(losses.multi_resolution_stft_loss(one_x, one_y)) == pytest.approx(
            float(metrics.mrstft(one_x, one_y)), rel=1e-5
        )
    assert float(losses.mel_loss(x, y)) == pytest.approx(float(metrics.mel_l1(x, y).mean()), rel=1e-5)


def test_mrstft_weights_and_resolutions() -> None:
    x, y = _pair()
    sc_only = losses.multi_resolution_stft_loss(x, y, convergence_weight=1.0, log_magnitude_weight=0.0)
    lm_only = losses.multi_resolution_stft_loss(x, y, convergence_weight=0.0, log_magnitude_weight=1.0)
    both = losses.multi_resolution_stft_loss(x, y)
    assert float(both) == pytest.approx(float(sc_only + lm_only), rel=1e-5)
    assert float(losses.multi_resolution_stft_loss(x, y, fft_sizes=(256,))) > 0


def test_a_silent_clip_does_not_swamp_the_batch() -> None:
    x, y = _pair()
    x = torch.cat([x, torch.zeros_like(x[:1])])
    y = torch.cat([y, 0.01 * torch.randn_like(y[:1])])
    loss = float(losses.multi_resolution_stft_loss(x, y))
    assert loss < 20, loss
    silent_clip = float(metrics.mrstft(x, y)[-1])  # per clip (the metric): large, measured against the silence floor
    assert 50 < silent_clip < 1000, silent_clip  # noise at -40 dBFS is ~47 dB above the floor


def test_shared_spectra_give_the_same_losses_as_separate_ones() -> None:
    """Training computes MR-STFT and mel from one set of STFTs; the numbers are the metrics' own."""
    x, y = _pair()
    terms = losses.loss_terms(x, y, ["l1", "mrstft", "mel"], sample_rate=22050)
    assert float(terms["mrstft"]) == pytest.approx(float(metrics.mrstft(x, y).mean()), rel=1e-5)
    assert float(terms["mel"]) == pytest.approx(float(metrics.mel_l1(x, y).mean()), rel=1e-5)
    assert float(terms["l1"]) == pytest.approx(float(losses.waveform_l1(x, y)))


def test_short_stft_sees_where_in_a_mel_frame_an_attack_lands() -> None:
    """The mel term's 93 ms frames hardly tell an attack 20 ms late from the right one; the short term does.

    Each loss's cost of the late attacks is taken relative to its cost of a uniform -3 dB level error, so the
    two losses' scales compare: the short term weighs the misplaced attacks twice as much as the mel term.
    """
    generator = torch.Generator().manual_seed(1)
    samples = 22050
    background = 0.003 * torch.randn(1, 1, samples, generator=generator)
    attacks = torch.zeros(1, 1, samples)
    for start in (4000, 12000, 18000):
        decay = torch.exp(-torch.arange(samples - start) / 400.0)
        attacks[..., start:] += 0.3 * torch.randn(1, 1, samples - start, generator=generator) * decay
    reference, late = background + attacks, background + torch.roll(attacks, 441, -1)

    def late_cost(loss) -> float:
        return float(loss(reference, late)) / float(loss(reference, 0.7 * reference))

    assert late_cost(losses.short_stft_loss) > 1.8 * late_cost(losses.mel_loss)


def test_shared_spectra_include_the_short_term() -> None:
    x, y = _pair()
    terms = losses.loss_terms(x, y, ["mrstft", "short_stft"], sample_rate=22050)
    assert float(terms["short_stft"]) == pytest.approx(
        float(metrics.mrstft(x, y, fft_sizes=(128, 256)).mean()), rel=1e-5
    )


def _burst_train() -> torch.Tensor:
    """Noise bursts with quiet gaps, [1, 1, samples]: music-like attacks with top-band energy."""
    generator = torch.Generator().manual_seed(2)
    samples = 22050
    audio = 0.002 * torch.randn(1, 1, samples, generator=generator)
    for start in range(1000, samples - 3000, 4000):
        decay = torch.exp(-torch.arange(3000) / 300.0)
        audio[..., start : start + 3000] += 0.2 * torch.randn(3000, generator=generator) * decay
    return audio


def test_the_excess_term_costs_a_click_and_not_a_quieter_rendering() -> None:
    reference = _burst_train()
    click = reference.clone()
    click[..., 9000:9008] += 0.5  # a spike in a quiet gap
    assert float(losses.excess_energy_loss(reference, 0.5 * reference)) == 0.0  # quieter everywhere: no excess
    soft = reference.clone()
    soft[..., 9000:9008] += 0.05
    assert float(losses.excess_energy_loss(reference, click)) > 1.5 * float(losses.excess_energy_loss(reference, soft))
    assert float(losses.excess_energy_loss(reference, soft)) > 0


def test_the_level_term_sees_a_darker_top_and_not_where_in_the_clip_it_is() -> None:
    reference = _burst_train()
    darker = 0.5 * (reference + torch.roll(reference, 1, -1))  # a two-tap low-pass: the top octaves fall
    shifted = torch.roll(reference, 2205, -1)
    assert float(losses.band_level_loss(reference, darker)) > 5 * float(losses.band_level_loss(reference, shifted))


def test_shared_spectra_give_the_excess_and_level_terms_their_own_value() -> None:
    x, y = _pair()
    terms = losses.loss_terms(x, y, ["mrstft", "mel", "excess", "level"], sample_rate=22050)
    assert float(terms["excess"]) == pytest.approx(float(losses.excess_energy_loss(x, y)), rel=1e-5)
    assert float(terms["level"]) == pytest.approx(float(losses.band_level_loss(x, y)), rel=1e-5)


def test_every_loss_is_a_setting_and_every_setting_a_loss() -> None:
    from autoenc_audio.config import DEFAULT_LOSS_WEIGHTS, Config, ConfigError

    assert set(DEFAULT_LOSS_WEIGHTS) == set(losses.LOSSES) | {"kl"}
    with pytest.raises(ConfigError, match="unknown losses: clicks"):
        Config().override(train={"loss_weights": {"clicks": 1.0}})


@pytest.mark.parametrize("sample_rate", [8000, 44100])
def test_shared_spectra_place_mel_excess_and_level_at_the_models_rate(sample_rate: int) -> None:
    """A model at another rate trains on bands placed for its rate: each term equals its own loss at that rate."""
    x, y = _pair()
    terms = losses.loss_terms(x, y, ["mrstft", "mel", "excess", "level"], sample_rate=sample_rate)
    assert float(terms["mel"]) == pytest.approx(float(metrics.mel_l1(x, y, sample_rate).mean()), rel=1e-5)
    assert float(terms["mel"]) != pytest.approx(float(losses.mel_loss(x, y)), rel=1e-3)  # not 22,050 Hz's bands
    assert float(terms["excess"]) == pytest.approx(float(losses.excess_energy_loss(x, y, sample_rate)), rel=1e-5)
    assert float(terms["level"]) == pytest.approx(float(losses.band_level_loss(x, y, sample_rate)), rel=1e-5)
