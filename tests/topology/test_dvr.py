"""Distributed routers in the topology (neutrace.topology.dvr): where a DVR router is
instantiated, its SNAT and agent gateway ports, DVR MACs, and the refusals."""

from __future__ import annotations

import pytest

from neutrace import model, topology
from neutrace.errors import TopologyError
from tests.support.paths import REPO

DVR = (REPO / "examples" / "dvr" / "cloud.yaml").read_text()


def load(text: str) -> model.Cloud:
    """A cloud from topology text."""
    return topology.loads(text, "dvr.yaml")


def test_dvr_hosts_and_ports() -> None:
    cloud = load(DVR)
    (router,) = cloud.routers
    assert router.distributed and router.host == "network1"
    assert router.dvr_hosts == ("network1", "compute1", "compute2")
    owners = [p.device_owner for p in cloud.ports]
    assert owners.count(model.DEVICE_OWNER_DVR_INTERFACE) == 2
    assert all(cloud.port(pid).binding_host_id == "" for pid in router.interface_port_ids)
    snat = [cloud.port(pid) for pid in router.snat_port_ids]
    assert [p.binding_host_id for p in snat] == ["network1", "network1"]
    # each sg- port is on its interface's subnet, not on the gateway address
    for itf_id, sg in zip(router.interface_port_ids, snat, strict=True):
        itf = cloud.port(itf_id)
        assert sg.fixed_ips[0].subnet_id == itf.fixed_ips[0].subnet_id
        assert sg.fixed_ips[0].ip_address != itf.fixed_ips[0].ip_address
    fg = [p for p in cloud.ports if p.device_owner == model.DEVICE_OWNER_AGENT_GW]
    assert sorted(p.binding_host_id for p in fg) == ["compute1", "compute2", "network1"]
    assert len({p.device_id for p in fg}) == 3  # one L3 agent id per host
    (fip,) = cloud.floating_ips
    assert fip.host == "compute1"


def test_dvr_macs() -> None:
    cloud = load(DVR)
    macs = [h.dvr_mac for h in cloud.hosts]
    assert all(m is not None and m.startswith("fa:16:3f:") for m in macs)
    assert len(set(macs)) == 3
    pinned = load(DVR.replace("    agent_mode: dvr_snat\n",
                              "    agent_mode: dvr_snat\n    dvr_mac: fa:16:3f:00:00:01\n"))
    assert pinned.host("network1").dvr_mac == "fa:16:3f:00:00:01"


def test_no_dvr_router_without_dvr_hosts() -> None:
    """A compute node with a port on a DVR subnet must run a DVR L3 agent."""
    text = DVR.replace("    roles: [compute]\n    agent_mode: dvr\n",
                       "    roles: [compute]\n    agent_mode: legacy\n", 1)
    with pytest.raises(TopologyError, match="agent_mode: dvr on host compute1"):
        load(text)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    agent_mode: dvr_snat\n", "    agent_mode: dvr_no_external\n", "not modelled yet"),
    ("    agent_mode: dvr_snat\n", "    agent_mode: dvr\n", "no host runs an L3 agent in dvr_snat"),
    ("    agent_mode: dvr_snat\n", "    agent_mode: legacy\n    dvr_mac: fa:16:3f:00:00:01\n",
     "has a dvr_mac but agent_mode legacy"),
    ("    distributed: true\n", "    distributed: true\n    host: compute1\n",
     "cannot host the SNAT"),
    # OVSNeutronAgent._check_agent_configurations: DVR over tunnels needs l2pop
    ("    agent_mode: dvr_snat\n    bridge_mappings: {provider: br-provider}\n"
     "    physical_nics: [{name: eth1, bridge: br-provider, segment: provider}]\n"
     "    tunnel_nic: eth2\n    l2_population: true\n",
     "    agent_mode: dvr_snat\n    bridge_mappings: {provider: br-provider}\n"
     "    physical_nics: [{name: eth1, bridge: br-provider, segment: provider}]\n"
     "    tunnel_nic: eth2\n    l2_population: false\n",
     "without l2_population: Neutron's OVS agent refuses to start"),
])
def test_refused(old: str, new: str, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        load(DVR.replace(old, new, 1))


def test_legacy_router_not_on_a_dvr_agent() -> None:
    text = DVR.replace("    distributed: true\n", "    host: network1\n", 1).replace(
        "    agent_mode: dvr_snat\n", "    agent_mode: dvr\n", 1)
    with pytest.raises(TopologyError, match="hosts only distributed routers"):
        load(text)


def test_pinned_snat_and_agent_gateway_ports() -> None:
    """An export of a real cloud pins the sg- and fg- ports Neutron made (their ids, MACs and
    addresses), as dhcp_ports pins DHCP ports."""
    fg = ("    router_external: true\n    fip_gateway_ports:\n"
          "      - {host: compute1, id: 0b5a6d7e-0000-4000-8000-000000000001, "
          "mac: 'fa:16:3e:00:00:f1', ip: 203.0.113.150}\n")
    text = DVR.replace("    router_external: true\n", fg, 1).replace(
        "      - {subnet: selfservice1-v4}\n",
        "      - {subnet: selfservice1-v4, snat_port_id: 1c6b7e8f-0000-4000-8000-000000000002,"
        " snat_mac: 'fa:16:3e:00:00:5a', snat_ip: 192.0.2.50}\n", 1)
    cloud = load(text)
    ports = {p.id: p for p in cloud.ports}
    f = ports["0b5a6d7e-0000-4000-8000-000000000001"]
    assert (f.device_owner, f.binding_host_id, f.mac_address, f.fixed_ips[0].ip_address) == (
        model.DEVICE_OWNER_AGENT_GW, "compute1", "fa:16:3e:00:00:f1", "203.0.113.150")
    s = ports["1c6b7e8f-0000-4000-8000-000000000002"]
    assert (s.device_owner, s.mac_address, s.fixed_ips[0].ip_address) == (
        "network:router_centralized_snat", "fa:16:3e:00:00:5a", "192.0.2.50")
    with pytest.raises(TopologyError, match="fip_gateway_ports.0.host|unknown host"):
        load(DVR.replace("    router_external: true\n", fg.replace("host: compute1",
                                                                      "host: nowhere"), 1))
