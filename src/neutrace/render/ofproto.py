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
import re
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
from neutrace.syntax.microflow import Microflow, format_microflow
from neutrace.trace import STEP_ACTION, STEP_CONNTRACK, STEP_TABLE, Step

SCHEMA = "neutrace.ofproto-trace/1"
_TABLE_RE = re.compile(r"^(\d+)\. (.*)$")
_PATCH_NOTE = "-> patch port "
_PRIO_RE = re.compile(r"^(?:(.*), )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?$")


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
    for step in visit.steps:
        for ch in step.changes:
            if ch.field in names:
                packet = packet.with_(**{ch.field: ch.after})
            elif ch.field.startswith(("reg", "xreg", "metadata")) and isinstance(ch.after, int):
                regs[ch.field] = ch.after
    return packet, {k: v for k, v in regs.items() if v}


def _in_port_text(visit: BridgeVisit) -> str:
    return visit.in_port


def _visit_lines(visit: BridgeVisit, header_indent: int, out: list[_Line]) -> None:
    # as OVS: a top-level bridge's tables start in column 0; a nested one's 4 columns right of
    # its header, which sits at the column of the action that output to the patch port
    out.append(_Line(0, ""))
    header = f'bridge("{visit.bridge}")'
    out.append(_Line(header_indent, header))
    out.append(_Line(header_indent, "-" * len(header)))
    base = header_indent + 4 if header_indent else 0
    patches = [e for e in visit.exits if e.kind == EXIT_PATCH and e.next is not None]
    steps = visit.steps
    for i, step in enumerate(steps):
        pad = base + 4 * step.depth
        if step.kind == STEP_TABLE:
            m = _TABLE_RE.match(step.text)
            if m:
                out.append(_Line(pad, f"{int(m.group(1)):2d}. {m.group(2)}"))
            else:
                out.append(_Line(pad, step.text))
        elif step.kind in (STEP_ACTION,) or (
            step.kind == STEP_CONNTRACK and not step.text.startswith("resume")
        ):
            out.append(_Line(pad + 4, step.text))
        elif step.kind == STEP_CONNTRACK:
            out.append(_Line(pad + 4, "thaw"))
            out.append(_Line(pad + 8, step.text))
        else:
            text = step.text if step.text.startswith(("->", ">>")) else f">> {step.text}"
            out.append(_Line(pad + 5, text))
            if step.text.startswith(_PATCH_NOTE) and patches:
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
    out: list[tuple[str, OfExit]] = []
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            out.extend(_exits(e.next))
        else:
            out.append((visit.bridge, e))
    return out


def _packet_note(p: Packet) -> str:
    text = p.summary()
    if p.vlan_vid is not None and "vlan" not in text:
        text += f" vlan {p.vlan_vid}"
    if p.tun_id or p.tun_dst:
        text += f" (tun_id={p.tun_id:#x} to {p.tun_dst or '?'})"
    return text


def render_text(visit: BridgeVisit, fields_: tuple[tuple[str, str], ...] = ()) -> str:
    """``visit`` as ofproto/trace text (see the module docstring)."""
    lines: list[_Line] = [_Line(0, "Flow: " + format_microflow(
        Microflow(_in_port_text(visit), visit.packet, fields_)))]
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
            lines.append(_Line(0, f"Controller: {e.reason}"))
        elif e.kind in (EXIT_DROP, EXIT_LIMIT):
            lines.append(_Line(0, f"Drop: {e.reason}"))
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


def _table_dict(step: Step) -> dict[str, Any]:
    m = _TABLE_RE.match(step.text)
    table = int(step.where) if step.where.isdigit() else (int(m.group(1)) if m else -1)
    rest = m.group(2) if m else step.text
    if rest == "No match.":
        return {"table": table, "depth": step.depth, "flow": None, "match": None,
                "priority": None, "cookie": None}
    p = _PRIO_RE.match(rest)
    return {
        "table": table, "depth": step.depth, "flow": step.detail or None,
        "match": (p.group(1) or "") if p else rest,
        "priority": int(p.group(2)) if p else None,
        "cookie": p.group(3) or "0x0" if p else None,
    }


def _visits_json(visit: BridgeVisit, parent: int | None, via: str | None,
                 out: list[dict[str, Any]]) -> None:
    index = len(out)
    out.append({
        "index": index, "bridge": visit.bridge, "in_port": visit.in_port, "parent": parent,
        "via_patch_port": via, "packet": packet_dict(visit.packet),
        "tables": [_table_dict(s) for s in visit.steps if s.kind == STEP_TABLE],
        "steps": [
            {"kind": s.kind, "text": s.text, "table": int(s.where) if s.where.isdigit() else None,
             "depth": s.depth,
             "changes": [{"field": c.field, "before": c.before, "after": c.after}
                         for c in s.changes]}
            for s in visit.steps
        ],
    })
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            _visits_json(e.next, index, e.port, out)


def render_json_data(visit: BridgeVisit) -> dict[str, Any]:
    visits: list[dict[str, Any]] = []
    _visits_json(visit, None, None, visits)
    final, regs = final_packet(visit)
    outputs, drops = [], []
    for bridge, e in _exits(visit):
        if e.kind == EXIT_OUTPUT and e.packet is not None:
            outputs.append({"bridge": bridge, "port": e.port, "packet": packet_dict(e.packet)})
        else:
            drops.append({"bridge": bridge, "kind": e.kind, "port": e.port, "reason": e.reason})
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
    return json.dumps(render_json_data(visit), indent=2) + "\n"
