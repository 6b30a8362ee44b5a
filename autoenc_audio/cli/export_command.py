"""`aea export`: a model's encoder and decoder as ONNX or TorchScript files, to run without aea."""

from __future__ import annotations

from pathlib import Path

import click

from .common import FolderPath, cache_dir_option, json_option, model_argument_or_option, model_option, print_json
from .params import NonEmptyPath


@click.command("export")
@click.argument("argument", metavar="[RUN]", required=False, type=NonEmptyPath(path_type=Path))
@model_option
@click.option(
    "-o",
    "--out",
    type=FolderPath(),
    required=True,
    help="Folder for the graphs and aea-export.json (made if missing; not a run folder). An earlier export there "
    "is replaced: files of the same names are overwritten, and the graphs its aea-export.json lists that this "
    "export does not write (another --part or --format) are removed.",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["onnx", "torchscript"]),
    default="onnx",
    show_default=True,
    help="onnx (onnxruntime, browsers, C++) or torchscript (torch.jit.load, nn~).",
)
@click.option(
    "--part",
    type=click.Choice(["encoder", "decoder", "both"]),
    default="both",
    show_default=True,
    help="Which part to export.",
)
@cache_dir_option
@json_option
def export(
    argument: Path | None,
    model: Path | None,
    out: Path,
    export_format: str,
    part: str,
    cache_dir: Path,
    as_json: bool,
) -> None:
    """Export the model's encoder and decoder as graphs that run without aea.

    RUN (or --model RUN) is a run folder or checkpoint [default: $AEA_MODEL,
    else the latest 'aea train' run]. The encoder takes audio [batch, clip samples] (float32,
    mono, at the model's sample rate) and gives the latent [batch, N] (a VAE's
    mean); the decoder does the reverse. The batch axis is free; the clip
    length is the model's. Each file is run with onnxruntime (or
    torch.jit.load) on test clips and must match torch to a relative 1e-4.
    OUT/aea-export.json gives the sample rate, clip length, latent size and
    layout, and the model's fingerprint. ONNX needs the export extra: pip
    install 'autoenc-audio[export]'. Using the files: docs/export.md.

    \b
    Examples:
      aea export runs/gtzan-9184 -o exported/
      aea export runs/gtzan-9184 -o exported/ --part decoder
      aea export -o exported-ts/ --format torchscript
      aea export --model runs/gtzan-9184/best.safetensors -o exported/
    """
    from ..export.write import PARTS, ExportRequest, export_model
    from ..latents.model import open_model

    checkpoint = open_model(model_argument_or_option(argument, model, cache_dir)[0], cache_dir, device="cpu")
    parts = PARTS if part == "both" else (part,)
    result = export_model(checkpoint, ExportRequest(out, export_format, parts))
    if not as_json:
        for path in result.removed:
            click.echo(f"removed {path} (the earlier export's, not written by this one)")
    for written in result.parts:
        shapes = f"[{', '.join(map(str, written.input_shape))}] -> [{', '.join(map(str, written.output_shape))}]"
        if as_json:
            print_json(
                {
                    "part": written.part,
                    "path": str(written.path),
                    "input_shape": list(written.input_shape),
                    "output_shape": list(written.output_shape),
                    "relative_error": written.relative_error,
                }
            )
        else:
            click.echo(f"wrote {written.path} ({written.part} {shapes}; matches torch to {written.relative_error:.1e})")
    if as_json:
        print_json(
            {
                "manifest": str(result.manifest),
                "model_fingerprint": checkpoint.fingerprint,
                "removed": [str(path) for path in result.removed],
            }
        )
    else:
        click.echo(f"wrote {result.manifest}")


COMMANDS = [export]
