"""Library errors in the shell's words: each parameter name a message uses becomes the flag that sets it.

The library names its own parameters and config keys (`hop_seconds`,
`model.latent`, `resume=True`) and lists them in the error's `settings`;
only those listed are replaced, each wherever it stands as a word of its
own (not inside quotes: `method 'prior'` names a value). A listed setting the
message does not spell is appended as its flag, `... [--seconds]`. A setting
whose name is also a plain word ("clips") is written with its value
(`clips=N`), so the plain word elsewhere in the message stays. The flag of
a setting is the table's, else the running command's option of that name.
Light: no torch, no library modules beyond `errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import first_line

FLAG_FOR_SETTING: dict[str, str] = {
    "audio.clip_seconds": "--clip-seconds",
    "audio.sample_rate": "--sample-rate",
    "audio_format": "--audio-format",
    "clips=N": "--clips N",
    "data_root": "--data",
    "device": "--device",
    "environment_model": "AEA_MODEL",
    "hop_seconds": "--hop",
    "html": "--html",
    "latents": "--latents",
    "listen": "--listen",
    "model": "--model",
    "model.latent": "--latent",
    "n": "--n",
    "out": "-o",
    "overwrite": "--overwrite",
    "overwrite=True": "--overwrite",
    "prior": "--prior",
    "prior=PATH": "--prior PATH",
    "resume": "--resume",
    "resume=True": "--resume",
    "run_dir": "--out",
    "sources": "--from",
    "train.lr": "--lr",
    "save_input": "--save-input",
}
"""A library setting, spelt as messages spell it -> what a shell user types instead."""


def _spelt_alone(setting: str) -> re.Pattern[str]:
    """`setting` as a word of its own: not part of a path, a longer name, a flag or a quoted value."""
    return re.compile(rf"(?<![\w./\\'\"-]){re.escape(setting)}(?![\w/\\'\"-])")


def command_flags(command: object) -> dict[str, str]:
    """A Click command's options by parameter name -> its longest flag (`crop_seed` -> `--seed`)."""
    options = [param for param in getattr(command, "params", ()) if getattr(param, "opts", None) and param.name]
    return {param.name: max(param.opts, key=len) for param in options if max(param.opts, key=len).startswith("-")}


def in_flag_terms(error: BaseException, options: Mapping[str, str] | None = None) -> str:
    """`error`'s message as one line, each setting it lists (`error.settings`) named by its flag.

    `options`: the running command's flags by parameter name (`command_flags`), for settings not in the table.
    """
    message, unspelt = first_line(error), []
    for setting in getattr(error, "settings", ()):
        flag = FLAG_FOR_SETTING.get(setting) or (options or {}).get(setting)
        if flag is None:
            continue
        spelt = _spelt_alone(setting)
        if spelt.search(message):
            message = spelt.sub(flag, message)
        elif flag not in unspelt:
            unspelt.append(flag)
    return f"{message} [{', '.join(unspelt)}]" if unspelt else message
