"""Routing against naive references (hypothesis), policy rules, and the Linux bridge's FDB."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from neutrace.dataplane import (
    BRIDGE,
    OVS_INTERNAL,
    VETH,
    HostState,
    Interface,
    Namespace,
    Route,
    Rule,
)
from neutrace.engines.linuxnet import (
    Fib,
    LinuxEngine,
    LinuxState,
    RouteEntry,
    longest_prefix_match,
)
from neutrace.packet import ipv4
from neutrace.trace import DROPPED, FdbDecision, FdbStep, LinuxWhy
from tests.support.facts import linux_why

NETS = st.builds(lambda a, b, p: ipaddress.ip_network(f"{a}.{b}.0.0/{p}", strict=False),
                 st.integers(0, 255), st.integers(0, 255), st.integers(0, 32))
ROUTES = st.lists(st.tuples(NETS, st.integers(0, 3)), max_size=12).map(
    lambda rs: tuple(RouteEntry(n, f"eth{i}", "main", metric=m)
                     for i, (n, m) in enumerate(rs)))
ADDRS = st.builds(lambda x: str(ipaddress.IPv4Address(x)), st.integers(0, 2**32 - 1))


def brute_force(routes: tuple[RouteEntry, ...], dst: str) -> RouteEntry | None:
    ip = ipaddress.ip_address(dst)
    covering = [r for r in routes if ip in r.network]
    if not covering:
        return None
    longest = max(r.network.prefixlen for r in covering)
    best = [r for r in covering if r.network.prefixlen == longest]
    lowest = min(r.metric for r in best)
    return [r for r in best if r.metric == lowest][0]


@settings(max_examples=300, deadline=None)
@given(ROUTES, ADDRS)
def test_longest_prefix_match_against_brute_force(routes: tuple[RouteEntry, ...], dst: str) -> None:
    assert longest_prefix_match(routes, dst) == brute_force(routes, dst)


@settings(max_examples=100, deadline=None)
@given(ROUTES, ADDRS)
def test_lpm_routes_contain_destination(routes: tuple[RouteEntry, ...], dst: str) -> None:
    hit = longest_prefix_match(routes, dst)
    if hit is not None:
        assert ipaddress.ip_address(dst) in hit.network


def test_connected_routes_rules_and_fwmark() -> None:
    ns = Namespace("r", interfaces=(
        Interface("qr-1", OVS_INTERNAL, addresses=("10.0.0.1/24",)),
        Interface("qg-1", OVS_INTERNAL, addresses=("172.24.4.10/24", "172.24.4.11/32")),
        Interface("rfp-1", VETH, addresses=("169.254.0.1/31",)),
    ), routes=(
        Route("default", "qg-1", "172.24.4.1"),
        Route("default", "rfp-1", "169.254.0.0", table="16"),
    ), rules=(Rule(100, "16", fwmark="0x4/0xffff"), Rule(200, "16", source="10.0.0.5/32")))
    fib = Fib(ns)
    assert fib.is_local("172.24.4.11") and fib.is_local("172.24.4.255")
    assert not fib.is_local("172.24.4.12")
    assert fib.lookup("10.0.0.7")[1].device == "qr-1"  # type: ignore[index]
    assert fib.lookup("8.8.8.8", "10.0.0.9")[1].device == "qg-1"  # type: ignore[index]
    assert fib.lookup("8.8.8.8", "10.0.0.5")[1].device == "rfp-1"  # type: ignore[index]
    assert fib.lookup("8.8.8.8", "10.0.0.9", mark=0x10004)[1].device == "rfp-1"  # type: ignore[index]
    # a /32 address gives no prefix route
    assert not any(r.network.prefixlen == 32 for r in fib.tables["254"])


def bridge_host() -> LinuxEngine:
    root = Namespace("", interfaces=(
        Interface("qbr1", BRIDGE, "02:00:00:00:00:10"),
        Interface("tap1", "tap", master="qbr1"),
        Interface("qvb1", VETH, master="qbr1", peer="qvo1", peer_namespace=""),
        Interface("x1", VETH, master="qbr1", peer="y1", peer_namespace=""),
    ))
    return LinuxEngine(HostState("h", namespaces=(root,)))


def test_bridge_learns_floods_and_never_sends_back() -> None:
    eng, st_ = bridge_host(), LinuxState()
    a, b = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b"
    first = eng.bridge("qbr1", "tap1", ipv4(a, b, "10.0.0.1", "10.0.0.2"), st_)
    assert sorted(o.port for o in first.outputs) == ["qvb1", "x1"]
    assert st_.fdb_of("h", "qbr1") == {a: "tap1"}
    back = eng.bridge("qbr1", "qvb1", ipv4(b, a, "10.0.0.2", "10.0.0.1").with_(tp_src=0), st_)
    assert [o.port for o in back.outputs] == ["tap1"]
    assert any(isinstance(s, FdbStep) and s.decision is FdbDecision.LEARNED for s in back.steps)
    hairpin = eng.bridge("qbr1", "tap1", ipv4(b, a, "10.0.0.2", "10.0.0.1"), st_)
    # a (learned on tap1) is behind the input port: not sent back
    assert hairpin.disposition == DROPPED and not hairpin.outputs
    copy = st_.copy()
    eng.bridge("qbr1", "x1", ipv4(a, b, "10.0.0.1", "10.0.0.2"), copy)
    assert copy.fdb_of("h", "qbr1")[a] == "x1" and st_.fdb_of("h", "qbr1")[a] == "tap1"


def test_arp_ignore_one_only_answers_for_the_receiving_interface() -> None:
    from neutrace.packet import arp_request

    ns = Namespace("r", interfaces=(
        Interface("a", OVS_INTERNAL, "02:00:00:00:00:0a", addresses=("10.0.0.1/24",)),
        Interface("b", OVS_INTERNAL, "02:00:00:00:00:0b", addresses=("10.1.0.1/24",)),
    ))
    req = arp_request("02:00:00:00:00:99", "10.0.0.9", "10.1.0.1")
    eng = LinuxEngine(HostState("h", namespaces=(ns,)))
    assert eng.receive("r", "a", req, LinuxState(), lambda *x: None).outputs
    strict = Namespace("r", interfaces=ns.interfaces,
                       sysctls=(("net.ipv4.conf.all.arp_ignore", "1"),))
    eng2 = LinuxEngine(HostState("h", namespaces=(strict,)))
    assert eng2.receive("r", "a", req, LinuxState(), lambda *x: None).disposition == DROPPED


def test_source_address_follows_the_next_hops_subnet_and_blackhole_routes_drop() -> None:
    ns = Namespace("r", interfaces=(
        Interface("qg-1", OVS_INTERNAL, "02:00:00:00:00:01",
                  addresses=("172.24.4.10/24", "198.51.100.7/24")),
    ), routes=(Route("default", "qg-1", "198.51.100.1"), Route("10.66.0.0/16", "")))
    eng = LinuxEngine(HostState("h", namespaces=(ns,)))
    out = eng.send("r", ipv4("", "", "", "8.8.8.8"), LinuxState(), lambda *a: "02:00:00:00:00:09")
    (egress,) = out.outputs
    assert egress.packet.nw_src == "198.51.100.7"
    hole = eng.send("r", ipv4("", "", "", "10.66.1.1"), LinuxState(), lambda *a: None)
    assert hole.disposition == DROPPED and linux_why(hole.cause) is LinuxWhy.BLACKHOLE


def test_arp_ignore_two_needs_a_subnet_with_sender_and_target_and_all_or_dev_wins() -> None:
    from neutrace.packet import arp_request

    itfs = (Interface("qg", OVS_INTERNAL, "02:00:00:00:00:0a",
                      addresses=("172.24.4.10/24", "172.24.4.20/32")),)
    for sysctls, spa, tpa, answered in (
        ((("net.ipv4.conf.all.arp_ignore", "2"),), "172.24.4.1", "172.24.4.10", True),
        ((("net.ipv4.conf.all.arp_ignore", "2"),), "172.24.4.1", "172.24.4.20", True),
        ((("net.ipv4.conf.all.arp_ignore", "2"),), "10.9.9.9", "172.24.4.20", False),
        ((("net.ipv4.conf.qg.arp_ignore", "1"),), "172.24.4.1", "172.24.4.20", True),
        ((("net.ipv4.conf.qg.arp_ignore", "8"), ("net.ipv4.conf.all.arp_ignore", "1")),
         "172.24.4.1", "172.24.4.10", False),
    ):
        ns = Namespace("r", interfaces=itfs, sysctls=sysctls)
        eng = LinuxEngine(HostState("h", namespaces=(ns,)))
        res = eng.receive("r", "qg", arp_request("02:00:00:00:00:99", spa, tpa), LinuxState(),
                          lambda *a: None)
        assert bool(res.outputs) == answered, (sysctls, tpa)
