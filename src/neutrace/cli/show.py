"""`neutrace show CLOUD` (layer 5): what the agents program on each host, as text or JSON.

Argument parsing and output only: the cloud is loaded by ``neutrace.topology``, programmed by
``neutrace.agents`` and rendered by ``neutrace.render.show`` / ``neutrace.render.state_json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.errors import NeutraceError


def show(
    cloud: Annotated[Path, typer.Argument(help="The cloud topology file (YAML/JSON).")],
    host: Annotated[str | None, typer.Option(help="Only this host.")] = None,
    bridge: Annotated[str | None, typer.Option(help="Only this OVS bridge.")] = None,
    namespace: Annotated[
        str | None, typer.Option(help='Only this namespace ("" is the root namespace).')
    ] = None,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    openflow10: Annotated[bool, typer.Option(
        "--openflow10", help="Print flows as a plain (OpenFlow 1.0) dump-flows spells them.")
    ] = False,
) -> None:
    """Show each host as Neutron's agents program it: ovs-vsctl show, ovs-ofctl dump-flows,
    ip addr / ip route, iptables-save (text), or the HostState itself (json)."""
    from neutrace import topology
    from neutrace.agents import program
    from neutrace.render.show import cloud_text
    from neutrace.render.state_json import to_json

    if format not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")
    try:
        state = program(topology.load(str(cloud)))
    except NeutraceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if host is not None and state.host(host) is None:
        names = ", ".join(h.name for h in state.hosts)
        typer.echo(f"error: {cloud}: no host {host!r} (hosts: {names})", err=True)
        raise typer.Exit(2)
    if format == "json":
        if host is not None:
            hs = state.host(host)
            assert hs is not None
            typer.echo(to_json(hs), nl=False)
        else:
            typer.echo(to_json(state), nl=False)
        return
    typer.echo(cloud_text(state, host=host, bridge=bridge, namespace=namespace,
                          openflow10=openflow10), nl=False)


def register(app: typer.Typer) -> None:
    """Add this module's command(s) to `app`."""
    app.command("show")(show)
