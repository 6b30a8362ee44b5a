"""The default MDCT frame model: exact latent sizes, shapes, perfect-reconstruction front end, PCA init, learning."""

import math

import pytest
import torch

from autoenc_audio import metrics
from autoenc_audio.config import AudioConfig, ModelConfig
from autoenc_audio.models import build_model
from autoenc_audio.models.band_energy import Bands
from autoenc_audio.models.frame import MDCTAnalysis, MDCTSynthesis, build_frame, frame_count
from autoenc_audio.training import losses

CLIP = 110250


def _music(batch: int, samples: int, seed: int = 0, bright: bool = False) -> torch.Tensor:
    """Harmonic tones at random pitches plus a little noise: `[batch, 1, samples]`.

    Plain: 5 partials under a slow envelope. Bright: every partial up to ~10 kHz at a steady level.
    """
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 22050
    clips = []
    for _ in range(batch):
        if bright:
            f0 = float(150 + 250 * torch.rand(1, generator=generator))
            partials = [k for k in range(1, 40) if k * f0 < 10000]
            tone = 0.1 * sum(torch.sin(2 * math.pi * f0 * k * t + k) / k**0.7 for k in partials)
            noise = 0.001
        else:
            f0 = float(110 + 330 * torch.rand(1, generator=generator))
            tone = 0.2 * sum(torch.sin(2 * math.pi * f0 * k * t + k) / k for k in range(1, 6))
            tone = tone * (0.5 + 0.5 * torch.sin(2 * math.pi * 2 * t))
            noise = 0.002
        clips.append(tone + noise * torch.randn(samples, generator=generator))
    return torch.stack(clips)[:, None].float()


@pytest.mark.parametrize("latent", [64, 9184, 18376, 10007, 55112, 110250])
@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("decoder,envelope", [("gated", 0.0), ("gated", 0.28), ("energy", 0.094)])
def test_exact_latent_size_for_full_clips(latent: int, kind: str, decoder: str, envelope: float) -> None:
    model = build_frame(
        ModelConfig(
            latent=latent,
            kind=kind,
            width=8,
            blocks=1,
            envelope=envelope,
            decoder=decoder,
            envelope_start=0.0 if decoder == "energy" else 0.25,
        ),
        CLIP,
    )
    assert model.latent_size == latent
    audio = torch.zeros(1, 1, CLIP)
    audio[..., ::97] = 0.1
    with torch.no_grad():
        outputs = model(audio)
        assert model.encode(audio).shape == (1, latent)
    assert outputs["latent"].shape == (1, latent)
    assert outputs["recon"].shape == audio.shape
    assert ("kl" in outputs) == (kind == "vae")


@pytest.mark.parametrize("latent", [5, 17, 64, 1000, 4097, 8192])
@pytest.mark.parametrize("decoder", ["gated", "energy"])
def test_short_clips_any_latent(latent: int, decoder: str) -> None:
    model = build_frame(ModelConfig(latent=latent, width=8, blocks=1, decoder=decoder, envelope=0.094), 8192)
    audio = _music(2, 8192)
    with torch.no_grad():
        recon = model(audio)["recon"]
    assert model.encode(audio).shape == (2, latent)
    assert recon.shape == audio.shape


def test_build_model_default_arch_uses_frame() -> None:
    model = build_model(ModelConfig(latent=1000, width=8, blocks=1), AudioConfig(clip_seconds=0.5))
    assert model.latent_size == 1000 and type(model.encoder).__name__ == "FrameEncoder"


@pytest.mark.parametrize("hop,samples", [(512, 8192), (256, 5000), (100, 1001)])
def test_mdct_front_end_is_perfect_reconstruction(hop: int, samples: int) -> None:
    audio = torch.randn(3, 1, samples)
    coefficients = MDCTAnalysis(hop)(audio)
    assert coefficients.shape == (3, hop, frame_count(samples, hop))
    recon = MDCTSynthesis(hop)(coefficients)[..., :samples]
    assert torch.allclose(recon, audio, atol=1e-5)


def test_init_reconstructs_like_pca_and_more_latent_is_better() -> None:
    audio = _music(8, 8192)
    snrs = []
    for latent in (256, 8192):
        model = build_frame(ModelConfig(latent=latent, width=16, blocks=1), 8192)
        model.initialize_from_data(audio)
        model.eval()
        with torch.no_grad():
            snrs.append(float(metrics.snr_db(audio, model(audio)["recon"]).mean()))
    assert snrs[0] < snrs[1]
    assert snrs[1] > 30  # 482 of 512 MDCT coefficients per frame: nearly perfect on tonal audio


def test_envelope_channels_take_their_share_of_the_latent() -> None:
    model = build_frame(ModelConfig(latent=18376, width=8, blocks=1, envelope=0.28), CLIP)
    assert model.layout.channels == 85
    assert model.encoder.project.weight().shape == (61, 512)  # coefficient channels
    assert model.encoder.envelope.project.weight().shape == (24, Bands(512, 0.25).count)
    assert build_frame(ModelConfig(latent=64, envelope=0.28), CLIP).encoder.envelope is None  # 1 channel: no room


def test_envelope_channels_restore_the_high_bands_energy_before_training() -> None:
    """At the same latent size, trading coefficient channels for envelope channels brings the bands above
    2.7 kHz to their energy, where a coefficient code alone drops the partials it has no components for."""
    train, test = _music(24, 8192, bright=True), _music(4, 8192, seed=1, bright=True)
    bands = Bands(512, 0.25)
    errors, distances = [], []
    for envelope in (0.0, 0.28):
        model = build_frame(ModelConfig(latent=544, width=8, blocks=1, envelope=envelope), 8192)  # 32 channels
        model.initialize_from_data(train)
        model.eval()
        with torch.no_grad():
            recon = model(test)["recon"]
        analysis = MDCTAnalysis(512)
        difference = bands.log_energy(analysis(recon)) - bands.log_energy(analysis(test))
        errors.append(float(difference.abs().mean()))
        distances.append(float(metrics.mrstft(test, recon).mean()))
    assert errors[1] < 0.75 * errors[0]  # measured 3.17 -> 2.02 nats
    assert distances[1] < distances[0]


def test_vae_starts_near_the_ae() -> None:
    audio = _music(4, 8192)
    model = build_frame(ModelConfig(latent=2048, kind="vae", width=16, blocks=1), 8192)
    model.initialize_from_data(audio)
    mean, logvar = model.encode_distribution(audio)
    assert torch.allclose(logvar, torch.full_like(logvar, -6.0))
    model.eval()
    with torch.no_grad():
        assert float(metrics.snr_db(audio, model(audio)["recon"]).mean()) > 10


@pytest.mark.parametrize("decoder,envelope", [("gated", 0.0), ("gated", 0.28), ("energy", 0.094)])
def test_a_few_training_steps_lower_the_loss(decoder: str, envelope: float) -> None:
    torch.manual_seed(0)
    audio = _music(2, 4096)
    model = build_frame(
        ModelConfig(
            latent=256,
            hop=256,
            width=16,
            blocks=1,
            envelope=envelope,
            decoder=decoder,
            envelope_start=0.0 if decoder == "energy" else 0.25,
        ),
        4096,
    )
    model.initialize_from_data(audio)
    # lr 3e-4: at 1e-3 Adam's first sign-like steps overshoot from the PCA start (loss rises, then recovers)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-4)

    def loss() -> torch.Tensor:
        recon = model(audio)["recon"]
        return losses.waveform_l1(audio, recon) + losses.multi_resolution_stft_loss(audio, recon)

    with torch.no_grad():
        first = float(loss())
    for _ in range(6):
        optimiser.zero_grad()
        loss().backward()
        optimiser.step()
    with torch.no_grad():
        assert float(loss()) < first


def test_latent_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError):
        build_frame(ModelConfig(latent=9000), 8192)
    for latent in (4, 2, 1):  # below one value per 2048-sample frame; 1 used to loop forever
        with pytest.raises(ValueError, match=f"latent {latent} is too small .* needs at least 5 values"):
            build_frame(ModelConfig(latent=latent), 8192)


# ---------------------------------------------------------------- the energy decoder's signature

RATE, SECOND = 22050, 22050
ENERGY = {"decoder": "energy", "envelope": 0.094, "envelope_start": 0.0}


def _clicks(generator: torch.Generator) -> torch.Tensor:
    audio = 0.002 * torch.randn(SECOND, generator=generator)
    audio[int(torch.randint(0, 2000, (1,), generator=generator)) :: 2205] += 0.8
    return audio


def _drum(generator: torch.Generator) -> torch.Tensor:
    """Four hits: a noise burst over an 80 Hz body, each decaying in about 30 ms."""
    t = torch.arange(SECOND) / RATE
    audio = torch.zeros(SECOND)
    for hit in (0.1, 0.35, 0.6, 0.85):
        start = int((hit + 0.02 * float(torch.rand(1, generator=generator))) * RATE)
        tail = t[: SECOND - start]
        audio[start:] += (
            0.6
            * torch.exp(-tail * 30)
            * (0.5 * torch.randn(len(tail), generator=generator) + torch.sin(2 * math.pi * 80 * tail))
        )
    return audio


def _ladder(generator: torch.Generator) -> torch.Tensor:
    """Seven sine tones an octave apart, 110 Hz to 7 kHz, one after the other."""
    t = torch.arange(SECOND) / RATE
    step = SECOND // 7
    audio = torch.zeros(SECOND)
    detune = 1 + 0.02 * float(torch.rand(1, generator=generator))
    for k in range(7):
        audio[k * step : (k + 1) * step] = 0.3 * torch.sin(
            2 * math.pi * 110 * detune * 2**k * t[k * step : (k + 1) * step]
        )
    return audio


def _pink(generator: torch.Generator) -> torch.Tensor:
    spectrum = torch.fft.rfft(torch.randn(SECOND, generator=generator))
    frequencies = torch.fft.rfftfreq(SECOND, 1 / RATE)
    spectrum[1:] /= frequencies[1:].sqrt()
    spectrum[0] = 0
    audio = torch.fft.irfft(spectrum, n=SECOND)
    return 0.2 * audio / audio.abs().max()


SIGNALS = {"clicks": _clicks, "drum": _drum, "ladder": _ladder, "pink": _pink}


@pytest.fixture(scope="module")
def initialised_energy_model():
    """The energy decoder at the default's compression (6:1), initialised on other renderings of the same kinds of sound."""
    generator = torch.Generator().manual_seed(1)
    training = torch.stack([make(generator) for make in SIGNALS.values() for _ in range(4)])[:, None]
    model = build_frame(ModelConfig(latent=SECOND // 6, **ENERGY), SECOND)
    model.initialize_from_data(training)
    return model.eval()


def _through(model, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    audio = SIGNALS[name](torch.Generator().manual_seed(7))[None, None]
    with torch.no_grad():
        return audio[:, 0], model(audio)["recon"][:, 0]


@pytest.mark.parametrize("name", ["clicks", "drum"])
def test_the_energy_decoder_adds_no_clicks_at_transients(initialised_energy_model, name: str) -> None:
    from autoenc_audio.quality.signature import crest_ratios

    audio, recon = _through(initialised_energy_model, name)
    assert float(crest_ratios(audio, recon)[0]) < 1.25


@pytest.mark.parametrize("name", ["clicks", "drum"])
def test_the_default_decoder_adds_no_clicks_at_transients_from_its_start(name: str) -> None:
    """The default (`gain`) decoder starts as the PCA start: no correction yet to spike at an attack."""
    from autoenc_audio.quality.signature import crest_ratios

    generator = torch.Generator().manual_seed(1)
    training = torch.stack([make(generator) for make in SIGNALS.values() for _ in range(4)])[:, None]
    assert ModelConfig().decoder == "gain"
    model = build_frame(ModelConfig(latent=SECOND // 6), SECOND)
    model.initialize_from_data(training)
    audio, recon = _through(model.eval(), name)
    assert float(crest_ratios(audio, recon)[0]) < 1.25


@pytest.mark.parametrize("name", ["ladder", "pink"])
def test_the_energy_decoder_keeps_every_octave_level(initialised_energy_model, name: str) -> None:
    from autoenc_audio.quality.signature import octave_levels, octave_names

    audio, recon = _through(initialised_energy_model, name)
    levels = dict(zip(octave_names(RATE), octave_levels(audio, recon, RATE)[0].tolist()))
    assert all(abs(level) <= 1.5 for level in levels.values()), levels


def test_the_gated_decoder_loses_the_top_octaves_of_pink_noise() -> None:
    """What the energy decoder is for: the same start without it renders noise several dB dark."""
    from autoenc_audio.quality.signature import octave_levels

    generator = torch.Generator().manual_seed(1)
    training = torch.stack([make(generator) for make in SIGNALS.values() for _ in range(4)])[:, None]
    model = build_frame(ModelConfig(latent=SECOND // 6, decoder="gated"), SECOND)
    model.initialize_from_data(training)
    audio, recon = _through(model.eval(), "pink")
    assert float(octave_levels(audio, recon, RATE)[0, -2]) < -3
