"""The statistics of `aea score` (docs/scoring.md): c2st, Frechet distance and `copied`. No torch.

* `c2st`: equally many clips of G and R (the larger subsampled, seed 0);
  5-fold stratified cross-validated accuracy of a standardised logistic
  regression (C = 0.3) telling them apart.
* `fd`: every feature standardised with R's mean and std; Frechet distance
  `|mu_G - mu_R|^2 + Tr(C_G + C_R - 2 (C_G C_R)^(1/2))`.
* `copied`: the share of G's 2 s windows (86 frames of 40-band log-mel, one
  every 0.5 s) whose correlation with some 2 s window (any frame offset) of
  the training tracks is above 0.9; each window's bands are centred over the
  window before correlating.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .features import HOP, SAMPLE_RATE, TIMBRE_MELS

C2ST_FOLDS = 5
C2ST_C = 0.3
COPY_THRESHOLD = 0.9
WINDOW_FRAMES = 86  # 2 s at hop 512
WINDOW_STEP_SECONDS = 0.5
_TINY = 1e-9


def subsample(count: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of `size` of `count` items chosen without replacement (seeded); all when `count <= size`."""
    if count <= size:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size, replace=False))


def c2st(generated: np.ndarray, real: np.ndarray, seed: int = 0) -> float:
    """Classifier two-sample test accuracy of `generated [n, d]` against `real [m, d]` (0.5: indistinguishable)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    size = min(len(generated), len(real))
    both = np.vstack([generated[subsample(len(generated), size, seed)], real[subsample(len(real), size, seed)]])
    labels = np.repeat([1, 0], size)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C2ST_C, max_iter=5000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, both, labels, cv=StratifiedKFold(C2ST_FOLDS))
    return float(scores.mean())


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite `matrix [d, d]`."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(generated: np.ndarray, real: np.ndarray) -> float:
    """Frechet distance of `generated [n, d]` from `real [m, d]`, features standardised with `real`'s mean and std.

    `Tr((C_G C_R)^(1/2))` is the sum of the square roots of the eigenvalues of
    `C_G^(1/2) C_R C_G^(1/2)` (the same eigenvalues, and symmetric), which stays
    real and exact when there are fewer clips than features.
    """
    mean, std = real.mean(axis=0), real.std(axis=0)
    std = np.where(std > _TINY, std, 1.0)
    g, r = (generated - mean) / std, (real - mean) / std
    cov_g, cov_r = np.cov(g, rowvar=False), np.cov(r, rowvar=False)
    root = _psd_sqrt(cov_g)
    inner = root @ cov_r @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    distance = np.sum((g.mean(axis=0) - r.mean(axis=0)) ** 2) + np.trace(cov_g) + np.trace(cov_r) - 2 * trace_sqrt
    return float(max(distance, 0.0))


# ----------------------------------------------------------------------------- copied


def window_starts(frames: int) -> list[int]:
    """First frames of a clip's 2 s windows, one every 0.5 s, that fit in `frames` (7 for a 5 s clip)."""
    step = WINDOW_STEP_SECONDS * SAMPLE_RATE / HOP
    starts, k = [], 0
    while int(round(k * step)) + WINDOW_FRAMES <= frames:
        starts.append(int(round(k * step)))
        k += 1
    return starts


def window_queries(log_mels: np.ndarray) -> np.ndarray:
    """Clips' log-mels `[n, 40, frames]` -> their 2 s windows, bands centred, unit norm: `[n * windows, 40, 86]`.

    Windows are clip by clip (clip 0's windows first). A window with no
    variation (silence) stays zero: it copies nothing.
    """
    starts = window_starts(log_mels.shape[-1])
    windows = np.stack([log_mels[:, :, s : s + WINDOW_FRAMES] for s in starts], axis=1).astype(np.float64)
    windows = windows.reshape(-1, TIMBRE_MELS, WINDOW_FRAMES)
    windows -= windows.mean(axis=-1, keepdims=True)
    norms = np.sqrt((windows**2).sum(axis=(1, 2)))
    return np.divide(windows, norms[:, None, None], out=np.zeros_like(windows), where=norms[:, None, None] > _TINY)


def _window_norms(track: np.ndarray) -> np.ndarray:
    """Norm of every 86-frame window of `track [40, T]` with each band centred over the window: `[T - 85]`."""
    sums = np.pad(np.cumsum(track, axis=1), ((0, 0), (1, 0)))
    squares = np.pad(np.cumsum(track**2, axis=1), ((0, 0), (1, 0)))
    window_sums = sums[:, WINDOW_FRAMES:] - sums[:, :-WINDOW_FRAMES]
    window_squares = squares[:, WINDOW_FRAMES:] - squares[:, :-WINDOW_FRAMES]
    energy = (window_squares - window_sums**2 / WINDOW_FRAMES).sum(axis=0)
    return np.sqrt(np.clip(energy, 0, None))


class CopyFinder:
    """The highest correlation of each query window with any 2 s window of reference tracks.

    Correlations at every frame offset come from FFT cross-correlation in
    blocks of 512 frames (overlap-save), with blocks of many tracks batched
    into one matrix product per frequency, so tens of minutes of training
    audio cost seconds: because every query's bands have zero mean, its dot
    product with a raw window equals that with the band-centred window, and
    only the window norms need centring (running sums).
    """

    BLOCK = 512
    BATCH = 32

    def __init__(self, queries: np.ndarray) -> None:
        """`queries [q, 40, 86]` from `window_queries`."""
        spectra = np.fft.rfft(queries, n=self.BLOCK, axis=-1)  # [q, 40, 257]
        self._filters = np.ascontiguousarray(np.conj(spectra).transpose(2, 0, 1), dtype=np.complex64)
        self.step = self.BLOCK - WINDOW_FRAMES + 1
        self.best = np.zeros(len(queries))
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def add_track(self, log_mel: np.ndarray) -> None:
        """Compare every query with every window of one track's log-mel `[40, T]`."""
        track = np.asarray(log_mel, dtype=np.float64)
        track = track - track.mean(axis=1, keepdims=True)
        norms = _window_norms(track)
        for start in range(0, len(norms), self.step):
            segment = np.zeros((TIMBRE_MELS, self.BLOCK))
            piece = track[:, start : start + self.BLOCK]
            segment[:, : piece.shape[1]] = piece
            inverse = np.zeros(self.step, dtype=np.float32)  # 0 past the track's last window
            block_norms = norms[start : start + self.step]
            inverse[: len(block_norms)] = np.where(block_norms > _TINY, 1 / np.maximum(block_norms, _TINY), 0.0)
            self._pending.append((np.fft.rfft(segment, axis=-1).T, inverse))
            if len(self._pending) >= self.BATCH:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        spectra = np.stack([p[0] for p in self._pending], axis=-1).astype(np.complex64)  # [257, 40, K]
        inverse_norms = np.stack([p[1] for p in self._pending], axis=-1)  # [step, K] float32
        self._pending = []
        products = self._filters @ spectra  # [257, q, K]
        correlations = np.fft.irfft(products, n=self.BLOCK, axis=0)[: self.step]  # [step, q, K] float32
        correlations *= inverse_norms[:, None, :]
        self.best = np.maximum(self.best, correlations.max(axis=0).max(axis=1))

    def maxima(self) -> np.ndarray:
        """`[q]`: each query's highest correlation so far (0 when nothing was added)."""
        self._flush()
        return self.best


def shares_of_copies(best: np.ndarray, sizes: Sequence[int]) -> list[float]:
    """Split `CopyFinder.maxima()` into consecutive groups of `sizes` windows: each group's share above 0.9."""
    shares, first = [], 0
    for size in sizes:
        shares.append(float((best[first : first + size] > COPY_THRESHOLD).mean()) if size else 0.0)
        first += size
    return shares
