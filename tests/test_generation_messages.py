"""Generation and the prior speak Python: their messages name arguments and values, never a flag; the CLI adds
the flags that set what a message names."""

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.generation.errors import RequestError
from autoenc_audio.generation.writing import page_path

PACKAGE = Path(__file__).resolve().parents[1] / "autoenc_audio"
FLAG = re.compile(r"(?<![\w-])--?[a-z]")  # --seconds, -o


def strings_of(path: Path) -> list[str]:
    """Every string literal of a module (f-string parts too) but its docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.parametrize("package", ["generation", "prior"])
def test_no_message_of_generation_or_the_prior_names_a_flag(package):
    flags = [(path.name, text) for path in sorted((PACKAGE / package).glob("*.py")) for text in strings_of(path)
             if FLAG.search(text)]
    assert flags == [], flags


@pytest.fixture(scope="module")
def model(tmp_path_factory, write_songs, make_checkpoint):
    root = tmp_path_factory.mktemp("messages")
    return make_checkpoint(write_songs(root / "songs"), root / "cache", root / "run" / "best.safetensors")


def aea(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"AEA_MODEL": ""})


def test_the_cli_adds_the_flags_of_the_settings_a_message_names(model):
    with pytest.raises(RequestError) as raised:
        page_path("-")
    assert raised.value.settings == ("out", "html") and not FLAG.search(str(raised.value))
    page = aea("generate", "--model", model, "--mode", "random", "--method", "gaussian", "-o", "-", "--html")
    assert page.exit_code == 2 and page.stderr.count("\n") == 1
    assert page.stderr.startswith(f"aea: error: {raised.value} [--out, --html]"), page.stderr
    (model.parent / "prior.safetensors").write_bytes(b"")
    again = aea("train-prior", "--model", model, "--epochs", "1", "--device", "cpu")
    assert again.exit_code == 2 and again.stderr.count("\n") == 1
    assert "a prior is already there; resume continues it, overwrite replaces it [--resume, --overwrite]" in again.stderr
