"""Figures of latent analysis (`aea analyze`, `aea plot latents`): maps, explained variance, clusters, probes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker
import numpy as np

from .figure import COLORS, PlotError, new_figure, save_figure


def _label_colors(labels: np.ndarray | Sequence[str]) -> dict[str, Any]:
    names = sorted(set(labels))
    palette = matplotlib.colormaps.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: palette(number % palette.N) for number, name in enumerate(names)}


def plot_latent_map(
    points: np.ndarray,
    labels: np.ndarray | Sequence[str],
    path: str | Path,
    title: str,
    axis_names: Sequence[str],
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
    markers: Sequence[bool] | None = None,
) -> Path:
    """A 2-D or 3-D scatter of `points [n, 2|3]`, one colour per label with a legend.

    `markers`: per point, True draws it as a cross (e.g. test clips) instead of a dot.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] not in (2, 3) or len(points) != len(labels):
        raise PlotError(f"latent map needs points [n, 2|3] and n labels, got {list(points.shape)} and {len(labels)}")
    three = points.shape[1] == 3
    figure = new_figure(size or ((1000, 800) if three else (1000, 760)))
    axis: Any = figure.add_subplot(projection="3d" if three else None)  # an Axes3D when three; typed as Axes
    colors = _label_colors(labels)
    labels = np.asarray(labels)
    crosses = np.zeros(len(points), bool) if markers is None else np.asarray(markers, bool)
    marker_size = 22 if len(points) < 500 else 10
    for name, color in colors.items():
        legend_entry: str | None = f"{name} ({int((labels == name).sum())})"
        for cross in (False, True):
            keep = (labels == name) & (crosses == cross)
            if keep.any():  # the label's first series carries its legend entry (a label may have test clips only)
                axis.scatter(
                    *points[keep].T,
                    s=marker_size * (1.6 if cross else 1),
                    color=color,
                    marker="x" if cross else "o",
                    alpha=0.8,
                    linewidths=1 if cross else 0,
                    label=legend_entry,
                )
                legend_entry = None
    axis.set_xlabel(axis_names[0])
    axis.set_ylabel(axis_names[1])
    if three:
        axis.set_zlabel(axis_names[2])
    else:
        axis.grid(alpha=0.3)
    legend_title = "label (clips)" + ("; x: test clips" if crosses.any() else "")
    if three:
        axis.legend(title=legend_title, fontsize=8, title_fontsize=8, loc="upper left", markerscale=1.5)
    else:
        axis.legend(
            title=legend_title,
            fontsize=8,
            title_fontsize=8,
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
            markerscale=1.5,
        )
    axis.set_title(title, fontsize=11)
    return save_figure(figure, path, fmt)


def plot_explained_variance(
    ratios: np.ndarray, path: str | Path, title: str, fmt: str | None = None, size: tuple[int, int] | None = None
) -> Path:
    """Explained variance per principal component (bars) and cumulative (line), log x."""
    ratios = np.asarray(ratios, dtype=np.float64)
    figure = new_figure(size or (900, 520))
    axis = figure.add_subplot()
    components = np.arange(1, len(ratios) + 1)
    axis.plot(components, np.cumsum(ratios) * 100, color=COLORS[0], lw=2, label="cumulative")
    axis.plot(components, ratios * 100, "o-", color=COLORS[1], ms=3, lw=1, label="per component")
    for level in (50, 90, 99):
        reached = np.searchsorted(np.cumsum(ratios) * 100, level) + 1
        if reached <= len(ratios):
            axis.axhline(level, color="gray", lw=0.6, ls=":")
            axis.annotate(
                f"{level}%: {reached} comp.", (reached, level), textcoords="offset points", xytext=(4, -12), fontsize=8
            )
    axis.set_xscale("log")
    axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_xlim(0.8, len(ratios) * 1.1)
    axis.set_ylim(0, 102)
    axis.set_xlabel("principal component (log scale)")
    axis.set_ylabel("explained variance (%)")
    axis.legend(loc="center right", fontsize=8)
    axis.grid(alpha=0.3)
    axis.set_title(title, fontsize=11)
    return save_figure(figure, path, fmt)


def plot_cluster_curve(
    ks: Sequence[float],
    inertia: Sequence[float],
    silhouette: Sequence[float],
    labels_k: int | None,
    path: str | Path,
    title: str,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """k-means inertia (elbow) and silhouette against k, the label count marked."""
    figure = new_figure(size or (1000, 460))
    left, right = figure.subplots(1, 2)
    left.plot(ks, inertia, "o-", color=COLORS[0])
    left.set_ylabel("inertia (sum of squared distances)")
    left.set_title("elbow", fontsize=10, loc="left")
    right.plot(ks, silhouette, "o-", color=COLORS[1])
    right.set_ylabel("silhouette score (-1 to 1)")
    right.set_title("silhouette", fontsize=10, loc="left")
    for axis in (left, right):
        axis.set_xlabel("number of clusters k")
        axis.grid(alpha=0.3)
        if labels_k:
            axis.axvline(labels_k, color="gray", ls=":", lw=1, label=f"k = {labels_k} labels")
            axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=11)
    return save_figure(figure, path, fmt)


def plot_confusion(
    matrices: Sequence[tuple[str, np.ndarray]],
    names: Sequence[str],
    path: str | Path,
    title: str,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Confusion matrices (rows: true label, columns: predicted), row-normalised colours, counts as text."""
    count = len(matrices)
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    side = 330 + 22 * len(names)
    figure = new_figure(size or (min(columns * side + 120, 2400), rows * (side + 40) + 60))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    image = None
    for axis, (name, matrix) in zip(axes, matrices):
        matrix = np.asarray(matrix)
        share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
        image = axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
        if len(names) <= 12:
            for (i, j), value in np.ndenumerate(matrix):
                axis.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black",
                )
        axis.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(names)), names, fontsize=7)
        axis.set_xlabel("predicted label")
        axis.set_ylabel("true label")
        axis.set_title(name, fontsize=9)
    for axis in axes[count:]:
        axis.set_visible(False)
    assert image is not None  # at least one matrix drawn
    figure.colorbar(image, ax=list(axes[:count]), label="share of the true label's test clips", shrink=0.8)
    figure.suptitle(title, fontsize=11)
    return save_figure(figure, path, fmt)


def plot_latent_statistics(
    mean: np.ndarray,
    std: np.ndarray,
    near_constant: int,
    path: str | Path,
    title: str,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Histograms of the per-dimension mean and standard deviation of the latents."""
    figure = new_figure(size or (1000, 420))
    left, right = figure.subplots(1, 2)
    left.hist(mean, bins=60, color=COLORS[0])
    left.set_xlabel("mean of a latent dimension")
    left.set_ylabel("dimensions")
    left.set_title("per-dimension mean", fontsize=10, loc="left")
    positive = std[std > 0]
    if len(positive):
        bins = np.logspace(np.log10(positive.min()), np.log10(positive.max() * 1.0001 + 1e-30), 60)
        right.hist(positive, bins=bins, color=COLORS[1])
        right.set_xscale("log")
        _readable_log_ticks(right, float(positive.min()), float(positive.max()))
    right.set_xlabel("standard deviation of a latent dimension (log scale)")
    right.set_ylabel("dimensions")
    right.set_title(f"per-dimension std ({near_constant} of {len(std)} nearly constant)", fontsize=10, loc="left")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # a count of dimensions
    figure.suptitle(title, fontsize=11)
    return save_figure(figure, path, fmt)


def _readable_log_ticks(axis: Any, low: float, high: float) -> None:
    """Labels on a log x-axis that never overlap: within two decades, plain numbers at 1-2-5 steps (or evenly
    spaced within half a decade) and no minor labels, which matplotlib crowds onto a narrow range."""
    decades = math.log10(max(high, low * 1.0001) / low)
    if decades >= 2:
        return
    subs = (1.0, 2.0, 5.0)
    locator = matplotlib.ticker.MaxNLocator(nbins=4) if decades < 0.5 else matplotlib.ticker.LogLocator(subs=subs)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
