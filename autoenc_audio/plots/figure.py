"""What every figure shares: the Agg backend, sizes in pixels, formats, atomic writes, audio as arrays.

Every function in `plots/` draws one figure with matplotlib's Agg backend (no
display needed) and writes it atomically (temporary file, then rename) as PNG,
SVG or PDF, by `fmt` or else the path's extension. Figures use constrained
layout, titles, axis labels with units, legends and colour bars. Sizes are in
pixels at `DPI` dots per inch, so a PNG has exactly the requested size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..files import atomic_path, make_folder, standard_output

DPI = 100
FORMATS = ("png", "svg", "pdf")
COLORS = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
METRIC_LABELS = {
    "snr_db": ("SNR", "dB"),
    "si_sdr_db": ("SI-SDR", "dB"),
    "mrstft": ("MR-STFT", ""),
    "mel_l1": ("mel distance", ""),
    "lsd_db": ("LSD", "dB"),
}


class PlotError(InputError, ValueError):
    """A figure that cannot be drawn from the given inputs."""


OTHER_IMAGE_SUFFIXES = {"jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "eps", "ps"}
"""Image extensions a user may type that aea does not write: refused rather than renamed."""


def figure_format(path: str | Path, fmt: str | None = None) -> str:
    """`fmt` if given, else the path's extension when it is png/svg/pdf, else png.

    PlotError for an image extension aea does not write (`.jpg`), and for a `fmt` other than the one the
    extension names (`fig.svg` with fmt png): either way the file written would not be the one named.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in OTHER_IMAGE_SUFFIXES:
        raise PlotError(f"{path}: {suffix} figures are not supported: use .png, .svg or .pdf")
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise PlotError(f"unknown figure format {fmt!r}: use png, svg or pdf")
        if suffix in FORMATS and suffix != fmt:
            raise PlotError(f"{path}: the extension says {suffix}, the format asked for is {fmt}; give one")
        return fmt
    return suffix if suffix in FORMATS else "png"


def output_path(path: str | Path, fmt: str | None = None) -> Path:
    """Where a figure goes: the path itself when it ends in .png, .svg or .pdf; else with the format's extension
    added (`fig` -> `fig.png`, `fig` with fmt svg -> `fig.svg`)."""
    path = Path(path)
    fmt = figure_format(path, fmt)
    if path.suffix.lower().lstrip(".") in FORMATS:
        return path
    return path.with_name(path.name + f".{fmt}")


def new_figure(size: tuple[int, int]) -> Figure:
    """A figure of `size` = (width, height) pixels with constrained layout."""
    width, height = size
    if width < 200 or height < 150:
        raise PlotError(f"figure size {width}x{height} is too small (at least 200x150 pixels)")
    return Figure(
        figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained"
    )  # no pyplot: nothing global to close


def save_figure(figure: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Write `figure` atomically (or to stdout for `-`); returns the path written."""
    fmt = figure_format(path, fmt)
    if str(path) == "-":
        stdout = standard_output()
        figure.savefig(stdout, format=fmt, dpi=DPI)
        stdout.flush()
        return Path("-")
    path = output_path(path, fmt)
    make_folder(path.parent)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format=fmt, dpi=DPI)
    return path


def as_array(samples: Any) -> np.ndarray:
    """A mono float32 array `[samples]` from a tensor or array (`[1, samples]` and `[1, 1, samples]` too)."""
    if hasattr(samples, "detach"):  # a torch tensor, without importing torch
        samples = samples.detach().float().cpu().numpy()
    array = np.asarray(samples, dtype=np.float32)
    array = array.reshape(-1) if array.ndim > 1 and array.size == max(array.shape) else array
    if array.ndim != 1:
        raise PlotError(f"expected mono audio [samples], got shape {list(array.shape)}")
    if array.size == 0:
        raise PlotError("no samples to plot")
    if not np.isfinite(array).all():
        raise PlotError("audio contains NaN or infinite samples")
    return array
