"""docs/python.md's examples run as written: every ```python block, in order, in one session, against a tiny run."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner
from doc_examples import python_blocks, run_blocks

from autoenc_audio.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "python.md"
SETTINGS = ('RUN = Path("runs/demo")', 'SONG = "song.wav"')  # what the page tells readers to change


def test_the_page_names_the_run_and_song_the_test_provides():
    blocks = python_blocks(PAGE)
    assert len(blocks) >= 7, "the page lost its examples (or this test's pattern no longer finds them)"
    assert all(setting in blocks[0] for setting in SETTINGS), f"the first example must set {SETTINGS}"


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory, write_songs):
    """A folder as a reader's would be after `make demo`: `runs/demo` (tiny model and prior) and `song.wav`."""
    import torch

    from autoenc_audio.checkpoints.checkpoint import load_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.prior.train import train_prior
    from autoenc_audio.training.loop import train

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("reader")
    # 5 tracks a label: 1 test track each, 42 s long, so R has the 16 five-second clips the score example needs.
    songs = write_songs(folder / "songs", tracks=5, seconds=42.0)
    cache = folder / "cache"
    config = load_config(ROOT / "configs" / "tiny.toml")
    run = folder / "runs" / "demo"
    train(config, run, cache, data_root=songs)
    checkpoint = load_checkpoint(run / "best.safetensors")
    train_prior(checkpoint, run, dataclasses.replace(config.prior, epochs=3, device="cpu"), cache)
    shutil.copy(songs / "low" / "low.00000.wav", folder / "song.wav")
    return folder


@pytest.mark.slow
def test_every_example_runs_in_order_and_writes_what_it_says(reader_folder, monkeypatch):
    """`aea.score`'s table must be what `aea score --json` prints for the same set (the command names it by its
    path, without the slash): exactly, since both run here on the same clips, features and seeded classifier."""
    monkeypatch.chdir(reader_folder)
    monkeypatch.setenv("AEA_CACHE", str(reader_folder / "cache"))
    session = run_blocks(PAGE, "docs_python")

    model = session["model"]
    assert session["z"].shape == (model.latent_size,) and session["audio"].shape == (model.clip_samples,)
    assert len(list(Path("gen").glob("*.wav"))) == 4 and len(list(Path("gen").glob("*.json"))) == 4
    assert [row["kind"] for row in session["table"]] == ["reference", "control", "control", "generated"]
    rate = session["config"].audio.sample_rate
    assert soundfile.info("decoded.wav").samplerate == rate
    assert soundfile.info("song-decoded.wav").duration == pytest.approx(soundfile.info("song.wav").duration, abs=0.01)
    assert set(session["metrics"]) >= {"snr_db", "mrstft", "mel_l1"}
    assert session["outcome"].notes == [], "the tiny run has a prior: generation must not fall back"
    generated = sorted(Path("generated").glob("*.wav"))
    assert len(generated) == 2 and all(path.with_suffix(".json").is_file() for path in generated)
    assert soundfile.info(generated[0]).duration == pytest.approx(10.0, abs=0.01)
    reference, floor, noise, scored = session["report"].rows
    assert [row.kind for row in (reference, floor, noise, scored)] == ["reference", "control", "control", "generated"]
    assert [row.clips for row in (reference, floor, noise, scored)] == [16] * 4 and scored.name == "to-score"
    assert floor.c2st < noise.c2st, "real clips must be harder to tell from real clips than shaped noise is"
    command = CliRunner().invoke(cli, ["score", "gen/", "--model", "runs/demo", "--clips", "16", "--json"])
    assert command.exit_code == 0, command.output
    printed = [json.loads(line) for line in command.stdout.splitlines()]
    assert [row.pop("name") for row in printed] == ["held-out real (R)", "real floor", "shaped noise", "gen"]
    assert [{key: value for key, value in row.items() if key != "name"} for row in session["table"]] == printed
