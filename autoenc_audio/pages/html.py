"""The building blocks of aea's pages: escaped text, tables, players, figures and one stylesheet.

Every block is a string of HTML. Paths become URLs relative to the page's
folder; a file that is missing becomes a line saying so, never a broken player.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..files import write_text_atomic
from ..metric_info import format_value
from .folders import page_start

STYLE = """
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6672; --line: #d9dee4; --accent: #2459a8; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.6em; margin: 0 0 4px; } h2 { font-size: 1.25em; margin: 0 0 10px; } h3 { font-size: 1.05em; margin: 0 0 6px; }
p.lede { color: var(--muted); margin: 0 0 20px; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 16px 0; }
.table-scroll { overflow-x: auto; max-width: 100%; }  /* a wide table scrolls in its card, never the page */
section.card, .columns > div { min-width: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.number { text-align: right; }
figure { margin: 8px 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.92em; }
.player { display: grid; grid-template-columns: minmax(8em, 15em) minmax(180px, 1fr) auto; align-items: center;
          gap: 10px; margin: 6px 0; }
.player label { font-weight: 600; overflow-wrap: anywhere; }
.player audio { width: 100%; }
.player .missing { grid-column: 1 / -1; }
table.listen td { min-width: 300px; } table.listen th[scope="row"] { vertical-align: middle; } table.listen .player { grid-template-columns: 1fr auto; }
table.listen .player label { position: absolute; left: -10000px; }  /* the row header says it; kept for screen readers */
.missing { color: #9a3412; font-style: italic; }
a { color: var(--accent); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(460px, 100%), 1fr)); gap: 14px; align-items: start; }
.columns { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 18px; align-items: start; }
@media (max-width: 820px) { .columns { grid-template-columns: 1fr; } }
"""


@dataclass(frozen=True)
class Page:
    """A page being written: its file, whose folder every link is relative to."""

    path: Path

    @property
    def folder(self) -> Path:
        return self.path.parent

    def url(self, target: str | os.PathLike) -> str | None:
        """The relative URL of `target`, or None when it is not there."""
        target = Path(target)
        if not target.is_file():
            return None
        relative = os.path.relpath(target.resolve(), self.folder.resolve())
        return quote(Path(relative).as_posix())


def text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def audio_player(page: Page, file: str | os.PathLike | None, label: str, ident: str) -> str:
    """A labelled `<audio controls>` for `file`, or a line saying it is missing."""
    url = page.url(file) if file else None
    if url is None:
        return f'<div class="player"><span class="missing">{text(label)}: no audio (missing: {text(file or "none")})</span></div>'
    return (
        f'<div class="player"><label for="{text(ident)}">{text(label)}</label>'
        f'<audio id="{text(ident)}" controls preload="metadata" src="{url}"></audio>'
        f' <a href="{url}" download>file</a></div>'
    )


def figure(page: Page, file: str | os.PathLike | None, alt: str, caption: str | None = None) -> str:
    """A PNG figure with its alt text, or a line saying it is missing."""
    url = page.url(file) if file else None
    if url is None:
        return f'<p class="missing">{text(alt)}: no figure (missing: {text(file or "none")})</p>'
    caption_html = f"<figcaption>{text(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{url}" alt="{text(alt)}" loading="lazy">{caption_html}</figure>'


def link(page: Page, file: str | os.PathLike, label: str) -> str:
    url = page.url(file)
    return f'<a href="{url}">{text(label)}</a>' if url else f'<span class="missing">{text(label)} (missing)</span>'


def cell(value: Any, key: str | None = None) -> str:
    """A table cell: numbers right-aligned as reports show them (`format_value`), lists joined, None as a dash.
    `key`: the name the value is shown under, so a seed or a sample rate prints as `--seed` takes it."""
    if value is None:
        return "<td>–</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, float)):
        return f'<td class="number">{text(format_value(value, 3, key))}</td>'
    if isinstance(value, (list, tuple)):
        return f"<td>{text(', '.join(str(v) for v in value))}</td>"
    return f"<td>{text(value)}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None) -> str:
    head = "".join(f'<th scope="col">{text(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    caption_html = f"<caption>{text(caption)}</caption>" if caption else ""
    return f'<div class="table-scroll"><table>{caption_html}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def facts(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of named values (what a sidecar says)."""
    rows = "".join(f'<tr><th scope="row">{text(name)}</th>{cell(value, name)}</tr>' for name, value in pairs)
    return f'<div class="table-scroll"><table><tbody>{rows}</tbody></table></div>'


def section(title: str, body: str, ident: str | None = None) -> str:
    anchor = f' id="{text(ident)}"' if ident else ""
    return f'<section class="card"{anchor}><h2>{text(title)}</h2>{body}</section>'


def document(title: str, lede: str, body: str) -> str:
    """A whole page: one file, its style inline, no script."""
    return (
        page_start(title)  # how a command knows its own page again (`pages/folders.py`)
        + f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f'<h1>{text(title)}</h1>\n<p class="lede">{text(lede)}</p>\n{body}\n</main>\n</body>\n</html>\n'
    )


def write_page(page: Page, content: str) -> Path:
    """Written atomically: a page is never half there, and writing it again replaces it."""
    write_text_atomic(page.path, content)
    return page.path
