"""Whether a run's validation loss was still falling when it ended: the hint that more training would help.

One rule, here and nowhere else, read from the per-epoch validation losses of
`history.jsonl` (`val_loss`, the weighted training loss on the validation
clips): the summary stores its verdict, and `aea train` prints one line when
it is yes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

WINDOW_EPOCHS = 3
"""The fall is measured over at most this many last epochs: long enough to see past one noisy epoch."""

MIN_EPOCHS = 3
"""Fewer epochs give no verdict: the first epoch falls from the linear start almost always, so one step of
history (two epochs) says nothing about where training ended; three give two steps, the shortest run of the
kind a `--minutes` budget on a large folder gives."""

MIN_FALL = 0.01
"""The least relative fall over the window that counts as still falling: 1 %, about what a user sees move in
the test metrics; the last epochs of a run that has flattened under a decaying learning rate fall less."""


@dataclass(frozen=True)
class ValidationTrend:
    """How the validation loss ended: its relative fall over the last `epochs` epochs and the verdict."""

    still_improving: bool
    fall: float  # (loss `epochs` epochs before the end - last loss) / that earlier loss; negative when it rose
    epochs: int


def validation_trend(losses: Sequence[float]) -> ValidationTrend | None:
    """The verdict on per-epoch validation losses, oldest first; None with fewer than `MIN_EPOCHS` epochs.

    Still improving when both hold: the last epoch has the lowest loss of the run (training ended on its best),
    and the loss fell by at least `MIN_FALL` (relative) over the last `WINDOW_EPOCHS` epochs (fewer when the run
    is shorter: over all epochs after the first).
    """
    if len(losses) < MIN_EPOCHS:
        return None
    epochs = min(WINDOW_EPOCHS, len(losses) - 1)
    before, last = float(losses[-1 - epochs]), float(losses[-1])
    fall = (before - last) / abs(before) if before else 0.0
    ended_on_best = last < min(float(loss) for loss in losses[:-1])
    return ValidationTrend(ended_on_best and fall >= MIN_FALL, fall, epochs)


def trend_of_history(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary's fields for a run's history records: `still_improving` (true, false, or null when the run is
    too short to tell) and `validation_fall` ({"relative": fall, "epochs": window}, or null)."""
    trend = validation_trend([record["val_loss"] for record in records if "val_loss" in record])
    if trend is None:
        return {"still_improving": None, "validation_fall": None}
    return {
        "still_improving": trend.still_improving,
        "validation_fall": {"relative": round(trend.fall, 6), "epochs": trend.epochs},
    }
