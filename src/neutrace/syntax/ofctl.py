"""ovs-ofctl flow syntax (layer 2): format and parse `Flow`s as ``ovs-ofctl add-flow(s)`` and
``dump-flows`` write them.

`parse_flow` reads one line: an ``add-flows`` line (``table=22,priority=1,dl_vlan=1
actions=strip_vlan,...``), or a ``dump-flows`` line with or without statistics, from OpenFlow 1.0
or 1.3 (``cookie=0x0, duration=1.2s, table=0, n_packets=0, ..., reset_counts priority=1,in_port=2
actions=...``). Statistics and flags are dropped; the match is kept exactly as written (pairs in
order, protocol shorthands such as ``arp`` with an empty value), so ``parse_flow(format_flow(f)) ==
f``. Field names and values are checked against ovs-fields(7) (`neutrace.syntax.offields`) and the
actions against ovs-actions(7) (`neutrace.syntax.ofactions`): anything else is a
`SyntaxParseError` naming the file, the line and the fix. What the fields *mean* (synonyms,
prerequisites, port names) is resolved by the OpenFlow engine when it compiles a table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from neutrace.dataplane import Flow
from neutrace.errors import SyntaxParseError
from neutrace.syntax import offields
from neutrace.syntax.ofactions import ActionParseError, parse_actions

OFP_DEFAULT_PRIORITY = 32768


def format_match(flow: Flow) -> str:
    return ",".join(k if v == "" else f"{k}={v}" for k, v in flow.match)


def format_flow(flow: Flow, *, cookie: bool = True) -> str:
    """One line for ``ovs-ofctl add-flows``:
    ``cookie=0x..., table=22, priority=1,dl_vlan=1 actions=...``
    (the shape of ``dump-flows`` without its statistics)."""
    head = []
    if cookie:
        head.append(f"cookie={flow.cookie:#x}")
    head.append(f"table={flow.table}")
    if flow.idle_timeout:
        head.append(f"idle_timeout={flow.idle_timeout}")
    if flow.hard_timeout:
        head.append(f"hard_timeout={flow.hard_timeout}")
    match = ",".join([f"priority={flow.priority}", *filter(None, [format_match(flow)])])
    return ", ".join(head) + ", " + match + " actions=" + flow.actions


# Keywords of a flow line that are not match fields.
_IGNORED = frozenset({
    "duration", "n_packets", "n_bytes", "idle_age", "hard_age", "importance", "out_port",
    "out_group",
})
_FLAGS = frozenset({
    "send_flow_rem", "check_overlap", "reset_counts", "no_packet_counts", "no_byte_counts",
    "no_readonly_table", "allow_hidden_fields",
})
_REPLY_HEADER = re.compile(r"^(NXST|OFPST)_FLOW reply\b")
_SPLIT = re.compile(r"[,\s]+")
_ACTIONS = re.compile(r"(?:^|[\s,])actions?\s*[=:]")

# Shared (interned) match pairs and action strings: Neutron's flows repeat them a lot.
_PAIRS: dict[tuple[str, str], tuple[str, str]] = {}
_VALID_ACTIONS: dict[str, str] = {}


def _error(source: str, line: int | None, problem: str, fix: str) -> SyntaxParseError:
    return SyntaxParseError(source, "", problem, fix, line=line)


_EXAMPLES = {
    offields.K_MAC: "fa:16:3e:00:00:01 or fa:16:3e:00:00:00/ff:ff:ff:00:00:00",
    offields.K_IPV4: "10.0.0.1, 10.0.0.0/24 or 10.0.0.0/255.255.255.0",
    offields.K_IPV6: "fe80::1 or fe80::/64",
    offields.K_CT_STATE: "+trk-est or 0x20/0x22",
    offields.K_TCP_FLAGS: "+syn-ack or 0x2/0x12",
    offields.K_PORT: "a port number, a port name or LOCAL",
    offields.K_DL_VLAN: "0..4095, or 0xffff for no VLAN header",
}


def _check_match(key: str, value: str, source: str, line: int | None) -> None:
    if key in offields.PROTOCOLS or key == "eth":
        if value:
            raise _error(source, line, f"{key} is a protocol shorthand and takes no value",
                         f"write {key} alone")
        return
    field = offields.lookup(key)
    if field is None:
        if "[" in key:
            try:
                offields.parse_subfield(key)
            except offields.FieldValueError as e:
                raise _error(source, line, str(e), "name a field from ovs-fields(7)") from None
            raise _error(source, line, f"matching on the subfield {key} is not supported",
                         "match the whole field with a mask (reg0=0x5/0xffff)")
        raise _error(source, line, f"unknown keyword {key}",
                     "use a match field from ovs-fields(7) (dl_src, nw_dst, reg0, ...) or a "
                     "protocol (ip, arp, tcp, ...)")
    if not value:
        raise _error(source, line, f"field {key} missing value", f"write {key}=VALUE")
    try:
        offields.parse_value(field, value, _any_port)
    except offields.FieldValueError as e:
        example = _EXAMPLES.get(field.kind, "a number such as 12 or 0x1f, with /0xff to mask"
                                if field.maskable else "a number such as 12 or 0x1f")
        raise _error(source, line, f"{key}={value}: {e}",
                     f"write {key} as ovs-fields(7) does: {example}") from None


def _any_port(name: str) -> int:
    return 1  # names are resolved against the bridge's ports by the engine


def parse_flow(text: str, *, source: str = "<string>", line: int | None = None,
               check: bool = True) -> Flow:
    """One flow line (``add-flows`` or ``dump-flows`` syntax) as a `Flow`.

    ``check`` validates field names, values and actions (the default); parse_flows turns it off
    only for lines it has already seen."""
    idx = -1
    m = _ACTIONS.search(text)
    if m:
        idx = m.end()
    if idx < 0:
        raise _error(source, line, "must specify an action",
                     "end the flow with actions=... (actions=drop to drop)")
    head = text[: m.start() if m else 0]
    actions = text[idx:].strip()
    if actions == "":
        actions = "drop"
    table = 0
    priority = OFP_DEFAULT_PRIORITY
    cookie = idle = hard = 0
    match: list[tuple[str, str]] = []
    for tok in _SPLIT.split(head):
        if not tok:
            continue
        eq = tok.find("=")
        if eq < 0:
            colon = tok.find(":")
            key, value = (tok[:colon], tok[colon + 1 :]) if colon > 0 else (tok, "")
        else:
            key, value = tok[:eq], tok[eq + 1 :]
        try:
            if key == "table":
                table = int(value, 0)
                if not 0 <= table <= 254:
                    raise ValueError
                continue
            if key == "priority":
                priority = int(value, 0)
                if not 0 <= priority <= 65535:
                    raise ValueError
                continue
            if key == "cookie":
                if "/" in value:
                    raise _error(source, line, "flow additions cannot use a cookie mask",
                                 f"write cookie={value.split('/')[0]}")
                cookie = int(value, 0)
                continue
            if key == "idle_timeout":
                idle = int(value, 0)
                continue
            if key == "hard_timeout":
                hard = int(value, 0)
                continue
        except ValueError:
            raise _error(source, line, f"{key}={value} is not a valid number",
                         f"write {key} as a decimal or 0x number in range") from None
        if key in _IGNORED or key in _FLAGS or (key == "add" and not match and not value):
            continue
        if check:
            _check_match(key, value, source, line)
        pair = (key, value)
        shared = _PAIRS.get(pair)
        if shared is None:
            shared = _PAIRS[pair] = (sys.intern(key), sys.intern(value))
        match.append(shared)
    if check:
        actions = _checked_actions(actions, source, line)
    else:
        actions = _VALID_ACTIONS.get(actions) or sys.intern(actions)
    return Flow(table=table, priority=priority, match=tuple(match), actions=actions,
                cookie=cookie, idle_timeout=idle, hard_timeout=hard)


def _checked_actions(actions: str, source: str, line: int | None) -> str:
    shared = _VALID_ACTIONS.get(actions)
    if shared is not None:
        return shared
    try:
        parse_actions(actions)
    except ActionParseError as e:
        raise _error(source, line, f"actions={actions}: {e}", e.fix) from None
    shared = sys.intern(actions)
    if len(_VALID_ACTIONS) < 200_000:
        _VALID_ACTIONS[shared] = shared
    return shared


def parse_flows(text: str, *, source: str = "<string>") -> tuple[Flow, ...]:
    """Every flow of an ``add-flows`` file or of ``dump-flows`` output (OpenFlow 1.0 or 1.3,
    with or without statistics). Blank lines, ``#`` comments and reply headers are skipped."""
    out: list[Flow] = []
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped[0] == "#" or _REPLY_HEADER.match(stripped):
            continue
        out.append(parse_flow(stripped, source=source, line=n))
    return tuple(out)


def parse_flows_file(path: str | Path) -> tuple[Flow, ...]:
    """`parse_flows` of a file (errors name the file)."""
    p = Path(path)
    return parse_flows(p.read_text(), source=str(p))
