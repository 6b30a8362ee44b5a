"""Generation and the prior speak Python: their messages name arguments and values, never a flag (every package is
scanned by test_library_messages.py); the CLI names the flags that set what a message names."""

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
