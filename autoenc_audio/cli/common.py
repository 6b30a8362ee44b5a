"""What every command shares: error handling, output helpers, shared options, progress."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import DEVICES
from ..errors import (
    TERMINATION_SIGNALS,
    ChannelsCancelWarning,
    ClippingWarning,
    InputError,
    SavedInterrupt,
    StaleLockWarning,
    TruncatedAudioWarning,
)
from .flags import FLAG_FOR_SETTING, command_flags, in_flag_terms
from .params import POSITIVE, SAMPLE_RATE, NonEmptyPath

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from ..checkpoints.checkpoint import Checkpoint

AEA_WARNINGS = (ChannelsCancelWarning, ClippingWarning, StaleLockWarning, TruncatedAudioWarning)
"""The library's own warnings, each shown as one line."""

BROKEN_PIPE_EXIT = 128 + 13
"""Exit status when standard output's reader has gone: what a process killed by SIGPIPE reports."""


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line naming the command (Click shows usage, a hint and the error)."""

    def show(self, file: Any = None) -> None:
        command = self.ctx.command_path if self.ctx else "aea"
        message = " ".join(self.format_message().split())  # Click lists choices on lines of their own
        click.echo(f"{command}: error: {message} (see '{command} --help')", err=True)


def one_line_usage_error(error: click.UsageError) -> click.UsageError:
    if isinstance(error, OneLineUsageError) or type(error).__name__ == "NoArgsIsHelpError":
        return error  # `aea` or `aea plot` alone: the help text is the answer
    one_line = OneLineUsageError(error.format_message(), error.ctx)
    one_line.exit_code = error.exit_code  # type: ignore[misc]  # click types it a ClassVar; the instance's is read
    return one_line


@contextlib.contextmanager
def terminations_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP (`kill`, `timeout`, a closed terminal) handled as Ctrl-C is: temporary files removed,
    training saved, one line said. Python's default for them ends the process at once, leaving hidden temporary
    files behind and losing training since the last epoch. The previous handlers come back after the command."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.default_int_handler) for number in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class AeaGroup(click.Group):
    """Turns library errors into one line on stderr and a meaningful exit code.

    Exit 2 for usage and input errors, 1 for failures, 130 for Ctrl-C; a
    traceback only with `aea --debug`.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            raise one_line_usage_error(error) from None

    def _options(self, ctx: click.Context) -> dict[str, str]:
        """The flags of the subcommand that ran, by parameter name: how the library's settings were given."""
        name = ctx.invoked_subcommand
        return command_flags(self.get_command(ctx, name)) if name else {}

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with one_line_warnings(), terminations_as_interrupts():
                return super().invoke(ctx)
        except click.UsageError as error:  # a subcommand's arguments
            raise one_line_usage_error(error) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            if not is_other_rank():
                click.echo("aea: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # the reader went away (`aea info | head -1`): exit as a killed writer would
            descriptor = os.open(os.devnull, os.O_WRONLY)
            os.dup2(descriptor, sys.stdout.fileno())  # Python's flush at exit must not fail again
            ctx.exit(BROKEN_PIPE_EXIT)
        except SavedInterrupt as error:  # Ctrl-C in a command that trains (train, demo, sweep): saved
            if not is_other_rank():
                click.echo(f"aea: {in_flag_terms(error, self._options(ctx))}", err=True)
            ctx.exit(130)
        except Exception as error:  # noqa: BLE001 - the one place errors become exit codes
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            message = path_error_line(error) or in_flag_terms(error, self._options(ctx))
            click.echo(f"aea: error: {message}", err=True)
            usage = isinstance(error, (InputError, FileNotFoundError)) or is_path_error(error)
            ctx.exit(2 if usage else 1)


def is_other_rank() -> bool:
    """This process is one of `aea train --nproc`'s torchrun ranks, not rank 0: Ctrl-C reaches every rank, and rank 0
    alone says that the job was interrupted (and how to resume it)."""
    return os.environ.get("RANK", "0") != "0"


PATH_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENAMETOOLONG,
    }
)


def path_error_line(error: BaseException) -> str | None:
    """ "PATH: not a directory" for an OS error about a path the user gave (a parent that is a file, no
    permission, a read-only folder), said without Python's `[Errno 20]`; None for any other."""
    if not is_path_error(error) or not getattr(error, "filename", None) or not getattr(error, "strerror", None):
        return None
    assert isinstance(error, OSError)
    path, reason = os.fsdecode(error.filename), str(error.strerror)
    if error.errno == errno.EEXIST and not os.path.isdir(path):  # mkdir of a folder where a file is
        reason = os.strerror(errno.ENOTDIR)
    return f"{path}: {reason[0].lower()}{reason[1:]}"


def is_path_error(error: BaseException) -> bool:
    """Whether `error` is about a path the user gave rather than a failure (a full disk): exit 2. An
    `OutputError` keeps the errno of the error it words."""
    return isinstance(error, OSError) and error.errno in PATH_ERRNOS


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show aea's own warnings (clipped samples, a stale run lock taken over, a truncated input) as
    `aea: warning: ...` on stderr,
    every time they occur.

    Always shown, whatever `-W` or `PYTHONWARNINGS` say: a clipped output file
    is part of a command's result, like its exit code. Other warnings are
    left to Python's handler.
    """
    with warnings.catch_warnings():
        for category in AEA_WARNINGS:
            warnings.simplefilter("always", category)
        shown_before = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: Any = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, AEA_WARNINGS):
                click.echo(f"aea: warning: {message}", err=True)
            else:
                shown_before(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def stderr_console() -> Console:
    """A rich Console on stderr (rich is imported only by commands that draw)."""
    return rich_console(stderr=True)


def rich_console(**options: Any) -> Console:
    """A rich Console that writes no escape codes for styles when `NO_COLOR` is set (not empty): rich would drop
    the colours and keep bold and italic, which a user who sets it, often to pipe a terminal's text on, does not
    want either."""
    from rich.console import Console

    return Console(color_system=None if os.environ.get("NO_COLOR") else "auto", **options)


def is_tty() -> bool:
    return sys.stderr.isatty()


def print_json(value: Any) -> None:
    """`value` as one line of strict JSON (an undefined score as null, not NaN; numpy numbers as numbers, anything
    else json cannot write as its text), so any JSON Lines reader takes it."""
    from ..jsonable import json_text, json_value_or_text  # imports numpy: only when JSON is printed, not for --help

    click.echo(json_text(value, json_value_or_text))


def stdout_is_tty() -> bool:
    """Standard output is a terminal (False when the shell closed it)."""
    return sys.stdout is not None and sys.stdout.isatty()


def refuse_data_on_terminal(out: Any, what: str, example: str) -> None:
    """Before any work: `-o -` when stdout is a terminal, where `what` (an image, audio, a latent file: bytes, not
    text) would be dumped; UsageError saying to pipe or redirect it, or to give `-o example`."""
    if str(out) == "-" and stdout_is_tty():
        raise click.UsageError(f"-o - writes {what} to stdout: pipe or redirect it, or give -o {example}")


def print_table(title: str, rows: Sequence[Sequence[Any]], headers: tuple[str, ...]) -> None:
    """A table on stdout: drawn on a terminal (without borders where a bordered one would not fit, so no header is
    cut to "cont…"); otherwise `# title`, then tab-separated lines for cut/awk."""
    if not stdout_is_tty():
        click.echo(f"# {title}")
        for row in (headers, *rows):
            click.echo("\t".join(" ".join(str(cell).split("\t")).replace("\n", " ") for cell in row))
        return
    from rich.measure import Measurement

    console = rich_console(soft_wrap=True)
    table = _rich_table(title, rows, headers, compact=False)
    unbounded = console.options.update_width(1_000_000)  # the least width it needs, wrapping what wraps
    if Measurement.get(console, unbounded, table).minimum > console.width:
        table = _rich_table(title, rows, headers, compact=True)
    console.print(table)


def _rich_table(title: str, rows: Sequence[Sequence[Any]], headers: tuple[str, ...], compact: bool) -> Any:
    """A rich table; `compact`: no borders, one space between columns, and every column but the first as wide as
    its longest word, so that only the first (a name) wraps in a narrow terminal."""
    from rich.table import Table

    if compact:
        table = Table(title=title, header_style="bold", box=None, padding=(0, 1, 0, 0))
    else:
        table = Table(title=title, show_header=True, header_style="bold")
    for index, header in enumerate(headers):
        table.add_column(
            header,
            justify="right" if header not in ("name", "label", "metric", "what", "run", "kind") else "left",
            min_width=_longest_word(header, [row[index] for row in rows]) if compact and index else None,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    return table


def _longest_word(header: str, cells: Sequence[Any]) -> int:
    return max(len(word) for cell in (header, *cells) for word in [*str(cell).split(), ""])


def progress_bar(description: str) -> CountingBar:
    return CountingBar(description)


class CountingBar:
    """A rich progress bar on stderr when it is a terminal; silent otherwise. Use as `callback(done, total)`."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> CountingBar:
        if is_tty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


class FolderPath(NonEmptyPath):
    """An output folder: `-` is refused, since standard output takes one file and these commands write several
    (it made a folder named `-`)."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if str(value) == "-":
            self.fail(
                "'-' (standard output) takes one file, and this writes a folder of them; give a folder", param, ctx
            )
        return super().convert(value, param, ctx)


def cache_dir_option(function: Callable) -> Callable:
    @click.option(
        "--cache-dir",
        type=NonEmptyPath(file_okay=False, path_type=Path),
        default=None,
        envvar="AEA_CACHE",
        help="Preprocessing cache and built-in corpus folder [default: $AEA_CACHE or ~/.cache/aea].",
    )
    @functools.wraps(function)
    def wrapper(*args: Any, cache_dir: Path | None, **kwargs: Any) -> Any:
        from ..data import default_cache_dir

        return function(*args, cache_dir=cache_dir or default_cache_dir(), **kwargs)

    return wrapper


def with_check(function: Callable, check: Callable[[dict[str, Any]], None]) -> Callable:
    """`function` that first runs `check(options)`, which raises click.UsageError for options that contradict."""

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        check(kwargs)
        return function(*args, **kwargs)

    return checked


def device_option(help: str = "Where the model runs.", default: str | None = None) -> Callable[[Callable], Callable]:
    """`--device auto|cpu|cuda|mps` (auto: CUDA, then Apple's MPS, then the CPU)."""
    return click.option(
        "--device", type=click.Choice(DEVICES), default=default, show_default=default is not None, help=help
    )


def json_option(function: Callable) -> Callable:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout (one object per line)."
    )(function)


MODEL_VARIABLE = "AEA_MODEL"
"""The environment variable naming the checkpoint or run folder a command uses when given no --model."""


def model_option(function: Callable) -> Callable:
    return click.option(
        "--model",
        type=NonEmptyPath(path_type=Path),
        default=None,
        help="Checkpoint or run folder [default: $AEA_MODEL, else the latest 'aea train' run].",
    )(function)


def chosen_model(model: Path | None, cache_dir: Path) -> tuple[Path, str]:
    """The checkpoint a command uses, and where that choice came from in the shell's words.

    `--model`, else `$AEA_MODEL` (empty counts as unset), else the latest 'aea train' run
    recorded in `cache_dir`. The one place the CLI reads `$AEA_MODEL`.
    """
    from ..runs.folder import resolve_model

    path, source = resolve_model(model, cache_dir, os.environ.get(MODEL_VARIABLE))
    return path, FLAG_FOR_SETTING.get(source, source)


def model_argument_or_option(argument: Path | None, option: Path | None, cache_dir: Path) -> tuple[Path, str]:
    """`chosen_model` for a command that also takes its model as an argument (`aea info RUN`, `aea export RUN`:
    scripts use it): the argument, else `--model` and what follows it; where it came from, in the shell's words."""
    if argument is None:
        return chosen_model(option, cache_dir)
    if option is not None:
        raise click.UsageError(f"give the model once: {argument} as an argument or --model {option}, not both")
    from ..runs.folder import checkpoint_in

    return checkpoint_in(argument), "the argument"


def open_chosen_model(model: Path | None, cache_dir: Path, device: str) -> Checkpoint:
    """`chosen_model`'s checkpoint loaded on `device` (`auto`: CUDA, then MPS, then the CPU); imports torch."""
    from ..latents.model import open_model

    return open_model(chosen_model(model, cache_dir)[0], cache_dir, device=device)


def audio_options(function: Callable) -> Callable:
    """`--sample-rate` and `--clip-seconds`: preprocessing settings."""
    function = click.option("--clip-seconds", type=POSITIVE, default=None, help="Clip length in seconds [default: 5].")(
        function
    )
    function = click.option(
        "--sample-rate",
        type=SAMPLE_RATE,
        default=None,
        help="Target sample rate in Hz [default: 22050].",
    )(function)
    return function


@contextlib.contextmanager
def stdin_file(paths: tuple[Path, ...]) -> Iterator[tuple[tuple[Path, ...], dict[str, str]]]:
    """`-` among `paths` as the audio or latent file piped in (`aea decode z.pt -o - | aea plot spectrogram -`).

    Yields the paths with `-` replaced by a temporary `stdin.<ext>` file, living as long as the command, and the
    names to show inputs by (`<stdin>` for that file).
    """
    from ..audio import STDIN_NAME, sniff_audio_suffix
    from ..latents.formats import sniff_format

    if Path("-") not in paths:
        yield paths, {}
        return
    if paths.count(Path("-")) > 1:
        raise click.UsageError("- reads stdin once: give it at most once")
    data = sys.stdin.buffer.read()
    latent = sniff_format(data[:16])
    suffix = sniff_audio_suffix(data[:12]) or {"npy": ".npy", "zip": ".pt", "safetensors": ".safetensors"}.get(
        latent or ""
    )
    if suffix is None:
        raise click.UsageError(
            "- reads stdin, which holds no audio (WAV, FLAC, Ogg, AIFF, MP3) and no latent file"
            + ("" if data else ": it is empty")
        )
    with _piped_file(data, suffix) as path:
        yield tuple(path if p == Path("-") else p for p in paths), {str(path): STDIN_NAME}


@contextlib.contextmanager
def _piped_file(data: bytes, suffix: str) -> Iterator[Path]:
    """stdin's bytes as a temporary `stdin<suffix>` file, living as long as the command; an error or a warning
    that names the file names `<stdin>` instead, as the user gave it."""
    from ..audio import STDIN_NAME

    with tempfile.TemporaryDirectory(prefix="aea-stdin-") as folder, warnings.catch_warnings():
        path = Path(folder) / f"stdin{suffix}"
        path.write_bytes(data)
        shown_before = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *where: Any, **more: Any) -> None:
            shown_before(str(message).replace(str(path), STDIN_NAME), category, *where, **more)

        warnings.showwarning = show
        try:
            yield path
        except Exception as error:
            if len(error.args) == 1 and isinstance(error.args[0], str):
                error.args = (error.args[0].replace(str(path), STDIN_NAME),)
            raise


def _stdin_paths(data: bytes) -> list[str]:
    """stdin's bytes that are no audio aea knows, read as paths one per line, or separated by NUL (`find -print0`)
    when one of them exists; other bytes no path holds (NUL: `cat song.m4a |`) are refused in one line rather
    than looked up as a path made of them."""
    text = os.fsdecode(data)  # a path's bytes that are not UTF-8 (a Latin-1 café.wav) survive as the OS spells it
    if "\0" in text:
        separated = [part for part in text.split("\0") if part]
        if any(os.path.lexists(part) for part in separated):  # a missing one then fails alone, as a line would
            return separated
        raise click.UsageError(
            "- reads stdin, which holds bytes that are neither WAV, FLAC, Ogg, AIFF or MP3 audio nor paths: "
            "convert other audio first (ffmpeg -i song.m4a -f wav - | aea ...)"
        )
    return text.splitlines()


@contextlib.contextmanager
def stdin_inputs(inputs: tuple[str, ...]) -> Iterator[tuple[list[str] | None, dict[str, str]]]:
    """What `-` stands for: paths, one per line, or audio bytes (`ffmpeg ... -f wav -`) as one input.

    Yields `(lines, names)`: the lines for `expand_inputs` (None when no `-`), and the names to
    report inputs by: stdin's audio is written to a temporary `stdin.<ext>` file, living as long as
    the command, that results and errors call `<stdin>` (empty when stdin held no audio).
    """
    from ..audio import STDIN_NAME, sniff_audio_suffix

    if "-" not in inputs:
        yield None, {}
        return
    data = sys.stdin.buffer.read()
    if not data or data.isspace():
        raise click.UsageError("- reads stdin, which is empty: pipe paths, one per line, or audio into it")
    suffix = sniff_audio_suffix(data[:12])
    if suffix is None:
        yield _stdin_paths(data), {}
        return
    with _piped_file(data, suffix) as path:
        yield [str(path)], {str(path): STDIN_NAME}
