"""The Python API (`aea.load` and the `Model` it gives) against the commands: the same latents, the same bytes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

import autoenc_audio as aea
from autoenc_audio.audio import write_audio
from autoenc_audio.checkpoints.checkpoint import weights_fingerprint
from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.errors import InputError

torch.set_num_threads(1)
TINY_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory, write_songs, make_checkpoint):
    """A run folder holding a PCA-initialised tiny model, and a 7 s stereo 44.1 kHz song."""
    root = tmp_path_factory.mktemp("api")
    songs = write_songs(root / "songs")
    make_checkpoint(songs, root / "cache", root / "run" / "best.safetensors")
    t = np.arange(7 * 44100) / 44100
    mono = 0.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))
    song = root / "song.wav"
    soundfile.write(song, np.stack([mono, 0.5 * mono], 1).astype("float32"), 44100, subtype="FLOAT")
    return {"root": root, "run": root / "run", "song": song}


def aea_cli(run, *args):
    result = CliRunner().invoke(cli, [str(a) for a in args] + ["--model", str(run["run"])], env={"AEA_MODEL": ""})
    assert result.exit_code == 0, result.output
    return result


def test_import_stays_light_until_the_api_is_used():
    code = "import sys, autoenc_audio as a; light = 'torch' not in sys.modules; a.load; print(light, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


def test_the_top_level_offers_what_the_api_exports():
    """`autoenc_audio` names the API without importing it (torch), so the three lists must agree."""
    from autoenc_audio import api

    assert set(aea.API_NAMES) == set(api.__all__) == set(aea.__all__) - {"__version__"}
    assert all(getattr(aea, name) is getattr(api, name) for name in api.__all__)


def test_load_takes_a_run_folder_or_a_checkpoint(run):
    """Each property against what is known without it: the tiny preset the run was made with (N = 512, 1 s
    clips at 8 kHz), the song folder's labels, the fingerprint of the weights it loaded."""
    checkpoint = run["run"] / "best.safetensors"
    model = aea.load(run["run"])
    assert model.checkpoint.path == checkpoint
    assert model.latent_size == 512 and model.sample_rate == 8000 and model.clip_samples == 8000
    assert model.config == load_config(TINY_CONFIG) and model.labels == ["high", "low"]
    assert model.fingerprint == weights_fingerprint(model.checkpoint.model) == aea.load(checkpoint).fingerprint
    assert model.device == torch.device("cpu")
    assert repr(model) == f"Model({str(checkpoint)!r}, N=512, sample_rate=8000)"


def test_load_of_a_missing_run_is_an_input_error_in_python_terms(tmp_path):
    with pytest.raises(InputError) as caught:
        aea.load(tmp_path)
    assert str(tmp_path) in str(caught.value) and "--" not in str(caught.value)


def test_a_file_encoded_here_and_by_aea_encode_gives_the_same_bytes(run, tmp_path):
    """Exact: one process, the same weights, the same preprocessing and the same batch of one clip."""
    model = aea.load(run["run"])
    z = model.encode(run["song"], crop="center")
    assert z.shape == (model.latent_size,)
    aea_cli(run, "encode", run["song"], "--crop", "center", "-o", tmp_path / "z.npz")
    cli_latent = np.load(tmp_path / "z.npz")["latents"]
    assert cli_latent.tobytes() == z.numpy().tobytes()


def test_a_latent_decoded_here_and_by_aea_decode_gives_the_same_bytes(run, tmp_path):
    """Exact: one process, the same latent decoded in the same batch by the same weights, written alike."""
    model = aea.load(run["run"])
    aea_cli(run, "encode", run["song"], "-o", tmp_path / "z.npz")
    aea_cli(run, "decode", tmp_path / "z.npz", "-o", tmp_path / "cli.wav")
    audio = model.decode(torch.from_numpy(np.load(tmp_path / "z.npz")["latents"]))
    assert audio.shape == (model.clip_samples,) and audio.dtype == np.float32
    write_audio(tmp_path / "api.wav", audio, model.sample_rate)
    assert (tmp_path / "api.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()


def test_a_whole_track_round_trips_as_aea_encode_whole_and_aea_decode_do(run, tmp_path):
    """Exact: one process runs both, through the same clips, batches and overlap-add."""
    model = aea.load(run["run"])
    track = model.encode(run["song"], whole=True)
    assert isinstance(track, aea.Encoded)
    assert track.track_samples == 7 * model.sample_rate and track.latents.shape[1] == model.latent_size
    aea_cli(run, "encode", run["song"], "--whole", "-o", tmp_path / "z.pt")
    assert torch.equal(torch.load(tmp_path / "z.pt", weights_only=True)["latents"], track.latents)
    aea_cli(run, "decode", tmp_path / "z.pt", "-o", tmp_path / "cli.wav")
    audio = model.decode(track)
    assert audio.shape == (track.track_samples,)
    write_audio(tmp_path / "api.wav", audio, model.sample_rate)
    assert (tmp_path / "api.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()


def test_samples_are_resampled_and_mixed_as_a_file_of_them_is(run):
    """An array and a tensor of the same samples give the same latent exactly (one process, one code path); a
    file of them is decoded from float WAV and resampled per file, so it is compared to a tolerance."""
    model = aea.load(run["run"])
    stereo, rate = soundfile.read(run["song"], dtype="float32")
    from_file = model.encode(run["song"])
    from_array = model.encode(stereo, sample_rate=rate)
    from_tensor = model.encode(torch.from_numpy(stereo), sample_rate=rate)
    assert torch.equal(from_array, from_tensor)
    assert torch.allclose(from_array, from_file, atol=1e-4 * float(from_file.abs().max()))
    whole = model.encode(stereo, sample_rate=rate, whole=True)
    assert torch.allclose(whole.latents, model.encode(run["song"], whole=True).latents, atol=1e-3)


def test_a_matrix_of_latents_decodes_to_one_clip_a_row(run):
    """To 1e-6 of the peak, not bit for bit: a batch of three and a batch of one may run other CPU kernels."""
    model = aea.load(run["run"])
    rows = torch.stack([model.encode(run["song"], offset=offset) for offset in (0.0, 1.0, 2.0)])
    clips = model.decode(rows)
    assert clips.shape == (3, model.clip_samples)
    for row, clip in zip(rows, clips, strict=True):
        alone = model.decode(row)
        assert np.abs(clip - alone).max() <= 1e-6 * np.abs(alone).max()
    assert np.abs(clips[0] - clips[1]).max() > 0.01 * np.abs(clips[1]).max(), "each row is its own clip"


def test_reconstruct_measures_as_aea_reconstruct_does(run, tmp_path):
    model = aea.load(run["run"])
    result = model.reconstruct(run["song"])
    assert result.audio.shape == result.original.shape == (model.clip_samples,)
    cli_run = aea_cli(run, "reconstruct", run["song"], "-o", tmp_path / "r.wav", "--json")
    record = json.loads(cli_run.output.strip().splitlines()[-1])
    for name in ("snr_db", "mrstft", "mel_l1"):
        assert result.metrics[name] == pytest.approx(record[name], abs=1e-3)
    whole = model.reconstruct(run["song"], whole=True)
    assert whole.audio.shape == whole.original.shape == (7 * model.sample_rate,)
    assert whole.metrics["snr_db"] > 0


def test_bad_arguments_raise_input_errors_without_flags(run):
    model = aea.load(run["run"])
    cases = [
        lambda: model.encode(np.zeros(8000, dtype=np.float32)),  # no sample_rate
        lambda: model.encode(np.zeros((2, 3, 4)), sample_rate=8000),
        lambda: model.encode(np.full(8000, np.nan), sample_rate=8000),
        lambda: model.decode(torch.zeros(model.latent_size + 1)),
        lambda: model.decode(torch.zeros(1, 1, model.latent_size)),
        lambda: model.encode(run["root"] / "missing.wav"),
        lambda: model.decode(torch.zeros(0, model.latent_size)),  # was torch.cat's ValueError
        lambda: aea.load(run["run"], device=torch.device("cuda" if not torch.cuda.is_available() else "mps")),
    ]
    for case in cases:
        with pytest.raises(InputError) as caught:
            case()
        assert "--" not in str(caught.value), str(caught.value)


def test_a_track_encoded_here_decodes_from_numpy_latents_too(run):
    """`Encoded` built with numpy latents (as a user loads them from a file) raised AttributeError: 'dim'."""
    model = aea.load(run["run"])
    track = model.encode(run["song"], whole=True)
    again = aea.Encoded(track.latents.numpy(), track.hop_samples, track.track_samples)
    assert np.array_equal(model.decode(again), model.decode(track))  # the same latents through the same model


def test_generate_gives_pieces_with_their_sidecar_metadata(run):
    model = aea.load(run["run"])
    pieces = model.generate(mode="interpolate", sources=[run["song"], run["song"]], steps=3, seed=1)
    assert len(pieces) == 3  # one clip a step
    assert all(piece.samples.shape == (model.clip_samples,) for piece in pieces)
    assert pieces[0].metadata["request"]["mode"] == "interpolate"
    morphed = model.generate(mode="interpolate", sources=[run["song"], run["song"]], steps=3, morph=True, seed=1)
    hop = model.clip_samples // 2  # the 3 clips overlapped by half a clip, as `--morph`'s help says
    assert len(morphed) == 1 and len(morphed[0].samples) == 2 * hop + model.clip_samples


def test_generate_refuses_an_option_its_mode_ignores_even_at_its_default(run):
    """As `aea generate --mode random --steps 5` is refused: `steps=5` passed to random would be silently unused.
    The list of options offered on a typo names only what `generate` takes (not the request's inner `given`)."""
    model = aea.load(run["run"])
    with pytest.raises(InputError, match="steps"):
        model.generate(mode="random", steps=5, seed=1)
    with pytest.raises(InputError, match="no option stepz") as caught:
        model.generate(mode="random", stepz=5)
    assert "given" not in str(caught.value) and "steps" in str(caught.value)


def test_channels_first_samples_encode_as_the_file_does(run):
    """torchaudio and librosa give `[channels, samples]`: read as such, not as 2 samples of 300,000 channels.

    Exact: the same samples in another layout go through the same preprocessing and the same model.
    """
    model = aea.load(run["run"])
    stereo, rate = soundfile.read(run["song"], dtype="float32")  # [samples, 2]
    channels_last = model.encode(stereo, sample_rate=rate)
    assert float(channels_last.abs().max()) > 0.1  # a real latent, not near silence
    for first in (stereo.T, np.ascontiguousarray(stereo.T), torch.from_numpy(stereo.T.copy())):
        assert torch.equal(model.encode(first, sample_rate=rate), channels_last)
    mono = stereo.mean(axis=1)
    assert torch.equal(model.encode(mono[None, :], sample_rate=rate), model.encode(mono, sample_rate=rate))
    whole = model.encode(torch.from_numpy(stereo.T.copy()), sample_rate=rate, whole=True)
    assert torch.equal(whole.latents, model.encode(stereo, sample_rate=rate, whole=True).latents)
    reconstructed = model.reconstruct(stereo.T, sample_rate=rate)
    assert np.array_equal(reconstructed.original, model.reconstruct(stereo, sample_rate=rate).original)


def test_integer_pcm_samples_encode_as_their_full_scale_floats(run):
    """int16 from `scipy.io.wavfile.read` and 8-bit WAV's uint8 are scaled to ±1 as soundfile scales them.

    Exact: the test scales the integers to the same float32 values the API does.
    """
    model = aea.load(run["run"])
    pcm, rate = soundfile.read(run["song"], dtype="int16")
    floats = model.encode((pcm / 32768).astype(np.float32), sample_rate=rate)
    assert torch.equal(model.encode(pcm, sample_rate=rate), floats)
    assert torch.equal(model.encode(pcm.astype(np.int32) << 16, sample_rate=rate), floats)
    eight_bit = (pcm >> 8).astype(np.int16) + 128
    assert torch.equal(
        model.encode(eight_bit.astype(np.uint8), sample_rate=rate),
        model.encode(((eight_bit - 128) / 128).astype(np.float32), sample_rate=rate),
    )
    for not_pcm in (pcm > 0, pcm.astype(np.int64)):  # int64: what np.asarray makes of Python ints
        with pytest.raises(
            InputError, match=rf"samples must be floats or integer PCM \(int16, .*\), got {not_pcm.dtype}"
        ):
            model.encode(not_pcm, sample_rate=rate)


@pytest.mark.parametrize("shape", [(2, 3), (4, 6), (3, 8000), (100, 200)])
def test_samples_of_an_ambiguous_shape_are_refused_in_one_line(run, shape):
    model = aea.load(run["run"])
    for values in (np.zeros(shape, np.float32), torch.zeros(shape)):
        with pytest.raises(InputError) as caught:
            model.encode(values, sample_rate=8000)
        assert str(caught.value) == (
            f"samples of shape {list(shape)} are ambiguous: give [samples, channels], or [channels, samples] with 1 "
            "or 2 channels, with at least 8 times as many samples as channels"
        )


def test_audio_given_another_way_is_refused_saying_what_to_give(run, tmp_path):
    """Paths in a list, bytes, an open file, a file with a rate, a rate of 0, a latent file's name, a device torch
    does not know: each an InputError saying what to give (a list was "needs its sample_rate", the others torch's,
    soxr's or numpy's own errors)."""
    model = aea.load(run["run"])
    song = str(run["song"])
    refused = {
        "audio is one file or one array of samples, got a list of 2 paths: give one file a call": lambda: model.encode(
            [song, song]
        ),
        "audio given as bytes: give a file path, or samples with their sample_rate": lambda: model.encode(b"RIFF"),
        "audio given as an open file: give a file path": lambda: model.encode(io.BytesIO(b"RIFF")),
        f"sample_rate is for samples, not a file: {song}'s rate is read from the file": lambda: model.encode(
            song, sample_rate=44100
        ),
        "sample_rate must be a positive whole number of Hz, got 0": lambda: model.encode(np.zeros(800), sample_rate=0),
        "sample_rate must be a positive whole number of Hz, got -1": lambda: model.reconstruct(
            np.zeros(800), sample_rate=-1
        ),
        "decode takes latents, not a file: read z.pt first": lambda: model.decode("z.pt"),
        "write takes the pieces generate returns, got ndarray: write decoded audio with aea.write_audio": lambda: (
            model.write(model.decode(model.encode(song)), tmp_path / "out.wav")
        ),
        "unknown device 'gpu': use 'auto', 'cpu', 'cuda'": lambda: aea.load(run["run"], device="gpu"),
        "sample_rate must be a positive whole number of Hz, got inf": lambda: model.encode(
            np.zeros(800), sample_rate=float("inf")
        ),
        "audio is one array of samples, got a list of 2 arrays: give one track a call": lambda: model.encode(
            [np.zeros(800), np.zeros(800)], sample_rate=8000
        ),
        f"{tmp_path / 'rows.wav'}: (4, 8000) is not audio to write": lambda: aea.write_audio(
            tmp_path / "rows.wav", model.decode(np.zeros((4, model.latent_size), np.float32)), model.sample_rate
        ),
    }
    for message, case in refused.items():
        with pytest.raises(InputError) as caught:
            case()
        assert str(caught.value).startswith(message), str(caught.value)


def test_bfloat16_samples_encode_as_float32_and_decoded_audio_writes_as_aea_decode_writes(run, tmp_path):
    model = aea.load(run["run"])
    stereo, rate = soundfile.read(run["song"], dtype="float32")
    half = torch.from_numpy(stereo).to(torch.bfloat16)
    assert torch.equal(model.encode(half, sample_rate=rate), model.encode(half.float(), sample_rate=rate))
    aea_cli(run, "encode", run["song"], "-o", tmp_path / "z.npz")
    aea_cli(run, "decode", tmp_path / "z.npz", "-o", tmp_path / "there.wav")
    aea.write_audio(tmp_path / "here.wav", model.decode(model.encode(run["song"])), model.sample_rate)
    assert (tmp_path / "here.wav").read_bytes() == (tmp_path / "there.wav").read_bytes()


def test_write_audio_takes_what_encode_takes(tmp_path):
    """int16 samples were written as floats (a full-scale square wave, "clipped" by 84 dB), a float rate and a tensor
    that requires grad raised raw TypeError and RuntimeError, and [channels, samples] was refused."""
    wave = 0.5 * np.sin(np.arange(8000) / 3)
    aea.write_audio(tmp_path / "int16.wav", (wave * 32767).astype(np.int16), 8000)
    assert np.abs(soundfile.read(tmp_path / "int16.wav")[0] - wave).max() < 1e-3
    tensor = torch.tensor(wave, dtype=torch.float32, requires_grad=True)
    aea.write_audio(tmp_path / "tensor.wav", tensor, 8000.0)
    assert soundfile.info(tmp_path / "tensor.wav").samplerate == 8000
    aea.write_audio(tmp_path / "stereo.wav", np.stack([wave, -wave]), 8000)  # [channels, samples]
    assert soundfile.read(tmp_path / "stereo.wav")[0].shape == (8000, 2)
    with pytest.raises(InputError, match="sample_rate must be a positive whole number of Hz, got 8000.5"):
        aea.write_audio(tmp_path / "x.wav", wave, 8000.5)


def test_write_refuses_to_replace_a_source_of_the_pieces(run, tmp_path):
    """`model.write(pieces, song)` for a piece made from that song replaced the song."""
    song = tmp_path / "song.wav"
    song.write_bytes(run["song"].read_bytes())
    model = aea.load(run["run"])
    pieces = model.generate("average", method="mean", sources=song)
    with pytest.raises(InputError) as caught:
        model.write(pieces, song)
    assert str(caught.value) == f"{song}: is also an input; write the output elsewhere"
    assert song.read_bytes() == run["song"].read_bytes() and [path.name for path in tmp_path.iterdir()] == ["song.wav"]
