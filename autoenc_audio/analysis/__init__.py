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
