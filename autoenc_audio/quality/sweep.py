"""A latent-size sweep: one model per N, same data, budget and seed; quality against N.

`run_sweep` trains (or resumes, or reuses) one model per size in
`SWEEP_DIR/N<size>/`, evaluates every model on the same test clips, scores the
non-learned references (`references.py`) at every size on the same clips, and
writes `SWEEP_DIR/report.md`, `sweep.json`, the quality-vs-N chart, a grid of
spectrograms of one clip at every size and the reconstructions of that clip
(`audio/`). A model whose `summary.json` exists is finished and is not
trained again; one with a resumable `last` checkpoint continues.

The proposal: the smallest N whose `criterion` metric stays within
`tolerance` of the largest N's (relative for distances, in dB for SNR/SI-SDR).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio import write_audio
from ..checkpoints.checkpoint import load_checkpoint
from ..config import Config, load_run_config
from ..data import ClipDataset, PreparedData, builtin_corpus, evenly_spread, prepare_dataset
from ..errors import InputError, counted, first_line
from ..files import make_folder, write_text_atomic
from ..jsonable import json_text
from ..latents.batches import reconstruct_clips
from ..metric_info import HIGHER_IS_BETTER, METRIC_NAMES, format_value
from ..models import latent_range, latent_range_text
from ..pages.folders import refuse_report_folder
from ..runs.folder import RunFiles, checkpoint_in
from .references import (
    REFERENCE_NAMES,
    FramePCAReference,
    OpusReference,
    build_references,
    evaluate_reconstruction,
    opus_available,
)

Message = Callable[[str], None]
MAX_TEST_CLIPS = 256
FEW_TEST_CLIPS = 10
"""Fewer test clips than this make a comparison of sizes one a sweep warns about: one clip's quirks decide it."""
PCA_TRAIN_CLIPS = 256


class SweepError(InputError, ValueError):
    """A sweep that cannot run as asked."""


@dataclass(frozen=True)
class ProposalRule:
    """Smallest N whose `criterion` is within `tolerance` of the largest N's."""

    criterion: str = "mrstft"
    tolerance: float = 0.10  # relative for distances; dB for snr_db / si_sdr_db

    def __post_init__(self) -> None:
        if self.criterion not in METRIC_NAMES:
            raise SweepError(f"unknown criterion {self.criterion!r}: use one of {', '.join(METRIC_NAMES)}")
        if self.tolerance < 0:
            raise SweepError(f"tolerance must not be negative, got {self.tolerance}")

    def limit(self, reference: float) -> float:
        if HIGHER_IS_BETTER[self.criterion]:
            return reference - self.tolerance
        return reference * (1 + self.tolerance)

    def accepts(self, value: float, reference: float) -> bool:
        limit = self.limit(reference)
        return value >= limit if HIGHER_IS_BETTER[self.criterion] else value <= limit

    def describe(self, largest: int | None = None, reference: float | None = None) -> str:
        if HIGHER_IS_BETTER[self.criterion]:
            bound = f"at most {self.tolerance:g} dB below"
        else:
            bound = f"at most {self.tolerance * 100:g} % above"
        text = f"smallest N whose {self.criterion} is {bound} that of the largest N"
        if largest is not None and reference is not None:
            text += f" (N = {largest}: {reference:.3f}, limit {self.limit(reference):.3f})"
        return text


def parse_latents(text: str) -> list[int]:
    """`"55112,32151,9184"` -> sorted unique sizes (largest first)."""
    try:
        sizes = sorted({int(part) for part in text.replace(" ", "").split(",") if part}, reverse=True)
    except ValueError:
        raise SweepError(
            f"latents must be comma-separated whole numbers, got {text!r}", settings=("latents",)
        ) from None
    if not sizes:
        raise SweepError("latents needs at least one size", settings=("latents",))
    if min(sizes) < 1:
        raise SweepError(f"latent sizes must be positive, got {min(sizes)}")
    return sizes


def propose(rows: Sequence[dict[str, Any]], rule: ProposalRule) -> dict[str, Any]:
    """The proposal (`latent`, the rule in words) from evaluated rows with `latent` and metrics."""
    if not rows:
        raise SweepError("nothing to propose from")
    largest = max(rows, key=lambda r: r["latent"])
    reference = float(largest[rule.criterion])
    accepted = [
        r["latent"]
        for r in rows
        if math.isfinite(float(r[rule.criterion])) and rule.accepts(float(r[rule.criterion]), reference)
    ]
    chosen = min(accepted) if accepted else largest["latent"]
    return {
        "latent": int(chosen),
        "rule": rule.describe(largest["latent"], reference),
        "criterion": rule.criterion,
        "tolerance": rule.tolerance,
        "limit": rule.limit(reference),
    }


NOT_RESULT_SETTINGS = {"workers", "device", "compile"}
"""Settings a sweep may change on a re-run without making its finished models stale."""


def _check_same_settings(run_dir: Path, config: Config, data_root: Path) -> None:
    """A model left in the sweep folder is reused or resumed only if it was made with these settings and data."""
    files = RunFiles(run_dir)
    trained_on = files.data_root
    if trained_on is not None and trained_on.resolve() != data_root.resolve():
        raise SweepError(
            f"{run_dir} was trained on {trained_on}, not {data_root}: "
            "give another output folder, or delete it to train again"
        )
    if not files.config.is_file():
        return
    stored = load_run_config(files.config).to_dict()
    wanted = config.to_dict()
    changed = [
        f"{section}.{key}"
        for section, values in wanted.items()
        for key, value in values.items()
        if key not in NOT_RESULT_SETTINGS and stored.get(section, {}).get(key) != value
    ]
    if changed:
        raise SweepError(
            f"{run_dir} was trained with other settings ({', '.join(changed)}): "
            "give another output folder, or delete it to train again"
        )


@dataclass(frozen=True)
class SweepBudget:
    """Each model's training budget: minutes, epochs and/or optimiser steps; none set keeps the config's.

    Steps give every size the same number of updates however busy the machine is, so that sizes trained
    side by side, or on a slower machine, stay comparable."""

    minutes: float | None = None
    epochs: int | None = None
    steps: int | None = None

    def apply(self, config: Config) -> Config:
        return config.with_budget(self.minutes, self.epochs, self.steps)

    def describe(self) -> str:
        """`10 min`, `3000 steps`, `2 epochs`, joined by ` / `; empty when none is set."""
        parts = [
            f"{self.minutes:g} min" if self.minutes else "",
            counted(self.steps, "step") if self.steps else "",
            counted(self.epochs, "epoch") if self.epochs else "",
        ]
        return " / ".join(part for part in parts if part)


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep trains and where: one model per size in `out_dir/N<size>/`, all on `data_root`."""

    sizes: tuple[int, ...]  # largest first
    out_dir: Path
    cache_dir: Path
    base_config: Config
    data_root: Path
    budget: SweepBudget

    def run_dir(self, latent: int) -> Path:
        return self.out_dir / f"N{latent}"

    def config(self, latent: int) -> Config:
        return self.budget.apply(self.base_config.override(model={"latent": latent}))


@dataclass(frozen=True)
class SweepOutputs:
    """What a sweep writes besides its numbers: figure format, clips to listen to, their audio format."""

    fmt: str = "png"
    listen: int = 1
    audio_format: str = "wav"

    def __post_init__(self) -> None:
        if self.listen < 1:
            raise SweepError(f"listen must be at least 1, got {self.listen}", settings=("listen",))
        if self.audio_format not in ("wav", "flac", "mp3"):
            raise SweepError(
                f"audio_format must be wav, flac or mp3, got {self.audio_format!r}", settings=("audio_format",)
            )


@dataclass(frozen=True)
class EvaluationClips:
    """The clips every model and reference is scored on: `clips` `[count, clip_samples]`, some to listen to."""

    clips: np.ndarray
    listen: tuple[int, ...]  # indices into `clips`; the first is the example of the figures
    names: tuple[str, ...]  # each listened clip's track and start, for captions
    pca_fit: FramePCAReference  # frame PCA fitted on training clips at the smallest size

    @property
    def example(self) -> int:
        return self.listen[0]

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass
class SweepScores:
    """Each model's and each reference's metrics on the test clips, and each model's version of the example clip."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in REFERENCE_NAMES})
    listened: dict[int, np.ndarray] = field(default_factory=dict)  # latent -> [listen, clip_samples]
    left_out: list[dict[str, Any]] = field(default_factory=list)  # {"reference", "latent", "reason"}


def run_sweep(
    latents: Sequence[int],
    out_dir: Path,
    cache_dir: Path,
    base_config: Config,
    data_root: Path | None = None,
    budget: SweepBudget = SweepBudget(),
    rule: ProposalRule = ProposalRule(),
    reporter: Any = None,
    message: Message | None = None,
    outputs: SweepOutputs = SweepOutputs(),
) -> dict[str, Any]:
    """Train, evaluate and report a sweep over `latents`; returns what `sweep.json` holds."""
    say = message or (lambda text: None)
    sizes = tuple(sorted({int(n) for n in latents}, reverse=True))
    lowest, highest = latent_range(base_config.model, base_config.audio)
    outside = [n for n in sizes if not lowest <= n <= highest]
    if outside:  # before any model trains, not when the sweep reaches them
        raise SweepError(f"latent sizes must be {latent_range_text(base_config.model, base_config.audio)}: {outside}")
    out_dir = Path(out_dir)
    refuse_foreign_reports(out_dir)
    make_folder(out_dir)
    root = data_root if data_root is not None else builtin_corpus(cache_dir, base_config.data)
    plan = SweepPlan(sizes, out_dir, cache_dir, base_config, root, budget)
    train_models(plan, reporter, say)
    say("evaluating every model and the references on the same test clips")
    prepared = prepare_dataset(root, base_config.audio, base_config.data, cache_dir)
    test = evaluation_clips(plan, prepared, outputs.listen)
    warnings = [few_clips_text(len(test.clips))] if len(test.clips) < FEW_TEST_CLIPS else []
    for warning in warnings:
        say(f"warning: {warning}")
    with_opus = opus_available()
    if not with_opus:
        say("no Opus reference: opusenc/opusdec are not on the PATH (install Debian's opus-tools to compare with Opus)")
    scores = score_models(plan, test, with_opus)
    for item in scores.left_out:
        say(f"reference {item['reference']} left out at N = {item['latent']}: {item['reason']}")
    proposal = propose(scores.rows, rule)
    result: dict[str, Any] = {
        "data": str(prepared.root),
        "clip_samples": base_config.audio.clip_samples,
        "sample_rate": base_config.audio.sample_rate,
        "test_clips": len(test.clips),
        "warnings": warnings,
        "example_clip": test.name,
        "models": scores.rows,
        "references": scores.references,
        "references_left_out": scores.left_out,
        "proposal": proposal,
        "listen": _write_listening(plan, test, scores, outputs),
        "settings": {
            "minutes_per_model": budget.minutes,
            "epochs": budget.epochs,
            "steps_per_model": budget.steps,
            "arch": base_config.model.arch,
            "kind": base_config.model.kind,
            "seed": base_config.train.seed,
        },
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    result["figures"] = {
        "quality": _quality_chart(plan, test, scores, proposal["latent"], outputs.fmt),
        "spectrograms": result["listen"][0]["spectrograms"],
    }
    write_text_atomic(out_dir / "sweep.json", json_text(result, indent=2) + "\n")
    write_text_atomic(out_dir / "report.md", render_report(result))
    result["report"] = str(out_dir / "report.md")
    from ..pages.sweep import write_sweep_page

    result["page"] = str(write_sweep_page(result, out_dir / "index.html"))
    return result


def refuse_foreign_reports(out_dir: Path) -> None:
    """Before any model trains: `out_dir` may be new or an earlier sweep, never a run folder nor one holding an
    `index.html` or `report.md` that `aea sweep` did not write (`pages/folders.py`)."""
    from ..pages.sweep import SWEEP_TITLE

    refuse_report_folder(out_dir, SWEEP_TITLE, REPORT_HEADING)


def train_models(plan: SweepPlan, reporter: Any, say: Message) -> None:
    """Train each size's model, resume one left unfinished, reuse one already finished."""
    from ..training.loop import TrainingInterrupted, train

    for number, latent in enumerate(plan.sizes, 1):
        run_dir = plan.run_dir(latent)
        config = plan.config(latent)
        _check_same_settings(run_dir, config, plan.data_root)
        files = RunFiles(run_dir)
        if files.finished:
            say(f"[{number}/{len(plan.sizes)}] N = {latent}: finished earlier, reusing {run_dir}")
            continue
        resume = files.resumable
        say(f"[{number}/{len(plan.sizes)}] N = {latent}: {'resuming' if resume else 'training'} in {run_dir}")
        # Same settings (checked above): a model that cannot be resumed is started again.
        try:
            train(
                config,
                run_dir,
                plan.cache_dir,
                data_root=plan.data_root,
                resume=resume,
                reporter=reporter,
                overwrite=not resume,
            )
        except TrainingInterrupted:
            raise TrainingInterrupted(
                f"interrupted: {run_dir} was saved; run the same sweep again to continue"
            ) from None


def evaluation_clips(plan: SweepPlan, prepared: PreparedData, listen: int = 1) -> EvaluationClips:
    """Up to `MAX_TEST_CLIPS` evenly spread test clips (validation when there is no test split), the PCA fit, and
    `listen` clips to hear: the loudest of the first 32, then clips spread evenly over the rest."""
    test_set = prepared.held_out
    if len(test_set) == 0:
        raise SweepError(f"{plan.data_root}: no test or validation clips to evaluate on")
    picks = evenly_spread(len(test_set), MAX_TEST_CLIPS)
    clips = np.stack([test_set.clip(int(i)) for i in picks])
    train_set = prepared.splits["train"]
    train_picks = evenly_spread(len(train_set), PCA_TRAIN_CLIPS)
    train_clips = np.stack([train_set.clip(int(i)) for i in train_picks])
    clip_samples = plan.base_config.audio.clip_samples
    pca_fit = FramePCAReference.fit(train_clips, min(plan.sizes), clip_samples)  # one fit, resized to every N
    example = int(np.argmax([np.sqrt(np.mean(c**2)) for c in clips[: min(len(clips), 32)]]))
    others = [int(i) for i in evenly_spread(len(clips), listen + 1) if int(i) != example]
    chosen = tuple([example] + others[: listen - 1])
    rate = plan.base_config.audio.sample_rate
    return EvaluationClips(clips, chosen, tuple(_clip_name(test_set, int(picks[i]), rate) for i in chosen), pca_fit)


def score_models(plan: SweepPlan, test: EvaluationClips, with_opus: bool = False) -> SweepScores:
    """Every model's and every reference's metrics on the same test clips (Opus at equal bits with `with_opus`)."""
    scores = SweepScores()
    if with_opus:
        scores.references["opus"] = []
    clip_samples, sample_rate = plan.base_config.audio.clip_samples, plan.base_config.audio.sample_rate
    for latent in plan.sizes:
        files = RunFiles(plan.run_dir(latent))
        summary = json.loads(files.summary.read_text())
        model = load_checkpoint(checkpoint_in(files.root)).model

        def reconstruct(batch: np.ndarray) -> np.ndarray:
            return reconstruct_clips(model, torch.from_numpy(batch)[:, None])[:, 0].numpy()  # noqa: B023 - used within this iteration

        metrics = evaluate_reconstruction(reconstruct, test.clips, sample_rate)
        scores.listened[latent] = reconstruct(test.clips[list(test.listen)])
        scores.rows.append(
            {
                "latent": latent,
                "compression": clip_samples / latent,
                "parameters": summary.get("parameters"),
                "train_seconds": summary.get("wall_seconds"),
                "epochs": summary.get("epochs"),
                "run_dir": files.root.name,
                **metrics,
            }
        )
        for name, reference in build_references(latent, clip_samples, test.pca_fit).items():
            scores.references[name].append(
                {"latent": latent, **evaluate_reconstruction(reference.reconstruct, test.clips, sample_rate)}
            )
        if with_opus:
            try:
                opus = OpusReference(latent, clip_samples, sample_rate)
                opus_metrics = evaluate_reconstruction(opus.reconstruct, test.clips, sample_rate)
            except (ValueError, RuntimeError) as error:  # a bit rate opusenc does not take, or opus-tools failed
                scores.left_out.append({"reference": "opus", "latent": latent, "reason": first_line(error)})
                continue
            scores.references["opus"].append({"latent": latent, "kbps": round(opus.kbps, 2), **opus_metrics})
    return scores


def _quality_chart(plan: SweepPlan, test: EvaluationClips, scores: SweepScores, proposed: int, fmt: str) -> str:
    """Quality against N with the references: `quality_vs_latent.FMT`."""
    from ..plots.sweep import plot_quality_vs_latent

    return plot_quality_vs_latent(
        scores.rows,
        scores.references,
        plan.out_dir / "quality_vs_latent",
        f"Reconstruction quality against latent size ({len(test.clips)} test clips)",
        proposed=proposed,
        fmt=fmt,
    ).name


def _spectrogram_grid(plan: SweepPlan, test: EvaluationClips, scores: SweepScores, number: int, fmt: str) -> str:
    """Spectrograms of listened clip `number` and its reconstruction at every size: `spectrograms[-K].FMT`."""
    from ..plots.audio import plot_spectrogram_grid

    clip_samples, sample_rate = plan.base_config.audio.clip_samples, plan.base_config.audio.sample_rate
    panels = [("original", test.clips[test.listen[number]])] + [
        (f"N = {n} ({clip_samples / n:.1f}:1)", scores.listened[n][number]) for n in plan.sizes
    ]
    stem = "spectrograms" if number == 0 else f"spectrograms-{number + 1}"
    grid = plot_spectrogram_grid(
        panels, sample_rate, plan.out_dir / stem, f"{test.names[number]}: original and each latent size", fmt
    )
    return grid.name


def _write_listening(
    plan: SweepPlan, test: EvaluationClips, scores: SweepScores, outputs: SweepOutputs
) -> list[dict[str, Any]]:
    """Each listened clip and its reconstruction at every size (`audio/original[-K].EXT`, `audio/N<size>[-K].EXT`),
    with its spectrogram grid."""
    sample_rate, ext = plan.base_config.audio.sample_rate, outputs.audio_format
    audio_dir = plan.out_dir / "audio"
    audio_dir.mkdir(exist_ok=True)
    listening = []
    for number, index in enumerate(test.listen):
        suffix = "" if number == 0 else f"-{number + 1}"
        write_audio(audio_dir / f"original{suffix}.{ext}", test.clips[index], sample_rate)
        sizes = {}
        for latent in plan.sizes:
            write_audio(audio_dir / f"N{latent}{suffix}.{ext}", scores.listened[latent][number], sample_rate)
            sizes[str(latent)] = f"audio/N{latent}{suffix}.{ext}"
        listening.append(
            {
                "clip": test.names[number],
                "original": f"audio/original{suffix}.{ext}",
                "sizes": sizes,
                "spectrograms": _spectrogram_grid(plan, test, scores, number, outputs.fmt),
            }
        )
    return listening


def _clip_name(dataset: ClipDataset, index: int, sample_rate: int) -> str:
    track_index, start = dataset.index.items[index]
    return f"{dataset.index.tracks[track_index].path.name} at {start / sample_rate:g} s"


def left_out_lines(result: dict[str, Any]) -> list[str]:
    """The references that have no row at some N, and why ("Left out: opus at N = 256: ... outside 6-256 kb/s.")."""
    left_out = result.get("references_left_out") or []
    if not left_out:
        return []
    each = "; ".join(f"{item['reference']} at N = {item['latent']}: {item['reason']}" for item in left_out)
    return ["", f"Left out: {each}."]


def few_clips_text(count: int) -> str:
    """What a sweep on fewer than FEW_TEST_CLIPS test clips says and reports."""
    return (
        f"every size is scored on only {counted(count, 'test clip')}, so the comparison rests on "
        f"{'that clip' if count == 1 else 'those clips'}; a folder with more songs (their held-out tracks give the "
        "test clips) makes it firmer"
    )


REPORT_HEADING = "# Latent size sweep"
"""The report's first line, by which `aea sweep` knows its own report.md again (`pages/folders.py`)."""


def render_report(result: dict[str, Any]) -> str:
    """The sweep's Markdown report."""
    settings = result["settings"]
    budget = SweepBudget(settings["minutes_per_model"], settings["epochs"], settings.get("steps_per_model")).describe()
    lines = [
        REPORT_HEADING,
        "",
        f"Data: `{result['data']}`; {settings['arch']} / {settings['kind']} models, seed {settings['seed']}, "
        f"budget per model: {budget or 'the config default'}. Every model and reference is scored on the same "
        f"{result['test_clips']} test clips of {result['clip_samples']} samples ({result['sample_rate']} Hz). "
        "Metrics as defined in METRICS.md (SNR, SI-SDR: higher is better; MR-STFT, mel: lower is better).",
        *(f"\n**Warning:** {warning}." for warning in result.get("warnings") or []),
        "",
        "| N | compression | parameters | SNR (dB) | SI-SDR (dB) | MR-STFT | mel | train time (s) | audio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(result["models"], key=lambda r: -r["latent"]):
        lines.append(
            f"| {row['latent']} | {row['compression']:.1f} : 1 | {format_value(row['parameters'])} | {row['snr_db']:.2f} | "
            f"{row['si_sdr_db']:.2f} | {row['mrstft']:.3f} | {row['mel_l1']:.3f} | {format_value(row['train_seconds'], 0)} | "
            f"[N{row['latent']}]({result['listen'][0]['sizes'][str(row['latent'])]}) |"
        )
    lines += [
        "",
        "References at the same N: resample to N samples and back with soxr; frame-wise PCA of "
        "512-sample frames fitted on training clips"
        + ("; Opus at N x 16 bits per clip (hard CBR, opus-tools)" if "opus" in result["references"] else "")
        + ":",
        "",
        "| reference | N | SNR (dB) | MR-STFT | mel |",
        "|---|---|---|---|---|",
    ]
    for name, entries in result["references"].items():
        for entry in sorted(entries, key=lambda r: -r["latent"]):
            label = f"{name} ({entry['kbps']:g} kb/s)" if "kbps" in entry else name
            lines.append(
                f"| {label} | {entry['latent']} | {entry['snr_db']:.2f} | {entry['mrstft']:.3f} | {entry['mel_l1']:.3f} |"
            )
    lines += left_out_lines(result)
    proposal = result["proposal"]
    lines += [
        "",
        f"**Proposed latent size: N = {proposal['latent']}.** Rule: {proposal['rule']}.",
        "",
        f"![quality against latent size]({result['figures']['quality']})",
        "",
        f"Spectrograms of {result['example_clip']} ([original]({result['listen'][0]['original']})):",
        "",
        f"![spectrograms at every size]({result['figures']['spectrograms']})",
        "",
    ]
    for clip in result["listen"][1:]:  # the other clips to listen to, each with its reconstructions and grid
        sizes = ", ".join(f"[N{n}]({path})" for n, path in sorted(clip["sizes"].items(), key=lambda i: -int(i[0])))
        lines += [
            f"{clip['clip']}: [original]({clip['original']}), {sizes}",
            "",
            f"![spectrograms]({clip['spectrograms']})",
            "",
        ]
    return "\n".join(lines) + "\n"
