"""`aea explore` (autoenc_audio/explore/): what the site holds, written atomically, and its one-line refusals.

The page itself is tested in a real browser in test_explore_page.py. A tiny PCA-initialised model on the test songs:
every number here is computed twice in this process, so comparisons with torch are close, not stored values.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.explore import content, vendoring
from autoenc_audio.explore.payload import read_script, unpack

torch.set_num_threads(1)

pytestmark = pytest.mark.skipif(
    not (vendoring.VENDOR / vendoring.ORIGIN_NAME).is_file(),
    reason=f"the browser runtime is not vendored: {vendoring.GET_IT}",
)


@pytest.fixture(scope="module")
def made(tmp_path_factory, write_songs, make_checkpoint):
    """(songs, cache, checkpoint, site) with a site of 8 clips written by the command as a user runs it."""
    root = tmp_path_factory.mktemp("explore")
    songs = write_songs(root / "songs")
    checkpoint = make_checkpoint(songs, root / "cache", root / "model.safetensors")
    site = root / "site"
    result = explore(checkpoint, site, songs, root / "cache", "--clips", "8")
    assert result.exit_code == 0, result.output
    return songs, root / "cache", checkpoint, site, result.output


def explore(checkpoint, out, songs, cache, *extra):
    return CliRunner().invoke(
        cli, ["explore", str(checkpoint), "-o", str(out), "--data", str(songs), "--cache-dir", str(cache), *extra]
    )


def data(site, name):
    return read_script(site / "data" / f"{name}.js")[1]


def test_the_command_prints_the_page_and_its_size_and_the_manifest_lists_every_file(made):
    _, _, _, site, output = made
    assert output.startswith(f"wrote {site / 'index.html'} (8 clips") and "MB)" in output
    manifest = json.loads((site / "manifest.json").read_text())
    files = {p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*") if p.is_file()}
    del files["manifest.json"]
    assert manifest["files"] == files
    assert {"index.html", "explore.js", "runtime/ort.wasm.min.js", "data/decoder.js", "data/audio.js"} <= set(files)
    assert manifest["runtime"] == f"onnxruntime-web {vendoring.VERSION}"
    assert not [p for p in site.parent.iterdir() if p.name.startswith(".site.")], "no temporary folder left"


def test_clips_take_turns_over_labels_and_come_from_the_test_split_first(made):
    _, _, _, site, _ = made
    clips = data(site, "site")["clips"]
    assert len(clips) == 8
    assert [c["label"] for c in clips].count(0) == 4 and [c["label"] for c in clips].count(1) == 4
    for label in (0, 1):
        assert [c["split"] for c in clips if c["label"] == label][0] in ("test", "validation")


def test_each_track_gives_one_clip_before_any_gives_a_second(made, write_songs, tmp_path):
    """5 tracks a label of 4 clips each, 1 of them in the test split: the page takes the labels in turn, each
    label's test track first, and every track once before any track twice (the old choice took the test track's
    clips one after another)."""
    _, cache, checkpoint_path, _, _ = made
    checkpoint = load_checkpoint(checkpoint_path)
    prepared = content.prepare(checkpoint, write_songs(tmp_path / "songs", tracks=5, seconds=4.2), cache)
    tracks = {}  # (split, clip index) -> (track name, label)
    for split, dataset in prepared.splits.items():
        for index, (track, _) in enumerate(dataset.index.items):
            tracks[(split, index)] = (dataset.index.tracks[track].path.name, dataset.track_labels[track])
    assert {name for name, _ in tracks.values()} == {f"{a}.{n:05d}.wav" for a in ("low", "high") for n in range(5)}
    for count in (2, 4, 10, 13, 20, 40):
        chosen = content.choose_clips(prepared, count)
        assert len(chosen) == min(count, len(tracks)) and len(set(chosen)) == len(chosen)
        per_track = {name: 0 for name, _ in tracks.values()}
        for item in chosen:
            per_track[tracks[item][0]] += 1
        assert max(per_track.values()) - min(per_track.values()) <= 1, (count, per_track)
        labels = [tracks[item][1] for item in chosen]
        assert abs(labels.count(0) - labels.count(1)) <= 1 and labels == sorted(labels), (count, labels)
        for label in (0, 1):
            first = [item for item in chosen if tracks[item][1] == label][:5]
            assert first[0][0] == "test" and len({tracks[item][0] for item in first}) == len(first), (count, first)


def test_the_latents_are_the_models_and_float16_only_where_its_decoding_stays_within_1e_3(made):
    songs, cache, checkpoint_path, site, _ = made
    checkpoint = load_checkpoint(checkpoint_path)
    site_data = data(site, "site")
    prepared = content.prepare(checkpoint, songs, cache)
    clips = content.load_clips(prepared, content.choose_clips(prepared, 8), checkpoint.config.audio.sample_rate)
    assert clips.names == [c["name"] for c in site_data["clips"]]
    exact = content.encode(checkpoint, clips.audio, 16)
    stored = unpack(data(site, "latents")).astype(np.float32)
    record = site_data["latents"]
    assert stored.shape == exact.shape == (8, checkpoint.model.latent_size)
    assert record["dtype"] == "float16" and record["float16_relative_error"] <= 1e-3  # measured: 4.5e-4 on this model
    np.testing.assert_allclose(stored, exact, rtol=1e-3, atol=1e-3 * np.abs(exact).max())
    # the self-test's expected audio is torch's decoding of the stored latents, as the browser will decode them
    expected = unpack(data(site, "selftest")["audio"])
    decoded = content.decode(checkpoint, stored[: len(expected)], 16)
    np.testing.assert_allclose(expected, decoded, atol=1e-6 * np.abs(decoded).max())


def test_the_directions_are_orthonormal_and_the_map_is_the_latents_on_the_first_two(made):
    _, _, _, site, _ = made
    statistics = data(site, "statistics")
    directions = unpack(statistics["directions"]).astype(np.float64)
    assert 1 <= len(directions) <= 8 and len(statistics["direction_std"]) == len(directions)
    np.testing.assert_allclose(directions @ directions.T, np.eye(len(directions)), atol=1e-5)
    assert statistics["direction_std"] == sorted(statistics["direction_std"], reverse=True)
    latents, mean = unpack(data(site, "latents")).astype(np.float64), unpack(statistics["mean"])
    points = np.array([c["pca"] for c in data(site, "site")["clips"]])
    np.testing.assert_allclose(points, (latents - mean) @ directions[:2].T, rtol=1e-4, atol=1e-3)


def test_the_original_audio_is_ogg_vorbis_of_the_clip(made):
    import io

    import soundfile

    _, _, checkpoint_path, site, _ = made
    audio = data(site, "audio")
    assert len(audio) == 8
    first = unpack(audio[0])
    assert first[:4] == b"OggS"
    samples, rate = soundfile.read(io.BytesIO(first))
    config = load_checkpoint(checkpoint_path).config.audio
    assert rate == config.sample_rate and abs(len(samples) - config.clip_samples) <= 1


def test_a_run_without_a_prior_gets_a_page_that_says_how_to_train_one(made):
    _, _, _, site, output = made
    prior = data(site, "site")["prior"]
    assert prior["pieces"] == [] and data(site, "pieces") == []
    assert "aea train-prior" in prior["missing"] and "pieces from the prior" not in output


@pytest.fixture(scope="module")
def with_prior(tmp_path_factory, write_songs, make_run_with_prior):
    """(run, cache, site, output): a tiny trained run with a prior, its site of 4 clips and 3 pieces of 2.5 s."""
    root = tmp_path_factory.mktemp("explore-prior")
    songs = write_songs(root / "songs")
    run = make_run_with_prior(songs, root / "cache", root / "run")
    site = root / "site"
    result = explore(run, site, songs, root / "cache", "--clips", "4", "--pieces", "3", "--piece-seconds", "2.5")
    assert result.exit_code == 0, result.output
    return run, root / "cache", site, result.output


def test_a_run_with_a_prior_gets_its_pieces_as_aea_generate_makes_them_compressed(with_prior):
    """The pieces are `aea generate --mode random --method prior`'s with the seeds the page states: its audio,
    made again here (seeded, same process), matches the page's Ogg Vorbis as closely as the codec allows."""
    import io

    import soundfile

    from autoenc_audio.generation.requests import GenerateRequest, generate_pieces

    run, _, site, output = with_prior
    assert "3 pieces from the prior" in output
    prior = data(site, "site")["prior"]
    assert [piece["seed"] for piece in prior["pieces"]] == [0, 1, 2] and "missing" not in prior
    assert prior["command"].endswith("--mode random --method prior --seconds 2.5 --n 3 --seed 0")
    checkpoint = load_checkpoint(run / "best.safetensors")
    made = generate_pieces(checkpoint, GenerateRequest("random", "prior", 2.5, 3, seed=0)).pieces
    pieces = data(site, "pieces")
    assert len(pieces) == 3
    for piece, packed in zip(made, pieces, strict=True):
        ogg = unpack(packed)
        assert ogg[:4] == b"OggS"
        heard, rate = soundfile.read(io.BytesIO(ogg), dtype="float32")
        assert rate == checkpoint.config.audio.sample_rate and abs(len(heard) - 2.5 * rate) <= 1
        want = piece.samples[: len(heard)]
        assert np.corrcoef(heard[: len(want)], want)[0, 1] > 0.9  # Vorbis is lossy; another piece correlates ~0


def test_pieces_0_leaves_them_out_and_says_so(with_prior, tmp_path):
    run, cache, _, _ = with_prior
    songs = run.parent / "songs"
    result = explore(run, tmp_path / "site", songs, cache, "--clips", "2", "--pieces", "0")
    assert result.exit_code == 0, result.output
    prior = data(tmp_path / "site", "site")["prior"]
    assert prior["pieces"] == [] and "--pieces 0" in prior["missing"]
    refused = explore(run, tmp_path / "other", songs, cache, "--pieces", "-1")
    assert refused.exit_code == 2 and "pieces must be at least 0" in refused.output


def test_an_earlier_page_is_replaced_only_with_overwrite(made, tmp_path):
    songs, cache, checkpoint, _, _ = made
    out = tmp_path / "site"
    assert explore(checkpoint, out, songs, cache, "--clips", "2").exit_code == 0
    refused = explore(checkpoint, out, songs, cache, "--clips", "3")
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert "earlier explore page" in refused.output and "--overwrite" in refused.output
    replaced = explore(checkpoint, out, songs, cache, "--clips", "3", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert len(data(out, "site")["clips"]) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"], "no temporary or old folder left"
    (out / ".nojekyll").write_text("")  # a page the user publishes holds their files too: never swapped out
    kept = explore(checkpoint, out, songs, cache, "--clips", "2", "--overwrite")
    assert kept.exit_code == 2 and "not an explore page (.nojekyll)" in kept.output
    assert (out / ".nojekyll").exists() and len(data(out, "site")["clips"]) == 3


def test_a_folder_holding_anything_else_is_never_replaced_even_with_overwrite(made, tmp_path):
    songs, cache, checkpoint, _, _ = made
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    model = run / "best.safetensors"
    shutil.copy(checkpoint, model)
    (mine / ".git").mkdir()  # a published page's repository is the user's too
    for out, why in (
        (mine, "not an explore page (.git, notes.txt)"),
        (run, "holds the checkpoint"),
        (run.parent, "holds the checkpoint"),
    ):
        refused = explore(model, out, songs, cache, "--clips", "2", "--overwrite")
        assert refused.exit_code == 2 and refused.output.count("\n") == 1, refused.output
        assert why in refused.output
    assert (mine / "notes.txt").read_text() == "mine" and model.is_file(), "nothing was removed"


def test_a_missing_runtime_is_one_line_saying_how_to_get_it_exit_1(made, tmp_path, monkeypatch):
    songs, cache, checkpoint, _, _ = made
    monkeypatch.setattr(vendoring, "VENDOR", tmp_path / "vendor")
    result = explore(checkpoint, tmp_path / "site", songs, cache)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "make vendor" in result.output and not (tmp_path / "site").exists()


def test_bad_requests_are_usage_errors(made, tmp_path):
    songs, cache, checkpoint, _, _ = made
    result = explore(checkpoint, tmp_path / "site", songs, cache, "--clips", "0")
    assert result.exit_code == 2 and "clips must be at least 1" in result.output
    both = CliRunner().invoke(cli, ["explore", str(checkpoint), "--model", str(tmp_path), "-o", str(tmp_path / "s")])
    assert both.exit_code == 2 and "give the model once" in both.output


def test_piece_seconds_must_be_finite_and_long_enough_for_a_browser_to_play_one_line_naming_the_flag(made, tmp_path):
    """inf was refused as "seconds" (aea generate's setting) and 0.01 was written: a piece Chromium cannot decode."""
    songs, cache, checkpoint, _, _ = made
    for value in ("inf", "nan", "0", "-5", "0.01", "0.099"):
        refused = explore(checkpoint, tmp_path / "site", songs, cache, "--piece-seconds", value)
        assert refused.exit_code == 2 and refused.output.count("\n") == 1, (value, refused.output)
        assert "--piece-seconds must be a finite number of at least 0.1 (" in refused.output, refused.output
        assert refused.output.rstrip().endswith(f"got {float(value):g}") and not (tmp_path / "site").exists()


def test_the_help_ends_with_examples():
    help_text = CliRunner().invoke(cli, ["explore", "--help"]).output
    assert "Examples:" in help_text and "aea explore runs/gtzan-18376 -o site/" in help_text


def test_the_docs_name_every_file_the_folder_holds(made):
    """docs/explore.md's "What the folder holds" table lists each file `aea explore` writes (runtime/ORIGIN.json too)."""
    from pathlib import Path

    site = made[3]
    doc = (Path(__file__).resolve().parents[1] / "docs" / "explore.md").read_text()
    table = doc.split("## What the folder holds", 1)[1].split("\n\n", 2)[1]
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert "runtime/ORIGIN.json" in files
    assert [name for name in files if f"`{name}`" not in table] == []
