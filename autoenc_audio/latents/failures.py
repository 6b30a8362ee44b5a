"""How inputs fail and how progress and failures are reported back to the caller."""

from __future__ import annotations

from collections.abc import Callable

from ..audio import AudioError
from ..errors import InputError

Progress = Callable[[int, int], None]
OnError = Callable[[str, BaseException], None]

INPUT_FAILURES: tuple[type[BaseException], ...] = (AudioError, FileNotFoundError, PermissionError, IsADirectoryError)
"""Errors that make one input unusable; with many inputs such an input is reported and skipped."""


class LatentError(InputError):
    """Latents or inputs that cannot be used as asked (wrong size, nothing usable); exit 2 in the CLI."""


class LatentSizeError(LatentError, ValueError):
    """A latent of another size than the model's."""


class NoUsableInput(LatentError):
    """Every input failed; each was already reported through `on_error`."""


def renamed_error(error: BaseException, source: str, name: str) -> BaseException:
    """`error` with the input's path replaced by the name it is reported by (stdin's temporary file)."""
    return AudioError(str(error).replace(source, name)) if name != source and isinstance(error, AudioError) else error


def report_failure(on_error: OnError | None, source: str, error: BaseException) -> None:
    """Pass a failed input to `on_error`, or raise it when there is no `on_error`."""
    if on_error is None:
        raise error
    on_error(source, error)
