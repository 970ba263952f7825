"""A `neutrace.trace.Trace` as JSON (layer 3), schema ``neutrace.trace/1`` (docs/trace-json.md).

Packets list only the fields that are set (ovs-fields names; an encapsulated frame nests under
``payload``); every hop carries its steps and the field changes between entry and exit; every
leaf branch its disposition. `trace_to_dict` is the inverse-free, stable form used by goldens.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from neutrace.packet import FieldChange, Packet
from neutrace.trace import Branch, Disposition, Hop, Step, Trace

SCHEMA = "neutrace.trace/1"


def packet_to_dict(p: Packet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(p):
        value = getattr(p, f.name)
        if f.name == "payload":
            if value is not None:
                out["payload"] = packet_to_dict(value)
            continue
        if value in ("", 0) and f.name not in ("dl_type",):
            continue
        out[f.name] = value
    return out


def _value(v: Any) -> Any:
    if isinstance(v, Packet):
        return packet_to_dict(v)
    return v


def _change(c: FieldChange) -> dict[str, Any]:
    return {"field": c.field, "before": _value(c.before), "after": _value(c.after)}


def _step(s: Step) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": s.kind, "text": s.text}
    if s.detail:
        d["detail"] = s.detail
    if s.where:
        d["where"] = s.where
    if s.depth:
        d["depth"] = s.depth
    if s.changes:
        d["changes"] = [_change(c) for c in s.changes]
    return d


def _hop(h: Hop) -> dict[str, Any]:
    d: dict[str, Any] = {
        "host": h.host,
        "element": h.element,
        "kind": h.kind,
        "in_port": h.in_port,
        "out_port": h.out_port,
        "packet": packet_to_dict(h.packet),
        "steps": [_step(s) for s in h.steps],
    }
    if h.out_packet is not None:
        d["changes"] = [_change(c) for c in h.changes]
    return d


def _disposition(d: Disposition) -> dict[str, Any]:
    return {"kind": d.kind, "success": d.success, "host": d.host, "element": d.element,
            "reason": d.reason}


def _branch(b: Branch) -> dict[str, Any]:
    d: dict[str, Any] = {"label": b.label, "hops": [_hop(h) for h in b.hops]}
    if b.disposition is not None:
        d["disposition"] = _disposition(b.disposition)
    if b.children:
        d["children"] = [_branch(c) for c in b.children]
    return d


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "start": trace.start,
        "packet": packet_to_dict(trace.packet),
        "success": trace.success,
        "dispositions": [_disposition(d) for d in trace.dispositions()],
        "root": _branch(trace.root),
    }


def traces_to_json(traces: dict[str, Trace | None]) -> str:
    """Several named traces (``{"request": …, "reply": …}``) as one JSON document."""
    body = {name: (trace_to_dict(t) if t is not None else None) for name, t in traces.items()}
    return json.dumps(body, indent=2, sort_keys=False) + "\n"
