"""A loaded ``Cloud`` back to topology-file data, with every generated value written out.

``dump(cloud)`` gives the data of a topology file (``yaml.safe_dump`` writes it) that loads into
the same Cloud: ids, MACs, allocated addresses, VNIs, pools, DHCP ports and the ``default``
security group are all pinned, so the file no longer depends on neutrace's generation (except
an HA router's HA network and ha- ports: its hosts, master and VRID are pinned, the rest is made
again from them, from the cloud's name). Use it to
freeze a cloud before editing it by hand, or to see everything the loader filled in.
"""

from __future__ import annotations

from typing import Any

from neutrace.model import (
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_FLOATINGIP,
    Cloud,
    Ml2Config,
    Port,
)


def _ips(port: Port) -> list[str]:
    return [f.ip_address for f in port.fixed_ips]


def dump(cloud: Cloud) -> dict[str, Any]:
    """The topology-file data of ``cloud``; ``topology.from_dict(dump(c)) == c``."""
    net_name = {n.id: n.name for n in cloud.networks}
    ports = {p.id: p for p in cloud.ports}
    data: dict[str, Any] = {"name": cloud.name, "hosts": []}
    if cloud.ml2 != Ml2Config():
        data["ml2"] = {
            "tenant_network_types": list(cloud.ml2.tenant_network_types),
            "network_vlan_ranges": [f"{p}:{lo}:{hi}" for p, lo, hi in
                                    cloud.ml2.network_vlan_ranges]}
    for h in cloud.hosts:
        host: dict[str, Any] = {"name": h.name, "management_ip": h.management_ip}
        if h.tunnel_ip is not None:
            host["tunnel_ip"] = h.tunnel_ip
        host.update({
            "roles": list(h.roles),
            "bridge_mappings": dict(h.bridge_mappings),
            "physical_nics": [{"name": n.name, "bridge": n.bridge, "segment": n.segment}
                              for n in h.physical_nics],
            "tunnel_types": list(h.tunnel_types),
            "l2_population": h.l2_population,
            "arp_responder": h.arp_responder,
            "firewall_driver": h.firewall_driver,
            "tunnel_nic": h.tunnel_nic,
            "local_vlans": {net_name[nid]: vlan for nid, vlan in h.local_vlans},
            "agent_mode": h.agent_mode,
        })
        if h.dvr_mac is not None:
            host["dvr_mac"] = h.dvr_mac
        if h.tunnel_routes:
            host["tunnel_routes"] = [{"destination": d, "nexthop": n} for d, n in h.tunnel_routes]
        data["hosts"].append(host)
    data["networks"] = []
    ha_networks = {cloud.port(pid).network_id for r in cloud.routers for pid in r.ha_port_ids}
    for n in cloud.networks:
        if n.id in ha_networks:
            continue  # made again from the HA routers (topology.ha)
        provider: dict[str, Any] = {"network_type": n.network_type}
        if n.physical_network is not None:
            provider["physical_network"] = n.physical_network
        if n.segmentation_id is not None:
            provider["segmentation_id"] = n.segmentation_id
        data["networks"].append({
            "name": n.name, "id": n.id, "provider": provider,
            "router_external": n.router_external, "shared": n.shared, "mtu": n.mtu,
            "project_id": n.project_id,
            "subnets": [{
                "name": s.name, "id": s.id, "cidr": s.cidr, "ip_version": s.ip_version,
                "gateway_ip": s.gateway_ip, "enable_dhcp": s.enable_dhcp,
                "allocation_pools": [{"start": p.start, "end": p.end}
                                     for p in s.allocation_pools],
                "dns_nameservers": list(s.dns_nameservers),
                "host_routes": [{"destination": d, "nexthop": h} for d, h in s.host_routes],
                **{k: v for k, v in (("ipv6_ra_mode", s.ipv6_ra_mode),
                                     ("ipv6_address_mode", s.ipv6_address_mode)) if v},
            } for s in cloud.subnets_of(n.id)],
            "dhcp_ports": [{"host": p.binding_host_id, "id": p.id, "mac": p.mac_address,
                            "ip": _ips(p)}
                           for p in cloud.ports_of(n.id) if p.device_owner == DEVICE_OWNER_DHCP],
        })
    data["security_groups"] = [{
        "name": g.name, "id": g.id, "default_egress": False,
        "rules": [{k: v for k, v in {
            "direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
            "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
            "remote_ip_prefix": r.remote_ip_prefix, "remote_group": r.remote_group_id,
            "id": r.id}.items() if v is not None} for r in g.rules],
    } for g in cloud.security_groups]
    data["vms"] = []
    for vm in cloud.vms:
        vm_ports = []
        for pid in vm.port_ids:
            p = ports[pid]
            guest = [cidr.split("/")[0] for port_id, cidr in vm.guest_addresses
                     if port_id == pid]
            vm_ports.append({
                "network": net_name[p.network_id], "ip": _ips(p), "id": p.id, "name": p.name,
                "mac": p.mac_address, "security_groups": list(p.security_groups),
                "port_security_enabled": p.port_security_enabled,
                "allowed_address_pairs": [{"ip_address": a.ip_address,
                                           "mac_address": a.mac_address}
                                          for a in p.allowed_address_pairs],
                **({"guest_addresses": guest} if guest else {}),
            })
        data["vms"].append({"name": vm.name, "host": vm.host, "ports": vm_ports})
    data["routers"] = []
    for r in cloud.routers:
        router: dict[str, Any] = {"name": r.name, "id": r.id, "host": r.host or None,
                                  "distributed": r.distributed}
        if r.project_id:
            router["project_id"] = r.project_id
        if r.ha:
            router.update({"host": None, "ha": True, "ha_hosts": list(r.ha_hosts),
                           "ha_master": r.host, "ha_vr_id": r.ha_vr_id})
        if r.external_gateway is not None:
            gw = ports[r.external_gateway.port_id]
            router["external_gateway"] = {
                "network": r.external_gateway.network_id, "ip": _ips(gw)[0],
                "enable_snat": r.external_gateway.enable_snat, "port_id": gw.id,
                "mac": gw.mac_address}
        router["interfaces"] = [{
            "subnet": ports[pid].fixed_ips[0].subnet_id, "ip": _ips(ports[pid])[0],
            "port_id": pid, "mac": ports[pid].mac_address} for pid in r.interface_port_ids]
        router["routes"] = [{"destination": d, "nexthop": h} for d, h in r.routes]
        data["routers"].append(router)
    fip_ports = {p.device_id: p for p in cloud.ports if p.device_owner == DEVICE_OWNER_FLOATINGIP}
    data["floating_ips"] = [{
        "port": f.port_id, "floating_ip_address": f.floating_ip_address,
        "floating_network": f.floating_network_id, "fixed_ip_address": f.fixed_ip_address,
        "router": f.router_id, "id": f.id, "port_id": fip_ports[f.id].id,
        "port_mac": fip_ports[f.id].mac_address,
    } for f in cloud.floating_ips]
    data["outside"] = [{k: v for k, v in {
        "name": o.name, "ip": o.ip, "mac": o.mac, "segment": o.segment,
        "prefixlen": o.prefixlen, "via": o.via, "gateway": o.gateway,
        "vlan": o.vlan,
        "routes": [{"destination": d, "nexthop": h} for d, h in o.routes] or None,
        "legs": [{k: v for k, v in {"segment": g.segment, "ip": g.ip, "prefixlen": g.prefixlen,
                                    "vlan": g.vlan, "mac": g.mac}.items() if v is not None}
                 for g in o.legs] or None,
    }.items() if v is not None} for o in cloud.outside]
    return data
