"""Files written safely: atomic writes (temporary file, then rename), text files, standard output.

Every output aea writes (audio, latents, checkpoints, figures, reports) goes
through `atomic_path`, so an interrupted write never leaves half a file, and
`-` goes through `standard_output`. A full disk is an `OutputError` naming the
file and saying "no space left on device", whichever library was writing:
libsndfile says only "System error" and torch an internal position mismatch,
so a failed write on a filesystem with (almost) nothing left counts as one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeAlias

from .errors import InputError

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


def refuse_overwriting_inputs(outputs: Iterable[PathLike], inputs: Iterable[PathLike]) -> None:
    """InputError naming the first of `outputs` that is the same file as one of `inputs` (a hard link, a symlink,
    another spelling of the path): "OUT: is also an input; write the output elsewhere".

    Called by whatever writes files made from files before it reads them: the rename that ends an atomic write
    would otherwise put the result in place of the input (`-o song.wav` for the song itself), and the original
    is lost. Paths that do not exist, and `-`, are not files on disk and are passed over.
    """
    given: dict[tuple[int, int], str] = {}
    for path in inputs:
        identity = _file_identity(path)
        if identity is not None:
            given.setdefault(identity, str(path))
    for path in outputs:
        identity = _file_identity(path)
        if identity is not None and identity in given:
            source = given[identity]
            also = "" if source == str(path) else f" ({source})"
            raise InputError(f"{path}: is also an input{also}; write the output elsewhere")


def _file_identity(path: PathLike) -> tuple[int, int] | None:
    """The device and inode `path` names (links followed), which two names of one file share; None for `-`,
    a missing path or a folder."""
    if str(path) == "-":
        return None
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return None if stat.S_ISDIR(status.st_mode) else (status.st_dev, status.st_ino)


def make_folder(folder: PathLike) -> Path:
    """Make `folder` and the folders above it that are missing (`mkdir -p`); returns it as a Path.

    A part of it that is a file is an `OutputError` naming that part, "PART: not a directory" (errno ENOTDIR):
    the OS names the whole path, or says "File exists" for a file where the folder goes. Other errors (no
    permission) are the OS's own, naming the path.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (NotADirectoryError, FileExistsError):
        file = next((part for part in (*reversed(folder.parents), folder) if _is_file_like(part)), None)
        if file is None:
            raise
        worded = OutputError(f"{file}: not a directory")
        worded.errno = errno.ENOTDIR  # what a front end tells apart: a path the user gave (exit 2)
        raise worded from None
    return folder


def _is_file_like(path: Path) -> bool:
    """Whether `path` exists (a file, a dangling link) and is not a folder."""
    return os.path.lexists(path) and not os.path.isdir(path)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write a text file through `atomic_path`: never half written."""
    path = Path(path)
    make_folder(path.parent)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NO_SPACE = "no space left on device"
NEARLY_FULL_BYTES = 1 << 20
"""A write that fails without an errno while less than this is free is taken for a full disk."""


class OutputError(OSError):
    """An output that cannot be written (no such folder, no space, no permission); the message names it."""


def append_text(path: PathLike, text: str) -> None:
    """Append `text` to `path` (created if missing); an append that fails (a full disk) is cut off again,
    so a file of records never ends in half of one. OutputError naming `path`."""
    data = text.encode("utf-8")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as error:
        raise cannot_write(path, error) from None
    size = os.fstat(descriptor).st_size
    try:
        while data:
            data = data[os.write(descriptor, data) :]
    except OSError as error:
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, size)
        raise cannot_write(path, error) from None
    finally:
        os.close(descriptor)


def out_of_space(folder: PathLike, error: BaseException) -> bool:
    """Whether `error`, raised while writing into `folder`, means its filesystem is full.

    ENOSPC or EDQUOT say so; an I/O error without one (libsndfile's "System
    error", torch's "unexpected pos") does when `folder` has under 1 MiB free.
    Check before deleting the partial file, which frees what it took.
    """
    if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
        return True
    if not isinstance(error, (OSError, RuntimeError)):
        return False
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def cannot_write(path: PathLike, error: BaseException, no_space: bool = False) -> OutputError:
    """The OutputError for `path`: "PATH: cannot write (REASON)", the reason "no space left on device" for a full disk."""
    if no_space or (isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS):
        reason = NO_SPACE
    else:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    worded = OutputError(f"{path}: cannot write ({reason})")
    worded.errno = errno.ENOSPC if no_space else getattr(error, "errno", None)  # what a front end tells apart
    return worded


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
            assert exc is not None
            # before the unlink frees what the partial file took; an OutputError already names its file
            full = not isinstance(exc, OutputError) and out_of_space(self.path.parent, exc)
            self.temporary.unlink(missing_ok=True)
            if full or (isinstance(exc, (OSError, RuntimeError)) and str(self.temporary) in str(exc)):
                raise self._cannot_write(exc, full) from None
            return
        try:
            with open(self.temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(self.temporary, 0o666 & ~_current_umask())  # mkstemp makes it 0600
            os.replace(self.temporary, self.path)
        except BaseException as error:  # a failed or interrupted fsync or rename leaves no temporary file behind
            self.temporary.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise self._cannot_write(error) from None
            raise

    def discard(self) -> None:
        """Remove the temporary file of a write abandoned for a reason the caller tells (not an error of writing)."""
        if self.temporary is not None:
            self.temporary.unlink(missing_ok=True)

    def _cannot_write(self, error: BaseException, no_space: bool = False) -> OutputError:
        worded = cannot_write(self.path, error, no_space)
        if self.temporary is not None:
            worded.args = (str(worded).replace(str(self.temporary), str(self.path)),)
        return worded


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` through `atomic_path` (temporary file, fsync, rename), then fsync the folder."""
    folder = path.parent
    try:
        make_folder(folder)
        with atomic_path(path) as temporary:
            temporary.write_bytes(data)
    except OutputError:
        raise
    except OSError as error:
        raise cannot_write(path, error) from None
    try:  # make the rename itself durable; not possible everywhere (e.g. Windows)
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_with_state(path: Path, data: bytes, sidecar: Path, pending: Path, state: bytes | None) -> None:
    """Write a file and its training-state sidecar so that a failure at any point (a full disk) leaves a pair
    that matches: the new state waits at `pending` until the file is in place (old/old, or new file with the
    pending state). A failed write is an OutputError naming the file, with the old pair as it was.
    """
    if state is not None:
        write_bytes_durably(pending, state)
    try:
        write_bytes_durably(path, data)
    except BaseException:
        pending.unlink(missing_ok=True)  # the old file stays, with its own state
        raise
    if state is not None:
        try:
            os.replace(pending, sidecar)
        except OSError as error:
            raise cannot_write(sidecar, error) from None
