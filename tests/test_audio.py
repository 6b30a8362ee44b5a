import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import tone, truncated_mp3, unknown_length_flac

from autoenc_audio.audio import AudioError, choose_offset, load_clip, load_track, probe, read_frames, write_audio
from autoenc_audio.config import AudioConfig
from autoenc_audio.errors import TruncatedAudioWarning

CONFIG = AudioConfig()  # 22050 Hz, 5 s


@pytest.mark.parametrize(
    "name, rate, channels, subtype",
    [
        ("stereo.mp3", 44100, 2, None),
        ("six.wav", 48000, 6, None),
        ("low.wav", 8000, 1, "PCM_U8"),
        ("vorbis.ogg", 32000, 2, "VORBIS"),
        ("opus.ogg", 48000, 2, "OPUS"),
        ("lossless.flac", 96000, 2, "PCM_24"),
        ("apple.aiff", 22050, 1, None),
    ],
)
def test_any_format_becomes_mono_clip_at_target_rate(make_audio, name, rate, channels, subtype):
    path = make_audio(name, seconds=6.0, rate=rate, channels=channels, subtype=subtype)
    clip = load_clip(path, CONFIG)
    assert clip.samples.shape == (110250,)
    assert clip.samples.dtype == np.float32
    assert not clip.padded and not clip.silent
    # The 440 Hz tone survives: its spectral peak stays at 440 Hz after resampling.
    spectrum = np.abs(np.fft.rfft(clip.samples))
    peak_hz = np.argmax(spectrum) * CONFIG.sample_rate / len(clip.samples)
    assert abs(peak_hz - 440) < 2


def test_mixdown_is_mean_of_channels(make_audio):
    path = make_audio("six.wav", seconds=1.0, rate=22050, channels=6, subtype="FLOAT")
    data, _ = read_frames(path)
    track = load_track(path, AudioConfig(clip_seconds=1.0))
    np.testing.assert_allclose(track, data.mean(axis=1), atol=1e-6)
    # Channel c holds (c+1)/6 of the tone, so the mean is 3.5/6 of channel 6.
    np.testing.assert_allclose(track, data[:, 5] * 3.5 / 6, atol=1e-6)


def test_other_rate_and_length_are_settings(make_audio):
    path = make_audio("x.wav", seconds=3.0, rate=44100)
    clip = load_clip(path, AudioConfig(sample_rate=16000, clip_seconds=2.0))
    assert clip.samples.shape == (32000,)


def test_short_file_is_padded_and_flagged(make_audio):
    path = make_audio("short.wav", seconds=2.0, rate=22050)
    clip = load_clip(path, CONFIG)
    assert clip.padded
    assert clip.valid_samples == 44100
    assert clip.samples.shape == (110250,)
    assert np.all(clip.samples[44100:] == 0)
    assert np.abs(clip.samples[:44100]).max() > 0.1


def test_crop_modes(make_audio, tmp_path):
    """The two random crops are equal exactly: one process, one seed, the same decode and resampler."""
    # A ramp reveals where each clip was cut.
    rate = 22050
    ramp = (np.arange(rate * 20) / (rate * 20)).astype(np.float32) * 0.9
    path = tmp_path / "ramp.wav"
    soundfile.write(path, ramp, rate, subtype="FLOAT")
    start = load_clip(path, CONFIG, "start")
    center = load_clip(path, CONFIG, "center")
    offset = load_clip(path, CONFIG, 12.0)
    assert start.offset_seconds == 0.0
    assert center.offset_seconds == pytest.approx(7.5)
    np.testing.assert_allclose(center.samples[1000], ramp[int(7.5 * rate) + 1000], atol=1e-4)
    np.testing.assert_allclose(offset.samples[1000], ramp[12 * rate + 1000], atol=1e-4)
    first = load_clip(path, CONFIG, "random", np.random.default_rng(3))
    again = load_clip(path, CONFIG, "random", np.random.default_rng(3))
    assert first.offset_seconds == again.offset_seconds
    assert 0 <= first.offset_seconds <= 15
    np.testing.assert_array_equal(first.samples, again.samples)


def test_offset_clip_matches_whole_track_decode(make_audio):
    path = make_audio("long.flac", seconds=30.0, rate=44100, channels=2)
    whole = load_track(path, CONFIG)
    clip = load_clip(path, CONFIG, 10.0)
    reference = whole[10 * 22050 : 10 * 22050 + 110250]
    assert np.max(np.abs(clip.samples - reference)) < 1e-3


def test_offset_past_end_and_bad_crop(make_audio):
    path = make_audio("x.wav", seconds=3.0)
    with pytest.raises(AudioError, match="past the end"):
        load_clip(path, CONFIG, 10.0)
    with pytest.raises(AudioError, match="unknown crop mode"):
        choose_offset(10, 5, "middle")


def test_silence_is_allowed_but_reported(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(22050 * 6, dtype=np.float32), 22050)
    clip = load_clip(path, CONFIG)
    assert clip.silent and not clip.padded


def test_error_messages_name_file_and_cause(tmp_path, make_audio):
    cases = {}
    cases["missing.wav"] = "no such file"
    (tmp_path / "folder.wav").mkdir()
    cases["folder.wav"] = "is a directory"
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty.wav"] = "empty file"
    (tmp_path / "notes.wav").write_text("these are my notes, not audio\n" * 20)
    cases["notes.wav"] = "not a readable audio file"
    (tmp_path / "song.m4a").write_bytes(b"\x00" * 100)
    cases["song.m4a"] = "convert to WAV, FLAC, OGG or MP3"
    good = make_audio("good.flac", seconds=3.0).read_bytes()
    noise = np.random.default_rng(0).bytes(5000)
    (tmp_path / "corrupt.flac").write_bytes(good[:42] + noise)
    cases["corrupt.flac"] = "not a readable audio file"
    (tmp_path / "damaged.flac").write_bytes(good[: len(good) // 2] + noise)
    cases["damaged.flac"] = "corrupt or truncated"
    header_only = tmp_path / "header_only.wav"
    soundfile.write(header_only, np.zeros((0, 1), dtype=np.float32), 22050)
    cases["header_only.wav"] = "no audio frames"
    for name, cause in cases.items():
        with pytest.raises(AudioError) as info:
            load_clip(tmp_path / name, CONFIG)
        message = str(info.value)
        assert name in message and cause in message, message
        assert "\n" not in message


def test_truncated_file_still_reads_what_is_there_or_fails_clearly(make_audio, tmp_path):
    good = make_audio("good.flac", seconds=6.0, rate=44100)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    try:
        clip = load_clip(truncated, CONFIG)
    except AudioError as error:
        assert "truncated.flac" in str(error)
    else:
        assert clip.samples.shape == (110250,)


def test_a_truncated_download_is_what_it_holds_with_a_warning_naming_it(tmp_path):
    """An incomplete MP3 download: its header says 12 s, 7 s decode; the track is those 7 s."""
    path = truncated_mp3(tmp_path / "partial.mp3", seconds=12.0, rate=22050)
    assert probe(path).duration_seconds == pytest.approx(12.0, abs=0.1)  # the header's promise, no decoding
    said = r"partial.mp3: decodes to 7\.\d\d s though its header says 12\.00 s \(truncated\?\)"
    with pytest.warns(TruncatedAudioWarning, match=said) as warned:
        data, rate = read_frames(path)
    assert len(warned) == 1 and 6.5 * rate < len(data) < 7.5 * rate
    with pytest.warns(TruncatedAudioWarning, match=said) as warned:
        clip = load_clip(path, CONFIG, crop="random", rng=np.random.default_rng(0))
    assert len(warned) == 1 and not clip.padded and clip.offset_seconds + 5.0 <= len(data) / rate  # within it
    past = r"partial.mp3: offset 9\.00 s is past the end \(7\.\d\d s\)"
    with pytest.warns(TruncatedAudioWarning, match=said), pytest.raises(AudioError, match=past):
        load_clip(path, CONFIG, 9.0)  # within the header's 12 s, after the audio's end


def test_a_flac_without_a_length_in_its_header_reads_like_any_other(tmp_path):
    """What `ffmpeg ... -f flac -` writes to a pipe: libsndfile counts it as 2**63 - 1 frames."""
    piped = unknown_length_flac(tmp_path / "piped.flac", seconds=3.0, rate=44100)
    known = tmp_path / "known.flac"
    soundfile.write(known, tone(3.0, 44100), 44100, format="FLAC", subtype="PCM_16")
    assert probe(piped).frames == probe(known).frames == 3 * 44100
    np.testing.assert_array_equal(read_frames(piped)[0], read_frames(known)[0])
    np.testing.assert_array_equal(read_frames(piped, 44100, 44100)[0], read_frames(known, 44100, 44100)[0])
    np.testing.assert_array_equal(read_frames(piped, 100000)[0], read_frames(known, 100000)[0])  # to the end
    np.testing.assert_array_equal(load_track(piped, CONFIG), load_track(known, CONFIG))
    for crop in ("start", "center", 1.5):
        clip, expected = load_clip(piped, CONFIG, crop), load_clip(known, CONFIG, crop)
        assert (clip.offset_seconds, clip.valid_samples) == (expected.offset_seconds, expected.valid_samples)
        np.testing.assert_array_equal(clip.samples, expected.samples)
    with pytest.raises(AudioError, match=r"piped.flac: offset 3.50 s is past the end \(3.00 s\)"):
        load_clip(piped, CONFIG, 3.5)


def test_nan_samples_are_rejected(tmp_path):
    path = tmp_path / "nan.wav"
    data = np.zeros(22050, dtype=np.float32)
    data[100] = np.nan
    soundfile.write(path, data, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: contains NaN"):
        load_clip(path, CONFIG)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_write_then_read_back(tmp_path, suffix):
    rate = 22050
    t = np.arange(rate * 2) / rate
    samples = (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    path = tmp_path / f"out{suffix}"
    write_audio(path, samples, rate)
    info = probe(path)
    assert info.sample_rate == rate and info.channels == 1
    back = load_track(path, AudioConfig())
    assert abs(len(back) - len(samples)) < 2000  # MP3 adds encoder delay padding
    if suffix in (".wav", ".flac"):
        np.testing.assert_allclose(back[: len(samples)], samples, atol=1e-4)
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_to_stdout(capsysbinary):
    write_audio("-", np.zeros(100, dtype=np.float32), 22050)
    data, rate = soundfile.read(io.BytesIO(capsysbinary.readouterr().out))
    assert rate == 22050 and len(data) == 100


def test_streamed_writes_to_stdout_give_one_wav_of_every_piece(capsysbinary):
    from autoenc_audio.audio import audio_writer

    with audio_writer("-", 22050) as write:
        for value in (0.1, 0.2, 0.3):
            write(np.full(1000, value, dtype=np.float32))
    data, rate = soundfile.read(io.BytesIO(capsysbinary.readouterr().out))
    assert rate == 22050 and len(data) == 3000 and abs(data[-1] - 0.3) < 1e-3


def test_samples_beyond_full_scale_are_clipped_with_a_warning_naming_the_file(tmp_path):
    from autoenc_audio.audio import audio_writer
    from autoenc_audio.errors import ClippingWarning

    loud = np.array([0.5, 1.5, -2.0, 0.25], dtype=np.float32)
    with pytest.warns(
        ClippingWarning, match=r"loud.wav: 2 of 4 samples beyond full scale were clipped \(peak 2.00, \+6.0 dBFS\)"
    ):
        write_audio(tmp_path / "loud.wav", loud, 22050)
    np.testing.assert_allclose(soundfile.read(tmp_path / "loud.wav")[0], [0.5, 1.0, -1.0, 0.25], atol=1e-4)
    with pytest.warns(ClippingWarning, match="streamed.flac: 4 of 8 samples") as caught:
        with audio_writer(tmp_path / "streamed.flac", 22050) as write:
            write(loud)
            write(loud)
    assert len(caught) == 1  # one warning per file, not per piece
    assert soundfile.read(tmp_path / "streamed.flac")[0].max() == pytest.approx(1.0, abs=1e-4)


def test_clipping_is_announced_only_for_a_file_actually_written(tmp_path, capsysbinary, recwarn):
    from autoenc_audio.errors import ClippingWarning

    loud = np.array([1.5, 0.0], dtype=np.float32)
    with pytest.raises(AudioError, match="cannot write .m4a"):
        write_audio(tmp_path / "x.m4a", loud, 22050)
    assert not recwarn.list
    with pytest.warns(ClippingWarning, match="^standard output: 1 of 2 samples"):
        write_audio("-", loud, 22050)
    assert soundfile.read(io.BytesIO(capsysbinary.readouterr().out))[0][0] == pytest.approx(1.0, abs=1e-4)


def test_audio_within_full_scale_writes_without_a_warning(tmp_path, recwarn):
    write_audio(tmp_path / "quiet.wav", np.array([1.0, -1.0, 0.5], dtype=np.float32), 22050)
    assert not recwarn.list


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc, where no file can be created")
def test_an_unwritable_output_is_named_in_the_error_not_its_temporary_file():
    from autoenc_audio.audio import audio_writer
    from autoenc_audio.files import OutputError

    with pytest.raises(OutputError, match=r"^/proc/aea-test.wav: cannot write \(No such file or directory\)$"):
        write_audio("/proc/aea-test.wav", np.zeros(10, dtype=np.float32), 22050)
    with pytest.raises(OutputError, match=r"^/proc/aea-test.flac: cannot write"):
        with audio_writer("/proc/aea-test.flac", 22050) as write:
            write(np.zeros(10, dtype=np.float32))


def test_write_rejects_unknown_extension(tmp_path):
    with pytest.raises(AudioError, match="cannot write .m4a"):
        write_audio(tmp_path / "x.m4a", np.zeros(10, dtype=np.float32), 22050)


def test_audio_bytes_are_recognised_by_their_magic_number(make_audio):
    from autoenc_audio.audio import sniff_audio_suffix

    for suffix in (".wav", ".flac", ".ogg", ".mp3", ".aiff"):
        path = make_audio(f"tone{suffix}", seconds=0.5)
        assert sniff_audio_suffix(path.read_bytes()[:12]) == suffix, suffix
    for text in (b"/music/a.mp3\n/music/b.flac\n", b"", b"RIFF\x00\x00\x00\x00AVI "):
        assert sniff_audio_suffix(text[:12]) is None


def test_a_corrupt_mp3_is_one_error_and_nothing_else_on_stderr(tmp_path, capfd):
    """libmpg123 prints resync notes to file descriptor 2; aea's error must stay the only line."""
    noise = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    for name, data in (("noise.mp3", noise), ("header.mp3", b"\xff\xfb\x90\x00" + noise[:5000])):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(AudioError, match=f"{name}: not a readable audio file"):
            probe(tmp_path / name)
    assert capfd.readouterr().err == ""


def test_a_file_name_that_is_not_utf8_is_written_as_it_is_read(tmp_path):
    """A Latin-1 name (`café.wav` as bytes 0xE9) could be read but not written: "'utf-8' codec can't encode
    character '\\udce9'", naming no file."""
    import os

    target = tmp_path / os.fsdecode(b"caf\xe9.wav")
    write_audio(target, np.zeros(800, dtype=np.float32), 8000)
    assert os.listdir(os.fsencode(tmp_path)) == [b"caf\xe9.wav"]
    assert probe(target).frames == 800


def test_an_mpeg_length_estimated_from_its_size_is_not_taken_for_a_truncated_file():
    """A complete MP2, or an MP3 without a Xing header, decodes to a few frames less than libsndfile's estimate
    (190080 of 190212): "decodes to 4.31 s though its header says 4.31 s (truncated?)" on every such file."""
    from autoenc_audio.audio import UNKNOWN_FRAMES, promised_frames

    assert promised_frames("MP3", 190212) < 190080 and promised_frames("MP3", 191795) < 191232
    assert promised_frames("MP3", 10_000_000) > 9_800_000  # a truncated download is still one
    assert promised_frames("WAV", 190212) == promised_frames("FLAC", 190212) == 190212  # exact counts stay exact
    assert promised_frames("MP3", UNKNOWN_FRAMES) == UNKNOWN_FRAMES


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg writes the MP2 and Xing-less MP3 (apt-get ffmpeg)")
@pytest.mark.parametrize("args", [["-c:a", "libmp3lame", "-write_xing", "0"], []], ids=["mp3-no-xing", "mp2"])
def test_a_complete_mpeg_file_without_an_exact_length_reads_without_a_warning(tmp_path, args):
    import subprocess
    import warnings

    path = tmp_path / ("song.mp3" if args else "song.mp2")
    tone = ["-f", "lavfi", "-i", "sine=f=440:d=4.3:r=44100"]
    subprocess.run(["ffmpeg", "-v", "error", *tone, *args, str(path)], check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_frames(path)[0]) > 4.2 * 44100
        load_clip(path, CONFIG, 4.0)  # a clip reaching the end: no second, whole decode either
