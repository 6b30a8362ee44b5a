"""Page size and write time of `aea sweep` and `aea analyze` pages, against the command's own time.

Re-renders each folder's page from its `sweep.json` / `analysis.json` (best
of 5), and adds up the page's own HTML and every file it links (audio, PNG).

    .venv/bin/python bench/bench_pages.py --sweep SWEEP_DIR --sweep-seconds 151 --analysis ANALYSIS_DIR
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from urllib.parse import unquote

from autoenc_audio.analysis.dataset import VIEW_TITLES
from autoenc_audio.pages.analysis import write_analysis_page
from autoenc_audio.pages.sweep import write_sweep_page


def linked_bytes(page: Path) -> tuple[int, int]:
    """Bytes of the page itself, and of every distinct file it links."""
    html = page.read_text()
    files = {page.parent / unquote(m) for m in re.findall(r'(?:src|href)="([^"#]+)"', html)}
    return page.stat().st_size, sum(f.stat().st_size for f in files if f.is_file())


def best_of(function, *args, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", type=Path)
    parser.add_argument("--sweep-seconds", type=float, help="the sweep command's wall time")
    parser.add_argument("--analysis", type=Path)
    args = parser.parse_args()
    rows = []
    if args.sweep:
        result = json.loads((args.sweep / "sweep.json").read_text())
        seconds = best_of(write_sweep_page, result, args.sweep / "index.html")
        html, linked = linked_bytes(args.sweep / "index.html")
        rows.append(
            {
                "page": "sweep",
                "sizes": len(result["models"]),
                "clips": len(result["listen"]),
                "write_s": round(seconds, 4),
                "command_s": args.sweep_seconds,
                "html_kb": round(html / 1024, 1),
                "linked_kb": round(linked / 1024, 1),
            }
        )
    if args.analysis:
        analysis = json.loads((args.analysis / "analysis.json").read_text())
        seconds = best_of(write_analysis_page, analysis, args.analysis / "index.html", VIEW_TITLES)
        html, linked = linked_bytes(args.analysis / "index.html")
        rows.append(
            {
                "page": "analysis",
                "models": len(analysis["models"]),
                "write_s": round(seconds, 4),
                "command_s": analysis["seconds"],
                "html_kb": round(html / 1024, 1),
                "linked_kb": round(linked / 1024, 1),
            }
        )
    for row in rows:
        if row.get("command_s"):
            row["share_of_command"] = round(row["write_s"] / row["command_s"], 5)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
