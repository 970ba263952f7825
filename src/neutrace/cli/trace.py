"""`neutrace trace` and `neutrace demo` (layer 5): arguments in, rendered walks out."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from neutrace.errors import NeutraceError
from neutrace.render.trace_json import traces_to_json
from neutrace.render.walk import walk_summary, walk_text
from neutrace.sim import session
from neutrace.trace import Trace


class Format(enum.StrEnum):
    text = "text"
    summary = "summary"
    json = "json"


def _render(named: dict[str, Trace | None], fmt: Format, verbose: bool) -> str:
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


def register(app: typer.Typer) -> None:
    @app.command("trace")
    def trace_cmd(
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
        try:
            w = session.walker(cloud)
            if dhcp:
                named: dict[str, Trace | None] = {"dhcp": session.dhcp(w, source, warm)}
            else:
                if not destination:
                    raise typer.BadParameter("give --to (or --dhcp)")
                conv = session.trace(w, source, destination, proto, dport, warm, reply)
                named = {"request": conv.request}
                if reply:
                    named["reply"] = conv.reply
        except NeutraceError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(_render(named, fmt, verbose), nl=False)

    @app.command("demo")
    def demo_cmd(
        fmt: Annotated[Format, typer.Option("--format")] = Format.text,
        warm: Annotated[bool, typer.Option("--warm/--cold")] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """The seed's two walks (examples/seed): test-01 on the flat network and test-02 on
        VXLAN with its floating IP, to an outside host, cold, every copy, then the replies."""
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
