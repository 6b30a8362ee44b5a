"""Files written safely: atomic writes (temporary file, then rename), text files, standard output.

Every output aea writes (audio, latents, checkpoints, figures, reports) goes
through `atomic_path`, so an interrupted write never leaves half a file, and
`-` goes through `standard_output`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeAlias

PathLike: TypeAlias = str | os.PathLike


def standard_output() -> BinaryIO:
    """Standard output as a binary stream, for `-o -`; an OSError saying so when the shell closed it (`>&-`)."""
    if sys.stdout is None:
        raise OSError("standard output is closed: cannot write to '-'")
    return sys.stdout.buffer


def write_standard_output(data: bytes | memoryview | BinaryIO) -> None:
    """Write `data` (bytes, or a binary file read to its end) to standard output and flush it."""
    stdout = standard_output()
    if isinstance(data, (bytes, memoryview)):
        stdout.write(data)
    else:
        shutil.copyfileobj(data, stdout, 1 << 20)
    stdout.flush()


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write a text file through `atomic_path`: never half written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


class OutputError(OSError):
    """An output that cannot be written (no such folder, no space, no permission); the message names it."""


class atomic_path:
    """Context manager giving a temporary path beside `path`, renamed onto it on success.

    A failure to create, write or rename the temporary file is an
    `OutputError` naming `path`, the file the user asked for, not the temporary.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.temporary: Path | None = None

    def __enter__(self) -> Path:
        try:
            descriptor, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        except OSError as error:
            raise self._cannot_write(error) from None
        os.close(descriptor)
        self.temporary = Path(name)
        return self.temporary

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self.temporary is not None
        if exc_type is not None:
            self.temporary.unlink(missing_ok=True)
            if isinstance(exc, (OSError, RuntimeError)) and str(self.temporary) in str(
                exc
            ):  # e.g. libsndfile: disk full
                raise self._cannot_write(exc) from None
            return
        try:
            with open(self.temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(self.temporary, 0o666 & ~_current_umask())  # mkstemp makes it 0600
            os.replace(self.temporary, self.path)
        except BaseException as error:  # a failed or interrupted rename leaves no temporary file behind
            self.temporary.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise self._cannot_write(error) from None
            raise

    def _cannot_write(self, error: BaseException) -> OutputError:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        if self.temporary is not None:
            reason = reason.replace(str(self.temporary), str(self.path))
        return OutputError(f"{self.path}: cannot write ({reason})")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
