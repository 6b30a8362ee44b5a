"""Speed of an exported model: encode and decode time per clip in torch and in onnxruntime, on 2 threads.

The default arch at the default size (configs/default.toml: N = 18376, 5 s clips at 22050 Hz), built with
`build_model`, PCA-initialised on music-like clips and every learned weight moved by seeded noise (so no
branch is all zeros; speed does not depend on the weights, so no training). `aea export`'s library call writes
the ONNX files (checked against torch as always); then, at batch 1 and 8, torch (`model.encode` /
`model.decode` under inference mode, 2 intra-op threads) and onnxruntime (CPU provider, 2 intra-op threads)
are timed in alternating rounds, so drift on a shared machine hits both alike. Reported: the median time per
call over the rounds, divided by the batch (ms per clip), and torch / onnxruntime (above 1: onnxruntime is
faster); also the best round of each (the least disturbed one) and the load average during the run.

Writes bench/results/export.json and export.md. Run: .venv/bin/python bench/bench_export.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
THREADS = 2
BATCHES = (1, 8)


def default_checkpoint(folder: Path):
    """The default model, PCA-initialised and perturbed, saved and loaded back as `aea export` would load it."""
    import torch

    from autoenc_audio.checkpoints.checkpoint import load_checkpoint, save_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.export.graphs import check_clips
    from autoenc_audio.models import build_model

    config = load_config("default")
    model = build_model(config.model, config.audio)
    model.initialize_from_data(check_clips(config.audio.clip_samples, config.audio.sample_rate, 16)[:, None, :])
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
    return load_checkpoint(save_checkpoint(folder / "default.safetensors", model, config))


def seconds_per_call(function: Callable[[], object], minimum_seconds: float) -> float:
    """Mean wall time of `function` over as many calls as fill `minimum_seconds` (at least 2), after one warm-up."""
    function()
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < minimum_seconds:
        function()
        calls += 1
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of torch and onnxruntime")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement in a round")
    args = parser.parse_args()
    import onnxruntime
    import torch

    from autoenc_audio.export.graphs import check_clips
    from autoenc_audio.export.runtime import load_part
    from autoenc_audio.export.write import ExportRequest, export_model

    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        checkpoint = default_checkpoint(folder)
        model, audio = checkpoint.model, checkpoint.config.audio
        start = time.perf_counter()
        result = export_model(checkpoint, ExportRequest(folder / "exported"))
        export_seconds = time.perf_counter() - start
        runners = {part.part: load_part(part.path, "onnx", threads=THREADS) for part in result.parts}
        clips = check_clips(audio.clip_samples, audio.sample_rate, max(BATCHES))
        with torch.inference_mode():
            latents = model.encode(clips[:, None, :])
        cases: dict[str, Callable[[], object]] = {}
        for batch in BATCHES:
            audio_batch, latent_batch = clips[:batch, None, :], latents[:batch]
            audio_array, latent_array = clips[:batch].numpy(), latents[:batch].numpy()

            def torch_encode(batch_audio=audio_batch) -> object:
                with torch.inference_mode():
                    return model.encode(batch_audio)

            def torch_decode(batch_latent=latent_batch) -> object:
                with torch.inference_mode():
                    return model.decode(batch_latent)

            cases[f"encode|{batch}|torch"] = torch_encode
            cases[f"encode|{batch}|onnxruntime"] = lambda array=audio_array: runners["encoder"](array)
            cases[f"decode|{batch}|torch"] = torch_decode
            cases[f"decode|{batch}|onnxruntime"] = lambda array=latent_array: runners["decoder"](array)
        timings: dict[str, list[float]] = {key: [] for key in cases}
        load_before = os.getloadavg()[0]
        for round_number in range(args.rounds):
            for key, function in cases.items():
                timings[key].append(seconds_per_call(function, args.seconds))
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
        load_after = os.getloadavg()[0]
        sizes = {part.part: part.path.stat().st_size for part in result.parts}
        errors = {part.part: part.relative_error for part in result.parts}

    rows = []
    for part in ("encode", "decode"):
        for batch in BATCHES:
            per_clip = {
                runtime: 1000 * statistics.median(timings[f"{part}|{batch}|{runtime}"]) / batch
                for runtime in ("torch", "onnxruntime")
            }
            spread = {
                runtime: [round(1000 * value / batch, 2) for value in timings[f"{part}|{batch}|{runtime}"]]
                for runtime in ("torch", "onnxruntime")
            }
            best = {runtime: min(values) for runtime, values in spread.items()}
            rows.append(
                {
                    "part": part,
                    "batch": batch,
                    "torch_ms_per_clip": round(per_clip["torch"], 2),
                    "onnxruntime_ms_per_clip": round(per_clip["onnxruntime"], 2),
                    "torch_over_onnxruntime": round(per_clip["torch"] / per_clip["onnxruntime"], 2),
                    "best_round_torch_ms_per_clip": best["torch"],
                    "best_round_onnxruntime_ms_per_clip": best["onnxruntime"],
                    "best_round_torch_over_onnxruntime": round(best["torch"] / best["onnxruntime"], 2),
                    "rounds_ms_per_clip": spread,
                }
            )
    results = {
        "machine": f"{platform.machine()}, {THREADS} threads, {os.cpu_count()} cores (shared: indicative)",
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "model": {
            "arch": "default",
            "latent": model.latent_size,
            "clip_samples": audio.clip_samples,
            "sample_rate": audio.sample_rate,
            "description": model.arch_description,
        },
        "export_seconds": round(export_seconds, 1),
        "file_bytes": sizes,
        "relative_error": errors,
        "rounds": args.rounds,
        "load_average_1min": [round(load_before, 1), round(load_after, 1)],
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "export.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "export.md").write_text(markdown(results))
    print(markdown(results))


def spread(results: dict, runtime: str) -> float:
    """The largest slowest-over-fastest round ratio of `runtime` over the rows."""
    return max(max(values) / min(values) for values in (row["rounds_ms_per_clip"][runtime] for row in results["rows"]))


def markdown(results: dict) -> str:
    model = results["model"]
    lines = [
        "# Exported model speed: torch against onnxruntime",
        "",
        f"Machine: {results['machine']}; torch {results['torch']}, onnxruntime {results['onnxruntime']}, "
        f"{THREADS} intra-op threads each. Model: the default arch at N = {model['latent']} "
        f"({model['clip_samples']}-sample clips at {model['sample_rate']} Hz; {model['description']}), "
        "untrained (speed does not depend on the weights). Median and best of "
        f"{results['rounds']} alternating rounds; `bench/bench_export.py`. One-minute load average at the start "
        f"and end: {results['load_average_1min'][0]} and {results['load_average_1min'][1]} (the machine was shared).",
        "",
        "| part | batch | torch ms/clip | onnxruntime ms/clip | torch / onnxruntime | best round: torch | onnxruntime | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['part']} | {row['batch']} | {row['torch_ms_per_clip']:.1f} | "
            f"{row['onnxruntime_ms_per_clip']:.1f} | {row['torch_over_onnxruntime']:.2f} | "
            f"{row['best_round_torch_ms_per_clip']:.1f} | {row['best_round_onnxruntime_ms_per_clip']:.1f} | "
            f"{row['best_round_torch_over_onnxruntime']:.2f} |"
        )
    sizes = ", ".join(f"{part} {size / 1e6:.1f} MB" for part, size in results["file_bytes"].items())
    errors = ", ".join(f"{part} {error:.1e}" for part, error in results["relative_error"].items())
    lines += [
        "",
        f"Above 1: onnxruntime is faster. A clip is {1000 * model['clip_samples'] / model['sample_rate']:.0f} ms of audio.",
        f"Slowest round over fastest, the largest of the four rows: torch {spread(results, 'torch'):.1f}x, "
        f"onnxruntime {spread(results, 'onnxruntime'):.1f}x. On a busy machine torch's times swing far more, so the",
        "best round's ratio is the nearer guess for an idle one.",
        "",
        f"Export took {results['export_seconds']} s (tracing, writing and the check); files: {sizes}; "
        f"relative error against torch (max|onnx - torch| / max|torch|, 3 clips): {errors}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
