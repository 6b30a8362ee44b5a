"""From decoded audio to what aea models, mono at the model's rate, noticing when the channels cancel in the mix.

A stereo file whose channels are in opposite polarity (a wiring or mastering fault) mixes to near silence: aea
would encode, train on or measure almost nothing of what a listener hears, so the mix is checked and a
`ChannelsCancelWarning` names the file.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import soxr

from .config import AudioConfig
from .errors import ChannelsCancelWarning

CANCEL_DB = -20.0
"""A mono mix this far below its channels' mean power counts as cancelled (uncorrelated channels give -3 dB)."""
_AUDIBLE_POWER = 1e-8
"""Channels' mean power below this (-80 dBFS) are too quiet for their mix to tell anything."""


def to_mono(audio: np.ndarray) -> np.ndarray:
    """`[frames, channels]` -> `[frames]`, the mean of the channels."""
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    return audio.mean(axis=1, dtype=np.float32)


class MixCheck:
    """The power of a file's channels and of their mono mix, summed over the blocks it is read in."""

    def __init__(self) -> None:
        self.channels = 0.0
        self.mix = 0.0
        self.frames = 0

    def add(self, audio: np.ndarray, mono: np.ndarray) -> None:
        """Count one block: `audio` `[frames, channels]` and its mix `mono` `[frames]` (mono input counts nothing)."""
        if audio.ndim == 2 and audio.shape[1] > 1:  # sums of squares as dot products: a pass each, no temporaries
            values = np.ascontiguousarray(audio).ravel()
            self.channels += float(np.dot(values, values)) / audio.shape[1]
            self.mix += float(np.dot(mono, mono))
            self.frames += len(mono)

    def warn(self, name: str) -> None:
        """A `ChannelsCancelWarning` naming `name` when the mix counted so far cancelled."""
        if not self.frames or self.channels / self.frames < _AUDIBLE_POWER:
            return
        below = 10 * math.log10(max(self.mix, 1e-30) / self.channels)
        if below < CANCEL_DB:
            warnings.warn(
                ChannelsCancelWarning(
                    f"{name}: its channels cancel when mixed to mono ({below:.0f} dB below them: one channel in "
                    "opposite polarity?); aea hears the mono mix, so give one channel (ffmpeg -af 'pan=mono|c0=c0')"
                ),
                stacklevel=3,
            )


def mono_of(audio: np.ndarray, name: str) -> np.ndarray:
    """`to_mono`, with a `ChannelsCancelWarning` naming `name` when the mix cancels."""
    mono = to_mono(audio)
    check = MixCheck()
    check.add(audio, mono)
    check.warn(name)
    return mono


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Mono `[frames]` from one rate to another with soxr (high quality)."""
    if from_rate == to_rate:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def preprocess(audio: np.ndarray, sample_rate: int, config: AudioConfig, name: str | None = None) -> np.ndarray:
    """Decoded `[frames, channels]` at any rate -> mono `[samples]` at the target rate; `name`: the file, named in
    a `ChannelsCancelWarning` when its channels cancel in the mix (None: not checked)."""
    mono = to_mono(audio) if name is None else mono_of(audio, name)
    return resample(mono, sample_rate, config.sample_rate)
