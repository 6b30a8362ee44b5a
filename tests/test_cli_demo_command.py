"""`aea demo` never replaces a run it did not make unless told to."""

from click.testing import CliRunner

from autoenc_audio.cli import cli


def test_demo_refuses_a_folder_that_holds_a_run(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.safetensors").write_bytes(b"a model")
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 2 and "already holds a run" in result.output and "--overwrite" in result.output
    assert (tmp_path / "run" / "best.safetensors").read_bytes() == b"a model"
