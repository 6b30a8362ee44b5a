"""Figures: waveforms, spectrograms, original vs reconstruction, training history, latent maps.

Every function draws one figure with matplotlib's Agg backend (no display
needed) and writes it atomically (temporary file, then rename) as PNG, SVG or
PDF, by `fmt` or else the path's extension. Figures use constrained layout,
titles, axis labels with units, legends and colour bars. Sizes are in pixels
at `DPI` dots per inch, so a PNG has exactly the requested size.

Audio arguments are mono arrays or tensors `[samples]`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import InputError
from ..files import atomic_path, standard_output
from ..metric_info import HIGHER_IS_BETTER
from ..spectra import MEL_BANDS, hz_to_mel, mel_edges, mel_filterbank, mel_to_hz, stft_power

DPI = 100
FORMATS = ("png", "svg", "pdf")
DB_FLOOR = 80.0  # dB below the loudest bin shown in spectrograms
ENVELOPE_POINTS = 4000  # longer waveforms are drawn as a min/max envelope
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


# ----------------------------------------------------------------------------- helpers


OTHER_IMAGE_SUFFIXES = {"jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "eps", "ps"}
"""Image extensions a user may type that aea does not write: refused rather than renamed."""


def figure_format(path: str | Path, fmt: str | None = None) -> str:
    """`fmt` if given, else the path's extension when it is png/svg/pdf, else png."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise PlotError(f"unknown figure format {fmt!r}: use png, svg or pdf")
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in OTHER_IMAGE_SUFFIXES:
        raise PlotError(f"{path}: {suffix} figures are not supported: use .png, .svg or .pdf")
    return suffix if suffix in FORMATS else "png"


def output_path(path: str | Path, fmt: str | None = None) -> Path:
    """Where a figure goes: `fig.png --format svg` -> `fig.svg`; `fig` -> `fig.png`."""
    path = Path(path)
    fmt = figure_format(path, fmt)
    if path.suffix.lower().lstrip(".") in FORMATS:
        return path.with_suffix(f".{fmt}")
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
    path.parent.mkdir(parents=True, exist_ok=True)
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


def spectrogram_fft(sample_rate: int) -> int:
    """An FFT size of about 46 ms (1024 at 22050 Hz, 512 at 8 kHz)."""
    return int(2 ** round(math.log2(max(sample_rate * 0.0464, 64))))


def spectrogram_db(samples: Any, sample_rate: int, scale: str = "log") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB (re the loudest bin of full scale 1.0): `(image [bins, frames], times s, freqs Hz)`.

    `scale="log"`: STFT bins (Hann, ~46 ms, hop 1/4); `scale="mel"`: the
    METRICS.md 80-band HTK mel filterbank on the same STFT, with band centre
    frequencies.
    """
    n_fft = spectrogram_fft(sample_rate)
    hop = n_fft // 4
    power = stft_power(as_array(samples), n_fft, hop)
    if scale == "mel":
        power = mel_filterbank(sample_rate, n_fft, MEL_BANDS) @ power
        freqs = mel_edges(sample_rate, MEL_BANDS)[1:-1]
    elif scale == "log":
        freqs = np.arange(power.shape[0]) * sample_rate / n_fft
    else:
        raise PlotError(f"unknown spectrogram scale {scale!r}: use log or mel")
    image = 10 * np.log10(power + 1e-10)
    times = np.arange(image.shape[1]) * hop / sample_rate
    return image.astype(np.float32), times, freqs


def _draw_spectrogram(
    axis: Axes,
    image: np.ndarray,
    times: np.ndarray,
    freqs: np.ndarray,
    vmin: float,
    vmax: float,
    scale: str,
    cmap: str = "magma",
) -> Any:
    """pcolormesh with a log (or mel-spaced) frequency axis in Hz; returns the mesh for a colour bar."""
    if scale == "log":
        keep = freqs > 0
        image, freqs = image[keep], freqs[keep]
        axis.set_yscale("log")
    step = times[1] - times[0] if len(times) > 1 else 1.0
    mesh = axis.pcolormesh(
        times + step / 2, freqs, image, shading="nearest", cmap=cmap, vmin=vmin, vmax=vmax, rasterized=True
    )
    if scale == "mel":
        axis.set_yscale("function", functions=(hz_to_mel, mel_to_hz))
        ticks = [f for f in (50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000) if freqs[0] <= f <= freqs[-1]]
        axis.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        axis.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.set_ylim(freqs[0], freqs[-1])
    axis.set_ylabel("frequency (Hz)")
    axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_hz_label))
    return mesh


def _hz_label(value: float, _position: Any) -> str:
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def _draw_waveform(
    axis: Axes,
    samples: np.ndarray,
    sample_rate: int,
    label: str | None = None,
    color: str | None = None,
    alpha: float = 1.0,
    offset_seconds: float = 0.0,
) -> None:
    """A line, or a min/max envelope for long signals (so a 30 s track stays readable and light)."""
    times = offset_seconds + np.arange(len(samples)) / sample_rate
    if len(samples) <= ENVELOPE_POINTS * 2:
        axis.plot(times, samples, color=color, lw=0.8, label=label, alpha=alpha)
        return
    step = math.ceil(len(samples) / ENVELOPE_POINTS)
    usable = len(samples) // step * step
    blocks = samples[:usable].reshape(-1, step)
    axis.fill_between(
        times[:usable:step], blocks.min(1), blocks.max(1), color=color, alpha=alpha * 0.85, lw=0, label=label
    )


def metrics_text(metrics: Mapping[str, float]) -> str:
    """`SNR 12.3 dB · SI-SDR ... · MR-STFT 1.23 · mel distance 0.45` for the metrics present."""
    parts = []
    for name, (label, unit) in METRIC_LABELS.items():
        if name in metrics and metrics[name] is not None and math.isfinite(float(metrics[name])):
            parts.append(f"{label} {float(metrics[name]):.2f}{' ' + unit if unit else ''}")
    return " · ".join(parts)


def _db_range(images: Sequence[np.ndarray]) -> tuple[float, float]:
    top = max(float(image.max()) for image in images)
    return top - DB_FLOOR, top


# ----------------------------------------------------------------------------- audio figures


def plot_waveforms(
    signals: Sequence[tuple[str, Any, int]],
    path: str | Path,
    title: str | None = None,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """One panel per `(name, samples, sample_rate)`, stacked with shared time and amplitude axes."""
    if not signals:
        raise PlotError("nothing to plot")
    arrays = [(name, as_array(samples), rate) for name, samples, rate in signals]
    size = size or (1100, 150 + 190 * len(arrays))
    figure = new_figure(size)
    axes = np.atleast_1d(figure.subplots(len(arrays), 1, sharex=True, sharey=True, squeeze=False)[:, 0])
    peak = max(float(np.abs(a).max()) for _, a, _ in arrays)
    limit = max(peak * 1.05, 1e-3)
    for number, (axis, (name, samples, rate)) in enumerate(zip(axes, arrays)):
        _draw_waveform(axis, samples, rate, color=COLORS[number % len(COLORS)])
        axis.set_title(
            f"{name}  ({len(samples) / rate:.2f} s, {rate} Hz, peak {np.abs(samples).max():.2f})",
            fontsize=9,
            loc="left",
        )
        axis.set_ylabel("amplitude")
        axis.set_ylim(-limit, limit)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, max(len(a) / r for _, a, r in arrays))
    figure.suptitle(title or ("Waveform" if len(arrays) == 1 else "Waveforms"))
    return save_figure(figure, path, fmt)


def plot_spectrograms(
    signals: Sequence[tuple[str, Any, int]],
    path: str | Path,
    scale: str = "log",
    title: str | None = None,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """One spectrogram (dB, shared colour scale and axes) per `(name, samples, sample_rate)`, stacked."""
    if not signals:
        raise PlotError("nothing to plot")
    computed = [(name, *spectrogram_db(samples, rate, scale)) for name, samples, rate in signals]
    size = size or (1100, 150 + 230 * len(computed))
    figure = new_figure(size)
    axes = figure.subplots(len(computed), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    vmin, vmax = _db_range([c[1] for c in computed])
    mesh = None
    for axis, (name, image, times, freqs) in zip(axes, computed):
        mesh = _draw_spectrogram(axis, image, times, freqs, vmin, vmax, scale)
        axis.set_title(name, fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    assert mesh is not None  # at least one signal (plot_spectrograms' callers pass some)
    figure.colorbar(mesh, ax=list(axes), label="power (dB)", shrink=0.9 if len(axes) > 1 else 1.0)
    kind = "mel spectrogram" if scale == "mel" else "spectrogram (log frequency)"
    figure.suptitle(title or kind[0].upper() + kind[1:] + ("s" if len(computed) > 1 and scale == "mel" else ""))
    return save_figure(figure, path, fmt)


def plot_compare(
    original: Any,
    reconstruction: Any,
    sample_rate: int,
    metrics: Mapping[str, float],
    path: str | Path,
    title: str | None = None,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Original vs reconstruction: waveforms overlaid (whole clip and a 50 ms zoom at the loudest
    point), both spectrograms and their difference in dB; the metrics in the title.

    Both spectrograms share one colour scale set by the louder of the two, and
    the zoom follows the reconstruction's peak when the original is silent, so
    a reconstruction of silence shows what the model added.
    """
    x, y = as_array(original), as_array(reconstruction)
    if len(x) != len(y):
        raise PlotError(f"original has {len(x)} samples but the reconstruction {len(y)}")
    figure = new_figure(size or (1400, 820))
    grid = figure.add_gridspec(2, 3, height_ratios=[1, 1.3])
    whole = figure.add_subplot(grid[0, :2])
    zoom = figure.add_subplot(grid[0, 2])
    _draw_waveform(whole, x, sample_rate, label="original", color=COLORS[0])
    _draw_waveform(whole, y, sample_rate, label="reconstruction", color=COLORS[1], alpha=0.6)
    _draw_waveform(whole, x - y, sample_rate, label="difference", color=COLORS[3], alpha=0.45)
    whole.set_xlim(0, len(x) / sample_rate)
    whole.set_xlabel("time (s)")
    whole.set_ylabel("amplitude")
    whole.set_title("waveforms", fontsize=10, loc="left")
    whole.legend(loc="upper right", fontsize=8, ncols=3)
    whole.grid(alpha=0.3)
    width = min(len(x), max(int(0.05 * sample_rate), 16))
    centre = int(np.argmax(np.abs(x if x.any() else y)))  # a silent original: the output's peak
    start = int(np.clip(centre - width // 2, 0, len(x) - width))
    for signal, label, color, alpha in ((x, "original", COLORS[0], 1.0), (y, "reconstruction", COLORS[1], 0.85)):
        zoom.plot(
            (start + np.arange(width)) / sample_rate * 1000,
            signal[start : start + width],
            lw=1.0,
            color=color,
            label=label,
            alpha=alpha,
        )
    zoom.set_xlabel("time (ms)")
    zoom.set_title(f"zoom: {width / sample_rate * 1000:.0f} ms at the peak", fontsize=10, loc="left")
    zoom.grid(alpha=0.3)
    image_x, times, freqs = spectrogram_db(x, sample_rate)
    image_y, _, _ = spectrogram_db(y, sample_rate)
    vmin, vmax = _db_range([image_x, image_y])  # one scale for both, set by the louder (a silent original shows)
    panels = []
    for column, (image, name) in enumerate(((image_x, "original"), (image_y, "reconstruction"))):
        axis = figure.add_subplot(grid[1, column])
        mesh = _draw_spectrogram(axis, image, times, freqs, vmin, vmax, "log")
        axis.set_title(f"{name} spectrogram", fontsize=10, loc="left")
        axis.set_xlabel("time (s)")
        panels.append(axis)
    figure.colorbar(mesh, ax=panels, label="power (dB)", location="right", pad=0.01)
    difference = np.clip(image_y, vmin, None) - np.clip(image_x, vmin, None)
    limit = max(float(np.percentile(np.abs(difference), 99)), 3.0)
    axis = figure.add_subplot(grid[1, 2])
    mesh = _draw_spectrogram(axis, difference, times, freqs, -limit, limit, "log", cmap="RdBu_r")
    axis.set_title("difference (reconstruction - original)", fontsize=10, loc="left")
    axis.set_xlabel("time (s)")
    figure.colorbar(mesh, ax=axis, label="dB (red: too loud, blue: missing)", pad=0.01)
    heading = title or "Original vs reconstruction"
    summary = metrics_text(metrics)
    figure.suptitle(heading + (f"\n{summary}" if summary else ""), fontsize=12)
    return save_figure(figure, path, fmt)


# ----------------------------------------------------------------------------- training history


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
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, labels, fontsize=8, loc="upper right")
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


# ----------------------------------------------------------------------------- latent maps and analysis figures


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
    right.set_xlabel("standard deviation of a latent dimension (log scale)")
    right.set_ylabel("dimensions")
    right.set_title(f"per-dimension std ({near_constant} of {len(std)} nearly constant)", fontsize=10, loc="left")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    figure.suptitle(title, fontsize=11)
    return save_figure(figure, path, fmt)


# ----------------------------------------------------------------------------- sweep figures


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


def plot_spectrogram_grid(
    panels: Sequence[tuple[str, Any]],
    sample_rate: int,
    path: str | Path,
    title: str,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
) -> Path:
    """Spectrograms of one clip (`(name, samples)` panels: original first, then each size) on one colour scale."""
    count = len(panels)
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure = new_figure(size or (min(480 * columns + 100, 2400), 300 * rows + 80))
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    computed = [(name, *spectrogram_db(samples, sample_rate)) for name, samples in panels]
    vmin, vmax = _db_range([computed[0][1]])
    mesh = None
    for axis, (name, image, times, freqs) in zip(axes, computed):
        mesh = _draw_spectrogram(axis, image, times, freqs, vmin, vmax, "log")
        axis.set_title(name, fontsize=9, loc="left")
    for axis in axes[count:]:
        axis.set_visible(False)
    for axis in axes[:count]:
        axis.set_xlabel("time (s)")
    assert mesh is not None  # at least one signal drawn
    figure.colorbar(mesh, ax=list(axes[:count]), label="power (dB)", shrink=0.85)
    figure.suptitle(title, fontsize=12)
    return save_figure(figure, path, fmt)
