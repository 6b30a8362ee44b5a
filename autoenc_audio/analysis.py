"""Exploratory analysis of latent vectors, with honest baselines and chance levels.

What the original assignment did (k-means homogeneity, PCA, a decision tree
on 100 test clips) is done here with statistics that say what they mean:

- views: the latent vector; the latent pooled over its time axis (mean and std
  of each latent channel over its frames, from the checkpoint's layout); the
  raw waveform (soxr-resampled to `RAW_DIMS` samples); log-mel statistics
  (mean and std over frames of each of the 80 METRICS.md mel bands, in log10).
- PCA: explained variance, 2-D/3-D maps coloured by label (t-SNE capped at
  `TSNE_MAX` points).
- k-means with k = number of labels: homogeneity, completeness, V-measure,
  adjusted Rand index; inertia and silhouette over a range of k.
- probes trained on the training split and scored on the test split (the
  training splits, by track): standardised logistic regression and a decision
  tree; accuracy with a 95 % Wilson interval, balanced accuracy, confusion
  matrix, chance levels (majority class, 1/k), and the same probes in
  cross-validation stratified by label, grouped by track, over every labelled
  clip.
  Feature sets above `PROBE_DIMS` dimensions are first reduced to `PROBE_DIMS`
  principal components fitted on the training clips (the same for every view).
- latent statistics: per-dimension mean/std, nearly constant dimensions, the
  nearest clips of a few test clips by cosine similarity (other tracks), and
  how often a test clip's nearest clip from another track has its label.

The functions on arrays (`cluster_scores`, `probe`, ...) are independent of
models and are what the tests check on synthetic latents.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .errors import InputError
from .files import write_text_atomic
from .checkpoint import Checkpoint, load_checkpoint
from .data import PreparedData, builtin_corpus, prepare_dataset
from .latents import encode_clips
from .metrics import format_value, mel_power
from .models.base import LatentLayout
from .runs import data_root_of_run

Progress = Callable[[int, int], None]
Message = Callable[[str], None]

RAW_DIMS = 4096
PROBE_DIMS = 256
CLUSTER_DIMS = 64
TSNE_MAX = 1500
MAX_CLIPS = 4000
NEAR_CONSTANT = 1e-3  # a dimension whose std is below this fraction of the median std
VIEWS = ("latent", "latent_pooled", "raw_waveform", "log_mel")
VIEW_TITLES = {
    "latent": "latent vector",
    "latent_pooled": "latent pooled over time (mean, std per channel)",
    "raw_waveform": f"raw waveform (resampled to {RAW_DIMS} samples)",
    "log_mel": "log-mel mean and std (160 values)",
}


class AnalysisError(InputError, ValueError):
    """An analysis that cannot be run on the given data."""


# ----------------------------------------------------------------------------- statistics on arrays


def reduce_dimensions(train: np.ndarray, others: Sequence[np.ndarray] = (), dims: int = PROBE_DIMS,
                      seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """PCA to at most `dims` components fitted on `train` (unchanged when already small enough)."""
    from sklearn.decomposition import PCA

    train = np.asarray(train, dtype=np.float32)
    if train.shape[1] <= dims:
        return train, [np.asarray(o, dtype=np.float32) for o in others]
    components = max(1, min(dims, len(train) - 1))
    pca = PCA(n_components=components, svd_solver=_solver(*train.shape), random_state=seed).fit(train)
    return pca.transform(train).astype(np.float32), [pca.transform(np.asarray(o, np.float32)).astype(np.float32) for o in others]


def _solver(rows: int, columns: int) -> str:
    """The cheapest exact-enough PCA solver: a full SVD for few rows, the covariance for few columns."""
    if rows <= 1000:
        return "full"
    return "covariance_eigh" if columns <= 2000 else "randomized"


def cluster_space(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """What k-means runs on: the features reduced by PCA to at most `CLUSTER_DIMS` components (a
    reduced space passes through unchanged, so it can be computed once and reused)."""
    return reduce_dimensions(features, dims=CLUSTER_DIMS, seed=seed)[0]


def cluster_scores(features: np.ndarray, labels: Sequence[int], k: int | None = None, seed: int = 0) -> dict[str, float]:
    """k-means (k = number of labels by default) against the labels: homogeneity, completeness,
    V-measure, adjusted Rand index, plus the silhouette of the clustering."""
    from sklearn.metrics import (adjusted_rand_score, completeness_score, homogeneity_score, silhouette_score,
                                 v_measure_score)

    labels = np.asarray(labels)
    k = k or len(np.unique(labels))
    if k < 2 or len(features) <= k:
        raise AnalysisError(f"k-means needs at least 2 labels and more clips than clusters (k={k}, {len(features)} clips)")
    reduced = cluster_space(features, seed)
    clusters = _kmeans(reduced, k, n_init=4, seed=seed).labels_
    silhouette = float(silhouette_score(reduced, clusters, sample_size=min(len(reduced), 2000), random_state=seed)) \
        if len(np.unique(clusters)) > 1 else float("nan")
    return {
        "k": int(k),
        "homogeneity": float(homogeneity_score(labels, clusters)),
        "completeness": float(completeness_score(labels, clusters)),
        "v_measure": float(v_measure_score(labels, clusters)),
        "adjusted_rand": float(adjusted_rand_score(labels, clusters)),
        "silhouette": silhouette,
    }


def _kmeans(points: np.ndarray, k: int, n_init: int, seed: int):
    """k-means fitted quietly: on few or tonal clips sklearn warns per fit that it found fewer
    distinct clusters than k, which the scores (and the curve's silhouette) already show."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(points)


def cluster_curve(features: np.ndarray, ks: Sequence[int], seed: int = 0) -> dict[str, list[float]]:
    """k-means inertia and silhouette for each k (features reduced to `CLUSTER_DIMS` by PCA)."""
    from sklearn.metrics import silhouette_score

    reduced = cluster_space(features, seed)
    ks = [k for k in ks if 2 <= k < len(reduced)]
    inertia, silhouette = [], []
    for k in ks:
        model = _kmeans(reduced, k, n_init=2, seed=seed)
        inertia.append(float(model.inertia_))
        silhouette.append(float(silhouette_score(reduced, model.labels_, sample_size=min(len(reduced), 2000),
                                                 random_state=seed)) if len(np.unique(model.labels_)) > 1 else float("nan"))
    return {"k": list(ks), "inertia": inertia, "silhouette": silhouette}


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if total == 0:
        return (float("nan"), float("nan"))
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def chance_levels(train_labels: Sequence[int], test_labels: Sequence[int], n_classes: int) -> dict[str, float]:
    """Accuracy of always answering the training majority class, and 1/k."""
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    values, counts = np.unique(train_labels, return_counts=True)
    majority = values[np.argmax(counts)]
    return {"majority": float(np.mean(test_labels == majority)) if len(test_labels) else float("nan"),
            "uniform": 1.0 / max(n_classes, 1)}


def _classifier(kind: str, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    if kind == "tree":
        return DecisionTreeClassifier(random_state=seed, min_samples_leaf=2)
    raise AnalysisError(f"unknown probe {kind!r}: use logistic or tree")


def probe(train_x: np.ndarray, train_y: Sequence[int], test_x: np.ndarray, test_y: Sequence[int], kind: str,
          n_classes: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Fit a `logistic` or `tree` probe on train, score on test: accuracy (with a 95 % interval),
    balanced accuracy, confusion matrix `[true, predicted]` over classes 0..n_classes-1."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    if len(np.unique(train_y)) < 2:
        raise AnalysisError("a probe needs at least two labels among the training clips")
    if len(test_y) == 0:
        raise AnalysisError("a probe needs test clips")
    n_classes = n_classes or int(max(train_y.max(), test_y.max()) + 1)
    train_x, (test_x,) = reduce_dimensions(train_x, [test_x], seed=seed)
    model = _classifier(kind, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_x, train_y)
    predicted = model.predict(test_x)
    correct = int((predicted == test_y).sum())
    low, high = wilson_interval(correct, len(test_y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        balanced = float(balanced_accuracy_score(test_y, predicted))
    return {
        "accuracy": correct / len(test_y),
        "accuracy_95": [low, high],
        "balanced_accuracy": balanced,
        "test_clips": int(len(test_y)),
        "confusion": confusion_matrix(test_y, predicted, labels=list(range(n_classes))).tolist(),
    }


def probe_cv(features: np.ndarray, labels: Sequence[int], groups: Sequence[int], kind: str, folds: int = 5,
             seed: int = 0) -> dict[str, Any]:
    """The probe in k-fold cross-validation stratified by label and grouped by track (no track on both
    sides, each label spread over the folds as evenly as its tracks allow): mean and std accuracy."""
    return probe_cv_all(features, labels, groups, (kind,), folds, seed)[kind]


def cv_splits(labels: Sequence[int], groups: Sequence[int], folds: int = 5,
              seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`(train, test)` clip indices of a cross-validation stratified by label and grouped by track
    (sklearn's `StratifiedGroupKFold`, shuffled with `seed`). At most `folds` folds, one per track, and
    no more than the label with the most tracks has tracks: with more, no fold could hold every label,
    the folds would hold out a few labels each while training on the others, and the scores would
    fall below chance (6 labels of 2 tracks in 5 folds)."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    labels, groups = np.asarray(labels), np.asarray(groups)
    if folds < 2:
        raise AnalysisError("cross-validation needs at least two folds")
    if len(np.unique(groups)) < 2:
        raise AnalysisError("cross-validation needs at least two tracks")
    most = max(len(np.unique(groups[labels == label])) for label in np.unique(labels))
    if most < 2:
        raise AnalysisError("cross-validation needs a label with at least two tracks")
    splitter = StratifiedGroupKFold(n_splits=min(folds, most), shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # sklearn warns when a label has fewer clips (not tracks) than folds; such a label just sits
        # in fewer test folds, as does any label with fewer tracks than folds, which it does not warn of
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        return list(splitter.split(np.zeros((len(labels), 1)), labels, groups))


def probe_cv_all(features: np.ndarray, labels: Sequence[int], groups: Sequence[int], kinds: Sequence[str],
                 folds: int = 5, seed: int = 0) -> dict[str, dict[str, Any]]:
    """`probe_cv` for several probe kinds over the folds of `cv_splits`, sharing each fold's PCA
    reduction. `folds` in the result counts the folds scored (a fold whose training clips hold fewer
    than two labels, or with no test clips, is skipped); `folds_asked` is the number asked for."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    scores: dict[str, dict[str, list[float]]] = {kind: {"accuracy": [], "balanced": []} for kind in kinds}
    total = 0
    for train_index, test_index in cv_splits(labels, groups, folds, seed):
        if len(test_index) == 0 or len(np.unique(labels[train_index])) < 2:
            continue
        train_x, (test_x,) = reduce_dimensions(features[train_index], [features[test_index]], seed=seed)
        for kind in kinds:
            result = probe(train_x, labels[train_index], test_x, labels[test_index], kind,
                           n_classes=int(labels.max()) + 1, seed=seed)
            scores[kind]["accuracy"].append(result["accuracy"])
            scores[kind]["balanced"].append(result["balanced_accuracy"])
        total += len(test_index)
    if total == 0:
        raise AnalysisError("no cross-validation fold had two labels to train on")
    return {kind: {"folds": len(values["accuracy"]), "folds_asked": folds, "accuracy": float(np.mean(values["accuracy"])),
                   "accuracy_std": float(np.std(values["accuracy"])), "balanced_accuracy": float(np.mean(values["balanced"])),
                   "clips": total} for kind, values in scores.items()}


def pooled_view(latents: np.ndarray, channels: int, frames: int) -> np.ndarray:
    """Mean and std over frames of each latent channel, `[count, 2 * channels]` (the last, partial
    channel over its frames only)."""
    latents = np.asarray(latents, dtype=np.float32)
    count, size = latents.shape
    try:
        LatentLayout(size, channels, frames)
    except ValueError as error:
        raise AnalysisError(str(error)) from None
    full = np.full((count, channels * frames), np.nan, dtype=np.float32)
    full[:, :size] = latents
    grid = full.reshape(count, channels, frames)
    return np.concatenate([np.nanmean(grid, axis=2), np.nanstd(grid, axis=2)], axis=1)


def latent_statistics(latents: np.ndarray) -> dict[str, Any]:
    """Per-dimension mean and std and the count of nearly constant dimensions (std below
    `NEAR_CONSTANT` x the median std, or zero)."""
    latents = np.asarray(latents, dtype=np.float64)
    mean, std = latents.mean(0), latents.std(0)
    median = float(np.median(std))
    near = int(np.sum(std <= max(NEAR_CONSTANT * median, 1e-12)))
    return {"mean": mean.astype(np.float32), "std": std.astype(np.float32), "near_constant": near,
            "median_std": median, "dims": int(latents.shape[1])}


def _unit(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def nearest_other_track(features: np.ndarray, queries: Sequence[int], tracks: Sequence[int], top: int = 3,
                        batch: int = 256) -> list[list[tuple[int, float]]]:
    """For each query index, the `top` most cosine-similar clips from other tracks: `[(index, similarity)]`."""
    unit = _unit(features)
    tracks = np.asarray(tracks)
    queries = list(queries)
    out = []
    for start in range(0, len(queries), batch):
        chunk = queries[start : start + batch]
        similarity = unit[chunk] @ unit.T
        for row, query in zip(similarity, chunk):
            row = np.where(tracks == tracks[query], -np.inf, row)
            best = np.argsort(-row)[:top]
            out.append([(int(i), float(row[i])) for i in best if np.isfinite(row[i])])
    return out


def neighbour_agreement(features: np.ndarray, labels: Sequence[int], tracks: Sequence[int], queries: Sequence[int]) -> float:
    """Share of query clips whose most cosine-similar clip from another track has the same label."""
    labels = np.asarray(labels)
    found = nearest_other_track(features, queries, tracks, top=1)
    hits = [labels[q] == labels[n[0][0]] for q, n in zip(queries, found) if n]
    return float(np.mean(hits)) if hits else float("nan")


def pca_projection(features: np.ndarray, components: int = 3, curve: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates on the first `components` principal components and the explained variance
    ratios of the first `curve` components (of the total variance)."""
    from sklearn.decomposition import PCA

    features = np.asarray(features, dtype=np.float32)
    count = max(1, min(curve, len(features) - 1, features.shape[1]))
    pca = PCA(n_components=count, svd_solver=_solver(*features.shape), random_state=seed).fit(features)
    total = float(features.var(0, ddof=1).sum()) or 1.0
    ratios = pca.explained_variance_ / total
    return pca.transform(features)[:, :components], ratios


def tsne_projection(features: np.ndarray, dims: int = 2, seed: int = 0) -> np.ndarray:
    """t-SNE of PCA-50 features (use on at most `TSNE_MAX` points)."""
    from sklearn.manifold import TSNE

    reduced, _ = reduce_dimensions(features, dims=50, seed=seed)
    perplexity = float(min(30, max(2, (len(reduced) - 1) // 3)))
    return TSNE(n_components=dims, perplexity=perplexity, init="pca", max_iter=500, random_state=seed).fit_transform(reduced)


# ----------------------------------------------------------------------------- encoding a dataset


@dataclass
class EncodedSet:
    """A dataset's clips as latents and baseline features, one row per clip."""

    latents: np.ndarray
    labels: np.ndarray  # label index, -1 when the track has none
    label_names: list[str]
    names: list[str]  # "file.wav@5s"
    tracks: np.ndarray  # a track number shared by a track's clips
    splits: np.ndarray  # "train" | "validation" | "test"
    channels: int
    frames: int
    baselines: dict[str, np.ndarray] = field(default_factory=dict)

    def views(self) -> dict[str, np.ndarray]:
        out = {"latent": self.latents, "latent_pooled": pooled_view(self.latents, self.channels, self.frames)}
        out.update(self.baselines)
        return out


def select_clips(prepared: PreparedData, max_clips: int = MAX_CLIPS, splits: Sequence[str] = ("train", "validation", "test")) -> list[tuple[str, int]]:
    """`(split, clip index)` of the clips to use: all, or an even spread of each split, proportional, up to `max_clips`."""
    sizes = {name: len(prepared.splits[name]) for name in splits}
    total = sum(sizes.values())
    if total == 0:
        raise AnalysisError(f"{prepared.root}: no clips to analyse")
    out = []
    for name, size in sizes.items():
        keep = size if total <= max_clips else max(min(size, 1), int(round(max_clips * size / total)))
        out += [(name, int(i)) for i in np.unique(np.linspace(0, size - 1, keep).round().astype(int))] if size else []
    return out


def log_mel_features(clips: torch.Tensor, sample_rate: int) -> np.ndarray:
    """Mean and std over frames of log10 mel power (80 bands), `[count, 160]`."""
    logmel = torch.log10(mel_power(clips, sample_rate) + 1e-5)
    return torch.cat([logmel.mean(-1), logmel.std(-1)], dim=1).numpy().astype(np.float32)


def raw_features(clips: np.ndarray, dims: int = RAW_DIMS) -> np.ndarray:
    """The waveform resampled (soxr) to `dims` samples, `[count, dims]`."""
    from .references import ResampleReference

    return ResampleReference(min(dims, clips.shape[1]), clips.shape[1]).encode(clips)


def encode_dataset(checkpoint: Checkpoint, prepared: PreparedData, items: Sequence[tuple[str, int]], batch_size: int = 16,
                   baselines: bool = True, progress: Progress | None = None) -> EncodedSet:
    """Encode the selected clips with the checkpoint's model, in batches, with raw and log-mel features."""
    model = checkpoint.model
    layout = model.layout
    sample_rate = checkpoint.config.audio.sample_rate
    count = len(items)
    latents = np.zeros((count, layout.size), dtype=np.float32)
    features: dict[str, list[np.ndarray]] = {"raw_waveform": [], "log_mel": []}
    labels, names, tracks, splits = [], [], [], []
    track_numbers: dict[str, int] = {}
    for number, (split, index) in enumerate(items):
        dataset = prepared.splits[split]
        track_index, start = dataset.index.items[index]
        track = dataset.index.tracks[track_index]
        labels.append(dataset.track_labels[track_index])
        names.append(f"{track.path.name}@{start / sample_rate:g}s")
        tracks.append(track_numbers.setdefault(str(track.path), len(track_numbers)))
        splits.append(split)
    if progress:
        progress(0, count)
    for start in range(0, count, batch_size):
        chunk = items[start : start + batch_size]
        clips = np.stack([prepared.splits[split].clip(index) for split, index in chunk])
        audio = torch.from_numpy(clips)
        latents[start : start + len(chunk)] = encode_clips(model, audio[:, None], batch_size).numpy()
        if baselines:
            features["raw_waveform"].append(raw_features(clips))
            with torch.no_grad():
                features["log_mel"].append(log_mel_features(audio, sample_rate))
        if progress:
            progress(min(start + batch_size, count), count)
    return EncodedSet(
        latents=latents, labels=np.asarray(labels), label_names=list(prepared.labels), names=names,
        tracks=np.asarray(tracks), splits=np.asarray(splits), channels=layout.channels, frames=layout.frames,
        baselines={k: np.concatenate(v) for k, v in features.items() if v},
    )


def load_for_analysis(model_path: Path, data_root: Path | None, cache_dir: Path,
                      progress: Progress | None = None) -> tuple[Checkpoint, PreparedData]:
    """The checkpoint and its dataset split as in training (`data_root`, else the data its run was trained
    on, else the built-in corpus)."""
    checkpoint = load_checkpoint(model_path)
    config = checkpoint.config
    root = data_root or data_root_of_run(checkpoint.path.parent) or builtin_corpus(cache_dir, config.data)
    prepared = prepare_dataset(root, config.audio, config.data, cache_dir, progress=progress)
    return checkpoint, prepared


# ----------------------------------------------------------------------------- analysing one view set


def analyse_views(encoded: EncodedSet, views: dict[str, np.ndarray], cv_folds: int = 5, seed: int = 0,
                  message: Message | None = None, known: dict[str, Any] | None = None,
                  cluster_spaces: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
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
    queries = np.flatnonzero(test)
    for name, features in views.items():
        if known and name in known:
            results[name] = known[name]
            continue
        if message:
            message(f"probing {VIEW_TITLES.get(name, name)}")
        kinds = ("logistic", "tree")
        train_x, (test_x,) = reduce_dimensions(features[train], [features[test]], seed=seed)
        row: dict[str, Any] = {kind: probe(train_x, encoded.labels[train], test_x, encoded.labels[test], kind, n_classes, seed)
                               for kind in kinds}
        if cv_folds >= 2:
            try:
                cv = probe_cv_all(features[labelled], encoded.labels[labelled], encoded.tracks[labelled], kinds, cv_folds, seed)
            except AnalysisError as error:
                cv = {kind: {"skipped": str(error)} for kind in kinds}
            for kind in kinds:
                row[kind]["cv"] = cv[kind]
        space = (cluster_spaces or {}).get(name)
        row["kmeans"] = cluster_scores(space if space is not None else features[labelled], encoded.labels[labelled],
                                       n_classes, seed)
        row["neighbour_agreement"] = neighbour_agreement(features, encoded.labels, encoded.tracks, queries)
        results[name] = row
    return results


# ----------------------------------------------------------------------------- the whole analysis


def analyse_model(checkpoint: Checkpoint, encoded: EncodedSet, folder: Path, fmt: str = "png", tsne: bool = True,
                  cv_folds: int = 5, seed: int = 0, message: Message | None = None,
                  known_probes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every statistic and figure for one model; figures go into `folder` (`known_probes`: see `analyse_views`)."""
    from . import plots

    folder.mkdir(parents=True, exist_ok=True)
    size = encoded.latents.shape[1]
    figures: dict[str, str] = {}
    label_text = np.array([encoded.label_names[i] if i >= 0 else "(none)" for i in encoded.labels])
    is_test = encoded.splits == "test"
    title = f"N = {size}"
    if message:
        message(f"N = {size}: PCA")
    coordinates, ratios = pca_projection(encoded.latents, 3, seed=seed)
    figures["explained_variance"] = plots.plot_explained_variance(
        ratios, folder / "pca_variance", f"{title}: explained variance of the latents", fmt).name
    axis_names = [f"PC{i + 1} ({ratios[i] * 100:.1f}%)" for i in range(min(3, len(ratios)))]
    if coordinates.shape[1] >= 2:
        figures["pca_2d"] = plots.plot_latent_map(coordinates[:, :2], label_text, folder / "pca_2d",
                                                  f"{title}: latents on the first two principal components", axis_names, fmt,
                                                  markers=is_test).name
    if coordinates.shape[1] >= 3:
        figures["pca_3d"] = plots.plot_latent_map(coordinates, label_text, folder / "pca_3d",
                                                  f"{title}: first three principal components", axis_names, fmt).name
    if tsne and len(encoded.latents) >= 10:
        if message:
            message(f"N = {size}: t-SNE")
        pick = np.sort(np.random.default_rng(seed).permutation(len(encoded.latents))[:TSNE_MAX])
        points = tsne_projection(encoded.latents[pick], seed=seed)
        figures["tsne"] = plots.plot_latent_map(points, label_text[pick], folder / "tsne",
                                                f"{title}: t-SNE of the latents ({len(pick)} clips)",
                                                ["t-SNE 1", "t-SNE 2"], fmt, markers=is_test[pick]).name
    stats = latent_statistics(encoded.latents)
    figures["latent_statistics"] = plots.plot_latent_statistics(
        stats["mean"], stats["std"], stats["near_constant"], folder / "latent_statistics",
        f"{title}: per-dimension statistics over {len(encoded.latents)} clips", fmt).name
    views = encoded.views()
    labelled = encoded.labels >= 0
    n_classes = len(encoded.label_names)
    latent_space = cluster_space(encoded.latents[labelled], seed) if labelled.sum() > 3 else None
    probes = analyse_views(encoded, views, cv_folds, seed, message, known_probes,
                           {"latent": latent_space} if latent_space is not None else None)
    curve = None
    if n_classes >= 2 and latent_space is not None:
        ks = sorted(set(range(2, max(2 * n_classes, 10) + 1)))
        curve = cluster_curve(latent_space, ks, seed)
        figures["kmeans_curve"] = plots.plot_cluster_curve(curve["k"], curve["inertia"], curve["silhouette"], n_classes,
                                                           folder / "kmeans_curve", f"{title}: k-means on the latents", fmt).name
    if "latent" in probes:
        matrices = [(f"{VIEW_TITLES[v]}\n{kind} probe: accuracy {probes[v][kind]['accuracy']:.2f}",
                     np.asarray(probes[v][kind]["confusion"])) for v in views for kind in ("logistic",) if v in probes]
        matrices.append((f"{VIEW_TITLES['latent']}\ntree probe: accuracy {probes['latent']['tree']['accuracy']:.2f}",
                         np.asarray(probes["latent"]["tree"]["confusion"])))
        figures["confusion"] = plots.plot_confusion(matrices, encoded.label_names, folder / "confusion",
                                                    f"{title}: confusion matrices on the test clips", fmt).name
    queries = np.flatnonzero(is_test)[:: max(1, int(is_test.sum()) // 5)][:5] if is_test.any() else np.arange(min(5, len(encoded.latents)))
    neighbours = [
        {"clip": encoded.names[q], "label": label_text[q],
         "neighbours": [{"clip": encoded.names[i], "label": label_text[i], "cosine": round(s, 4)} for i, s in found]}
        for q, found in zip(queries, nearest_other_track(encoded.latents, queries, encoded.tracks))
    ]
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
        "pca": {"explained_variance": [float(r) for r in ratios],
                "components_for_90": int(np.searchsorted(np.cumsum(ratios), 0.9) + 1) if ratios.sum() >= 0.9 else None},
        "kmeans_curve": curve,
        "latent_statistics": {"near_constant": stats["near_constant"], "dims": stats["dims"], "median_std": stats["median_std"],
                              "mean_abs_mean": float(np.abs(stats["mean"]).mean())},
        "probes": probes,
        "neighbours": neighbours,
        "figures": {k: f"{folder.name}/{v}" for k, v in figures.items()},
    }


def run_analysis(models: Sequence[Path], data_root: Path | None, cache_dir: Path, out_dir: Path,
                 max_clips: int = MAX_CLIPS, batch_size: int = 16, tsne: bool = True, cv_folds: int = 5,
                 fmt: str = "png", seed: int = 0, progress_factory: Callable[[str], Any] | None = None,
                 message: Message | None = None) -> dict[str, Any]:
    """Analyse each model on its dataset; write `out_dir/{report.md, analysis.json}` and figures.

    `progress_factory(description)` returns a context manager callable as
    `progress(done, total)` (the CLI's progress bar), or None for silence.
    """
    if not models:
        raise AnalysisError("no model to analyse")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    tags: set[str] = set()
    # The baselines depend only on the clips: models that see the same clips share their features and probes.
    shared_baselines: dict[tuple, tuple[dict[str, np.ndarray], dict[str, Any]]] = {}
    for model_path in models:
        checkpoint, prepared = load_for_analysis(model_path, data_root, cache_dir)
        trained_split = checkpoint.info.get("data", {}).get("split")
        if message and trained_split and trained_split != prepared.split_digest():
            message(f"warning: {model_path} was trained on another train/validation/test split of this data: "
                    f"some 'test' clips may be ones it trained on")
        items = select_clips(prepared, max_clips)
        size = checkpoint.model.latent_size
        if message:
            message(f"{model_path}: encoding {len(items)} clips of {prepared.root} (N = {size})")
        clips_key = (str(prepared.root), prepared.split_digest(), checkpoint.config.audio, tuple(items))
        shared = shared_baselines.get(clips_key)
        with progress_factory(f"encoding N={size}") if progress_factory else nullcontext() as progress:
            encoded = encode_dataset(checkpoint, prepared, items, batch_size, baselines=shared is None, progress=progress)
        if shared is not None:
            encoded.baselines = shared[0]
        tag = f"N{size}"
        while tag in tags:
            tag += "b"
        tags.add(tag)
        with _single_blas_thread():
            result = analyse_model(checkpoint, encoded, out_dir / tag, fmt, tsne, cv_folds, seed, message,
                                   known_probes=shared[1] if shared is not None else None)
        if shared is None:
            shared_baselines[clips_key] = (encoded.baselines,
                                           {view: result["probes"][view] for view in encoded.baselines if view in result["probes"]})
        result["data"] = str(prepared.root)
        results.append(result)
    analysis = {"models": results, "comparison": comparison_rows(results), "seconds": round(time.perf_counter() - started, 1),
                "settings": {"max_clips": max_clips, "probe_dims": PROBE_DIMS, "raw_dims": RAW_DIMS, "cv_folds": cv_folds,
                             "seed": seed}}
    write_text_atomic(out_dir / "analysis.json", json.dumps(analysis, indent=2, default=_json_default) + "\n")
    write_text_atomic(out_dir / "report.md", render_report(analysis))
    analysis["report"] = str(out_dir / "report.md")
    return analysis


def _single_blas_thread():
    """One thread for BLAS and OpenMP: after torch has run, its spinning OpenMP threads make
    multi-threaded OpenBLAS and scikit-learn calls (SVD, k-means) 10-30x slower on a small CPU.
    The libraries are imported first, so the limit covers every BLAS they load."""
    import scipy.linalg  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.manifold  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def comparison_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model, sorted by latent size: what the probes and clusters find in each view."""
    rows = []
    for result in sorted(results, key=lambda r: r["latent_size"]):
        probes = result["probes"]
        row = {"latent_size": result["latent_size"], "snr_db": result["test_metrics"].get("snr_db"),
               "near_constant": result["latent_statistics"]["near_constant"],
               "pca_components_for_90": result["pca"]["components_for_90"]}
        if "chance" in probes:
            row["chance_majority"] = probes["chance"]["majority"]
            row["chance_uniform"] = probes["chance"]["uniform"]
            for view in VIEWS:
                if view in probes:
                    row[f"{view}_logistic"] = probes[view]["logistic"]["accuracy"]
                    row[f"{view}_tree"] = probes[view]["tree"]["accuracy"]
                    row[f"{view}_logistic_cv"] = probes[view]["logistic"].get("cv", {}).get("accuracy")
                    row[f"{view}_homogeneity"] = probes[view]["kmeans"]["homogeneity"]
                    row[f"{view}_neighbour"] = probes[view]["neighbour_agreement"]
        rows.append(row)
    return rows


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return str(value)


def _cv_text(analysis: dict[str, Any]) -> str:
    """What `cv` means in a report, with the number of folds actually scored when it differs from the setting."""
    asked = analysis["settings"]["cv_folds"]
    if asked < 2:
        return "no cross-validation (`--cv-folds` below 2)"
    used = sorted({probes[view][kind]["cv"]["folds"] for probes in (result["probes"] for result in analysis["models"])
                   for view in VIEWS if view in probes for kind in ("logistic", "tree")
                   if "folds" in probes[view][kind].get("cv", {})})
    folds = f"{asked}-fold" if used in ([], [asked]) else (
        f"{'/'.join(map(str, used))}-fold (of {asked} asked: no more folds than the label with the most tracks "
        f"has tracks, and only folds with two labels to train on count)")
    return f"`cv` is {folds} cross-validation stratified by label, grouped by track, over every labelled clip"


def render_report(analysis: dict[str, Any]) -> str:
    """The Markdown report: comparison across models, then one section per model."""
    results = analysis["models"]
    lines = ["# Latent analysis", ""]
    first = results[0]
    lines += [f"Data: `{first.get('data')}`, labels: {', '.join(first['labels']) or '(none)'}. "
              f"Probes are trained on the training split and scored on the test split (split by track, as in "
              f"training); {_cv_text(analysis)}. Feature sets above {PROBE_DIMS} dimensions are reduced to {PROBE_DIMS} "
              f"principal components fitted on the training clips before probing; k-means runs on "
              f"{CLUSTER_DIMS} principal components. Analysis took {analysis['seconds']:.0f} s.", ""]
    rows = analysis["comparison"]
    if rows and "chance_majority" in rows[0]:
        lines += ["## Comparison across latent sizes (test accuracy of the logistic probe)", "",
                  "| N | test SNR (dB) | latent | latent pooled | raw waveform | log-mel | latent (tree) | latent (cv) "
                  "| k-means homogeneity | nearest-neighbour label agreement | chance (majority / 1/k) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in rows:
            lines.append(
                f"| {row['latent_size']} | {format_value(row['snr_db'], 1)} | {format_value(row.get('latent_logistic'))} | "
                f"{format_value(row.get('latent_pooled_logistic'))} | {format_value(row.get('raw_waveform_logistic'))} | "
                f"{format_value(row.get('log_mel_logistic'))} | {format_value(row.get('latent_tree'))} | {format_value(row.get('latent_logistic_cv'))} | "
                f"{format_value(row.get('latent_homogeneity'))} | {format_value(row.get('latent_neighbour'))} | "
                f"{format_value(row['chance_majority'])} / {format_value(row['chance_uniform'])} |")
        lines.append("")
    for result in results:
        lines += _model_section(result)
    return "\n".join(lines) + "\n"


def _model_section(result: dict[str, Any]) -> list[str]:
    figures = result["figures"]
    clips = result["clips"]
    lines = [f"## N = {result['latent_size']}: `{result['model']}`", "",
             f"{result['arch']} / {result['kind']}, latent {result['latent_layout']}. "
             f"Clips: {clips['train']} train, {clips['validation']} validation, {clips['test']} test "
             f"from {result['tracks']} tracks.", ""]
    probes = result["probes"]
    if "chance" in probes:
        chance = probes["chance"]
        lines += [f"Chance: {chance['majority']:.2f} (always the training majority label), {chance['uniform']:.2f} (1/k). "
                  f"Test: {probes['test_clips']} clips from {probes['test_tracks']} tracks, so a 95 % interval on an "
                  f"accuracy is roughly ±{1.96 * math.sqrt(0.25 / max(probes['test_tracks'], 1)):.2f} when clips of one track agree.", "",
                  "| view | logistic acc. [95 %] | balanced | cv acc. ± std | tree acc. | balanced | cv acc. | homogeneity "
                  "| completeness | V-measure | ARI | NN agreement |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for view in VIEWS:
            if view not in probes:
                continue
            p = probes[view]
            lo, hi = p["logistic"]["accuracy_95"]
            cv_l, cv_t = p["logistic"].get("cv", {}), p["tree"].get("cv", {})
            k = p["kmeans"]
            lines.append(
                f"| {VIEW_TITLES[view]} | {format_value(p['logistic']['accuracy'])} [{format_value(lo)}, {format_value(hi)}] | "
                f"{format_value(p['logistic']['balanced_accuracy'])} | {format_value(cv_l.get('accuracy'))} ± {format_value(cv_l.get('accuracy_std'))} | "
                f"{format_value(p['tree']['accuracy'])} | {format_value(p['tree']['balanced_accuracy'])} | {format_value(cv_t.get('accuracy'))} | "
                f"{format_value(k['homogeneity'])} | {format_value(k['completeness'])} | {format_value(k['v_measure'])} | {format_value(k['adjusted_rand'])} | "
                f"{format_value(p['neighbour_agreement'])} |")
        lines += ["", "NN agreement: share of test clips whose most cosine-similar clip from another track has the same label.", ""]
    else:
        lines += [f"Probes and k-means skipped: {probes.get('skipped')}.", ""]
    stats = result["latent_statistics"]
    pca = result["pca"]
    lines += [f"Latent statistics: {stats['near_constant']} of {stats['dims']} dimensions nearly constant "
              f"(std below {NEAR_CONSTANT:g} x the median std {stats['median_std']:.3g}); "
              f"{pca['components_for_90'] or 'more than ' + str(len(pca['explained_variance']))} principal components "
              f"hold 90 % of the variance.", ""]
    for key, caption in (("pca_2d", "PCA, 2-D (x: test clips)"), ("pca_3d", "PCA, 3-D"), ("tsne", "t-SNE"),
                         ("explained_variance", "explained variance"), ("kmeans_curve", "k-means elbow and silhouette"),
                         ("confusion", "confusion matrices"), ("latent_statistics", "per-dimension statistics")):
        if key in figures:
            lines += [f"![{caption}]({figures[key]})", ""]
    if result["neighbours"]:
        lines += ["Nearest clips from other tracks (cosine similarity of the latents):", ""]
        for entry in result["neighbours"]:
            found = "; ".join(f"`{n['clip']}` ({n['label']}, {n['cosine']:.3f})" for n in entry["neighbours"])
            lines.append(f"- `{entry['clip']}` ({entry['label']}): {found}")
        lines.append("")
    return lines


# ----------------------------------------------------------------------------- `aea plot latents`


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
    with _single_blas_thread():
        return _draw_map(encoded, method, dims, seed, prepared, split, items, out, fmt, size, title)


def _draw_map(encoded, method, dims, seed, prepared, split, items, out, fmt, size, title) -> Path:
    from . import plots

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
