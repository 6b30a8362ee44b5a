"""The names of the reconstruction metrics, which way is better, and how numbers are printed.

Kept apart from `metrics` (which computes them with torch) so that tables,
reports and figures can be made without importing torch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

METRIC_NAMES = ("snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db")
"""Every reported metric, in report order (METRICS.md)."""

SPECTRAL_METRIC_NAMES = ("mrstft", "mel_l1", "lsd_db")
"""The metrics computed on spectra, over a bounded window (the others are exact over any length)."""

HIGHER_IS_BETTER = {"snr_db": True, "si_sdr_db": True, "mrstft": False, "mel_l1": False, "lsd_db": False}


def accuracy_interval(tracks: int) -> float:
    """Roughly the half-width of a 95 % interval on an accuracy over test clips from `tracks` tracks, when the
    clips of one track agree (each track counts once): what the analysis report and page print as `±`."""
    return 1.96 * math.sqrt(0.25 / max(tracks, 1))


PLAIN_INTEGER_KEYS = frozenset({"seed", "sample_rate", "rate"})
"""Keys whose integers are identifiers or settings a user pastes back into a command (`--seed 867507072`):
printed without thousands separators, which `--seed` would reject. Counts (clips, steps, parameters) stay grouped."""


def format_value(value: object, digits: int = 2, key: str | None = None) -> str:
    """A number for a report or table: `digits` decimals, thousands grouped; `–` for missing or non-finite.
    `key`: the name the value is shown under; integers of `PLAIN_INTEGER_KEYS` print ungrouped."""
    if isinstance(value, numbers.Integral):
        return str(int(value)) if key in PLAIN_INTEGER_KEYS else f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.{digits}f}" if math.isfinite(float(value)) else "–"
    return "–" if value is None else str(value)


def held_out_split(summary: Mapping[str, Any]) -> str:
    """Which split a summary's "test" metrics were measured on: "validation" when the data had no test track
    (training then tests on the validation clips), so the page does not call validation numbers test numbers.
    A summary written before `held_out_split` was recorded says so by its test split having no track."""
    recorded = summary.get("held_out_split")
    if recorded:
        return str(recorded)
    tracks = (summary.get("data") or {}).get("tracks") or {}
    return "validation" if tracks.get("test") == 0 and summary.get("test") else "test"
