"""The `aea` command: one Click group; each command parses, calls the library, prints."""

from __future__ import annotations

import io
import sys

import click

from ..version import __version__
from .common import AeaGroup


@click.group(cls=AeaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="aea")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """aea: learn compact latent vectors of music with convolutional autoencoders.

    Train on a folder of songs (or the built-in synthetic corpus), then encode,
    decode, reconstruct and generate from the command line.

    \b
    Example:
      aea train --latent 18376 --minutes 10
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    for stream in (sys.stdout, sys.stderr):  # a file name whose bytes are not UTF-8 prints as those bytes, as ls does
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")


def _register() -> None:
    from . import (
        analysis_commands,
        data_commands,
        demo_command,
        explore_command,
        export_command,
        generate_command,
        latent_commands,
        plot_commands,
        report_command,
        score_command,
        train_commands,
    )

    for module in (
        data_commands,
        train_commands,
        latent_commands,
        generate_command,
        export_command,
        explore_command,
        plot_commands,
        analysis_commands,
        score_command,
        report_command,
        demo_command,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="aea")
