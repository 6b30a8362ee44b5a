"""`aea generate`: new music from a trained model, with or without its prior."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from .common import json_option, print_json, progress_bar, stdin_file
from .latent_options import data_to_stdout, no_json_with_stdout, with_model
from .params import SEED, FiniteFloat, NonEmptyPath

if TYPE_CHECKING:
    from ..checkpoints.checkpoint import Checkpoint
    from ..generation.requests import Outcome


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
    help="Songs (or latent files, for --method mean/linear/slerp): --from A B C (or --from A --from B); "
    "- reads one from stdin.",
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
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Length of each prior or gaussian piece [default: one clip; continue: 20, the opening included].",
)
@click.option(
    "--n",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="random, average with a prior: how many pieces.",
)
@click.option("--seed", type=SEED, default=None, help="Seed [default: a fresh one, recorded in the sidecar].")
@click.option(
    "--temperature",
    type=FiniteFloat(min=0),
    default=1.0,
    show_default=True,
    help="prior: how freely the walk picks among good continuations (0: always the likeliest); "
    "gaussian: scale of the random part (0: the mean latent).",
)
@click.option("--naive", is_flag=True, help="random: unscaled N(0, 1) vectors, as the original work did (gives noise).")
@click.option(
    "--prior",
    type=NonEmptyPath(dir_okay=False, path_type=Path),
    default=None,
    help="random, continue, average: prior file [default: prior.safetensors beside the model's checkpoint].",
)
@click.option(
    "--weights", multiple=True, help="average --method mean: one weight per source, comma-separated: --weights 2,1,1."
)
@click.option(
    "--label",
    default=None,
    help="average: the style of this label's training clips (without a prior: their mean latent, from the run's "
    "training data or --data).",
)
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(path_type=Path),
    default=None,
    help="average --method mean --label: dataset folder the label comes from [default: the run's training data].",
)
@click.option(
    "--steps", type=click.IntRange(min=1), default=5, show_default=True, help="interpolate: latents from A to B."
)
@click.option(
    "--morph",
    is_flag=True,
    help="interpolate: one file that morphs from A to B instead of K files: the K clips overlapped by half a clip "
    "(K=5 of 5 s clips: 15 s).",
)
@click.option(
    "--crop",
    type=click.Choice(["start", "center", "random"]),
    default="center",
    show_default=True,
    help="average, interpolate: clip taken from each audio source (continue: the opening starts at --offset, "
    "default 0).",
)
@click.option("--offset", type=FiniteFloat(min=0), default=None, help="Clip start in seconds in each audio source.")
@click.option(
    "--prime-seconds",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="continue: seconds of the song's opening to continue from, at most one clip [default: one clip].",
)
@click.option(
    "--html",
    "html_page",
    is_flag=True,
    help="Also write a page to listen and look: DIR/index.html, or NAME.html beside NAME.wav "
    "(a player, a spectrogram and the sidecar's facts per piece); not into a run folder, nor over a page "
    "generate did not write.",
)
@data_to_stdout("audio", "FILE.wav")
@with_model
@json_option
def generate(
    mode: str,
    out: str,
    sources: tuple[str, ...],
    more_sources: tuple[str, ...],
    weights: tuple[str, ...],
    html_page: bool,
    checkpoint: Checkpoint,
    as_json: bool,
    **settings: Any,  # every other option (and with_model's batch_size, cache_dir): a GenerateRequest field by name
) -> None:
    """Make new music: random pieces, continuations, pieces in a style, interpolations.

    With a prior ('aea train-prior'), random, continue and average walk over
    real latent frames of the training music, so they give music of any
    length; without one, random samples the Gaussian fitted on the training
    latents (--naive: unscaled vectors, the original work's noise) and
    average makes the plain mean latent, one clip (--seconds and --n need a
    prior). An option the mode does not use is refused. Each file gets a
    sidecar NAME.json (method, prior, seed, sources); --json prints the same
    on stdout.

    \b
    Examples:
      aea generate --mode random --seconds 30 --n 4 --seed 1 -o samples/ --html
      aea generate --mode continue --from song.mp3 --seconds 20 -o more.wav
      aea generate --mode average --from a.mp3 b.mp3 c.mp3 --seconds 20 -o mix.wav
      aea generate --mode average --label jazz -o jazz.wav
      aea generate --mode random --method gaussian -o noise.wav
      aea generate --mode interpolate --from a.mp3 b.mp3 --steps 8 --method slerp --morph -o morph.wav
    """
    from ..generation.requests import APPLIES_TO, GenerateRequest, generate_pieces
    from ..generation.writing import page_path, refuse_writing_sources, write_pieces

    no_json_with_stdout(as_json, out)
    page = page_path(out) if html_page else None  # before any work: -o - has no page
    if page is not None:
        from ..pages.generation import refuse_generation_page

        refuse_generation_page(page)  # nor a run folder or a page it did not write
    with _piped_sources(_sources(mode, sources, more_sources)) as (given, names):
        weighted = _parse_weights(weights)
        request = GenerateRequest(mode, sources=given, weights=weighted, given=_typed(APPLIES_TO), **settings)
        refuse_writing_sources(request, out)
        with progress_bar("generating") as bar:
            outcome = generate_pieces(checkpoint, request, bar)
        _name_sources(outcome, names)
    _print_notes(outcome)
    records = write_pieces(checkpoint, outcome.pieces, out, mode)
    _print_written(records, out, as_json)
    if page is not None:
        _write_page(records, page, as_json)


def _typed(names: Iterable[str]) -> frozenset[str]:
    """Which of the options `names` were typed on the command line (or set by an environment variable), so that
    one a mode ignores is refused even when it is typed at its default value."""
    context = click.get_current_context()
    typed = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return frozenset(name for name in names if context.get_parameter_source(name) in typed)


def _sources(mode: str, sources: tuple[str, ...], more_sources: tuple[str, ...]) -> tuple[str, ...]:
    """`--from A B C` (or `--from A --from B`): the sources, refused for a mode that takes none or needs one."""
    if more_sources and not sources:
        raise click.UsageError(f"unexpected argument {more_sources[0]!r} (sources go after --from)")
    all_sources = tuple(sources) + tuple(more_sources)
    if mode == "random" and all_sources:
        raise click.UsageError("--from is for --mode continue, average or interpolate")
    if mode == "continue" and not all_sources:
        raise click.UsageError("--mode continue needs --from SONG (the song whose opening it continues)")
    return all_sources


@contextlib.contextmanager
def _piped_sources(sources: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, str]]]:
    """`-` among the sources as the song (or latent file) piped in (`cat song.wav | aea generate --from -`), while
    the command runs; yields the sources and the name to show stdin's file by (`<stdin>`, in errors and sidecars)."""
    with stdin_file(tuple(Path(source) for source in sources if source == "-")) as (piped, names):
        files = iter(str(path) for path in piped)
        yield tuple(next(files) if source == "-" else source for source in sources), names


def _name_sources(outcome: Outcome, names: dict[str, str]) -> None:
    """Each piece's recorded sources as the user gave them: stdin's temporary file as `<stdin>`."""
    for piece in outcome.pieces if names else ():
        for record in (piece.metadata, piece.metadata.get("request", {})):
            if isinstance(record.get("sources"), list):
                record["sources"] = [names.get(source, source) for source in record["sources"]]


def _print_notes(outcome: Outcome) -> None:
    """How the request was read, and the warnings the user must see, on stderr."""
    for note in outcome.notes:
        click.echo(f"aea: {note}", err=True)
    for warning in outcome.warnings:  # also in each record (--json) and sidecar they concern
        click.echo(f"aea: warning: {warning}", err=True)


def _print_written(records: list[dict[str, Any]], out: str, as_json: bool) -> None:
    """Each piece's record (--json), or a line per file written (none when the audio went to stdout)."""
    for record in records:
        if as_json:
            print_json(record)
        elif out != "-":
            click.echo(
                f"wrote {record['path']} ({record['seconds']:.2f} s)"
                + (f", metadata in {record['sidecar']}" if "sidecar" in record else "")
            )


def _write_page(records: list[dict[str, Any]], page: Path, as_json: bool) -> None:
    """`--html`: the page to listen and look at the pieces."""
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


COMMANDS = [generate]
