"""Immutable packet headers (layer 0).

A `Packet` is one frame as it is on a wire at one moment: Ethernet (with an optional 802.1Q tag in
``vlan_tci`` exactly as OVS keeps it: ``0x1000 | vid`` when tagged, ``0`` when not), ARP, IPv4/IPv6,
L4, tunnel metadata, and for an encapsulated VXLAN frame the inner frame in ``payload``.

Field names are ovs-fields(7) names, so the OpenFlow engine reads them as they are and a field diff
reads like ``ofproto/trace``'s "Final flow". Every rewrite makes a new Packet (`Packet.with_`), and
`Packet.diff` lists what changed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neutrace.addr import BROADCAST_MAC

ETH_TYPE_IP = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_IPV6 = 0x86DD
ETH_TYPE_VLAN = 0x8100

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

ARP_REQUEST = 1
ARP_REPLY = 2

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
ICMPV6_NS = 135
ICMPV6_NA = 136

VXLAN_PORT = 4789
GENEVE_PORT = 6081
IPPROTO_GRE = 47
# the tunnel types an outer packet may be (OVS interface types; ip6gre is GRE over IPv6)
ENCAP_VXLAN, ENCAP_GENEVE, ENCAP_GRE = "vxlan", "geneve", "gre"
VLAN_CFI = 0x1000

PROTO_NAMES = {
    IPPROTO_ICMP: "icmp", IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_ICMPV6: "icmp6",
}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field rewritten: ``field`` (ovs-fields name), its value before and after."""

    field: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.field, self.before)} -> {_show(self.field, self.after)}"


def _show(field: str, value: Any) -> str:
    if field in ("vlan_tci", "tun_id") and isinstance(value, int):
        return hex(value)
    if field == "payload":
        return "<frame>" if value is not None else "none"
    return str(value) if value not in ("", None) else "none"


@dataclass(frozen=True, slots=True)
class Packet:
    """One frame. Empty string / 0 means "absent" for a field."""

    dl_src: str
    dl_dst: str
    dl_type: int
    vlan_tci: int = 0
    # ARP
    arp_op: int = 0
    arp_spa: str = ""
    arp_tpa: str = ""
    arp_sha: str = ""
    arp_tha: str = ""
    # IPv4 (nw_*) and IPv6 (ipv6_*)
    nw_src: str = ""
    nw_dst: str = ""
    ipv6_src: str = ""
    ipv6_dst: str = ""
    nw_proto: int = 0
    nw_ttl: int = 0
    nw_tos: int = 0
    # L4: ports, or ICMP type/code (tp_src/tp_dst as OVS keeps them for ICMP too)
    tp_src: int = 0
    tp_dst: int = 0
    tcp_flags: int = 0
    # ICMPv6 neighbour discovery
    nd_target: str = ""
    nd_sll: str = ""
    nd_tll: str = ""
    # tunnel metadata (valid on a packet received from, or about to leave through, a tunnel port)
    tun_id: int = 0
    tun_src: str = ""
    tun_dst: str = ""
    # an encapsulated frame (the outer packet of VXLAN carries the inner one here); for an ICMP
    # error (tun_id 0), the packet it quotes (see neutrace.engines.linuxnet.icmp_error)
    payload: Packet | None = None

    # -- views -----------------------------------------------------------------------------
    @property
    def vlan_vid(self) -> int | None:
        """The 802.1Q VLAN id, or None when untagged."""
        return self.vlan_tci & 0x0FFF if self.vlan_tci & VLAN_CFI else None

    @property
    def is_ip(self) -> bool:
        return self.dl_type == ETH_TYPE_IP

    @property
    def is_ipv6(self) -> bool:
        return self.dl_type == ETH_TYPE_IPV6

    @property
    def is_arp(self) -> bool:
        return self.dl_type == ETH_TYPE_ARP

    @property
    def src_ip(self) -> str:
        return self.nw_src if self.is_ip else self.ipv6_src if self.is_ipv6 else ""

    @property
    def dst_ip(self) -> str:
        return self.nw_dst if self.is_ip else self.ipv6_dst if self.is_ipv6 else ""

    @property
    def icmp_type(self) -> int:
        return self.tp_src

    @property
    def icmp_code(self) -> int:
        return self.tp_dst

    # -- rewriting -------------------------------------------------------------------------
    def with_(self, **changes: Any) -> Packet:
        """A copy with ``changes`` applied (field names as above)."""
        return dataclasses.replace(self, **changes)

    def with_vlan(self, vid: int | None) -> Packet:
        return self.with_(vlan_tci=0 if vid is None else (VLAN_CFI | (vid & 0x0FFF)))

    def diff(self, after: Packet) -> tuple[FieldChange, ...]:
        """The fields that differ from ``after``, in declaration order."""
        out = []
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(after, f.name)
            if a != b:
                out.append(FieldChange(f.name, a, b))
        return tuple(out)

    @property
    def encapsulation(self) -> str | None:
        """The tunnel an outer packet is (vxlan, geneve or gre), None for a plain packet."""
        if self.payload is None:
            return None
        if self.nw_proto == IPPROTO_GRE:
            return ENCAP_GRE
        if self.nw_proto == IPPROTO_UDP and self.tp_dst == GENEVE_PORT:
            return ENCAP_GENEVE
        return ENCAP_VXLAN


# -- constructors ------------------------------------------------------------------------------


def arp_request(sha: str, spa: str, tpa: str) -> Packet:
    return Packet(
        dl_src=sha, dl_dst=BROADCAST_MAC, dl_type=ETH_TYPE_ARP, arp_op=ARP_REQUEST,
        arp_sha=sha, arp_spa=spa, arp_tha="00:00:00:00:00:00", arp_tpa=tpa,
    )


def arp_reply(sha: str, spa: str, tha: str, tpa: str) -> Packet:
    return Packet(
        dl_src=sha, dl_dst=tha, dl_type=ETH_TYPE_ARP, arp_op=ARP_REPLY,
        arp_sha=sha, arp_spa=spa, arp_tha=tha, arp_tpa=tpa,
    )


def ipv4(
    dl_src: str, dl_dst: str, src: str, dst: str, proto: int = IPPROTO_ICMP,
    sport: int = 0, dport: int = 0, ttl: int = 64, tcp_flags: int = 0,
) -> Packet:
    """An IPv4 packet; for ICMP ``sport``/``dport`` are type/code (echo request by default)."""
    if proto == IPPROTO_ICMP and sport == 0 and dport == 0:
        sport = ICMP_ECHO_REQUEST
    return Packet(
        dl_src=dl_src, dl_dst=dl_dst, dl_type=ETH_TYPE_IP, nw_src=src, nw_dst=dst,
        nw_proto=proto, nw_ttl=ttl, tp_src=sport, tp_dst=dport, tcp_flags=tcp_flags,
    )


def tunnel_encap(
    kind: str, inner: Packet, tun_id: int, local_ip: str, remote_ip: str,
    dl_src: str = "", dl_dst: str = "",
) -> Packet:
    """The outer packet of a tunnel of ``kind`` (an OVS interface type: vxlan, geneve, gre,
    ip6gre): VXLAN in UDP 4789, Geneve in UDP 6081 (VNI = tun_id), GRE as IP protocol 47
    (key = tun_id, no ports)."""
    outer = vxlan_encap(inner, tun_id, local_ip, remote_ip, dl_src, dl_dst)
    if kind == ENCAP_GENEVE:
        return outer.with_(tp_dst=GENEVE_PORT)
    if kind in (ENCAP_GRE, "ip6gre"):
        return outer.with_(nw_proto=IPPROTO_GRE, tp_src=0, tp_dst=0)
    return outer


def vxlan_encap(
    inner: Packet, vni: int, local_ip: str, remote_ip: str,
    dl_src: str = "", dl_dst: str = "", sport: int = 0,
) -> Packet:
    """The outer VXLAN/UDP/IPv4 packet carrying ``inner`` between two tunnel endpoints."""
    return Packet(
        dl_src=dl_src, dl_dst=dl_dst, dl_type=ETH_TYPE_IP, nw_src=local_ip, nw_dst=remote_ip,
        nw_proto=IPPROTO_UDP, nw_ttl=64, tp_src=sport, tp_dst=VXLAN_PORT,
        tun_id=vni, tun_src=local_ip, tun_dst=remote_ip, payload=inner,
    )
