"""The error kinds every command tells apart, in a module with no heavy imports.

The CLI turns an `InputError` into exit status 2 (bad usage or bad input)
and any other exception into 1; `SavedInterrupt` is Ctrl-C after the work
so far was saved (130). Library modules subclass these, so the CLI needs no
list of error classes and no import of the modules that raise them.

Messages speak the library's language: they name parameters and config keys
(`hop_seconds`, `model.latent`, `resume=True`), never command-line flags, so
using aea from Python gives advice that holds there. An error lists in
`settings` the names its message uses, spelt as in the message; a front end
puts its own names in their place (the CLI: `cli/flags.py`).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable

TERMINATION_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals aea takes as it takes Ctrl-C: `kill`, `timeout` and `docker stop` (SIGTERM) and a closed terminal or
ssh session (SIGHUP); Windows has neither."""


class InputError(Exception):
    """Bad usage or bad input: a file, a setting or an argument that cannot be used as given.

    `settings`: the parameter names or config keys the message names (`"hop_seconds"`,
    `"resume=True"`), so a front end can name them its own way.
    """

    def __init__(self, *args: object, settings: Iterable[str] = ()) -> None:
        super().__init__(*args)
        self.settings = tuple(settings)


class SavedInterrupt(Exception):
    """Interrupted (Ctrl-C) after saving what was done; the message says where and how to resume.

    `settings` as for `InputError`.
    """

    def __init__(self, *args: object, settings: Iterable[str] = ()) -> None:
        super().__init__(*args)
        self.settings = tuple(settings)


class ClippingWarning(UserWarning):
    """Samples beyond full scale were clipped to [-1, 1] in a written file (the file is still written).

    Outputs are 16-bit (or lossy) files, which cannot hold them. Metrics are
    computed on the unclipped signals, so the warning says where they differ
    from what a listener hears.
    """


class TruncatedAudioWarning(UserWarning):
    """An input decodes to less audio than its header says (an incomplete download): what it holds is used.

    The track is what decodes, never padded or repeated up to the header's
    length, so results and outputs are shorter than the header promised.
    """


class ChannelsCancelWarning(UserWarning):
    """An input's channels cancel when mixed to mono (one in opposite polarity): aea hears far less than a listener."""


class StaleLockWarning(UserWarning):
    """A run folder's lock was left by a process that ended without releasing it (killed); it is taken over."""


def first_line(error: BaseException) -> str:
    """An exception's message as one line: its first non-empty line, else its class name."""
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def counted(count: int | str | None, noun: str, plural: str | None = None) -> str:
    """`count` and `noun` as a message says them: "1 piece", "3 pieces", "0 tracks" (`plural`: when not noun + "s").
    A count that is not a number (a missing field read as None or "?") takes the plural."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
