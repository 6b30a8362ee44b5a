"""The latent-size sweep figure (`aea sweep`): quality against N beside non-learned references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.ticker

from ..metric_info import HIGHER_IS_BETTER
from .figure import COLORS, METRIC_LABELS, PlotError, new_figure, save_figure


def plot_quality_vs_latent(
    rows: Sequence[Mapping[str, Any]],
    references: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | Path,
    title: str,
    proposed: int | None = None,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Quality against N (log x): one panel per metric; the models as a line with markers, the
    non-learned references (`{name: [{"latent", metric...}]}`) as dashed lines, the proposal marked."""
    if not rows:
        raise PlotError("no sweep results to plot")
    figure = new_figure(size or (1200, 800))
    axes = figure.subplots(2, 2, sharex=True).ravel()
    styles = {"resample": ("--", "s"), "frame_pca": ("-.", "^")}
    nice = {"resample": "resample to N samples (soxr)", "frame_pca": "frame PCA (512-sample frames)"}
    for axis, metric in zip(axes, ("snr_db", "si_sdr_db", "mrstft", "mel_l1")):
        label, unit = METRIC_LABELS[metric]
        ordered = sorted(rows, key=lambda r: r["latent"])
        axis.plot(
            [r["latent"] for r in ordered], [r[metric] for r in ordered], "o-", color=COLORS[0], lw=2, label="model"
        )
        for number, (name, points) in enumerate(references.items()):
            points = sorted(points, key=lambda r: r["latent"])
            style, marker = styles.get(name, (":", "d"))
            axis.plot(
                [p["latent"] for p in points],
                [p[metric] for p in points],
                style,
                marker=marker,
                ms=4,
                color=COLORS[(number + 1) % len(COLORS)],
                lw=1.3,
                label=nice.get(name, name),
            )
        if proposed is not None:
            axis.axvline(proposed, color="gray", ls=":", lw=1.2, label=f"proposed N = {proposed}")
        axis.set_xscale("log")
        sizes = sorted({int(r["latent"]) for r in rows})
        if len(sizes) == 1:  # one size: give the log axis a width (a factor of 2 either side)
            axis.set_xlim(sizes[0] / 2, sizes[0] * 2)
        axis.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(sizes))
        axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{int(round(value))}"))
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.tick_params(axis="x", labelrotation=30 if len(sizes) > 4 else 0)
        axis.set_ylabel(f"{label} ({unit})" if unit else label)
        better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        axis.set_title(f"{label} ({better} is better)", fontsize=10, loc="left")
        axis.grid(alpha=0.3, which="both")
    for axis in axes[2:]:
        axis.set_xlabel("latent size N (values per clip, log scale)")
    axes[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=12)
    return save_figure(figure, path, fmt)
