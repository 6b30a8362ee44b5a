"""`aea explore` on every model `aea export` exports: the original seed arch, a VAE (its page decodes the mean) and
the default arch's other decoders each get a page whose self-test passes in Debian's Chromium.

Tiny models, PCA-initialised on the test songs and every weight moved by seeded noise (as tests/test_export.py
makes them: an untrained model's corrections are zero and would hide a part the browser decodes wrongly).
Skipped, saying why, without the vendored runtime, chromium or playwright. Slow: it writes five sites.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from click.testing import CliRunner
from conftest import TINY_CONFIG

from autoenc_audio.checkpoints.checkpoint import save_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.data import prepare_dataset
from autoenc_audio.explore import vendoring
from autoenc_audio.models import build_model

pytestmark = pytest.mark.slow
MODELS = {
    "seed": {"arch": "seed", "latent": 500},
    "vae": {"kind": "vae"},
    "energy": {"decoder": "energy", "envelope": 0.25},
    "gated": {"decoder": "gated", "envelope": 0.25},
    "spectral": {"envelope": 0.25},
}
"""The models of tests/test_export.py but the default one, which tests/test_explore_page.py covers."""


@pytest.fixture(scope="module")
def songs(tmp_path_factory, write_songs):
    if not (vendoring.VENDOR / vendoring.ORIGIN_NAME).is_file():
        pytest.skip(f"the browser runtime is not vendored: {vendoring.GET_IT}")
    return write_songs(tmp_path_factory.mktemp("explore-archs") / "songs")


def tiny_checkpoint(folder, songs, name: str):
    """A tiny `name` model (MODELS) with every weight active, saved as a checkpoint with the songs' labels."""
    torch.manual_seed(0)
    config = load_config(TINY_CONFIG)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **MODELS[name]))
    prepared = prepare_dataset(songs, config.audio, config.data, folder / "cache")
    model = build_model(config.model, config.audio)
    train = prepared.splits["train"]
    model.initialize_from_data(torch.stack([train[i][0] for i in range(len(train))]))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return save_checkpoint(folder / f"{name}.safetensors", model, config, labels=prepared.labels)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_exported_model_gets_a_page_whose_selftest_passes(name, songs, chromium, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path, songs, name)
    site = tmp_path / "site"
    args = ["explore", str(checkpoint), "-o", str(site), "--data", str(songs), "--cache-dir", str(tmp_path / "cache")]
    result = CliRunner().invoke(cli, [*args, "--clips", "3"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["model"]["arch"] == MODELS[name].get("arch", "default")
    assert manifest["variational"] == (name == "vae") and manifest["prior"]["pieces"] == []
    page = chromium.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto((site / "index.html").as_uri() + "?selftest")
    page.wait_for_function("document.getElementById('selftest').textContent.startsWith('selftest:')")
    words = page.text_content("#selftest").split()
    assert words[:2] == ["selftest:", "ok"] and float(words[2]) <= 1e-4, words
    page.wait_for_function("window.aeaExplore.state.ready")
    assert page.evaluate("window.aeaExplore.state.current.length") == manifest["latent"]["size"]
    assert problems == []
    page.close()
