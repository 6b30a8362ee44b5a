"""`aea synth` and `aea data scan`: the corpus on disk and what a scan counts."""

import json

from click.testing import CliRunner
from conftest import unknown_length_flac

from autoenc_audio.cli import cli


def test_synth_writes_the_corpus_and_scan_counts_it_by_label(tmp_path):
    synth = CliRunner().invoke(cli, ["synth", str(tmp_path / "corpus"), "--tracks", "7", "--seconds", "2", "--json"])
    assert synth.exit_code == 0, synth.output
    files = sorted(str(p) for p in (tmp_path / "corpus").rglob("*.wav"))
    lines = [json.loads(line) for line in synth.stdout.splitlines()]  # JSON Lines: one per file written
    assert len(files) == 7 and sorted(line["path"] for line in lines) == files
    assert {line["label"] for line in lines} == {p.split("/")[-2] for p in files} and lines[0]["seconds"] == 2
    scan = CliRunner().invoke(cli, ["data", "scan", str(tmp_path / "corpus"), "--clip-seconds", "1", "--json"])
    assert scan.exit_code == 0, scan.output
    summary = json.loads(scan.output)
    assert summary["tracks"] == 7 and len(summary["labels"]) == 6
    assert summary["clips"] == 14 and abs(summary["seconds"] - 14.0) < 1e-6
    for flag in ("--clip-seconds", "--sample-rate"):  # 0 was taken as not given: the defaults' counts, exit 0
        zero = CliRunner().invoke(cli, ["data", "scan", str(tmp_path / "corpus"), flag, "0"])
        assert zero.exit_code == 2 and "must be" in zero.output, zero.output


def test_scan_of_a_missing_folder_is_one_line_with_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["data", "scan", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_synth_into_a_folder_of_other_audio_is_refused_and_the_same_corpus_again_is_not(tmp_path):
    corpus = tmp_path / "corpus"
    args = ["synth", str(corpus), "--seconds", "1"]
    assert CliRunner().invoke(cli, [*args, "--tracks", "8"]).exit_code == 0
    assert CliRunner().invoke(cli, [*args, "--tracks", "8"]).exit_code == 0  # the same files again, byte-identical
    fewer = CliRunner().invoke(cli, [*args, "--tracks", "6"])  # would leave 2 tracks of the larger corpus
    assert fewer.exit_code == 2 and len(fewer.output.strip().splitlines()) == 1
    assert f"{corpus}: holds a corpus of 8 tracks of 1 s, seed 0, not 6 tracks of 1 s" in fewer.output
    assert len(list(corpus.rglob("*.wav"))) == 8


def test_an_output_path_the_os_refuses_is_one_line_naming_it_with_exit_2(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    under_a_file = tmp_path / "afile" / "corpus"
    result = CliRunner().invoke(cli, ["synth", str(under_a_file), "--tracks", "1", "--seconds", "1"])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        f"aea: error: {tmp_path / 'afile'}: not a directory"  # the file in the way, not the folder it would hold
    ]
    track = tmp_path / "c" / "arpeggio" / "arpeggio.00000.wav"
    track.mkdir(parents=True)  # a folder where the file goes: the atomic write's own error, worded, keeps exit 2
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "c"), "--tracks", "1", "--seconds", "1"])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        f"aea: error: {track}: cannot write (Is a directory)"
    ]


def test_counts_of_one_are_singular_where_a_user_reads_them(tmp_path):
    """ "wrote 1 tracks", "(1 test tracks)", "reached the epoch limit (1 epochs)": one of a thing is said as one."""
    import numpy as np

    from autoenc_audio.config import TrainConfig
    from autoenc_audio.errors import counted
    from autoenc_audio.scoring.score_sets import RealData, ScoreError, _held_out_clips
    from autoenc_audio.training.run import describe_budget

    assert [counted(n, "piece") for n in (0, 1, 2)] == ["0 pieces", "1 piece", "2 pieces"]
    assert counted(1, "held-out clip") == "1 held-out clip" and counted(None, "track") == "None tracks"
    synth = CliRunner().invoke(cli, ["synth", str(tmp_path / "corpus"), "--tracks", "1", "--seconds", "1"])
    assert synth.exit_code == 0, synth.output
    assert synth.stdout.splitlines() == [f"wrote 1 track of 1 s to {tmp_path / 'corpus'}"]
    real = RealData(tmp_path, [np.zeros(22050 * 5 + 100, dtype=np.float32)], [], 22050)
    try:
        _held_out_clips(real, 16)
    except ScoreError as error:
        assert str(error).startswith(f"{tmp_path}: 1 held-out clip of 5 s (1 test track); 16 are needed")
    else:
        raise AssertionError("16 clips were scored from one")
    assert describe_budget(TrainConfig(epochs=1, minutes=1.0, steps=1)) == "1 epoch or 1 minute or 1 step"


def test_a_track_too_long_to_render_is_refused_up_front_in_one_line(tmp_path):
    """--seconds 100000 printed numpy's "Unable to allocate 32.9 GiB" (exit 1) after trying."""
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "corpus"), "--tracks", "1", "--seconds", "100000"])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        "aea: error: --seconds must be at most 600 (a track is rendered whole in memory: 600 s take about 2 GB), "
        "got 100000"
    ]
    assert not list(tmp_path.rglob("*.wav"))


def test_scan_counts_a_flac_without_a_length_in_its_header(tmp_path):
    """A FLAC written to a pipe (`ffmpeg ... -f flac -`) made `aea data scan` fail: "aea: error: MemoryError"."""
    unknown_length_flac(tmp_path / "songs" / "a" / "piped.flac", seconds=3.0, rate=44100)
    scan = CliRunner().invoke(cli, ["data", "scan", str(tmp_path / "songs"), "--clip-seconds", "1", "--json"])
    assert scan.exit_code == 0, scan.output
    summary = json.loads(scan.output)
    assert summary["tracks"] == 1 and summary["clips"] == 3 and summary["seconds"] == 3.0


def test_synth_over_a_corpus_of_other_settings_is_refused_unless_overwrite_replaces_it(tmp_path):
    """`aea synth corpus` over a smaller corpus of 3 s tracks replaced them with other, longer tracks, exit 0:
    runs trained on the folder then pointed at other audio."""
    import soundfile as sf

    corpus = tmp_path / "corpus"

    def synth(*flags):
        return CliRunner().invoke(cli, ["synth", str(corpus), *flags])

    assert synth("--tracks", "3", "--seconds", "1").exit_code == 0
    before = {p: p.read_bytes() for p in corpus.rglob("*.wav")}
    assert synth("--tracks", "3", "--seconds", "1").exit_code == 0  # the same settings again: the same corpus
    for flags in (["--tracks", "4", "--seconds", "1"], ["--tracks", "3", "--seconds", "2"], ["--seed", "1"]):
        refused = synth(*(["--tracks", "3", "--seconds", "1"] if flags == ["--seed", "1"] else []), *flags)
        assert refused.exit_code == 2 and "holds a corpus of 3 tracks of 1 s, seed 0" in refused.output, flags
        assert "--overwrite" in refused.output
        assert {p: p.read_bytes() for p in corpus.rglob("*.wav")} == before
    replaced = synth("--tracks", "2", "--seconds", "2", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert sorted(sf.info(str(p)).duration for p in corpus.rglob("*.wav")) == [2.0, 2.0]
    (corpus / "aea-synth.json").unlink()  # a corpus written before the manifest: its files' length tells
    older = synth("--tracks", "2", "--seconds", "1")
    assert older.exit_code == 2 and "holds a corpus of 2 s tracks" in older.output
