"""`aea plot latents`: a dataset's latents in 2-D or 3-D by PCA or t-SNE, coloured by label."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import counted
from .analyse import single_blas_thread
from .dataset import EncodedSet, Progress, encode_dataset, load_for_analysis, select_clips
from .stats import TSNE_MAX, AnalysisError, pca_projection, tsne_projection


@dataclass(frozen=True)
class MapFigure:
    """How a latent map is drawn and where it goes."""

    method: str  # "pca" | "tsne"
    dims: int  # 2 or 3
    split: str  # "all" (test clips marked) or one split's name
    out: Path
    fmt: str | None
    size: tuple[int, int] | None
    seed: int
    title: str | None


def latent_map(
    model_path: Path,
    data_root: Path | None,
    cache_dir: Path,
    out: Path,
    method: str = "pca",
    three_d: bool = False,
    split: str = "all",
    max_clips: int = 2000,
    fmt: str | None = None,
    size: tuple[int, int] | None = None,
    batch_size: int = 16,
    progress: Progress | None = None,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """A dataset's latents in 2-D (or 3-D) by PCA or t-SNE, coloured by label; returns the figure path."""
    if method not in ("pca", "tsne"):
        raise AnalysisError(f"unknown method {method!r}: use pca or tsne")
    checkpoint, prepared = load_for_analysis(model_path, data_root, cache_dir)
    splits = ("train", "validation", "test") if split == "all" else (split,)
    if split != "all" and split not in prepared.splits:
        raise AnalysisError(f"unknown split {split!r}: use all, train, validation or test")
    limit = min(max_clips, TSNE_MAX) if method == "tsne" else max_clips
    items = select_clips(prepared, limit, splits)
    if len(items) < 3:
        raise AnalysisError(
            f"{prepared.root}: only {counted(len(items), 'clip')} in split {split}; need at least 3 for a map"
        )
    encoded = encode_dataset(checkpoint, prepared, items, batch_size, baselines=False, progress=progress)
    figure = MapFigure(method, 3 if three_d else 2, split, out, fmt, size, seed, title)
    with single_blas_thread():
        return _draw_map(encoded, figure, Path(prepared.root).name)


def _draw_map(encoded: EncodedSet, figure: MapFigure, dataset_name: str) -> Path:
    from ..plots.latents import plot_latent_map

    labels = [encoded.label_names[i] if i >= 0 else "(none)" for i in encoded.labels]
    size_n, dims = encoded.latents.shape[1], figure.dims
    if figure.method == "pca":
        points, ratios = pca_projection(encoded.latents, dims, seed=figure.seed)
        if points.shape[1] < dims:
            raise AnalysisError(f"latent of {size_n} values has fewer than {dims} principal components")
        names = [f"PC{i + 1} ({ratios[i] * 100:.1f}% of variance)" for i in range(dims)]
    else:
        points = tsne_projection(encoded.latents, dims, seed=figure.seed)
        names = [f"t-SNE {i + 1}" for i in range(dims)]
    where = "" if figure.split == "all" else f", {figure.split} split"
    method = "PCA" if figure.method == "pca" else "t-SNE"
    title = figure.title or f"Latents of {dataset_name} by {method} (N = {size_n}, {len(encoded.latents)} clips{where})"
    return plot_latent_map(
        points,
        labels,
        figure.out,
        title,
        names,
        figure.fmt,
        figure.size,
        markers=(encoded.splits == "test") if figure.split == "all" else None,
    )
