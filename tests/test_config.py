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
        ("[train]\nsteps = 2.5", "train.steps must be an integer, got 2.5"),
        ("[train]\nsteps = 0", "train.steps must be an integer of at least 1, got 0"),
        ("[prior]\npiece_style = 'genre'", "prior.piece_style must be label or any, got 'genre'"),
        # NaN passes every comparison: a budget of nan minutes never ended, nan seconds failed late in Python's words
        ("[train]\nminutes = nan", "train.minutes must be a finite number, got nan"),
        ("[prior]\nminutes = nan", "prior.minutes must be a finite number, got nan"),
        ("[audio]\nclip_seconds = nan", "audio.clip_seconds must be a finite number, got nan"),
        ("[audio]\nclip_seconds = inf", "audio.clip_seconds must be a finite number, got inf"),
        ("[data]\nhop_seconds = nan", "data.hop_seconds must be a finite number, got nan"),
        ("[prior]\nmax_run_seconds = nan", "prior.max_run_seconds must be a finite number, got nan"),
        ("[prior]\nmodel_weight = nan", "prior.model_weight must be a finite number, got nan"),
        ("[prior]\nlr = nan", "prior.lr must be a finite number, got nan"),
        ("[prior]\ndevice = 'banana'", "prior.device must be auto, cpu, cuda or mps, got 'banana'"),
        ("[train]\ndevice = 'tpu'", "train.device must be auto, cpu, cuda or mps, got 'tpu'"),
        ("[model]\nhop = 0", "model.hop must be at least 1 and at most 16384, got 0"),
        ("[model]\nhop = 1000000", "model.hop must be at least 1 and at most 16384, got 1000000"),
        ("[model]\nwidth = 0", "model.width must be at least 1 and at most 4096, got 0"),
        ("[model]\nwidth = -4", "model.width must be at least 1 and at most 4096, got -4"),
        ("[model]\nblocks = -1", "model.blocks must be at least 0, got -1"),
        ("[train]\nlr = nan", "train.lr must be a finite number, got nan"),
        ("[train]\nlr = 1e300", "train.lr must be above 0 and at most 3.4e+38 (float32's largest), got 1e+300"),
        ("[train]\nweight_decay = -1.0", "train.weight_decay must be 0 or more, got -1.0"),
        ("[train]\nworkers = -1", "train.workers must be at least 0, got -1"),
        ("[train]\nloss_weights = { l1 = 'x' }", "train.loss_weights must be a table of numbers, got {'l1': 'x'}"),
        ("[train]\nloss_weights = { l1 = nan }", "train.loss_weights.l1 must be a finite number, got nan"),
        ("[train]\nloss_weights = { l1 = -20.0 }", "train.loss_weights must not be negative, got l1 = -20.0"),
        (
            "[train]\nloss_weights = { l1 = 0.0, mrstft = 0.0, mel = 0.0 }",
            "train.loss_weights must weigh at least one loss besides kl above 0, got none",
        ),
        (
            "[train]\nseed = 99999999999999999999",
            "train.seed must be from -9223372036854775808 to 9223372036854775807, got 99999999999999999999",
        ),
        (
            "[prior]\nseed = 99999999999999999999",
            "prior.seed must be from -9223372036854776 to 9223372036854775, got 99999999999999999999",
        ),
        ("[data]\nsplit_seed = -1", "data.split_seed must be from 0 to 9223372036854775807, got -1"),
        ("[audio]\nsample_rate = 99999999999999999999", "audio.sample_rate must be at least 1000 Hz and at most"),
        # a key whose default is None, a list or a table: its kind from the annotation, not Python's TypeError
        ("[train]\nminutes = '5'", "train.minutes must be a number, got '5'"),
        ("[train]\nminutes = true", "train.minutes must be a number, got True"),
        ("[data]\nhop_seconds = '1'", "data.hop_seconds must be a number, got '1'"),
        ("[train]\nloss_weights = 3", "train.loss_weights must be a table of numbers, got 3"),
        ("[model]\nseed_channels = ['a']", "model.seed_channels must be a list of integers, got ['a']"),
        (
            "[model]\nseed_channels = [0]\nseed_kernels = [1]\nseed_strides = [1]\nseed_paddings = [0]",
            "model.seed_channels must hold integers of at least 1, got [0]",
        ),
    ],
)
def test_bad_config_names_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "bad.toml" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[prior]\nmax_run_seconds = nan", "prior.max_run_seconds must be a finite number, got nan"),
        ("[model]\nhop = 0", "model.hop must be at least 1 and at most 16384, got 0"),
        ("[train]\nloss_weights = { l1 = 0.0, mrstft = 0.0, mel = 0.0 }", "train.loss_weights must weigh"),
        ("[train]\ndevice = 'tpu'", "train.device must be auto, cpu, cuda or mps, got 'tpu'"),
    ],
)
def test_aea_train_refuses_a_bad_file_at_once_naming_it_exit_2_before_any_data_work(tmp_path, text, message):
    """These were accepted and stored in the checkpoint (prior values failed at train-prior or generate), or failed
    in torch's words with exit 1 after data preparation."""
    from click.testing import CliRunner

    from autoenc_audio.cli import cli

    (tmp_path / "x.toml").write_text(text)
    args = [
        "train",
        "--config",
        str(tmp_path / "x.toml"),
        "--data",
        str(tmp_path / "gone"),
        "--out",
        str(tmp_path / "r"),
    ]
    result = CliRunner().invoke(cli, args, env={"AEA_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"x.toml: {message}" in result.output and not (tmp_path / "r").exists()


def test_a_folder_given_as_the_config_is_named_a_folder(tmp_path):
    """It said "no such config file or preset" of a folder that exists."""
    (tmp_path / "configs").mkdir()
    with pytest.raises(ConfigError, match="configs: is a folder, not a config file$"):
        load_config(tmp_path / "configs")


def test_a_config_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Windows Notepad starts UTF-8 with a BOM: it gave "not valid TOML: Invalid statement (at line 1, column 1)"."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[train]\nlr = 0.001\n")
    assert load_config(path).train.lr == 0.001


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


def test_values_an_earlier_aea_saved_still_load(tmp_path):
    """Runs, checkpoints and priors keep their config: one an earlier aea trained with `--seed -1`, `--minutes inf`
    (no clock limit, the steps ended it), or grad_clip and kl_warmup_epochs below 0 (off) must still load, though
    the flags now take seeds from 0 to 4294967295 only."""
    saved = tmp_path / "config.toml"
    saved.write_text(
        "[train]\nseed = -1\nminutes = inf\nsteps = 3\ngrad_clip = -1.0\nkl_warmup_epochs = -1\n[prior]\nseed = -1\n"
    )
    config = load_config(saved)
    assert config.train.seed == -1 and config.train.minutes == float("inf") and config.prior.seed == -1
    with pytest.raises(ConfigError, match="train.minutes must be a finite number, got nan"):
        saved.write_text("[train]\nminutes = nan\n")
        load_config(saved)
