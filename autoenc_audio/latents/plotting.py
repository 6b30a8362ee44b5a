"""The comparison figure of one reconstruction (matplotlib is loaded only here)."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..audio import load_clip, load_track
from ..checkpoints.checkpoint import Checkpoint
from ..errors import ChannelsCancelWarning, TruncatedAudioWarning
from .outputs import Written


def plot_reconstruction(
    checkpoint: Checkpoint, item: Written, source_path: str, whole: bool = False, title: str | None = None
) -> Path:
    """The comparison figure of one reconstruction, beside it (`out.wav` -> `out.png`).

    Read back from the files just written (the saved input when there is one,
    else the input at `source_path` taken as `reconstruct_inputs` took it), so
    the figure shows exactly what the files hold. A clip that does not start
    the file says where it starts in the title ("song.wav from 4.5 s").
    """
    from ..plots.audio import plot_compare  # matplotlib: loaded only when a figure is drawn

    audio = checkpoint.config.audio
    with warnings.catch_warnings():  # what a source's reading warns of was said when the command read it
        warnings.simplefilter("ignore", ChannelsCancelWarning)
        warnings.simplefilter("ignore", TruncatedAudioWarning)
        reconstruction = load_track(item.path, audio)
        if item.input_path:
            original = load_track(item.input_path, audio)
        elif whole:
            original = load_track(source_path, audio)
        else:
            original = load_clip(source_path, audio, item.offset_seconds).samples
    length = min(len(original), len(reconstruction))
    where = f" from {round(item.offset_seconds, 2):g} s" if item.offset_seconds else ""  # the clip's place in the file
    metrics = {k: v for k, v in (item.metrics or {}).items() if isinstance(v, float)}
    return plot_compare(
        original[:length],
        reconstruction[:length],
        audio.sample_rate,
        metrics,
        Path(item.path).with_suffix(".png"),
        title=f"{title or Path(item.source or item.path).name}{where}: original vs reconstruction",
    )
