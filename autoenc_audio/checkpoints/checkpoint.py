"""Safe, atomic, self-describing checkpoints.

A checkpoint is one `.safetensors` file: the model's tensors (keys prefixed
`model.`), optional latent statistics (`latent_stats.mean`, `latent_stats.std`,
each `[latent_size]`), and string metadata holding JSON:

    format            "aea-checkpoint"
    format_version    "1"
    aea_version       the aea that wrote it
    config            Config.to_dict()
    preprocessing     {"sample_rate", "clip_seconds", "clip_samples", "mono"}
    latent            {"size", "channels", "frames", "unused", "description", "arch"}
    labels            ["blues", ...]
    info              free-form dicts: training data summary, metrics, latent statistics
    weights_fingerprint   weights_fingerprint() of the model tensors, checked on load
    created           UTC time of writing

Training state for resuming (optimizer, scheduler, epoch, step, RNG states)
goes in a sidecar `<name>.state.pt`, written with `torch.save` and read only
with `torch.load(weights_only=True)`: tensors and plain containers, nothing
that runs code on load. `rng_state()` / `set_rng_state()` give RNG states in
that form.

Both files are written atomically (temporary file in the same folder, fsync,
`os.replace`), so a crash never leaves a half-written checkpoint behind. The
new state is first written as `<name>.state.pt.pending` and renamed over the
old one only after the weights are in place; `load_training_state` takes the
state file, or the pending one when only it matches the weights (a crash
between the two renames). A write that fails, a full disk above all, is an
`OutputError` naming the file; the previous checkpoint and its state stay as
they were, and no temporary or pending file is left.
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import io
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as _safetensors_bytes
from torch import Tensor, nn

from ..config import Config, with_legacy_defaults
from ..errors import first_line
from ..files import write_with_state
from ..jsonable import json_value
from ..models.base import Autoencoder
from ..version import __version__
from .header import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LATENT_MEAN_KEY,
    LATENT_STD_KEY,
    MODEL_PREFIX,
    CheckpointError,
    pending_state_path,
    read_header,
    state_path,
)
from .safe_load import UnsafeFileError, load_plain


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (in eval mode) and everything stored with it."""

    model: Autoencoder
    config: Config
    metadata: dict[str, Any]
    labels: list[str]
    latent_mean: Tensor | None
    latent_std: Tensor | None
    path: Path

    @property
    def info(self) -> dict[str, Any]:
        """The free-form info dicts given to `save_checkpoint`."""
        return self.metadata.get("info", {})

    @property
    def fingerprint(self) -> str:
        return self.metadata["weights_fingerprint"]


# ----------------------------------------------------------------------------- fingerprint


def weights_fingerprint(weights: nn.Module | Mapping[str, Tensor]) -> str:
    """A short stable hash of the weights: sha256 over (name, dtype, shape, bytes) in sorted key order, 16 hex.

    Accepts a module (its `state_dict()`) or a state dict; keys of a checkpoint
    file's model tensors are compared without their `model.` prefix.
    """
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous()
        digest.update(key.encode())
        digest.update(f"|{str(tensor.dtype).removeprefix('torch.')}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


# ----------------------------------------------------------------------------- saving


def save_checkpoint(
    path: str | Path,
    model: Autoencoder,
    config: Config,
    *,
    labels: tuple[str, ...] | list[str] = (),
    info: dict[str, Any] | None = None,
    latent_mean: Tensor | None = None,
    latent_std: Tensor | None = None,
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write `model` and what describes it to `path` (a `.safetensors` file); returns the path.

    `info` holds JSON-able dicts (tensors and numpy values are converted).
    `latent_mean` / `latent_std` are per-dimension `[latent_size]` statistics.
    `training_state` (optimizer and scheduler state dicts, epoch, step,
    `rng_state()`, ...) goes to the sidecar `state_path(path)`; without it, a
    sidecar left by an earlier save to the same path is removed so it cannot
    be resumed against other weights.
    """
    path = Path(path)
    weights = {MODEL_PREFIX + key: _own(value) for key, value in model.state_dict().items()}
    fingerprint = weights_fingerprint({key[len(MODEL_PREFIX) :]: value for key, value in weights.items()})
    for key, stats in ((LATENT_MEAN_KEY, latent_mean), (LATENT_STD_KEY, latent_std)):
        if stats is not None:
            weights[key] = _latent_stats(path, key, stats, model.layout.size)
    metadata = _metadata(path, model, config, labels, info, fingerprint)
    state_bytes = None if training_state is None else _state_bytes(path, training_state, fingerprint)
    try:
        data = _safetensors_bytes(weights, metadata=metadata)
    except Exception as error:  # noqa: BLE001
        raise CheckpointError(f"{path}: cannot serialise the model tensors ({error})") from None
    _write_pair(path, data, state_bytes)
    return path


def _latent_stats(path: Path, key: str, stats: Tensor, size: int) -> Tensor:
    """Per-dimension statistics as a float32 CPU tensor `[size]`; CheckpointError for another shape."""
    stats = torch.as_tensor(stats).detach().to("cpu", torch.float32).contiguous()
    if tuple(stats.shape) != (size,):
        raise CheckpointError(f"{path}: {key} must have shape [{size}], got {list(stats.shape)}")
    return stats.clone()


def _metadata(
    path: Path,
    model: Autoencoder,
    config: Config,
    labels: tuple[str, ...] | list[str],
    info: dict[str, Any] | None,
    fingerprint: str,
) -> dict[str, str]:
    """The string metadata the module docstring lists, each value JSON."""
    audio, layout = config.audio, model.layout
    preprocessing = {
        "sample_rate": audio.sample_rate,
        "clip_seconds": audio.clip_seconds,
        "clip_samples": audio.clip_samples,
        "mono": audio.mono,
    }
    latent = {
        "size": layout.size,
        "channels": layout.channels,
        "frames": layout.frames,
        "unused": layout.unused,
        "description": layout.describe(),
        "variational": bool(model.variational),
        "arch": model.arch_description or None,
    }
    return {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "aea_version": __version__,
        "config": _json(path, "config", config.to_dict()),
        "preprocessing": _json(path, "preprocessing", preprocessing),
        "latent": _json(path, "latent", latent),
        "labels": _json(path, "labels", [str(label) for label in labels]),
        "info": _json(path, "info", dict(info or {})),
        "weights_fingerprint": fingerprint,
        "parameters": str(sum(parameter.numel() for parameter in model.parameters())),
        "created": _datetime.datetime.now(_datetime.UTC).isoformat(timespec="seconds"),
    }


def _state_bytes(path: Path, training_state: dict[str, Any], fingerprint: str) -> bytes:
    """The sidecar's bytes, tied to the weights by their fingerprint; refused now if resuming could not read them."""
    sidecar = state_path(path)
    state = {"checkpoint_fingerprint": fingerprint, "state": _plain(sidecar, training_state, "training_state")}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    state_bytes = buffer.getvalue()
    try:
        torch.load(io.BytesIO(state_bytes), weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means unreadable
        raise CheckpointError(f"{sidecar}: training state is not loadable with weights_only ({error})") from None
    return state_bytes


def _write_pair(path: Path, data: bytes, state_bytes: bytes | None) -> None:
    """The weights and their state as a matching pair (`files.write_with_state`); without a state, any old
    sidecar is removed."""
    sidecar, pending = state_path(path), pending_state_path(path)
    write_with_state(path, data, sidecar, pending, state_bytes)
    if state_bytes is None:
        for stale in (sidecar, pending):
            stale.unlink(missing_ok=True)


def _own(tensor: Tensor) -> Tensor:
    """A detached, contiguous CPU copy (safetensors refuses tensors that share memory)."""
    return tensor.detach().to("cpu").contiguous().clone()


def _json(path: Path, field: str, value: Any) -> str:
    try:
        return json.dumps(value, default=json_value, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {field} is not JSON-serialisable ({error})") from None


def _plain(path: Path, value: Any, where: str) -> Any:
    """`value` with numpy arrays/scalars turned into tensors/numbers; errors on anything weights_only cannot load."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Tensor):
        return value.detach().to("cpu")
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise CheckpointError(f"{path}: {where} has a key of type {type(key).__name__}")
            out[key] = _plain(path, item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        items = [_plain(path, item, f"{where}[{index}]") for index, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise CheckpointError(
        f"{path}: {where} is a {type(value).__name__}; training state holds only tensors, numbers, strings and containers"
    )


# ----------------------------------------------------------------------------- loading


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from the stored config, load its weights (strict) and return it in eval mode."""
    from ..models import build_model

    path = Path(path)
    metadata, _ = read_header(path)
    tensors = load_tensors(path)
    try:
        config = Config.from_dict(with_legacy_defaults(metadata["config"]))
    except Exception as error:  # noqa: BLE001 - ConfigError, TypeError, ...
        raise CheckpointError(f"{path}: stored config does not build ({first_line(error)})") from None
    try:
        model = build_model(config.model, config.audio)
    except Exception as error:  # noqa: BLE001
        raise CheckpointError(f"{path}: stored config does not build a model ({first_line(error)})") from None

    weights = {key[len(MODEL_PREFIX) :]: value for key, value in tensors.items() if key.startswith(MODEL_PREFIX)}
    expected = metadata.get("weights_fingerprint")
    if expected is not None and weights_fingerprint(weights) != expected:
        raise CheckpointError(f"{path}: weights are corrupt (fingerprint does not match the metadata)")
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not match the model ({_mismatch(error)})") from None

    size = model.layout.size
    stats = []
    for key in (LATENT_MEAN_KEY, LATENT_STD_KEY):
        value = tensors.get(key)
        if value is not None and tuple(value.shape) != (size,):
            raise CheckpointError(f"{path}: {key} has shape {list(value.shape)}, expected [{size}]")
        stats.append(None if value is None else value.to(device))
    labels = metadata.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise CheckpointError(f"{path}: labels must be a list of strings")
    model.to(device).eval()
    return Checkpoint(
        model=model,
        config=config,
        metadata=metadata,
        labels=list(labels),
        latent_mean=stats[0],
        latent_std=stats[1],
        path=path,
    )


def load_training_state(path: str | Path) -> dict[str, Any] | None:
    """The training state saved with checkpoint `path` (read with weights_only=True), or None when there is none.

    The state file is used when it matches the weights; otherwise a pending
    state that does (a save interrupted between its two renames). A pending
    state that does not match is an unfinished save and is ignored. Raises
    CheckpointError when the state file is unreadable or belongs to other
    weights and no pending state matches.
    """
    path = Path(path)
    sidecar, pending = state_path(path), pending_state_path(path)
    problem = None
    for candidate in (sidecar, pending):
        if candidate.is_file():
            try:
                return _read_state(candidate, path)
            except CheckpointError as error:
                problem = problem or (error if candidate == sidecar else None)
    if problem is not None:
        raise problem
    return None


def _read_state(sidecar: Path, path: Path) -> dict[str, Any]:
    try:
        loaded = load_plain(sidecar, str(sidecar))
    except UnsafeFileError as error:
        raise CheckpointError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - pickle/zip errors of any kind
        raise CheckpointError(f"{sidecar}: not a readable training state ({first_line(error)})") from None
    if not isinstance(loaded, dict) or "state" not in loaded:
        raise CheckpointError(f"{sidecar}: not an aea training state")
    if path.is_file():
        expected = read_header(path)[0].get("weights_fingerprint")
        if expected is not None and loaded.get("checkpoint_fingerprint") != expected:
            raise CheckpointError(f"{sidecar}: training state belongs to other weights than {path.name}")
    return loaded["state"]


def load_tensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of a checkpoint whose header `read_header` accepted, on the CPU."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # noqa: BLE001 - SafetensorError, OSError, ...
        raise CheckpointError(
            f"{path}: not a readable safetensors file, truncated or corrupt ({first_line(error)})"
        ) from None


def _mismatch(error: RuntimeError) -> str:
    """The first concrete problem from load_state_dict's multi-line message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    details = lines[1:] or lines
    return details[0].rstrip(".") if details else "unknown mismatch"


# ----------------------------------------------------------------------------- RNG state


def rng_state() -> dict[str, Tensor]:
    """Python, numpy and torch RNG states as tensors (loadable with weights_only=True)."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": torch.tensor(internal, dtype=torch.int64),
        "python_version": torch.tensor(version),
        "python_gauss": torch.tensor([] if gauss is None else [gauss], dtype=torch.float64),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_meta": torch.tensor([position, has_gauss], dtype=torch.int64),
        "numpy_cached": torch.tensor([cached], dtype=torch.float64),
        "torch": torch.get_rng_state(),
    }
    if kind != "MT19937":  # pragma: no cover - numpy's legacy global RNG is always MT19937
        raise ValueError(f"unsupported numpy RNG {kind}")
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, cuda in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{index}"] = cuda
    return state


def set_rng_state(state: Mapping[str, Tensor]) -> None:
    """Restore what `rng_state()` captured."""
    gauss = state["python_gauss"].tolist()
    random.setstate(
        (int(state["python_version"]), tuple(int(v) for v in state["python"].tolist()), gauss[0] if gauss else None)
    )
    position, has_gauss = (int(v) for v in state["numpy_meta"].tolist())
    np.random.set_state(
        (
            "MT19937",
            state["numpy_keys"].numpy().astype(np.uint32),
            position,
            has_gauss,
            float(state["numpy_cached"][0]),
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = [state[f"cuda{index}"] for index in range(sum(key.startswith("cuda") for key in state))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


__all__ = [
    "Checkpoint",
    "load_checkpoint",
    "load_training_state",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "weights_fingerprint",
]
