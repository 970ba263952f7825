"""The ``neutrace`` command line (layer 5): argument parsing and output only, no domain logic.

Each sub-command lives in a module of its own and registers itself on `app`.
"""

from __future__ import annotations

import typer

from neutrace.cli import ofproto_trace, show, trace

app = typer.Typer(
    name="neutrace",
    help="OpenStack Neutron's ML2/OVS data plane: program, show, simulate and trace.",
    no_args_is_help=True,
    add_completion=False,
)

for _module in (show, ofproto_trace, trace):
    _module.register(app)


@app.command()
def version() -> None:
    """Print neutrace's version."""
    from neutrace import __version__

    typer.echo(__version__)


def main() -> None:
    app()
