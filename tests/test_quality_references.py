"""Non-learned references: exactly N values, sensible quality ordering."""

import numpy as np
import pytest

from autoenc_audio.quality.references import (
    FramePCAReference,
    OpusReference,
    ResampleReference,
    build_references,
    opus_available,
    reference_metrics,
)

RATE, LENGTH = 8000, 8000


def clips(count, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / RATE
    out = []
    for _ in range(count):
        freqs = rng.uniform(80, 600, size=3)
        out.append(
            sum(0.2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) + 0.01 * rng.standard_normal(LENGTH)
        )
    return np.asarray(out, dtype=np.float32)


@pytest.mark.parametrize("latent", [1, 17, 64, 500, 513, 2000, 7999, 8000])
def test_codes_have_exactly_n_values(latent):
    train, test = clips(6), clips(3, seed=1)
    for reference in build_references(latent, LENGTH, train).values():
        codes = reference.encode(test)
        assert codes.shape == (3, latent)
        assert reference.decode(codes).shape == (3, LENGTH)


def test_frame_pca_layout_matches_the_model_rule():
    assert FramePCAReference.layout(18376, 110250) == (86, 216)
    assert FramePCAReference.layout(512, 8000) == (32, 16)


def test_more_values_reconstruct_better():
    train, test = clips(12), clips(4, seed=2)
    small = reference_metrics(500, test, train, RATE)
    large = reference_metrics(4000, test, train, RATE)
    for name in ("resample", "frame_pca"):
        assert large[name]["snr_db"] > small[name]["snr_db"]
    # resampling keeps what is below its Nyquist almost exactly; frame PCA spreads its error (METRICS.md)
    assert large["resample"]["snr_db"] > large["frame_pca"]["snr_db"]
    # tones below 600 Hz survive resampling to 4000 samples per second (Nyquist 2 kHz) almost exactly
    assert large["resample"]["snr_db"] > 25


def test_full_size_is_lossless_for_resample():
    test = clips(2)
    reference = ResampleReference(LENGTH, LENGTH)
    np.testing.assert_allclose(reference.reconstruct(test), test)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError):
        ResampleReference(0, LENGTH)
    with pytest.raises(ValueError):
        FramePCAReference.fit(clips(2), 9000, LENGTH)


def test_one_fit_serves_every_size():
    train, test = clips(6), clips(2, seed=3)
    fitted = FramePCAReference.fit(train, 64, LENGTH)
    direct = FramePCAReference.fit(train, 2000, LENGTH)
    np.testing.assert_allclose(np.abs(fitted.resized(2000).encode(test)), np.abs(direct.encode(test)), atol=1e-3)
    assert build_references(300, LENGTH, fitted)["frame_pca"].encode(test).shape == (2, 300)


needs_opus = pytest.mark.skipif(not opus_available(), reason="opusenc/opusdec (Debian's opus-tools) not installed")


@needs_opus
def test_opus_at_equal_bits_keeps_length_and_gets_better_with_more_bits():
    import torch

    from autoenc_audio.metrics import evaluate

    test = clips(2, seed=3)
    small, large = OpusReference(500, LENGTH, RATE), OpusReference(4000, LENGTH, RATE)
    assert small.kbps == pytest.approx(500 * 16 / 1000) and large.kbps == pytest.approx(64.0)
    low, high = small.reconstruct(test), large.reconstruct(test)
    assert low.shape == high.shape == test.shape
    quality = [evaluate(torch.from_numpy(test), torch.from_numpy(y), RATE) for y in (low, high)]
    assert quality[1]["snr_db"] > quality[0]["snr_db"] and quality[1]["snr_db"] > 10  # aligned: no delay left in
    assert quality[1]["mel_l1"] < quality[0]["mel_l1"]


def test_opus_refuses_a_bit_rate_opusenc_cannot_take():
    with pytest.raises(ValueError, match="kb/s"):
        OpusReference(100, LENGTH, RATE)  # 1.6 kb/s
