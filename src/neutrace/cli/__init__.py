"""The ``neutrace`` command line (layer 6): argument parsing and output only, no domain logic.

Each sub-command lives in a module of its own that lists it in ``COMMANDS``
(`neutrace.cli._common.Command`); errors reach the user through `neutrace.cli._common.fail_on`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from neutrace.cli import collect, diagram, ofproto_trace, real, serve, show, trace
from neutrace.cli._common import Command, NeutraceGroup

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
                 *serve.COMMANDS, *collect.COMMANDS, *real.COMMANDS,
                 Command("version", version, "Print neutrace's version.")):
    _command.register(app)


def main() -> None:
    """The ``neutrace`` entry point."""
    app()
