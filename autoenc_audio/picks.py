"""Evenly spread picks: which items of a long sequence stand for all of it."""

from __future__ import annotations

import numpy as np


def evenly_spread(total: int, count: int, rounded: bool = True) -> np.ndarray:
    """`min(count, total)` distinct indices `[picks]` from 0 to `total - 1`, both ends included, evenly spaced.

    `rounded=False` truncates instead of rounding: the clips the training start and latent statistics were
    always taken from, so that trained weights stay reproducible.
    """
    positions = np.linspace(0, total - 1, min(total, count))
    return (positions.round() if rounded else positions).astype(int)
