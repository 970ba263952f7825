"""`neutrace ofproto-trace` (layer 6): ``ovs-appctl ofproto/trace`` offline, on the bridges of a
sosreport, of dump files, or of a host of a cloud the agents program.

Argument parsing and output only: the bridges and the start come from
``neutrace.app.ofproto_trace``, the rendering from ``neutrace.render.ofproto``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from neutrace.cli._common import EXIT_DIFFERENT, Command, Format, fail_on

if TYPE_CHECKING:
    from neutrace.engines.results import BridgeVisit
    from neutrace.verify.ofproto import OvsComparison


def ofproto_trace(
    words: Annotated[list[str], typer.Argument(
        metavar="[BRIDGE] MICROFLOW",
        help="The packet as ofproto/trace takes it, e.g. in_port=PORT,arp,dl_src=MAC "
             "(PORT is a port name, or a number with the bridge), optionally after the bridge "
             "as ovs-appctl ofproto/trace takes it (BRIDGE MICROFLOW).")],
    sos: Annotated[Path | None, typer.Option(
        "--sos", metavar="DIR",
        help="A sosreport (or its sos_commands/openvswitch folder).")] = None,
    flows: Annotated[list[str] | None, typer.Option(
        "--flows", metavar="[BRIDGE=]FILE",
        help="[BRIDGE=]FILE with ovs-ofctl dump-flows (or add-flows) text; repeatable.")] = None,
    ports: Annotated[list[str] | None, typer.Option(
        "--ports", metavar="[BRIDGE=]FILE",
        help="[BRIDGE=]FILE with ovs-vsctl show, ovs-ofctl show BRIDGE or ovs-vsctl list "
             "interface output; repeatable.")] = None,
    cloud: Annotated[Path | None, typer.Option(
        "--cloud", metavar="CLOUD",
        help="A cloud topology file: trace on the bridges the agents program.")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", metavar="HOST", help="The host of --cloud.")] = None,
    bridge: Annotated[str | None, typer.Option(
        "--bridge", metavar="BRIDGE", help="The bridge the packet enters.")] = None,
    fdb: Annotated[list[str] | None, typer.Option(
        "--fdb", metavar="BRIDGE=FILE",
        help="BRIDGE=FILE with ovs-appctl fdb/show BRIDGE output: NORMAL starts with these "
             "MACs learned (a sosreport's fdb dumps are read by --sos); repeatable.")] = None,
    ct_next: Annotated[list[str] | None, typer.Option(
        "--ct-next", metavar="FLAGS",
        help="As ofproto/trace --ct-next: the ct_state (e.g. trk,est) of the next "
             "recirculation after ct(table=N), one per use; repeatable (then trk,new).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
    compare_ovs: Annotated[bool, typer.Option(
        "--compare-ovs", help="Also load the bridges into a private Open vSwitch "
        "(datapath_type=dummy), run its ofproto/trace and report any difference "
        "(exit status 1 if they differ).")] = False,
) -> None:
    """Trace a packet through OVS bridges' OpenFlow tables, like ovs-appctl ofproto/trace."""
    from neutrace.app.ofproto_trace import (
        bridges_from,
        ct_next_states,
        fdb_state,
        start_point,
        trace,
    )
    from neutrace.importers.ovs_dumps import load_fdb_files, load_sos_fdb
    from neutrace.render.ofproto import render_json, render_text

    fmt = fmt.only(Format.text, Format.json)
    with fail_on():
        bridge, microflow = _bridge_and_microflow(words, bridge)
        bridges = bridges_from(sos=sos, flows=flows or [], ports=ports or [], cloud=cloud,
                               host=host, bridge=bridge)
        start = start_point(bridges, microflow, bridge)
        tables = load_sos_fdb(sos) if sos is not None else {}
        tables.update(load_fdb_files(fdb or []))
        state = fdb_state(bridges, tables, host or "") if tables else None
        ct_states = ct_next_states(ct_next or [])
        visit = trace(bridges, start, host=host or "", state=state, ct_next=ct_states)
    if not compare_ovs:
        typer.echo(render_json(visit) if fmt is Format.json else render_text(visit), nl=False)
        return
    from neutrace.verify.ofproto import compare_in_sandbox

    with fail_on():
        result = compare_in_sandbox(bridges, start.bridge, start.in_port, start.packet,
                                    host=host or "", ct_next=tuple(ct_next or ()))
    typer.echo(_comparison(visit, result, fmt), nl=False)
    if result.differences:
        raise typer.Exit(EXIT_DIFFERENT)


def _bridge_and_microflow(words: list[str], bridge: str | None) -> tuple[str | None, str]:
    """``[BRIDGE] MICROFLOW`` as ovs-appctl ofproto/trace takes them (``--bridge`` also names
    the bridge; both must agree)."""
    from neutrace.errors import CommandLineError

    if len(words) == 1:
        return bridge, words[0]
    if len(words) != 2:
        raise CommandLineError("MICROFLOW", " ".join(words), "expected one microflow, "
                               "optionally after the bridge", "BRIDGE MICROFLOW, e.g. br-int "
                               "in_port=1,arp (quote a microflow with spaces)")
    if bridge is not None and bridge != words[0]:
        raise CommandLineError("--bridge", bridge, f"the bridge is also given as {words[0]!r}",
                               "name the bridge once")
    return words[0], words[1]


def _comparison(visit: BridgeVisit, result: OvsComparison, fmt: Format) -> str:
    """The engine's trace beside real OVS's, and their differences."""
    from neutrace.render.ofproto import render_json, render_text

    if fmt is Format.json:
        data = json.loads(render_json(visit))
        data["ovs"] = {"text": result.text, "differences": list(result.differences)}
        return json.dumps(data, indent=2) + "\n"
    lines = [render_text(visit),
             "=== real Open vSwitch (ofproto/trace; flows given unique cookies) ===",
             result.text]
    if result.differences:
        lines += ["=== DIFFERENCES ===", "\n".join(result.differences)]
    else:
        lines.append("=== real Open vSwitch agrees: same tables and flows, outputs, tunnel ids "
                     "and final fields ===")
    return "\n".join(lines) + "\n"


COMMANDS = (Command("ofproto-trace", ofproto_trace,
                    "ovs-appctl ofproto/trace BRIDGE MICROFLOW, offline, on dumped flows."),)
