"""`aea plot ...` as a user meets it: a PNG of the requested size, one-line errors with exit 2."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.config import load_config

ROOT = Path(__file__).resolve().parents[1]
TINY = load_config(ROOT / "configs" / "tiny.toml")


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def setup(tmp_path_factory, write_songs, make_checkpoint):
    root = tmp_path_factory.mktemp("plots")
    songs = write_songs(root / "songs")
    checkpoint = make_checkpoint(songs, root / "cache", root / "run" / "best.safetensors")
    records = [
        {
            "epoch": e,
            "train_loss": 2.0 / e,
            "val_loss": 2.1 / e,
            "val_snr_db": float(e),
            "val_mrstft": 2.0 / e,
            "val_mel_l1": 1.0 / e,
        }
        for e in (1, 2, 3)
    ]
    (root / "run" / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return {"root": root, "songs": songs, "model": checkpoint, "cache": root / "cache"}


def run(setup, *args, stdin=None):
    env = {"AEA_MODEL": str(setup["model"]), "AEA_CACHE": str(setup["cache"])}
    return CliRunner().invoke(cli, ["plot", *[str(a) for a in args]], env=env, input=stdin)


def test_audio_or_a_latent_file_piped_in_is_plotted(setup, tmp_path):
    """`ffmpeg -i song.m4a -f wav - | aea plot spectrogram -` and `aea encode ... -o - | aea plot waveform -`."""
    from autoenc_audio.latents import files as latent_files

    song = (setup["songs"] / "low" / "low.00000.wav").read_bytes()
    for command in ("spectrogram", "waveform", "compare"):
        result = run(setup, command, "-", "-o", tmp_path / f"{command}.png", "--size", "1000x800", stdin=song)
        assert result.exit_code == 0, result.output
        assert png_size(tmp_path / f"{command}.png") == (1000, 800)
    latents = torch.randn(2, TINY.model.latent) * 0.1
    latent_files.save_latents(
        tmp_path / "z.pt", latent_files.LatentFile(latents, latent_files.make_metadata("matrix", latents))
    )
    piped = run(setup, "waveform", "-", "-o", tmp_path / "z.png", stdin=(tmp_path / "z.pt").read_bytes())
    assert piped.exit_code == 0, piped.output
    for args, stdin, message in (
        (("-", "-"), song, "- reads stdin once"),
        (("-",), b"plain text, not audio", "- reads stdin, which holds no audio"),
        (("-", "--offset", "100"), song, "aea: error: <stdin>: --offset 100 s is past the end"),  # not the temporary
    ):
        refused = run(setup, "waveform", *args, "-o", tmp_path / "no.png", stdin=stdin)
        assert refused.exit_code == 2 and message in refused.output and len(refused.output.splitlines()) == 1
    (tmp_path / "afile").write_text("")
    under_a_file = run(setup, "waveform", setup["songs"] / "low" / "low.00000.wav", "-o", tmp_path / "afile" / "w.png")
    assert under_a_file.exit_code == 2
    assert under_a_file.output.strip().splitlines() == [f"aea: error: {tmp_path / 'afile'}: not a directory"]


def test_waveform_and_spectrogram(setup, tmp_path):
    song = setup["songs"] / "low" / "low.00000.wav"
    result = run(
        setup,
        "waveform",
        song,
        setup["songs"] / "high" / "high.00001.wav",
        "-o",
        tmp_path / "w.png",
        "--size",
        "640x480",
    )
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "w.png") == (640, 480)
    result = run(setup, "spectrogram", song, "--scale", "mel", "-o", tmp_path / "s.png", "--size", "800x300", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["figure"] == str(tmp_path / "s.png")
    assert png_size(tmp_path / "s.png") == (800, 300)
    assert run(setup, "spectrogram", song, "-o", tmp_path / "s", "--format", "svg").exit_code == 0
    assert (tmp_path / "s.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_a_figure_goes_to_stdout_and_other_image_types_are_refused(setup, tmp_path):
    song = setup["songs"] / "low" / "low.00000.wav"
    piped = run(setup, "spectrogram", song, "-o", "-", "--size", "400x300")
    assert piped.exit_code == 0, piped.output
    assert piped.stdout_bytes.startswith(b"\x89PNG") and not (Path.cwd() / "-.png").exists()
    assert run(setup, "spectrogram", song, "-o", "-", "--json").exit_code == 2
    jpeg = run(setup, "waveform", song, "-o", tmp_path / "w.jpg")
    assert jpeg.exit_code == 2 and "w.jpg: jpg figures are not supported: use .png, .svg or .pdf" in jpeg.output
    assert not list(tmp_path.iterdir())


def test_latent_files_are_decoded(setup, tmp_path):
    from autoenc_audio.latents import files as latent_files

    latents = torch.randn(2, TINY.model.latent) * 0.1
    path = tmp_path / "z.pt"
    latent_files.save_latents(path, latent_files.LatentFile(latents, latent_files.make_metadata("matrix", latents)))
    result = run(setup, "waveform", path, "-o", tmp_path / "z.png", "--size", "600x500")
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "z.png") == (600, 500)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros(7, dtype=np.float32))
    result = run(setup, "waveform", wrong, "-o", tmp_path / "bad.png")
    assert result.exit_code == 2 and "expects 512" in result.output


def test_compare_history_latents(setup, tmp_path):
    result = run(
        setup,
        "compare",
        setup["songs"] / "high" / "high.00000.wav",
        "-o",
        tmp_path / "c.png",
        "--size",
        "1000x700",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert {"snr_db", "mrstft", "mel_l1"} <= set(json.loads(result.output)["metrics"])
    assert png_size(tmp_path / "c.png") == (1000, 700)
    result = run(
        setup, "history", setup["root"] / "run", setup["root"] / "run", "-o", tmp_path / "h.png", "--size", "900x600"
    )
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "h.png") == (900, 600)
    result = run(setup, "latents", "--data", setup["songs"], "-o", tmp_path / "l.png", "--size", "700x600")
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "l.png") == (700, 600)
    result = run(setup, "latents", "--data", setup["songs"], "--3d", "-o", tmp_path / "l3.png")
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "l3.png") == (1000, 800)


@pytest.mark.parametrize(
    "args, message",
    [
        (("waveform", "missing.wav", "-o", "{tmp}/x.png"), "missing.wav: no such file"),
        (("compare", "missing.wav", "-o", "{tmp}/x.png"), "missing.wav: no such file"),
        (("history", "{tmp}", "-o", "{tmp}/x.png"), "no history.jsonl"),
        (("waveform", "{song}", "--offset", "99", "-o", "{tmp}/x.png"), "past the end"),
        (("latents", "--data", "{tmp}/nothing", "-o", "{tmp}/x.png"), "no such folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(setup, tmp_path, args, message):
    song = setup["songs"] / "low" / "low.00000.wav"
    args = [a.format(tmp=tmp_path, song=song) for a in args]
    result = run(setup, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.strip().count("\n") == 0 and "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_bad_size_and_no_model(setup, tmp_path):
    song = setup["songs"] / "low" / "low.00000.wav"
    assert run(setup, "waveform", song, "-o", tmp_path / "x.png", "--size", "big").exit_code == 2
    result = CliRunner().invoke(
        cli,
        ["plot", "compare", str(song), "-o", str(tmp_path / "x.png"), "--cache-dir", str(tmp_path)],
        env={"AEA_MODEL": ""},
    )
    assert result.exit_code == 2 and "aea train" in result.output


def test_corrupt_history_is_one_line_exit_2(setup, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.jsonl").write_text('{"epoch": 1, "val_loss": 1.0}\n{"epoch": 2, "val_lo\n')
    result = run(setup, "history", tmp_path / "run", "-o", tmp_path / "h.png")
    assert result.exit_code == 2
    assert "history.jsonl: corrupt line 2" in result.output and "Traceback" not in result.output
    (tmp_path / "run" / "history.jsonl").write_text(
        '{"epoch": 1, "val_loss": 1.0}\n[1, 2]\n'
    )  # valid JSON, not a record
    result = run(setup, "history", tmp_path / "run", "-o", tmp_path / "h.png")
    assert (
        result.exit_code == 2 and "history.jsonl: corrupt line 2 (a record is a JSON object, not list)" in result.output
    )


def test_a_one_sample_file_is_refused_naming_it_and_the_minimum(setup, tmp_path):
    import soundfile

    soundfile.write(tmp_path / "click.wav", np.full(1, 0.5), 8000)
    result = run(setup, "spectrogram", tmp_path / "click.wav", "-o", tmp_path / "s.png")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "aea: error: click.wav: 1 sample is too short for a spectrogram: at least 128 (16 ms at 8000 Hz)"
    ]


def test_compare_notes_a_zero_padded_or_silent_clip_as_reconstruct_does(setup, tmp_path):
    import soundfile

    short, silent = tmp_path / "short.wav", tmp_path / "silent.wav"
    soundfile.write(short, 0.3 * np.sin(np.arange(800) / 5), 8000)
    soundfile.write(silent, np.zeros(8000), 8000)
    result = run(setup, "compare", short, "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"aea: note: {short}: shorter than a clip (0.10 s of 1 s), zero-padded"]
    result = run(setup, "compare", silent, "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"aea: note: {silent}: silent"]
    assert run(setup, "compare", setup["songs"] / "low" / "low.00000.wav", "-o", tmp_path / "c.png").stderr == ""


def test_compare_of_a_latent_file_says_it_needs_audio(setup, tmp_path):
    from autoenc_audio.latents import files as latent_files

    latents = torch.randn(2, TINY.model.latent) * 0.1
    path = tmp_path / "z.pt"
    latent_files.save_latents(path, latent_files.LatentFile(latents, latent_files.make_metadata("matrix", latents)))
    expected = "a latent file, not audio: plot compare needs the audio file (plot waveform and plot spectrogram decode latent files)"
    for args, stdin, name in (((path,), None, path), (("-",), path.read_bytes(), "<stdin>")):
        result = run(setup, "compare", *args, "-o", tmp_path / "c.png", stdin=stdin)
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"aea: error: {name}: {expected}"]
    assert not (tmp_path / "c.png").exists()


def test_history_takes_a_checkpoint_and_names_a_missing_folder(setup, tmp_path):
    result = run(setup, "history", setup["model"], "-o", tmp_path / "h.png", "--size", "900x600")
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "h.png") == (900, 600)
    missing = run(setup, "history", tmp_path / "nonexist", "-o", tmp_path / "x.png")
    assert missing.exit_code == 2
    assert missing.output.strip().splitlines() == [f"aea: error: {tmp_path / 'nonexist'}: no such folder"]


def test_an_output_the_format_contradicts_or_that_is_the_input_is_refused(setup, tmp_path):
    """`-o fig.svg --format png` wrote fig.png over the user's file; `-o s.png --format svg` wrote s.svg."""
    song = setup["songs"] / "low" / "low.00000.wav"
    (tmp_path / "fig.png").write_text("my precious")
    for named, fmt in (("fig.svg", "png"), ("s.png", "svg")):
        result = run(setup, "waveform", song, "-o", tmp_path / named, "--format", fmt)
        said = named.rpartition(".")[2]
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"aea: error: {tmp_path / named}: the extension says {said}, the format asked for is {fmt}; give one\n"
        )
    (tmp_path / "wav.png").write_bytes(song.read_bytes())  # audio, whatever its name says
    for command, named in (("waveform", "wav.png"), ("compare", "wav")):
        result = run(setup, command, tmp_path / "wav.png", "-o", tmp_path / named)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"aea: error: {tmp_path / 'wav.png'}: is also an input; write the output elsewhere\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fig.png", "wav.png"]
    assert (tmp_path / "fig.png").read_text() == "my precious"
    assert (tmp_path / "wav.png").read_bytes() == song.read_bytes()
