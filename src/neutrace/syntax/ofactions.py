"""OpenFlow actions as ovs-actions(7) writes them (layer 2): ``parse_actions(text)`` turns the text
after ``actions=`` into a tuple of typed, frozen action objects.

Every action keeps the ``text`` it was written as (what ``ofproto/trace`` shows). Field names in
``load``/``move``/``set_field``/``learn``/``output:reg`` are resolved with
`neutrace.syntax.offields` (any ovs-fields(7) name, NXM/OXM names included); port names are kept as
written and resolved by the engine against the bridge's ports. Unknown actions raise
`ActionParseError` (with a ``fix``), which `neutrace.syntax.ofctl` turns into a
`SyntaxParseError` naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from neutrace.syntax import offields
from neutrace.syntax.offields import BASE0, DECIMAL, Field, FieldValueError, Subfield, short


class ActionParseError(ValueError):
    """An action neutrace cannot read: ``str(e)`` says what, ``fix`` how to write it."""

    def __init__(self, problem: str, fix: str = "", *, unsupported: bool = False) -> None:
        """``unsupported``: valid Open vSwitch syntax that neutrace does not simulate (an action
        or field it does not know), not a mistake in the text."""
        super().__init__(problem)
        self.fix = fix or "write it as ovs-actions(7) documents it"
        self.unsupported = unsupported


@dataclass(frozen=True, slots=True)
class Output:
    """``output:PORT`` or a bare port (number or name, as written; resolved by the engine);
    ``max_len``: ``output(port=PORT,max_len=N)``, the copy truncated to N bytes."""

    port: str
    text: str = ""
    max_len: int | None = None


@dataclass(frozen=True, slots=True)
class OutputReg:
    """``output:NXM_NX_REG0[]``: output to the port number held in a subfield."""

    src: Subfield
    text: str = ""


@dataclass(frozen=True, slots=True)
class Normal:
    text: str = "NORMAL"


@dataclass(frozen=True, slots=True)
class Flood:
    all_ports: bool = False  # ALL: also the ports with flooding disabled
    text: str = "FLOOD"


@dataclass(frozen=True, slots=True)
class InPort:
    text: str = "IN_PORT"


@dataclass(frozen=True, slots=True)
class Local:
    text: str = "LOCAL"


@dataclass(frozen=True, slots=True)
class Controller:
    max_len: int = 65535
    reason: str = "action"
    text: str = "CONTROLLER:65535"


@dataclass(frozen=True, slots=True)
class Drop:
    text: str = "drop"


@dataclass(frozen=True, slots=True)
class Resubmit:
    """``resubmit:PORT``, ``resubmit(PORT,TABLE)``, ``resubmit(,TABLE)``: ``port`` None keeps
    in_port, ``table`` None is the current table."""

    port: str | None
    table: int | None
    ct: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class GotoTable:
    table: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetVlanVid:
    """``mod_vlan_vid`` (pushes a tag if there is none, OpenFlow 1.0 semantics)."""

    vid: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetVlanPcp:
    pcp: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class StripVlan:
    """``strip_vlan`` / ``pop_vlan``."""

    text: str = "strip_vlan"


@dataclass(frozen=True, slots=True)
class PushVlan:
    ethertype: int = 0x8100
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetField:
    """``set_field:V[/M]->FIELD`` and the ``mod_dl_src``/``mod_nw_dst``/``mod_tp_src``/... family:
    ``value``/``mask`` are in the field's own bits."""

    field: Field
    value: int
    mask: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class Load:
    """``load:VALUE->DST[a..b]``."""

    value: int
    dst: Subfield
    text: str = ""


@dataclass(frozen=True, slots=True)
class Move:
    """``move:SRC[a..b]->DST[c..d]``."""

    src: Subfield
    dst: Subfield
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetTunnel:
    """``set_tunnel:ID`` / ``set_tunnel64:ID``."""

    tun_id: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class DecTtl:
    text: str = "dec_ttl"


@dataclass(frozen=True, slots=True)
class WriteMetadata:
    value: int
    mask: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class LearnSpec:
    """One ``learn()`` spec. ``kind`` is ``"match"`` (``dst`` matched against ``src``'s value in
    the packet, or against ``value``), ``"load"`` (``load:src|value->dst`` in the learned actions)
    or ``"output"`` (``output:src``)."""

    kind: str
    dst: Subfield | None
    src: Subfield | None = None
    value: int | None = None


@dataclass(frozen=True, slots=True)
class Learn:
    table: int = 1
    priority: int = 32768
    idle_timeout: int = 0
    hard_timeout: int = 0
    fin_idle_timeout: int = 0
    fin_hard_timeout: int = 0
    cookie: int = 0
    delete_learned: bool = False
    specs: tuple[LearnSpec, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class Conjunction:
    """``conjunction(ID,K/N)``: this flow is clause K of N of conjunctive match ID."""

    id: int
    clause: int
    n_clauses: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class Nat:
    """``nat``, ``nat(src=IP[-IP][:PORT[-PORT]])``, ``nat(dst=...)``."""

    kind: str = ""  # "src", "dst" or "" (apply the NAT of an existing connection)
    ip_min: str = ""
    ip_max: str = ""
    port_min: int = 0
    port_max: int = 0


@dataclass(frozen=True, slots=True)
class Ct:
    """``ct(commit,zone=...,table=...,nat(...),exec(...))``."""

    commit: bool = False
    force: bool = False
    zone: int = 0
    zone_src: Subfield | None = None
    table: int | None = None
    nat: Nat | None = None
    exec_: tuple[object, ...] = ()
    alg: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class CtClear:
    text: str = "ct_clear"


@dataclass(frozen=True, slots=True)
class Note:
    note: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class Clone:
    actions: tuple[object, ...] = field(default=())
    text: str = ""


@dataclass(frozen=True, slots=True)
class Exit:
    text: str = "exit"


@dataclass(frozen=True, slots=True)
class WriteActions:
    """``write_actions(...)``: the actions go into the action set (OpenFlow 1.1+), run when the
    pipeline ends."""

    actions: tuple[object, ...] = field(default=())
    text: str = ""


@dataclass(frozen=True, slots=True)
class ClearActions:
    """``clear_actions``: the action set is emptied."""

    text: str = "clear_actions"


@dataclass(frozen=True, slots=True)
class Group:
    """``group:N``: the buckets of group N (``ovs-ofctl dump-groups``) run."""

    group_id: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class NoOp:
    """Actions with no effect on a trace (``set_queue``, ``pop_queue``, ``fin_timeout``)."""

    text: str = ""


Action = (
    Output | OutputReg | Normal | Flood | InPort | Local | Controller | Drop | Resubmit | GotoTable
    | SetVlanVid | SetVlanPcp | StripVlan | PushVlan | SetField | Load | Move | SetTunnel | DecTtl
    | WriteMetadata | Learn | Conjunction | Ct | CtClear | Note | Clone | Exit | NoOp
    | WriteActions | ClearActions | Group
)


def split_top(text: str) -> list[str]:
    """Split at commas outside parentheses (``resubmit(,1),learn(a,b)`` -> 2 items)."""
    if "(" not in text and ")" not in text:
        return [t for t in (p.strip() for p in text.split(",")) if t]
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for part in text.split(","):
        depth += part.count("(") - part.count(")")
        if depth < 0:
            raise ActionParseError(f"unbalanced ')' in {short(text)}", "balance the parentheses")
        cur.append(part)
        if depth == 0:
            item = ",".join(cur).strip()
            if item:
                out.append(item)
            cur = []
    if depth:
        raise ActionParseError(f"unbalanced '(' in {short(text)}", "balance the parentheses")
    return out


def split_action_list(actions: str) -> list[str]:
    """An action list cut at its top-level commas, each piece as written (not stripped, empty
    pieces kept, nothing checked): for text that is already known to be well formed."""
    out: list[str] = []
    depth = start = 0
    for i, ch in enumerate(actions):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(actions[start:i])
            start = i + 1
    out.append(actions[start:])
    return out


def _int(text: str, what: str, maximum: int | None = None, base: int = BASE0) -> int:
    """A number of an action as ovs-ofctl reads it there (`offields.BASE0` or `DECIMAL`)."""
    try:
        v = offields.read_uint(text.strip(), base)
    except FieldValueError as e:
        spelled = "a number (12 or 0x1f)" if base == BASE0 else "a decimal number"
        raise ActionParseError(f"{what}: {e}", f"write {what} as {spelled}") from None
    if maximum is not None and v > maximum:
        raise ActionParseError(f"{what}: {short(text)} is out of range (0..{maximum})",
                               f"write {what} as a number from 0 to {maximum}")
    return v


def _port(text: str, what: str) -> str:
    """A port as written (a number, a reserved name or a port name), checked for its shape."""
    port = text.strip().strip('"')
    try:
        offields.parse_port(port, lambda name: 1)
    except FieldValueError as e:
        raise ActionParseError(f"{what}: {e}", "write a port number (0..65535) or a port "
                               "name") from None
    return port


def _subfield(text: str) -> Subfield:
    try:
        return offields.parse_subfield(text)
    except FieldValueError as e:
        raise ActionParseError(str(e), "write a field like NXM_NX_REG0[] or reg0[0..15]",
                               unsupported=str(e).startswith("unknown field")) from None


def _field(name: str) -> Field:
    f = offields.lookup(name.strip())
    if f is None:
        raise ActionParseError(f"unknown field {name!r}", "use a field name from ovs-fields(7)",
                               unsupported=True)
    return f


def _value_for(f: Field, text: str) -> tuple[int, int]:
    try:
        return offields.parse_value(f, text)
    except FieldValueError as e:
        raise ActionParseError(f"{f.name}: {e}", "fix the value") from None


_SET_FIELD_ALIASES: dict[str, str] = {
    "mod_dl_src": "dl_src", "mod_dl_dst": "dl_dst", "mod_nw_src": "nw_src",
    "mod_nw_dst": "nw_dst", "mod_tp_src": "tp_src", "mod_tp_dst": "tp_dst",
    "mod_nw_tos": "nw_tos", "mod_nw_ecn": "nw_ecn", "mod_nw_ttl": "nw_ttl",
}

_KV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:([:=])(.*)|\((.*)\))?$", re.S)


@lru_cache(maxsize=65536)
def parse_actions(text: str) -> tuple[Action, ...]:
    """The actions of ``actions=TEXT`` (``drop`` and the empty string give ``()`` plus a Drop)."""
    return tuple(parse_action(t) for t in split_top(text.strip()))


def parse_action(text: str) -> Action:
    """One action."""
    m = _KV.match(text)
    if not m:
        if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
            return Output(_port(text, "output"), text)
        raise ActionParseError(f"cannot parse action {short(text)}", unsupported=True)
    name, arg, paren = m.group(1), m.group(3), m.group(4)
    lname = name.lower()
    if arg is None and paren is None:
        return _bare(name, text)
    if lname == "output":
        if paren is not None:
            args = dict(_kvs(paren))
            return Output(_port(args.get("port", ""), "output port"), text,
                          _int(args["max_len"], "max_len", 0xFFFFFFFF)
                          if "max_len" in args else None)
        assert arg is not None
        if "[" in arg:
            return OutputReg(_subfield(arg), text)
        return Output(_port(arg, "output"), text)
    if lname == "enqueue":
        port = (arg or paren or "").replace(":", ",").split(",")[0]
        return Output(_port(port, "enqueue port"), text)
    if lname == "controller":
        if paren is not None:
            args = dict(_kvs(paren))
            return Controller(_int(args.get("max_len", "65535"), "max_len"),
                              args.get("reason", "action"), text)
        return Controller(_int(arg or "65535", "controller max_len"), "action", text)
    if lname == "resubmit":
        if paren is not None:
            parts = [p.strip() for p in paren.split(",")]
            if len(parts) < 2 or len(parts) > 3 or (len(parts) == 3 and parts[2] != "ct"):
                raise ActionParseError(f"{short(text)}: write resubmit(PORT,TABLE) or "
                                       "resubmit(,TABLE)")
            port = _port(parts[0], "resubmit port") if parts[0].strip('"') else None
            table = _int(parts[1], "resubmit table", 254, DECIMAL) if parts[1] else None
            if port is None and table is None:
                raise ActionParseError(f"{short(text)}: at least one of port and table is "
                                       "required")
            return Resubmit(port, table, len(parts) == 3, text)
        assert arg is not None
        return Resubmit(_port(arg, "resubmit port"), None, False, text)
    if lname == "goto_table":
        return GotoTable(_int(arg or paren or "", "goto_table", 254, DECIMAL), text)
    if lname == "mod_vlan_vid":
        return SetVlanVid(_int(arg or "", "mod_vlan_vid", 4095), text)
    if lname == "mod_vlan_pcp":
        return SetVlanPcp(_int(arg or "", "mod_vlan_pcp", 7), text)
    if lname == "push_vlan":
        ethertype = _int(arg or "0x8100", "push_vlan ethertype", 0xFFFF)
        if ethertype not in (0x8100, 0x88A8):
            raise ActionParseError(f"push_vlan: {short(arg or '')} is not a VLAN ethertype",
                                   "write push_vlan:0x8100 (or 0x88a8)")
        return PushVlan(ethertype, text)
    if lname in _SET_FIELD_ALIASES:
        f = _field(_SET_FIELD_ALIASES[lname])
        v, _ = _value_for(f, (arg or "").strip())
        return SetField(f, v, (1 << f.nbits) - 1, text)
    if lname == "set_field":
        body = arg if arg is not None else paren or ""
        value, arrow, dst = body.rpartition("->")
        if not arrow:
            raise ActionParseError(f"{short(text)}: write set_field:VALUE->FIELD")
        f = _field(dst)
        v, mk = _value_for(f, value.strip())
        return SetField(f, v, mk, text)
    if lname == "load":
        body = arg or ""
        value, arrow, dst = body.partition("->")
        if not arrow:
            raise ActionParseError(f"{short(text)}: write load:VALUE->FIELD[]")
        sub = _subfield(dst)
        v = _int(value, "load value")
        if v >> sub.nbits:
            raise ActionParseError(f"{short(text)}: {value[:60]} does not fit in {sub}")
        return Load(v, sub, text)
    if lname == "move":
        body = arg or ""
        src, arrow, dst = body.partition("->")
        if not arrow:
            raise ActionParseError(f"{short(text)}: write move:SRC[]->DST[]")
        s, d = _subfield(src), _subfield(dst)
        if s.nbits != d.nbits:
            raise ActionParseError(f"{short(text)}: source and destination widths differ "
                                   f"({s.nbits} vs {d.nbits} bits)")
        return Move(s, d, text)
    if lname in ("set_tunnel", "set_tunnel64"):
        return SetTunnel(_int(arg or "", lname, (1 << 64) - 1), text)
    if lname == "dec_ttl":
        return DecTtl(text)
    if lname == "write_metadata":
        v_text, _, m_text = (arg or "").partition("/")
        return WriteMetadata(_int(v_text, "write_metadata"),
                             _int(m_text, "metadata mask") if m_text else (1 << 64) - 1, text)
    if lname == "learn":
        return _learn(paren if paren is not None else "", text)
    if lname == "conjunction":
        mm = re.fullmatch(r"\s*(\+?[0-9a-fA-FxX]+)\s*,\s*([0-9]{1,3})\s*/\s*([0-9]{1,3})\s*",
                          paren or "")
        if not mm:
            raise ActionParseError(f"{short(text)}: write conjunction(ID,K/N)")
        cid = _int(mm.group(1), "conjunction id", 0xFFFFFFFF)
        k, n = int(mm.group(2)), int(mm.group(3))
        if not 2 <= n <= 64 or not 1 <= k <= n:
            raise ActionParseError(f"{short(text)}: need 2 <= N <= 64 and 1 <= K <= N")
        return Conjunction(cid, k, n, text)
    if lname == "ct":
        return _ct(paren or "", text)
    if lname == "note":
        return Note(arg or "", text)
    if lname == "clone":
        return Clone(parse_actions(paren or ""), text)
    if lname == "write_actions":
        return WriteActions(parse_actions(paren or ""), text)
    if lname == "group":
        return Group(_int(arg or paren or "", "group", 0xFFFFFFFF), text)
    if lname in ("set_queue", "fin_timeout"):
        return NoOp(text)
    raise ActionParseError(
        f"unknown or unsupported action {short(name)} in {short(text)}",
        "use an action neutrace simulates (output, resubmit, NORMAL, mod_vlan_vid, strip_vlan, "
        "set_field, load, move, learn, ct, conjunction, ...)", unsupported=True,
    )


def _bare(name: str, text: str) -> Action:
    lname = name.lower()
    if lname == "drop":
        return Drop(text)
    if lname == "normal":
        return Normal(text)
    if lname == "flood":
        return Flood(False, text)
    if lname == "all":
        return Flood(True, text)
    if lname == "in_port":
        return InPort(text)
    if lname == "local":
        return Local(text)
    if lname == "controller":
        return Controller(65535, "action", text)
    if lname in ("strip_vlan", "pop_vlan"):
        return StripVlan(text)
    if lname == "dec_ttl":
        return DecTtl(text)
    if lname == "ct_clear":
        return CtClear(text)
    if lname == "ct":
        return Ct(text=text)
    if lname == "exit":
        return Exit(text)
    if lname == "clear_actions":
        return ClearActions(text)
    if lname in ("pop_queue", "push_vlan"):
        return NoOp(text) if lname == "pop_queue" else PushVlan(0x8100, text)
    if lname == "note":
        return Note("", text)
    if lname in ("learn", "resubmit", "output", "load", "move", "set_field", "conjunction",
                 "goto_table", "mod_vlan_vid", "set_tunnel"):
        raise ActionParseError(f"action {short(name)} needs an argument")
    # A bare word is an output port, as ovs-ofctl reads it (a number or a port name).
    return Output(_port(name, "output"), text)


def _kvs(text: str) -> list[tuple[str, str]]:
    out = []
    for part in split_top(text):
        k, sep, v = part.partition("=")
        out.append((k.strip(), v.strip()) if sep else (k.strip(), ""))
    return out


# learn()'s numeric options: (maximum, how ovs-ofctl reads them: learn.c uses atoi for the
# timeouts and priority, the table parser for table, strtoull(..., 0) for cookie)
_LEARN_OPTIONS: dict[str, tuple[int, int]] = {
    "table": (254, DECIMAL), "priority": (0xFFFF, DECIMAL), "idle_timeout": (0xFFFF, DECIMAL),
    "hard_timeout": (0xFFFF, DECIMAL), "fin_idle_timeout": (0xFFFF, DECIMAL),
    "fin_hard_timeout": (0xFFFF, DECIMAL), "cookie": ((1 << 64) - 1, BASE0),
    "limit": (0xFFFFFFFF, DECIMAL),
}


def _learn(body: str, text: str) -> Learn:
    opts: dict[str, int] = {}
    specs: list[LearnSpec] = []
    delete = False
    for part in split_top(body):
        key, eq, value = part.partition("=")
        key = key.strip()
        if eq and key in _LEARN_OPTIONS:
            opts[key] = _int(value, f"learn {key}", *_LEARN_OPTIONS[key])
            continue
        if key in ("delete_learned", "send_flow_rem"):
            delete = delete or key == "delete_learned"
            continue
        if key.startswith("load:"):
            src_text, arrow, dst_text = key[5:].partition("->")
            if not arrow:
                raise ActionParseError(f"learn spec {short(part)}: write load:SRC->DST[]")
            d = _subfield(dst_text)
            if offields.is_decimal(src_text.strip()[:1]):
                specs.append(LearnSpec("load", d, value=_int(src_text, "learn load value")))
            else:
                specs.append(LearnSpec("load", d, src=_subfield(src_text)))
            continue
        if key.startswith("output:"):
            specs.append(LearnSpec("output", None, src=_subfield(key[7:])))
            continue
        dst = _subfield(key)
        if not eq:
            specs.append(LearnSpec("match", dst, src=dst))
            continue
        v = value.strip()
        if offields.is_decimal(v[:1]) or ":" in v or "." in v:
            f = dst.field
            try:
                if f.kind in (offields.K_MAC, offields.K_IPV4, offields.K_IPV6):
                    imm, _ = offields.parse_value(f, v)
                else:
                    imm = offields.parse_int(v)
            except FieldValueError as e:
                raise ActionParseError(f"learn spec {short(part)}: {e}") from None
            specs.append(LearnSpec("match", dst, value=imm))
        else:
            src = _subfield(v)
            if src.nbits != dst.nbits:
                raise ActionParseError(f"learn spec {short(part)}: widths differ")
            specs.append(LearnSpec("match", dst, src=src))
    return Learn(
        table=opts.get("table", 1), priority=opts.get("priority", 32768),
        idle_timeout=opts.get("idle_timeout", 0), hard_timeout=opts.get("hard_timeout", 0),
        fin_idle_timeout=opts.get("fin_idle_timeout", 0),
        fin_hard_timeout=opts.get("fin_hard_timeout", 0), cookie=opts.get("cookie", 0),
        delete_learned=delete, specs=tuple(specs), text=text,
    )


_NAT_FIX = "write nat(src=IP[-IP][:PORT[-PORT]]) or nat(dst=...) ([IPv6] in brackets)"


def _nat(body: str) -> Nat:
    """``nat``'s options: ``src``/``dst`` with an address range and a port range (each port
    decimal 0..65535, the first not past the last: ovs-ofctl refuses ``1-`` and ``5-1``)."""
    if not body:
        return Nat()
    kind = ""
    rng = ""
    for part in split_top(body):
        k, eq, v = part.partition("=")
        if k in ("src", "dst") and eq:
            kind, rng = k, v
        elif k in ("src", "dst"):
            kind = k
        elif k in ("persistent", "hash", "random"):
            continue
        else:
            raise ActionParseError(f"nat option {short(part)} is not supported", _NAT_FIX)
    if not rng:
        return Nat(kind)
    if rng.startswith("["):  # [IPv6]-[IPv6]:PORT-PORT
        m = re.fullmatch(r"\[([^\]]*)\](?:-\[([^\]]*)\])?(?::(.*))?", rng)
        if m is None:
            raise ActionParseError(f"nat range {short(rng)} is malformed", _NAT_FIX)
        ip_min, ip_max, ports = m.group(1), m.group(2) or m.group(1), m.group(3)
        conv = offields.ipv6_to_int
    elif rng.count(":") > 1:  # a bare IPv6 address range, no ports
        ip_min, _, ip_max = rng.partition("-")
        ip_max, ports, conv = ip_max or ip_min, None, offields.ipv6_to_int
    else:
        addrs, colon, ports_text = rng.partition(":")
        ports = ports_text if colon else None
        ip_min, _, ip_max = addrs.partition("-")
        ip_max = ip_max or ip_min
        conv = offields.ipv4_to_int
    try:
        if conv(ip_min) > conv(ip_max):
            raise ActionParseError(f"nat range {short(rng)}: the first address is past the last",
                                   _NAT_FIX)
    except FieldValueError as e:
        raise ActionParseError(f"nat range {short(rng)}: {e}", _NAT_FIX) from None
    p_min = p_max = 0
    if ports is not None:
        first, dash, last = ports.partition("-")
        p_min = _int(first, "nat port", 0xFFFF, DECIMAL)
        p_max = _int(last, "nat port", 0xFFFF, DECIMAL) if dash else p_min
        if p_min > p_max:
            raise ActionParseError(f"nat range {short(rng)}: the first port is past the last",
                                   _NAT_FIX)
    return Nat(kind, ip_min, ip_max, p_min, p_max)


def _ct(body: str, text: str) -> Ct:
    commit = force = False
    zone = 0
    zone_src: Subfield | None = None
    table: int | None = None
    nat: Nat | None = None
    exec_: tuple[object, ...] = ()
    alg = ""
    for part in split_top(body):
        m = _KV.match(part)
        if not m:
            raise ActionParseError(f"ct option {short(part)} is not understood")
        key, value, paren = m.group(1), m.group(3), m.group(4)
        if key == "commit":
            commit = True
        elif key == "force":
            commit = force = True
        elif key == "zone":
            v = value or ""
            if offields.is_decimal(v[:1]):
                zone = _int(v, "ct zone", 0xFFFF)
            else:
                zone_src = _subfield(v)
        elif key == "table":
            table = _int(value or "", "ct table", 254, DECIMAL)
        elif key == "nat":
            nat = _nat(paren or "")
        elif key == "exec":
            exec_ = parse_actions(paren or "")
        elif key == "alg":
            alg = value or ""
        else:
            raise ActionParseError(f"ct option {short(part)} is not supported",
                                   "use commit, force, zone, table, nat(...), exec(...), alg")
    return Ct(commit, force, zone, zone_src, table, nat, exec_, alg, text)
