"""`aea generate` and `Model.generate` refuse what they cannot carry out as asked, in one line naming the option:
an option the mode ignores, a number that is not finite or too small, a length the fallback cannot give."""

import json
import math
import re

import pytest
import soundfile
from click.testing import CliRunner

import autoenc_audio as aea
from autoenc_audio.cli import cli
from autoenc_audio.errors import InputError
from autoenc_audio.scoring.score_sets import ScoreError


@pytest.fixture(scope="module")
def runs(tmp_path_factory, write_songs, make_checkpoint, make_run_with_prior):
    """A bare tiny model (no prior) and a tiny run with its prior, on the same songs."""
    root = tmp_path_factory.mktemp("requests")
    songs = write_songs(root / "songs")
    make_checkpoint(songs, root / "cache", root / "bare" / "best.safetensors")
    make_run_with_prior(songs, root / "cache", root / "run")
    return {
        "bare": root / "bare",
        "run": root / "run",
        "songs": songs,
        "a": songs / "low" / "low.00000.wav",
        "b": songs / "high" / "high.00000.wav",
    }


def generate(model, *args, input=None):
    command = ["generate", "--model", model, *args]
    return CliRunner().invoke(cli, [str(a) for a in command], input=input, env={"AEA_MODEL": ""})


def refused(result, *said):
    """Exit 2 with one line on stderr, saying each of `said`."""
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "error: " in result.stderr, result.stderr
    assert all(part in result.stderr for part in said), result.stderr
    return result.stderr


@pytest.mark.slow
def test_average_without_a_prior_refuses_seconds_and_n_saying_there_is_no_prior(runs, tmp_path):
    bare, a, b = runs["bare"], runs["a"], runs["b"]
    long = generate(bare, "--mode", "average", "--from", a, b, "--seconds", 20, "-o", tmp_path / "mix.wav")
    refused(long, "no prior", "one clip", "cannot honour --seconds", "aea train-prior", str(bare))
    refused(generate(bare, "--mode", "average", "--from", a, b, "--n", 3, "-o", tmp_path / "m.wav"), "--n")
    assert not (tmp_path / "mix.wav").exists() and not (tmp_path / "m-000.wav").exists()
    label = generate(bare, "--mode", "average", "--label", "low", "-o", tmp_path / "jazz.wav")
    refused(label, "no prior", "label 'low'", "needs --data", "aea train-prior")
    plain = generate(bare, "--mode", "average", "--from", a, b, "-o", tmp_path / "one.wav")
    assert plain.exit_code == 0 and "using method 'mean'" in plain.stderr  # one clip, as it says
    assert soundfile.info(tmp_path / "one.wav").frames == 8000


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, said",
    [
        (["--mode", "random", "--label", "low"], "--label has no effect with --mode 'random'"),
        (["--mode", "average", "--label", "low", "--from", "A"], "give either --from or a --label, not both"),
        (["--mode", "interpolate", "--from", "A", "B", "--n", 3], "--n has no effect with --mode 'interpolate'"),
        (["--mode", "continue", "--from", "A", "--n", 3], "--n has no effect with --mode 'continue'"),
        (["--mode", "average", "--method", "mean", "--from", "A", "--n", 3], "--n has no effect with --mode 'average'"),
        (["--mode", "random", "--steps", 3], "--steps has no effect with --mode 'random'"),
        (["--mode", "random", "--steps", 5], "--steps has no effect with --mode 'random'"),  # typed at its default
        (["--mode", "interpolate", "--from", "A", "B", "--n", 1], "--n has no effect with --mode 'interpolate'"),
        (["--mode", "continue", "--from", "A", "--crop", "center"], "--crop has no effect with --mode 'continue'"),
        (["--mode", "random", "--morph"], "--morph has no effect with --mode 'random'"),
        (["--mode", "random", "--prime-seconds", 0.5], "--prime-seconds has no effect with --mode 'random'"),
        (["--mode", "continue", "--from", "A", "--crop", "start"], "--crop has no effect with --mode 'continue'"),
        (
            ["--mode", "average", "--label", "low", "--offset", 1],
            "source files of --mode 'continue', 'average' or 'interpolate', not a label's clips",
        ),
        (
            ["--mode", "interpolate", "--from", "A", "B", "--prior", "nope.safetensors"],
            "--prior nope.safetensors has no effect with --mode 'interpolate'",
        ),
        (
            ["--mode", "average", "--method", "mean", "--from", "A", "--prior", "nope.safetensors"],
            "--prior nope.safetensors has no effect with --mode 'average', --method 'mean'",
        ),
    ],
)
def test_an_option_the_mode_ignores_is_refused_naming_it(runs, tmp_path, args, said):
    args = [runs["a"] if arg == "A" else runs["b"] if arg == "B" else arg for arg in args]
    refused(generate(runs["run"], *args, "-o", tmp_path / "x.wav"), said)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_options_a_mode_uses_are_still_taken(runs, tmp_path):
    run, a, b = runs["run"], runs["a"], runs["b"]
    styled = generate(run, "--mode", "average", "--label", "low", "--n", 2, "--seconds", 1.5, "-o", tmp_path / "s.wav")
    assert styled.exit_code == 0, styled.output
    assert soundfile.info(tmp_path / "s-001.wav").frames == 12000
    morph = generate(run, "--mode", "interpolate", "--from", a, b, "--steps", 3, "--morph", "-o", tmp_path / "m.wav")
    assert morph.exit_code == 0, morph.output


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, said",
    [
        (["--mode", "random", "--seconds", "inf"], "--seconds must be a finite number above 0, got inf"),
        (["--mode", "random", "--temperature", "nan"], "--temperature must be a finite number, 0 or more, got nan"),
        (["--mode", "continue", "--from", "A", "--offset", "nan"], "--offset must be a finite number, 0 or more"),
        (["--mode", "random", "--seconds", "1e-6"], "--seconds must be at least one sample (0.000125 s), got 1e-06"),
        (
            ["--mode", "average", "--method", "mean", "--from", "A", "B", "--weights", "nan,1"],
            "--weights must be finite",
        ),
    ],
)
def test_a_number_that_is_not_finite_or_too_short_names_its_option(runs, tmp_path, args, said):
    args = [runs["a"] if arg == "A" else runs["b"] if arg == "B" else arg for arg in args]
    refused(generate(runs["run"], *args, "-o", tmp_path / "x.wav"), said)


@pytest.mark.slow
def test_continue_reads_its_song_from_stdin(runs, tmp_path):
    song = runs["a"].read_bytes()
    result = generate(
        runs["run"], "--mode", "continue", "--from", "-", "--seconds", 2, "-o", tmp_path / "c.wav", input=song
    )
    assert result.exit_code == 0, result.output
    sidecar = json.loads((tmp_path / "c.json").read_text())
    assert sidecar["sources"] == ["<stdin>"] and sidecar["request"]["sources"] == ["<stdin>"]
    assert soundfile.info(tmp_path / "c.wav").frames == 16000
    twice = generate(runs["run"], "--mode", "interpolate", "--from", "-", "-", "-o", tmp_path / "i.wav", input=song)
    refused(twice, "- reads stdin once")
    from autoenc_audio.generation.regenerate import regenerate

    with pytest.raises(InputError, match="made from a song piped to stdin, which was not kept"):
        regenerate(tmp_path / "c.json")


@pytest.mark.slow
def test_the_api_takes_one_source_or_set_as_a_string(runs, tmp_path):
    model = aea.load(runs["run"])
    piece = model.generate("continue", sources=str(runs["a"]), seconds=1.5, seed=1)[0]
    assert piece.metadata["sources"] == [str(runs["a"])] and len(piece.samples) == 12000
    (tmp_path / "gen8").mkdir()
    soundfile.write(tmp_path / "gen8" / "g.wav", piece.samples, 8000)
    with pytest.raises(ScoreError, match=f"^{re.escape(str(tmp_path / 'gen8'))}: "):  # the folder, not a character
        aea.score(str(tmp_path / "gen8"), data=runs["songs"], cache_dir=tmp_path / "cache")


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode, options, said",
    [
        ("nope", {}, "mode 'nope' is not one of 'random', 'continue', 'average', 'interpolate'"),
        ("random", {"color": "red"}, "generate takes no option color; its options: method, seconds, n, seed"),
        ("random", {"temperature": -1}, "temperature must be a finite number, 0 or more, got -1"),
        ("random", {"temperature": math.nan}, "temperature must be a finite number, 0 or more, got nan"),
        ("random", {"n": 0}, "n must be a whole number, at least 1, got 0"),
        ("random", {"label": "low"}, "label has no effect with mode 'random'"),
    ],
)
def test_the_api_raises_input_errors_naming_the_argument(runs, mode, options, said):
    with pytest.raises(InputError) as raised:
        aea.load(runs["run"]).generate(mode, **options)
    assert str(raised.value).startswith(said)


def test_the_dataset_is_context_any_mode_takes_and_counts_may_be_numpy_integers():
    """`make demo` and old sidecars pass the corpus with every request; the API's users pass numpy counts."""
    from pathlib import Path

    import numpy as np

    from autoenc_audio.generation.requests import GenerateRequest, check_options_apply

    corpus = Path("corpus")
    check_options_apply(GenerateRequest("random", data_root=corpus), "prior")
    check_options_apply(GenerateRequest("interpolate", sources=("a", "b"), data_root=corpus), "linear")
    check_options_apply(GenerateRequest("random", n=np.int64(4), data_root=corpus), "gaussian")


@pytest.mark.slow
def test_a_label_s_mean_comes_from_the_data_the_run_was_trained_on_unless_data_is_given(runs, tmp_path):
    """`--mode average --method mean --label low` said "needs --data", though the run records its data."""
    made = generate(runs["run"], "--mode", "average", "--method", "mean", "--label", "low", "-o", tmp_path / "l.wav")
    assert made.exit_code == 0, made.output
    sidecar = json.loads((tmp_path / "l.json").read_text())
    assert sidecar["data"] == str(runs["songs"].resolve()) and sidecar["clips"] > 0
    assert sidecar["request"]["data_root"] == str(runs["songs"].resolve())  # recorded: regenerating repeats it


def test_a_label_refused_for_its_mode_builds_no_data_first(runs, tmp_path, monkeypatch):
    """`--mode random --label bells` built the run's built-in corpus, then refused the label."""
    from autoenc_audio.generation import requests

    monkeypatch.setattr(requests, "training_data", lambda *_: pytest.fail("looked for the training data"))
    refused(generate(runs["bare"], "--mode", "random", "--label", "low", "-o", tmp_path / "r.wav"), "--label")


@pytest.mark.slow
def test_a_run_whose_training_data_is_gone_says_so_and_how_to_give_it(runs, tmp_path):
    import shutil

    run = tmp_path / "moved"
    shutil.copytree(runs["run"], run)
    (run / "run.json").write_text(json.dumps({"data_root": str(tmp_path / "gone")}))
    said = generate(run, "--mode", "average", "--method", "mean", "--label", "low", "-o", tmp_path / "l.wav")
    refused(said, f"was trained on {tmp_path / 'gone'}, which is not there", "--data")
