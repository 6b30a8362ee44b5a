"""Generation: random samples (VAE prior, fitted Gaussian, naive), averages, interpolations, sidecars."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.config import load_config
from autoenc_audio.data import DatasetError, prepare_dataset
from autoenc_audio.generation.latent_methods import average, interpolate, sample_random, slerp, source_latents
from autoenc_audio.generation.requests import GenerateRequest, generate_pieces
from autoenc_audio.generation.writing import write_pieces
from autoenc_audio.latents.batches import decode_latents, encode_clips
from autoenc_audio.latents.failures import LatentError
from autoenc_audio.latents.files import LatentFile, save_latents
from autoenc_audio.metrics import spectral_flatness
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)
pytestmark = pytest.mark.slow  # every test uses `setup`, which trains two models


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Tones in two labels, a tiny AE and a tiny VAE trained 2 epochs on them."""
    root = tmp_path_factory.mktemp("generate")
    rng = np.random.default_rng(0)
    for label, base in (("low", 110.0), ("high", 880.0)):
        (root / "songs" / label).mkdir(parents=True)
        for number in range(4):
            t = np.arange(int(3.2 * 8000)) / 8000
            melody = np.sin(2 * np.pi * base * (1 + number / 8) * t) * (0.5 + 0.3 * np.sin(2 * np.pi * 2 * t))
            hits = (rng.random(len(t)) - 0.5) * np.exp(-((t % 0.25) * 30))
            soundfile.write(
                root / "songs" / label / f"{label}.{number:05d}.wav",
                (0.4 * melody + 0.2 * hits).astype("float32"),
                8000,
            )
    models = {}
    for kind in ("ae", "vae"):
        config = load_config(ROOT / "configs" / "tiny.toml").override(train={"epochs": 2}, model={"kind": kind})
        train(config, root / kind, root / "cache", data_root=root / "songs")
        models[kind] = load_checkpoint(root / kind / "best.safetensors")
    return {"root": root, "songs": root / "songs", "cache": root / "cache", **models}


def test_random_is_reproducible_with_a_seed(setup):
    """Exact: the seeded generator draws the same numbers in one process, scaled by the same statistics."""
    ae = setup["ae"]
    first, again = sample_random(ae, 3, seed=7), sample_random(ae, 3, seed=7)
    assert torch.equal(first.latents, again.latents) and first.latents.shape == (3, 512)
    assert not torch.equal(first.latents, sample_random(ae, 3, seed=8).latents)
    unseeded = sample_random(ae, 1)
    assert torch.equal(sample_random(ae, 1, seed=unseeded.metadata["seed"]).latents, unseeded.latents)


def test_ae_samples_the_fitted_gaussian(setup):
    ae = setup["ae"]
    mean, std = ae.latent_mean.cpu(), ae.latent_std.cpu()
    assert torch.allclose(sample_random(ae, 2, seed=0, temperature=0.0).latents, mean.expand(2, -1))
    samples = sample_random(ae, 400, seed=0).latents
    assert torch.allclose(samples.mean(0), mean, atol=float(4 * std.max() / 20 + 1e-6))
    assert "fitted" in sample_random(ae, 1, seed=0).metadata["distribution"]
    naive = sample_random(ae, 400, seed=0, naive=True).latents
    assert abs(float(naive.std()) - 1.0) < 0.02 and abs(float(naive.mean())) < 0.02


def test_old_checkpoint_without_statistics_falls_back_clearly(setup):
    old = dataclasses.replace(setup["ae"], latent_mean=None, latent_std=None)
    generation = sample_random(old, 1, seed=0)
    assert "naive" in generation.metadata["distribution"] and "no latent statistics" in generation.notes[0]


def test_vae_samples_its_prior_and_is_not_white_noise(setup):
    vae = setup["vae"]
    generation = sample_random(vae, 8, seed=0, temperature=0.5)
    assert "prior" in generation.metadata["distribution"]
    assert torch.allclose(generation.latents, 0.5 * sample_random(vae, 8, seed=0, naive=True).latents)
    audio = decode_latents(vae.model, sample_random(vae, 8, seed=0).latents)
    noise = torch.randn(8, audio.shape[-1], generator=torch.Generator().manual_seed(0))
    flatness, white = float(spectral_flatness(audio).mean()), float(spectral_flatness(noise).mean())
    assert white > 0.5 and flatness < 0.25 * white


def test_average_of_sources_with_weights(setup, tmp_path):
    ae = setup["ae"]
    paths = [str(setup["songs"] / "low" / "low.00000.wav"), str(setup["songs"] / "high" / "high.00001.wav")]
    latents = source_latents(ae, paths, crop="center")
    plain = average(ae, paths)
    assert torch.allclose(plain.latents[0], latents.mean(0), atol=1e-6)
    weighted = average(ae, paths, weights=[3, 1])
    assert torch.allclose(weighted.latents[0], 0.75 * latents[0] + 0.25 * latents[1], atol=1e-6)
    assert weighted.metadata["weights"] == [0.75, 0.25] and weighted.metadata["sources"] == paths
    save_latents(tmp_path / "z.npy", LatentFile(latents[1]))  # latent files are sources too
    assert torch.allclose(average(ae, [paths[0], str(tmp_path / "z.npy")]).latents, plain.latents, atol=1e-6)
    with pytest.raises(LatentError, match="weights has 1 values for 2"):
        average(ae, paths, weights=[1])
    with pytest.raises(LatentError, match="needs sources"):
        average(ae, [])


def test_average_of_a_label_uses_its_training_clips(setup):
    ae = setup["ae"]
    generation = average(ae, label="low", data_root=setup["songs"], cache_dir=setup["cache"])
    prepared = prepare_dataset(setup["songs"], ae.config.audio, ae.config.data, setup["cache"])
    train_split = prepared.splits["train"]
    number = prepared.labels.index("low")
    clips = [train_split[i][0] for i in range(len(train_split)) if train_split[i][1] == number]
    expected = encode_clips(ae.model, torch.stack(clips)).mean(0)
    assert generation.metadata["clips"] == len(clips) > 0
    assert torch.allclose(generation.latents[0], expected, atol=1e-5)
    with pytest.raises(DatasetError, match="no label 'jazz'; labels: high, low"):
        average(ae, label="jazz", data_root=setup["songs"], cache_dir=setup["cache"])
    with pytest.raises(LatentError, match="needs data_root"):
        average(ae, label="low")


def test_interpolation_goes_from_a_to_b(setup):
    ae = setup["ae"]
    paths = [str(setup["songs"] / "low" / "low.00002.wav"), str(setup["songs"] / "high" / "high.00003.wav")]
    a, b = source_latents(ae, paths)
    for method in ("linear", "slerp"):
        generation = interpolate(ae, paths, steps=5, method=method)
        assert generation.latents.shape == (5, 512)
        assert torch.allclose(generation.latents[0], a, atol=1e-4) and torch.allclose(
            generation.latents[-1], b, atol=1e-4
        )
    linear = interpolate(ae, paths, steps=3).latents
    assert torch.allclose(linear[1], (a + b) / 2, atol=1e-6)
    u, v = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(slerp(u, v, 0.5), torch.tensor([2**-0.5, 2**-0.5]))
    assert torch.allclose(slerp(u, v, 0.5, centre=torch.tensor([1.0, 1.0])), torch.tensor([1 - 2**-0.5, 1 - 2**-0.5]))
    with pytest.raises(LatentError, match="exactly two"):
        interpolate(ae, paths[:1])


def test_written_files_have_sidecars(setup, tmp_path):
    ae = setup["ae"]
    pieces = generate_pieces(ae, GenerateRequest("random", "gaussian", n=2, seed=4)).pieces
    records = write_pieces(ae, pieces, str(tmp_path / "r.wav"), "random")
    assert [Path(r["path"]).name for r in records] == ["r-000.wav", "r-001.wav"]
    side = json.loads((tmp_path / "r-001.json").read_text())
    assert side["mode"] == "random" and side["seed"] == 5 and side["index"] == 1  # piece i: seed + i, repeatable alone
    assert side["model_fingerprint"] == ae.fingerprint
    paths = [str(setup["songs"] / "low" / "low.00000.wav"), str(setup["songs"] / "high" / "high.00000.wav")]
    morph_pieces = generate_pieces(ae, GenerateRequest("interpolate", sources=tuple(paths), steps=4, morph=True)).pieces
    morph = write_pieces(ae, morph_pieces, str(tmp_path / "morph"), "interpolate")
    audio, rate = soundfile.read(morph[0]["path"])
    assert len(audio) == 8000 + 3 * 4000 and Path(morph[0]["path"]).name == "morph.wav"
    assert json.loads(Path(morph[0]["sidecar"]).read_text())["sources"] == paths
