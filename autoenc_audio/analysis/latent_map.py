"""`aea plot latents`: a dataset's latents in 2-D or 3-D by PCA or t-SNE, coloured by label."""

from __future__ import annotations

from pathlib import Path

from .analyse import single_blas_thread
from .dataset import Progress, encode_dataset, load_for_analysis, select_clips
from .stats import AnalysisError, TSNE_MAX, pca_projection, tsne_projection


def latent_map(model_path: Path, data_root: Path | None, cache_dir: Path, out: Path, method: str = "pca",
               three_d: bool = False, split: str = "all", max_clips: int = 2000, fmt: str | None = None,
               size: tuple[int, int] | None = None, batch_size: int = 16, progress: Progress | None = None,
               seed: int = 0, title: str | None = None) -> Path:
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
        raise AnalysisError(f"{prepared.root}: only {len(items)} clips in split {split}; need at least 3 for a map")
    encoded = encode_dataset(checkpoint, prepared, items, batch_size, baselines=False, progress=progress)
    dims = 3 if three_d else 2
    with single_blas_thread():
        return _draw_map(encoded, method, dims, seed, prepared, split, items, out, fmt, size, title)


def _draw_map(encoded, method, dims, seed, prepared, split, items, out, fmt, size, title) -> Path:
    from .. import plots

    labels = [encoded.label_names[i] if i >= 0 else "(none)" for i in encoded.labels]
    size_n = encoded.latents.shape[1]
    if method == "pca":
        points, ratios = pca_projection(encoded.latents, dims, seed=seed)
        if points.shape[1] < dims:
            raise AnalysisError(f"latent of {size_n} values has fewer than {dims} principal components")
        names = [f"PC{i + 1} ({ratios[i] * 100:.1f}% of variance)" for i in range(dims)]
    else:
        points = tsne_projection(encoded.latents, dims, seed=seed)
        names = [f"t-SNE {i + 1}" for i in range(dims)]
    where = "" if split == "all" else f", {split} split"
    title = title or f"Latents of {Path(prepared.root).name} by {method.upper() if method == 'pca' else 't-SNE'} (N = {size_n}, {len(items)} clips{where})"
    return plots.plot_latent_map(points, labels, out, title, names, fmt, size,
                                 markers=(encoded.splits == "test") if split == "all" else None)
