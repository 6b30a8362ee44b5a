"""Latents at scale: encode/decode real-time factor and peak memory for a long track with --whole,
and whether random samples sound like noise (spectral flatness).

1. Trains a default-arch AE (latent 18376, configs/demo.toml settings: the built-in corpus) for
   `--minutes` (default 1) into a temporary folder; speed does not depend on the weights, the
   flatness figures do.
2. Times `aea encode --whole` of a 10-minute 44.1 kHz stereo track and `aea decode` of the result,
   each in its own process (2 threads), with peak RSS (`resource.getrusage` maxrss of that process).
   The same for a 60-minute track's encode (memory must stay at a batch of audio, not the track).
3. Spectral flatness (metrics.spectral_flatness, white noise ~0.56) of decoded random latents:
   AE fitted Gaussian vs `--naive`, against white noise, real music clips (bench/music/test.npy
   when present) and the corpus' own clips; optionally a VAE trained `--vae-minutes`.

Writes bench/results/latents.json. Run: .venv/bin/python bench/bench_latents.py [--minutes 1] [--vae-minutes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
MUSIC = Path(__file__).parent / "music" / "test.npy"
THREADS = 2


def child(arguments: list[str]) -> None:
    """Run one aea command in this process and write its wall time and peak memory to a JSON file."""
    report, command = arguments[0], arguments[1:]
    import torch

    torch.set_num_threads(THREADS)
    from autoenc_audio.cli import cli

    start = time.perf_counter()
    try:
        cli.main(command, prog_name="aea", standalone_mode=False)
        code = 0
    except SystemExit as error:
        code = error.code or 0
    seconds = time.perf_counter() - start
    maxrss_mb = peak_rss_mb()
    Path(report).write_text(json.dumps({"seconds": seconds, "maxrss_mb": maxrss_mb, "exit_code": code}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux carries the parent's high-water mark across fork+exec
    into getrusage's ru_maxrss, so /proc/self/status VmHWM (this image's own peak) is read where it exists."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(folder: Path, *command: str) -> dict:
    report = folder / "report.json"
    environment = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "AEA_MODEL": ""}
    subprocess.run(
        [sys.executable, __file__, "--child", str(report), *command],
        check=True,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    result = json.loads(report.read_text())
    assert result["exit_code"] == 0, result
    return result


def long_track(folder: Path, minutes: int) -> Path:
    """`minutes` of synthetic music (six styles in turn), 44.1 kHz stereo WAV."""
    import soundfile

    from autoenc_audio.synth.corpus import render_track
    from autoenc_audio.synth.styles import STYLES

    path = folder / f"track-{minutes}min.wav"
    pieces = [render_track(STYLES[i % len(STYLES)], i, 60.0) for i in range(min(minutes, 6))]
    with soundfile.SoundFile(path, "w", samplerate=44100, channels=2, subtype="PCM_16") as handle:
        for minute in range(minutes):
            handle.write(pieces[minute % len(pieces)])
    return path


def train_model(folder: Path, cache: Path, minutes: float, kind: str) -> tuple[Path, dict]:
    from autoenc_audio.config import Config, load_config
    from autoenc_audio.data import builtin_corpus
    from autoenc_audio.training.loop import train

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.toml")
    values = config.to_dict()
    values["train"].update(minutes=minutes, epochs=None)
    values["model"]["kind"] = kind
    config = Config.from_dict(values)
    corpus = builtin_corpus(cache, config.data)
    summary = train(config, folder / f"run-{kind}", cache, data_root=corpus, overwrite=True)
    return folder / f"run-{kind}" / "best.safetensors", {
        "kind": kind,
        "minutes": minutes,
        "epochs": summary["epochs"],
        "latent": summary["latent_size"],
        "test": {k: round(v, 3) for k, v in summary["test"].items() if k in ("snr_db", "mrstft", "mel_l1")},
        "data": f"built-in corpus, {config.data.corpus_tracks} tracks x {config.data.corpus_seconds:g} s",
    }


def flatness(model_path: Path, cache: Path, samples: int = 16) -> dict:
    import torch

    from autoenc_audio.checkpoints.checkpoint import load_checkpoint
    from autoenc_audio.data import builtin_corpus, prepare_dataset
    from autoenc_audio.generation.latent_methods import sample_random
    from autoenc_audio.latents.batches import decode_latents, reconstruct_clips
    from autoenc_audio.metrics import spectral_flatness

    checkpoint = load_checkpoint(model_path)
    model, audio = checkpoint.model, checkpoint.config.audio

    def sf(clips: torch.Tensor) -> float:
        return round(float(spectral_flatness(clips.reshape(len(clips), -1)).mean()), 4)

    out = {}
    if checkpoint.config.model.kind == "vae":
        out["vae_prior"] = sf(decode_latents(model, sample_random(checkpoint, samples, seed=0).latents))
        out["vae_prior_t0.5"] = sf(
            decode_latents(model, sample_random(checkpoint, samples, seed=0, temperature=0.5).latents)
        )
    else:
        out["ae_fitted_gaussian"] = sf(decode_latents(model, sample_random(checkpoint, samples, seed=0).latents))
        out["ae_fitted_gaussian_t0.5"] = sf(
            decode_latents(model, sample_random(checkpoint, samples, seed=0, temperature=0.5).latents)
        )
    out["naive_n01"] = sf(decode_latents(model, sample_random(checkpoint, samples, seed=0, naive=True).latents))
    out["white_noise"] = sf(torch.randn(samples, audio.clip_samples, generator=torch.Generator().manual_seed(0)))
    test = prepare_dataset(builtin_corpus(cache, checkpoint.config.data), audio, checkpoint.config.data, cache).splits[
        "test"
    ]
    corpus = torch.stack([test[i][0] for i in np.linspace(0, len(test) - 1, samples).astype(int)])
    out["corpus_clips"] = sf(corpus)
    out["corpus_reconstructions"] = sf(reconstruct_clips(model, corpus))
    if MUSIC.exists() and audio.sample_rate == 22050 and audio.clip_samples == 110250:
        music = np.load(MUSIC, mmap_mode="r")
        picks = np.linspace(0, len(music) - 1, samples).astype(int)
        real = torch.from_numpy(np.stack([music[i] for i in picks])).unsqueeze(1)
        out["real_music_clips"] = sf(real)
        out["real_music_reconstructions"] = sf(reconstruct_clips(model, real))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="AE training budget")
    parser.add_argument("--vae-minutes", type=float, default=0.0, help="also train a VAE this long (0: skip)")
    parser.add_argument("--long-minutes", type=int, default=60, help="length of the memory-check track (0: skip)")
    args = parser.parse_args()
    import torch

    from autoenc_audio.data import default_cache_dir

    torch.set_num_threads(THREADS)
    cache = default_cache_dir()
    results: dict = {"machine": f"{platform.machine()}, {THREADS} threads, {os.cpu_count()} cores (shared: indicative)"}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        model, results["ae_model"] = train_model(folder, cache, args.minutes, "ae")
        print("trained", results["ae_model"], flush=True)
        track = long_track(folder, 10)
        seconds = 600.0
        encode = measure(
            folder,
            "encode",
            "--whole",
            str(track),
            "-o",
            str(folder / "z.pt"),
            "--model",
            str(model),
            "--device",
            "cpu",
        )
        decode = measure(
            folder,
            "decode",
            str(folder / "z.pt"),
            "-o",
            str(folder / "out.wav"),
            "--model",
            str(model),
            "--device",
            "cpu",
        )
        clips = int(torch.load(folder / "z.pt", weights_only=True)["latents"].shape[0])
        results["whole_track_10min"] = {
            "audio_seconds": seconds,
            "clips": clips,
            "hop_seconds": 2.5,
            "encode": {
                "seconds": round(encode["seconds"], 2),
                "realtime_factor": round(seconds / encode["seconds"], 1),
                "peak_rss_mb": round(encode["maxrss_mb"]),
            },
            "decode": {
                "seconds": round(decode["seconds"], 2),
                "realtime_factor": round(seconds / decode["seconds"], 1),
                "peak_rss_mb": round(decode["maxrss_mb"]),
            },
            "note": "wall time of the command after imports, incl. model load, reading, resampling 44.1k->22.05k, "
            "writing; each in its own process with 2 torch threads; peak RSS is VmHWM of that process",
        }
        print(json.dumps(results["whole_track_10min"]), flush=True)
        (folder / "z.pt").unlink()
        track.unlink()
        if args.long_minutes:
            long = long_track(folder, args.long_minutes)
            memory = measure(
                folder,
                "encode",
                "--whole",
                str(long),
                "-o",
                str(folder / "long.pt"),
                "--model",
                str(model),
                "--device",
                "cpu",
            )
            latent_mb = (folder / "long.pt").stat().st_size / 2**20
            results[f"whole_track_{args.long_minutes}min_encode"] = {
                "seconds": round(memory["seconds"], 1),
                "realtime_factor": round(args.long_minutes * 60 / memory["seconds"], 1),
                "peak_rss_mb": round(memory["maxrss_mb"]),
                "latent_file_mb": round(latent_mb),
                "note": "peak includes the (clips x 18376) float32 latents themselves and the torch runtime",
            }
            print(json.dumps(results[f"whole_track_{args.long_minutes}min_encode"]), flush=True)
        results["spectral_flatness"] = {"ae": flatness(model, cache)}
        print(json.dumps(results["spectral_flatness"]), flush=True)
        if args.vae_minutes:
            vae, results["vae_model"] = train_model(folder, cache, args.vae_minutes, "vae")
            results["spectral_flatness"]["vae"] = flatness(vae, cache)
        else:
            results["vae_model"] = "not run (pass --vae-minutes 10)"
    results["spectral_flatness"]["definition"] = (
        "metrics.spectral_flatness (n_fft 2048, hop 512), mean over 16 clips of 5 s"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latents.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
