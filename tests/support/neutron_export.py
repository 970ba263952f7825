"""A cloud's Neutron objects as the Neutron API returns them to an admin (``GET /v2.0/ports``
and the rest: ``binding:host_id``, ``provider:*``), made from a `neutrace.model.Cloud` (for the
tests of ``neutrace import-openstack``), and the hints an export lacks, from the same model."""

from __future__ import annotations

from typing import Any

from neutrace.importers.openstack import Hints, HostHints
from neutrace.model import Cloud


def api_bodies(cloud: Cloud) -> dict[str, list[dict[str, Any]]]:
    """``{"networks": [...], "subnets": [...], ...}`` of ``cloud``."""
    subnets_of: dict[str, list[str]] = {}
    for s in cloud.subnets:
        subnets_of.setdefault(s.network_id, []).append(s.id)
    return {
        "networks": [{"id": n.id, "name": n.name, "provider:network_type": n.network_type,
                      "provider:physical_network": n.physical_network,
                      "provider:segmentation_id": n.segmentation_id,
                      "router:external": n.router_external, "shared": n.shared, "mtu": n.mtu,
                      "project_id": n.project_id, "subnets": subnets_of.get(n.id, [])}
                     for n in cloud.networks],
        "subnets": [{"id": s.id, "name": s.name, "network_id": s.network_id, "cidr": s.cidr,
                     "ip_version": s.ip_version, "gateway_ip": s.gateway_ip,
                     "enable_dhcp": s.enable_dhcp,
                     "allocation_pools": [{"start": p.start, "end": p.end}
                                          for p in s.allocation_pools],
                     "dns_nameservers": list(s.dns_nameservers),
                     "ipv6_ra_mode": s.ipv6_ra_mode, "ipv6_address_mode": s.ipv6_address_mode,
                     "host_routes": [{"destination": d, "nexthop": h}
                                     for d, h in s.host_routes]} for s in cloud.subnets],
        "ports": [{"id": p.id, "name": p.name, "network_id": p.network_id,
                   "mac_address": p.mac_address,
                   "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                                 for f in p.fixed_ips],
                   "device_owner": p.device_owner, "device_id": p.device_id,
                   "binding:host_id": p.binding_host_id,
                   "security_groups": list(p.security_groups),
                   "port_security_enabled": p.port_security_enabled,
                   "allowed_address_pairs": [{"ip_address": a.ip_address,
                                              "mac_address": a.mac_address}
                                             for a in p.allowed_address_pairs]}
                  for p in cloud.ports],
        "routers": [{"id": r.id, "name": r.name, "distributed": r.distributed, "ha": r.ha,
                     "project_id": r.project_id,
                     "routes": [{"destination": d, "nexthop": h} for d, h in r.routes],
                     "external_gateway_info": None if r.external_gateway is None else {
                         "network_id": r.external_gateway.network_id,
                         "enable_snat": r.external_gateway.enable_snat,
                         "external_fixed_ips": [
                             {"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                             for p in cloud.ports if p.id == r.external_gateway.port_id
                             for f in p.fixed_ips]}}
                    for r in cloud.routers],
        "floatingips": [{"id": f.id, "floating_ip_address": f.floating_ip_address,
                         "floating_network_id": f.floating_network_id, "port_id": f.port_id,
                         "fixed_ip_address": f.fixed_ip_address, "router_id": f.router_id}
                        for f in cloud.floating_ips],
        "security_groups": [{"id": g.id, "name": g.name, "security_group_rules": [
            {"id": r.id, "direction": r.direction, "ethertype": r.ethertype,
             "protocol": r.protocol, "port_range_min": r.port_range_min,
             "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
             "remote_group_id": r.remote_group_id, "security_group_id": g.id}
            for r in g.rules]} for g in cloud.security_groups],
    }


def hints(cloud: Cloud) -> Hints:
    """What the export lacks, as the hosts of ``cloud`` have it."""
    return Hints({h.name: HostHints(
        management_ip=h.management_ip, tunnel_ip=h.tunnel_ip,
        bridge_mappings=h.bridge_mappings,
        physical_nics=tuple((n.name, n.bridge, n.segment) for n in h.physical_nics),
        tunnel_nic=h.tunnel_nic, tunnel_types=h.tunnel_types, l2_population=h.l2_population,
        arp_responder=h.arp_responder, firewall_driver=h.firewall_driver, dvr_mac=h.dvr_mac)
        for h in cloud.hosts})
