"""Reproducible generation: a sidecar records the aea version, the request and every prior setting, and a piece
is made again from its sidecar alone; old priors and run configs without the newer settings still load."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import save_file

from autoenc_audio import __version__
from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.config import Config, PriorConfig, load_config, load_run_config
from autoenc_audio.generation.errors import RequestError
from autoenc_audio.generation.regenerate import regenerate
from autoenc_audio.generation.requests import GenerateRequest, generate_pieces
from autoenc_audio.generation.writing import write_pieces
from autoenc_audio.prior.header import prior_path
from autoenc_audio.prior.store import load_prior
from autoenc_audio.prior.train import train_prior
from autoenc_audio.tomlwrite import dump_toml

ROOT = Path(__file__).resolve().parents[1]
NEWER_PRIOR_SETTINGS = (
    "shortest_beat_seconds",
    "longest_beat_seconds",
    "beat_tolerance_frames",
    "beat_match_frames",
    "same_beat_clips",
    "lookahead_frames",
    "max_repeats",
    "style_share",
    "style_min_clips",
    "style_tracks",
    "peak",
    "min_gain",
    "limiter_width",
    "validation_every",
)
"""The settings of 0.2.0 that were module constants in 0.1.0: files written before lack them."""
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory, write_songs, make_checkpoint):
    """An untrained (PCA-initialised) tiny model and a prior of it trained for one epoch: seconds, not minutes."""
    root = tmp_path_factory.mktemp("regenerate")
    songs = write_songs(root / "songs", tracks=4, seconds=3.2)
    path = make_checkpoint(songs, root / "cache", root / "run" / "best.safetensors")
    checkpoint = load_checkpoint(path)
    checkpoint.info["data"] = {"root": str(songs)}  # what a trained run records, and the prior reads its clips from
    config = dataclasses.replace(load_config(ROOT / "configs" / "tiny.toml").prior, epochs=1, device="cpu")
    train_prior(checkpoint, root / "run", config, root / "cache")
    return {"root": root, "songs": songs, "checkpoint": checkpoint, "cache": root / "cache"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "request_",
    [
        GenerateRequest("random", seconds=2.5, n=2, seed=11, temperature=0.7),
        GenerateRequest("random", "gaussian", seconds=1.5, n=2, seed=3),
        GenerateRequest("continue", seed=5, prime_seconds=0.5, seconds=2.0, sources=("low/low.00001.wav",)),
        GenerateRequest("average", seed=2, label="high"),
        GenerateRequest("interpolate", steps=3, method="slerp", sources=("low/low.00000.wav", "high/high.00002.wav")),
    ],
    ids=["random", "gaussian", "continue", "average", "interpolate"],
)
def test_a_piece_is_made_again_from_its_sidecar_alone(run, tmp_path, request_):
    """Exact on one machine: the sidecar's seed and settings drive the same model, prior and kernels (on another CPU
    a regenerated piece may differ in the last bits)."""
    sources = tuple(str(run["songs"] / source) for source in request_.sources)
    pieces = generate_pieces(run["checkpoint"], dataclasses.replace(request_, sources=sources)).pieces
    records = write_pieces(run["checkpoint"], pieces, str(tmp_path / "out") + "/", request_.mode)
    last, record = pieces[-1], records[-1]  # piece 1 of 2 (seed + 1), or an interpolation's last step
    again = regenerate(record["sidecar"])  # the model, the prior and the settings as the sidecar names them
    assert np.array_equal(again.samples, last.samples), "the same samples, from the sidecar alone"
    assert again.metadata == last.metadata, "and the same facts"
    rewritten = write_pieces(run["checkpoint"], [again], str(tmp_path / "again.wav"), request_.mode)
    assert Path(rewritten[0]["path"]).read_bytes() == Path(record["path"]).read_bytes()


@pytest.mark.slow
def test_the_sidecar_records_the_version_the_request_and_every_prior_setting(run, tmp_path):
    request = GenerateRequest("random", seconds=2.0, seed=4)
    records = write_pieces(
        run["checkpoint"], generate_pieces(run["checkpoint"], request).pieces, str(tmp_path / "r.wav"), "random"
    )
    side = json.loads((tmp_path / "r.json").read_text())
    assert side["aea_version"] == __version__
    assert side == {key: value for key, value in records[0].items() if key != "sidecar"}, "--json prints the sidecar"
    assert side["request"]["method"] == "prior" and side["request"]["seed"] == 4 and side["request"]["seconds"] == 2.0
    prior = load_prior(prior_path(run["checkpoint"].path.parent))
    assert side["prior_settings"] == dataclasses.asdict(prior.config)
    assert set(NEWER_PRIOR_SETTINGS) <= set(side["prior_settings"])
    unseeded = generate_pieces(run["checkpoint"], GenerateRequest("random", "gaussian", seconds=1.0)).pieces[0]
    assert unseeded.metadata["request"]["seed"] == unseeded.metadata["seed"], "a fresh seed is recorded as the one used"


@pytest.mark.slow
def test_the_sidecar_settings_rule_over_the_prior_files_own(run, tmp_path):
    """A prior file read by a later aea whose defaults moved still regenerates what the sidecar recorded. Exact on
    one machine, as the regeneration above."""
    pieces = generate_pieces(run["checkpoint"], GenerateRequest("random", seconds=2.0, seed=8)).pieces
    record = write_pieces(run["checkpoint"], pieces, str(tmp_path / "r.wav"), "random")[0]
    prior = load_prior(prior_path(run["checkpoint"].path.parent))
    prior.config = dataclasses.replace(prior.config, peak=0.2, max_repeats=0, lookahead_frames=2)
    changed = generate_pieces(run["checkpoint"], GenerateRequest("random", seconds=2.0, seed=8), prior=prior).pieces[0]
    assert not np.array_equal(changed.samples, pieces[0].samples), "these settings shape the piece"
    assert np.array_equal(regenerate(record["sidecar"], run["checkpoint"], prior).samples, pieces[0].samples)


@pytest.mark.slow
def test_a_sidecar_of_another_model_or_without_a_request_is_one_clear_error(run, tmp_path):
    pieces = generate_pieces(run["checkpoint"], GenerateRequest("random", "gaussian", seconds=1.0, seed=1)).pieces
    record = write_pieces(run["checkpoint"], pieces, str(tmp_path / "g.wav"), "random")[0]
    side = json.loads(Path(record["sidecar"]).read_text())
    (tmp_path / "other.json").write_text(json.dumps({**side, "model_fingerprint": "0123456789abcdef"}))
    with pytest.raises(RequestError, match="made by model 0123456789abcdef, not by this one"):
        regenerate(tmp_path / "other.json", run["checkpoint"])
    (tmp_path / "old.json").write_text(json.dumps({key: value for key, value in side.items() if key != "request"}))
    with pytest.raises(RequestError, match="records no request"):
        regenerate(tmp_path / "old.json", run["checkpoint"])


@pytest.mark.slow
def test_a_prior_stored_without_the_newer_settings_loads_with_the_values_it_was_made_with(run, tmp_path):
    stored = prior_path(run["checkpoint"].path.parent)
    with safe_open(str(stored), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = dict(handle.metadata())
    config = json.loads(metadata["config"])
    metadata["config"] = json.dumps({key: value for key, value in config.items() if key not in NEWER_PRIOR_SETTINGS})
    save_file(tensors, tmp_path / "prior.safetensors", metadata=metadata)
    old = load_prior(tmp_path / "prior.safetensors")
    assert old.config == PriorConfig(**{key: value for key, value in config.items() if key not in NEWER_PRIOR_SETTINGS})
    assert (
        old.config.shortest_beat_seconds,
        old.config.longest_beat_seconds,
        old.config.lookahead_frames,
        old.config.max_repeats,
        old.config.same_beat_clips,
        old.config.style_share,
        old.config.style_tracks,
        old.config.peak,
        old.config.min_gain,
        old.config.limiter_width,
    ) == (0.25, 1.5, 8, 3, 8, 0.125, 3, 0.99, 0.05, 64)


def test_a_run_config_written_before_the_newer_settings_still_loads(tmp_path):
    values = Config().to_dict()
    values["prior"] = {key: value for key, value in values["prior"].items() if key not in NEWER_PRIOR_SETTINGS}
    (tmp_path / "config.toml").write_text(dump_toml(values))
    assert load_run_config(tmp_path / "config.toml").prior == PriorConfig()


@pytest.mark.slow
def test_cli_warns_once_when_the_checkpoint_has_no_latent_statistics(run, tmp_path):
    assert run["checkpoint"].latent_mean is None  # an untrained model: no statistics were fitted
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--model",
            str(run["checkpoint"].path),
            "--mode",
            "random",
            "--method",
            "gaussian",
            "--n",
            "2",
            "--seed",
            "1",
            "-o",
            str(tmp_path / "g.wav"),
            "--json",
        ],
        env={"AEA_MODEL": ""},
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "no latent statistics" in line]
    assert len(warnings) == 1 and warnings[0].startswith("aea: warning: "), result.stderr  # once for both pieces
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 2 and all("no latent statistics" in record["warnings"][0] for record in records)
    assert "no latent statistics" in json.loads((tmp_path / "g-001.json").read_text())["warnings"][0]
    audio, _ = soundfile.read(tmp_path / "g-000.wav")
    assert len(audio) == 8000
