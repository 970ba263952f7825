"""`neutrace diff` (layer 6): what Neutron should have programmed against what the captured
hosts hold. Exit status 0 when they agree, `EXIT_DIFFERENT` (1) when any host differs, 2 for
bad input (README: Exit statuses). The comparison is ``neutrace.app.diff``; its words are
``neutrace.render.drift``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import EXIT_DIFFERENT, Command, Format, fail_on
from neutrace.errors import CommandLineError


def diff(
    expected: Annotated[list[Path], typer.Argument(
        metavar="EXPECTED", help="What Neutron should have programmed: a topology file "
        "(docs/topology.md), or the JSON of the cloud's Neutron objects (docs/importing.md).")],
    sos: Annotated[list[Path], typer.Option(
        "--sos", metavar="CAPTURE", help="A host's capture (sosreport, neutrace collect folder "
        "or archive) or a folder of them; repeat for each host.")],
    fmt: Annotated[Format, typer.Option(
        "--format", help="text or json.")] = Format.text,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also show the import's notes, each host's local VLANs and "
        "what differs legitimately (tolerated).")] = False,
) -> None:
    """Compare what Neutron's agents would program (EXPECTED) with what the hosts hold
    (--sos): missing, extra and changed flows, ports, tags, tunnels, iptables rules,
    namespaces, addresses and routes, each explained in Neutron's terms."""
    from neutrace.app import diff as app_diff
    from neutrace.render.drift import drift_json, drift_text

    fmt = fmt.only(Format.text, Format.json)
    with fail_on():
        if not sos:
            raise CommandLineError("--sos", "", "nothing to compare with",
                                   "give each host's capture with --sos")
        result = app_diff.diff(expected, sos)
    for d in result.diagnostics:
        if verbose or d.level == "warning":
            typer.echo(str(d), err=True)
    if fmt is Format.json:
        typer.echo(drift_json(result.drift), nl=False)
    else:
        typer.echo(drift_text(result.drift, verbose), nl=False)
    raise typer.Exit(EXIT_DIFFERENT if result.drift.differs else 0)


COMMANDS = (Command("diff", diff, "Compare what Neutron should have programmed with what "
                    "captured hosts hold."),)
