"""TOML written for configs reads back as the same values."""

import tomllib

import pytest

from autoenc_audio.config import Config, load_config
from autoenc_audio.tomlwrite import dump_toml


def test_values_of_every_kind_read_back_unchanged_and_none_is_left_out():
    sections = {
        "a": {
            "flag": True,
            "count": 3,
            "rate": 2e-3,
            "name": 'say "hi"\n',
            "sizes": [1, 2],
            "weights": {"l1": 1.0, "kl": None},
            "missing": None,
        }
    }
    read = tomllib.loads(dump_toml(sections))
    assert read == {
        "a": {"flag": True, "count": 3, "rate": 2e-3, "name": 'say "hi"\n', "sizes": [1, 2], "weights": {"l1": 1.0}}
    }


def test_a_config_survives_a_round_trip(tmp_path):
    config = Config().override(model={"latent": 4096}, train={"epochs": 3})
    (tmp_path / "config.toml").write_text(dump_toml(config.to_dict()))
    assert load_config(tmp_path / "config.toml") == config


def test_values_toml_cannot_hold_are_refused():
    with pytest.raises(TypeError, match="cannot write object as TOML"):
        dump_toml({"a": {"thing": object()}})
