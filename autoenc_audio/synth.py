"""A built-in, deterministic corpus of procedurally composed music.

Why it exists: the whole pipeline (loading, mono mixdown, resampling,
training, latent probes, genre classification) must run on a fresh clone
with no user audio. The tracks are therefore real music in miniature: each
has a key and mode, a chord progression, a tempo drawn from its style's
range, composed parts with velocity and envelopes, and a stereo mix with a
cheap reverb. The styles differ in timbre, register, rhythm, tempo and
density, so an autoencoder has structure to learn and a genre classifier
has something to separate.

Everything a track contains comes from one `numpy.random.Generator` seeded
from (seed, style), so a seed always gives the same samples and
`write_corpus` always gives byte-identical files.

Shapes: rendered audio is float32 `[samples, 2]` (stereo, 44.1 kHz by
default); voices render mono float32 `[samples]` and are panned into
stereo buses `[samples, 2]`.

Speed: every voice renders a whole note as one array and is added into its
bus. Karplus-Strong strings, the only recursive voice, are computed one
string period per numpy operation and cached per pitch, as are drum hits,
so a 30 s track takes a fraction of a second on one core.
"""

from __future__ import annotations

import math
import operator
import os
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from .files import atomic_path

SYNTH_SAMPLE_RATE = 44100
"""Sample rate of the corpus: CD rate, so that loaders must resample."""

STYLES: tuple[str, ...] = ("arpeggio", "pads", "groove", "lead", "percussion", "bells")
"""The style names, in the fixed order `write_corpus` deals tracks out in."""

PEAK_DBFS = -1.0
"""Every track is normalised to this sample peak."""

_TABLE_SIZE = 4096  # samples per wavetable cycle: fine enough for nearest-sample lookup
_LN_1000 = math.log(1000.0)  # -60 dB, the decay that defines a T60 time
_BASS_FLOOR = 33  # A1 (55 Hz): bass roots sit in the octave above
_STEPS_PER_BAR = 16  # drum patterns and bass lines sit on a sixteenth-note grid
_REVERB_DECIMATION = 4  # the reverb tail runs at a quarter rate: it is dark anyway

# ----------------------------------------------------------------------------- music theory

_SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}

# Scale degrees (0 = tonic) of one chord per bar. Progressions that would
# land on a diminished triad in the chosen mode are skipped at composition.
_PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 4, 5, 3),  # I-V-vi-IV
    (5, 3, 0, 4),  # vi-IV-I-V
    (0, 5, 3, 4),  # I-vi-IV-V
    (0, 3, 5, 4),  # I-IV-vi-V
    (0, 3, 4, 4),  # I-IV-V-V
    (1, 4, 0, 5),  # ii-V-I-vi
    (0, 6, 3, 0),  # I-bVII-IV-I (modal)
    (0, 5, 6, 0),  # i-VI-VII-i (aeolian)
)


@dataclass(frozen=True)
class _Harmony:
    """A key (tonic MIDI note and scale) and a repeating chord progression."""

    tonic: int
    scale: tuple[int, ...]
    progression: tuple[int, ...]

    def pitch(self, degree: int) -> int:
        """MIDI note of a scale degree; degrees past the scale wrap into octaves."""
        octave, step = divmod(degree, len(self.scale))
        return self.tonic + 12 * octave + self.scale[step]

    def chord_root(self, bar: int, bars_per_chord: int = 1) -> int:
        """Scale degree of the chord that sounds in `bar`."""
        return self.progression[(bar // bars_per_chord) % len(self.progression)]

    def bass(self, degree: int) -> int:
        """MIDI note of a degree folded into the bass octave starting at `_BASS_FLOOR` (A1)."""
        return _BASS_FLOOR + (self.pitch(degree) - _BASS_FLOOR) % 12

    def step_below(self, degree: int) -> int:
        """Semitones from the scale note below `degree` up to it: the size of a leading step."""
        return self.pitch(degree) - self.pitch(degree - 1)

    def voicing(self, root: int, low: int, count: int, seventh: bool = False) -> list[int]:
        """The `count` chord tones at or above MIDI note `low`, ascending.

        Picking tones by register rather than by root position yields the
        inversion closest to `low`, so successive chords move smoothly.
        """
        tones = (0, 2, 4, 6) if seventh else (0, 2, 4)
        pitch_classes = {self.pitch(root + tone) % 12 for tone in tones}
        notes: list[int] = []
        note = low
        while len(notes) < count:
            if note % 12 in pitch_classes:
                notes.append(note)
            note += 1
        return notes


def _is_diminished(scale: tuple[int, ...], degree: int) -> bool:
    """Whether the triad on `degree` has a diminished fifth (sounds unstable as a chord)."""
    harmony = _Harmony(0, scale, (0,))
    return harmony.pitch(degree + 4) - harmony.pitch(degree) == 6


def _midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


@dataclass(frozen=True)
class _Grid:
    """Musical time of a track: tempo, bar length and its length in samples."""

    sample_rate: int
    samples: int
    bpm: float
    beats_per_bar: int = 4

    @property
    def beat_samples(self) -> float:
        return 60.0 * self.sample_rate / self.bpm

    @property
    def bars(self) -> int:
        """Bars needed to cover the track (the last one is cut at the end)."""
        return max(1, math.ceil(self.samples / (self.beat_samples * self.beats_per_bar)))

    def at(self, beat: float) -> int:
        """Sample index of a position measured in beats from the start."""
        return int(round(beat * self.beat_samples))

    def length(self, beats: float) -> int:
        """Number of samples spanned by a duration in beats."""
        return max(1, int(round(beats * self.beat_samples)))

    def seconds(self, beats: float) -> float:
        return beats * 60.0 / self.bpm


@dataclass(frozen=True)
class _Song:
    """Everything a style renderer needs: the random stream, time grid and harmony."""

    rng: np.random.Generator
    grid: _Grid
    harmony: _Harmony


@dataclass(frozen=True)
class _Feel:
    """The tempo range and modes a style draws from."""

    bpm: tuple[float, float]
    scales: tuple[str, ...]


@dataclass(frozen=True)
class _Note:
    """One note of a composed part, placed in beats."""

    beat: float
    beats: float
    midi: int
    velocity: float


def _compose_song(rng: np.random.Generator, feel: _Feel, samples: int, sample_rate: int) -> _Song:
    """Draw tempo, key, mode and a progression that avoids diminished chords."""
    bpm = float(rng.uniform(*feel.bpm))
    scale = _SCALES[feel.scales[int(rng.integers(len(feel.scales)))]]
    usable = [p for p in _PROGRESSIONS if not any(_is_diminished(scale, d) for d in p)]
    progression = usable[int(rng.integers(len(usable)))]
    tonic = 54 + int(rng.integers(12))  # F#3..F4: styles shift registers from here
    return _Song(rng, _Grid(sample_rate, samples, bpm), _Harmony(tonic, scale, progression))


# ----------------------------------------------------------------------------- envelopes


def _seconds_axis(samples: int, sample_rate: int) -> np.ndarray:
    """Time of each sample in seconds, float64 so long phases stay exact."""
    return np.arange(samples, dtype=np.float64) / sample_rate


def _exp_decay(samples: int, sample_rate: int, t60: float) -> np.ndarray:
    """Exponential decay reaching -60 dB after `t60` seconds, float32 `[samples]`."""
    return np.exp(np.arange(samples, dtype=np.float32) * np.float32(-_LN_1000 / (t60 * sample_rate)))


def _adsr(
    samples: int,
    sample_rate: int,
    attack: float,
    decay: float,
    sustain: float,
    gate: float,
    release: float,
) -> np.ndarray:
    """Attack-decay-sustain-release envelope, float32 `[samples]`.

    `gate` is how long the key is held in seconds; the release starts then.
    """
    held = max(gate, attack + decay)
    times = (0.0, attack, attack + decay, held, held + release)
    levels = (0.0, 1.0, sustain, sustain, 0.0)
    return np.interp(_seconds_axis(samples, sample_rate), times, levels).astype(np.float32)


def _box_smooth(signal: np.ndarray, width: int) -> np.ndarray:
    """Causal moving average over `width` samples: turns steps into linear ramps."""
    if width <= 1:
        return signal
    padded = np.concatenate((np.full(width, signal[0]), signal))
    summed = np.cumsum(padded, dtype=np.float64)
    return ((summed[width:] - summed[:-width]) / width).astype(signal.dtype)


# ----------------------------------------------------------------------------- oscillators


def _harmonic_amplitudes(timbre: str, count: int) -> np.ndarray:
    """Amplitudes of harmonics 1..count for a named classic waveform."""
    harmonic = np.arange(1, count + 1, dtype=np.float64)
    odd = harmonic % 2 == 1
    if timbre == "saw":
        return 1.0 / harmonic
    if timbre == "square":
        return np.where(odd, 1.0 / harmonic, 0.0)
    if timbre == "hollow":  # clarinet-like: odd harmonics strong, a little even colour
        return np.where(odd, 1.0 / harmonic, 0.15 / harmonic**2)
    if timbre == "soft":
        return 1.0 / harmonic**2
    if timbre == "organ":  # drawbar-like: 8', 4', 2 2/3' and 2' footages
        drawbars = {1: 1.0, 2: 0.5, 3: 0.3, 4: 0.25}
        return np.array([drawbars.get(int(h), 0.0) for h in harmonic])
    raise ValueError(f"unknown timbre {timbre!r}")


def _wavetable(timbre: str, top_hz: float, sample_rate: int, max_harmonics: int = 48) -> np.ndarray:
    """One cycle of a waveform, band-limited so that `top_hz` does not alias.

    Returns float32 `[_TABLE_SIZE]` with peak 1.
    """
    count = int(np.clip(0.45 * sample_rate / top_hz, 1, max_harmonics))
    spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : count + 1] = -1j * _harmonic_amplitudes(timbre, count)  # sine phase
    table = np.fft.irfft(spectrum, n=_TABLE_SIZE)
    return (table / np.max(np.abs(table))).astype(np.float32)


def _table_index(phase_cycles: np.ndarray) -> np.ndarray:
    """Wavetable positions for phases measured in cycles (any non-negative size)."""
    return (phase_cycles * _TABLE_SIZE).astype(np.int64) & (_TABLE_SIZE - 1)


def _sine_of(phase_cycles: np.ndarray) -> np.ndarray:
    """sin(2 pi phase) in float32; the phase is reduced to one cycle first so float32 stays exact."""
    return np.sin(np.float32(2 * np.pi) * (phase_cycles % 1.0).astype(np.float32))


def _steady_phase(hz: float, samples: int, sample_rate: int, start: float = 0.0) -> np.ndarray:
    """Phase in cycles of a constant-pitch oscillator."""
    return start + hz * _seconds_axis(samples, sample_rate)


def _morph_oscillator(
    dark: np.ndarray, bright: np.ndarray, phase_cycles: np.ndarray, brightness: np.ndarray | float
) -> np.ndarray:
    """Crossfade two wavetables: a cheap stand-in for a moving low-pass filter."""
    index = _table_index(phase_cycles)
    low = dark[index]
    return low + brightness * (bright[index] - low)


def _pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power left/right gains for pan in [-1 (left), 1 (right)]."""
    angle = (np.clip(pan, -1.0, 1.0) + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


# ----------------------------------------------------------------------------- pitched voices


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


# ----------------------------------------------------------------------------- drums


def _band_mask(hz: np.ndarray, low: float | None, high: float | None, order: int = 2) -> np.ndarray:
    """Butterworth-shaped magnitude response of a band-pass (either edge optional)."""
    mask = np.ones_like(hz)
    if low is not None:
        mask /= np.sqrt(1.0 + (low / np.maximum(hz, 1e-9)) ** (2 * order))
    if high is not None:
        mask /= np.sqrt(1.0 + (hz / high) ** (2 * order))
    return mask


def _filtered_noise(
    rng: np.random.Generator, samples: int, sample_rate: int, low: float | None, high: float | None
) -> np.ndarray:
    """Band-limited noise with peak 1, float32 `[samples]` (filtered before any envelope)."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum *= _band_mask(np.fft.rfftfreq(samples, 1.0 / sample_rate), low, high)
    noise = np.fft.irfft(spectrum, n=samples)
    return (noise / max(float(np.max(np.abs(noise))), 1e-9)).astype(np.float32)


def _pitch_drop_sine(
    start_hz: float, end_hz: float, drop_seconds: float, samples: int, sample_rate: int
) -> np.ndarray:
    """A sine whose pitch falls exponentially from `start_hz` to `end_hz`: drum skins do this."""
    seconds = _seconds_axis(samples, sample_rate)
    hz = end_hz + (start_hz - end_hz) * np.exp(-seconds / drop_seconds)
    return np.sin(2 * np.pi * np.cumsum(hz) / sample_rate).astype(np.float32)


def _kick(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(rng.uniform(0.3, 0.5) * sample_rate)
    body = _pitch_drop_sine(
        rng.uniform(120, 200), rng.uniform(42, 60), rng.uniform(0.02, 0.05), samples, sample_rate
    )
    click = _filtered_noise(rng, samples, sample_rate, 1500, 6000) * _exp_decay(samples, sample_rate, 0.01)
    return body * _exp_decay(samples, sample_rate, samples / sample_rate) + 0.3 * click


def _snare(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(rng.uniform(0.2, 0.3) * sample_rate)
    tone_hz = rng.uniform(160, 240)
    body = _pitch_drop_sine(tone_hz * 1.5, tone_hz, 0.01, samples, sample_rate) * _exp_decay(
        samples, sample_rate, 0.12
    )
    wires = _filtered_noise(rng, samples, sample_rate, rng.uniform(1200, 2500), rng.uniform(7000, 11000))
    return 0.6 * body + wires * _exp_decay(samples, sample_rate, samples / sample_rate)


def _hat(rng: np.random.Generator, sample_rate: int, open_hat: bool) -> np.ndarray:
    t60 = rng.uniform(0.25, 0.45) if open_hat else rng.uniform(0.04, 0.08)
    samples = int(t60 * sample_rate)
    metal = _filtered_noise(rng, samples, sample_rate, rng.uniform(6000, 8500), 16000)
    return metal * _exp_decay(samples, sample_rate, t60)


def _clap(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(0.3 * sample_rate)
    noise = _filtered_noise(rng, samples, sample_rate, 900, 3500)
    seconds = _seconds_axis(samples, sample_rate)
    bursts = sum(
        np.exp(-np.maximum(seconds - k * 0.011, 0) / 0.004) * (seconds >= k * 0.011) for k in range(3)
    )
    tail = np.exp(-np.maximum(seconds - 0.033, 0) / 0.06) * (seconds >= 0.033)
    return (noise * (0.7 * bursts + tail)).astype(np.float32)


def _tom(rng: np.random.Generator, sample_rate: int, hz: float) -> np.ndarray:
    samples = int(rng.uniform(0.3, 0.5) * sample_rate)
    body = _pitch_drop_sine(hz * 1.3, hz, 0.06, samples, sample_rate)
    return body * _exp_decay(samples, sample_rate, samples / sample_rate)


def _conga(rng: np.random.Generator, sample_rate: int, hz: float) -> np.ndarray:
    samples = int(0.25 * sample_rate)
    body = _pitch_drop_sine(hz * 1.15, hz, 0.015, samples, sample_rate) * _exp_decay(
        samples, sample_rate, 0.22
    )
    slap = _filtered_noise(rng, samples, sample_rate, 2000, 6000) * _exp_decay(samples, sample_rate, 0.015)
    return body + 0.25 * slap


def _shaker(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(0.09 * sample_rate)
    beads = _filtered_noise(rng, samples, sample_rate, rng.uniform(4000, 6000), 12000)
    return beads * _adsr(samples, sample_rate, 0.02, 0.0, 1.0, 0.02, 0.05)


def _cowbell(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Two detuned square-ish partials, as on the classic drum machines."""
    samples = int(0.35 * sample_rate)
    table = _wavetable("square", 2 * 800.0, sample_rate, max_harmonics=9)
    low_hz = rng.uniform(520, 600)
    partials = sum(
        table[_table_index(_steady_phase(hz, samples, sample_rate))] for hz in (low_hz, low_hz * 1.48)
    )
    return partials * _exp_decay(samples, sample_rate, 0.3)


def _woodblock(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    samples = int(0.08 * sample_rate)
    hz = rng.uniform(700, 1400)
    knock = _sine(hz, samples, sample_rate) + 0.4 * _sine(hz * 2.7, samples, sample_rate)
    return knock * _exp_decay(samples, sample_rate, 0.05)


# ----------------------------------------------------------------------------- mixing


@dataclass(frozen=True)
class _Layer:
    """A stereo bus `[samples, 2]` and how much of it feeds the shared reverb."""

    bus: np.ndarray
    reverb_send: float


def _stereo_bus(samples: int) -> np.ndarray:
    return np.zeros((samples, 2), dtype=np.float32)


def _place(bus: np.ndarray, mono: np.ndarray, start: int, gain: float = 1.0, pan: float = 0.0) -> None:
    """Add a mono note `[n]` into a stereo bus `[samples, 2]` at sample `start`, panned."""
    end = min(bus.shape[0], start + mono.size)
    if start >= end:
        return
    left, right = _pan_gains(pan)
    segment = mono[: end - start]
    bus[start:end, 0] += np.float32(gain * left) * segment
    bus[start:end, 1] += np.float32(gain * right) * segment


def _ping_pong(bus: np.ndarray, delay: int, feedback: float, repeats: int = 4) -> np.ndarray:
    """Stereo echo bouncing between the channels: width and motion for sparse parts."""
    echoed = bus.copy()
    mono = bus.mean(axis=1)
    for repeat in range(1, repeats + 1):
        offset = repeat * delay
        if offset >= bus.shape[0]:
            break
        echoed[offset:, (repeat + 1) % 2] += np.float32(feedback**repeat) * mono[:-offset]
    return echoed


def _fft_size(length: int) -> int:
    """Smallest 2^a 3^b 5^c >= length: sizes numpy's FFT handles fast."""
    best = 1 << max(0, (length - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            size = power35
            while size < length:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


def _reverb(send: np.ndarray, sample_rate: int, rng: np.random.Generator, t60: float) -> np.ndarray:
    """A dark stereo room: the send `[samples, 2]` convolved with decaying noise.

    Runs at a quarter of the sample rate (a reverb tail has little treble)
    and uses an independent noise impulse response per channel for width.
    """
    samples = send.shape[0]
    usable = samples - samples % _REVERB_DECIMATION
    if usable == 0:
        return np.zeros_like(send)
    low_rate = sample_rate // _REVERB_DECIMATION
    decimated = send[:usable].reshape(-1, _REVERB_DECIMATION, 2).mean(axis=1)
    tail = int(min(t60, 3.0) * low_rate)
    predelay = int(0.02 * low_rate)
    response = rng.standard_normal((predelay + tail, 2)).astype(np.float32)
    response[:predelay] = 0.0
    response[predelay:] *= _exp_decay(tail, low_rate, t60)[:, None]
    response /= np.sqrt(np.sum(response**2, axis=0, keepdims=True))  # unit energy: sends set the level
    size = _fft_size(decimated.shape[0] + response.shape[0])
    wet = np.fft.irfft(
        np.fft.rfft(decimated, n=size, axis=0) * np.fft.rfft(response, n=size, axis=0), n=size, axis=0
    )
    wet = wet[: decimated.shape[0]]
    positions = (np.arange(samples) - (_REVERB_DECIMATION - 1) / 2) / _REVERB_DECIMATION
    grid = np.arange(wet.shape[0])
    return np.stack([np.interp(positions, grid, wet[:, channel]) for channel in range(2)], axis=1).astype(
        np.float32
    )


def _master(layers: Sequence[_Layer], song: _Song, reverb_t60: float) -> np.ndarray:
    """Sum the layers, add the reverb return, fade the edges and set the peak to -1 dBFS."""
    sample_rate = song.grid.sample_rate
    dry = np.zeros_like(layers[0].bus)
    send = np.zeros_like(layers[0].bus)
    for layer in layers:
        dry += layer.bus
        send += np.float32(layer.reverb_send) * layer.bus
    mix = dry + _reverb(send, sample_rate, song.rng, reverb_t60)
    fade_in = min(mix.shape[0], int(0.003 * sample_rate))
    fade_out = min(mix.shape[0], int(0.05 * sample_rate))
    mix[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)[:, None]
    mix[mix.shape[0] - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)[:, None]
    peak = float(np.max(np.abs(mix)))
    if peak > 0.0:
        mix *= np.float32(10.0 ** (PEAK_DBFS / 20.0) / peak)
    return mix.astype(np.float32)


# ----------------------------------------------------------------------------- composition

_LEAD_RHYTHMS: tuple[tuple[float, ...], ...] = (
    (1, 1, 1, 1),
    (2, 1, 1),
    (1.5, 0.5, 2),
    (0.5, 0.5, 1, 2),
    (3, 1),
    (1, 0.5, 0.5, 2),
    (1.5, 1.5, 1),
    (0.75, 0.75, 0.5, 2),
)
_BELL_RHYTHMS: tuple[tuple[float, ...], ...] = ((2, 2), (1, 1, 2), (3, 1), (1.5, 2.5), (4,), (1, 3))
_MELODY_STEPS = (-2, -1, 1, 2, -3, 3, 0)
_MELODY_STEP_WEIGHTS = (0.2, 0.25, 0.25, 0.15, 0.05, 0.05, 0.05)
_PHRASE_FORM = "AABA"  # which two-bar motif each section of an eight-bar phrase plays


def _compose_motif(
    rng: np.random.Generator, rhythms: Sequence[tuple[float, ...]]
) -> list[tuple[float, float, int]]:
    """A two-bar motif as (beat, beats, degree above the bar's chord root).

    Each bar opens on a chord tone (0, 2 or 4 degrees above the root) and
    then walks mostly stepwise through the scale.
    """
    motif = []
    for bar in range(2):
        cell = rhythms[int(rng.integers(len(rhythms)))]
        beat = 4.0 * bar
        offset = int(rng.choice((0, 2, 4)))
        for index, beats in enumerate(cell):
            if index > 0:
                offset = int(np.clip(offset + rng.choice(_MELODY_STEPS, p=_MELODY_STEP_WEIGHTS), -4, 6))
            motif.append((beat, float(beats), offset))
            beat += beats
    return motif


def _compose_melody(
    song: _Song, rhythms: Sequence[tuple[float, ...]], base_degree: int, rest_probability: float
) -> list[_Note]:
    """A melody over the whole track in AABA form, each motif following the chords.

    Motifs are stored relative to the chord root, so repeating one over a
    new chord transposes it like a sequence; repeats vary a few notes.
    """
    rng, harmony = song.rng, song.harmony
    motifs = {name: _compose_motif(rng, rhythms) for name in "AB"}
    notes = []
    for section in range(-(-song.grid.bars // 2)):
        motif = motifs[_PHRASE_FORM[section % len(_PHRASE_FORM)]]
        for beat, beats, offset in motif:
            bar = 2 * section + int(beat // 4)
            opens_bar = beat % 4 == 0
            if not opens_bar and section > 0 and rng.random() < 0.2:
                offset += int(rng.choice((-1, 1)))
            if not opens_bar and rng.random() < rest_probability:
                continue
            root = harmony.chord_root(bar)
            root -= 7 if root > 3 else 0  # follow the chord down rather than up: keeps the register
            degree = base_degree + root + offset
            velocity = float(np.clip((0.85 if opens_bar else 0.7) + rng.normal(0, 0.07), 0.3, 1.0))
            notes.append(_Note(8.0 * section + beat, beats, harmony.pitch(degree), velocity))
    return notes


def _euclidean(pulses: int, steps: int, rotation: int) -> np.ndarray:
    """Boolean hits spreading `pulses` as evenly as possible over `steps` (Toussaint's rhythms)."""
    hits = (np.arange(steps) * pulses) % steps < pulses
    return np.roll(hits, rotation)


# ----------------------------------------------------------------------------- styles


def _render_arpeggio(song: _Song) -> list[_Layer]:
    """Plucked-string arpeggios over the chords with a ping-pong echo and a plucked bass.

    Fast, bright, evenly dense and tonal: sixteenths or triplets in the mid
    register, no drums.
    """
    rng, grid, harmony = song.rng, song.grid, song.harmony
    steps_per_beat = int(rng.choice((3, 4)))
    shapes = (
        [0, 1, 2, 3, 4, 5],
        [5, 4, 3, 2, 1, 0],
        [0, 2, 1, 3, 2, 4, 3, 5],
        [0, 1, 2, 3, 4, 3, 2, 1],
        list(rng.permutation(6)),
    )
    shape = shapes[int(rng.integers(len(shapes)))]
    plucks = _PluckBank(
        rng, grid.sample_rate, t60=float(rng.uniform(0.8, 1.6)), brightness=float(rng.uniform(0.15, 0.6))
    )
    bass = _PluckBank(rng, grid.sample_rate, t60=float(rng.uniform(1.5, 2.5)), brightness=0.05)
    arp_bus, bass_bus = _stereo_bus(grid.samples), _stereo_bus(grid.samples)
    low = harmony.tonic - int(rng.integers(0, 6))
    for bar in range(grid.bars):
        root = harmony.chord_root(bar)
        tones = harmony.voicing(root, low, 6)
        order = shape if bar % 4 != 3 else shape[::-1]  # every fourth bar turns the figure around
        for step in range(steps_per_beat * 4):
            beat = 4 * bar + step / steps_per_beat
            velocity = (1.0 if step % steps_per_beat == 0 else 0.7) * rng.uniform(0.8, 1.0)
            note = plucks.note(tones[order[step % len(order)]], int(rng.integers(2)))
            _place(arp_bus, note, grid.at(beat), 0.35 * velocity, pan=0.35 if step % 2 else -0.35)
        bass_note = harmony.bass(root) + 12 * int(harmony.bass(root) < 36)  # plucks thin out below C2
        for beat in (0.0, 2.0, 3.5) if bar % 2 else (0.0, 2.0):
            _place(bass_bus, bass.note(bass_note, 0), grid.at(4 * bar + beat), 0.6 * rng.uniform(0.85, 1.0))
    arp_bus = _ping_pong(arp_bus, grid.length(0.75), feedback=0.35)
    return [_Layer(arp_bus, 0.25), _Layer(bass_bus, 0.05)]


def _render_pads(song: _Song) -> list[_Layer]:
    """Slow, wide chord pads: detuned oscillators, long attacks, a drifting filter, a sub bass.

    Almost no onsets, sustained energy, heavy reverb, slow tempo.
    """
    rng, grid, harmony = song.rng, song.grid, song.harmony
    sample_rate = grid.sample_rate
    bars_per_chord = int(rng.choice((1, 2), p=(0.3, 0.7)))
    attack, release = float(rng.uniform(0.6, 2.0)), float(rng.uniform(1.0, 2.0))
    timbre = str(rng.choice(("saw", "square", "hollow")))
    detune_cents = float(rng.uniform(6, 14))
    seventh = bool(rng.random() < 0.5)
    low = harmony.tonic - int(rng.integers(5, 10))
    sweep_seconds = float(rng.uniform(6, 14))
    track_time = _seconds_axis(grid.samples, sample_rate)
    brightness = (
        0.45 + 0.4 * np.sin(2 * np.pi * track_time / sweep_seconds + rng.uniform(0, 2 * np.pi))
    ).astype(np.float32)
    pad_bus, sub_bus = _stereo_bus(grid.samples), _stereo_bus(grid.samples)
    for chord in range(-(-grid.bars // bars_per_chord)):
        root = harmony.chord_root(chord * bars_per_chord, bars_per_chord)
        start = grid.at(4 * bars_per_chord * chord)
        gate = grid.seconds(4 * bars_per_chord)
        samples = int((gate + release) * sample_rate)
        envelope = _adsr(samples, sample_rate, attack, 0.5, 0.8, gate, release)
        window = brightness[start : start + samples]  # the sweep continues past the track end
        window = np.pad(window, (0, samples - window.size), mode="edge")
        for note in harmony.voicing(root, low, 4, seventh):
            hz = float(_midi_to_hz(note))
            dark = _wavetable(timbre, hz, sample_rate, max_harmonics=3)
            bright = _wavetable(timbre, hz, sample_rate, max_harmonics=24)
            for side in (-1.0, 1.0):
                detuned = hz * 2.0 ** (side * detune_cents / 1200.0)
                phase = _steady_phase(detuned, samples, sample_rate, start=float(rng.random()))
                voice = _morph_oscillator(dark, bright, phase, window) * envelope
                _place(pad_bus, voice, start, 0.12 * rng.uniform(0.85, 1.0), pan=0.7 * side)
        sub = _sine(float(_midi_to_hz(harmony.bass(root))), samples, sample_rate) * envelope
        _place(sub_bus, sub, start, 0.25)
    return [_Layer(pad_bus, 0.6), _Layer(sub_bus, 0.05)]


def _groove_drums(
    rng: np.random.Generator,
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[tuple[int, float]]]]:
    """A one-bar drum pattern on sixteenths and its fill variant, as {drum: [(step, velocity)]}."""
    kick = [(0, 1.0), (8, 0.95)] + [(s, 0.8) for s in (3, 6, 10, 11, 14) if rng.random() < 0.3]
    snare = [(4, 0.9), (12, 0.9)] + [(s, 0.22) for s in (7, 9, 15) if rng.random() < 0.25]
    hat_step = int(rng.choice((1, 2)))
    open_hat = [(14, 0.6)] if rng.random() < 0.5 else []
    hats = [
        (s, (0.75 if s % 4 == 0 else 0.5) * rng.uniform(0.8, 1.0))
        for s in range(0, _STEPS_PER_BAR, hat_step)
        if not (open_hat and s == 14)
    ]
    main = {"kick": kick, "snare": snare, "hat": hats, "open_hat": open_hat}
    fill = dict(main)
    fill["snare"] = [(4, 0.9)] + [(s, 0.45 + 0.05 * (s - 11)) for s in range(12, 16)]
    return main, fill


def _bass_line(rng: np.random.Generator) -> list[tuple[int, int, str]]:
    """One bar of bass rhythm as (step, length in steps, role); roles pick pitches per chord."""
    steps = sorted({0} | {s for s in (3, 6, 8, 10, 11, 14) if rng.random() < 0.45})
    line = []
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else _STEPS_PER_BAR
        length = max(1, min(following - step, int(rng.choice((1, 2, 3)))))
        role = "root" if step == 0 else str(rng.choice(("root", "octave", "fifth"), p=(0.5, 0.3, 0.2)))
        line.append((step, length, role))
    if line[-1][0] >= 12 and rng.random() < 0.6:
        line[-1] = (line[-1][0], line[-1][1], "approach")
    return line


def _bass_pitch(harmony: _Harmony, bar: int, role: str) -> int:
    root = harmony.chord_root(bar)
    low_root = harmony.bass(root)
    if role == "octave":
        return low_root + 12
    if role == "fifth":
        return low_root + harmony.pitch(root + 4) - harmony.pitch(root)
    if role == "approach":  # the scale step below the next chord's root leads into it
        following = harmony.chord_root(bar + 1)
        return harmony.bass(following) - harmony.step_below(following)
    return low_root


def _synth_bass(hz: float, gate: float, sample_rate: int, timbre: str, punch: float) -> np.ndarray:
    """A synth bass note: the filter opens on the attack and closes as the note decays."""
    release = 0.04
    samples = int((gate + release) * sample_rate)
    dark = _wavetable(timbre, hz, sample_rate, max_harmonics=4)
    bright = _wavetable(timbre, hz, sample_rate, max_harmonics=32)
    filter_envelope = punch * _exp_decay(samples, sample_rate, 0.25)
    tone = _morph_oscillator(dark, bright, _steady_phase(hz, samples, sample_rate), filter_envelope)
    return tone * _adsr(samples, sample_rate, 0.004, 0.12, 0.7, gate, release)


def _render_groove(song: _Song) -> list[_Layer]:
    """A drum kit with a syncopated synth bass line: strong low end, steady backbeat, swing."""
    rng, grid, harmony = song.rng, song.grid, song.harmony
    sample_rate = grid.sample_rate
    kit = {
        "kick": _kick(rng, sample_rate),
        "snare": _snare(rng, sample_rate),
        "hat": _hat(rng, sample_rate, open_hat=False),
        "open_hat": _hat(rng, sample_rate, open_hat=True),
    }
    drum_gain = {"kick": 0.9, "snare": 0.6, "hat": 0.25, "open_hat": 0.2}
    drum_pan = {"kick": 0.0, "snare": 0.05, "hat": 0.35, "open_hat": 0.35}
    main, fill = _groove_drums(rng)
    line = _bass_line(rng)
    swing = float(rng.uniform(0.0, 0.3))
    timbre = str(rng.choice(("saw", "square")))
    punch = float(rng.uniform(0.5, 1.0))
    drums_bus, bass_bus = _stereo_bus(grid.samples), _stereo_bus(grid.samples)

    def step_start(bar: int, step: int) -> int:
        swung = step + (swing if step % 2 else 0.0)
        return grid.at(4 * bar + swung / 4)

    for bar in range(grid.bars):
        pattern = fill if bar % 4 == 3 else main
        for drum, hits in pattern.items():
            for step, velocity in hits:
                gain = drum_gain[drum] * velocity * rng.uniform(0.9, 1.0)
                _place(drums_bus, kit[drum], step_start(bar, step), gain, drum_pan[drum])
        for step, length, role in line:
            hz = float(_midi_to_hz(_bass_pitch(harmony, bar, role)))
            note = _synth_bass(hz, grid.seconds(length / 4) * 0.9, sample_rate, timbre, punch)
            _place(bass_bus, note, step_start(bar, step), 0.5 * rng.uniform(0.85, 1.0))
    return [_Layer(drums_bus, 0.08), _Layer(bass_bus, 0.02)]


def _legato_line(
    notes: Sequence[_Note], grid: _Grid, table: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One monophonic voice playing `notes` legato with glide and delayed vibrato, float32 `[samples]`.

    The whole line is one oscillator driven by a per-sample pitch curve, so
    notes glide into each other instead of re-triggering.
    """
    samples, sample_rate = grid.samples, grid.sample_rate
    starts = np.array([grid.at(note.beat) for note in notes])
    ends = np.array([grid.at(note.beat + note.beats) for note in notes])
    current = np.clip(np.searchsorted(starts, np.arange(samples), side="right") - 1, 0, None)
    pitch = np.array([note.midi for note in notes], dtype=np.float64)[current]
    pitch = _box_smooth(pitch, int(rng.uniform(0.03, 0.08) * sample_rate))  # portamento
    since_onset = (np.arange(samples) - starts[current]) / sample_rate
    depth = rng.uniform(0.12, 0.3) * np.clip((since_onset - 0.2) / 0.3, 0.0, 1.0)
    seconds = _seconds_axis(samples, sample_rate)
    pitch = pitch + depth * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * seconds)
    phase = np.cumsum(_midi_to_hz(pitch)) / sample_rate
    followed_by_rest = np.append(starts[1:] > ends[:-1], True)
    release_gap = np.where(followed_by_rest, int(0.03 * sample_rate), 0)  # legato notes do not dip
    position = np.arange(samples)
    sounding = (position >= starts[current]) & (position < (ends - release_gap)[current])
    velocity = np.array([note.velocity for note in notes], dtype=np.float32)[current] * sounding
    loudness = _box_smooth(velocity.astype(np.float32), int(0.04 * sample_rate))
    loudness *= (0.85 + 0.15 * np.exp(-since_onset / 0.25)).astype(np.float32)  # a little accent per note
    return table[_table_index(phase)] * loudness


def _render_lead(song: _Song) -> list[_Layer]:
    """A singing legato melody with vibrato over a soft sustained chord bed and bass.

    One dominant monophonic voice in the upper register, moderate tempo,
    notes of varied length: melodic rather than rhythmic.
    """
    rng, grid, harmony = song.rng, song.grid, song.harmony
    sample_rate = grid.sample_rate
    melody = _compose_melody(song, _LEAD_RHYTHMS, base_degree=7, rest_probability=0.1)
    top_hz = float(_midi_to_hz(max(note.midi for note in melody) + 1))
    table = _wavetable(
        str(rng.choice(("hollow", "saw", "square", "soft"))), top_hz, sample_rate, max_harmonics=20
    )
    lead_bus = _stereo_bus(grid.samples)
    _place(lead_bus, _legato_line(melody, grid, table, rng), 0, 0.5, pan=float(rng.uniform(-0.15, 0.15)))
    lead_bus = _ping_pong(lead_bus, grid.length(1.0), feedback=0.2, repeats=3)
    bed_bus = _stereo_bus(grid.samples)
    bed_timbre = str(rng.choice(("organ", "soft")))
    for bar in range(grid.bars):
        root = harmony.chord_root(bar)
        gate = grid.seconds(4)
        samples = int((gate + 0.6) * sample_rate)
        envelope = _adsr(samples, sample_rate, 0.25, 0.3, 0.7, gate, 0.6)
        for index, note in enumerate(harmony.voicing(root, harmony.tonic - 7, 3)):
            hz = float(_midi_to_hz(note))
            tone = _wavetable(bed_timbre, hz, sample_rate)[
                _table_index(_steady_phase(hz, samples, sample_rate))
            ]
            _place(bed_bus, tone * envelope, grid.at(4 * bar), 0.08, pan=(index - 1) * 0.5)
        bass = _sine(float(_midi_to_hz(harmony.bass(root))), samples, sample_rate) * envelope
        _place(bed_bus, bass, grid.at(4 * bar), 0.2)
    return [_Layer(lead_bus, 0.3), _Layer(bed_bus, 0.35)]


def _percussion_kit(rng: np.random.Generator, sample_rate: int) -> dict[str, tuple[np.ndarray, str, float]]:
    """A random hand-percussion kit as {name: (hit, register, pan)}.

    It always has a low drum and something high, plus a few of the rest,
    so kits vary from track to track but each covers the spectrum. There is
    no kick drum: the thump of a drum kit belongs to `groove`.
    """
    tom_hz = rng.uniform(90, 140)
    conga_hz = rng.uniform(180, 260)
    makers: dict[str, tuple[Callable[[], np.ndarray], str]] = {
        "low_tom": (lambda: _tom(rng, sample_rate, tom_hz), "low"),
        "surdo": (lambda: _tom(rng, sample_rate, tom_hz * 0.8), "low"),
        "high_tom": (lambda: _tom(rng, sample_rate, tom_hz * 1.5), "mid"),
        "conga": (lambda: _conga(rng, sample_rate, conga_hz), "mid"),
        "bongo": (lambda: _conga(rng, sample_rate, conga_hz * 1.6), "mid"),
        "clap": (lambda: _clap(rng, sample_rate), "mid"),
        "cowbell": (lambda: _cowbell(rng, sample_rate), "high"),
        "woodblock": (lambda: _woodblock(rng, sample_rate), "high"),
        "shaker": (lambda: _shaker(rng, sample_rate), "high"),
        "hat": (lambda: _hat(rng, sample_rate, open_hat=False), "high"),
    }
    low = [name for name, (_, register) in makers.items() if register == "low"]
    high = ["shaker", "hat"]
    chosen = [str(rng.choice(low)), str(rng.choice(high))]
    others = [name for name in makers if name not in chosen]
    chosen += [str(name) for name in rng.choice(others, size=int(rng.integers(2, 5)), replace=False)]
    pans = np.linspace(-0.6, 0.6, len(chosen))[rng.permutation(len(chosen))]
    return {
        name: (makers[name][0](), makers[name][1], float(pan)) for name, pan in zip(chosen, pans, strict=True)
    }


def _render_percussion(song: _Song) -> list[_Layer]:
    """Hand percussion alone: interlocking Euclidean rhythms on a varied kit, with tom fills.

    No pitched harmony at all; dense transients across a wide tempo range.
    """
    rng, grid = song.rng, song.grid
    steps = int(rng.choice((12, 16)))  # triplet or straight feel
    pulses_for = {"low": (3, 6), "mid": (2, 8), "high": (6, steps - 1)}
    gain_for = {"low": 0.8, "mid": 0.5, "high": 0.3}
    kit = _percussion_kit(rng, grid.sample_rate)
    rhythms = {
        name: _euclidean(int(rng.integers(*pulses_for[register])), steps, int(rng.integers(steps)))
        for name, (_, register, _) in kit.items()
    }
    accents = rng.uniform(0.6, 1.0, steps) * np.where(np.arange(steps) % (steps // 4) == 0, 1.0, 0.8)
    fill_tom = _tom(rng, grid.sample_rate, rng.uniform(90, 140))
    bus = _stereo_bus(grid.samples)
    for bar in range(grid.bars):
        fills = bar % 4 == 3
        for name, (hit, register, pan) in kit.items():
            for step in np.flatnonzero(rhythms[name]):
                if fills and step >= 3 * steps // 4:
                    continue
                gain = gain_for[register] * accents[step] * rng.uniform(0.85, 1.0)
                _place(bus, hit, grid.at(4 * bar + 4 * step / steps), gain, pan)
        if fills:  # a descending tom run closes each four-bar phrase
            for index, step in enumerate(range(3 * steps // 4, steps)):
                rate = 1.0 - 0.12 * index  # crude pitch drop: resample the hit
                hit = np.interp(np.arange(0, fill_tom.size - 1, rate), np.arange(fill_tom.size), fill_tom)
                _place(
                    bus,
                    hit.astype(np.float32),
                    grid.at(4 * bar + 4 * step / steps),
                    0.6,
                    pan=0.5 - 0.25 * index,
                )
    return [_Layer(bus, 0.12)]


def _render_bells(song: _Song) -> list[_Layer]:
    """Sparse FM bells ringing a slow melody high up, over a low bell drone, in a big room.

    Inharmonic spectra, long exponential decays, high register, few onsets.
    """
    rng, grid, harmony = song.rng, song.grid, song.harmony
    sample_rate = grid.sample_rate
    ratio = float(rng.choice((1.4, 2.76, 3.5, 1.73)))
    index = float(rng.uniform(2.0, 5.0))
    t60 = float(rng.uniform(2.0, 3.5))
    melody = _compose_melody(song, _BELL_RHYTHMS, base_degree=11, rest_probability=0.15)
    rung: dict[int, np.ndarray] = {}
    bell_bus, drone_bus = _stereo_bus(grid.samples), _stereo_bus(grid.samples)
    for note in melody:
        if note.midi not in rung:
            rung[note.midi] = _fm_bell(
                float(_midi_to_hz(note.midi)), int(t60 * sample_rate), sample_rate, ratio, index, t60
            )
        pan = float(np.clip((note.midi - harmony.tonic - 24) / 12.0, -0.7, 0.7))
        _place(bell_bus, rung[note.midi], grid.at(note.beat), 0.3 * note.velocity, pan)
    for bar in range(0, grid.bars, 2):
        root = harmony.chord_root(bar)
        samples = int(grid.seconds(8) * 1.3 * sample_rate)
        for degree, pan in ((root, -0.4), (root + 4, 0.4)):
            hz = float(_midi_to_hz(harmony.pitch(degree) - 12))
            drone = _fm_bell(hz, samples, sample_rate, 1.0, 1.2, grid.seconds(8))
            _place(drone_bus, drone, grid.at(4 * bar), 0.12, pan)
    bell_bus = _ping_pong(bell_bus, grid.length(1.5), feedback=0.3, repeats=3)
    return [_Layer(bell_bus, 0.5), _Layer(drone_bus, 0.4)]


@dataclass(frozen=True)
class _Style:
    """How a style is composed and mixed."""

    feel: _Feel
    render: Callable[[_Song], list[_Layer]]
    reverb_t60: float


_STYLE_TABLE: dict[str, _Style] = {
    "arpeggio": _Style(_Feel((96, 140), ("major", "minor", "dorian", "mixolydian")), _render_arpeggio, 1.2),
    "pads": _Style(_Feel((56, 80), ("major", "minor", "dorian")), _render_pads, 3.0),
    "groove": _Style(_Feel((90, 126), ("minor", "dorian", "mixolydian")), _render_groove, 0.8),
    "lead": _Style(_Feel((72, 108), ("major", "minor", "mixolydian")), _render_lead, 1.8),
    "percussion": _Style(_Feel((80, 170), ("major",)), _render_percussion, 0.9),
    "bells": _Style(_Feel((56, 92), ("major", "minor")), _render_bells, 3.5),
}
assert tuple(_STYLE_TABLE) == STYLES, "every style needs a renderer, in STYLES order"

# ----------------------------------------------------------------------------- public API


def _sample_count(seconds: float, sample_rate: int) -> int:
    """Samples in a track of `seconds`, rejecting durations that make no track."""
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive finite number, got {seconds!r}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate!r}")
    samples = round(seconds * sample_rate)
    if samples < 1:
        raise ValueError(f"{seconds} s is shorter than one sample at {sample_rate} Hz")
    return samples


def render_track(style: str, seed: int, seconds: float, sample_rate: int = SYNTH_SAMPLE_RATE) -> np.ndarray:
    """Compose and render one track of `style`.

    Returns float32 `[samples, 2]` (stereo) with `samples =
    round(seconds * sample_rate)` and a peak of -1 dBFS. The same
    (style, seed, seconds, sample_rate) always gives identical samples.

    Raises ValueError for an unknown style, a negative seed or a
    non-positive duration.
    """
    if style not in _STYLE_TABLE:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    samples = _sample_count(seconds, sample_rate)
    spec = _STYLE_TABLE[style]
    rng = np.random.default_rng([seed, STYLES.index(style)])
    song = _compose_song(rng, spec.feel, samples, sample_rate)
    return _master(spec.render(song), song, spec.reverb_t60)


def _track_seed(corpus_seed: int, index: int) -> int:
    """An independent seed per track, so adding tracks never changes earlier ones."""
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def _write_wav_atomically(path: pathlib.Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM via a temporary file in the same folder, so readers never see half a file.

    Quantising here (rather than in libsndfile) pins the exact bytes.
    """
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        sf.write(temporary, pcm, sample_rate, subtype="PCM_16", format="WAV")


def write_corpus(
    out_dir: str | os.PathLike[str],
    tracks: int = 200,
    seconds: float = 30.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[pathlib.Path]:
    """Render `tracks` tracks into `out_dir` in the GTZAN layout and return their paths, sorted.

    Tracks are dealt round-robin over `STYLES` (track i is style
    `STYLES[i % len(STYLES)]`), so every style is represented even for small
    counts; files are `out_dir/<style>/<style>.00000.wav` numbered per style,
    44.1 kHz stereo 16-bit PCM. `progress(done, total)` is called after each
    file. The same arguments always produce byte-identical files.

    Raises ValueError if `tracks < 1`, `seconds <= 0` or `seed < 0`.
    """
    tracks = operator.index(tracks)
    if tracks < 1:
        raise ValueError(f"tracks must be at least 1, got {tracks}")
    _sample_count(seconds, SYNTH_SAMPLE_RATE)
    seed = operator.index(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    root = pathlib.Path(out_dir)
    paths = []
    for index in range(tracks):
        style = STYLES[index % len(STYLES)]
        path = root / style / f"{style}.{index // len(STYLES):05d}.wav"
        audio = render_track(style, _track_seed(seed, index), seconds)
        _write_wav_atomically(path, audio, SYNTH_SAMPLE_RATE)
        paths.append(path)
        if progress is not None:
            progress(index + 1, tracks)
    return sorted(paths)
