"""The generation page (`aea generate --html`): a player, a spectrogram and the sidecar's facts per piece."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import counted
from .folders import page_start, refuse_foreign_files, refuse_run_folder
from .html import Page, audio_player, document, facts, figure, link, section, text, write_page

FIRST_FACTS = (
    "mode",
    "method",
    "seconds",
    "seed",
    "temperature",
    "sources",
    "label",
    "offset",
    "prime_seconds",
    "jumps",
    "tracks_visited",
    "gain",
    "gain_from_seconds",
    "prior_fingerprint",
    "model_fingerprint",
    "model_kind",
)
# `request` and `prior_settings` are for `generation/regenerate.py`, not for reading on a page
HIDDEN_FACTS = {"path", "sidecar", "prior", "model", "clip_samples", "aea_version", "request", "prior_settings"}


def spectrogram_png(audio_path: Path) -> Path | None:
    """`NAME.png` beside `NAME.wav`: its spectrogram (None when the audio cannot be read or is too short to draw)."""
    from ..audio import AudioError, read_frames
    from ..mixing import to_mono
    from ..plots.audio import plot_spectrograms
    from ..plots.figure import PlotError

    try:
        samples, rate = read_frames(audio_path)
        return plot_spectrograms(
            [(audio_path.name, to_mono(samples), rate)],
            audio_path.with_suffix(".png"),
            size=(1000, 330),
            title=f"{audio_path.name}: spectrogram",
        )
    except (AudioError, PlotError):
        return None


def ordered_facts(record: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The sidecar's facts worth reading, the telling ones first; sources by file name."""
    shown = {key: value for key, value in record.items() if key not in HIDDEN_FACTS}
    if isinstance(shown.get("sources"), list):
        shown["sources"] = [Path(str(source)).name for source in shown["sources"]]
    keys = [k for k in FIRST_FACTS if k in shown] + sorted(k for k in shown if k not in FIRST_FACTS)
    return [(key, shown[key] if not isinstance(shown[key], dict) else str(shown[key])) for key in keys]


def piece_section(page: Page, record: Mapping[str, Any], number: int) -> str:
    audio = Path(record["path"])
    png = spectrogram_png(audio) if audio.is_file() else None
    listen = audio_player(page, audio, f"{audio.name} ({record.get('seconds', 0):.1f} s)", f"piece-{number}")
    sidecar = link(page, record["sidecar"], Path(record["sidecar"]).name) if record.get("sidecar") else ""
    body = (
        f'<div class="columns"><div>{listen}{figure(page, png, f"spectrogram of {audio.name}")}</div>'
        f"<div>{facts(ordered_facts(record))}<p>{sidecar}</p></div></div>"
    )
    return section(f"{number + 1}. {audio.name}", body, f"section-{number}")


GENERATION_TITLE = "aea generate"
"""The title of `aea generate --html`'s page, by which it knows its own page again (`pages/folders.py`)."""


def refuse_generation_page(path: str | Path) -> None:
    """PageFolderError when the page may not be written to `path` (before any piece is made): an `index.html`,
    its folder's page, in a run folder, or a file there that `aea generate` did not write (`pages/folders.py`)."""
    path = Path(path)
    if path.name == "index.html":
        refuse_run_folder(path.parent)
    refuse_foreign_files(path.parent, {path.name: page_start(GENERATION_TITLE)}, GENERATION_TITLE)


def write_generation_page(records: Sequence[Mapping[str, Any]], path: str | Path, command: str | None = None) -> Path:
    """One page for what one `aea generate` wrote (`records` as `write_pieces` returns them); refused as
    `refuse_generation_page` says."""
    page = Page(Path(path))
    modes = sorted({str(r.get("mode", "?")) for r in records})
    methods = sorted({str(r.get("method", "?")) for r in records})
    seconds = float(np.sum([r.get("seconds", 0.0) for r in records]))
    lede = (
        f"{counted(len(records), 'piece')} ({seconds:.1f} s in all), mode {', '.join(modes)}, "
        f"method {', '.join(methods)}. Each piece: a player, its spectrogram and how it was made (its sidecar)."
    )
    header = f"<p><code>{text(command)}</code></p>" if command else ""
    body = header + "".join(piece_section(page, record, number) for number, record in enumerate(records))
    refuse_generation_page(page.path)
    return write_page(page, document(GENERATION_TITLE, lede, body))
