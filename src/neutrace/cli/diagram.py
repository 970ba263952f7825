"""`neutrace diagram` (layer 6): a host's bridge diagram, with a walk drawn on it, to a file.

Argument parsing and output only: the cloud and the walk come from ``neutrace.app.session``, the
drawing from ``neutrace.render.diagram``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.app import session
from neutrace.cli._common import Command, fail_on
from neutrace.cli.trace import Cloud, Dport, ProtoOpt, Reply, Sport, To, Warm, walk
from neutrace.errors import CommandLineError
from neutrace.trace import Trace

FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}


def diagram(
    cloud: Cloud,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="FILE", help="The file to write: .svg, .png or .dot "
        "(Graphviz source). Without --host, one file per host, named after it "
        "(FILE-HOST.svg).")],
    host: Annotated[str | None, typer.Option(
        "--host", metavar="HOST", help="Draw only this host.")] = None,
    source: Annotated[str | None, typer.Option(
        "--from", metavar="START", help="Draw the walk from here (a VM, namespace, outside "
        "host, IP address, port or HOST:INTERFACE, as neutrace trace takes it).")] = None,
    destination: To = "",
    proto: ProtoOpt = "icmp",
    dport: Dport = None,
    sport: Sport = None,
    warm: Warm = False,
    reply: Reply = False,
) -> None:
    """Draw each host's bridges as the seed does (VMs, taps, qbr, qvb/qvo, br-int with its
    tags, br-tun and its tunnels, br-ex and its NIC, qrouter/qdhcp namespaces), with the walk
    of --from/--to drawn on it: every copy, its fate, and the VLAN, tunnel and NAT changes."""
    from neutrace.render.diagram import diagram_dot, render

    fmt = FORMATS.get(output.suffix.lower())
    with fail_on():
        if fmt is None:
            raise CommandLineError("--output", str(output), "not a diagram file name",
                                   "use a .svg, .png or .dot file name")
        if source is not None and not destination:
            raise CommandLineError("--to", "", "a walk needs a destination",
                                   "give --to with --from")
        w = session.walker(cloud)
        state = w.cloud
        names = [h.name for h in state.hosts]
        if host is not None and host not in names:
            raise CommandLineError("--host", host, f"{cloud} has no such host",
                                   "use one of " + ", ".join(names))
        traces: dict[str, Trace | None] = {}
        if source is not None:
            traces = walk(w, source, destination, proto, dport, sport, warm, reply)
        for name in [host] if host is not None else names:
            path = output if host is not None else output.with_name(
                f"{output.stem}-{name}{output.suffix}")
            dot = diagram_dot(state, name, traces)
            if fmt == "dot":
                path.write_text(dot)
            else:
                path.write_bytes(render(dot, fmt))
            typer.echo(f"{name}: {path}")


COMMANDS = (Command("diagram", diagram, "Draw each host's bridges, with a walk on them."),)
