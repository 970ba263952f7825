"""The matches of the iptables modules Neutron uses, evaluated as the kernel's xt_* modules do:
the built-in options (-s/-d/-i/-o/-p), tcp/udp/sctp ports and flags, icmp/icmp6 types,
multiport, state/conntrack, physdev, mac, set (ipset), mark/connmark, pkttype, dscp, ttl/hl,
addrtype and iprange. `RuleMatcher.compile` turns one option into a predicate with its
negation folded in, specialised for the common options of Neutron's rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

from neutrace.engines.conntrack import has_ports
from neutrace.engines.netfilter.context import HookContext, PacketMeta
from neutrace.packet import IPPROTO_ICMP, IPPROTO_ICMPV6, Packet
from neutrace.syntax.iptables import IpSet, IpSets, Option

PROTOCOLS = {
    "tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "icmp6": 58, "sctp": 132,
    "gre": 47, "esp": 50, "ah": 51, "vrrp": 112, "igmp": 2, "udplite": 136, "dccp": 33,
}
ICMP_TYPES = {
    "echo-reply": (0, None), "pong": (0, None), "destination-unreachable": (3, None),
    "network-unreachable": (3, 0), "host-unreachable": (3, 1), "protocol-unreachable": (3, 2),
    "port-unreachable": (3, 3), "fragmentation-needed": (3, 4), "source-quench": (4, None),
    "redirect": (5, None), "echo-request": (8, None), "ping": (8, None),
    "router-advertisement": (9, None), "router-solicitation": (10, None),
    "time-exceeded": (11, None), "ttl-exceeded": (11, None), "parameter-problem": (12, None),
    "timestamp-request": (13, None), "timestamp-reply": (14, None),
}
ICMPV6_TYPES = {
    "destination-unreachable": (1, None), "no-route": (1, 0), "packet-too-big": (2, None),
    "time-exceeded": (3, None), "ttl-exceeded": (3, None), "parameter-problem": (4, None),
    "echo-request": (128, None), "ping": (128, None), "echo-reply": (129, None),
    "pong": (129, None), "router-solicitation": (133, None), "router-advertisement": (134, None),
    "neighbour-solicitation": (135, None), "neighbor-solicitation": (135, None),
    "neighbour-advertisement": (136, None), "neighbor-advertisement": (136, None),
    "redirect": (137, None),
}
DSCP_CLASSES = {
    "CS0": 0, "CS1": 8, "CS2": 16, "CS3": 24, "CS4": 32, "CS5": 40, "CS6": 48, "CS7": 56,
    "AF11": 10, "AF12": 12, "AF13": 14, "AF21": 18, "AF22": 20, "AF23": 22, "AF31": 26,
    "AF32": 28, "AF33": 30, "AF41": 34, "AF42": 36, "AF43": 38, "EF": 46, "BE": 0,
}
TCP_FLAG_BITS = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10, "URG": 0x20,
                 "ECE": 0x40, "CWR": 0x80, "ALL": 0xFF, "NONE": 0}


Predicate = Callable[[Packet, PacketMeta, HookContext], bool]


@lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _in_net(addr: str, cidr: str) -> bool:
    if not addr:
        return False
    try:
        return _ip(addr) in _net(cidr)
    except ValueError:
        return False


def _iface_match(pattern: str, dev: str) -> bool:
    if not dev:
        return False
    if pattern.endswith("+"):
        return dev.startswith(pattern[:-1])
    return dev == pattern


def _port_match(spec: str, port: int) -> bool:
    for part in spec.split(","):
        if ":" in part:
            lo, hi = part.split(":", 1)
            if int(lo or 0) <= port <= int(hi or 65535):
                return True
        elif part and int(part) == port:
            return True
    return False


def _mark_match(spec: str, value: int) -> bool:
    if "/" in spec:
        v, m = spec.split("/", 1)
        return (value & int(m, 0)) == int(v, 0)
    return value == int(spec, 0)


def _icmp_match(spec: str, pkt: Packet, names: dict[str, tuple[int, int | None]]) -> bool:
    if spec == "any":
        return True
    if spec in names:
        t, c = names[spec]
    elif "/" in spec:
        a, b = spec.split("/", 1)
        t, c = int(a), int(b)
    else:
        t, c = int(spec), None
    return pkt.tp_src == t and (c is None or pkt.tp_dst == c)


def _proto_number(name: str) -> int | None:
    """None means "all"."""
    name = name.lower()
    if name in ("all", "0"):
        return None
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    return int(name)


class RuleMatcher:
    """Evaluates the options of one namespace's rules: the ipsets' members (parsed once) and the
    namespace's local addresses (``local_addrs``, for addrtype LOCAL) are what they need beyond
    the packet, its `PacketMeta` and the hook's `HookContext`."""

    def __init__(self, sets: IpSets, local_addrs: Callable[[], frozenset[str]]) -> None:
        self._local_addrs = local_addrs
        self._set_members: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {}
        for s in sets.sets:
            self._set_members[s.name] = self._members(s)

    def has_set(self, name: str) -> bool:
        return name in self._set_members

    @staticmethod
    def _members(s: IpSet) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        out = []
        for e in s.elements():
            first = e.split(",", 1)[0]
            try:
                out.append(_net(first))
            except ValueError:
                continue
        return tuple(out)
    def _option(self, module: str, opt: Option, pkt: Packet, meta: PacketMeta,
                ctx: HookContext) -> bool:
        name, v = opt.name, opt.values
        if module == "":
            if name == "-s":
                return _in_net(pkt.src_ip, v[0])
            if name == "-d":
                return _in_net(pkt.dst_ip, v[0])
            if name == "-i":
                return _iface_match(v[0], ctx.in_dev)
            if name == "-o":
                return _iface_match(v[0], ctx.out_dev)
            if name == "-p":
                proto = _proto_number(v[0])
                return proto is None or pkt.nw_proto == proto
            if name == "-f":
                return False
        elif module in ("tcp", "udp", "sctp", "dccp", "udplite"):
            if pkt.nw_proto != PROTOCOLS[module]:
                return False
            if name in ("--sport", "--source-port"):
                return _port_match(v[0], pkt.tp_src)
            if name in ("--dport", "--destination-port"):
                return _port_match(v[0], pkt.tp_dst)
            if name == "--tcp-flags":
                mask = sum(TCP_FLAG_BITS[f] for f in v[0].split(",") if f)
                comp = sum(TCP_FLAG_BITS[f] for f in v[1].split(",") if f)
                return (pkt.tcp_flags & mask) == comp
            if name == "--syn":
                return (pkt.tcp_flags & 0x17) == 0x02
            if name == "--tcp-option":
                return False
        elif module == "icmp":
            return pkt.nw_proto == IPPROTO_ICMP and _icmp_match(v[0], pkt, ICMP_TYPES)
        elif module == "icmp6":
            return pkt.nw_proto == IPPROTO_ICMPV6 and _icmp_match(v[0], pkt, ICMPV6_TYPES)
        elif module == "multiport":
            if not has_ports(pkt.nw_proto):
                return False
            if name in ("--dports", "--destination-ports"):
                return _port_match(v[0], pkt.tp_dst)
            if name in ("--sports", "--source-ports"):
                return _port_match(v[0], pkt.tp_src)
            if name == "--ports":
                return _port_match(v[0], pkt.tp_src) or _port_match(v[0], pkt.tp_dst)
        elif module in ("state", "conntrack"):
            return self._ct_option(name, v[0], pkt, meta)
        elif module == "physdev":
            return self._physdev(name, v, ctx)
        elif module == "mac":
            return pkt.dl_src.lower() == v[0].lower()
        elif module == "set":
            if name == "--match-set":
                addr = pkt.src_ip if v[1].split(",")[0] == "src" else pkt.dst_ip
                if not addr:
                    return False
                ip = _ip(addr)
                return any(ip.version == n.version and ip in n
                           for n in self._set_members.get(v[0], ()))
            return True
        elif module == "mark":
            return _mark_match(v[0], meta.mark)
        elif module == "connmark":
            return meta.ct is not None and _mark_match(v[0], meta.ct.mark)
        elif module in ("comment", "limit"):
            return True
        elif module == "pkttype":
            kind = ("broadcast" if pkt.dl_dst.lower() == "ff:ff:ff:ff:ff:ff" else "multicast"
                    if pkt.dl_dst and int(pkt.dl_dst[:2], 16) & 1 else "unicast")
            if not pkt.dl_dst and pkt.dst_ip:  # locally generated: by address
                ip = _ip(pkt.dst_ip)
                kind = "multicast" if ip.is_multicast else (
                    "broadcast" if pkt.dst_ip == "255.255.255.255" else "unicast")
            return kind == v[0].lower()
        elif module == "dscp":
            dscp = pkt.nw_tos >> 2
            if name == "--dscp":
                return dscp == int(v[0], 0)
            return dscp == DSCP_CLASSES.get(v[0].upper(), -1)
        elif module == "ttl":
            want = int(v[0])
            return {"--ttl-eq": pkt.nw_ttl == want, "--ttl-lt": pkt.nw_ttl < want,
                    "--ttl-gt": pkt.nw_ttl > want}[name]
        elif module == "hl":
            want = int(v[0])
            return {"--hl-eq": pkt.nw_ttl == want, "--hl-lt": pkt.nw_ttl < want,
                    "--hl-gt": pkt.nw_ttl > want}[name]
        elif module == "addrtype":
            if name in ("--src-type", "--dst-type"):
                addr = pkt.src_ip if name == "--src-type" else pkt.dst_ip
                return any(self._addrtype(t, addr) for t in v[0].split(","))
            return True
        elif module == "iprange":
            addr = pkt.src_ip if name == "--src-range" else pkt.dst_ip
            lo, _, hi = v[0].partition("-")
            if not addr:
                return False
            a, low, high = int(_ip(addr)), int(_ip(lo)), int(_ip(hi or lo))
            return low <= a <= high
        raise AssertionError(f"unhandled option {module} {name}")  # parser admits nothing else

    def _addrtype(self, kind: str, addr: str) -> bool:
        if not addr:
            return False
        ip = _ip(addr)
        local = addr in self._local_addrs()
        if kind == "LOCAL":
            return local
        if kind == "MULTICAST":
            return ip.is_multicast
        if kind == "BROADCAST":
            return addr == "255.255.255.255"
        if kind == "UNICAST":
            return not ip.is_multicast and addr != "255.255.255.255"
        return False

    @staticmethod
    def _ct_option(name: str, value: str, pkt: Packet, meta: PacketMeta) -> bool:
        wanted = set(value.upper().split(","))
        ct = meta.ct
        if name in ("--state", "--ctstate"):
            have = {meta.ctstate or "INVALID"}
            if ct is not None and meta.ctstate != "UNTRACKED":
                if ct.src_nat:
                    have.add("SNAT")
                if ct.dst_nat:
                    have.add("DNAT")
            return bool(wanted & have)
        if ct is None:
            return False
        if name == "--ctstatus":
            have = {"CONFIRMED"} if ct.confirmed else set()
            if ct.seen_reply:
                have |= {"SEEN_REPLY", "ASSURED"}
            return bool(wanted & have) or (not have and "NONE" in wanted)
        if name == "--ctdir":
            return meta.direction in wanted
        if name == "--ctproto":
            proto = _proto_number(value)
            return proto is None or ct.orig.proto == proto
        addr_of = {"--ctorigsrc": ct.orig.src, "--ctorigdst": ct.orig.dst,
                   "--ctreplsrc": ct.reply.src, "--ctrepldst": ct.reply.dst}
        if name in addr_of:
            return _in_net(addr_of[name], value)
        port_of = {"--ctorigsrcport": ct.orig.sport, "--ctorigdstport": ct.orig.dport,
                   "--ctreplsrcport": ct.reply.sport, "--ctrepldstport": ct.reply.dport}
        return _port_match(value, port_of[name])

    @staticmethod
    def _physdev(name: str, v: tuple[str, ...], ctx: HookContext) -> bool:
        # xt_physdev: without bridge info only negated options match (handled by the caller's
        # negation: every positive test fails here)
        if not ctx.bridged:
            return False
        if name == "--physdev-in":
            return _iface_match(v[0], ctx.physdev_in or "")
        if name == "--physdev-out":
            return _iface_match(v[0], ctx.physdev_out or "")
        if name == "--physdev-is-bridged":
            return ctx.physdev_out is not None
        if name == "--physdev-is-in":
            return ctx.physdev_in is not None
        if name == "--physdev-is-out":
            return ctx.physdev_out is not None
        return False

    def compile(self, module: str, opt: Option) -> Predicate:
        """A predicate for one option, with its negation folded in; the common options of
        Neutron's rules get a specialised one, the rest go through `_option`."""
        name, v, neg = opt.name, opt.values, opt.negated
        if module == "" and name in ("-s", "-d"):
            net = _net(v[0])
            src = name == "-s"

            def addr(p: Packet, m: PacketMeta, c: HookContext) -> bool:
                a = p.src_ip if src else p.dst_ip
                if not a:
                    return neg
                ip = _ip(a)
                return (ip.version == net.version and ip in net) != neg
            return addr
        if module == "" and name in ("-i", "-o"):
            pattern, inbound = v[0], name == "-i"
            prefix = pattern[:-1] if pattern.endswith("+") else None

            def iface(p: Packet, m: PacketMeta, c: HookContext) -> bool:
                d = c.in_dev if inbound else c.out_dev
                hit = bool(d) and (d.startswith(prefix) if prefix is not None else d == pattern)
                return hit != neg
            return iface
        if module == "physdev" and name in ("--physdev-in", "--physdev-out"):
            pattern, inbound = v[0], name == "--physdev-in"
            prefix = pattern[:-1] if pattern.endswith("+") else None

            def physdev(p: Packet, m: PacketMeta, c: HookContext) -> bool:
                if not c.bridged:
                    return neg
                d = (c.physdev_in if inbound else c.physdev_out) or ""
                hit = bool(d) and (d.startswith(prefix) if prefix is not None else d == pattern)
                return hit != neg
            return physdev
        if module == "" and name == "-p":
            proto = _proto_number(v[0])

            def protocol(p: Packet, m: PacketMeta, c: HookContext) -> bool:
                return (proto is None or p.nw_proto == proto) != neg
            return protocol

        def generic(p: Packet, m: PacketMeta, c: HookContext) -> bool:
            return self._option(module, opt, p, m, c) != neg
        return generic
