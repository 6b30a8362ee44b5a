"""The whole pipeline on the built-in corpus in one call: what `aea demo` (and `make demo`) runs.

Train on the corpus, then reconstruct a held-out song, generate (an average
of one style, a random sample, an interpolation between two held-out songs),
draw the figures and write the explore page (`aea explore`, when its browser
runtime is vendored), with the same library calls the commands use, so the
demo's files are what `aea reconstruct --save-input --plot` and `aea
generate` would write.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoints.checkpoint import Checkpoint, load_checkpoint
from .config import AudioConfig, Config
from .data import DatasetError, Progress, builtin_corpus, prepare_dataset, scan_folder, summarize_scan
from .files import write_text_atomic
from .generation.requests import GenerateRequest, find_prior, generate_pieces
from .generation.writing import write_pieces
from .latents.outputs import Written
from .latents.plotting import plot_reconstruction
from .latents.reconstruct import reconstruct_inputs
from .pages.report import SCORE_CLIPS, score_generation
from .plots.history import plot_history
from .prior.store import Prior
from .prior.train import PriorReporter, train_prior
from .runs.folder import RunError, RunFiles, checkpoint_in, iterate_history, record_latest_run
from .scoring.score_sets import ScoreError
from .training.loop import train
from .training.run import Reporter

DEMO_SECONDS = 20.0
EXPLORE_CLIPS = 24
EXPLORE_PIECES = 2
"""The demo's explore page: fewer clips and pieces than `aea explore`'s 64 and 4, to keep `make demo` short."""


@dataclass
class DemoResult:
    """What the demo wrote under `run_dir`: the run, the held-out reconstruction, generated audio, figures."""

    run_dir: Path
    training: dict[str, Any]
    held_out: str
    reconstruction: Written
    audio: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    score: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    page: str | None = None
    explore: str | None = None


def run_demo(
    config: Config,
    run_dir: Path,
    cache_dir: Path,
    reporter: Reporter | None = None,
    corpus_progress: Progress | None = None,
    on_corpus: Callable[[Path, dict[str, Any]], None] | None = None,
    overwrite: bool = False,
    prior_reporter: PriorReporter | None = None,
) -> DemoResult:
    """Build the built-in corpus, train `config` on it into `run_dir`, then reconstruct, generate and plot there.

    A `run_dir` that already holds a run is replaced only with `overwrite`
    (RunError otherwise, before any work), so a demo never destroys a model.

    `on_corpus(folder, summary)` is called once the corpus is ready, before
    training (`summary` as `data.summarize_scan`). The held-out song is the
    first test track (validation when the split has no test tracks), its
    centre clip; the interpolation morphs from it to the second one.
    """
    if not overwrite and RunFiles(Path(run_dir)).holds_run:
        raise RunError(
            f"{run_dir} already holds a run: give another run_dir, or replace it with overwrite=True",
            settings=("run_dir", "overwrite=True"),
        )
    corpus = builtin_corpus(cache_dir, config.data, progress=corpus_progress)
    if on_corpus is not None:
        on_corpus(corpus, summarize_scan(scan_folder(corpus), config.audio, config.data))
    training = train(config, run_dir, cache_dir, data_root=corpus, reporter=reporter, overwrite=overwrite)
    record_latest_run(cache_dir, run_dir)
    checkpoint = load_checkpoint(checkpoint_in(run_dir))
    prepared = prepare_dataset(corpus, config.audio, config.data, cache_dir)
    held_out = [str(track.path) for track in prepared.held_out.index.tracks[:2]]
    if not held_out:
        raise DatasetError(
            f"{corpus}: the split leaves no test or validation track to reconstruct; "
            "raise data.corpus_tracks or the test fraction"
        )

    written = reconstruct_inputs(
        checkpoint, held_out[:1], str(run_dir / "reconstruction.wav"), crop="center", save_input=True
    )[0]
    write_text_atomic(
        run_dir / "reconstruction.json",
        json.dumps(
            {"source": written.source, "offset_seconds": written.offset_seconds, **(written.metrics or {})}, indent=2
        )
        + "\n",
    )
    result = DemoResult(
        run_dir, training, held_out[0], written, audio=[p for p in (written.input_path, written.path) if p]
    )
    result.figures.append(
        str(plot_reconstruction(checkpoint, written, held_out[0], title=f"held-out {Path(held_out[0]).name}"))
    )
    result.figures.append(str(plot_history([(run_dir.name, list(iterate_history(run_dir)))], run_dir / "history.png")))

    train_prior(checkpoint, run_dir, config.prior, cache_dir, reporter=prior_reporter, overwrite=True)
    prior = find_prior(checkpoint, None)  # loaded once: every piece below walks over it
    generated = generate_demo_audio(checkpoint, run_dir, held_out, cache_dir, corpus, prior)
    result.audio += [record["path"] for record in generated]
    try:
        result.score = score_demo(checkpoint, run_dir, cache_dir, prior)
    except ScoreError as error:  # a corpus too small for 5-second held-out clips (the tiny preset)
        result.notes.append(f"score skipped: {error}")
    explore, note = demo_explore(checkpoint, run_dir, cache_dir, corpus)
    result.explore = str(explore) if explore else None
    result.notes += [note] if note else []
    result.page = str(demo_page(result, generated, config.audio))
    return result


def demo_explore(
    checkpoint: Checkpoint, run_dir: Path, cache_dir: Path, corpus: Path
) -> tuple[Path | None, str | None]:
    """RUN/explore/index.html: `aea explore`'s page of the demo model (its clips, its prior's pieces); or None and
    a one-line note when the browser runtime is not vendored (a source tree without `make vendor`)."""
    from .explore.content import ExploreRequest
    from .explore.site import build_site
    from .explore.vendoring import VendorError, runtime_files

    try:
        runtime_files()
    except VendorError as error:
        return None, f"explore page skipped: {error}"
    request = ExploreRequest(clips=EXPLORE_CLIPS, pieces=EXPLORE_PIECES)
    return build_site(checkpoint, run_dir / "explore", cache_dir, corpus, request, overwrite=True).page, None


def demo_page(result: DemoResult, generated: list[dict[str, Any]], audio: AudioConfig) -> Path:
    """RUN/index.html: the run page of what the demo wrote (curves, the held-out clip, generated pieces, score),
    with the sample rate and clip length that make its latent size readable, as `aea report` shows them."""
    from .pages.run import HeldOutClip, RunSection, write_run_page

    written = result.reconstruction
    clip = HeldOutClip(
        Path(result.held_out).parent.name,
        result.held_out,
        written.input_path,
        written.path,
        result.figures[0] if result.figures else None,
        written.metrics or {},
    )
    history = result.run_dir / "history.png"
    section = RunSection(
        result.run_dir.name,
        result.training,
        str(history) if history.is_file() else None,
        [clip],
        generated,
        result.score or None,
        list(result.notes),
        result.explore,
        sample_rate=audio.sample_rate,
        clip_seconds=audio.clip_seconds,
    )
    return write_run_page([section], result.run_dir / "index.html", title="aea demo")


def generate_demo_audio(
    checkpoint: Checkpoint,
    run_dir: Path,
    held_out: list[str],
    cache_dir: Path,
    corpus: Path,
    prior: Prior | None = None,
) -> list[dict[str, Any]]:
    """random.wav (20 s), continue.wav (a held-out song's opening, continued), average-<label>.wav (a label's
    style), interpolation.wav (one held-out song morphing into another), each with a sidecar."""
    requests = [
        (GenerateRequest("random", seconds=DEMO_SECONDS, seed=0), "random.wav"),
        (GenerateRequest("continue", seconds=DEMO_SECONDS, seed=0, sources=(held_out[0],), offset=0.0), "continue.wav"),
    ]
    if checkpoint.labels:
        label = checkpoint.labels[0]
        requests.append((GenerateRequest("average", seconds=DEMO_SECONDS, seed=0, label=label), f"average-{label}.wav"))
    if len(held_out) == 2:
        requests.append(
            (GenerateRequest("interpolate", sources=tuple(held_out), steps=5, morph=True), "interpolation.wav")
        )
    written = []
    for request, name in requests:
        pieces = generate_pieces(
            checkpoint, dataclasses.replace(request, cache_dir=cache_dir, data_root=corpus), prior=prior
        ).pieces
        written += write_pieces(checkpoint, pieces, str(run_dir / name), request.mode)
    return written


def score_demo(
    checkpoint: Checkpoint, run_dir: Path, cache_dir: Path, prior: Prior | None = None
) -> list[dict[str, Any]]:
    """`aea score` of 16 prior pieces and 16 Gaussian ones (5 s each) against the held-out clips; in score.json."""
    rows = score_generation(checkpoint, run_dir / "samples", cache_dir, SCORE_CLIPS, prior)
    write_text_atomic(run_dir / "score.json", json.dumps(rows, indent=2) + "\n")
    return rows
