"""Every command that writes a page into an -o folder (report, analyze, sweep, generate --html) replaces only what
it wrote there itself: a run folder, and an index.html or report.md it did not write, are refused with exit 2 in
one line naming them, before any work, so nothing of the user's is lost (autoenc_audio/pages/folders.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli

MINE = "<p>my notes</p>\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, write_songs, make_checkpoint):
    """(songs, cache, run): a run folder `runs/a` holding a (PCA-initialised) tiny model, its run.json and page."""
    root = tmp_path_factory.mktemp("page-folders")
    songs = write_songs(root / "songs")
    run = root / "runs" / "a"
    make_checkpoint(songs, root / "cache", run / "best.safetensors")
    (run / "run.json").write_text(json.dumps({"data_root": str(songs)}))
    (run / "index.html").write_text("the run page")
    (run / "random.wav").write_bytes(b"the run's own piece")
    return songs, root / "cache", run


def command(name: str, setup, out: Path) -> list[str]:
    """The command line of `name` writing its page to `out`, as cheap as it gets."""
    songs, cache, run = setup
    common = ["--cache-dir", str(cache), "-o", str(out)]
    return {
        "report": ["report", str(run), "--no-generate", "--audio-format", "wav"],
        "analyze": ["analyze", "--model", str(run), "--data", str(songs), "--cv-folds", "2", "--no-tsne"],
        "sweep": ["sweep", "--latents", "256", "--config", "tiny", "--data", str(songs), "--steps-per-model", "1"],
        "generate": ["generate", "--model", str(run), "--mode", "random", "--method", "gaussian", "--html"],
    }[name] + common


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def folder_state(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def refused(result, *said: str) -> bool:
    lines = result.output.strip().splitlines()
    return result.exit_code == 2 and len(lines) == 1 and all(text in lines[0] for text in said)


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("report", "index.html"),
        ("analyze", "index.html"),
        ("analyze", "report.md"),
        ("sweep", "index.html"),
        ("sweep", "report.md"),
        ("generate", "index.html"),
    ],
)
def test_a_page_or_report_the_command_did_not_write_is_never_replaced(setup, tmp_path, name, file):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / file).write_text(MINE)
    result = invoke(command(name, setup, mine))
    assert refused(result, str(mine / file), f"not written by aea {name}"), result.output
    assert folder_state(mine) == {file: MINE.encode()}, "refused before any work: nothing written beside it"


@pytest.mark.parametrize("name", ["report", "analyze", "sweep", "generate"])
def test_a_run_folder_is_never_the_page_s_folder(setup, name):
    run = setup[2]
    before = folder_state(run)
    result = invoke(command(name, setup, run))
    assert refused(result, str(run), "is a run folder", "best.safetensors"), result.output
    assert folder_state(run) == before, "the run page, the run's pieces and files are as they were"


def test_report_refuses_a_folder_where_a_run_s_files_would_land_in_the_run_itself(setup):
    runs = setup[2].parent
    before = folder_state(runs)
    result = invoke(command("report", setup, runs))  # the run's files would go to runs/a: the run folder
    assert refused(result, str(runs / "a"), "is a run folder"), result.output
    assert folder_state(runs) == before


@pytest.mark.slow
def test_a_command_replaces_its_own_page_but_not_another_command_s(setup, tmp_path):
    pages = {}
    for name in ("report", "generate", "analyze"):
        out = tmp_path / name
        for _ in range(2):  # the second run replaces the first's page, as ever
            result = invoke(command(name, setup, out))
            assert result.exit_code == 0, result.output
        pages[name] = folder_state(out)
    for name, other in (("report", "generate"), ("generate", "analyze"), ("analyze", "report")):
        result = invoke(command(name, setup, tmp_path / other))
        assert refused(result, str(tmp_path / other / "index.html"), f"not written by aea {name}"), result.output
        assert folder_state(tmp_path / other) == pages[other]


def test_a_page_beside_a_named_piece_is_not_one_generate_did_not_write(setup, tmp_path):
    (tmp_path / "song.html").write_text(MINE)
    args = command("generate", setup, tmp_path / "song.wav")
    result = invoke(args)
    assert refused(result, str(tmp_path / "song.html"), "not written by aea generate"), result.output
    assert folder_state(tmp_path) == {"song.html": MINE.encode()}
