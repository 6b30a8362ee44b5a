"""`aea encode/decode/reconstruct/generate` as a user meets them: files, pipes, messages, exit codes."""

import errno
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner
from conftest import truncated_mp3, unknown_length_flac

from autoenc_audio.cli import cli
from autoenc_audio.config import load_config
from autoenc_audio.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
Usage = namedtuple("Usage", "total used free")
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A tiny trained model, some songs (stereo 44.1 kHz, a 23 s one), a text file posing as audio."""
    root = tmp_path_factory.mktemp("cli")
    for label, base in (("low", 110.0), ("high", 660.0)):
        for number in range(3):
            write(root / "songs" / label / f"{label}.{number}.wav", 3.2, 8000, base * (1 + number / 8), channels=1)
    config = load_config(ROOT / "configs" / "tiny.toml").override(train={"epochs": 2})
    train(config, root / "run", root / "cache", data_root=root / "songs")
    inputs = root / "in"
    write(inputs / "a.mp3", 3.0, 44100, 220.0)
    write(inputs / "b.flac", 2.0, 48000, 330.0)
    write(inputs / "long.wav", 23.0, 44100, 440.0)
    (inputs / "notes.wav").write_text("this is not audio")
    return {"root": root, "run": root / "run", "model": root / "run" / "best.safetensors", "in": inputs}


def write(path: Path, seconds: float, rate: int, freq: float, channels: int = 2) -> Path:
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.4 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.stack([mono] * channels, 1).astype("float32"), rate)
    return path


def aea(env, *args, input=None, model=True):
    extra = ["--model", str(env["model"])] if model else []
    return CliRunner().invoke(cli, [str(a) for a in args] + extra, input=input, env={"AEA_MODEL": ""})


def load(path):
    return torch.load(path, weights_only=True)


@pytest.mark.slow
def test_encode_one_song_gives_one_vector(env, tmp_path):
    result = aea(env, "encode", env["in"] / "a.mp3", "-o", tmp_path / "z.pt")
    assert result.exit_code == 0, result.output
    stored = load(tmp_path / "z.pt")
    assert stored["latents"].shape == (512,)
    assert stored["metadata"]["sources"] == [str(env["in"] / "a.mp3")]
    assert stored["metadata"]["model_fingerprint"] and stored["metadata"]["offsets"] == [0.0]


@pytest.mark.slow
def test_encode_many_writes_a_matrix_and_json_lines(env, tmp_path):
    result = aea(
        env, "encode", env["in"] / "a.mp3", env["in"] / "b.flac", "--crop", "center", "-o", tmp_path / "m.npz", "--json"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["path"]).name for line in lines] == ["a.mp3", "b.flac"]
    assert lines[0]["offset"] == pytest.approx(1.0) and lines[1]["latent"] == str(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert archive["latents"].shape == (2, 512) and len(archive["sources"]) == 2


@pytest.mark.slow
def test_encode_reads_paths_from_stdin(env, tmp_path):
    paths = f"{env['in'] / 'a.mp3'}\n{env['in'] / 'b.flac'}\n"
    result = aea(env, "encode", "-", "-o", tmp_path / "all.safetensors", input=paths)
    assert result.exit_code == 0, result.output
    decoded = aea(env, "decode", tmp_path / "all.safetensors", "-o", tmp_path / "out", "--json")
    assert decoded.exit_code == 0, decoded.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000-a.wav", "001-b.wav"]
    separated = f"{env['in'] / 'a.mp3'}\0{env['in'] / 'b.flac'}\0"  # `find -print0 | aea encode -`
    nul = aea(env, "encode", "-", "-o", tmp_path / "nul.safetensors", "--json", input=separated)
    assert nul.exit_code == 0, nul.output
    assert [Path(json.loads(line)["path"]).name for line in nul.stdout.splitlines()] == ["a.mp3", "b.flac"]
    gone = aea(env, "encode", "-", "-o", tmp_path / "gone.safetensors", input=separated + "nope.wav\0")
    assert gone.exit_code == 1 and "nope.wav" in gone.stderr  # the missing one fails alone, the others are encoded


@pytest.mark.slow
def test_audio_bytes_on_stdin_are_one_input(env, tmp_path):
    """`ffmpeg -i song.m4a -f wav - | aea encode -`: stdin holds audio, not paths."""
    flac = (env["in"] / "b.flac").read_bytes()
    audio, rate = soundfile.read(env["in"] / "b.flac")
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV")
    result = aea(env, "encode", "-", "-o", tmp_path / "z.pt", input=buffer.getvalue())
    assert result.exit_code == 0, result.output
    stored = load(tmp_path / "z.pt")
    assert stored["latents"].shape == (512,) and stored["metadata"]["sources"] == ["<stdin>"]
    direct = aea(env, "encode", env["in"] / "b.flac", "-o", tmp_path / "direct.pt")
    assert direct.exit_code == 0 and torch.allclose(
        stored["latents"], load(tmp_path / "direct.pt")["latents"], atol=1e-5
    )
    rebuilt = aea(env, "reconstruct", "-", "-o", tmp_path / "out.wav", "--json", input=flac)
    from_file = aea(env, "reconstruct", env["in"] / "b.flac", "-o", tmp_path / "file.wav", "--json")
    assert rebuilt.exit_code == 0 and from_file.exit_code == 0, rebuilt.output + from_file.output
    piped, direct = (json.loads(r.stdout.splitlines()[-1]) for r in (rebuilt, from_file))
    assert piped["snr_db"] == pytest.approx(direct["snr_db"], abs=1e-4) and piped["source"] == "<stdin>"
    assert soundfile.read(tmp_path / "out.wav")[0].shape == (8000,)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["encode", "reconstruct"])
def test_clip_options_that_contradict_each_other_are_refused(env, tmp_path, command):
    out = tmp_path / ("z.pt" if command == "encode" else "r.wav")
    both = aea(env, command, env["in"] / "a.mp3", "--whole", "--offset", "1", "-o", out)
    assert both.exit_code == 2 and "--offset picks one clip, --whole takes every clip" in both.stderr
    hop = aea(env, command, env["in"] / "a.mp3", "--hop", "0.5", "-o", out)
    assert hop.exit_code == 2 and "--hop spaces the clips of --whole" in hop.stderr and not out.exists()


@pytest.mark.slow
def test_empty_stdin_is_a_usage_error(env, tmp_path):
    result = aea(env, "encode", "-", "-o", tmp_path / "z.pt", input=b"")
    assert result.exit_code == 2 and "stdin, which is empty" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_audio_aea_does_not_read_on_stdin_is_refused_as_such_and_any_path_is_read(env, tmp_path):
    """`cat song.m4a | aea encode -`: an MP4 header is neither audio aea reads nor a list of paths; a path whose
    bytes are not UTF-8 is one."""
    m4a = b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + bytes(range(256)) * 4
    result = aea(env, "encode", "-", "-o", tmp_path / "z.pt", input=m4a)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "neither WAV, FLAC, Ogg, AIFF or MP3 audio nor paths" in result.stderr and "ffmpeg" in result.stderr
    assert not (tmp_path / "z.pt").exists()
    latin1 = tmp_path / "caf\udce9.wav"  # a name whose bytes are not UTF-8 (Latin-1 é), as the OS gives it
    latin1.write_bytes((env["in"] / "b.flac").read_bytes())
    named = aea(env, "encode", "-", "-o", tmp_path / "z.pt", input=os.fsencode(latin1) + b"\n")
    assert named.exit_code == 0, named.stderr
    assert load(tmp_path / "z.pt")["metadata"]["sources"] == [str(tmp_path / "caf\ufffd.wav")]  # shown as U+FFFD
    given = aea(env, "reconstruct", latin1, "-o", tmp_path / "out.wav")  # as an argument
    assert given.exit_code == 0 and (tmp_path / "out.wav").exists(), given.stderr


@pytest.mark.slow
def test_stdin_audio_is_named_stdin_in_errors_and_plots(env, tmp_path):
    """Notes, errors and figures name stdin's audio `<stdin>`, not the temporary file it is kept in."""
    broken = aea(env, "encode", "-", "-o", tmp_path / "z.pt", input=b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    assert broken.exit_code == 2 and broken.stderr.startswith("aea: error: <stdin>: not a readable audio file"), (
        broken.stderr
    )
    assert "aea-stdin-" not in broken.stderr
    for whole in ([], ["--whole"]):
        plotted = aea(
            env,
            "reconstruct",
            "-",
            *whole,
            "-o",
            tmp_path / f"out{len(whole)}.wav",
            "--plot",
            "--json",
            input=(env["in"] / "b.flac").read_bytes(),
        )
        assert plotted.exit_code == 0, plotted.output
        figure = json.loads(plotted.stdout.splitlines()[-1])["figure"]
        assert Path(figure).exists() and Path(figure).stat().st_size > 10_000


@pytest.mark.slow
def test_reconstruct_notes_short_and_silent_inputs_as_encode_does(env, tmp_path):
    short = write(tmp_path / "short.wav", 0.3, 8000, 220.0)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(16000, dtype="float32"), 8000)
    for command in ("encode", "reconstruct"):
        out = tmp_path / command / ("z.pt" if command == "encode" else "")
        result = aea(env, command, short, silent, "-o", out)
        assert result.exit_code == 0, result.output
        assert f"aea: note: {short}: shorter than a clip (0.30 s of 1 s), zero-padded" in result.stderr
        assert f"aea: note: {silent}: silent" in result.stderr
    long_enough = write(tmp_path / "two.wav", 2.0, 8000, 220.0)  # a clip cut short by the offset, not a short file
    late = aea(env, "encode", long_enough, "--offset", "1.5", "-o", tmp_path / "late.pt")
    assert late.exit_code == 0, late.output
    assert f"aea: note: {long_enough}: ends 0.50 s after the offset 1.5 s, short of a 1 s clip, zero-padded" in (
        late.stderr
    )
    whole = aea(env, "reconstruct", "--whole", silent, "-o", tmp_path / "whole.wav", "--json")
    assert whole.exit_code == 0 and f"aea: note: {silent}: silent" in whole.stderr
    assert json.loads(whole.stdout.splitlines()[-1])["silent"] is True


@pytest.mark.slow
def test_a_failing_input_is_reported_skipped_and_exit_1(env, tmp_path):
    result = aea(
        env, "encode", env["in"] / "a.mp3", env["in"] / "notes.wav", tmp_path / "missing.wav", "-o", tmp_path / "z.npy"
    )
    assert result.exit_code == 1
    assert "aea: error: " + str(env["in"] / "notes.wav") + ": not a readable audio file" in result.stderr
    assert "missing.wav: no such file" in result.stderr and "Traceback" not in result.output
    assert np.load(tmp_path / "z.npy").shape == (1, 512)
    strict = aea(env, "encode", env["in"] / "a.mp3", env["in"] / "notes.wav", "-o", tmp_path / "s.npy", "--strict")
    assert strict.exit_code == 2 and not (tmp_path / "s.npy").exists()
    every = aea(env, "encode", env["in"] / "notes.wav", tmp_path / "missing.wav", "-o", tmp_path / "e.npy")
    assert every.exit_code == 2 and "nothing encoded" in every.stderr and not (tmp_path / "e.npy").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["encode", "{tmp}/missing.wav", "-o", "{tmp}/z.pt"], "missing.wav: no such file"),
        (["encode", "{in}/notes.wav", "-o", "{tmp}/z.pt"], "notes.wav: not a readable audio file"),
        (["encode", "{in}/a.mp3", "-o", "{tmp}/z.txt"], "latent files end in"),
        (["decode", "{tmp}/missing.pt", "-o", "{tmp}/x.wav"], "missing.pt: no such file"),
        (["decode", "{in}/a.mp3", "-o", "{tmp}/x.wav"], "a.mp3: not a latent file"),
        (["reconstruct", "{in}/notes.wav", "-o", "{tmp}/x.wav"], "notes.wav: not a readable audio file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(env, tmp_path, args, message):
    result = aea(env, *[a.format(tmp=tmp_path, **{"in": env["in"]}) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert result.stderr.startswith("aea: error: ")


@pytest.mark.slow
def test_decode_refuses_a_wrong_size_and_warns_on_another_model(env, tmp_path):
    torch.save({"latents": torch.zeros(300)}, tmp_path / "small.pt")
    result = aea(env, "decode", tmp_path / "small.pt", "-o", tmp_path / "x.wav")
    assert result.exit_code == 2 and "300 values" in result.stderr and "expects 512" in result.stderr
    assert aea(env, "encode", env["in"] / "a.mp3", "-o", tmp_path / "z.pt").exit_code == 0
    stored = load(tmp_path / "z.pt")
    stored["metadata"]["model_fingerprint"] = "0000000000000000"
    torch.save(stored, tmp_path / "other.pt")
    warned = aea(env, "decode", tmp_path / "other.pt", "-o", tmp_path / "x.wav")
    assert warned.exit_code == 0 and "aea: warning:" in warned.stderr and "0000000000000000" in warned.stderr
    assert (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_whole_23_s_file_round_trips_to_its_length(env, tmp_path):
    result = aea(env, "encode", "--whole", env["in"] / "long.wav", "-o", tmp_path / "seq.pt", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["clips"] == 45 and load(tmp_path / "seq.pt")["latents"].shape == (45, 512)
    decoded = aea(env, "decode", tmp_path / "seq.pt", "-o", tmp_path / "long.wav")
    assert decoded.exit_code == 0, decoded.output
    audio, rate = soundfile.read(tmp_path / "long.wav")
    assert rate == 8000 and len(audio) == 23 * 8000


@pytest.mark.slow
def test_whole_on_a_truncated_download_gives_the_audio_it_holds_and_says_so_once(env, tmp_path):
    """An incomplete MP3 (header: 12 s, 7 s decode) gave 12 s of output, earlier parts repeated, exit 0, no word."""
    partial = truncated_mp3(tmp_path / "partial.mp3", seconds=12.0, rate=44100)
    said = "aea: warning: {}: decodes to 7.{} s though its header says 12.00 s (truncated?)"
    rebuilt = aea(env, "reconstruct", "--whole", partial, "-o", tmp_path / "r.wav", "--save-input", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    record = json.loads(rebuilt.stdout.splitlines()[-1])
    output, saved = soundfile.info(tmp_path / "r.wav"), soundfile.info(tmp_path / "r.input.wav")
    assert 6.5 < record["seconds"] < 7.5 and output.duration == saved.duration == pytest.approx(record["seconds"])
    hundredths = f"{record['seconds']:.2f}"[2:]
    assert rebuilt.stderr.count("aea: warning:") == 1 and said.format(partial, hundredths) in rebuilt.stderr
    encoded = aea(env, "encode", "--whole", "-", "-o", tmp_path / "z.pt", "--json", input=partial.read_bytes())
    assert encoded.exit_code == 0, encoded.output
    assert json.loads(encoded.stdout)["clips"] == record["clips"] == load(tmp_path / "z.pt")["latents"].shape[0]
    assert said.format("<stdin>", hundredths) in encoded.stderr and "aea-stdin-" not in encoded.stderr


@pytest.mark.slow
def test_a_piped_flac_without_a_length_in_its_header_reads_like_any_other(env, tmp_path):
    """`ffmpeg ... -f flac - | aea reconstruct --whole -` failed: "corrupt or truncated audio (psf_fseek() failed)"."""
    piped = unknown_length_flac(tmp_path / "piped.flac", seconds=3.0, rate=44100)
    whole = aea(env, "reconstruct", "--whole", "-", "-o", tmp_path / "p.wav", input=piped.read_bytes())
    assert whole.exit_code == 0 and not whole.stderr, whole.output
    assert soundfile.info(tmp_path / "p.wav").frames == 3 * 8000
    for clip in (["--offset", "1.5"], ["--crop", "center"]):
        for source, given in ((piped, None), ("-", piped.read_bytes())):
            encoded = aea(env, "encode", source, *clip, "-o", tmp_path / "z.pt", "--json", input=given)
            assert encoded.exit_code == 0, encoded.output
    plotted = aea(env, "plot", "waveform", piped, "--offset", "1", "-o", tmp_path / "w.png", model=False)
    assert plotted.exit_code == 0 and (tmp_path / "w.png").exists(), plotted.output


@pytest.mark.slow
def test_whole_to_npy_is_refused_before_any_work_naming_the_formats_that_keep_the_track(env, tmp_path):
    result = aea(env, "encode", "--whole", env["in"] / "long.wav", "-o", tmp_path / "seq.npy")
    assert result.exit_code == 2 and not (tmp_path / "seq.npy").exists()
    assert result.stderr.count("\n") == 1 and "seq.npy: .npy keeps no track layout" in result.stderr
    assert ".pt, .npz or .safetensors" in result.stderr
    explicit = aea(env, "encode", "--whole", env["in"] / "long.wav", "-o", "-", "--format", "npy")
    assert explicit.exit_code == 2 and "keeps no track layout" in explicit.stderr
    single = aea(env, "encode", env["in"] / "long.wav", "-o", tmp_path / "one.npy")  # one clip: a bare array is fine
    assert single.exit_code == 0 and np.load(tmp_path / "one.npy").shape == (512,)


@pytest.mark.slow
def test_reconstruct_prints_metrics_and_saves_the_input(env, tmp_path):
    result = aea(env, "reconstruct", env["in"] / "a.mp3", "-o", tmp_path / "r.wav", "--save-input", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"snr_db", "si_sdr_db", "mrstft", "mel_l1"} <= set(record) and record["input"] == str(
        tmp_path / "r.input.wav"
    )
    assert (tmp_path / "r.wav").exists() and (tmp_path / "r.input.wav").exists()
    table = aea(env, "reconstruct", env["in"] / "b.flac", "-o", tmp_path / "b.wav")
    assert table.exit_code == 0 and "si_sdr_db" in table.stdout and "mrstft" in table.stdout


@pytest.mark.slow
def test_reconstruct_of_a_louder_than_full_scale_input_warns_that_the_saved_input_is_clipped(env, tmp_path):
    loud = tmp_path / "loud.wav"
    rate = 8000
    t = np.arange(3 * rate) / rate
    soundfile.write(loud, (1.6 * np.sin(2 * np.pi * 220 * t)).astype("float32"), rate, subtype="FLOAT")
    result = aea(env, "reconstruct", loud, "-o", tmp_path / "r.wav", "--save-input", "--json")
    assert result.exit_code == 0, result.output
    saved_input = [line for line in result.stderr.splitlines() if "r.input.wav" in line]
    assert len(saved_input) == 1 and saved_input[0].startswith(f"aea: warning: {tmp_path / 'r.input.wav'}: "), (
        result.stderr
    )
    assert "clipped (peak 1.6" in saved_input[0] and json.loads(result.stdout)["snr_db"] is not None
    saved, _ = soundfile.read(tmp_path / "r.input.wav")
    assert np.abs(saved).max() == pytest.approx(1.0, abs=1e-3)
    whole = aea(env, "reconstruct", "--whole", loud, "-o", tmp_path / "w.flac", "--save-input")  # streamed writer
    assert whole.exit_code == 0, whole.output
    assert [line for line in whole.stderr.splitlines() if "w.input.flac" in line and "clipped" in line], whole.stderr


@pytest.mark.slow
def test_reconstruct_plot_writes_a_readable_figure(env, tmp_path):
    import matplotlib.image

    result = aea(env, "reconstruct", env["in"] / "a.mp3", "-o", tmp_path / "r.wav", "--plot", "--json")
    assert result.exit_code == 0, result.output
    figure = json.loads(result.stdout)["figure"]
    assert figure == str(tmp_path / "r.png")
    image = matplotlib.image.imread(figure)
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert aea(env, "reconstruct", env["in"] / "a.mp3", "-o", "-", "--plot").exit_code == 2


@pytest.mark.slow
def test_generate_random_is_reproducible_with_sidecar(env, tmp_path):
    """Byte-identical files: one process, one seed, the same model and kernels; not promised across machines."""
    for name in ("one", "two"):
        result = aea(env, "generate", "--mode", "random", "--seed", 5, "--n", 2, "-o", tmp_path / name / "g.wav")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "one" / "g-001.wav").read_bytes() == (tmp_path / "two" / "g-001.wav").read_bytes()
    side = json.loads((tmp_path / "one" / "g-000.json").read_text())
    assert side["mode"] == "random" and side["seed"] == 5 and side["model_fingerprint"]
    naive = aea(env, "generate", "--mode", "random", "--naive", "--seed", 5, "-o", tmp_path / "naive.wav", "--json")
    assert json.loads(naive.stdout)["naive"] is True


@pytest.mark.slow
def test_generate_average_and_interpolate(env, tmp_path):
    a, b = env["in"] / "a.mp3", env["in"] / "b.flac"
    result = aea(
        env, "generate", "--mode", "average", "--from", a, b, "--weights", "3,1", "-o", tmp_path / "avg.wav", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["weights"] == [0.75, 0.25]
    label = aea(
        env,
        "generate",
        "--mode",
        "average",
        "--label",
        "low",
        "--data",
        env["root"] / "songs",
        "--cache-dir",
        env["root"] / "cache",
        "-o",
        tmp_path / "low.wav",
        "--json",
    )
    assert label.exit_code == 0, label.output
    assert json.loads(label.stdout)["label"] == "low"
    steps = aea(
        env,
        "generate",
        "--mode",
        "interpolate",
        "--from",
        a,
        b,
        "--steps",
        3,
        "--method",
        "slerp",
        "-o",
        tmp_path / "i",
    )
    assert steps.exit_code == 0, steps.output
    names = sorted(p.name for p in (tmp_path / "i").glob("*.wav"))
    assert names == ["000-interpolate.wav", "001-interpolate.wav", "002-interpolate.wav"]
    bad = aea(env, "generate", "--mode", "interpolate", "--from", a, "-o", tmp_path / "x.wav")
    assert bad.exit_code == 2 and "exactly two" in bad.stderr


@pytest.mark.slow
def test_model_comes_from_env_or_latest_run(env, tmp_path):
    song = env["in"] / "a.mp3"
    via_env = CliRunner().invoke(
        cli,
        ["encode", str(song), "-o", str(tmp_path / "e.pt"), "--cache-dir", str(tmp_path)],
        env={"AEA_MODEL": str(env["run"])},
    )
    assert via_env.exit_code == 0, via_env.output
    none = CliRunner().invoke(
        cli,
        ["generate", "--mode", "random", "-o", str(tmp_path / "g.wav"), "--cache-dir", str(tmp_path)],
        env={"AEA_MODEL": ""},
    )
    assert none.exit_code == 2 and "aea train" in none.stderr


@pytest.mark.slow
def test_stdin_stdout_pipeline_in_a_subprocess(env, tmp_path):
    environment = {**os.environ, "AEA_MODEL": str(env["model"]), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "autoenc_audio"]
    encoder = subprocess.Popen(
        command + ["encode", str(env["in"] / "a.mp3"), "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    decoder = subprocess.run(
        command + ["decode", "-", "-o", str(tmp_path / "out.wav")],
        stdin=encoder.stdout,
        capture_output=True,
        env=environment,
        timeout=120,
    )
    encoder.stdout.close()
    assert encoder.wait(timeout=60) == 0, encoder.stderr.read().decode()
    assert decoder.returncode == 0, decoder.stderr.decode()
    audio, rate = soundfile.read(tmp_path / "out.wav")
    assert rate == 8000 and audio.shape == (8000,)
    to_stdout = subprocess.run(
        command + ["decode", "-", "-o", "-"],
        input=_encoded(env, tmp_path),
        capture_output=True,
        env=environment,
        timeout=120,
    )
    assert to_stdout.returncode == 0, to_stdout.stderr.decode()
    assert soundfile.read(io.BytesIO(to_stdout.stdout))[0].shape == (8000,)


def _encoded(env, tmp_path) -> bytes:
    assert aea(env, "encode", env["in"] / "b.flac", "-o", tmp_path / "z.pt").exit_code == 0
    return (tmp_path / "z.pt").read_bytes()


@pytest.mark.slow
def test_writing_to_a_closed_stdout_is_one_line_and_exit_1(env):
    """`aea ... -o - >&-`: the shell closed standard output; say so instead of a Python error."""
    for args in (
        ["reconstruct", env["in"] / "b.flac", "-o", "-", "--model", env["model"]],
        ["plot", "history", env["run"], "-o", "-"],
    ):
        command = " ".join(shlex.quote(str(part)) for part in [sys.executable, "-m", "autoenc_audio", *args])
        result = subprocess.run(command + " >&-", shell=True, stderr=subprocess.PIPE, text=True)
        assert result.returncode == 1, args
        assert result.stderr.strip().splitlines()[-1] == "aea: error: standard output is closed: cannot write to '-'"


NO_SPACE = "cannot write (no space left on device)"


def no_partial_files(folder: Path) -> bool:
    """Nothing half written is left: no temporary file of an atomic write."""
    return not [p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def full_disk_for(monkeypatch, name: str):
    """From the first write to a file named `name`: libsndfile's bare "System error", on a disk with 4 KiB free."""
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: Usage(1 << 30, (1 << 30) - 4096, 4096))
    real_write, real_stream = soundfile.write, soundfile.SoundFile.write

    def fail_for(target):
        if f".{name}." in str(target):  # the atomic write's temporary: .NAME.XXXX.tmp
            Path(target).write_bytes(b"RIFF half a file")
            raise soundfile.LibsndfileError(2)

    def write(file, *args, **kwargs):
        fail_for(file)
        return real_write(file, *args, **kwargs)

    def stream(self, data):
        fail_for(self.name)
        return real_stream(self, data)

    monkeypatch.setattr(soundfile, "write", write)
    monkeypatch.setattr(soundfile.SoundFile, "write", stream)


@pytest.mark.slow
def test_a_full_disk_while_encoding_keeps_the_old_latent_file_and_says_so_in_one_line(env, tmp_path, monkeypatch):
    from autoenc_audio.latents import files

    out = tmp_path / "out"
    assert aea(env, "encode", env["in"] / "a.mp3", env["in"] / "b.flac", "-o", out / "z.npz").exit_code == 0
    before = (out / "z.npz").read_bytes()

    def half_then_enospc(handle, latent_file, fmt):
        handle.write(b"\x93NUMPY half a file")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "write_to", half_then_enospc)
    result = aea(env, "encode", env["in"] / "a.mp3", env["in"] / "b.flac", "-o", out / "z.npz")
    assert result.exit_code == 1 and result.stderr == f"aea: error: {out / 'z.npz'}: {NO_SPACE}\n"
    assert (out / "z.npz").read_bytes() == before and no_partial_files(out)


@pytest.mark.slow
def test_a_full_disk_while_decoding_to_a_folder_keeps_the_files_written_and_no_partial_one(env, tmp_path, monkeypatch):
    assert aea(env, "encode", env["in"] / "a.mp3", env["in"] / "b.flac", "-o", tmp_path / "z.pt").exit_code == 0
    full_disk_for(monkeypatch, "001-b.wav")
    result = aea(env, "decode", tmp_path / "z.pt", "-o", tmp_path / "out")
    assert result.exit_code == 1 and result.stderr == f"aea: error: {tmp_path / 'out' / '001-b.wav'}: {NO_SPACE}\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000-a.wav"]
    assert soundfile.info(tmp_path / "out" / "000-a.wav").frames == 8000


@pytest.mark.slow
@pytest.mark.parametrize("whole", [False, True], ids=["clips", "whole-tracks-streamed"])
def test_a_full_disk_while_reconstructing_to_a_folder_leaves_no_partial_file(env, tmp_path, monkeypatch, whole):
    full_disk_for(monkeypatch, "001-b.wav")
    args = ["reconstruct", env["in"] / "a.mp3", env["in"] / "b.flac", "-o", tmp_path / "out", "--save-input"]
    result = aea(env, *args, *(["--whole"] if whole else []))
    assert result.exit_code == 1 and result.stderr == f"aea: error: {tmp_path / 'out' / '001-b.wav'}: {NO_SPACE}\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000-a.input.wav", "000-a.wav"]
    assert no_partial_files(tmp_path / "out")


@pytest.mark.slow
def test_a_real_full_disk_while_decoding_a_track_leaves_no_partial_file(env, tmp_path, small_disk):
    """libsndfile meets the full disk itself here: its bare "System error" is told as the full disk it is."""
    assert aea(env, "encode", "--whole", env["in"] / "long.wav", "-o", tmp_path / "z.pt").exit_code == 0
    (small_disk / "filler").write_bytes(bytes(shutil.disk_usage(small_disk).free - 100_000))
    result = aea(env, "decode", tmp_path / "z.pt", "-o", small_disk / "out")
    assert result.exit_code == 1 and result.stderr == f"aea: error: {small_disk / 'out' / 'long.wav'}: {NO_SPACE}\n"
    assert list((small_disk / "out").iterdir()) == []


# ----------------------------------------------------------------------------- outputs onto inputs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, write_songs, make_checkpoint):
    """An untrained, PCA-initialised tiny model (no training: fast) and a song to feed it."""
    root = tmp_path_factory.mktemp("tiny")
    songs = write_songs(root / "songs")
    return {"model": make_checkpoint(songs, root / "cache", root / "model.safetensors"), "song": songs / "low"}


def aea_tiny(tiny, *args):
    return CliRunner().invoke(cli, [str(a) for a in args] + ["--model", str(tiny["model"])], env={"AEA_MODEL": ""})


OVERWRITES = {
    "reconstruct": (["reconstruct", "v.wav", "-o", "v.wav"], "v.wav"),
    "reconstruct-whole": (["reconstruct", "--whole", "v.wav", "-o", "v.wav"], "v.wav"),
    "reconstruct-link": (["reconstruct", "link.wav", "-o", "v.wav"], "v.wav: is also an input (link.wav)"),
    "reconstruct-folder": (["reconstruct", "songs", "-o", "songs/"], "songs/v.wav"),
    "save-input": (["reconstruct", "out.input.wav", "-o", "out.wav", "--save-input"], "out.input.wav"),
    "encode": (["encode", "v.wav", "-o", "v.wav", "--format", "pt"], "v.wav"),
    "decode": (["decode", "z.wav", "-o", "z.wav"], "z.wav"),
    "decode-into-the-song-s-folder": (
        ["decode", "z.wav", "-o", "songs/../"],
        "songs/../v.wav: is also an input (v.wav)",
    ),
    "generate": (["generate", "--mode", "average", "--method", "mean", "--from", "v.wav", "-o", "v.wav"], "v.wav"),
    "generate-numbered": (
        ["generate", "--mode", "interpolate", "--from", "v.wav", "v-001.wav", "--steps", "2", "-o", "v.wav"],
        "v-001.wav",
    ),
}


@pytest.mark.parametrize("case", OVERWRITES)
def test_an_output_that_would_replace_an_input_is_refused_before_any_work(tiny, tmp_path, monkeypatch, case):
    """`aea reconstruct victim.wav -o victim.wav` replaced the song with its reconstruction, and exited 0."""
    monkeypatch.chdir(tmp_path)
    song = next(tiny["song"].iterdir())
    for name in ("v.wav", "v-001.wav", "out.input.wav", "songs/v.wav"):
        Path(name).parent.mkdir(exist_ok=True)
        shutil.copy(song, name)
    Path("link.wav").symlink_to("v.wav")
    assert aea_tiny(tiny, "encode", "v.wav", "-o", "z.pt").exit_code == 0
    Path("z.pt").rename("z.wav")  # a latent file by its content, whatever its name
    before = {path: path.read_bytes() for path in sorted(tmp_path.rglob("*")) if path.is_file()}
    args, refused = OVERWRITES[case]
    if case.startswith("generate"):  # refused before any piece is made, not only before it is written
        from autoenc_audio.generation import requests

        monkeypatch.setattr(requests, "generate_pieces", lambda *_, **__: pytest.fail("generated before refusing"))
    result = aea_tiny(tiny, *args)
    message = refused if ":" in refused else f"{refused}: is also an input"
    assert result.exit_code == 2, result.output
    assert result.stderr == f"aea: error: {message}; write the output elsewhere\n"
    assert {path: path.read_bytes() for path in sorted(tmp_path.rglob("*")) if path.is_file()} == before


def test_decoding_over_the_song_is_refused_from_another_folder_than_encoding_ran_in(tiny, tmp_path, monkeypatch):
    """Sources are recorded as typed (`songs/v.wav`, relative to where encode ran): from elsewhere the check found
    nothing there, and `aea decode enc/z.pt -o enc/songs/` replaced the song."""
    (tmp_path / "enc" / "songs").mkdir(parents=True)
    shutil.copy(next(tiny["song"].iterdir()), tmp_path / "enc" / "songs" / "v.wav")
    monkeypatch.chdir(tmp_path / "enc")
    assert aea_tiny(tiny, "encode", "songs/v.wav", "-o", "z.pt").exit_code == 0
    monkeypatch.chdir(tmp_path)
    song = (tmp_path / "enc" / "songs" / "v.wav").read_bytes()
    result = aea_tiny(tiny, "decode", "enc/z.pt", "-o", "enc/songs/")
    assert result.exit_code == 2 and "is also an input" in result.stderr, result.output
    assert (tmp_path / "enc" / "songs" / "v.wav").read_bytes() == song


# ----------------------------------------------------------------------------- folders holding audio aea cannot read


@pytest.mark.parametrize("command", ["encode", "reconstruct"])
def test_a_folder_s_m4a_is_reported_with_how_to_convert_it_and_skipped(tiny, tmp_path, command):
    """`aea encode mix` wrote a matrix of the folder's WAV without a word about its .m4a."""
    hint = ".m4a files are not supported; convert to WAV, FLAC, OGG or MP3 (e.g. ffmpeg -i 'song.m4a' 'song.flac')"
    for folder in ("mix", "only"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(100))
    shutil.copy(next(tiny["song"].iterdir()), tmp_path / "mix" / "mono.wav")
    out = "z.npz" if command == "encode" else "out/"
    mixed = aea_tiny(tiny, command, tmp_path / "mix", "-o", tmp_path / out)
    assert mixed.exit_code == 1, mixed.output
    assert f"aea: error: {tmp_path / 'mix' / 'song.m4a'}: {hint}\n" in mixed.stderr
    assert "aea: 1 of 2 inputs failed (see above); the rest were written" in mixed.stderr
    assert (tmp_path / out).exists()
    nothing = tmp_path / ("nothing.npz" if command == "encode" else "nothing.wav")
    only = aea_tiny(tiny, command, tmp_path / "only", "-o", nothing)
    assert only.exit_code == 2 and only.stderr == f"aea: error: {tmp_path / 'only' / 'song.m4a'}: {hint}\n"
    assert not nothing.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "SONG", "-o", "afile/z.pt"],
        ["encode", "SONG", "-o", "afile/deeper/z.npz"],
        ["reconstruct", "SONG", "-o", "afile/out.wav"],
        ["report", "-o", "afile/page", "--no-generate"],
    ],
)
def test_an_output_under_a_file_names_the_file_in_the_way(tiny, tmp_path, monkeypatch, args):
    """`aea encode song.wav -o afile/z.pt` said "afile/z.pt: cannot write (File exists)", and `aea report -o afile/rep`
    "afile/rep/run: not a directory": the path at fault is afile, a file where a folder must be."""
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("x")
    song = next(tiny["song"].iterdir())
    result = aea_tiny(tiny, *[song if arg == "SONG" else arg for arg in args])
    assert result.exit_code == 2, result.output
    assert result.stderr == "aea: error: afile: not a directory\n"


@pytest.mark.slow
def test_a_source_warning_is_said_once_with_plot(env, tmp_path):
    """--plot read the source again for the figure and said its warning a second time."""
    tone = 0.4 * np.sin(np.arange(16000) / 3)
    soundfile.write(tmp_path / "cancel.wav", np.stack([tone, -tone], 1), 8000)
    result = aea(env, "reconstruct", tmp_path / "cancel.wav", "-o", tmp_path / "r.wav", "--plot")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("its channels cancel when mixed to mono") == 1 and (tmp_path / "r.png").exists()
