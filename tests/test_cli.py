"""The `aea` command as a user meets it: help, exit codes, JSON, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from autoenc_audio import __version__
from autoenc_audio.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "--bogus"], "aea train: error: No such option '--bogus'"),
        (["encode"], "aea encode: error: Missing argument 'INPUTS...'"),
        (["train", "--latent", "abc"], "aea train: error: Invalid value for '--latent'"),
        (["nope"], "aea: error: No such command 'nope'"),
        (
            ["generate", "-o", "x.wav"],
            "aea generate: error: Missing option '--mode'. Choose from: random, continue, average, interpolate",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args, expected):
    result = CliRunner().invoke(cli, args, prog_name="aea")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected) and "--help'" in lines[0], result.output


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_help_lists_every_command_and_each_help_ends_with_an_example():
    result = run("--help")
    assert result.exit_code == 0
    for name in cli.commands:
        assert name in result.output
    for path, _ in [((), cli), *_commands(cli)]:
        help_text = run(*path, "--help").output
        description = help_text.split("\nOptions:")[0].rstrip().splitlines()
        headings = [i for i, line in enumerate(description) if line.strip() in ("Example:", "Examples:")]
        assert headings, path
        examples = [line.strip() for line in description[headings[-1] + 1 :] if line.strip()]
        assert examples and all(line.startswith("aea ") or " aea " in line for line in examples), (path, examples)


@pytest.mark.slow
def test_version_and_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "autoenc_audio", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout


def test_synth_then_scan(tmp_path):
    assert run("synth", tmp_path / "c", "--tracks", 6, "--seconds", 2).exit_code == 0
    result = run("data", "scan", tmp_path / "c", "--json", "--clip-seconds", 1)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["tracks"] == 6 and len(summary["labels"]) == 6
    assert summary["clips"] == 12
    table = run("data", "scan", tmp_path / "c")
    assert "total" in table.output and "arpeggio" in table.output


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    result = run("data", "scan", tmp_path / "missing")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "missing: no such folder" in result.output and "Traceback" not in result.output
    (tmp_path / "empty").mkdir()
    assert run("data", "scan", tmp_path / "empty").exit_code == 2


@pytest.mark.slow
def test_usage_error_exit_2():
    assert run("train", "--arch", "transformer").exit_code == 2
    assert run("train", "--resume").exit_code == 2


def test_info_without_a_model_says_how_to_get_one(tmp_path):
    result = run("info", "--cache-dir", tmp_path, env={"AEA_MODEL": ""})
    assert result.exit_code == 2
    assert "aea train" in result.output


@pytest.mark.slow
def test_train_then_info(tmp_path, make_audio):
    for label in ("a", "b"):
        for number in range(3):
            make_audio(
                f"songs/{label}/{label}.{number}.wav",
                seconds=2.5,
                rate=16000,
                freq=200.0 + 300 * (label == "b") + 20 * number,
            )
    cache = tmp_path / "cache"
    result = run(
        "train",
        "--config",
        ROOT / "configs" / "tiny.toml",
        "--data",
        tmp_path / "songs",
        "--out",
        tmp_path / "run",
        "--epochs",
        1,
        "--latent",
        300,
        "--cache-dir",
        cache,
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["latent_size"] == 300
    assert "epoch   1" in result.output  # plain per-epoch line when not on a terminal
    info = run("info", "--cache-dir", cache, "--json", env={"AEA_MODEL": ""})
    assert info.exit_code == 0, info.output
    metadata = json.loads(info.output)
    assert metadata["latent"]["size"] == 300
    assert metadata["source"].startswith("latest training run")
    assert metadata["preprocessing"]["sample_rate"] == 8000
    table = run("info", tmp_path / "run")
    assert "latent" in table.output and "300" in table.output
    rows = dict(line.split("\t", 1) for line in table.output.splitlines() if "\t" in line)  # piped: tab-separated
    assert rows["parameters"].replace(",", "").isdigit() and rows["latent"].startswith("300 = ")
    # --resume continues on the run's own data, without --data; another --data is refused.
    resumed = run("train", "--resume", "--out", tmp_path / "run", "--epochs", 2, "--cache-dir", cache, "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.output.strip().splitlines()[-1])["data"]["root"] == str(tmp_path / "songs")
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == 2
    other = run("train", "--resume", "--out", tmp_path / "run", "--data", tmp_path, "--cache-dir", cache)
    assert other.exit_code == 2 and "was trained on" in other.output


@pytest.mark.slow
def test_debug_shows_traceback(tmp_path):
    plain = subprocess.run(
        [sys.executable, "-m", "autoenc_audio", "data", "scan", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    debug = subprocess.run(
        [sys.executable, "-m", "autoenc_audio", "--debug", "data", "scan", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr and "Traceback" in debug.stderr


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_command_as_sigpipe_would_with_no_message(make_audio, tmp_path):
    for number in range(3):
        make_audio(f"songs/a/{number}.wav", seconds=1.0)
    process = subprocess.Popen(
        [sys.executable, "-m", "autoenc_audio", "data", "scan", str(tmp_path / "songs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # like `| head -0`: nobody reads what the command prints
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""


@pytest.mark.slow
def test_impossible_latent_is_a_usage_error(tmp_path):
    result = run(
        "train",
        "--config",
        ROOT / "configs" / "tiny.toml",
        "--latent",
        9000,
        "--out",
        tmp_path / "r",
        "--cache-dir",
        tmp_path / "c",
        "--data",
        tmp_path,
    )
    assert result.exit_code == 2
    assert (
        "--latent must be between 5 and the clip length (8000 samples) for the default model on 1 s clips"
        in result.output
    )


LIGHT_PROBE = """
import sys
from click.testing import CliRunner
from autoenc_audio.cli import cli
for args in (line.split("\\t") for line in sys.stdin.read().splitlines()):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    if "torch" in sys.modules:
        print("torch imported by", " ".join(args))
        break
"""


@pytest.mark.slow
def test_light_commands_never_import_torch(tmp_path, make_audio):
    """Help, version, synth, data scan, info and plots of audio files start without torch (3-4 s on 2 cores)."""
    from autoenc_audio.checkpoints.checkpoint import save_checkpoint
    from autoenc_audio.config import load_config
    from autoenc_audio.models import build_model

    config = load_config(ROOT / "configs" / "tiny.toml")
    checkpoint = save_checkpoint(tmp_path / "model.safetensors", build_model(config.model, config.audio), config)
    song = make_audio("song.wav", seconds=2.0, rate=8000)
    commands = [
        ["--help"],
        ["--version"],
        *([name, "--help"] for name in cli.commands),
        *(["plot", name, "--help"] for name in cli.commands["plot"].commands),
        ["synth", str(tmp_path / "corpus"), "--tracks", "2", "--seconds", "1"],
        ["data", "scan", str(tmp_path / "corpus"), "--json"],
        ["info", str(checkpoint), "--json"],
        ["plot", "waveform", str(song), "-o", str(tmp_path / "w.png")],
        ["plot", "spectrogram", str(song), "-o", str(tmp_path / "s.png"), "--scale", "mel"],
    ]
    probe = subprocess.run(
        [sys.executable, "-c", LIGHT_PROBE],
        input="\n".join("\t".join(c) for c in commands),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout == "", probe.stdout
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "corpus").is_dir()
