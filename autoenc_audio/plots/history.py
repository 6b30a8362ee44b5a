"""The training history figure: per-epoch loss and metrics of one or more runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker
import numpy as np

from .figure import COLORS, PlotError, new_figure, save_figure

HISTORY_PANELS = (
    ("loss", "train_loss", "val_loss", "loss"),
    ("SNR (dB)", None, "val_snr_db", "SNR (dB, higher is better)"),
    ("MR-STFT", "train_mrstft", "val_mrstft", "MR-STFT (lower is better)"),
    ("mel distance", None, "val_mel_l1", "mel distance (lower is better)"),
)


def plot_history(
    runs: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
    path: str | Path,
    title: str | None = None,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Per-epoch train (dashed) and validation (solid) loss and metrics; one colour per run."""
    if not runs or not any(records for _, records in runs):
        raise PlotError("no training history to plot")
    figure = new_figure(size or (1200, 780))
    axes = figure.subplots(2, 2, sharex=True).ravel()
    seen: dict[str, int] = {}
    unique = []
    for name, records in runs:
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name} #{seen[name]}", records))
    runs = unique
    for number, (name, records) in enumerate(runs):
        color = COLORS[number % len(COLORS)]
        epochs = np.array([r.get("epoch", i + 1) for i, r in enumerate(records)])
        for axis, (_, train_key, val_key, _) in zip(axes, HISTORY_PANELS):
            for key, style, role in ((train_key, "--", "train"), (val_key, "-", "validation")):
                if key is None:
                    continue
                values = np.array([float(r.get(key, np.nan)) for r in records])
                if np.isfinite(values).any():
                    axis.plot(
                        epochs,
                        values,
                        style,
                        color=color,
                        marker="o" if len(records) < 30 else None,
                        ms=3,
                        lw=1.4,
                        label=f"{name} ({role})" if len(runs) > 1 else role,
                    )
            best = [e for e, r in zip(epochs, records) if r.get("best")]
            if best and val_key == "val_loss":
                axis.axvline(best[-1], color=color, lw=0.8, ls=":", alpha=0.8)
    for axis, (_, _, _, label) in zip(axes, HISTORY_PANELS):
        axis.set_title(label, fontsize=10, loc="left")
        axis.set_ylabel(label.split(" (")[0] + (" (dB)" if "SNR" in label else ""))
        axis.grid(alpha=0.3)
    for axis in axes[2:]:
        axis.set_xlabel("epoch")
    losses = [float(r[key]) for _, rs in runs for r in rs for key in ("train_loss", "val_loss") if key in r]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 20:
        axes[0].set_yscale("log")
    for axis in axes:
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, labels, fontsize=8, loc="best")
    figure.suptitle(
        title
        or (
            "Training history"
            + ("" if len(runs) > 1 else f": {runs[0][0]}")
            + "  (dashed: train, solid: validation, dotted line: best epoch)"
        ),
        fontsize=11,
    )
    return save_figure(figure, path, fmt)
