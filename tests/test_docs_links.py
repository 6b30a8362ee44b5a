"""The user's documentation holds together: every relative link and image resolves, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(ROOT.glob("*.md")) + sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
README_MAX_LINES = 250


def prose(text: str) -> str:
    """`text` without its fenced code blocks (a link inside one is an example, not a link)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+\s+(.*)$", prose(page.read_text()), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto: - not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no such heading)")
    return broken


def test_the_pages_are_found_and_link_to_each_other():
    names = {page.relative_to(ROOT).as_posix() for page in PAGES}
    assert {"README.md", "ARCHITECTURE.md", "docs/scoring.md", "docs/python.md"} <= names
    assert LINK.findall(prose((ROOT / "README.md").read_text())), "no links found: the pattern is broken"


def test_every_relative_link_resolves():
    broken = {page.relative_to(ROOT).as_posix(): links for page in PAGES if (links := broken_links(page))}
    assert not broken, f"broken links: {broken}"


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# A heading\n")
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading) [gone](missing.md) [bad](there.md#nope)\n"
        "```\n[in code](ignored.md)\n```\n"
    )
    assert broken_links(page) == ["missing.md (no such file)", "there.md#nope (no such heading)"]


def test_the_readme_is_the_short_path():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; move deep dives to docs/ (at most {README_MAX_LINES})"
    )
