"""The ``neutrace`` command line (layer 6): argument parsing and output only, no domain logic.

Each sub-command lives in a module of its own that lists it in ``COMMANDS``
(`neutrace.cli._common.Command`); errors reach the user through `neutrace.cli._common.fail_on`.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import typer

from neutrace.cli import (
    collect,
    diagram,
    diff,
    ofproto_trace,
    reach,
    real,
    serve,
    show,
    trace,
)
from neutrace.cli._common import EXIT_INTERNAL, Command, NeutraceGroup
from neutrace.errors import InputWarning

app = typer.Typer(
    name="neutrace",
    cls=NeutraceGroup,
    help="OpenStack Neutron's ML2/Open vSwitch data plane: program a cloud as Neutron's agents "
         "would, show it, walk packets through it and draw them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    """``--version``: print the version and stop."""
    if value:
        from neutrace import __version__

        typer.echo(f"neutrace {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print neutrace's version and exit.")] = False,
) -> None:
    """OpenStack Neutron's ML2/Open vSwitch data plane: program a cloud as Neutron's agents
    would, show it, walk packets through it and draw them."""


def version() -> None:
    """Print neutrace's version."""
    from neutrace import __version__

    typer.echo(f"neutrace {__version__}")


for _command in (*show.COMMANDS, *ofproto_trace.COMMANDS, *trace.COMMANDS, *diagram.COMMANDS,
                 *serve.COMMANDS, *collect.COMMANDS, *diff.COMMANDS, *real.COMMANDS,
                 *reach.COMMANDS,
                 Command("version", version, "Print neutrace's version.")):
    _command.register(app)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """An `InputWarning` as one ``warning: ...`` line on stderr (others as Python shows them)."""
    if issubclass(category, InputWarning):
        typer.echo(f"warning: {message}", err=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)  # type: ignore[arg-type]


_python_show_warning = warnings.showwarning
#: The last resort (tests turn it off to prove that bad input never needs it): an exception
#: that is not a `NeutraceError` (a bug) becomes one line and exit status 4, not a traceback.
LAST_RESORT = {"enabled": True}


def main() -> None:
    """The ``neutrace`` entry point."""
    warnings.showwarning = _show_warning
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the one outer boundary (see LAST_RESORT)
        if not LAST_RESORT["enabled"]:
            raise
        typer.echo(f"error: internal error: {type(exc).__name__}: {str(exc)[:300]} (this is a "
                   "bug in neutrace: please report it with the input that caused it)", err=True)
        sys.exit(EXIT_INTERNAL)
