"""docs/export.md's examples run as written, without aea or torch, against a tiny exported model, and give aea's latents."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from doc_examples import python_blocks, run_blocks

from autoenc_audio.audio import load_track
from autoenc_audio.checkpoints.checkpoint import load_checkpoint
from autoenc_audio.export.runtime import relative_error
from autoenc_audio.export.write import ExportRequest, export_model

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "export.md"
SETTINGS = ('EXPORTED = Path("exported")', 'SONG = "song.wav"')  # what the page tells readers to change


def test_the_examples_need_neither_aea_nor_torch():
    blocks = python_blocks(PAGE)
    assert len(blocks) >= 4, "the page lost its examples (or this test's pattern no longer finds them)"
    assert all(setting in blocks[0] for setting in SETTINGS), f"the first example must set {SETTINGS}"
    imported = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", "\n".join(blocks), flags=re.MULTILINE))
    assert imported == {"json", "pathlib", "numpy", "onnxruntime", "soundfile", "soxr"}


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory, write_songs, make_checkpoint):
    """What a reader has: `exported/` (a tiny model's ONNX export) and `song.wav`, stereo at another rate."""
    folder = tmp_path_factory.mktemp("export-reader")
    songs = write_songs(folder / "songs")
    checkpoint = load_checkpoint(make_checkpoint(songs, folder / "cache", folder / "tiny.safetensors"))
    export_model(checkpoint, ExportRequest(folder / "exported"))
    rate = 2 * checkpoint.config.audio.sample_rate  # the page's resampling runs too
    t = np.arange(int(2.5 * rate)) / rate
    left = 0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-((t % 0.5) * 6))
    right = 0.3 * np.sin(2 * np.pi * 330 * t)
    soundfile.write(folder / "song.wav", np.stack([left, right], 1).astype("float32"), rate)
    return folder, checkpoint


def test_every_example_runs_in_order_and_gives_what_aea_gives(reader_folder, monkeypatch):
    folder, checkpoint = reader_folder
    monkeypatch.chdir(folder)
    session = run_blocks(PAGE, "docs_export")

    audio = checkpoint.config.audio
    track = load_track("song.wav", audio)  # aea's own reading: mono, resampled
    count = -(-len(track) // audio.clip_samples)
    assert session["latents"].shape == (count, checkpoint.model.latent_size) == (3, 512)
    clips = np.zeros((count, audio.clip_samples), dtype=np.float32)
    clips.flat[: len(track)] = track
    with torch.no_grad():
        latents = checkpoint.model.encode(torch.from_numpy(clips)[:, None, :]).numpy()
    assert relative_error(session["latents"], latents) < 1e-4
    written = soundfile.info("decoded.wav")
    assert written.samplerate == audio.sample_rate and written.frames == len(track)
    assert session["grid"].shape == tuple(session["info"]["latent"]["layout"])
