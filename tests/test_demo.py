"""`aea demo` (what `make demo` runs), on the tiny preset: every file it promises, written and readable."""

import json

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

from autoenc_audio import metrics
from autoenc_audio.cli import cli
from autoenc_audio.explore import vendoring


@pytest.mark.slow
def test_demo_trains_then_writes_reconstruction_generations_and_figures(tmp_path, check_page):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["demo", "--config", "tiny", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    )
    assert result.exit_code == 0, result.output
    assert "demo: reconstruction of held-out" in result.stdout and "held-out mrstft" in result.stdout
    assert f"training default model, latent 512, for 2 epochs into {out}" in result.stderr  # the preset's budget

    original, rate = soundfile.read(out / "reconstruction.input.wav", dtype="float32")
    reconstruction, _ = soundfile.read(out / "reconstruction.wav", dtype="float32")
    assert rate == 8000 and original.shape == reconstruction.shape == (8000,)
    recorded = json.loads((out / "reconstruction.json").read_text())
    measured = float(metrics.snr_db(torch.from_numpy(original)[None], torch.from_numpy(reconstruction)[None]))
    assert abs(recorded["snr_db"] - measured) < 0.1  # the metrics describe the files written
    assert recorded["source"].endswith(".wav") and np.abs(reconstruction).max() > 0.01

    for name in ("random.wav", "continue.wav"):  # 20 s pieces from the prior trained after the model
        audio, _ = soundfile.read(out / name, dtype="float32")
        assert len(audio) == 20 * 8000 and np.isfinite(audio).all() and np.abs(audio).max() > 0.01
        sidecar = json.loads((out / name).with_suffix(".json").read_text())
        assert sidecar["method"] == "prior" and sidecar["prior_fingerprint"] and sidecar["mode"] == name[:-4]
    assert json.loads((out / "interpolation.json").read_text())["mode"] == "interpolate"
    assert [p.name for p in out.glob("average-*.wav")], "a piece in the style of one label"
    assert (out / "prior.safetensors").exists()
    assert "aea: score skipped:" in result.stderr and "16 are needed" in result.stderr  # 3 s tracks: no 5 s clips
    for figure in ("reconstruction.png", "history.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"best.safetensors", "last.safetensors", "history.jsonl", "summary.json"} <= {p.name for p in out.iterdir()}
    assert result.stdout.rstrip().endswith(f"page {out / 'index.html'}")
    page = check_page(out / "index.html")  # the demo's run page, in a real browser
    assert len(page.audio) == 2 + 4 and len(page.images) >= 2 + 4  # the held-out pair; random, continue, average, morph
    html = (out / "index.html").read_text()  # the rate and clip that make the latent size readable, as report's
    assert "8000 Hz" in html and "compression" in html
    if not (vendoring.VENDOR / vendoring.ORIGIN_NAME).is_file():  # a source tree without npm: said, and no page
        assert "aea: explore page skipped:" in result.stderr and not (out / "explore").exists()
        return
    assert result.stdout.rstrip().endswith(f"explore {out / 'explore' / 'index.html'}\npage {out / 'index.html'}")
    assert "explore/index.html" in page.links  # the explore page, linked from the run page
    manifest = json.loads((out / "explore" / "manifest.json").read_text())
    assert len(manifest["prior"]["pieces"]) == 2 and manifest["clips"]  # the demo's prior made its pieces


def test_without_the_browser_runtime_the_demo_skips_its_explore_page_in_one_line(
    tmp_path, write_songs, make_checkpoint, monkeypatch
):
    from autoenc_audio.checkpoints.checkpoint import load_checkpoint
    from autoenc_audio.demo import demo_explore

    songs = write_songs(tmp_path / "songs")
    checkpoint = load_checkpoint(make_checkpoint(songs, tmp_path / "cache", tmp_path / "run" / "best.safetensors"))
    monkeypatch.setattr(vendoring, "VENDOR", tmp_path / "no-vendor")
    page, note = demo_explore(checkpoint, tmp_path / "run", tmp_path / "cache", songs)
    assert page is None and not (tmp_path / "run" / "explore").exists()
    assert note.startswith("explore page skipped: ") and "\n" not in note and "make vendor" in note


def test_demo_keeps_a_run_already_in_its_folder_unless_told_to_overwrite(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.safetensors").write_bytes(b"someone's model")
    result = CliRunner().invoke(
        cli, ["demo", "--config", "tiny", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")]
    )
    assert (
        result.exit_code == 2
        and "already holds a run: give another --out, or replace it with --overwrite" in result.stderr
    )
    assert (tmp_path / "run" / "best.safetensors").read_bytes() == b"someone's model"
    assert not (tmp_path / "cache").exists()  # refused before any work
