"""Render an OpenFlow engine result (a `BridgeVisit` tree) the way ``ovs-appctl ofproto/trace``
prints, and as JSON (layer 3). The JSON schema is documented in docs/ofproto-trace.md.

Text: ``Flow:`` (the packet as a microflow, in OVS's field order), one ``bridge("…")`` block per
bridge visit with ``N. <match>, priority P`` table lines, the actions and notes laid out as OVS
lays out its trace tree (a table reached by a last-action resubmit flat, else indented under it;
a bridge reached through a patch port where the patch output happened), then ``Final flow:``
(the first bridge's fields at the end of its pipeline; OVS restores the flow after a patch
port), and in place of OVS's ``Datapath actions:`` the copies that left (``Output:``) and the
drops (``Drop:``), by port name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from neutrace.engines.results import (
    EXIT_CONTROLLER,
    EXIT_DROP,
    EXIT_LIMIT,
    EXIT_OUTPUT,
    EXIT_PATCH,
    BridgeVisit,
    OfExit,
)
from neutrace.packet import Packet
from neutrace.render.fates import exit_reason
from neutrace.render.packets import packet_summary
from neutrace.render.phrases import say
from neutrace.render.steps import match_text, step_detail, step_text, step_where, table_rest
from neutrace.syntax.microflow import Microflow, format_microflow
from neutrace.trace import (
    ActionStep,
    ConjunctionMatch,
    CtResume,
    CtStep,
    LimitStep,
    PatchOutput,
    Step,
    TableLookup,
    lasting_changes,
)

SCHEMA = "neutrace.ofproto-trace/1"


@dataclass(frozen=True, slots=True)
class _Line:
    indent: int
    text: str


def final_packet(visit: BridgeVisit) -> tuple[Packet, dict[str, int]]:
    """The first bridge's packet at the end of its pipeline (its own rewrites; a patch peer's
    rewrites are not in it, as in OVS), and the non-zero registers/metadata it set."""
    packet = visit.packet
    names = {f.name for f in fields(Packet)}
    regs: dict[str, int] = {}
    for ch in lasting_changes(visit.steps):
        if ch.field in names:
            packet = packet.with_(**{ch.field: ch.after})
        elif ch.field.startswith(("reg", "xreg", "metadata")) and isinstance(ch.after, int):
            regs[ch.field] = ch.after
    return packet, {k: v for k, v in regs.items() if v}


@dataclass
class _Node:
    """A node of OVS's trace tree (``struct oftrace_node``): a bridge, a table, a thaw (they
    hold ``subs``), or a terminal line (an action; a note, which OVS prints one column in)."""

    text: str
    terminal: bool = False
    note: bool = False
    bridge: bool = False
    subs: list[_Node] = field(default_factory=list)


def _visit_node(visit: BridgeVisit) -> _Node:
    """A bridge visit as OVS builds its trace: a table reached by resubmit/goto_table is a
    sibling of that action under the calling table, an action or a note belongs to its table,
    a peer bridge behind a patch port sits where the output happened, and a ct() recirculation
    starts a run of its own at the bridge's level (``thaw``, then its tables)."""
    runs: list[list[_Node]] = [[]]
    patches = [e for e in visit.exits if e.kind == EXIT_PATCH and e.next is not None]
    tables: list[_Node] = []  # the open table at each resubmit depth

    def under(depth: int) -> list[_Node]:
        if not tables:
            return runs[-1]
        return tables[min(depth, len(tables) - 1)].subs

    for step in visit.steps:
        d = step.depth
        if isinstance(step, TableLookup):
            node = _Node(say("table.ofproto_line", table=step.table, rest=table_rest(step)))
            (tables[d - 1].subs if 0 < d <= len(tables) else runs[-1]).append(node)
            del tables[d:]
            tables.append(node)
        elif isinstance(step, ActionStep | CtStep):
            under(d).append(_Node(step_text(step), terminal=True))
        elif isinstance(step, CtResume):
            runs.append([_Node(say("ofproto.thaw"), subs=[_Node(step_text(step))])])
            tables.clear()
        else:
            text = step_text(step)
            if isinstance(step, ConjunctionMatch | LimitStep):  # OVS's ">>" notes
                text = say("ofproto.note", text=text)
            under(d).append(_Node(text, terminal=True, note=True))
            if isinstance(step, PatchOutput) and step.peer_bridge is not None and patches:
                child = patches.pop(0).next
                assert child is not None
                under(d).append(_visit_node(child))
    for e in patches:  # a patch exit without its note: at the end
        assert e.next is not None
        runs[-1].append(_visit_node(e.next))
    subs = runs[0] if len(runs) == 1 else [_Node("", subs=run) for run in runs]
    return _Node(say("ofproto.bridge", bridge=visit.bridge), bridge=True, subs=subs)


def _print(nodes: list[_Node], level: int, out: list[_Line]) -> None:
    """OVS's ``oftrace_node_print_details``: a node is printed 4 columns in (and its subs two
    levels deeper) unless it is the last of its list and holds others (a table, a bridge, a
    thaw), which stays at its list's level with its subs: so a resubmit or goto_table that is
    the last action shows its table flat, and nests it otherwise."""
    for i, node in enumerate(nodes):
        if not node.text:  # a run of a recirculation: its own list at this level
            _print(node.subs, level, out)
            continue
        if node.bridge:
            out.append(_Line(0, ""))
        more = 1 if i < len(nodes) - 1 or node.terminal else 0
        indent = (level + more) * 4
        out.append(_Line(indent + (1 if node.note else 0), node.text))
        if node.bridge:
            out.append(_Line(indent, "-" * len(node.text)))
        _print(node.subs, level + 2 * more, out)


def _exits(visit: BridgeVisit) -> list[tuple[str, OfExit]]:
    """Every exit that is not a patch port, with its bridge."""
    out: list[tuple[str, OfExit]] = []
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            out.extend(_exits(e.next))
        else:
            out.append((visit.bridge, e))
    return out


def _packet_note(p: Packet) -> str:
    """A packet that left, in a few words (VLAN and tunnel included)."""
    text = packet_summary(p)
    if p.vlan_vid is not None and p.payload is not None and p.tun_id:  # not in the summary
        text += say("ofproto.out_vlan", vlan=p.vlan_vid)
    if p.tun_id or p.tun_dst:
        text += say("ofproto.out_tunnel", tun_id=p.tun_id, remote=p.tun_dst or "?")
    return text


def render_text(visit: BridgeVisit, fields_: tuple[tuple[str, str], ...] = ()) -> str:
    """``visit`` as ofproto/trace text (see the module docstring)."""
    lines: list[_Line] = [_Line(0, say("ofproto.flow", flow=format_microflow(
        Microflow(visit.in_port, visit.packet, fields_))))]
    _print([_visit_node(visit)], 0, lines)
    lines.append(_Line(0, ""))
    final, regs = final_packet(visit)
    if final == visit.packet and not regs:
        lines.append(_Line(0, say("ofproto.final_unchanged")))
    else:
        extra = tuple(sorted((k, hex(v)) for k, v in regs.items()))
        lines.append(_Line(0, say("ofproto.final", flow=format_microflow(
            Microflow(visit.in_port, final, extra)))))
    for bridge, e in _exits(visit):
        if e.kind == EXIT_OUTPUT and e.packet is not None:
            lines.append(_Line(0, say("ofproto.output", bridge=bridge, port=e.port,
                                      packet=_packet_note(e.packet))))
        elif e.kind == EXIT_CONTROLLER:
            lines.append(_Line(0, say("ofproto.controller", reason=exit_reason(bridge, e))))
        elif e.kind in (EXIT_DROP, EXIT_LIMIT):
            lines.append(_Line(0, say("ofproto.drop", reason=exit_reason(bridge, e))))
    return "\n".join(" " * ln.indent + ln.text if ln.text else "" for ln in lines) + "\n"


# -- JSON --------------------------------------------------------------------------------------


def packet_dict(p: Packet) -> dict[str, Any]:
    """The packet's set fields (ovs-fields names), ``payload`` as a nested packet."""
    out: dict[str, Any] = {}
    for f in fields(Packet):
        value = getattr(p, f.name)
        if f.name == "payload":
            if value is not None:
                out["payload"] = packet_dict(value)
        elif f.name in ("dl_src", "dl_dst", "dl_type") or value not in ("", 0, None):
            out[f.name] = value
    return out


def _table_dict(step: TableLookup) -> dict[str, Any]:
    """A table lookup: the table, the matched flow (as dump-flows prints it), its match,
    priority and cookie (all None for a miss)."""
    flow = step.flow
    if flow is None:
        return {"table": step.table, "depth": step.depth, "flow": None, "match": None,
                "priority": None, "cookie": None}
    return {
        "table": step.table, "depth": step.depth, "flow": step_detail(step) or None,
        "match": match_text(flow), "priority": flow.priority, "cookie": f"{flow.cookie:#x}",
    }


def _step_dict(s: Step) -> dict[str, Any]:
    """A step of a visit: its words, its table (None outside a table), depth and changes."""
    where = step_where(s)
    return {"kind": str(s.kind), "text": step_text(s),
            "table": int(where) if where.isdigit() else None, "depth": s.depth,
            "changes": [{"field": c.field, "before": c.before, "after": c.after}
                        for c in s.changes]}


def _visits_json(visit: BridgeVisit, parent: int | None, via: str | None,
                 out: list[dict[str, Any]]) -> None:
    """The visits of the tree as a flat list (parent index, patch port)."""
    index = len(out)
    out.append({
        "index": index, "bridge": visit.bridge, "in_port": visit.in_port, "parent": parent,
        "via_patch_port": via, "packet": packet_dict(visit.packet),
        "tables": [_table_dict(s) for s in visit.steps if isinstance(s, TableLookup)],
        "steps": [_step_dict(s) for s in visit.steps],
    })
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            _visits_json(e.next, index, e.port, out)


def render_json_data(visit: BridgeVisit) -> dict[str, Any]:
    """The visit tree as the ofproto-trace JSON (docs/ofproto-trace.md)."""
    visits: list[dict[str, Any]] = []
    _visits_json(visit, None, None, visits)
    final, regs = final_packet(visit)
    outputs, drops = [], []
    for bridge, e in _exits(visit):
        if e.kind == EXIT_OUTPUT and e.packet is not None:
            outputs.append({"bridge": bridge, "port": e.port, "packet": packet_dict(e.packet)})
        else:
            drops.append({"bridge": bridge, "kind": str(e.kind), "port": e.port,
                          "reason": exit_reason(bridge, e)})
    return {
        "schema": SCHEMA,
        "bridge": visit.bridge,
        "in_port": visit.in_port,
        "flow": format_microflow(Microflow(visit.in_port, visit.packet)),
        "packet": packet_dict(visit.packet),
        "visits": visits,
        "outputs": outputs,
        "drops": drops,
        "final": {"packet": packet_dict(final), "registers": {k: v for k, v in sorted(
            regs.items())}},
    }


def render_json(visit: BridgeVisit) -> str:
    """render_json_data as text."""
    return json.dumps(render_json_data(visit), indent=2) + "\n"
