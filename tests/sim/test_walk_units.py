"""The walker on small hand-built data-plane states: loops, bounds, the underlay without a
peer, VLAN devices on a segment."""

from __future__ import annotations

from neutrace.dataplane import (
    NS_EXTERNAL,
    PHYSICAL,
    CloudState,
    Flow,
    HostState,
    Interface,
    Namespace,
    OvsBridge,
    OvsPort,
)
from neutrace.packet import arp_request
from neutrace.sim.walk import SimState, Walker
from neutrace.trace import DROPPED, LIMIT, LOOP, WalkWhy
from tests.support.facts import walk_fate

NORMAL = Flow(0, 0, (), "NORMAL")


def _looped_cloud() -> CloudState:
    """One host whose bridge has two NICs on the same segment: a broadcast comes back."""
    bridge = OvsBridge("br-x", ports=(OvsPort("eth3", 1), OvsPort("eth4", 2)), flows=(NORMAL,),
                       fail_mode="secure")
    root = Namespace("", interfaces=(
        Interface("eth3", PHYSICAL, mac="02:00:00:00:00:03", segment="s"),
        Interface("eth4", PHYSICAL, mac="02:00:00:00:00:04", segment="s")))
    outside = Namespace("pc", kind=NS_EXTERNAL, interfaces=(
        Interface("eth0", PHYSICAL, mac="02:00:00:00:00:99", addresses=("10.0.0.9/24",),
                  segment="s"),))
    return CloudState(hosts=(HostState("h1", ovs_bridges=(bridge,), namespaces=(root,)),),
                      external=(outside,))


def test_loop_is_detected_and_named() -> None:
    w = Walker(_looped_cloud())
    frame = arp_request("02:00:00:00:00:99", "10.0.0.9", "10.0.0.1")
    t = w.emit("", "pc", "eth0", frame, SimState.cold())
    kinds = {d.kind for d in t.dispositions()}
    assert LOOP in kinds
    loop = next(d for d in t.dispositions() if d.kind == LOOP)
    assert walk_fate(loop, WalkWhy.LOOP).element == loop.element


def test_walk_is_bounded() -> None:
    w = Walker(_looped_cloud(), max_hops=3)
    frame = arp_request("02:00:00:00:00:99", "10.0.0.9", "10.0.0.1")
    t = w.emit("", "pc", "eth0", frame, SimState.cold())
    assert LIMIT in {d.kind for d in t.dispositions()}


def test_tunnel_to_unknown_host_is_dropped() -> None:
    tun = OvsPort("vxlan-0a000002", 2, type="vxlan",
                  options=(("in_key", "flow"), ("local_ip", "10.0.0.1"), ("out_key", "flow"),
                           ("remote_ip", "10.0.0.2")))
    br = OvsBridge("br-tun", ports=(OvsPort("p0", 1), tun),
                   flows=(Flow(0, 1, (("in_port", "1"),), "set_field:0x5->tun_id,output:2"),))
    root = Namespace("", interfaces=(Interface("p0", PHYSICAL, mac="02:00:00:00:00:01",
                                               segment="s"),))
    cloud = CloudState(hosts=(HostState("h1", tunnel_ip="10.0.0.1", ovs_bridges=(br,),
                                        namespaces=(root,)),))
    w = Walker(cloud)
    t = w.inject("h1", "p0", arp_request("02:00:00:00:00:01", "1.1.1.1", "1.1.1.2"),
                 SimState.cold())
    (hops, fate), = list(t.paths())
    assert fate.kind == DROPPED and walk_fate(fate, WalkWhy.NO_TUNNEL_HOST).ip == "10.0.0.2"
    assert hops[-1].element == "underlay" and hops[-1].packet.tun_id == 5
