"""Audio speed: seeking vs whole-file decode, cached vs uncached clip loads, and writing outputs.

Writes bench/results/audio.json and prints a table. Run: .venv/bin/python bench/bench_audio.py
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from autoenc_audio.audio import audio_writer, load_clip, load_track, write_audio
from autoenc_audio.config import AudioConfig, DataConfig
from autoenc_audio.data import prepare_dataset
from autoenc_audio.synth.corpus import render_track

RESULTS = Path(__file__).parent / "results"


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def long_file(folder: Path, suffix: str, minutes: float = 10.0) -> Path:
    """A `minutes`-long stereo 44.1 kHz file made of synthetic music."""
    piece = render_track("groove", 1, 60.0)
    audio = np.tile(piece, (int(minutes), 1))
    path = folder / f"long{suffix}"
    soundfile.write(path, audio, 44100)
    return path


def main() -> None:
    torch.set_num_threads(2)
    config = AudioConfig()
    results: dict = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "seek": {},
        "throughput": {},
        "write": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for suffix in (".mp3", ".flac"):
            path = long_file(folder, suffix)
            seek = best_of(lambda path=path: load_clip(path, config, 300.0))
            whole = best_of(lambda path=path: load_track(path, config)[300 * 22050 : 305 * 22050], repeats=1)
            results["seek"][suffix[1:]] = {
                "clip_from_middle_s": seek,
                "decode_whole_file_s": whole,
                "speedup": whole / seek,
            }

        corpus = folder / "corpus"
        for number in range(24):
            (corpus / "x").mkdir(parents=True, exist_ok=True)
            soundfile.write(corpus / "x" / f"x.{number:05d}.wav", render_track("arpeggio", number, 30.0), 44100)
        files = sorted(corpus.rglob("*.wav"))
        uncached = best_of(lambda: [load_clip(p, config, float(o)) for p in files for o in range(0, 25, 5)], repeats=1)
        clips = len(files) * 5
        prepare_dataset(corpus, config, DataConfig(validation_fraction=0, test_fraction=0), folder / "cache")
        dataset = prepare_dataset(
            corpus, config, DataConfig(validation_fraction=0, test_fraction=0), folder / "cache"
        ).splits["train"]
        cached = best_of(lambda: [dataset[i] for i in range(len(dataset))])
        results["throughput"] = {
            "uncached_clips_per_s": clips / uncached,
            "cached_clips_per_s": len(dataset) / cached,
            "note": "uncached: decode + resample 5 s of a 44.1 kHz stereo WAV per clip; cached: memory-mapped .npy",
        }
        clip = (
            (0.3 * np.random.default_rng(0).standard_normal(config.clip_samples)).clip(-0.99, 0.99).astype(np.float32)
        )
        track = np.tile(clip, 120)  # 10 minutes

        def stream() -> None:
            with audio_writer(folder / "track.flac", config.sample_rate) as write:
                for piece in np.split(track, 240):
                    write(piece)

        results["write"] = {
            "clip_wav_ms": best_of(lambda: write_audio(folder / "clip.wav", clip, config.sample_rate), 20) * 1000,
            "clip_flac_ms": best_of(lambda: write_audio(folder / "clip.flac", clip, config.sample_rate), 20) * 1000,
            "track_10min_flac_streamed_s": best_of(stream),
            "note": "a 5 s clip at 22050 Hz, 16-bit; the 10-minute track in 240 pieces, as --whole writes it",
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audio.json").write_text(json.dumps(results, indent=2) + "\n")
    for fmt, row in results["seek"].items():
        print(
            f"{fmt}: 5 s clip at 5:00 of a 10-min file {row['clip_from_middle_s'] * 1000:.0f} ms, "
            f"decoding the whole file {row['decode_whole_file_s'] * 1000:.0f} ms ({row['speedup']:.0f}x)"
        )
    t = results["throughput"]
    print(f"clip loads: uncached {t['uncached_clips_per_s']:.0f} clips/s, cached {t['cached_clips_per_s']:.0f} clips/s")
    w = results["write"]
    print(
        f"writes: 5 s clip {w['clip_wav_ms']:.1f} ms WAV, {w['clip_flac_ms']:.1f} ms FLAC; "
        f"10-min track streamed to FLAC {w['track_10min_flac_streamed_s'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
