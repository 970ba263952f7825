"""IPv6 through the Linux engines: routing, ip6tables, neighbour discovery, echo."""

from __future__ import annotations

from neutrace.dataplane import OVS_INTERNAL, HostState, Interface, Namespace, Route
from neutrace.engines.linuxnet import LinuxEngine, LinuxState
from neutrace.packet import (
    ETH_TYPE_IPV6,
    ICMPV6_NA,
    ICMPV6_NS,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    Packet,
)
from neutrace.trace import (
    ACCEPTED,
    DENIED,
    DROPPED,
    ConntrackEvent,
    ConntrackStep,
    LinuxFate,
    LinuxWhy,
)
from tests.support.facts import denied_rules

A, B = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b"
QR_MAC, QG_MAC = "fa:16:3e:00:01:01", "fa:16:3e:00:01:02"
IP6TABLES = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j DROP
-A FORWARD -s 2001:db8:1::/64 -p tcp -m tcp --dport 23 -j DROP
-A FORWARD -m state --state INVALID -j DROP
COMMIT
"""


def router(forwarding: bool = True) -> LinuxEngine:
    ns = Namespace("r", interfaces=(
        Interface("qr-1", OVS_INTERNAL, QR_MAC, addresses=("2001:db8:1::1/64",)),
        Interface("qg-1", OVS_INTERNAL, QG_MAC, addresses=("2001:db8:ff::5/64",)),
    ), routes=(Route("default", "qg-1", "2001:db8:ff::1"),), ip6tables=IP6TABLES,
        sysctls=(("net.ipv6.conf.all.forwarding", "1" if forwarding else "0"),))
    return LinuxEngine(HostState("h", namespaces=(ns,)))


def v6(src: str, dst: str, proto: int = IPPROTO_TCP, sport: int = 1000, dport: int = 80,
       dl_dst: str = QR_MAC) -> Packet:
    return Packet(dl_src=A, dl_dst=dl_dst, dl_type=ETH_TYPE_IPV6, ipv6_src=src, ipv6_dst=dst,
                  nw_proto=proto, nw_ttl=64, tp_src=sport, tp_dst=dport)


def resolve(h: str, ns: str, dev: str, ip: str) -> str | None:
    return B if ip == "2001:db8:ff::1" else None


def test_ipv6_forwarding_and_ip6tables() -> None:
    eng, state = router(), LinuxState()
    out = eng.receive("r", "qr-1", v6("2001:db8:1::10", "2001:db8:99::1"), state, resolve)
    (egress,) = out.outputs
    assert egress.port == "qg-1" and egress.packet.dl_dst == B and egress.packet.nw_ttl == 63
    denied = eng.receive("r", "qr-1", v6("2001:db8:1::10", "2001:db8:99::1", dport=23), state,
                         resolve)
    assert denied.disposition == DENIED
    assert any("--dport 23 -j DROP" in r for r in denied_rules(denied.cause))
    off = router(forwarding=False).receive("r", "qr-1", v6("2001:db8:1::10", "2001:db8:99::1"),
                                           LinuxState(), resolve)
    assert off.disposition == DROPPED and isinstance(off.cause, LinuxFate)
    assert (off.cause.why, off.cause.knob) == (LinuxWhy.NOT_FORWARDING,
                                               "net.ipv6.conf.all.forwarding")


def test_neighbour_solicitation_and_echo() -> None:
    eng, state = router(), LinuxState()
    ns = v6("2001:db8:1::10", "ff02::1:ff00:1", IPPROTO_ICMPV6, ICMPV6_NS, 0,
            dl_dst="33:33:ff:00:00:01").with_(nd_target="2001:db8:1::1", nd_sll=A)
    out = eng.receive("r", "qr-1", ns, state, resolve)
    (na,) = out.outputs
    assert na.packet.tp_src == ICMPV6_NA and na.packet.nd_tll == QR_MAC
    assert na.packet.ipv6_dst == "2001:db8:1::10"
    assert state.neighbour_cache("h", "r")[("qr-1", "2001:db8:1::10")] == A
    echo = eng.receive("r", "qr-1", v6("2001:db8:1::10", "2001:db8:ff::5", IPPROTO_ICMPV6, 128,
                                       0), state, resolve)
    assert echo.disposition == ACCEPTED and isinstance(echo.cause, LinuxFate)
    assert echo.cause.why is LinuxWhy.LOCAL_DELIVERY and echo.cause.echo
    # a forwarded NS (untracked by conntrack) still meets the FORWARD rule that drops it
    fwd = eng.receive("r", "qr-1", v6("2001:db8:1::10", "2001:db8:99::1", IPPROTO_ICMPV6,
                                      ICMPV6_NS, 0), state, resolve)
    assert fwd.disposition == DENIED
    assert any(isinstance(s, ConntrackStep) and s.event is ConntrackEvent.UNTRACKED_ND
               for s in fwd.steps)
