"""`prior.safetensors`: the prior in one self-describing file, loaded without running code.

Tensors: `memory.*` (frames in float16, tracks, starts, labels), `features.*`
(the feature map) and `model.*` (the GRU). Metadata (JSON strings): format,
config (`[prior]`), the autoencoder it belongs to (weights fingerprint and
latent layout), the data it was built from, the loss history, epoch and step.
The training state to resume from lives in `prior.state.pt`, read with
`weights_only=True`. A write that fails (a full disk) leaves the previous
prior and its state as they were.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from ..checkpoints.checkpoint import Checkpoint, weights_fingerprint
from ..checkpoints.safe_load import UnsafeFileError, load_plain
from ..config import ConfigError, PriorConfig
from ..errors import first_line
from ..files import write_with_state
from ..version import __version__
from .header import (
    FORMAT_NAME,
    FORMAT_VERSION,
    PENDING_STATE_FILE,
    STATE_FILE,
    PriorError,
    prior_path,
    read_prior_metadata,
)
from .memory import FeatureMap, FrameMemory
from .model import FeaturePrior


@dataclass
class Prior:
    """A loaded prior: memory, feature map, recurrent model and what describes them."""

    config: PriorConfig
    memory: FrameMemory
    features: FeatureMap
    model: FeaturePrior
    autoencoder: dict[str, Any]
    data: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0
    step: int = 0
    position: int = 0  # batches done in the epoch after `epoch` (non-zero only when interrupted)
    path: Path | None = None
    kept: dict[str, Any] = field(default_factory=dict)  # which epoch's state the file holds and why training stopped
    cache: dict[str, Any] = field(
        default_factory=dict, repr=False
    )  # derived layouts (the walk's, the styles'), never saved

    @property
    def fingerprint(self) -> str:
        return weights_fingerprint(self.model)

    def check_belongs_to(self, checkpoint: Checkpoint) -> None:
        """PriorError unless this prior was built from `checkpoint`'s latents; its advice is a command that works:
        for the run's own prior, training it again with overwrite (a plain train-prior refuses, as a prior is
        there, and resuming keeps the old memory)."""
        why = mismatch(self.autoencoder, checkpoint)
        if why is None:
            return
        run, own = checkpoint.path.parent, prior_path(checkpoint.path.parent)
        if self.path is None or Path(self.path).resolve() == own.resolve():
            raise PriorError(
                f"{self.path}: {why}; train the prior again for the run in {run} with 'aea train-prior' and "
                "overwrite=True",
                "overwrite=True",
            )
        advice = (
            f"leave out prior=PATH to use the run's own ({own})"
            if own.exists()
            else f"train one for the run in {run} with 'aea train-prior'"
        )
        raise PriorError(f"{self.path}: {why}; {advice}", "prior=PATH")


def mismatch(made_for: dict[str, Any], checkpoint: Checkpoint) -> str | None:
    """Why a prior made for the autoencoder `made_for` (its `autoencoder` metadata) does not fit `checkpoint`
    (None: it does): it was built from other weights' latents, which the weights' fingerprint tells, whatever
    checkpoint path it records (a copied run's prior keeps its original's)."""
    fingerprint = made_for.get("fingerprint")
    if fingerprint == checkpoint.fingerprint:
        return None
    if Path(made_for.get("path") or "").resolve() == checkpoint.path.resolve():
        return (
            f"the prior of an earlier model of this run (autoencoder {fingerprint}, now {checkpoint.fingerprint}: "
            "trained on or again since)"
        )
    return f"a prior of another model (autoencoder {fingerprint}, not {checkpoint.fingerprint})"


def autoencoder_fields(checkpoint: Checkpoint) -> dict[str, Any]:
    model = checkpoint.model
    return {
        "fingerprint": checkpoint.fingerprint,
        "path": str(checkpoint.path.resolve()),  # absolute: compared with the run's checkpoint from any folder
        "latent_size": model.latent_size,
        "channels": model.layout.channels,
        "frames": model.layout.frames,
        "frame_hop": model.frame_hop,
        "sample_rate": checkpoint.config.audio.sample_rate,
    }


def save_prior(
    path: Path,
    prior: Prior,
    training_state: dict[str, Any] | None = None,
    weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write the prior atomically; with `training_state`, first its resumable state beside it.

    `weights` (default: the model's own) are the model tensors the file keeps: training saves its
    best-validation state there while the resumable state holds the latest.
    """
    weights = weights if weights is not None else prior.model.state_dict()
    memory, features = prior.memory, prior.features
    tensors = {
        "memory.frames": memory.frames.to(torch.float16).contiguous(),
        "memory.tracks": memory.tracks.contiguous(),
        "memory.starts": memory.starts.contiguous(),
        "memory.labels": memory.labels.contiguous(),
        "features.floor": features.floor.reshape(1).contiguous(),
        "features.mean": features.mean.contiguous(),
        "features.std": features.std.contiguous(),
        "features.basis": features.basis.contiguous(),
        **{f"model.{key}": value.detach().cpu().contiguous() for key, value in weights.items()},
    }
    fingerprint = weights_fingerprint(weights)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "aea_version": __version__,
        "fingerprint": fingerprint,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **{
            key: json.dumps(value)
            for key, value in (
                ("config", prior.config.__dict__),
                ("autoencoder", prior.autoencoder),
                ("data", prior.data),
                ("labels", memory.label_names),
                ("history", prior.history),
                ("progress", {"epoch": prior.epoch, "step": prior.step, "position": prior.position}),
                ("kept", prior.kept),
            )
        },
    }
    state = None
    if training_state is not None:
        buffer = io.BytesIO()
        torch.save({"prior_fingerprint": fingerprint, "state": training_state}, buffer)
        state = buffer.getvalue()
    _write_pair(Path(path), safetensors_bytes(tensors, metadata=metadata), state)
    return Path(path)


def _write_pair(path: Path, data: bytes, state: bytes | None) -> None:
    """The prior and its state as a matching pair (`files.write_with_state`), as a checkpoint's."""
    sidecar = path.with_name(STATE_FILE)
    write_with_state(path, data, sidecar, sidecar.with_name(PENDING_STATE_FILE), state)


def load_prior(path: Path) -> Prior:
    """Read a prior written by `save_prior`; every problem is a one-line PriorError naming the file."""
    path = Path(path)
    raw, tensors = read_prior_metadata(path), _tensors(path)
    try:
        return _prior_from(path, raw, tensors)
    except (KeyError, TypeError, AttributeError, ConfigError) as error:
        raise PriorError(f"{path}: incomplete or damaged prior ({first_line(error)})") from None


def _prior_from(path: Path, raw: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Prior:
    if not isinstance(raw.get("autoencoder"), dict):
        raise KeyError("no autoencoder metadata")
    config = PriorConfig(**raw["config"])
    features = FeatureMap(
        tensors["features.floor"][0], tensors["features.mean"], tensors["features.std"], tensors["features.basis"]
    )
    model = FeaturePrior(features.dims, config.hidden)
    try:
        model.load_state_dict(
            {key[len("model.") :]: value for key, value in tensors.items() if key.startswith("model.")}
        )
    except RuntimeError as error:
        raise PriorError(f"{path}: model tensors do not match its config ({first_line(error)})") from None
    model.eval()
    memory = FrameMemory(
        tensors["memory.frames"].float(),
        tensors["memory.tracks"],
        tensors["memory.starts"],
        tensors["memory.labels"],
        list(raw.get("labels", [])),
    )
    progress = raw.get("progress", {})
    return Prior(
        config,
        memory,
        features,
        model,
        raw["autoencoder"],
        raw.get("data", {}),
        raw.get("history", []),
        int(progress.get("epoch", 0)),
        int(progress.get("step", 0)),
        int(progress.get("position", 0)),
        path,
        kept=dict(raw.get("kept") or {}),
    )


def load_prior_state(path: Path, prior: Prior) -> dict[str, Any]:
    """The training state saved beside the prior at `path`; PriorError when it is missing or belongs to other weights.

    A pending state is taken when only it matches the prior (a save that stopped between its two renames).
    """
    sidecar = Path(path).with_name(STATE_FILE)
    if not sidecar.is_file():
        raise PriorError(f"{sidecar}: no training state to resume from: train the prior again from the start", "resume")
    try:
        return _read_state(sidecar, path, prior)
    except PriorError:
        pending = sidecar.with_name(PENDING_STATE_FILE)
        if pending.is_file():
            with contextlib.suppress(PriorError):
                return _read_state(pending, path, prior)
        raise


def _read_state(sidecar: Path, path: Path, prior: Prior) -> dict[str, Any]:
    try:
        loaded = load_plain(sidecar, str(sidecar))
    except UnsafeFileError as error:
        raise PriorError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - zip or pickle errors of any kind
        raise PriorError(f"{sidecar}: not a readable training state ({first_line(error)})") from None
    if not isinstance(loaded, dict) or loaded.get("prior_fingerprint") != prior.fingerprint:
        raise PriorError(f"{sidecar}: training state belongs to other weights than {Path(path).name}")
    return loaded["state"]


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # noqa: BLE001 - SafetensorError, OSError, ...
        raise PriorError(f"{path}: not a readable safetensors file ({first_line(error)})") from None
