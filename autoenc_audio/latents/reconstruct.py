"""Encode then decode inputs, write the result and measure it against the preprocessed input."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from ..audio import SILENCE_PEAK, Clip, CropMode, audio_writer, load_clip, write_audio
from ..checkpoints.checkpoint import Checkpoint
from ..files import refuse_overwriting_inputs
from .batches import decode_latents, encode_clips, reconstruct_clips, reconstruction_metrics
from .failures import INPUT_FAILURES, LatentError, NoUsableInput, OnError, Progress, renamed_error, report_failure
from .inputs import clip_crop, whole_track_hop_samples
from .model import model_device
from .outputs import Written, input_path_for, output_paths, stem_of
from .overlap import OverlapAdd
from .track_metrics import TrackMetrics
from .tracks import TrackClips


def reconstruct_inputs(
    checkpoint: Checkpoint,
    paths: Sequence[str],
    out: str,
    *,
    whole: bool = False,
    crop: CropMode = "start",
    offset: float | None = None,
    hop_seconds: float | None = None,
    seed: int = 0,
    save_input: bool = False,
    batch_size: int = 16,
    progress: Progress | None = None,
    on_error: OnError | None = None,
    names: dict[str, str] | None = None,
) -> list[Written]:
    """Encode then decode each input, write the result and measure it against the preprocessed input.

    One clip per input, or with `whole` the full track (streamed, joined by
    overlap-add; metrics as `TrackMetrics`). `save_input` writes the
    preprocessed original beside each output (`input_path_for`). `names`
    renames inputs in the result and errors, as in `encode_inputs`. An output
    that is one of the inputs is refused before any input is read.
    """
    names = names or {}
    if save_input and out == "-":
        raise LatentError(
            "save_input needs out to be a file or a folder, not '-' (standard output)", settings=("save_input", "out")
        )
    audio, model = checkpoint.config.audio, checkpoint.model
    device = model_device(checkpoint)
    hop = whole_track_hop_samples(audio.clip_samples, audio.sample_rate, hop_seconds)
    rng = np.random.default_rng(seed)
    targets = output_paths(out, [stem_of(p, "input") for p in paths])
    saved_inputs = [input_path_for(target) for target in targets] if save_input else []
    refuse_overwriting_inputs(targets + saved_inputs, paths)
    written: list[Written] = []
    for number, (source, target) in enumerate(zip(paths, targets)):
        try:
            if whole:
                written.append(_reconstruct_track(checkpoint, source, target, hop, save_input, batch_size))
                written[-1].source = names.get(source, source)
            else:
                clip = load_clip(source, audio, clip_crop(crop, offset), rng)
                original = torch.from_numpy(clip.samples).view(1, 1, -1)
                latent = encode_clips(model, original, batch_size, device)
                reconstruction = decode_latents(model, latent, batch_size, device)
                write_audio(target, reconstruction[0, 0].numpy(), audio.sample_rate)
                saved = None
                if save_input:
                    saved = input_path_for(target)
                    write_audio(saved, clip.samples, audio.sample_rate)
                metrics = reconstruction_metrics(original, reconstruction, audio.sample_rate)
                written.append(
                    Written(
                        target,
                        names.get(source, source),
                        (0, 1),
                        audio.clip_samples,
                        metrics,
                        saved,
                        clip.offset_seconds,
                        clip.padded,
                        clip.silent,
                        clip.valid_samples / audio.sample_rate,
                    )
                )
        except INPUT_FAILURES as error:
            name = names.get(source, source)
            report_failure(on_error, name, renamed_error(error, source, name))
        if progress:
            progress(number + 1, len(paths))
    if not written:
        raise NoUsableInput(f"nothing reconstructed: {'all inputs' if len(paths) != 1 else 'the input'} failed")
    return written


def _reconstruct_track(
    checkpoint: Checkpoint, source: str, target: str, hop: int, save_input: bool, batch_size: int
) -> Written:
    """Stream a whole track: clips -> encode -> decode -> overlap-add, for the original and the reconstruction."""
    audio = checkpoint.config.audio
    clips = TrackClips(source, audio, hop)
    saved = input_path_for(target) if save_input else None
    metrics = TrackMetrics(audio.sample_rate, audio.clip_samples)
    join_x, join_y = OverlapAdd(audio.clip_samples, hop), OverlapAdd(audio.clip_samples, hop)
    with (
        audio_writer(target, audio.sample_rate) as write,
        audio_writer(saved, audio.sample_rate) if saved else _NoWriter() as write_input,
    ):
        peak = 0.0

        def emit(x: np.ndarray, y: np.ndarray) -> None:
            nonlocal peak
            peak = max(peak, float(np.abs(x).max(initial=0.0)))
            metrics.add(x, y)
            write(y)
            write_input(x)

        held = None  # one clip of look-ahead: the last clip is joined without a fade-out
        for pair in _reconstructed_pairs(checkpoint, clips, batch_size):
            if held is not None:
                emit(join_x.push(held[0], last=False), join_y.push(held[1], last=False))
            held = pair
        assert held is not None
        x, y = join_x.push(held[0], last=True), join_y.push(held[1], last=True)
        emit(
            np.concatenate([x, join_x.finish(clips.track_samples)]),
            np.concatenate([y, join_y.finish(clips.track_samples)]),
        )
    assert clips.track_samples is not None  # known once the clips are read
    return Written(
        target,
        source,
        (0, join_y.pushed),
        join_y.emitted,
        metrics.result(),
        saved,
        0.0,
        clips.track_samples < audio.clip_samples,
        peak < SILENCE_PEAK,
        clips.track_samples / audio.sample_rate,
    )


def _reconstructed_pairs(
    checkpoint: Checkpoint, clips: Iterable[Clip], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(original, reconstruction) clip pairs, computed a batch at a time."""
    pending: list[Clip] = []

    def run() -> list[tuple[np.ndarray, np.ndarray]]:
        stacked = torch.stack([torch.from_numpy(c.samples) for c in pending]).unsqueeze(1)
        decoded = reconstruct_clips(checkpoint.model, stacked, batch_size, model_device(checkpoint))
        return [(clip.samples, result[0].numpy()) for clip, result in zip(pending, decoded)]

    for clip in clips:
        pending.append(clip)
        if len(pending) == batch_size:
            yield from run()
            pending = []
    if pending:
        yield from run()


class _NoWriter:
    def __enter__(self) -> Callable[[np.ndarray], None]:
        return lambda samples: None

    def __exit__(self, *exc: object) -> None:
        pass
