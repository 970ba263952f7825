"""Hand-written Neutron-like bridges of the seed's compute host test-cmpt-02 (Mitaka-era
``ovs_ofctl`` flows: br-int anti-spoofing tables 0/24/25, br-tun 0/2/3/4/6/10 learn/20/22, br-ex
strip_vlan on phy-br-ex), and the packets the differential tests send through them.

Written by hand from neutron/plugins/ml2/drivers/openvswitch/agent/openflow/ovs_ofctl/{br_int,
br_tun,br_phys}.py, independent of neutrace's agents, so the engine and real OVS can be compared
before the agents exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.packet import (
    ETH_TYPE_IPV6,
    ICMPV6_NA,
    IPPROTO_ICMPV6,
    IPPROTO_UDP,
    Packet,
    arp_reply,
    arp_request,
    ipv4,
)
from neutrace.syntax.ofctl import parse_flows

TEST01_MAC = "fa:16:3e:5a:1c:01"  # test-01 on public_net (flat, local VLAN 2)
TEST01_IP = "192.168.100.101"
TEST01_LLA = "fe80::f816:3eff:fe5a:1c01"
TEST02_MAC = "fa:16:3e:7b:2d:02"  # test-02 on share_net (vxlan 0x10050, local VLAN 1)
TEST02_IP = "192.168.111.4"
ROUTER_QR_MAC = "fa:16:3e:11:22:33"  # qr-466214fa-3d, 192.168.111.1
GATEWAY_MAC = "fa:16:3e:44:55:66"  # the upstream gateway 192.168.100.1

P_TEST01 = "qvoaf305168-66"
P_TEST02 = "qvo7d2f1e3a-9b"

BR_INT_FLOWS = f"""
table=0, priority=10,icmp6,in_port=5,icmp_type=136 actions=resubmit(,24)
table=0, priority=10,arp,in_port=5 actions=resubmit(,24)
table=0, priority=10,icmp6,in_port=6,icmp_type=136 actions=resubmit(,24)
table=0, priority=10,arp,in_port=6 actions=resubmit(,24)
table=0, priority=9,in_port=5 actions=resubmit(,25)
table=0, priority=9,in_port=6 actions=resubmit(,25)
table=0, priority=3,in_port=1,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:2,NORMAL
table=0, priority=2,in_port=1 actions=drop
table=0, priority=0 actions=NORMAL
table=23, priority=0 actions=drop
table=24, priority=2,icmp6,in_port=5,icmp_type=136,nd_target={TEST01_LLA} actions=NORMAL
table=24, priority=2,arp,in_port=5,arp_spa={TEST01_IP} actions=resubmit(,25)
table=24, priority=2,arp,in_port=6,arp_spa={TEST02_IP} actions=resubmit(,25)
table=24, priority=0 actions=drop
table=25, priority=2,in_port=5,dl_src={TEST01_MAC} actions=NORMAL
table=25, priority=2,in_port=6,dl_src={TEST02_MAC} actions=NORMAL
"""

LEARN = (
    "learn(table=20,hard_timeout=300,priority=1,cookie=0x9e3a,NXM_OF_VLAN_TCI[0..11],"
    "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
    "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[])"
)

BR_TUN_FLOWS = f"""
table=0, priority=1,in_port=1 actions=resubmit(,2)
table=0, priority=1,in_port=2 actions=resubmit(,4)
table=0, priority=1,in_port=3 actions=resubmit(,4)
table=0, priority=0 actions=drop
table=2, priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=2, priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,22)
table=3, priority=0 actions=drop
table=4, priority=1,tun_id=0x10050 actions=mod_vlan_vid:1,resubmit(,10)
table=4, priority=0 actions=drop
table=6, priority=0 actions=drop
table=10, priority=1 actions={LEARN},output:1
table=20, priority=0 actions=resubmit(,22)
table=22, priority=1,dl_vlan=1 actions=strip_vlan,load:0x10050->NXM_NX_TUN_ID[],output:2,output:3
table=22, priority=0 actions=drop
"""

BR_EX_FLOWS = """
table=0, priority=4,in_port=1,dl_vlan=2 actions=strip_vlan,NORMAL
table=0, priority=2,in_port=1 actions=drop
table=0, priority=0 actions=NORMAL
"""


def bridges() -> tuple[OvsBridge, ...]:
    """br-int, br-tun and br-ex of test-cmpt-02 (tunnel IP 192.168.120.22)."""
    br_int = OvsBridge(
        name="br-int",
        ports=(
            OvsPort("int-br-ex", 1, "patch", options=(("peer", "phy-br-ex"),)),
            OvsPort("patch-tun", 2, "patch", options=(("peer", "patch-int"),)),
            OvsPort(P_TEST01, 5, tag=2),
            OvsPort(P_TEST02, 6, tag=1),
        ),
        flows=parse_flows(BR_INT_FLOWS, source="tests/neutron_like.py:br-int"),
    )
    tunnel = (("df_default", "true"), ("in_key", "flow"), ("local_ip", "192.168.120.22"),
              ("out_key", "flow"))
    br_tun = OvsBridge(
        name="br-tun",
        ports=(
            OvsPort("patch-int", 1, "patch", options=(("peer", "patch-tun"),)),
            OvsPort("vxlan-c0a8780b", 2, "vxlan",
                    options=tuple(sorted((*tunnel, ("remote_ip", "192.168.120.11"))))),
            OvsPort("vxlan-c0a87815", 3, "vxlan",
                    options=tuple(sorted((*tunnel, ("remote_ip", "192.168.120.21"))))),
        ),
        flows=parse_flows(BR_TUN_FLOWS, source="tests/neutron_like.py:br-tun"),
    )
    br_ex = OvsBridge(
        name="br-ex",
        ports=(
            OvsPort("phy-br-ex", 1, "patch", options=(("peer", "int-br-ex"),)),
            OvsPort("eth3", 2),
        ),
        flows=parse_flows(BR_EX_FLOWS, source="tests/neutron_like.py:br-ex"),
    )
    return br_int, br_tun, br_ex


@dataclass(frozen=True)
class Case:
    name: str
    bridge: str
    in_port: str
    packet: Packet


def _na(src_mac: str, src_ip: str) -> Packet:
    return Packet(
        dl_src=src_mac, dl_dst="33:33:00:00:00:01", dl_type=ETH_TYPE_IPV6, ipv6_src=src_ip,
        ipv6_dst="ff02::1", nw_proto=IPPROTO_ICMPV6, nw_ttl=255, tp_src=ICMPV6_NA, tp_dst=0,
        nd_target=src_ip, nd_tll=src_mac,
    )


CASES: tuple[Case, ...] = (
    Case("arp-request-test-02", "br-int", P_TEST02,
         arp_request(TEST02_MAC, TEST02_IP, "192.168.111.1")),
    Case("arp-reply-test-02", "br-int", P_TEST02,
         arp_reply(TEST02_MAC, TEST02_IP, ROUTER_QR_MAC, "192.168.111.1")),
    Case("arp-spoofed-test-02", "br-int", P_TEST02,
         arp_request(TEST02_MAC, "192.168.111.99", "192.168.111.1")),
    Case("arp-request-test-01", "br-int", P_TEST01,
         arp_request(TEST01_MAC, TEST01_IP, "192.168.100.1")),
    Case("ipv4-unicast-test-01", "br-int", P_TEST01,
         ipv4(TEST01_MAC, GATEWAY_MAC, TEST01_IP, "8.8.8.8")),
    Case("ipv4-unicast-test-02", "br-int", P_TEST02,
         ipv4(TEST02_MAC, ROUTER_QR_MAC, TEST02_IP, "8.8.8.8")),
    Case("ipv4-mac-spoofed-test-02", "br-int", P_TEST02,
         ipv4("fa:16:3e:00:00:99", ROUTER_QR_MAC, TEST02_IP, "8.8.8.8")),
    Case("ipv4-broadcast-dhcp-test-01", "br-int", P_TEST01,
         ipv4(TEST01_MAC, "ff:ff:ff:ff:ff:ff", "0.0.0.0", "255.255.255.255",
              proto=IPPROTO_UDP, sport=68, dport=67)),
    Case("icmpv6-na-test-01", "br-int", P_TEST01, _na(TEST01_MAC, TEST01_LLA)),
    Case("icmpv6-na-spoofed-test-01", "br-int", P_TEST01,
         _na(TEST01_MAC, "fe80::f816:3eff:fe00:99")),
    Case("tunnel-ingress-arp-from-router", "br-tun", "vxlan-c0a8780b",
         arp_request(ROUTER_QR_MAC, "192.168.111.1", TEST02_IP).with_(
             tun_id=0x10050, tun_src="192.168.120.11", tun_dst="192.168.120.22")),
    Case("tunnel-ingress-unicast-to-test-02", "br-tun", "vxlan-c0a87815",
         ipv4(ROUTER_QR_MAC, TEST02_MAC, "8.8.8.8", TEST02_IP).with_(
             tun_id=0x10050, tun_src="192.168.120.21", tun_dst="192.168.120.22")),
    Case("tunnel-ingress-unknown-vni", "br-tun", "vxlan-c0a8780b",
         arp_request(ROUTER_QR_MAC, "192.168.111.1", TEST02_IP).with_(
             tun_id=0x999, tun_src="192.168.120.11", tun_dst="192.168.120.22")),
    Case("external-ingress-arp", "br-ex", "eth3",
         arp_request(GATEWAY_MAC, "192.168.100.1", TEST01_IP)),
    Case("external-ingress-ipv4-to-test-01", "br-ex", "eth3",
         ipv4(GATEWAY_MAC, TEST01_MAC, "8.8.8.8", TEST01_IP)),
)
