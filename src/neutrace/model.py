"""The cloud model in Neutron's own nouns (layer 1): frozen, validated data.

A `Cloud` is what a user describes (hosts and their agent configuration, networks, subnets, ports,
routers, floating IPs, security groups) plus what lies outside the cloud (physical segments, an
upstream gateway, outside hosts). It is built by ``neutrace.topology`` from a YAML/JSON file or the
Python builder, which fill in every default and generated value (ids, MACs, router and DHCP ports),
so the agents read a complete model and never guess.

Attribute names follow the Neutron API (``segmentation_id``, ``router:external`` as
``router_external``, ``device_owner``, ``fixed_ips``, ``allowed_address_pairs``...).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

_T = TypeVar("_T")

# device_owner values, verbatim from neutron_lib.constants
DEVICE_OWNER_COMPUTE = "compute:nova"
DEVICE_OWNER_ROUTER_INTF = "network:router_interface"
DEVICE_OWNER_ROUTER_GW = "network:router_gateway"
DEVICE_OWNER_DHCP = "network:dhcp"
DEVICE_OWNER_FLOATINGIP = "network:floatingip"
DEVICE_OWNER_DVR_INTERFACE = "network:router_interface_distributed"
DEVICE_OWNER_ROUTER_SNAT = "network:router_centralized_snat"
DEVICE_OWNER_AGENT_GW = "network:floatingip_agent_gateway"
DEVICE_OWNER_ROUTER_HA_INTF = "network:router_ha_interface"
DEVICE_OWNER_HA_REPLICATED_INT = "network:ha_router_replicated_interface"
ROUTER_INTERFACE_OWNERS = (DEVICE_OWNER_ROUTER_INTF, DEVICE_OWNER_DVR_INTERFACE,
                           DEVICE_OWNER_HA_REPLICATED_INT)
ROUTER_INTERFACE_OWNERS_SNAT = (*ROUTER_INTERFACE_OWNERS, DEVICE_OWNER_ROUTER_SNAT)

# a subnet's ipv6_ra_mode / ipv6_address_mode (neutron_lib.constants.IPV6_MODES)
IPV6_SLAAC = "slaac"
DHCPV6_STATEFUL = "dhcpv6-stateful"
DHCPV6_STATELESS = "dhcpv6-stateless"
IPV6_MODES = (DHCPV6_STATEFUL, DHCPV6_STATELESS, IPV6_SLAAC)
IPV6_AUTO_MODES = (IPV6_SLAAC, DHCPV6_STATELESS)  # ipv6_utils.is_auto_address_subnet

# [DEFAULT] agent_mode of neutron-l3-agent (neutron_lib.constants.L3_AGENT_MODE_*)
AGENT_MODE_LEGACY = "legacy"
AGENT_MODE_DVR = "dvr"
AGENT_MODE_DVR_SNAT = "dvr_snat"
DVR_AGENT_MODES = (AGENT_MODE_DVR, AGENT_MODE_DVR_SNAT)

# network types (provider:network_type)
TYPE_FLAT = "flat"
TYPE_VLAN = "vlan"
TYPE_VXLAN = "vxlan"
TYPE_GRE = "gre"
TYPE_GENEVE = "geneve"
TYPE_LOCAL = "local"
TUNNEL_TYPES = (TYPE_VXLAN, TYPE_GRE, TYPE_GENEVE)

ROLE_COMPUTE = "compute"
ROLE_NETWORK = "network"


@dataclass(frozen=True, slots=True)
class Ml2Config:
    """The ML2 server's configuration that decides tenant networks' segments:
    ``[ml2] tenant_network_types`` (tried in order) and ``[ml2_type_vlan] network_vlan_ranges``
    as ``(physnet, vlan_min, vlan_max)`` as neutron-lib's ``parse_network_vlan_ranges`` reads
    them (physnets in order of first appearance; a physnet written alone is ``(physnet, 1,
    4094)`` and replaces its other ranges). No ranges:
    VLAN provider networks may use any physnet (neutrace's leniency; Neutron would refuse)."""

    tenant_network_types: tuple[str, ...] = (TYPE_VXLAN,)
    network_vlan_ranges: tuple[tuple[str, int, int], ...] = ()

    def vlan_physnets(self) -> tuple[str, ...]:
        """The physical networks of network_vlan_ranges, in order (once each)."""
        return tuple(dict.fromkeys(p for p, _, _ in self.network_vlan_ranges))


@dataclass(frozen=True, slots=True)
class PhysicalNic:
    """A NIC plugged into an OVS physical bridge (``eth3`` on ``br-ex``) and the physical segment
    (an L2 wire outside the hosts) it connects to."""

    name: str
    bridge: str
    segment: str


@dataclass(frozen=True, slots=True)
class Host:
    """A hypervisor or network node, with its neutron-openvswitch-agent configuration.

    ``bridge_mappings`` are ``(physnet, bridge)`` pairs (``[ovs] bridge_mappings``);
    ``local_vlans`` pins a network's local VLAN on this host: ``(network_id, vlan)``.
    ``agent_mode`` is the L3 agent's (``legacy``, ``dvr``, ``dvr_snat``); a DVR mode also sets
    the OVS agent's ``enable_distributed_routing``, and ``dvr_mac`` is then the host's DVR MAC
    (``get_dvr_mac_address_by_host``; the topology fills it in).
    """

    name: str
    management_ip: str
    tunnel_ip: str | None
    roles: tuple[str, ...] = (ROLE_COMPUTE,)
    bridge_mappings: tuple[tuple[str, str], ...] = ()
    physical_nics: tuple[PhysicalNic, ...] = ()
    tunnel_types: tuple[str, ...] = (TYPE_VXLAN,)
    l2_population: bool = False
    arp_responder: bool = False
    firewall_driver: str = "iptables_hybrid"
    local_vlans: tuple[tuple[str, int], ...] = ()
    tunnel_nic: str = "eth1"
    agent_mode: str = AGENT_MODE_LEGACY
    # the underlay's static routes of the host (destination, nexthop on the tunnel NIC's link)
    tunnel_routes: tuple[tuple[str, str], ...] = ()
    dvr_mac: str | None = None

    @property
    def enable_distributed_routing(self) -> bool:
        """``[agent] enable_distributed_routing`` of the OVS agent (on with a DVR agent_mode)."""
        return self.agent_mode in DVR_AGENT_MODES

    def bridge_for(self, physnet: str) -> str | None:
        return dict(self.bridge_mappings).get(physnet)

    @property
    def is_network_node(self) -> bool:
        return ROLE_NETWORK in self.roles


@dataclass(frozen=True, slots=True)
class Network:
    id: str
    name: str
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None
    router_external: bool = False
    shared: bool = False
    mtu: int = 1500
    project_id: str = ""


@dataclass(frozen=True, slots=True)
class AllocationPool:
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    name: str
    network_id: str
    cidr: str
    ip_version: int = 4
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    allocation_pools: tuple[AllocationPool, ...] = ()
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination, nexthop)
    ipv6_ra_mode: str | None = None  # who advertises: radvd in the router (IPV6_MODES) or none
    ipv6_address_mode: str | None = None  # how ports get addresses: EUI-64 (auto) or IPAM

    @property
    def is_auto_address(self) -> bool:
        """``ipv6_utils.is_auto_address_subnet``: ports get their EUI-64 address (SLAAC or
        DHCPv6-stateless), not one from the allocation pools."""
        return self.ipv6_address_mode in IPV6_AUTO_MODES or self.ipv6_ra_mode in IPV6_AUTO_MODES


@dataclass(frozen=True, slots=True)
class FixedIp:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True, slots=True)
class AllowedAddressPair:
    ip_address: str  # an IP or CIDR
    mac_address: str


@dataclass(frozen=True, slots=True)
class Port:
    """A Neutron port. ``binding_host_id`` is where it is bound; ``device_id`` the VM name for
    compute ports, the router id for router ports, ``dhcp<host>-<network>`` for DHCP ports."""

    id: str
    name: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...]
    device_owner: str
    device_id: str
    binding_host_id: str
    security_groups: tuple[str, ...] = ()
    port_security_enabled: bool = True
    allowed_address_pairs: tuple[AllowedAddressPair, ...] = ()

    @property
    def short_id(self) -> str:
        """The first 11 characters of the id, as in ``tap`` + short_id (Linux's 15-char limit)."""
        return self.id[:11]


@dataclass(frozen=True, slots=True)
class Vm:
    """A Nova instance: name, host, its ports (ids, in NIC order) and the addresses its guest
    configures on them beyond Neutron's (``guest_addresses``)."""

    name: str
    host: str
    port_ids: tuple[str, ...]
    # what the guest configures itself besides its ports' fixed IPs (not Neutron's):
    # (port id, "address/prefixlen of its subnet"), e.g. a VIP its keepalived holds
    guest_addresses: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ExternalGateway:
    network_id: str
    port_id: str
    enable_snat: bool = True


@dataclass(frozen=True, slots=True)
class Router:
    """A router. A legacy one lives on ``host`` (a network node's L3 agent). A ``distributed``
    one (DVR) is instantiated on every host of ``dvr_hosts`` (the DVR scheduler's answer: the
    dvr/dvr_snat hosts with a port on one of its subnets, and the SNAT host); ``host`` is then
    its ``gw_port_host`` (the dvr_snat node with the snat- namespace), ``snat_port_ids`` its
    ``network:router_centralized_snat`` ports (one per interface, bound to ``host``) and its
    interface ports are ``network:router_interface_distributed`` (unbound: every host of
    ``dvr_hosts`` plugs them, with the same MAC and IP).

    An ``ha`` one (L3 HA, VRRP) is instantiated on every host of ``ha_hosts`` (the L3
    agents it is scheduled to), each with its own ``network:router_ha_interface`` port on the
    project's HA network (``ha_port_ids``, in ``ha_hosts`` order) and one keepalived instance,
    virtual router ``ha_vr_id``; ``host`` is then the master (the agent whose binding is
    ``active``), to which its interface ports (``network:ha_router_replicated_interface``) and
    gateway port are bound, and which alone holds their addresses."""

    id: str
    name: str
    host: str
    external_gateway: ExternalGateway | None = None
    interface_port_ids: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  # extra routes (destination, nexthop)
    distributed: bool = False
    dvr_hosts: tuple[str, ...] = ()
    snat_port_ids: tuple[str, ...] = ()
    ha: bool = False
    ha_hosts: tuple[str, ...] = ()
    ha_vr_id: int | None = None
    ha_port_ids: tuple[str, ...] = ()
    project_id: str = ""

    def ha_port_on(self, host: str) -> str | None:
        """The id of this HA router's ``ha-`` port on ``host`` (None elsewhere)."""
        return dict(zip(self.ha_hosts, self.ha_port_ids, strict=True)).get(host)


@dataclass(frozen=True, slots=True)
class FloatingIp:
    id: str
    floating_ip_address: str
    floating_network_id: str
    port_id: str
    fixed_ip_address: str
    router_id: str
    host: str = ""  # DVR: the host of the fixed port, whose fip- namespace serves it


@dataclass(frozen=True, slots=True)
class SecurityGroupRule:
    """``direction`` ingress/egress, ``ethertype`` IPv4/IPv6, ``protocol`` None = any."""

    id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str
    name: str
    rules: tuple[SecurityGroupRule, ...] = ()


@dataclass(frozen=True, slots=True)
class OutsideLeg:
    """One more interface of an outside router on a segment (a VLAN of it when ``vlan``)."""

    ip: str
    mac: str
    segment: str
    prefixlen: int = 24
    vlan: int | None = None


@dataclass(frozen=True, slots=True)
class OutsideHost:
    """Something outside the cloud: an upstream gateway or an outside host.

    It sits on ``segment`` with ``ip``/``prefixlen`` (the gateway, e.g. 192.168.100.1 on the
    external segment) or behind ``via`` (the name of a gateway OutsideHost: 203.0.113.10 is reached
    through it). A gateway forwards between its segment and the hosts behind it. An outside
    router has ``legs`` on more segments or VLANs (the physical router between two provider
    networks) and static ``routes``.
    """

    name: str
    ip: str
    mac: str
    segment: str | None = None
    prefixlen: int = 24
    via: str | None = None
    gateway: str | None = None  # its default gateway IP when on a segment
    vlan: int | None = None  # the 802.1Q VLAN it uses on its segment (a VLAN provider network)
    # static routes (destination, nexthop on its link), e.g. to a router's IPv6 tenant subnets
    routes: tuple[tuple[str, str], ...] = ()
    legs: tuple[OutsideLeg, ...] = ()  # a router's other interfaces (it forwards between them)

    @property
    def forwards(self) -> bool:
        """A router of the physical network: it has legs (hosts behind it make it a gateway,
        which forwards too)."""
        return bool(self.legs)


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Cloud:
    """The whole described cloud."""

    name: str
    hosts: tuple[Host, ...]
    networks: tuple[Network, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    ports: tuple[Port, ...] = ()
    vms: tuple[Vm, ...] = ()
    routers: tuple[Router, ...] = ()
    floating_ips: tuple[FloatingIp, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    outside: tuple[OutsideHost, ...] = ()
    segments: tuple[str, ...] = ()
    ml2: Ml2Config = Ml2Config()

    # -- lookups: each an index built at first use and kept while the cloud lives (it is frozen,
    # so an index never goes stale); the first item wins where a key repeats --
    def host(self, name: str) -> Host:
        return _one(self, self.hosts, "name", name, "host")

    def network(self, network_id: str) -> Network:
        return _one(self, self.networks, "id", network_id, "network")

    def subnet(self, subnet_id: str) -> Subnet:
        return _one(self, self.subnets, "id", subnet_id, "subnet")

    def port(self, port_id: str) -> Port:
        return _one(self, self.ports, "id", port_id, "port")

    def router(self, router_id: str) -> Router:
        return _one(self, self.routers, "id", router_id, "router")

    def vm(self, name: str) -> Vm:
        return _one(self, self.vms, "name", name, "vm")

    def security_group(self, sg_id: str) -> SecurityGroup:
        return _one(self, self.security_groups, "id", sg_id, "security group")

    def subnets_of(self, network_id: str) -> tuple[Subnet, ...]:
        return _group(self, "subnets", "network_id", network_id)

    def ports_on(self, host: str) -> tuple[Port, ...]:
        return _group(self, "ports", "binding_host_id", host)

    def ports_of(self, network_id: str) -> tuple[Port, ...]:
        return _group(self, "ports", "network_id", network_id)


# id(cloud) -> (field, attribute, one or group) -> index; an entry goes with its cloud
_INDEXES: dict[int, dict[Any, Any]] = {}


def cloud_index(cloud: Cloud, key: tuple[Any, ...], build: Callable[[], _T]) -> _T:
    """``build()``'s value, computed once per (cloud, key) and kept while ``cloud`` lives: for
    the indexes other layers derive from a cloud (it is frozen, so they never go stale)."""
    indexes = _indexes(cloud)
    if key not in indexes:
        indexes[key] = build()
    value: _T = indexes[key]
    return value


def _indexes(cloud: Cloud) -> dict[Any, Any]:
    indexes = _INDEXES.get(id(cloud))
    if indexes is None:
        indexes = _INDEXES[id(cloud)] = {}
        weakref.finalize(cloud, _INDEXES.pop, id(cloud), None)
    return indexes


def _one(cloud: Cloud, items: tuple[_T, ...], attr: str, value: str, what: str) -> _T:
    indexes = _indexes(cloud)
    index: dict[Any, _T] | None = indexes.get((what, attr, True))
    if index is None:
        index = {}
        for item in items:
            index.setdefault(getattr(item, attr), item)
        indexes[(what, attr, True)] = index
    try:
        return index[value]
    except (KeyError, TypeError):
        raise KeyError(f"no {what} {value!r}") from None


def _group(cloud: Cloud, field: str, attr: str, value: str | None) -> tuple[Any, ...]:
    indexes = _indexes(cloud)
    index = indexes.get((field, attr, False))
    if index is None:
        lists: dict[Any, list[Any]] = {}
        for item in getattr(cloud, field):
            lists.setdefault(getattr(item, attr), []).append(item)
        index = indexes[(field, attr, False)] = {k: tuple(v) for k, v in lists.items()}
    return index.get(value, ())  # type: ignore[no-any-return]


