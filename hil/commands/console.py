"""What every command prints through: stdout for what it did and found, stderr for what went wrong (with `hil
--json`, stdout is stderr too: hil/run/events.py), the run core's lines and stops, and the help shared by commands."""

import sys

import typer
from rich.console import Console

from hil.run.say import RunStop, Say

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
say = Say(out=lambda line: out.print(line, markup=False), err=lambda line: err.print(line, markup=False))

RIG_HELP = "rig file (default: the project's fixtures/rigs/emulator.yaml, else the reference emulator rig)"
SPECS_HELP = "requirement files (default: the project's specs/, else the reference requirements)"


def commands(help: str, **options) -> typer.Typer:
    """A command group with Click's plain help: typer's rich panels show every flag as `--help <bool>`."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **options)


def fail(line: str, exit_status: int = 1) -> typer.Exit:
    """The one line that says why on stderr; raise what it returns (`raise fail(...) from None`)."""
    err.print(line, markup=False)
    return typer.Exit(exit_status)


def stopped(stop: RunStop) -> typer.Exit:
    """A stop of the run core, said; raise what it returns."""
    if stop.line:
        err.print(stop.line, markup=False)
    return typer.Exit(stop.exit_status)
