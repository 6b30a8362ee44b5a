"""bench_scale.py's report: bench/results/scale.md (tables per curve, the points still missing) and scale.png.

Drawn from whatever points scale.json holds, so that a half-filled curve reads as such: missing points are
listed with their estimated CPU time, and the figure draws only what exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autoenc_audio.files import write_text_atomic
from autoenc_audio.plots.figure import COLORS, new_figure, save_figure

RESULTS = Path(__file__).parent / "results"
NAMES = {"real": "real music (bench/real_music.py)", "gtzan": "built-in corpus at GTZAN size (1,000 x 30 s)"}
PANELS = (("snr_db", "SNR dB", "higher is better"), ("mrstft", "MR-STFT", "lower"), ("mel_l1", "mel", "lower"))
REFERENCE_STYLES = {"opus": "--", "frame_pca": ":"}
REFERENCE_LABELS = {"opus": "Opus at N x 16 bits", "frame_pca": "frame-wise PCA"}


def spread(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def still_falling(record: dict[str, Any]) -> str:
    """Whether validation loss fell over the run's last epoch (its last two validations)."""
    losses = [r["val_loss"] for r in record["history"] if "val_loss" in r]
    return "-" if len(losses) < 2 else ("yes" if losses[-1] < losses[-2] else "no")


def recipe_of(record: dict[str, Any]) -> tuple[int, float]:
    """A point's batch and learning-rate multiple (records before the recipe points lack both: the default's)."""
    return record.get("batch", 4), record.get("lr_scale", 1.0)


def default_recipe(record: dict[str, Any]) -> bool:
    """Whether a point trained the default's batch and learning rate."""
    return recipe_of(record) == (4, 1.0)


def losses_at_end(record: dict[str, Any]) -> str:
    """The last epoch's training loss (its mean over the epoch) and validation loss: a gap that opens means the
    data, not the steps, starts to limit; records from before training losses were kept show "-"."""
    last = record["history"][-1] if record["history"] else {}
    if "train_loss" not in last:
        return "-"
    return f"{last['train_loss']:.3f} / {last['val_loss']:.3f}"


def steps_table(points: list[dict[str, Any]], references: dict[str, Any]) -> list[str]:
    """Seed 0 on all training tracks, by budget; each row's change against the previous budget."""
    lines = [
        "| min-equiv | steps | epochs | SNR dB | MR-STFT | mel | MR-STFT / previous | val loss fell in the last epoch "
        "| train / val loss, last epoch | train wall | point wall | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    chosen = sorted(
        (r for r in points if r["seed"] == 0 and r["train_fraction"] == 1.0 and default_recipe(r)),
        key=lambda r: r["minutes_equivalent"],
    )
    previous = None
    for r in chosen:
        test = r["test"]
        change = f"{test['mrstft'] / previous - 1:+.1%}" if previous else "-"
        lines.append(
            f"| {r['minutes_equivalent']:g} | {r['steps']:,} | {r['epochs']} | {test['snr_db']:.2f} | "
            f"{test['mrstft']:.3f} | {test['mel_l1']:.3f} | {change} | {still_falling(r)} | {losses_at_end(r)} | "
            f"{r['train_seconds'] / 60:.1f} min | {r['point_seconds'] / 60:.1f} min | {r['peak_rss_mb'] / 1024:.2f} GB |"
        )
        previous = test["mrstft"]
    for name, row in references.get("rows", {}).items():
        lines.append(
            f"| {REFERENCE_LABELS.get(name, name)} | - | - | {row['snr_db']:.2f} | {row['mrstft']:.3f} | "
            f"{row['mel_l1']:.3f} | - | - | - | - | - | - |"
        )
    return lines


def seeds_table(points: list[dict[str, Any]]) -> list[str]:
    """Mean (range) over the seeds of each budget and recipe that has more than one seed (all training tracks)."""
    lines = ["| min-equiv | batch | learning rate | seeds | SNR dB | MR-STFT | mel |", "|---|---|---|---|---|---|---|"]
    groups: dict[tuple[float, int, float], list[dict[str, Any]]] = {}
    for r in points:
        if r["train_fraction"] == 1.0:
            groups.setdefault((r["minutes_equivalent"], *recipe_of(r)), []).append(r)
    spread_groups = sorted(key for key, runs in groups.items() if len(runs) > 1)
    for budget, batch, lr_scale in spread_groups:
        runs = sorted(groups[budget, batch, lr_scale], key=lambda r: r["seed"])
        values = {k: [r["test"][k] for r in runs] for k in ("snr_db", "mrstft", "mel_l1")}
        lines.append(
            f"| {budget:g} | {batch} | x {lr_scale:g} | {','.join(str(r['seed']) for r in runs)} | "
            f"{spread(values['snr_db'], 2)} | {spread(values['mrstft'], 3)} | {spread(values['mel_l1'], 3)} |"
        )
    return lines if spread_groups else []


def data_table(points: list[dict[str, Any]], budget: float) -> list[str]:
    lines = [
        "| training tracks | share | SNR dB | MR-STFT | mel | epochs | val loss fell in the last epoch "
        "| train / val loss, last epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = sorted(
        (r for r in points if r["seed"] == 0 and r["minutes_equivalent"] == budget and default_recipe(r)),
        key=lambda r: r["train_fraction"],
    )
    for r in runs:
        test = r["test"]
        lines.append(
            f"| {r['train_tracks']} | {r['train_fraction']:.0%} | {test['snr_db']:.2f} | {test['mrstft']:.3f} | "
            f"{test['mel_l1']:.3f} | {r['epochs']} | {still_falling(r)} | {losses_at_end(r)} |"
        )
    return lines if len(runs) > 1 else []


def recipe_table(points: list[dict[str, Any]]) -> list[str]:
    """The default recipe beside the other batches and learning rates at the same budget, seed and data."""
    others = [r for r in points if not default_recipe(r)]
    budgets = sorted({(r["minutes_equivalent"], r["seed"], r["train_fraction"]) for r in others})
    lines = [
        "| min-equiv | batch | learning rate | steps | SNR dB | MR-STFT | mel | MR-STFT / default | train wall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for minutes, seed, fraction in budgets:
        same = [
            r for r in points if (r["minutes_equivalent"], r["seed"], r["train_fraction"]) == (minutes, seed, fraction)
        ]
        base = next((r for r in same if default_recipe(r)), None)
        for r in sorted(same, key=recipe_of):
            test = r["test"]
            change = f"{test['mrstft'] / base['test']['mrstft'] - 1:+.1%}" if base and r is not base else "-"
            lines.append(
                f"| {minutes:g} | {r.get('batch', 4)} | x {r.get('lr_scale', 1.0):g} | {r['steps']:,} | "
                f"{test['snr_db']:.2f} | {test['mrstft']:.3f} | {test['mel_l1']:.3f} | {change} | "
                f"{r['train_seconds'] / 60:.1f} min |"
            )
    return lines if budgets else []


LAPTOP_MB = 8 * 1024

STEP_TITLES = {
    "sweep": "train five sizes, score them and the references",
    "analyze": "analyse the five models together",
    "report": "the five runs' page",
    "train-prior": "a prior for N = 18376",
    "generate": "4 random 30 s pieces from it",
    "score": "those pieces against held-out clips",
}


def fits_laptop(record: dict[str, Any]) -> bool:
    """A step fits a laptop with 8 GB when neither its summed peak nor its largest process passes it."""
    return max(record["peak_tree_rss_mb"], record["peak_process_rss_mb"]) <= LAPTOP_MB


def last_output(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The last JSON line a step printed: the command's result."""
    return record["outputs"][-1] if record and record.get("outputs") else None


def sweep_section(sweep: dict[str, Any]) -> list[str]:
    """scale_sweep.json (bench_scale_sweep.py) as a table of steps, and the sweep's own quality table."""
    settings, steps = sweep["settings"], sweep["steps"]
    budget = (steps.get("sweep") or {}).get("steps_per_model")  # the budget the models were trained with
    lines = [
        "## The assignment's sweep at GTZAN size (`bench/bench_scale_sweep.py`)",
        "",
        f"`aea sweep --latents {','.join(map(str, settings['sizes']))} --steps-per-model "
        f"{budget}` on the built-in corpus at GTZAN size, then the steps a user takes next, "
        "each as its own process. Peak memory: the summed resident memory of the step's processes (sampled every "
        "0.2 s), the part of it that is not file pages (the memory-mapped decoded audio is file pages, which the "
        "kernel can drop and read again), and the largest single process's high-water mark (exact).",
        "",
        "| step | what | wall | peak memory (all processes) | of it not file pages | largest process | fits 8 GB "
        "| exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, record in steps.items():
        anon = record.get("peak_tree_anon_mb")
        lines.append(
            f"| `{name}` | {STEP_TITLES.get(name, '')} | {record['wall_seconds'] / 60:.1f} min | "
            f"{record['peak_tree_rss_mb'] / 1024:.2f} GB | {f'{anon / 1024:.2f} GB' if anon else '-'} | "
            f"{record['peak_process_rss_mb'] / 1024:.2f} GB | {'yes' if fits_laptop(record) else '**no**'} | "
            f"{record['exit_code']} |"
        )
    output = last_output(steps.get("sweep"))
    if output:
        lines += ["", "Test quality of the five sizes at the same step budget (the sweep's own test clips):", "",
                  "| N | SNR dB | MR-STFT | mel | train wall |", "|---|---|---|---|---|"]  # fmt: skip
        for row in sorted(output["models"], key=lambda r: -r["latent"]):
            lines.append(
                f"| {row['latent']} | {row['snr_db']:.2f} | {row['mrstft']:.3f} | {row['mel_l1']:.3f} | "
                f"{row['train_seconds'] / 60:.1f} min |"
            )
        lines += ["", f"Proposed N = {output['proposal']['latent']} ({output['proposal']['rule']})."]
    return [
        *lines,
        "",
        *probe_table(last_output(steps.get("analyze"))),
        *score_table((steps.get("score") or {}).get("outputs")),
    ]


def _cell(entry: dict[str, Any], key: str) -> str:
    return "-" if entry.get(key) is None else f"{entry[key]:.3g}"


def score_table(sets: list[dict[str, Any]] | None) -> list[str]:
    """`aea score`'s sets: the held-out clips, the two controls and the generated pieces."""
    if not sets:
        return []
    lines = [
        "The prior's pieces scored against the held-out clips (`aea score`; c2st 0.5: indistinguishable, 1.0: told "
        "apart; fd lower is better):",
        "",
        "| set | clips | c2st | fd | tonal | continuity | rhythm | flatness |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in sets:
        name = "the prior's pieces" if entry["kind"] == "generated" else entry["name"]
        cells = " | ".join(_cell(entry, key) for key in ("c2st", "fd", "tonal", "continuity", "rhythm", "flatness"))
        lines.append(f"| {name} | {entry['clips']} | {cells} |")
    return [*lines, ""]


def probe_table(analysis: dict[str, Any] | None) -> list[str]:
    """`aea analyze`'s comparison across the sizes: what the latents tell of the labels."""
    if not analysis:
        return []
    rows = sorted(analysis["comparison"], key=lambda r: -r["latent_size"])
    lines = [
        f"What the latents tell of the labels (`aea analyze`: test accuracy of a logistic probe, chance "
        f"{rows[0]['chance_uniform']:.2f}; k-means homogeneity; share of test clips whose nearest clip from "
        "another track has their label):",
        "",
        "| N | latent | latent pooled over time | raw waveform | log-mel | k-means homogeneity | nearest neighbour |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['latent_size']} | {r['latent_logistic']:.2f} | {r['latent_pooled_logistic']:.2f} | "
            f"{r['raw_waveform_logistic']:.2f} | {r['log_mel_logistic']:.2f} | {r['latent_homogeneity']:.2f} | "
            f"{r['latent_neighbour']:.2f} |"
        )
    return [*lines, ""]


def markdown(
    results: dict[str, Any],
    plan_ids: list[str],
    estimate: Callable[[str, dict], float],
    build: Callable[[list[str]], float],
) -> str:
    calibration = results["calibration"]
    lines = [
        "# Learning curves: what more steps and more data buy (issue 31)",
        "",
        f"The default model at N = 18376 (`configs/default.toml`, batch 4), test metrics of the best checkpoint on "
        f"the held-out tracks (METRICS.md). Budgets are optimiser steps (`aea train --steps`): a minute-equivalent "
        f"is {calibration['steps_per_minute']} steps, the default's rate on 2 quiet cores ({calibration['note']}; "
        "sources: "
        + "; ".join(f"{m['source']}: {m['steps']:,} steps in {m['minutes']} min" for m in calibration["measured"])
        + ").",
        "",
        "Wall times and peak RSS are this shared machine's (2 cores, other work beside at a lower or equal "
        "priority; each record keeps the load average at its start, and its torch threads: the last real-music points "
        "trained two at a time, one thread each): compare quality by steps, not by wall time. "
        "Written by `bench/bench_scale.py` from `scale.json`; figure: `scale.png`.",
        "",
    ]
    points = results["points"]
    for dataset, name in NAMES.items():
        mine = [r for r in points if r["dataset"] == dataset]
        references = results["references"].get(dataset, {})
        lines += [f"## {name}", ""]
        if not mine and not references:
            lines += ["No points yet.", ""]
            continue
        test = f", {mine[0]['test_tracks']} test tracks, {mine[0]['test_clips']} clips" if mine else ""
        lines += [
            f"Quality against training steps (seed 0, all training tracks{test}):",
            "",
            *steps_table(mine, references),
            "",
        ]
        if seeds := seeds_table(mine):
            lines += ["Spread over training seeds:", "", *seeds, ""]
        if data := data_table(mine, 10):
            lines += ["Quality against training data (10 minute-equivalents, seed 0; same test tracks):", "", *data, ""]
        if recipes := recipe_table(mine):
            lines += [
                "Batch and learning rate at the same clips seen (a minute-equivalent is 1,200 clips; "
                "learning rate as a multiple of the default's 5e-4):",
                "",
                *recipes,
                "",
            ]
    if results.get("sweep"):
        lines += sweep_section(results["sweep"])
    missing = [job for job in plan_ids if not any(r["id"] == job for r in points)]
    missing += [f"{d}-refs" for d in NAMES if d not in results["references"]]
    if missing:
        total = build(missing) + sum(estimate(job, results) for job in missing)
        lines += [
            f"## Still to run ({len(missing)} jobs, ~{total / 3600:.1f} hours of 2 cores at this machine's measured rate)",
            "",
            "`bench/bench_scale.py --dry-run` lists them with their estimates; rerunning the bench runs them and "
            "skips what is here.",
            "",
            ", ".join(f"`{job}`" for job in missing),
            "",
        ]
    return "\n".join(lines) + "\n"


def _draw_dataset(axes: tuple[Any, Any], results: dict[str, Any], dataset: str, metric: str, color: str) -> list:
    """One dataset's curves on the steps axis and the data axis; returns the values drawn."""
    top, bottom = axes
    runs = [r for r in results["points"] if r["dataset"] == dataset and default_recipe(r)]
    curve = sorted((r for r in runs if r["seed"] == 0 and r["train_fraction"] == 1.0), key=lambda r: r["steps"])
    others = [r for r in runs if r["seed"] != 0 and r["train_fraction"] == 1.0]
    data = sorted(
        (r for r in runs if r["seed"] == 0 and r["minutes_equivalent"] == 10), key=lambda r: r["train_fraction"]
    )
    data = data if len(data) > 1 else []
    for axis, chosen, x, style, label in (
        (top, curve, "minutes_equivalent", "o-", f"{dataset}, seed 0"),
        (top, others, "minutes_equivalent", "x", f"{dataset}, seeds 1-2"),
        (bottom, data, "train_fraction", "o-", f"{dataset}, 10 min-equiv"),
    ):
        if chosen:
            scale = 100 if x == "train_fraction" else 1
            values = [r["test"][metric] for r in chosen]
            axis.plot([scale * r[x] for r in chosen], values, style, color=color, label=label)
    return [r["test"][metric] for r in curve + others + data] + _draw_recipes(top, results, dataset, metric, color)


RECIPE_MARKERS = ("^", "s", "D", "v", "P")


def _draw_recipes(axis: Any, results: dict[str, Any], dataset: str, metric: str, color: str) -> list[float]:
    """The other batches and learning rates as hollow markers beside the curve, one shape per recipe, joined by a
    dotted line where a recipe was trained at several budgets."""
    recipes: dict[tuple[int, float], list[dict[str, Any]]] = {}
    for r in results["points"]:
        if r["dataset"] == dataset and not default_recipe(r) and r["seed"] == 0:
            recipes.setdefault(recipe_of(r), []).append(r)
    values = []
    for marker, ((batch, lr_scale), runs) in zip(RECIPE_MARKERS, sorted(recipes.items())):
        runs.sort(key=lambda r: r["minutes_equivalent"])
        x, y = [r["minutes_equivalent"] for r in runs], [r["test"][metric] for r in runs]
        label = f"{dataset}, batch {batch}, lr x {lr_scale:g}"
        axis.plot(x, y, marker + ":", color=color, fillstyle="none", linewidth=0.8, label=label)
        values += y
    return values


def _draw_references(axes: tuple[Any, Any], references: dict[str, Any], metric: str, color: str, limits: tuple):
    """Each reference as a horizontal line; one outside `limits` is named in the legend with its value instead."""
    dataset = references.get("dataset", "")
    for name, row in references.get("rows", {}).items():
        value, label = row[metric], f"{dataset}: {REFERENCE_LABELS.get(name, name)}"
        if not limits[0] <= value <= limits[1]:
            label += f" ({value:.3f}, off the axis)"
        for axis in axes:
            axis.axhline(value, color=color, linestyle=REFERENCE_STYLES.get(name, "-."), linewidth=1, label=label)


def _limits(values: list[float], references: list[float], higher_is_better: bool) -> tuple[float, float]:
    """The y range: the models' values and the references better than all of them (the targets), padded; a
    reference worse than every model (frame-wise PCA's spectra) would squash the curves and stays off the axis."""
    if not values:
        return (-np.inf, np.inf)
    best = max(values) if higher_is_better else min(values)
    shown = values + [r for r in references if (r > best if higher_is_better else r < best)]
    pad = 0.08 * max(max(shown) - min(shown), 1e-3)
    return (min(shown) - pad, max(shown) + pad)


def figure(results: dict[str, Any], path: Path) -> Path:
    """Quality against minute-equivalents (top axis: steps) and against the share of training tracks."""
    fig = new_figure((1500, 900))
    axes = fig.subplots(2, 3)
    per_minute = results["calibration"]["steps_per_minute"]
    for column, (metric, label, better) in enumerate(PANELS):
        top, bottom = axes[0][column], axes[1][column]
        drawn = [
            _draw_dataset((top, bottom), results, dataset, metric, COLORS[number])
            for number, dataset in enumerate(NAMES)
        ]
        references = [results["references"].get(dataset, {}) for dataset in NAMES]
        values = [row[metric] for block in references for row in block.get("rows", {}).values()]
        limits = _limits([v for d in drawn for v in d], values, higher_is_better=metric == "snr_db")
        for number, block in enumerate(references):
            _draw_references((top, bottom), block, metric, COLORS[number], limits)
        top.set_xscale("log", base=2)
        top.set_xticks([5, 10, 20, 40, 80], labels=["5", "10", "20", "40", "80"])
        top.set_xlabel("training budget (minute-equivalents on 2 cores)")
        steps_axis = top.secondary_xaxis("top", functions=(lambda m: m * per_minute, lambda s: s / per_minute))
        steps_axis.set_xticks(
            [5 * per_minute * 2**i for i in range(5)], labels=[f"{5 * per_minute * 2**i:,}" for i in range(5)]
        )
        steps_axis.minorticks_off()
        steps_axis.set_xlabel("optimiser steps")
        bottom.set_xscale("log")
        bottom.set_xticks([10, 30, 100], labels=["10 %", "30 %", "100 %"])
        bottom.minorticks_off()
        bottom.set_xlabel("share of the training tracks")
        for axis in (top, bottom):
            if np.isfinite(limits[0]):
                axis.set_ylim(*limits)
            axis.set_ylabel(f"test {label} ({better})")
            axis.grid(alpha=0.3)
    for axis in [*axes[0], axes[1][0]]:  # each top panel: the references off its axis are named in its legend
        low, high = axis.get_ylim()
        axis.set_ylim(low, high + 0.4 * (high - low))  # headroom, so the legend sits above the curves, not on them
        if axis.get_legend_handles_labels()[0]:  # a results file with only a sweep draws no curves
            axis.legend(fontsize=6.5, loc="upper right", ncol=2, framealpha=0.9)
    fig.suptitle("Default model, N = 18376: test quality against training steps and data (lines: references at N)")
    return save_figure(fig, path)


def write_report(
    results: dict[str, Any],
    plan_ids: list[str],
    estimate: Callable[[str, dict], float],
    build: Callable[[list[str]], float],
    folder: Path = RESULTS,
) -> None:
    """scale.md and scale.png from `results` (scale.json, with scale_sweep.json's record as `sweep` where it
    exists); `estimate` and `build` price the missing jobs."""
    sweep = folder / "scale_sweep.json"
    if sweep.exists():
        results = {**results, "sweep": json.loads(sweep.read_text())}
    write_text_atomic(folder / "scale.md", markdown(results, plan_ids, estimate, build))
    figure(results, folder / "scale.png")
