"""Pitched voices: plucked strings, FM bells, sines, each a mono note `[samples]`."""

from __future__ import annotations

import math

import numpy as np

from .envelopes import _LN_1000, _adsr, _exp_decay
from .oscillators import _sine_of, _steady_phase
from .theory import _midi_to_hz


def _karplus_strong(
    hz: float, samples: int, sample_rate: int, rng: np.random.Generator, t60: float, brightness: float
) -> np.ndarray:
    """A plucked string, float32 `[samples]`.

    The string loop y[n] = g * (y[n-D] + y[n-D-1]) / 2 only looks one period
    back, so a whole period is computed per numpy operation. The loop is
    tuned to an integer delay and the result resampled to the exact pitch.
    """
    period = sample_rate / hz
    delay = max(2, int(period - 0.5))  # the averaging filter adds half a sample
    rate = (delay + 0.5) / period  # read speed that turns the loop pitch into `hz`
    needed = int(samples * rate) + 2
    blocks = -(-needed // delay) + 1
    buffer = np.zeros(1 + blocks * delay, dtype=np.float32)  # leading zero stands for y[-1]
    excitation = rng.uniform(-1.0, 1.0, delay)
    spectrum = np.fft.rfft(excitation)
    spectrum *= 1.0 / (1.0 + (np.arange(spectrum.size) / (1.0 + brightness * spectrum.size)) ** 2)
    spectrum[0] = 0.0  # no DC: a plucked string does not drift
    buffer[1 : 1 + delay] = np.fft.irfft(spectrum, n=delay)
    loop_gain = np.float32(0.5 * math.exp(-_LN_1000 / (t60 * hz)))
    for block in range(1, blocks):
        start = 1 + block * delay
        out = buffer[start : start + delay]
        np.add(buffer[start - delay : start], buffer[start - delay - 1 : start - 1], out=out)
        out *= loop_gain
    string = buffer[1:]
    positions = np.arange(samples, dtype=np.float64) * rate
    plucked = np.interp(positions, np.arange(string.size), string).astype(np.float32)
    plucked *= _adsr(samples, sample_rate, 0.001, 0.0, 1.0, samples / sample_rate - 0.03, 0.03)
    return plucked / max(float(np.max(np.abs(plucked))), 1e-9)


def _fm_bell(hz: float, samples: int, sample_rate: int, ratio: float, index: float, t60: float) -> np.ndarray:
    """A struck bell by two-operator FM with an inharmonic ratio, float32 `[samples]`.

    The modulation index decays faster than the amplitude, so the strike is
    bright and metallic and the tail mellows, like a real bell; a hum an
    octave below rings longer.
    """
    modulation = np.float32(index) * _exp_decay(samples, sample_rate, 0.35 * t60)
    modulation *= _sine_of(_steady_phase(hz * ratio, samples, sample_rate))
    carrier = np.float32(2 * np.pi) * (_steady_phase(hz, samples, sample_rate) % 1.0).astype(np.float32)
    strike = np.sin(carrier + modulation)
    hum = _sine_of(_steady_phase(hz / 2, samples, sample_rate))
    tone = strike * _exp_decay(samples, sample_rate, t60)
    tone += np.float32(0.35) * hum * _exp_decay(samples, sample_rate, 1.4 * t60)
    attack = min(samples, int(0.002 * sample_rate))  # against clicks
    tone[:attack] *= np.linspace(0.0, 1.0, attack, dtype=np.float32)
    return tone


def _sine(hz: float, samples: int, sample_rate: int) -> np.ndarray:
    return _sine_of(_steady_phase(hz, samples, sample_rate))


class _PluckBank:
    """Karplus-Strong notes of one instrument, rendered once per (pitch, take).

    Arpeggios repeat the same few pitches many times; caching a couple of
    takes per pitch keeps natural variation at a fraction of the cost.
    """

    def __init__(self, rng: np.random.Generator, sample_rate: int, t60: float, brightness: float) -> None:
        self._rng = rng
        self._sample_rate = sample_rate
        self._t60 = t60
        self._brightness = brightness
        self._notes: dict[tuple[int, int], np.ndarray] = {}

    def note(self, midi: int, take: int) -> np.ndarray:
        key = (midi, take)
        if key not in self._notes:
            samples = int(min(self._t60, 2.0) * self._sample_rate)
            self._notes[key] = _karplus_strong(
                float(_midi_to_hz(midi)), samples, self._sample_rate, self._rng, self._t60, self._brightness
            )
        return self._notes[key]
