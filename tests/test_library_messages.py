"""The library speaks Python: its errors and warnings never name a command-line flag; the CLI adds the flags."""

import ast
import re
from pathlib import Path

import pytest

from autoenc_audio.cli.flags import FLAG_FOR_SETTING, in_flag_terms
from autoenc_audio.config import AudioConfig, ModelConfig
from autoenc_audio.errors import InputError, SavedInterrupt
from autoenc_audio.latents.inputs import whole_track_hop_samples
from autoenc_audio.quality.sweep import parse_latents

PACKAGE = Path(__file__).resolve().parents[1] / "autoenc_audio"
FLAG = re.compile(r"(?<![\w-])--[a-zA-Z]")
SPEAKERS = re.compile(r"(Error|Exception|Warning|Interrupt|Interrupted|^warn|^message)$")
"""Calls whose strings reach a user: exceptions built, `warnings.warn`, a reporter's `message`."""


def _called(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def flags_in_messages(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """`file:line: text` for each string naming a flag inside a `raise`, an exception built, or a warning."""
    found: dict[str, None] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            said = node.exc
        elif isinstance(node, ast.Call) and SPEAKERS.search(_called(node)):
            said = node
        else:
            continue
        for part in ast.walk(said):
            if isinstance(part, ast.Constant) and isinstance(part.value, str) and FLAG.search(part.value):
                found[f"{path.relative_to(root)}:{node.lineno}: {part.value!r}"] = None
    return list(found)


def test_no_library_error_or_warning_names_a_command_line_flag():
    library = [path for path in sorted(PACKAGE.rglob("*.py")) if path.relative_to(PACKAGE).parts[0] != "cli"]
    found = [hit for path in library for hit in flags_in_messages(path)]
    assert not found, "library messages naming a flag (name the parameter, the CLI adds the flag):\n" + "\n".join(found)


def test_the_scan_finds_a_flag_in_an_error_and_a_warning_but_not_in_other_strings(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'def check(n):\n    if n < 1:\n        raise ValueError(f"--steps must be at least 1, got {n}")\n'
        '    warnings.warn("use --naive")\n    return ["opusenc", "--quiet"]\n'
    )
    assert flags_in_messages(sample, tmp_path) == [
        "sample.py:3: '--steps must be at least 1, got '",
        "sample.py:4: 'use --naive'",
    ]


def test_a_library_error_names_the_parameter_and_the_value_and_the_cli_its_flag():
    from autoenc_audio.models import build_model

    with pytest.raises(InputError, match=r"^hop_seconds must be between .* got 9$") as hop:
        whole_track_hop_samples(110250, 22050, 9.0)
    with pytest.raises(InputError, match=r"^latents must be comma-separated whole numbers, got '512,big'$") as latents:
        parse_latents("512,big")
    with pytest.raises(
        InputError,
        match=r"^model\.latent must be between 5 and the clip length \(8000 samples\) for the default model on 1 s "
        r"clips, got 9000; longer clips \(clip_seconds\) or a higher sample_rate hold more$",
    ) as latent:
        build_model(ModelConfig(latent=9000), AudioConfig(sample_rate=8000, clip_seconds=1.0))
    assert in_flag_terms(hop.value).startswith("--hop must be between")
    assert in_flag_terms(latents.value) == "--latents must be comma-separated whole numbers, got '512,big'"
    said = "--latent must be between 5 and the clip length (8000 samples) for the default model on 1 s clips, got 9000"
    flags = {"clip_seconds": "--clip-seconds", "sample_rate": "--sample-rate"}  # train's, where it has them
    assert (
        in_flag_terms(latent.value, flags)
        == f"{said}; longer clips (--clip-seconds) or a higher --sample-rate hold more"
    )
    with pytest.raises(InputError, match=r"^model\.latent must be between 55 and .* got 10$") as small:  # said 1
        build_model(ModelConfig(latent=10), AudioConfig())
    assert in_flag_terms(small.value, flags).endswith("got 10")  # no longer-clips advice, nor its flags, for 10
    assert build_model(ModelConfig(arch="seed", latent=10), AudioConfig()).latent_size == 10  # the seed model takes it


@pytest.mark.parametrize(
    "error, shown",
    [
        (InputError("hop_seconds must be positive, got 0", settings=("hop_seconds",)), "--hop must be positive, got 0"),
        (
            InputError(
                "runs/a already holds a run: continue it with resume=True, or start it again with overwrite=True",
                settings=("resume=True", "overwrite=True"),
            ),
            "runs/a already holds a run: continue it with --resume, or start it again with --overwrite",
        ),
        (
            SavedInterrupt(
                "interrupted: saved runs/run_dir/last.safetensors; continue with resume=True and run_dir runs/run_dir",
                settings=("resume=True", "run_dir"),
            ),
            "interrupted: saved runs/run_dir/last.safetensors; continue with --resume and --out runs/run_dir",
        ),
        (
            InputError("out '-' (standard output) takes one output", settings=()),
            "out '-' (standard output) takes one output",
        ),
        (
            InputError("x.wav: 2 clips of 5 s; 32 are needed (or ask for fewer with clips=N)", settings=("clips=N",)),
            "x.wav: 2 clips of 5 s; 32 are needed (or ask for fewer with --clips N)",
        ),
        (ValueError("clips must be positive"), "clips must be positive"),
    ],
)
def test_the_cli_puts_each_listed_setting_s_flag_in_its_place_and_nothing_else(error, shown):
    assert in_flag_terms(error) == shown


def test_every_flag_the_cli_substitutes_is_a_flag_of_some_command():
    from autoenc_audio.cli import cli

    options = {
        option
        for command in _commands(cli)
        for parameter in command.params
        for option in getattr(parameter, "opts", [])
    }
    not_flags = {
        setting: flag
        for setting, flag in FLAG_FOR_SETTING.items()
        if flag.startswith("-") and flag.split()[0] not in options
    }
    assert not not_flags, f"settings mapped to flags no command has: {not_flags}"


def _commands(group):
    for command in group.commands.values():
        yield command
        if hasattr(command, "commands"):
            yield from _commands(command)


def test_a_setting_the_message_does_not_spell_is_appended_and_a_quoted_value_is_left_alone():
    from autoenc_audio.errors import InputError

    error = InputError("method 'mode' is not for mode 'interpolate'", settings=("method", "mode", "seconds"))
    options = {"method": "--method", "mode": "--mode", "seconds": "--seconds"}
    assert in_flag_terms(error, options) == "--method 'mode' is not for --mode 'interpolate' [--seconds]"
    assert (
        in_flag_terms(error) == "method 'mode' is not for mode 'interpolate'"
    )  # no command, no table entry: as raised
