"""Loading `OvsBridge`s into a real ovs-vswitchd and tracing there (neutrace.backends.ovs_load),
checked with OVS's own tools; and the microflow syntax checked against OVS's flow parser/printer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from neutrace.backends.ovs_load import (
    OvsTracer,
    UnixctlClient,
    delete_bridges,
    load_bridges,
    load_flows,
)
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import Flow, OvsBridge, OvsPort
from neutrace.errors import BackendError
from neutrace.packet import Packet, arp_request
from neutrace.syntax.microflow import Microflow, format_microflow, parse_microflow
from neutrace.syntax.ofctl import parse_flows
from neutrace.syntax.ovsdump import parse_ofctl_show, parse_vsctl_show
from tests.support.neutron_like import CASES, P_TEST02, TEST02_IP, TEST02_MAC, bridges
from tests.support.strategies import packets

pytestmark = pytest.mark.ovs

NAMES = [b.name for b in bridges()]


@pytest.fixture(scope="module")
def tracer(ovs_sandbox: OvsSandbox) -> Iterator[OvsTracer]:
    load_bridges(ovs_sandbox, bridges())
    try:
        with OvsTracer(ovs_sandbox) as t:
            yield t
    finally:
        delete_bridges(ovs_sandbox, NAMES)


def test_loaded_ports_match_the_model(tracer: OvsTracer) -> None:
    sb = tracer.sandbox
    show = parse_vsctl_show(sb.vsctl("show"))
    for model in bridges():
        real = show.bridge(model.name)
        assert real is not None and real.datapath_type == "dummy"
        assert real.fail_mode == model.fail_mode
        ofctl = parse_ofctl_show(sb.ofctl("show", model.name))
        for p in model.ports:
            rp = real.port(p.name)
            assert rp is not None, p.name
            assert rp.tag == p.tag and rp.trunks == p.trunks
            assert rp.interfaces[0].type == p.type
            assert rp.interfaces[0].options == p.options
            op = ofctl.by_name(p.name)
            assert op is not None and op.ofport == p.ofport
    protos = sb.vsctl("get", "Bridge", "br-int", "protocols")
    assert "OpenFlow13" in protos and "OpenFlow14" in protos


def test_loaded_flows_are_the_models_flows(tracer: OvsTracer) -> None:
    # OVS prints actions in its own spelling (which varies across versions): compare the rest
    for model in bridges():
        dumped = parse_flows(tracer.sandbox.ofctl("dump-flows", "--no-stats", model.name))
        key = sorted((f.table, f.priority, f.cookie, len(f.match)) for f in dumped)
        assert key == sorted((f.table, f.priority, f.cookie, len(f.match)) for f in model.flows)


def test_trace_arp_request_follows_patch_ports(tracer: OvsTracer) -> None:
    pkt = arp_request(TEST02_MAC, TEST02_IP, "192.168.111.1")
    rt = tracer.trace("br-int", P_TEST02, pkt)
    visits = [(v.bridge, v.table) for v in rt.trace.visits]
    assert visits[:3] == [("br-int", 0), ("br-int", 24), ("br-int", 25)]
    # NORMAL floods the patch ports in OVS's (hash) order
    assert sorted(visits[3:]) == [("br-ex", 0), ("br-tun", 0), ("br-tun", 2), ("br-tun", 22)]
    outs = {(o.bridge, o.port): o.packet for o in rt.outputs}
    assert set(outs) == {("br-tun", "vxlan-c0a8780b"), ("br-tun", "vxlan-c0a87815"),
                         ("br-int", "br-int")}
    assert outs[("br-int", "br-int")].vlan_vid == 1  # LOCAL is a trunk: the tag stays
    assert outs[("br-tun", "vxlan-c0a8780b")].vlan_vid is None  # strip_vlan in table 22


def test_every_case_traces(tracer: OvsTracer) -> None:
    for case in CASES:
        rt = tracer.trace(case.bridge, case.in_port, case.packet)
        assert rt.trace.visits, case.name
        assert rt.trace.visits[0].bridge == case.bridge


def test_replace_flows_swaps_atomically(ovs_sandbox: OvsSandbox) -> None:
    br = OvsBridge("nt-swap", ports=(OvsPort("sw1", 1), OvsPort("sw2", 2)),
                   flows=(Flow(0, 1, (), "output:2"),))
    load_bridges(ovs_sandbox, [br])
    try:
        with OvsTracer(ovs_sandbox) as t:
            pkt = arp_request("fa:16:3e:00:00:01", "10.0.0.1", "10.0.0.2")
            assert [o.port for o in t.trace("nt-swap", "sw1", pkt).outputs] == ["sw2"]
            load_flows(ovs_sandbox, "nt-swap", "table=0,priority=1 actions=drop\n", replace=True)
            assert t.trace("nt-swap", "sw1", pkt).outputs == ()
            with pytest.raises(BackendError):
                load_flows(ovs_sandbox, "nt-swap", "table=0,priority=1 actions=output:2\n"
                           "table=0,priority=1,bogus=1 actions=drop\n", replace=True)
            assert t.trace("nt-swap", "sw1", pkt).outputs == ()  # the bad bundle changed nothing
    finally:
        delete_bridges(ovs_sandbox, ["nt-swap"])


def test_unixctl_errors_are_backend_errors(ovs_sandbox: OvsSandbox) -> None:
    with UnixctlClient(ovs_sandbox.vswitchd_ctl) as c:
        with pytest.raises(BackendError, match="no-such-command"):
            c.call("no-such-command")
        assert "ovs-vswitchd" in c.call("version")  # the connection survives an error
    with pytest.raises(BackendError, match="cannot connect"):
        UnixctlClient(ovs_sandbox.dir / "nope.ctl").connect()


@pytest.fixture(scope="module")
def echo_bridge(ovs_sandbox: OvsSandbox) -> Iterator[OvsTracer]:
    load_bridges(ovs_sandbox, [OvsBridge("nt-echo", ports=(OvsPort("echo1", 1),),
                                         flows=(Flow(0, 0, (), "drop"),))])
    try:
        with OvsTracer(ovs_sandbox) as t:
            yield t
    finally:
        delete_bridges(ovs_sandbox, ["nt-echo"])


@given(packet=packets())
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_microflow_agrees_with_ovs_flow_parser(echo_bridge: OvsTracer, packet: Packet) -> None:
    """What format_microflow writes, OVS reads as the same packet (its ``Flow:`` line, parsed
    back by parse_microflow, is the packet again). OVS 3.1 leaves tun_id out of ``Flow:``."""
    text = echo_bridge.trace_text("nt-echo", format_microflow(Microflow("1", packet)))
    flow_line = text.splitlines()[0]
    assert flow_line.startswith("Flow: ")
    back = parse_microflow(flow_line[6:], strict=False)
    assert back.in_port == "1"
    assert back.packet == packet.with_(tun_id=0) or back.packet == packet


def test_mod_vlan_vid_keeps_openflow10_meaning(ovs_sandbox: OvsSandbox) -> None:
    """mod_vlan_vid without a VLAN match rewrites an existing tag in OpenFlow 1.0; through an
    OpenFlow 1.4 bundle OVS encodes it as push_vlan,set_field (a second tag). load_flows keeps
    the OpenFlow 1.0 meaning by loading such files without a bundle."""
    br = OvsBridge("nt-vlanmod", ports=(OvsPort("vm1", 1), OvsPort("vm2", 2)))
    flows = "table=0,priority=1 actions=mod_vlan_vid:10,strip_vlan,output:2\n"
    load_bridges(ovs_sandbox, [br])
    try:
        with OvsTracer(ovs_sandbox) as t:
            pkt = arp_request("fa:16:3e:00:00:01", "10.0.0.1", "10.0.0.2").with_vlan(20)
            load_flows(ovs_sandbox, br.name, flows, replace=True)
            (out,) = t.trace(br.name, "vm1", pkt).outputs
            assert out.packet.vlan_tci == 0  # rewrite 20 -> 10, then strip: untagged
            load_flows(ovs_sandbox, br.name, flows, replace=True, bundle=True)
            (out,) = t.trace(br.name, "vm1", pkt).outputs
            assert out.packet.vlan_vid == 20  # push 10 on top of 20, pop it: 20 is left
    finally:
        delete_bridges(ovs_sandbox, [br.name])
