"""ovs-ofctl flow syntax (layer 2): format and parse `Flow`s as ``ovs-ofctl add-flow(s)`` and
``dump-flows`` write them.

`parse_flow` reads one line: an ``add-flows`` line (``table=22,priority=1,dl_vlan=1
actions=strip_vlan,...``), or a ``dump-flows`` line with or without statistics, from OpenFlow 1.0
or 1.3 (``cookie=0x0, duration=1.2s, table=0, n_packets=0, ..., reset_counts priority=1,in_port=2
actions=...``). Statistics are dropped and flags (``reset_counts``) kept; the match is kept
exactly as written (pairs in order, protocol shorthands such as ``arp`` with an empty value),
so ``parse_flow(format_flow(f)) == f``. Field names and values are checked against
ovs-fields(7) (`neutrace.syntax.offields`) and the actions against ovs-actions(7)
(`neutrace.syntax.ofactions`): anything else is a `SyntaxParseError` naming the file, the line
and the fix. What the fields *mean* (synonyms,
prerequisites, port names) is resolved by the OpenFlow engine when it compiles a table.
"""

from __future__ import annotations

import gc
import re
import sys
from pathlib import Path

from neutrace.dataplane import Flow
from neutrace.errors import SyntaxParseError
from neutrace.syntax import offields
from neutrace.syntax.ofactions import ActionParseError, parse_action, split_top
from neutrace.syntax.text import cut, lines

OFP_DEFAULT_PRIORITY = 32768


def format_match(flow: Flow) -> str:
    return ",".join(k if v == "" else f"{k}={v}" for k, v in flow.match)


def format_flow(flow: Flow, *, cookie: bool = True, table: bool = True) -> str:
    """One line for ``ovs-ofctl add-flows``:
    ``cookie=0x..., table=22, priority=1,dl_vlan=1 actions=...``
    (the shape of ``dump-flows`` without its statistics; ``cookie``/``table`` False leave those
    out)."""
    head = []
    if cookie:
        head.append(f"cookie={flow.cookie:#x}")
    if table:
        head.append(f"table={flow.table}")
    if flow.idle_timeout:
        head.append(f"idle_timeout={flow.idle_timeout}")
    if flow.hard_timeout:
        head.append(f"hard_timeout={flow.hard_timeout}")
    match = ",".join([f"priority={flow.priority}", *filter(None, [format_match(flow)])])
    flags = "".join(f + " " for f in flow.flags)
    return ", ".join([*head, flags + match]) + " actions=" + flow.actions


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
_VALID_ACTIONS: dict[str, str] = {}
_VALID_ACTION: set[str] = set()


def _error(source: str, line: int | None, problem: str, fix: str) -> SyntaxParseError:
    return SyntaxParseError(source, "", problem, fix, line=line)


_EXAMPLES = {
    offields.K_MAC: "fa:16:3e:00:00:01 or fa:16:3e:00:00:00/ff:ff:ff:00:00:00",
    offields.K_IPV4: "10.0.0.1, 10.0.0.0/24 or 10.0.0.0/255.255.255.0",
    offields.K_IPV6: "fe80::1 or fe80::/64",
    offields.K_CT_STATE: "+trk-est or 0x20/0x22",
    offields.K_TCP_FLAGS: "+syn-ack or 0x2/0x12",
    offields.K_FRAG: "no, yes, first, later or not_later",
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
            raise _error(source, line, f"matching on the subfield {cut(key)} is not supported",
                         "match the whole field with a mask (reg0=0x5/0xffff)")
        err = _error(source, line, f"unknown keyword {cut(key)}",
                     "use a match field from ovs-fields(7) (dl_src, nw_dst, reg0, ...) or a "
                     "protocol (ip, arp, tcp, ...)")
        err.unsupported = True  # type: ignore[attr-defined]
        raise err
    if not value:
        raise _error(source, line, f"field {key} missing value", f"write {key}=VALUE")
    fast = _FAST.get(field.kind)
    if fast is not None and fast.fullmatch(value):
        return
    try:
        offields.parse_value(field, value, _any_port)
    except offields.FieldValueError as e:
        example = _EXAMPLES.get(field.kind, "a number such as 12 or 0x1f, with /0xff to mask"
                                if field.maskable else "a number such as 12 or 0x1f")
        raise _error(source, line, f"{cut(key + '=' + value)}: {e}",
                     f"write {key} as ovs-fields(7) does: {example}") from None


def _any_port(name: str) -> int:
    return 1  # names are resolved against the bridge's ports by the engine


# The numbers of a flow's head: (maximum, how ovs-ofctl reads them: table= is decimal, the
# others strtoull(..., 0) so that a leading 0 is octal)
_HEAD_INT = {"table": (254, offields.DECIMAL), "priority": (65535, offields.BASE0),
             "idle_timeout": (65535, offields.BASE0), "hard_timeout": (65535, offields.BASE0),
             "cookie": ((1 << 64) - 1, offields.BASE0)}
_SKIP = _IGNORED | _FLAGS

# Fast checks of the common value shapes; anything they reject goes through parse_value, which
# either accepts it (an unusual but valid spelling) or says what is wrong.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IP = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_HEX2 = r"[0-9a-fA-F]{1,2}"
_MAC = rf"{_HEX2}:{_HEX2}:{_HEX2}:{_HEX2}:{_HEX2}:{_HEX2}"
# a number whose reading is plain: hex, or decimal without a leading zero (bounded, so that the
# fast path never meets int()'s digit limit; anything else takes the full check)
_NUM = r"(?:0[xX][0-9a-fA-F]{1,32}|[1-9][0-9]{0,39}|0)"
_FAST: dict[str, re.Pattern[str]] = {
    offields.K_IPV4: re.compile(rf"{_IP}(?:/(?:3[0-2]|[12]?[0-9]|{_IP}))?"),
    offields.K_MAC: re.compile(rf"{_MAC}(?:/{_MAC})?"),
}
_INT_RE = re.compile(rf"({_NUM})(?:/({_NUM}))?")
# Distinct tokens / actions remembered as checked: many while parse_flows runs (it frees them
# when done), few for lone parse_flow calls (which never free them).
_BULK_LIMIT = 1 << 18
_LONE_LIMIT = 4096
_limit = [_LONE_LIMIT]
_TOKENS: dict[str, tuple[str, str | int]] = {}
_HEADER = "\x00header"  # marks a cached (header key, number) token


def _fast_ok(field: offields.Field, value: str) -> bool:
    """True when ``value`` certainly is a valid value of ``field`` (cheap checks only)."""
    fast = _FAST.get(field.kind)
    if fast is not None:
        return fast.fullmatch(value) is not None
    if field.kind == offields.K_INT:
        m = _INT_RE.fullmatch(value)
        if m is None or (m.group(2) is not None and not field.maskable):
            return False
        return int(m.group(1), 0) >> field.nbits == 0 and (
            m.group(2) is None or int(m.group(2), 0) >> field.nbits == 0)
    return False


def parse_flow(text: str, *, source: str = "<string>", line: int | None = None,
               check: bool = True, keep_unsupported: bool = False) -> Flow:
    """One flow line (``add-flows`` or ``dump-flows`` syntax) as a `Flow`.

    ``check`` (the default) validates field names, values and actions against ovs-fields(7) and
    ovs-actions(7), raising `SyntaxParseError` with the fix. With ``keep_unsupported``, a flow
    that uses a match field or an action neutrace does not know (valid Open vSwitch syntax, such
    as a dump holds) is kept, with ``unsupported`` saying what (the unknown match fields left
    out, so that it matches at least what the real flow does); the engine stops a packet that
    hits it."""
    idx = text.find("actions=")
    if "\x00" in text:
        raise _error(source, line, "the flow has a NUL character",
                     "remove the NUL (the file is damaged or not text)")
    if idx < 0 or (idx and text[idx - 1] not in " ,\t"):
        m = _ACTIONS.search(text)
        if m is None:
            raise _error(source, line, "must specify an action",
                         "end the flow with actions=... (actions=drop to drop)")
        head, actions = text[: m.start()], text[m.end():].strip()
    else:
        head, actions = text[:idx], text[idx + 8:].strip()
    if not actions:
        actions = "drop"
    table = idle = hard = cookie = 0
    priority = OFP_DEFAULT_PRIORITY
    match: list[tuple[str, str]] = []
    flags: list[str] = []
    tokens = _TOKENS
    unsupported = ""
    for tok in head.replace(",", " ").split():
        cached = tokens.get(tok)
        if cached is None:
            try:
                cached = _token(tok, source, line, check, not match)
            except SyntaxParseError as exc:
                if not (keep_unsupported and getattr(exc, "unsupported", False)):
                    raise
                unsupported = unsupported or exc.problem
                continue
            if cached is None:
                continue
            if check and len(tokens) < _limit[0]:  # an unchecked token is never remembered
                tokens[tok] = cached
        key, value = cached
        if key is _HEADER:
            if value in _FLAGS:
                flags.append(str(value))
            continue
        if isinstance(value, int):
            if key == "priority":
                priority = value
            elif key == "table":
                table = value
            elif key == "cookie":
                cookie = value
            elif key == "idle_timeout":
                idle = value
            else:
                hard = value
            continue
        match.append(cached)  # type: ignore[arg-type]  # a (key, str) pair here
    if check:
        try:
            actions = _checked_actions(actions, source, line)
        except SyntaxParseError as exc:
            if not (keep_unsupported and getattr(exc, "unsupported", False)):
                raise
            unsupported = unsupported or exc.problem
    return Flow(table, priority, tuple(match), actions, cookie, idle, hard, tuple(flags),
                unsupported)


def _token(tok: str, source: str, line: int | None, check: bool,
           first: bool) -> tuple[str, str | int] | None:
    """One token of a flow's head: a match pair, a (header key, number) pair, or None to skip."""
    eq = tok.find("=")
    if eq < 0:
        colon = tok.find(":")
        key, value = (tok[:colon], tok[colon + 1:]) if colon > 0 else (tok, "")
    else:
        key, value = tok[:eq], tok[eq + 1:]
    rng = _HEAD_INT.get(key)
    if rng is not None:
        if key == "cookie" and "/" in value:
            raise _error(source, line, "flow additions cannot use a cookie mask",
                         f"write cookie={cut(value.split('/')[0])}")
        maximum, base = rng
        try:
            n = offields.read_uint(value, base)
        except offields.FieldValueError as e:
            spelled = "a decimal" if base == offields.DECIMAL else "a decimal or 0x"
            raise _error(source, line, f"{key}={cut(value)}: {e}",
                         f"write {key} as {spelled} number in 0..{maximum}") from None
        if n > maximum:
            raise _error(source, line, f"{key}={cut(value)} is past {maximum}",
                         f"write {key} as a number in 0..{maximum}")
        return (key, n)
    if key in _SKIP:
        return (_HEADER, key)
    if key == "add" and first and not value:
        return None
    if check:
        field = offields.lookup(key)
        if field is None or not value or not _fast_ok(field, value):
            _check_match(key, value, source, line)
    return (sys.intern(key), value)


# The action shapes that differ only by a number from flow to flow (a port, a register value, a
# conjunction id): checked with one regex and a range check instead of a full parse.
# (bounded, and without the leading zeros that make a number octal: those take the full parse)
_ACT_NUM = r"(0[xX][0-9a-fA-F]{1,32}|[1-9][0-9]{0,19}|0)"
_ACT_OUTPUT = re.compile(r"output:([0-9]{1,5})")  # a port: decimal
_ACT_LOAD = re.compile(rf"load:{_ACT_NUM}->([A-Za-z0-9_]+\[[0-9.]{{0,12}}\])")
_ACT_CONJ = re.compile(r"conjunction\(([1-9][0-9]{0,9}|0),([0-9]{1,2})/([0-9]{1,2})\)")
_ACT_RESUBMIT = re.compile(r"resubmit\(,([0-9]{1,3})\)")
_ACT_VLAN = re.compile(r"mod_vlan_vid:([1-9][0-9]{0,3}|0)")
_LOAD_DST: dict[str, int] = {}  # subfield text -> its width in bits


def _fast_action_ok(one: str) -> bool:
    """True when ``one`` certainly is a valid action of a common numeric shape."""
    c = one[0]
    if c == "o":
        m = _ACT_OUTPUT.fullmatch(one)
        return m is not None and int(m.group(1)) <= 0xFFFF
    if c == "l":
        m = _ACT_LOAD.fullmatch(one)
        if m is None:
            return False
        width = _LOAD_DST.get(m.group(2))
        if width is None:
            try:
                width = offields.parse_subfield(m.group(2)).nbits
            except offields.FieldValueError:
                return False
            _LOAD_DST[m.group(2)] = width
        return int(m.group(1), 0) >> width == 0
    if c == "c":
        m = _ACT_CONJ.fullmatch(one)
        if m is None:
            return False
        k, n = int(m.group(2)), int(m.group(3))
        return int(m.group(1)) <= 0xFFFFFFFF and 2 <= n <= 64 and 1 <= k <= n
    if c == "r":
        m = _ACT_RESUBMIT.fullmatch(one)
        return m is not None and int(m.group(1)) <= 254
    if c == "m":
        m = _ACT_VLAN.fullmatch(one)
        return m is not None and int(m.group(1)) <= 4095
    return False


def _checked_actions(actions: str, source: str, line: int | None) -> str:
    shared = _VALID_ACTIONS.get(actions)
    if shared is not None:
        return shared
    try:
        for one in split_top(actions):
            if one not in _VALID_ACTION and not _fast_action_ok(one):
                parse_action(one)
                if len(_VALID_ACTION) < _limit[0] * 4:
                    _VALID_ACTION.add(one)
    except ActionParseError as e:
        err = _error(source, line, f"actions={cut(actions)}: {e}", e.fix)
        err.unsupported = e.unsupported  # type: ignore[attr-defined]
        raise err from None
    if len(_VALID_ACTIONS) < _limit[0]:
        _VALID_ACTIONS[actions] = actions
    return actions


def parse_flows(text: str, *, source: str = "<string>",
                keep_unsupported: bool = False) -> tuple[Flow, ...]:
    """Every flow of an ``add-flows`` file or of ``dump-flows`` output (OpenFlow 1.0 or 1.3,
    with or without statistics). Blank lines, ``#`` comments and reply headers are skipped.
    ``keep_unsupported``: see `parse_flow`."""
    out: list[Flow] = []
    append = out.append
    _limit[0] = _BULK_LIMIT
    gc_was_on = gc.isenabled()
    gc.disable()  # no cycles are made here; the collector's passes over 100k new flows cost 20%
    try:
        for n, raw in enumerate(lines(text, source), 1):
            stripped = raw.strip()
            if not stripped or stripped[0] == "#" or (
                    stripped[0] in "NO" and _REPLY_HEADER.match(stripped)):
                continue
            append(parse_flow(stripped, source=source, line=n,
                              keep_unsupported=keep_unsupported))
    finally:
        if gc_was_on:
            gc.enable()
        _limit[0] = _LONE_LIMIT
        clear_caches()
    return tuple(out)


def clear_caches() -> None:
    """Forget the tokens and actions already checked (parse_flows does it when it is done:
    the flows keep what they share, the caches' own memory goes)."""
    _TOKENS.clear()
    _VALID_ACTION.clear()
    _VALID_ACTIONS.clear()


def parse_flows_file(path: str | Path) -> tuple[Flow, ...]:
    """`parse_flows` of a file (errors name the file)."""
    from neutrace.syntax.text import read_file

    p = Path(path)
    return parse_flows(read_file(p), source=str(p))
