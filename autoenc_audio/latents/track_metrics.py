"""METRICS.md figures of a whole-track reconstruction, computed in a stream."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..metric_info import METRIC_NAMES, SPECTRAL_METRIC_NAMES
from ..metrics import GUARD, evaluate


class TrackMetrics:
    """Metrics of a long reconstruction, fed in pieces.

    `snr_db` and `si_sdr_db` are exact over the whole track (from running sums);
    `mrstft`, `mel_l1` and `lsd_db` are means over consecutive chunks of one
    clip length, weighted by length (the STFT metrics need a bounded window).
    """

    def __init__(self, sample_rate: int, chunk_samples: int) -> None:
        self.sample_rate, self.chunk = sample_rate, chunk_samples
        self.xx = self.yy = self.xy = self.ee = 0.0
        self.spectral: dict[str, float] = {}
        self.weight = 0
        self.x: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.buffered = 0

    def add(self, reference: np.ndarray, estimate: np.ndarray) -> None:
        x, y = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
        self.xx += float(x @ x)
        self.yy += float(y @ y)
        self.xy += float(x @ y)
        self.ee += float((x - y) @ (x - y))
        self.x.append(reference)
        self.y.append(estimate)
        self.buffered += len(reference)
        while self.buffered >= self.chunk:
            self._chunk(self.chunk)

    def _chunk(self, size: int) -> None:
        x, y = np.concatenate(self.x), np.concatenate(self.y)
        values = evaluate(
            torch.from_numpy(x[:size]).view(1, -1), torch.from_numpy(y[:size]).view(1, -1), self.sample_rate
        )
        for name in SPECTRAL_METRIC_NAMES:
            self.spectral[name] = self.spectral.get(name, 0.0) + values[name] * size
        self.weight += size
        self.x, self.y, self.buffered = [x[size:]], [y[size:]], len(x) - size

    def result(self) -> dict[str, float]:
        if self.buffered >= 2048 or (self.buffered and not self.weight):
            self._chunk(self.buffered)
        snr = 10 * math.log10((self.xx + GUARD) / (self.ee + GUARD))
        scale = self.xy / (self.xx + GUARD)
        target = scale * scale * self.xx
        residual = max(target - 2 * scale * self.xy + self.yy, 0.0)
        si_sdr = 10 * math.log10((target + GUARD) / (residual + GUARD))
        out = {"snr_db": snr, "si_sdr_db": si_sdr}
        out.update({k: v / max(self.weight, 1) for k, v in self.spectral.items()})
        return {name: out[name] for name in METRIC_NAMES if name in out}
