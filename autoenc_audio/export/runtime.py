"""Running an exported part the way a host would: an onnxruntime session, or a loaded TorchScript module.

Shapes are the graphs' (`graphs.py`): float32 arrays with the batch first.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

EXTRA_HINT = "pip install 'autoenc-audio[export]'"
"""How to get the packages ONNX export needs (the package's `export` extra)."""


class ExportDependencyError(ImportError):
    """A package that ONNX export needs is not installed; the message says how to install it."""


def require_onnx() -> None:
    """ExportDependencyError unless onnx and onnxruntime can be imported."""
    missing = []
    for name in ("onnx", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportDependencyError(f"ONNX export needs {' and '.join(missing)}, not installed here: {EXTRA_HINT}")


Runner = Callable[[np.ndarray], np.ndarray]


def load_part(path: Path, export_format: str, threads: int | None = None) -> Runner:
    """A function running exported part `path` (`export_format` "onnx" or "torchscript") on a float32 batch.

    `threads`: intra-op threads of onnxruntime (None: its default); TorchScript uses torch's setting.
    """
    if export_format == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def run_onnx(batch: np.ndarray) -> np.ndarray:
            return np.asarray(session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0])

        return run_onnx
    import torch

    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; loading is what this format is for
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")

    def run_torchscript(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()

    return run_torchscript


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """`max|actual - expected| / max|expected|`: the largest difference against the signal's own scale."""
    scale = float(np.abs(expected).max())
    difference = float(np.abs(np.asarray(actual, dtype=np.float64) - expected).max())
    return difference / scale if scale > 0 else difference
