"""Generation and the prior speak Python: their messages name arguments and values, never a flag (every package is
scanned by test_library_messages.py); the CLI names the flags that set what a message names."""

import json
import re

import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.generation.errors import RequestError
from autoenc_audio.generation.writing import page_path

FLAG = re.compile(r"(?<![\w-])--?[a-z]")  # --seconds, -o


@pytest.fixture(scope="module")
def model(tmp_path_factory, write_songs, make_checkpoint):
    root = tmp_path_factory.mktemp("messages")
    return make_checkpoint(write_songs(root / "songs"), root / "cache", root / "run" / "best.safetensors")


def aea(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"AEA_MODEL": ""})


def test_the_cli_names_the_flags_of_the_settings_a_message_names(model):
    with pytest.raises(RequestError) as raised:
        page_path("-")
    assert raised.value.settings == ("out", "html") and not FLAG.search(str(raised.value))
    page = aea("generate", "--model", model, "--mode", "random", "--method", "gaussian", "-o", "-", "--html")
    assert page.exit_code == 2 and page.stderr.count("\n") == 1
    assert page.stderr.startswith(f"aea: error: {raised.value} [-o, --html]"), page.stderr  # not spelt: appended
    (model.parent / "prior.safetensors").write_bytes(b"")
    again = aea("train-prior", "--model", model, "--epochs", "1", "--device", "cpu")
    assert again.exit_code == 2 and again.stderr.count("\n") == 1
    assert "a prior is already there; --resume continues it, --overwrite replaces it" in again.stderr  # spelt: named


def test_latent_files_of_another_model_are_warned_of_once_each_and_the_sidecar_says_so(
    model, tmp_path, write_songs, make_checkpoint
):
    """`aea generate --from z.pt` took latents encoded by another model silently (`aea decode z.pt` warns)."""
    songs = write_songs(tmp_path / "songs", labels=("x", "y"), tracks=2)
    other = make_checkpoint(songs, tmp_path / "cache", tmp_path / "other" / "best.safetensors")
    song = sorted((songs / "x").iterdir())[0]
    for name in ("z", "st"):
        assert aea("encode", "--model", other, song, "-o", tmp_path / f"{name}.pt").exit_code == 0
    sources = (tmp_path / "z.pt", tmp_path / "st.pt", tmp_path / "z.pt")
    for args in (
        ("interpolate", "--steps", 2, "--from", *sources[:2]),
        ("average", "--method", "mean", "--from", *sources),
    ):
        made = aea("generate", "--model", model, "--mode", *args, "-o", tmp_path / f"{args[0]}.wav")
        assert made.exit_code == 0, made.output
        warned = [line for line in made.stderr.splitlines() if "the sound will not match" in line]
        assert len(warned) == 2 and all(line.startswith("aea: warning: ") for line in warned), made.stderr
        assert "z.pt: latents were encoded by model" in warned[0] and "st.pt: latents were encoded" in warned[1]
        first = sorted(tmp_path.glob(f"{args[0]}*.json"))[0]
        assert len(json.loads(first.read_text())["warnings"]) == 2
