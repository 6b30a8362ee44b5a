"""The decoder signature: crest ratios and octave levels say what a listener hears."""

import math

import numpy as np
import pytest
import torch

from autoenc_audio.quality.signature import crest_ratios, decoder_signature, octave_levels, octave_names

RATE = 22050


def noise(seconds=1.0, seed=0):
    return torch.from_numpy(
        np.random.default_rng(seed).standard_normal((2, int(RATE * seconds))).astype(np.float32) * 0.1
    )


def test_octave_names_cover_the_spectrum_up_to_nyquist():
    assert octave_names(22050) == ["<250", "250-500", "500-1k", "1k-2k", "2k-4k", "4k-8k", ">8k"]
    assert octave_names(8000) == ["<250", "250-500", "500-1k", "1k-2k", ">2k"]


def test_a_spike_raises_the_crest_ratio_and_a_copy_does_not():
    x = noise()
    clicked = x.clone()
    clicked[:, 5000] += 2.0
    assert crest_ratios(x, x).tolist() == pytest.approx([1.0, 1.0])
    assert (crest_ratios(x, clicked) > 2).all()
    assert math.isnan(float(crest_ratios(torch.zeros(1, 100), torch.ones(1, 100))[0]))


def test_a_darker_top_shows_in_the_top_octaves_only():
    x = noise()
    spectrum = torch.fft.rfft(x)
    frequencies = torch.fft.rfftfreq(x.shape[-1], 1 / RATE)
    darker = torch.fft.irfft(spectrum * torch.where(frequencies > 4000, 0.5, 1.0), n=x.shape[-1])  # -6 dB above 4 kHz
    levels = octave_levels(x, darker, RATE).mean(0)
    names = octave_names(RATE)
    assert levels[names.index("4k-8k")] == pytest.approx(-6.02, abs=0.3)
    assert levels[names.index(">8k")] == pytest.approx(-6.02, abs=0.3)
    assert abs(levels[names.index("500-1k")]) < 0.1
    signature = decoder_signature(x, darker, RATE)
    assert signature.octave_db["4k-8k"] == pytest.approx(-6.02, abs=0.3) and signature.clips == 2
