"""The error kinds every command tells apart, in a module with no heavy imports.

The CLI turns an `InputError` into exit status 2 (bad usage or bad input)
and any other exception into 1; `SavedInterrupt` is Ctrl-C after the work
so far was saved (130). Library modules subclass these, so the CLI needs no
list of error classes and no import of the modules that raise them.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad usage or bad input: a file, a setting or an argument that cannot be used as given."""


class SavedInterrupt(Exception):
    """Interrupted (Ctrl-C) after saving what was done; the message says where and how to resume."""


class ClippingWarning(UserWarning):
    """Samples beyond full scale were clipped to [-1, 1] in a written file (the file is still written).

    Outputs are 16-bit (or lossy) files, which cannot hold them. Metrics are
    computed on the unclipped signals, so the warning says where they differ
    from what a listener hears.
    """


def first_line(error: BaseException) -> str:
    """An exception's message as one line: its first non-empty line, else its class name."""
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__
