"""`aea synth` and `aea data ...`: the built-in corpus and folder datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import counted
from .common import FolderPath, audio_options, cache_dir_option, json_option, print_json, print_table, progress_bar
from .params import POSITIVE, SEED, FiniteFloat, NonEmptyPath


@click.command()
@click.argument("out", type=FolderPath())
@click.option("--tracks", type=click.IntRange(min=1), default=200, show_default=True, help="Number of tracks.")
@click.option(
    "--seconds",
    type=FiniteFloat(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Length of each track.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Same seed, byte-identical files.")
@click.option("--overwrite", is_flag=True, help="Replace a corpus of other settings that the folder already holds.")
@json_option
def synth(out: Path, tracks: int, seconds: float, seed: int, overwrite: bool, as_json: bool) -> None:
    """Write the built-in synthetic music corpus in the GTZAN layout (style/style.00000.wav).

    A folder that holds other audio is refused: the corpus would train mixed with it; so is one holding a corpus
    of other settings (tracks, seconds, seed), unless --overwrite replaces it. --json prints one line per file
    written.

    \b
    Example:
      aea synth corpus/ --tracks 50 --seconds 30 && aea data scan corpus/
    """
    from ..synth.corpus import corpus_differs, existing_corpus, foreign_audio, remove_corpus, write_corpus

    existing = existing_corpus(out)
    replaced = existing if corpus_differs(existing, tracks, seconds, seed) else None
    if replaced is not None and not overwrite:
        wanted = _describe_corpus({"tracks": tracks, "seconds": seconds, "seed": seed})
        raise click.UsageError(
            f"{out}: holds a corpus of {_describe_corpus(replaced)}, not {wanted}: give --overwrite to replace it, "
            f"or choose a new folder"
        )
    if others := foreign_audio(out, tracks, replaced if overwrite else None):
        raise click.UsageError(
            f"{out}: holds {counted(len(others), 'audio file')} that this corpus would not "
            f"write ({others[0]}{', ...' if len(others) > 1 else ''}): choose a new folder, or empty this one"
        )
    if replaced is not None:
        remove_corpus(out, replaced)
    with progress_bar("writing corpus") as bar:
        paths = write_corpus(out, tracks=tracks, seconds=seconds, seed=seed, progress=bar)
    if as_json:
        for path in paths:
            print_json({"path": str(path), "label": path.parent.name, "seconds": seconds})
    else:
        click.echo(f"wrote {counted(len(paths), 'track')} of {seconds:g} s to {out}")


def _describe_corpus(settings: dict[str, Any]) -> str:
    """ "12 tracks of 3 s, seed 0", or "3 s tracks" when the folder's corpus records only its files' length."""
    if "tracks" not in settings:
        return f"{float(settings['seconds']):g} s tracks"
    return f"{counted(int(settings['tracks']), 'track')} of {float(settings['seconds']):g} s, seed {settings['seed']}"


@click.group()
def data() -> None:
    """Inspect and prepare folder datasets.

    \b
    Example:
      aea data scan ~/music/genres
    """


@data.command()
@click.argument("folder", type=NonEmptyPath(path_type=Path))
@audio_options
@click.option("--hop-seconds", type=POSITIVE, default=None, help="Hop between clips [default: clip length].")
@click.option("--cache", "build_cache", is_flag=True, help="Also decode every track into the preprocessing cache.")
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Decoding processes for --cache."
)
@cache_dir_option
@json_option
def scan(
    folder: Path,
    sample_rate: int | None,
    clip_seconds: float | None,
    hop_seconds: float | None,
    build_cache: bool,
    workers: int,
    cache_dir: Path,
    as_json: bool,
) -> None:
    """Count tracks, clips, labels and duration per label of a folder.

    Labels are sub-folders (GTZAN: genres/jazz/jazz.00042.wav is 'jazz').

    \b
    Example:
      aea data scan genres/ --json | jq .labels
    """
    from ..config import AudioConfig, DataConfig
    from ..data import TrackCache, fill_cache, scan_folder, summarize_scan

    given: dict[str, Any] = {"sample_rate": sample_rate, "clip_seconds": clip_seconds}
    audio = AudioConfig(**{k: v for k, v in given.items() if v is not None})  # 0 is refused, not the default
    scan_result = scan_folder(folder)
    for path, reason in scan_result.skipped:
        click.echo(f"aea: skipped {path}: {reason}", err=True)
    summary = summarize_scan(scan_result, audio, DataConfig(hop_seconds=hop_seconds))
    if build_cache:
        with progress_bar("decoding") as bar:
            failures = fill_cache(TrackCache(cache_dir, audio), scan_result.tracks, workers, bar)
        for path, reason in failures:
            click.echo(f"aea: skipped {path}: {reason}", err=True)
        summary["cache"] = {"folder": str(cache_dir), "failed": len(failures)}
    if as_json:
        print_json(summary)
        return
    rows = [
        (label, str(row["tracks"]), str(row["clips"]), f"{row['seconds'] / 60:.1f}")
        for label, row in sorted(summary["labels"].items())
    ]
    rows.append(("total", str(summary["tracks"]), str(summary["clips"]), f"{summary['seconds'] / 60:.1f}"))
    print_table(
        f"{folder}  ({audio.clip_seconds:g} s clips at {audio.sample_rate} Hz)",
        rows,
        ("label", "tracks", "clips", "minutes"),
    )
    if scan_result.skipped:
        click.echo(f"{counted(len(scan_result.skipped), 'unreadable file')} skipped")


COMMANDS = [synth, data]
