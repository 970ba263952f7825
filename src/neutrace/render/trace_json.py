"""A `neutrace.trace.Trace` as JSON (layer 3), schema ``neutrace.trace/1``, version
`SCHEMA_VERSION` (docs/trace-json.md).

Packets list only the fields that are set (ovs-fields names; an encapsulated frame nests under
``payload``); every hop carries its steps and the field changes between entry and exit; every
leaf branch its disposition. A step has its words (``kind``, ``text``, ``detail``, ``where``, from
``neutrace.render.steps``) and, since version 1.1, its facts under ``fact``: ``type`` (the
step's class in ``neutrace.trace``) and its fields (`fact_fields`); a disposition its ``cause``
the same way. `trace_to_dict` is the inverse-free, stable
form used by goldens.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from neutrace.dataplane import Flow
from neutrace.packet import FieldChange, Packet
from neutrace.render.fates import fate_reason
from neutrace.render.steps import copy_label, step_detail, step_text, step_where
from neutrace.syntax.iptables import IptRule
from neutrace.trace import Branch, Disposition, Hop, Step, Trace

SCHEMA = "neutrace.trace/1"
_ACTIONS = "neutrace.syntax.ofactions"
SCHEMA_VERSION = "1.1"  # MAJOR.MINOR: MINOR grows when fields are added (docs/trace-json.md)


def packet_to_dict(p: Packet) -> dict[str, Any]:
    """The packet's set fields (``dl_type`` always), ``payload`` nested."""
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
    """A field change's value: a packet as its dict, the rest as it is."""
    if isinstance(v, Packet):
        return packet_to_dict(v)
    return v


def _fact(v: Any) -> Any:
    """A step field's value as JSON: enums by value, a flow and a rule as their parts, an
    action as its type and text (as written), a packet as its dict."""
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, Flow):
        return {"table": v.table, "priority": v.priority, "match": [list(m) for m in v.match],
                "actions": v.actions, "cookie": v.cookie, "flags": list(v.flags)}
    if isinstance(v, IptRule):
        return {"chain": v.chain, "line": v.line, "text": v.text}
    if isinstance(v, Packet):
        return packet_to_dict(v)
    if isinstance(v, tuple):
        return [_fact(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        if type(v).__module__ == _ACTIONS:  # an OpenFlow action: as written
            return {"type": type(v).__name__, "text": getattr(v, "text", "")}
        return fact_fields(v)  # a fact of neutrace.trace (or the pivot's Gap): all its fields
    return v


def fact_fields(s: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A fact of ``neutrace.trace`` (a step, a disposition's cause, an explanation): ``type``
    and its fields (but ``skip``)."""
    d: dict[str, Any] = {"type": type(s).__name__}
    for f in dataclasses.fields(s):
        if f.name not in skip:
            d[f.name] = _fact(getattr(s, f.name))
    return d


def _change(c: FieldChange) -> dict[str, Any]:
    """``{field, before, after}``."""
    return {"field": c.field, "before": _value(c.before), "after": _value(c.after)}


def _step(s: Step) -> dict[str, Any]:
    """A step: its words, its depth and changes, then its facts."""
    d: dict[str, Any] = {"kind": str(s.kind), "text": step_text(s)}
    detail = step_detail(s)
    if detail:
        d["detail"] = detail
    where = step_where(s)
    if where:
        d["where"] = where
    if s.depth:
        d["depth"] = s.depth
    if s.changes:
        d["changes"] = [_change(c) for c in s.changes]
    d["fact"] = fact_fields(s, skip=("depth", "changes"))  # the step's own keys
    return d


def _hop(h: Hop) -> dict[str, Any]:
    """A hop with its steps."""
    d: dict[str, Any] = {
        "host": h.host,
        "element": h.element,
        "kind": str(h.kind),
        "in_port": h.in_port,
        "out_port": h.out_port,
        "packet": packet_to_dict(h.packet),
        "steps": [_step(s) for s in h.steps],
    }
    if h.out_packet is not None:
        d["changes"] = [_change(c) for c in h.changes]
    return d


def _disposition(d: Disposition) -> dict[str, Any]:
    """How a copy ended."""
    return {"kind": str(d.kind), "success": d.success, "host": d.host, "element": d.element,
            "reason": fate_reason(d), "cause": fact_fields(d.cause)}


def _branch(b: Branch) -> dict[str, Any]:
    """A branch, its disposition or its children."""
    d: dict[str, Any] = {"label": copy_label(b.origin), "hops": [_hop(h) for h in b.hops]}
    if b.disposition is not None:
        d["disposition"] = _disposition(b.disposition)
    if b.children:
        d["children"] = [_branch(c) for c in b.children]
    return d


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """The whole trace as a JSON-ready dict."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
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
