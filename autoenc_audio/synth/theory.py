"""Keys, scales, chord progressions and the song grid every part is composed on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_BASS_FLOOR = 33  # A1 (55 Hz): bass roots sit in the octave above

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
