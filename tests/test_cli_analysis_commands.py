"""`aea sweep` and `aea analyze` refuse impossible requests in one line with exit 2, before any training."""

from click.testing import CliRunner

from autoenc_audio.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_sweep_sizes_must_be_whole_numbers(tmp_path):
    result = run("sweep", "--latents", "512,big", "-o", tmp_path / "s", "--cache-dir", tmp_path)
    assert result.exit_code == 2 and "--latents must be comma-separated whole numbers, got '512,big'" in result.output
    assert not (tmp_path / "s" / "N512").exists()


def test_analyze_of_a_missing_model_is_one_line_with_exit_2(tmp_path):
    result = run("analyze", "--model", tmp_path / "none.safetensors", "-o", tmp_path / "a", "--cache-dir", tmp_path)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "none.safetensors" in result.output
