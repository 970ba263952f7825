"""Walks through the security-group drivers, end to end on examples/ovs-firewall: the same cloud
with every host on the openvswitch firewall (as written), on iptables_hybrid and on noop.

The drivers must agree on what security groups allow (a raw rule, a remote-group rule and its
members, allowed address pairs, port security off, conntrack letting replies in although the
client's group has no ingress rule) and differ where Neutron's do: noop allows everything,
spoofed sources included. Across two compute hosts (VXLAN), to the outside through the router
(SNAT), replies through the state the request left, and warm walks that see the connection
established."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from neutrace.agents import program
from neutrace.app import session
from neutrace.sim.scenarios import Conversation, is_ip
from neutrace.sim.walk import SimState, Walker
from neutrace.topology import load
from neutrace.trace import DELIVERED, EXITED, SUCCESS, Trace
from tests.support.paths import EXAMPLES

CLOUD = EXAMPLES / "ovs-firewall" / "cloud.yaml"
DRIVERS = ("openvswitch", "iptables_hybrid", "noop")


@functools.cache
def _walker(driver: str) -> Walker:
    cloud = load(CLOUD)
    hosts = tuple(dataclasses.replace(h, firewall_driver=driver) for h in cloud.hosts)
    return Walker(program(dataclasses.replace(cloud, hosts=hosts)))


def _reached(t: Trace) -> list[str]:
    """Where the copies that succeeded ended (the VM or outside host)."""
    return sorted(hops[-1].element for hops, fate in t.paths() if fate.kind in SUCCESS and hops)


def _fates(t: Trace) -> set[str]:
    return {fate.kind for _hops, fate in t.paths()}


# (from, to, proto, dport, reached by openvswitch/iptables_hybrid, by noop)
CASES = [
    ("client", "web", "tcp", 80, True, True),        # remote group: client is in "clients"
    ("stranger", "web", "tcp", 80, False, True),     # remote group: stranger is not
    ("stranger", "web", "tcp", 22, True, True),      # a raw rule: tcp/22 from anywhere
    ("client", "web", "udp", 53, False, True),       # no rule at all
    ("client", "web", "icmp", 0, True, True),
    ("10.20.0.100", "web", "tcp", 80, True, True),   # vip's allowed address pair: a member
    ("10.20.0.101", "web", "tcp", 22, False, True),  # spoofed: no pair allows it
    ("stranger", "open", "tcp", 9999, True, True),   # port security off: anything in
    ("web", "client", "tcp", 40000, False, True),    # clients have no ingress rule
    ("client", "fd00:20::10", "icmp", 0, True, True),  # ICMPv6 allowed by web's rule
]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("src", "dst", "proto", "dport", "filtered", "noop"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}{c[3] or ''}" for c in CASES])
def test_security_groups_decide_alike(driver: str, src: str, dst: str, proto: str, dport: int,
                                      filtered: bool, noop: bool) -> None:
    w = _walker(driver)
    conv = session.trace(w, src, dst, proto=proto, dport=dport, reply=True)
    want = noop if driver == "noop" else filtered
    target = "web" if is_ip(dst) else dst
    assert (target in _reached(conv.request)) == want, _fates(conv.request)
    if want:
        # the reply comes back through the state the request left (conntrack)
        assert conv.reply is not None and conv.reply.success, _fates(conv.reply or conv.request)


@pytest.mark.parametrize("driver", DRIVERS)
def test_dhcp_through_the_firewall(driver: str) -> None:
    """The DISCOVER (from 0.0.0.0) reaches the DHCP port, the OFFER comes back into the port;
    an instance answering as a DHCP server (udp 67 -> 68) is stopped at its own port."""
    w = _walker(driver)
    conv = session.dhcp(w, "web")
    assert any(e.startswith("qdhcp-") for e in _reached(conv.request))
    assert conv.reply is not None and "web" in _reached(conv.reply)
    rogue = session.trace(w, "stranger", "web", proto="udp", dport=68, sport=67)
    assert ("web" in _reached(rogue.request)) == (driver == "noop")


@pytest.mark.parametrize("driver", DRIVERS[:2])
def test_reply_only_through_conntrack(driver: str) -> None:
    """The client's group has no ingress rule: web's answer reaches it as a reply only."""
    w = _walker(driver)
    conv = session.trace(w, "client", "web", proto="tcp", dport=80, reply=True)
    assert conv.reply is not None and "client" in _reached(conv.reply)
    cold = session.trace(w, "web", "client", proto="tcp", dport=40000)
    assert "client" not in _reached(cold.request)


@pytest.mark.parametrize("driver", DRIVERS)
def test_north_south_through_the_router(driver: str) -> None:
    w = _walker(driver)
    conv = session.trace(w, "client", "203.0.113.10", reply=True)
    (hops, fate), = [(h, f) for h, f in conv.request.paths() if f.kind == EXITED] or [
        ((), None)]
    assert fate is not None, _fates(conv.request)
    assert any(h.element.startswith("qrouter-") for h in hops)
    assert hops[-1].packet.nw_src == "192.0.2.100"  # SNAT to the router's gateway address
    assert conv.reply is not None
    assert "client" in _reached(conv.reply)


@pytest.mark.parametrize("driver", DRIVERS[:2])
def test_warm_walk_sees_the_connection_established(driver: str) -> None:
    w = _walker(driver)
    state = SimState.cold()
    first = session.trace(w, "client", "web", proto="tcp", dport=80, reply=True, state=state)
    assert "web" in _reached(first.request)
    before = state.openflow.connections() + _linux_connections(state)
    warm: Conversation = session.trace(w, "client", "web", proto="tcp", dport=80, reply=True,
                                       state=state)
    assert "web" in _reached(warm.request) and warm.reply is not None and warm.reply.success
    # the same connection: no new conntrack entry
    assert state.openflow.connections() + _linux_connections(state) == before
    assert before > 0


def _linux_connections(state: SimState) -> int:
    """Conntrack entries of every namespace (the hybrid firewall's are the root's)."""
    return sum(len(table) for table in state.linux.conntrack.values())


def test_openvswitch_firewall_uses_ovs_conntrack_per_network_zone() -> None:
    w = _walker("openvswitch")
    state = SimState.cold()
    session.trace(w, "client", "web", proto="tcp", dport=80, reply=True, state=state)
    zones = {(host, zone) for (host, zone) in state.openflow.conntrack}
    # the local VLAN of "private" is 1 on both compute hosts: their zone (reg6)
    assert {("cmp-01", 1), ("cmp-02", 1)} <= zones
    assert all(conn.replied for conns in state.openflow.conntrack.values()
               for conn in conns.values())


def test_delivered_copy_is_the_one_for_the_destination() -> None:
    w = _walker("openvswitch")
    conv = session.trace(w, "client", "web", proto="tcp", dport=80)
    delivered = [hops[-1].element for hops, fate in conv.request.paths()
                 if fate.kind == DELIVERED]
    assert delivered == ["web"]
