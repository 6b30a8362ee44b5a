"""`aea plot ...`: waveforms, spectrograms, original vs reconstruction, training history, latent maps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..latents.formats import is_latent_path
from .common import (
    cache_dir_option,
    chosen_model,
    json_option,
    model_option,
    open_chosen_model,
    print_json,
    progress_bar,
    refuse_data_on_terminal,
    stdin_file,
    with_check,
)
from .params import FiniteFloat, NonEmptyPath

if TYPE_CHECKING:
    from ..audio import Clip
    from ..checkpoints.checkpoint import Checkpoint


def parse_size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: use WIDTHxHEIGHT in pixels, e.g. 1200x800", param_hint="--size") from None
    if width < 200 or height < 150 or width > 8000 or height > 8000:
        raise click.BadParameter(f"{value!r}: between 200x150 and 8000x8000 pixels", param_hint="--size")
    return width, height


def figure_options(function: Callable) -> Callable:
    """`-o/--output`, `--format`, `--size`, `--title`: where and how a figure is written (`-o -`: stdout)."""

    def check(options: dict[str, Any]) -> None:
        if str(options["output"]) == "-" and options.get("as_json"):
            raise click.UsageError("--json prints to stdout, which -o - already uses for the figure: drop one")
        refuse_data_on_terminal(options["output"], "an image", "FILE.png")
        check_figure_output(options)

    function = with_check(function, check)
    function = click.option("--title", default=None, help="Figure title [default: one that says what is shown].")(
        function
    )
    function = click.option(
        "--size", default=None, help="Figure size in pixels, WIDTHxHEIGHT [default: fits the content]."
    )(function)
    function = click.option(
        "--format",
        "fmt",
        type=click.Choice(["png", "svg", "pdf"]),
        default=None,
        help="Figure format [default: from the -o extension, else png].",
    )(function)
    function = click.option(
        "-o",
        "--output",
        type=NonEmptyPath(dir_okay=False, path_type=Path),
        required=True,
        help="Figure file to write (png, svg, pdf), or - for stdout.",
    )(function)
    return function


def check_figure_output(options: dict[str, Any]) -> None:
    """Before any work: -o and --format that name different formats, and a figure that would replace an input."""
    from ..files import refuse_overwriting_inputs
    from ..plots.figure import figure_format, output_path

    output, fmt = options["output"], options["fmt"]
    figure_format(output, fmt)
    if str(output) != "-":
        inputs = list(options.get("inputs") or ()) + ([options["input_path"]] if "input_path" in options else [])
        refuse_overwriting_inputs([output_path(output, fmt)], inputs)


def load_model(model: Path | None, cache_dir: Path) -> Checkpoint:
    return open_chosen_model(model, cache_dir, "cpu")


def done(path: Path, as_json: bool, **extra: Any) -> None:
    if str(path) == "-":  # the figure went to stdout: nothing else may
        return
    if as_json:
        print_json({"figure": str(path), **extra})
    else:
        click.echo(str(path))


def read_signals(
    inputs: tuple[Path, ...], model: Path | None, cache_dir: Path, offset: float, seconds: float | None
) -> list[tuple[str, Any, int]]:
    """Audio files as they are (mono mix, own rate, `offset`/`seconds` window); latent files decoded with the model;
    `-`: either, piped in."""
    with stdin_file(inputs) as (paths, names):
        return _read_signals(paths, names, model, cache_dir, offset, seconds)


def _read_signals(
    inputs: tuple[Path, ...],
    names: dict[str, str],
    model: Path | None,
    cache_dir: Path,
    offset: float,
    seconds: float | None,
) -> list[tuple[str, Any, int]]:
    from ..audio import read_frames
    from ..mixing import to_mono
    from ..plots.figure import PlotError

    signals: list[tuple[str, Any, int]] = []
    checkpoint = None
    for path in inputs:
        name = names.get(str(path), path.name)
        if is_latent_path(path):
            from ..latents.batches import decode_latents
            from ..latents.files import load_latents
            from ..latents.model import check_size, fingerprint_warning

            if checkpoint is None:
                checkpoint = load_model(model, cache_dir)
            latent_file = load_latents(path)
            check_size(latent_file, checkpoint)
            warning = fingerprint_warning(latent_file, checkpoint)
            if warning:
                click.echo(f"aea: warning: {warning}", err=True)
            decoded = decode_latents(checkpoint.model, latent_file.matrix)
            rate = checkpoint.config.audio.sample_rate
            rows = len(decoded)
            for row in range(rows):
                signals.append((name + (f" [{row}]" if rows > 1 else "") + " (decoded)", decoded[row, 0], rate))
            continue
        from ..audio import probe

        info = probe(path)
        start = int(round(offset * info.sample_rate))
        if start >= info.frames:
            raise PlotError(
                f"{names.get(str(path), path)}: --offset {offset:g} s is past the end ({info.duration_seconds:.2f} s)"
            )
        frames = -1 if seconds is None else int(round(seconds * info.sample_rate))
        data, rate = read_frames(path, start, frames)
        if not len(data):  # a truncated download ends before its header says
            raise PlotError(f"{names.get(str(path), path)}: --offset {offset:g} s is past the end of what decodes")
        signals.append((name + (f" from {offset:g} s" if offset else ""), to_mono(data), rate))
    return signals


def signal_options(function: Callable) -> Callable:
    function = click.option(
        "--seconds",
        type=FiniteFloat(min=0, min_open=True),
        default=None,
        help="Length to show, in seconds [default: the whole file].",
    )(function)
    function = click.option(
        "--offset",
        type=FiniteFloat(min=0),
        default=0.0,
        show_default=True,
        help="Where to start in each audio file, in seconds.",
    )(function)
    return function


@click.group()
def plot() -> None:
    """Draw figures: waveforms, spectrograms, reconstructions, training history, latent maps.

    Figures are PNG by default (--format svg|pdf), sized with --size WxH.

    \b
    Example:
      aea plot compare song.mp3 -o compare.png
    """


@plot.command()
@click.argument("inputs", nargs=-1, required=True, type=NonEmptyPath(path_type=Path))
@figure_options
@signal_options
@model_option
@cache_dir_option
@json_option
def waveform(
    inputs: tuple[Path, ...],
    output: Path,
    fmt: str | None,
    size: str | None,
    title: str | None,
    offset: float,
    seconds: float | None,
    model: Path | None,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Waveforms of audio files or latent files (decoded with the model), stacked on shared axes; `-` reads
    either from stdin.

    \b
    Examples:
      aea plot waveform song.wav song.pt -o waves.png
      aea decode z.pt -o - | aea plot waveform - -o decoded.png
    """
    from ..plots.audio import plot_waveforms

    path = plot_waveforms(read_signals(inputs, model, cache_dir, offset, seconds), output, title, fmt, parse_size(size))
    done(path, as_json)


@plot.command()
@click.argument("inputs", nargs=-1, required=True, type=NonEmptyPath(path_type=Path))
@click.option(
    "--scale",
    type=click.Choice(["log", "mel"]),
    default="log",
    show_default=True,
    help="Frequency axis: log-frequency STFT or 80-band mel.",
)
@figure_options
@signal_options
@model_option
@cache_dir_option
@json_option
def spectrogram(
    inputs: tuple[Path, ...],
    scale: str,
    output: Path,
    fmt: str | None,
    size: str | None,
    title: str | None,
    offset: float,
    seconds: float | None,
    model: Path | None,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Spectrograms (dB, one colour scale) of audio files or latent files, stacked on shared axes; `-` reads
    either from stdin.

    \b
    Examples:
      aea plot spectrogram song.wav --scale mel -o spec.png
      ffmpeg -i song.m4a -f wav - | aea plot spectrogram - -o spec.png
    """
    from ..plots.audio import plot_spectrograms

    path = plot_spectrograms(
        read_signals(inputs, model, cache_dir, offset, seconds), output, scale, title, fmt, parse_size(size)
    )
    done(path, as_json)


@plot.command()
@click.argument("input_path", metavar="INPUT", type=NonEmptyPath(path_type=Path))
@click.option("--offset", type=FiniteFloat(min=0), default=0.0, show_default=True, help="Clip start in seconds.")
@figure_options
@model_option
@cache_dir_option
@json_option
def compare(
    input_path: Path,
    offset: float,
    output: Path,
    fmt: str | None,
    size: str | None,
    title: str | None,
    model: Path | None,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Original vs reconstruction of one clip: waveforms, spectrograms, difference, metrics.

    The clip is preprocessed as the model was trained (rate, length).

    \b
    Examples:
      aea plot compare song.mp3 --offset 30 -o compare.png
      ffmpeg -i song.m4a -f wav - | aea plot compare - -o compare.png
    """
    import torch

    from ..audio import load_clip
    from ..latents.batches import reconstruct_clips, reconstruction_metrics
    from ..plots.audio import plot_compare

    with stdin_file((input_path,)) as ((path,), names):
        refuse_latent_file(path, names.get(str(path), str(path)))
        checkpoint = load_model(model, cache_dir)
        audio = checkpoint.config.audio
        clip = load_clip(path, audio, crop=offset)
    clip_notes(clip, names.get(str(path), str(path)), checkpoint)
    name = names.get(str(path), input_path.name)
    original = torch.from_numpy(clip.samples)[None, None]
    reconstruction = reconstruct_clips(checkpoint.model, original)
    metrics = reconstruction_metrics(original[:, 0], reconstruction[:, 0], audio.sample_rate)
    heading = title or (
        f"{name} at {offset:g} s: original vs reconstruction "
        f"(N = {checkpoint.model.latent_size}, {checkpoint.path.parent.name}/{checkpoint.path.name})"
    )
    path = plot_compare(
        original[0, 0], reconstruction[0, 0], audio.sample_rate, metrics, output, heading, fmt, parse_size(size)
    )
    done(path, as_json, metrics=metrics)


def refuse_latent_file(path: Path, source: str) -> None:
    """A latent file (by its extension or its first bytes, as `-` is told apart) given where audio is needed."""
    from ..audio import sniff_audio_suffix
    from ..latents.formats import sniff_format
    from ..plots.figure import PlotError

    if not path.is_file():
        return  # the audio reader says what is wrong with it
    with path.open("rb") as file:
        head = file.read(16)
    if sniff_audio_suffix(head) is None and (is_latent_path(path) or sniff_format(head) is not None):
        raise PlotError(
            f"{source}: a latent file, not audio: plot compare needs the audio file "
            "(plot waveform and plot spectrogram decode latent files)"
        )


def clip_notes(clip: Clip, source: str, checkpoint: Checkpoint) -> None:
    """`aea reconstruct`'s notes on stderr: the clip was zero-padded (shorter than a clip) or is silent."""
    from ..latents.encode import EncodedInput
    from .latent_options import print_clip_notes

    rate = checkpoint.config.audio.sample_rate
    item = EncodedInput(source, 0, 1, clip.offset_seconds, clip.padded, clip.silent, clip.valid_samples / rate)
    print_clip_notes(item, checkpoint.config.audio.clip_seconds, whole=False)


def run_folder(path: Path) -> Path:
    """A run folder, or the folder of a checkpoint file in it (`runs/x/best.safetensors`)."""
    from ..plots.figure import PlotError

    if path.is_file() and path.suffix.lower() == ".safetensors":
        return path.parent
    if not path.exists():
        raise PlotError(f"{path}: no such folder")
    if not path.is_dir():
        raise PlotError(f"{path}: not a run folder or a checkpoint (.safetensors)")
    return path


@plot.command()
@click.argument("runs", nargs=-1, required=True, type=NonEmptyPath(path_type=Path))
@figure_options
@json_option
def history(
    runs: tuple[Path, ...],
    output: Path,
    fmt: str | None,
    size: str | None,
    title: str | None,
    as_json: bool,
) -> None:
    """Train and validation loss and metrics per epoch of one or more runs (one colour per run): run folders or
    checkpoints in them.

    \b
    Example:
      aea plot history runs/a runs/b/best.safetensors -o history.png
    """
    from ..plots.figure import PlotError
    from ..plots.history import plot_history
    from ..runs.folder import iterate_history

    loaded = []
    for given in runs:
        run = run_folder(given)
        if not (run / "history.jsonl").is_file():
            raise PlotError(f"{run}: no history.jsonl (not an aea training run?)")
        records = list(iterate_history(run))
        if not records:
            raise PlotError(f"{run / 'history.jsonl'}: no epochs recorded yet")
        loaded.append((run.resolve().name, records))
    path = plot_history(loaded, output, title, fmt, parse_size(size))
    done(path, as_json)


@plot.command()
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="Folder of songs [default: the data the model was trained on].",
)
@click.option("--method", type=click.Choice(["pca", "tsne"]), default="pca", show_default=True, help="Projection.")
@click.option("--3d", "three_d", is_flag=True, help="Three dimensions instead of two.")
@click.option(
    "--split",
    type=click.Choice(["all", "train", "validation", "test"]),
    default="all",
    show_default=True,
    help="Which clips (splits as in training, by track).",
)
@click.option(
    "--max-clips",
    type=click.IntRange(min=3),
    default=2000,
    show_default=True,
    help="At most this many clips, evenly spread (t-SNE: at most 1500).",
)
@figure_options
@model_option
@cache_dir_option
@json_option
def latents(
    data_root: Path | None,
    method: str,
    three_d: bool,
    split: str,
    max_clips: int,
    output: Path,
    fmt: str | None,
    size: str | None,
    title: str | None,
    model: Path | None,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """A dataset's latents in 2-D or 3-D (PCA or t-SNE), coloured by label.

    \b
    Example:
      aea plot latents --data genres/ --method tsne -o latents.png
    """
    from ..analysis.latent_map import latent_map

    path, _ = chosen_model(model, cache_dir)
    with progress_bar("encoding") as progress:
        figure = latent_map(
            path,
            data_root,
            cache_dir,
            output,
            method,
            three_d,
            split,
            max_clips,
            fmt,
            parse_size(size),
            progress=progress,
            title=title,
        )
    done(figure, as_json)


COMMANDS = [plot]
