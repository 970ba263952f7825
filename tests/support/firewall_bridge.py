# ruff: noqa: E501
"""A br-int shaped like Neutron's openvswitch firewall driver (tables 71/72 egress, ct zones from
reg6, commit on accept, a NAT), shared by the engine's ct() tests and their check on real OVS."""

from __future__ import annotations

from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.packet import IPPROTO_TCP, Packet, ipv4
from neutrace.syntax.ofctl import parse_flows

A_MAC, B_MAC = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b"
A_IP, B_IP = "10.0.0.10", "10.0.0.11"

FIREWALL = """
table=0, priority=100,in_port=1,ip actions=load:0x1->NXM_NX_REG5[],load:0x1->NXM_NX_REG6[],resubmit(,71)
table=0, priority=100,in_port=2,ip actions=load:0x2->NXM_NX_REG5[],load:0x1->NXM_NX_REG6[],resubmit(,71)
table=0, priority=100,in_port=3,ip actions=load:0x3->NXM_NX_REG5[],load:0x2->NXM_NX_REG6[],resubmit(,71)
table=71, priority=90,ct_state=-trk,ip actions=ct(table=72,zone=NXM_NX_REG6[0..15])
table=72, priority=77,ct_state=+est-rel-rpl,ip actions=resubmit(,80)
table=72, priority=77,ct_state=+est-rel+rpl,ip actions=resubmit(,80)
table=72, priority=74,ct_state=+new-est,tcp,tp_dst=22 actions=ct(commit,zone=NXM_NX_REG6[0..15],exec(load:0x7->NXM_NX_CT_MARK[])),resubmit(,80)
table=72, priority=74,ct_state=+new-est,tcp,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15],nat(src=192.168.100.102)),resubmit(,80)
table=72, priority=50,ct_state=+inv+trk actions=drop
table=72, priority=40,ct_state=+new actions=drop
table=80, priority=10,ct_mark=0x7,reg5=0x1 actions=output:2
table=80, priority=1,reg5=0x1 actions=output:2
table=80, priority=1,reg5=0x2 actions=output:1
table=80, priority=1,reg5=0x3 actions=output:4
"""

BRIDGE = OvsBridge("br-int", ports=(OvsPort("tapa", 1), OvsPort("tapb", 2), OvsPort("tapc", 3),
                                    OvsPort("out", 4)),
                   flows=parse_flows(FIREWALL, source="firewall"))



def tcp(src_mac: str, dst_mac: str, src: str, dst: str, sport: int, dport: int) -> Packet:
    return ipv4(src_mac, dst_mac, src, dst, proto=IPPROTO_TCP, sport=sport, dport=dport)
