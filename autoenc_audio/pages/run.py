"""The run page (`aea report`, and `make demo`'s index.html): training curves, held-out clips, generated pieces.

Rendering only: the sections arrive as typed records (built by
`autoenc_audio.pages.report` from trained runs, or by the demo from what it wrote).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import counted
from ..metric_info import METRIC_NAMES, held_out_split
from .generation import ordered_facts, spectrogram_png
from .html import Page, audio_player, document, facts, figure, link, section, table, text, write_page

SCORE_COLUMNS = ("name", "clips", "c2st", "fd", "tonal", "continuity", "rhythm", "copied")


@dataclass(frozen=True)
class HeldOutClip:
    """One held-out clip: its label, the original and the reconstruction as written, the figure, the metrics."""

    label: str
    source: str
    original: str | None
    reconstruction: str
    figure: str | None
    metrics: Mapping[str, float]


@dataclass
class RunSection:
    """What the page shows of one run."""

    name: str
    summary: Mapping[str, Any]
    history_figure: str | None = None
    clips: list[HeldOutClip] = field(default_factory=list)
    generated: list[dict[str, Any]] = field(default_factory=list)  # write_pieces records
    score: list[dict[str, Any]] | None = None  # aea score rows
    notes: list[str] = field(default_factory=list)
    explore: str | None = None  # the run's `aea explore` page (RUN/explore/index.html), when it has one
    sample_rate: int | None = None  # the model's audio (its checkpoint's config): runs of other rates or clip
    clip_seconds: float | None = None  # lengths have latents and metrics that do not compare one to one
    clips_missing: str = "the split has no test or validation track"  # why no held-out clip is shown, if none is


def _compression(run: RunSection) -> str | None:
    """Clip samples per latent number ("26.9:1"): what a latent size means at the run's rate and clip length."""
    latent = run.summary.get("latent_size")
    if run.sample_rate is None or run.clip_seconds is None or not latent:
        return None
    return f"{round(run.sample_rate * run.clip_seconds) / latent:.1f}:1"


def _audio_facts(run: RunSection) -> list[tuple[str, Any]]:
    """Sample rate, clip length and compression: without them a latent size cannot be read."""
    if run.sample_rate is None or run.clip_seconds is None:
        return []
    ratio = _compression(run)
    samples = round(run.sample_rate * run.clip_seconds)
    return [
        ("sample rate", f"{run.sample_rate} Hz"),
        ("clip", f"{run.clip_seconds:g} s"),
        ("compression", f"{ratio} ({samples:,} samples per clip)" if ratio else None),
    ]


def _summary_facts(run: RunSection) -> list[tuple[str, Any]]:
    summary = run.summary
    test = summary.get("test") or {}
    data = summary.get("data") or {}
    tracks = data.get("tracks") or {}
    pairs = [
        ("architecture", f"{summary.get('arch', '?')} / {summary.get('kind', '?')}"),
        ("latent", summary.get("latent_layout") or summary.get("latent_size")),
        *_audio_facts(run),
        ("parameters", summary.get("parameters")),
        ("epochs", summary.get("epochs")),
        ("steps", summary.get("steps")),
        ("training seconds", summary.get("wall_seconds")),
        ("clips/s", summary.get("clips_per_second")),
        ("data", data.get("root") or "built-in corpus"),
        ("tracks (train/val/test)", "/".join(str(tracks.get(k, "?")) for k in ("train", "validation", "test"))),
    ]
    split = held_out_split(summary)
    pairs += [(f"{split} {name}", test[name]) for name in METRIC_NAMES if name in test]
    return [(name, value) for name, value in pairs if value is not None]


def _clip_html(page: Page, clip: HeldOutClip, ident: str) -> str:
    listen = audio_player(page, clip.original, f"{clip.label}: original", f"{ident}-in") + audio_player(
        page, clip.reconstruction, f"{clip.label}: reconstruction", f"{ident}-out"
    )
    metrics = facts([(name, clip.metrics[name]) for name in METRIC_NAMES if name in clip.metrics])
    picture = figure(
        page,
        clip.figure,
        f"original and reconstruction of {Path(clip.source).name}",
        f"{Path(clip.source).name}: waveforms, both spectrograms and their difference",
    )
    return f'<h3>{text(clip.label)}: {text(Path(clip.source).name)}</h3><div class="columns"><div>{listen}{picture}</div><div>{metrics}</div></div>'


def _generated_html(page: Page, records: Sequence[Mapping[str, Any]], ident: str) -> str:
    parts = []
    for number, record in enumerate(records):
        audio = Path(record["path"])
        png = spectrogram_png(audio)  # drawn again: a PNG left from an earlier page may show other audio
        shown = [
            (k, v)
            for k, v in ordered_facts(record)
            if k in ("mode", "method", "seconds", "seed", "sources", "label", "jumps", "gain")
        ]
        listen = audio_player(page, audio, f"{audio.name} ({record.get('seconds', 0):.1f} s)", f"{ident}-{number}")
        parts.append(
            f'<div class="columns"><div>{listen}{figure(page, png, f"spectrogram of {audio.name}")}</div>'
            f"<div>{facts(shown)}</div></div>"
        )
    return "".join(parts)


def _score_html(rows: Sequence[Mapping[str, Any]]) -> str:
    body = table(SCORE_COLUMNS, [[row.get(column) for column in SCORE_COLUMNS] for row in rows])
    return (
        "<h3>Is it music? (aea score against held-out clips)</h3>"
        + body
        + "<p>c2st: 0.5 a classifier cannot tell the set from real clips, 1.0 trivially told apart; fd: lower is "
        "closer; copied: share of 2 s windows copying the training tracks (docs/scoring.md).</p>"
    )


def run_section_html(page: Page, run: RunSection, number: int) -> str:
    ident = f"run{number}"
    body = (
        f'<div class="columns"><div>{figure(page, run.history_figure, f"training curves of {run.name}")}</div>'
        f"<div>{facts(_summary_facts(run))}</div></div>"
    )
    body += "".join(f"<p>{text(note)}</p>" for note in run.notes)
    if run.explore:
        body += (
            f"<p>Play with this model's latent space in your browser: {link(page, run.explore, 'the explore page')} "
            "(directions, averages, morphs, random vectors, decoded live; aea explore).</p>"
        )
    if run.clips:
        body += "<h2>Held-out clips</h2>" + "".join(
            _clip_html(page, clip, f"{ident}-clip{k}") for k, clip in enumerate(run.clips)
        )
    else:
        body += f'<p class="missing">No held-out clip to show ({text(run.clips_missing)}).</p>'
    if run.generated:
        body += "<h2>Generated</h2>" + _generated_html(page, run.generated, f"{ident}-gen")
    if run.score:
        body += _score_html(run.score)
    return section(run.name, body, ident)


def comparison_table(runs: Sequence[RunSection]) -> str:
    """One row per run, with each model's audio beside its latent size; a note above when the runs differ in sample
    rate, clip length or data, where latent sizes and held-out metrics do not compare one to one."""
    names = [name for name in METRIC_NAMES if any(name in (r.summary.get("test") or {}) for r in runs)]
    splits = [held_out_split(r.summary) for r in runs]
    label = "test" if set(splits) == {"test"} else "held-out"
    rows = []
    for run, split in zip(runs, splits):
        rows.append(
            [
                run.name,
                f"{run.summary.get('arch', '?')} / {run.summary.get('kind', '?')}",
                run.summary.get("latent_size"),
                f"{run.sample_rate} Hz" if run.sample_rate else None,
                f"{run.clip_seconds:g} s" if run.clip_seconds else None,
                _compression(run),
                run.summary.get("steps"),
                run.summary.get("wall_seconds"),
            ]
            + ([] if label == "test" else [split])
            + [(run.summary.get("test") or {}).get(n) for n in names]
        )
    headers = ["run", "model", "latent", "sample rate", "clip", "compression", "steps", "seconds"]
    headers += [] if label == "test" else ["held-out split"]
    note = _differences_note(runs)
    body = (f'<p class="missing">{text(note)}</p>' if note else "") + table(
        [*headers, *[f"{label} {n}" for n in names]], rows
    )
    return section("Comparison", body)


def _differences_note(runs: Sequence[RunSection]) -> str | None:
    """What the compared runs differ in, of sample rate, clip length and data (folder and split), or None."""
    differences = []
    for what, values in (
        ("sample rate", [f"{r.sample_rate} Hz" for r in runs if r.sample_rate is not None]),
        ("clip length", [f"{r.clip_seconds:g} s" for r in runs if r.clip_seconds is not None]),
        ("data", [str((r.summary.get("data") or {}).get("root") or "built-in corpus") for r in runs]),
    ):
        distinct = list(dict.fromkeys(values))
        if len(distinct) > 1:
            differences.append(f"{what} ({', '.join(distinct)})")
    splits = {(r.summary.get("data") or {}).get("split") for r in runs} - {None}
    if not any(d.startswith("data") for d in differences) and len(splits) > 1:
        differences.append("data split (the same folder, split otherwise)")
    if not differences:
        return None
    return (
        f"These runs differ in {' and '.join(differences)}: their latent sizes do not compare one to one (compare "
        "the compression, clip samples per latent number), and their held-out metrics come from different clips."
    )


REPORT_TITLE = "aea report"
"""The title of `aea report`'s page, by which it knows its own page again (`pages/folders.py`)."""


def write_run_page(runs: Sequence[RunSection], path: str | Path, title: str = REPORT_TITLE) -> Path:
    """One page: a comparison table when there are several runs, then one section per run."""
    page = Page(Path(path))
    lede = (
        f"{counted(len(runs), 'run')}: training curves, a held-out clip per label "
        "(original and reconstruction, both spectrograms, the metrics) and generated pieces with their scores."
    )
    body = (comparison_table(runs) if len(runs) > 1 else "") + "".join(
        run_section_html(page, run, k) for k, run in enumerate(runs)
    )
    return write_page(page, document(title, lede, body))
