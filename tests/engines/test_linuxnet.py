"""The Linux engines on a qrouter namespace built by hand like the seed's (test-ctrl-01)."""

from __future__ import annotations

from neutrace.dataplane import NS_ROUTER, OVS_INTERNAL, HostState, Interface, Namespace, Route
from neutrace.engines.linuxnet import LinuxEngine, LinuxState, echo_reply
from neutrace.packet import ICMP_ECHO_REPLY, IPPROTO_TCP, arp_request, ipv4
from neutrace.trace import (
    ACCEPTED,
    DENIED,
    DROPPED,
    NEIGHBOUR_UNRESOLVED,
    NO_ROUTE,
    Denial,
    LinuxFate,
    LinuxWhy,
    NatKind,
    NatStep,
    RouteStep,
    RuleStep,
    RuleVerdict,
    SourceAddressStep,
    Step,
)
from tests.support.facts import linux_why
from tests.support.samples import NAT

ROUTER = "qrouter-c8aec0d9-3203-4bdb-9237-9818603f521f"
QR, QG = "qr-466214fa-3d", "qg-169d638e-0e"
QR_MAC, QG_MAC = "fa:16:3e:00:11:01", "fa:16:3e:00:10:03"
VM_MAC, GW_MAC = "fa:16:3e:00:11:04", "52:54:00:00:10:01"
OUTSIDE = "203.0.113.10"



def router_ns(**changes: object) -> Namespace:
    ns = Namespace(
        ROUTER, kind=NS_ROUTER,
        interfaces=(
            Interface(QR, OVS_INTERNAL, QR_MAC, addresses=("192.168.111.1/24",)),
            Interface(QG, OVS_INTERNAL, QG_MAC,
                      addresses=("192.168.100.103/24", "192.168.100.102/32")),
        ),
        routes=(Route("default", QG, "192.168.100.1"),),
        iptables=NAT, sysctls=(("net.ipv4.ip_forward", "1"),),
    )
    import dataclasses

    return dataclasses.replace(ns, **changes)  # type: ignore[arg-type]


def resolver(host: str, ns: str, dev: str, ip: str) -> str | None:
    return {(QG, "192.168.100.1"): GW_MAC, (QG, OUTSIDE): GW_MAC,
            (QR, "192.168.111.4"): VM_MAC}.get((dev, ip))


def engine(ns: Namespace | None = None) -> LinuxEngine:
    return LinuxEngine(HostState("test-ctrl-01", namespaces=(ns or router_ns(),)))


def line_of(rule: str) -> int:
    return NAT.splitlines().index(rule) + 1


def rule_texts(steps: tuple[Step, ...]) -> list[str]:
    """The rules that matched, as iptables-save prints them."""
    return [s.rule.text for s in steps if isinstance(s, RuleStep)]


def test_floating_ip_snat_and_reply_un_nat() -> None:
    eng, state = engine(), LinuxState()
    out = eng.receive(ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE), state, resolver)
    assert out.disposition is None, out.cause
    (egress,) = out.outputs
    assert egress.port == QG
    assert (egress.packet.nw_src, egress.packet.nw_dst) == ("192.168.100.102", OUTSIDE)
    assert (egress.packet.dl_src, egress.packet.dl_dst) == (QG_MAC, GW_MAC)
    assert egress.packet.nw_ttl == 63
    rules = rule_texts(out.steps)
    assert rules[-1] == ("-A neutron-l3-agent-float-snat -s 192.168.111.4/32 "
                         "-j SNAT --to-source 192.168.100.102")
    snat_step = [s for s in out.steps if isinstance(s, RuleStep)][-1]
    assert (snat_step.table, snat_step.rule.chain) == ("nat", "neutron-l3-agent-float-snat")
    assert snat_step.rule.line == line_of(snat_step.rule.text)
    assert snat_step.verdict is RuleVerdict.NAT
    assert [s.nat for s in out.steps if isinstance(s, NatStep)] == [NatKind.SNAT]

    reply = ipv4(GW_MAC, QG_MAC, OUTSIDE, "192.168.100.102").with_(tp_src=ICMP_ECHO_REPLY)
    back = eng.receive(ROUTER, QG, reply, state, resolver)
    assert back.disposition is None, back.cause
    (egress,) = back.outputs
    assert egress.port == QR
    assert (egress.packet.nw_src, egress.packet.nw_dst) == (OUTSIDE, "192.168.111.4")
    assert egress.packet.dl_dst == VM_MAC
    # an established reply never consults the nat table
    assert not any(s.table == "nat" for s in back.steps if isinstance(s, RuleStep))
    assert [s.nat for s in back.steps if isinstance(s, NatStep)] == [NatKind.UN_SNAT]


def test_floating_ip_dnat_inbound_and_reply() -> None:
    eng, state = engine(), LinuxState()
    inbound = ipv4(GW_MAC, QG_MAC, OUTSIDE, "192.168.100.102", IPPROTO_TCP, 40000, 22)
    out = eng.receive(ROUTER, QG, inbound, state, resolver)
    (egress,) = out.outputs
    assert egress.port == QR and egress.packet.nw_dst == "192.168.111.4"
    # mangle marked it 0x2 on qg-, so the "! --mark 0x2/0xffff --ctstate DNAT" SNAT skips it
    assert egress.packet.nw_src == OUTSIDE
    assert "-A neutron-l3-agent-PREROUTING -d 192.168.100.102/32 -j DNAT --to-destination " \
           "192.168.111.4" in rule_texts(out.steps)
    reply = ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE, IPPROTO_TCP, 22, 40000)
    back = eng.receive(ROUTER, QR, reply, state, resolver)
    (egress,) = back.outputs
    assert egress.port == QG
    assert (egress.packet.nw_src, egress.packet.tp_src) == ("192.168.100.102", 22)


def test_default_snat_for_a_port_without_floating_ip() -> None:
    eng, state = engine(), LinuxState()
    out = eng.receive(ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.9", OUTSIDE, IPPROTO_TCP,
                                       33000, 443), state, resolver)
    (egress,) = out.outputs
    assert egress.packet.nw_src == "192.168.100.103"
    assert rule_texts(out.steps)[-1] == ("-A neutron-l3-agent-snat -o qg-169d638e-0e "
                                         "-j SNAT --to-source 192.168.100.103")


def test_arp_for_floating_ip_is_answered_on_qg() -> None:
    eng, state = engine(), LinuxState()
    out = eng.receive(ROUTER, QG, arp_request(GW_MAC, "192.168.100.1", "192.168.100.102"),
                      state, resolver)
    (egress,) = out.outputs
    assert egress.port == QG
    assert (egress.packet.arp_spa, egress.packet.arp_sha) == ("192.168.100.102", QG_MAC)
    assert state.neighbour_cache("test-ctrl-01", ROUTER)[(QG, "192.168.100.1")] == GW_MAC
    other = eng.receive(ROUTER, QG, arp_request(GW_MAC, "192.168.100.1", "192.168.100.77"),
                        state, resolver)
    assert other.disposition == DROPPED and not other.outputs


def test_echo_to_router_address_is_accepted() -> None:
    eng, state = engine(), LinuxState()
    req = ipv4(VM_MAC, QR_MAC, "192.168.111.4", "192.168.111.1")
    out = eng.receive(ROUTER, QR, req, state, resolver)
    assert out.disposition == ACCEPTED and linux_why(out.cause) is LinuxWhy.LOCAL_DELIVERY
    assert isinstance(out.cause, LinuxFate) and out.cause.echo
    back = eng.send(ROUTER, echo_reply(req).with_(dl_src="", dl_dst=""), state, resolver)
    (egress,) = back.outputs
    assert egress.port == QR and egress.packet.nw_dst == "192.168.111.4"


def test_input_filter_drop_is_denied_and_names_rule() -> None:
    eng, state = engine(), LinuxState()
    pkt = ipv4(VM_MAC, QR_MAC, "192.168.111.4", "192.168.111.1", IPPROTO_TCP, 1234, 9697)
    out = eng.receive(ROUTER, QR, pkt, state, resolver)
    assert out.disposition == DENIED
    drop = "-A neutron-l3-agent-INPUT -p tcp -m tcp --dport 9697 -j DROP"
    assert isinstance(out.cause, Denial)
    (verdict,) = out.cause.verdicts
    assert verdict.rule is not None and (verdict.rule.line, verdict.rule.text) == (
        line_of(drop), drop)


def test_no_route_ttl_forwarding_and_neighbour() -> None:
    state = LinuxState()
    no_default = engine(router_ns(routes=()))
    out = no_default.receive(ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE),
                             state, resolver)
    assert out.disposition == NO_ROUTE
    ttl = engine().receive(ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE, ttl=1),
                           state, resolver)
    assert ttl.disposition == DROPPED and linux_why(ttl.cause) is LinuxWhy.TTL_EXPIRED
    off = engine(router_ns(sysctls=())).receive(
        ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE), state, resolver)
    assert off.disposition == DROPPED and linux_why(off.cause) is LinuxWhy.NOT_FORWARDING
    assert isinstance(off.cause, LinuxFate) and off.cause.knob == "net.ipv4.ip_forward"
    cold = engine().receive(ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE),
                            LinuxState(), lambda *a: None)
    assert cold.disposition == NEIGHBOUR_UNRESOLVED


def test_broadcast_is_delivered_locally_and_multicast_not_routed() -> None:
    eng, state = engine(), LinuxState()
    dhcp = ipv4(VM_MAC, "ff:ff:ff:ff:ff:ff", "0.0.0.0", "255.255.255.255", 17, 68, 67)
    out = eng.receive(ROUTER, QR, dhcp, state, resolver)
    assert out.disposition == ACCEPTED and not out.outputs
    mcast = ipv4(VM_MAC, "01:00:5e:00:00:fb", "192.168.111.4", "224.0.0.251", 17, 5353, 5353)
    res = eng.receive(ROUTER, QR, mcast, state, resolver)
    assert res.disposition == DROPPED and linux_why(res.cause) is LinuxWhy.MULTICAST_NOT_ROUTED


def test_router_itself_reaching_a_floating_ip_is_dnated_in_output_and_rerouted() -> None:
    eng, state = engine(), LinuxState()
    out = eng.send(ROUTER, ipv4("", "", "", "192.168.100.102"), state, resolver)
    (egress,) = out.outputs
    assert egress.port == QR and egress.packet.nw_dst == "192.168.111.4"
    # source 192.168.100.102 (the local route's), then the "! --mark 0x2/0xffff --ctstate DNAT"
    # SNAT to the gateway address, as Neutron's rules do to DNATed traffic not from qg-
    assert egress.packet.nw_src == "192.168.100.103"
    assert SourceAddressStep(address="192.168.100.102") in out.steps
    assert any(isinstance(s, RouteStep) and s.reroute for s in out.steps)
    assert "-A neutron-l3-agent-OUTPUT -d 192.168.100.102/32 -j DNAT --to-destination " \
           "192.168.111.4" in rule_texts(out.steps)
    local = eng.send(ROUTER, ipv4("", "", "", "192.168.111.1"), state, resolver)
    assert local.disposition == ACCEPTED


def test_answer_reject_with_tcp_reset_and_for_the_router_itself() -> None:
    import dataclasses

    ns = router_ns()
    filt = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with icmp-admin-prohibited\n"
            "-A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n"
            "-A FORWARD -p udp -j DROP\nCOMMIT\n")
    eng = engine(dataclasses.replace(ns, iptables=filt))
    state = LinuxState()
    ssh = ipv4(VM_MAC, QR_MAC, "192.168.111.4", "192.168.100.103", IPPROTO_TCP, 5000, 22)
    res = eng.receive(ROUTER, QR, ssh, state, resolver)
    ans = eng.answer(ROUTER, QR, ssh, res, state, resolver)
    assert ans is not None
    (back,) = ans.outputs
    assert (back.packet.nw_src, back.packet.tp_src, back.packet.tp_dst) == (
        "192.168.100.103", 3, 13)
    telnet = ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE, IPPROTO_TCP, 5001, 23)
    res = eng.receive(ROUTER, QR, telnet, state, resolver)
    ans = eng.answer(ROUTER, QR, telnet, res, state, resolver)
    assert ans is not None
    (rst,) = ans.outputs
    assert (rst.packet.nw_src, rst.packet.tp_src, rst.packet.tcp_flags) == (OUTSIDE, 23, 0x14)
    udp = ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE, 17, 5002, 53)
    res = eng.receive(ROUTER, QR, udp, state, resolver)
    assert res.disposition == DENIED
    assert eng.answer(ROUTER, QR, udp, res, state, resolver) is None  # DROP answers nothing


def test_bad_iptables_text_is_refused_when_the_engine_is_built_naming_host_and_namespace() -> None:
    import dataclasses

    import pytest

    from neutrace.errors import SyntaxParseError

    bad = dataclasses.replace(router_ns(), iptables=NAT.replace(
        "-A OUTPUT -j neutron-l3-agent-OUTPUT", "-A OUTPUT -m owner --uid-owner 0 -j ACCEPT"))
    with pytest.raises(SyntaxParseError) as info:
        engine(bad)
    err = info.value
    assert err.source == f"test-ctrl-01 namespace {ROUTER} (iptables-save)"
    assert err.line == NAT.splitlines().index("-A OUTPUT -j neutron-l3-agent-OUTPUT") + 1
    assert "-m owner" in str(err) and err.fix
    missing_set = dataclasses.replace(router_ns(), iptables=NAT.replace(
        "-A OUTPUT -j neutron-l3-agent-OUTPUT", "-A OUTPUT -m set --match-set NOPE src -j DROP"))
    with pytest.raises(SyntaxParseError, match="ipset 'NOPE', which is not defined"):
        engine(missing_set)


def test_state_describe_lists_neighbours_and_connections() -> None:
    eng, state = engine(), LinuxState()
    eng.receive(ROUTER, QR, ipv4(VM_MAC, QR_MAC, "192.168.111.4", OUTSIDE), state, resolver)
    text = state.describe()
    assert f"test-ctrl-01 {ROUTER} neigh: 192.168.100.1 dev {QG} lladdr {GW_MAC}" in text
    assert (f"test-ctrl-01 {ROUTER} conntrack: icmp src=192.168.111.4 dst={OUTSIDE} type=8 "
            f"[UNREPLIED] src={OUTSIDE} dst=192.168.100.102 type=0") in text
