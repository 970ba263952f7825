"""The action set (write_actions / clear_actions) and groups (all, indirect, fast failover,
select with one live bucket) as OVS 3.1 runs them: the cases of OVS's own tests ("ofproto-dpif -
write actions", "clear actions", "all group in action list", "fast failover group"...), which the
testsuite replay also compares with real ovs-vswitchd."""

from __future__ import annotations

import pytest

from neutrace.dataplane import OvsBridge, OvsGroup, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.engines.openflow.group import action_list, parse_bucket
from neutrace.errors import SyntaxParseError
from neutrace.packet import IPPROTO_TCP, ipv4
from neutrace.syntax import ofactions as A
from neutrace.syntax.ofctl import parse_flows

PORTS = tuple(OvsPort(f"p{n}", n) for n in (1, 10, 11, 12, 13))
PKT = ipv4("50:54:00:00:00:05", "50:54:00:00:00:07", "192.168.0.1", "192.168.0.2",
           proto=IPPROTO_TCP, sport=8, dport=9)


def outputs(flows: str, groups: tuple[OvsGroup, ...] = (), ports: tuple[OvsPort, ...] = PORTS
            ) -> list[tuple[str, str, int]]:
    br = OvsBridge("br0", ports=ports, flows=parse_flows(flows), groups=groups)
    v = OpenFlowEngine([br]).run("br0", "p1", PKT, OpenFlowState())
    return sorted((e.port or "", e.packet.nw_src, e.packet.tp_src) for e in v.exits
                  if e.kind == "output" and e.packet is not None)


def test_action_set_runs_at_the_end_in_ovs_order() -> None:
    got = outputs("table=0 in_port=1,ip actions=output:10,write_actions(set_field:192.168.3.90->"
                  "ip_src,output:12),goto_table:1\n"
                  "table=1 ip actions=write_actions(output:13),goto_table:2\n"
                  "table=2 ip actions=set_field:192.168.3.91->ip_src,output:11")
    # the set's output:13 replaced output:12 (the later output wins); its set_field runs first
    assert got == [("p10", "192.168.0.1", 8), ("p11", "192.168.3.91", 8),
                   ("p13", "192.168.3.90", 8)]


def test_clear_actions_empties_the_set() -> None:
    got = outputs("table=0 in_port=1,ip actions=output:10,write_actions(set_field:192.168.3.90->"
                  "ip_src,output:12),goto_table:1\n"
                  "table=1 tcp actions=set_field:91->tp_src,output:11,clear_actions")
    assert got == [("p10", "192.168.0.1", 8), ("p11", "192.168.0.1", 91)]


def test_action_list_order() -> None:
    acts = A.parse_actions("output:1,set_field:1->reg0,group:5,strip_vlan,push_vlan:0x8100,"
                           "output:2")
    assert [a.text for a in action_list(acts)] == [
        "strip_vlan", "push_vlan:0x8100", "set_field:1->reg0", "group:5"]
    assert action_list(A.parse_actions("set_field:1->reg0")) == ()  # no final action


def test_all_group_buckets_each_on_a_copy() -> None:
    g = OvsGroup(1234, "all", ("actions=output:10,set_field:192.168.3.90->ip_src",
                               "actions=output:11"))
    got = outputs("ip actions=group:1234,output:12", (g,))
    # a bucket is an action set: its set_field runs before its output
    assert got == [("p10", "192.168.3.90", 8), ("p11", "192.168.0.1", 8),
                   ("p12", "192.168.0.1", 8)]
    assert outputs("ip actions=write_actions(group:1234)", (g,))[:2] == [
        ("p10", "192.168.3.90", 8), ("p11", "192.168.0.1", 8)]


def test_group_chaining_and_missing_group() -> None:
    groups = (OvsGroup(1234, "all", ("set_field:192.168.3.90->ip_src,group:123",
                                     "output:11")),
              OvsGroup(123, "indirect", ("output:10",)))
    assert outputs("ip actions=group:1234", groups) == [("p10", "192.168.3.90", 8),
                                                        ("p11", "192.168.0.1", 8)]
    assert outputs("ip actions=group:99,output:12") == [("p12", "192.168.0.1", 8)]


def test_fast_failover_takes_the_first_live_bucket() -> None:
    g = OvsGroup(1, "ff", ("bucket_id:0,watch_port:10,actions=output:10",
                           "bucket_id:1,watch_port:11,actions=output:11"))
    assert outputs("ip actions=group:1", (g,)) == [("p10", "192.168.0.1", 8)]
    down = tuple(OvsPort(p.name, p.ofport, state=("LINK_DOWN",)) if p.name == "p10" else p
                 for p in PORTS)
    assert outputs("ip actions=group:1", (g,), down) == [("p11", "192.168.0.1", 8)]


def test_select_group() -> None:
    one = OvsGroup(1, "select", ("bucket_id:0,weight:0,actions=output:10",
                                 "bucket_id:1,weight:5,actions=output:11"))
    assert outputs("ip actions=group:1", (one,)) == [("p11", "192.168.0.1", 8)]
    two = OvsGroup(1, "select", ("actions=output:10", "actions=output:11"))
    with pytest.raises(SyntaxParseError, match="select group with several live buckets"):
        outputs("ip actions=group:1", (two,))


def test_bucket_text() -> None:
    b = parse_bucket("bucket_id:3,weight:7,watch_port:2,watch_group:9,actions=output:1,"
                     "set_field:1->reg0", 0)
    assert (b.bucket_id, b.weight, b.watch_port, b.watch_group) == (3, 7, "2", 9)
    assert [a.text for a in b.actions] == ["output:1", "set_field:1->reg0"]
    assert [a.text for a in parse_bucket("output:10", 4).actions] == ["output:10"]


def test_output_with_max_len() -> None:
    """``output(port=N,max_len=M)`` as xlate_output_trunc_action: sent to a port, not to a
    patch port ("truncate and output to patch port") nor back to the input port."""
    ports = (*PORTS, OvsPort("pp", 20, "patch", options=(("peer", "qq"),)))
    peer = OvsBridge("br9", ports=(OvsPort("qq", 1, "patch", options=(("peer", "pp"),)),
                                   OvsPort("q2", 2)), flows=parse_flows("actions=output:2"))
    br = OvsBridge("br0", ports=ports, flows=parse_flows(
        "in_port=1 actions=output(port=10,max_len=100),output(port=20,max_len=100),"
        "output(port=1,max_len=100)"))
    v = OpenFlowEngine([br, peer]).run("br0", "p1", PKT, OpenFlowState())
    assert [(e.kind, e.port) for e in v.exits] == [("output", "p10")]
    assert A.parse_action("output(port=10,max_len=100)") == A.Output(
        "10", "output(port=10,max_len=100)", 100)
