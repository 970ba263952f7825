"""The Neutron objects of an export (`neutrace.importers.openstack.Export`) as the data of a
topology file (docs/topology.md) (layer 3): `to_topology`.

Networks, subnets and security groups are written as the export has them (ids kept, every rule
explicit, ``default_egress: false``); instances are the ``compute:*`` ports grouped by
``device_id`` (named by it: an export has no instance names); DHCP ports are pinned on their
hosts; routers take their interfaces, gateway and host from their ports; floating IPs that are
associated with an instance's port are kept. What the topology makes by itself from those (the
HA networks and ``ha-`` ports of HA routers, DVR's ``sg-``/``fg-`` ports) is left out of the
export's ports. See `neutrace.importers.openstack` for what the export lacks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from neutrace.importers.openstack import (
    Assumption,
    Export,
    Hints,
    HostHints,
    Imported,
    Missing,
    _key,
    _Reader,
)

TUNNEL_TYPES = ("vxlan", "gre", "geneve")
#: Placeholders come from the benchmarking range (RFC 2544), never a real cloud's.
MANAGEMENT_PLACEHOLDER = ipaddress.ip_network("198.18.0.0/16")
TUNNEL_PLACEHOLDER = ipaddress.ip_network("198.19.0.0/16")
_MADE_BY_TOPOLOGY = ("network:router_ha_interface", "network:router_centralized_snat",
                     "network:floatingip_agent_gateway")
_SNAT_PORT = "network:router_centralized_snat"
_ROUTER_PORTS = ("network:router_interface", "network:ha_router_replicated_interface",
                 "network:router_interface_distributed")


def _unique(names: dict[str, str], kind: str, out: list[Assumption]) -> dict[str, str]:
    """id -> a unique name (the export's, with the id's head when two share it)."""
    seen: dict[str, int] = {}
    for n in names.values():
        seen[n] = seen.get(n, 0) + 1
    result = {}
    for i, n in names.items():
        if seen[n] > 1:
            result[i] = f"{n}-{i[:8]}"
            out.append(Assumption(Missing.DUPLICATE_NAME, f"{kind} {n}", result[i]))
        else:
            result[i] = n
    return result


def to_topology(export: Export, hints: Hints | None = None, name: str = "imported"
                ) -> Imported:
    """The topology of ``export``; ``hints`` give what it lacks."""
    hints = hints or Hints()
    notes: list[Assumption] = []
    nets = {str(_Reader(o, w).text("id", True)): (o, w) for o, w in export.of("networks")}
    ha_nets = {i for i, (o, _) in nets.items()
               if str(o.get("name") or "").startswith("HA network ")}
    ports = [(o, w) for o, w in export.of("ports")]
    for o, w in ports:  # every port's id and addresses, before anything is made of them
        _Reader(o, w).text("id", True)
        _Reader(o, w).fixed_ips()
    by_owner: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for o, w in ports:
        by_owner.setdefault(str(o.get("device_owner") or ""), []).append((o, w))
    groups = _security_groups(export, notes)
    group_name = {g["id"]: g["name"] for g in groups}
    net_name = _unique({i: str(o.get("name") or i) for i, (o, _) in nets.items()
                        if i not in ha_nets}, "network", notes)
    networks, physnets = _networks(export, nets, net_name, notes)
    dhcp_hosts: dict[str, list[dict[str, Any]]] = {}
    hosts: dict[str, set[str]] = {}
    for o, w in by_owner.get("network:dhcp", []):
        r = _Reader(o, w)
        host = r.text("binding:host_id")
        net = r.text("network_id", True)
        if not host or net not in net_name:
            continue
        hosts.setdefault(host, set()).add("network")
        dhcp_hosts.setdefault(str(net), []).append({
            "host": host, "id": r.text("id", True), "mac": r.text("mac_address"),
            "ip": [ip for _, ip in r.fixed_ips()]})
    for n in networks:
        if n["id"] in dhcp_hosts:
            n["dhcp_ports"] = dhcp_hosts[n["id"]]
    vms = _vms(by_owner, group_name, hosts, notes)
    routers = _routers(export, by_owner, hosts)
    fips = _floating_ips(export, by_owner, {p["id"] for v in vms for p in v["ports"]}, notes)
    for h in hints.hosts:  # hosts with no port (a compute node without instances)
        hosts.setdefault(h, set())
    order = {h: i for i, h in enumerate(hints.hosts)}  # the captures' (or options') order
    host_nets = _host_networks(ports, hosts)
    doc: dict[str, Any] = {
        "name": name,
        "hosts": [_host(h, sorted(roles), host_nets.get(h, set()), nets, physnets,
                        hints, notes, i) for i, (h, roles) in enumerate(sorted(
                            hosts.items(), key=lambda kv: (order.get(kv[0], len(order)),
                                                           kv[0])))],
        "networks": networks, "vms": vms, "routers": routers, "floating_ips": fips,
        "security_groups": groups}
    if any(r.get("distributed") for r in routers):
        for h in doc["hosts"]:
            h["agent_mode"] = "dvr_snat" if "network" in h["roles"] else "dvr"
            mac = hints.of(h["name"]).dvr_mac
            if mac:
                h["dvr_mac"] = mac
            else:
                notes.append(Assumption(Missing.DVR_MAC, h["name"], "generated under "
                                        "fa:16:3f", f"--dvr-mac {h['name']}=MAC"))
    fg_pins: dict[str, list[dict[str, Any]]] = {}
    for o, w in by_owner.get("network:floatingip_agent_gateway", []):
        r = _Reader(o, w)
        host, net = r.text("binding:host_id"), r.text("network_id")
        if host and net in net_name:
            fg_pins.setdefault(str(net), []).append({
                "host": host, "id": r.text("id", True), "mac": r.text("mac_address"),
                "ip": [ip for _, ip in r.fixed_ips()]})
    for n in networks:
        if n["id"] in fg_pins and any(r.get("distributed") for r in routers):
            n["fip_gateway_ports"] = fg_pins[n["id"]]
    return Imported({k: v for k, v in doc.items() if v != []}, tuple(notes))


def _networks(export: Export, nets: Mapping[str, tuple[dict[str, Any], str]],
              net_name: Mapping[str, str], notes: list[Assumption]
              ) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """The networks with their subnets, and each network's physical network."""
    subnets: dict[str, list[dict[str, Any]]] = {}
    sub_names = _unique({str(_Reader(o, w).text("id", True)): str(o.get("name") or o["id"])
                         for o, w in export.of("subnets")}, "subnet", notes)
    for o, w in export.of("subnets"):
        r = _Reader(o, w)
        sid = str(r.text("id", True))
        net = r.text("network_id", True)
        if net not in net_name:
            continue
        s: dict[str, Any] = {"name": sub_names[sid], "id": sid, "cidr": r.text("cidr", True),
                             "gateway_ip": r.text("gateway_ip"),
                             "enable_dhcp": r.flag("enable_dhcp", True)}
        pools = []
        for i, p in enumerate(r.seq("allocation_pools")):
            if isinstance(p, dict) and "start" in p and "end" in p:
                pools.append({"start": str(p["start"]), "end": str(p["end"])})
            elif isinstance(p, str) and "-" in p:
                start, _, end = p.partition("-")
                pools.append({"start": start.strip(), "end": end.strip()})
            else:
                raise r.fail(f"allocation_pools[{i}]", f"not a pool: {p!r}",
                             'give {"start": ..., "end": ...}')
        if pools:
            s["allocation_pools"] = pools
        for mode in ("ipv6_ra_mode", "ipv6_address_mode"):
            if r.text(mode):
                s[mode] = r.text(mode)
        if r.seq("dns_nameservers"):
            s["dns_nameservers"] = [str(x) for x in r.seq("dns_nameservers")]
        routes = [x for x in r.seq("host_routes") if isinstance(x, dict)]
        if routes:
            s["host_routes"] = [{"destination": str(x["destination"]),
                                 "nexthop": str(x["nexthop"])} for x in routes]
        subnets.setdefault(str(net), []).append(s)
    out, physnets = [], {}
    for nid, (o, w) in nets.items():
        if nid not in net_name:
            continue
        r = _Reader(o, w)
        n: dict[str, Any] = {"name": net_name[nid], "id": nid}
        ntype = r.text("provider:network_type")
        physnet = r.text("provider:physical_network")
        seg = r.number("provider:segmentation_id")
        if ntype:
            prov: dict[str, Any] = {"network_type": ntype}
            if physnet:
                prov["physical_network"] = physnet
            elif ntype in ("flat", "vlan"):
                raise r.fail("provider:physical_network", f"a {ntype} network without one",
                             "export the networks as an admin (openstack network show -f "
                             "json, or GET /v2.0/networks)")
            if seg is not None:
                prov["segmentation_id"] = seg
            elif ntype != "flat":
                notes.append(Assumption(Missing.SEGMENTATION_ID, net_name[nid],
                                        "the lowest free one", "export the networks as an "
                                        "admin: provider:segmentation_id"))
            n["provider"] = prov
        else:
            notes.append(Assumption(Missing.SEGMENTATION_ID, net_name[nid], "vxlan, the "
                                    "lowest free VNI", "export the networks as an admin: "
                                    "provider:network_type and provider:segmentation_id"))
        physnets[nid] = physnet
        if r.flag("router:external", False):
            n["router_external"] = True
        if r.flag("shared", False):
            n["shared"] = True
        mtu = r.number("mtu")
        if mtu:
            n["mtu"] = mtu
        if r.text("project_id"):
            n["project_id"] = r.text("project_id")
        if nid in subnets:
            n["subnets"] = subnets[nid]
        out.append(n)
    return out, physnets


def _security_groups(export: Export, notes: list[Assumption]) -> list[dict[str, Any]]:
    rules: dict[str, list[dict[str, Any]]] = {}
    embedded = [(x, w) for o, w in export.of("security_groups")
                for x in (o.get("security_group_rules") or []) if isinstance(x, dict)]
    for o, w in [*embedded, *export.of("security_group_rules")]:
        o = {_key(str(k)): v for k, v in o.items()}
        r = _Reader(o, w)
        rule: dict[str, Any] = {"direction": r.text("direction", True),
                                "ethertype": r.text("ethertype") or "IPv4",
                                "id": r.text("id", True)}
        proto = r.text("protocol")
        if proto and proto.lower() not in ("any", "none", "null"):
            rule["protocol"] = int(proto) if proto.isdigit() else proto.lower()
        lo, hi = r.number("port_range_min"), r.number("port_range_max")
        text = r.text("port_range")
        if text and lo is None and re.fullmatch(r"\d+:\d+", text):
            lo, hi = (int(x) for x in text.split(":"))
        if lo is not None:
            rule["port_range_min"] = lo
        if hi is not None:
            rule["port_range_max"] = hi
        if r.text("remote_ip_prefix"):
            rule["remote_ip_prefix"] = r.text("remote_ip_prefix")
        if r.text("remote_group_id"):
            rule["remote_group"] = r.text("remote_group_id")
        gid = r.text("security_group_id", True)
        if not any(x["id"] == rule["id"] for x in rules.get(str(gid), [])):
            rules.setdefault(str(gid), []).append(rule)
    names = _unique({str(_Reader(o, w).text("id", True)): str(o.get("name") or o["id"])
                     for o, w in export.of("security_groups")}, "security group", notes)
    return [{"name": names[i], "id": i, "default_egress": False, "rules": rules.get(i, [])}
            for i in names]


def _vms(by_owner: Mapping[str, list[tuple[dict[str, Any], str]]], group_name: Mapping[str, str],
         hosts: dict[str, set[str]], notes: list[Assumption]) -> list[dict[str, Any]]:
    vms: dict[str, dict[str, Any]] = {}
    for owner, items in by_owner.items():
        if not owner.startswith("compute:"):
            continue
        for o, w in items:
            r = _Reader(o, w)
            pid = str(r.text("id", True))
            host, device = r.text("binding:host_id"), r.text("device_id")
            if not host or not device:
                notes.append(Assumption(Missing.UNBOUND_PORT, pid, "left out"))
                continue
            hosts.setdefault(host, set()).add("compute")
            port: dict[str, Any] = {"network": r.text("network_id", True), "id": pid,
                                    "ip": [ip for _, ip in r.fixed_ips()]}
            if r.text("mac_address"):
                port["mac"] = r.text("mac_address")
            if r.text("name"):
                port["name"] = r.text("name")
            if not r.flag("port_security_enabled", True):
                port["port_security_enabled"] = False
            else:
                port["security_groups"] = [str(g) for g in r.seq("security_groups")]
            pairs = [p for p in r.seq("allowed_address_pairs") if isinstance(p, dict)]
            if pairs:
                port["allowed_address_pairs"] = [
                    {"ip_address": str(p["ip_address"]), **(
                        {"mac_address": str(p["mac_address"])} if p.get("mac_address")
                        else {})} for p in pairs]
            vm = vms.setdefault(device, {"name": device, "host": host, "ports": []})
            vm["ports"].append(port)
    return list(vms.values())


def _routers(export: Export, by_owner: Mapping[str, list[tuple[dict[str, Any], str]]],
             hosts: dict[str, set[str]]) -> list[dict[str, Any]]:
    ports_of: dict[str, list[_Reader]] = {}
    for owner in (*_ROUTER_PORTS, "network:router_gateway", "network:router_ha_interface",
                  _SNAT_PORT):
        for o, w in by_owner.get(owner, []):
            r = _Reader(o, w)
            ports_of.setdefault(str(r.text("device_id")), []).append(r)
    out = []
    for o, w in export.of("routers"):
        r = _Reader(o, w)
        rid = str(r.text("id", True))
        rt: dict[str, Any] = {"name": r.text("name") or rid, "id": rid}
        mine = ports_of.get(rid, [])
        bound = [p.text("binding:host_id") for p in mine
                 if p.text("device_owner") in ("network:router_gateway", *_ROUTER_PORTS)
                 and p.text("binding:host_id")]
        ha_hosts = sorted({str(p.text("binding:host_id")) for p in mine
                           if p.text("device_owner") == "network:router_ha_interface"
                           and p.text("binding:host_id")})
        for h in [*bound, *ha_hosts]:
            hosts.setdefault(str(h), set()).add("network")
        if r.flag("distributed", False):
            rt["distributed"] = True
        if r.flag("ha", False):
            rt["ha"] = True
            if ha_hosts:
                rt["ha_hosts"] = ha_hosts
            if bound:
                rt["ha_master"] = bound[0]
        elif bound:
            rt["host"] = bound[0]
        if r.text("project_id"):
            rt["project_id"] = r.text("project_id")
        gw = r.obj.get("external_gateway_info")
        if isinstance(gw, dict) and gw.get("network_id"):
            g: dict[str, Any] = {"network": str(gw["network_id"]),
                                 "enable_snat": bool(gw.get("enable_snat", True))}
            ips = [x for x in (gw.get("external_fixed_ips") or []) if isinstance(x, dict)]
            if len(ips) == 1:  # the topology pins one address; several are allocated
                g["ip"] = str(ips[0]["ip_address"])
            gp = next((p for p in mine if p.text("device_owner") == "network:router_gateway"),
                      None)
            if gp is not None:
                g["port_id"] = gp.text("id")
                if gp.text("mac_address"):
                    g["mac"] = gp.text("mac_address")
            rt["external_gateway"] = g
        snat = {sid: p for p in mine if p.text("device_owner") == _SNAT_PORT
                for sid, _ in p.fixed_ips()}
        itfs = []
        for p in mine:
            if p.text("device_owner") not in _ROUTER_PORTS:
                continue
            for sid, ip in p.fixed_ips():
                itf = {"subnet": sid, "ip": ip, "port_id": p.text("id")}
                if p.text("mac_address"):
                    itf["mac"] = p.text("mac_address")
                sg = snat.get(sid)
                if sg is not None and rt.get("distributed"):
                    itf["snat_port_id"] = sg.text("id")
                    if sg.text("mac_address"):
                        itf["snat_mac"] = sg.text("mac_address")
                    itf["snat_ip"] = next(a for s_, a in sg.fixed_ips() if s_ == sid)
                itfs.append(itf)
        if itfs:
            rt["interfaces"] = itfs
        routes = [x for x in r.seq("routes") if isinstance(x, dict)]
        if routes:
            rt["routes"] = [{"destination": str(x["destination"]),
                             "nexthop": str(x["nexthop"])} for x in routes]
        out.append(rt)
    return out


def _floating_ips(export: Export, by_owner: Mapping[str, list[tuple[dict[str, Any], str]]],
                  vm_ports: set[str], notes: list[Assumption]) -> list[dict[str, Any]]:
    own = {str(_Reader(o, w).text("device_id")): _Reader(o, w)
           for o, w in by_owner.get("network:floatingip", [])}
    out = []
    for o, w in export.of("floatingips"):
        r = _Reader(o, w)
        port = r.text("port_id")
        addr = str(r.text("floating_ip_address", True))
        if not port or port not in vm_ports:
            notes.append(Assumption(Missing.UNASSOCIATED_FLOATING_IP, addr, "left out"))
            continue
        f: dict[str, Any] = {"port": port, "floating_ip_address": addr}
        for key, fld in (("floating_network", "floating_network_id"),
                         ("fixed_ip_address", "fixed_ip_address"), ("router", "router_id"),
                         ("id", "id")):
            if r.text(fld):
                f[key] = r.text(fld)
        mine = own.get(str(r.text("id")))
        if mine is not None:
            f["port_id"] = mine.text("id")
            if mine.text("mac_address"):
                f["port_mac"] = mine.text("mac_address")
        out.append(f)
    return out


def _host_networks(ports: list[tuple[dict[str, Any], str]], hosts: Mapping[str, set[str]]
                   ) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for o, w in ports:
        r = _Reader(o, w)
        h = r.text("binding:host_id")
        if h and h in hosts and str(o.get("device_owner") or "") not in _MADE_BY_TOPOLOGY:
            out.setdefault(h, set()).add(str(r.text("network_id")))
    return out


def _host(name: str, roles: list[str], networks: set[str],
          nets: Mapping[str, tuple[dict[str, Any], str]], physnets: Mapping[str, str | None],
          hints: Hints, notes: list[Assumption], index: int) -> dict[str, Any]:
    hint: HostHints = hints.of(name)
    h: dict[str, Any] = {"name": name, "roles": roles or ["compute"]}
    if hint.management_ip:
        h["management_ip"] = hint.management_ip
    else:
        h["management_ip"] = str(MANAGEMENT_PLACEHOLDER[index + 1])
        notes.append(Assumption(Missing.MANAGEMENT_IP, name, h["management_ip"],
                                f"--management-ip {name}=IP"))
    types = {str(nets[n][0].get("provider:network_type") or "vxlan") for n in networks
             if n in nets}
    needs_tunnel = bool(types & set(TUNNEL_TYPES))
    if hint.tunnel_ip:
        h["tunnel_ip"] = hint.tunnel_ip
    elif needs_tunnel:
        h["tunnel_ip"] = str(TUNNEL_PLACEHOLDER[index + 1])
        notes.append(Assumption(Missing.TUNNEL_IP, name, h["tunnel_ip"],
                                f"--tunnel-ip {name}=IP"))
    mappings = dict(hint.bridge_mappings or hints.bridge_mappings)
    if "network" in roles:  # the L3 agent's gateway ports need every external network
        networks = networks | {n for n, (o, _) in nets.items()
                               if o.get("router:external") in (True, "External", "true")}
    for n in sorted(networks):
        physnet = physnets.get(n)
        if physnet and physnet not in mappings:
            mappings[physnet] = f"br-{physnet}"[:15]
            notes.append(Assumption(Missing.BRIDGE_MAPPING, f"{name} {physnet}",
                                    mappings[physnet],
                                    f"--bridge-mapping {name}:{physnet}:BRIDGE"))
    if mappings:
        h["bridge_mappings"] = mappings
    if hint.physical_nics:
        h["physical_nics"] = [{"name": n, "bridge": b, "segment": s}
                              for n, b, s in hint.physical_nics if b in mappings.values()]
    if hint.tunnel_nic:
        h["tunnel_nic"] = hint.tunnel_nic
    if hint.tunnel_types:
        h["tunnel_types"] = list(hint.tunnel_types)
    if hint.l2_population is not None:
        h["l2_population"] = hint.l2_population
    if hint.arp_responder is not None:
        h["arp_responder"] = hint.arp_responder
    if hint.firewall_driver:
        h["firewall_driver"] = hint.firewall_driver
    return h
