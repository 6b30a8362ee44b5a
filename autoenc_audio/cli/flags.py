"""Library errors in the shell's words: each parameter name a message uses becomes the flag that sets it.

The library names its own parameters and config keys (`hop_seconds`,
`model.latent`, `resume=True`) and lists them in the error's `settings`;
only those listed are replaced, each wherever it stands as a word of its
own. A setting whose name is also a plain word ("clips") is written with
its value (`clips=N`), so the plain word elsewhere in the message stays.
Light: no torch, no library modules beyond `errors`.
"""

from __future__ import annotations

import re

from ..errors import first_line

FLAG_FOR_SETTING: dict[str, str] = {
    "audio_format": "--audio-format",
    "clips=N": "--clips N",
    "data_root": "--data",
    "device": "--device",
    "environment_model": "AEA_MODEL",
    "hop_seconds": "--hop",
    "latents": "--latents",
    "listen": "--listen",
    "model": "--model",
    "model.latent": "--latent",
    "out": "-o",
    "overwrite=True": "--overwrite",
    "resume=True": "--resume",
    "run_dir": "--out",
    "save_input": "--save-input",
}
"""A library setting, spelt as messages spell it -> what a shell user types instead."""


def _spelt_alone(setting: str) -> re.Pattern[str]:
    """`setting` as a word of its own: not part of a path, a longer name or a flag."""
    return re.compile(rf"(?<![\w./\\-]){re.escape(setting)}(?![\w/\\-])")


def in_flag_terms(error: BaseException) -> str:
    """`error`'s message as one line, each setting it lists (`error.settings`) named by its flag."""
    message = first_line(error)
    for setting in getattr(error, "settings", ()):
        flag = FLAG_FOR_SETTING.get(setting)
        if flag is not None:
            message = _spelt_alone(setting).sub(flag, message)
    return message
