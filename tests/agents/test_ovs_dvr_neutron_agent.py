"""The OVS agent's DVR part (neutrace.agents.ovs.ovs_dvr_neutron_agent) on examples/dvr: the
flows each host gets from the other hosts' DVR MACs, its own router ports and its local ports
(the conformance tests compare every flow with Neutron's own code; these need no Neutron)."""

from __future__ import annotations

import neutrace.agents
from neutrace import model, topology
from neutrace.agents import constants as c
from neutrace.dataplane import Flow, OvsBridge
from tests.support.paths import REPO

CLOUD = topology.load(REPO / "examples" / "dvr" / "cloud.yaml")
STATE = neutrace.agents.program(CLOUD)


def flows(host: str, bridge: str, table: int) -> list[Flow]:
    """The flows of one table of one bridge."""
    h = STATE.host(host)
    assert h is not None
    br = h.bridge(bridge)
    assert isinstance(br, OvsBridge)
    return [f for f in br.flows if f.table == table]


def test_other_hosts_dvr_macs_are_let_in_unlearned() -> None:
    for host in CLOUD.hosts:
        others = {h.dvr_mac for h in CLOUD.hosts if h.name != host.name}
        t9 = {f.match_value("dl_src") for f in flows(host.name, "br-tun", c.DVR_NOT_LEARN)
              if f.priority == 1}
        assert t9 == others
        int0 = {f.match_value("dl_src") for f in flows(host.name, "br-int", c.LOCAL_SWITCHING)
                if f.actions == f"goto_table:{c.DVR_TO_SRC_MAC}"}
        assert int0 == others


def test_router_ports_leave_with_the_hosts_dvr_mac() -> None:
    for host in CLOUD.hosts:
        rewrites = [f for f in flows(host.name, "br-tun", c.DVR_PROCESS) if f.priority == 1]
        router = CLOUD.routers[0]
        gw_macs = {CLOUD.port(pid).mac_address for pid in router.interface_port_ids}
        assert {f.match_value("dl_src") for f in rewrites} == gw_macs
        assert all(f.actions.startswith(f"set_field:{host.dvr_mac}->eth_src") for f in rewrites)
        drops = [f for f in flows(host.name, "br-tun", c.FLOOD_TO_TUN) if f.priority == 3]
        assert len(drops) == len(gw_macs)  # ARP for each gateway stays on the host


def test_local_ports_get_dvr_to_src_mac_entries() -> None:
    router = CLOUD.routers[0]
    subnets = {CLOUD.port(pid).fixed_ips[0].subnet_id for pid in router.interface_port_ids}
    for host in CLOUD.hosts:
        served = {p.mac_address for p in CLOUD.ports_on(host.name)
                  if (p.device_owner.startswith("compute:")
                      or p.device_owner in (model.DEVICE_OWNER_DHCP,
                                            model.DEVICE_OWNER_ROUTER_SNAT))
                  and p.fixed_ips[0].subnet_id in subnets}
        t1 = {f.match_value("dl_dst") for f in flows(host.name, "br-int", c.DVR_TO_SRC_MAC)
              if f.priority == 20}
        t60 = {f.match_value("dl_dst") for f in flows(host.name, "br-int", c.TRANSIENT_TABLE)
               if f.priority == 20}
        assert t1 == served == t60


def test_distributed_ports_have_no_l2pop_entries() -> None:
    """A remote qr- MAC is no unicast destination of br-tun (every host has its own)."""
    qr_macs = {CLOUD.port(pid).mac_address for pid in CLOUD.routers[0].interface_port_ids}
    for host in CLOUD.hosts:
        dsts = {f.match_value("dl_dst") for f in flows(host.name, "br-tun", c.UCAST_TO_TUN)}
        assert not dsts & qr_macs
