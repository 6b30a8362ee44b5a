"""The prior: it learns (loss falls), resumes exactly, and generates pieces of exact length, repeatably."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

from autoenc_audio.audio import load_clip
from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.config import PriorConfig, load_config
from autoenc_audio.files import OutputError
from autoenc_audio.generation.piece import fit_peak
from autoenc_audio.generation.prior_methods import draw_style, style_mask
from autoenc_audio.generation.requests import GenerateRequest, generate_pieces
from autoenc_audio.generation.walk import WalkRequest, walk
from autoenc_audio.latents.batches import reconstruct_clips
from autoenc_audio.latents.failures import LatentError
from autoenc_audio.prior.header import PriorError, prior_path
from autoenc_audio.prior.memory import EDGE_FRAMES
from autoenc_audio.prior.store import load_prior
from autoenc_audio.prior.train import train_prior
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
PEAK = PriorConfig().peak
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny model trained on the tiny built-in corpus, and a prior of it trained for 8 epochs."""
    root = tmp_path_factory.mktemp("prior")
    config = load_config(ROOT / "configs" / "tiny.toml")
    train(config, root / "run", root / "cache")
    checkpoint = load_checkpoint(root / "run" / "best.safetensors")
    prior_config = dataclasses.replace(config.prior, epochs=8, device="cpu")
    train_prior(checkpoint, root / "run", prior_config, root / "cache")
    return {
        "root": root,
        "dir": root / "run",
        "checkpoint": checkpoint,
        "config": prior_config,
        "cache": root / "cache",
    }


@pytest.mark.slow
def test_the_prior_learns_its_loss_falls(run):
    history = load_prior(prior_path(run["dir"])).history
    assert len(history) == 8
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.1, history


@pytest.mark.slow
def test_resume_is_exact(run, tmp_path):
    """3 epochs, then --resume to 8, give the same weights as 8 epochs straight. Exact on one machine: the same data,
    seeds, batches and kernels; the state restores every RNG."""
    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)
    prior_path(copy).unlink()
    first = dataclasses.replace(run["config"], epochs=3)
    train_prior(run["checkpoint"], copy, first, run["cache"])
    assert load_prior(prior_path(copy)).epoch == 3
    resumed = train_prior(run["checkpoint"], copy, run["config"], run["cache"], resume=True)
    straight = load_prior(prior_path(run["dir"]))
    assert resumed.epoch == 8 and resumed.step == straight.step
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [r["train_loss"] for r in resumed.history] == pytest.approx([r["train_loss"] for r in straight.history])


@pytest.mark.slow
@pytest.mark.parametrize("failing", [1, 2], ids=["state", "prior"])
def test_a_full_disk_keeps_the_prior_and_its_state_and_resume_still_works(
    run, tmp_path, monkeypatch, full_disk_at_write, failing
):
    """The state goes first (as pending), then the prior: either may meet the full disk. Exact, as resume is, on one
    machine."""
    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)
    prior_path(copy).unlink()
    train_prior(run["checkpoint"], copy, dataclasses.replace(run["config"], epochs=3), run["cache"])
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    full_disk_at_write(failing)
    with pytest.raises(OutputError, match=r"prior.(state.pt.pending|safetensors): cannot write \(no space left"):
        train_prior(run["checkpoint"], copy, run["config"], run["cache"], resume=True)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before  # nothing pending, temporary or locked
    resumed = train_prior(run["checkpoint"], copy, run["config"], run["cache"], resume=True)
    straight = load_prior(prior_path(run["dir"]))
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def _overfitting_prior(run, tmp_path, **changes):
    """A copy of the run whose prior trains with a high learning rate on a tiny memory: it over-fits fast."""
    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)
    prior_path(copy).unlink()
    config = dataclasses.replace(run["config"], memory_clips=24, hidden=64, lr=0.03, batch_size=2, **changes)
    return copy, config


@pytest.mark.slow
def test_the_prior_keeps_its_best_validation_state_and_says_why_it_stopped(run, tmp_path):
    copy, config = _overfitting_prior(run, tmp_path, epochs=14, patience=0)
    prior = train_prior(run["checkpoint"], copy, config, run["cache"])
    losses = [record["val_loss"] for record in prior.history]
    assert all(np.isfinite(losses)), losses
    best_epoch = int(np.argmin(losses)) + 1
    assert best_epoch < len(losses), f"the tiny memory did not over-fit: {losses}"
    saved = load_prior(prior_path(copy))
    assert saved.kept["epoch"] == best_epoch and saved.kept["val_loss"] == pytest.approx(min(losses))
    assert "epoch limit" in saved.kept["stopped"]
    # the file's model is the best epoch's: its validation loss is the best one, not the last
    from autoenc_audio.prior.train import memory_features

    features = memory_features(saved.features, saved.memory)[9::10]
    with torch.no_grad():
        assert float(saved.model.loss(features)) == pytest.approx(min(losses), rel=1e-5)


@pytest.mark.slow
def test_the_prior_stops_early_when_validation_stops_improving(run, tmp_path):
    copy, config = _overfitting_prior(run, tmp_path, epochs=200, patience=3)
    prior = train_prior(run["checkpoint"], copy, config, run["cache"])
    assert prior.epoch == prior.kept["epoch"] + 3 < 200
    assert "has not improved for 3 epochs" in prior.kept["stopped"]


@pytest.mark.slow
def test_resume_after_an_interruption_keeps_the_same_best_state(run, tmp_path):
    """Exact on one machine: the same data, seeds, batches and kernels; the state restores every RNG."""
    copy, config = _overfitting_prior(run, tmp_path, epochs=10, patience=0)
    straight = train_prior(run["checkpoint"], copy, config, run["cache"])
    again = tmp_path / "again"
    shutil.copytree(copy, again)
    prior_path(again).unlink()
    train_prior(run["checkpoint"], again, dataclasses.replace(config, epochs=4), run["cache"])
    resumed = train_prior(run["checkpoint"], again, config, run["cache"], resume=True)
    assert resumed.kept["epoch"] == straight.kept["epoch"]
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


@pytest.mark.slow
def test_resume_takes_a_new_patience_and_the_cli_keeps_the_old_one_unless_told(run, tmp_path):
    copy, config = _overfitting_prior(run, tmp_path, epochs=2, patience=7)
    train_prior(run["checkpoint"], copy, config, run["cache"])
    resumed = train_prior(
        run["checkpoint"], copy, dataclasses.replace(config, epochs=3, patience=2), run["cache"], resume=True
    )
    assert load_prior(prior_path(copy)).config.patience == resumed.config.patience == 2
    result = aea(
        "train-prior", "--model", copy, "--epochs", "4", "--resume", "--device", "cpu", "--cache-dir", run["cache"]
    )
    assert result.exit_code == 0, result.output
    assert load_prior(prior_path(copy)).config.patience == 2


@pytest.mark.slow
def test_a_second_prior_needs_overwrite_or_resume(run):
    with pytest.raises(PriorError, match="already there"):
        train_prior(run["checkpoint"], run["dir"], run["config"], run["cache"])


@pytest.mark.slow
def test_the_walk_plays_memory_frames_and_never_stays_in_one_track(run):
    prior = load_prior(prior_path(run["dir"]))
    result = walk(prior, WalkRequest(frames=300, seed=3))
    assert result.frames.shape == (prior.memory.frames.shape[1], 300)
    assert len(result.jumps) >= 300 / round(prior.config.max_run_seconds * 8000 / 128) - 1  # runs are capped
    moves = [(a["track"], b["track"]) for a, b in zip(result.jumps, result.jumps[1:]) if not b["repeat"]]
    assert moves and all(a != b for a, b in moves), "a jump (other than a repeat) went to the track it left"
    assert any(jump["repeat"] for jump in result.jumps), "runs are replayed"
    playable = prior.memory.frames[:, :, EDGE_FRAMES:-EDGE_FRAMES].permute(0, 2, 1).reshape(-1, result.frames.shape[0])
    real = [bool((playable == frame).all(dim=1).any()) for frame in result.frames.T]
    assert sum(real) > 0.5 * len(real), "the walk should play memory frames (all but the crossfades)"


@pytest.mark.slow
def test_the_walk_survives_a_jump_at_every_frame_and_a_damaged_prior_is_one_error(run, tmp_path):
    from safetensors.torch import save_file

    prior = load_prior(prior_path(run["dir"]))
    prior.config = dataclasses.replace(prior.config, jump_probability=1.0, repeat_probability=0.0)
    for seed in range(5):
        assert walk(prior, WalkRequest(frames=120, seed=seed)).frames.shape[1] == 120
    damaged = tmp_path / "prior.safetensors"
    save_file({"x": torch.zeros(1)}, damaged, metadata={"format": "aea-prior", "format_version": "1"})
    with pytest.raises(PriorError, match="incomplete or damaged prior"):
        load_prior(damaged)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["prior", "gaussian"])
def test_seconds_give_exact_lengths_and_a_seed_gives_the_same_audio(run, method):
    """Exact: one process, one seed, the same prior, model and kernels."""
    request = GenerateRequest("random", method, seconds=3.3, n=2, seed=5)
    first = generate_pieces(run["checkpoint"], request).pieces
    again = generate_pieces(run["checkpoint"], request).pieces
    assert [len(piece.samples) for piece in first] == [round(3.3 * 8000)] * 2
    assert np.array_equal(first[0].samples, again[0].samples) and np.array_equal(first[1].samples, again[1].samples)
    assert not np.array_equal(first[0].samples, first[1].samples)
    other = generate_pieces(run["checkpoint"], dataclasses.replace(request, seed=6)).pieces[0]
    assert not np.array_equal(other.samples, first[0].samples)


@pytest.mark.slow
def test_a_continuation_starts_with_the_reconstruction_of_the_opening(run, tmp_path):
    song = tmp_path / "song.wav"
    t = np.arange(3 * 8000) / 8000
    soundfile.write(
        song, (0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2).astype("float32"), 8000
    )
    checkpoint = run["checkpoint"]
    piece = generate_pieces(checkpoint, GenerateRequest("continue", seconds=4.0, seed=1, sources=(str(song),))).pieces[
        0
    ]
    assert len(piece.samples) == 4 * 8000 and piece.metadata["mode"] == "continue"
    clip = load_clip(song, checkpoint.config.audio, 0.0, np.random.default_rng(0))
    reconstruction = reconstruct_clips(checkpoint.model, torch.from_numpy(clip.samples).view(1, 1, -1))[0, 0].numpy()
    exact = 3 * checkpoint.model.clip_samples // 4 - checkpoint.model.frame_hop  # before the first window's fade
    assert np.allclose(piece.samples[:exact], reconstruction[:exact], atol=1e-5)
    assert np.abs(piece.samples[checkpoint.model.clip_samples :]).max() > 1e-3, "nothing after the opening"


@pytest.mark.slow
def test_a_shorter_opening_is_continued_and_a_longer_one_refused(run, tmp_path):
    song = tmp_path / "song.wav"
    soundfile.write(song, (0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * 8000) / 8000)).astype("float32"), 8000)
    request = GenerateRequest("continue", seconds=3.0, seed=1, sources=(str(song),), prime_seconds=0.5)
    piece = generate_pieces(run["checkpoint"], request).pieces[0]
    assert len(piece.samples) == 3 * 8000 and piece.metadata["prime_seconds"] == 0.5
    assert np.abs(piece.samples[:4000]).max() > 0.05, "the opening is there"
    with pytest.raises(LatentError, match="at most one clip"):
        generate_pieces(run["checkpoint"], dataclasses.replace(request, prime_seconds=2.0))


@pytest.mark.slow
def test_style_pieces_play_only_the_label_or_the_nearest_clips(run):
    prior = load_prior(prior_path(run["dir"]))
    label = prior.memory.label_names[0]
    piece = generate_pieces(run["checkpoint"], GenerateRequest("average", seconds=2.0, seed=1, label=label)).pieces[0]
    assert piece.metadata["label"] == label and piece.metadata["style_clips"] == int((prior.memory.labels == 0).sum())
    with pytest.raises(LatentError, match="no label 'nope'"):
        generate_pieces(run["checkpoint"], GenerateRequest("average", seconds=2.0, seed=1, label="nope"))


@pytest.mark.slow
def test_each_source_of_an_average_brings_its_own_nearest_clips(run):
    prior = load_prior(prior_path(run["dir"]))
    memory = prior.memory
    first, other = 0, int((memory.labels != memory.labels[0]).nonzero()[0, 0])
    alone = [style_mask(prior, memory.frames[[clip]]) for clip in (first, other)]
    assert (
        int(alone[0].sum())
        == int(alone[1].sum())
        == max(prior.config.style_min_clips, round(prior.config.style_share * memory.clips))
    )
    assert bool(alone[0][first]) and bool(alone[1][other]), "a source's own clip is nearest to it"
    assert torch.equal(style_mask(prior, memory.frames[[first, other]]), alone[0] | alone[1])


@pytest.mark.slow
def test_a_random_piece_keeps_to_one_label_drawn_by_its_share(run):
    prior = load_prior(prior_path(run["dir"]))
    memory = prior.memory
    memory.tracks = torch.arange(memory.clips)  # every label spans many tracks here
    memory.labels = (torch.arange(memory.clips) >= 3 * memory.clips // 4).long()  # shares 3/4 and 1/4, not equal
    names, labels = memory.label_names, memory.labels
    drawn = [draw_style(prior, seed)[1]["label"] for seed in range(200)]
    for number, share in enumerate((0.75, 0.25)):
        count = drawn.count(names[number])
        assert abs(count / 200 - share) < 0.1, f"{names[number]} drawn {count} times of 200, its share {share}"
    allowed, facts = draw_style(prior, 7)
    assert facts["style_clips"] == int(allowed.sum()) == int((labels == names.index(facts["label"])).sum())
    result = walk(prior, WalkRequest(frames=300, seed=7, allowed=allowed))
    assert result.jumps and all(bool(allowed[jump["clip"]]) for jump in result.jumps), "the walk left the label"
    pieces = generate_pieces(run["checkpoint"], GenerateRequest("random", seconds=2.0, seed=7), prior=prior).pieces
    assert pieces[0].metadata["label"] == facts["label"]
    prior.config = dataclasses.replace(prior.config, piece_style="any")
    assert draw_style(prior, 7) == (None, {"style": "whole memory"})


@pytest.mark.slow
def test_a_label_of_too_few_tracks_plays_the_whole_memory(run):
    prior = load_prior(prior_path(run["dir"]))
    memory = prior.memory
    small = int(memory.labels[0])
    memory.tracks = torch.where(memory.labels == small, 0, torch.arange(memory.clips) + 1)  # `small`: one track
    styles = [draw_style(prior, seed)[1] for seed in range(100)]
    assert prior.config.style_tracks > 1 and all(style.get("label") != memory.label_names[small] for style in styles)
    assert {"style": "whole memory"} in styles, "the small label was drawn, and its pieces play every clip"


def aea(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"AEA_MODEL": ""})


@pytest.mark.slow
def test_cli_generates_with_a_sidecar_and_info_shows_the_prior(run, tmp_path):
    result = aea(
        "generate",
        "--model",
        run["dir"],
        "--mode",
        "random",
        "--seconds",
        "2.5",
        "--seed",
        "1",
        "-o",
        tmp_path / "r.wav",
        "--json",
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["method"] == "prior" and record["seed"] == 1 and record["prior_fingerprint"]
    assert json.loads((tmp_path / "r.json").read_text())["prior_fingerprint"] == record["prior_fingerprint"]
    assert soundfile.info(tmp_path / "r.wav").frames == 20000
    info = aea("info", run["dir"] / "best.safetensors")
    assert "prior" in info.stdout and "8 epochs" in info.stdout
    kept = load_prior(prior_path(run["dir"])).kept
    assert f"keeps epoch {kept['epoch']}" in info.stdout


@pytest.mark.slow
def test_info_shows_why_the_prior_stopped_in_its_table(run):
    """docs/generation.md: the prior file records why training stopped and `aea info` shows it (not only --json)."""
    stopped = load_prior(prior_path(run["dir"])).kept["stopped"]
    assert stopped == "reached the epoch limit (8 epochs)"
    info = aea("info", run["dir"])
    assert info.exit_code == 0, info.output
    assert f"prior stopped\t{stopped}" in info.stdout.splitlines()
    assert "8 epochs" in info.stdout


@pytest.mark.slow
def test_info_of_a_prior_file_says_to_give_its_run_folder(run):
    path = prior_path(run["dir"])
    result = aea("info", path)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"aea: error: {path}: is a run's prior (from 'aea train-prior'), not a model checkpoint; give its run folder "
        f"instead ('aea info {run['dir']}' describes the model and lists this prior)"
    ]


@pytest.mark.slow
def test_cli_train_prior_says_which_epoch_it_kept_and_why_it_stopped(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)
    result = aea(
        "train-prior",
        "--model",
        copy,
        "--epochs",
        "3",
        "--patience",
        "1",
        "--overwrite",
        "--device",
        "cpu",
        "--cache-dir",
        run["cache"],
        "--json",
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["kept_epoch"] in (1, 2, 3) and record["stopped"]
    assert f"kept epoch {record['kept_epoch']} of {record['epochs']}" in result.stderr


@pytest.mark.slow
def test_cli_errors_are_one_line_with_exit_2(run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run["dir"], other)
    config = load_config(ROOT / "configs" / "tiny.toml").override(train={"seed": 9, "epochs": 1})
    train(config, tmp_path / "other-run", run["cache"])
    shutil.copy(prior_path(run["dir"]), tmp_path / "other-run" / "prior.safetensors")
    cases = [
        (
            ["generate", "--model", tmp_path / "other-run", "--mode", "random", "-o", tmp_path / "x.wav"],
            "a prior of another model",
        ),
        (["generate", "--model", run["dir"], "--mode", "continue", "-o", tmp_path / "x.wav"], "needs --from SONG"),
        (
            ["generate", "--model", run["dir"], "--mode", "random", "--seconds", "0", "-o", tmp_path / "x.wav"],
            "--seconds",
        ),
        (
            [
                "generate",
                "--model",
                run["dir"],
                "--mode",
                "interpolate",
                "--method",
                "prior",
                "--from",
                "a",
                "b",
                "-o",
                "x.wav",
            ],
            "--method 'prior' is not for --mode 'interpolate'; use 'linear' or 'slerp'",
        ),
    ]
    for args, message in cases:
        result = aea(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.slow
def test_without_a_prior_random_falls_back_to_the_gaussian_and_says_so(run, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run["dir"] / "best.safetensors", bare / "best.safetensors")
    result = aea("generate", "--model", bare, "--mode", "random", "-o", tmp_path / "g.wav", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("\n") == 1 and "no prior for this model: using method 'gaussian'" in result.stderr
    continued = aea(
        "generate", "--model", bare, "--mode", "continue", "--from", tmp_path / "g.wav", "-o", tmp_path / "c.wav"
    )
    assert continued.exit_code == 2 and "needs a --prior" in continued.stderr  # the CLI names the setting's flag


def test_a_loud_continuation_is_scaled_down_after_its_exact_opening():
    """The opening is compared exactly because it is not computed: those samples are left as they were."""
    rate = 8000
    t = np.arange(4 * rate) / rate
    audio = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio[2 * rate :] *= 6.0  # the walk went on into a much louder track: peak 3.0
    exact, ramp = rate, rate // 2
    scaled, gain = fit_peak(audio, PriorConfig(), exact, ramp)
    assert np.array_equal(scaled[:exact], audio[:exact]), "the opening stays exactly the reconstruction"
    assert np.abs(scaled).max() <= PEAK + 1e-6 and np.isclose(gain, PEAK / 3.0, rtol=1e-3)
    curve = scaled[exact:] / np.where(np.abs(audio[exact:]) > 1e-3, audio[exact:], np.nan)
    assert np.nanmax(np.abs(np.diff(curve))) < 0.01, "the gain fades in: no step"
    quiet, unity = fit_peak(audio[: 2 * rate], PriorConfig(), exact, ramp)
    assert unity == 1.0 and np.array_equal(quiet, audio[: 2 * rate])
    whole, whole_gain = fit_peak(audio, PriorConfig())  # any other piece: one gain for all of it
    assert np.isclose(np.abs(whole).max(), PEAK) and np.allclose(whole, audio * whole_gain)


@pytest.mark.slow
def test_generate_html_writes_a_page_of_its_pieces(run, tmp_path, check_page):
    out = tmp_path / "gen"
    result = aea(
        "generate",
        "--model",
        run["dir"],
        "--mode",
        "random",
        "--seconds",
        "2",
        "--n",
        "2",
        "--seed",
        "1",
        "-o",
        f"{out}/",
        "--html",
    )
    assert result.exit_code == 0, result.stderr
    assert f"page {out / 'index.html'}" in result.stdout
    report = check_page(out / "index.html")
    assert len(report.audio) == 2 and len(report.images) == 2
    single = aea(
        "generate", "--model", run["dir"], "--mode", "random", "--seed", "1", "-o", tmp_path / "one.wav", "--html"
    )
    assert single.exit_code == 0 and (tmp_path / "one.html").is_file() and (tmp_path / "one.png").is_file()
    refused = aea("generate", "--model", run["dir"], "--mode", "random", "-o", "-", "--html")
    assert refused.exit_code == 2 and "--html" in refused.stderr


@pytest.mark.slow
def test_report_of_a_run_with_a_prior_adds_new_pieces_and_says_why_it_has_no_score(run, tmp_path, check_page):
    result = aea("report", run["dir"], "-o", tmp_path / "report", "--audio-format", "wav", "--cache-dir", run["cache"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report" / "index.html").read_text()
    assert "<h2>Generated</h2>" in html and "random-000.wav" in html and "random-001.wav" in html
    assert "score skipped:" in html and "are needed" in html  # the tiny corpus's 3 s tracks give no 5 s clips
    report = check_page(tmp_path / "report" / "index.html")
    assert any(a["src"].endswith("random-001.wav") for a in report.audio)


@pytest.mark.parametrize("position", [0, 2000, 3999])
def test_a_peak_inside_the_fade_is_brought_under_full_scale_too(position):
    """The opening is compared exactly because it is not computed: those samples are left as they were."""
    rate, exact, ramp = 8000, 8000, 4000
    audio = (0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * rate) / rate)).astype(np.float32)
    audio[exact + position] = 1.5  # a splice's spike early in the fade, where its gain is still near 1
    scaled, gain = fit_peak(audio, PriorConfig(), exact, ramp)
    assert np.abs(scaled).max() <= PEAK + 1e-6, "nothing left to clip"
    assert np.array_equal(scaled[:exact], audio[:exact])
    tail = slice(exact + ramp + 200, None)
    assert np.allclose(scaled[tail], audio[tail] * gain, atol=1e-6), "the gain reported is the gain applied"


@pytest.mark.slow
def test_training_a_run_on_says_its_prior_and_page_no_longer_fit_and_generate_says_how_to_retrain_it(tmp_path):
    config = load_config(ROOT / "configs" / "tiny.toml")
    train(config, tmp_path / "run", tmp_path / "cache")
    checkpoint = load_checkpoint(tmp_path / "run" / "best.safetensors")
    train_prior(checkpoint, tmp_path / "run", dataclasses.replace(config.prior, epochs=1), tmp_path / "cache")
    page = tmp_path / "run" / "explore"
    page.mkdir()
    (page / "manifest.json").write_text(
        json.dumps({"format": "aea-explore", "model_fingerprint": checkpoint.fingerprint})
    )
    resumed = aea("train", "--resume", "--out", tmp_path / "run", "--epochs", 4, "--cache-dir", tmp_path / "cache")
    assert resumed.exit_code == 0, resumed.output
    assert f"{prior_path(tmp_path / 'run')} was trained for the model before this resume" in resumed.stderr
    assert f"aea train-prior --model {tmp_path / 'run'} --overwrite" in resumed.stderr
    assert f"aea explore {tmp_path / 'run'} -o {page} --overwrite" in resumed.stderr
    assert "prior fits\tno: the run's model was trained on or again since" in aea("info", tmp_path / "run").output
    refused = aea("generate", "--model", tmp_path / "run", "--mode", "random", "-o", tmp_path / "x.wav")
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "the prior of an earlier model of this run" in refused.stderr and "--overwrite" in refused.stderr
    again = aea(
        "train",
        "--config",
        "tiny",
        "--seed",
        1,
        "--overwrite",
        "--out",
        tmp_path / "run",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert again.exit_code == 0 and "was trained for the model before this overwrite" in again.stderr


@pytest.mark.slow
def test_a_copied_run_trained_again_says_its_prior_is_of_other_weights_and_each_advice_given_works(
    tmp_path, write_songs, make_run_with_prior
):
    """`cp -r` a run with its prior, train the copy again: `aea train` and `aea info` said nothing of the prior, and
    generate, train-prior and train-prior --resume each suggested a command that failed in turn."""
    songs, cache = write_songs(tmp_path / "songs"), tmp_path / "cache"
    run = tmp_path / "copy"
    shutil.copytree(make_run_with_prior(songs, cache, tmp_path / "original"), run)
    again = aea(
        "train", "--config", "tiny", "--data", songs, "--out", run, "--overwrite", "--steps", 2, "--cache-dir", cache
    )
    assert again.exit_code == 0, again.output
    remake = f"aea train-prior --model {run} --overwrite"
    assert f"{prior_path(run)} was trained for the model before this overwrite" in again.stderr
    assert remake in again.stderr and prior_path(run).is_file(), "named, with the command that remakes it; kept"
    assert "prior fits\tno: " in aea("info", run).output and remake in aea("info", run).output
    refused = aea("generate", "--model", run, "--mode", "random", "-o", tmp_path / "x.wav")
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "a prior of another model" in refused.stderr and "'aea train-prior' and --overwrite" in refused.stderr
    train_prior_args = ("train-prior", "--model", run, "--epochs", 1, "--device", "cpu", "--cache-dir", cache)
    for how in ((), ("--resume",)):
        stuck = aea(*train_prior_args, *how)
        assert stuck.exit_code == 2 and stuck.stderr.count("\n") == 1, stuck.stderr
        assert "--overwrite" in stuck.stderr and "--resume continues it" not in stuck.stderr, stuck.stderr
        assert "another model" in stuck.stderr or "other weights" in stuck.stderr, stuck.stderr
        assert ("--resume cannot continue it" in stuck.stderr) == bool(how), stuck.stderr  # resume, when asked
    assert aea(*train_prior_args, "--overwrite").exit_code == 0
    assert "prior fits" not in aea("info", run).output
    assert aea("generate", "--model", run, "--mode", "random", "-o", tmp_path / "x.wav").exit_code == 0


@pytest.mark.slow
def test_a_latent_too_short_for_a_prior_is_refused_before_any_encoding(run, tmp_path):
    """N = 5 (5 frames, 1 inside the edges) failed in torch's words: "Expected sequence length to be larger than 0
    in RNN", exit 1; N = 1 of the seed arch: "input_size must be greater than zero" after a raw UserWarning."""
    cache = ["--cache-dir", run["cache"], "--device", "cpu"]
    config = ["--config", ROOT / "configs" / "tiny.toml"]
    trained = aea("train", *config, "--latent", 5, "--steps", 1, "--out", tmp_path / "n5", *cache)
    assert trained.exit_code == 0, trained.output
    refused = aea("train-prior", "--model", tmp_path / "n5", "--epochs", 1, *cache)
    assert refused.exit_code == 2 and "traceback" not in refused.output.lower()
    assert "latent has 5 frames (N = 5); it needs at least 6: train the autoencoder with a latent size of 6" in (
        refused.stderr
    )
    assert not prior_path(tmp_path / "n5").exists()


def test_an_interrupted_prior_says_the_command_that_continues_it():
    """It said "resuming continues it exactly", naming neither flag; the command line now reads as one to type."""
    from autoenc_audio.cli.flags import in_flag_terms
    from autoenc_audio.prior.train import PriorInterrupted

    said = in_flag_terms(PriorInterrupted(Path("runs/demo/prior.safetensors")))
    assert said.endswith("continue it exactly with --resume and --model runs/demo"), said
