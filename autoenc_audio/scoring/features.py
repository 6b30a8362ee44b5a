"""The features of `aea score`, exactly as docs/scoring.md defines them, in numpy (no torch, no librosa).

Every clip is mono, 22050 Hz, 5 s, peak normalised to 0.5. `|S|` is the
STFT magnitude (n_fft 2048, hop 512, periodic Hann window, centred frames
with zero padding) plus 1e-6: `[1025 bins, 216 frames]` for a 5 s clip.

* `tonal`: 12-bin chroma of `|S|^2` (the standard chroma filterbank with the
  tuning estimated from the clip, as librosa's `chroma_stft`); per frame
  `p = chroma / sum(chroma)`; `1 - mean_t(-sum p ln p / ln 12)`.
* `continuity`: `L = ln |S|` below 6.5 kHz minus its 15-bin moving average
  along frequency, each frame standardised over bins; the mean Pearson
  correlation of adjacent frames.
* `rhythm`: onset strength (128-band mel power in dB, positive first
  difference over time, mean over bands) minus its mean; its autocorrelation
  over its lag-0 value; the maximum over lags 0.25-1.5 s.
* `flatness`: geometric over arithmetic mean of `|S|` per frame, mean over frames.
* timbre: 40-band mel power of `|S|^2`, `ln(x + 1e-8)`, mean and std over frames (80 values).

One vector of 84 values per clip: `FEATURE_NAMES`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

import numpy as np

from ..spectra import stft, windowed_spectra

SAMPLE_RATE = 22050
CLIP_SECONDS = 5.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)
PEAK = 0.5
PAD_TOLERANCE = int(0.01 * SAMPLE_RATE)  # a piece within 10 ms of 5 s (resampling rounding) is zero-padded
N_FFT = 2048
HOP = 512
BINS = N_FFT // 2 + 1
MAGNITUDE_FLOOR = 1e-6
LOG_MEL_FLOOR = 1e-8
CONTINUITY_MAX_HZ = 6500.0
CONTINUITY_SMOOTHING_BINS = 15
ONSET_MELS = 128
TIMBRE_MELS = 40
RHYTHM_LAGS_SECONDS = (0.25, 1.5)
NAMED_FEATURES = ("tonal", "continuity", "rhythm", "flatness")
FEATURE_NAMES = (
    NAMED_FEATURES
    + tuple(f"mel{b}_mean" for b in range(TIMBRE_MELS))
    + tuple(f"mel{b}_std" for b in range(TIMBRE_MELS))
)
FEATURES = len(FEATURE_NAMES)  # 84
_TINY = 1e-12


# ----------------------------------------------------------------------------- clips


def peak_normalise(clip: np.ndarray) -> np.ndarray:
    """`clip [samples]` scaled to a peak of 0.5 (float64); a silent clip stays silent."""
    clip = np.asarray(clip, dtype=np.float64)
    peak = np.abs(clip).max(initial=0.0)
    return clip * (PEAK / peak) if peak > _TINY else np.zeros_like(clip)


def piece_starts(samples: int, hop: int = CLIP_SAMPLES) -> list[int]:
    """Starts of the 5 s pieces of a track of `samples`: every `hop`, while a piece has >= 5 s - 10 ms."""
    last = samples - (CLIP_SAMPLES - PAD_TOLERANCE)
    return list(range(0, last + 1, hop)) if last >= 0 else []


def iter_pieces(samples: np.ndarray, hop: int = CLIP_SAMPLES) -> Iterator[np.ndarray]:
    """The 5 s pieces `[110250]` of mono audio `[samples]` at 22050 Hz, one at a time, peak normalised (float64).

    Pieces start every `hop` samples; a remainder shorter than 5 s is dropped
    (one within 10 ms of 5 s is zero-padded), so a file shorter than that
    gives no piece. Only one piece is in memory at a time, however long the track.
    """
    for start in piece_starts(len(samples), hop):
        piece = np.zeros(CLIP_SAMPLES)
        part = np.asarray(samples[start : start + CLIP_SAMPLES], dtype=np.float64)
        piece[: len(part)] = part
        yield peak_normalise(piece)


def cut_pieces(samples: np.ndarray, hop: int = CLIP_SAMPLES) -> np.ndarray:
    """Every piece of `iter_pieces` at once: `[pieces, 110250]` float64."""
    return np.array(list(iter_pieces(samples, hop))).reshape(-1, CLIP_SAMPLES)


# ----------------------------------------------------------------------------- spectra


def frame_count(samples: int) -> int:
    """Frames of a centred STFT of `samples`: 1 + samples // 512 (216 for a 5 s clip)."""
    return 1 + samples // HOP


def _floored_magnitude(spectra: np.ndarray) -> np.ndarray:
    """`|S| + 1e-6` of complex spectra `[1025, frames]`, C-contiguous: the floor keeps logs finite."""
    return np.ascontiguousarray(np.abs(spectra)) + MAGNITUDE_FLOOR


def stft_magnitude(signal: np.ndarray) -> np.ndarray:
    """`|S|` = |STFT| + 1e-6 of mono `signal [samples]`: `[1025, 1 + samples // 512]`.

    Frames are centred (zero padding of 1024 samples either side), so frame
    `t` is centred on sample `512 t`.
    """
    return _floored_magnitude(stft(signal, N_FFT, HOP, padding="zeros"))


def stft_magnitude_frames(signal: np.ndarray, first: int, count: int) -> np.ndarray:
    """Frames `first .. first + count` of `stft_magnitude(signal)` (clipped to its end), reading only their samples."""
    count = min(count, frame_count(len(signal)) - first)
    start = first * HOP - N_FFT // 2
    segment = np.zeros((count - 1) * HOP + N_FFT, dtype=np.float64)
    low, high = max(start, 0), min(start + len(segment), len(signal))
    segment[low - start : high - start] = signal[low:high]
    return _floored_magnitude(windowed_spectra(segment, N_FFT, HOP))


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    logarithmic = 15.0 + np.log(np.maximum(hz, 1000.0) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, logarithmic, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    logarithmic = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, logarithmic, linear)


@functools.lru_cache(maxsize=4)
def mel_filterbank(bands: int) -> np.ndarray:
    """Slaney-normalised triangular mel filters from 0 Hz to Nyquist: `[bands, 1025]` (librosa's default)."""
    bin_hz = np.linspace(0, SAMPLE_RATE / 2, BINS)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), bands + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bin_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def log_mel(magnitude: np.ndarray, bands: int = TIMBRE_MELS) -> np.ndarray:
    """`ln(mel power + 1e-8)` of `|S| [1025, frames]`: `[bands, frames]` (timbre and `copied`)."""
    return np.log(mel_filterbank(bands) @ magnitude**2 + LOG_MEL_FLOOR)


# ----------------------------------------------------------------------------- tonal


def _hz_to_octaves(hz: np.ndarray, tuning: float = 0.0) -> np.ndarray:
    """Octaves above A0's octave base (A440 / 16), with A shifted by `tuning` semitones."""
    return np.log2(hz / (440.0 * 2.0 ** (tuning / 12) / 16))


@functools.lru_cache(maxsize=256)
def chroma_filterbank(tuning: float = 0.0) -> np.ndarray:
    """The standard chroma filterbank (Ellis; librosa's `filters.chroma`): `[12, 1025]`, row 0 is C.

    Each FFT bin spreads over pitch classes with a Gaussian of half a semitone
    (wider where bins are wider than a semitone), unit L2 norm per bin, then
    weighted by a Gaussian over octaves centred on octave 5 with width 2.
    """
    hz = np.linspace(0, SAMPLE_RATE, N_FFT, endpoint=False)[1:]
    positions = 12 * _hz_to_octaves(hz, tuning)
    positions = np.concatenate(([positions[0] - 18.0], positions))  # 0 Hz: 1.5 octaves below bin 1
    widths = np.concatenate((np.maximum(np.diff(positions), 1.0), [1.0]))
    distance = np.subtract.outer(positions, np.arange(12.0)).T
    distance = np.remainder(distance + 6 + 120, 12) - 6
    weights = np.exp(-0.5 * (2 * distance / widths) ** 2)
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)
    weights *= np.exp(-0.5 * ((positions / 12 - 5.0) / 2.0) ** 2)
    return np.roll(weights, -3, axis=0)[:, :BINS]


def _parabolic_shift(spectrum: np.ndarray) -> np.ndarray:
    """Offset in bins of the parabola through each bin and its neighbours; 0 at the edges or when > 1 bin."""
    shift = np.zeros_like(spectrum)
    curvature = spectrum[2:] + spectrum[:-2] - 2 * spectrum[1:-1]
    slope = (spectrum[2:] - spectrum[:-2]) / 2
    usable = np.abs(slope) < np.abs(curvature)
    shift[1:-1] = np.where(usable, -slope / np.where(usable, curvature, 1.0), 0.0)
    return shift


def estimate_tuning(power: np.ndarray) -> float:
    """Deviation from A440 tuning in semitones (-0.5 .. 0.5, steps of 0.01) of `power [1025, frames]`.

    As librosa's `estimate_tuning` on the same spectrogram: peaks (local maxima
    above a tenth of the frame's maximum, 150-4000 Hz) refined by parabolic
    interpolation; of those at least as strong as the median peak, the most
    common distance to the equal-tempered grid.
    """
    hz = np.arange(BINS) * SAMPLE_RATE / N_FFT
    shift = _parabolic_shift(power)
    strength = power + 0.5 * np.gradient(power, axis=0) * shift
    kept = power * (power > 0.1 * power.max(axis=0, keepdims=True))
    peaks = np.zeros(power.shape, dtype=bool)
    peaks[1:-1] = (kept[1:-1] > kept[:-2]) & (kept[1:-1] >= kept[2:])
    peaks[-1] = kept[-1] > kept[-2]
    peaks &= ((hz >= 150.0) & (hz < 4000.0))[:, None]
    bins, frames = np.nonzero(peaks)
    pitches = (bins + shift[bins, frames]) * SAMPLE_RATE / N_FFT
    strengths = strength[bins, frames]
    positive = pitches > 0
    if not positive.any():
        return 0.0
    pitches = pitches[positive & (strengths >= np.median(strengths[positive]))]
    residual = np.mod(12 * _hz_to_octaves(pitches), 1.0)
    residual[residual >= 0.5] -= 1.0
    counts, edges = np.histogram(residual, np.linspace(-0.5, 0.5, 101))
    return float(edges[np.argmax(counts)])


def chroma(power: np.ndarray) -> np.ndarray:
    """12-bin chroma `[12, frames]` of `power = |S|^2 [1025, frames]`, tuning estimated from it."""
    return chroma_filterbank(estimate_tuning(power)) @ power


def tonal(magnitude: np.ndarray) -> float:
    """Tonal clarity of `|S| [1025, frames]`: 1 - mean normalised chroma entropy (1: one pitch class)."""
    classes = chroma(magnitude**2)
    p = classes / np.maximum(classes.sum(axis=0, keepdims=True), _TINY)
    entropy = -(p * np.log(np.maximum(p, _TINY))).sum(axis=0) / np.log(12)
    return float(1.0 - entropy.mean())


# ----------------------------------------------------------------------------- continuity, rhythm, flatness


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over `width` (odd) rows of `values [rows, columns]`, mirrored at the ends."""
    half = width // 2
    padded = np.pad(values, ((half, half), (0, 0)), mode="symmetric")
    sums = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0)
    return (sums[width:] - sums[:-width]) / width


def _standardise_columns(values: np.ndarray) -> np.ndarray:
    """Each column of `values [rows, columns]` to mean 0, std 1 (a constant column becomes 0)."""
    centred = values - values.mean(axis=0, keepdims=True)
    std = centred.std(axis=0, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > _TINY)


def continuity(magnitude: np.ndarray) -> float:
    """Lasting partials of `|S| [1025, frames]`: mean correlation of adjacent frames' spectral detail.

    `ln |S|` below 6.5 kHz, minus its 15-bin moving average along frequency
    (the envelope), standardised per frame; the mean over adjacent frame pairs
    of the mean product. A steady tone gives 1.
    """
    low = np.arange(BINS) * SAMPLE_RATE / N_FFT < CONTINUITY_MAX_HZ
    levels = np.log(magnitude[low])
    detail = _standardise_columns(levels - _moving_average(levels, CONTINUITY_SMOOTHING_BINS))
    if detail.shape[1] < 2:
        return 0.0
    return float((detail[:, 1:] * detail[:, :-1]).mean(axis=0).mean())


def onset_strength(magnitude: np.ndarray) -> np.ndarray:
    """Onset strength `[frames - 1]`: mean over 128 mel bands of the positive rise of their power in dB."""
    decibels = 10 * np.log10(np.maximum(mel_filterbank(ONSET_MELS) @ magnitude**2, 1e-10))
    return np.maximum(0.0, np.diff(decibels, axis=1)).mean(axis=0)


def rhythm(magnitude: np.ndarray) -> float:
    """Rhythmicity of `|S| [1025, frames]`: the highest normalised autocorrelation of onset strength at 0.25-1.5 s."""
    onsets = onset_strength(magnitude)
    onsets = onsets - onsets.mean()
    correlation = np.correlate(onsets, onsets, mode="full")[len(onsets) - 1 :]
    if correlation[0] <= _TINY:
        return 0.0
    low = int(np.ceil(RHYTHM_LAGS_SECONDS[0] * SAMPLE_RATE / HOP))
    high = int(np.floor(RHYTHM_LAGS_SECONDS[1] * SAMPLE_RATE / HOP))
    lags = correlation[low : high + 1] / correlation[0]
    return float(lags.max()) if lags.size else 0.0


def flatness(magnitude: np.ndarray) -> float:
    """Spectral flatness of `|S| [1025, frames]`: geometric over arithmetic mean per frame, mean over frames."""
    return float((np.exp(np.log(magnitude).mean(axis=0)) / magnitude.mean(axis=0)).mean())


def timbre(magnitude: np.ndarray) -> np.ndarray:
    """Mean and std over frames of the 40-band log-mel of `|S| [1025, frames]`: `[80]`."""
    bands = log_mel(magnitude)
    return np.concatenate([bands.mean(axis=1), bands.std(axis=1)])


# ----------------------------------------------------------------------------- per clip


def clip_features(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One clip `[110250]` (already peak normalised) -> (features `[84]`, 40-band log-mel `[40, 216]`)."""
    magnitude = stft_magnitude(clip)
    named = [tonal(magnitude), continuity(magnitude), rhythm(magnitude), flatness(magnitude)]
    bands = log_mel(magnitude)
    vector = np.concatenate([named, bands.mean(axis=1), bands.std(axis=1)])
    return vector, bands.astype(np.float32)


def clips_features(clips: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Clips `[n, 110250]` (or any iterable of clips) -> (features `[n, 84]`, log-mels `[n, 40, 216]` float32)."""
    pairs = [clip_features(clip) for clip in clips]
    if not pairs:
        return np.zeros((0, FEATURES)), np.zeros((0, TIMBRE_MELS, frame_count(CLIP_SAMPLES)), dtype=np.float32)
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def track_log_mel(samples: np.ndarray, chunk_frames: int = 2048) -> np.ndarray:
    """The 40-band log-mel of a whole track `[samples]` (any length): `[40, 1 + samples // 512]` float32.

    Computed in chunks of frames, so a long track never holds its whole STFT.
    """
    total = frame_count(len(samples))
    out = np.empty((TIMBRE_MELS, total), dtype=np.float32)
    for first in range(0, total, chunk_frames):
        block = log_mel(stft_magnitude_frames(samples, first, chunk_frames))
        out[:, first : first + block.shape[1]] = block
    return out
