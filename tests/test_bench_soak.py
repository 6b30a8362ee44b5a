"""bench/bench_soak.py's schedule: the call its verdict measures from is one it samples, for any --calls."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_soak.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_soak", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_verdict_starts_at_a_sampled_call_for_every_number_of_calls():
    """It once measured from call 200 while sampling every 45 calls (`--calls 450`): a KeyError at the end of a run."""
    bench = load_bench()
    wrong = []
    for calls in range(2, 3001):
        every, skip = bench.schedule(calls)
        sampled = {0} | set(range(every, calls + 1, every)) | {calls}
        if skip not in sampled or not 0 <= skip <= calls // 2:
            wrong.append((calls, every, skip))
    assert wrong == [], f"--calls whose verdict starts at a call never sampled: {wrong[:5]}"
    assert bench.schedule(bench.DEFAULT_CALLS) == (bench.EVERY, bench.SKIP)  # the committed run's schedule
