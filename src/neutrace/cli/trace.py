"""`neutrace trace` and `neutrace demo` (layer 6): arguments in, rendered walks out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.app import session
from neutrace.cli._common import Command, Format, fail_on
from neutrace.render.trace_json import traces_to_json
from neutrace.render.walk import walk_summary, walk_text
from neutrace.trace import Trace


def _render(named: dict[str, Trace | None], fmt: Format, verbose: bool) -> str:
    """The named walks (``request``, ``reply``...) in ``fmt``."""
    if fmt is Format.json:
        return traces_to_json(named)
    out = []
    for name, t in named.items():
        if t is None:
            out.append(f"({name}: none: the request reached no one who answers)\n")
            continue
        title = f"[{name}] {t.start}: {t.packet.summary()}"
        out.append(walk_summary(t) if fmt is Format.summary else
                   walk_text(t, verbose=verbose, title=title))
    return "\n".join(out)


def trace(
    cloud: Annotated[Path, typer.Argument(help="topology file (YAML or JSON)")],
    source: Annotated[str, typer.Option("--from", help="VM, namespace, outside host, IP, "
                                        "port id/device, or host:interface")],
    destination: Annotated[str, typer.Option(
        "--to", help="destination IP (or a name owning one)")] = "",
    proto: Annotated[str, typer.Option(help="icmp, tcp or udp")] = "icmp",
    dport: Annotated[int, typer.Option(help="destination port (tcp/udp)")] = 0,
    warm: Annotated[bool, typer.Option(
        "--warm/--cold", help="steady state instead of cold")] = False,
    reply: Annotated[bool, typer.Option("--reply", help="also walk the reply")] = False,
    dhcp: Annotated[bool, typer.Option(
        "--dhcp", help="the VM broadcasts a DHCPDISCOVER")] = False,
    fmt: Annotated[Format, typer.Option("--format")] = Format.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="every step")] = False,
) -> None:
    """Walk a packet across the cloud, hop by hop, every copy to its fate."""
    if not dhcp and not destination:
        raise typer.BadParameter("give --to (or --dhcp)", param_hint="--to")
    with fail_on():
        w = session.walker(cloud)
        if dhcp:
            named: dict[str, Trace | None] = {"dhcp": session.dhcp(w, source, warm)}
        else:
            conv = session.trace(w, source, destination, proto, dport, warm, reply)
            named = {"request": conv.request}
            if reply:
                named["reply"] = conv.reply
    typer.echo(_render(named, fmt, verbose), nl=False)


def demo(
    fmt: Annotated[Format, typer.Option("--format")] = Format.text,
    warm: Annotated[bool, typer.Option("--warm/--cold")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The seed's two walks (examples/seed): test-01 on the flat network and test-02 on
    VXLAN with its floating IP, to an outside host, cold, every copy, then the replies."""
    with fail_on():
        walks = session.demo(warm=warm)
    if fmt is Format.json:
        named: dict[str, Trace | None] = {}
        for i, dw in enumerate(walks, 1):
            named[f"walk{i}-request"] = dw.conversation.request
            named[f"walk{i}-reply"] = dw.conversation.reply
        typer.echo(traces_to_json(named), nl=False)
        return
    state = "warm (steady state)" if warm else "cold (empty MAC tables and learned flows)"
    typer.echo(f"neutrace demo: the seed's cloud ({session.seed_path().name}), {state}\n")
    for i, dw in enumerate(walks, 1):
        typer.echo(f"{'=' * 100}\nWalk {i}: {dw.title}\n{'=' * 100}")
        typer.echo(_render({"request": dw.conversation.request,
                            "reply": dw.conversation.reply}, fmt, verbose))


COMMANDS = (Command("trace", trace), Command("demo", demo))
