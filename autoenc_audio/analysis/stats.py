"""Statistics on feature arrays: PCA, k-means, label probes with chance levels, neighbours; no models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

from ..errors import InputError
from ..models.base import LatentLayout

IntsLike: TypeAlias = np.ndarray | Sequence[int]
"""One integer per clip (a label, a track number, a clip index): an array or a list."""

PROBE_DIMS = 256

CLUSTER_DIMS = 64

TSNE_MAX = 1500

NEAR_CONSTANT = 1e-3  # a dimension whose std is below this fraction of the median std

ROWS_AT_ONCE = 256  # clips a statistic works through at once: bounds its temporaries at a large N


class AnalysisError(InputError, ValueError):
    """An analysis that cannot be run on the given data."""


def reduce_dimensions(
    train: np.ndarray, others: Sequence[np.ndarray] = (), dims: int = PROBE_DIMS, seed: int = 0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """PCA to at most `dims` components fitted on `train` (unchanged when already small enough)."""
    from sklearn.decomposition import PCA

    train = np.asarray(train, dtype=np.float32)
    if train.shape[1] <= dims:
        return train, [np.asarray(o, dtype=np.float32) for o in others]
    components = max(1, min(dims, len(train) - 1))
    pca = PCA(n_components=components, svd_solver=_solver(*train.shape), random_state=seed).fit(train)
    return pca.transform(train).astype(np.float32), [
        pca.transform(np.asarray(o, np.float32)).astype(np.float32) for o in others
    ]


def _solver(rows: int, columns: int) -> str:
    """The cheapest exact-enough PCA solver: a full SVD for few rows, the covariance for few columns."""
    if rows <= 1000:
        return "full"
    return "covariance_eigh" if columns <= 2000 else "randomized"


def cluster_space(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """What k-means runs on: the features reduced by PCA to at most `CLUSTER_DIMS` components (a
    reduced space passes through unchanged, so it can be computed once and reused)."""
    return reduce_dimensions(features, dims=CLUSTER_DIMS, seed=seed)[0]


def cluster_scores(features: np.ndarray, labels: IntsLike, k: int | None = None, seed: int = 0) -> dict[str, float]:
    """k-means (k = number of labels by default) against the labels: homogeneity, completeness,
    V-measure, adjusted Rand index, plus the silhouette of the clustering."""
    from sklearn.metrics import (
        adjusted_rand_score,
        completeness_score,
        homogeneity_score,
        silhouette_score,
        v_measure_score,
    )

    labels = np.asarray(labels)
    k = k or len(np.unique(labels))
    if k < 2 or len(features) <= k:
        raise AnalysisError(
            f"k-means needs at least 2 labels and more clips than clusters (k={k}, {len(features)} clips)"
        )
    reduced = cluster_space(features, seed)
    clusters = _kmeans(reduced, k, n_init=4, seed=seed).labels_
    silhouette = (
        float(silhouette_score(reduced, clusters, sample_size=min(len(reduced), 2000), random_state=seed))
        if len(np.unique(clusters)) > 1
        else float("nan")
    )
    return {
        "k": int(k),
        "homogeneity": float(homogeneity_score(labels, clusters)),
        "completeness": float(completeness_score(labels, clusters)),
        "v_measure": float(v_measure_score(labels, clusters)),
        "adjusted_rand": float(adjusted_rand_score(labels, clusters)),
        "silhouette": silhouette,
    }


def _kmeans(points: np.ndarray, k: int, n_init: int, seed: int) -> Any:  # a fitted sklearn KMeans (untyped)
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
        silhouette.append(
            float(silhouette_score(reduced, model.labels_, sample_size=min(len(reduced), 2000), random_state=seed))
            if len(np.unique(model.labels_)) > 1
            else float("nan")
        )
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


def chance_levels(train_labels: IntsLike, test_labels: IntsLike, n_classes: int) -> dict[str, float]:
    """Accuracy of always answering the training majority class, and 1/k."""
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    majority = _majority(train_labels)
    return {
        "majority": float(np.mean(test_labels == majority)) if len(test_labels) else float("nan"),
        "uniform": 1.0 / max(n_classes, 1),
    }


def _majority(train_labels: np.ndarray) -> int:
    """The label a majority predictor answers: the most frequent training label (the lowest one on a tie)."""
    values, counts = np.unique(train_labels, return_counts=True)
    return int(values[np.argmax(counts)])


def _classifier(kind: str, seed: int) -> Any:  # an unfitted sklearn estimator (untyped)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    if kind == "tree":
        return DecisionTreeClassifier(random_state=seed, min_samples_leaf=2)
    raise AnalysisError(f"unknown probe {kind!r}: use logistic or tree")


def probe(
    train_x: np.ndarray,
    train_y: IntsLike,
    test_x: np.ndarray,
    test_y: IntsLike,
    kind: str,
    n_classes: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
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


def probe_cv(
    features: np.ndarray, labels: IntsLike, groups: IntsLike, kind: str, folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """The probe in k-fold cross-validation stratified by label and grouped by track (no track on both
    sides, each label spread over the folds as evenly as its tracks allow): mean and std accuracy."""
    return probe_cv_all(features, labels, groups, (kind,), folds, seed)[kind]


def cv_splits(labels: IntsLike, groups: IntsLike, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
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


def probe_cv_all(
    features: np.ndarray,
    labels: IntsLike,
    groups: IntsLike,
    kinds: Sequence[str],
    folds: int = 5,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """`probe_cv` for several probe kinds over the folds of `cv_splits`, sharing each fold's PCA
    reduction. `folds` in the result counts the folds scored (a fold whose training clips hold fewer
    than two labels, or with no test clips, is skipped); `folds_asked` is the number asked for.

    Each kind's result carries the chance levels these folds face, as the test split's `chance_levels`
    do not (its labels are not the folds' labels): `chance_majority`, the mean over the scored folds of
    always answering the training fold's majority label (what `accuracy`, a mean over folds, is to be
    compared with), and `chance_uniform`, 1/k. `balanced_accuracy` is the mean recall per label over
    the pooled out-of-fold predictions of every scored fold: a mean of per-fold scores would give a
    constant predictor 1.0 on each fold whose test clips hold one label. `chance_balanced` is the
    majority predictor's, pooled the same way."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    n_classes = int(labels.max()) + 1
    accuracy: dict[str, list[float]] = {kind: [] for kind in kinds}
    confusion = {kind: np.zeros((n_classes, n_classes), dtype=np.int64) for kind in kinds}
    majority: list[float] = []
    majority_confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    total = 0
    for train_index, test_index in cv_splits(labels, groups, folds, seed):
        if len(test_index) == 0 or len(np.unique(labels[train_index])) < 2:
            continue
        train_x, (test_x,) = reduce_dimensions(features[train_index], [features[test_index]], seed=seed)
        for kind in kinds:
            result = probe(train_x, labels[train_index], test_x, labels[test_index], kind, n_classes, seed=seed)
            accuracy[kind].append(result["accuracy"])
            confusion[kind] += np.asarray(result["confusion"])
        majority.append(chance_levels(labels[train_index], labels[test_index], n_classes)["majority"])
        np.add.at(majority_confusion, (labels[test_index], _majority(labels[train_index])), 1)
        total += len(test_index)
    if total == 0:
        raise AnalysisError("no cross-validation fold had two labels to train on")
    return {
        kind: {
            "folds": len(accuracy[kind]),
            "folds_asked": folds,
            "accuracy": float(np.mean(accuracy[kind])),
            "accuracy_std": float(np.std(accuracy[kind])),
            "balanced_accuracy": balanced_accuracy(confusion[kind]),
            "chance_majority": float(np.mean(majority)),
            "chance_majority_std": float(np.std(majority)),
            "chance_uniform": 1.0 / n_classes,
            "chance_balanced": balanced_accuracy(majority_confusion),
            "clips": total,
        }
        for kind in kinds
    }


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean recall over the labels that have clips in a confusion matrix `[true, predicted]` (sklearn's
    `balanced_accuracy_score` on the predictions it counts), so pooled folds can be scored as one."""
    confusion = np.asarray(confusion)
    support = confusion.sum(1)
    present = support > 0
    return float(np.mean(np.diag(confusion)[present] / support[present])) if present.any() else float("nan")


def pooled_view(latents: np.ndarray, channels: int, frames: int) -> np.ndarray:
    """Mean and std over frames of each latent channel, `[count, 2 * channels]` (the last, partial
    channel over its frames only). Works through `ROWS_AT_ONCE` clips at a time, so that 4,000 clips
    of a large N need no full-size temporary."""
    latents = np.asarray(latents, dtype=np.float32)
    count, size = latents.shape
    try:
        LatentLayout(size, channels, frames)
    except ValueError as error:
        raise AnalysisError(str(error)) from None
    whole = size // frames  # channels with all their frames; one more holds the rest
    out = np.empty((count, 2 * channels), dtype=np.float32)
    for start in range(0, count, ROWS_AT_ONCE):
        rows = latents[start : start + ROWS_AT_ONCE]
        grid = rows[:, : whole * frames].reshape(len(rows), whole, frames)
        block = out[start : start + len(rows)]
        block[:, :whole], block[:, channels : channels + whole] = grid.mean(2), grid.std(2)
        if whole < channels:
            tail = rows[:, whole * frames :]
            block[:, whole], block[:, channels + whole] = tail.mean(1), tail.std(1)
    return out


def latent_statistics(latents: np.ndarray) -> dict[str, Any]:
    """Per-dimension mean and std (in float64, as two passes over chunks of rows: no float64 copy of
    the whole array) and the count of nearly constant dimensions (std below `NEAR_CONSTANT` x the
    median std, or zero)."""
    latents = np.asarray(latents)
    count = len(latents)
    if count == 0:
        raise AnalysisError("no latents to take statistics of")
    chunks = [latents[start : start + ROWS_AT_ONCE] for start in range(0, count, ROWS_AT_ONCE)]
    mean = sum(rows.sum(0, dtype=np.float64) for rows in chunks) / count  # float64 sums, one chunk at a time
    std = np.sqrt(sum(((rows - mean) ** 2).sum(0) for rows in chunks) / count)
    median = float(np.median(std))
    near = int(np.sum(std <= max(NEAR_CONSTANT * median, 1e-12)))
    return {
        "mean": mean.astype(np.float32),
        "std": std.astype(np.float32),
        "near_constant": near,
        "median_std": median,
        "dims": int(latents.shape[1]),
    }


def _unit(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def nearest_other_track(
    features: np.ndarray, queries: IntsLike, tracks: IntsLike, top: int = 3, batch: int = 256
) -> list[list[tuple[int, float]]]:
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


def neighbour_agreement(features: np.ndarray, labels: IntsLike, tracks: IntsLike, queries: IntsLike) -> float:
    """Share of query clips whose most cosine-similar clip from another track has the same label."""
    labels = np.asarray(labels)
    found = nearest_other_track(features, queries, tracks, top=1)
    hits = [labels[q] == labels[n[0][0]] for q, n in zip(queries, found) if n]
    return float(np.mean(hits)) if hits else float("nan")


def pca_projection(
    features: np.ndarray, components: int = 3, curve: int = 256, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
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
    return TSNE(n_components=dims, perplexity=perplexity, init="pca", max_iter=500, random_state=seed).fit_transform(
        reduced
    )
