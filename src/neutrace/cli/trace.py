"""`neutrace trace` and `neutrace demo` (layer 6): arguments in, rendered walks out.

The walk options (`Cloud`, `From`, `To`, `Proto`, `Dport`, `Sport`, `Warm`, `Reply`) are shared
with ``neutrace diagram``. The exit status is the walk's, as ping's is its reply's: 0 when it (and
the reply or the DHCPOFFER, when asked for) reached a destination, `EXIT_NOT_DELIVERED` when not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neutrace.app import session
from neutrace.cli._common import Command, Format, fail_on
from neutrace.errors import CommandLineError
from neutrace.render.packets import packet_summary
from neutrace.render.phrases import say
from neutrace.render.trace_json import traces_to_json
from neutrace.render.verdict import verdict_line
from neutrace.render.walk import walk_summary, walk_text
from neutrace.sim.walk import Walker
from neutrace.trace import Trace

EXIT_NOT_DELIVERED = 1  # as ping's 1: no copy reached a destination (README: Exit statuses)


Cloud = Annotated[Path, typer.Argument(
    metavar="CLOUD", help="The cloud's topology file (YAML or JSON, docs/topology.md).")]
From = Annotated[str, typer.Option(
    "--from", metavar="START", help="Where the packet starts: a VM, a namespace, an outside "
    "host, an IP address, a port (its id or device name) or HOST:INTERFACE.")]
To = Annotated[str, typer.Option(
    "--to", metavar="DEST", help="Where it goes: an IP address, or the name of a VM, "
    "namespace or outside host that owns one.")]
ProtoOpt = Annotated[str, typer.Option(
    "--proto", metavar="PROTO", help="icmp (an echo request), tcp (a SYN) or udp.")]
Dport = Annotated[int | None, typer.Option(
    "--dport", metavar="PORT", help="The destination port, with tcp or udp only "
    "(when not given: 80 for tcp, 53 for udp).")]
Sport = Annotated[int | None, typer.Option(
    "--sport", metavar="PORT", help="The source port, with tcp or udp only (when not given: "
    "40000, an ephemeral port).")]
Warm = Annotated[bool, typer.Option(
    "--warm/--cold", help="Walk the steady state (MAC tables, learned flows, neighbours and "
    "conntrack filled by one exchange first), or a cold cloud as the seed walks it.")]
Reply = Annotated[bool, typer.Option("--reply", help="Also walk the reply back.")]


def walk(w: Walker, source: str, destination: str, proto: str, dport: int | None,
         sport: int | None, warm: bool, reply: bool) -> dict[str, Trace | None]:
    """The named walks of these options (``request``, and ``reply`` when asked for)."""
    if proto == "icmp" and (dport is not None or sport is not None):
        raise CommandLineError("--dport" if dport is not None else "--sport",
                               str(dport if dport is not None else sport),
                               "icmp has no ports", "give --proto tcp or --proto udp")
    conv = session.trace(w, source, destination, proto, dport or 0, warm, reply,
                         sport=sport or 0)
    named: dict[str, Trace | None] = {"request": conv.request}
    if reply:
        named["reply"] = conv.reply
    return named


def _render(named: dict[str, Trace | None], fmt: Format, verbose: bool, fold: bool) -> str:
    """The verdicts first, then the named walks, in ``fmt``."""
    if fmt is Format.json:
        return traces_to_json(named)
    out = ["\n".join(verdict_line(name, t) for name, t in named.items()) + "\n"]
    for name, t in named.items():
        if t is None:
            continue
        title = say("text.named_title", name=name, start=t.start,
                    packet=packet_summary(t.packet))
        out.append(walk_summary(t) if fmt is Format.summary else
                   walk_text(t, verbose=verbose, title=title, fold=fold))
    return "\n".join(out)


def _status(named: dict[str, Trace | None]) -> int:
    """0 when every walk asked for reached a destination, else `EXIT_NOT_DELIVERED`."""
    return 0 if all(t is not None and t.success for t in named.values()) else EXIT_NOT_DELIVERED


def trace(
    source: From,
    cloud: Annotated[Path | None, typer.Argument(
        metavar="[CLOUD]", help="The cloud's topology file (YAML or JSON, docs/topology.md); "
        "or give --sos.")] = None,
    destination: To = "",
    proto: ProtoOpt = "icmp",
    dport: Dport = None,
    sport: Sport = None,
    warm: Annotated[bool | None, typer.Option(
        "--warm/--cold", help="Walk the steady state (MAC tables, learned flows, neighbours and "
        "conntrack filled by one exchange first), or a cold cloud as the seed walks it. A "
        "topology's default is cold; captured hosts' (--sos) is warm, starting from what they "
        "had learned.")] = None,
    reply: Reply = False,
    sos: Annotated[list[Path] | None, typer.Option(
        "--sos", metavar="CAPTURE", help="Instead of CLOUD: a host's sosreport or `neutrace "
        "collect` folder or archive, or a folder of them (repeatable): walk the captured cloud "
        "(docs/importing.md).")] = None,
    outside: Annotated[Path | None, typer.Option(
        "--outside", metavar="FILE", help="With --sos: a topology file whose outside: hosts "
        "and gateways sit on the physical networks.")] = None,
    as_captured: Annotated[bool, typer.Option(
        "--as-captured", help="With --sos: start from what the hosts had learned, without the "
        "warm-up exchange.")] = False,
    dhcp: Annotated[bool, typer.Option(
        "--dhcp", help="Instead of --to: the VM --from broadcasts a DHCPDISCOVER, and the DHCP "
        "agent's DHCPOFFER is walked back.")] = False,
    fmt: Annotated[Format, typer.Option(
        "--format", help="text (the walk, numbered as the seed numbers it), summary (one line "
        "per hop) or json (docs/trace-json.md).")] = Format.text,
    all_copies: Annotated[bool, typer.Option(
        "--all", help="Show in full every copy that dies at its first hop (folded into one "
        "line each by default).")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show every step, also goto_table and resubmit actions and the "
        "jumps into Neutron's wrapper chains.")] = False,
) -> None:
    """Walk a packet across the cloud, hop by hop, every copy to its fate: the verdict first,
    then the walk. Exit status 0 when it (and the reply, with --reply) reached a destination,
    1 when not, 2 for a mistake on the command line."""
    if sos:
        walks = _captured(sos, outside, source, destination, proto, dport, sport, warm,
                          as_captured, reply, verbose)
        typer.echo(_render(walks, fmt, verbose, fold=not all_copies), nl=False)
        raise typer.Exit(_status(walks))
    with fail_on():
        if cloud is None:
            raise CommandLineError("CLOUD", "", "no cloud to walk",
                                   "give a topology file, or --sos with captured hosts")
        warm = bool(warm)
        if dhcp:
            if destination:
                raise CommandLineError("--to", destination, "a DHCPDISCOVER is broadcast",
                                       "leave out --to with --dhcp")
            conv = session.dhcp(session.walker(cloud), source, warm)
            named: dict[str, Trace | None] = {"discover": conv.request, "offer": conv.reply}
        elif not destination:
            raise CommandLineError("--to", "", "a walk needs a destination",
                                   "give --to (or --dhcp)")
        else:
            named = walk(session.walker(cloud), source, destination, proto, dport, sport,
                         warm, reply)
    typer.echo(_render(named, fmt, verbose, fold=not all_copies), nl=False)
    raise typer.Exit(_status(named))


def _captured(sos: list[Path], outside: Path | None, source: str, destination: str,
              proto: str, dport: int | None, sport: int | None, warm: bool | None,
              as_captured: bool, reply: bool, verbose: bool) -> dict[str, Trace | None]:
    """`trace --sos`: the captured hosts' walks; their warnings (and, with -v, notes) on
    stderr."""
    from neutrace.app import capture

    start = capture.Start.cold if warm is False else (
        capture.Start.captured if as_captured else capture.Start.warm)
    with fail_on():
        if not destination:
            raise CommandLineError("--to", "", "a walk needs a destination", "give --to")
        imp = capture.load(sos, outside)
        for d in imp.cloud.diagnostics:
            if verbose or d.level == "warning":
                typer.echo(str(d), err=True)
        conv = capture.trace(imp, source, destination, proto, dport or 0, start, reply,
                             sport=sport or 0)
    named: dict[str, Trace | None] = {"request": conv.request}
    if reply:
        named["reply"] = conv.reply
    return named


def demo(
    fmt: Annotated[Format, typer.Option(
        "--format", help="text, summary or json, as neutrace trace prints them.")] = Format.text,
    warm: Warm = False,
    all_copies: Annotated[bool, typer.Option(
        "--all", help="Show in full every copy that dies at its first hop.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show every step.")] = False,
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
                            "reply": dw.conversation.reply}, fmt, verbose, not all_copies))


COMMANDS = (
    Command("trace", trace, "Walk a packet across the cloud: the verdict, then every hop."),
    Command("demo", demo, "The seed's two walks, cold, with their replies."),
)
