"""Analysing models: every statistic and figure per model, written as `analysis.json` and `report.md`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoints.checkpoint import Checkpoint
from ..files import make_folder, write_text_atomic
from ..jsonable import json_text, json_value_or_text
from ..pages.folders import drop_earlier_pages, refuse_report_folder
from .dataset import (
    MAX_CLIPS,
    RAW_DIMS,
    VIEW_TITLES,
    VIEWS,
    EncodedSet,
    Message,
    encode_dataset,
    load_for_analysis,
    select_clips,
    split_warning,
)
from .markdown import REPORT_HEADING, render_report
from .stats import (
    PROBE_DIMS,
    TSNE_MAX,
    AnalysisError,
    chance_levels,
    cluster_curve,
    cluster_scores,
    cluster_space,
    latent_statistics,
    nearest_other_track,
    neighbour_agreement,
    pca_projection,
    probe,
    probe_cv_all,
    reduce_dimensions,
    tsne_projection,
)


def analyse_views(
    encoded: EncodedSet,
    views: dict[str, np.ndarray],
    cv_folds: int = 5,
    seed: int = 0,
    message: Message | None = None,
    known: dict[str, Any] | None = None,
    cluster_spaces: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Probes, k-means scores and neighbour agreement for every view; views in `known` (their
    results on the same clips, e.g. the baselines for another model) are copied, not recomputed.
    `cluster_spaces`: a view's labelled clips already reduced by `cluster_space`, to reuse."""
    labelled = encoded.labels >= 0
    n_classes = len(encoded.label_names)
    train = labelled & (encoded.splits == "train")
    test = labelled & (encoded.splits == "test")
    results: dict[str, Any] = {}
    if n_classes < 2 or not train.any() or not test.any():
        return {"skipped": "needs at least two labels with training and test clips"}
    results["chance"] = chance_levels(encoded.labels[train], encoded.labels[test], n_classes)
    results["test_clips"] = int(test.sum())
    results["test_tracks"] = int(len(np.unique(encoded.tracks[test])))
    unseen = sorted(set(encoded.labels[test].tolist()) - set(encoded.labels[train].tolist()))
    if unseen:  # a probe answers only labels it was trained on: these test clips score 0 whatever the features
        results["test_labels_not_trained"] = [encoded.label_names[label] for label in unseen]
    queries = np.flatnonzero(test)
    for name, features in views.items():
        if known and name in known:
            results[name] = known[name]
            continue
        if message:
            message(f"probing {VIEW_TITLES.get(name, name)}")
        kinds = ("logistic", "tree")
        train_x, (test_x,) = reduce_dimensions(features[train], [features[test]], seed=seed)
        row: dict[str, Any] = {
            kind: probe(train_x, encoded.labels[train], test_x, encoded.labels[test], kind, n_classes, seed)
            for kind in kinds
        }
        if cv_folds >= 2:
            try:
                cv = probe_cv_all(
                    features[labelled], encoded.labels[labelled], encoded.tracks[labelled], kinds, cv_folds, seed
                )
            except AnalysisError as error:
                cv = {kind: {"skipped": str(error)} for kind in kinds}
            for kind in kinds:
                row[kind]["cv"] = cv[kind]
        space = (cluster_spaces or {}).get(name)
        try:
            row["kmeans"] = cluster_scores(
                space if space is not None else features[labelled], encoded.labels[labelled], n_classes, seed
            )
        except AnalysisError as error:  # too few clips for k clusters: the rest of the analysis still stands
            row["kmeans"] = {"skipped": str(error)}
        row["neighbour_agreement"] = neighbour_agreement(features, encoded.labels, encoded.tracks, queries)
        results[name] = row
    scored = [
        results[view]["logistic"]["cv"]
        for view in views
        if "chance_majority" in results[view]["logistic"].get("cv", {})
    ]
    if scored:  # every view is cross-validated on the same folds of the same clips: one chance for all
        cv = scored[0]
        results["cv_chance"] = {
            "majority": cv["chance_majority"],
            "majority_std": cv["chance_majority_std"],
            "uniform": cv["chance_uniform"],
            "balanced": cv["chance_balanced"],
            "folds": cv["folds"],
        }
    return results


@dataclass
class _Figures:
    """Where one model's figures go, their title prefix, and the file names drawn so far."""

    folder: Path
    fmt: str
    title: str
    names: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, path: Path) -> None:
        self.names[key] = path.name


def analyse_model(
    checkpoint: Checkpoint,
    encoded: EncodedSet,
    folder: Path,
    fmt: str = "png",
    tsne: bool = True,
    cv_folds: int = 5,
    seed: int = 0,
    message: Message | None = None,
    known_probes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every statistic and figure for one model; figures go into `folder` (`known_probes`: see `analyse_views`)."""
    make_folder(folder)
    size = encoded.latents.shape[1]
    figures = _Figures(folder, fmt, f"N = {size}")
    label_text = np.array([encoded.label_names[i] if i >= 0 else "(none)" for i in encoded.labels])
    if message:
        message(f"N = {size}: PCA")
    ratios = _draw_pca(figures, encoded, label_text, seed)
    if tsne and len(encoded.latents) >= 10:
        if message:
            message(f"N = {size}: t-SNE")
        _draw_tsne(figures, encoded, label_text, seed)
    stats = _draw_statistics(figures, encoded)
    probes, curve = _probe_and_cluster(figures, encoded, cv_folds, seed, message, known_probes)
    summary = checkpoint.info.get("summary", {})
    return {
        "model": str(checkpoint.path),
        "latent_size": size,
        "latent_layout": checkpoint.model.layout.describe(),
        "arch": checkpoint.config.model.arch,
        "kind": checkpoint.config.model.kind,
        "test_metrics": checkpoint.info.get("test", summary.get("test", {})),
        "clips": {name: int((encoded.splits == name).sum()) for name in ("train", "validation", "test")},
        "tracks": int(len(np.unique(encoded.tracks))),
        "labels": encoded.label_names,
        "pca": {
            "explained_variance": [float(r) for r in ratios],
            "components_for_90": int(np.searchsorted(np.cumsum(ratios), 0.9) + 1) if ratios.sum() >= 0.9 else None,
        },
        "kmeans_curve": curve,
        "latent_statistics": {
            "near_constant": stats["near_constant"],
            "dims": stats["dims"],
            "median_std": stats["median_std"],
            "mean_abs_mean": float(np.abs(stats["mean"]).mean()),
        },
        "probes": probes,
        "neighbours": _neighbours(encoded, label_text),
        "figures": {k: f"{folder.name}/{v}" for k, v in figures.names.items()},
    }


def _draw_pca(figures: _Figures, encoded: EncodedSet, label_text: np.ndarray, seed: int) -> np.ndarray:
    """The explained-variance chart and the 2-D and 3-D PCA maps (test clips marked); returns the variance ratios."""
    from ..plots.latents import plot_explained_variance, plot_latent_map

    coordinates, ratios = pca_projection(encoded.latents, 3, seed=seed)
    figures.add(
        "explained_variance",
        plot_explained_variance(
            ratios, figures.folder / "pca_variance", f"{figures.title}: explained variance of the latents", figures.fmt
        ),
    )
    axis_names = [f"PC{i + 1} ({ratios[i] * 100:.1f}%)" for i in range(min(3, len(ratios)))]
    if coordinates.shape[1] >= 2:
        figures.add(
            "pca_2d",
            plot_latent_map(
                coordinates[:, :2],
                label_text,
                figures.folder / "pca_2d",
                f"{figures.title}: latents on the first two principal components",
                axis_names,
                figures.fmt,
                markers=encoded.splits == "test",
            ),
        )
    if coordinates.shape[1] >= 3:
        figures.add(
            "pca_3d",
            plot_latent_map(
                coordinates,
                label_text,
                figures.folder / "pca_3d",
                f"{figures.title}: first three principal components",
                axis_names,
                figures.fmt,
            ),
        )
    return ratios


def _draw_tsne(figures: _Figures, encoded: EncodedSet, label_text: np.ndarray, seed: int) -> None:
    """A t-SNE map of up to `TSNE_MAX` clips picked at random."""
    from ..plots.latents import plot_latent_map

    pick = np.sort(np.random.default_rng(seed).permutation(len(encoded.latents))[:TSNE_MAX])
    points = tsne_projection(encoded.latents[pick], seed=seed)
    figures.add(
        "tsne",
        plot_latent_map(
            points,
            label_text[pick],
            figures.folder / "tsne",
            f"{figures.title}: t-SNE of the latents ({len(pick)} clips)",
            ["t-SNE 1", "t-SNE 2"],
            figures.fmt,
            markers=(encoded.splits == "test")[pick],
        ),
    )


def _draw_statistics(figures: _Figures, encoded: EncodedSet) -> dict[str, Any]:
    """Per-dimension latent statistics and their chart."""
    from ..plots.latents import plot_latent_statistics

    stats = latent_statistics(encoded.latents)
    figures.add(
        "latent_statistics",
        plot_latent_statistics(
            stats["mean"],
            stats["std"],
            stats["near_constant"],
            figures.folder / "latent_statistics",
            f"{figures.title}: per-dimension statistics over {len(encoded.latents)} clips",
            figures.fmt,
        ),
    )
    return stats


def _probe_and_cluster(
    figures: _Figures,
    encoded: EncodedSet,
    cv_folds: int,
    seed: int,
    message: Message | None,
    known_probes: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, list[float]] | None]:
    """Probes of every view, the k-means curve on the latents and the confusion matrices; returns (probes, curve)."""
    from ..plots.latents import plot_cluster_curve, plot_confusion

    views = encoded.views()
    labelled = encoded.labels >= 0
    n_classes = len(encoded.label_names)
    latent_space = cluster_space(encoded.latents[labelled], seed) if labelled.sum() > 3 else None
    probes = analyse_views(
        encoded,
        views,
        cv_folds,
        seed,
        message,
        known_probes,
        {"latent": latent_space} if latent_space is not None else None,
    )
    curve = None
    if n_classes >= 2 and latent_space is not None:
        ks = sorted(set(range(2, max(2 * n_classes, 10) + 1)))
        curve = cluster_curve(latent_space, ks, seed)
        figures.add(
            "kmeans_curve",
            plot_cluster_curve(
                curve["k"],
                curve["inertia"],
                curve["silhouette"],
                n_classes,
                figures.folder / "kmeans_curve",
                f"{figures.title}: k-means on the latents",
                figures.fmt,
            ),
        )
    if "latent" in probes:
        matrices = [
            (
                f"{VIEW_TITLES[v]}\n{kind} probe: accuracy {probes[v][kind]['accuracy']:.2f}",
                np.asarray(probes[v][kind]["confusion"]),
            )
            for v in views
            for kind in ("logistic",)
            if v in probes
        ]
        matrices.append(
            (
                f"{VIEW_TITLES['latent']}\ntree probe: accuracy {probes['latent']['tree']['accuracy']:.2f}",
                np.asarray(probes["latent"]["tree"]["confusion"]),
            )
        )
        figures.add(
            "confusion",
            plot_confusion(
                matrices,
                encoded.label_names,
                figures.folder / "confusion",
                f"{figures.title}: confusion matrices on the test clips",
                figures.fmt,
            ),
        )
    return probes, curve


def _neighbours(encoded: EncodedSet, label_text: np.ndarray) -> list[dict[str, Any]]:
    """The nearest clips from other tracks of up to five test clips, spread over the test split."""
    is_test = encoded.splits == "test"
    queries = (
        np.flatnonzero(is_test)[:: max(1, int(is_test.sum()) // 5)][:5]
        if is_test.any()
        else np.arange(min(5, len(encoded.latents)))
    )
    return [
        {
            "clip": encoded.names[q],
            "label": label_text[q],
            "index": int(q),
            "neighbours": [
                {"clip": encoded.names[i], "label": label_text[i], "cosine": round(s, 4), "index": int(i)}
                for i, s in found
            ],
        }
        for q, found in zip(queries, nearest_other_track(encoded.latents, queries, encoded.tracks))
    ]


def write_neighbour_audio(
    result: dict[str, Any],
    prepared: Any,
    items: Sequence[tuple[str, int]],
    folder: Path,
    sample_rate: int,
    audio_format: str = "wav",
) -> None:
    """Each neighbour list's clips as audio in `folder/listen/` (`audio` in each entry, relative to the report),
    so the page can play what "close in latent space" sounds like."""
    from ..audio import write_audio

    listen = folder / "listen"
    listen.mkdir(parents=True, exist_ok=True)
    for entry in result["neighbours"]:
        for clip in [entry, *entry["neighbours"]]:
            split, index = items[clip["index"]]
            target = listen / f"{split}-{index:05d}.{audio_format}"  # written again: a rerun may pick other clips
            write_audio(target, prepared.splits[split].clip(index), sample_rate)
            clip["audio"] = f"{folder.name}/listen/{target.name}"


def run_analysis(
    models: Sequence[Path],
    data_root: Path | None,
    cache_dir: Path,
    out_dir: Path,
    max_clips: int = MAX_CLIPS,
    batch_size: int = 16,
    tsne: bool = True,
    cv_folds: int = 5,
    fmt: str = "png",
    seed: int = 0,
    progress_factory: Callable[[str], Any] | None = None,
    message: Message | None = None,
    audio_format: str = "wav",
) -> dict[str, Any]:
    """Analyse each model on its dataset; write `out_dir/{report.md, analysis.json, index.html}` and figures.

    `progress_factory(description)` returns a context manager callable as
    `progress(done, total)` (the CLI's progress bar), or None for silence.
    """
    if not models:
        raise AnalysisError("no model to analyse")
    out_dir = Path(out_dir)
    refuse_foreign_reports(out_dir)
    drop_earlier_pages(out_dir, ("index.html", "report.md", "analysis.json"))
    make_folder(out_dir)
    started = time.perf_counter()
    session = _Session(
        data_root=data_root,
        cache_dir=cache_dir,
        out_dir=out_dir,
        max_clips=max_clips,
        batch_size=batch_size,
        tsne=tsne,
        cv_folds=cv_folds,
        fmt=fmt,
        seed=seed,
        audio_format=audio_format,
        progress_factory=progress_factory,
        message=message,
    )
    results = [_analyse_one(model_path, session) for model_path in models]
    for result, run in zip(results, run_names([result["model"] for result in results]), strict=True):
        result["run"] = run
    analysis = {
        "models": results,
        "comparison": comparison_rows(results),
        "seconds": round(time.perf_counter() - started, 1),
        "settings": {
            "max_clips": max_clips,
            "probe_dims": PROBE_DIMS,
            "raw_dims": RAW_DIMS,
            "cv_folds": cv_folds,
            "seed": seed,
        },
    }
    _write_analysis(analysis, out_dir)
    return analysis


def refuse_foreign_reports(out_dir: Path) -> None:
    """Before any work: `out_dir` may be new or an earlier analysis, never a run folder nor one holding an
    `index.html` or `report.md` that `aea analyze` did not write (`pages/folders.py`)."""
    from ..pages.analysis import ANALYSIS_TITLE

    refuse_report_folder(out_dir, ANALYSIS_TITLE, REPORT_HEADING)


def _write_analysis(analysis: dict[str, Any], out_dir: Path) -> None:
    """`analysis.json` (strict JSON: an undefined score is null), `report.md` and `index.html` in `out_dir`; the
    report's and the page's paths join `analysis`."""
    write_text_atomic(out_dir / "analysis.json", json_text(analysis, json_value_or_text, indent=2) + "\n")
    write_text_atomic(out_dir / "report.md", render_report(analysis))
    analysis["report"] = str(out_dir / "report.md")
    from ..pages.analysis import write_analysis_page

    analysis["page"] = str(write_analysis_page(analysis, out_dir / "index.html", VIEW_TITLES))


@dataclass
class _Session:
    """What the models of one `run_analysis` share: its settings, the folder names taken, baselines by clips."""

    data_root: Path | None
    cache_dir: Path
    out_dir: Path
    max_clips: int
    batch_size: int
    tsne: bool
    cv_folds: int
    fmt: str
    seed: int
    audio_format: str
    progress_factory: Callable[[str], Any] | None = None
    message: Message | None = None
    tags: set[str] = field(default_factory=set)
    # The baselines depend only on the clips: models that see the same clips share their features and probes.
    shared_baselines: dict[tuple, tuple[dict[str, np.ndarray], dict[str, Any]]] = field(default_factory=dict)

    def new_tag(self, size: int) -> str:
        """A model's folder name: `N<size>`, with `b` added while it is taken (two models of one size)."""
        tag = f"N{size}"
        while tag in self.tags:
            tag += "b"
        self.tags.add(tag)
        return tag


def _analyse_one(model_path: Path, session: _Session) -> dict[str, Any]:
    """One model: encode its dataset's clips (baselines shared with an earlier model of the same clips), analyse
    them into `OUT/<tag>/` and write the neighbour audio; returns the model's result."""
    message = session.message
    checkpoint, prepared = load_for_analysis(model_path, session.data_root, session.cache_dir)
    if message and (warning := split_warning(model_path, checkpoint, prepared)):
        message(warning)
    items = select_clips(prepared, session.max_clips)
    size = checkpoint.model.latent_size
    if message:
        message(f"{model_path}: encoding {len(items)} clips of {prepared.root} (N = {size})")
    clips_key = (str(prepared.root), prepared.split_digest(), checkpoint.config.audio, tuple(items))
    shared = session.shared_baselines.get(clips_key)
    with session.progress_factory(f"encoding N={size}") if session.progress_factory else nullcontext() as progress:
        encoded = encode_dataset(
            checkpoint, prepared, items, session.batch_size, baselines=shared is None, progress=progress
        )
    if shared is not None:
        encoded.baselines = shared[0]
    tag = session.new_tag(size)
    with single_blas_thread():
        result = analyse_model(
            checkpoint,
            encoded,
            session.out_dir / tag,
            session.fmt,
            session.tsne,
            session.cv_folds,
            session.seed,
            message,
            known_probes=shared[1] if shared is not None else None,
        )
    if shared is None:
        session.shared_baselines[clips_key] = (
            encoded.baselines,
            {view: result["probes"][view] for view in encoded.baselines if view in result["probes"]},
        )
    result["data"] = str(prepared.root)
    rate = checkpoint.config.audio.sample_rate
    write_neighbour_audio(result, prepared, items, session.out_dir / tag, rate, session.audio_format)
    return result


def single_blas_thread() -> Any:  # threadpoolctl's limiter, a context manager (untyped)
    """One thread for BLAS and OpenMP: after torch has run, its spinning OpenMP threads make
    multi-threaded OpenBLAS and scikit-learn calls (SVD, k-means) 10-30x slower on a small CPU.
    The libraries are imported first, so the limit covers every BLAS they load."""
    import scipy.linalg  # noqa: F401
    import sklearn.cluster
    import sklearn.decomposition
    import sklearn.linear_model
    import sklearn.manifold  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def run_names(checkpoints: Sequence[str]) -> list[str]:
    """What tells each model apart in a report: its run folder's name, or its checkpoint's path where two runs share
    a name (two models of one size were both "512")."""
    names = [Path(checkpoint).parent.name or checkpoint for checkpoint in checkpoints]
    return [name if names.count(name) == 1 else checkpoint for name, checkpoint in zip(names, checkpoints, strict=True)]


def comparison_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model, sorted by latent size: what the probes and clusters find in each view."""
    rows = []
    for result in sorted(results, key=lambda r: r["latent_size"]):
        probes = result["probes"]
        row = {
            "run": result["run"],
            "data": result["data"],
            "latent_size": result["latent_size"],
            "snr_db": result["test_metrics"].get("snr_db"),
            "near_constant": result["latent_statistics"]["near_constant"],
            "pca_components_for_90": result["pca"]["components_for_90"],
        }
        if "chance" in probes:
            row["chance_majority"] = probes["chance"]["majority"]
            row["chance_uniform"] = probes["chance"]["uniform"]
            row["cv_chance_majority"] = probes.get("cv_chance", {}).get("majority")
            for view in VIEWS:
                if view in probes:
                    row[f"{view}_logistic"] = probes[view]["logistic"]["accuracy"]
                    row[f"{view}_tree"] = probes[view]["tree"]["accuracy"]
                    row[f"{view}_logistic_cv"] = probes[view]["logistic"].get("cv", {}).get("accuracy")
                    row[f"{view}_homogeneity"] = probes[view]["kmeans"].get("homogeneity")
                    row[f"{view}_neighbour"] = probes[view]["neighbour_agreement"]
        rows.append(row)
    return rows
