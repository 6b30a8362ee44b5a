"""Click parameter types every command shares: finite numbers, seeds, paths that are not empty.

Click's own types let through what no command can use: `FloatRange` accepts
`nan` (no comparison with it fails) and `inf`, which surfaced much later as
"cannot convert float NaN to integer" with exit 1, or as a budget that never
ends; `int` accepts a seed that overflows numpy or torch; `Path` accepts the
empty string an unset shell variable gives (`--out "$RUN"`), which is the
current folder. These types refuse them as the flag's usage error, exit 2.
"""

from __future__ import annotations

import math
from typing import Any

import click

from ..config import MAX_SAMPLE_RATE, MAX_SEED


def flag_of(param: click.Parameter | None) -> str:
    """How the user typed `param`: its longest flag (`--out`, not `-o`), or an argument's name (`OUT`)."""
    if param is None:
        return "value"
    flags = [opt for opt in getattr(param, "opts", ()) if opt.startswith("-")]
    return max(flags, key=len) if flags else param.human_readable_name


class FiniteFloat(click.FloatRange):
    """A float option in an optional range that also refuses NaN and infinity.

    `FiniteFloat(min=0, min_open=True)`: `--seconds must be a finite number above 0, got nan`, as `aea generate`
    says for its own numbers. The range shows in `--help` as `FloatRange`'s does.
    """

    name = "float"

    def __init__(
        self, min: float | None = None, max: float | None = None, min_open: bool = False, max_open: bool = False
    ) -> None:
        super().__init__(min=min, max=max, min_open=min_open, max_open=max_open)

    def wanted(self) -> str:
        """What the option takes, in words: "a finite number above 0", "a finite number, 0 or more"."""
        bounds = []
        if self.min is not None:
            bounds.append(f"above {self.min:g}" if self.min_open else f"{self.min:g} or more")
        if self.max is not None:
            bounds.append(f"below {self.max:g}" if self.max_open else f"at most {self.max:g}")
        text = " and ".join(bounds)
        return "a finite number" + ("" if not text else f" {text}" if text.startswith("above") else f", {text}")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        low_ok = self.min is None or (number > self.min if self.min_open else number >= self.min)
        high_ok = self.max is None or (number < self.max if self.max_open else number <= self.max)
        if not (math.isfinite(number) and low_ok and high_ok):
            raise click.UsageError(f"{flag_of(param)} must be {self.wanted()}, got {value}", ctx)
        return number


POSITIVE = FiniteFloat(min=0, min_open=True)
"""A finite number above 0: a length in seconds, a budget in minutes, a learning rate."""


class WholeNumber(click.IntRange):
    """An integer option from `min` to `max`, refused in the words of the other types here (`--seed must be a whole
    number from 0 to 4294967295, got -1`), not as Click's "is not in the range"."""

    name = "integer"

    def __init__(self, min: int, max: int) -> None:
        super().__init__(min=min, max=max)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.INT.convert(value, param, ctx)
        if not self.min <= number <= self.max:  # type: ignore[operator]  # both set in __init__
            raise click.UsageError(
                f"{flag_of(param)} must be a whole number from {self.min} to {self.max}, got {value}", ctx
            )
        return number


SEED = WholeNumber(0, MAX_SEED)
"""A seed every library aea seeds takes (numpy, scikit-learn, torch): a larger one overflowed in one of them, exit 1,
after folders were made."""

SAMPLE_RATE = WholeNumber(1000, MAX_SAMPLE_RATE)
"""A sample rate `AudioConfig` takes: an absurd one was blamed on `--latent`, 0 named the config key."""


class NonEmptyPath(click.Path):
    """A path that is not the empty string: `Path('')` is the current folder, so an unset shell variable
    (`--out "$RUN"`) wrote a run, a cache or a site into whatever folder the shell was in."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            raise click.UsageError(f"{flag_of(param)}: empty path (an unset shell variable?)", ctx)
        return super().convert(value, param, ctx)
