"""One writer at a time in a run folder: a lock file holding its owner's pid.

`aea train` and `aea train-prior` write checkpoints into a run folder; two at
once would overwrite each other's files. `hold_run(folder, task)` takes
`FOLDER/aea.lock` with `fcntl.flock`, which the kernel lets go of when the
process ends in any way (Ctrl-C, an exception, kill -9), and writes the
owner's pid and task into it, for the message a second process gets. The file
is removed on exit; one left by a killed process is taken over with a
`StaleLockWarning`. Without flock (not on this system, or not on this
filesystem) the pid alone decides: a lock whose process is alive is refused.
A holder that launches processes to work in its folder (`aea train --nproc`
starting torchrun's ranks) gives them `holder_environment`, and they find
the folder already theirs instead of waiting for a lock it never lets go.
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..errors import StaleLockWarning
from ..files import OutputError, cannot_write, make_folder
from .folder import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the pid alone decides
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "aea.lock"
HOLDER_VARIABLE = "AEA_RUN_LOCK_HOLDER"
"""`PID:LOCK_PATH`, set by a holder for the processes it launches (`holder_environment`)."""
ATTEMPTS = 10
"""Tries at taking the lock when its file is removed between opening and locking it (its owner ending)."""


class RunBusyError(RunError):
    """The run folder is in use by another aea process; the message names the folder and the owner's pid."""


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of a run folder."""
    return Path(folder) / LOCK_NAME


@contextlib.contextmanager
def hold_run(folder: str | os.PathLike, task: str) -> Iterator[Path]:
    """Hold `folder` (created when missing) for this process while the block runs, `task` saying for what.

    RunBusyError when another process holds it. The lock file is removed on
    leaving the block, whatever ends it, and so is the folder when this call
    created it and nothing was written into it.
    """
    folder = Path(folder)
    created = not folder.exists()
    path = lock_path(folder)
    if _held_by_launcher(path):  # a torchrun rank its holder started: the holder keeps and removes the lock
        yield path
        return
    try:
        make_folder(folder)
        descriptor = _acquire(path, folder)
    except OutputError:
        raise  # a part of the folder that is a file: named as it is, not the lock file
    except OSError as error:  # no permission, no space for the file
        raise cannot_write(path, error) from None
    try:
        _write_owner(descriptor, task)
        yield path
    finally:
        # still locked: one who opened it meanwhile sees it gone (`_same_file`); a file that cannot be removed is
        # left for the next holder to take over as stale, and its descriptor closed all the same (the lock goes)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        os.close(descriptor)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()


def holder_environment(path: str | os.PathLike) -> dict[str, str]:
    """What a holder of lock file `path` puts in the environment of the processes it launches to work there."""
    return {HOLDER_VARIABLE: f"{os.getpid()}:{Path(path).resolve()}"}


def _held_by_launcher(path: Path) -> bool:
    """This process was launched by the holder of `path`: `HOLDER_VARIABLE` names this lock file and the pid
    written in it, and that process (not this one) is alive."""
    pid, _, held = os.environ.get(HOLDER_VARIABLE, "").partition(":")
    if not pid.isdigit() or int(pid) == os.getpid() or held != str(path.resolve()):
        return False
    try:
        owner = path.read_text().partition("\n")[0].strip()
    except OSError:
        return False
    return owner == pid and _alive(int(pid))


def _acquire(path: Path, folder: Path) -> int:
    """An open descriptor of `path`, locked; retried when the file was replaced while we locked it."""
    for _ in range(ATTEMPTS):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = _flock(descriptor)
            previous = _read_owner(descriptor)  # after locking: a holder has had the time to write its pid
            decided_by_pid = locked is None
            if locked is None:
                locked = previous[0] is None or not _alive(previous[0])
            if not locked:
                # a pid that alone decided may be another program's now; a dead one's lock is held by its children
                stale = decided_by_pid or (previous[0] is not None and not _alive(previous[0]))
                raise RunBusyError(_busy_message(folder, previous, may_be_stale=stale))
        except BaseException:
            os.close(descriptor)
            raise
        if _same_file(descriptor, path):
            if previous[0] is not None:
                _warn_stale(folder, previous)
            return descriptor
        os.close(descriptor)
    raise RunBusyError(
        f"{folder}: its lock file keeps changing: another aea process is starting or ending there; "
        f"{_deleting_is_safe(folder)}"
    )


def _flock(descriptor: int) -> bool | None:
    """Lock `descriptor` without waiting: True, False when another process holds it, None without flock here."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        return False if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) else None
    return True


def _same_file(descriptor: int, path: Path) -> bool:
    """`descriptor` is still the file at `path` (its owner did not remove it between our open and lock)."""
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (always assumed where signal 0 cannot ask: os.kill would end it on Windows)."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _read_owner(descriptor: int) -> tuple[int | None, str]:
    """The pid and task written in the lock file (None and "" when it holds none)."""
    os.lseek(descriptor, 0, os.SEEK_SET)
    text = os.read(descriptor, 256).decode("utf-8", "replace")
    first, _, task = text.partition("\n")
    return (int(first) if first.strip().isdigit() else None), task.strip()


def _write_owner(descriptor: int, task: str) -> None:
    """Our pid and task, for another process's message; a full disk leaves the file empty, the lock still held."""
    with contextlib.suppress(OSError):
        os.ftruncate(descriptor, 0)
        os.lseek(descriptor, 0, os.SEEK_SET)
        os.write(descriptor, f"{os.getpid()}\n{task}\n".encode())


def _busy_message(folder: Path, owner: tuple[int | None, str], may_be_stale: bool = False) -> str:
    """The refusal; for a lock that may be stale, what to do once no aea process runs."""
    pid, task = owner
    who = f"pid {pid}" if pid is not None else "a process that has not written its pid yet"
    doing = f", {task}" if task else ""
    message = f"{folder}: in use by another aea process ({who}{doing}); wait for it to end, or use another run folder"
    return f"{message}; {_deleting_is_safe(folder)}" if may_be_stale else message


def _deleting_is_safe(folder: Path) -> str:
    return f"once no aea process runs, deleting {lock_path(folder)} is safe"


def _warn_stale(folder: Path, owner: tuple[int | None, str]) -> None:
    pid, task = owner
    doing = f" ({task})" if task else ""
    warnings.warn(
        StaleLockWarning(f"{folder}: taking over the lock left by pid {pid}{doing}, which ended without releasing it"),
        stacklevel=2,
    )
