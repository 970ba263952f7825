"""``ovs-ofctl show BRIDGE`` ⇄ `OfctlShow` (ofport → port name, MAC, config and state flags)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from neutrace.addr import norm_mac
from neutrace.errors import SyntaxParseError
from neutrace.syntax.ovsdump.values import OFPP_LOCAL
from neutrace.syntax.text import cut
from neutrace.syntax.text import lines as text_lines


@dataclass(frozen=True, slots=True)
class OfctlPort:
    ofport: int  # 65534 for LOCAL
    name: str
    mac: str
    config: tuple[str, ...] = ()  # the OpenFlow port config flags (NO_FLOOD, NO_FWD, ...)
    state: tuple[str, ...] = ()  # its state flags (LINK_DOWN, LIVE, STP_FORWARD, ...)


@dataclass(frozen=True, slots=True)
class OfctlShow:
    dpid: str
    ports: tuple[OfctlPort, ...]
    frags: str = "normal"  # the fragment handling mode (OFPT_GET_CONFIG_REPLY's frags=)

    def by_name(self, name: str) -> OfctlPort | None:
        return next((p for p in self.ports if p.name == name), None)


_OFCTL_PORT_RE = re.compile(r" *([0-9]{1,5}|LOCAL)\((.+)\): addr:([0-9a-fA-F:]{1,64}) *")
_OFCTL_PORTISH_RE = re.compile(r" *[^ (]+\(.*\): addr:.*")
_DPID_RE = re.compile(r"dpid:([0-9a-fA-F]+)")
_FRAGS_RE = re.compile(r"GET_CONFIG_REPLY.*\bfrags=(normal|drop|reassemble|nx-match)\b")
_OFCTL_CONFIG_RE = re.compile(r" +(config|state): +([A-Z0-9_ ]{1,200})")


def parse_ofctl_show(text: str, source: str = "<ovs-ofctl show>") -> OfctlShow:
    """Parse ``ovs-ofctl [-O OpenFlowXX] show BRIDGE``: the dpid and each port's ofport, name
    and MAC."""
    dpid = ""
    frags = "normal"
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
        c = _OFCTL_CONFIG_RE.fullmatch(line)
        if c and ports:
            flags = tuple(f for f in c.group(2).split() if f != "0")
            ports[-1] = (replace(ports[-1], config=flags) if c.group(1) == "config"
                         else replace(ports[-1], state=flags))
            continue
        if _OFCTL_PORTISH_RE.fullmatch(line):
            raise SyntaxParseError(source, f"line {lineno}", f"bad port line {cut(line)!r}",
                                   "a port line is ' N(NAME): addr:MAC' with N a number "
                                   "(0..65279) or LOCAL", lineno)
        d = _DPID_RE.search(line)
        if d and not dpid:
            dpid = d.group(1)
        f = _FRAGS_RE.search(line)
        if f:
            frags = f.group(1)
    if not dpid and not ports:
        raise SyntaxParseError(source, "line 1", "no dpid and no ports: this is not the output of "
                               "`ovs-ofctl show BRIDGE`", "give the output of `ovs-ofctl show`")
    return OfctlShow(dpid=dpid, ports=tuple(ports), frags=frags)


def format_ofctl_show(show: OfctlShow) -> str:
    """``ovs-ofctl show`` text (the header and the ports; `parse_ofctl_show` reads it back)."""
    out = [f"OFPT_FEATURES_REPLY (xid=0x2): dpid:{show.dpid}",
           "n_tables:254, n_buffers:0"]
    for p in sorted(show.ports, key=lambda p: p.ofport):
        no = "LOCAL" if p.ofport == OFPP_LOCAL else str(p.ofport)
        out.append(f" {no}({p.name}): addr:{p.mac}")
        out.extend([f"     config:     {' '.join(p.config) or '0'}",
                    f"     state:      {' '.join(p.state) or '0'}",
                    "     speed: 0 Mbps now, 0 Mbps max"])
    out.append(f"OFPT_GET_CONFIG_REPLY (xid=0x4): frags={show.frags} miss_send_len=0")
    return "\n".join(out) + "\n"
