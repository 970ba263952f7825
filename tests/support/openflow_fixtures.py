# ruff: noqa: E501
"""Neutron-like OVS bridges for the OpenFlow engine's tests: test-cmpt-02 of the seed (br-int with
the iptables hybrid firewall's qvo ports, br-tun with VXLAN, br-ex with eth3), flows in the shape
the Open vSwitch agent programs them."""

from __future__ import annotations

from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.syntax.ofctl import parse_flows

VM1_MAC = "fa:16:3e:3b:90:54"  # test-01 on public_net (local VLAN 2)
VM1_IP = "192.168.100.101"
VM2_MAC = "fa:16:3e:a8:7f:1d"  # test-02 on share_net (local VLAN 1, VNI 0x10050)
VM2_IP = "192.168.111.4"
LOCAL_TUN_IP = "192.168.120.22"
CTRL_TUN_IP = "192.168.120.11"
CMPT1_TUN_IP = "192.168.120.21"

BR_INT_FLOWS = f"""
table=0, priority=65535,vlan_tci=0x0fff/0x1fff actions=drop
table=0, priority=10,icmp6,in_port=qvoaf305168-66,icmp_type=136 actions=resubmit(,24)
table=0, priority=10,arp,in_port=qvoaf305168-66 actions=resubmit(,24)
table=0, priority=10,icmp6,in_port=qvo5e1f0d1c-8a,icmp_type=136 actions=resubmit(,24)
table=0, priority=10,arp,in_port=qvo5e1f0d1c-8a actions=resubmit(,24)
table=0, priority=9,in_port=qvoaf305168-66 actions=resubmit(,25)
table=0, priority=9,in_port=qvo5e1f0d1c-8a actions=resubmit(,25)
table=0, priority=3,in_port=int-br-ex,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:2,resubmit(,60)
table=0, priority=2,in_port=int-br-ex actions=drop
table=0, priority=0 actions=resubmit(,60)
table=23, priority=0 actions=drop
table=24, priority=2,arp,in_port=qvoaf305168-66,arp_spa={VM1_IP} actions=resubmit(,25)
table=24, priority=2,arp,in_port=qvo5e1f0d1c-8a,arp_spa={VM2_IP} actions=resubmit(,25)
table=24, priority=0 actions=drop
table=25, priority=2,in_port=qvoaf305168-66,dl_src={VM1_MAC} actions=resubmit(,60)
table=25, priority=2,in_port=qvo5e1f0d1c-8a,dl_src={VM2_MAC} actions=resubmit(,60)
table=60, priority=3 actions=NORMAL
"""

BR_TUN_FLOWS = """
table=0, priority=1,in_port=patch-int actions=resubmit(,2)
table=0, priority=1,in_port=vxlan-c0a8780b actions=resubmit(,4)
table=0, priority=1,in_port=vxlan-c0a87815 actions=resubmit(,4)
table=0, priority=0 actions=drop
table=2, priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=2, priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)
table=3, priority=0 actions=drop
table=4, priority=1,tun_id=0x10050 actions=mod_vlan_vid:1,resubmit(,10)
table=4, priority=0 actions=drop
table=6, priority=0 actions=drop
table=10, priority=1 actions=learn(cookie=0x9b1c,table=20,priority=1,hard_timeout=300,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:patch-int
table=20, priority=0 actions=resubmit(,22)
table=22, priority=1,dl_vlan=1 actions=strip_vlan,load:0x10050->NXM_NX_TUN_ID[],output:vxlan-c0a8780b,output:vxlan-c0a87815
table=22, priority=0 actions=drop
"""

BR_EX_FLOWS = """
table=0, priority=4,in_port=phy-br-ex,dl_vlan=2 actions=strip_vlan,NORMAL
table=0, priority=2,in_port=phy-br-ex actions=drop
table=0, priority=0 actions=NORMAL
"""

TUN_OPTS = (("in_key", "flow"), ("local_ip", LOCAL_TUN_IP), ("out_key", "flow"))


def seed_bridges() -> tuple[OvsBridge, ...]:
    br_int = OvsBridge(
        "br-int",
        ports=(
            OvsPort("patch-tun", 1, "patch", options=(("peer", "patch-int"),)),
            OvsPort("int-br-ex", 2, "patch", options=(("peer", "phy-br-ex"),)),
            OvsPort("qvoaf305168-66", 5, tag=2),
            OvsPort("qvo5e1f0d1c-8a", 6, tag=1),
            OvsPort("br-int", 65534, "internal"),
        ),
        flows=parse_flows(BR_INT_FLOWS, source="br-int"),
    )
    br_tun = OvsBridge(
        "br-tun",
        ports=(
            OvsPort("patch-int", 1, "patch", options=(("peer", "patch-tun"),)),
            OvsPort("vxlan-c0a8780b", 2, "vxlan",
                    options=tuple(sorted(TUN_OPTS + (("remote_ip", CTRL_TUN_IP),)))),
            OvsPort("vxlan-c0a87815", 3, "vxlan",
                    options=tuple(sorted(TUN_OPTS + (("remote_ip", CMPT1_TUN_IP),)))),
            OvsPort("br-tun", 65534, "internal"),
        ),
        flows=parse_flows(BR_TUN_FLOWS, source="br-tun"),
    )
    br_ex = OvsBridge(
        "br-ex",
        ports=(
            OvsPort("phy-br-ex", 1, "patch", options=(("peer", "int-br-ex"),)),
            OvsPort("eth3", 2),
            OvsPort("br-ex", 65534, "internal"),
        ),
        flows=parse_flows(BR_EX_FLOWS, source="br-ex"),
    )
    return br_int, br_tun, br_ex
