"""The six styles: how each composes its parts and mixes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .composition import _BELL_RHYTHMS, _LEAD_RHYTHMS, _compose_melody, _euclidean
from .drums import _clap, _conga, _cowbell, _hat, _kick, _shaker, _snare, _tom, _woodblock
from .envelopes import _adsr, _box_smooth, _exp_decay, _seconds_axis
from .mixing import _Layer, _ping_pong, _place, _stereo_bus
from .oscillators import _morph_oscillator, _steady_phase, _table_index, _wavetable
from .theory import _Feel, _Grid, _Harmony, _midi_to_hz, _Note, _Song
from .voices import _fm_bell, _PluckBank, _sine

_STEPS_PER_BAR = 16  # drum patterns and bass lines sit on a sixteenth-note grid

STYLES: tuple[str, ...] = ("arpeggio", "pads", "groove", "lead", "percussion", "bells")
"""The style names, in the fixed order `write_corpus` deals tracks out in."""


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
    brightness = (0.45 + 0.4 * np.sin(2 * np.pi * track_time / sweep_seconds + rng.uniform(0, 2 * np.pi))).astype(
        np.float32
    )
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


def _legato_line(notes: Sequence[_Note], grid: _Grid, table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
    table = _wavetable(str(rng.choice(("hollow", "saw", "square", "soft"))), top_hz, sample_rate, max_harmonics=20)
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
            tone = _wavetable(bed_timbre, hz, sample_rate)[_table_index(_steady_phase(hz, samples, sample_rate))]
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
    return {name: (makers[name][0](), makers[name][1], float(pan)) for name, pan in zip(chosen, pans, strict=True)}


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
            for index, fill_step in enumerate(range(3 * steps // 4, steps)):
                rate = 1.0 - 0.12 * index  # crude pitch drop: resample the hit
                hit = np.interp(np.arange(0, fill_tom.size - 1, rate), np.arange(fill_tom.size), fill_tom)
                _place(
                    bus,
                    hit.astype(np.float32),
                    grid.at(4 * bar + 4 * fill_step / steps),
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
