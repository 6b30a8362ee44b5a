"""`aea synth` and `aea data scan`: the corpus on disk and what a scan counts."""

import json

from click.testing import CliRunner

from autoenc_audio.cli import cli


def test_synth_writes_the_corpus_and_scan_counts_it_by_label(tmp_path):
    synth = CliRunner().invoke(cli, ["synth", str(tmp_path / "corpus"), "--tracks", "7", "--seconds", "2", "--json"])
    assert synth.exit_code == 0, synth.output
    assert len(list((tmp_path / "corpus").rglob("*.wav"))) == 7
    scan = CliRunner().invoke(cli, ["data", "scan", str(tmp_path / "corpus"), "--clip-seconds", "1", "--json"])
    assert scan.exit_code == 0, scan.output
    summary = json.loads(scan.output)
    assert summary["tracks"] == 7 and len(summary["labels"]) == 6
    assert summary["clips"] == 14 and abs(summary["seconds"] - 14.0) < 1e-6


def test_scan_of_a_missing_folder_is_one_line_with_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["data", "scan", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
