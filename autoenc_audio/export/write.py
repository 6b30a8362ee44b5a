"""`aea export`: write a checkpoint's encoder and decoder as graphs, check them with the real runtime, describe them.

Each part is traced at batch 1 with the batch axis left dynamic, written
through a temporary file, then run by onnxruntime (or `torch.jit.load`) on
`CHECK_BATCH` music-like clips (another batch size, so the dynamic axis is
tried too) and compared with the model in torch. A part that does not export,
or whose file does not match torch to `CHECK_TOLERANCE`, is an `ExportError`
naming the part, and its file is not left behind. An old JSON is removed
first, with the files it listed that this export does not write (a re-export
of one part, or in the other format), and the new one written last, so a
folder holding it is complete and holds no graph it does not describe. A full
disk is an `OutputError` naming the file being written.

Exporters: torch's TorchScript-based ONNX exporter (`dynamo=False`), which
needs only the `onnx` package, and `torch.jit.trace`; torch 2.13 deprecates
both but runs them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..checkpoints.header import RUN_CHECKPOINT_NAMES
from ..errors import InputError, first_line
from ..files import OutputError, atomic_path, cannot_write, make_folder, out_of_space
from ..version import __version__
from .graphs import INPUT_NAMES, OUTPUT_NAMES, PARTS, check_clips, graph_of
from .manifest import FORMAT_NAME, FORMAT_VERSION, listed_files, remove_manifest, write_manifest
from .runtime import load_part, relative_error, require_onnx

if TYPE_CHECKING:
    from ..checkpoints.checkpoint import Checkpoint

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
OPSET = 17
"""ONNX opset of the graphs: onnxruntime 1.13 and later run it."""
CHECK_BATCH = 3
"""Clips the written files are checked on (they are traced at batch 1)."""
CHECK_TOLERANCE = 1e-4
"""Largest `runtime.relative_error` an exported part may show against torch."""


class ExportError(InputError):
    """A model, or one part of it, that cannot be exported as asked; the message names the part."""


@dataclass(frozen=True)
class ExportRequest:
    """Where to write (`out`, a folder made if missing), in which format, which parts."""

    out: Path
    export_format: str = "onnx"
    parts: tuple[str, ...] = PARTS

    def __post_init__(self) -> None:
        if self.export_format not in FORMATS:
            raise ExportError(f"export_format must be 'onnx' or 'torchscript', got {self.export_format!r}")
        unknown = [part for part in self.parts if part not in PARTS]
        if unknown or not self.parts:
            raise ExportError(f"parts must be 'encoder', 'decoder' or both, got {list(self.parts)}")


@dataclass(frozen=True)
class ExportedPart:
    """One written part: its file and how far the file's outputs are from torch's (`runtime.relative_error`)."""

    part: str
    path: Path
    input_shape: tuple[str | int, ...]
    output_shape: tuple[str | int, ...]
    relative_error: float


@dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote: the parts, then the JSON describing them; and the files of the folder's earlier
    export that this one does not write, removed (`removed`)."""

    parts: tuple[ExportedPart, ...]
    manifest: Path
    removed: tuple[Path, ...] = ()


def export_model(checkpoint: Checkpoint, request: ExportRequest) -> ExportResult:
    """Write `request.parts` of `checkpoint`'s model to `request.out`, checked, plus `aea-export.json`."""
    _refuse_run_folder(request.out, checkpoint.path)
    if request.export_format == "onnx":
        require_onnx()
    model = checkpoint.model
    audio = checkpoint.config.audio
    stale = _open_folder(request)
    clips = check_clips(audio.clip_samples, audio.sample_rate, CHECK_BATCH)
    with torch.no_grad():
        device = next(model.parameters()).device
        latents = model.encode(clips[:, None, :].to(device)).cpu()
        decoded = model.decode(latents.to(device)).reshape(len(clips), -1).cpu()
    checks = {"encoder": (clips, latents), "decoder": (latents, decoded)}  # part: (inputs, what torch gives)
    written = []
    for part in PARTS:
        if part in request.parts:
            written.append(_export_part(checkpoint, part, *checks[part], request))
    for path in stale:  # only now that the new graphs are written and checked: a failed export keeps the old ones
        path.unlink(missing_ok=True)
    manifest = write_manifest(request.out, _manifest(checkpoint, request, written))
    return ExportResult(tuple(written), manifest, stale)


def _open_folder(request: ExportRequest) -> tuple[Path, ...]:
    """Make `request.out` and remove its earlier JSON (a folder holding one is complete: not while its graphs are
    replaced); returns the graphs that JSON listed which this export will not write, for removal once it has (the
    folder describes itself exactly)."""
    writes = {f"{part}{SUFFIXES[request.export_format]}" for part in request.parts}
    try:
        make_folder(request.out)
        earlier = listed_files(request.out)
        remove_manifest(request.out)
    except OutputError:
        raise  # a part of the folder that is a file: named as it is
    except OSError as error:
        if out_of_space(request.out, error):
            raise cannot_write(request.out, error, no_space=True) from None
        raise ExportError(
            f"{request.out}: cannot make the folder or clear its old export ({error.strerror or error})"
        ) from None
    return tuple(request.out / name for name in earlier if name not in writes and (request.out / name).is_file())


def _refuse_run_folder(out: Path, checkpoint: Path) -> None:
    """ExportError when `out` is the checkpoint's folder or a run folder: its JSON would make the run an export."""
    if out.resolve() == checkpoint.resolve().parent:
        raise ExportError(f"{out}: holds the checkpoint being exported ({checkpoint}); export into another folder")
    for name in RUN_CHECKPOINT_NAMES:  # a run folder: no export is written into it
        if (out / name).is_file():
            raise ExportError(f"{out}: is a run folder (it holds {name}); export into another folder")


def _export_part(
    checkpoint: Checkpoint, part: str, inputs: torch.Tensor, expected: torch.Tensor, request: ExportRequest
) -> ExportedPart:
    """Trace, write, reload and check one part on `inputs` (`[CHECK_BATCH, ...]`) against torch's `expected`."""
    graph = graph_of(checkpoint.model, part)
    expected_array = expected.numpy()
    path = request.out / f"{part}{SUFFIXES[request.export_format]}"
    with atomic_path(path) as temporary:
        try:
            with warnings.catch_warnings(), torch.no_grad():
                # the tracer's notes on shape checks (constant for a fixed clip) and torch's deprecation notices
                warnings.simplefilter("ignore")
                _write_graph(graph, inputs[:1], part, temporary, request.export_format, checkpoint)
            actual = load_part(temporary, request.export_format)(inputs.numpy())
        except Exception as error:  # an exporter fails in many ways; each is this part's failure (or a full disk)
            if out_of_space(path.parent, error):
                raise  # atomic_path names the file: "no space left on device"
            raise ExportError(
                f"{checkpoint.path}: the {part} ({_described(checkpoint)}) cannot be exported to "
                f"{_label(request.export_format)}: {first_line(error)}"
            ) from None
        exported = f"{checkpoint.path}: the {part} exported to {_label(request.export_format)}"
        if actual.shape != expected_array.shape:
            raise ExportError(
                f"{exported} gives {list(actual.shape)} where torch gives {list(expected_array.shape)}; not written"
            )
        error_found = relative_error(actual, expected_array)
        if not error_found <= CHECK_TOLERANCE:  # also NaN
            raise ExportError(
                f"{exported} differs from torch by {error_found:.2g} (relative), more than {CHECK_TOLERANCE:g}; "
                "not written"
            )
    return ExportedPart(
        part,
        path,
        ("batch", *inputs.shape[1:]),
        ("batch", *expected_array.shape[1:]),
        float(error_found),
    )


def _write_graph(
    graph: torch.nn.Module,
    example: torch.Tensor,
    part: str,
    path: Path,
    export_format: str,
    checkpoint: Checkpoint,
) -> None:
    """Trace `graph` on `example` (batch 1) and write it to `path` with a dynamic batch axis."""
    if export_format == "torchscript":
        torch.jit.save(torch.jit.trace(graph, (example,)), str(path))
        return
    import onnx

    names = (INPUT_NAMES[part], OUTPUT_NAMES[part])
    torch.onnx.export(
        graph,
        (example,),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=[names[0]],
        output_names=[names[1]],
        dynamic_axes={name: {0: "batch"} for name in names},
    )
    proto = onnx.load(str(path))
    proto.doc_string = f"aea {part} of model {checkpoint.fingerprint}"
    for key, value in (
        ("aea_part", part),
        ("aea_model_fingerprint", checkpoint.fingerprint),
        ("aea_version", __version__),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _label(export_format: str) -> str:
    return "ONNX" if export_format == "onnx" else "TorchScript"


def _described(checkpoint: Checkpoint) -> str:
    model = checkpoint.config.model
    decoder = f", decoder {model.decoder}" if model.arch == "default" else ""
    return f"arch {model.arch}, {model.kind}{decoder}"


def _manifest(checkpoint: Checkpoint, request: ExportRequest, parts: list[ExportedPart]) -> dict[str, Any]:
    """`aea-export.json`: what a host needs to feed the graphs, and which model they are."""
    model, audio, config = checkpoint.model, checkpoint.config.audio, checkpoint.config.model
    layout = model.layout
    runtime = f"torch {torch.__version__}"
    if request.export_format == "onnx":
        import onnxruntime

        runtime = f"onnxruntime {onnxruntime.__version__}"
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "aea_version": __version__,
        "export_format": request.export_format,
        "opset": OPSET if request.export_format == "onnx" else None,
        "model_fingerprint": checkpoint.fingerprint,
        "model": {
            "arch": config.arch,
            "kind": config.kind,
            "decoder": config.decoder if config.arch == "default" else None,
            "description": model.arch_description,
            "checkpoint": checkpoint.path.name,
        },
        "sample_rate": audio.sample_rate,
        "clip_seconds": audio.clip_seconds,
        "clip_samples": audio.clip_samples,
        "mono": True,
        "latent": {
            "size": layout.size,
            "layout": [layout.channels, layout.frames],
            "unused": layout.unused,
            "frame_hop": model.frame_hop,
            "description": layout.describe(),
            "encoder_gives": "the mean" if model.variational else "the latent",
        },
        "parts": {
            part.part: {
                "file": part.path.name,
                "input": {"name": INPUT_NAMES[part.part], "shape": list(part.input_shape), "dtype": "float32"},
                "output": {"name": OUTPUT_NAMES[part.part], "shape": list(part.output_shape), "dtype": "float32"},
                "checked": {
                    "clips": CHECK_BATCH,
                    "relative_error": float(f"{part.relative_error:.3g}"),
                    "with": runtime,
                },
            }
            for part in parts
        },
    }
