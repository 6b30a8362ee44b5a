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

from .analyse import analyse_model, analyse_views, comparison_rows, run_analysis
from .dataset import (
    EncodedSet, MAX_CLIPS, Message, Progress, RAW_DIMS, VIEWS, VIEW_TITLES, encode_dataset, load_for_analysis,
    log_mel_features, raw_features, select_clips,
)
from .latent_map import latent_map
from .report import render_report
from .stats import (
    AnalysisError, CLUSTER_DIMS, NEAR_CONSTANT, PROBE_DIMS, TSNE_MAX, chance_levels, cluster_curve, cluster_scores,
    cluster_space, cv_splits, latent_statistics, nearest_other_track, neighbour_agreement, pca_projection,
    pooled_view, probe, probe_cv, probe_cv_all, reduce_dimensions, tsne_projection, wilson_interval,
)

__all__ = [
    "AnalysisError",
    "CLUSTER_DIMS",
    "EncodedSet",
    "MAX_CLIPS",
    "Message",
    "NEAR_CONSTANT",
    "PROBE_DIMS",
    "Progress",
    "RAW_DIMS",
    "TSNE_MAX",
    "VIEWS",
    "VIEW_TITLES",
    "analyse_model",
    "analyse_views",
    "chance_levels",
    "cluster_curve",
    "cluster_scores",
    "cluster_space",
    "comparison_rows",
    "cv_splits",
    "encode_dataset",
    "latent_map",
    "latent_statistics",
    "load_for_analysis",
    "log_mel_features",
    "nearest_other_track",
    "neighbour_agreement",
    "pca_projection",
    "pooled_view",
    "probe",
    "probe_cv",
    "probe_cv_all",
    "raw_features",
    "reduce_dimensions",
    "render_report",
    "run_analysis",
    "select_clips",
    "tsne_projection",
    "wilson_interval",
]
