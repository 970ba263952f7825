"""The L3 agent's HA routers (neutrace.agents.l3.ha_router) and the OVS agent's view of their
ports on examples/ha, without Neutron (the conformance tests compare them with Neutron's own
HaRouter): where each qrouter- namespace is, what keepalived's configuration holds, which node
holds the addresses, and that changing the master moves them."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import neutrace.agents
from neutrace import model, topology
from neutrace.agents.l3.keepalived import KeepalivedInstance, primary_vip_range
from neutrace.dataplane import CloudState, HostState, Namespace
from neutrace.render.show import host_text
from tests.support.golden import check_golden
from tests.support.paths import REPO

TEXT = (REPO / "examples" / "ha" / "cloud.yaml").read_text()
CLOUD = topology.load(REPO / "examples" / "ha" / "cloud.yaml")
STATE = neutrace.agents.program(CLOUD)
(ROUTER,) = CLOUD.routers
QROUTER = f"qrouter-{ROUTER.id}"


def host(state: CloudState, name: str) -> HostState:
    h = state.host(name)
    assert h is not None
    return h


def qrouter(state: CloudState, name: str) -> Namespace:
    ns = host(state, name).namespace(QROUTER)
    assert ns is not None, f"{name} has no {QROUTER}"
    return ns


def addresses(ns: Namespace) -> dict[str, tuple[str, ...]]:
    return {i.name: i.addresses for i in ns.interfaces if i.kind != "loopback"}


def test_namespaces_on_both_network_nodes_only() -> None:
    for h in CLOUD.hosts:
        has = host(STATE, h.name).namespace(QROUTER) is not None
        assert has == (h.name in ROUTER.ha_hosts), h.name


def test_master_holds_the_vips_backup_none() -> None:
    """The master's qr-/qg- hold the router's addresses and floating IP, its ha- the primary
    VIP (169.254.0.<vrid>/24) besides its own HA address; the backup's qr-/qg- are up with no
    address and its ha- has only its own HA address."""
    gw = ROUTER.external_gateway
    assert gw is not None
    qr = f"qr-{ROUTER.interface_port_ids[0][:11]}"
    qg = f"qg-{gw.port_id[:11]}"
    ha1, ha2 = (f"ha-{p[:11]}" for p in ROUTER.ha_port_ids)
    assert addresses(qrouter(STATE, "network1")) == {
        ha1: ("169.254.192.1/18", "169.254.0.1/24"), qr: ("198.51.100.1/24",),
        qg: ("203.0.113.17/32", "203.0.113.21/24")}
    backup = qrouter(STATE, "network2")
    assert addresses(backup) == {ha2: ("169.254.192.2/18",), qr: (), qg: ()}
    assert all(i.up for i in backup.interfaces)
    # the same MAC for qr-/qg- on both nodes (one port), its own for each ha-
    macs = {n: {i.name: i.mac for i in qrouter(STATE, n).interfaces} for n in ROUTER.ha_hosts}
    assert macs["network1"][qr] == macs["network2"][qr] == CLOUD.port(
        ROUTER.interface_port_ids[0]).mac_address
    assert macs["network1"][ha1] != macs["network2"][ha2]


def test_routes_only_on_the_master() -> None:
    master = qrouter(STATE, "network1")
    defaults = [r for r in master.routes if r.destination == "default"]
    assert [(r.gateway, r.device, r.proto) for r in defaults] == [
        ("203.0.113.1", f"qg-{ROUTER.external_gateway.port_id[:11]}", "static")]  # type: ignore[union-attr]
    backup = qrouter(STATE, "network2")
    assert [(r.destination, r.proto) for r in backup.routes] == [("169.254.192.0/18", "kernel")]


def test_sysctls_of_master_and_backup() -> None:
    """HaRouterNamespace: IPv6 forwarding off, ip_nonlocal_bind, addr_gen_mode 1; the master's
    state change turns IPv6 forwarding on and lets qg- accept RAs."""
    gw = ROUTER.external_gateway
    assert gw is not None
    qg = f"qg-{gw.port_id[:11]}"
    master, backup = (dict(qrouter(STATE, n).sysctls) for n in ("network1", "network2"))
    for s in (master, backup):
        assert s["net.ipv4.ip_nonlocal_bind"] == "1"
        assert s["net.ipv6.conf.all.addr_gen_mode"] == "1"
        assert s["net.ipv4.ip_forward"] == "1"
    assert (master["net.ipv6.conf.all.forwarding"], backup["net.ipv6.conf.all.forwarding"]) == (
        "1", "0")
    assert (master[f"net.ipv6.conf.{qg}.accept_ra"], backup[f"net.ipv6.conf.{qg}.accept_ra"]) \
        == ("2", "0")


def test_iptables_are_a_legacy_routers_on_both() -> None:
    """HaRouter is a RouterInfo: the same NAT and filter rules on master and backup."""
    a, b = (qrouter(STATE, n) for n in ROUTER.ha_hosts)
    assert a.iptables == b.iptables and a.ip6tables == b.ip6tables
    assert "-A neutron-l3-agent-float-snat -s 198.51.100.4/32 -j SNAT --to-source " \
        "203.0.113.17" in a.iptables


def test_keepalived_conf() -> None:
    """keepalived.conf as Neutron writes it (the conformance test compares it with Neutron's),
    the same on both nodes but for the ha- device."""
    files = {n: host(STATE, n).file(
        f"/var/lib/neutron/ha_confs/{ROUTER.id}/keepalived.conf") for n in ROUTER.ha_hosts}
    assert all(f is not None for f in files.values())
    f1, f2 = files["network1"], files["network2"]
    assert f1 is not None and f2 is not None and f1.namespace == QROUTER
    ha1, ha2 = (f"ha-{p[:11]}" for p in ROUTER.ha_port_ids)
    assert f1.text.replace(ha1, "HA") == f2.text.replace(ha2, "HA")
    check_golden("agents/ha-keepalived.conf", f1.text + "\n")
    assert not host(STATE, "compute1").files


def test_primary_vip_range() -> None:
    """The first /24 of 169.254.0.0/16 clear of 169.254.169.254, the DVR link-local range and
    the HA network; the VRID is the primary VIP's host part."""
    assert primary_vip_range(("169.254.192.0/18",)) == "169.254.0.0/24"
    assert primary_vip_range(("169.254.0.0/18",)) == "169.254.128.0/24"
    vip = KeepalivedInstance("ha-x", 7, ("169.254.0.0/17",)).primary_vip()
    assert vip == "169.254.128.7/24"
    assert ipaddress.ip_interface(vip).network not in (ipaddress.ip_network("169.254.64.0/18"),)


def test_changing_the_master_moves_the_vips() -> None:
    state = neutrace.agents.program(topology.loads(
        TEXT.replace("    ha_master: network1\n", "    ha_master: network2\n"), "ha.yaml"))
    a1, a2 = (addresses(qrouter(state, n)) for n in ("network1", "network2"))
    assert all(not v for k, v in a1.items() if not k.startswith("ha-"))
    assert "198.51.100.1/24" in [a for v in a2.values() for a in v]
    assert "169.254.0.1/24" in a2[f"ha-{ROUTER.ha_port_ids[1][:11]}"]
    # keepalived.conf does not depend on who is master
    path = f"/var/lib/neutron/ha_confs/{ROUTER.id}/keepalived.conf"
    assert host(state, "network1").file(path) == host(STATE, "network1").file(path)


def test_ovs_ports_and_l2pop() -> None:
    """Both network nodes plug qr-, qg- and their own ha- on br-int; l2pop gives the compute
    nodes a flood entry towards both network nodes but no unicast entry for the HA router's
    MAC (an HA router port, ``get_distributed_active_network_ports``)."""
    for n in ROUTER.ha_hosts:
        br_int = host(STATE, n).bridge("br-int")
        assert br_int is not None
        names = {p.name for p in br_int.ports}
        assert {f"qr-{ROUTER.interface_port_ids[0][:11]}",
                f"ha-{ROUTER.ha_port_on(n)[:11]}"} <= names  # type: ignore[index]
    br_tun = host(STATE, "compute1").bridge("br-tun")
    assert br_tun is not None
    qr_mac = CLOUD.port(ROUTER.interface_port_ids[0]).mac_address
    unicast = {dict(f.match).get("dl_dst") for f in br_tun.flows if f.table == 20}
    assert qr_mac not in unicast
    dhcp = [p.mac_address for p in CLOUD.ports if p.device_owner == model.DEVICE_OWNER_DHCP]
    assert CLOUD.port(CLOUD.vm("instance3").port_ids[0]).mac_address in unicast
    assert set(dhcp) <= unicast
    (flood,) = [f for f in br_tun.flows if f.table == 22 and f.priority == 1]
    assert flood.actions.count("output:") == 3  # network1, network2, compute2
    ha_net = CLOUD.port(ROUTER.ha_port_ids[0]).network_id
    assert ha_net not in dict(neutrace.agents.plan_cloud(CLOUD)["compute1"].lvids)


def test_show_lists_keepalived_conf() -> None:
    text = host_text(host(STATE, "network2"), namespace=QROUTER)
    assert f"--- file /var/lib/neutron/ha_confs/{ROUTER.id}/keepalived.conf (read in " \
        f"namespace {QROUTER}) ---\nglobal_defs {{" in text


def test_a_backup_without_gateway_keeps_no_routes() -> None:
    cloud = replace(CLOUD, routers=(replace(ROUTER, external_gateway=None),),
                    floating_ips=())
    ns = neutrace.agents.program(cloud).host("network1")
    assert ns is not None
    q = ns.namespace(QROUTER)
    assert q is not None and not [r for r in q.routes if r.destination == "default"]
    assert model.DEVICE_OWNER_HA_REPLICATED_INT in model.ROUTER_INTERFACE_OWNERS


def test_radvd_only_on_the_master() -> None:
    """With an IPv6 interface subnet, radvd runs in the master's namespace only."""
    text = (REPO / "tests" / "data" / "clouds" / "ha-extras.yaml").read_text()
    cloud = topology.loads(text, "ha-extras.yaml")
    state = neutrace.agents.program(cloud)
    router = cloud.routers[0]
    for h in router.ha_hosts:
        radvd = [f for f in host(state, h).files if f.path.endswith(f"{router.id}.radvd.conf")]
        assert bool(radvd) == (h == router.host), h
    ns = host(state, router.host).namespace(f"qrouter-{router.id}")
    assert ns is not None
    assert [r.gateway for r in ns.routes if r.destination == "default"] == [
        "172.24.4.1", "2001:db8:24::1"]
