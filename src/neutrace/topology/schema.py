"""The topology file's schema: what a user writes (pydantic v2 models, unknown keys forbidden).

These models check only shape and types (which keys, which scalar types, which enumerations). What
the values mean (addresses in subnets, references between objects, ranges, Neutron's defaults) is
checked and filled in by ``neutrace.topology.resolve``. docs/topology.md documents every key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


def _listify(value: Any) -> Any:
    """``ip: 10.0.0.5`` is ``ip: [10.0.0.5]``."""
    return [value] if isinstance(value, str) else value


StrList = Annotated[
    list[str],
    BeforeValidator(_listify),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


Role = Literal["compute", "network"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhysicalNicIn(_In):
    name: str
    bridge: str
    segment: str


class HostIn(_In):
    name: str
    management_ip: str
    tunnel_ip: str | None = None
    roles: list[Role] = Field(default_factory=lambda: list[Role](["compute"]))
    bridge_mappings: dict[str, str] = Field(default_factory=dict)
    physical_nics: list[PhysicalNicIn] = Field(default_factory=list)
    tunnel_types: list[Literal["vxlan", "gre", "geneve"]] | None = None
    l2_population: bool = False
    arp_responder: bool = False
    firewall_driver: Literal["iptables_hybrid", "openvswitch", "noop"] = "iptables_hybrid"
    tunnel_nic: str = "eth1"
    tunnel_routes: list[HostRouteIn] = Field(default_factory=list)
    local_vlans: dict[str, int] = Field(default_factory=dict)
    agent_mode: Literal["legacy", "dvr", "dvr_snat", "dvr_no_external"] = "legacy"
    dvr_mac: str | None = None


class ProviderIn(_In):
    network_type: Literal["flat", "vlan", "vxlan", "gre", "geneve", "local"]
    physical_network: str | None = None
    segmentation_id: int | None = None


class AllocationPoolIn(_In):
    start: str
    end: str


class HostRouteIn(_In):
    destination: str
    nexthop: str


class SubnetIn(_In):
    name: str
    id: str | None = None
    cidr: str
    ip_version: Literal[4, 6] | None = None
    gateway_ip: str | None = None  # unset: the first address of the cidr; null: no gateway
    enable_dhcp: bool = True
    allocation_pools: list[AllocationPoolIn] | None = None
    dns_nameservers: list[str] = Field(default_factory=list)
    host_routes: list[HostRouteIn] = Field(default_factory=list)
    ipv6_ra_mode: Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"] | None = None
    ipv6_address_mode: Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless"] | None = None


class DhcpPortIn(_In):
    host: str
    id: str | None = None
    mac: str | None = None
    ip: StrList | None = None


class NetworkIn(_In):
    name: str
    id: str | None = None
    provider: ProviderIn | None = None
    router_external: bool = False
    shared: bool = False
    mtu: int | None = None
    project_id: str = ""
    subnets: list[SubnetIn] = Field(default_factory=list)
    dhcp_ports: list[DhcpPortIn] = Field(default_factory=list)
    # an external network's DVR floating IP agent gateway (fg-) ports, pinned per host
    fip_gateway_ports: list[DhcpPortIn] = Field(default_factory=list)


class AddressPairIn(_In):
    ip_address: str
    mac_address: str | None = None


class VmPortIn(_In):
    network: str
    subnet: str | None = None
    ip: StrList | None = None
    id: str | None = None
    name: str = ""
    mac: str | None = None
    security_groups: list[str] | None = None
    port_security_enabled: bool = True
    allowed_address_pairs: list[AddressPairIn] = Field(default_factory=list)
    # not Neutron: addresses the guest itself configures on this NIC (e.g. the VIP of an
    # allowed address pair that its keepalived holds)
    guest_addresses: list[str] = Field(default_factory=list)


class VmIn(_In):
    name: str
    host: str
    ports: list[VmPortIn] = Field(min_length=1)


class GatewayIn(_In):
    network: str
    ip: str | None = None
    enable_snat: bool = True
    port_id: str | None = None
    mac: str | None = None


class InterfaceIn(_In):
    subnet: str
    ip: str | None = None  # default: the subnet's gateway_ip
    port_id: str | None = None
    mac: str | None = None
    # a distributed router's centralized SNAT (sg-) port on this subnet, pinned
    snat_port_id: str | None = None
    snat_mac: str | None = None
    snat_ip: str | None = None


class RouteIn(_In):
    destination: str
    nexthop: str


class RouterIn(_In):
    name: str
    id: str | None = None
    host: str | None = None
    external_gateway: GatewayIn | None = None
    interfaces: list[InterfaceIn] = Field(default_factory=list)
    routes: list[RouteIn] = Field(default_factory=list)
    distributed: bool = False
    project_id: str = ""
    ha: bool = False
    ha_hosts: list[str] | None = None  # default: the network nodes (max_l3_agents_per_router)
    ha_master: str | None = None  # default: the first of ha_hosts
    ha_vr_id: int | None = None  # default: the lowest free VRID of the project's HA network


class FloatingIpIn(_In):
    port: str
    floating_ip_address: str | None = None
    floating_network: str | None = None
    fixed_ip_address: str | None = None
    router: str | None = None
    id: str | None = None
    port_id: str | None = None  # the id of the floating IP's own network:floatingip port
    port_mac: str | None = None  # and its MAC


class SecurityGroupRuleIn(_In):
    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group: str | None = None
    id: str | None = None


class SecurityGroupIn(_In):
    name: str
    id: str | None = None
    default_egress: bool = True  # Neutron adds egress IPv4 + IPv6 to anywhere to a new group
    rules: list[SecurityGroupRuleIn] = Field(default_factory=list)


class OutsideLegIn(_In):
    segment: str
    ip: str
    prefixlen: int | None = None
    vlan: int | None = None
    mac: str | None = None


class OutsideIn(_In):
    name: str
    ip: str
    mac: str | None = None
    segment: str | None = None
    prefixlen: int | None = None
    via: str | None = None
    gateway: str | None = None
    vlan: int | None = None
    routes: list[HostRouteIn] = Field(default_factory=list)  # static routes, on its links
    legs: list[OutsideLegIn] = Field(default_factory=list)


class Ml2In(_In):
    """The ML2 server's ``[ml2] tenant_network_types`` and ``[ml2_type_vlan]
    network_vlan_ranges`` (``physnet1:100:199`` or ``physnet1``)."""

    tenant_network_types: list[Literal["vlan", "vxlan", "gre", "geneve", "local"]] | None = None
    network_vlan_ranges: list[str] = Field(default_factory=list)


class CloudIn(_In):
    name: str
    hosts: list[HostIn] = Field(min_length=1)
    networks: list[NetworkIn] = Field(default_factory=list)
    vms: list[VmIn] = Field(default_factory=list)
    routers: list[RouterIn] = Field(default_factory=list)
    floating_ips: list[FloatingIpIn] = Field(default_factory=list)
    security_groups: list[SecurityGroupIn] = Field(default_factory=list)
    outside: list[OutsideIn] = Field(default_factory=list)
    ml2: Ml2In | None = None


# Keys of Neutron features a user may write that neutrace does not model yet: (schema model,
# key) -> (the feature, what neutrace does instead). The loader names the feature instead of
# saying "unknown key", and refuses the file: nothing falls back silently to another behaviour.
_LEGACY_ROUTER = "routers are legacy routers on one network node's L3 agent"
_QOS = ("QoS", "ports and networks get no bandwidth, packet-rate or DSCP rules")
_AZ = ("Availability zone scheduling", "agents are scheduled by role only")
_DNS = ("DNS integration", "no DNS names are published")
_VNIC = ("A vnic_type other than normal (SR-IOV, direct, macvtap)",
         "VM ports are normal OVS ports")
NOT_MODELLED: dict[tuple[str, str], tuple[str, str]] = {
    ("RouterIn", "availability_zone_hints"): _AZ,
    ("RouterIn", "flavor_id"): ("Router flavor selection", _LEGACY_ROUTER),
    ("HostIn", "enable_distributed_routing"): (
        "The OVS agent's enable_distributed_routing apart from the L3 agent's agent_mode",
        "agent_mode: dvr or dvr_snat turns it on"),
    ("HostIn", "datapath_type"): ("The netdev (DPDK) datapath",
                                  "bridges use the system datapath"),
    ("HostIn", "availability_zone"): _AZ,
    ("HostIn", "igmp_snooping_enable"): ("IGMP snooping", "br-int floods multicast"),
    ("HostIn", "explicitly_egress_direct"): ("explicitly_egress_direct",
                                             "egress traffic takes table 60's NORMAL"),
    ("NetworkIn", "qos_policy_id"): _QOS,
    ("NetworkIn", "port_security_enabled"): (
        "A network-wide port_security_enabled", "set port_security_enabled on each VM port"),
    ("NetworkIn", "segments"): ("Multi-segment (routed provider) networking",
                                "a network has one segment (its provider attributes)"),
    ("NetworkIn", "availability_zone_hints"): _AZ,
    ("NetworkIn", "dns_domain"): _DNS,
    ("NetworkIn", "vlan_transparent"): ("VLAN transparency", "VM traffic is untagged"),
    ("SubnetIn", "subnetpool_id"): ("Subnet pool allocation", "give each subnet its cidr"),
    ("SubnetIn", "subnetpool"): ("Subnet pool allocation", "give each subnet its cidr"),
    ("SubnetIn", "segment_id"): ("Routed provider networking (segment_id)",
                                 "a subnet belongs to its network's one segment"),
    ("SubnetIn", "service_types"): ("Subnet service type filtering", "any port may use any subnet"),
    ("VmPortIn", "qos_policy_id"): _QOS,
    ("VmPortIn", "vnic_type"): _VNIC,
    ("VmPortIn", "binding_vnic_type"): _VNIC,
    ("VmPortIn", "trunk"): ("Trunking (VLAN-aware VMs)", "a VM port carries one network"),
    ("VmPortIn", "sub_ports"): ("Trunking (VLAN-aware VMs)", "a VM port carries one network"),
    ("VmPortIn", "extra_dhcp_opts"): ("The extra_dhcp_opts extension", "dnsmasq's defaults"),
    ("VmPortIn", "dns_name"): _DNS,
    ("FloatingIpIn", "port_forwardings"): ("Floating IP port forwarding",
                                           "a floating IP is 1:1 NAT to its fixed IP"),
    ("FloatingIpIn", "qos_policy_id"): _QOS,
    ("FloatingIpIn", "dns_name"): _DNS,
    ("SecurityGroupIn", "stateful"): ("Stateless security group filtering",
                                      "security groups are stateful (conntrack)"),
    ("SecurityGroupRuleIn", "remote_address_group"): (
        "Address group matching", "use remote_ip_prefix or remote_group"),
    ("SecurityGroupRuleIn", "remote_address_group_id"): (
        "Address group matching", "use remote_ip_prefix or remote_group"),
    ("CloudIn", "trunks"): ("Trunking (VLAN-aware VMs)", "a VM port carries one network"),
    ("CloudIn", "qos_policies"): _QOS,
    ("CloudIn", "address_scopes"): ("Address scope handling",
                                    "every subnet is in the default scope"),
    ("CloudIn", "subnet_pools"): ("Subnet pool allocation", "give each subnet its cidr"),
    ("CloudIn", "segments"): ("Multi-segment (routed provider) networking",
                              "a network has one segment (its provider attributes)"),
    ("CloudIn", "port_forwardings"): ("Floating IP port forwarding",
                                      "a floating IP is 1:1 NAT to its fixed IP"),
    ("CloudIn", "address_groups"): ("Address group matching",
                                    "use remote_ip_prefix or remote_group"),
    ("Ml2In", "vni_ranges"): ("[ml2_type_vxlan]/[ml2_type_geneve] vni_ranges",
                              "tenant VNIs come from the whole range, from 1"),
    ("Ml2In", "tunnel_id_ranges"): ("[ml2_type_gre] tunnel_id_ranges",
                                    "tenant GRE keys come from the whole range, from 1"),
    ("Ml2In", "flat_networks"): ("[ml2_type_flat] flat_networks",
                                 "any physnet may carry a flat network ('*')"),
    ("Ml2In", "physical_network_mtus"): ("[ml2] physical_network_mtus",
                                         "flat and VLAN networks get MTU 1500 (give mtu)"),
    ("Ml2In", "path_mtu"): ("[ml2] path_mtu", "tunnel networks get 1500 minus the overhead"),
    ("Ml2In", "global_physnet_mtu"): ("[DEFAULT] global_physnet_mtu",
                                      "the physical MTU is 1500 (give each network's mtu)"),
    ("Ml2In", "overlay_ip_version"): ("[ml2] overlay_ip_version 6",
                                      "tunnel MTUs assume an IPv4 underlay"),
    ("HostIn", "vxlan_udp_port"): ("[agent] vxlan_udp_port",
                                   "VXLAN ports use UDP 4789"),
    ("HostIn", "tunnel_csum"): ("[agent] tunnel_csum", "tunnel ports have no csum option"),
    ("HostIn", "dont_fragment"): ("[agent] dont_fragment false", "tunnel ports set df_default"),
    ("CloudIn", "network_segment_ranges"): (
        "Network segment range management", "tenant networks take ids from the hosts' ranges"),
}

