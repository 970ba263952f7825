"""The ``neutrace`` command line (layer 6): argument parsing and output only, no domain logic.

Each sub-command lives in a module of its own that lists it in ``COMMANDS``
(`neutrace.cli._common.Command`); errors reach the user through `neutrace.cli._common.fail_on`.
"""

from __future__ import annotations

import typer

from neutrace.cli import collect, diagram, ofproto_trace, real, serve, show, trace
from neutrace.cli._common import Command

app = typer.Typer(
    name="neutrace",
    help="OpenStack Neutron's ML2/OVS data plane: program, show, simulate and trace.",
    no_args_is_help=True,
    add_completion=False,
)


def version() -> None:
    """Print neutrace's version."""
    from neutrace import __version__

    typer.echo(__version__)


for _command in (*show.COMMANDS, *ofproto_trace.COMMANDS, *trace.COMMANDS, *diagram.COMMANDS,
                 *serve.COMMANDS, *collect.COMMANDS, *real.COMMANDS,
                 Command("version", version)):
    _command.register(app)


def main() -> None:
    """The ``neutrace`` entry point."""
    app()
