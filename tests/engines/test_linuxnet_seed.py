"""The Linux engines on the namespaces the agents generate for the seed cloud
(examples/seed/cloud.yaml): the qrouter's floating-IP SNAT and its reply, and test-02's qbr with
the iptables_hybrid security group."""

from __future__ import annotations

import pytest

from neutrace.agents import program
from neutrace.dataplane import CloudState, HostState
from neutrace.engines.linuxnet import LinuxEngine, LinuxState
from neutrace.packet import ICMP_ECHO_REPLY, IPPROTO_TCP, ipv4
from neutrace.topology import load
from neutrace.trace import (
    DENIED,
    ConntrackStep,
    NatKind,
    NatStep,
    RuleStep,
    RuleVerdict,
)
from tests.support.facts import denied_rules
from tests.support.paths import SEED_YAML

ROUTER = "qrouter-c8aec0d9-3203-4bdb-9237-9818603f521f"
QR, QG = "qr-466214fa-3d", "qg-169d638e-0e"
GW_MAC = "52:54:00:12:34:56"
OUTSIDE = "203.0.113.10"


@pytest.fixture(scope="module")
def seed() -> CloudState:
    return program(load(str(SEED_YAML)))


def host(seed: CloudState, name: str) -> HostState:
    h = seed.host(name)
    assert h is not None
    return h


def mac_of(seed: CloudState, host_name: str, ns: str, dev: str) -> str:
    n = host(seed, host_name).namespace(ns)
    assert n is not None
    itf = n.interface(dev)
    assert itf is not None and itf.mac is not None
    return itf.mac


def test_seed_router_snats_test02_to_its_floating_ip_and_un_nats_the_reply(
    seed: CloudState,
) -> None:
    ctrl = host(seed, "test-ctrl-01")
    eng, state = LinuxEngine(ctrl), LinuxState()
    vm_mac = mac_of(seed, "test-cmpt-02", "test-02", "eth0")
    qr_mac = mac_of(seed, "test-ctrl-01", ROUTER, QR)
    qg_mac = mac_of(seed, "test-ctrl-01", ROUTER, QG)

    def resolve(h: str, ns: str, dev: str, ip: str) -> str | None:
        return {(QG, "192.168.100.1"): GW_MAC, (QR, "192.168.111.4"): vm_mac}.get((dev, ip))

    out = eng.receive(ROUTER, QR, ipv4(vm_mac, qr_mac, "192.168.111.4", OUTSIDE), state, resolve)
    assert out.disposition is None, out.cause
    (egress,) = out.outputs
    assert egress.port == QG
    assert (egress.packet.nw_src, egress.packet.nw_dst) == ("192.168.100.102", OUTSIDE)
    assert (egress.packet.dl_src, egress.packet.dl_dst) == (qg_mac, GW_MAC)
    snat = [s for s in out.steps if isinstance(s, RuleStep) and s.verdict is RuleVerdict.NAT]
    assert [s.rule.text for s in snat] == [
        "-A neutron-l3-agent-float-snat -s 192.168.111.4/32 -j SNAT --to-source 192.168.100.102 "
        "--random-fully"]
    router_ns = ctrl.namespace(ROUTER)
    assert router_ns is not None
    assert router_ns.iptables.splitlines()[snat[0].rule.line - 1] == snat[0].rule.text
    # the address-scope mark lets it through filter's scope chain; CONNMARK saved it on qg-
    (entry,) = list(state.conntrack_of("test-ctrl-01", ROUTER))
    assert entry.mark == 0x4000000 and entry.src_nat

    reply = ipv4(GW_MAC, qg_mac, OUTSIDE, "192.168.100.102").with_(tp_src=ICMP_ECHO_REPLY)
    back = eng.receive(ROUTER, QG, reply, state, resolve)
    assert back.disposition is None, back.cause
    (egress,) = back.outputs
    assert egress.port == QR
    assert (egress.packet.nw_src, egress.packet.nw_dst) == (OUTSIDE, "192.168.111.4")
    assert egress.packet.dl_dst == vm_mac
    assert [s.nat for s in back.steps if isinstance(s, NatStep)] == [NatKind.UN_SNAT]


def test_seed_test02_security_group_on_its_qbr(seed: CloudState) -> None:
    cmpt = host(seed, "test-cmpt-02")
    eng, state = LinuxEngine(cmpt), LinuxState()
    vm_mac = mac_of(seed, "test-cmpt-02", "test-02", "eth0")
    qbr, tap, qvb = "qbr1b17c0cc-9f", "tap1b17c0cc-9f", "qvb1b17c0cc-9f"
    router_mac = mac_of(seed, "test-ctrl-01", ROUTER, QR)

    out = eng.bridge(qbr, tap, ipv4(vm_mac, router_mac, "192.168.111.4", OUTSIDE, IPPROTO_TCP,
                                    40000, 80, tcp_flags=0x02), state)
    assert [o.port for o in out.outputs] == [qvb], out.cause
    rules = [s.rule.text for s in out.steps if isinstance(s, RuleStep)]
    assert ('-A neutron-openvswi-s1b17c0cc-9 -s 192.168.111.4/32 -m mac --mac-source '
            'FA:16:3E:6F:94:92 -m comment --comment "Allow traffic from defined IP/MAC pairs." '
            '-j RETURN') in rules
    assert rules[-1] == "-A neutron-openvswi-sg-chain -j ACCEPT"

    # the reply comes back in through qvb: conntrack (zone 4097) lets it in
    back = eng.bridge(qbr, qvb, ipv4(router_mac, vm_mac, OUTSIDE, "192.168.111.4", IPPROTO_TCP,
                                     80, 40000, tcp_flags=0x12), state)
    assert [o.port for o in back.outputs] == [tap], back.cause
    assert any(isinstance(s, ConntrackStep) and (s.state, s.zone) == ("ESTABLISHED", 4097)
               for s in back.steps)

    # a new connection from outside to test-02 is not in the default group: fallback drop
    new = eng.bridge(qbr, qvb, ipv4(router_mac, vm_mac, OUTSIDE, "192.168.111.4", IPPROTO_TCP,
                                    40001, 22, tcp_flags=0x02), state)
    assert new.disposition == DENIED and not new.outputs
    assert denied_rules(new.cause) == ["-A neutron-openvswi-sg-fallback -m comment --comment "
                                       '"Default drop rule for unmatched traffic." -j DROP']
    # ... while test-01 (a member of the default group, in the ipset) may connect
    member = eng.bridge(qbr, qvb, ipv4(router_mac, vm_mac, "192.168.100.101", "192.168.111.4",
                                       IPPROTO_TCP, 40002, 22, tcp_flags=0x02), state)
    assert [o.port for o in member.outputs] == [tap], member.cause


def test_seed_vm_and_external_namespaces_route(seed: CloudState) -> None:
    cmpt = host(seed, "test-cmpt-02")
    eng = LinuxEngine(cmpt)
    out = eng.send("test-02", ipv4("", "", "", OUTSIDE), LinuxState(),
                   lambda h, ns, dev, ip: "fa:16:3e:00:00:01" if ip == "192.168.111.1" else None)
    (egress,) = out.outputs
    assert egress.port == "eth0" and egress.packet.nw_src == "192.168.111.4"
    outside = LinuxEngine(HostState("", namespaces=seed.external))
    names = [n.name for n in seed.external]
    assert "upstream-gw" in names
    res = outside.receive("upstream-gw", "eth0", ipv4(GW_MAC, outside.namespace(
        "upstream-gw").interfaces[0].mac or "", "192.168.100.102", OUTSIDE), LinuxState(),
        lambda h, ns, dev, ip: "02:00:00:00:00:99")
    assert res.disposition is None, res.cause
    (fwd,) = res.outputs
    assert fwd.port == "eth1" and fwd.packet.nw_dst == OUTSIDE and fwd.packet.nw_ttl == 63
