"""sim.port_filter: what a port's security groups accept, read back from the flows of the
openvswitch firewall and from the hybrid driver's iptables chains, on examples/ovs-firewall with
both drivers: the same kinds of traffic, and the verdict of each agrees with the walk."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from neutrace import addr
from neutrace.agents import program
from neutrace.app import session
from neutrace.dataplane import CloudState, Flow
from neutrace.sim.port_filter import (
    EGRESS,
    INGRESS,
    Accept,
    FirewallWhy,
    PortFilter,
    firewall_drop,
    port_filter,
)
from neutrace.sim.scenarios import request_packet
from neutrace.sim.walk import Walker
from neutrace.syntax.ofctl import format_match
from neutrace.topology import load
from neutrace.trace import SUCCESS
from tests.support.paths import EXAMPLES

CLOUD = EXAMPLES / "ovs-firewall" / "cloud.yaml"
DRIVERS = ("openvswitch", "iptables_hybrid")


@functools.cache
def _state(driver: str) -> CloudState:
    cloud = load(CLOUD)
    hosts = tuple(dataclasses.replace(h, firewall_driver=driver) for h in cloud.hosts)
    return program(dataclasses.replace(cloud, hosts=hosts))


def _vm_port(state: CloudState, vm: str) -> tuple[str, str]:
    """(host, br-int port) of a VM's first NIC."""
    for h in state.hosts:
        ns = h.namespace(vm)
        if ns is not None:
            tap = next(i.peer for i in ns.interfaces if i.peer)
            assert tap is not None
            br = h.bridge("br-int")
            assert br is not None
            qvo = "qvo" + tap[3:]
            return h.name, qvo if br.port(qvo) is not None else tap
    raise AssertionError(vm)


def _filter(driver: str, vm: str, direction: str = INGRESS) -> PortFilter | None:
    state = _state(driver)
    host, port = _vm_port(state, vm)
    h = state.host(host)
    assert h is not None
    return port_filter(h, port, direction)


def _accepts(f: PortFilter) -> set[Accept]:
    return {dataclasses.replace(a, remote_group="x" if a.remote_group else "") for a in f.accepts}


def test_web_ingress_read_back_from_the_flows() -> None:
    f = _filter("openvswitch", "web")
    assert f is not None and f.driver == "openvswitch"
    members = ("10.20.0.20/32", "10.20.0.50/32", "10.20.0.100/32")
    assert Accept("IPv4", 6, ((80, 80),), remote=members, remote_group="conj_id=23") in f.accepts
    assert Accept("IPv4", 6, ((22, 22),)) in f.accepts
    assert Accept("IPv4", 1) in f.accepts
    assert Accept("IPv6", 58) in f.accepts


def test_both_drivers_read_the_same_rules() -> None:
    """Web's groups as the flows and as the iptables chains say; the hybrid chain also holds
    the DHCP/RA provider rules the openvswitch firewall installs as fixed flows."""
    ovs, hyb = _filter("openvswitch", "web"), _filter("iptables_hybrid", "web")
    assert ovs is not None and hyb is not None and hyb.driver == "iptables_hybrid"
    provider = {a for a in _accepts(hyb) if a.src_ports or (a.protocol == 58 and a.icmp_type)}
    assert _accepts(ovs) == _accepts(hyb) - provider


def test_egress_any_and_unfiltered_ports() -> None:
    f = _filter("openvswitch", "client", EGRESS)
    assert f is not None
    assert set(f.accepts) == {Accept("IPv4"), Accept("IPv6")}  # Neutron's default egress rules
    for driver in DRIVERS:
        assert _filter(driver, "open") is None  # port security off: no filter


CASES = [("client", "web", "tcp", 80, True), ("stranger", "web", "tcp", 80, False),
         ("stranger", "web", "tcp", 22, True), ("client", "web", "udp", 53, False),
         ("client", "web", "icmp", 0, True), ("10.20.0.100", "web", "tcp", 80, True),
         ("web", "client", "tcp", 40000, False), ("client", "fd00:20::10", "icmp", 0, True)]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("src", "dst", "proto", "dport", "accepted"), CASES)
def test_verdict_agrees_with_the_walk(driver: str, src: str, dst: str, proto: str, dport: int,
                                      accepted: bool) -> None:
    w = Walker(_state(driver))
    conv = session.trace(w, src, dst, proto=proto, dport=dport)
    target = "web" if ":" in dst or dst[0].isdigit() else dst
    delivered = any(f.kind in SUCCESS and hops and hops[-1].element == target
                    for hops, f in conv.request.paths())
    f = _filter(driver, target)
    assert f is not None
    src_ip = session.find_endpoint(w, src, toward=conv.request.packet.dst_ip).ip
    pkt = request_packet(src_ip, conv.request.packet.dst_ip, proto, dport)
    assert bool(f.accepting(pkt)) == accepted == delivered


def _lookups(driver_state: CloudState, host: str, *picks: tuple[int, int, str]) -> list[
        tuple[int, Flow]]:
    """(table, flow) of br-int's flows chosen by (table, priority, a text the match holds)."""
    h = driver_state.host(host)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    out = []
    for table, priority, holds in picks:
        out.append((table, next(f for f in br.flows if f.table == table and f.priority == priority
                                and holds in format_match(f))))
    return out


def test_firewall_drop_no_rule_names_what_the_port_accepts() -> None:
    state = _state("openvswitch")
    host, port = _vm_port(state, "web")
    h = state.host(host)
    assert h is not None
    ofport = h.bridge("br-int").port(port).ofport  # type: ignore[union-attr]
    reg5 = f"reg5={ofport:#x}"
    drop = firewall_drop(h, _lookups(state, host, (60, 90, ""), (81, 90, reg5),
                                     (82, 40, f"ct_state=-est,{reg5}"), (93, 0, "")))
    assert drop is not None and drop.why == FirewallWhy.NO_RULE
    assert drop.port == port and drop.direction == INGRESS
    assert drop.filter == _filter("openvswitch", "web")


def test_firewall_drop_spoofed_source_lists_the_allowed_pairs() -> None:
    state = _state("openvswitch")
    host, port = _vm_port(state, "vip")
    h = state.host(host)
    assert h is not None
    ofport = h.bridge("br-int").port(port).ofport  # type: ignore[union-attr]
    drop = firewall_drop(h, _lookups(state, host, (60, 100, f"in_port={ofport}"),
                                     (71, 10, f"in_port={ofport}"), (93, 0, "")))
    assert drop is not None and drop.why == FirewallWhy.SPOOFED and drop.direction == EGRESS
    mac = h.namespace("vip").interfaces[1].mac  # type: ignore[union-attr]
    assert set(drop.allowed_sources) == {(mac, "10.20.0.50"), (mac, "10.20.0.100"),
                                         (mac, addr.ipv6_lla(mac or ""))}
    assert firewall_drop(h, _lookups(state, host, (60, 100, f"in_port={ofport}"))) is None
