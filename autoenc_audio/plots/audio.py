"""Audio figures: waveforms, spectrograms, original vs reconstruction, a grid of one clip's spectrograms.

Audio arguments are mono arrays or tensors `[samples]`; the rules every figure
follows are in `plots/figure.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.colors
import matplotlib.ticker
import numpy as np
from matplotlib.axes import Axes

from ..audio import SILENCE_PEAK
from ..errors import counted
from ..spectra import MEL_BANDS, hann_window, hz_to_mel, mel_edges, mel_filterbank, mel_to_hz, stft_power
from .figure import COLORS, METRIC_LABELS, PlotError, as_array, new_figure, save_figure
from .pooled import SpacedLocator, cell_edges, draw_pooled

DB_FLOOR = 80.0  # dB below the loudest bin shown in spectrograms
POWER_FLOOR = 1e-10  # added to the power before taking dB: silence is drawn at -100 dB
SILENCE_DB = 10 * math.log10(POWER_FLOOR)
ENVELOPE_POINTS = 4000  # longer waveforms are drawn as a min/max envelope


def spectrogram_fft(sample_rate: int) -> int:
    """An FFT size of about 46 ms (1024 at 22050 Hz, 512 at 8 kHz)."""
    return int(2 ** round(math.log2(max(sample_rate * 0.0464, 64))))


def spectrogram_db(samples: Any, sample_rate: int, scale: str = "log") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dBFS: `(image [bins, frames], times s, freqs Hz)`.

    0 dB is the peak bin of a full-scale sine (amplitude 1.0), whatever the
    sample rate and FFT size: |STFT| is divided by sum(window) / 2, so a
    -6 dBFS tone reads about -6 dB at 8 kHz as at 48 kHz. `scale="log"`: STFT
    bins (Hann, ~46 ms, hop 1/4); `scale="mel"`: the METRICS.md 80-band HTK
    mel filterbank on the same STFT, with band centre frequencies.
    """
    n_fft = spectrogram_fft(sample_rate)
    hop = n_fft // 4
    full_scale = (float(hann_window(n_fft).sum()) / 2) ** 2  # a unit sine's peak bin power
    power = stft_power(as_array(samples), n_fft, hop) / full_scale
    if scale == "mel":
        power = mel_filterbank(sample_rate, n_fft, MEL_BANDS) @ power
        freqs = mel_edges(sample_rate, MEL_BANDS)[1:-1]
    elif scale == "log":
        freqs = np.arange(power.shape[0]) * sample_rate / n_fft
    else:
        raise PlotError(f"unknown spectrogram scale {scale!r}: use log or mel")
    image = 10 * np.log10(power + POWER_FLOOR)
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
    span: tuple[float, float] | None = None,
    signed: bool = False,
) -> Any:
    """The image pooled onto the axes' pixels (so no tone is dropped: see `plots/pooled.py`) with a log (or
    mel-spaced) frequency axis in Hz over `span` (default: its own frequencies); returns the mesh for a colour
    bar. `signed` (a difference) keeps, per pixel, the value farthest from 0 rather than the largest."""
    if scale == "log":
        keep = freqs > 0
        image, freqs = image[keep], freqs[keep]
        axis.set_yscale("log")
    step = times[1] - times[0] if len(times) > 1 else 1.0
    time_edges = np.append(times, times[-1] + step).astype(np.float64)  # frame k drawn from its start to the next
    mesh = draw_pooled(axis, image, time_edges, cell_edges(freqs.astype(np.float64)), signed=signed, cmap=cmap)
    mesh.set_clim(vmin, vmax)
    mesh.set_rasterized(True)
    _frequency_axis(axis, span or frequency_span(freqs, scale), scale)
    return mesh


def frequency_span(freqs: np.ndarray, scale: str) -> tuple[float, float]:
    """The lowest and highest frequency a spectrogram draws (log scale: from the first bin above 0 Hz)."""
    drawn = freqs[freqs > 0] if scale == "log" else freqs
    return float(drawn[0]), float(drawn[-1])


def _frequency_axis(axis: Axes, span: tuple[float, float], scale: str) -> None:
    if scale == "mel":
        axis.set_yscale("function", functions=(hz_to_mel, mel_to_hz))
        ticks = [f for f in (50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000) if span[0] <= f <= span[1]]
        axis.yaxis.set_major_locator(SpacedLocator(ticks))  # no overlapping labels
        axis.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.set_ylim(*span)
    axis.set_ylabel("frequency (Hz)")
    axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_hz_label))


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
    """A line, or a min/max envelope for long signals (so a 30 s track stays readable and light).

    The envelope's edge is drawn too, at the full `alpha`: a click one block
    wide is narrower than a pixel and would otherwise show as a faint hairline.
    The grid goes behind the data, so a click on a grid line stays visible.
    """
    axis.set_axisbelow(True)
    times = offset_seconds + np.arange(len(samples)) / sample_rate
    if len(samples) <= ENVELOPE_POINTS * 2:
        axis.plot(times, samples, color=color, lw=0.8, label=label, alpha=alpha)
        return
    step = math.ceil(len(samples) / ENVELOPE_POINTS)
    usable = len(samples) // step * step
    blocks = samples[:usable].reshape(-1, step)
    shade = color or COLORS[0]
    axis.fill_between(
        times[:usable:step],
        blocks.min(1),
        blocks.max(1),
        facecolor=matplotlib.colors.to_rgba(shade, alpha * 0.85),
        edgecolor=matplotlib.colors.to_rgba(shade, alpha),
        lw=0.8,
        label=label,
    )


def metrics_text(metrics: Mapping[str, float]) -> str:
    """`SNR 12.3 dB · SI-SDR ... · MR-STFT 1.23 · mel distance 0.45` for the metrics present."""
    parts = []
    for name, (label, unit) in METRIC_LABELS.items():
        if name in metrics and metrics[name] is not None and math.isfinite(float(metrics[name])):
            parts.append(f"{label} {float(metrics[name]):.2f}{' ' + unit if unit else ''}")
    return " · ".join(parts)


def _db_range(images: Sequence[np.ndarray]) -> tuple[float, float]:
    """`DB_FLOOR` dB below the loudest bin; when every bin is silence, silence at the bottom (the darkest colour),
    not at the top, where the loudest bin would put it."""
    top = max(float(image.max()) for image in images)
    if top <= SILENCE_DB + 1e-6:
        top = SILENCE_DB + DB_FLOOR
    return top - DB_FLOOR, top


def _spectrogram_panel(
    name: str, samples: Any, rate: int, scale: str
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """`(title, image, times, freqs)` of one named signal; one shorter than a hop (a single frame) is refused."""
    array = as_array(samples)
    hop = spectrogram_fft(rate) // 4
    if len(array) < hop:
        raise PlotError(
            f"{name}: {counted(len(array), 'sample')} is too short for a spectrogram: at least {hop} ({hop / rate * 1000:.0f} ms at {rate} Hz)"
        )
    silent = float(np.abs(array).max()) < SILENCE_PEAK
    return (name + ("  (silent)" if silent else ""), *spectrogram_db(array, rate, scale))


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
    """One spectrogram (dB, shared colour scale and axes) per `(name, samples, sample_rate)`, stacked.

    The frequency axis spans the widest signal, so files at different rates line up
    and a lower-rate panel shows, blank above its Nyquist frequency, what it lacks.
    """
    if not signals:
        raise PlotError("nothing to plot")
    computed = [_spectrogram_panel(name, samples, rate, scale) for name, samples, rate in signals]
    size = size or (1100, 150 + 230 * len(computed))
    figure = new_figure(size)
    axes = figure.subplots(len(computed), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    vmin, vmax = _db_range([c[1] for c in computed])
    spans = [frequency_span(c[3], scale) for c in computed]
    span = min(low for low, _ in spans), max(high for _, high in spans)
    top_rate = max(rate for _, _, rate in signals)
    mesh = None
    for axis, (name, image, times, freqs), (_, _, rate) in zip(axes, computed, signals):
        mesh = _draw_spectrogram(axis, image, times, freqs, vmin, vmax, scale, span=span)
        below = f"  ({rate} Hz: nothing above {rate / 2000:g} kHz)" if rate < top_rate else ""
        axis.set_title(name + below, fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    assert mesh is not None  # at least one signal (plot_spectrograms' callers pass some)
    figure.colorbar(mesh, ax=list(axes), label="power (dBFS)", shrink=0.9 if len(axes) > 1 else 1.0)
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
    figure.colorbar(mesh, ax=panels, label="power (dBFS)", location="right", pad=0.01)
    difference = np.clip(image_y, vmin, None) - np.clip(image_x, vmin, None)
    limit = max(float(np.percentile(np.abs(difference), 99)), 3.0)
    axis = figure.add_subplot(grid[1, 2])
    mesh = _draw_spectrogram(axis, difference, times, freqs, -limit, limit, "log", cmap="RdBu_r", signed=True)
    axis.set_title("difference (reconstruction - original)", fontsize=10, loc="left")
    axis.set_xlabel("time (s)")
    figure.colorbar(mesh, ax=axis, label="dB (red: too loud, blue: missing)", pad=0.01)
    heading = title or "Original vs reconstruction"
    summary = metrics_text(metrics)
    figure.suptitle(heading + (f"\n{summary}" if summary else ""), fontsize=12)
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
    figure.colorbar(mesh, ax=list(axes[:count]), label="power (dBFS)", shrink=0.85)
    figure.suptitle(title, fontsize=12)
    return save_figure(figure, path, fmt)
