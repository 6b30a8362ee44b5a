"""The prior's walk on small hand-made memories (no training): it finds each clip's beat, ends its runs and lands
its jumps on the beat, replays runs as bars repeat, and crossfades where it jumps."""

import torch

from autoenc_audio.config import PriorConfig
from autoenc_audio.generation.walk import (
    WalkRequest,
    _crossfaded,
    _memory_of,
    _until_beat,
    beat_grid,
    beat_lags,
    onset_strength,
    walk,
)
from autoenc_audio.prior.memory import EDGE_FRAMES, FrameMemory, fit_features
from autoenc_audio.prior.model import FeaturePrior
from autoenc_audio.prior.store import Prior

HOP_SECONDS = 0.1  # a frame of the hand-made memories lasts 0.1 s: beat settings in seconds are tenths of frames


def pulses(periods: list[int], offsets: list[int], playable: int = 60, channels: int = 3) -> torch.Tensor:
    """Latent maps `[clips, channels, playable + 2 * EDGE_FRAMES]`: near silence with a loud frame every `period`
    playable frames from `offset` (clip by clip): an onset on each beat."""
    frames = torch.full((len(periods), channels, playable + 2 * EDGE_FRAMES), 0.01)
    positions = torch.arange(playable)
    for clip, (period, offset) in enumerate(zip(periods, offsets)):
        beats = EDGE_FRAMES + positions[(positions - offset) % period == 0]
        frames[clip, :, beats] = 1.0 + 0.1 * clip  # clips differ a little, so the context match prefers some
    return frames


def hand_made_prior(frames: torch.Tensor, **settings) -> Prior:
    """A prior over `frames` (each clip its own track) with an untrained recurrent model, frames of 0.1 s."""
    clips = len(frames)
    memory = FrameMemory(
        frames,
        torch.arange(clips),
        torch.zeros(clips, dtype=torch.int64),
        torch.full((clips,), -1, dtype=torch.int64),
        [],
    )
    defaults = {
        "feature_dims": 2,
        "hidden": 4,
        "context_frames": 2,
        "candidates": 4,
        "search_clips": 8,
        "shortest_beat_seconds": 0.4,
        "longest_beat_seconds": 1.0,
    }
    config = PriorConfig(**{**defaults, **settings})
    features = fit_features(memory, config.feature_dims)
    torch.manual_seed(0)
    model = FeaturePrior(features.dims, config.hidden).eval()
    return Prior(config, memory, features, model, {"frame_hop": 100, "sample_rate": 1000}, {})


def strength_of(frames: torch.Tensor, prior: Prior) -> torch.Tensor:
    return onset_strength(prior.features.energy(frames)[:, EDGE_FRAMES:-EDGE_FRAMES])


def test_each_clip_gets_its_beat_period_inside_the_configured_range():
    frames = pulses([6, 5], [0, 2])
    prior = hand_made_prior(frames)
    assert _memory_of(prior).beats.tolist() == [6, 5], "the pulse periods, 0.4-1.0 s being 4-10 frames"
    strength = strength_of(frames, prior)
    assert beat_lags(strength[:1], 4, 10).tolist() == [6]
    fast = pulses([3], [1])  # a 0.3 s beat, below the range: its double, the one multiple inside 0.4-0.8 s
    prior = hand_made_prior(fast, longest_beat_seconds=0.8)
    assert _memory_of(prior).beats.tolist() == [6]
    prior.config = PriorConfig(**{**prior.config.__dict__, "shortest_beat_seconds": 0.2, "longest_beat_seconds": 0.5})
    assert _memory_of(prior).beats.tolist() == [3], "new beat settings lay the memory out again"


def test_the_beat_grid_marks_the_onsets_within_the_tolerance():
    frames = pulses([6], [2])
    positions = torch.arange(60)
    for tolerance, phases in ((0, {0}), (1, {0, 1, 5})):
        prior = hand_made_prior(frames, beat_tolerance_frames=tolerance)
        on_beat = _memory_of(prior).on_beat[0]
        expected = torch.tensor([int(p) % 6 in phases for p in positions - 2])
        assert torch.equal(on_beat, expected), (tolerance, on_beat.nonzero().flatten().tolist())
    strength = strength_of(frames, prior)
    assert torch.equal(beat_grid(strength, torch.tensor([6]), 0)[0], (positions - 2) % 6 == 0)


def test_a_run_is_shortened_to_end_on_a_beat_after_half_its_length():
    memory = _memory_of(hand_made_prior(pulses([6], [2]), beat_tolerance_frames=0))  # beats at 2, 8, 14, ...
    assert _until_beat(memory, 0, 0, 10) == 8, "the last beat in frames 5-10 is 8"
    assert _until_beat(memory, 0, 3, 9) == 5, "from 3, the last beat in 7-12 is 8: a run of 5"
    assert _until_beat(memory, 0, 3, 3) == 3, "runs under 4 frames are left as they are"
    assert _until_beat(memory, 0, 9, 4) == 4, "no beat in frames 11-13: the run keeps its length"


def test_the_walk_leaves_and_lands_on_beats():
    prior = hand_made_prior(
        pulses([6] * 6, [0, 1, 2, 3, 4, 5], playable=96),
        beat_tolerance_frames=0,
        jump_probability=0.0,
        max_run_seconds=1.2,
        repeat_probability=0.0,
        crossfade_frames=0,
    )
    memory = _memory_of(prior)
    result = walk(prior, WalkRequest(frames=200, seed=1))
    assert len(result.jumps) >= 10
    for jump in result.jumps:
        assert memory.on_beat[jump["clip"], jump["index"]], f"landed off the beat: {jump}"
    for jump, after in zip(result.jumps, result.jumps[1:]):
        end = jump["index"] + after["frame"] - jump["frame"]
        assert end == memory.playable or memory.on_beat[jump["clip"], end], f"left off the beat: {jump} -> {after}"


def test_a_replayed_run_plays_the_run_before_it_again_frame_for_frame():
    """A repeat is compared exactly because it is a copy of the memory's frames, not a computation."""
    prior = hand_made_prior(
        pulses([6, 5, 4, 6], [0, 1, 2, 3]),
        repeat_probability=1.0,
        max_repeats=2,
        crossfade_frames=0,
        jump_probability=0.2,
    )
    result = walk(prior, WalkRequest(frames=150, seed=3))
    repeats = [jump["repeat"] for jump in result.jumps]
    assert repeats[:6] == [False, True, True, False, True, True], "each run is played max_repeats more times"
    for before, jump, after in zip(result.jumps, result.jumps[1:], result.jumps[2:] + [{"frame": 150}]):
        if jump["repeat"]:
            assert (jump["clip"], jump["index"]) == (before["clip"], before["index"])
            length = after["frame"] - jump["frame"]
            played, again = (result.frames[:, j["frame"] : j["frame"] + length] for j in (before, jump))
            assert torch.equal(played, again)


def test_a_crossfade_blends_the_old_continuation_into_the_new_run():
    frames = torch.ones(2, 3, 40 + 2 * EDGE_FRAMES)
    frames[1] = 3.0
    memory = _memory_of(hand_made_prior(frames))
    block = _crossfaded(memory, (0, 10), (1, 4), 3, 8)
    weights = torch.tensor([1, 2, 3]) / 4  # the new run's share rises; the old one's is what is left of 1
    assert torch.allclose(block[:, :3], (weights * 3.0 + (1 - weights) * 1.0).expand(3, 3))
    assert torch.equal(block[:, 3:], torch.full((3, 5), 3.0)), "after the fade, the new run itself"
    assert torch.equal(_crossfaded(memory, (-1, 0), (1, 4), 3, 8), torch.full((3, 8), 3.0)), "nothing to fade from"
    near_end = _crossfaded(memory, (0, 39), (1, 4), 3, 8)  # the old clip has one frame left: a fade of one, half each
    assert torch.equal(near_end[:, 0], torch.full((3,), 2.0)) and torch.equal(near_end[:, 1:], torch.full((3, 7), 3.0))
