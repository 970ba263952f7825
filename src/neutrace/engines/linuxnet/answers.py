"""What the kernel's own stack answers (layer 3): the echo reply, ICMP errors quoting the packet
they are about, and a REJECT's answer (``--reject-with``: ICMP unreachables or a TCP reset)."""

from __future__ import annotations

from neutrace.engines.results import LinuxResult
from neutrace.packet import (
    ETH_TYPE_IP,
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    Packet,
)
from neutrace.trace import RuleStep, RuleVerdict


def echo_reply(request: Packet) -> Packet:
    """The ICMP/ICMPv6 echo reply the kernel sends back for ``request`` (L2 addresses swapped;
    pass it to `LinuxEngine.send` to route it properly)."""
    if request.is_ipv6:
        return request.with_(dl_src=request.dl_dst, dl_dst=request.dl_src,
                             ipv6_src=request.ipv6_dst, ipv6_dst=request.ipv6_src,
                             tp_src=129, tp_dst=0, nw_ttl=64)
    return request.with_(dl_src=request.dl_dst, dl_dst=request.dl_src, nw_src=request.nw_dst,
                         nw_dst=request.nw_src, tp_src=ICMP_ECHO_REPLY, tp_dst=0, nw_ttl=64)


REJECT_WITH = {
    "icmp-net-unreachable": (3, 0), "net-unreach": (3, 0), "icmp-host-unreachable": (3, 1),
    "host-unreach": (3, 1), "icmp-proto-unreachable": (3, 2), "icmp-port-unreachable": (3, 3),
    "port-unreach": (3, 3), "icmp-net-prohibited": (3, 9), "icmp-host-prohibited": (3, 10),
    "icmp-admin-prohibited": (3, 13), "admin-prohib": (3, 13),
}


def icmp_error(about: Packet, src: str, icmp_type: int, code: int) -> Packet:
    """An ICMP error from ``src`` to ``about``'s sender, quoting ``about`` (in ``payload``, L2
    addresses cleared) as the kernel does; conntrack uses the quote to find the connection."""
    quoted = about.with_(dl_src="", dl_dst="", payload=None)
    return Packet(dl_src="", dl_dst="", dl_type=ETH_TYPE_IP, nw_src=src, nw_dst=about.nw_src,
                  nw_proto=IPPROTO_ICMP, nw_ttl=64, tp_src=icmp_type, tp_dst=code,
                  payload=quoted)


def reject_answer(result: LinuxResult, pkt: Packet, icmp_src: str) -> Packet | None:
    rules = [s.rule for s in result.steps
             if isinstance(s, RuleStep) and s.verdict is RuleVerdict.REJECT]
    if not rules or not pkt.is_ip:
        return None
    target = rules[-1].target
    with_ = target.option("--reject-with") if target is not None else None
    kind = with_.value if with_ is not None else "icmp-port-unreachable"
    if kind == "tcp-reset":
        if pkt.nw_proto != IPPROTO_TCP:
            return None
        return Packet(dl_src="", dl_dst="", dl_type=ETH_TYPE_IP, nw_src=pkt.nw_dst,
                      nw_dst=pkt.nw_src, nw_proto=IPPROTO_TCP, nw_ttl=64, tp_src=pkt.tp_dst,
                      tp_dst=pkt.tp_src, tcp_flags=0x14)
    icmp_type, code = REJECT_WITH.get(kind, (3, 3))
    return icmp_error(pkt, icmp_src, icmp_type, code) if icmp_src else None


def is_echo_request(pkt: Packet) -> bool:
    return (pkt.nw_proto == IPPROTO_ICMP and pkt.tp_src == ICMP_ECHO_REQUEST) or (
        pkt.nw_proto == IPPROTO_ICMPV6 and pkt.tp_src == 128)
