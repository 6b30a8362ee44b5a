"""Where a command may write its page: never into a run folder, never over a page or report it did not write.

`aea report`, `analyze`, `sweep` and `generate --html` write `index.html`
(and `report.md`) into the folder they are given, replacing what is there:
their own earlier output, which is how a page is made again. A file of that
name the command did not write (a person's notes, another command's page, a
run's own page) would be lost, and so would a run folder's files, so such a
folder is refused before any work, whatever `overwrite` says: no setting
replaces a file aea did not write (`aea explore` refuses the same way). A
command knows its own files by how they begin: every aea page starts with
the same head and then its title (`aea report`), a report with its heading.
`aea demo` writes its run page into the run folder it trains, through the
page modules: only a folder the user names is checked. No torch.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import InputError
from ..runs.folder import RunFiles

PAGE_HEAD = (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
)
"""How every page aea writes begins (`pages.html.document`), as it has since the first page."""


class PageFolderError(InputError):
    """A folder (or file) a page would be written to holds what the page would replace."""


def page_start(title: str) -> str:
    """How a page titled `title` ("aea report") begins: aea's head, then the title."""
    return f"{PAGE_HEAD}<title>{html.escape(title, quote=True)}</title>\n"


def begins_with(path: Path, start: str) -> bool:
    """Whether the file `path` begins with `start` (False for a folder or a file that cannot be read)."""
    expected = start.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            return handle.read(len(expected)) == expected
    except OSError:
        return False


def run_folder_files(folder: Path) -> list[str]:
    """The names of the files that make `folder` a run folder (its checkpoints, `run.json`); none for another."""
    files = RunFiles(Path(folder))
    return [path.name for path in (files.best, files.last, files.run) if path.is_file()]


def refuse_run_folder(folder: Path, where: str = "") -> None:
    """PageFolderError when `folder` is a run folder, whose files (and run page) a page would replace; `where`
    (", where ...") says why the page would write there."""
    held = run_folder_files(folder)
    if held:
        raise PageFolderError(f"{folder}: is a run folder (holds {', '.join(held)}){where}; write the page elsewhere")


def refuse_foreign_files(folder: Path, starts: Mapping[str, str], writer: str) -> None:
    """PageFolderError when `folder` holds one of the files named in `starts` (name -> how `writer`'s own copy
    begins) that does not begin so: `writer` ("aea report") did not write it, and writing would replace it."""
    for name, start in starts.items():
        path = Path(folder) / name
        if path.exists() and not begins_with(path, start):
            raise PageFolderError(
                f"{path}: not written by {writer}, and it would be replaced; write the page elsewhere"
            )


def refuse_page_folder(folder: Path, writer: str, starts: Mapping[str, str]) -> None:
    """Before any work: PageFolderError unless `writer` may write its files (`starts`: name -> how its own copy
    begins) into `folder`: a new folder, or one that is not a run folder and holds none of them but its own."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PageFolderError(f"{folder}: exists and is not a folder")
    refuse_run_folder(folder)
    refuse_foreign_files(folder, starts, writer)


def refuse_report_folder(folder: Path, title: str, heading: str) -> None:
    """`refuse_page_folder` for a command that writes a page titled `title` and a report.md under `heading`
    (`aea analyze`, `aea sweep`): before any work, a new folder or one of its own earlier results."""
    refuse_page_folder(folder, title, {"index.html": page_start(title), "report.md": heading + "\n"})


def drop_earlier_pages(folder: Path, names: Iterable[str]) -> None:
    """Remove an earlier run's `names` (its page, report, JSON) from `folder`, once it is known to be the command's
    own output and before any new file goes there: figures and audio are replaced under their final names, so an
    interrupted rerun would otherwise leave the old page describing new files, looking complete."""
    if not Path(folder).is_dir():
        return  # new (or under a file: where it is made, the error names that)
    for name in names:
        (Path(folder) / name).unlink(missing_ok=True)
