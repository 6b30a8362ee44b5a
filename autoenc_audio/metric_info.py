"""The names of the reconstruction metrics, which way is better, and how numbers are printed.

Kept apart from `metrics` (which computes them with torch) so that tables,
reports and figures can be made without importing torch.
"""

from __future__ import annotations

import math
import numbers

METRIC_NAMES = ("snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db")
"""Every reported metric, in report order (METRICS.md)."""

SPECTRAL_METRIC_NAMES = ("mrstft", "mel_l1", "lsd_db")
"""The metrics computed on spectra, over a bounded window (the others are exact over any length)."""

HIGHER_IS_BETTER = {"snr_db": True, "si_sdr_db": True, "mrstft": False, "mel_l1": False, "lsd_db": False}


def format_value(value: object, digits: int = 2) -> str:
    """A number for a report or table: `digits` decimals, thousands grouped; `–` for missing or non-finite."""
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.{digits}f}" if math.isfinite(float(value)) else "–"
    return "–" if value is None else str(value)
