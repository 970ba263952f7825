"""`neutrace show CLOUD` (layer 6): what the agents program on each host, as text or JSON.

Argument parsing and output only: the cloud is loaded by ``neutrace.topology``, programmed by
``neutrace.agents`` and rendered by ``neutrace.render.show`` / ``neutrace.render.state_json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import Command, Format, fail_on
from neutrace.errors import CommandLineError


def show(
    cloud: Annotated[Path, typer.Argument(
        metavar="CLOUD", help="The cloud's topology file (YAML or JSON, docs/topology.md).")],
    host: Annotated[str | None, typer.Option(
        "--host", metavar="HOST", help="Only this host.")] = None,
    bridge: Annotated[str | None, typer.Option(
        "--bridge", metavar="BRIDGE", help="Only this OVS bridge (its ovs-vsctl show, "
        "ovs-ofctl show and dump-flows).")] = None,
    namespace: Annotated[str | None, typer.Option(
        "--namespace", metavar="NAME", help='Only this namespace ("" is the root '
        "namespace).")] = None,
    fmt: Annotated[Format, typer.Option(
        "--format", help="text (as the tools print it) or json (the HostState itself).")
    ] = Format.text,
    openflow10: Annotated[bool, typer.Option(
        "--openflow10", help="Print flows as a plain (OpenFlow 1.0) ovs-ofctl dump-flows "
        "spells them, as older documents and the seed blog show them.")] = False,
) -> None:
    """Show each host as Neutron's agents program it: ovs-vsctl show, ovs-ofctl show (the
    ofport numbers), ovs-ofctl dump-flows, ip addr / ip route and iptables-save per namespace
    (text), or the HostState itself (json)."""
    from neutrace import topology
    from neutrace.agents import program
    from neutrace.render.show import cloud_text
    from neutrace.render.state_json import to_json

    fmt = fmt.only(Format.text, Format.json)
    with fail_on():
        model = topology.load(str(cloud))
        if host is not None and host not in {h.name for h in model.hosts}:
            raise CommandLineError("--host", host, f"{cloud} has no such host",
                                   "use one of " + ", ".join(h.name for h in model.hosts))
        # one host: only its agents run (the others' plans, not their state, are needed)
        state = program(model, only=None if host is None else {host})
        hs = state.host(host) if host is not None else None
        hosts = [hs] if hs is not None else list(state.hosts)
        if bridge is not None and not any(h.bridge(bridge) for h in hosts):
            names = sorted({b.name for h in hosts for b in h.ovs_bridges})
            raise CommandLineError("--bridge", bridge, "no such OVS bridge"
                                   + (f" on {host}" if host else ""),
                                   "use one of " + ", ".join(names))
        if namespace is not None and not any(h.namespace(namespace) for h in hosts) and not (
                host is None and state.external_namespace(namespace)):
            names = sorted({ns.name or '""' for h in hosts for ns in h.namespaces})
            raise CommandLineError("--namespace", namespace, "no such namespace"
                                   + (f" on {host}" if host else ""),
                                   "use one of " + ", ".join(names))
    if fmt is Format.json:
        typer.echo(to_json(hs if hs is not None else state), nl=False)
        return
    typer.echo(cloud_text(state, host=host, bridge=bridge, namespace=namespace,
                          openflow10=openflow10), nl=False)


COMMANDS = (Command("show", show, "Each host as the agents program it: OVS, ip, iptables."),)
