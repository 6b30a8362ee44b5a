"""The original 3-layer model (`--arch seed`): exact latent sizes, recorded layers, training."""

from __future__ import annotations

import math
import random
import time

import pytest
import torch
from torch import nn

from autoenc_audio.config import AudioConfig, ModelConfig
from autoenc_audio.models import build_model
from autoenc_audio.models.seed import (
    RECORDED_LAYERS,
    SeedLayers,
    build_seed,
    search_seed_layers,
    seed_layers,
)

CLIP = 110250  # 5 s at 22050 Hz, the original's clip


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These models are tiny: one thread avoids oversubscription on shared CPUs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


NAMED = [64, 9184, 10007, 18376, 24496, 32151, 55112, 110250, 110249, 100000, 91907, 60013, 8]


def _spread(clip: int, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    values = {64, clip, clip - 1, clip // 2, clip // 3}
    values.update(int(64 * (clip / 64) ** (i / 40)) for i in range(41))  # log-spaced
    values.update(rng.randint(64, clip) for _ in range(count))
    return sorted(v for v in values if 64 <= v <= clip)


def _forward_length(layers: SeedLayers, clip: int) -> int:
    """Length through real Conv1d layers (the formula in SeedLayers.lengths is checked against this)."""
    x = torch.zeros(1, 1, clip)
    channels = 1
    for out, k, s, p in zip(layers.channels, layers.kernels, layers.strides, layers.paddings):
        x = nn.functional.conv1d(x, torch.zeros(out, channels, k), stride=s, padding=p)
        channels = out
    return x.shape[-1]


def test_recorded_configurations_are_reproduced_exactly():
    audio = AudioConfig(sample_rate=22050, clip_seconds=5.0)
    assert audio.clip_samples == CLIP
    for latent, channels, frames, text in [
        (55112, 8, 6889, "channels 4,6,8; kernels 10,5,3; strides 4,2,2; padding 0,0,0 -> 8 x 6889"),
        (18376, 8, 2297, "channels 16,6,8; kernels 22,5,1; strides 12,2,2; padding 2,1,0 -> 8 x 2297"),
    ]:
        model_config = ModelConfig(arch="seed", latent=latent)
        assert seed_layers(model_config, CLIP) is RECORDED_LAYERS[latent]
        assert seed_layers(model_config, CLIP).describe(CLIP) == text
        model = build_model(model_config, audio)
        assert (model.layout.channels, model.layout.frames, model.layout.unused) == (channels, frames, 0)
        convs = [m for m in model.encoder if isinstance(m, nn.Conv1d)]
        layers = RECORDED_LAYERS[latent]
        assert [c.out_channels for c in convs] == list(layers.channels)
        assert [c.kernel_size[0] for c in convs] == list(layers.kernels)
        assert [c.stride[0] for c in convs] == list(layers.strides)
        assert [c.padding[0] for c in convs] == list(layers.paddings)
        with torch.no_grad():
            features = model.encoder(torch.zeros(1, 1, CLIP))
            assert features.shape == (1, channels, frames)
            out = model.decoder(features)
        assert out.shape[-1] == CLIP  # exact, without the wrapper's crop/pad


def test_encoder_has_tanh_after_every_conv_and_decoder_none_at_the_end():
    model = build_seed(ModelConfig(arch="seed", latent=55112), CLIP)
    kinds = [type(m).__name__ for m in model.encoder]
    assert kinds == ["Conv1d", "Tanh", "Conv1d", "Tanh", "Conv1d", "Tanh"]
    kinds = [type(m).__name__ for m in model.decoder]
    assert kinds == ["ConvTranspose1d", "Tanh", "ConvTranspose1d", "Tanh", "ConvTranspose1d"]
    vae = build_seed(ModelConfig(arch="seed", kind="vae", latent=55112), CLIP)
    assert [type(m).__name__ for m in vae.encoder][-1] == "Conv1d"  # no Tanh on mean / log-variance
    assert vae.encoder[-1].out_channels == 16


@pytest.mark.parametrize("latent", NAMED)
def test_search_gives_exactly_n_for_named_sizes(latent):
    layers = search_seed_layers(latent, CLIP)
    assert layers.latent_size(CLIP) == latent
    assert len(layers.channels) == 3
    assert latent % layers.channels[-1] == 0
    assert all(k >= s for k, s in zip(layers.kernels, layers.strides))
    assert _forward_length(layers, CLIP) == layers.frames(CLIP)


def test_search_prefers_eight_last_channels_and_one_for_primes():
    assert search_seed_layers(9184, CLIP).channels[-1] == 8
    assert search_seed_layers(64, CLIP).channels[-1] == 8
    assert search_seed_layers(10007, CLIP).channels[-1] == 1  # prime
    assert search_seed_layers(110249, CLIP).channels[-1] == 1  # prime


def test_search_gives_exactly_n_over_a_spread_and_is_fast():
    sizes = _spread(CLIP, 300, seed=1)
    start = time.perf_counter()
    found = [search_seed_layers(n, CLIP) for n in sizes]
    mean = (time.perf_counter() - start) / len(sizes)
    assert mean < 0.01
    for n, layers in zip(sizes, found):
        assert layers.latent_size(CLIP) == n, (n, layers)
        assert all(k >= s for k, s in zip(layers.kernels, layers.strides)), (n, layers)
        assert min(layers.paddings) >= 0
    # deterministic
    assert [search_seed_layers(n, CLIP) for n in sizes[:20]] == found[:20]


def test_search_covers_every_size_of_a_short_clip():
    clip = 2048
    for n in range(64, clip + 1):
        assert search_seed_layers(n, clip).latent_size(clip) == n, n


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_models_give_exact_latent_and_clip_length(kind):
    clip = 8000  # 1 s at 8 kHz keeps this quick
    audio = AudioConfig(sample_rate=8000, clip_seconds=1.0)
    sizes = [64, 97, 1000, 2003, 4096, 5555, 7919, 7999, 8000]
    x = torch.randn(2, 1, clip)
    for n in sizes:
        model = build_model(ModelConfig(arch="seed", kind=kind, latent=n), audio)
        assert model.layout.unused == 0
        with torch.no_grad():
            mean, logvar = model.encode_distribution(x)
            assert mean.shape == (2, n)
            assert (logvar is None) == (kind == "ae")
            features = model.encoder(x)
            assert features.shape[-1] == model.layout.frames
            # the decoder itself returns the clip length: no crop or pad needed
            assert model.decoder(features[:, : model.layout.channels]).shape == (2, 1, clip)
            out = model(x)
        assert out["recon"].shape == (2, 1, clip)
        assert out["latent"].shape == (2, n)
        if kind == "vae":
            assert torch.isfinite(out["kl"])


def test_recorded_sizes_for_other_clips_are_searched():
    layers = seed_layers(ModelConfig(arch="seed", latent=18376), 44100 * 5)
    assert layers not in RECORDED_LAYERS.values()
    assert layers.latent_size(44100 * 5) == 18376


def test_explicit_layers_are_used_and_checked():
    explicit = ModelConfig(
        arch="seed",
        latent=8 * 2297,
        seed_channels=(16, 6, 8),
        seed_kernels=(22, 5, 1),
        seed_strides=(12, 2, 2),
        seed_paddings=(2, 1, 0),
    )
    assert seed_layers(explicit, CLIP).describe(CLIP).endswith("-> 8 x 2297")
    two_layers = ModelConfig(
        arch="seed",
        latent=4 * 1024,
        seed_channels=(3, 4),
        seed_kernels=(4, 4),
        seed_strides=(2, 2),
        seed_paddings=(1, 1),
    )
    model = build_seed(two_layers, 4096)
    assert model(torch.randn(1, 1, 4096))["recon"].shape == (1, 1, 4096)
    wrong = ModelConfig(
        arch="seed",
        latent=1000,
        seed_channels=(4, 6, 8),
        seed_kernels=(10, 5, 3),
        seed_strides=(4, 2, 2),
        seed_paddings=(0, 0, 0),
    )
    with pytest.raises(ValueError, match="give 55112 latent values"):
        build_seed(wrong, CLIP)


def test_tiny_seed_model_learns_tones():
    torch.manual_seed(0)
    rate, clip = 4096, 4096
    t = torch.arange(clip) / rate
    tones = torch.stack(
        [0.5 * torch.sin(2 * math.pi * f * t) + 0.2 * torch.sin(2 * math.pi * 2 * f * t) for f in (55, 110, 165)]
    ).unsqueeze(1)
    model = build_model(ModelConfig(arch="seed", latent=1024), AudioConfig(sample_rate=rate, clip_seconds=1.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def rmse() -> torch.Tensor:
        return (model(tones)["recon"] - tones).pow(2).mean().sqrt()

    with torch.no_grad():
        first = rmse().item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = rmse()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        last = rmse().item()
    assert last < 0.7 * first, (first, last)
