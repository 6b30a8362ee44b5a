"""A tiny sweep over two sizes: trains, evaluates, reports, resumes."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.quality.references import opus_available
from autoenc_audio.quality.sweep import ProposalRule, SweepError, parse_latents, propose

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, write_songs):
    root = tmp_path_factory.mktemp("sweep")
    songs = write_songs(root / "songs", tracks=2, seconds=2.2)
    args = [
        "sweep",
        "--latents",
        "512,256",
        "--data",
        str(songs),
        "--config",
        str(ROOT / "configs" / "tiny.toml"),
        "--epochs",
        "1",
        "-o",
        str(root / "sweep"),
        "--cache-dir",
        str(root / "cache"),
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return root, args, result


@pytest.mark.slow
def test_report_has_both_rows_a_chart_and_audio(swept):
    root, _, result = swept
    out = root / "sweep"
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert [m["latent"] for m in summary["models"]] == [512, 256]
    by_size = {m["latent"]: m for m in summary["models"]}
    expected = 256 if by_size[256]["mrstft"] <= summary["proposal"]["limit"] else 512
    assert summary["proposal"]["latent"] == expected
    assert summary["proposal"]["limit"] == pytest.approx(by_size[512]["mrstft"] * 1.10)
    report = (out / "report.md").read_text()
    assert "| 512 | 15.6 : 1 |" in report and "| 256 | 31.2 : 1 |" in report
    assert "Rule: smallest N whose mrstft" in report
    clips = json.loads((out / "sweep.json").read_text())["test_clips"]  # 2 songs: one held-out track's clips
    few = f"every size is scored on only {clips} test clip"
    assert clips < 10 and f"**Warning:** {few}" in report and f"warning: {few}" in result.output
    assert f"<strong>Warning:</strong> {few}" in (out / "index.html").read_text()
    assert (out / "quality_vs_latent.png").stat().st_size > 10_000
    assert (out / "spectrograms.png").stat().st_size > 10_000
    for name in ("original.wav", "N512.wav", "N256.wav"):
        assert (out / "audio" / name).stat().st_size > 1000
        assert f"audio/{name}" in report
    references = summary["references"]
    assert len(references["resample"]) == 2 and len(references["frame_pca"]) == 2
    if opus_available():  # 512 values x 16 bits a second is 8.2 kb/s; 256 would be 4.1, below what Opus takes
        assert [entry["latent"] for entry in references["opus"]] == [512]
        assert "| opus (8.19 kb/s) | 512 |" in report


@pytest.mark.slow
@pytest.mark.skipif(not opus_available(), reason="opus-tools is not installed")
def test_a_reference_left_out_at_a_size_is_named_with_why(swept):
    """Opus at N = 256 (4.1 kb/s, below what opusenc takes) had no row and no word in the report or the terminal."""
    root, _, result = swept
    why = "opus at N = 256: Opus at 4.1 kb/s (N = 256 x 16 bits per clip) is outside opusenc's 6-256 kb/s"
    assert f"Left out: {why}." in (root / "sweep" / "report.md").read_text()
    assert f"reference {why}".replace("opus at N", "opus left out at N") in result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert [(item["reference"], item["latent"]) for item in summary["references_left_out"]] == [("opus", 256)]
    assert "Left out: opus at N = 256" in (root / "sweep" / "index.html").read_text()


@pytest.mark.slow
def test_rerun_reuses_finished_models(swept):
    root, args, _ = swept
    before = {p: p.stat().st_mtime_ns for p in (root / "sweep").glob("N*/best.safetensors")}
    assert len(before) == 2
    result = CliRunner().invoke(cli, args[:-1])
    assert result.exit_code == 0, result.output
    assert "finished earlier" in result.output and "proposed N =" in result.output
    assert {p: p.stat().st_mtime_ns for p in before} == before


@pytest.mark.slow
def test_without_opus_the_sweep_says_so_in_one_line(swept, monkeypatch):
    root, args, _ = swept
    monkeypatch.setattr("autoenc_audio.quality.sweep.opus_available", lambda: False)
    result = CliRunner().invoke(cli, args[:-1])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "Opus" in line]
    assert len(lines) == 1 and "opus-tools" in lines[0]
    assert "| opus" not in (root / "sweep" / "report.md").read_text()


@pytest.mark.slow
def test_a_minutes_budget_sweep_reuses_its_models_on_a_rerun(tmp_path, write_songs):
    """A saved config without an epoch limit reads back without one: the same sweep again reuses its models."""
    songs = write_songs(tmp_path / "songs", tracks=2, seconds=2.2)
    args = [
        "sweep",
        "--latents",
        "256",
        "--data",
        str(songs),
        "--config",
        str(ROOT / "configs" / "tiny.toml"),
        "--minutes-per-model",
        "0.02",
        "-o",
        str(tmp_path / "sweep"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, [*args, "--device", "cpu"])  # where it runs does not make a model stale
    assert again.exit_code == 0, again.output
    assert "finished earlier" in again.output
    other_data = write_songs(tmp_path / "other", tracks=2, seconds=2.2)
    elsewhere = CliRunner().invoke(cli, [a if a != str(songs) else str(other_data) for a in args])
    assert elsewhere.exit_code == 2 and f"N256 was trained on {songs}, not {other_data}" in elsewhere.output


@pytest.mark.slow
def test_a_steps_budget_trains_every_size_for_exactly_that_many_steps(tmp_path, write_songs):
    """`--steps-per-model`: each size makes the same number of updates, and the report names the budget."""
    songs = write_songs(tmp_path / "songs", tracks=2, seconds=2.2)
    args = ["sweep", "--latents", "512,256", "--data", str(songs), "--config", str(ROOT / "configs" / "tiny.toml")]
    out = tmp_path / "sweep"
    result = CliRunner().invoke(cli, [*args, "--steps-per-model", "3", "-o", str(out), "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for size in (512, 256):
        assert json.loads((out / f"N{size}" / "summary.json").read_text())["steps"] == 3
    assert "budget per model: 3 steps" in (out / "report.md").read_text()
    assert json.loads((out / "sweep.json").read_text())["settings"]["steps_per_model"] == 3


@pytest.mark.slow
def test_rerun_with_other_settings_is_refused(swept):
    """A model trained with other settings is neither reused nor overwritten."""
    root, args, _ = swept
    changed = [*args[:-1], "--seed", "5"]
    before = {p: p.stat().st_mtime_ns for p in (root / "sweep").glob("N*/best.safetensors")}
    result = CliRunner().invoke(cli, changed)
    assert result.exit_code == 2
    assert "N512 was trained with other settings (train.seed)" in result.output
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_proposal_rule():
    rows = [
        {"latent": 4000, "mrstft": 1.0, "snr_db": 20.0},
        {"latent": 2000, "mrstft": 1.08, "snr_db": 19.5},
        {"latent": 1000, "mrstft": 1.3, "snr_db": 15.0},
    ]
    assert propose(rows, ProposalRule("mrstft", 0.10))["latent"] == 2000
    assert propose(rows, ProposalRule("snr_db", 0.1))["latent"] == 4000
    assert propose(rows, ProposalRule("snr_db", 6.0))["latent"] == 1000
    assert "at most 10 % above" in propose(rows, ProposalRule())["rule"]
    assert parse_latents("512, 256,512") == [512, 256]
    with pytest.raises(SweepError):
        parse_latents("512,abc")


def test_bad_sizes_exit_2(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "sweep",
            "--latents",
            "512,99999,4",
            "--config",
            str(ROOT / "configs" / "tiny.toml"),
            "-o",
            str(tmp_path / "s"),
            "--cache-dir",
            str(tmp_path),
        ],
    )
    said = "latent sizes must be between 5 and the clip length (8000 samples) for the default model on 1 s clips: [99999, 4]"
    assert result.exit_code == 2 and said in result.output, result.output  # 4 was found after training 512
    assert not (tmp_path / "s" / "N512").exists()


@pytest.mark.slow
def test_the_sweep_page_lets_you_listen_down_the_sizes_in_a_browser(swept, check_page):
    root, args, _ = swept
    out = root / "sweep"
    again = [a for a in args if a != "--json"] + ["--listen", "2", "--audio-format", "flac"]
    result = CliRunner().invoke(cli, again)  # reuses the models; the page is written again, for two clips
    assert result.exit_code == 0, result.output
    assert f"page: {out / 'index.html'}" in result.output
    report = check_page(out / "index.html")
    sources = [a["src"] for a in report.audio]
    assert sources == [
        "audio/original.flac",
        "audio/original-2.flac",
        "audio/N512.flac",
        "audio/N512-2.flac",
        "audio/N256.flac",
        "audio/N256-2.flac",
    ], "rows: the original, then each size from the largest"
    html = (out / "index.html").read_text()
    assert "Proposed latent size" in html and "quality_vs_latent.png" in html and "spectrograms-2.png" in html
    assert len(report.images) == 3  # the chart and a spectrogram grid per clip
    markdown = (out / "report.md").read_text()  # it linked the first clip only
    assert (
        "(audio/original-2.flac)" in markdown and "(audio/N256-2.flac)" in markdown and "spectrograms-2.png" in markdown
    )


@pytest.mark.slow
def test_an_undefined_score_is_null_in_sweep_json_and_the_json_line(swept, monkeypatch):
    """A NaN metric was written as a bare `NaN` in sweep.json and the `--json` line: JSON.parse, Go and serde
    refuse the whole file."""
    from autoenc_audio.quality import sweep

    real = sweep.score_models

    def with_an_undefined_score(*args, **kwargs):
        scores = real(*args, **kwargs)
        scores.rows[-1]["si_sdr_db"] = float("nan")
        return scores

    monkeypatch.setattr(sweep, "score_models", with_an_undefined_score)
    root, args, _ = swept
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    for text in ((root / "sweep" / "sweep.json").read_text(), result.output.strip().splitlines()[-1]):
        assert json.loads(text, parse_constant=refuse)["models"][-1]["si_sdr_db"] is None
