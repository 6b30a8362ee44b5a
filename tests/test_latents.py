"""Encoding, decoding and reconstructing with a (tiny, trained) model: shapes, whole tracks, joins, metrics."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import tone, truncated_mp3, unknown_length_flac

from autoenc_audio.audio import clip_count, load_clip, load_track
from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.config import AudioConfig, load_config
from autoenc_audio.errors import TruncatedAudioWarning
from autoenc_audio.latents.batches import encode_clips
from autoenc_audio.latents.decode import decode_file
from autoenc_audio.latents.encode import encode_inputs
from autoenc_audio.latents.failures import LatentError, LatentSizeError, NoUsableInput
from autoenc_audio.latents.files import load_latents, save_latents
from autoenc_audio.latents.inputs import expand_inputs, single_input
from autoenc_audio.latents.model import fingerprint_warning, open_model
from autoenc_audio.latents.outputs import output_paths
from autoenc_audio.latents.overlap import OverlapAdd, join_clips
from autoenc_audio.latents.reconstruct import reconstruct_inputs
from autoenc_audio.latents.track_metrics import TrackMetrics
from autoenc_audio.latents.tracks import TrackClips
from autoenc_audio.metrics import evaluate
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def write_song(path: Path, seconds: float, rate: int = 44100, channels: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * (1 + seed / 10) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t))
    mono += 0.05 * rng.standard_normal(len(t)) * np.exp(-((t % 0.5) * 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.stack([mono * (c + 1) / channels for c in range(channels)], 1).astype("float32"), rate)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny default model (8 kHz, 1 s clips, latent 512) trained 2 epochs on tones; loaded checkpoint."""
    root = tmp_path_factory.mktemp("latents")
    for label in ("low", "high"):
        for number in range(3):
            write_song(
                root / "songs" / label / f"{label}.{number}.wav", 3.2, 8000, 1, seed=number + 5 * (label == "high")
            )
    config = load_config(ROOT / "configs" / "tiny.toml").override(train={"epochs": 2})
    train(config, root / "run", root / "cache", data_root=root / "songs")
    return load_checkpoint(root / "run" / "best.safetensors")


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    return {
        "long": write_song(root / "long.flac", 23.0, 44100, 2, seed=1),
        "a": write_song(root / "a.wav", 2.5, 22050, 1, seed=2),
        "short": write_song(root / "short.wav", 0.4, 16000, 1, seed=3),
        "bad": _text(root / "bad.wav"),
    }


def _text(path: Path) -> Path:
    path.write_text("not audio")
    return path


# ----------------------------------------------------------------------------- whole tracks and joins


@pytest.mark.parametrize("hop", [4000, 8000, 3000, 5000])
def test_track_clips_cover_the_track_and_join_back_exactly(songs, hop):
    config = AudioConfig(sample_rate=8000, clip_seconds=1.0)
    clips = TrackClips(songs["long"], config, hop)
    clips.BLOCK_SECONDS = 0.7  # many small blocks: the stream must not depend on block boundaries
    stacked = np.stack([c.samples for c in clips])
    track = load_track(songs["long"], config)
    assert clips.track_samples == len(track) == 23 * 8000
    assert len(stacked) == clip_count(len(track), 8000, hop) == clips.expected_clips
    assert stacked[-1].any() and clips.info.frames == 23 * 44100
    np.testing.assert_allclose(join_clips(stacked, hop, len(track)), track, atol=1e-6)


def test_a_truncated_download_streams_as_the_audio_it_holds_nothing_repeated_or_made_up(tmp_path):
    """`--whole` on an incomplete MP3 (header: 12 s, 7 s decode) gave 12 s: earlier parts again, then silence."""
    path = truncated_mp3(tmp_path / "partial.mp3", seconds=12.0, rate=22050)
    config = AudioConfig(sample_rate=22050, clip_seconds=1.0)  # the file's rate: no resampling, exact samples
    with pytest.warns(TruncatedAudioWarning):
        track = load_track(path, config)
    clips = TrackClips(path, config, config.clip_samples)
    clips.BLOCK_SECONDS = 3.0  # a short read inside a block, then blocks past the end
    with pytest.warns(TruncatedAudioWarning, match=r"partial.mp3: decodes to 7\.\d\d s though its header says 12"):
        joined = np.concatenate([clip.samples for clip in clips])
    assert clips.track_samples == len(track) < 7.5 * 22050 and clips.expected_clips == 12
    assert len(joined) == clip_count(len(track), config.clip_samples, config.clip_samples) * config.clip_samples
    np.testing.assert_array_equal(joined[: len(track)], track)
    assert not joined[len(track) :].any()


def test_a_flac_without_a_length_in_its_header_streams_like_any_other(tmp_path):
    piped = unknown_length_flac(tmp_path / "piped.flac", seconds=3.0, rate=44100)
    known = tmp_path / "known.flac"
    soundfile.write(known, tone(3.0, 44100), 44100, format="FLAC", subtype="PCM_16")
    config = AudioConfig(sample_rate=8000, clip_seconds=1.0)
    streamed, expected = TrackClips(piped, config, 4000), TrackClips(known, config, 4000)
    streamed.BLOCK_SECONDS = expected.BLOCK_SECONDS = 0.7
    np.testing.assert_array_equal(np.stack([c.samples for c in streamed]), np.stack([c.samples for c in expected]))
    assert streamed.track_samples == expected.track_samples == 3 * 8000 and streamed.expected_clips == 5


def test_overlap_add_weights_sum_to_one_and_stream():
    joiner = OverlapAdd(8, 4, 5)
    ones = np.concatenate([joiner.push(np.ones(8)) for _ in range(5)] + [joiner.finish()])
    np.testing.assert_allclose(ones, 1.0)
    assert len(ones) == 4 * 4 + 8
    np.testing.assert_allclose(joiner.fade_in[:4] + joiner.fade_out[4:], 1.0)  # Hann at 50 %
    streamed = OverlapAdd(8, 4)  # count unknown: last flagged on push
    parts = [streamed.push(np.full(8, i), last=i == 2) for i in range(3)]
    assert len(np.concatenate(parts + [streamed.finish(13)])) == 13


def test_short_track_is_one_padded_clip(songs):
    config = AudioConfig(sample_rate=8000, clip_seconds=1.0)
    clips = list(TrackClips(songs["short"], config, 4000))
    assert len(clips) == 1 and clips[0].padded and clips[0].valid_samples == 3200


def test_track_metrics_match_evaluate_on_snr():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20000).astype(np.float32)
    y = (0.8 * x + 0.1 * rng.standard_normal(20000)).astype(np.float32)
    metrics = TrackMetrics(8000, 8000)
    for start in range(0, 20000, 3000):
        metrics.add(x[start : start + 3000], y[start : start + 3000])
    expected = evaluate(torch.from_numpy(x)[None], torch.from_numpy(y)[None], 8000)
    result = metrics.result()
    assert result["snr_db"] == pytest.approx(expected["snr_db"], abs=1e-3)
    assert result["si_sdr_db"] == pytest.approx(expected["si_sdr_db"], abs=1e-3)
    assert result["mrstft"] == pytest.approx(expected["mrstft"], rel=0.1)


# ----------------------------------------------------------------------------- encode


@pytest.mark.slow
def test_one_input_is_one_vector_many_a_matrix(model, songs):
    one = encode_inputs(model, [str(songs["a"])], vector=True)
    assert one.latent_file.latents.shape == (512,) and one.latent_file.kind == "vector"
    meta = one.latent_file.metadata
    assert meta["model_fingerprint"] == model.fingerprint and meta["sources"] == [str(songs["a"])]
    many = encode_inputs(model, [str(songs["a"]), str(songs["short"])], offset=0.2)
    assert many.latent_file.latents.shape == (2, 512) and many.latent_file.kind == "matrix"
    assert many.latent_file.metadata["offsets"] == [0.2, 0.2]
    assert [i.padded for i in many.inputs] == [False, True]
    clip = load_clip(songs["a"], model.config.audio, 0.2)
    direct = encode_clips(model.model, torch.from_numpy(clip.samples).view(1, 1, -1))
    torch.testing.assert_close(many.latent_file.latents[0], direct[0])


@pytest.mark.slow
def test_crop_modes_choose_the_offset(model, songs):
    centre = encode_inputs(model, [str(songs["a"])], crop="center")
    assert centre.inputs[0].offset_seconds == pytest.approx(0.75)
    first = encode_inputs(model, [str(songs["a"])], crop="random", seed=3).inputs[0].offset_seconds
    again = encode_inputs(model, [str(songs["a"])], crop="random", seed=3).inputs[0].offset_seconds
    assert first == again and 0 <= first <= 1.5


@pytest.mark.slow
def test_failing_inputs_are_reported_and_skipped(model, songs):
    seen = []
    result = encode_inputs(
        model,
        [str(songs["bad"]), str(songs["a"]), "missing.wav"],
        on_error=lambda source, error: seen.append((source, str(error))),
    )
    assert [s for s, _ in seen] == [str(songs["bad"]), "missing.wav"]
    assert "not a readable audio file" in seen[0][1] and "no such file" in seen[1][1]
    assert result.latent_file.latents.shape == (1, 512) and result.latent_file.sources == [str(songs["a"])]
    with pytest.raises(NoUsableInput):
        encode_inputs(model, ["missing.wav"], on_error=lambda *_: None)
    with pytest.raises(Exception, match="no such file"):
        encode_inputs(model, ["missing.wav"])  # no callback: the error itself


@pytest.mark.slow
def test_whole_23_s_track_gives_every_clip_and_decodes_to_its_length(model, songs, tmp_path):
    result = encode_inputs(model, [str(songs["long"])], whole=True, batch_size=7)
    latent = result.latent_file
    assert latent.kind == "sequence" and latent.latents.shape == (45, 512)  # 1 s clips, 0.5 s hop
    assert latent.metadata["hop_samples"] == 4000
    assert latent.metadata["tracks"] == [{"source": str(songs["long"]), "start": 0, "stop": 45, "samples": 23 * 8000}]
    assert latent.metadata["offsets"][:3] == [0.0, 0.5, 1.0]
    save_latents(tmp_path / "seq.pt", latent)
    written = decode_file(model, load_latents(tmp_path / "seq.pt"), str(tmp_path / "out.wav"), batch_size=8)
    audio, rate = soundfile.read(tmp_path / "out.wav")
    assert rate == 8000 and len(audio) == 23 * 8000 == written[0].samples


def test_a_whole_track_with_a_silent_opening_is_not_called_silent(model, tmp_path):
    """`encode --whole` said "silent" of an 8 s track whose first clip only was silent (its first clip's flag)."""
    tone = 0.5 * np.sin(np.arange(4 * 8000) / 3)
    tone[:9600] = 0.0
    soundfile.write(tmp_path / "intro.wav", tone, 8000)
    soundfile.write(tmp_path / "quiet.wav", np.zeros(3 * 8000), 8000)
    inputs = encode_inputs(model, [str(tmp_path / "intro.wav"), str(tmp_path / "quiet.wav")], whole=True).inputs
    assert [item.silent for item in inputs] == [False, True]


@pytest.mark.slow
def test_whole_sequence_of_two_tracks_decodes_to_two_files(model, songs, tmp_path):
    latent = encode_inputs(model, [str(songs["a"]), str(songs["short"])], whole=True, hop_seconds=1.0).latent_file
    assert latent.latents.shape == (4, 512)  # 2.5 s -> 3 clips at hop 1 s; 0.4 s -> 1
    written = decode_file(model, latent, str(tmp_path / "tracks"))
    lengths = [len(soundfile.read(w.path)[0]) for w in written]
    assert [Path(w.path).name for w in written] == ["000-a.wav", "001-short.wav"] and lengths == [20000, 3200]


@pytest.mark.slow
def test_whole_track_failing_part_way_leaves_the_next_track_aligned(model, songs, tmp_path):
    good = write_song(tmp_path / "good.flac", 40.0, 22050, 1, seed=4).read_bytes()  # fails after its first 10 s block
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(good[: len(good) // 2] + np.random.default_rng(0).bytes(20000))
    failures = []
    result = encode_inputs(
        model,
        [str(damaged), str(songs["a"])],
        whole=True,
        hop_seconds=1.0,
        batch_size=2,
        on_error=lambda source, error: failures.append(source),
    )
    metadata = result.latent_file.metadata
    assert failures == [str(damaged)]
    assert result.latent_file.latents.shape == (3, 512)
    assert len(metadata["offsets"]) == len(metadata["padded"]) == len(metadata["sources"]) == 3
    assert metadata["offsets"] == [0.0, 1.0, 2.0]
    assert metadata["tracks"] == [{"source": str(songs["a"]), "start": 0, "stop": 3, "samples": 20000}]


def test_inputs_expand_from_folders_globs_and_stdin(songs, tmp_path):
    folder = songs["a"].parent
    paths, problems = expand_inputs([str(folder)])
    assert str(songs["a"]) in paths and str(songs["long"]) in paths and not problems
    paths, problems = expand_inputs(
        [str(folder / "*.flac"), "-", str(tmp_path / "nothing*.wav")], ["x.wav\n", "\n", " y.mp3 "]
    )
    assert paths == [str(songs["long"]), "x.wav", "y.mp3"] and problems[0][1] == "no files match this pattern"
    assert single_input(["song.wav"]) and not single_input([str(folder)]) and not single_input(["-"])


def test_a_folder_s_audio_of_a_format_aea_cannot_read_is_kept_to_fail_when_read(tmp_path):
    for name in ("a.wav", "song.m4a", "deeper/b.aac", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    paths, problems = expand_inputs([str(tmp_path)])
    assert paths == [str(tmp_path / "a.wav"), str(tmp_path / "deeper" / "b.aac"), str(tmp_path / "song.m4a")]
    assert not problems


# ----------------------------------------------------------------------------- decode and reconstruct


@pytest.mark.slow
def test_encode_then_decode_equals_reconstruct(model, songs, tmp_path):
    """Byte-identical: one process runs the same clip through the same weights, batches and kernels either way."""
    latent = encode_inputs(model, [str(songs["a"])], crop="center", vector=True).latent_file
    decode_file(model, latent, str(tmp_path / "decoded.wav"))
    written = reconstruct_inputs(
        model, [str(songs["a"])], str(tmp_path / "reconstructed.wav"), crop="center", save_input=True
    )
    assert (tmp_path / "decoded.wav").read_bytes() == (tmp_path / "reconstructed.wav").read_bytes()
    assert set(written[0].metrics) == {"snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db"}
    original, _ = soundfile.read(tmp_path / "reconstructed.input.wav")
    clip = load_clip(songs["a"], model.config.audio, "center").samples
    np.testing.assert_allclose(original, clip, atol=1 / 32767 + 1e-6)


@pytest.mark.slow
def test_reconstruct_whole_track_streams_and_measures(model, songs, tmp_path):
    written = reconstruct_inputs(
        model, [str(songs["long"])], str(tmp_path / "whole.flac"), whole=True, save_input=True, batch_size=5
    )[0]
    audio, _ = soundfile.read(tmp_path / "whole.flac")
    original, _ = soundfile.read(tmp_path / "whole.input.flac")
    assert len(audio) == len(original) == 23 * 8000 and written.rows == (0, 45)
    np.testing.assert_allclose(original, load_track(songs["long"], model.config.audio), atol=1e-4)
    assert np.isfinite(list(written.metrics.values())).all()


@pytest.mark.slow
def test_matrix_decodes_to_numbered_files_and_wrong_size_is_refused(model, songs, tmp_path):
    latent = encode_inputs(model, [str(songs["a"]), str(songs["long"])]).latent_file
    written = decode_file(model, latent, str(tmp_path / "out.wav"))
    assert [Path(w.path).name for w in written] == ["out-000.wav", "out-001.wav"]
    assert decode_file(model, latent, str(tmp_path / "joined.wav"), join=True)[0].samples == 8000 + 4000
    latent.latents = latent.latents[:, :100]
    with pytest.raises(LatentSizeError, match="100 values .* expects 512"):
        decode_file(model, latent, str(tmp_path / "x.wav"))
    with pytest.raises(LatentError, match="one output"):
        output_paths("-", ["a", "b"])


@pytest.mark.slow
def test_fingerprint_mismatch_is_a_warning(model, songs):
    latent = encode_inputs(model, [str(songs["a"])]).latent_file
    assert fingerprint_warning(latent, model) is None
    latent.metadata["model_fingerprint"] = "ffffffffffffffff"
    assert "ffffffffffffffff" in fingerprint_warning(latent, model)


@pytest.mark.slow
def test_open_model_follows_the_resolution_order(model, tmp_path):
    run_dir = model.path.parent
    assert open_model(run_dir, tmp_path, None, "cpu").fingerprint == model.fingerprint
    assert open_model(None, tmp_path, str(run_dir), "auto").path == model.path
    with pytest.raises(FileNotFoundError, match="aea train"):
        open_model(None, tmp_path, None)


@pytest.mark.parametrize("crop, offset, where", [("start", 1.5, " from 1.5 s"), ("center", None, " from 0.75 s")])
def test_a_reconstruction_figure_says_where_in_the_file_its_clip_starts(
    model, songs, tmp_path, monkeypatch, crop, offset, where
):
    """`reconstruct --offset 1.5 --plot` drew the clip from 0 s with no word of where it came from."""
    from autoenc_audio.latents.plotting import plot_reconstruction
    from autoenc_audio.plots import audio as figures

    titles = []
    real_save = figures.save_figure
    monkeypatch.setattr(
        figures, "save_figure", lambda f, p, fmt=None: titles.append(f._suptitle.get_text()) or real_save(f, p, fmt)
    )
    source = str(songs["a"])
    for clip_crop, clip_offset, said in ((crop, offset, where), ("start", None, "")):
        (item,) = reconstruct_inputs(model, [source], str(tmp_path / "r.wav"), crop=clip_crop, offset=clip_offset)
        plot_reconstruction(model, item, source)
        assert titles[-1].splitlines()[0] == f"a.wav{said}: original vs reconstruction"
