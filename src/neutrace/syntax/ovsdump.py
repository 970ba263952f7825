"""Open vSwitch's own text dumps (layer 2): parsers and formatters.

- ``ovs-vsctl show`` ⇄ `VsctlShow` (bridges, ports with tag/trunks, interfaces with type and
  options such as ``peer``/``remote_ip``/``local_ip``/``in_key``/``out_key``);
- ``ovs-ofctl show BRIDGE`` → `OfctlShow` (ofport → port name and MAC);
- ``ovs-appctl dpif/show`` → `DpifShow` (datapath port number → bridge and port name);
- ``ovs-appctl ofproto/trace`` ⇄ `OfprotoTrace`: its passes (the first one and each
  recirculation), and in each the bridges, table visits with the matched flow's match text and
  priority (or a miss), actions and notes with their resubmit depth, ``Final flow``, ``Megaflow``
  and ``Datapath actions``. ``format_ofproto_trace(parse_ofproto_trace(t)) == t``;
- the ``Datapath actions`` list → `DatapathAction`s, and `datapath_outputs` which applies them to
  a packet to find which datapath port got which copy with which headers.

Bad input raises `neutrace.errors.SyntaxParseError` naming the file, the line and the fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from neutrace.addr import norm_mac
from neutrace.errors import SyntaxParseError
from neutrace.packet import VLAN_CFI, Packet
from neutrace.syntax.offields import FieldValueError, ipv4_to_int, ipv6_to_int, read_uint
from neutrace.syntax.text import cut
from neutrace.syntax.text import lines as text_lines

OFPP_LOCAL = 65534

# ---------------------------------------------------------------------------------------------
# small helpers


def _unquote(text: str) -> str:
    """A value as ovs-vsctl prints it: bare, or a JSON string (``"a \\"b\\""``); raises
    ValueError for a quoted one whose escapes are broken."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = json.loads(text, strict=False)
        except ValueError:
            raise ValueError(f"bad quoting in {cut(text)}") from None
        if not isinstance(value, str):
            raise ValueError(f"bad quoting in {cut(text)}")
        return value
    return text


_BARE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-:]*$")


def _qstr(text: str) -> str:
    """``text`` as a JSON string, the way ovsdb quotes strings."""
    return json.dumps(text, ensure_ascii=False)


def _quote(text: str) -> str:
    """Quote like ovs-vsctl: bare when it is an identifier-like word, JSON-quoted otherwise."""
    if _BARE_RE.match(text) and text not in ("true", "false"):
        return text
    return _qstr(text)


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses, brackets, braces and double-quoted strings."""
    out: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
        i += 1
    if start < n or out:
        out.append(text[start:])
    return [x.strip() for x in out]


def parse_smap(text: str) -> tuple[tuple[str, str], ...]:
    """``{in_key=flow, local_ip="192.168.120.21"}`` -> sorted ``(key, value)`` pairs."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"expected a {{key=value, ...}} map, got {cut(text)!r}")
    body = text[1:-1].strip()
    pairs: list[tuple[str, str]] = []
    if body:
        for item in split_top(body):
            k, sep, v = _partition_unquoted(item, "=")
            if not sep:
                raise ValueError(f"map entry {cut(item)!r} has no '='")
            pairs.append((_unquote(k), _unquote(v)))
    return tuple(sorted(pairs))


def _partition_unquoted(text: str, sep: str) -> tuple[str, str, str]:
    """``str.partition`` at the first ``sep`` outside a double-quoted string."""
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text[i] == sep:
            return text[:i], sep, text[i + 1:]
        i += 1
    return text, "", ""


def format_smap(pairs: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs) + "}"


# ---------------------------------------------------------------------------------------------
# ovs-vsctl show


@dataclass(frozen=True, slots=True)
class ShowInterface:
    name: str
    type: str = ""
    options: tuple[tuple[str, str], ...] = ()
    other: tuple[tuple[str, str], ...] = ()  # other "key: value" lines (error, link_state...)


@dataclass(frozen=True, slots=True)
class ShowPort:
    name: str
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    interfaces: tuple[ShowInterface, ...] = ()
    other: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ShowController:
    target: str
    other: tuple[tuple[str, str], ...] = ()  # is_connected, role...


@dataclass(frozen=True, slots=True)
class ShowBridge:
    name: str
    controllers: tuple[ShowController, ...] = ()
    fail_mode: str | None = None
    datapath_type: str | None = None
    ports: tuple[ShowPort, ...] = ()
    other: tuple[tuple[str, str], ...] = ()

    def port(self, name: str) -> ShowPort | None:
        return next((p for p in self.ports if p.name == name), None)


@dataclass(frozen=True, slots=True)
class VsctlShow:
    uuid: str
    bridges: tuple[ShowBridge, ...] = ()
    managers: tuple[ShowController, ...] = ()
    ovs_version: str | None = None

    def bridge(self, name: str) -> ShowBridge | None:
        return next((b for b in self.bridges if b.name == name), None)


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def parse_vsctl_show(text: str, source: str = "<ovs-vsctl show>") -> VsctlShow:
    """Parse the output of ``ovs-vsctl show``."""
    uuid = ""
    bridges: list[ShowBridge] = []
    managers: list[ShowController] = []
    version: str | None = None
    br: dict[str, object] | None = None
    port: dict[str, object] | None = None
    iface: dict[str, object] | None = None
    ctrl: dict[str, object] | None = None
    ports: list[ShowPort] = []
    ifaces: list[ShowInterface] = []
    ctrls: list[ShowController] = []

    def close_iface() -> None:
        nonlocal iface
        if iface is not None:
            ifaces.append(ShowInterface(**iface))  # type: ignore[arg-type]
            iface = None

    def close_port() -> None:
        nonlocal port, ifaces
        close_iface()
        if port is not None:
            ports.append(ShowPort(interfaces=tuple(ifaces), **port))  # type: ignore[arg-type]
            port = None
            ifaces = []

    def close_ctrl() -> None:
        nonlocal ctrl
        if ctrl is not None:
            target = ctrls if br is not None else managers
            target.append(ShowController(**ctrl))  # type: ignore[arg-type]
            ctrl = None

    def close_bridge() -> None:
        nonlocal br, ports, ctrls
        close_port()
        close_ctrl()
        if br is not None:
            bridges.append(
                ShowBridge(ports=tuple(ports), controllers=tuple(ctrls), **br)  # type: ignore[arg-type]
            )
            br = None
            ports = []
            ctrls = []

    for lineno, raw in enumerate(text_lines(text, source), 1):
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()

        def bad(problem: str, fix: str = "give the unmodified output of `ovs-vsctl show`",
                _n: int = lineno) -> SyntaxParseError:
            return SyntaxParseError(source, f"line {_n}", problem, fix, _n)

        try:
            if indent == 0:
                if not _UUID_RE.match(line) or uuid:
                    raise bad(f"expected the Open_vSwitch UUID line, got {cut(line)!r}")
                uuid = line
            elif indent == 4:
                close_bridge()
                close_ctrl()
                word, _, rest = line.partition(" ")
                if word == "Bridge":
                    br = {"name": _unquote(rest), "other": ()}
                elif word == "Manager":
                    ctrl = {"target": _unquote(rest), "other": ()}
                elif line.startswith("ovs_version:"):
                    version = _unquote(line.partition(":")[2])
                else:
                    raise bad(f"unexpected top-level line {cut(line)!r}",
                              "expected Bridge, Manager or ovs_version")
            elif indent == 8:
                if ctrl is not None and br is None:
                    k, _, v = line.partition(":")
                    ctrl["other"] = (*ctrl["other"], (k.strip(), v.strip()))  # type: ignore[misc]
                    continue
                if br is None:
                    raise bad(f"{cut(line)!r} is outside any Bridge")
                close_port()
                close_ctrl()
                word, _, rest = line.partition(" ")
                if word == "Port":
                    port = {"name": _unquote(rest), "other": ()}
                elif word == "Controller":
                    ctrl = {"target": _unquote(rest), "other": ()}
                elif ":" in line:
                    k, _, v = line.partition(":")
                    k, v = k.strip(), v.strip()
                    if k == "fail_mode":
                        br["fail_mode"] = v
                    elif k == "datapath_type":
                        br["datapath_type"] = v
                    else:
                        br["other"] = (*br["other"], (k, v))  # type: ignore[misc]
                else:
                    raise bad(f"unexpected bridge line {cut(line)!r}")
            elif indent == 12:
                if ctrl is not None:
                    k, _, v = line.partition(":")
                    ctrl["other"] = (*ctrl["other"], (k.strip(), v.strip()))  # type: ignore[misc]
                    continue
                if port is None:
                    raise bad(f"{cut(line)!r} is outside any Port")
                close_iface()
                word, _, rest = line.partition(" ")
                if word == "Interface":
                    iface = {"name": _unquote(rest), "other": ()}
                elif ":" in line:
                    k, _, v = line.partition(":")
                    k, v = k.strip(), v.strip()
                    if k == "tag":
                        port["tag"] = _vlan(v)
                    elif k == "trunks":
                        inner = v.strip("[]").strip()
                        port["trunks"] = tuple(_vlan(x) for x in inner.split(",")) if inner else ()
                    else:
                        port["other"] = (*port["other"], (k, v))  # type: ignore[misc]
                else:
                    raise bad(f"unexpected port line {cut(line)!r}")
            elif indent == 16:
                if iface is None:
                    raise bad(f"{cut(line)!r} is outside any Interface")
                k, sep, v = line.partition(":")
                if not sep:
                    raise bad(f"expected 'key: value', got {cut(line)!r}")
                k, v = k.strip(), v.strip()
                if k == "type":
                    iface["type"] = v
                elif k == "options":
                    iface["options"] = parse_smap(v)
                else:
                    iface["other"] = (*iface["other"], (k, v))  # type: ignore[misc]
            else:
                raise bad(f"unexpected indentation ({indent} spaces)",
                          "ovs-vsctl show indents by 4 spaces per level; do not re-indent it")
        except ValueError as exc:
            raise bad(str(exc)) from exc
    close_bridge()
    close_ctrl()
    if not uuid:
        raise SyntaxParseError(source, "line 1", "no Open_vSwitch UUID line: this is not the "
                               "output of `ovs-vsctl show`", "give the output of `ovs-vsctl show`")
    return VsctlShow(uuid=uuid, bridges=tuple(bridges), managers=tuple(managers),
                     ovs_version=version)


def _vlan(text: str) -> int:
    """A VLAN id of ``tag:``/``trunks:`` (decimal 0..4095)."""
    t = text.strip()
    if not (t.isascii() and t.isdigit()) or len(t) > 4 or int(t) > 4095:
        raise ValueError(f"VLAN {cut(t)!r} is not a number in 0..4095")
    return int(t)


def format_vsctl_show(show: VsctlShow) -> str:
    """The text of ``ovs-vsctl show`` for ``show`` (parse_vsctl_show(format(x)) == x)."""
    out = [show.uuid]

    def ctrl_lines(word: str, c: ShowController, indent: int) -> None:
        out.append(" " * indent + f"{word} {_qstr(c.target)}")
        out.extend(" " * (indent + 4) + f"{k}: {v}" for k, v in c.other)

    for m in show.managers:
        ctrl_lines("Manager", m, 4)
    for b in show.bridges:
        out.append(f"    Bridge {_quote(b.name)}")
        for c in b.controllers:
            ctrl_lines("Controller", c, 8)
        if b.fail_mode is not None:
            out.append(f"        fail_mode: {b.fail_mode}")
        if b.datapath_type is not None:
            out.append(f"        datapath_type: {b.datapath_type}")
        out.extend(f"        {k}: {v}" for k, v in b.other)
        for p in b.ports:
            out.append(f"        Port {_quote(p.name)}")
            if p.tag is not None:
                out.append(f"            tag: {p.tag}")
            if p.trunks:
                out.append(f"            trunks: [{', '.join(map(str, p.trunks))}]")
            out.extend(f"            {k}: {v}" for k, v in p.other)
            for i in p.interfaces:
                out.append(f"            Interface {_quote(i.name)}")
                if i.type:
                    out.append(f"                type: {i.type}")
                if i.options:
                    out.append(f"                options: {format_smap(i.options)}")
                out.extend(f"                {k}: {v}" for k, v in i.other)
    if show.ovs_version is not None:
        out.append(f"    ovs_version: {_qstr(show.ovs_version)}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# ovs-ofctl show BRIDGE


@dataclass(frozen=True, slots=True)
class OfctlPort:
    ofport: int  # 65534 for LOCAL
    name: str
    mac: str


@dataclass(frozen=True, slots=True)
class OfctlShow:
    dpid: str
    ports: tuple[OfctlPort, ...]

    def by_name(self, name: str) -> OfctlPort | None:
        return next((p for p in self.ports if p.name == name), None)


_OFCTL_PORT_RE = re.compile(r" *([0-9]{1,5}|LOCAL)\((.+)\): addr:([0-9a-fA-F:]{1,64}) *")
_OFCTL_PORTISH_RE = re.compile(r" *[^ (]+\(.*\): addr:.*")
_DPID_RE = re.compile(r"dpid:([0-9a-fA-F]+)")


def parse_ofctl_show(text: str, source: str = "<ovs-ofctl show>") -> OfctlShow:
    """Parse ``ovs-ofctl [-O OpenFlowXX] show BRIDGE``: the dpid and each port's ofport, name
    and MAC."""
    dpid = ""
    ports: list[OfctlPort] = []
    seen: dict[int, str] = {}
    for lineno, line in enumerate(text_lines(text, source), 1):
        m = _OFCTL_PORT_RE.fullmatch(line)
        if m:
            ofport = OFPP_LOCAL if m.group(1) == "LOCAL" else int(m.group(1))
            try:
                if ofport > OFPP_LOCAL:
                    raise ValueError(f"port number {ofport} is past {OFPP_LOCAL}")
                mac = norm_mac(m.group(3))
                if ofport in seen or m.group(2) in seen.values():
                    raise ValueError(f"port {ofport}({cut(m.group(2))}) is listed twice")
            except ValueError as exc:
                raise SyntaxParseError(source, f"line {lineno}", str(exc),
                                       "give the unmodified output of `ovs-ofctl show`",
                                       lineno) from None
            seen[ofport] = m.group(2)
            ports.append(OfctlPort(ofport, m.group(2), mac))
            continue
        if _OFCTL_PORTISH_RE.fullmatch(line):
            raise SyntaxParseError(source, f"line {lineno}", f"bad port line {cut(line)!r}",
                                   "a port line is ' N(NAME): addr:MAC' with N a number "
                                   "(0..65279) or LOCAL", lineno)
        d = _DPID_RE.search(line)
        if d and not dpid:
            dpid = d.group(1)
    if not dpid and not ports:
        raise SyntaxParseError(source, "line 1", "no dpid and no ports: this is not the output of "
                               "`ovs-ofctl show BRIDGE`", "give the output of `ovs-ofctl show`")
    return OfctlShow(dpid=dpid, ports=tuple(ports))


def format_ofctl_show(show: OfctlShow) -> str:
    """``ovs-ofctl show`` text (the header and the ports; `parse_ofctl_show` reads it back)."""
    out = [f"OFPT_FEATURES_REPLY (xid=0x2): dpid:{show.dpid}",
           "n_tables:254, n_buffers:0"]
    for p in sorted(show.ports, key=lambda p: p.ofport):
        no = "LOCAL" if p.ofport == OFPP_LOCAL else str(p.ofport)
        out.append(f" {no}({p.name}): addr:{p.mac}")
        out.extend(["     config:     0", "     state:      0",
                    "     speed: 0 Mbps now, 0 Mbps max"])
    out.append("OFPT_GET_CONFIG_REPLY (xid=0x4): frags=normal miss_send_len=0")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# ovs-appctl dpif/show


@dataclass(frozen=True, slots=True)
class DpifPort:
    bridge: str
    name: str
    ofport: int
    odp_port: int | None  # None for patch ports
    type: str
    remote_ip: str | None = None  # a tunnel port's (userspace tunnels share one odp port)


@dataclass(frozen=True, slots=True)
class DpifShow:
    ports: tuple[DpifPort, ...]

    def by_odp(self) -> dict[int, DpifPort]:
        return {p.odp_port: p for p in self.ports if p.odp_port is not None}


_DPIF_PORT_RE = re.compile(r"^ {4}(\S+) ([0-9]{1,10})/([0-9]{1,10}|none): \((.*)\) *$")
_DPIF_BRIDGE_RE = re.compile(r"^ {2}(\S+): *$")


def parse_dpif_show(text: str, source: str = "<ovs-appctl dpif/show>") -> DpifShow:
    bridge = ""
    ports: list[DpifPort] = []
    for lineno, line in enumerate(text_lines(text, source), 1):
        if not line.strip() or not line.startswith(" "):
            continue
        b = _DPIF_BRIDGE_RE.match(line)
        if b:
            bridge = b.group(1)
            continue
        m = _DPIF_PORT_RE.match(line)
        if m:
            kind = m.group(4).split(":")[0].strip()
            odp = None if m.group(3) == "none" else int(m.group(3))
            remote = re.search(r"\bremote_ip=([0-9a-fA-F.:]+)", m.group(4))
            ports.append(DpifPort(bridge, m.group(1), int(m.group(2)), odp, kind,
                                  remote.group(1) if remote else None))
            continue
        if line.startswith("    ") and ":" in line:
            continue  # per-port statistics or options of newer versions
        raise SyntaxParseError(source, f"line {lineno}", f"unexpected line {cut(line.strip())!r}",
                               "give the output of `ovs-appctl dpif/show`", lineno)
    return DpifShow(tuple(ports))


# ---------------------------------------------------------------------------------------------
# ovs-appctl ofproto/trace

# TraceLine kinds
T_FLOW = "flow"  # Flow: ...
T_BRIDGE = "bridge"  # bridge("br-int")
T_RULER = "ruler"  # ------ under a bridge line
T_TABLE = "table"  # " 0. in_port=3, priority 10" or " 0. No match."
T_ACTION = "action"
T_NOTE = "note"  # " >> ...", " -> ...", ">>>> ... <<<<"
T_FINAL = "final"  # Final flow: ...
T_MEGAFLOW = "megaflow"
T_DATAPATH = "datapath"  # Datapath actions: ...
T_SEPARATOR = "separator"  # =====
T_RECIRC = "recirc"  # recirc(0x1) - resume conntrack ...
T_BLANK = "blank"
T_OTHER = "other"  # a top-level message (e.g. "Translation failed ...")


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One line of ofproto/trace output: ``indent`` spaces, then ``text``. Table lines carry the
    table number, the matched flow's ``match`` text (``None`` for "No match."), ``priority`` and
    ``cookie``; ``bridge`` is the bridge the line belongs to; ``depth`` is the nesting as OVS
    prints it (OVS prints a resubmit that is the last action at its caller's level, so this is
    the visual nesting, not a resubmit count)."""

    kind: str
    text: str
    indent: int = 0
    depth: int = 0
    bridge: str = ""
    table: int | None = None
    match: str | None = None
    priority: int | None = None
    cookie: int = 0
    lineno: int = 0
    block: int = -1  # which bridge visit of its pass (0, 1, ...: the order of bridge headers)

    def __str__(self) -> str:
        return " " * self.indent + self.text


# ofproto-dpif's internal rules (table 254) that stand for a table miss
INTERNAL_MISS_MATCHES = frozenset({"reg0=0x1", "reg0=0x2", "reg0=0x3"})


@dataclass(frozen=True, slots=True)
class TableVisit:
    """One table lookup: bridge, table, the match text of the flow that matched (``None`` for a
    miss; ``""`` for a match-all flow), its priority and cookie, visual depth, and ``block``: which
    visit of a bridge it belongs to (the n-th bridge header of its pass)."""

    bridge: str
    table: int
    match: str | None
    priority: int | None
    cookie: int = 0
    depth: int = 0
    block: int = 0

    @property
    def is_miss(self) -> bool:
        """A table miss: "No match.", or one of OVS's internal miss rules, which ofproto/trace
        shows instead in a bridge reached through a patch port (``reg0=0x1`` send to the
        controller, ``reg0=0x2`` drop, ``reg0=0x3`` drop fragments; priority 0, cookie 0)."""
        return self.match is None or (
            self.match in INTERNAL_MISS_MATCHES and self.priority == 0 and self.cookie == 0
        )

    @property
    def flow_text(self) -> str | None:
        """``priority=10,arp,in_port=3`` (the ovs-ofctl spelling), or None for a miss."""
        if self.match is None:
            return None
        return f"priority={self.priority}" + (f",{self.match}" if self.match else "")


@dataclass(frozen=True, slots=True)
class TracePass:
    """One translation: the first, or a recirculation after ct() (``header`` says which)."""

    header: str
    flow: str
    lines: tuple[TraceLine, ...]
    final_flow: str
    megaflow: str
    datapath_actions: str

    @property
    def visits(self) -> tuple[TableVisit, ...]:
        return tuple(
            TableVisit(ln.bridge, ln.table, ln.match, ln.priority, ln.cookie, ln.depth, ln.block)
            for ln in self.lines
            if ln.kind == T_TABLE and ln.table is not None
        )

    @property
    def bridges(self) -> tuple[str, ...]:
        return tuple(ln.bridge for ln in self.lines if ln.kind == T_BRIDGE)

    @property
    def actions(self) -> tuple[TraceLine, ...]:
        return tuple(ln for ln in self.lines if ln.kind == T_ACTION)


@dataclass(frozen=True, slots=True)
class OfprotoTrace:
    """A parsed ``ofproto/trace`` output. ``lines`` keeps every line (for round trips)."""

    lines: tuple[TraceLine, ...]
    passes: tuple[TracePass, ...]

    @property
    def visits(self) -> tuple[TableVisit, ...]:
        return tuple(v for p in self.passes for v in p.visits)

    @property
    def datapath_actions(self) -> str:
        return self.passes[-1].datapath_actions if self.passes else ""


_TABLE_RE = re.compile(r"^( *[0-9]{1,3})\. (.*)$", re.S)
_PRIO_RE = re.compile(r"^(?:(.*), )?priority ([0-9]{1,5})(?:, cookie (0x[0-9a-fA-F]{1,16}))?$",
                      re.S)
_BRIDGE_RE = re.compile(r'^bridge\("(.*)"\)$')


def parse_ofproto_trace(text: str, source: str = "<ofproto/trace>") -> OfprotoTrace:
    """Parse the output of ``ovs-appctl ofproto/trace BRIDGE FLOW``."""
    lines: list[TraceLine] = []
    passes: list[TracePass] = []
    bridge = ""
    cur: list[TraceLine] = []
    header = ""
    flow = final = mega = ""
    in_pass = False
    last_action_depth = 0
    # open bridge blocks: [bridge, indent of its header, base level, block number]. A bridge
    # reached through a patch port is printed in column 0 when the output was the last thing to
    # do, else indented under it; its level (the column of its first table line) is learnt from
    # that line, and a later line less indented than that level belongs to an outer bridge.
    stack: list[list[Any]] = []
    blocks = 0
    text_lines(text, source)  # the bound on a line's length
    for lineno, raw in enumerate(text.split("\n"), 1):
        stripped = raw.lstrip(" ")
        indent = len(raw) - len(stripped)
        text_ = stripped.rstrip("\r")
        if text_ and indent and stack and not _BRIDGE_RE.match(text_) and set(text_) != {"-"}:
            tm = _TABLE_RE.match(raw)
            if tm:
                level = len(tm.group(1)) - 2
            elif text_.startswith((">>", "->")):
                level = indent - 5
            else:
                level = indent - 4
            if stack[-1][2] is None:
                stack[-1][2] = max(level, 0)
            while len(stack) > 1 and stack[-1][2] is not None and level < stack[-1][2]:
                stack.pop()
            bridge = stack[-1][0]
        base = (stack[-1][2] or 0) if stack else 0
        block = stack[-1][3] if stack else -1

        def bad(problem: str, _n: int = lineno) -> SyntaxParseError:
            return SyntaxParseError(source, f"line {_n}", problem,
                                    "give the unmodified output of `ovs-appctl ofproto/trace`", _n)

        kw: dict[str, object] = {"indent": indent, "lineno": lineno, "bridge": bridge,
                                 "block": block}
        if not text_:
            tl = TraceLine(T_BLANK, "", **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Flow: "):
            flow = text_[6:]
            in_pass = True
            cur = []
            tl = TraceLine(T_FLOW, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Final flow: "):
            final = text_[12:]
            tl = TraceLine(T_FINAL, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Megaflow: "):
            mega = text_[10:]
            tl = TraceLine(T_MEGAFLOW, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("Datapath actions: "):
            tl = TraceLine(T_DATAPATH, text_, **kw)  # type: ignore[arg-type]
            if not in_pass:
                raise bad("'Datapath actions' without a preceding 'Flow:' line")
            cur.append(tl)
            passes.append(TracePass(header, flow, tuple(cur), final, mega, text_[18:]))
            lines.append(tl)
            cur = []
            header = flow = final = mega = ""
            bridge = ""
            stack = []
            blocks = 0
            in_pass = False
            continue
        elif indent == 0 and set(text_) == {"="}:
            tl = TraceLine(T_SEPARATOR, text_, **kw)  # type: ignore[arg-type]
        elif indent == 0 and text_.startswith("recirc("):
            header = text_
            tl = TraceLine(T_RECIRC, text_, **kw)  # type: ignore[arg-type]
        elif _BRIDGE_RE.match(text_):
            m = _BRIDGE_RE.match(text_)
            assert m is not None
            bridge = m.group(1)
            while stack and stack[-1][1] >= indent:
                stack.pop()
            stack.append([bridge, indent, 0 if indent == 0 else None, blocks])
            kw["bridge"] = bridge
            kw["block"] = blocks
            blocks += 1
            tl = TraceLine(T_BRIDGE, text_, depth=len(stack) - 1, **kw)  # type: ignore[arg-type]
        elif set(text_) == {"-"}:
            tl = TraceLine(T_RULER, text_, **kw)  # type: ignore[arg-type]
        elif _TABLE_RE.match(raw):
            m = _TABLE_RE.match(raw)
            assert m is not None
            depth = max(0, (len(m.group(1)) - 2 - base) // 4)
            rest = m.group(2)
            if rest.startswith("No match"):
                # "No match." or, when the miss would go to a controller (a table configured by
                # an OpenFlow 1.0-1.2 connection), 'No match, and a "packet-in" is called for.'
                tl = TraceLine(T_TABLE, text_, depth=depth, table=int(m.group(1)), match=None,
                               **kw)  # type: ignore[arg-type]
            else:
                p = _PRIO_RE.match(rest)
                if p is None:
                    raise bad(f"table line without 'priority N': {cut(text_)!r}")
                tl = TraceLine(
                    T_TABLE, text_, depth=depth, table=int(m.group(1)), match=p.group(1) or "",
                    priority=int(p.group(2)), cookie=int(p.group(3) or "0", 16),
                    **kw,  # type: ignore[arg-type]
                )
            last_action_depth = depth
        elif indent == 0:
            tl = TraceLine(T_OTHER, text_, **kw)  # type: ignore[arg-type]
        elif text_.startswith((">>", "->")):
            tl = TraceLine(T_NOTE, text_, depth=last_action_depth, **kw)  # type: ignore[arg-type]
        else:
            depth = max(0, (indent - 4 - base) // 4)
            last_action_depth = depth
            tl = TraceLine(T_ACTION, text_, depth=depth, **kw)  # type: ignore[arg-type]
        lines.append(tl)
        if in_pass:
            cur.append(tl)
    if in_pass and final:
        # neutrace's own rendering ends a pass with Final flow and its Output:/Drop: lines
        passes.append(TracePass(header, flow, tuple(cur), final, mega, ""))
    if not passes:
        raise SyntaxParseError(source, "end of text", "no 'Datapath actions:' line found: the "
                               "trace is cut short or is not ofproto/trace output",
                               "give the complete output of `ovs-appctl ofproto/trace`")
    # a trailing newline leaves one blank line at the end: keep it so formatting round-trips
    return OfprotoTrace(tuple(lines), tuple(passes))


def format_ofproto_trace(trace: OfprotoTrace) -> str:
    return "\n".join(str(ln) for ln in trace.lines)


# ---------------------------------------------------------------------------------------------
# Datapath actions


@dataclass(frozen=True, slots=True)
class DatapathAction:
    """One datapath action: ``name`` (``output`` for a bare port number, ``drop``, ``push_vlan``,
    ``pop_vlan``, ``set``, ``ct``, ``recirc``, ``clone``, ``userspace``...) and its argument
    text."""

    name: str
    arg: str = ""
    port: int | None = None
    nested: tuple[DatapathAction, ...] = field(default=())


def parse_datapath_actions(
    text: str, source: str = "<datapath actions>"
) -> tuple[DatapathAction, ...]:
    """The actions of a ``Datapath actions:`` line (``drop`` and ``""`` are none)."""
    out: list[DatapathAction] = []
    text = text.strip()
    if not text or text == "drop":
        return ()
    for item in split_top(text):
        if item.isascii() and item.isdigit():
            if len(item) > 10:
                raise SyntaxParseError(source, f"action {cut(item)!r}", "the datapath port "
                                       "number is too large", "give the whole 'Datapath "
                                       "actions:' line as OVS printed it")
            out.append(DatapathAction("output", item, port=int(item)))
            continue
        name, paren, rest = item.partition("(")
        arg = rest[:-1] if paren and rest.endswith(")") else rest
        if paren and not rest.endswith(")") or item.count("(") != item.count(")"):
            raise SyntaxParseError(source, f"action {cut(item)!r}", "unbalanced parentheses",
                                   "give the whole 'Datapath actions:' line")
        nested: tuple[DatapathAction, ...] = ()
        if name == "clone":
            nested = parse_datapath_actions(arg, source)
        out.append(DatapathAction(name, arg, nested=nested))
    return tuple(out)


def _kv(arg: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in split_top(arg):
        k, _, v = item.partition("=")
        out[k.strip()] = v.strip()
    return out


def _masked(value: str) -> str:
    return value.split("/")[0]


class _Bad(ValueError):
    """A datapath action's argument that cannot be applied (turned into SyntaxParseError)."""


def _num(kv: dict[str, str], key: str, maximum: int) -> int:
    """``kv[key]`` (a number as OVS prints it, mask dropped) within ``0..maximum``."""
    text = _masked(kv[key])
    try:
        value = read_uint(text)
    except FieldValueError:
        raise _Bad(f"{key}={cut(text)!r} is not a number") from None
    if value > maximum:
        raise _Bad(f"{key}={cut(text)!r} is past {maximum}")
    return value


def _addr(kv: dict[str, str], key: str, kind: str) -> str:
    """``kv[key]`` (mask dropped) checked as a ``mac``, ``ipv4`` or ``ipv6`` address."""
    text = _masked(kv[key])
    try:
        if kind == "mac":
            return norm_mac(text)
        (ipv4_to_int if kind == "ipv4" else ipv6_to_int)(text)
    except (ValueError, FieldValueError):
        raise _Bad(f"{key}={cut(text)!r} is not an {kind.upper()} address") from None
    return text


def _apply_set(packet: Packet, arg: str) -> Packet:
    """Apply ``set(eth(...))``/``set(ipv4(...))``/... (``masked_set`` too) to ``packet``."""
    name, _, rest = arg.partition("(")
    kv = _kv(rest[:-1] if rest.endswith(")") else rest)
    ch: dict[str, object] = {}
    if name == "eth":
        if "src" in kv:
            ch["dl_src"] = _addr(kv, "src", "mac")
        if "dst" in kv:
            ch["dl_dst"] = _addr(kv, "dst", "mac")
    elif name == "ipv4":
        for k, attr in (("src", "nw_src"), ("dst", "nw_dst")):
            if k in kv:
                ch[attr] = _addr(kv, k, "ipv4")
        if "ttl" in kv:
            ch["nw_ttl"] = _num(kv, "ttl", 0xFF)
        if "tos" in kv:
            ch["nw_tos"] = _num(kv, "tos", 0xFF) & 0xFC
    elif name == "ipv6":
        for k, attr in (("src", "ipv6_src"), ("dst", "ipv6_dst")):
            if k in kv:
                ch[attr] = _addr(kv, k, "ipv6")
    elif name == "arp":
        for k, attr in (("sip", "arp_spa"), ("tip", "arp_tpa")):
            if k in kv:
                ch[attr] = _addr(kv, k, "ipv4")
        for k, attr in (("sha", "arp_sha"), ("tha", "arp_tha")):
            if k in kv:
                ch[attr] = _addr(kv, k, "mac")
        if "op" in kv:
            ch["arp_op"] = _num(kv, "op", 0xFFFF)
    elif name in ("tcp", "udp"):
        if "src" in kv:
            ch["tp_src"] = _num(kv, "src", 0xFFFF)
        if "dst" in kv:
            ch["tp_dst"] = _num(kv, "dst", 0xFFFF)
    elif name == "tunnel":
        if "tun_id" in kv:
            ch["tun_id"] = _num(kv, "tun_id", (1 << 64) - 1)
        if "src" in kv:
            ch["tun_src"] = _addr(kv, "src", "ipv4")
        if "dst" in kv:
            ch["tun_dst"] = _addr(kv, "dst", "ipv4")
    return replace(packet, **ch) if ch else packet  # type: ignore[arg-type]


def datapath_outputs(
    actions: tuple[DatapathAction, ...], packet: Packet, source: str = "<datapath actions>"
) -> tuple[tuple[int, Packet], ...]:
    """Each datapath port that gets a copy and the copy's headers, applying the actions in order
    to ``packet`` (the packet as it entered). ct()/recirc() end the pass (the recirculation is
    traced as a pass of its own). An argument that cannot be applied (``push_vlan(vid)``,
    ``set(arp(sha))``) is a `SyntaxParseError`."""
    out: list[tuple[int, Packet]] = []
    p = packet
    for a in actions:
        try:
            if a.name == "output" and a.port is not None:
                out.append((a.port, p))
            elif a.name == "push_vlan":
                kv = _kv(a.arg)
                vid = _num(kv, "vid", 0xFFF) if "vid" in kv else 0
                pcp = _num(kv, "pcp", 7) if "pcp" in kv else 0
                p = replace(p, vlan_tci=VLAN_CFI | vid | (pcp << 13))
            elif a.name == "pop_vlan":
                p = replace(p, vlan_tci=0)
            elif a.name in ("set", "masked_set"):
                p = _apply_set(p, a.arg)
            elif a.name == "clone":
                out.extend(datapath_outputs(a.nested, p, source))
            elif a.name == "tnl_push":
                # userspace tunnelling: the copy leaves through the tunnel port (tnl_port) with
                # the header's tunnel metadata; what follows handles the outer packet (br-phy's
                # way out)
                port, pkt = tnl_push_output(a.arg, p)
                out.append((port, pkt))
                break
        except _Bad as exc:
            raise SyntaxParseError(source, f"action {cut(a.name)}({cut(a.arg)})", str(exc),
                                   "give the 'Datapath actions:' line as OVS printed it") from None
    return tuple(out)


_TNL_PORT_RE = re.compile(r"^tnl_port\(([0-9]{1,10})\)")
_TNL_IPV4_RE = re.compile(r"ipv4\(src=([0-9.]{1,15}),dst=([0-9.]{1,15})")
_TNL_VNI_RE = re.compile(r"vni=(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})")


def tnl_push_output(arg: str, packet: Packet) -> tuple[int, Packet]:
    """The tunnel port (datapath number) and the inner ``packet`` with ``tun_id``/``tun_src``/
    ``tun_dst`` from a ``tnl_push(tnl_port(N),header(...),out_port(M))`` action's argument."""
    m = _TNL_PORT_RE.match(arg.strip())
    if m is None:
        raise SyntaxParseError("<datapath actions>", f"tnl_push({arg[:40]}...)",
                               "no tnl_port(N)", "give the whole 'Datapath actions:' line")
    ch: dict[str, object] = {}
    ip4 = _TNL_IPV4_RE.search(arg)
    if ip4:
        kv = {"src": ip4.group(1), "dst": ip4.group(2)}
        ch["tun_src"], ch["tun_dst"] = _addr(kv, "src", "ipv4"), _addr(kv, "dst", "ipv4")
    vni = _TNL_VNI_RE.search(arg)
    if vni:
        ch["tun_id"] = _num({"vni": vni.group(1)}, "vni", (1 << 64) - 1)
    return int(m.group(1)), replace(packet, **ch)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# ovs-vsctl list TABLE


def _parse_value(text: str) -> object:
    """An ovsdb value as ``ovs-vsctl list`` prints it: a map, a set, a string or a number."""
    text = text.strip()
    if text.startswith("{"):
        return dict(parse_smap(text))
    if text.startswith("["):
        inner = text[1:-1].strip()
        return [_unquote(x) for x in split_top(inner)] if inner else []
    return _unquote(text)


def parse_vsctl_list(text: str, source: str = "<ovs-vsctl list>") -> tuple[dict[str, object], ...]:
    """Parse ``ovs-vsctl list TABLE``: one dict per record (``name``, ``ofport``, ``type``,
    ``options``, ``external_ids``... with maps as dicts and sets as lists)."""
    records: list[dict[str, object]] = []
    cur: dict[str, object] = {}
    for lineno, line in enumerate(text_lines(text, source), 1):
        if not line.strip():
            if cur:
                records.append(cur)
                cur = {}
            continue
        key, sep, value = line.partition(":")
        if not sep or " " in key.strip():
            raise SyntaxParseError(source, f"line {lineno}", f"expected 'column : value', got "
                                   f"{cut(line.strip())!r}", "give the output of `ovs-vsctl list "
                                   "TABLE`", lineno)
        try:
            cur[key.strip()] = _parse_value(value)
        except ValueError as exc:
            raise SyntaxParseError(source, f"line {lineno}", str(exc),
                                   "give the output of `ovs-vsctl list TABLE`", lineno) from exc
    if cur:
        records.append(cur)
    return tuple(records)
