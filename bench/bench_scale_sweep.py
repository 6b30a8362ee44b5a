"""The assignment's latent-size sweep at GTZAN size, end to end, as a user would run it (issue 31, part 3).

On the built-in corpus at GTZAN size (1,000 tracks x 30 s, bench/.cache/corpus-s0-n1000-t30, shared with
bench_scale.py), one `aea` command after another:

1. `aea sweep --latents 55112,32151,24496,18376,9184 --steps-per-model STEPS` (one model per size, the same
   number of optimiser steps each, so the sizes stay comparable on a busy machine);
2. `aea analyze` of all five models together (4,000 clips each, the default);
3. `aea report` of the five runs;
4. `aea train-prior` for the N = 18376 model;
5. `aea generate --mode random` from that prior (4 pieces of 30 s);
6. `aea score` of those pieces against the corpus's held-out clips (24 clips of 5 s).

Each step runs as its own process. Its wall time and its peak memory are recorded: the peak of the summed
resident memory of the process and everything it starts (read from /proc every 0.2 s), and the high-water mark
of its largest single process (exact: wait4's maxrss, which covers the descendants the process waited for). A laptop with 8 GB must be able to run every step.
Results go to bench/results/scale_sweep.json (a step already there is skipped; `aea sweep` itself reuses finished
models and resumes one left part-way), and scale.md gets a section from them (`bench_scale.py --report`).

    nice -n 10 .venv/bin/python bench/bench_scale_sweep.py                 # all steps not yet recorded
    .venv/bin/python bench/bench_scale_sweep.py --again analyze           # measure a step again after a change
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import CACHE, GTZAN_FOLDER, build_seconds, dataset_root, estimate_seconds, machine, plan
from bench_scale import load_results as load_scale_results
from scale_report import write_report

from autoenc_audio.files import write_text_atomic

RESULTS = Path(__file__).parent / "results" / "scale_sweep.json"
WORK = Path(__file__).parent / ".runs" / "scale-sweep"
SIZES = (55112, 32151, 24496, 18376, 9184)
PRIOR_SIZE = 18376
STEPS = ("sweep", "analyze", "report", "train-prior", "generate", "score")


def step_command(step: str, steps_per_model: int, prior_minutes: float) -> list[str]:
    """The `aea` arguments of one step (after `aea`), all in WORK, on the GTZAN-sized corpus."""
    data, runs = str(CACHE / GTZAN_FOLDER), [str(WORK / "sweep" / f"N{n}") for n in SIZES]
    common = ["--cache-dir", str(CACHE), "--json"]
    latents = ",".join(map(str, SIZES))
    commands = {
        "sweep": ["sweep", "--latents", latents, "--data", data, "--steps-per-model", str(steps_per_model),
                  "--listen", "3", "--audio-format", "mp3", "-o", str(WORK / "sweep")],
        "analyze": ["analyze", *[a for run in runs for a in ("--model", run)], "--data", data,
                    "--audio-format", "mp3", "-o", str(WORK / "analysis")],
        "report": ["report", *runs, "-o", str(WORK / "report")],
        "train-prior": ["train-prior", "--model", runs[SIZES.index(PRIOR_SIZE)], "--minutes", f"{prior_minutes:g}",
                        "--overwrite"],
        "generate": ["generate", "--model", runs[SIZES.index(PRIOR_SIZE)], "--mode", "random", "--seconds", "30",
                     "--n", "4", "--seed", "1", "-o", str(WORK / "pieces"), "--html"],
        "score": ["score", str(WORK / "pieces"), "--model", runs[SIZES.index(PRIOR_SIZE)], "--clips", "24"],
    }  # fmt: skip
    return [*commands[step], *common]


def tree_rss_mb(root: int) -> tuple[float, float]:
    """Summed VmRSS of `root` and its descendants, and the part of it that is anonymous (RssAnon: not
    file pages such as the memory-mapped decoded audio, which the kernel can drop and read again), from
    /proc; processes gone mid-read are skipped."""
    parents: dict[int, int] = {}
    rss: dict[int, tuple[float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
        rss[int(entry.name)] = tuple(int(fields.get(k, "0 kB").split()[0]) / 1024 for k in ("VmRSS", "RssAnon"))
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(rss.get(pid, (0.0, 0.0))[0] for pid in tree), sum(rss.get(pid, (0.0, 0.0))[1] for pid in tree)


def run_measured(command: list[str], log: Path) -> dict[str, Any]:
    """Run `command` (stdout and stderr to `log`); its exit code, wall seconds and peak memory in MB."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        peak, done = [0.0, 0.0], threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[:] = map(max, peak, tree_rss_mb(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": process.returncode,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_tree_rss_mb": round(peak[0], 1),
        "peak_tree_anon_mb": round(peak[1], 1),
        "peak_process_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports kilobytes
    }


def load_results() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {"steps": {}}


def run_step(step: str, flags: argparse.Namespace) -> dict[str, Any]:
    """One step, measured; its record (with the JSON lines `--json` printed)."""
    aea = [str(Path(sys.executable).parent / "aea")]
    command = step_command(step, flags.steps_per_model, flags.prior_minutes)
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{step}.log"
    at_start = machine()
    print(f"== {step}: aea {' '.join(command)}", flush=True)
    measured = run_measured([*aea, *command], log)
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    record = {
        "step": step,
        "command": "aea " + " ".join(command).replace(str(Path(__file__).parent.parent) + "/", ""),
        **measured,
        "outputs": [json.loads(line) for line in lines],  # every JSON line (score prints one per set)
        "machine": at_start,
        "created": time.strftime("%Y-%m-%d %H:%M"),
    }
    if measured["exit_code"] != 0:
        print(log.read_text()[-3000:], file=sys.stderr)
    return record


def refuse(problem: str) -> None:
    """A usage error: one line on stderr, exit 2."""
    print(f"bench_scale_sweep: {problem}", file=sys.stderr)
    sys.exit(2)


def chosen_steps(text: str, flag: str) -> list[str]:
    """The step names of a comma-separated flag, refused in one line (exit 2) when one is unknown."""
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in STEPS]
    if unknown:
        refuse(f"{flag}: unknown step {', '.join(unknown)} (steps: {', '.join(STEPS)})")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-per-model", type=int, default=1500, help="each size's budget [default: 1500]")
    parser.add_argument("--prior-minutes", type=float, default=5.0, help="train-prior's budget [default: 5]")
    parser.add_argument("--only", default=",".join(STEPS), help="comma-separated steps to run, in order")
    parser.add_argument("--again", default="", help="steps to measure again (not sweep: it would reuse its models)")
    flags = parser.parse_args()
    only, again = chosen_steps(flags.only, "--only"), chosen_steps(flags.again, "--again")
    if "sweep" in again:  # `aea sweep` reuses finished models: a second record would time scoring alone
        refuse("--again sweep would time reused models: delete bench/.runs/scale-sweep instead")
    dataset_root("gtzan")  # builds the corpus on first use (~25 min)
    results = load_results()
    results["settings"] = {"sizes": SIZES, "prior_size": PRIOR_SIZE}
    for step in [s for s in STEPS if s in only]:
        if results["steps"].get(step, {}).get("exit_code") == 0 and step not in again:
            print(f"== {step}: recorded earlier, skipped", flush=True)
            continue
        record = {**run_step(step, flags), **({"steps_per_model": flags.steps_per_model} if step == "sweep" else {})}
        print(f"== {step}: exit {record['exit_code']}, {record['wall_seconds'] / 60:.1f} min, "
              f"peak {record['peak_tree_rss_mb'] / 1024:.2f} GB", flush=True)  # fmt: skip
        if record["exit_code"] != 0:  # a good record stays; the log is in bench/.runs/scale-sweep
            return 1
        results["steps"][step] = record
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(RESULTS, json.dumps(results, indent=1, default=str) + "\n")
        write_report(load_scale_results(), [p.id for p in plan()], estimate_seconds, build_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
