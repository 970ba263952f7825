from hypothesis import given
from hypothesis import strategies as st

from neutrace import addr
from neutrace.packet import arp_request, ipv4, vxlan_encap
from neutrace.render.packets import packet_summary


def test_vlan_tci_like_ovs() -> None:
    p = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "192.168.111.4", "203.0.113.10")
    assert p.vlan_vid is None
    tagged = p.with_vlan(1)
    assert tagged.vlan_tci == 0x1001 and tagged.vlan_vid == 1
    assert [str(c) for c in p.diff(tagged)] == ["vlan_tci: 0x0 -> 0x1001"]
    assert tagged.with_vlan(None) == p


def test_summaries() -> None:
    a = arp_request("fa:16:3e:00:00:01", "192.168.111.4", "192.168.111.1")
    assert packet_summary(a) == "ARP who-has 192.168.111.1 tell 192.168.111.4"
    p = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "192.168.111.4", "203.0.113.10")
    assert packet_summary(p) == "ICMP 192.168.111.4 > 203.0.113.10 echo-request"
    v = vxlan_encap(p, 0x10050, "192.168.120.22", "192.168.120.11")
    assert packet_summary(v).startswith("VXLAN vni 0x10050 192.168.120.22 > 192.168.120.11")


def test_tunnel_port_hex_name() -> None:
    # Neutron names a tunnel port vxlan-<remote ip in hex>; the seed's c0a87b16 is 192.168.123.22
    assert addr.ip_to_hex("192.168.123.22") == "c0a87b16"
    assert addr.ip_to_hex("192.168.120.11") == "c0a8780b"


@given(st.integers(min_value=0, max_value=2**48 - 1))
def test_mac_int_roundtrip(value: int) -> None:
    assert addr.mac_to_int(addr.int_to_mac(value)) == value


def test_stable_ids() -> None:
    assert addr.stable_uuid("x") == addr.stable_uuid("x") != addr.stable_uuid("y")
    mac = addr.stable_mac("port-1")
    assert mac.startswith("fa:16:3e:") and addr.is_mac(mac)


def test_tunnel_encap_of_each_type() -> None:
    from neutrace.packet import GENEVE_PORT, IPPROTO_GRE, VXLAN_PORT, tunnel_encap
    p = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1", "10.0.0.2")
    v, g, r = (tunnel_encap(k, p, 0x1001, "10.6.0.1", "10.6.0.2") for k in
               ("vxlan", "geneve", "gre"))
    assert (v.tp_dst, v.encapsulation) == (VXLAN_PORT, "vxlan")
    assert (g.tp_dst, g.encapsulation) == (GENEVE_PORT, "geneve")
    assert (r.nw_proto, r.tp_dst, r.encapsulation) == (IPPROTO_GRE, 0, "gre")
    assert tunnel_encap("ip6gre", p, 1, "10.6.0.1", "10.6.0.2").encapsulation == "gre"
    assert p.encapsulation is None
    assert packet_summary(v).startswith("VXLAN vni 0x1001 ")
    assert packet_summary(g).startswith("Geneve vni 0x1001 ")
    assert packet_summary(r).startswith("GRE key 0x1001 10.6.0.1 > 10.6.0.2 [")
