"""The agents on the seed cloud: the blog's facts, golden flows/iptables per host, l2_population,
local VLAN allocation, device-name limits and bad input."""

from __future__ import annotations

import dataclasses

import pytest

from neutrace import model
from neutrace.addr import ipv6_lla
from neutrace.agents import program
from neutrace.agents.ovs import get_interface_name, get_tunnel_name
from neutrace.dataplane import CloudState, Flow, HostState, OvsBridge
from neutrace.errors import TopologyError
from neutrace.render.state_json import from_json, to_json
from neutrace.syntax.ofctl import format_flow, format_match
from tests.support.golden import check_golden
from tests.support.paths import DATA, SEED_YAML
from tests.support.seed_model import (
    DHCP_PORT,
    PUBLIC_NET,
    QG_PORT,
    QR_PORT,
    ROUTER,
    SHARE_NET,
    TEST01_PORT,
    TEST02_PORT,
    seed_cloud,
)

HOSTS = ("test-ctrl-01", "test-cmpt-01", "test-cmpt-02")




def seed_yaml() -> model.Cloud:
    from neutrace.topology import load

    return load(str(SEED_YAML))


@pytest.fixture(scope="module", params=["yaml", "model"])
def seed_pair(request: pytest.FixtureRequest) -> tuple[model.Cloud, CloudState]:
    """The seed as examples/seed/cloud.yaml loads it, and as tests/seed_model.py builds it."""
    cloud = seed_yaml() if request.param == "yaml" else seed_cloud()
    return cloud, program(cloud)


@pytest.fixture(scope="module")
def seed(seed_pair: tuple[model.Cloud, CloudState]) -> CloudState:
    return seed_pair[1]


def _test02_port(pair: tuple[model.Cloud, CloudState]) -> str:
    return pair[0].vm("test-02").port_ids[0]


def _host(state: CloudState, name: str) -> HostState:
    h = state.host(name)
    assert h is not None
    return h


def _bridge(host: HostState, name: str) -> OvsBridge:
    b = host.bridge(name)
    assert b is not None
    return b


def _flows(br: OvsBridge, table: int) -> list[Flow]:
    return [f for f in br.flows if f.table == table]


def _ofport(br: OvsBridge, name: str) -> int:
    p = br.port(name)
    assert p is not None
    return p.ofport


# -- the seed's "done when" facts -----------------------------------------------------------------
def test_qvo_tags_on_test_cmpt_02(seed_pair: tuple[model.Cloud, CloudState]) -> None:
    br_int = _bridge(_host(seed_pair[1], "test-cmpt-02"), "br-int")
    qvo01 = br_int.port("qvo" + TEST01_PORT[:11])
    qvo02 = br_int.port("qvo" + _test02_port(seed_pair)[:11])
    assert qvo01 is not None and qvo01.name == "qvoaf305168-66" and qvo01.tag == 2
    assert qvo02 is not None and qvo02.tag == 1
    assert qvo01.external_id("iface-id") == seed_pair[0].vm("test-01").port_ids[0]
    assert qvo01.external_id("attached-mac") is not None


def test_table_22_floods_vlan_1_to_both_other_hosts(seed: CloudState) -> None:
    br_tun = _bridge(_host(seed, "test-cmpt-02"), "br-tun")
    ctrl = _ofport(br_tun, "vxlan-c0a8780b")  # 192.168.120.11
    cmpt1 = _ofport(br_tun, "vxlan-c0a87815")  # 192.168.120.21
    flood = [f for f in _flows(br_tun, 22) if f.match_value("dl_vlan") == "1"]
    assert len(flood) == 1
    # OpenFlow 1.3 as Neutron installs it; an OpenFlow 1.0 dump shows
    # strip_vlan,load:0x10050->NXM_NX_TUN_ID[],output:...
    assert flood[0].actions == (
        f"pop_vlan,set_field:0x10050->tun_id,output:{ctrl},output:{cmpt1}")
    assert not [f for f in _flows(br_tun, 22) if f.match_value("dl_vlan") == "2"]
    port = br_tun.port("vxlan-c0a8780b")
    assert port is not None and port.type == "vxlan"
    assert dict(port.options) == {
        "remote_ip": "192.168.120.11", "local_ip": "192.168.120.22", "in_key": "flow",
        "out_key": "flow", "df_default": "true", "egress_pkt_mark": "0"}


def test_br_ex_strips_vlan_2_and_drops_the_rest(seed: CloudState) -> None:
    br_ex = _bridge(_host(seed, "test-cmpt-02"), "br-ex")
    phy = str(_ofport(br_ex, "phy-br-ex"))
    assert _ofport(br_ex, "eth3") == 1
    lines = [format_flow(f, cookie=False) for f in br_ex.flows]
    assert f"table=0, priority=4,in_port={phy},dl_vlan=2 actions=pop_vlan,NORMAL" in lines
    assert f"table=0, priority=2,in_port={phy} actions=drop" in lines
    assert not [f for f in br_ex.flows if f.match_value("dl_vlan") == "1"]
    assert br_ex.port("phy-br-ex") is not None
    assert dict(br_ex.port("phy-br-ex").options) == {"peer": "int-br-ex"}  # type: ignore[union-attr]


def test_table_4_on_ctrl_maps_the_tunnel_id_to_the_local_vlan(seed: CloudState) -> None:
    ctrl = _host(seed, "test-ctrl-01")
    lvid = _bridge(ctrl, "br-int").port("qr-466214fa-3d").tag  # type: ignore[union-attr]
    (flow,) = [f for f in _flows(_bridge(ctrl, "br-tun"), 4) if f.priority == 1]
    assert format_match(flow) == "tun_id=0x10050"
    assert flow.actions == f"push_vlan:0x8100,set_field:{4096 + lvid}->vlan_vid,goto_table:10"


def test_qrouter_namespace_and_float_snat(seed: CloudState) -> None:
    ctrl = _host(seed, "test-ctrl-01")
    ns = ctrl.namespace(f"qrouter-{ROUTER}")
    assert ns is not None and ns.kind == "qrouter" and ns.ip_forward
    qr, qg = ns.interface("qr-466214fa-3d"), ns.interface("qg-169d638e-0e")
    assert qr is not None and qr.addresses == ("192.168.111.1/24",)
    assert qg is not None and qg.addresses == ("192.168.100.103/24", "192.168.100.102/32")
    assert any(r.destination == "default" and r.gateway == "192.168.100.1"
               and r.device == "qg-169d638e-0e" for r in ns.routes)
    lines = ns.iptables.splitlines()
    snat = [x for x in lines if x.startswith("-A neutron-l3-agent-float-snat -s ")]
    # the seed's rule; current Neutron adds --random-fully (use_random_fully defaults to True)
    assert snat == ["-A neutron-l3-agent-float-snat -s 192.168.111.4/32 -j SNAT "
                    "--to-source 192.168.100.102 --random-fully"]
    assert ("-A neutron-l3-agent-PREROUTING -d 192.168.100.102/32 -j DNAT "
            "--to-destination 192.168.111.4") in lines
    assert "-A neutron-l3-agent-mark -i qg-169d638e-0e -j MARK --set-xmark 0x2/0xffff" in lines
    br_int = _bridge(ctrl, "br-int")
    share_lvid = br_int.port("qr-466214fa-3d").tag  # type: ignore[union-attr]
    public_lvid = br_int.port("qg-169d638e-0e").tag  # type: ignore[union-attr]
    assert share_lvid != public_lvid
    assert br_int.port("tap96835b35-be").tag == share_lvid  # type: ignore[union-attr]


def test_dhcp_namespace(seed_pair: tuple[model.Cloud, CloudState]) -> None:
    share = next(n.id for n in seed_pair[0].networks if n.name == "share_net")
    ns = _host(seed_pair[1], "test-ctrl-01").namespace(f"qdhcp-{share}")
    assert ns is not None
    tap = ns.interface("tap" + DHCP_PORT[:11])
    assert tap is not None and len(tap.addresses) == 1
    assert tap.addresses[0].startswith("192.168.111.") and tap.addresses[0].endswith("/24")
    assert "-A neutron-dhcp-age-POSTROUTING -p udp -m udp --dport 68 -j CHECKSUM " \
           "--checksum-fill" in ns.iptables


def test_vm_plumbing_on_test_cmpt_02(seed: CloudState) -> None:
    host = _host(seed, "test-cmpt-02")
    root = host.root
    tap = root.interface("tapaf305168-66")
    assert tap is not None and tap.kind == "tap" and tap.master == "qbraf305168-66"
    qvb = root.interface("qvbaf305168-66")
    assert qvb is not None and qvb.peer == "qvoaf305168-66" and qvb.master == "qbraf305168-66"
    vm = host.namespace("test-01")
    assert vm is not None and vm.kind == "vm"
    eth0 = vm.interface("eth0")
    assert eth0 is not None and eth0.addresses == ("192.168.100.101/24",)
    assert eth0.peer == "tapaf305168-66" and eth0.peer_namespace == ""
    assert root.sysctl("net.bridge.bridge-nf-call-iptables") == "1"
    eth3 = root.interface("eth3")
    assert eth3 is not None and eth3.segment == "external"
    assert "-A neutron-openvswi-saf305168-6 -s 192.168.100.101/32 -m mac --mac-source " in (
        root.iptables)


def test_anti_spoofing_flows_for_vm_ports_only(seed_pair: tuple[model.Cloud, CloudState]) -> None:
    seed = seed_pair[1]
    br_int = _bridge(_host(seed, "test-cmpt-02"), "br-int")
    ofport = str(_ofport(br_int, "qvo" + _test02_port(seed_pair)[:11]))
    lines = [format_flow(f, cookie=False) for f in br_int.flows]
    assert (f"table=24, priority=2,arp,in_port={ofport},arp_spa=192.168.111.4 "
            "actions=goto_table:25") in lines
    assert f"table=0, priority=10,arp,in_port={ofport} actions=goto_table:24" in lines
    ctrl_int = _bridge(_host(seed, "test-ctrl-01"), "br-int")
    assert not _flows(ctrl_int, 25)  # router and DHCP ports get no anti-spoofing


def test_trusted_network_ports_in_ctrl_iptables(seed: CloudState) -> None:
    text = _host(seed, "test-ctrl-01").root.iptables
    assert ("-A neutron-openvswi-FORWARD -m physdev --physdev-out tap466214fa-3d "
            "--physdev-is-bridged -m comment --comment \"Accept all packets when port is "
            "trusted.\" -j ACCEPT") in text


# -- golden files --------------------------------------------------------------------------------
@pytest.mark.parametrize("host", HOSTS)
def test_golden_flows_and_iptables(host: str) -> None:
    h = _host(program(seed_yaml()), host)
    for br in h.ovs_bridges:
        check_golden(f"agents/seed/{host}/{br.name}.flows",
                     "".join(format_flow(f) + "\n" for f in br.flows))
    for ns in h.namespaces:
        label = ns.name or "root"
        if ns.iptables:
            check_golden(f"agents/seed/{host}/{label}.iptables", ns.iptables)
        if ns.ip6tables:
            check_golden(f"agents/seed/{host}/{label}.ip6tables", ns.ip6tables)
        if ns.ipsets:
            check_golden(f"agents/seed/{host}/{label}.ipsets", ns.ipsets)


# -- l2 population ------------------------------------------------------------------------------
def test_l2population_floods_only_to_hosts_with_ports_of_the_network() -> None:
    state = program(seed_cloud(l2_population=True, arp_responder=True))
    cmpt2 = _bridge(_host(state, "test-cmpt-02"), "br-tun")
    # test-cmpt-01 has no ports: no tunnel to it; share_net lives on test-ctrl-01 too
    assert [p.name for p in cmpt2.ports if p.is_tunnel] == ["vxlan-c0a8780b"]
    to_ctrl = str(_ofport(cmpt2, "vxlan-c0a8780b"))
    flood = [f for f in _flows(cmpt2, 22) if f.priority == 1]
    assert [f.actions for f in flood] == [
        f"pop_vlan,set_field:0x10050->tun_id,output:{to_ctrl}"]
    cloud = seed_cloud()
    qr_mac = cloud.port(QR_PORT).mac_address
    unicast = {f.match_value("dl_dst") for f in _flows(cmpt2, 20) if f.priority == 2}
    assert qr_mac in unicast and cloud.port(DHCP_PORT).mac_address in unicast
    arp = [f for f in _flows(cmpt2, 21) if f.match_value("arp_tpa") == "192.168.111.1"]
    assert len(arp) == 1 and f"set_field:{qr_mac}->eth_src,IN_PORT" in arp[0].actions
    assert not [p for p in _bridge(_host(state, "test-cmpt-01"), "br-tun").ports if p.is_tunnel]
    # the external network is flat: no l2pop tunnel traffic for the qg- port
    assert cloud.port(QG_PORT).mac_address not in unicast


# -- local VLANs ---------------------------------------------------------------------------------
def test_local_vlans_lowest_free_and_pins() -> None:
    cloud = seed_cloud()
    hosts = tuple(dataclasses.replace(h, local_vlans=()) for h in cloud.hosts)
    state = program(dataclasses.replace(cloud, hosts=hosts))
    br_int = _bridge(_host(state, "test-cmpt-02"), "br-int")
    # unpinned: in port order, test-01 (public_net) first -> 1, then share_net -> 2
    assert br_int.port("qvoaf305168-66").tag == 1  # type: ignore[union-attr]
    assert br_int.port("qvo" + TEST02_PORT[:11]).tag == 2  # type: ignore[union-attr]
    hosts = tuple(dataclasses.replace(h, local_vlans=((SHARE_NET, 7),)) for h in cloud.hosts)
    state = program(dataclasses.replace(cloud, hosts=hosts))
    br_int = _bridge(_host(state, "test-cmpt-02"), "br-int")
    assert br_int.port("qvo" + TEST02_PORT[:11]).tag == 7  # type: ignore[union-attr]
    assert br_int.port("qvoaf305168-66").tag == 1  # type: ignore[union-attr]


# -- names ---------------------------------------------------------------------------------------
CLOUD_FILES = sorted((DATA / "clouds").glob("*.yaml"))


@pytest.mark.parametrize("source", ["flood", "l2pop", *[f.stem for f in CLOUD_FILES]])
def test_every_device_name_fits_linux(source: str) -> None:
    if source in ("flood", "l2pop"):
        l2pop = source == "l2pop"
        state = program(seed_cloud(l2_population=l2pop, arp_responder=l2pop))
    else:
        from neutrace.topology import load

        state = program(load(str(next(f for f in CLOUD_FILES if f.stem == source))))
    names = []
    for h in state.hosts:
        names += [p.name for b in h.ovs_bridges for p in b.ports] + [b.name for b in h.ovs_bridges]
        names += [i.name for ns in h.namespaces for i in ns.interfaces]
    names += [i.name for ns in state.external for i in ns.interfaces]
    assert names and all(0 < len(n) <= 15 for n in names), [n for n in names if len(n) > 15]


def test_neutron_naming_helpers() -> None:
    assert get_tunnel_name("vxlan", "192.168.120.22") == "vxlan-c0a87816"
    assert get_interface_name("br-ex", "int-") == "int-br-ex"
    long = get_interface_name("br-provider-physnet1", "phy-")
    assert len(long) == 15 and long.startswith("phy-br-pr")
    assert ipv6_lla("fa:16:3e:8c:6a:c6") == "fe80::f816:3eff:fe8c:6ac6"


# -- JSON ----------------------------------------------------------------------------------------
def test_state_json_round_trip(seed: CloudState) -> None:
    for h in seed.hosts:
        assert from_json(to_json(h)) == h
    assert from_json(to_json(seed)) == seed


# -- bad input -----------------------------------------------------------------------------------
def test_port_on_physnet_without_bridge_mapping_is_rejected() -> None:
    cloud = seed_cloud()
    hosts = tuple(dataclasses.replace(h, bridge_mappings=()) if h.name == "test-cmpt-02" else h
                  for h in cloud.hosts)
    with pytest.raises(TopologyError) as err:
        program(dataclasses.replace(cloud, hosts=hosts))
    assert "bridge_mappings" in str(err.value) and "test-cmpt-02" in str(err.value)


def test_unknown_firewall_driver_is_rejected() -> None:
    cloud = seed_cloud()
    hosts = tuple(dataclasses.replace(h, firewall_driver="linuxbridge") for h in cloud.hosts)
    with pytest.raises(TopologyError, match="firewall driver"):
        program(dataclasses.replace(cloud, hosts=hosts))


def test_vlan_network_translation() -> None:
    cloud = seed_cloud()
    vlan_net = model.Network(PUBLIC_NET, "public_net", model.TYPE_VLAN,
                             physical_network="external", segmentation_id=100,
                             router_external=True)
    nets = (vlan_net,) + tuple(n for n in cloud.networks if n.id != PUBLIC_NET)
    state = program(dataclasses.replace(cloud, networks=nets))
    host = _host(state, "test-cmpt-02")
    br_ex, br_int = _bridge(host, "br-ex"), _bridge(host, "br-int")
    phy, int_ = _ofport(br_ex, "phy-br-ex"), _ofport(br_int, "int-br-ex")
    lines = [format_flow(f, cookie=False) for f in br_ex.flows + br_int.flows]
    assert (f"table=0, priority=4,in_port={phy},dl_vlan=2 "
            "actions=set_field:4196->vlan_vid,NORMAL") in lines
    assert (f"table=0, priority=3,in_port={int_},dl_vlan=100 "
            "actions=set_field:4098->vlan_vid,goto_table:58") in lines


def test_vm_port_bound_elsewhere_is_rejected() -> None:
    cloud = seed_cloud()
    ports = tuple(dataclasses.replace(p, binding_host_id="test-cmpt-01")
                  if p.id == TEST01_PORT else p for p in cloud.ports)
    with pytest.raises(TopologyError) as err:
        program(dataclasses.replace(cloud, ports=ports))
    assert "vms[test-01].port_ids" in str(err.value) and "test-cmpt-02" in str(err.value)


def test_noop_firewall_plugs_the_tap_into_br_int() -> None:
    cloud = seed_cloud()
    hosts = tuple(dataclasses.replace(h, firewall_driver="noop") for h in cloud.hosts)
    state = program(dataclasses.replace(cloud, hosts=hosts))
    host = _host(state, "test-cmpt-02")
    br_int = _bridge(host, "br-int")
    tap = br_int.port("tapaf305168-66")
    assert tap is not None and tap.type == "" and tap.tag == 2
    assert br_int.port("qvoaf305168-66") is None
    assert host.root.interface("qbraf305168-66") is None
    assert host.root.iptables == ""
    # the noop driver does not protect against ARP spoofing, so the agent does
    assert [f for f in _flows(br_int, 24) if f.match_value("in_port") == str(tap.ofport)]


def test_slash_zero_allowed_address_pair() -> None:
    """A /0 pair: no ARP/NA protection for the port (Neutron deletes what it just added) and the
    remote-group ipset gets two /1s (ipset has no /0)."""
    cloud = seed_cloud()
    pair = model.AllowedAddressPair("0.0.0.0/0", "fa:16:3e:00:00:01")
    ports = tuple(dataclasses.replace(p, allowed_address_pairs=(pair,))
                  if p.id == TEST02_PORT else p for p in cloud.ports)
    state = program(dataclasses.replace(cloud, ports=ports))
    host = _host(state, "test-cmpt-02")
    br_int = _bridge(host, "br-int")
    ofport = str(_ofport(br_int, "qvo" + TEST02_PORT[:11]))
    mine = [f for f in br_int.flows if f.match_value("in_port") == ofport]
    assert not [f for f in mine if f.table == 24 or (f.table == 0 and f.priority == 10)]
    assert sorted(f.match_value("dl_src") or "" for f in mine if f.table == 25) == sorted(
        ["fa:16:3e:00:00:01", cloud.port(TEST02_PORT).mac_address])
    assert "add NIPv4" in host.root.ipsets
    members = [line.split()[-1] for line in host.root.ipsets.splitlines()
               if line.startswith("add NIPv4")]
    assert "0.0.0.0/1" in members and "128.0.0.0/1" in members
    assert "0.0.0.0/0" not in members


def test_port_security_disabled_vm_port() -> None:
    cloud = seed_cloud()
    ports = tuple(dataclasses.replace(p, port_security_enabled=False, security_groups=())
                  if p.id == TEST01_PORT else p for p in cloud.ports)
    host = _host(program(dataclasses.replace(cloud, ports=ports)), "test-cmpt-02")
    br_int = _bridge(host, "br-int")
    ofport = str(_ofport(br_int, "qvoaf305168-66"))
    assert not [f for f in br_int.flows if f.match_value("in_port") == ofport]
    text = host.root.iptables
    accept = ("-m physdev --physdev-in tapaf305168-66 --physdev-is-bridged -m comment --comment "
              "\"Accept all packets when port security is disabled.\" -j ACCEPT")
    assert f"-A neutron-openvswi-FORWARD {accept}" in text
    assert f"-A neutron-openvswi-INPUT {accept}" in text
    assert "neutron-openvswi-iaf305168-6" not in text


def test_gre_and_vxlan_tunnels_side_by_side() -> None:
    cloud = seed_cloud()
    hosts = tuple(dataclasses.replace(h, tunnel_types=("vxlan", "gre")) for h in cloud.hosts)
    br_tun = _bridge(_host(program(dataclasses.replace(cloud, hosts=hosts)), "test-cmpt-02"),
                     "br-tun")
    tunnels = {p.name: (p.type, p.ofport) for p in br_tun.ports if p.is_tunnel}
    assert tunnels == {"vxlan-c0a8780b": ("vxlan", 2), "vxlan-c0a87815": ("vxlan", 3),
                       "gre-c0a8780b": ("gre", 4), "gre-c0a87815": ("gre", 5)}
    lines = [format_flow(f, cookie=False) for f in br_tun.flows]
    assert "table=0, priority=1,in_port=4 actions=goto_table:3" in lines
    (flood,) = [f for f in _flows(br_tun, 22) if f.priority == 1]
    assert flood.actions.endswith("output:2,output:3")  # share_net is vxlan: vxlan ports only


def test_gre_tunnel_port_over_ipv6_is_ip6gre() -> None:
    """ovs_lib's ``get_gre_tunnel_port_type``: GRE between IPv6 endpoints is an ``ip6gre``
    port with ``packet_type=legacy_l2``; over IPv4 a plain ``gre`` port without it."""
    from neutrace.agents.ovs.br_tun import OVSTunnelBridge

    br = OVSTunnelBridge("br-tun", 1)
    br.add_tunnel_port("gre-v6", "2001:db8::2", "2001:db8::1", "gre", 4789, True)
    br.add_tunnel_port("gre-v4", "10.0.0.2", "10.0.0.1", "gre", 4789, True)
    v6, v4 = br.build().ports
    assert (v6.type, v6.option("packet_type")) == ("ip6gre", "legacy_l2")
    assert (v4.type, v4.option("packet_type")) == ("gre", None)
