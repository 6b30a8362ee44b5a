"""`AeaGroup`, the one place errors become exit codes, and the option helpers every command shares."""

import io
import sys

import click
import pytest
from click.testing import CliRunner

from autoenc_audio.cli.common import AeaGroup, with_check
from autoenc_audio.cli.flags import in_flag_terms
from autoenc_audio.errors import InputError, SavedInterrupt


def group_raising(error: BaseException) -> click.Group:
    @click.group(cls=AeaGroup)
    @click.pass_context
    def tool(ctx):
        ctx.obj = {"debug": False}

    @tool.command()
    def fail():
        raise error

    return tool


@pytest.mark.parametrize(
    "error, code, message",
    [
        (InputError("song.wav: not audio\nmore detail"), 2, "aea: error: song.wav: not audio"),
        (
            InputError("hop_seconds must be positive, got 0", settings=("hop_seconds",)),
            2,
            "aea: error: --hop must be positive",
        ),
        (FileNotFoundError("missing.wav"), 2, "aea: error: missing.wav"),
        (RuntimeError("the disk is full"), 1, "aea: error: the disk is full"),
        (KeyboardInterrupt(), 130, "aea: interrupted"),
        (
            SavedInterrupt("interrupted: saved runs/a; continue with resume=True", settings=("resume=True",)),
            130,
            "aea: interrupted: saved runs/a; continue with --resume",
        ),
    ],
)
def test_errors_become_one_line_and_an_exit_code(error, code, message):
    result = CliRunner().invoke(group_raising(error), ["fail"])
    assert result.exit_code == code
    assert result.output.strip().splitlines() == [result.output.strip()] and result.output.startswith(message)


def test_a_usage_error_is_one_line_with_exit_2():
    result = CliRunner().invoke(group_raising(RuntimeError()), ["fail", "--nope"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and "--nope" in result.output


def test_with_check_refuses_options_that_contradict_before_the_command_runs():
    ran = []

    def check(options):
        if options["a"] and options["b"]:
            raise click.UsageError("give --a or --b, not both")

    @click.command()
    @click.option("--a", is_flag=True)
    @click.option("--b", is_flag=True)
    def command(a, b):
        ran.append((a, b))

    checked = click.command()(with_check(command.callback, check))
    checked.params = command.params
    assert CliRunner().invoke(checked, ["--a", "--b"]).exit_code == 2 and ran == []
    assert CliRunner().invoke(checked, ["--a"]).exit_code == 0 and ran == [(True, False)]


def test_the_model_comes_from_the_option_then_aea_model_then_the_latest_run_named_in_the_shell_s_words(
    tmp_path, monkeypatch
):
    from autoenc_audio.cli.common import chosen_model
    from autoenc_audio.runs.folder import NoModelError, RunFiles, record_latest_run

    runs = [tmp_path / name for name in ("given", "environment", "latest")]
    for run in runs:
        run.mkdir()
        RunFiles(run).best.write_bytes(b"x")
    cache = tmp_path / "cache"
    monkeypatch.setenv("AEA_MODEL", "")  # empty: unset
    with pytest.raises(NoModelError) as raised:
        chosen_model(None, cache)
    assert in_flag_terms(raised.value) == (
        "no checkpoint given: pass --model (a checkpoint or run folder) or AEA_MODEL, or train one with 'aea train'"
    )
    record_latest_run(cache, runs[2])
    assert chosen_model(None, cache)[1].startswith("latest training run")
    monkeypatch.setenv("AEA_MODEL", str(runs[1]))
    assert chosen_model(None, cache) == (RunFiles(runs[1]).best, "AEA_MODEL")
    assert chosen_model(runs[0], cache) == (RunFiles(runs[0]).best, "--model")


@pytest.mark.parametrize(
    "args",
    [
        ["export", "runs/a", "-o", "-"],
        ["explore", "runs/a", "-o", "-"],
        ["report", "runs/a", "-o", "-"],
        ["analyze", "--model", "runs/a", "-o", "-"],
        ["sweep", "--latents", "8", "-o", "-"],
        ["train", "--out", "-"],
        ["demo", "--out", "-"],
        ["synth", "-"],
    ],
)
def test_a_command_that_writes_a_folder_refuses_dash_for_it_before_any_work(args, tmp_path, monkeypatch):
    from autoenc_audio.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "'-' (standard output) takes one file" in result.output
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("columns", [80, 140])
def test_a_wide_table_on_an_80_column_terminal_keeps_every_header_whole(columns, monkeypatch, capsys):
    """`aea score`'s ten columns showed "cont…", "rhyt…" on 80 columns, and two kinds as "cont…"."""
    from autoenc_audio.cli import common

    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)
    headers = ("name", "kind", "clips", "c2st", "fd", "tonal", "continuity", "rhythm", "flatness", "copied")
    rows = [
        ("real floor (training clips)", "control", "32", "0.66", "96.1", "0.123", "0.45", "0.33", "0.012", "0.00"),
        ("runs/demo/gen/random", "generated", "32", "0.80", "85.3", "0.123", "0.45", "0.33", "0.012", "0.01"),
    ]
    common.print_table("aea score", rows, headers)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= columns
    words = {word for line in lines for word in line.replace("┃", " ").replace("│", " ").split()}
    assert set(headers) | {"control", "generated", "96.1"} <= words and not any("…" in line for line in lines)


def test_a_table_that_fits_by_wrapping_a_long_cell_keeps_its_borders(monkeypatch, capsys):
    """`aea info`'s rows of prose fit 100 columns by wrapping: only a table that cannot fit goes without borders."""
    from autoenc_audio.cli import common

    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)
    common.print_table("info", [("prior", "a prior of 2 epochs " * 8), ("latent", "18376")], ("what", "value"))
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 100 and sum("│" in line for line in lines) >= 3


@pytest.mark.parametrize(
    "args, what",
    [
        (["encode", "song.wav", "-o", "-"], "a latent file to stdout: pipe or redirect it, or give -o FILE.pt"),
        (["decode", "z.pt", "-o", "-"], "audio to stdout: pipe or redirect it, or give -o FILE.wav"),
        (["reconstruct", "song.wav", "-o", "-"], "audio to stdout: pipe or redirect it, or give -o FILE.wav"),
        (["generate", "--mode", "random", "-o", "-"], "audio to stdout: pipe or redirect it, or give -o FILE.wav"),
        (["plot", "waveform", "song.wav", "-o", "-"], "an image to stdout: pipe or redirect it, or give -o FILE.png"),
    ],
)
def test_binary_output_to_a_terminal_is_refused_before_any_work(args, what, tmp_path, monkeypatch):
    """`aea encode song.wav -o -` in a terminal dumped a zip file's bytes onto it, and exited 0."""
    from autoenc_audio.cli import cli, common

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)
    model = ["--model", "no-such-run"] if args[0] != "plot" else []  # refused before the model is looked for
    result = CliRunner().invoke(cli, [*args, *model], prog_name="aea", env={"AEA_MODEL": ""})
    command = "aea " + " ".join(args[: 2 if args[0] == "plot" else 1])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"{command}: error: -o - writes {what} (see '{command} --help')"]


class Terminal(io.StringIO):
    """Standard output that is a terminal, as rich sees it."""

    def isatty(self):
        return True


def test_no_color_draws_tables_without_any_escape_code(monkeypatch):
    """NO_COLOR=1 removed the colours only: titles were still italic and headers bold (`^[[3maea model^[[0m`)."""
    from autoenc_audio.cli import common

    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    drawn = {}
    for no_color in ("", "1"):
        monkeypatch.setenv("NO_COLOR", no_color)
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        common.print_table("aea model", [("latent", "512"), ("arch", "default")], ("what", "value"))
        drawn[no_color] = terminal.getvalue()
    assert "\x1b[" in drawn[""]  # a terminal, styled when NO_COLOR is not set
    assert "\x1b" not in drawn["1"] and "aea model" in drawn["1"] and "latent" in drawn["1"]


def test_a_json_line_writes_an_undefined_score_as_null(capsys):
    """`--json` lines wrote a NaN score as a bare `NaN`, which JSON.parse, Go and serde refuse."""
    import json
    from pathlib import Path

    import numpy as np

    from autoenc_audio.cli.common import print_json

    print_json({"silhouette": float("nan"), "scores": [np.float32("inf"), 0.5], "path": Path("a b")})
    line = capsys.readouterr().out

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    assert json.loads(line, parse_constant=refuse) == {"silhouette": None, "scores": [None, 0.5], "path": "a b"}
    assert line.count("\n") == 1  # one line per object, as JSON Lines readers take it


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_command_ends_on_sigterm_or_sighup_as_on_ctrl_c(name):
    """Python's default for SIGTERM and SIGHUP ended the process at once, leaving hidden temporary files (a decode's
    `.NAME.wav.XXXX.tmp`, explore's staging folder); as interrupts, every `finally` that removes them runs, and the
    command says one line. Outside a command the previous handler is back."""
    import os
    import signal

    from autoenc_audio.cli.common import terminations_as_interrupts

    number = getattr(signal, name)
    before = signal.getsignal(number)
    with pytest.raises(KeyboardInterrupt), terminations_as_interrupts():
        os.kill(os.getpid(), number)
    assert signal.getsignal(number) == before
