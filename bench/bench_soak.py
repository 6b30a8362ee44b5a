"""Soak: resident memory of one process that encodes and decodes thousands of clips (a notebook, a service).

One process makes 2,200 calls (by default), each an encode and a decode of one input:
- 2,000 through the Python API: `model.encode(...)` then `model.decode(z)`, with varied inputs: numpy arrays
  of random lengths (0.2 to 40 s) at rates from 8 to 96 kHz, mono and stereo, torch tensors, files (WAV, FLAC,
  Ogg, MP3 at several rates, lengths and channel counts), the three crop modes, and every eighth call a
  whole track (`whole=True`, decoded back by overlap-add);
- 200 through the commands' library path: `latents.encode.encode_inputs` + `latents.files.save_latents`
  (`.pt`, `.npz`, `.safetensors`, `.npy`; whole-track sequences too), then `latents.files.load_latents` +
  `latents.decode.decode_file`, writing into a temporary folder (the outputs are removed after each call).
The two kinds are interleaved (every eleventh call is a command's), so every code path has run many times
before call 200 and a leak in either shows as growth after it.

The model: the default arch at the default size (configs/default.toml: N = 18376, 5 s clips at 22050 Hz),
built with `build_model`, PCA-initialised on music-like clips (`export.graphs.check_clips`) and saved with
`save_checkpoint` into bench/.runs/soak/; memory does not depend on training. `aea.load` loads it.

Every 100 calls (every tenth of `--calls` when there are fewer than 1,000): resident memory (VmRSS of
/proc/self/status) as the process holds it, then again after
`gc.collect()` and glibc's `malloc_trim(0)` (the "live" RSS: memory still in use, without the freed blocks the
allocator keeps for reuse, up to its trim threshold of tens of MB after large transient arrays); the count of
Python objects the collector tracks and of open file descriptors. The verdict, from call 200 (or half of
`--calls` when fewer than 400) to the last call: the live RSS must grow under 5 % of the peak (the largest sample
of either RSS), and neither the Python objects nor the open file descriptors may grow at all (a leak of a few
objects a call hides in the RSS's noise for thousands of calls: that is how the safetensors leak was found). The
held RSS is
reported beside it, with its range: it swings with whatever the last few calls freed, so one sample of it
against another says little. `--trace` also runs tracemalloc and lists the source lines whose Python (and
numpy) allocations grew most from call 200 to the end (slow: use it to find a leak, not to measure).

Writes bench/results/soak.json, soak.md and soak.png (soak-CALLS.* for another --calls, `--name` another stem). Run:
    nice -n 10 .venv/bin/python bench/bench_soak.py [--calls 2200] [--threads 1] [--trace]
`MALLOC_MMAP_THRESHOLD_=...` in the environment (recorded in the results) shows how much of the held RSS's
swing is the allocator's.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import functools
import gc
import json
import os
import platform
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
RUNS = Path(__file__).parent / ".runs" / "soak"
DEFAULT_CALLS = 2200
EVERY = 100  # calls between samples
CLI_EVERY = 11  # every eleventh call goes through the commands' library path
WHOLE_EVERY = 8  # every eighth API call encodes a whole track
SKIP = 200  # growth is measured from this call on: the first calls fill allocator pools and caches
LIMIT = 0.05  # growth of the live RSS over its peak must stay under this
OBJECTS_LIMIT = 0  # growth of the Python objects the collector tracks, from call SKIP to the end
FILES_LIMIT = 0  # growth of the open file descriptors, likewise
RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
FILE_KINDS = (  # (extension, rate, channels, seconds) of the input files
    (".wav", 44100, 2, 7.3),
    (".wav", 16000, 1, 2.1),
    (".wav", 48000, 2, 31.0),
    (".flac", 22050, 1, 5.0),
    (".flac", 96000, 2, 12.4),
    (".flac", 32000, 1, 0.7),
    (".ogg", 44100, 2, 9.9),
    (".ogg", 24000, 1, 18.2),
    (".mp3", 44100, 2, 11.0),
    (".mp3", 22050, 1, 3.3),
    (".mp3", 48000, 2, 26.5),
)
LATENT_FORMATS = (".pt", ".npz", ".safetensors", ".npy")


def proc_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) of this process, in KiB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def music(samples: int, rate: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """`[samples, channels]` float32 music-like audio: a decaying chord on a beat, noise bursts, peak 0.5."""
    time_axis = np.arange(samples) / rate
    root = 110.0 * 2 ** rng.uniform(0, 2)
    notes = sum(np.sin(2 * np.pi * root * ratio * time_axis) / (1 + k) for k, ratio in enumerate((1, 1.25, 1.5, 2)))
    beat = np.exp(-(time_axis % 0.25) * 12.0)
    columns = []
    for _ in range(channels):
        noise = rng.standard_normal(samples) * np.exp(-(time_axis % 0.5) * 40.0)
        columns.append(notes * beat + 0.3 * noise)
    audio = np.stack(columns, axis=1)
    return (0.5 * audio / max(np.abs(audio).max(), 1e-9)).astype(np.float32)


def make_checkpoint(folder: Path) -> Path:
    """The default model, PCA-initialised on music-like clips, saved as a checkpoint."""
    from autoenc_audio.checkpoints.checkpoint import save_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.export.graphs import check_clips
    from autoenc_audio.models import build_model

    config = load_config("default")
    model = build_model(config.model, config.audio)
    model.initialize_from_data(check_clips(config.audio.clip_samples, config.audio.sample_rate, 16)[:, None, :])
    folder.mkdir(parents=True, exist_ok=True)
    return Path(save_checkpoint(folder / "default.safetensors", model, config))


def make_files(folder: Path, rng: np.random.Generator) -> list[str]:
    """The input files of FILE_KINDS, written with soundfile (MP3 through libsndfile's encoder)."""
    import soundfile

    paths = []
    for number, (extension, rate, channels, seconds) in enumerate(FILE_KINDS):
        path = folder / f"input-{number:02d}{extension}"
        soundfile.write(path, music(int(seconds * rate), rate, channels, rng), rate)
        paths.append(str(path))
    return paths


@functools.cache
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, loaded once; None elsewhere (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Collect garbage and hand the allocator's free pages back to the kernel (glibc only); True if trimmed."""
    gc.collect()
    trim = malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class Sample(NamedTuple):
    """One reading."""

    call: int
    held_kib: int  # VmRSS as the process holds it
    rss_kib: int  # VmRSS after gc.collect() and malloc_trim(0): the live memory
    hwm_kib: int
    python_objects: int  # tracked by the collector, not counting the samples themselves
    open_files: int
    seconds: float


class Soak:
    """The calls, their inputs drawn from one seeded generator."""

    def __init__(self, model, files: list[str], out: Path, seed: int) -> None:
        self.model, self.files, self.out = model, files, out
        self.rng = np.random.default_rng(seed)
        self.kinds: dict[str, int] = {}

    def warm_up(self) -> None:
        """One call of every kind before the counted ones: each API input kind and a whole track, each latent
        format, whole or not. The first of each imports modules and fills caches, which a short run would count as
        growth. It draws from its own generator, so the counted calls get the same inputs as without it."""
        rng, kinds = self.rng, dict(self.kinds)
        self.rng = np.random.default_rng(rng.integers(1 << 30))
        for number in (0, 1, 2, 3, WHOLE_EVERY - 1):
            self.api_call(number)
        for number in (0, 4, 8, 12, 3, 7, 11):  # .pt, .npz, .safetensors, .npy; whole .safetensors, .pt, .npz
            self.command_call(number)
        self.rng, self.kinds = rng, kinds

    def count(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def call(self, number: int) -> None:
        if number % CLI_EVERY == CLI_EVERY - 1:
            self.command_call(number // CLI_EVERY)
        else:
            self.api_call(number - number // CLI_EVERY)

    def api_call(self, number: int) -> None:
        """One encode and decode through the Python API."""
        import torch

        model, rng = self.model, self.rng
        if number % WHOLE_EVERY == WHOLE_EVERY - 1:
            rate = int(rng.choice(RATES))
            audio = music(int(rng.uniform(1.0, 25.0) * rate), rate, int(rng.integers(1, 3)), rng)
            encoded = model.encode(audio, sample_rate=rate, whole=True)
            model.decode(encoded)
            self.count("api: whole array")
            return
        crop = {"crop": str(rng.choice(["start", "center", "random"])), "seed": int(rng.integers(1 << 30))}
        kind = number % 4
        if kind == 3:
            path = self.files[int(rng.integers(len(self.files)))]
            z = model.encode(path, **crop)
            self.count("api: file")
        else:
            rate = int(rng.choice(RATES))
            seconds = float(np.exp(rng.uniform(np.log(0.2), np.log(40.0))))
            audio = music(max(1, int(seconds * rate)), rate, 1 + kind % 2, rng)
            if kind == 0:
                z = model.encode(audio[:, 0], sample_rate=rate, **crop)
                self.count("api: mono array")
            elif kind == 1:
                z = model.encode(audio, sample_rate=rate, **crop)
                self.count("api: stereo array")
            else:
                z = model.encode(torch.from_numpy(audio[:, 0].copy()), sample_rate=rate, **crop)
                self.count("api: tensor")
        model.decode(z)

    def command_call(self, number: int) -> None:
        """`aea encode FILES -o Z` then `aea decode Z -o OUT`, as their library calls, into a temporary folder."""
        from autoenc_audio.latents.decode import decode_file
        from autoenc_audio.latents.encode import encode_inputs
        from autoenc_audio.latents.files import load_latents, save_latents

        checkpoint, rng = self.model.checkpoint, self.rng
        whole = number % 4 == 3
        count = 1 if whole else int(rng.integers(1, 4))
        inputs = [self.files[int(i)] for i in rng.choice(len(self.files), size=count, replace=False)]
        extension = (".safetensors", ".pt", ".npz")[number // 4 % 3] if whole else LATENT_FORMATS[number // 4 % 4]
        folder = self.out / f"call-{number:03d}"
        latent_path = folder / f"z{extension}"
        result = encode_inputs(checkpoint, inputs, whole=whole, crop="center", vector=count == 1)
        save_latents(latent_path, result.latent_file)
        decode_file(checkpoint, load_latents(latent_path), str(folder / ("track.wav" if whole else "decoded/")))
        shutil.rmtree(folder)
        self.count(f"commands: {'whole ' if whole else ''}{extension}")


def sample(call: int, start: float, earlier: int) -> Sample:
    """Readings after `call` calls; `earlier` samples are held (Python objects the count leaves out)."""
    seconds = time.perf_counter() - start
    held = proc_status()["VmRSS"]
    release_free_memory()
    status = proc_status()
    return Sample(call, held, status["VmRSS"], status["VmHWM"], len(gc.get_objects()) - earlier, open_files(), seconds)


def slope_of(samples: list[Sample], field: str) -> float:
    """Least-squares KiB per call of one reading."""
    if len(samples) < 2:
        return 0.0
    return float(np.polyfit([s.call for s in samples], [getattr(s, field) for s in samples], 1)[0])


def schedule(calls: int) -> tuple[int, int]:
    """Calls between samples and the call the verdict measures from: EVERY and SKIP, scaled down for short runs
    (every tenth of the calls, from half of them) so that both are sampled."""
    every = min(EVERY, max(1, calls // 10))
    return every, every * (min(SKIP, calls // 2) // every)  # a multiple of `every`: a sampled call


def verdict(samples: list[Sample], skip: int = SKIP) -> dict:
    """Growth from call `skip` to the end: of the live RSS against its peak, of Python objects and of open files."""
    by_call = {s.call: s for s in samples}
    first, last = by_call[skip], samples[-1]
    peak = max(max(s.rss_kib, s.held_kib) for s in samples)
    growth = last.rss_kib - first.rss_kib
    tail = [s for s in samples if s.call >= skip]
    held = [s.held_kib for s in tail]
    middle = (skip + last.call) // 2
    halves = [[s.held_kib for s in tail if s.call <= middle], [s.held_kib for s in tail if s.call >= middle]]
    slope = slope_of(tail, "rss_kib")
    objects = last.python_objects - first.python_objects
    files = last.open_files - first.open_files
    failed = [
        name
        for name, over in (
            ("live RSS", growth >= LIMIT * peak),
            ("Python objects", objects > OBJECTS_LIMIT),
            ("open files", files > FILES_LIMIT),
        )
        if over
    ]
    return {
        "from_call": skip,
        "to_call": last.call,
        "rss_at_from_mib": round(first.rss_kib / 1024, 1),
        "rss_at_end_mib": round(last.rss_kib / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "peak_hwm_mib": round(last.hwm_kib / 1024, 1),
        "growth_mib": round(growth / 1024, 1),
        "growth_over_peak": round(growth / peak, 4),
        "max_over_from_mib": round((max(s.rss_kib for s in tail) - first.rss_kib) / 1024, 1),
        "held_range_mib": [round(min(held) / 1024, 1), round(max(held) / 1024, 1)],
        "held_growth_mib": round((last.held_kib - first.held_kib) / 1024, 1),
        "held_slope_mib_per_1000_calls": round(float(slope_of(tail, "held_kib")) * 1000 / 1024, 2),
        "held_halves": [skip, middle, last.call],
        "held_max_by_half_mib": [round(max(half) / 1024, 1) for half in halves],
        "slope_mib_per_1000_calls": round(float(slope) * 1000 / 1024, 2),
        "python_objects_growth": objects,
        "open_files_growth": files,
        "limit": LIMIT,
        "python_objects_limit": OBJECTS_LIMIT,
        "open_files_limit": FILES_LIMIT,
        "failed_on": failed,
        "passed": not failed,
    }


def top_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, limit: int = 12) -> list[dict]:
    """Source lines whose traced Python allocations grew most between two snapshots."""
    stats = after.compare_to(before, "lineno")
    return [
        {"where": str(stat.traceback[0]), "growth_kib": round(stat.size_diff / 1024, 1), "count": stat.count_diff}
        for stat in stats[:limit]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, default=DEFAULT_CALLS, help="encode+decode calls (every 11th a command's; at least 2)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trace", action="store_true", help="also trace Python allocations (slow)")
    parser.add_argument(
        "--name", help="results file stem under bench/results/ [default: soak, or soak-CALLS for another --calls]"
    )
    args = parser.parse_args()
    if args.calls < 2:
        parser.error("--calls must be at least 2: the verdict compares a sample after half of them with the last")
    every, skip = schedule(args.calls)
    args.name = args.name or ("soak" if args.calls == DEFAULT_CALLS else f"soak-{args.calls}")
    import torch

    import autoenc_audio as aea

    torch.set_num_threads(args.threads)
    checkpoint_path = make_checkpoint(RUNS)
    model = aea.load(checkpoint_path)
    samples: list[Sample] = []
    traced: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="aea-soak-") as name:
        folder = Path(name)
        files = make_files(folder, np.random.default_rng(args.seed))
        out = folder / "out"
        out.mkdir()
        soak = Soak(model, files, out, args.seed)
        soak.warm_up()
        if args.trace:
            tracemalloc.start(1)
        snapshot = None
        trimmed = release_free_memory()
        start = time.perf_counter()
        samples.append(sample(0, start, len(samples)))
        for number in range(args.calls):
            soak.call(number)
            if (number + 1) % every == 0 or number + 1 == args.calls:
                samples.append(sample(number + 1, start, len(samples)))
                last = samples[-1]
                print(
                    f"call {last.call}: RSS held {last.held_kib / 1024:.1f} MiB, live {last.rss_kib / 1024:.1f} MiB, "
                    f"{last.python_objects} objects, "
                    f"{last.open_files} fds, {last.seconds:.0f} s",
                    flush=True,
                )
                if args.trace and number + 1 == skip:
                    snapshot = tracemalloc.take_snapshot()
        if args.trace and snapshot is not None:
            traced = top_growth(snapshot, tracemalloc.take_snapshot())
            tracemalloc.stop()
        leftovers = sorted(str(p.relative_to(out)) for p in out.iterdir())

    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), torch {torch.__version__}, "
        f"{args.threads} intra-op thread(s)",
        "python": platform.python_version(),
        "model": {
            "arch": model.config.model.arch,
            "latent": model.latent_size,
            "clip_samples": model.clip_samples,
            "sample_rate": model.sample_rate,
        },
        "calls": args.calls,
        "kinds": dict(sorted(soak.kinds.items())),
        "traced": args.trace,
        "trimmed": trimmed,
        "allocator_environment": {key: value for key, value in sorted(os.environ.items()) if key.startswith("MALLOC_")},
        "seconds": round(samples[-1].seconds, 1),
        "leftover_outputs": leftovers,
        "samples": [
            {
                "call": s.call,
                "held_rss_mib": round(s.held_kib / 1024, 1),
                "rss_mib": round(s.rss_kib / 1024, 1),
                "hwm_mib": round(s.hwm_kib / 1024, 1),
                "python_objects": s.python_objects,
                "open_files": s.open_files,
                "seconds": round(s.seconds, 1),
            }
            for s in samples
        ],
        "verdict": verdict(samples, skip),
        "tracemalloc_top_growth": traced,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(results, args.name))
    plot(results, RESULTS / f"{args.name}.png")
    print(markdown(results, args.name))
    if not results["verdict"]["passed"]:
        raise SystemExit(1)  # scripts and make see a leak


def markdown(results: dict, name: str) -> str:
    v, model = results["verdict"], results["model"]
    kinds = ", ".join(f"{kind} {count}" for kind, count in results["kinds"].items())
    live = "after `gc.collect()` and `malloc_trim(0)`" if results["trimmed"] else "after `gc.collect()` (no glibc)"
    settings = ", ".join(f"`{key}={value}`" for key, value in results["allocator_environment"].items())
    allocator = f" Allocator settings from the environment: {settings}." if settings else ""
    lines = [
        "# Soak: memory of one process encoding and decoding thousands of clips",
        "",
        f"Machine: {results['machine']}; Python {results['python']}. Model: the {model['arch']} arch at "
        f"N = {model['latent']} ({model['clip_samples']}-sample clips at {model['sample_rate']} Hz), untrained "
        f"(memory does not depend on the weights). `bench/bench_soak.py`: {results['calls']} calls in one process, "
        f"{results['seconds']:.0f} s{', with tracemalloc on' if results['traced'] else ''}; each call encodes "
        f"and decodes one input (the Python API, and every eleventh call the library calls of `aea encode` and "
        f"`aea decode` writing into a temporary folder). Calls by kind: {kinds}.",
        "",
        f"**Verdict: {'PASS' if v['passed'] else 'FAIL'}"
        f"{'' if v['passed'] else ' (grew: ' + ', '.join(v['failed_on']) + ')'}.** Live resident memory ({live}) grew "
        f"{v['growth_mib']} MiB from call {v['from_call']} ({v['rss_at_from_mib']} MiB) to call {v['to_call']} "
        f"({v['rss_at_end_mib']} MiB): {100 * v['growth_over_peak']:.1f} % of the peak sample "
        f"({v['peak_rss_mib']} MiB), against a limit of {100 * v['limit']:.0f} %. Least-squares slope after call "
        f"{v['from_call']}: {v['slope_mib_per_1000_calls']} MiB per 1000 calls; the highest live sample after it was "
        f"{v['max_over_from_mib']} MiB above it. Python objects tracked by the collector: "
        f"{v['python_objects_growth']:+d} (limit {v.get('python_objects_limit', 0):+d}); open file descriptors: "
        f"{v['open_files_growth']:+d} (limit {v.get('open_files_limit', 0):+d}); outputs left in the temporary "
        f"folder: {len(results['leftover_outputs'])}.",
        "",
        f"The RSS the process holds between calls (before the trim) ranged {v['held_range_mib'][0]} to "
        f"{v['held_range_mib'][1]} MiB after call {v['from_call']}; from call {v['from_call']} to the end it moved "
        f"{v['held_growth_mib']:+.1f} MiB, slope {v['held_slope_mib_per_1000_calls']} MiB per 1000 calls, and its "
        f"highest sample was {v['held_max_by_half_mib'][0]} MiB in calls {v['held_halves'][0]}-{v['held_halves'][1]} "
        f"and {v['held_max_by_half_mib'][1]} MiB in calls {v['held_halves'][1]}-{v['held_halves'][2]}. It depends "
        "on which large arrays the last calls freed: glibc keeps freed blocks for reuse up to its trim threshold, "
        "which it raises after large transient arrays. The kernel's high-water mark (VmHWM, the most the process "
        f"ever held, during a whole-track call) was {v['peak_hwm_mib']} MiB.{allocator}",
        "",
        "| call | RSS held MiB | RSS live MiB | VmHWM MiB | Python objects | open fds | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in results["samples"]:
        lines.append(
            f"| {s['call']} | {s['held_rss_mib']:.1f} | {s['rss_mib']:.1f} | {s['hwm_mib']:.1f} | "
            f"{s['python_objects']} | {s['open_files']} | {s['seconds']:.0f} |"
        )
    lines += ["", f"![Resident memory against calls]({name}.png)", ""]
    if results["tracemalloc_top_growth"]:
        lines += [
            f"tracemalloc, Python allocations that grew most from call {v['from_call']} to the end:",
            "",
            "| where | growth KiB | blocks |",
            "|---|---|---|",
        ]
        for row in results["tracemalloc_top_growth"]:
            where = row["where"].replace(str(ROOT) + "/", "")
            lines.append(f"| `{where}` | {row['growth_kib']} | {row['count']} |")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """A small figure of resident memory against calls, with the verdict's window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls = [s["call"] for s in results["samples"]]
    figure, axes = plt.subplots(figsize=(6, 2.6), dpi=100)
    axes.plot(calls, [s["held_rss_mib"] for s in results["samples"]], marker=".", label="RSS held")
    axes.plot(calls, [s["rss_mib"] for s in results["samples"]], marker=".", label="RSS live")
    axes.plot(calls, [s["hwm_mib"] for s in results["samples"]], linestyle="--", label="VmHWM (peak)")
    axes.axvspan(results["verdict"]["from_call"], calls[-1], color="0.9", zorder=0)
    axes.set_xlabel("calls (encode + decode)")
    axes.set_ylabel("MiB")
    axes.set_ylim(bottom=0)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    main()
