"""`python -m autoenc_audio` is the `aea` command."""

from .cli import main

main()
