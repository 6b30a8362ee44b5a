"""Checkpoints: round trips, training state with weights_only, and every way a file can be wrong."""

from __future__ import annotations

import errno
import json
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from autoenc_audio import __version__
from autoenc_audio.checkpoints.checkpoint import (
    Checkpoint,
    load_checkpoint,
    load_training_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
    weights_fingerprint,
)
from autoenc_audio.checkpoints.header import (
    FORMAT_NAME,
    CheckpointError,
    pending_state_path,
    read_metadata,
    state_path,
    verify_weights,
)
from autoenc_audio.config import AudioConfig, Config, ModelConfig, TrainConfig
from autoenc_audio.files import OutputError
from autoenc_audio.models import build_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(kind: str = "ae", latent: int = 96) -> Config:
    return Config(
        audio=AudioConfig(sample_rate=2000, clip_seconds=1.0),
        model=ModelConfig(arch="seed", kind=kind, latent=latent),
        train=TrainConfig(epochs=3, lr=0.02),
    )


def _model(config: Config):
    torch.manual_seed(0)
    return build_model(config.model, config.audio)


def _save(tmp_path: Path, name: str = "model.safetensors", **kwargs) -> tuple[Path, Config, torch.nn.Module]:
    config = _config()
    model = _model(config)
    path = save_checkpoint(tmp_path / name, model, config, **kwargs)
    return path, config, model


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_round_trip_gives_identical_model_and_description(tmp_path, kind):
    """Exact: the loaded weights are the saved bytes, and both models run here on the same inputs."""
    config = _config(kind)
    model = _model(config).eval()
    mean, std = torch.randn(96), torch.rand(96) + 0.1
    info = {"data": {"clips": 12, "tracks": ["a.wav"]}, "metrics": {"rmse": np.float32(0.25)}, "stats": {"n": 3}}
    path = save_checkpoint(
        tmp_path / "run" / "model.safetensors",
        model,
        config,
        labels=["blues", "jazz"],
        info=info,
        latent_mean=mean,
        latent_std=std,
    )
    assert path == tmp_path / "run" / "model.safetensors"

    loaded = load_checkpoint(path)
    assert isinstance(loaded, Checkpoint)
    assert loaded.path == path
    assert loaded.config == config
    assert loaded.labels == ["blues", "jazz"]
    assert torch.equal(loaded.latent_mean, mean) and torch.equal(loaded.latent_std, std)
    assert not loaded.model.training
    x = torch.randn(2, 1, config.audio.clip_samples)
    with torch.no_grad():
        assert torch.equal(loaded.model.encode(x), model.encode(x))
        z = torch.randn(2, 96)
        assert torch.equal(loaded.model.decode(z), model.decode(z))
    assert weights_fingerprint(loaded.model) == weights_fingerprint(model) == loaded.fingerprint
    meta = loaded.metadata
    assert meta["format"] == FORMAT_NAME and meta["format_version"] == 1 and meta["aea_version"] == __version__
    assert meta["preprocessing"] == {"sample_rate": 2000, "clip_seconds": 1.0, "clip_samples": 2000, "mono": True}
    assert meta["latent"]["size"] == 96
    assert meta["latent"]["channels"] * meta["latent"]["frames"] == 96
    assert meta["latent"]["arch"].startswith("channels ")
    assert loaded.info == {"data": {"clips": 12, "tracks": ["a.wav"]}, "metrics": {"rmse": 0.25}, "stats": {"n": 3}}


def test_round_trip_of_a_default_model_with_envelope_channels(tmp_path):
    """The fitted envelope (band means, projections) travels with the weights: the loaded model decodes identically.
    Exact: the same bytes of weights, run in one process on the same inputs."""
    config = Config(
        audio=AudioConfig(sample_rate=8000, clip_seconds=1.0),
        model=ModelConfig(latent=512, hop=128, width=8, blocks=1, envelope=0.3),
    )
    model = _model(config)
    audio = torch.sin(torch.arange(8000) * 0.9)[None, None].repeat(3, 1, 1) * torch.rand(3, 1, 1)
    model.initialize_from_data(audio)
    model.eval()
    assert model.encoder.envelope is not None
    loaded = load_checkpoint(save_checkpoint(tmp_path / "env.safetensors", model, config))
    assert loaded.config.model.envelope == 0.3
    z = torch.randn(2, 512)
    with torch.no_grad():
        assert torch.equal(loaded.model.decode(z), model.decode(z))
        assert torch.equal(loaded.model.encode(audio), model.encode(audio))


def test_read_metadata_without_building(tmp_path):
    path, config, model = _save(tmp_path, labels=["x"])
    meta = read_metadata(path)
    assert Config.from_dict(meta["config"]) == config
    assert meta["labels"] == ["x"]
    assert meta["file"]["parameters"] == sum(p.numel() for p in model.parameters())


def test_info_counts_learned_parameters_not_buffers(tmp_path):
    """The default model stores a fixed MDCT basis: `aea info` must agree with training's parameter count."""
    config = Config(
        audio=AudioConfig(sample_rate=2000, clip_seconds=1.0), model=ModelConfig(latent=96, width=8, blocks=1)
    )
    model = build_model(config.model, config.audio)
    meta = read_metadata(save_checkpoint(tmp_path / "d.safetensors", model, config))
    assert meta["file"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert (
        meta["file"]["stored_values"]
        == sum(t.numel() for t in model.state_dict().values())
        > meta["file"]["parameters"]
    )
    assert meta["file"]["latent_stats"] is False and meta["file"]["training_state"] is False
    assert meta["weights_fingerprint"] == weights_fingerprint(model)


def test_no_stats_load_as_none(tmp_path):
    path, _, _ = _save(tmp_path)
    loaded = load_checkpoint(path)
    assert loaded.latent_mean is None and loaded.latent_std is None and loaded.labels == []


def test_fingerprint_is_stable_and_sensitive():
    config = _config()
    a, b = _model(config), _model(config)
    assert weights_fingerprint(a) == weights_fingerprint(b.state_dict())
    assert len(weights_fingerprint(a)) == 16
    with torch.no_grad():
        next(b.parameters()).view(-1)[0] += 1e-6
    assert weights_fingerprint(a) != weights_fingerprint(b)


def test_training_state_round_trip_with_weights_only(tmp_path):
    """Exact: the RNG states and optimizer moments are stored values, read back as written."""
    config = _config()
    model = _model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    x = torch.randn(2, 1, 2000)
    loss = model(x)["recon"].pow(2).mean()
    loss.backward()
    optimizer.step()
    scheduler.step()
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    state = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": 3,
        "step": 42,
        "best": {"loss": 0.5, "epoch": 2},
        "history": [{"epoch": 1, "loss": 0.9}],
        "rng": rng_state(),
        "order": np.arange(5),
    }
    path = save_checkpoint(tmp_path / "m.safetensors", model, config, training_state=state)
    sidecar = state_path(path)
    assert sidecar == tmp_path / "m.state.pt"
    # the sidecar is loadable with weights_only=True directly
    torch.load(sidecar, weights_only=True)
    expected = (random.random(), np.random.rand(), torch.rand(1))

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    loaded = load_training_state(path)
    assert loaded["epoch"] == 3 and loaded["step"] == 42 and loaded["best"] == {"loss": 0.5, "epoch": 2}
    assert torch.equal(loaded["order"], torch.arange(5))
    set_rng_state(loaded["rng"])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])

    resumed = _model(config)
    resumed.load_state_dict(load_checkpoint(path).model.state_dict())
    new_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.01)
    new_optimizer.load_state_dict(loaded["optimizer"])
    new_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(new_optimizer, T_max=10)
    new_scheduler.load_state_dict(loaded["scheduler"])
    assert new_scheduler.get_last_lr() == scheduler.get_last_lr()
    for a, b in zip(optimizer.state.values(), new_optimizer.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"])
    assert read_metadata(path)["file"]["training_state"] is True


def test_training_state_rejects_objects_and_stale_sidecars(tmp_path):
    config = _config()
    model = _model(config)
    with pytest.raises(CheckpointError, match="m.state.pt: .*object"):
        save_checkpoint(tmp_path / "m.safetensors", model, config, training_state={"x": object()})
    assert not list(tmp_path.iterdir())  # nothing written
    path = save_checkpoint(tmp_path / "m.safetensors", model, config, training_state={"epoch": 1})
    assert load_training_state(path) == {"epoch": 1}
    save_checkpoint(path, model, config)  # a final save without state removes the stale sidecar
    assert load_training_state(path) is None
    # a sidecar from other weights is refused
    save_checkpoint(path, model, config, training_state={"epoch": 2})
    sidecar = state_path(path).read_bytes()
    other = _model(config)
    with torch.no_grad():
        next(other.parameters()).add_(1.0)
    save_checkpoint(path, other, config)
    state_path(path).write_bytes(sidecar)
    with pytest.raises(CheckpointError, match="m.state.pt: .*other weights"):
        load_training_state(path)


@pytest.mark.parametrize("crash_at", ["weights", "promotion"])
def test_a_crash_between_weights_and_state_still_resumes(tmp_path, monkeypatch, crash_at):
    """kill -9 can land between the two files of a save: the pair on disk must still match. Exact: weights read back
    are the bytes written."""
    config = _config()
    old, new = _model(config), _model(config)
    with torch.no_grad():
        next(new.parameters()).add_(1.0)
    path = save_checkpoint(tmp_path / "last.safetensors", old, config, training_state={"epoch": 1})
    real_replace = os.replace

    def crash(source, target):
        if (crash_at == "weights" and Path(target) == path) or (
            crash_at == "promotion" and Path(target) == state_path(path)
        ):
            raise KeyboardInterrupt  # the process dies here
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, new, config, training_state={"epoch": 2})
    monkeypatch.setattr(os, "replace", real_replace)
    expected = {"weights": (old, 1), "promotion": (new, 2)}[crash_at]
    assert load_checkpoint(path).model.state_dict().keys() == expected[0].state_dict().keys()
    assert all(
        torch.equal(a, b)
        for a, b in zip(load_checkpoint(path).model.state_dict().values(), expected[0].state_dict().values())
    )
    assert load_training_state(path) == {"epoch": expected[1]}
    save_checkpoint(path, new, config, training_state={"epoch": 3})  # the next save tidies up
    assert load_training_state(path) == {"epoch": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors", "last.state.pt"]


def test_a_pending_state_is_used_only_when_it_matches_the_weights(tmp_path):
    config = _config()
    model, other = _model(config), _model(config)
    with torch.no_grad():
        next(other.parameters()).add_(1.0)
    path = save_checkpoint(tmp_path / "last.safetensors", other, config, training_state={"epoch": 5})
    state_path(path).rename(pending_state_path(path))  # the state never got its final name
    assert load_training_state(path) == {"epoch": 5} and read_metadata(path)["file"]["training_state"] is True
    save_checkpoint(path, model, config)  # final weights, no state: the leftover goes
    assert not pending_state_path(path).exists() and load_training_state(path) is None
    elsewhere = save_checkpoint(tmp_path / "other.safetensors", other, config, training_state={"epoch": 6})
    pending_state_path(path).write_bytes(state_path(elsewhere).read_bytes())  # an unfinished save of other weights
    assert load_training_state(path) is None


def test_unloadable_pickle_sidecar_is_refused(tmp_path):
    path, _, _ = _save(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    torch.save({"state": Evil()}, state_path(path))
    with pytest.raises(CheckpointError) as refused:
        load_training_state(path)
    assert str(refused.value) == (
        f"{state_path(path)}: holds Python objects, not plain tensors; refused (aea never runs code from a file)"
    )


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    for _ in range(2):  # a fresh write and an overwrite
        path, _, _ = _save(tmp_path, training_state={"epoch": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "model.state.pt"]


def test_failed_rename_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path, config, model = _save(tmp_path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match=r"model.safetensors: cannot write \(Invalid cross-device link\)$"):
        save_checkpoint(path, model, config, labels=["new"])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


@pytest.mark.parametrize("failing, named", [(1, "model.state.pt.pending"), (2, "model.safetensors")])
def test_a_full_disk_keeps_the_previous_checkpoint_and_its_state(tmp_path, full_disk_at_write, failing, named):
    """The state goes first (as pending), then the weights: either may meet the full disk."""
    path, config, model = _save(tmp_path, labels=["old"], training_state={"epoch": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    full_disk_at_write(failing)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(OutputError) as caught:
        save_checkpoint(path, model, config, labels=["new"], training_state={"epoch": 2})
    assert str(caught.value) == f"{tmp_path / named}: cannot write (no space left on device)"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary or pending file either
    assert load_checkpoint(path).labels == ["old"] and load_training_state(path) == {"epoch": 1}


def _assert_refused(path: Path, problem: str) -> None:
    for read in (load_checkpoint, read_metadata):
        with pytest.raises(CheckpointError) as caught:
            read(path)
        message = str(caught.value)
        assert path.name in message and problem in message, message
        assert "\n" not in message


def test_missing_file_and_directory(tmp_path):
    _assert_refused(tmp_path / "absent.safetensors", "not found")
    (tmp_path / "folder.safetensors").mkdir()
    _assert_refused(tmp_path / "folder.safetensors", "directory")


def test_truncated_file(tmp_path):
    path, _, _ = _save(tmp_path)
    data = path.read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 20, 4, 0):
        broken = tmp_path / f"cut{cut}.safetensors"
        broken.write_bytes(data[:cut])
        _assert_refused(broken, "truncated or corrupt")


def test_random_bytes_and_pickled_files(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _assert_refused(junk, "truncated or corrupt")
    pickled = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(3)}, pickled)
    _assert_refused(pickled, "pickled PyTorch file")


def test_foreign_safetensors(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, plain)
    _assert_refused(plain, "not an aea checkpoint (no aea metadata)")
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, other, metadata={"format": "pt"})
    _assert_refused(other, "not an aea checkpoint (format 'pt')")


def _rewrite(path: Path, target: Path, **changes: str) -> None:
    """Copy checkpoint `path` to `target` with some metadata fields replaced."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    metadata.update(changes)
    save_file(tensors, target, metadata=metadata)


def test_newer_format_version(tmp_path):
    path, _, _ = _save(tmp_path)
    newer = tmp_path / "newer.safetensors"
    _rewrite(path, newer, format_version="2")
    _assert_refused(newer, "format version 2 is newer")


def test_config_that_does_not_build_or_match(tmp_path):
    path, config, _ = _save(tmp_path)
    bad = config.to_dict()
    bad["model"]["kind"] = "gan"
    broken = tmp_path / "badconfig.safetensors"
    _rewrite(path, broken, config=json.dumps(bad))
    with pytest.raises(CheckpointError, match="badconfig.safetensors: stored config does not build"):
        load_checkpoint(broken)
    other = config.to_dict()
    other["model"]["latent"] = 192  # builds, but other shapes
    mismatch = tmp_path / "mismatch.safetensors"
    _rewrite(path, mismatch, config=json.dumps(other))
    with pytest.raises(CheckpointError, match="mismatch.safetensors: weights do not match the model") as caught:
        load_checkpoint(mismatch)
    assert "\n" not in str(caught.value)


def test_corrupted_weights_are_detected(tmp_path):
    path, _, _ = _save(tmp_path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # inside the tensor data: still a valid safetensors file
    flipped = tmp_path / "flipped.safetensors"
    flipped.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="flipped.safetensors: weights are corrupt"):
        load_checkpoint(flipped)
    verify_weights(path)  # without torch, the fingerprint loading checks: the same for the same bytes
    with pytest.raises(CheckpointError, match="flipped.safetensors: weights are corrupt"):
        verify_weights(flipped)


def test_bad_stats_shape_is_refused_on_save(tmp_path):
    config = _config()
    with pytest.raises(CheckpointError, match=r"latent_stats.mean must have shape \[96\]"):
        save_checkpoint(tmp_path / "m.safetensors", _model(config), config, latent_mean=torch.zeros(5))


def test_checkpoints_are_readable_by_others_as_the_umask_allows(tmp_path):
    """A run folder on shared storage: other users can load its checkpoints (mkstemp alone gives 0600)."""
    config = _config()
    previous = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "last.safetensors", _model(config), config, training_state={"epoch": 1})
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644 and state_path(path).stat().st_mode & 0o777 == 0o644


OLD_DECODE_TOLERANCE = 1e-5
"""How far an old checkpoint's decode may be from the stored one: max|decoded - stored| over the stored peak."""


def _old_decode_error(checkpoint: Checkpoint) -> float:
    """max|decoded - stored| / max|stored| of the old checkpoint's decode of its stored latents `[3, N]`."""
    expected = np.load(Path(__file__).parent / "fixtures" / "gated-2026-12-decoded.npz")
    with torch.no_grad():
        decoded = checkpoint.model.decode(torch.from_numpy(expected["latent"])).numpy()
    assert decoded.shape == expected["decoded"].shape == (3, 1, checkpoint.config.audio.clip_samples)
    return float(np.abs(decoded - expected["decoded"]).max() / np.abs(expected["decoded"]).max())


def _old_checkpoint() -> Checkpoint:
    return load_checkpoint(Path(__file__).parent / "fixtures" / "gated-2026-12.safetensors")


def test_an_old_default_checkpoint_decodes_as_it_did_then():
    """A checkpoint written before `model.decoder` existed (tests/fixtures/make_old_checkpoint.py) builds the
    decoder it was trained with and decodes as it did then, to 1e-5 of the signal's peak.

    Not bit for bit: the stored decode was made on another machine, and float sums differ between CPU kernels
    (AVX2 against AVX-512), thread counts and builds; on an AVX-512 machine it is 2.8e-7 of the peak from the
    stored one. The tolerance still fails on any real change to the decoder: with a gain off by 1e-3 (the gate's
    line in `FrameDecoder.forward` times 1.001) the decode is 1.0e-3 of the peak away, 100 times the tolerance,
    and a gain off by 1e-5 already fails it (1.008e-5); the next test keeps that true.
    """
    checkpoint = _old_checkpoint()
    assert checkpoint.config.model.decoder == "gated"
    assert _old_decode_error(checkpoint) <= OLD_DECODE_TOLERANCE


def test_the_old_checkpoint_tolerance_fails_on_a_gain_off_by_1e_3():
    """The decoder's gate scaled by 1.001 (its log-gain plus log 1.001) must fail the comparison above."""
    checkpoint = _old_checkpoint()
    gate = checkpoint.model.decoder.gain
    assert isinstance(gate, torch.nn.Conv1d)
    hook = gate.register_forward_hook(lambda module, inputs, log_gain: log_gain + math.log1p(1e-3))
    try:
        error = _old_decode_error(checkpoint)
    finally:
        hook.remove()
    assert error > 50 * OLD_DECODE_TOLERANCE, error


def test_a_runs_prior_given_as_a_checkpoint_says_to_give_the_run_folder(tmp_path):
    """`aea info runs/a/prior.safetensors`: the file is the run's prior; its run folder describes the model and it."""
    from autoenc_audio.checkpoints.header import PRIOR_FORMAT_NAME, RUN_CHECKPOINT_NAMES
    from autoenc_audio.prior.header import FORMAT_NAME as PRIOR_FORMAT
    from autoenc_audio.runs.folder import RunFiles

    assert PRIOR_FORMAT_NAME == PRIOR_FORMAT  # checkpoints/ cannot import prior/, so it names the format itself
    assert set(RUN_CHECKPOINT_NAMES) == {RunFiles(tmp_path).best.name, RunFiles(tmp_path).last.name}
    run = tmp_path / "a"
    run.mkdir()
    prior = run / "prior.safetensors"
    save_file({"x": torch.zeros(1)}, str(prior), metadata={"format": PRIOR_FORMAT, "format_version": "1"})
    with pytest.raises(CheckpointError) as caught:
        read_metadata(prior)
    assert str(caught.value) == (
        f"{prior}: is a run's prior (from 'aea train-prior'), not a model checkpoint; "
        "give the run folder (or checkpoint) of the model it was trained for"
    )
    (run / "best.safetensors").write_bytes(b"the run's model")
    with pytest.raises(CheckpointError) as caught:
        read_metadata(prior)
    assert str(caught.value).endswith(
        f"not a model checkpoint; give its run folder instead ('aea info {run}' describes the model and lists this prior)"
    )
