"""torchrun for `aea train --nproc K`, saying nothing that aea's ranks say themselves.

`aea train --nproc K` runs `python -m autoenc_audio.cli.torchrun --standalone --nproc-per-node=K -m autoenc_audio
train ...` and waits for it. Ctrl-C at a terminal reaches that command and torchrun (the ranks run in sessions of
their own): the command lets it pass and waits, and torchrun passes it on to each rank once, which stops after the
step it is in, saves, and exits; rank 0 alone says so, with the flag that resumes (`AeaGroup`). torchrun's log lines
(its banner, the signals it sends, its report of a failed rank, its traceback when interrupted) are left out: a rank
that fails says why itself, and the job exits with that rank's status.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any

import click


def torchrun_command(nproc: int, arguments: Sequence[str]) -> list[str]:
    """The command that runs `aea ARGUMENTS` in `nproc` processes on this machine."""
    launcher = [sys.executable, "-m", "autoenc_audio.cli.torchrun", "--standalone", f"--nproc-per-node={nproc}"]
    return [*launcher, "-m", "autoenc_audio", *arguments]


def run_job(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run `command` (`torchrun_command`) to its end, Ctrl-C left to its ranks; its exit status."""
    previous = signal.signal(signal.SIGINT, _let_torchrun_answer)  # not SIG_IGN: the launched processes get theirs
    try:
        return subprocess.call(list(command), env=dict(env))
    finally:
        signal.signal(signal.SIGINT, previous)


def _let_torchrun_answer(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C while the job runs: torchrun got it too, and passes it on to the ranks, which stop, save and say so
    (killing torchrun, as `subprocess.call` does on KeyboardInterrupt, would leave them running)."""


def main(arguments: Sequence[str]) -> int:
    """torchrun with `arguments`, quiet: its exit status, that of the first rank that failed (rank 0's if it did),
    or 128 + N for signal N (Ctrl-C: 130) once the ranks it passed it on to have ended."""
    try:
        from torch.distributed.elastic.multiprocessing.api import SignalException
        from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
        from torch.distributed.run import parse_args, run
    except KeyboardInterrupt:  # before any rank started (importing torch takes seconds)
        click.echo("aea: interrupted", err=True)
        return 130
    for name in list(logging.Logger.manager.loggerDict):  # torch's loggers, made as it was imported
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        run(parse_args(list(arguments)))
    except KeyboardInterrupt:  # before torchrun handles Ctrl-C itself: no rank started
        click.echo("aea: interrupted", err=True)
        return 130
    except SignalException as error:
        return 128 + int(error.sigval)
    except ChildFailedError as error:
        status, line = failed_status(error.failures)
        if line:
            click.echo(f"aea: error: {line}", err=True)
        return status
    return 0


def failed_status(failures: Mapping[int, Any]) -> tuple[int, str | None]:
    """The job's exit status from its failed ranks (torchrun's ProcessFailure by rank): rank 0's, else the
    lowest's; and a line to show when that rank was killed by a signal (it could say nothing itself)."""
    rank = 0 if 0 in failures else min(failures)
    code = int(failures[rank].exitcode)
    if code >= 0:
        return code, None
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return 128 - code, f"training process {rank} of the job was killed by {name}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
