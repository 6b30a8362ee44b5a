"""A spectrogram mesh pooled onto the pixels it is drawn on, so no bin is dropped.

A 48 kHz spectrogram has 1024 bins; on a log frequency axis the top octave
alone holds half of them in a few dozen pixel rows. Drawn bin by bin, the
rasteriser keeps about one bin per pixel row and a steady 15 kHz tone, one or
two bins wide, vanishes. `PooledMesh` instead resamples its image, each time it
is drawn, onto the axes' pixel grid: every pixel row (and column) shows the
loudest bin it covers (the most extreme, for a signed difference), and where
pixels are finer than bins (low frequencies) the bin it lies in, as before.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import allow_rasterization
from matplotlib.axes import Axes
from matplotlib.axes._base import _AxesBase
from matplotlib.collections import QuadMesh
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FixedLocator


def cell_edges(centres: np.ndarray, first: float | None = None, last: float | None = None) -> np.ndarray:
    """Edges of cells around `centres` (midpoints between them), the outer ones half a step out unless given."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5] if first is None else [first, last], dtype=np.float64)
    middle = (centres[1:] + centres[:-1]) / 2
    low = centres[0] - (middle[0] - centres[0]) if first is None else first
    high = centres[-1] + (centres[-1] - middle[-1]) if last is None else last
    return np.concatenate([[low], middle, [high]]).astype(np.float64)


def pool(image: np.ndarray, edges: np.ndarray, targets: np.ndarray, signed: bool = False) -> np.ndarray:
    """`image [cells, ...]` with cells between `edges` resampled onto the cells between `targets` (both rising):
    each target cell takes the largest value of the cells it overlaps (signed: the value farthest from 0),
    NaN where it overlaps none."""
    first = np.clip(np.searchsorted(edges, targets[:-1], side="right") - 1, 0, None)
    last = np.minimum(np.searchsorted(edges, targets[1:], side="left"), len(edges) - 1)  # exclusive
    pooled = np.full((len(targets) - 1, *image.shape[1:]), np.nan, dtype=np.float64)
    for row, (start, stop) in enumerate(zip(first, last)):
        if stop > start:
            block = image[start:stop]
            high, low = block.max(0), block.min(0)
            pooled[row] = np.where(-low > high, low, high) if signed else high
    return pooled


def _pixel_edges(axes: _AxesBase, which: str, count: int) -> np.ndarray:
    """`count + 1` data values evenly spaced in the axis' scale (log, mel, linear) across its view."""
    axis = axes.yaxis if which == "y" else axes.xaxis
    scale = axis.get_transform()
    low, high = sorted(axes.get_ylim() if which == "y" else axes.get_xlim())
    ends = scale.transform(np.array([low, high]))
    edges = np.asarray(scale.inverted().transform(np.linspace(ends[0], ends[1], count + 1)), dtype=np.float64)
    edges[0], edges[-1] = low, high
    return edges


class PooledMesh(QuadMesh):
    """A `[bins, frames]` image between `freq_edges` and `time_edges`, drawn pooled onto the axes' pixels."""

    def __init__(
        self, image: np.ndarray, time_edges: np.ndarray, freq_edges: np.ndarray, signed: bool = False, **kwargs: Any
    ) -> None:
        self.full = (np.asarray(image, dtype=np.float64), time_edges, freq_edges)
        self.signed = signed
        super().__init__(self._grid(time_edges, freq_edges), shading="flat", **kwargs)
        self.set_array(self.full[0])

    @staticmethod
    def _grid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xs, ys = np.meshgrid(x, y)
        return np.stack([xs, ys], axis=-1)

    def resample(self, rows: int, columns: int) -> None:
        """Pool the full image onto `rows` x `columns` cells spanning the axes' view."""
        assert self.axes is not None
        image, time_edges, freq_edges = self.full
        row_edges = _pixel_edges(self.axes, "y", rows)
        column_edges = _pixel_edges(self.axes, "x", columns)
        pooled = pool(image, freq_edges, row_edges, self.signed)
        pooled = pool(pooled.T, time_edges, column_edges, self.signed).T
        self._coordinates = self._grid(column_edges, row_edges)
        self.set_array(np.ma.masked_invalid(pooled))

    @allow_rasterization
    def draw(self, renderer: Any) -> None:
        if self.axes is not None and self.get_visible():
            box = self.axes.bbox
            self.resample(max(math.ceil(box.height), 1), max(math.ceil(box.width), 1))
        super().draw(renderer)


def draw_pooled(
    axes: Axes, image: np.ndarray, time_edges: np.ndarray, freq_edges: np.ndarray, signed: bool = False, **kwargs: Any
) -> PooledMesh:
    """Add a `PooledMesh` to `axes` and fit the axes' data limits to it (as pcolormesh would)."""
    mesh = PooledMesh(image, time_edges, freq_edges, signed, edgecolors="none", **kwargs)
    mesh.sticky_edges.x[:] = [float(time_edges[0]), float(time_edges[-1])]
    mesh.sticky_edges.y[:] = [float(freq_edges[0]), float(freq_edges[-1])]
    axes.add_collection(mesh, autolim=False)
    axes.update_datalim([(time_edges[0], freq_edges[0]), (time_edges[-1], freq_edges[-1])])
    axes._request_autoscale_view()  # type: ignore[attr-defined]  # as pcolormesh does: limits at draw time
    return mesh


class SpacedLocator(FixedLocator):
    """Fixed y ticks, leaving out those closer than a label's height to the one above them (kept top down)."""

    def __call__(self) -> Any:
        ticks = list(super().__call__())
        axes = getattr(self.axis, "axes", None)
        if not isinstance(axes, Axes) or len(ticks) < 2:
            return ticks
        size = FontProperties(size=matplotlib.rcParams["ytick.labelsize"]).get_size_in_points()
        gap = size * axes.figure.dpi / 72 * 1.1
        pixels = axes.transData.transform(np.column_stack([np.zeros(len(ticks)), ticks]))[:, 1]
        kept: list[float] = []
        last = math.inf
        for tick, pixel in sorted(zip(ticks, pixels), key=lambda pair: -pair[1]):
            if last - pixel >= gap:
                kept.append(tick)
                last = pixel
        return sorted(kept)
