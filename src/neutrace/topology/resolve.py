"""From a schema-checked topology (``schema.CloudIn``) to a complete, validated ``model.Cloud``:
the table of contents of the resolution, one Neutron noun per module around one ``Working``
context (``working``):

- ``hosts``: the agents' configuration (bridge mappings, tunnels, physical NICs, local VLANs);
- ``ml2``: the ML2 server's tenant_network_types and network_vlan_ranges, and the segment
  allocation of tenant networks;
- ``networks``: networks and subnets (provider attributes, segments, gateways, pools);
- ``ipam``: generated allocation pools and the first free address of a pool;
- ``ports``: VM and DHCP ports, finished ports with their MACs, the binding checks;
- ``l3``: routers (interface and gateway ports, extra routes) and floating IPs;
- ``dvr``: distributed routers: the SNAT host, the hosts each is instantiated on, the ``sg-``
  (centralized SNAT) and ``fg-`` (floating IP agent gateway) ports;
- ``ha``: HA routers: their hosts and master, the project's HA network, the ``ha-`` ports and
  the VRID;
- ``security_groups``: the groups, Neutron's ``default`` and every rule;
- ``outside``: what lies outside the cloud (outside hosts and gateways on the segments);
- ``checks``: the value checks all of them use.

This is where the meaning of the values is checked (addresses inside their subnets, references
between objects, VLAN/VNI ranges, bridge mappings and tunnels on the hosts that need them, Linux
device names) and where everything Neutron would fill in is filled in, deterministically:

- ids from ``addr.stable_uuid`` and port MACs from ``addr.stable_mac`` (``fa:16:3e:...``), seeded
  by the cloud's name and the object's place (never by randomness or time);
- gateway_ip (the subnet's first address) and allocation pools, as Neutron's
  ``ipam_utils.generate_pools``;
- the ports Neutron creates: DHCP ports (``network:dhcp``, one per network-node host for each
  network with a DHCP-enabled subnet, first free pool address), router interface ports
  (``network:router_interface``, the subnet's gateway_ip), router gateway ports
  (``network:router_gateway``, first free pool address when not given) and floating IP ports
  (``network:floatingip``, unbound);
- Neutron's ``default`` security group for ports that name none, and the two egress rules Neutron
  adds to every new group.

Addresses are allocated in the order Neutron would create the ports: first every address the file
gives, then HA router ports (on their own HA network), DHCP ports, router gateways, DVR SNAT
ports, VM ports, floating IP agent gateway
ports and floating IPs, each taking the first free
address of its subnet's allocation pools.
"""

from __future__ import annotations

from neutrace.model import (
    DEVICE_OWNER_AGENT_GW,
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_DVR_INTERFACE,
    DEVICE_OWNER_FLOATINGIP,
    DEVICE_OWNER_HA_REPLICATED_INT,
    DEVICE_OWNER_ROUTER_GW,
    DEVICE_OWNER_ROUTER_HA_INTF,
    DEVICE_OWNER_ROUTER_INTF,
    DEVICE_OWNER_ROUTER_SNAT,
    Cloud,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import Ctx
from neutrace.topology.dvr import add_snat_ports, schedule_dvr
from neutrace.topology.ha import add_ha_ports
from neutrace.topology.hosts import build_hosts, resolve_hosts
from neutrace.topology.ipam import allocate
from neutrace.topology.l3 import finish_floating_ips, resolve_floating_ips, resolve_routers
from neutrace.topology.ml2 import resolve_ml2
from neutrace.topology.networks import resolve_networks
from neutrace.topology.outside import resolve_outside
from neutrace.topology.ports import (
    check_bindings,
    check_short_ids,
    finish_port,
    resolve_dhcp_ports,
    resolve_vms,
)
from neutrace.topology.security_groups import resolve_security_groups, resolve_sg_names
from neutrace.topology.source import Lines
from neutrace.topology.working import Working

# ports in a stable order: VM ports, DHCP ports, router ports, floating IP ports
_PORT_ORDER = {DEVICE_OWNER_COMPUTE: 0, DEVICE_OWNER_DHCP: 1, DEVICE_OWNER_ROUTER_INTF: 2,
               DEVICE_OWNER_DVR_INTERFACE: 2, DEVICE_OWNER_ROUTER_GW: 2,
               DEVICE_OWNER_ROUTER_SNAT: 2, DEVICE_OWNER_AGENT_GW: 2, DEVICE_OWNER_FLOATINGIP: 3,
               DEVICE_OWNER_HA_REPLICATED_INT: 2, DEVICE_OWNER_ROUTER_HA_INTF: 2}


def resolve(cloud: s.CloudIn, source: str, lines: Lines) -> Cloud:
    """Check ``cloud`` and fill in everything Neutron would; raise TopologyError on the first
    problem (nothing is produced then)."""
    w = Working(cloud, Ctx(source, lines))
    nic_segments = resolve_hosts(w)
    resolve_sg_names(w)
    ml2 = resolve_ml2(w)
    resolve_networks(w, ml2)
    hosts = build_hosts(w)
    vms = resolve_vms(w)
    vm_ports = [pw for pw in w.ports if pw.device_owner == DEVICE_OWNER_COMPUTE]
    dhcp_ports = resolve_dhcp_ports(w)
    routers, gateways = resolve_routers(w)
    routers, ha_ports = add_ha_ports(w, ml2, routers)
    routers, snat_ports = add_snat_ports(w, routers)
    routers, fg_ports = schedule_dvr(w, routers)
    pending_fips = resolve_floating_ips(w)
    for pw in ha_ports + dhcp_ports + gateways + snat_ports + vm_ports + fg_ports:
        allocate(w, pw)
    floating_ips = finish_floating_ips(w, routers, pending_fips)
    check_bindings(w)
    check_short_ids(w)
    indexed = sorted(enumerate(w.ports), key=lambda t: (_PORT_ORDER[t[1].device_owner], t[0]))
    ports = [finish_port(w, pw) for _, pw in indexed]
    used_sgs = {sg for pw in w.ports for sg in pw.security_groups}
    groups = resolve_security_groups(w, used_sgs)
    outside = resolve_outside(w, nic_segments)
    segments = list(dict.fromkeys(
        [seg for seg, _ in nic_segments] + [o.segment for o in outside if o.segment]))
    return Cloud(
        name=cloud.name, hosts=tuple(hosts), networks=tuple(w.networks),
        subnets=tuple(sw.subnet for sw in w.subnets), ports=tuple(ports), vms=tuple(vms),
        routers=tuple(routers), floating_ips=tuple(floating_ips),
        security_groups=tuple(groups), outside=tuple(outside), segments=tuple(segments),
        ml2=ml2,
    )
