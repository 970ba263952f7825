"""Every class of topology error: one broken copy of tests/data/topology/base.yaml per case, its
message kept as a golden file (tests/golden/topology/<case>.txt; pytest --update-golden rewrites).

Each case also states the place (path) the message must name, so a golden rewritten by accident
still cannot hide an error pointing at the wrong key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from neutrace import topology
from neutrace.errors import InputError, TopologyError
from neutrace.topology import schema
from tests.support.golden import check_golden
from tests.support.paths import DATA

BASE_PATH = DATA / "topology" / "base.yaml"
BASE = BASE_PATH.read_text()


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once in the base cloud"
    return text.replace(old, new)


VM_A_PORT = '{network: tenant, ip: 10.10.0.10, mac: "fa:16:3e:00:00:0a", security_groups: [web]}'
VM_B_PORT = "{network: vlan-net, ip: 10.20.0.10}"
CMP_MAPPING = """    bridge_mappings: {physnet1: br-ex}
    physical_nics: [{name: eth2, bridge: br-ex, segment: dc}]
    local_vlans"""

# case name -> (broken text, the `where` the error must name, the line it must name)
CASES: dict[str, tuple[str, str, int | None]] = {
    "yaml_syntax": (edit("  - name: tenant\n", "  - name: tenant\n   oops: [\n"), "", 23),
    "duplicate_key": (edit("    router_external: true\n",
                           "    router_external: true\n    router_external: false\n"),
                      "networks[0]", 20),
    "unknown_key": (edit("router_external: true", "router_externl: true"), "networks[0]", 19),
    "unknown_top_level_key": (BASE + "pins: {}\n", "", 52),
    "misspelled_required_key": (
        edit("{name: eth2, bridge: br-ex, segment: dc}]\n    local_vlans",
             "{name: eth2, bridge: br-ex, segmnt: dc}]\n    local_vlans"),
        "hosts[1].physical_nics[0]", 14),
    "duplicate_management_ip": (edit("management_ip: 10.0.0.21", "management_ip: 10.0.0.11"),
                                "hosts[1].management_ip", 11),
    "interface_on_gateway_network": (edit("[{subnet: tenant-sub}]",
                                          "[{subnet: tenant-sub}, {subnet: ext-sub}]"),
                                     "routers[0].interfaces[1].subnet", 47),
    "outside_gateway_off_link": (edit("segment: dc}\n", "segment: dc, gateway: 10.0.0.1}\n"),
                                 "outside[0].gateway", 51),
    "outside_vlan_out_of_range": (edit("segment: dc}\n", "segment: dc, vlan: 5000}\n"),
                                  "outside[0].vlan", 51),
    "missing_key": (edit("    management_ip: 10.0.0.21\n", ""), "hosts[1]", 10),
    "wrong_type": (edit("segmentation_id: 1001", "segmentation_id: many"),
                   "networks[1].provider.segmentation_id", 23),
    "number_for_a_name": (edit("  - name: vm-b\n", "  - name: 1234\n"), "vms[1].name", 39),
    "unknown_network_type": (edit("network_type: vxlan", "network_type: vxlam"),
                             "networks[1].provider.network_type", 23),
    "ip_outside_subnet": (edit("ip: 10.20.0.10", "ip: 10.21.0.10"), "vms[1].ports[0].ip", 42),
    "guest_address_outside_subnets": (
        edit(VM_B_PORT, "{network: vlan-net, ip: 10.20.0.10, guest_addresses: [10.10.0.99]}"),
        "vms[1].ports[0].guest_addresses[0]", 42),
    "ip_outside_given_subnet": (
        edit("{subnet: tenant-sub}", "{subnet: tenant-sub, ip: 10.20.0.1}"),
        "routers[0].interfaces[0].ip", 47),
    "gateway_ip_outside_subnet": (
        edit("cidr: 10.10.0.0/24}", "cidr: 10.10.0.0/24, gateway_ip: 10.11.0.1}"),
        "networks[1].subnets[0].gateway_ip", 25),
    "duplicate_ip": (edit(VM_B_PORT, "{network: tenant, ip: 10.10.0.10}"),
                     "vms[1].ports[0].ip", 42),
    # Neutron lets a VM port take a subnet's gateway_ip; the router interface then cannot
    "router_interface_ip_taken": (edit("ip: 10.10.0.10,", "ip: 10.10.0.1,"),
                                  "routers[0].interfaces[0].subnet", 47),
    "duplicate_mac": (edit(VM_B_PORT, '{network: tenant, ip: 10.10.0.11, mac: "fa:16:3e:0:0:a"}'),
                      "vms[1].ports[0].mac", 42),
    "bad_cidr": (edit("cidr: 10.20.0.0/24", "cidr: 10.20.0.0/33"),
                 "networks[2].subnets[0].cidr", 29),
    "cidr_host_bits": (edit("cidr: 10.20.0.0/24", "cidr: 10.20.0.5/24"),
                       "networks[2].subnets[0].cidr", 29),
    "bad_ip": (edit("management_ip: 10.0.0.11", "management_ip: 10.0.0.256"),
               "hosts[0].management_ip", 5),
    "bad_mac": (edit('mac: "fa:16:3e:00:00:0a"', 'mac: "fa:16:3e:00:00"'),
                "vms[0].ports[0].mac", 38),
    "unknown_network": (edit("{network: vlan-net, ip", "{network: vlan_net, ip"),
                        "vms[1].ports[0].network", 42),
    "unknown_subnet": (edit("[{subnet: tenant-sub}]", "[{subnet: tenant-subnet}]"),
                       "routers[0].interfaces[0].subnet", 47),
    "unknown_host": (edit("    host: net-01\n", "    host: net-02\n"), "routers[0].host", 45),
    "unknown_router": (edit('floating_ip_address: 172.24.4.50}',
                            'floating_ip_address: 172.24.4.50, router: r2}'),
                       "floating_ips[0].router", 49),
    "unknown_port": (edit('port: "vm-a:0"', 'port: "vm-a:1"'), "floating_ips[0].port", 49),
    "unknown_security_group": (edit("security_groups: [web]", "security_groups: [www]"),
                               "vms[0].ports[0].security_groups[0]", 38),
    "unknown_remote_group": (edit("port_range_max: 80}", "port_range_max: 80, remote_group: db}"),
                             "security_groups[0].rules[0].remote_group", 33),
    "unknown_segment": (edit("segment: dc}\n", "segment: datacenter}\n"),
                        "outside[0].segment", 51),
    "vni_out_of_range": (edit("segmentation_id: 1001", "segmentation_id: 16777216"),
                         "networks[1].provider.segmentation_id", 23),
    "vlan_out_of_range": (edit("segmentation_id: 100}", "segmentation_id: 4095}"),
                          "networks[2].provider.segmentation_id", 27),
    "vlan_without_segmentation_id": (edit(", segmentation_id: 100}", "}"),
                                     "networks[2].provider", 27),
    "missing_bridge_mapping": (edit(CMP_MAPPING, "    local_vlans"), "vms[1].ports[0]", 40),
    "dhcp_host_without_mapping": (
        edit("    roles: [network]\n    bridge_mappings: {physnet1: br-ex}\n"
             "    physical_nics: [{name: eth2, bridge: br-ex, segment: dc}]\n",
             "    roles: [network]\n"),
        "networks[2]", 24),
    "floating_ip_not_external": (
        edit('floating_ip_address: 172.24.4.50}', 'floating_network: vlan-net}'),
        "floating_ips[0].floating_network", 49),
    "gateway_not_external": (edit("router_external: true", "router_external: false"),
                             "routers[0].external_gateway.network", 46),
    "bridge_name_too_long": (edit("{physnet1: br-ex}\n    physical_nics: [{name: eth2, bridge: "
                                  "br-ex, segment: dc}]\n  - name: cmp-01",
                                  "{physnet1: br-external-phys}\n    physical_nics: [{name: eth2,"
                                  " bridge: br-external-phys, segment: dc}]\n  - name: cmp-01"),
                             "hosts[0].bridge_mappings.physnet1", 8),
    "nic_name_too_long": (edit("{name: eth2, bridge: br-ex, segment: dc}]\n    local_vlans",
                               "{name: enp129s0f1np1abc, bridge: br-ex, segment: dc}]\n"
                               "    local_vlans"),
                          "hosts[1].physical_nics[0].name", 14),
    "nic_bridge_not_mapped": (edit("{name: eth2, bridge: br-ex, segment: dc}]\n    local_vlans",
                                   "{name: eth2, bridge: br-eth2, segment: dc}]\n    local_vlans"),
                              "hosts[1].physical_nics[0].bridge", 14),
    "vxlan_without_tunnel_ip": (edit("    tunnel_ip: 10.1.0.21\n", ""), "vms[0].ports[0]", 37),
    "tunnel_types_without_tunnel_ip": (
        edit("    tunnel_ip: 10.1.0.21\n", "    tunnel_types: [vxlan]\n"),
        "hosts[1].tunnel_types", 12),
    "local_vlan_out_of_range": (edit("{tenant: 5,", "{tenant: 4095,"),
                                "hosts[1].local_vlans.tenant", 15),
    "local_vlan_clash": (edit("vlan-net: 6}", "vlan-net: 5}"), "hosts[1].local_vlans.vlan-net", 15),
    "local_vlan_unknown_network": (edit("{tenant: 5,", "{tenants: 5,"),
                                   "hosts[1].local_vlans.tenants", 15),
    "duplicate_name": (edit("  - name: vm-b\n", "  - name: vm-a\n"), "vms[1].name", 39),
    "bad_uuid": (edit("  - name: r1\n", "  - name: r1\n    id: c8aec0d9-3203\n"),
                 "routers[0].id", 45),
    "short_id_clash": (
        edit(VM_B_PORT, "{network: vlan-net, ip: 10.20.0.10, id: 466214fa-3d8c-4b5e-a1f0-"
                        "7c2d9e6b5a13}").replace(
            "[{subnet: tenant-sub}]",
            "[{subnet: tenant-sub, port_id: 466214fa-3d00-4b5e-a1f0-7c2d9e6b5a14}]"),
        "routers[0].interfaces[0]", 47),
    "router_host_not_network": (edit("    host: net-01\n", "    host: cmp-01\n"),
                                "routers[0].host", 45),
    "segment_reused": (edit("segmentation_id: 100}", "segmentation_id: 100}\n"
                            "  - name: vlan-net2\n    provider: {network_type: vlan, "
                            "physical_network: physnet1, segmentation_id: 100}"),
                       "networks[3].provider", 29),
    "pool_contains_gateway": (
        edit("cidr: 172.24.4.0/24,", "cidr: 172.24.4.0/24, allocation_pools: "
             "[{start: 172.24.4.1, end: 172.24.4.99}],"),
        "networks[0].subnets[0].allocation_pools[0]", 21),
    "port_range_reversed": (edit("port_range_min: 80, port_range_max: 80",
                                 "port_range_min: 80, port_range_max: 79"),
                            "security_groups[0].rules[0].port_range_max", 33),
    # a Neutron feature neutrace does not model is named, never "unknown key"
    "ha_router_with_host": (edit("  - name: r1\n", "  - name: r1\n    ha: true\n"),
                            "routers[0].host", 46),
    "ha_router_distributed": (edit("  - name: r1\n    host: net-01\n",
                                   "  - name: r1\n    ha: true\n    distributed: true\n"),
                              "routers[0].distributed", 46),
    "not_modelled_dvr_ovs_alone": (edit("    roles: [network]\n", "    roles: [network]\n"
                                        "    enable_distributed_routing: true\n"),
                                   "hosts[0]", 8),
    "not_modelled_qos": (edit(VM_B_PORT, "{network: vlan-net, ip: 10.20.0.10, qos_policy_id: q1}"),
                         "vms[1].ports[0]", 42),
    "not_modelled_top_level": (BASE + "trunks: []\n", "", 52),
    "outside_needs_segment_or_via": (edit("segment: dc}\n", "segment: dc, via: upstream}\n"),
                                     "outside[0]", 51),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_message(case: str) -> None:
    text, where, line = CASES[case]
    with pytest.raises(TopologyError) as info:
        topology.loads(text, source="cloud.yaml")
    error = info.value
    assert isinstance(error, InputError)
    assert (error.source, error.where, error.line) == ("cloud.yaml", where, line), str(error)
    assert error.fix, "every message says how to fix it"
    check_golden(f"topology/{case}.txt", str(error) + "\n")


@pytest.mark.parametrize(("model", "key"), sorted(schema.NOT_MODELLED))
def test_not_modelled_keys_are_named(model: str, key: str) -> None:
    """Each key of a feature not modelled yet is not in the schema (an entry must go when the
    feature comes) and is refused with the feature's name, never as an unknown key."""
    cls = getattr(schema, model)
    assert key not in cls.model_fields, f"{model}.{key} is modelled: drop its NOT_MODELLED entry"
    feature = schema.NOT_MODELLED[(model, key)][0]
    data = yaml.safe_load(BASE)
    data.setdefault("ml2", {})
    place: dict[str, object] = {
        "CloudIn": data, "HostIn": data["hosts"][0], "RouterIn": data["routers"][0],
        "NetworkIn": data["networks"][1], "SubnetIn": data["networks"][1]["subnets"][0],
        "VmPortIn": data["vms"][0]["ports"][0], "FloatingIpIn": data["floating_ips"][0],
        "SecurityGroupIn": data["security_groups"][0],
        "SecurityGroupRuleIn": data["security_groups"][0]["rules"][0],
        "Ml2In": data["ml2"]}[model]
    assert isinstance(place, dict)
    place[key] = True
    with pytest.raises(TopologyError) as info:
        topology.from_dict(data)
    assert str(info.value.problem) == f"{feature} is not modelled yet"
    assert "unknown key" not in str(info.value)


def test_base_cloud_is_valid() -> None:
    """The cases above fail because of their one change, not because the base is broken."""
    cloud = topology.load(BASE_PATH)
    assert [v.name for v in cloud.vms] == ["vm-a", "vm-b"]


def test_json_syntax_error() -> None:
    with pytest.raises(TopologyError) as info:
        topology.loads('{"name": "t",\n "hosts": [}\n', source="cloud.json")
    assert (info.value.source, info.value.line) == ("cloud.json", 2)
    check_golden("topology/json_syntax.txt", str(info.value) + "\n")


def test_json_same_schema_and_lines() -> None:
    data = yaml.safe_load(BASE)
    text = json.dumps(data, indent=2)
    assert topology.loads(text, source="cloud.json") == topology.load(BASE_PATH)
    data["networks"][1]["provider"]["segmentation_id"] = 0
    text = json.dumps(data, indent=2)
    with pytest.raises(TopologyError) as info:
        topology.loads(text, source="cloud.json")
    assert info.value.where == "networks[1].provider.segmentation_id"
    assert info.value.line is not None
    assert '"segmentation_id": 0' in text.splitlines()[info.value.line - 1]


def test_json_with_tabs_has_lines() -> None:
    text = '{\n\t"name": "x",\n\t"hosts": [{"name": "h", "management_ip": "1.2.3.4", "x": 1}]\n}\n'
    with pytest.raises(TopologyError) as info:
        topology.loads(text, source="cloud.json")
    assert (info.value.where, info.value.line) == ("hosts[0]", 3)
    assert "unknown key 'x'" in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read the file"):
        topology.load(tmp_path / "missing.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(TopologyError, match="must be a mapping"):
        topology.loads("- a\n- b\n")


def test_yaml_scalars_stay_strings() -> None:
    """YAML 1.1 would read this MAC as a base-60 integer and 'on' as true; neutrace does not."""
    text = edit('mac: "fa:16:3e:00:00:0a"', "mac: 10:20:30:40:50:52").replace(
        "name: t\n", "name: on\n")
    cloud = topology.loads(text)
    assert cloud.name == "on"
    assert cloud.port(cloud.vm("vm-a").port_ids[0]).mac_address == "10:20:30:40:50:52"


def test_anchors_and_merge_keys() -> None:
    text = """
name: anchors
x-host: &host
  bridge_mappings: {physnet1: br-ex}
  roles: [compute]
hosts:
  - <<: *host
    name: h1
    management_ip: 10.0.0.1
    roles: [compute, network]
  - <<: *host
    name: h2
    management_ip: 10.0.0.2
"""
    cloud = topology.loads(text)
    assert [(h.name, h.roles, h.bridge_mappings) for h in cloud.hosts] == [
        ("h1", ("compute", "network"), (("physnet1", "br-ex"),)),
        ("h2", ("compute",), (("physnet1", "br-ex"),))]
    with pytest.raises(TopologyError) as info:
        topology.loads(text + "    name: h3\n", source="a.yaml")
    assert (info.value.where, info.value.line) == ("hosts[1]", 14)
    assert "duplicate key 'name'" in str(info.value)
