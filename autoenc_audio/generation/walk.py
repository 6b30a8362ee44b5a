"""Generating latent frame sequences of any length with the prior: a walk over the memory.

The walk plays real training frames (their phases are right) and jumps to
another place in another track where the phase-free context of the last
`context_frames` generated frames matches, choosing among the best matches
by how likely the recurrent model finds their continuation (a softmax at
`temperature`). Jumps come at random (`jump_probability` per frame), at the
latest after `max_run_seconds`; they stay among clips of the piece's beat
period, leave on a beat and land on one, and are crossfaded over
`crossfade_frames`. A run is replayed with `repeat_probability` (up to
`max_repeats` times), as music repeats its bars. A run never stays in one
track for long, so 2-second windows are new music, not copies of the
training tracks. Every setting is the prior's `PriorConfig` (config.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..prior.header import PriorError
from ..prior.memory import EDGE_FRAMES
from ..prior.store import Prior


@dataclass(frozen=True)
class WalkRequest:
    """What to generate: `frames` latent frames, from `seed`.

    `prime` `[channels, frames]`: frames the output starts with (a song's opening) before the walk goes on.
    `allowed` `[memory clips]` bool: the clips the walk may play (a style); None: all.
    """

    frames: int
    seed: int
    temperature: float = 1.0
    prime: torch.Tensor | None = None
    allowed: torch.Tensor | None = None


@dataclass
class WalkResult:
    frames: torch.Tensor  # [channels, frames]
    jumps: list[dict[str, int]] = field(default_factory=list)  # where the walk went: frame, clip, index, track, repeat


class _Memory:
    """The memory's playable frames and features, laid out for fast context matching, and each clip's beat."""

    def __init__(self, prior: Prior) -> None:
        config = prior.config
        self.frames = prior.memory.frames  # [clips, channels, T]
        self.features = prior.features(self.frames)[:, EDGE_FRAMES:-EDGE_FRAMES]  # [clips, P, dims]
        self.features_by_dim = self.features.transpose(1, 2).contiguous()  # [clips, dims, P]
        strength = onset_strength(prior.features.energy(self.frames)[:, EDGE_FRAMES:-EDGE_FRAMES])
        hop_seconds = prior.autoencoder["frame_hop"] / prior.autoencoder["sample_rate"]
        self.beats = beat_lags(
            strength,
            round(config.shortest_beat_seconds / hop_seconds),
            round(config.longest_beat_seconds / hop_seconds),
        )  # [clips]
        self.on_beat = beat_grid(strength, self.beats, config.beat_tolerance_frames)  # [clips, P]
        self.playable = self.features.shape[1]
        squares = self.features.square().sum(-1)
        self.cumulative = F.pad(squares.cumsum(1), (1, 0))  # [clips, P + 1]
        self.tracks = prior.memory.tracks

    def block(self, clip: int, start: int, count: int) -> torch.Tensor:
        """Playable frames `start .. start + count` of `clip` (fewer at its end: edge frames are never played)."""
        count = max(0, min(count, self.playable - start))
        return self.frames[clip, :, start + EDGE_FRAMES : start + EDGE_FRAMES + count]

    def context_distance(self, context: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
        """Squared distance `[len(clips), P]` between `context` `[C, dims]` and the C frames before each
        position of the given memory clips (infinite where fewer than C frames come before it)."""
        width = context.shape[0]
        products = context @ self.features_by_dim[clips]  # [clips, C, P]: context frame j against frame p
        count = self.playable - width + 1
        dot = products[:, 0, :count].clone()  # [clips, P - C + 1]
        for j in range(1, width):
            dot += products[:, j, j : j + count]
        cumulative = self.cumulative[clips]
        windows = cumulative[:, width:] - cumulative[:, :-width]  # [clips, P - C + 1]
        distance = windows - 2 * dot + context.square().sum()
        return F.pad(distance[:, :-1], (width, 0), value=float("inf"))


def onset_strength(energy: torch.Tensor) -> torch.Tensor:
    """`[clips, P]`: the mean rise of the log energies `[clips, P, channels]` from the frame before."""
    return F.pad(torch.relu(energy[:, 1:] - energy[:, :-1]).mean(-1), (1, 0))


def beat_grid(strength: torch.Tensor, beats: torch.Tensor, tolerance: int) -> torch.Tensor:
    """`[clips, P]` bool: frames on each clip's beat grid (within `tolerance` frames), the grid being
    the multiples of its beat period shifted to where its onsets are strongest."""
    clips, playable = strength.shape
    positions = torch.arange(playable)
    grid = torch.zeros(clips, playable, dtype=torch.bool)
    for clip in range(clips):
        period = max(int(beats[clip]), 1)
        phase_strength = torch.zeros(period).index_add_(0, positions % period, strength[clip])
        offset = (positions - int(phase_strength.argmax())) % period
        grid[clip] = (offset <= tolerance) | (offset >= period - tolerance)
    return grid


def beat_lags(strength: torch.Tensor, shortest: int, longest: int) -> torch.Tensor:
    """Each clip's beat period in frames `[clips]`: the lag in [shortest, longest] where its onset
    strength (mean removed) correlates best with itself (as `aea score`'s `rhythm` measures, docs/scoring.md)."""
    centred = strength - strength.mean(1, keepdim=True)
    shortest, longest = max(1, shortest), min(longest, centred.shape[1] - 1)
    if longest < shortest:
        return torch.zeros(len(strength), dtype=torch.int64)
    scores = torch.stack([(centred[:, lag:] * centred[:, :-lag]).mean(1) for lag in range(shortest, longest + 1)], 1)
    return scores.argmax(1) + shortest


def _memory_of(prior: Prior) -> _Memory:
    """The prior's memory laid out for the walk, made once per loaded prior (again when its beat settings change)."""
    config = prior.config
    settings = (config.shortest_beat_seconds, config.longest_beat_seconds, config.beat_tolerance_frames)
    cached = prior.cache.get("walk")
    if cached is None or cached[0] != settings:
        prior.cache["walk"] = cached = (settings, _Memory(prior))
    return cached[1]


def walk(prior: Prior, request: WalkRequest) -> WalkResult:
    """A frame sequence `[channels, request.frames]` (see the module docstring).

    Runs on one thread: its tensors are small, and on a busy CPU a second
    OpenMP thread made each step of the recurrent model 20-50 times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _walk(prior, request)
    finally:
        torch.set_num_threads(threads)


def _walk(prior: Prior, request: WalkRequest) -> WalkResult:
    memory, config = _memory_of(prior), prior.config
    generator = torch.Generator().manual_seed(request.seed)
    allowed = request.allowed if request.allowed is not None else torch.ones(len(memory.frames), dtype=torch.bool)
    if not bool(allowed.any()):
        raise PriorError("the walk has no memory clip to play")
    hop_seconds = prior.autoencoder["frame_hop"] / prior.autoencoder["sample_rate"]
    max_run = max(2, round(config.max_run_seconds / hop_seconds))
    if request.prime is not None:
        output = [request.prime[:, :-EDGE_FRAMES] if request.prime.shape[1] > 2 * EDGE_FRAMES else request.prime]
        clip, index = -1, 0
        prime = request.prime.unsqueeze(0)
        energy = prior.features.energy(prime)
        beat = int(beat_lags(onset_strength(energy), int(memory.beats.min()), int(memory.beats.max()))[0])  # 0: unknown
    else:
        choices = allowed.nonzero()[:, 0]
        clip = int(choices[torch.randint(len(choices), (1,), generator=generator)])
        beat = int(memory.beats[clip])
        first = max(2, _run_length(config.jump_probability, max_run, generator))
        index = int(torch.randint(0, max(1, memory.playable - first), (1,), generator=generator))
        output = [memory.block(clip, index, first)]
        index += output[0].shape[1]
    length, jumps, history = output[0].shape[1], [], _History(prior)
    previous, repeated = None, 0
    while length < request.frames:
        again = float(torch.rand((), generator=generator)) < config.repeat_probability
        if previous is not None and repeated < config.max_repeats and again:
            (target, run), repeated = previous, repeated + 1  # play the last run again: music repeats itself
        else:
            output = [torch.cat(output, dim=1)]  # one tensor so far: each jump joins only what came since
            target = _choose(
                prior,
                memory,
                history.state(output[0]),
                output[0][:, -(config.context_frames + 1) :],
                clip,
                _same_beat(memory, allowed, beat, config.same_beat_clips, config.beat_match_frames),
                request.temperature,
                generator,
            )
            run = _until_beat(memory, *target, _run_length(config.jump_probability, max_run, generator))
            repeated = 0
        block = _crossfaded(memory, (clip, index), target, config.crossfade_frames, min(run, request.frames - length))
        jumps.append(
            {
                "frame": length,
                "clip": target[0],
                "index": target[1],
                "track": int(memory.tracks[target[0]]),
                "repeat": repeated > 0,
            }
        )
        output.append(block)
        length += block.shape[1]
        clip, index = target[0], target[1] + block.shape[1]
        previous = (target, block.shape[1])
    return WalkResult(torch.cat(output, dim=1)[:, : request.frames], jumps)


def _until_beat(memory: _Memory, clip: int, index: int, run: int) -> int:
    """`run` frames from (clip, index), shortened to the last beat after half of it, so the next jump leaves on a beat."""
    if run < 4:
        return run
    ahead = memory.on_beat[clip, index + run // 2 : index + run + 1].nonzero()
    return run // 2 + int(ahead[-1, 0]) if len(ahead) else run


def _run_length(probability: float, max_run: int, generator: torch.Generator) -> int:
    """Frames until the next jump: geometric with `probability` per frame, capped at `max_run`."""
    if probability <= 0:
        return max_run
    if probability >= 1:
        return 1
    draw = max(float(torch.rand((), generator=generator)), 1e-12)
    return max(1, min(int(math.log(draw) / math.log(1 - probability)) + 1, max_run))


class _History:
    """The recurrent model's state over the generated frames, advanced as they are generated."""

    def __init__(self, prior: Prior) -> None:
        self.prior = prior
        self.hidden: torch.Tensor | None = None
        self.consumed = 0

    @torch.no_grad()
    def state(self, frames: torch.Tensor) -> torch.Tensor:
        start = max(self.consumed - 1, 0)
        features = self.prior.features(frames[:, start:])
        new = features[1:] if self.consumed else features
        if len(new):
            _, _, self.hidden = self.prior.model(new.unsqueeze(0), self.hidden)
            self.consumed = frames.shape[1]
        assert self.hidden is not None  # the walk starts from at least one frame, so the first call reads some
        return self.hidden


def _choose(
    prior: Prior,
    memory: _Memory,
    state: torch.Tensor,
    recent: torch.Tensor,
    clip: int,
    allowed: torch.Tensor,
    temperature: float,
    generator: torch.Generator,
) -> tuple[int, int]:
    """Where to jump: (clip, playable index) among the best context matches outside the current track."""
    config = prior.config
    context = prior.features(recent)[1:]  # the last C frames' features
    searched = _searched_clips(memory, allowed, clip, config.search_clips, generator)
    lookahead = config.lookahead_frames
    if len(searched) == 0 or len(context) == 0 or memory.playable <= context.shape[0] + lookahead:  # nothing to match
        choices = allowed.nonzero()[:, 0]
        return int(choices[torch.randint(len(choices), (1,), generator=generator)]), 0
    distance = memory.context_distance(context, searched) / max(context.numel(), 1)
    distance[:, memory.playable - lookahead :] = float("inf")
    on_beat = memory.on_beat[searched] & torch.isfinite(distance)
    if bool(on_beat.any()):  # land on a beat, as the jump leaves on one
        distance[~on_beat] = float("inf")
    count = min(config.candidates, int(torch.isfinite(distance).sum()))
    best = torch.topk(distance.flatten(), count, largest=False)
    clips, indices = searched[best.indices // memory.playable], best.indices % memory.playable
    score = best.values
    if config.model_weight > 0 and state is not None:
        windows = torch.stack([memory.features[c, i : i + lookahead] for c, i in zip(clips.tolist(), indices.tolist())])
        score = score + config.model_weight * prior.model.continuation_nll(state, windows)
    if temperature <= 0:
        pick = int(torch.argmin(score))
    else:
        weights = torch.softmax(-(score - score.min()) / temperature, dim=0)
        pick = int(torch.multinomial(weights, 1, generator=generator))
    return int(clips[pick]), int(indices[pick])


def _same_beat(memory: _Memory, allowed: torch.Tensor, beat: int, enough: int, widest: int) -> torch.Tensor:
    """The allowed clips whose beat period is the piece's (within a frame, else two, ... up to `widest`), so the
    beat goes on across jumps; all allowed clips when fewer than `enough` share it."""
    for tolerance in range(1, widest + 1):
        matching = allowed & ((memory.beats - beat).abs() <= tolerance)
        if int(matching.sum()) >= enough:
            return matching
    return allowed


def _searched_clips(
    memory: _Memory, allowed: torch.Tensor, clip: int, count: int, generator: torch.Generator
) -> torch.Tensor:
    """Up to `count` allowed memory clips, drawn at random, outside the current clip's track (when any is)."""
    usable = allowed.clone()
    if clip >= 0 and bool((usable & (memory.tracks != memory.tracks[clip])).any()):
        usable &= memory.tracks != memory.tracks[clip]
    choices = usable.nonzero()[:, 0]
    if len(choices) > count:
        choices = choices[torch.randperm(len(choices), generator=generator)[:count]].sort().values
    return choices


def _crossfaded(memory: _Memory, old: tuple[int, int], new: tuple[int, int], fade: int, run: int) -> torch.Tensor:
    """`run` frames from `new`, the first `fade` mixed with the old position's continuation (latents mix
    like audio in this nearly linear decoder, so this is a crossfade)."""
    clip, index = new
    block = memory.block(clip, index, run).clone()
    old_clip, old_index = old
    span = min(fade, block.shape[1], memory.playable - old_index) if old_clip >= 0 else 0
    if span > 0:
        weights = torch.arange(1, span + 1, dtype=block.dtype) / (span + 1)
        block[:, :span] = weights * block[:, :span] + (1 - weights) * memory.block(old_clip, old_index, span)
    return block
