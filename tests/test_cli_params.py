"""The shared Click types (`cli/params.py`): every float flag refuses NaN and infinity, every `--seed` one range,
every path flag the empty string, each as one line naming the flag, exit 2, before any work."""

import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli

W = "song.wav"  # never read: the flag is refused first


@pytest.mark.parametrize(
    "args, said",
    [
        (["train", "--minutes", "nan"], "--minutes must be a finite number above 0, got nan"),
        (["train-prior", "--minutes", "nan"], "--minutes must be a finite number above 0, got nan"),
        (["demo", "--minutes", "nan"], "--minutes must be a finite number above 0, got nan"),
        (["sweep", "--latents", "8", "--minutes-per-model", "nan"], "--minutes-per-model must be a finite number"),
        (["train", "--lr", "inf"], "--lr must be a finite number above 0, got inf"),
        (["train", "--lr", "1e400"], "--lr must be a finite number above 0, got 1e400"),
        (["train", "--clip-seconds", "nan"], "--clip-seconds must be a finite number above 0, got nan"),
        (["train", "--clip-seconds", "inf"], "--clip-seconds must be a finite number above 0, got inf"),
        (["data", "scan", ".", "--clip-seconds", "nan"], "--clip-seconds must be a finite number above 0, got nan"),
        (["data", "scan", ".", "--hop-seconds", "inf"], "--hop-seconds must be a finite number above 0, got inf"),
        (["encode", W, "-o", "l.pt", "--whole", "--hop", "nan"], "--hop must be a finite number above 0, got nan"),
        (["reconstruct", W, "-o", "r.wav", "--offset", "nan"], "--offset must be a finite number, 0 or more, got nan"),
        (["plot", "waveform", W, "-o", "p.png", "--seconds", "inf"], "--seconds must be a finite number above 0"),
        (["plot", "compare", W, "-o", "p.png", "--offset", "nan"], "--offset must be a finite number, 0 or more"),
        (["generate", "--mode", "random", "-o", "x.wav", "--seconds", "nan"], "--seconds must be a finite number"),
        (["train", "--seed", "99999999999999999999999"], "--seed must be a whole number from 0 to 4294967295, got 9"),
        (["train", "--seed", "-1"], "--seed must be a whole number from 0 to 4294967295, got -1"),
        (["generate", "--mode", "random", "-o", "x.wav", "--seed", str(2**32)], "--seed must be a whole number"),
        (["analyze", "-o", "an", "--seed", str(2**64)], "--seed must be a whole number from 0 to 4294967295"),
        (["train", "--sample-rate", "0"], "--sample-rate must be a whole number from 1000 to 768000, got 0"),
        (
            ["train", "--sample-rate", "99999999999999999999"],
            "--sample-rate must be a whole number from 1000 to 768000",
        ),
        (["train", "--out", ""], "--out: empty path (an unset shell variable?)"),
        (["train", "--out", "runs/q", "--cache-dir", ""], "--cache-dir: empty path (an unset shell variable?)"),
        (["train", "--data", ""], "--data: empty path"),
        (["analyze", "-o", ""], "--out: empty path"),
        (["synth", ""], "OUT: empty path"),
        (["info", "--model", ""], "--model: empty path"),
    ],
)
def test_a_flag_no_command_can_use_is_one_line_naming_it_exit_2_before_any_work(args, said, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, prog_name="aea", env={"AEA_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 2, result.output
    assert said in result.output and result.output.count("\n") == 1, result.output
    assert list(tmp_path.iterdir()) == []  # no run, cache, folder or file made


def test_flags_in_range_still_parse_as_before():
    from autoenc_audio.cli.params import POSITIVE, SEED, FiniteFloat

    assert POSITIVE.convert("0.5", None, None) == 0.5 and FiniteFloat(min=0).convert("0", None, None) == 0.0
    assert SEED.convert("4294967295", None, None) == 2**32 - 1 and SEED.convert(0, None, None) == 0
