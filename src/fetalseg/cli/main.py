"""The ``fetalseg`` command line.

Each subcommand lives in its own module ``fetalseg/cli/cmd_<name>.py`` that defines
``register(app)`` and an integer ``ORDER`` (position in ``--help``). Modules are found with
:mod:`pkgutil`, so adding a command never touches this file. Command modules import only typer at
import time; heavy libraries are imported inside the command functions so that ``fetalseg --help``
stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from .. import __version__
from ..errors import InputError

app = typer.Typer(
    name="fetalseg",
    help="Fetal brain MRI toolkit: segmentation, synthetic training, FeTA evaluation, biometry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fetalseg {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Fetal brain MRI toolkit: segmentation, synthetic training, FeTA evaluation, biometry."""


def _register_commands() -> None:
    from . import __path__ as cli_path

    mods = []
    for info in pkgutil.iter_modules(cli_path):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"{__package__}.{info.name}"))
    for mod in sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        mod.register(app)


_register_commands()


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors and exit code 2 for bad input."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, prog_name="fetalseg")
    except InputError as exc:
        if debug:
            raise
        from .common import cli_text

        print(f"fetalseg: error: {cli_text(exc.message)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("fetalseg: interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: still one line unless --debug
        if debug:
            raise
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"fetalseg: internal error: {type(exc).__name__}: {text} (rerun with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    run()
