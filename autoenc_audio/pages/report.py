"""`aea report`: one page for trained runs, to listen and look (the run page of issue #16).

Per run: its training curves; for each label, the centre clip of its first
held-out track (test split, else validation) of the data the checkpoint was
trained on (none, saying why, when that data is not here), reconstructed, with both
spectrograms and the metrics; when the run has a prior, two new pieces and
`aea score` of 16 prior and 16 Gaussian pieces (scored in a temporary folder,
not kept: the page does not play them); and the generated files and
`score.json` the run folder already holds, in sub-folders too (what `make
demo` writes, or `aea generate -o RUN/gen/`; a held score is then shown
instead), but not pieces whose sidecar names other weights than the run's.
What was skipped, and why, is a note on the page and in the result. Audio
lands in the page's folder (`OUT/RUN-NAME/`) in `audio_format`, so the page
is self-contained; running it again replaces it.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audio import read_frames, write_audio
from ..checkpoints.checkpoint import Checkpoint, load_checkpoint
from ..checkpoints.header import run_fingerprints
from ..data import prepare_dataset
from ..errors import ClippingWarning, InputError, counted
from ..files import make_folder
from ..latents.plotting import plot_reconstruction
from ..latents.reconstruct import reconstruct_inputs
from ..mixing import to_mono
from ..plots.history import plot_history
from ..prior.header import PriorError, prior_path
from ..prior.store import Prior
from ..runs.folder import RunFiles, checkpoint_in, iterate_history
from .folders import drop_earlier_pages, page_start, refuse_page_folder, refuse_run_folder
from .run import REPORT_TITLE, HeldOutClip, RunSection, write_run_page

if TYPE_CHECKING:
    from ..scoring.score_sets import TooFewClips

AUDIO_FORMATS = ("mp3", "flac", "wav")
GENERATED_SECONDS = 10.0
SCORE_CLIPS = 16
"""Pieces per set a report or the demo scores: fewer than a bench's 32, so its c2st and fd are rougher."""


class ReportError(InputError):
    """A run that cannot be reported (no checkpoint, two runs of one name)."""


@dataclass(frozen=True)
class ReportRequest:
    runs: tuple[Path, ...]
    out: Path
    cache_dir: Path
    audio_format: str = "mp3"
    clips_per_label: int = 1
    generate: bool = True


@dataclass(frozen=True)
class ReportResult:
    """The page written, and what it skipped and why, one line each ("RUN: score skipped ...: why")."""

    page: Path
    notes: tuple[str, ...] = ()


def held_out_data(checkpoint: Checkpoint, cache_dir: Path) -> tuple[Path | None, str | None]:
    """The data folder whose held-out tracks the page shows (`trained_data_root`: the one the checkpoint was
    trained on, so that a checkpoint shared alone is not shown on other audio), else None and why."""
    from ..scoring.score_sets import TrainedDataGone, trained_data_root

    try:
        return trained_data_root(checkpoint.path, cache_dir), None
    except TrainedDataGone as gone:
        return None, (
            f"held-out clips skipped: the data this model was trained on, {gone.root}, is not here; run aea report "
            "where that path leads to it (a relative path is taken from the current folder), or put the data there"
        )


def held_out_tracks(checkpoint: Checkpoint, root: Path, cache_dir: Path, per_label: int) -> list[tuple[str, str]]:
    """(label, path) of the first `per_label` held-out tracks of each label of `root` (test split, else
    validation), split as the checkpoint's data settings split it."""
    config = checkpoint.config
    prepared = prepare_dataset(root, config.audio, config.data, cache_dir)
    chosen: dict[str, list[str]] = {}
    for track in prepared.held_out.index.tracks:
        label = str(track.label)  # as a page shows it: "None" for an unlabelled track
        if len(chosen.setdefault(label, [])) < per_label:
            chosen[label].append(str(track.path))
    return [(label, path) for label in sorted(chosen) for path in chosen[label]]


def _held_out_clips(checkpoint: Checkpoint, tracks: list[tuple[str, str]], folder: Path, fmt: str) -> list[HeldOutClip]:
    clips = []
    for number, (label, source) in enumerate(tracks):
        target = folder / f"{number:02d}-{label}.{fmt}"
        written = reconstruct_inputs(checkpoint, [source], str(target), crop="center", save_input=True)[0]
        picture = plot_reconstruction(checkpoint, written, source, title=f"{label}: {Path(source).name}")
        clips.append(HeldOutClip(label, source, written.input_path, written.path, str(picture), written.metrics or {}))
    return clips


def _new_pieces(checkpoint: Checkpoint, prior: Prior | None, folder: Path, fmt: str) -> list[dict[str, Any]]:
    """Two 10 s pieces from the run's prior (seed 0; None: the one beside the checkpoint)."""
    from ..generation.requests import GenerateRequest, generate_pieces
    from ..generation.writing import write_pieces

    pieces = generate_pieces(
        checkpoint, GenerateRequest("random", "prior", GENERATED_SECONDS, 2, seed=0), prior=prior
    ).pieces
    return write_pieces(checkpoint, pieces, str(folder / f"random.{fmt}"), "random")


def score_generation(
    checkpoint: Checkpoint, folder: Path, cache_dir: Path, clips: int = SCORE_CLIPS, prior: Prior | None = None
) -> list[dict[str, Any]]:
    """`aea score` rows of `clips` prior pieces and as many Gaussian ones (5 s, seed 100, written under `folder`)
    against the held-out clips of the model's data; ScoreError when the data has too few held-out clips, and then
    the pieces written are removed again (no set of pieces stays behind unscored). `prior`: the run's prior already
    loaded (else it is read from the run folder)."""
    from ..generation.requests import GenerateRequest, generate_pieces
    from ..generation.writing import write_pieces
    from ..scoring.score_sets import ScoreError, TooFewClips, score_sets

    folders, written = {}, []
    made = [path for path in (folder, folder / "prior", folder / "gaussian") if not path.exists()]
    try:
        for method in ("prior", "gaussian"):
            folders[method] = folder / method
            pieces = generate_pieces(
                checkpoint, GenerateRequest("random", method, 5.0, n=clips, seed=100), prior=prior
            ).pieces
            written += write_pieces(checkpoint, pieces, str(folders[method]) + "/", "random", sidecar=False)
        report = score_sets(list(folders.values()), checkpoint=checkpoint.path, cache_dir=cache_dir, clips=clips)
    except ScoreError as error:
        for record in written:
            Path(record["path"]).unlink(missing_ok=True)
        for path in reversed(made):  # the folders this call made, innermost first, when nothing else is in them
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        if isinstance(error, TooFewClips):
            raise ScoreError(no_fewer_clips_advice(error, checkpoint.path)) from None
        raise
    names = {str(path): f"random ({method})" for method, path in folders.items()}
    return [{**row.__dict__, "name": names.get(row.name, row.name)} for row in report.rows]


def no_fewer_clips_advice(error: TooFewClips, checkpoint: str | Path) -> str:
    """`error`'s message for a report or the demo: they have no option for fewer clips (`aea score` has `--clips`,
    `aea.score` has `clips=`), so the advice is what helps them, and which command can score on fewer."""
    from ..scoring.score_sets import MIN_CLIPS

    advice = f"{error.found}; {error.clips} are needed ({error.remedy}"
    if error.count < MIN_CLIPS:
        return f"{advice}; no score takes fewer than {MIN_CLIPS})"
    return (
        f"{advice}; aea report and the demo score {error.clips} pieces a set, with no option for fewer; "
        f"aea score --model {checkpoint} --clips N scores generated pieces on {MIN_CLIPS} to {error.count})"
    )


def copied_generated_files(
    run_dir: Path, folder: Path, fmt: str, fingerprints: set[str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The generated files the run folder holds, in it or in a sub-folder (`aea generate -o RUN/gen/`): an audio file
    with a sidecar that names a mode, copied in `fmt` as `run-<path under the run, '/' as '-'>`; and, left out, those
    whose sidecar names weights other than `fingerprints` (the run's checkpoints': the run was trained again since,
    or copied from another run with its pieces): they are not this model's sound. Paths under the run."""
    records: list[dict[str, Any]] = []
    others: list[str] = []
    report = folder.parent.resolve()  # an earlier report written inside the run is not the run's
    for sidecar in sorted(run_dir.rglob("*.json")):
        if sidecar.resolve().is_relative_to(report):
            continue
        try:
            record = json.loads(sidecar.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        audio = next(
            (
                sidecar.with_suffix(ext)
                for ext in (".wav", ".flac", ".mp3", ".ogg")
                if sidecar.with_suffix(ext).is_file()
            ),
            None,
        )
        if not isinstance(record, dict) or "mode" not in record or audio is None:
            continue
        if fingerprints and record.get("model_fingerprint") not in (None, *fingerprints):
            others.append(audio.relative_to(run_dir).as_posix())
            continue
        copy = _unused(folder / f"run-{'-'.join(audio.relative_to(run_dir).with_suffix('').parts)}.{fmt}", records)
        samples, rate = read_frames(audio)
        write_audio(copy, to_mono(samples), rate)
        records.append({**record, "path": str(copy)})
    return records, others


def other_weights_note(others: list[str]) -> str:
    """What a page says of the generated files it left out (`copied_generated_files`): how many, the first few."""
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    return (
        f"{counted(len(others), 'generated file')} left out, made by other weights than this run's checkpoints: "
        f"{shown}; generate them again with this model to show them"
    )


def _unused(copy: Path, records: list[dict[str, Any]]) -> Path:
    """`copy`, or `copy` with `-2`, `-3`, ... when an earlier record took its name (`gen/a.wav` and `gen-a.wav`)."""
    taken, candidate, number = {record["path"] for record in records}, copy, 1
    while str(candidate) in taken:
        number += 1
        candidate = copy.with_name(f"{copy.stem}-{number}{copy.suffix}")
    return candidate


def run_section(run: Path, folder: Path, request: ReportRequest) -> RunSection:
    """Everything the page shows of one run (a run folder, or one checkpoint of it), its files written into `folder`."""
    checkpoint = load_checkpoint(checkpoint_in(run))
    run_dir = Path(checkpoint.path).parent
    make_folder(folder)
    summary, unfinished = run_summary(checkpoint, run_dir)
    audio = checkpoint.config.audio
    section = RunSection(run_dir.name, summary, sample_rate=audio.sample_rate, clip_seconds=audio.clip_seconds)
    section.notes += [unfinished] if unfinished else []
    explore = run_dir / "explore" / "index.html"  # what make demo (or aea explore RUN -o RUN/explore) writes
    section.explore = str(explore) if explore.is_file() else None
    history = list(iterate_history(run_dir))
    if history:
        section.history_figure = str(plot_history([(run_dir.name, history)], folder / "history.png"))
    root, missing = held_out_data(checkpoint, request.cache_dir)
    if root is None:
        section.notes.append(str(missing))
        section.clips_missing = "see the note above"
    else:
        tracks = held_out_tracks(checkpoint, root, request.cache_dir, request.clips_per_label)
        section.clips = _held_out_clips(checkpoint, tracks, folder, request.audio_format)
    fingerprints = run_fingerprints(run_dir) | {checkpoint.fingerprint}  # best, last, or the checkpoint given
    section.generated, others = copied_generated_files(run_dir, folder, request.audio_format, fingerprints)
    if others:
        section.notes.append(other_weights_note(others))
    score = run_dir / "score.json"
    if score.is_file():
        section.score = _json_file(score)
    if request.generate and prior_path(run_dir).exists():
        _add_prior_pieces(section, checkpoint, folder, request)
    return section


def run_summary(checkpoint: Checkpoint, run_dir: Path) -> tuple[dict[str, Any], str | None]:
    """What the page says of the model and its training: the run's summary.json, else the summary a finished run
    stored in its checkpoints; else (training still running, or stopped, or the checkpoint copied alone) the
    model's architecture and latent from the checkpoint itself, and a note saying there is no summary yet."""
    summary_file = RunFiles(run_dir).summary
    if summary_file.is_file():
        return _json_file(summary_file), None
    info = dict(checkpoint.info or {})
    if isinstance(info.get("summary"), dict):
        return dict(info["summary"]), None
    config, model = checkpoint.config, checkpoint.model
    facts = {
        "arch": config.model.arch,
        "kind": config.model.kind,
        "latent_size": model.latent_size,
        "latent_layout": model.layout.describe(),
        "parameters": info.get("parameters"),
        "epochs": info.get("epoch"),
        "data": info.get("data"),
    }
    alone = not RunFiles(run_dir).run.is_file() and not RunFiles(run_dir).history.is_file()
    why = "a checkpoint on its own, without its run folder" if alone else "training is in progress or was stopped"
    saved = f", saved after epoch {info['epoch']}" if info.get("epoch") else ""
    return facts, f"no summary yet ({why}): no test metrics; the facts come from {Path(checkpoint.path).name}{saved}"


def _add_prior_pieces(section: RunSection, checkpoint: Checkpoint, folder: Path, request: ReportRequest) -> None:
    """Two new pieces and, unless the run holds its own score, `aea score` of the prior; a note saying which was
    skipped and why when one cannot be made. The scored pieces are written to a temporary folder and not kept."""
    from ..generation.requests import find_prior
    from ..scoring.score_sets import ScoreError

    try:
        prior = find_prior(checkpoint, None)  # loaded once for the pieces and the score
        section.generated += _new_pieces(checkpoint, prior, folder, request.audio_format)
    except PriorError as error:  # a prior of another model
        section.notes.append(f"new pieces and score of the prior skipped: {error}")
        return
    if section.score is not None:
        return
    try:
        with tempfile.TemporaryDirectory(prefix=".aea-score-", dir=folder) as scored, warnings.catch_warnings():
            warnings.simplefilter("ignore", ClippingWarning)  # files no one hears, removed after scoring
            section.score = score_generation(checkpoint, Path(scored), request.cache_dir, prior=prior)
    except ScoreError as error:  # too few held-out 5 s clips in the run's data
        section.notes.append(f"score skipped: {error}")


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ReportError(f"{path}: not readable JSON ({error})") from None


def write_report(request: ReportRequest) -> ReportResult:
    """`OUT/index.html` for `request.runs`, their files in `OUT/<run name>/`; what each run's section skipped.
    Refused before any work: an OUT (or `OUT/<run name>`) that is a run folder, or that holds an `index.html`
    `aea report` did not write (an earlier report's page is replaced)."""
    if request.audio_format not in AUDIO_FORMATS:
        raise ReportError(
            f"audio_format must be one of {', '.join(AUDIO_FORMATS)}, got {request.audio_format!r}",
            settings=("audio_format",),
        )
    names = [(Path(run) if Path(run).is_dir() else Path(run).parent).resolve().name for run in request.runs]
    if len(set(names)) != len(names):
        raise ReportError(
            f"two runs share the folder name {sorted(n for n in names if names.count(n) > 1)[0]!r}; "
            "report them separately"
        )
    out = Path(request.out)
    refuse_page_folder(out, REPORT_TITLE, {"index.html": page_start(REPORT_TITLE)})  # before any work
    for name in names:
        refuse_run_folder(out / name, f", where the page would put the files of run {name!r}")
    drop_earlier_pages(out, ("index.html",))
    sections = [run_section(Path(run), out / name, request) for run, name in zip(request.runs, names)]
    page = write_run_page(sections, out / "index.html")
    return ReportResult(page, tuple(f"{section.name}: {note}" for section in sections for note in section.notes))
