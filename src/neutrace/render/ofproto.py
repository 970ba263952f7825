"""Render an OpenFlow engine result (a `BridgeVisit` tree) the way ``ovs-appctl ofproto/trace``
prints, and as JSON (layer 3). The JSON schema is documented in docs/ofproto-trace.md.

Text: ``Flow:`` (the packet as a microflow), one ``bridge("…")`` block per bridge visit with
``N. <match>, priority P`` table lines, the actions and notes indented by resubmit depth, a bridge
reached through a patch port printed where the patch output happened (indented under it when the
bridge has more to do afterwards, as OVS does), then ``Final flow:`` (the first bridge's fields at
the end of its pipeline; OVS restores the flow after a patch port), and in place of OVS's
``Datapath actions:`` the copies that left (``Output:``) and the drops (``Drop:``), by port name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
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


def _visit_lines(visit: BridgeVisit, header_indent: int, out: list[_Line]) -> None:
    # as OVS: a top-level bridge's tables start in column 0; a nested one's 4 columns right of
    # its header, which sits at the column of the action that output to the patch port
    """A bridge visit's lines (nested patch peers included), as ofproto/trace indents them."""
    out.append(_Line(0, ""))
    header = f'bridge("{visit.bridge}")'
    out.append(_Line(header_indent, header))
    out.append(_Line(header_indent, "-" * len(header)))
    base = header_indent + 4 if header_indent else 0
    patches = [e for e in visit.exits if e.kind == EXIT_PATCH and e.next is not None]
    steps = visit.steps
    for i, step in enumerate(steps):
        pad = base + 4 * step.depth
        if isinstance(step, TableLookup):
            out.append(_Line(pad, say("table.ofproto_line", table=step.table,
                                      rest=table_rest(step))))
        elif isinstance(step, ActionStep | CtStep):
            out.append(_Line(pad + 4, step_text(step)))
        elif isinstance(step, CtResume):
            out.append(_Line(pad + 4, say("ofproto.thaw")))
            out.append(_Line(pad + 8, step_text(step)))
        else:
            text = step_text(step)
            if isinstance(step, ConjunctionMatch | LimitStep):  # OVS's ">>" notes
                text = say("ofproto.note", text=text)
            out.append(_Line(pad + 5, text))
            if isinstance(step, PatchOutput) and step.peer_bridge is not None and patches:
                child = patches.pop(0).next
                assert child is not None
                # OVS prints the peer bridge at the top level when nothing follows in this
                # bridge, else indented under the output, the rest coming back after it
                last = i == len(steps) - 1
                _visit_lines(child, 0 if last and base == 0 else pad + 4, out)
    for e in patches:  # a patch exit without its note: print it at the end
        assert e.next is not None
        _visit_lines(e.next, header_indent, out)


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
    text = p.summary()
    if p.vlan_vid is not None and "vlan" not in text:
        text += f" vlan {p.vlan_vid}"
    if p.tun_id or p.tun_dst:
        text += f" (tun_id={p.tun_id:#x} to {p.tun_dst or '?'})"
    return text


def render_text(visit: BridgeVisit, fields_: tuple[tuple[str, str], ...] = ()) -> str:
    """``visit`` as ofproto/trace text (see the module docstring)."""
    lines: list[_Line] = [_Line(0, "Flow: " + format_microflow(
        Microflow(visit.in_port, visit.packet, fields_)))]
    _visit_lines(visit, 0, lines)
    lines.append(_Line(0, ""))
    final, regs = final_packet(visit)
    if final == visit.packet and not regs:
        lines.append(_Line(0, "Final flow: unchanged"))
    else:
        extra = tuple(sorted((k, hex(v)) for k, v in regs.items()))
        lines.append(_Line(0, "Final flow: " + format_microflow(
            Microflow(visit.in_port, final, extra))))
    for bridge, e in _exits(visit):
        if e.kind == EXIT_OUTPUT and e.packet is not None:
            lines.append(_Line(0, f"Output: {bridge} {e.port}: {_packet_note(e.packet)}"))
        elif e.kind == EXIT_CONTROLLER:
            lines.append(_Line(0, f"Controller: {exit_reason(bridge, e)}"))
        elif e.kind in (EXIT_DROP, EXIT_LIMIT):
            lines.append(_Line(0, f"Drop: {exit_reason(bridge, e)}"))
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
