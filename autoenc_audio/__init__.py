"""aea: learn compact latent vectors of music with convolutional autoencoders.

The Python API (docs/python.md), loaded on first use so that `import autoenc_audio` stays light:

    import autoenc_audio as aea
    model = aea.load("runs/demo")          # a run folder or checkpoint; device="cuda" for a GPU
    z = model.encode("song.wav")           # tensor [N]
    audio = model.decode(z)                # numpy [samples] at model.sample_rate
    aea.write_audio("out.wav", audio, model.sample_rate)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

API_NAMES = ("load", "score", "write_audio", "Model", "Encoded", "Reconstruction")
"""What `autoenc_audio.api` offers at the top level."""

if TYPE_CHECKING:
    from .api import Encoded, Model, Reconstruction, load, score, write_audio

__all__ = ["Encoded", "Model", "Reconstruction", "__version__", "load", "score", "write_audio"]


def __getattr__(name: str) -> Any:
    """`aea.load` and the rest of the API, imported (with torch) only when first asked for."""
    if name in API_NAMES:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
