"""`neutrace reach CLOUD --from SEL --to SEL` (layer 6): the walk of every pair, as a matrix.

Selectors are `neutrace.app.reach.select`'s; ``--expect`` a YAML list of
``{from: NAME, to: NAME, reach: true|false}``: the exit status is `EXIT_VIOLATION` when a pair
does not do what it says (or is not among the pairs walked).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from neutrace.cli._common import Command, fail_on
from neutrace.errors import CommandLineError

EXIT_VIOLATION = 1


class ReachFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _expectations(path: Path) -> list[tuple[str, str, bool]]:
    from neutrace.topology.source import parse, read

    data, _lines = parse(read(path), str(path))
    items = data if isinstance(data, list) else None
    if items is None or not all(
            isinstance(i, dict) and isinstance(i.get("from"), str) and
            isinstance(i.get("to"), str) and isinstance(i.get("reach"), bool) for i in items):
        raise CommandLineError("--expect", str(path), "not a list of {from, to, reach}",
                               "write items such as '- {from: vm1, to: vm2, reach: true}'")
    return [(i["from"], i["to"], i["reach"]) for i in items]


def reach(
    cloud: Annotated[Path, typer.Argument(
        metavar="CLOUD", help="The cloud's topology file (YAML or JSON, docs/topology.md).")],
    sources: Annotated[str, typer.Option(
        "--from", metavar="SEL", help="Senders: all (every VM), outside, network:NAME, "
        "host:NAME, sg:NAME or a glob over VM and outside host names.")],
    destinations: Annotated[str, typer.Option(
        "--to", metavar="SEL", help="Destinations, selected as --from.")],
    proto: Annotated[str, typer.Option(
        "--proto", metavar="PROTO", help="icmp (an echo request), tcp (a SYN) or udp.")
    ] = "icmp",
    dport: Annotated[int, typer.Option(
        "--dport", metavar="PORT", help="The destination port (tcp/udp; 0: 80 for tcp, 53 "
        "for udp).")] = 0,
    fmt: Annotated[ReachFormat, typer.Option("--format", help="table, json or csv.")
                   ] = ReachFormat.table,
    expect: Annotated[Path | None, typer.Option(
        "--expect", metavar="FILE", help="A YAML list of {from, to, reach: true|false}; exit "
        "status 1 when a pair does otherwise.")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", metavar="N", help="Walk the sources in N processes (same results).")
    ] = 1,
) -> None:
    """Walk every pair of the selections from a cold cloud (a name never to itself) and print
    whether each reached its destination, with the reason of each failure."""
    from neutrace.app.reach import reach as walk_pairs
    from neutrace.render.reach import reach_csv, reach_json, reach_table

    with fail_on():
        if proto not in ("icmp", "tcp", "udp"):
            raise CommandLineError("--proto", proto, "not a protocol walked here",
                                   "use icmp, tcp or udp")
        if proto == "icmp" and dport:
            raise CommandLineError("--dport", str(dport), "icmp has no ports",
                                   "give --proto tcp or --proto udp with a port")
        if workers < 1:
            raise CommandLineError("--workers", str(workers), "not a process count",
                                   "use 1 or more")
        expected = _expectations(expect) if expect is not None else []
        pairs = walk_pairs(cloud, sources, destinations, proto, dport, workers)
    render = {ReachFormat.table: reach_table, ReachFormat.json: reach_json,
              ReachFormat.csv: reach_csv}[fmt]
    typer.echo(render(pairs), nl=False)
    got = {(p.source, p.destination): p.reached for p in pairs}
    violations = [(s, d, want) for s, d, want in expected if got.get((s, d)) is not want]
    for s, d, want in violations:
        seen = got.get((s, d))
        state = "was not walked" if seen is None else ("reached" if seen else "did not reach")
        typer.echo(f"expected {s} -> {d} to {'reach' if want else 'not reach'}: it {state}",
                   err=True)
    if violations:
        raise typer.Exit(EXIT_VIOLATION)


COMMANDS = (Command("reach", reach, "Every pair of two selections walked: a reachability "
                    "matrix."),)
