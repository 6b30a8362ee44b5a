"""`aea demo` never replaces a run it did not make unless told to."""

from click.testing import CliRunner

from autoenc_audio.cli import cli


def test_demo_refuses_a_folder_that_holds_a_run(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.safetensors").write_bytes(b"a model")
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 2 and "already holds a run" in result.output and "--overwrite" in result.output
    assert (tmp_path / "run" / "best.safetensors").read_bytes() == b"a model"


def test_demo_json_prints_one_line_of_what_it_wrote_and_no_tables(tmp_path, monkeypatch):
    """`--json` prints the run's results as one JSON object on stdout; the corpus table and the results tables,
    meant for people, are left out (demo had no --json while every other command that prints results has)."""
    import json

    from autoenc_audio import demo
    from autoenc_audio.latents.outputs import Written

    def fake_demo(config, out, cache_dir, on_corpus, **_):
        on_corpus(tmp_path / "corpus", {"labels": {"bells": {"tracks": 2, "clips": 4, "seconds": 20.0}}})
        written = Written(str(out / "reconstruction.wav"), "a.wav", (0, 1), 8000, metrics={"snr_db": 9.5})
        return demo.DemoResult(out, {"epochs": 2}, "a.wav", written, audio=[str(out / "random.wav")], notes=["n"])

    monkeypatch.setattr(demo, "run_demo", fake_demo)
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)  # exactly one JSON document
    assert record["reconstruction"]["metrics"] == {"snr_db": 9.5} and record["training"] == {"epochs": 2}
    assert record["audio"] == [str(tmp_path / "run" / "random.wav")] and record["run_dir"] == str(tmp_path / "run")
    assert "aea: n" in result.stderr
