"""Netfilter traversal (layer 3): iptables rules evaluated as the kernel does, hook by hook.

`Netfilter` holds one namespace's parsed iptables-save, ip6tables-save and ipset text and
evaluates a table's chain for a packet (`Netfilter.run`): rules in order, matches of the modules
Neutron uses, jumps/gotos/RETURN, chain policies, and the targets ACCEPT, DROP, REJECT, LOG, MARK,
CONNMARK, CT, NOTRACK, SNAT, DNAT, MASQUERADE and REDIRECT.

`Traversal` walks one packet through the hooks in the kernel's order, with connection tracking
and NAT between the tables (priorities of ``include/uapi/linux/netfilter_ipv4.h``):

- PREROUTING: raw, conntrack lookup, mangle, nat (destination NAT);
- INPUT: mangle, filter, nat (source NAT), conntrack confirm;
- FORWARD: mangle, filter;
- OUTPUT: raw, conntrack lookup, mangle, nat (destination NAT), filter;
- POSTROUTING: mangle, nat (source NAT), conntrack confirm.

The nat table is only consulted for the first packet of a connection (NEW, before the binding is
decided); every later packet is rewritten from the conntrack entry. INVALID and untracked packets
skip the nat table. Bridged frames (bridge-nf-call-iptables=1) use the same hooks with the
physdev information of the bridge ports (`HookContext`).

Each step the traversal records is a fact of ``neutrace.trace``: a `ChainStep` when a built-in
chain of a table is entered (and when its policy decides), a `RuleStep` for every rule that
matched (the parsed rule, with its line in the save text, and its verdict or side effect), a
`ConntrackStep` for each conntrack decision, a `NatStep` for each NAT rewrite.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from neutrace.engines.conntrack import (
    ORIGINAL,
    REPLY,
    ConntrackTable,
    CtEntry,
    has_ports,
    new_verdict,
    packet_tuple,
    rewrite,
)
from neutrace.errors import SyntaxParseError
from neutrace.packet import IPPROTO_ICMP, IPPROTO_ICMPV6, Packet
from neutrace.syntax.iptables import (
    IpSet,
    IpSets,
    IptRule,
    Option,
    Ruleset,
    Target,
    parse_ipset_save,
    parse_iptables_save,
)
from neutrace.trace import (
    ChainStep,
    ConntrackEvent,
    ConntrackStep,
    NatKind,
    NatPortEvent,
    NatPortStep,
    NatStep,
    NetfilterVerdict,
    RuleEffect,
    RuleStep,
    RuleVerdict,
    Step,
)

ACCEPT, DROP, REJECT = "ACCEPT", "DROP", "REJECT"
PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING = (
    "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
)
CT_STEP = "conntrack"
# the tables of each hook in priority order; CT_STEP is nf_conntrack_in
HOOK_ORDER: dict[str, tuple[str, ...]] = {
    PREROUTING: ("raw", CT_STEP, "mangle", "nat"),
    INPUT: ("mangle", "filter", "security", "nat"),
    FORWARD: ("mangle", "filter", "security"),
    OUTPUT: ("raw", CT_STEP, "mangle", "nat", "filter", "security"),
    POSTROUTING: ("mangle", "nat"),
}
MAX_CHAIN_DEPTH = 64
CT_MATCHES = frozenset({"state", "conntrack", "connmark"})
CT_TARGETS = frozenset({"CT", "NOTRACK", "CONNMARK", "SNAT", "DNAT", "MASQUERADE", "REDIRECT"})

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


Predicate = Callable[[Packet, "PacketMeta", "HookContext"], bool]


@dataclass
class PacketMeta:
    """Per-packet kernel state while it is inside one namespace: skb mark, conntrack zone and
    notrack flag (from the raw table), the connection and direction, and its ctstate."""

    mark: int = 0
    zone: int = 0
    notrack: bool = False
    ct: CtEntry | None = None
    ct_id: int | None = None
    direction: str = ORIGINAL
    ctstate: str = ""  # NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED; "" before conntrack ran
    templated: bool = False  # a CT/NOTRACK target already attached a template (first one wins)


@dataclass(frozen=True, slots=True)
class HookContext:
    """The devices a hook sees: ``in_dev``/``out_dev`` ("" when none: OUTPUT has no in, INPUT
    and POSTROUTING... as in the kernel); for bridged frames the bridge ports in ``physdev_*``."""

    in_dev: str = ""
    out_dev: str = ""
    physdev_in: str | None = None
    physdev_out: str | None = None
    bridged: bool = False


@dataclass(frozen=True, slots=True)
class NatRequest:
    """What a NAT target asked for: ``kind`` SNAT/DNAT/MASQUERADE/REDIRECT, an address ("" for
    MASQUERADE/REDIRECT: the engine picks the interface address) and an optional port range."""

    kind: str
    addr: str
    ports: tuple[int, int] | None = None
    random: bool = False  # --random / --random-fully: the kernel picks the port (or ICMP id)


@dataclass(frozen=True, slots=True)
class ChainResult:
    """A chain's verdict, the NAT asked for, the deciding rule, and ``packet`` when a target
    rewrote a header field (DSCP)."""

    verdict: str
    nat: NatRequest | None = None
    rule: IptRule | None = None
    packet: Packet | None = None


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


def _value_mask(spec: str) -> tuple[int, int]:
    if "/" in spec:
        v, m = spec.split("/", 1)
        return int(v, 0), int(m, 0)
    return int(spec, 0), 0xFFFFFFFF


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


def _nat_range(spec: str) -> tuple[str, tuple[int, int] | None]:
    """``1.2.3.4``, ``1.2.3.4-1.2.3.9:1000-2000``, ``[fd00::1]:80`` -> (first addr, ports)."""
    addr, ports = spec, ""
    if spec.startswith("["):
        end = spec.index("]")
        addr, ports = spec[1:end], spec[end + 2 :] if len(spec) > end + 1 else ""
    elif spec.count(":") == 1:
        addr, ports = spec.split(":", 1)
    addr = addr.split("-", 1)[0]
    if not ports:
        return addr, None
    lo, _, hi = ports.partition("-")
    return addr, (int(lo), int(hi or lo))


class Netfilter:
    """One namespace's netfilter rules, parsed once. ``source`` names them in messages
    (e.g. ``"test-ctrl-01 qrouter-c8ae… iptables"``)."""

    def __init__(
        self, iptables: str = "", ip6tables: str = "", ipsets: str = "", source: str = "<string>",
        local_addrs: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self.source = source
        self.v4: Ruleset = parse_iptables_save(iptables, f"{source} (iptables-save)")
        self.v6: Ruleset = parse_iptables_save(ip6tables, f"{source} (ip6tables-save)")
        self.sets: IpSets = parse_ipset_save(ipsets, f"{source} (ipset save)")
        self._local_addrs = local_addrs or (lambda: frozenset())
        self._chain_tests: dict[tuple[int, str, str], tuple[tuple[Predicate, ...], ...]] = {}
        self._uses_ct: bool | None = None
        self._set_members: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {}
        for s in self.sets.sets:
            self._set_members[s.name] = self._members(s)
        self._chains: dict[tuple[int, str, str], tuple[IptRule, ...]] = {}
        self._policies: dict[tuple[int, str, str], str | None] = {}
        for family, rs in ((4, self.v4), (6, self.v6)):
            for t in rs.tables:
                lists: dict[str, list[IptRule]] = {c.name: [] for c in t.chains}
                for c in t.chains:
                    self._policies[(family, t.name, c.name)] = c.policy
                for r in t.rules:
                    lists[r.chain].append(r)
                for name, rules in lists.items():
                    self._chains[(family, t.name, name)] = tuple(rules)
                for r in t.rules:
                    for module, opt in r.options():
                        if module == "set" and opt.name == "--match-set" and (
                            opt.values[0] not in self._set_members
                        ):
                            raise SyntaxParseError(
                                rs.source, f"line {r.line}",
                                f"-m set names ipset {opt.values[0]!r}, which is not defined",
                                "add its 'create' line to the namespace's ipset save text",
                                line=r.line,
                            )

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

    def has(self, family: int, table: str, chain: str) -> bool:
        return (family, table, chain) in self._chains

    @property
    def uses_conntrack(self) -> bool:
        """Whether connection tracking runs in this namespace at all: as in the kernel, only
        when a rule needs it (a state/conntrack/connmark match, a CT, NOTRACK, CONNMARK or NAT
        target takes a conntrack reference for the namespace). Without one the kernel keeps no
        entries, and the nat table's chains never see a packet (NAT hooks skip packets without
        a connection) -- checked against the kernel in tests/test_netfilter_kernel.py."""
        if self._uses_ct is None:
            self._uses_ct = any(
                {m.module for m in r.matches} & CT_MATCHES
                or (r.target is not None and r.target.name in CT_TARGETS)
                for rs in (self.v4, self.v6) for t in rs.tables for r in t.rules)
        return self._uses_ct

    # -- matching --------------------------------------------------------------------------
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

    def matches(self, rule: IptRule, pkt: Packet, meta: PacketMeta, ctx: HookContext) -> bool:
        """Whether ``rule`` matches (for callers outside a chain walk; `run` uses the
        predicates compiled per chain)."""
        return all(self._compile(module, opt)(pkt, meta, ctx) for module, opt in rule.options()
                   if module != "comment")

    def _tests_of(self, family: int, table: str, chain: str) -> tuple[tuple[Predicate, ...], ...]:
        key = (family, table, chain)
        tests = self._chain_tests.get(key)
        if tests is None:
            tests = self._chain_tests[key] = tuple(
                tuple(self._compile(module, opt) for module, opt in r.options()
                      if module != "comment")
                for r in self._chains.get(key, ()))
        return tests

    def _compile(self, module: str, opt: Option) -> Predicate:
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

    # -- evaluation ------------------------------------------------------------------------
    def run(
        self, family: int, table: str, chain: str, pkt: Packet, meta: PacketMeta,
        ctx: HookContext, steps: list[Step], ct_table: ConntrackTable | None = None,
    ) -> ChainResult:
        """Evaluate built-in ``chain`` of ``table``; returns the verdict (ACCEPT also for a NAT
        target, with `ChainResult.nat` set). ``meta`` is updated by MARK/CONNMARK/CT targets."""
        key = (family, table, chain)
        if key not in self._chains:
            return ChainResult(ACCEPT)
        steps.append(ChainStep(table=table, chain=chain))
        # a stack of (chain, next rule index); goto replaces the top
        stack: list[tuple[str, int]] = [(chain, 0)]
        while stack:
            name, idx = stack.pop()
            rules = self._chains.get((family, table, name), ())
            tests = self._tests_of(family, table, name)
            jumped = False
            while idx < len(rules):
                rule = rules[idx]
                ok = True
                for test in tests[idx]:
                    if not test(pkt, meta, ctx):
                        ok = False
                        break
                idx += 1
                if not ok:
                    continue
                tgt = rule.target
                depth = len(stack)
                if tgt is None:
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.NO_TARGET))
                    continue
                tname = tgt.name
                if (family, table, tname) in self._chains and tname not in (ACCEPT, DROP):
                    if len(stack) + 1 >= MAX_CHAIN_DEPTH:
                        steps.append(_rule_step(table, rule, depth, RuleVerdict.DEPTH_LIMIT))
                        return ChainResult(DROP, rule=rule, packet=pkt)
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.GOTO if tgt.goto
                                            else RuleVerdict.JUMP))
                    if not tgt.goto:
                        stack.append((name, idx))
                    stack.append((tname, 0))
                    jumped = True
                    break
                if tname == "RETURN":
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.RETURN))
                    break
                if tname in (ACCEPT, DROP, REJECT):
                    steps.append(_rule_step(table, rule, depth, _TERMINAL[tname]))
                    return ChainResult(tname, rule=rule, packet=pkt)
                if tname in ("SNAT", "DNAT", "MASQUERADE", "REDIRECT"):
                    req = self._nat_request(rule)
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.NAT))
                    return ChainResult(ACCEPT, nat=req, rule=rule, packet=pkt)
                if tname == "DSCP":
                    before = pkt
                    pkt = _set_dscp(pkt, tgt)
                    steps.append(RuleStep(table=table, rule=rule, verdict=RuleVerdict.CONTINUE,
                                          effect=RuleEffect.DSCP, depth=depth,
                                          changes=before.diff(pkt)))
                    continue
                effect, values = self._side_effect(rule, meta, ct_table)
                steps.append(RuleStep(table=table, rule=rule, verdict=RuleVerdict.CONTINUE,
                                      effect=effect, values=values, depth=depth))
            if jumped:
                continue
            if not stack:
                # fell off the end of (or RETURNed from) the built-in chain: its policy
                policy = self._policies.get(key) or ACCEPT
                steps.append(ChainStep(table=table, chain=chain, policy=policy))
                return ChainResult(policy, packet=pkt)
        return ChainResult(ACCEPT)  # pragma: no cover - the loop always returns

    @staticmethod
    def _nat_request(rule: IptRule) -> NatRequest:
        tgt = rule.target
        assert tgt is not None
        random = tgt.option("--random") is not None or tgt.option("--random-fully") is not None
        if tgt.name in ("SNAT", "DNAT"):
            opt = tgt.option("--to-source" if tgt.name == "SNAT" else "--to-destination")
            addr, ports = _nat_range(opt.value) if opt else ("", None)
            return NatRequest(tgt.name, addr, ports, random)
        opt = tgt.option("--to-ports")
        ports = None
        if opt:
            lo, _, hi = opt.value.partition("-")
            ports = (int(lo), int(hi or lo))
        return NatRequest(tgt.name, "", ports, random)

    @staticmethod
    def _side_effect(rule: IptRule, meta: PacketMeta, ct_table: ConntrackTable | None
                     ) -> tuple[RuleEffect, tuple[int, ...]]:
        """A non-terminating target's effect on ``meta`` (and the connection), as data."""
        tgt = rule.target
        assert tgt is not None
        name = tgt.name
        if name == "LOG":
            return RuleEffect.LOG, ()
        if name == "CHECKSUM":
            return RuleEffect.CHECKSUM, ()
        if name == "MARK":
            before = meta.mark
            for o in tgt.options:
                v, m = _value_mask(o.value)
                if o.name == "--set-xmark":
                    meta.mark = (meta.mark & ~m & 0xFFFFFFFF) ^ v
                elif o.name == "--set-mark":
                    meta.mark = (meta.mark & ~m & 0xFFFFFFFF) | v
                elif o.name == "--and-mark":
                    meta.mark &= v
                elif o.name == "--or-mark":
                    meta.mark |= v
                elif o.name == "--xor-mark":
                    meta.mark ^= v
            return RuleEffect.MARK, (before, meta.mark)
        if name == "CONNMARK":
            if meta.ct is None:
                return RuleEffect.CONNMARK_NO_CONNECTION, ()
            ctmark = meta.ct.mark
            nf_opt, ct_opt = tgt.option("--nfmask"), tgt.option("--ctmask")
            nfmask = int(nf_opt.value, 0) if nf_opt else 0xFFFFFFFF
            ctmask = int(ct_opt.value, 0) if ct_opt else 0xFFFFFFFF
            mask_opt = tgt.option("--mask")
            if mask_opt is not None:
                nfmask = ctmask = int(mask_opt.value, 0)
            if tgt.option("--save-mark"):
                ctmark = (ctmark & ~ctmask & 0xFFFFFFFF) ^ (meta.mark & nfmask)
            elif tgt.option("--restore-mark"):
                meta.mark = (meta.mark & ~nfmask & 0xFFFFFFFF) ^ (ctmark & ctmask)
                return RuleEffect.CONNMARK_RESTORE, (meta.mark,)
            else:
                for o in tgt.options:
                    v, m = _value_mask(o.value) if o.values else (0, 0)
                    if o.name == "--set-xmark":
                        ctmark = (ctmark & ~m & 0xFFFFFFFF) ^ v
                    elif o.name == "--set-mark":
                        ctmark = (ctmark & ~m & 0xFFFFFFFF) | v
                    elif o.name == "--and-mark":
                        ctmark &= v
                    elif o.name == "--or-mark":
                        ctmark |= v
                    elif o.name == "--xor-mark":
                        ctmark ^= v
            meta.ct = replace(meta.ct, mark=ctmark)
            if ct_table is not None and meta.ct_id is not None and meta.ct.confirmed:
                ct_table.update(meta.ct_id, meta.ct)
            return RuleEffect.CONNMARK_SET, (ctmark,)
        if name in ("CT", "NOTRACK") and (meta.templated or meta.ctstate):
            # xt_ct: a packet that already has a conntrack template (or entry) keeps it
            return RuleEffect.TEMPLATE_KEPT, ()
        if name == "CT":
            meta.templated = True
            if tgt.option("--notrack"):
                meta.notrack = True
                return RuleEffect.CT_NOTRACK, ()
            zone = tgt.option("--zone") or tgt.option("--zone-orig")
            if zone is not None:
                meta.zone = int(zone.value, 0)
                return RuleEffect.CT_ZONE, (meta.zone,)
            return RuleEffect.CT, ()
        if name == "NOTRACK":
            meta.templated = True
            meta.notrack = True
            return RuleEffect.NOTRACK, ()
        return RuleEffect.OTHER, ()


def _set_dscp(pkt: Packet, tgt: Target) -> Packet:
    opt = tgt.option("--set-dscp")
    if opt is not None:
        dscp = int(opt.value, 0)
    else:
        cls = tgt.option("--set-dscp-class")
        dscp = DSCP_CLASSES.get(cls.value.upper(), 0) if cls else 0
    return pkt.with_(nw_tos=(dscp << 2) | (pkt.nw_tos & 3))


_TERMINAL = {ACCEPT: RuleVerdict.ACCEPT, DROP: RuleVerdict.DROP, REJECT: RuleVerdict.REJECT}


def _rule_step(table: str, rule: IptRule, depth: int, verdict: RuleVerdict) -> RuleStep:
    """The step of a matched rule of ``table`` that did ``verdict``."""
    return RuleStep(table=table, rule=rule, verdict=verdict, depth=depth)


@dataclass
class Traversal:
    """One packet's walk through the hooks of one namespace. ``steps`` collects the trace;
    ``packet`` is rewritten by NAT as it goes; ``verdict`` (a `NetfilterVerdict`) tells why it
    stopped.

    ``nat_addr(kind, ctx)`` answers the address MASQUERADE (the out interface's) or REDIRECT (the
    in interface's) should use."""

    nf: Netfilter
    conntrack: ConntrackTable
    packet: Packet
    nat_addr: Callable[[str, HookContext], str]
    meta: PacketMeta = field(default_factory=PacketMeta)
    steps: list[Step] = field(default_factory=list)
    verdict: NetfilterVerdict | None = None
    depth: int = 0

    @property
    def family(self) -> int:
        return 6 if self.packet.is_ipv6 else 4

    def fork(self) -> Traversal:
        """A copy for one output of a flood (shares the conntrack table; own steps)."""
        return Traversal(self.nf, self.conntrack, self.packet, self.nat_addr,
                         replace(self.meta), [], None, self.depth)

    def hook(self, hook: str, ctx: HookContext) -> str:
        """Run ``hook``: ACCEPT, DROP or REJECT (``verdict`` says which rule or policy)."""
        for table in HOOK_ORDER[hook]:
            if table == CT_STEP:
                self._ct_in()
                continue
            if table == "nat":
                verdict = self._nat(hook, ctx)
            else:
                res = self.nf.run(self.family, table, hook, self.packet, self.meta, ctx,
                                  self.steps, self.conntrack)
                if res.packet is not None:
                    self.packet = res.packet
                verdict = res.verdict
                if verdict != ACCEPT:
                    self.verdict = _verdict(self.nf, table, hook, res)
            if verdict != ACCEPT:
                return verdict
        if hook in (INPUT, POSTROUTING):
            self.confirm()
        return ACCEPT

    # -- conntrack -------------------------------------------------------------------------
    def _ct_in(self) -> None:
        meta = self.meta
        if meta.ctstate:  # already tracked in this namespace (e.g. looped back)
            return
        if not self.nf.uses_conntrack:
            return
        if meta.notrack:
            meta.ctstate = "UNTRACKED"
            self._ct_step(ConntrackEvent.UNTRACKED_RAW)
            return
        tup = packet_tuple(self.packet)
        if tup is None:
            return
        hit = self.conntrack.lookup(meta.zone, tup)
        if hit is not None:
            ct_id, entry, direction = hit
            meta.ct_id, meta.direction = ct_id, direction
            if direction == REPLY:
                if not entry.seen_reply:
                    entry = replace(entry, seen_reply=True)
                    self.conntrack.update(ct_id, entry)
                meta.ctstate = "ESTABLISHED"
            else:
                meta.ctstate = "ESTABLISHED" if entry.seen_reply else "NEW"
            meta.ct = entry
            self._ct_step(ConntrackEvent.FOUND, state=meta.ctstate, direction=direction,
                          connection=entry.format())
            return
        verdict = new_verdict(self.packet)
        if verdict == "RELATED?":
            quoted = self.conntrack.related_by_payload(meta.zone, self.packet)
            if quoted is not None:
                meta.ct_id, meta.ct, meta.direction = quoted
                meta.ctstate = "RELATED"
                self._ct_step(ConntrackEvent.RELATED_QUOTED, state="RELATED",
                              direction=meta.direction, connection=meta.ct.format())
                return
            rel = self.conntrack.related(meta.zone, self.packet) if (
                self.packet.payload is None) else None
            if rel is not None:
                meta.ct, meta.ctstate = rel, "RELATED"
                meta.direction = REPLY if self.packet.dst_ip == rel.orig.src or (
                    self.packet.dst_ip == rel.reply.dst) else ORIGINAL
                self._ct_step(ConntrackEvent.RELATED, state="RELATED", direction=meta.direction,
                              connection=rel.format())
                return
            verdict = "INVALID"
        if verdict == "UNTRACKED":
            meta.ctstate = "UNTRACKED"
            self._ct_step(ConntrackEvent.UNTRACKED_ND, state="UNTRACKED", packet=self.packet)
            return
        if verdict == "INVALID":
            meta.ctstate = "INVALID"
            self._ct_step(ConntrackEvent.INVALID, state="INVALID", packet=self.packet)
            return
        meta.ct = CtEntry(zone=meta.zone, orig=tup, reply=tup.inverted())
        meta.ct_id, meta.direction, meta.ctstate = None, ORIGINAL, "NEW"
        self._ct_step(ConntrackEvent.NEW, state="NEW", direction=ORIGINAL, connection=str(tup))

    def confirm(self) -> None:
        """nf_conntrack_confirm: keep a new connection once its first packet got through."""
        ct = self.meta.ct
        if ct is None or ct.confirmed or self.meta.ctstate in ("RELATED", "INVALID", "UNTRACKED"):
            return
        existing = self.conntrack.lookup(ct.zone, ct.orig)
        if existing is not None:  # confirmed by another copy of the same packet
            self.meta.ct_id, self.meta.ct = existing[0], existing[1]
            return
        self.meta.ct_id = self.conntrack.confirm(ct)
        self.meta.ct = replace(ct, confirmed=True)
        self._ct_step(ConntrackEvent.COMMITTED, connection=self.meta.ct.format())

    def _ct_step(self, event: ConntrackEvent, state: str = "", direction: str = "",
                 connection: str = "", packet: Packet | None = None) -> None:
        """Record what conntrack did (in the packet's zone)."""
        self.steps.append(ConntrackStep(event=event, zone=self.meta.zone, state=state,
                                        direction=direction, connection=connection,
                                        packet=packet, depth=self.depth))

    # -- NAT -------------------------------------------------------------------------------
    def _nat(self, hook: str, ctx: HookContext) -> str:
        meta = self.meta
        ct = meta.ct
        if ct is None or meta.ctstate in ("INVALID", "UNTRACKED"):
            return ACCEPT
        manip = "dst" if hook in (PREROUTING, OUTPUT) else "src"
        done = ct.dst_done if manip == "dst" else ct.src_done
        if not done and meta.direction == ORIGINAL and not ct.confirmed and (
            meta.ctstate == "NEW"
        ):
            res = self.nf.run(self.family, "nat", hook, self.packet, meta, ctx, self.steps,
                              self.conntrack)
            if res.verdict != ACCEPT:
                self.verdict = _verdict(self.nf, "nat", hook, res)
                return res.verdict
            ct = meta.ct or ct
            if res.nat is not None:
                ct = self._bind(ct, res.nat, manip, ctx)
                if res.nat.random:
                    self.steps.append(NatPortStep(event=NatPortEvent.RANDOM, depth=self.depth))
            ct = replace(ct, dst_done=True) if manip == "dst" else replace(ct, src_done=True)
            meta.ct = ct
        # apply the binding to this packet
        if meta.direction == ORIGINAL:
            applies = ct.dst_nat if manip == "dst" else ct.src_nat
            target = ct.reply.inverted()
        else:
            applies = ct.src_nat if manip == "dst" else ct.dst_nat
            target = ct.orig.inverted()
        if applies:
            before = self.packet
            self.packet = rewrite(self.packet, target, manip)
            if meta.ctstate == "RELATED" and self.packet.payload is not None:
                # the quoted packet travels the other way: its other end changes alike
                inner = rewrite(self.packet.payload, target.inverted(),
                                "src" if manip == "dst" else "dst")
                self.packet = self.packet.with_(payload=inner)
            changes = before.diff(self.packet)
            if changes:
                self.steps.append(NatStep(nat=_NAT_KINDS[(manip, meta.direction)], hook=hook,
                                          related=meta.ctstate == "RELATED", depth=self.depth,
                                          changes=changes))
        return ACCEPT

    def _bind(self, ct: CtEntry, req: NatRequest, manip: str, ctx: HookContext) -> CtEntry:
        addr = req.addr or self.nat_addr(req.kind, ctx)
        if manip == "dst":
            if req.kind not in ("DNAT", "REDIRECT"):
                return ct
            port = req.ports[0] if req.ports else ct.reply.sport
            if req.ports is None or not has_ports(ct.orig.proto):
                port = ct.reply.sport
            return replace(ct, reply=replace(ct.reply, src=addr or ct.reply.src, sport=port),
                           dst_nat=True)
        if req.kind not in ("SNAT", "MASQUERADE"):
            return ct
        port = ct.reply.dport
        if req.ports is not None and has_ports(ct.orig.proto):
            port = req.ports[0]
        reply = replace(ct.reply, dst=addr or ct.reply.dst, dport=port)
        if has_ports(ct.orig.proto) and self.conntrack.lookup(ct.zone, reply) is not None:
            # nf_nat_l4proto_unique_tuple: another connection already maps to this address and
            # port, so the kernel takes a free port (in the --to range, else 1024-65535); here
            # deterministically the next free one
            lo, hi = req.ports or ((1024, 65535) if port >= 1024 else (1, 1023))
            for candidate in [*range(port + 1, hi + 1), *range(lo, port)]:
                trial = replace(reply, dport=candidate)
                if self.conntrack.lookup(ct.zone, trial) is None:
                    self.steps.append(NatPortStep(event=NatPortEvent.TAKEN, address=addr,
                                                  port=port, new_port=candidate,
                                                  depth=self.depth))
                    reply = trial
                    break
        return replace(ct, reply=reply, src_nat=True)



_NAT_KINDS = {("dst", ORIGINAL): NatKind.DNAT, ("src", ORIGINAL): NatKind.SNAT,
              ("dst", REPLY): NatKind.UN_SNAT, ("src", REPLY): NatKind.UN_DNAT}


def _verdict(nf: Netfilter, table: str, hook: str, res: ChainResult) -> NetfilterVerdict:
    """Which rule (or policy) of ``table`` at ``hook`` denied the packet."""
    return NetfilterVerdict(verdict=res.verdict, source=nf.source, table=table, hook=hook,
                            rule=res.rule)
