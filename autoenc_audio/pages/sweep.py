"""The sweep page (`aea sweep` writes `index.html` beside `report.md`): listen down the latent sizes.

Rendered from what `sweep.json` holds: the proposal and its rule, one row per
size with a player for each listened clip (the original on top, so a listener
goes down the sizes), the metrics, the references, the quality chart and the
spectrograms at every size.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import counted
from .html import Page, audio_player, document, figure, section, table, text, write_page

METRIC_COLUMNS = (
    ("snr_db", "SNR (dB)"),
    ("si_sdr_db", "SI-SDR (dB)"),
    ("mrstft", "MR-STFT"),
    ("mel_l1", "mel"),
    ("lsd_db", "LSD (dB)"),
)


def _listening_table(page: Page, result: Mapping[str, Any]) -> str:
    clips = result["listen"]
    head = "".join(f'<th scope="col">clip {k + 1}: {text(c["clip"])}</th>' for k, c in enumerate(clips))
    rows = [("original", [c["original"] for c in clips])]
    for row in sorted(result["models"], key=lambda r: -r["latent"]):
        name = f"N = {row['latent']} ({row['compression']:.1f}:1)"
        rows.append(
            (
                name + (" (proposed)" if row["latent"] == result["proposal"]["latent"] else ""),
                [c["sizes"].get(str(row["latent"])) for c in clips],
            )
        )
    body = ""
    for r, (name, files) in enumerate(rows):
        cells = "".join(
            f"<td>{audio_player(page, page.folder / f if f else None, f'{name}, clip {k + 1}', f'listen-{r}-{k}')}</td>"
            for k, f in enumerate(files)
        )
        body += f'<tr><th scope="row">{text(name)}</th>{cells}</tr>'
    return f'<div class="table-scroll"><table class="listen"><thead><tr><th scope="col">latent size</th>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _metrics_table(result: Mapping[str, Any]) -> str:
    columns = [(key, label) for key, label in METRIC_COLUMNS if any(key in r for r in result["models"])]
    rows = [
        [
            r["latent"],
            f"{r['compression']:.1f}:1",
            r.get("parameters"),
            *[r.get(k) for k, _ in columns],
            r.get("train_seconds"),
        ]
        for r in sorted(result["models"], key=lambda r: -r["latent"])
    ]
    return table(["N", "compression", "parameters", *[label for _, label in columns], "train time (s)"], rows)


def _references_table(result: Mapping[str, Any]) -> str:
    rows = []
    for name, entries in result["references"].items():
        for entry in sorted(entries, key=lambda r: -r["latent"]):
            rows.append([name, entry["latent"], entry.get("snr_db"), entry.get("mrstft"), entry.get("mel_l1")])
    notes = "".join(
        f"<p>Left out: {text(item['reference'])} at N = {item['latent']}: {text(item['reason'])}.</p>"
        for item in result.get("references_left_out") or []
    )
    return table(["reference", "N", "SNR (dB)", "MR-STFT", "mel"], rows) + notes


SWEEP_TITLE = "aea sweep"
"""The title of `aea sweep`'s page, by which it knows its own page again (`pages/folders.py`)."""


def write_sweep_page(result: Mapping[str, Any], path: str | Path) -> Path:
    page = Page(Path(path))
    proposal = result["proposal"]
    settings = result["settings"]
    lede = (
        f"{counted(len(result['models']), 'latent size')}, {settings['arch']} / {settings['kind']} models, the same data, budget and "
        f"seed; every model scored on the same {result['test_clips']} test clips of {result['data']}."
    )
    warned = "".join(f"<p><strong>Warning:</strong> {text(warning)}.</p>" for warning in result.get("warnings") or [])
    body = section(
        "Proposed latent size",
        f"<p><strong>N = {proposal['latent']}</strong>. Rule: {text(proposal['rule'])}.</p>{warned}",
        "proposal",
    )
    body += section(
        "Listen down the sizes",
        "<p>The same held-out clips at every size; the original first.</p>" + _listening_table(page, result),
        "listen",
    )
    charts = figure(
        page,
        page.folder / result["figures"]["quality"],
        "reconstruction quality against latent size",
        "Quality against N, with the non-learned references at the same N",
    )
    body += section(
        "Metrics", _metrics_table(result) + charts + "<h3>References</h3>" + _references_table(result), "metrics"
    )
    grids = "".join(
        figure(
            page,
            page.folder / c["spectrograms"],
            f"spectrograms of {c['clip']} at every size",
            f"clip {k + 1}: {c['clip']}",
        )
        for k, c in enumerate(result["listen"])
    )
    body += section("Spectrograms at every size", grids, "spectrograms")
    return write_page(page, document(SWEEP_TITLE, lede, body))
