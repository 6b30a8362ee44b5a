"""`aea export`: the graphs run in onnxruntime and TorchScript as the model does in torch, and say what they are.

The models are tiny, PCA-initialised on the test songs, then every learned weight is moved by seeded noise, so
the corrections, gates and (for a VAE) the log-variance head all act: an untrained model's corrections are zero
and would hide a part the graphs got wrong. Relative error: max|exported - torch| / max|torch| (`relative_error`).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import TINY_CONFIG

from autoenc_audio.audio import load_clip
from autoenc_audio.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.export.graphs import FixedLengthAnalysis, graph_of
from autoenc_audio.export.manifest import MANIFEST_NAME, ExportedModelError, read_manifest
from autoenc_audio.export.runtime import ExportDependencyError, load_part, relative_error
from autoenc_audio.export.write import ExportError, ExportRequest, export_model
from autoenc_audio.models import build_model
from autoenc_audio.models.frame import MDCTAnalysis
from autoenc_audio.runs.folder import checkpoint_in

torch.set_num_threads(1)

MODELS = {
    "default": {},
    "seed": {"arch": "seed", "latent": 500},
    "vae": {"kind": "vae"},
    "energy": {"decoder": "energy", "envelope": 0.25},
    "gated": {"decoder": "gated", "envelope": 0.25},
    "spectral": {"envelope": 0.25},
}
"""Tiny variants: the default arch, the original seed arch, a VAE (exported as its mean), and the other decoders
and envelope channels of the default arch."""


@pytest.fixture(scope="module")
def songs(tmp_path_factory, write_songs):
    return write_songs(tmp_path_factory.mktemp("export-songs"))


def tiny_checkpoint(folder, songs, name: str):
    """A tiny `name` model (MODELS) with every weight active, saved and loaded back as a user would."""
    config = load_config(TINY_CONFIG)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **MODELS[name]))
    model = build_model(config.model, config.audio)
    model.initialize_from_data(clips(songs, config)[:, None, :])
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return load_checkpoint(save_checkpoint(folder / f"{name}.safetensors", model, config))


def clips(songs, config, count: int = 3) -> torch.Tensor:
    """`[count, clip_samples]`: the centre clip of `count` of the test songs, read as aea reads them."""
    paths = sorted(songs.rglob("*.wav"))[:count]
    return torch.stack([torch.from_numpy(load_clip(path, config.audio, crop="center").samples) for path in paths])


@pytest.fixture(scope="module")
def exported(tmp_path_factory, songs):
    """name -> (checkpoint, ONNX export folder) for every model of MODELS."""
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name in MODELS:
        checkpoint = tiny_checkpoint(folder, songs, name)
        export_model(checkpoint, ExportRequest(folder / name))
        out[name] = (checkpoint, folder / name)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_graphs_match_torch_on_a_batch_of_three_real_clips(exported, songs, name):
    checkpoint, folder = exported[name]
    audio = clips(songs, checkpoint.config)  # 3 clips: the graphs were traced at batch 1
    with torch.no_grad():
        latent = checkpoint.model.encode(audio[:, None, :])
        decoded = checkpoint.model.decode(latent)[:, 0]
    onnx_latent = load_part(folder / "encoder.onnx", "onnx")(audio.numpy())
    onnx_decoded = load_part(folder / "decoder.onnx", "onnx")(latent.numpy())
    assert onnx_latent.shape == (3, checkpoint.model.latent_size)
    assert onnx_decoded.shape == (3, checkpoint.config.audio.clip_samples)
    assert relative_error(onnx_latent, latent.numpy()) < 1e-4
    assert relative_error(onnx_decoded, decoded.numpy()) < 1e-4
    # the whole round trip through the runtime alone sounds like torch's
    round_trip = load_part(folder / "decoder.onnx", "onnx")(onnx_latent)
    assert relative_error(round_trip, decoded.numpy()) < 1e-4


def test_a_vae_exports_its_mean_not_a_sample(exported, songs):
    """The two onnxruntime runs are equal exactly (one session, the same input: a sample would differ); torch is
    another runtime, so it is compared to a tolerance."""
    checkpoint, folder = exported["vae"]
    audio = clips(songs, checkpoint.config)
    with torch.no_grad():
        mean, logvar = checkpoint.model.encode_distribution(audio[:, None, :])
    assert logvar is not None and float(logvar.exp().mean()) > 1e-4  # a sample would differ from the mean
    runs = [load_part(folder / "encoder.onnx", "onnx")(audio.numpy()) for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])
    assert relative_error(runs[0], mean.numpy()) < 1e-4
    assert json.loads((folder / MANIFEST_NAME).read_text())["latent"]["encoder_gives"] == "the mean"


def test_the_json_says_how_to_feed_the_graphs_and_which_model_they_are(exported):
    import onnx

    checkpoint, folder = exported["seed"]
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    layout = checkpoint.model.layout
    assert manifest["sample_rate"] == 8000 and manifest["clip_samples"] == 8000
    assert manifest["latent"]["size"] == 500 == layout.size
    assert manifest["latent"]["layout"] == [layout.channels, layout.frames]
    assert manifest["model_fingerprint"] == checkpoint.fingerprint
    assert manifest["model"]["arch"] == "seed"
    assert manifest["export_format"] == "onnx" and manifest["opset"] == 17
    encoder = manifest["parts"]["encoder"]
    assert encoder["file"] == "encoder.onnx" and encoder["input"]["shape"] == ["batch", 8000]
    assert encoder["output"] == {"name": "latent", "shape": ["batch", 500], "dtype": "float32"}
    assert manifest["parts"]["decoder"]["input"]["name"] == "latent"
    assert encoder["checked"]["relative_error"] < 1e-4
    graph = onnx.load(str(folder / "encoder.onnx"))
    assert {entry.key: entry.value for entry in graph.metadata_props}["aea_model_fingerprint"] == checkpoint.fingerprint
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_files_load_with_torch_jit_and_match(tmp_path, songs):
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    result = export_model(checkpoint, ExportRequest(tmp_path / "ts", "torchscript"))
    assert [part.path.name for part in result.parts] == ["encoder.pt", "decoder.pt"]
    audio = clips(songs, checkpoint.config)
    encoder = torch.jit.load(str(tmp_path / "ts" / "encoder.pt"))
    decoder = torch.jit.load(str(tmp_path / "ts" / "decoder.pt"))
    with torch.no_grad():
        latent = checkpoint.model.encode(audio[:, None, :])
        assert relative_error(encoder(audio).numpy(), latent.numpy()) < 1e-4
        decoded = checkpoint.model.decode(latent)[:, 0]
        assert relative_error(decoder(latent).numpy(), decoded.numpy()) < 1e-4
    manifest = json.loads((tmp_path / "ts" / MANIFEST_NAME).read_text())
    assert manifest["export_format"] == "torchscript" and manifest["opset"] is None


def test_the_graphs_frame_the_clip_as_the_model_does():
    analysis = MDCTAnalysis(64)
    audio = torch.randn(2, 1, 1000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(FixedLengthAnalysis(analysis, 1000)(audio), analysis(audio), atol=1e-6)


def test_exporting_leaves_the_model_as_it_was(tmp_path, songs):
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    graph_of(checkpoint.model, "encoder")
    assert isinstance(checkpoint.model.encoder.analysis, MDCTAnalysis)


def test_one_part_alone_and_the_json_lists_only_it(tmp_path, songs):
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    result = CliRunner().invoke(cli, ["export", str(checkpoint.path), "-o", str(tmp_path / "out"), "--part", "decoder"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [MANIFEST_NAME, "decoder.onnx"]
    assert list(json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())["parts"]) == ["decoder"]
    assert "wrote " in result.output and "decoder.onnx" in result.output


def test_re_exporting_one_part_removes_the_earlier_exports_other_graph(tmp_path, songs):
    """The folder describes itself exactly: no graph of an earlier export stays beside a JSON that does not list it."""
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    out = tmp_path / "out"
    export_model(checkpoint, ExportRequest(out))
    (out / "notes.txt").write_text("the user's own file")
    result = CliRunner().invoke(cli, ["export", str(checkpoint.path), "-o", str(out), "--part", "decoder"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[0]
        == f"removed {out / 'encoder.onnx'} (the earlier export's, not written by this one)"
    )
    assert sorted(path.name for path in out.iterdir()) == [MANIFEST_NAME, "decoder.onnx", "notes.txt"]
    assert list(read_manifest(out)["parts"]) == ["decoder"]
    result = CliRunner().invoke(
        cli, ["export", str(checkpoint.path), "-o", str(out), "--format", "torchscript", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["removed"] == [str(out / "decoder.onnx")]
    assert sorted(path.name for path in out.iterdir()) == [MANIFEST_NAME, "decoder.pt", "encoder.pt", "notes.txt"]


def test_a_failed_re_export_keeps_the_earlier_graphs(tmp_path, songs, monkeypatch):
    from autoenc_audio.export import write

    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    out = tmp_path / "out"
    export_model(checkpoint, ExportRequest(out))

    def fail(*args, **kwargs):
        raise write.ExportError("the graph differs from torch")

    monkeypatch.setattr(write, "_export_part", fail)
    with pytest.raises(write.ExportError):
        export_model(checkpoint, ExportRequest(out, export_format="torchscript"))
    assert {"encoder.onnx", "decoder.onnx"} <= {path.name for path in out.iterdir()}


def test_an_export_given_where_a_checkpoint_is_needed_is_refused_in_one_line(exported, songs):
    checkpoint, folder = exported["default"]
    for path in (folder, folder / "encoder.onnx", folder / MANIFEST_NAME):
        with pytest.raises(ExportedModelError, match="is an exported model, not a checkpoint"):
            checkpoint_in(path)
    song = sorted(songs.rglob("*.wav"))[0]
    result = CliRunner().invoke(
        cli, ["encode", str(song), "-o", str(folder / "z.npy"), "--model", str(folder)], env={"AEA_MODEL": ""}
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"aea: error: {folder}: is an exported model, not a checkpoint; give the run folder or .safetensors "
        f"checkpoint it was exported from (model {checkpoint.fingerprint})"
    ]
    assert checkpoint_in(checkpoint.path) == checkpoint.path  # the checkpoint itself is still taken


def test_missing_onnxruntime_names_the_extra_to_install(tmp_path, songs, monkeypatch):
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails as if not installed
    with pytest.raises(
        ExportDependencyError, match=r"onnxruntime, not installed here: pip install 'autoenc-audio\[export\]'"
    ):
        export_model(checkpoint, ExportRequest(tmp_path / "out"))
    result = CliRunner().invoke(cli, ["export", str(checkpoint.path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "aea: error: ONNX export needs onnxruntime, not installed here: pip install 'autoenc-audio[export]'"
    )
    assert not (tmp_path / "out").exists()


def test_a_part_that_cannot_export_is_named_and_leaves_no_file(tmp_path, songs, monkeypatch):
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")

    def fails(graph, *args, **kwargs):
        if type(graph).__name__ == "DecoderGraph":
            raise RuntimeError("Unsupported: ONNX export of operator Foo\nmore lines")
        return export(graph, *args, **kwargs)

    export = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", fails)
    with pytest.raises(ExportError) as caught:
        export_model(checkpoint, ExportRequest(tmp_path / "out"))
    assert str(caught.value) == (
        f"{checkpoint.path}: the decoder (arch default, ae, decoder gain) cannot be exported to ONNX: "
        "Unsupported: ONNX export of operator Foo"
    )
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["encoder.onnx"]  # no JSON: not complete


def test_a_file_that_does_not_match_torch_is_not_written(tmp_path, songs, monkeypatch):
    from autoenc_audio.export import write

    checkpoint = tiny_checkpoint(tmp_path, songs, "default")

    def off(path, export_format, threads=None):
        runner = load_part(path, export_format, threads)
        return lambda batch: runner(batch) * 1.01

    monkeypatch.setattr(write, "load_part", off)
    with pytest.raises(
        ExportError,
        match=r"the encoder exported to ONNX differs from torch by 0.01 \(relative\), more than 0.0001; not written",
    ):
        export_model(checkpoint, ExportRequest(tmp_path / "out"))
    assert list((tmp_path / "out").iterdir()) == []


def test_requests_name_what_is_wrong():
    with pytest.raises(ExportError, match="export_format must be 'onnx' or 'torchscript', got 'tflite'"):
        ExportRequest(Path("never-written"), "tflite")
    with pytest.raises(ExportError, match="parts must be 'encoder', 'decoder' or both"):
        ExportRequest(Path("never-written"), "onnx", ("prior",))


def test_exporting_into_the_run_folder_is_refused_and_the_run_stays_usable(tmp_path, songs):
    """`aea export RUN -o RUN` would put aea-export.json beside best.safetensors: refused in one line, nothing written."""
    run = tmp_path / "run"
    run.mkdir()
    checkpoint = tiny_checkpoint(run, songs, "default")
    checkpoint.path.rename(run / "best.safetensors")
    other = tmp_path / "other"
    other.mkdir()
    (other / "last.safetensors").write_bytes(b"another run's model")
    cases = [
        (run, run, f"holds the checkpoint being exported ({run / 'best.safetensors'})"),
        (
            run / "best.safetensors",
            tmp_path / "run" / ".." / "run",
            f"holds the checkpoint being exported ({run / 'best.safetensors'})",
        ),
        (run, other, "is a run folder (it holds last.safetensors)"),
    ]
    for model, out, why in cases:
        result = CliRunner().invoke(cli, ["export", str(model), "-o", str(out)], env={"AEA_MODEL": ""})
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"aea: error: {out}: {why}; export into another folder"]
    assert sorted(path.name for path in run.iterdir()) == ["best.safetensors"]
    assert sorted(path.name for path in other.iterdir()) == ["last.safetensors"]
    assert checkpoint_in(run) == run / "best.safetensors"


def test_a_run_folder_that_also_holds_an_export_still_gives_its_checkpoint(exported, tmp_path):
    """A folder exported into by an older aea (or by hand) is still a run: its checkpoint is found first."""
    checkpoint, folder = exported["default"]
    run = tmp_path / "run"
    run.mkdir()
    for path in folder.iterdir():
        (run / path.name).write_bytes(path.read_bytes())
    (run / "best.safetensors").write_bytes(checkpoint.path.read_bytes())
    assert checkpoint_in(run) == run / "best.safetensors"
    with pytest.raises(ExportedModelError, match="is an exported model, not a checkpoint"):
        checkpoint_in(run / "encoder.onnx")  # a graph is still not a checkpoint


def test_a_failed_re_export_leaves_no_json_beside_the_new_graphs(tmp_path, songs, monkeypatch):
    """The JSON says the folder is complete: a re-export that fails halfway removes the old one and writes none."""
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    out = tmp_path / "out"
    export_model(checkpoint, ExportRequest(out))
    old_encoder = (out / "encoder.onnx").read_bytes()
    retrained = tiny_checkpoint(tmp_path, songs, "gated")  # another model: its encoder file differs

    def fails(graph, *args, **kwargs):
        if type(graph).__name__ == "DecoderGraph":
            raise RuntimeError("Unsupported: ONNX export of operator Foo")
        return export(graph, *args, **kwargs)

    export = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", fails)
    with pytest.raises(ExportError, match="the decoder .* cannot be exported to ONNX"):
        export_model(retrained, ExportRequest(out))
    assert (out / "encoder.onnx").read_bytes() != old_encoder  # the new encoder was written ...
    assert sorted(path.name for path in out.iterdir()) == ["decoder.onnx", "encoder.onnx"]  # ... and no JSON
    with pytest.raises(ExportedModelError, match="not an export folder"):
        read_manifest(out)


def half_then_full(path, *args, **kwargs):
    """A full disk meeting a graph file: half of it lands, then ENOSPC."""
    with open(path, "wb") as handle:
        handle.write(b"\x08\x07half a graph")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
def test_a_full_disk_while_exporting_is_one_line_naming_the_file(tmp_path, songs, monkeypatch, export_format):
    import onnx

    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    monkeypatch.setattr(onnx, "save", lambda proto, path: half_then_full(path))
    monkeypatch.setattr(torch.jit, "save", lambda module, path: half_then_full(path))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["export", str(checkpoint.path), "-o", str(out), "--format", export_format])
    suffix = ".onnx" if export_format == "onnx" else ".pt"
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"aea: error: {out / ('encoder' + suffix)}: cannot write (no space left on device)"
    ]
    assert list(out.iterdir()) == []  # no partial graph, no temporary, no JSON


@pytest.mark.slow
def test_a_real_full_disk_while_exporting_is_one_line_naming_the_file(tmp_path, songs, small_disk):
    checkpoint = tiny_checkpoint(tmp_path, songs, "default")
    (small_disk / "filler").write_bytes(bytes(shutil.disk_usage(small_disk).free - 20_000))
    out = small_disk / "out"
    result = CliRunner().invoke(cli, ["export", str(checkpoint.path), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"aea: error: {out / 'encoder.onnx'}: cannot write (no space left on device)"
    ]
    assert list(out.iterdir()) == []
