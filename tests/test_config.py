from pathlib import Path

import pytest

import autoenc_audio
from autoenc_audio.config import PRESETS_DIR, AudioConfig, Config, ConfigError, load_config, preset_names
from autoenc_audio.tomlwrite import dump_toml

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs").glob("*.toml")))
def test_every_preset_loads_by_path_and_by_name(preset):
    config = load_config(ROOT / "configs" / f"{preset}.toml")
    assert config.audio.clip_samples > 0
    assert load_config(preset) == config


def test_presets_ship_inside_the_package():
    """An installed wheel has no configs/ folder: the presets live in the package, configs/ links to them."""
    assert preset_names() == sorted(p.stem for p in (ROOT / "configs").glob("*.toml"))
    assert {"default", "demo", "seed", "tiny"} <= set(preset_names())
    assert PRESETS_DIR.resolve().is_relative_to(Path(autoenc_audio.__file__).resolve().parent)


def test_unknown_preset_lists_the_presets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="^sead: no such config file or preset \\(presets: default, demo, "):
        load_config("sead")
    (tmp_path / "seed").write_text("[train]\nlr = 0.5\n")  # a file of that name wins over the preset
    assert load_config("seed").train.lr == 0.5
    (tmp_path / "tiny").mkdir()  # a folder does not (e.g. a run folder named like the preset)
    assert load_config("tiny") == load_config(PRESETS_DIR / "tiny.toml")
    with pytest.raises(ConfigError, match="^tiny.toml: is a folder, not a config file$"):
        (tmp_path / "tiny.toml").mkdir()
        load_config("tiny.toml")


def test_training_without_a_config_uses_the_default_preset():
    """`aea train` with no --config gets exactly the recipe `presets/default.toml` documents and bench measures."""
    assert load_config(None) == load_config("default")


def test_seed_preset_is_the_original_recipe():
    config = load_config(ROOT / "configs" / "seed.toml")
    assert (config.model.arch, config.train.lr, config.train.batch_size) == ("seed", 0.02, 20)
    assert config.train.loss_weights["rmse"] == 1.0 and config.train.loss_weights["l1"] == 0.0


def test_clip_length_and_rate_are_settings():
    assert AudioConfig().clip_samples == 110250
    assert AudioConfig(sample_rate=16000, clip_seconds=2.5).clip_samples == 40000


def test_round_trip_through_toml(tmp_path):
    config = Config().override(model={"latent": 777, "arch": "seed"}, train={"minutes": 3.5})
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(config.to_dict()))
    assert load_config(path) == config


def test_a_step_budget_alone_lifts_the_epoch_limit_and_reads_back_so(tmp_path):
    """`--steps 3000` on the default preset trains 3000 steps, not 20 epochs, also when the run's saved config
    (TOML has no null: no `epochs` key) is read back for --resume."""
    config = load_config("default").with_budget(None, None, steps=3000)
    assert config.train.steps == 3000 and config.train.epochs is None
    path = tmp_path / "c.toml"
    path.write_text(dump_toml(config.to_dict()))
    train_table = path.read_text().split("[train]")[1].split("\n[")[0]
    assert "\nepochs =" not in train_table and "\nsteps = 3000" in train_table
    assert load_config(path) == config


def test_a_budget_given_replaces_the_whole_old_one():
    """`aea train --resume --epochs 20` on a run trained with `--minutes 10` trains by epochs: the old clock limit,
    already spent, would otherwise stop it at once."""
    by_clock = load_config("default").with_budget(10.0, None)
    assert (by_clock.train.minutes, by_clock.train.epochs, by_clock.train.steps) == (10.0, None, None)
    by_epochs = by_clock.with_budget(None, 20)
    assert (by_epochs.train.minutes, by_epochs.train.epochs, by_epochs.train.steps) == (None, 20, None)
    both = by_epochs.with_budget(5.0, 3, steps=100)  # all three given: whichever ends first
    assert (both.train.minutes, both.train.epochs, both.train.steps) == (5.0, 3, 100)
    assert both.with_budget(None, None) is both  # none given: the config's own


def test_flags_override_and_none_means_not_given():
    config = Config().override(train={"lr": None, "batch_size": 7})
    assert config.train.lr == Config().train.lr and config.train.batch_size == 7


@pytest.mark.parametrize(
    "text, message",
    [
        ("[model]\narch = 'transformer'", "model.arch"),
        ("[model]\nlatnet = 5", "unknown keys in [model]: latnet"),
        ("[model]\nenvelope = 1.0", "model.envelope must be at least 0 and below 1"),
        ("[training]\nlr = 1", "unknown config sections"),
        ("[train]\nloss_weights = { l2 = 1.0 }", "unknown losses: l2"),
        ("[audio]\nclip_seconds = -1", "clip_seconds must be positive"),
        ("[data]\nvalidation_fraction = 0.6\ntest_fraction = 0.5", "below 1"),
        ("not toml at all [", "not valid TOML"),
        ("[audio]\nsample_rate = 'x'", "audio.sample_rate must be an integer, got 'x'"),
        ("[model]\nlatent = 18376.5", "model.latent must be an integer, got 18376.5"),
        ("[train]\nlr = '1e-3'", "train.lr must be a number, got '1e-3'"),
        ("[train]\nepochs = true", "train.epochs must be an integer, got True"),
        ("[data]\ntrain_fraction = 0", "data.train_fraction must be above 0 and at most 1, got 0"),
        ("[data]\ncorpus_tracks = 0", "data.corpus_tracks must be at least 1, got 0"),
        ("[data]\ncorpus_seconds = 1000", "data.corpus_seconds must be above 0 and at most 600"),  # not synth's
        ("[data]\ncorpus_seconds = -1", "data.corpus_seconds must be above 0 and at most 600"),
        ("[train]\nsteps = 2.5", "train.steps must be an integer of at least 1, got 2.5"),
        ("[train]\nsteps = 0", "train.steps must be an integer of at least 1, got 0"),
        ("[prior]\npiece_style = 'genre'", "prior.piece_style must be label or any, got 'genre'"),
    ],
)
def test_bad_config_names_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "bad.toml" in str(info.value) and message in str(info.value)


def test_a_binary_file_is_not_a_config(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \xfe\xff\x00")
    with pytest.raises(ConfigError, match="song.wav: not a TOML config file"):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: config file not found"):
        load_config(tmp_path / "nope.toml")


def test_a_run_saved_before_model_decoder_existed_reads_back_as_it_was_built(tmp_path):
    """Old run folders and checkpoints name no decoder: they were built with the gated one (envelope bands from
    a quarter of the band, none unless they said so), whatever the default is for new runs."""
    from autoenc_audio.config import load_run_config

    old = Config().to_dict()
    for key in ("decoder", "envelope_start", "envelope"):
        del old["model"][key]
    path = tmp_path / "config.toml"
    path.write_text(dump_toml(old))
    model = load_run_config(path).model
    assert (model.decoder, model.envelope, model.envelope_start) == ("gated", 0.0, 0.25)
    old["model"]["envelope"] = 0.094  # a spectral-preset run kept its envelope share
    path.write_text(dump_toml(old))
    assert load_run_config(path).model.envelope == 0.094
    assert load_config(path).model == Config.from_dict(old).model  # settings for a new run are not rewritten


def test_the_short_stft_term_is_off_by_default_and_a_run_that_used_it_resumes_with_it(tmp_path):
    """Off in the default recipe (it smooths the frames); a run trained with it records it and resumes with it."""
    from autoenc_audio.config import load_run_config

    assert Config().train.loss_weights["short_stft"] == 0.0
    assert load_config("default").train.loss_weights["short_stft"] == 0.0
    path = tmp_path / "config.toml"
    path.write_text(dump_toml(Config().override(train={"loss_weights": {"short_stft": 1.0}}).to_dict()))
    weights = load_run_config(path).train.loss_weights
    assert weights["short_stft"] == 1.0 and weights["mel"] == 2.0
