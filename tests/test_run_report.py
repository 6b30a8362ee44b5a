"""`aea report` (autoenc_audio/pages/report.py): the run page of trained runs, loaded in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # every test uses `two_runs`, which trains two models


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny runs on the tiny built-in corpus (no prior: the page shows no generated piece)."""
    root = tmp_path_factory.mktemp("report")
    config = load_config(ROOT / "configs" / "tiny.toml")
    for name, latent in (("small", 256), ("large", 512)):
        train(config.override(model={"latent": latent}), root / name, root / "cache")
    return root


def test_report_writes_one_page_for_several_runs_that_works_in_a_browser(two_runs, tmp_path, check_page):
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            str(two_runs / "small"),
            str(two_runs / "large"),
            "-o",
            str(out),
            "--audio-format",
            "flac",
            "--cache-dir",
            str(two_runs / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"page {out / 'index.html'}" in result.stdout
    html = (out / "index.html").read_text()
    assert html.count("<h2>Comparison</h2>") == 1 and 'id="run0"' in html and 'id="run1"' in html
    report = check_page(out / "index.html")
    labels = sorted({p.name.split("-", 1)[1].split(".")[0] for p in (out / "small").glob("*.input.flac")})
    assert len(labels) >= 2, "one held-out clip per label"
    assert len(report.audio) == 2 * 2 * len(labels)  # two runs x (original, reconstruction) per label
    assert all(a["src"].endswith(".flac") for a in report.audio)
    assert len(report.images) == 2 * (1 + len(labels))  # curves, then a comparison figure per clip


def test_report_refuses_two_runs_of_one_folder_name(two_runs, tmp_path):
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "best.safetensors").write_bytes((two_runs / "small" / "best.safetensors").read_bytes())
    result = CliRunner().invoke(
        cli,
        [
            "report",
            str(two_runs / "small"),
            str(tmp_path / "small"),
            "-o",
            str(tmp_path / "r"),
            "--cache-dir",
            str(two_runs / "cache"),
        ],
    )
    assert result.exit_code == 2 and "share the folder name 'small'" in result.stderr


def test_report_links_the_runs_explore_page_when_it_has_one(two_runs, tmp_path):
    """RUN/explore/index.html (what make demo writes, or aea explore RUN -o RUN/explore) is linked; without it, no
    link."""
    args = ["report", str(two_runs / "small"), "--cache-dir", str(two_runs / "cache"), "--audio-format", "wav"]
    without = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "without")])
    assert without.exit_code == 0, without.output
    assert "explore page" not in (tmp_path / "without" / "index.html").read_text()
    explore = two_runs / "small" / "explore"
    explore.mkdir()
    (explore / "index.html").write_text("<!doctype html><title>explore</title>")
    try:
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "with")])
    finally:
        (explore / "index.html").unlink()
        explore.rmdir()
    assert result.exit_code == 0, result.output
    html = (tmp_path / "with" / "index.html").read_text()
    target = os.path.relpath(two_runs.resolve() / "small" / "explore" / "index.html", (tmp_path / "with").resolve())
    link = f'<a href="{target}">the explore page</a>'
    assert link in html, html[html.find("explore") - 200 : html.find("explore") + 200]


@pytest.fixture(scope="module")
def run_with_prior(tmp_path_factory, write_songs, make_run_with_prior):
    """A run named `g` with a prior, trained on 2.2 s songs: no held-out clip of 5 s, so its prior cannot be scored."""
    root = tmp_path_factory.mktemp("report-prior")
    songs = write_songs(root / "songs")
    return make_run_with_prior(songs, root / "cache", root / "g"), root / "cache"


def audio_files_not_on_the_page(out: Path) -> list[str]:
    html = (out / "index.html").read_text()
    every = [path.relative_to(out).as_posix() for path in out.rglob("*") if path.suffix in (".wav", ".mp3", ".flac")]
    return [name for name in every if f'src="{name}"' not in html]


def test_a_score_that_cannot_be_made_is_said_in_one_line_and_on_the_page_and_leaves_no_audio_unplayed(
    run_with_prior, tmp_path
):
    run, cache = run_with_prior
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["report", str(run), "-o", str(out), "--audio-format", "wav", "--cache-dir", str(cache)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"page {out / 'index.html'}"]
    [line] = result.stderr.splitlines()
    assert line.startswith("aea: g: score skipped: ") and "0 held-out clips of 5 s" in line and "16 are needed" in line
    html = (out / "index.html").read_text()
    assert "score skipped: " in html and "generation or score skipped" not in html
    assert html.count("<audio") >= 2  # the two new pieces were made, and play
    assert audio_files_not_on_the_page(out) == []  # the 32 pieces made for the score are not left behind
    assert not (out / "g" / "samples").exists()


def test_generated_files_in_a_sub_folder_of_the_run_are_on_the_page(run_with_prior, tmp_path):
    """`aea generate --model RUN -o RUN/gen/` (README's `-o gen/` inside the run) puts its pieces on the run's page."""
    run, cache = tmp_path / "g", run_with_prior[1]
    shutil.copytree(run_with_prior[0], run)
    made = CliRunner().invoke(
        cli,
        [
            "generate",
            "--model",
            str(run),
            "--mode",
            "random",
            "--seconds",
            "2",
            "--n",
            "2",
            "-o",
            str(run / "gen") + "/",
        ],
        env={"AEA_MODEL": ""},
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "report"
    args = ["report", str(run), "-o", str(out), "--audio-format", "wav", "--cache-dir", str(cache), "--no-generate"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    copies = sorted(path.name for path in (out / "g").glob("run-*.wav"))
    assert copies == [f"run-gen-{path.stem}.wav" for path in sorted((run / "gen").glob("*.wav"))] and len(copies) == 2
    assert audio_files_not_on_the_page(out) == []
    earlier = run / "report" / "g"  # an earlier report inside the run, holding pieces with their sidecars
    earlier.mkdir(parents=True)
    for path in (run / "gen").iterdir():
        shutil.copy(path, earlier / f"random-{path.name}")
    again = CliRunner().invoke(cli, [*args[:3], str(run / "report"), *args[4:]])
    assert again.exit_code == 0, again.output
    inside = sorted(path.name for path in earlier.glob("run-*.wav"))
    assert inside == copies, "an earlier report inside the run is not taken for the run's own pieces"


def test_pieces_generated_by_other_weights_than_the_run_s_are_left_out_with_a_note(
    run_with_prior, tmp_path, write_songs, make_checkpoint
):
    """A run copied with its `gen/` and trained again: the report showed the old model's pieces as the run's."""
    run, cache = tmp_path / "g", run_with_prior[1]
    shutil.copytree(run_with_prior[0], run)
    made = CliRunner().invoke(
        cli,
        ["generate", "--model", str(run), "--mode", "random", "--method", "gaussian", "--n", "2", "-o", f"{run}/gen/"],
        env={"AEA_MODEL": ""},
    )
    assert made.exit_code == 0, made.output
    make_checkpoint(write_songs(tmp_path / "songs", labels=("x", "y")), cache, run / "best.safetensors")  # new weights
    shutil.copy(run / "best.safetensors", run / "last.safetensors")  # as training again writes both
    out = tmp_path / "report"
    args = ["report", str(run), "-o", str(out), "--audio-format", "wav", "--cache-dir", str(cache), "--no-generate"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert not list((out / "g").glob("run-*.wav")), "the old model's pieces are not shown as this run's"
    [note] = [line for line in result.stderr.splitlines() if "other weights" in line]
    assert note.startswith("aea: g: 2 generated files left out") and "gen/000-random.wav" in note, note
    assert "2 generated files left out" in (out / "index.html").read_text()
    shutil.copy(run_with_prior[0] / "best.safetensors", run / "last.safetensors")  # the run's last made them
    args[args.index(str(out))] = str(tmp_path / "report2")
    out = tmp_path / "report2"
    kept = CliRunner().invoke(cli, args)
    assert kept.exit_code == 0 and "other weights" not in kept.stderr, kept.output
    assert len(list((out / "g").glob("run-*.wav"))) == 2  # pieces of any of the run's checkpoints are the run's


def resaved(checkpoint: Path, out: Path, **info_changes) -> Path:
    """`checkpoint` saved again at `out` with its info changed (None: the key removed)."""
    from autoenc_audio.checkpoints.checkpoint import load_checkpoint, save_checkpoint

    loaded = load_checkpoint(checkpoint)
    info = {k: v for k, v in {**loaded.info, **info_changes}.items() if v is not None}
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(out, loaded.model, loaded.config, labels=loaded.labels, info=info)


def report_page(run: Path, out: Path, cache: Path):
    result = CliRunner().invoke(
        cli, ["report", str(run), "-o", str(out), "--audio-format", "wav", "--cache-dir", str(cache), "--no-generate"]
    )
    assert result.exit_code == 0, result.output
    return result, (out / "index.html").read_text()


def shown_labels(folder: Path) -> list[str]:
    return sorted(path.name.split("-", 1)[1].split(".")[0] for path in folder.glob("*.input.wav"))


def test_a_checkpoint_shared_alone_shows_clips_of_the_data_it_was_trained_on(run_with_prior, tmp_path):
    """Without its run.json, the report took clips from the built-in corpus (labels arpeggio, bells, ...) while the
    page named the model's data; now they come from the folder the checkpoint records (labels high, low)."""
    run, cache = run_with_prior
    (tmp_path / "alone").mkdir()
    shutil.copy(run / "best.safetensors", tmp_path / "alone" / "best.safetensors")
    result, html = report_page(tmp_path / "alone", tmp_path / "report", cache)
    assert shown_labels(tmp_path / "report" / "alone") == ["high"]  # the songs' one test track
    assert re.search(r"<h3>high: high\.0000\d\.wav</h3>", html), "a track of the songs the model was trained on"
    assert "default / ae" in html and "8000 Hz" in html and "No held-out clip" not in html
    assert "no summary yet" not in html  # a finished run's checkpoint carries its summary


def test_a_checkpoint_whose_data_is_gone_shows_no_clips_and_says_why_and_what_model_it_is(run_with_prior, tmp_path):
    """A checkpoint saved mid-training (no summary in it) and shared alone, whose data is not on this machine: no
    other audio in its place, a note saying why, and the model's architecture and latent from the checkpoint."""
    run, cache = run_with_prior
    data = {**load_checkpoint(run / "best.safetensors").info["data"], "root": str(tmp_path / "gone")}
    resaved(run / "best.safetensors", tmp_path / "alone" / "best.safetensors", summary=None, test=None, data=data)
    result, html = report_page(tmp_path / "alone", tmp_path / "report", cache)
    assert shown_labels(tmp_path / "report" / "alone") == []
    [note] = [line for line in result.stderr.splitlines() if "held-out clips skipped" in line]
    assert f"the data this model was trained on, {tmp_path / 'gone'}, is not here" in note
    assert "No held-out clip to show (see the note above)" in html and "held-out clips skipped" in html
    assert "? / ?" not in html and "default / ae" in html and "512 = " in html  # its latent layout
    assert "no summary yet (a checkpoint on its own, without its run folder)" in html


def test_a_run_still_training_says_it_has_no_summary_yet_and_what_its_model_is(run_with_prior, tmp_path):
    run, cache = run_with_prior
    live = tmp_path / "live"
    live.mkdir()
    for name in ("run.json", "config.toml", "history.jsonl"):
        shutil.copy(run / name, live / name)
    resaved(run / "best.safetensors", live / "best.safetensors", summary=None, test=None)
    result, html = report_page(live, tmp_path / "report", cache)
    assert "no summary yet (training is in progress or was stopped)" in html and "? / ?" not in html
    assert "default / ae" in html and "8000 Hz" in html and "compression" in html
    assert shown_labels(tmp_path / "report" / "live") == ["high"]


def test_a_score_skipped_for_too_few_held_out_clips_gives_advice_report_can_take(run_with_prior, tmp_path, write_songs):
    """A report has no option for the number of clips: its note offered `clips=N`; now it says what helps (more test
    tracks) and which command scores on fewer."""
    run, cache = tmp_path / "g", run_with_prior[1]
    shutil.copytree(run_with_prior[0], run)
    longer = write_songs(tmp_path / "longer", seconds=51.0)  # one test track: 10 held-out clips of 5 s
    (run / "run.json").write_text(json.dumps({**json.loads((run / "run.json").read_text()), "data_root": str(longer)}))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["report", str(run), "-o", str(out), "--audio-format", "wav", "--cache-dir", str(cache)]
    )
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stderr.splitlines() if "score skipped" in line]
    assert "10 held-out clips of 5 s" in line and "16 are needed (more or longer test tracks" in line, line
    assert (
        "clips=N" not in line
        and "no option for fewer" in line
        and "--clips N scores generated pieces on 8 to 10" in line
    )


@pytest.mark.slow
def test_an_interrupted_report_rerun_leaves_no_earlier_page_over_new_files(run_with_prior, tmp_path, monkeypatch):
    """A rerun replaces clips and figures under their final names: interrupted, it left the earlier page showing
    the old run's facts over the new files. The earlier page now goes first."""
    from autoenc_audio.pages import report

    run, cache = run_with_prior
    report_page(run, tmp_path / "report", cache)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "run_section", interrupted)
    result = CliRunner().invoke(
        cli, ["report", str(run), "-o", str(tmp_path / "report"), "--cache-dir", str(cache), "--no-generate"]
    )
    assert result.exit_code == 130 and "aea: interrupted" in result.stderr
    assert not (tmp_path / "report" / "index.html").exists()
