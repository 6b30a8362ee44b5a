"""`aea explore`: a static page where the decoder runs live in the browser, to play with the latent space."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import counted
from .common import FolderPath, cache_dir_option, json_option, model_argument_or_option, model_option, print_json
from .params import NonEmptyPath


@click.command("explore")
@click.argument("run", metavar="[RUN]", required=False, type=NonEmptyPath(path_type=Path))
@model_option
@click.option(
    "-o",
    "--out",
    type=FolderPath(),
    required=True,
    help="Folder for the site (made; new, empty, or an earlier page with --overwrite).",
)
@click.option(
    "--data",
    "data_root",
    type=NonEmptyPath(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Dataset the clips and statistics come from [default: the run's own data].",
)
@click.option("--clips", type=int, default=64, show_default=True, help="Clips on the page, spread over labels.")
@click.option(
    "--pieces",
    type=int,
    default=4,
    show_default=True,
    help="Pieces from the run's prior, when it has one (seeds 0, 1, ...); 0 leaves them out.",
)
@click.option(
    "--piece-seconds",
    type=float,  # the library refuses NaN, infinity and too short, naming its minimum
    default=10.0,
    show_default=True,
    help="Length of each piece from the prior (at least 0.1).",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace an earlier page in OUT (a folder holding anything else is refused)."
)
@cache_dir_option
@json_option
def explore(
    run: Path | None,
    model: Path | None,
    out: Path,
    data_root: Path | None,
    clips: int,
    pieces: int,
    piece_seconds: float,
    overwrite: bool,
    cache_dir: Path,
    as_json: bool,
) -> None:
    """Write a static page that decodes latents live in the browser.

    The page lists clips of the dataset (test split first) on a 2-D PCA map,
    plays each original beside its decoding, moves along the first 8
    principal directions, averages and morphs songs, and decodes random
    vectors, all with the decoder exported to ONNX running in onnxruntime-web
    (vendored; nothing is fetched). When the run has a prior (aea
    train-prior), a few pieces it made (as aea generate --mode random does)
    play there too. Open OUT/index.html by double-click, or
    serve the folder: python -m http.server -d OUT. OUT/index.html?selftest
    checks the browser's decoding against torch's. Details: docs/explore.md.

    \b
    Examples:
      aea explore runs/gtzan-18376 -o site/
      aea explore --model runs/demo -o site/ --clips 16 --overwrite
      aea explore runs/demo -o site/ --pieces 8 --piece-seconds 20
      aea explore runs/gtzan-18376 -o site/ --data music/ --json
    """
    from ..explore.content import ExploreRequest
    from ..explore.site import build_site
    from ..explore.vendoring import runtime_files
    from ..latents.model import open_model

    runtime_files()  # before loading a model: a missing runtime is said at once
    request = ExploreRequest(clips=clips, pieces=pieces, piece_seconds=piece_seconds)
    checkpoint = open_model(model_argument_or_option(run, model, cache_dir)[0], cache_dir, device="cpu")
    result = build_site(checkpoint, out, cache_dir, data_root, request, overwrite)
    if as_json:
        print_json(
            {
                "page": str(result.page),
                "bytes": result.size,
                "files": result.files,
                "clips": len(result.manifest["clips"]),
                "prior_pieces": len(result.manifest["prior"]["pieces"]),
            }
        )
    else:
        pieces_made = len(result.manifest["prior"]["pieces"])
        made = f", {counted(pieces_made, 'piece')} from the prior" if pieces_made else ""
        click.echo(
            f"wrote {result.page} ({counted(len(result.manifest['clips']), 'clip')}{made}, "
            f"{counted(result.files, 'file')}, "
            f"{result.size / 1e6:.1f} MB)"
        )


COMMANDS = [explore]
