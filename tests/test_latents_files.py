"""Latent files: every format round-trips, .pt loads with weights_only, bad files give one clear error."""

import gc
import io
import json
import os

import numpy as np
import pytest
import torch

from autoenc_audio.latents.files import LatentFile, from_bytes, load_latents, make_metadata, save_latents
from autoenc_audio.latents.formats import FORMATS, LatentFileError, format_for, sniff_format


def sample(kind="matrix"):
    latents = torch.randn(3, 40) if kind != "vector" else torch.randn(40)
    rows = 1 if kind == "vector" else 3
    fields = {
        "sources": [f"song{i}.mp3" for i in range(rows)],
        "offsets": [0.5 * i for i in range(rows)],
        "padded": [False] * rows,
        "model_fingerprint": "0123456789abcdef",
        "sample_rate": 8000,
    }
    if kind == "sequence":
        fields.update(hop_samples=4000, tracks=[{"source": "song0.mp3", "start": 0, "stop": 3, "samples": 16000}])
    return LatentFile(latents, make_metadata(kind, latents, **fields))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["vector", "matrix", "sequence"])
def test_round_trip_every_format(tmp_path, fmt, kind):
    original = sample(kind)
    path = tmp_path / f"z.{fmt}"
    if fmt == "npy" and kind == "sequence":  # a bare array would lose the track layout: refused, nothing written
        with pytest.raises(LatentFileError, match="keeps no track layout"):
            save_latents(path, original)
        assert not path.exists()
        return
    save_latents(path, original)
    loaded = load_latents(path)
    assert torch.equal(loaded.latents, original.latents)
    assert loaded.latents.shape == original.latents.shape
    if fmt == "npy":  # bare array: no metadata
        assert loaded.metadata == {}
        assert loaded.kind == ("vector" if kind == "vector" else "matrix")
    else:
        assert loaded.metadata == original.metadata
        assert loaded.kind == kind and loaded.fingerprint == "0123456789abcdef"
        assert loaded.sources == original.sources
        assert loaded.metadata["shape"] == list(original.latents.shape)
    assert not list(tmp_path.glob(".*.tmp"))


def saved_bytes(latent_file: LatentFile, fmt: str, folder) -> bytes:
    """What `save_latents` writes for `latent_file` in `fmt`."""
    save_latents(folder / f"saved.{fmt}", latent_file, fmt)
    return (folder / f"saved.{fmt}").read_bytes()


def test_pt_is_plain_tensors_and_values(tmp_path):
    data = saved_bytes(sample("sequence"), "pt", tmp_path)
    loaded = torch.load(io.BytesIO(data), weights_only=True)
    assert set(loaded) == {"latents", "metadata"}
    assert loaded["latents"].shape == (3, 40) and loaded["metadata"]["kind"] == "sequence"
    assert loaded["metadata"]["tracks"][0]["samples"] == 16000


def test_npz_and_npy_need_no_pickle(tmp_path):
    save_latents(tmp_path / "z.npz", sample())
    with np.load(tmp_path / "z.npz", allow_pickle=False) as archive:
        assert archive["latents"].shape == (3, 40)
        assert list(archive["sources"]) == ["song0.mp3", "song1.mp3", "song2.mp3"]
        assert json.loads(str(archive["metadata"]))["latent_size"] == 40
    save_latents(tmp_path / "z.npy", sample("vector"))
    assert np.load(tmp_path / "z.npy", allow_pickle=False).shape == (40,)


def test_a_users_npz_of_one_array_reads_as_a_bare_matrix_and_of_several_is_refused(tmp_path):
    z = np.random.default_rng(0).standard_normal((3, 40)).astype(np.float32)
    np.savez(tmp_path / "one.npz", z)  # saved as arr_0
    assert torch.equal(load_latents(tmp_path / "one.npz").latents, torch.from_numpy(z))
    np.savez(tmp_path / "two.npz", a=z, b=z)
    with pytest.raises(LatentFileError) as caught:
        load_latents(tmp_path / "two.npz")
    assert (
        str(caught.value)
        == f"{tmp_path / 'two.npz'}: a .npz latent file holds a 'latents' array or a single array, not a, b"
    )


def test_safetensors_header_holds_the_metadata(tmp_path):
    from safetensors import safe_open

    save_latents(tmp_path / "z.safetensors", sample())
    with safe_open(str(tmp_path / "z.safetensors"), framework="pt") as handle:
        assert handle.metadata()["format"] == "aea-latents"
        assert json.loads(handle.metadata()["metadata"])["sources"][2] == "song2.mp3"


@pytest.mark.parametrize("fmt", FORMATS)
def test_saving_latents_of_ever_new_sizes_keeps_nothing_behind(fmt, tmp_path):
    """A service writing one latent file per track (each track's length gives its own size) must not grow.

    safetensors.torch.save made a ctypes array and pointer type per byte count, which ctypes keeps for good
    (bench/experiments/NOTES.md, "Soak").
    """

    def save_and_load(rows: int) -> None:
        latents = torch.randn(rows, 40)
        save_latents(tmp_path / f"z.{fmt}", LatentFile(latents, make_metadata("matrix", latents)))
        assert load_latents(tmp_path / f"z.{fmt}").latents.shape == (rows, 40)

    save_and_load(1)
    gc.collect()
    before = len(gc.get_objects())
    sizes = 30
    for rows in range(2, 2 + sizes):
        save_and_load(rows)
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < sizes


@pytest.mark.parametrize("fmt", FORMATS)
def test_content_is_sniffed_not_the_name(fmt, tmp_path):
    original = sample()
    data = saved_bytes(original, fmt, tmp_path)
    assert sniff_format(data[:16]) == ("zip" if fmt in ("pt", "npz") else fmt)
    assert torch.equal(from_bytes(data, "<stdin>").latents, original.latents)


def test_plain_tensor_pt_and_foreign_safetensors_are_accepted(tmp_path):
    from safetensors.torch import save_file

    torch.save(torch.ones(2, 8), tmp_path / "plain.pt")
    assert load_latents(tmp_path / "plain.pt").latents.shape == (2, 8)
    save_file({"z": torch.ones(8)}, str(tmp_path / "other.safetensors"))
    assert load_latents(tmp_path / "other.safetensors").kind == "vector"


def test_format_from_extension_or_flag():
    assert format_for("a/b.NPZ") == "npz"
    assert format_for("-") == "pt"
    assert format_for("-", "safetensors") == "safetensors"
    with pytest.raises(LatentFileError, match="latent files end in"):
        format_for("z.wav")
    with pytest.raises(LatentFileError, match="unknown latent format"):
        format_for("z.pt", "json")
    assert format_for("z.bin", "npz") == "npz" and format_for("z.npz", "NPZ") == "npz"  # the extension does not say
    with pytest.raises(LatentFileError) as caught:
        format_for("out/z.pt", "npz")
    assert str(caught.value) == "out/z.pt: the extension says pt, the format asked for is npz; give one"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty input"),
        (b"RIFF....WAVEfmt ", "not a latent file"),
        (b"hello world, not latents", "not a latent file"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(LatentFileError, match=message) as error:
        load_latents(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_bad_contents_are_refused(tmp_path):
    cases = {
        "nan.npy": lambda p: np.save(p, np.array([1.0, np.nan], dtype=np.float32)),
        "ints.npy": lambda p: np.save(p, np.arange(4)),
        "cube.npy": lambda p: np.save(p, np.zeros((2, 2, 2), dtype=np.float32)),
        "truncated.pt": lambda p: p.write_bytes(saved_bytes(sample(), "pt", tmp_path)[:200]),
        "dict.pt": lambda p: torch.save({"weights": torch.ones(3)}, p),
    }
    for name, write in cases.items():
        write(tmp_path / name)
        with pytest.raises(LatentFileError, match=name):
            load_latents(tmp_path / name)
    with pytest.raises(LatentFileError, match="no such file"):
        load_latents(tmp_path / "missing.pt")


def test_a_file_with_python_objects_is_refused_in_one_line(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    path = tmp_path / "z.pt"
    torch.save({"latents": torch.zeros(4), "metadata": {"x": Evil()}}, path)
    with pytest.raises(LatentFileError) as refused:
        load_latents(path)
    assert (
        str(refused.value)
        == f"{path}: holds Python objects, not plain tensors; refused (aea never runs code from a file)"
    )


def test_newer_version_and_foreign_format_are_refused(tmp_path):
    newer = sample()
    newer.metadata["version"] = 99
    save_latents(tmp_path / "new.pt", newer)
    with pytest.raises(LatentFileError, match="newer"):
        load_latents(tmp_path / "new.pt")
    foreign = sample()
    foreign.metadata["format"] = "something-else"
    save_latents(tmp_path / "foreign.npz", foreign)
    with pytest.raises(LatentFileError, match="not an aea latent file"):
        load_latents(tmp_path / "foreign.npz")


def test_stdout_and_failed_writes(tmp_path, capsysbinary):
    save_latents("-", sample())
    data = capsysbinary.readouterr().out
    assert from_bytes(data, "<stdin>").metadata["kind"] == "matrix"
    bad = sample()
    bad.metadata["oops"] = object()
    with pytest.raises(LatentFileError, match="cannot hold"):
        save_latents(tmp_path / "z.pt", bad)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
