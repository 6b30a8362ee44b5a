"""`aea encode`, `decode`, `reconstruct`, `generate`: working with latent vectors from a shell.

Exit codes with many inputs: a failing input is reported on stderr
(`aea: error: FILE: problem`) and skipped; the command then exits 1 after
writing what it could ("some inputs failed"), or 2 when every input failed
(nothing written). `--strict` stops at the first failing input with exit 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..metric_info import METRIC_NAMES
from .common import (
    cache_dir_option,
    device_option,
    json_option,
    model_option,
    open_chosen_model,
    print_json,
    print_table,
    progress_bar,
    stdin_inputs,
    with_check,
)
from .flags import in_flag_terms

if TYPE_CHECKING:
    from ..audio import CropMode
    from ..checkpoints.checkpoint import Checkpoint
    from ..latents.encode import EncodedInput
    from ..latents.outputs import Written


# ----------------------------------------------------------------------------- shared options


def batch_size_option(function: Callable) -> Callable:
    return click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=16,
        show_default=True,
        help="Clips per batch (memory holds one batch of audio).",
    )(function)


def strict_option(function: Callable) -> Callable:
    return click.option(
        "--strict", is_flag=True, help="Stop at the first failing input (default: report it, skip it, exit 1)."
    )(function)


def clip_options(function: Callable) -> Callable:
    """`--whole`, `--hop`, `--offset`, `--crop`, `--seed`: which part of each input is used."""

    def check(options: dict[str, Any]) -> None:
        if options["whole"] and options["offset"] is not None:
            raise click.UsageError("--offset picks one clip, --whole takes every clip: give one of them")
        if not options["whole"] and options["hop_seconds"] is not None:
            raise click.UsageError("--hop spaces the clips of --whole: add --whole or drop --hop")

    function = with_check(function, check)
    for decorator in reversed(
        [
            click.option(
                "--whole", is_flag=True, help="Every clip of the track (50 % overlap by default), not one clip."
            ),
            click.option(
                "--hop",
                "hop_seconds",
                type=click.FloatRange(min=0, min_open=True),
                default=None,
                help="With --whole: seconds between clip starts [default: half a clip].",
            ),
            click.option(
                "--offset", type=click.FloatRange(min=0), default=None, help="Clip start in seconds (overrides --crop)."
            ),
            click.option(
                "--crop",
                type=click.Choice(["start", "center", "random"]),
                default="start",
                show_default=True,
                help="Where the clip is taken.",
            ),
            click.option("--seed", "crop_seed", type=int, default=0, show_default=True, help="Seed of --crop random."),
        ]
    ):
        function = decorator(function)
    return function


def with_model(function: Callable) -> Callable:
    """Adds --model/--device/--batch-size/--cache-dir and passes the loaded checkpoint as `checkpoint`."""

    @model_option
    @device_option(default="auto")
    @batch_size_option
    @cache_dir_option
    @functools.wraps(function)
    def wrapper(*args: Any, model: Path | None, device: str, cache_dir: Path, **kwargs: Any) -> Any:
        checkpoint = open_chosen_model(model, cache_dir, device)
        return function(*args, checkpoint=checkpoint, cache_dir=cache_dir, **kwargs)

    return wrapper


class Failures:
    """Collects failing inputs, reporting each on stderr as it happens."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.items: list[str] = []  # the inputs that failed

    @property
    def callback(self) -> Callable[[str, BaseException], None] | None:
        return None if self.strict else self

    def __call__(self, source: str, error: BaseException) -> None:
        message = in_flag_terms(error)
        if source not in message:
            message = f"{source}: {message}"
        click.echo(f"aea: error: {message}", err=True)
        self.items.append(source)

    def report_problems(self, problems: list[tuple[str, str]]) -> None:
        """Inputs that expanded to nothing (empty folder, unmatched glob)."""
        from ..latents.failures import LatentError

        for source, problem in problems:
            if self.strict:
                raise LatentError(f"{source}: {problem}")
            self(source, LatentError(f"{source}: {problem}"))

    def exit_if_any(self, total: int) -> None:
        if self.items:
            click.echo(f"aea: {len(self.items)} of {total} inputs failed (see above); the rest were written", err=True)
            raise SystemExit(1)


def _echo(text: str, to_stderr: bool) -> None:
    click.echo(text, err=to_stderr)


def _no_json_with_stdout(as_json: bool, out: str) -> None:
    if as_json and out == "-":
        raise click.UsageError("--json prints to stdout, which -o - already uses for data: drop one")


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
    from ..latents.encode import encode_inputs
    from ..latents.files import save_latents
    from ..latents.formats import format_for
    from ..latents.inputs import expand_inputs, single_input

    _no_json_with_stdout(as_json, out)
    format_for(out, fmt, sequence=whole)  # refuse a bad -o before any work
    with stdin_inputs(inputs) as (lines, names):
        paths, problems = expand_inputs(inputs, lines)
        failures = Failures(strict or len(paths) + len(problems) == 1)  # one input: its error is the command's
        failures.report_problems(problems)
        one_song = single_input(inputs) or (bool(names) and len(inputs) == 1)
        with progress_bar("encoding") as bar:
            result = encode_inputs(
                checkpoint,
                paths,
                whole=whole,
                crop=crop,
                offset=offset,
                hop_seconds=hop_seconds,
                seed=crop_seed,
                vector=one_song and not whole,
                batch_size=batch_size,
                progress=bar,
                on_error=failures.callback,
                names=names,
            )
    save_latents(out, result.latent_file, fmt)
    to_stderr = out == "-"
    for item in result.inputs:
        _notes(item, checkpoint.config.audio.clip_seconds, whole)
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
    failures.exit_if_any(len(paths) + len(problems))


def _notes(item: EncodedInput | Written, clip_seconds: float, whole: bool) -> None:
    valid_seconds = item.valid_seconds
    assert valid_seconds is not None  # encode and reconstruct record every input's length
    if item.padded and (not whole or valid_seconds < clip_seconds):
        click.echo(
            f"aea: note: {item.source}: shorter than a clip ({valid_seconds:.2f} s of {clip_seconds:g} s), zero-padded",
            err=True,
        )
    if item.silent:
        click.echo(f"aea: note: {item.source}: silent", err=True)


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

    _no_json_with_stdout(as_json, out)
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
    from ..latents.inputs import expand_inputs
    from ..latents.plotting import plot_reconstruction
    from ..latents.reconstruct import reconstruct_inputs

    _no_json_with_stdout(as_json, out)
    if plot and out == "-":
        raise click.UsageError("--plot needs -o FILE or DIR: the figure is written beside the audio")
    with stdin_inputs(inputs) as (lines, names):
        paths, problems = expand_inputs(inputs, lines)
        failures = Failures(strict or len(paths) + len(problems) == 1)  # one input: its error is the command's
        failures.report_problems(problems)
        with progress_bar("reconstructing") as bar:
            written = reconstruct_inputs(
                checkpoint,
                paths,
                out,
                whole=whole,
                crop=crop,
                offset=offset,
                hop_seconds=hop_seconds,
                seed=crop_seed,
                save_input=save_input,
                batch_size=batch_size,
                progress=bar,
                on_error=failures.callback,
                names=names,
            )
        if plot:  # while stdin's temporary file still exists
            path_of = {name: path for path, name in names.items()}
            for item in written:
                assert item.metrics is not None and item.source is not None  # reconstruct_inputs sets both
                item.metrics["figure"] = str(
                    plot_reconstruction(checkpoint, item, path_of.get(item.source, item.source), whole)
                )
    rate = checkpoint.config.audio.sample_rate
    for item in written:
        assert item.metrics is not None  # reconstruct_inputs measures every item
        _notes(item, checkpoint.config.audio.clip_seconds, whole)
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
            continue
        rows: list[tuple[str, Any]] = [
            (name, f"{item.metrics[name]:.3f}") for name in METRIC_NAMES if name in item.metrics
        ]
        rows += [("output", item.path)] + ([("input", item.input_path)] if item.input_path else [])
        rows += [("figure", item.metrics["figure"])] if plot else []
        if out == "-":
            click.echo(" ".join(f"{name}={value}" for name, value in rows[:-1]), err=True)
        else:
            print_table(f"reconstruction of {item.source}", rows, ("metric", "value"))
    failures.exit_if_any(len(paths) + len(problems))


# ----------------------------------------------------------------------------- generate


@click.command()
@click.option(
    "--mode",
    type=click.Choice(["random", "continue", "average", "interpolate"]),
    required=True,
    help="random: a new piece; continue: go on from a song's opening; average: in the style of songs or "
    "a label; interpolate: from one song to another.",
)
@click.option("-o", "--out", required=True, help="Audio file (numbered when several), a folder, or - for one file.")
@click.option(
    "--from",
    "sources",
    multiple=True,
    help="Songs (or latent files, for --method mean/linear/slerp): --from A B C (or --from A --from B).",
)
@click.argument("more_sources", nargs=-1, metavar="[SOURCE]...")
@click.option(
    "--method",
    type=click.Choice(["prior", "gaussian", "mean", "linear", "slerp"]),
    default=None,
    help="random: prior (default when the run has one) or gaussian; continue: prior; average: prior "
    "(default when there is one) or mean (the plain mean latent); interpolate: linear (default) or slerp.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Length of each prior or gaussian piece [default: one clip; continue: 20, the opening included].",
)
@click.option(
    "--n", "count", type=click.IntRange(min=1), default=1, show_default=True, help="random, average: how many pieces."
)
@click.option("--seed", type=int, default=None, help="Seed [default: a fresh one, recorded in the sidecar].")
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="prior: how freely the walk picks among good continuations (0: always the likeliest); "
    "gaussian: scale of the random part (0: the mean latent).",
)
@click.option("--naive", is_flag=True, help="random: unscaled N(0, 1) vectors, as the original work did (gives noise).")
@click.option(
    "--prior",
    "prior_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Prior file [default: prior.safetensors beside the model's checkpoint].",
)
@click.option(
    "--weights", multiple=True, help="average --method mean: one weight per source, comma-separated: --weights 2,1,1."
)
@click.option("--label", default=None, help="average: the style of this label's training clips.")
@click.option(
    "--data",
    "data_root",
    type=click.Path(path_type=Path),
    default=None,
    help="average --method mean --label: dataset folder the label comes from.",
)
@click.option(
    "--steps", type=click.IntRange(min=1), default=5, show_default=True, help="interpolate: latents from A to B."
)
@click.option("--morph", is_flag=True, help="interpolate: one clip that morphs from A to B instead of K files.")
@click.option(
    "--crop",
    type=click.Choice(["start", "center", "random"]),
    default="center",
    show_default=True,
    help="Clip taken from each audio source (continue: the opening starts at --offset, default 0).",
)
@click.option(
    "--offset", type=click.FloatRange(min=0), default=None, help="Clip start in seconds in each audio source."
)
@click.option(
    "--prime-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="continue: seconds of the song's opening to continue from, at most one clip [default: one clip].",
)
@click.option(
    "--html",
    "html_page",
    is_flag=True,
    help="Also write a page to listen and look: DIR/index.html, or NAME.html beside NAME.wav "
    "(a player, a spectrogram and the sidecar's facts per piece).",
)
@with_model
@json_option
def generate(
    mode: str,
    out: str,
    sources: tuple[str, ...],
    more_sources: tuple[str, ...],
    method: str | None,
    seconds: float | None,
    count: int,
    seed: int | None,
    temperature: float,
    naive: bool,
    prior_path: Path | None,
    weights: tuple[str, ...],
    label: str | None,
    data_root: Path | None,
    steps: int,
    morph: bool,
    crop: CropMode,  # a click.Choice of its values
    offset: float | None,
    prime_seconds: float | None,
    html_page: bool,
    checkpoint: Checkpoint,
    batch_size: int,
    cache_dir: Path,  # cache_dir_option fills the default
    as_json: bool,
) -> None:
    """Make new music: random pieces, continuations, pieces in a style, interpolations.

    With a prior ('aea train-prior'), random, continue and average walk over
    real latent frames of the training music, so they give music of any
    length; without one, random samples the Gaussian fitted on the training
    latents (--naive: unscaled vectors, the original work's noise). Each
    file gets a sidecar NAME.json (method, prior, seed, sources); --json
    prints the same on stdout.

    \b
    Examples:
      aea generate --mode random --seconds 30 --n 4 --seed 1 -o samples/ --html
      aea generate --mode continue --from song.mp3 --seconds 20 -o more.wav
      aea generate --mode average --from a.mp3 b.mp3 c.mp3 --seconds 20 -o mix.wav
      aea generate --mode average --label jazz -o jazz.wav
      aea generate --mode random --method gaussian -o noise.wav
      aea generate --mode interpolate --from a.mp3 b.mp3 --steps 8 --method slerp --morph -o morph.wav
    """
    from ..generation.requests import GenerateRequest, generate_pieces
    from ..generation.writing import page_path, write_pieces

    _no_json_with_stdout(as_json, out)
    page = page_path(out) if html_page else None  # before any work: -o - has no page
    if more_sources and not sources:
        raise click.UsageError(f"unexpected argument {more_sources[0]!r} (sources go after --from)")
    all_sources = tuple(sources) + tuple(more_sources)
    if mode == "random" and all_sources:
        raise click.UsageError("--from is for --mode continue, average or interpolate")
    if mode == "continue" and not all_sources:
        raise click.UsageError("--mode continue needs --from SONG (the song whose opening it continues)")
    request = GenerateRequest(
        mode,
        method,
        seconds,
        count,
        seed,
        temperature,
        naive,
        all_sources,
        _parse_weights(weights),
        label,
        data_root,
        steps,
        morph,
        crop,
        offset,
        prime_seconds,
        prior_path,
        cache_dir,
        batch_size,
    )
    with progress_bar("generating") as bar:
        outcome = generate_pieces(checkpoint, request, bar)
    for note in outcome.notes:
        click.echo(f"aea: {note}", err=True)
    for warning in outcome.warnings:  # also in each record (--json) and sidecar they concern
        click.echo(f"aea: warning: {warning}", err=True)
    records = write_pieces(checkpoint, outcome.pieces, out, mode)
    for record in records:
        if as_json:
            print_json(record)
        elif out != "-":
            click.echo(
                f"wrote {record['path']} ({record['seconds']:.2f} s)"
                + (f", metadata in {record['sidecar']}" if "sidecar" in record else "")
            )
    if page is not None:
        from ..pages.generation import write_generation_page

        page = write_generation_page(records, page)
        if as_json:
            print_json({"page": str(page)})
        else:
            click.echo(f"page {page}")


def _parse_weights(values: tuple[str, ...]) -> tuple[float, ...] | None:
    if not values:
        return None
    try:
        return tuple(float(part) for value in values for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"{', '.join(values)}: weights are numbers, e.g. --weights 2,1,1", param_hint="--weights"
        ) from None


COMMANDS = [encode, decode, reconstruct, generate]
