"""Every command that reads a model takes `--model RUN`, and uses it: each is run with it on a tiny trained run,
with no $AEA_MODEL and no latest run recorded, so a command that refused or ignored the flag would fail."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.runs.folder import LATEST_RUN_FILE

ROOT = Path(__file__).resolve().parents[1]

NOT_MODEL_READERS = {
    ("train",): "trains a model; --resume reads the run folder it writes (--out)",
    ("sweep",): "trains one model per latent size",
    ("demo",): "trains its own model",
    ("synth",): "writes the built-in corpus",
    ("data", "scan"): "reads a folder of songs",
    ("plot", "history"): "draws training curves from the runs' history.jsonl, loading no model",
}
"""Commands that read no model, and why: every other command must take --model."""


def model_readers(work: Path, songs: Path) -> dict[tuple[str, ...], list[str]]:
    """Each command that reads a model -> its arguments besides `--model RUN`, in an order that works (the
    prior before generate, encode before decode)."""
    song = str(songs / "low" / "low.00000.wav")
    return {
        ("train-prior",): ["--epochs", "1"],
        ("info",): ["--json"],
        ("encode",): [song, "-o", str(work / "z.npy")],
        ("decode",): [str(work / "z.npy"), "-o", str(work / "decoded.wav")],
        ("reconstruct",): [song, "-o", str(work / "reconstructed.wav")],
        ("generate",): ["--mode", "random", "--seconds", "2", "--seed", "1", "-o", str(work / "generated.wav")],
        ("score",): [str(songs), "--clips", "8"],
        ("export",): ["-o", str(work / "exported"), "--format", "torchscript", "--part", "decoder"],
        ("analyze",): ["--data", str(songs), "-o", str(work / "analysis"), "--max-clips", "40", "--no-tsne"],
        ("plot", "waveform"): [song, "-o", str(work / "waveform.png")],
        ("plot", "spectrogram"): [song, "-o", str(work / "spectrogram.png")],
        ("plot", "compare"): [song, "-o", str(work / "compare.png")],
        ("plot", "latents"): ["--data", str(songs), "-o", str(work / "latents.png"), "--max-clips", "20"],
        ("report",): ["-o", str(work / "report"), "--no-generate", "--audio-format", "wav"],
        ("explore",): ["-o", str(work / "site"), "--clips", "4"],
    }


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(leaf_commands(command, (*prefix, name)))
        else:
            found[(*prefix, name)] = command
    return found


def test_every_command_either_takes_model_or_is_known_to_read_none(tmp_path):
    """A new command must be added to one list or the other, so the test below runs it."""
    commands = leaf_commands(cli)
    readers = set(model_readers(tmp_path, tmp_path))
    assert set(commands) == readers | set(NOT_MODEL_READERS) and not readers & set(NOT_MODEL_READERS)
    without = [" ".join(path) for path in readers if not any("--model" in p.opts for p in commands[path].params)]
    assert without == [], f"these commands read a model but take no --model: {without}"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, write_songs):
    """A tiny model trained for one epoch on 10 tracks of 21 s (two held-out tracks give `aea score` its eight
    5 s clips). No latest run is recorded: only --model names it."""
    import torch

    from autoenc_audio.config import load_config
    from autoenc_audio.training.loop import train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("model-flag")
    songs = write_songs(root / "songs", tracks=5, seconds=21.0)
    cache = root / "cache"
    train(
        load_config(ROOT / "configs" / "tiny.toml").override(train={"epochs": 1}), root / "run", cache, data_root=songs
    )
    assert not (cache / LATEST_RUN_FILE).exists()  # the library's train records none; `aea train` would
    return {"run": root / "run", "songs": songs, "cache": cache}


@pytest.mark.slow
def test_every_command_that_reads_a_model_takes_model_run(tiny_run, tmp_path):
    from autoenc_audio.explore.vendoring import VendorError, runtime_files

    run = tiny_run["run"]
    readers = model_readers(tmp_path, tiny_run["songs"])
    try:
        runtime_files()
    except VendorError:  # without onnxruntime-web vendored, explore refuses before it reads the model
        del readers[("explore",)]
    for path, arguments in readers.items():
        command = [*path, *arguments, "--model", str(run), "--cache-dir", str(tiny_run["cache"])]
        result = CliRunner().invoke(cli, command, env={"AEA_MODEL": ""})
        assert result.exit_code == 0, f"aea {' '.join(command)}\n{result.output}"
    info = json.loads(CliRunner().invoke(cli, ["info", "--model", str(run), "--json"], env={"AEA_MODEL": ""}).stdout)
    assert info["path"] == str(run / "best.safetensors") and info["source"] == "--model"
    assert (run / "prior.safetensors").is_file() and (tmp_path / "exported" / "aea-export.json").is_file()
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "analysis" / "report.md").is_file()


def test_info_says_truthfully_where_its_model_came_from(tmp_path, write_songs, make_checkpoint):
    """`aea info RUN` (for scripts) and `aea info --model RUN` describe the same model; the first row names the
    source the user gave: the argument, --model, $AEA_MODEL or the latest run."""
    from autoenc_audio.runs.folder import record_latest_run

    checkpoint = make_checkpoint(
        write_songs(tmp_path / "songs"), tmp_path / "cache", tmp_path / "run" / "best.safetensors"
    )
    record_latest_run(tmp_path / "cache", tmp_path / "run")

    def info(*args: str | Path, model_variable: str = "") -> dict:
        command = ["info", *map(str, args), "--cache-dir", str(tmp_path / "cache"), "--json"]
        result = CliRunner().invoke(cli, command, env={"AEA_MODEL": model_variable})
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    sources = {
        "the argument": info(tmp_path / "run"),
        "--model": info("--model", tmp_path / "run"),
        "AEA_MODEL": info(model_variable=str(tmp_path / "run")),
        f"latest training run ({tmp_path / 'cache' / LATEST_RUN_FILE})": info(),
    }
    for source, described in sources.items():
        assert (described["source"], described["path"]) == (source, str(checkpoint))
        assert described["weights_fingerprint"] == sources["--model"]["weights_fingerprint"]
    table = CliRunner().invoke(cli, ["info", str(tmp_path / "run")], env={"AEA_MODEL": ""})
    assert f"checkpoint\t{checkpoint} (from the argument)\n" in table.stdout
    both = CliRunner().invoke(cli, ["info", str(tmp_path / "run"), "--model", str(tmp_path / "run")])
    assert both.exit_code == 2 and "give the model once" in both.output
