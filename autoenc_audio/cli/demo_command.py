"""`aea demo`: the whole pipeline on the built-in corpus, for `make demo`."""

from __future__ import annotations

import json
from pathlib import Path

import click
import torch

from ..audio import load_clip, write_audio, write_text_atomic
from ..checkpoint import load_checkpoint
from ..config import load_config
from ..data import builtin_corpus, prepare_dataset, scan_folder, summarize_scan
from ..generate import average, interpolate, sample_random, write_generated
from ..latents import reconstruct_clips, reconstruction_metrics
from ..plots import plot_compare, plot_history
from ..runs import record_latest_run
from ..train import iterate_history, train as run_training
from .common import cache_dir_option, print_table, progress_bar
from .train_commands import ConsoleReporter


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"), show_default=True,
              help="Folder for the run and its outputs.")
@click.option("--config", "config_file", default="demo", show_default=True, help="Config file or preset name.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=None, help="Training budget [default: the config's].")
@cache_dir_option
def demo(out: Path, config_file: str, minutes: float | None, cache_dir: Path) -> None:
    """Build the built-in corpus, train a model on it, reconstruct, generate and plot.

    Writes under --out: the run (checkpoints, history, summary), a held-out
    clip and its reconstruction with metrics, an average of one style, a random
    sample, an interpolation between two held-out songs, and figures.

    \b
    Example:
      aea demo --out runs/demo --minutes 1
    """
    config = load_config(config_file).with_budget(minutes, None)
    with progress_bar("building the built-in corpus") as bar:
        corpus = builtin_corpus(cache_dir, config.data, progress=bar)
    summary = summarize_scan(scan_folder(corpus), config.audio, config.data)
    rows = [(label, str(r["tracks"]), str(r["clips"]), f"{r['seconds'] / 60:.1f}") for label, r in sorted(summary["labels"].items())]
    print_table(f"built-in corpus: {corpus}", rows, ("label", "tracks", "clips", "minutes"))

    click.echo(f"training {config.model.arch} model, latent {config.model.latent}, for "
               f"{config.train.minutes or '?'} min into {out}", err=True)
    result = run_training(config, out, cache_dir, data_root=corpus, reporter=ConsoleReporter(), overwrite=True)
    record_latest_run(cache_dir, out)

    checkpoint = load_checkpoint(out / "best.safetensors")
    prepared = prepare_dataset(corpus, config.audio, config.data, cache_dir)
    held_out_split = prepared.splits["test"] if len(prepared.splits["test"]) else prepared.splits["validation"]
    held_out = held_out_split.index.tracks[0]
    clip = load_clip(held_out.path, config.audio, "center")
    original = torch.from_numpy(clip.samples).view(1, 1, -1)
    reconstruction = reconstruct_clips(checkpoint.model, original)
    metrics = reconstruction_metrics(original, reconstruction, config.audio.sample_rate)
    write_audio(out / "original.wav", clip.samples, config.audio.sample_rate)
    write_audio(out / "reconstruction.wav", reconstruction[0, 0].numpy(), config.audio.sample_rate)
    write_text_atomic(out / "reconstruction.json", json.dumps({"source": str(held_out.path), "offset_seconds": clip.offset_seconds, **metrics}, indent=2) + "\n")

    plot_compare(original[0, 0], reconstruction[0, 0], config.audio.sample_rate, metrics, out / "compare.png",
                 title=f"held-out {held_out.path.name}: original vs reconstruction")
    plot_history([(out.name, list(iterate_history(out)))], out / "history.png")

    label = checkpoint.labels[0] if checkpoint.labels else None
    if label is not None:
        write_generated(checkpoint, average(checkpoint, label=label, data_root=corpus, cache_dir=cache_dir),
                        str(out / f"average-{label}.wav"))
    write_generated(checkpoint, sample_random(checkpoint, n=1, seed=0), str(out / "random.wav"))
    ends = [str(t.path) for t in held_out_split.index.tracks[:2]]
    if len(ends) == 2:
        write_generated(checkpoint, interpolate(checkpoint, ends, steps=5, morph=True), str(out / "interpolation.wav"))

    rows = [("run", str(out)), ("latent", result["latent_layout"]),
            ("train time", f"{result['wall_seconds']:.0f} s, {result['epochs']} epochs")]
    rows += [(f"held-out {k}", f"{v:.3f}") for k, v in metrics.items()]
    rows += [("audio", "original.wav, reconstruction.wav, random.wav, interpolation.wav"
                       + (f", average-{label}.wav" if label else "")),
             ("figures", "compare.png, history.png"),
             ("model", "best.safetensors, last.safetensors, history.jsonl, summary.json")]
    print_table(f"demo: reconstruction of held-out {held_out.path.name}", rows, ("what", "value"))


COMMANDS = [demo]
