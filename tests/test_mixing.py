"""Mixing to mono: a file whose channels cancel (one in opposite polarity) is named in a warning wherever aea reads
it (a clip, a whole track streamed, the training cache filled by worker processes); ordinary stereo is not."""

import warnings

import numpy as np
import pytest
import soundfile

from autoenc_audio.audio import load_clip, load_track
from autoenc_audio.config import AudioConfig
from autoenc_audio.data import Track, TrackCache, fill_cache
from autoenc_audio.errors import ChannelsCancelWarning
from autoenc_audio.latents.tracks import TrackClips

AUDIO = AudioConfig(sample_rate=8000, clip_seconds=1.0)


def stereo(path, right_sign: float, seconds: float = 3.0):
    """A 440 Hz tone in both channels, the right one times `right_sign` (-1: opposite polarity)."""
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 8000)) / 8000)
    soundfile.write(path, np.stack([tone, right_sign * tone], 1), 8000)
    return path


def test_channels_in_opposite_polarity_are_named_where_a_clip_or_track_is_read(tmp_path):
    """It encoded as near-silence (SNR -36 dB) with no word, not even "silent"."""
    song = stereo(tmp_path / "antiphase.wav", -1.0)
    with pytest.warns(ChannelsCancelWarning, match=r"antiphase.wav: its channels cancel when mixed to mono"):
        load_clip(song, AUDIO)
    with pytest.warns(ChannelsCancelWarning):
        load_track(song, AUDIO)
    with pytest.warns(ChannelsCancelWarning) as caught:
        clips = list(TrackClips(song, AUDIO, AUDIO.clip_samples))
    assert len(clips) == 3 and len(caught) == 1  # a streamed track: one warning, not one a block


def test_ordinary_stereo_and_mono_pass_without_a_word(tmp_path):
    wide = 0.3 * np.random.default_rng(0).standard_normal((16000, 2))  # uncorrelated channels: the mix is 3 dB down
    soundfile.write(tmp_path / "wide.wav", wide, 8000)
    soundfile.write(tmp_path / "mono.wav", wide[:, 0], 8000)
    soundfile.write(tmp_path / "quiet.wav", np.zeros((16000, 2)), 8000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("wide.wav", "mono.wav", "quiet.wav"):
            load_track(tmp_path / name, AUDIO)
        list(TrackClips(stereo(tmp_path / "same.wav", 1.0), AUDIO, AUDIO.clip_samples))


def test_a_worker_process_filling_the_cache_passes_its_warnings_to_the_command(tmp_path):
    tracks = [Track(stereo(tmp_path / f"{n}.wav", -1.0 if n else 1.0), None, 3.0) for n in range(2)]
    with pytest.warns(ChannelsCancelWarning, match=r"1.wav: its channels cancel"):
        assert fill_cache(TrackCache(tmp_path / "cache", AUDIO), tracks, workers=2) == []
