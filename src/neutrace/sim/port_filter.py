"""What a port's security groups accept, read back from its host's state (layer 4).

A denial is explained by the rule that is missing: to say so the walk needs the rules the port
does have. They are not in the trace and, for an imported host, not in any model: they are read
from what the firewall driver programmed, the way an operator would read them:

- **openvswitch**: br-int's table 82 (ingress) or 72 (egress) flows of the port (``reg5`` = its
  ofport) for new connections (``ct_state=+new-est``): one flow per rule and port mask; a
  remote-group rule as a conjunction, whose ``conjunction(id,2/2)`` flows carry the protocol and
  ports and whose ``conjunction(id,1/2)`` flows (on the port's network, ``reg6`` = its local
  VLAN) list the group's member addresses;
- **iptables_hybrid**: the RETURN rules of the port's chain ``neutron-openvswi-i<port>`` (ingress)
  or ``-o<port>`` (egress) after its ``RELATED,ESTABLISHED`` rule, in the root namespace's
  iptables and ip6tables; ``-m set --match-set NIPv4<group>`` names a remote group whose members
  are in the host's ipsets.

Each kind of traffic is an `Accept` (ethertype, protocol, port ranges, ICMP type/code, remote
prefixes or group members); `PortFilter.accepting` says which of them let a packet in (or out).
`firewall_drop` says why the openvswitch firewall dropped a packet (a `FirewallDrop`: no rule, a
spoofed source, conntrack's invalid state, a revoked connection, a DHCP server or RA from an
instance), from the br-int flows its walk matched. Words for both live in ``render``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from neutrace.agents import constants as C
from neutrace.dataplane import Flow, HostState
from neutrace.packet import ETH_TYPE_IPV6, Packet
from neutrace.syntax.iptables import IpSets, IptRule, parse_ipset_save, parse_iptables_save

INGRESS, EGRESS = "ingress", "egress"
OPENVSWITCH, IPTABLES_HYBRID = "openvswitch", "iptables_hybrid"
NEW = "+new-est"

Ranges = tuple[tuple[int, int], ...]

# ovs-fields(7) protocol shorthands: (ethertype, IP protocol)
_SHORTHANDS = {
    "ip": ("IPv4", None), "ipv6": ("IPv6", None), "icmp": ("IPv4", 1), "icmp6": ("IPv6", 58),
    "tcp": ("IPv4", 6), "tcp6": ("IPv6", 6), "udp": ("IPv4", 17), "udp6": ("IPv6", 17),
    "sctp": ("IPv4", 132), "sctp6": ("IPv6", 132),
}
# iptables -p names Neutron writes
_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132,
              "dccp": 33, "udplite": 136, "gre": 47, "esp": 50, "ah": 51}
_CONJ = re.compile(r"conjunction\((\d+),(\d)/2\)")


@dataclass(frozen=True, slots=True)
class Accept:
    """One kind of traffic a port's filter accepts. ``protocol`` None: any; ``dst_ports``/
    ``src_ports`` () : any; ``remote`` (): from (ingress) / to (egress) any address, else these
    prefixes; ``remote_group``: the group whose members they are (``conj_id=23`` for the
    openvswitch firewall, the ipset ``NIPv4<id>`` for the hybrid one)."""

    ethertype: str
    protocol: int | None = None
    dst_ports: Ranges = ()
    src_ports: Ranges = ()
    icmp_type: int | None = None
    icmp_code: int | None = None
    remote: tuple[str, ...] = ()
    remote_group: str = ""

    def matches(self, pkt: Packet, direction: str) -> bool:
        """True if ``pkt`` (as it reaches the port, or leaves it) is of this kind."""
        if ("IPv6" if pkt.dl_type == ETH_TYPE_IPV6 else "IPv4") != self.ethertype:
            return False
        if self.protocol is not None and pkt.nw_proto != self.protocol:
            return False
        if self.icmp_type is not None and pkt.tp_src != self.icmp_type:
            return False
        if self.icmp_code is not None and pkt.tp_dst != self.icmp_code:
            return False
        if self.dst_ports and not _in(pkt.tp_dst, self.dst_ports):
            return False
        if self.src_ports and not _in(pkt.tp_src, self.src_ports):
            return False
        if self.remote_group and not self.remote:
            return False  # a remote group without members
        if self.remote:
            other = pkt.src_ip if direction == INGRESS else pkt.dst_ip
            try:
                ip = ipaddress.ip_address(other)
            except ValueError:
                return False
            return any(ip in ipaddress.ip_network(r, strict=False) for r in self.remote)
        return True


@dataclass(frozen=True, slots=True)
class PortFilter:
    """What the security groups of ``port`` (its br-int port or tap device) on ``host`` accept
    in ``direction``, as ``driver`` programmed it."""

    host: str
    port: str
    driver: str
    direction: str
    accepts: tuple[Accept, ...]

    def accepting(self, pkt: Packet) -> tuple[Accept, ...]:
        """The kinds of traffic that let ``pkt`` through (empty: no rule does)."""
        return tuple(a for a in self.accepts if a.matches(pkt, self.direction))


def _in(value: int, ranges: Ranges) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def _ranges(ports: set[int]) -> Ranges:
    """Sorted ports as inclusive ranges."""
    out: list[tuple[int, int]] = []
    for p in sorted(ports):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return tuple(out)


def _masked_ports(text: str) -> set[int]:
    """The ports an OpenFlow ``tp_dst`` value matches (``22``, ``0x3f0/0xfff0``)."""
    value, _, mask = text.partition("/")
    m = int(mask, 0) if mask else 0xFFFF
    base = int(value, 0) & m
    free = [1 << b for b in range(16) if not m >> b & 1]
    out = set()
    for n in range(1 << len(free)):
        out.add(base | sum(bit for i, bit in enumerate(free) if n >> i & 1))
    return out


def port_filter(host: HostState, port: str, direction: str) -> PortFilter | None:
    """The filter of ``port`` on ``host`` (None: the port is not filtered there, e.g. no
    security groups, port security off, or a noop driver)."""
    br = host.bridge(C.INTEGRATION_BRIDGE)
    p = br.port(port) if br is not None else None
    if br is not None and p is not None and any(
            f.table == C.TRANSIENT_TABLE and f.match_value("in_port") == str(p.ofport)
            and f.actions.endswith(f"resubmit(,{C.BASE_EGRESS_TABLE})") for f in br.flows):
        # the openvswitch firewall filters the port (the skip path goes to 73 instead)
        return _openvswitch(host, br.flows, p.ofport, p.tag, port, direction)
    if host.root.iptables or host.root.ip6tables:
        tap = C.TAP_DEVICE_PREFIX + port[3:] if port.startswith(C.QVO_PREFIX) else port
        return _hybrid(host, tap, direction)
    return None


# -- openvswitch ---------------------------------------------------------------------------------

def _kind(flow: Flow) -> tuple[str, int | None]:
    ethertype, proto = "IPv4", None
    for k, v in flow.match:
        if v == "" and k in _SHORTHANDS:
            ethertype, proto = _SHORTHANDS[k]
    nw_proto = flow.match_value("nw_proto")
    return ethertype, int(nw_proto) if nw_proto is not None else proto


def _remote_of(flow: Flow, direction: str) -> str | None:
    """The remote prefix a flow matches (None: any)."""
    names = ("nw_src", "ipv6_src") if direction == INGRESS else ("nw_dst", "ipv6_dst")
    for name in names:
        v = flow.match_value(name)
        if v is not None:
            return str(ipaddress.ip_network(v, strict=False))
    return None


def _icmp(flow: Flow) -> tuple[int | None, int | None]:
    t, c = flow.match_value("icmp_type"), flow.match_value("icmp_code")
    return (int(t) if t is not None else None, int(c) if c is not None else None)


def _openvswitch(host: HostState, flows: tuple[Flow, ...], ofport: int, tag: int | None,
                 port: str, direction: str) -> PortFilter:
    table = C.RULES_INGRESS_TABLE if direction == INGRESS else C.RULES_EGRESS_TABLE
    reg5, reg6 = f"{ofport:#x}", f"{tag:#x}" if tag is not None else None
    raw: dict[tuple[object, ...], set[int]] = {}
    clauses: dict[int, dict[tuple[object, ...], set[int]]] = {}
    accepted_ids: list[int] = []
    members: dict[int, list[str]] = {}
    for f in flows:
        if f.table != table or f.match_value("ct_state") != NEW:
            continue
        conj = [(int(a), int(b)) for a, b in _CONJ.findall(f.actions)]
        ethertype, proto = _kind(f)
        if f.match_value("reg5") == reg5:
            if f.match_value("conj_id") is not None:
                accepted_ids.append(int(f.match_value("conj_id") or 0))
                continue
            ports = f.match_value("tp_dst")
            key = (ethertype, proto, *_icmp(f))
            if conj:
                for cid, _dim in conj:
                    got = clauses.setdefault(cid, {}).setdefault(key, set())
                    got |= _masked_ports(ports) if ports else set()
            elif f.priority >= 70:
                rkey = (*key, _remote_of(f, direction))
                got = raw.setdefault(rkey, set())
                got |= _masked_ports(ports) if ports else set()
        elif reg6 is not None and f.match_value("reg6") == reg6 and conj:
            remote = _remote_of(f, direction) or ("::/0" if ethertype == "IPv6" else "0.0.0.0/0")
            for cid, _dim in conj:
                members.setdefault(cid, []).append(remote)
    accepts = [Accept(ethertype=str(k[0]), protocol=_opt_int(k[1]), dst_ports=_ranges(ports),
                      icmp_type=_opt_int(k[2]), icmp_code=_opt_int(k[3]),
                      remote=(str(k[4]),) if k[4] is not None else ())
               for k, ports in raw.items()]
    for cid in accepted_ids:
        for ckey, cports in clauses.get(cid, {}).items():
            accepts.append(Accept(
                ethertype=str(ckey[0]), protocol=_opt_int(ckey[1]), dst_ports=_ranges(cports),
                icmp_type=_opt_int(ckey[2]), icmp_code=_opt_int(ckey[3]),
                remote=tuple(sorted(set(members.get(cid, [])), key=_ip_key)),
                remote_group=f"conj_id={cid}"))
    return PortFilter(host.name, port, OPENVSWITCH, direction, tuple(accepts))


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _ip_key(prefix: str) -> tuple[int, int]:
    net = ipaddress.ip_network(prefix, strict=False)
    return (net.version, int(net.network_address))


# -- iptables_hybrid -----------------------------------------------------------------------------

def _hybrid(host: HostState, tap: str, direction: str) -> PortFilter | None:
    chain = f"{C.OVS_AGENT_BINARY[:16]}-" + (("i" if direction == INGRESS else "o")
                                               + tap[len(C.TAP_DEVICE_PREFIX):])[
        : C.MAX_IPTABLES_CHAIN_LEN_WRAP]
    sets = parse_ipset_save(host.root.ipsets) if host.root.ipsets else None
    accepts: list[Accept] = []
    found = False
    for ethertype, text in (("IPv4", host.root.iptables), ("IPv6", host.root.ip6tables)):
        if not text:
            continue
        table = parse_iptables_save(text).table("filter")
        rules = table.rules_of(chain) if table is not None else ()
        found = found or bool(rules)
        after_state = False
        for rule in rules:
            state = next((o.value for m, o in rule.options() if m == "state"), None)
            if state == "RELATED,ESTABLISHED":
                after_state = True
                continue
            if after_state and rule.target is not None and rule.target.name == "RETURN":
                accepts.append(_accept_of_rule(rule, ethertype, direction, sets))
    return PortFilter(host.name, tap, IPTABLES_HYBRID, direction, tuple(accepts)) if found \
        else None


def _port_ranges(text: str) -> Ranges:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out.append((int(lo), int(hi or lo)))
    return tuple(out)


def _accept_of_rule(rule: IptRule, ethertype: str, direction: str,
                    sets: IpSets | None) -> Accept:
    proto: int | None = None
    dst: Ranges = ()
    src: Ranges = ()
    icmp_type = icmp_code = None
    remote: tuple[str, ...] = ()
    group = ""
    for module, o in rule.options():
        if module == "" and o.name == "-p":
            proto = _PROTOCOLS.get(o.value, int(o.value) if o.value.isdigit() else None)
        elif module == "" and o.name in ("-s", "-d"):
            if (o.name == "-s") == (direction == INGRESS):
                remote = (str(ipaddress.ip_network(o.value, strict=False)),)
        elif o.name in ("--dport", "--dports", "--destination-port"):
            dst = _port_ranges(o.value)
        elif o.name in ("--sport", "--sports", "--source-port"):
            src = _port_ranges(o.value)
        elif o.name in ("--icmp-type", "--icmpv6-type"):
            t, _, c = o.value.partition("/")
            icmp_type, icmp_code = int(t), (int(c) if c else None)
        elif module == "set" and o.name == "--match-set":
            group = o.values[0]
            found = sets.get(group) if sets is not None else None
            remote = tuple(str(ipaddress.ip_network(e, strict=False))
                           for e in (found.elements() if found is not None else ()))
    return Accept(ethertype=ethertype, protocol=proto, dst_ports=dst, src_ports=src,
                  icmp_type=icmp_type, icmp_code=icmp_code, remote=remote, remote_group=group)


# -- why the openvswitch firewall dropped a packet -------------------------------------------------

class FirewallWhy(StrEnum):
    """Which of the driver's drops (all end in table 93) took the packet."""

    NO_RULE = "no_rule"  # a new connection no rule of the port's groups accepts (72/82 -est)
    SPOOFED = "spoofed"  # 71: its (MAC, IP) is neither the port's nor an allowed pair's
    INVALID = "invalid"  # 72/82: conntrack says invalid
    REVOKED = "revoked"  # 72/82: ct_mark=0x1, a connection a removed rule had allowed
    DHCP_SERVER = "dhcp_server"  # 71: an instance may not answer DHCP
    ROUTER_ADVERTISEMENT = "router_advertisement"  # 71: an instance may not send RAs


@dataclass(frozen=True, slots=True)
class FirewallDrop:
    """The openvswitch firewall dropped the packet: ``why``, for ``port`` in ``direction``;
    ``filter`` what the port's groups do accept (NO_RULE), ``allowed_sources`` the (MAC, IP)
    pairs it may send from (SPOOFED: its fixed IPs and allowed address pairs, ``*`` for any IP)."""

    why: FirewallWhy
    host: str
    port: str
    direction: str
    filter: PortFilter | None = None
    allowed_sources: tuple[tuple[str, str], ...] = ()


def firewall_drop(host: HostState, lookups: list[tuple[int, Flow]]) -> FirewallDrop | None:
    """Why the openvswitch firewall dropped a packet whose walk through br-int matched
    ``lookups`` (table, flow) in order, ending in table 93 (None: not one of its drops)."""
    br = host.bridge(C.INTEGRATION_BRIDGE)
    if br is None or not lookups or lookups[-1][0] != C.DROPPED_TRAFFIC_TABLE:
        return None
    deciding = next(((t, f) for t, f in reversed(lookups)
                     if t in (C.BASE_EGRESS_TABLE, C.RULES_EGRESS_TABLE, C.RULES_INGRESS_TABLE)),
                    None)
    if deciding is None:
        return None
    table, flow = deciding
    reg5 = flow.match_value("reg5") or next(
        (f.match_value("reg5") for _t, f in reversed(lookups) if f.match_value("reg5")), None)
    port = br.port_by_ofport(int(reg5, 0)) if reg5 else None
    name = port.name if port is not None else ""
    direction = INGRESS if table == C.RULES_INGRESS_TABLE else EGRESS
    if table == C.BASE_EGRESS_TABLE:
        if flow.priority == 70:
            why = (FirewallWhy.ROUTER_ADVERTISEMENT if flow.match_value("icmp_type")
                   else FirewallWhy.DHCP_SERVER)
            return FirewallDrop(why, host.name, name, EGRESS)
        return FirewallDrop(FirewallWhy.SPOOFED, host.name, name, EGRESS,
                            allowed_sources=_allowed_sources(br.flows, flow.match_value("in_port")))
    if flow.match_value("ct_mark") == "0x1":
        return FirewallDrop(FirewallWhy.REVOKED, host.name, name, direction)
    if "+inv" in (flow.match_value("ct_state") or ""):
        return FirewallDrop(FirewallWhy.INVALID, host.name, name, direction)
    return FirewallDrop(FirewallWhy.NO_RULE, host.name, name, direction,
                        filter=port_filter(host, name, direction) if name else None)


def _allowed_sources(flows: tuple[Flow, ...], in_port: str | None) -> tuple[tuple[str, str], ...]:
    """(MAC, IP) pairs table 71 lets IP traffic of ``in_port`` leave with (its fixed IPs and
    allowed address pairs; ``*``: any address, a 0.0.0.0/0 or ::/0 pair)."""
    out: list[tuple[str, str]] = []
    for f in flows:
        if f.table == C.BASE_EGRESS_TABLE and f.priority == 65 and \
                f.match_value("in_port") == in_port:
            ip = f.match_value("nw_src") or f.match_value("ipv6_src") or "*"
            pair = (f.match_value("dl_src") or "", ip)
            if pair not in out:
                out.append(pair)
    return tuple(out)
