"""`aea encode`, `decode`, `reconstruct`: latent vectors to and from audio, from a shell.

Many inputs: a failing input is reported and skipped, as `latent_options.py` says (exit 1, or 2 when all failed).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..metric_info import METRIC_NAMES
from .common import json_option, print_json, print_table, progress_bar
from .latent_options import (
    clip_options,
    data_to_stdout,
    expanded_inputs,
    no_json_with_stdout,
    print_clip_notes,
    strict_option,
    with_model,
)

if TYPE_CHECKING:
    from ..audio import CropMode
    from ..checkpoints.checkpoint import Checkpoint
    from ..latents.encode import EncodeResult
    from ..latents.outputs import Written


def _echo(text: str, to_stderr: bool) -> None:
    click.echo(text, err=to_stderr)


# ----------------------------------------------------------------------------- encode


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", required=True, help="Latent file (.pt, .npy, .npz, .safetensors) or - for stdout.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pt", "npy", "npz", "safetensors"]),
    default=None,
    help="Format, when the extension does not say (default for -o -: pt).",
)
@data_to_stdout("a latent file", "FILE.pt")
@clip_options
@strict_option
@with_model
@json_option
def encode(
    inputs: tuple[str, ...],
    out: str,
    fmt: str | None,
    whole: bool,
    hop_seconds: float | None,
    offset: float | None,
    crop: CropMode,  # a click.Choice of its values
    crop_seed: int,
    strict: bool,
    checkpoint: Checkpoint,
    batch_size: int,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Encode songs into latent vectors of exactly N values.

    INPUT is an audio file, a folder (searched recursively), a quoted glob, or
    - for stdin: paths, one per line, or the audio itself (WAV, FLAC, Ogg, MP3
    bytes, e.g. from ffmpeg). One file gives one vector [N]; several give an
    (inputs x N) matrix plus their names; --whole gives every clip of each
    track, a (clips x N) sequence that 'aea decode' joins back into the track.
    Every format but .npy stores the model fingerprint, sources and offsets,
    so --whole needs .pt, .npz or .safetensors.

    \b
    Examples:
      aea encode song.mp3 -o z.pt
      find music -name '*.mp3' | aea encode - -o all.npz
      ffmpeg -i song.m4a -f wav - | aea encode - -o z.pt
      aea encode --whole --model runs/demo long.flac -o - | aea decode --model runs/demo - -o again.wav
    """
    from ..files import refuse_overwriting_inputs
    from ..latents.encode import encode_inputs
    from ..latents.files import save_latents
    from ..latents.formats import format_for
    from ..latents.inputs import single_input

    no_json_with_stdout(as_json, out)
    format_for(out, fmt, sequence=whole)  # refuse a bad -o before any work
    with expanded_inputs(inputs, strict) as given:
        refuse_overwriting_inputs([out], given.paths)
        one_song = single_input(inputs) or (bool(given.names) and len(inputs) == 1)
        with progress_bar("encoding") as bar:
            result = encode_inputs(
                checkpoint,
                given.paths,
                whole=whole,
                crop=crop,
                offset=offset,
                hop_seconds=hop_seconds,
                seed=crop_seed,
                vector=one_song and not whole,
                batch_size=batch_size,
                progress=bar,
                on_error=given.failures.callback,
                names=given.names,
            )
    save_latents(out, result.latent_file, fmt)
    _print_encoded(result, out, checkpoint, whole, as_json)
    given.failures.exit_if_any(given.total)


def _print_encoded(result: EncodeResult, out: str, checkpoint: Checkpoint, whole: bool, as_json: bool) -> None:
    """Notes on padded or silent inputs, then a record per input (--json) or one line for the file written."""
    to_stderr = out == "-"
    for item in result.inputs:
        print_clip_notes(item, checkpoint.config.audio.clip_seconds, whole)
        if as_json:
            print_json(
                {
                    "path": item.source,
                    "offset": item.offset_seconds,
                    "padded": item.padded,
                    "silent": item.silent,
                    "seconds": item.valid_seconds,
                    "latent": out,
                    "rows": [item.start, item.stop],
                    "clips": item.clips,
                    "latent_size": result.latent_file.latent_size,
                }
            )
    if not as_json:
        shape = " x ".join(str(d) for d in result.latent_file.latents.shape)
        _echo(
            f"wrote {out}: {result.latent_file.kind} {shape} from {len(result.inputs)} input(s) "
            f"(model {checkpoint.fingerprint})",
            to_stderr,
        )


# ----------------------------------------------------------------------------- decode


@click.command()
@click.argument("latent")
@click.option(
    "-o", "--out", required=True, help="Audio file (.wav, .flac, .ogg, .mp3), a folder (one file per row), or -."
)
@click.option(
    "--join/--no-join",
    default=None,
    help="Join rows into one track by overlap-add [default: only for --whole sequences].",
)
@data_to_stdout("audio", "FILE.wav")
@with_model
@json_option
def decode(
    latent: str,
    out: str,
    join: bool,
    checkpoint: Checkpoint,
    batch_size: int,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Decode a latent file (or - for stdin) back to audio.

    A vector gives one clip; a matrix one clip per row (-o DIR, or -o out.wav
    for out-000.wav, out-001.wav, ...); a --whole sequence one track per source,
    joined by overlap-add with raised-cosine cross-fades. The latent size must
    be the model's; a latent encoded by another model is decoded with a warning.

    \b
    Examples:
      aea decode z.pt -o out.wav
      aea decode all.npz -o decoded/
    """
    from ..latents.decode import decode_file
    from ..latents.files import load_latents
    from ..latents.model import fingerprint_warning

    no_json_with_stdout(as_json, out)
    latent_file = load_latents(latent)
    warning = fingerprint_warning(latent_file, checkpoint)
    if warning:
        click.echo(f"aea: warning: {warning}", err=True)
    with progress_bar("decoding") as bar:
        written = decode_file(checkpoint, latent_file, out, join=join, batch_size=batch_size, progress=bar)
    rate = checkpoint.config.audio.sample_rate
    for item in written:
        if as_json:
            print_json(
                {"path": item.path, "source": item.source, "rows": list(item.rows), "seconds": item.samples / rate}
            )
        elif out != "-":
            click.echo(f"wrote {item.path} ({item.samples / rate:.2f} s)")


# ----------------------------------------------------------------------------- reconstruct


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", required=True, help="Audio file, a folder (one file per input), or - for stdout.")
@click.option("--save-input", is_flag=True, help="Also write the preprocessed original beside it (NAME.input.wav).")
@click.option("--plot", is_flag=True, help="Also write a comparison figure beside each output (NAME.png).")
@data_to_stdout("audio", "FILE.wav")
@clip_options
@strict_option
@with_model
@json_option
def reconstruct(
    inputs: tuple[str, ...],
    out: str,
    save_input: bool,
    plot: bool,
    whole: bool,
    hop_seconds: float | None,
    offset: float | None,
    crop: CropMode,  # a click.Choice of its values
    crop_seed: int,
    strict: bool,
    checkpoint: Checkpoint,
    batch_size: int,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Encode then decode songs and measure what the latent kept.

    Prints SNR, SI-SDR, multi-resolution STFT, mel and log-spectral distances
    (METRICS.md) against the preprocessed input. --whole does the full
    track, streamed: SNR and SI-SDR over the track, the spectral distances
    averaged over clip-length chunks.

    \b
    Examples:
      aea reconstruct song.mp3 -o out.wav --save-input --plot
      aea reconstruct --whole song.flac -o out.flac --json
      ffmpeg -i song.m4a -f wav - | aea reconstruct - -o out.wav
    """
    from ..latents.reconstruct import reconstruct_inputs

    no_json_with_stdout(as_json, out)
    if plot and out == "-":
        raise click.UsageError("--plot needs -o FILE or DIR: the figure is written beside the audio")
    with expanded_inputs(inputs, strict) as given:
        with progress_bar("reconstructing") as bar:
            written = reconstruct_inputs(
                checkpoint,
                given.paths,
                out,
                whole=whole,
                crop=crop,
                offset=offset,
                hop_seconds=hop_seconds,
                seed=crop_seed,
                save_input=save_input,
                batch_size=batch_size,
                progress=bar,
                on_error=given.failures.callback,
                names=given.names,
            )
        if plot:  # while stdin's temporary file still exists
            _plot_each(checkpoint, written, given.names, whole)
    for item in written:
        _print_reconstruction(item, checkpoint, out, whole, plot, as_json)
    given.failures.exit_if_any(given.total)


def _plot_each(checkpoint: Checkpoint, written: list[Written], names: dict[str, str], whole: bool) -> None:
    """`--plot`: a comparison figure beside each output, its path in the item's metrics (`figure`)."""
    from ..latents.plotting import plot_reconstruction

    path_of = {name: path for path, name in names.items()}
    for item in written:
        assert item.metrics is not None and item.source is not None  # reconstruct_inputs sets both
        item.metrics["figure"] = str(
            plot_reconstruction(checkpoint, item, path_of.get(item.source, item.source), whole)
        )


def _print_reconstruction(
    item: Written, checkpoint: Checkpoint, out: str, whole: bool, plot: bool, as_json: bool
) -> None:
    """Notes on a padded or silent input, then its record (--json), a table, or one line on stderr for -o -."""
    assert item.metrics is not None  # reconstruct_inputs measures every item
    rate = checkpoint.config.audio.sample_rate
    print_clip_notes(item, checkpoint.config.audio.clip_seconds, whole)
    if as_json:
        print_json(
            {
                "path": item.path,
                "source": item.source,
                "input": item.input_path,
                "offset": item.offset_seconds,
                "padded": item.padded,
                "silent": item.silent,
                "seconds": item.samples / rate,
                "clips": item.rows[1],
                **item.metrics,
            }
        )
        return
    rows: list[tuple[str, Any]] = [(name, f"{item.metrics[name]:.3f}") for name in METRIC_NAMES if name in item.metrics]
    rows += [("output", item.path)] + ([("input", item.input_path)] if item.input_path else [])
    rows += [("figure", item.metrics["figure"])] if plot else []
    if out == "-":
        click.echo(" ".join(f"{name}={value}" for name, value in rows[:-1]), err=True)
    else:
        print_table(f"reconstruction of {item.source}", rows, ("metric", "value"))


COMMANDS = [encode, decode, reconstruct]
