"""Non-learned references at the same latent size N: what a model must beat.

Two codes of exactly N values per clip, with no training beyond a PCA fit:

- `ResampleReference`: resample the clip (L samples) to N samples with soxr
  (high quality) and back to L. The band above `N / L * sample_rate / 2` is
  lost; what is kept is kept almost exactly.
- `FramePCAReference`: cut the clip into rectangular 512-sample frames
  (`T = ceil(L / 512)`, the last one zero-padded), project every frame on the
  `K = ceil(N / T)` leading principal components of frames of training clips
  (mean removed), and flatten the `[K, T]` map component by component, cut to
  N values: when `K * T > N` the last component covers only the first frames,
  the same rule as the models' latent layout. Decoding sets missing values to 0.

Both work on batches `[count, samples]` (numpy or torch) and return numpy
float32 arrays; `encode` gives `[count, N]`, `decode` `[count, L]`.
`reference_metrics` scores them with the METRICS.md definitions.

A third reference is what a user would pick instead of a learned code:
`OpusReference`, the Opus codec at the same bit budget as N values of
`OPUS_BITS` bits each (N x 16 bits per clip, hard constant bit rate), run
through `opusenc`/`opusdec` from opus-tools when they are on the PATH
(`opus_available`). It spends its bits where the ear listens, keeping every
band's energy, so it is the reference for spectral fidelity.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeAlias

import numpy as np
import soundfile as sf
import soxr
import torch

from ..metrics import evaluate
from ..models.base import LatentLayout

FRAME = 512
"""Frame length of the frame-wise PCA reference, in samples."""

REFERENCE_NAMES = ("resample", "frame_pca")

Clips: TypeAlias = np.ndarray | torch.Tensor
"""Clips `[count, samples]` (or `[count, 1, samples]`, or one clip `[samples]`), numpy or torch."""


def _as_numpy(clips: Clips) -> np.ndarray:
    if isinstance(clips, torch.Tensor):
        clips = clips.detach().cpu().numpy()
    clips = np.asarray(clips, dtype=np.float32)
    if clips.ndim == 3 and clips.shape[1] == 1:
        clips = clips[:, 0]
    if clips.ndim == 1:
        clips = clips[None]
    if clips.ndim != 2:
        raise ValueError(f"expected clips [count, samples], got shape {list(clips.shape)}")
    return clips


def _fit(values: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(values))] = values[:length]
    return out


class ResampleReference:
    """Resample to N samples and back (soxr HQ): exactly N values per clip."""

    name = "resample"

    def __init__(self, latent: int, clip_samples: int) -> None:
        if not 1 <= latent <= clip_samples:
            raise ValueError(f"latent must be between 1 and the clip length {clip_samples}, got {latent}")
        self.latent = latent
        self.clip_samples = clip_samples

    def encode(self, clips: Clips) -> np.ndarray:
        clips = _as_numpy(clips)
        if self.latent == self.clip_samples:
            return clips.copy()
        return np.stack(
            [_fit(soxr.resample(c, self.clip_samples, self.latent, quality="HQ"), self.latent) for c in clips]
        )

    def decode(self, codes: Clips) -> np.ndarray:
        codes = _as_numpy(codes)
        if self.latent == self.clip_samples:
            return codes.copy()
        return np.stack(
            [_fit(soxr.resample(c, self.latent, self.clip_samples, quality="HQ"), self.clip_samples) for c in codes]
        )

    def reconstruct(self, clips: Clips) -> np.ndarray:
        return self.decode(self.encode(clips))


class FramePCAReference:
    """Frame-wise PCA with `FRAME`-sample rectangular frames: exactly N values per clip.

    Build with `FramePCAReference.fit(train_clips, latent, clip_samples)`.
    """

    name = "frame_pca"

    def __init__(self, latent: int, clip_samples: int, mean: np.ndarray, basis: np.ndarray, frame: int = FRAME) -> None:
        self.latent = latent
        self.clip_samples = clip_samples
        self.frame = frame
        self.frames = math.ceil(clip_samples / frame)
        self.components = basis.shape[1]
        LatentLayout(latent, self.components, self.frames)  # raises ValueError when they do not hold N values
        self.mean = mean.astype(np.float32)
        self.basis = basis.astype(np.float32)  # [frame, components]
        self.full_basis: np.ndarray | None = None  # [frame, frame], every component: set by fit(), for resized()

    @staticmethod
    def layout(latent: int, clip_samples: int, frame: int = FRAME) -> tuple[int, int]:
        """(components K, frames T) for N values: T = ceil(L / frame), K = ceil(N / T), at most `frame`."""
        frames = math.ceil(clip_samples / frame)
        if latent > frames * frame:
            raise ValueError(f"latent {latent} exceeds {frames} frames of {frame} samples")
        return math.ceil(latent / frames), frames

    @classmethod
    def fit(
        cls, train_clips: Iterable[Clips] | Clips, latent: int, clip_samples: int, frame: int = FRAME
    ) -> FramePCAReference:
        """PCA of the frames of `train_clips` (an array `[count, L]` or an iterable of such batches)."""
        components, frames = cls.layout(latent, clip_samples, frame)
        batches = [train_clips] if isinstance(train_clips, (np.ndarray, torch.Tensor)) else train_clips
        total = np.zeros(frame, dtype=np.float64)
        outer = np.zeros((frame, frame), dtype=np.float64)
        count = 0
        for batch in batches:
            framed = cls._frame(_as_numpy(batch), frames, frame, clip_samples).astype(np.float64)
            total += framed.sum(0)
            outer += framed.T @ framed
            count += len(framed)
        if count < 2:
            raise ValueError("frame PCA needs training clips to fit on")
        mean = total / count
        covariance = outer / count - np.outer(mean, mean)
        # A tiny ridge keeps the solver fast on rank-deficient covariances (few or tonal clips:
        # clusters of zero eigenvalues make LAPACK crawl) and does not change the leading components.
        covariance += np.eye(frame) * (1e-9 * max(np.trace(covariance), 1e-30) / frame)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # OpenBLAS threads stall behind torch's spinning OpenMP threads
            values, vectors = np.linalg.eigh(covariance)
        full = vectors[:, np.argsort(values)[::-1]]
        reference = cls(latent, clip_samples, mean, full[:, :components], frame)
        reference.full_basis = full
        return reference

    def resized(self, latent: int) -> FramePCAReference:
        """The same PCA fit at another N (components taken from the full basis; no refit)."""
        full = self.full_basis
        components, _ = self.layout(latent, self.clip_samples, self.frame)
        if full is None or components > full.shape[1]:
            raise ValueError("resized() needs a reference made by fit()")
        reference = FramePCAReference(latent, self.clip_samples, self.mean, full[:, :components], self.frame)
        reference.full_basis = full
        return reference

    @staticmethod
    def _frame(clips: np.ndarray, frames: int, frame: int, clip_samples: int) -> np.ndarray:
        if clips.shape[1] != clip_samples:
            raise ValueError(f"clips have {clips.shape[1]} samples, expected {clip_samples}")
        padded = np.zeros((len(clips), frames * frame), dtype=np.float32)
        padded[:, :clip_samples] = clips
        return padded.reshape(-1, frame)

    def encode(self, clips: Clips) -> np.ndarray:
        clips = _as_numpy(clips)
        framed = self._frame(clips, self.frames, self.frame, self.clip_samples)
        coefficients = ((framed - self.mean) @ self.basis).reshape(len(clips), self.frames, self.components)
        return np.ascontiguousarray(coefficients.transpose(0, 2, 1).reshape(len(clips), -1)[:, : self.latent])

    def decode(self, codes: Clips) -> np.ndarray:
        codes = _as_numpy(codes)
        if codes.shape[1] != self.latent:
            raise ValueError(f"codes have {codes.shape[1]} values, expected {self.latent}")
        full = np.zeros((len(codes), self.components * self.frames), dtype=np.float32)
        full[:, : self.latent] = codes
        coefficients = full.reshape(len(codes), self.components, self.frames).transpose(0, 2, 1)
        framed = coefficients.reshape(-1, self.components) @ self.basis.T + self.mean
        return np.ascontiguousarray(framed.reshape(len(codes), -1)[:, : self.clip_samples])

    def reconstruct(self, clips: Clips) -> np.ndarray:
        return self.decode(self.encode(clips))


OPUS_BITS = 16
"""Bits per latent value that the Opus reference spends: N values x 16 bits per clip."""
OPUS_KBPS_RANGE = (6.0, 256.0)
"""The bit rates opusenc accepts for one channel, in kb/s."""


def opus_available() -> bool:
    """Whether `opusenc` and `opusdec` (Debian's opus-tools) are on the PATH."""
    return shutil.which("opusenc") is not None and shutil.which("opusdec") is not None


class OpusReference:
    """Opus at the bit budget of N values x `OPUS_BITS` bits per clip (hard CBR): `reconstruct` only.

    Opus is a byte stream, not N values, so this reference has no `encode` into
    a latent. Each clip goes through `opusenc --hard-cbr` and `opusdec --rate`
    at the clip's sample rate in a temporary folder; clips run two at a time.
    """

    name = "opus"

    def __init__(self, latent: int, clip_samples: int, sample_rate: int) -> None:
        self.latent = latent
        self.clip_samples = clip_samples
        self.sample_rate = sample_rate
        self.kbps = latent * OPUS_BITS / (clip_samples / sample_rate) / 1000
        low, high = OPUS_KBPS_RANGE
        if not low <= self.kbps <= high:
            raise ValueError(
                f"Opus at {self.kbps:.1f} kb/s (N = {latent} x {OPUS_BITS} bits per clip) is outside "
                f"opusenc's {low:g}-{high:g} kb/s"
            )
        if not opus_available():
            raise ValueError("the Opus reference needs opusenc and opusdec (Debian's opus-tools) on the PATH")

    def _one(self, clip: np.ndarray, folder: Path, number: int) -> np.ndarray:
        source, coded, decoded = folder / f"{number}.wav", folder / f"{number}.opus", folder / f"{number}.out.wav"
        sf.write(source, clip, self.sample_rate, subtype="FLOAT")
        for command in (
            ["opusenc", "--quiet", "--music", "--hard-cbr", "--bitrate", f"{self.kbps:.3f}", str(source), str(coded)],
            ["opusdec", "--quiet", "--float", "--rate", str(self.sample_rate), str(coded), str(decoded)],
        ):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{command[0]} failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
        audio, _ = sf.read(decoded, dtype="float32", always_2d=True)
        return _fit(audio[:, 0], self.clip_samples)

    def reconstruct(self, clips: Clips) -> np.ndarray:
        clips = _as_numpy(clips)
        with tempfile.TemporaryDirectory(prefix="aea-opus-") as folder, ThreadPoolExecutor(2) as pool:
            return np.stack(list(pool.map(lambda item: self._one(item[1], Path(folder), item[0]), enumerate(clips))))


def build_references(
    latent: int, clip_samples: int, train_clips: Iterable[Clips] | Clips | FramePCAReference
) -> dict[str, ResampleReference | FramePCAReference]:
    """Both references at N = `latent`, the PCA fitted on `train_clips` (or taken from a fitted
    `FramePCAReference` passed as `train_clips`, to reuse one fit at several N)."""
    if isinstance(train_clips, FramePCAReference):
        pca = train_clips.resized(latent)
    else:
        pca = FramePCAReference.fit(train_clips, latent, clip_samples)
    return {"resample": ResampleReference(latent, clip_samples), "frame_pca": pca}


def evaluate_reconstruction(
    reconstruct: Callable[[np.ndarray], np.ndarray],
    clips: np.ndarray | torch.Tensor,
    sample_rate: int,
    batch_size: int = 16,
) -> dict[str, float]:
    """Clip-weighted mean METRICS.md figures of `reconstruct` over `clips` `[count, L]`."""
    clips = _as_numpy(clips)
    totals: dict[str, float] = {}
    for start in range(0, len(clips), batch_size):
        batch = clips[start : start + batch_size]
        values = evaluate(
            torch.from_numpy(batch),
            torch.from_numpy(np.asarray(reconstruct(batch), dtype=np.float32)),
            sample_rate=sample_rate,
        )
        for name, value in values.items():
            totals[name] = totals.get(name, 0.0) + value * len(batch)
    return {name: value / max(len(clips), 1) for name, value in totals.items()}


def reference_metrics(
    latent: int,
    test_clips: Clips,
    train_clips: Iterable[Clips] | Clips,
    sample_rate: int,
    names: Sequence[str] = REFERENCE_NAMES,
) -> dict[str, dict[str, float]]:
    """METRICS.md figures of each reference at N = `latent` on `test_clips` (PCA fitted on `train_clips`)."""
    test = _as_numpy(test_clips)
    references = build_references(latent, test.shape[1], train_clips)
    return {name: evaluate_reconstruction(references[name].reconstruct, test, sample_rate) for name in names}
