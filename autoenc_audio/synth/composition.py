"""Melodies, motifs and rhythms composed from the song's harmony."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .theory import _Note, _Song

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


def _compose_motif(rng: np.random.Generator, rhythms: Sequence[tuple[float, ...]]) -> list[tuple[float, float, int]]:
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
