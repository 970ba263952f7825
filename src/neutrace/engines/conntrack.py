"""Connection tracking (layer 3): the kernel's nf_conntrack as explicit, caller-owned state.

An entry (`CtEntry`) is keyed by its zone and two tuples, as ``conntrack -L`` shows them: the
*original* tuple (the first packet as conntrack saw it) and the *reply* tuple (what a reply looks
like on the wire, i.e. the inverse of the original tuple after NAT). NAT bindings are chosen once,
on the first packet (`CtEntry.src_nat` / `dst_nat`, the kernel's IPS_SRC_NAT / IPS_DST_NAT), and
every later packet of the connection in either direction is rewritten from the tuples: a packet
in the original direction takes the addresses of the inverted reply tuple, a reply takes those of
the inverted original tuple (un-SNAT, un-DNAT).

States follow the kernel: a packet with no entry is NEW (or INVALID when it cannot start a
connection: an ICMP echo reply, a TCP SYN/ACK, RST or FIN; ICMPv6 neighbour discovery and MLD are
not tracked at all: UNTRACKED),
a packet in the original direction stays NEW until a reply has been seen, then ESTABLISHED; an
ICMP error about a tracked connection is RELATED. `ConntrackTable` holds the entries of one
network namespace (all zones); `neutrace.engines.linuxnet.LinuxState` keeps one per namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from neutrace.packet import (
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    PROTO_NAMES,
    Packet,
)

ORIGINAL = "ORIGINAL"
REPLY = "REPLY"

# ICMP query types and the type of their reply (nf_conntrack_proto_icmp's invmap)
ICMP_INVERSE = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17}
ICMP_NEW_TYPES = frozenset({8, 13, 15, 17})
ICMP_ERROR_TYPES = frozenset({3, 4, 5, 11, 12})
ICMPV6_INVERSE = {128: 129, 129: 128, 139: 140, 140: 139}
ICMPV6_NEW_TYPES = frozenset({128, 139})
ICMPV6_ERROR_TYPES = frozenset({1, 2, 3, 4})
# MLD and neighbour discovery: nf_conntrack_proto_icmpv6's noct_valid_new (not tracked at all)
ICMPV6_NOCT_TYPES = frozenset({130, 131, 132, 133, 134, 135, 136, 137, 143})

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10


@dataclass(frozen=True, slots=True)
class CtTuple:
    """``proto src dst sport dport``; for ICMP/ICMPv6 ``sport`` is 0 (the echo id, which packets
    here do not carry) and ``dport`` the ICMP type."""

    proto: int
    src: str
    dst: str
    sport: int = 0
    dport: int = 0

    def inverted(self) -> CtTuple:
        if self.proto == IPPROTO_ICMP:
            return CtTuple(self.proto, self.dst, self.src, 0, ICMP_INVERSE.get(self.dport, 0))
        if self.proto == IPPROTO_ICMPV6:
            return CtTuple(self.proto, self.dst, self.src, 0, ICMPV6_INVERSE.get(self.dport, 0))
        return CtTuple(self.proto, self.dst, self.src, self.dport, self.sport)

    def __str__(self) -> str:
        if self.proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            return f"src={self.src} dst={self.dst} type={self.dport}"
        if self.proto in (IPPROTO_TCP, IPPROTO_UDP):
            return f"src={self.src} dst={self.dst} sport={self.sport} dport={self.dport}"
        return f"src={self.src} dst={self.dst}"


def has_ports(proto: int) -> bool:
    """TCP, UDP, SCTP, DCCP, UDP-Lite: tuples with ports."""
    return proto in (IPPROTO_TCP, IPPROTO_UDP, 132, 33, 136)


def packet_tuple(pkt: Packet) -> CtTuple | None:
    """The tuple of an IPv4/IPv6 packet (None for anything else)."""
    if not (pkt.is_ip or pkt.is_ipv6):
        return None
    if pkt.nw_proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        return CtTuple(pkt.nw_proto, pkt.src_ip, pkt.dst_ip, 0, pkt.tp_src)
    if has_ports(pkt.nw_proto):
        return CtTuple(pkt.nw_proto, pkt.src_ip, pkt.dst_ip, pkt.tp_src, pkt.tp_dst)
    return CtTuple(pkt.nw_proto, pkt.src_ip, pkt.dst_ip)


def new_verdict(pkt: Packet) -> str:
    """What conntrack makes of a packet that matches no entry: ``"NEW"``, ``"INVALID"``,
    ``"UNTRACKED"`` (ICMPv6 neighbour discovery and MLD) or ``"RELATED?"`` (an ICMP error:
    RELATED if it refers to a tracked connection)."""
    if pkt.nw_proto == IPPROTO_ICMP:
        if pkt.tp_src in ICMP_ERROR_TYPES:
            return "RELATED?"
        return "NEW" if pkt.tp_src in ICMP_NEW_TYPES else "INVALID"
    if pkt.nw_proto == IPPROTO_ICMPV6:
        if pkt.tp_src in ICMPV6_ERROR_TYPES:
            return "RELATED?"
        if pkt.tp_src in ICMPV6_NOCT_TYPES:
            return "UNTRACKED"
        return "NEW" if pkt.tp_src in ICMPV6_NEW_TYPES else "INVALID"
    if pkt.nw_proto == IPPROTO_TCP and pkt.tcp_flags:
        flags = pkt.tcp_flags
        # tcp_conntracks[][][TCP_CONNTRACK_NONE]: only SYN or (loose pickup) a bare ACK start one
        if flags & TCP_RST or flags & TCP_FIN:
            return "INVALID"
        if flags & TCP_SYN and flags & TCP_ACK:
            return "INVALID"
    return "NEW"


@dataclass(frozen=True, slots=True)
class CtEntry:
    """One connection. ``src_nat``/``dst_nat`` say a NAT binding of that kind was set up;
    ``src_done``/``dst_done`` that the nat table was consulted for that manip (NAT is decided
    once); ``confirmed`` that the first packet made it out (only confirmed entries are kept)."""

    zone: int
    orig: CtTuple
    reply: CtTuple
    seen_reply: bool = False
    mark: int = 0
    src_nat: bool = False
    dst_nat: bool = False
    src_done: bool = False
    dst_done: bool = False
    confirmed: bool = False

    def tuple_for(self, direction: str) -> CtTuple:
        return self.orig if direction == ORIGINAL else self.reply

    def format(self) -> str:
        """Roughly one line of ``conntrack -L``."""
        name = PROTO_NAMES.get(self.orig.proto, str(self.orig.proto))
        flags = "" if self.seen_reply else " [UNREPLIED]"
        zone = f" zone={self.zone}" if self.zone else ""
        return f"{name} {self.orig}{flags} {self.reply} mark={self.mark}{zone}"


class ConntrackTable:
    """The confirmed connections of one network namespace (all zones). Mutable; `copy` it to
    branch a simulation."""

    def __init__(self) -> None:
        self._entries: dict[int, CtEntry] = {}
        self._index: dict[tuple[int, CtTuple], tuple[int, str]] = {}
        self._next = 1

    def copy(self) -> ConntrackTable:
        other = ConntrackTable()
        other._entries = dict(self._entries)
        other._index = dict(self._index)
        other._next = self._next
        return other

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CtEntry]:
        return iter(self._entries.values())

    def lookup(self, zone: int, tup: CtTuple) -> tuple[int, CtEntry, str] | None:
        """The entry ``tup`` belongs to in ``zone``, and the direction (ORIGINAL or REPLY)."""
        hit = self._index.get((zone, tup))
        if hit is None:
            return None
        return hit[0], self._entries[hit[0]], hit[1]

    def related_by_payload(self, zone: int, pkt: Packet) -> tuple[int, CtEntry, str] | None:
        """For an ICMP error quoting the packet it is about (``pkt.payload``): the connection
        that quoted packet belongs to, as nf_conntrack_icmp's error handling finds it (the
        inverted inner tuple), with the error's direction."""
        if pkt.payload is None:
            return None
        inner = packet_tuple(pkt.payload)
        if inner is None:
            return None
        return self.lookup(zone, inner.inverted())

    def related(self, zone: int, pkt: Packet) -> CtEntry | None:
        """For an ICMP error that does not quote its packet (``payload`` unset): the closest
        tracked connection between the two addresses, or from the error's target."""
        best: CtEntry | None = None
        for e in self._entries.values():
            if e.zone != zone:
                continue
            ends = {e.orig.src, e.reply.dst}
            if pkt.dst_ip in ends:
                if pkt.src_ip in {e.orig.dst, e.reply.src}:
                    return e
                best = best or e
        return best

    def confirm(self, entry: CtEntry, entry_id: int | None = None) -> int:
        """Insert (or update) ``entry``; returns its id."""
        entry = replace(entry, confirmed=True)
        if entry_id is None or entry_id not in self._entries:
            entry_id = self._next
            self._next += 1
        else:
            old = self._entries[entry_id]
            self._index.pop((old.zone, old.orig), None)
            self._index.pop((old.zone, old.reply), None)
        self._entries[entry_id] = entry
        self._index[(entry.zone, entry.orig)] = (entry_id, ORIGINAL)
        self._index[(entry.zone, entry.reply)] = (entry_id, REPLY)
        return entry_id

    def update(self, entry_id: int, entry: CtEntry) -> None:
        if entry_id in self._entries:
            self.confirm(entry, entry_id)

    def format(self) -> str:
        return "\n".join(e.format() for e in self._entries.values())


def rewrite(pkt: Packet, target: CtTuple, manip: str) -> Packet:
    """Rewrite ``pkt``'s source (``manip="src"``) or destination (``"dst"``) address and port to
    those of ``target`` (a tuple the packet should look like)."""
    if manip == "src":
        addr, port = target.src, target.sport
        out = pkt.with_(nw_src=addr) if pkt.is_ip else pkt.with_(ipv6_src=addr)
        if has_ports(pkt.nw_proto):
            out = out.with_(tp_src=port)
        return out
    addr, port = target.dst, target.dport
    out = pkt.with_(nw_dst=addr) if pkt.is_ip else pkt.with_(ipv6_dst=addr)
    if has_ports(pkt.nw_proto):
        out = out.with_(tp_dst=port)
    return out
