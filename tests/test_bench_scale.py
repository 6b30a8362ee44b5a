"""bench/bench_scale.py's plan, its skipping of finished points and its report: the curves fill in over sessions."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_scale.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_scale"]


def flags(**given):
    values = {"points": None, "datasets": "real,gtzan", "minutes": None, "seeds": None, "fractions": None}
    return argparse.Namespace(**{**values, "no_references": False, **given})


def record(bench, point_id, snr=11.0, mrstft=1.0, losses=(2.0, 1.5)):
    point = bench.Point.parse(point_id)
    return {
        "id": point.id,
        "dataset": point.dataset,
        "minutes_equivalent": point.minutes,
        "seed": point.seed,
        "train_fraction": point.fraction,
        "batch": point.batch,
        "lr_scale": point.lr_scale,
        "how": "trained",
        "steps": point.steps,
        "epochs": 2,
        "train_tracks": round(75 * point.fraction),
        "test_tracks": 9,
        "test_clips": 556,
        "train_seconds": point.steps * 0.4,
        "point_seconds": point.steps * 0.4 + 100,
        "peak_rss_mb": 2048.0,
        "test": {"snr_db": snr, "si_sdr_db": snr, "mrstft": mrstft, "mel_l1": 0.2, "lsd_db": 9.0},
        "history": [{"step": 1, "train_loss": loss - 0.2, "val_loss": loss} for loss in losses],
    }


def test_the_plan_holds_the_issues_curves_once_each(bench):
    ids = [point.id for point in bench.plan()]
    assert len(ids) == len(set(ids)) == 31  # per dataset: 5 budgets, 4 more seeds, 2 shares; gtzan 6 recipes, real 3
    assert {"gtzan-m10-s0-f100-lr2", "gtzan-m10-s0-f100-b8", "gtzan-m10-s0-f100-b8-lr2"} <= set(ids)
    assert "gtzan-m40-s0-f100-lr2" in ids  # twice the rate again at 40 minutes: the curve, or only its start?
    spread = {f"gtzan-m10-s{s}-f100-lr2" for s in (1, 2)}
    assert spread <= set(ids)  # the rate on three seeds, beside the default on the same three
    assert not {f"gtzan-m40-s{s}-f100-lr2" for s in (1, 2)} & set(ids)  # dropped: the default lr stays
    assert {f"real-m10-s{s}-f100-lr2" for s in (0, 1, 2)} <= set(ids)  # and on the music the quality figures use
    for dataset in ("real", "gtzan"):
        assert {f"{dataset}-m{m}-s0-f100" for m in (5, 10, 20, 40, 80)} <= set(ids)
        assert {f"{dataset}-m{m}-s{s}-f100" for m in (10, 40) for s in (1, 2)} <= set(ids)
        assert {f"{dataset}-m10-s0-f{f}" for f in (10, 30)} <= set(ids)
    assert all(bench.Point.parse(i).id == i for i in ids)
    assert ids.index("real-m80-s0-f100") < ids.index("gtzan-m5-s0-f100")  # cheapest first, real music before gtzan


def test_a_point_trains_its_steps_on_its_share_of_the_data(bench):
    config = bench.Point.parse("gtzan-m40-s2-f30").config()
    assert config.train.steps == 40 * bench.STEPS_PER_MINUTE and config.train.epochs is None
    assert config.train.minutes is None and config.train.seed == 2 and config.data.train_fraction == 0.3
    assert config.model.latent == 18376 and config.train.batch_size == 4  # the default recipe
    with pytest.raises(SystemExit, match="bad point"):
        bench.Point.parse("real-10min")


def test_a_larger_batch_sees_the_same_clips_in_fewer_steps_at_its_learning_rate(bench):
    default = bench.Point.parse("gtzan-m10-s0-f100").config()
    config = bench.Point.parse("gtzan-m10-s0-f100-b8-lr2").config()
    assert config.train.batch_size == 8 and config.train.steps == 10 * bench.STEPS_PER_MINUTE // 2
    assert config.train.lr == 2 * default.train.lr and config.data == default.data
    assert bench.Point.parse("gtzan-m10-s0-f100-lr2").config().train.batch_size == 4
    for spelled_twice in (
        "gtzan-m10-s0-f100-b4",
        "gtzan-m10-s0-f100-lr1",
        "gtzan-m10-s0-f100-b08",
        "real-m10.0-s0-f100",
    ):
        with pytest.raises(SystemExit, match="bad point"):
            bench.Point.parse(spelled_twice)


def test_flags_select_jobs_with_each_datasets_references_first(bench):
    jobs = bench.selected_jobs(flags(datasets="real", minutes="5,10", seeds="0", fractions="100"))
    assert jobs == ["real-refs", "real-m5-s0-f100", "real-m10-s0-f100", "real-m10-s0-f100-lr2"]  # recipes too
    assert bench.selected_jobs(flags(points="gtzan-m20-s0-f100", no_references=True)) == ["gtzan-m20-s0-f100"]
    assert bench.selected_jobs(flags(points="gtzan-m5-s0-f100")) == ["gtzan-refs", "gtzan-m5-s0-f100"]
    assert bench.selected_jobs(flags(points="gtzan-refs")) == ["gtzan-refs"]  # a reference job alone, by its id
    with pytest.raises(SystemExit, match="bad reference job 'jazz-refs'"):
        bench.selected_jobs(flags(points="jazz-refs"))


def test_a_finished_point_is_skipped_and_a_rerun_replaces_its_record(bench, tmp_path):
    path = tmp_path / "scale.json"
    bench.append_record("points", record(bench, "real-m5-s0-f100", snr=10.0), path)
    bench.append_record("points", record(bench, "real-m10-s0-f100"), path)
    bench.append_record("points", record(bench, "real-m5-s0-f100", snr=10.5), path)
    bench.append_record("references", {"dataset": "real", "rows": {}}, path)
    results = bench.load_results(path)
    assert [r["id"] for r in results["points"]] == ["real-m10-s0-f100", "real-m5-s0-f100"]
    assert results["points"][1]["test"]["snr_db"] == 10.5 and results["calibration"]["steps_per_minute"] == 300
    assert bench.finished("real-m5-s0-f100", results) and bench.finished("real-refs", results)
    assert not bench.finished("real-m20-s0-f100", results) and not bench.finished("gtzan-refs", results)


def test_estimates_use_the_rate_measured_here_once_a_point_exists(bench):
    empty = {"points": [], "references": {}}
    quiet = bench.estimate_seconds("real-m10-s0-f100", empty)
    assert quiet == pytest.approx(3000 * 60 / 300 + bench.FALLBACK_OVERHEAD["real"])
    measured = {"points": [record(bench, "real-m5-s0-f100")], "references": {}}  # 0.4 s a step, 100 s besides
    assert bench.estimate_seconds("real-m10-s0-f100", measured) == pytest.approx(3000 * 0.4 + 100)
    gtzan = 3000 * 0.4 + bench.FALLBACK_OVERHEAD["gtzan"]  # the step rate measured on real music, its own overhead
    assert bench.estimate_seconds("gtzan-m10-s0-f100", measured) == pytest.approx(gtzan)


def test_the_report_tabulates_what_exists_and_lists_what_is_missing(bench, tmp_path):
    from scale_report import losses_at_end, markdown, write_report

    results = {
        "calibration": bench.CALIBRATION,
        "points": [
            record(bench, "real-m5-s0-f100", snr=10.8, mrstft=1.0, losses=(2.0, 1.5)),
            record(bench, "real-m10-s0-f100", snr=11.1, mrstft=0.95, losses=(1.5, 1.6)),
            record(bench, "real-m10-s1-f100", snr=11.2, mrstft=0.96),
            record(bench, "real-m10-s0-f10", snr=10.0, mrstft=1.1),
            record(bench, "real-m10-s0-f100-b8-lr2", snr=11.3, mrstft=0.855),
            record(bench, "real-m10-s1-f100-b8-lr2", snr=11.2, mrstft=0.865),
        ],
        "references": {"real": {"dataset": "real", "rows": {"opus": {"snr_db": 16.1, "mrstft": 0.71, "mel_l1": 0.08}}}},
    }
    plan = [p.id for p in bench.plan()]
    text = markdown(results, plan, bench.estimate_seconds, lambda jobs: 0.0)
    assert "| 5 | 1,500 | 2 | 10.80 | 1.000 | 0.200 | - | yes |" in text
    assert "| 10 | 3,000 | 2 | 11.10 | 0.950 | 0.200 | -5.0% | no | 1.400 / 1.600 |" in text  # validation rose
    assert "| 10 | 4 | x 1 | 0,1 | 11.15 (11.10-11.20) | 0.955 (0.950-0.960) |" in text
    assert "| 10 | 8 | x 2 | 0,1 | 11.25 (11.20-11.30) | 0.860 (0.855-0.865) |" in text  # a recipe's own spread
    assert "| 8 | 10% | 10.00 | 1.100 |" in text
    assert losses_at_end({"history": [{"step": 1, "val_loss": 2.0}]}) == "-"  # a record from before train losses
    assert "| Opus at N x 16 bits | - | - | 16.10 | 0.710 | 0.080 | - | - | - | - | - | - |" in text
    assert "| 10 | 4 | x 1 | 3,000 | 11.10 | 0.950 | 0.200 | - |" in text  # the recipes beside the default
    assert "| 10 | 8 | x 2 | 1,500 | 11.30 | 0.855 | 0.200 | -10.0% |" in text
    assert text.count("| 10 | 3,000 |") == 1 and "11.15 (11.10-11.20)" in text  # the curves keep the default only
    assert "## Still to run (28 jobs" in text and "`real-m20-s0-f100`" in text and "`gtzan-refs`" in text
    assert "`real-m5-s0-f100`" not in text
    write_report(results, plan, bench.estimate_seconds, lambda jobs: 0.0, folder=tmp_path)
    assert (tmp_path / "scale.md").read_text() == text
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep_bench(bench):
    """bench/bench_scale_sweep.py, which imports bench_scale (loaded above) by name."""
    spec = importlib.util.spec_from_file_location("bench_scale_sweep", BENCH.parent / "bench_scale_sweep.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sweep_steps_peak_memory_counts_the_processes_a_step_starts(tmp_path):
    """A step whose child holds 300 MB while it holds 200 MB itself peaks near 500 MB, not at either alone: a
    laptop's limit is on the sum. Measured from a small launcher, as the bench runs it: Linux carries a process's
    high-water mark across fork and exec, so under a large pytest wait4 would read pytest's own size."""
    hold = "import time; x = bytearray({mb} << 20); x[::4096] = b'1' * len(x[::4096]); time.sleep({s})"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {hold.format(mb=300, s=3)!r}])"
    script = f"import subprocess, sys; {hold.format(mb=200, s=0)}; {child}"
    launcher = (
        f"import json, sys; sys.path.insert(0, {str(BENCH.parent)!r}); import bench_scale_sweep as bench; "
        f"print(json.dumps(bench.run_measured([sys.executable, '-c', {script!r}], __import__('pathlib').Path("
        f"{str(tmp_path / 'log')!r}))))"
    )
    launched = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, check=True)
    measured = json.loads(launched.stdout.splitlines()[-1])
    assert measured["exit_code"] == 0
    assert 480 <= measured["peak_tree_rss_mb"] <= 700
    assert 480 <= measured["peak_tree_anon_mb"] <= measured["peak_tree_rss_mb"]  # bytearrays are anonymous memory
    assert 300 <= measured["peak_process_rss_mb"] <= 450  # wait4: the high-water mark of one process, not the sum


def test_the_sweep_bench_refuses_an_unknown_step_and_measuring_the_sweep_again(sweep_bench, monkeypatch, capsys):
    for argv, problem in ((["--only", "analyse"], "unknown step analyse"), (["--again", "sweep"], "reused models")):
        monkeypatch.setattr(sys, "argv", ["bench_scale_sweep.py", *argv])
        with pytest.raises(SystemExit) as stop:
            sweep_bench.main()
        assert stop.value.code == 2 and problem in capsys.readouterr().err


def test_the_sweep_bench_runs_the_assignments_five_sizes_through_every_step(sweep_bench):
    commands = {step: sweep_bench.step_command(step, 1500, 5) for step in sweep_bench.STEPS}
    assert commands["sweep"][commands["sweep"].index("--latents") + 1] == "55112,32151,24496,18376,9184"
    assert commands["sweep"][commands["sweep"].index("--steps-per-model") + 1] == "1500"
    assert sum(a.endswith("/N55112") or a.endswith("/N9184") for a in commands["analyze"]) == 2
    assert commands["analyze"].count("--model") == 5
    assert all(c[-1] == "--json" for c in commands.values())


def test_the_report_shows_each_sweep_step_and_flags_one_over_8_gb(bench, tmp_path):
    import json

    from scale_report import write_report

    def step(peak_mb):
        return {"wall_seconds": 90.0, "peak_tree_rss_mb": peak_mb, "peak_process_rss_mb": peak_mb - 100,
                "exit_code": 0, "outputs": []}  # fmt: skip

    sweep = {
        "settings": {"sizes": [55112, 9184], "prior_size": 18376},
        "steps": {"sweep": step(3000.0), "analyze": step(9216.0)},
    }
    sweep["steps"]["sweep"]["steps_per_model"] = 1500
    sweep["steps"]["sweep"]["outputs"] = [
        {
            "models": [
                {"latent": n, "snr_db": 11.0, "mrstft": 0.9, "mel_l1": 0.2, "train_seconds": 300} for n in (9184, 55112)
            ],
            "proposal": {"latent": 9184, "rule": "smallest N within 10%"},
        }
    ]
    probe = {"chance_uniform": 1 / 6, "latent_logistic": 0.78, "latent_pooled_logistic": 1.0, "log_mel_logistic": 0.99,
             "raw_waveform_logistic": 0.33, "latent_homogeneity": 0.58, "latent_neighbour": 0.8}  # fmt: skip
    sweep["steps"]["analyze"]["outputs"] = [{"comparison": [{"latent_size": 9184, **probe}]}]
    noise = {"name": "shaped noise", "kind": "control", "clips": 24, "c2st": 0.978, "fd": 77.1, "tonal": 0.017}
    sweep["steps"]["score"] = {**step(2000.0), "outputs": [noise]}
    (tmp_path / "scale_sweep.json").write_text(json.dumps(sweep))
    results = {"calibration": bench.CALIBRATION, "points": [], "references": {}}
    write_report(results, [], bench.estimate_seconds, lambda jobs: 0.0, folder=tmp_path)
    text = (tmp_path / "scale.md").read_text()
    assert "--latents 55112,9184 --steps-per-model 1500`" in text
    assert (
        "| `sweep` | train five sizes, score them and the references | 1.5 min | 2.93 GB | - | 2.83 GB | yes | 0 |"
        in text
    )
    assert "| `analyze` | analyse the five models together | 1.5 min | 9.00 GB | - | 8.90 GB | **no** | 0 |" in text
    assert text.index("| 55112 | 11.00 |") < text.index("| 9184 | 11.00 |")
    assert "| 9184 | 0.78 | 1.00 | 0.33 | 0.99 | 0.58 | 0.80 |" in text and "chance 0.17" in text
    assert "| shaped noise | 24 | 0.978 | 77.1 | 0.017 | - | - | - |" in text
