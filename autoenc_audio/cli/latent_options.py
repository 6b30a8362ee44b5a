"""What the commands that run a model over inputs share: `--model` and its company, clip choice, failing inputs.

Exit codes with many inputs: a failing input is reported on stderr
(`aea: error: FILE: problem`) and skipped; the command then exits 1 after
writing what it could ("some inputs failed"), or 2 when every input failed
(nothing written). `--strict` stops at the first failing input with exit 2.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import counted

if TYPE_CHECKING:
    from ..latents.encode import EncodedInput
    from ..latents.outputs import Written
from .common import (
    cache_dir_option,
    device_option,
    model_option,
    open_chosen_model,
    refuse_data_on_terminal,
    stdin_inputs,
    with_check,
)
from .flags import in_flag_terms
from .params import SEED, FiniteFloat


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
                type=FiniteFloat(min=0, min_open=True),
                default=None,
                help="With --whole: seconds between clip starts [default: half a clip].",
            ),
            click.option(
                "--offset", type=FiniteFloat(min=0), default=None, help="Clip start in seconds (overrides --crop)."
            ),
            click.option(
                "--crop",
                type=click.Choice(["start", "center", "random"]),
                default="start",
                show_default=True,
                help="Where the clip is taken.",
            ),
            click.option("--seed", "crop_seed", type=SEED, default=0, show_default=True, help="Seed of --crop random."),
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
            click.echo(
                f"aea: {len(self.items)} of {counted(total, 'input')} failed (see above); the rest were written",
                err=True,
            )
            raise SystemExit(1)


@dataclass
class Inputs:
    """A command's inputs once expanded: the files, the names to report them by, and their failures."""

    paths: list[str]
    names: dict[str, str]  # a temporary file holding stdin's audio -> `<stdin>`
    failures: Failures
    total: int  # inputs given, those that expanded to nothing included


@contextlib.contextmanager
def expanded_inputs(inputs: tuple[str, ...], strict: bool) -> Iterator[Inputs]:
    """Files, folders, globs and `-` as files, while stdin's temporary file exists; inputs that expanded to nothing
    are reported (or raised with `strict`, or when there is one input: its error is the command's)."""
    from ..latents.inputs import expand_inputs

    with stdin_inputs(inputs) as (lines, names):
        paths, problems = expand_inputs(inputs, lines)
        failures = Failures(strict or len(paths) + len(problems) == 1)  # one input: its error is the command's
        failures.report_problems(problems)
        yield Inputs(paths, names, failures, len(paths) + len(problems))


def data_to_stdout(what: str, example: str) -> Callable[[Callable], Callable]:
    """A command whose `-o -` writes `what` (audio, a latent file) to stdout: refused on a terminal, before the model
    loads (put it above `with_model`)."""

    def decorate(function: Callable) -> Callable:
        return with_check(function, lambda options: refuse_data_on_terminal(options["out"], what, example))

    return decorate


def no_json_with_stdout(as_json: bool, out: str) -> None:
    if as_json and out == "-":
        raise click.UsageError("--json prints to stdout, which -o - already uses for data: drop one")


def print_clip_notes(item: EncodedInput | Written, clip_seconds: float, whole: bool) -> None:
    """Notes on stderr for an input zero-padded to a clip (shorter than one, or cut short by the offset; with
    `whole`, only when the whole input is shorter than a clip) and for a silent one."""
    valid_seconds = item.valid_seconds
    assert valid_seconds is not None  # encode and reconstruct record every input's length
    if item.padded and (not whole or valid_seconds < clip_seconds):
        short = (
            f"shorter than a clip ({valid_seconds:.2f} s of {clip_seconds:g} s)"
            if not item.offset_seconds  # a clip cut at the end by the offset, not a short file
            else f"ends {valid_seconds:.2f} s after the offset {item.offset_seconds:g} s, short of a {clip_seconds:g} s clip"
        )
        click.echo(f"aea: note: {item.source}: {short}, zero-padded", err=True)
    if item.silent:
        click.echo(f"aea: note: {item.source}: silent", err=True)
