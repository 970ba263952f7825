"""A packet in a few words (layer 3): `packet_summary`, tcpdump's way (``ICMP 192.168.111.4 >
203.0.113.10 echo-request``, ``ARP who-has 192.168.111.1 tell 192.168.111.4``, an encapsulated
frame as ``VXLAN vni 0x10050 <outer addresses> [<the frame inside>]``), from the words of
`neutrace.render.phrases.PHRASES`."""

from __future__ import annotations

from neutrace.packet import (
    ARP_REPLY,
    ARP_REQUEST,
    ENCAP_GENEVE,
    ENCAP_GRE,
    ENCAP_VXLAN,
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    PROTO_NAMES,
    Packet,
)
from neutrace.render.phrases import say

_ENCAP = {ENCAP_VXLAN: "packet.vxlan", ENCAP_GENEVE: "packet.geneve", ENCAP_GRE: "packet.gre"}
_ICMP = {ICMP_ECHO_REQUEST: "packet.echo_request", ICMP_ECHO_REPLY: "packet.echo_reply"}


def packet_summary(p: Packet) -> str:
    """A one-line description of ``p`` (its VLAN, the frame a tunnel carries)."""
    vlan = say("packet.vlan", vlan=p.vlan_vid) if p.vlan_vid is not None else ""
    if p.payload is not None and p.tun_id:
        return say(_ENCAP[p.encapsulation or ENCAP_VXLAN], tun_id=p.tun_id, src=p.nw_src,
                   dst=p.nw_dst, inner=packet_summary(p.payload))
    if p.is_arp:
        if p.arp_op == ARP_REPLY:
            return say("packet.arp_reply", spa=p.arp_spa, sha=p.arp_sha, vlan=vlan)
        op = say("packet.arp_who_has") if p.arp_op == ARP_REQUEST else say(
            "packet.arp_op", op=p.arp_op)
        return say("packet.arp", op=op, tpa=p.arp_tpa, spa=p.arp_spa, vlan=vlan)
    if p.is_ip or p.is_ipv6:
        proto = PROTO_NAMES[p.nw_proto].upper() if p.nw_proto in PROTO_NAMES else say(
            "packet.proto", proto=p.nw_proto)
        if p.nw_proto in (IPPROTO_TCP, IPPROTO_UDP):
            return say("packet.ports", proto=proto, src=p.src_ip, sport=p.tp_src, dst=p.dst_ip,
                       dport=p.tp_dst, vlan=vlan)
        kind = ""
        if p.nw_proto == IPPROTO_ICMP:
            kind = say(_ICMP[p.tp_src]) if p.tp_src in _ICMP else say("packet.icmp_type",
                                                                       type=p.tp_src)
        return say("packet.ip", proto=proto, src=p.src_ip, dst=p.dst_ip, kind=kind, vlan=vlan)
    return say("packet.ethernet", src=p.dl_src, dst=p.dl_dst, type=p.dl_type, vlan=vlan)
