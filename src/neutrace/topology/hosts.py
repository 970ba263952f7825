"""The hosts and their agents' configuration, as neutron-openvswitch-agent reads it
(``[ovs] bridge_mappings``, ``local_ip``, ``[agent] tunnel_types``...) plus the operator's wiring
(physical NICs on the physical bridges and the segments they plug into) and local VLAN pins.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr
from neutrace.model import DVR_AGENT_MODES, TYPE_VXLAN, Host, PhysicalNic
from neutrace.topology import schema as s
from neutrace.topology.checks import (
    HOSTNAME_RE,
    MAX_VLAN,
    check_cidr,
    check_devname,
    check_in_range,
    check_ip,
    check_mac,
    check_ref,
    check_unique,
)
from neutrace.topology.source import Path_
from neutrace.topology.working import Working

DVR_BASE_MAC_PREFIX = "fa:16:3f"  # [DEFAULT] dvr_base_mac fa:16:3f:00:00:00, first 3 bytes
NicSegments = list[tuple[str, str]]  # (segment, physnet) of every physical NIC


def resolve_hosts(w: Working) -> NicSegments:
    """Check every host and register it; the (segment, physnet) of each physical NIC."""
    ctx = w.ctx
    hosts = w.cloud.hosts
    check_unique(ctx, ((("hosts", i, "name"), h.name) for i, h in enumerate(hosts)), "host name")
    tunnel_ips: list[tuple[Path_, str]] = []
    nic_segments: NicSegments = []
    for i, h in enumerate(hosts):
        p: Path_ = ("hosts", i)
        if not HOSTNAME_RE.match(h.name):
            ctx.fail((*p, "name"), f"host name {h.name!r} is not a valid hostname",
                     "use letters, digits, '-' and '.'")
        check_ip(ctx, (*p, "management_ip"), h.management_ip)
        if h.tunnel_ip is not None:
            check_ip(ctx, (*p, "tunnel_ip"), h.tunnel_ip)
            tunnel_ips.append(((*p, "tunnel_ip"), str(ipaddress.ip_address(h.tunnel_ip))))
        if h.tunnel_types and h.tunnel_ip is None:
            ctx.fail((*p, "tunnel_types"), f"host {h.name} has tunnel_types but no tunnel_ip",
                     "add tunnel_ip: <this host's address on the tunnel network>, "
                     "or remove tunnel_types")
        check_devname(ctx, (*p, "tunnel_nic"), h.tunnel_nic, "tunnel NIC")
        bridges = _bridge_mappings(w, h, p)
        nic_segments += _physical_nics(w, h, p, bridges)
        _tunnel_nic_free(w, h, p)
        _tunnel_routes(w, h, p)
        w.hosts[h.name] = h
    check_unique(ctx, tunnel_ips, "tunnel_ip")
    check_unique(ctx, ((("hosts", i, "management_ip"), str(ipaddress.ip_address(h.management_ip)))
                       for i, h in enumerate(hosts)), "management_ip")
    return nic_segments


def _bridge_mappings(w: Working, h: s.HostIn, p: Path_) -> dict[str, str]:
    """``[ovs] bridge_mappings``: one physical bridge per physnet; bridge -> physnet."""
    ctx = w.ctx
    bridges: dict[str, str] = {}
    for physnet, bridge in h.bridge_mappings.items():
        bp = (*p, "bridge_mappings", physnet)
        if not physnet:
            ctx.fail(bp, "empty physical network name", "name the physnet, like physnet1")
        check_devname(ctx, bp, bridge, "bridge")
        if bridge in ("br-int", "br-tun"):
            ctx.fail(bp, f"{bridge} cannot be a physical bridge (the agent owns it)",
                     "map the physnet to its own bridge, like br-ex")
        if bridge in bridges:
            ctx.fail(bp, f"bridge {bridge} is mapped twice ({bridges[bridge]} and "
                     f"{physnet}); Neutron needs one physnet per bridge",
                     "map each physnet to its own bridge")
        bridges[bridge] = physnet
    return bridges


def _physical_nics(w: Working, h: s.HostIn, p: Path_, bridges: dict[str, str]) -> NicSegments:
    """The NICs the operator put on the physical bridges, each on a named segment."""
    ctx = w.ctx
    out: NicSegments = []
    nic_names: set[str] = set()
    for j, nic in enumerate(h.physical_nics):
        np_ = (*p, "physical_nics", j)
        check_devname(ctx, (*np_, "name"), nic.name, "NIC")
        check_devname(ctx, (*np_, "bridge"), nic.bridge, "bridge")
        if nic.name in nic_names:
            ctx.fail((*np_, "name"), f"NIC {nic.name} is listed twice on host {h.name}",
                     "list each NIC once")
        nic_names.add(nic.name)
        if nic.bridge not in bridges:
            known = ", ".join(sorted(bridges)) or "none"
            ctx.fail((*np_, "bridge"),
                     f"bridge {nic.bridge} is not in host {h.name}'s bridge_mappings "
                     f"(bridges: {known})",
                     f"add '<physnet>: {nic.bridge}' to bridge_mappings or use one of "
                     "its bridges")
        if not nic.segment:
            ctx.fail((*np_, "segment"), "empty segment name",
                     "name the physical L2 segment the NIC plugs into, like external")
        out.append((nic.segment, bridges[nic.bridge]))
    return out


def _tunnel_nic_free(w: Working, h: s.HostIn, p: Path_) -> None:
    """The NIC carrying the tunnel IP is not one a physical bridge owns: OVS takes a bridge's
    port off the IP stack, so local_ip would be unreachable (and the host would have two
    interfaces of one name)."""
    if h.tunnel_ip is None:
        return
    for j, nic in enumerate(h.physical_nics):
        if nic.name == h.tunnel_nic:
            others = sorted({n.name for n in h.physical_nics} | {h.tunnel_nic})
            free = next(f"eth{k}" for k in range(len(others) + 1) if f"eth{k}" not in others)
            w.ctx.fail((*p, "tunnel_nic"),
                       f"host {h.name}'s tunnel NIC {h.tunnel_nic} (tunnel_ip {h.tunnel_ip}) "
                       f"collides with physical NIC {nic.name} of {nic.bridge} "
                       f"(physical_nics[{j}], segment {nic.segment}): a NIC on an OVS bridge "
                       "cannot carry the tunnel endpoint",
                       f"set tunnel_nic: {free} (a NIC of its own for the tunnel network), or "
                       "plug the bridge into another NIC")


TUNNEL_PREFIXLEN = 24  # the tunnel NIC's link: tunnel_ip/24 (agents.TUNNEL_PREFIXLEN)


def _tunnel_routes(w: Working, h: s.HostIn, p: Path_) -> tuple[tuple[str, str], ...]:
    """The underlay's static routes: a destination of the tunnel IP's version, a nexthop on
    the tunnel NIC's link (tunnel_ip/24)."""
    out = []
    for k, r in enumerate(h.tunnel_routes):
        rp: Path_ = (*p, "tunnel_routes", k)
        if h.tunnel_ip is None:
            w.ctx.fail(rp, f"host {h.name} has tunnel_routes but no tunnel_ip",
                       "add tunnel_ip, or remove tunnel_routes")
        link = ipaddress.ip_interface(f"{h.tunnel_ip}/{TUNNEL_PREFIXLEN}").network
        dest = check_cidr(w.ctx, (*rp, "destination"), r.destination)
        hop = check_ip(w.ctx, (*rp, "nexthop"), r.nexthop, "nexthop")
        if dest.version != link.version or hop not in link or str(hop) == h.tunnel_ip:
            w.ctx.fail(rp, f"route {dest} via {hop} is not reachable from {h.tunnel_nic}'s "
                       f"link {link}", f"use a destination of IPv{link.version} and another "
                       f"address of {link} as nexthop")
        out.append((str(dest), str(hop)))
    return tuple(out)


def resolve_local_vlans(w: Working, h: s.HostIn, i: int) -> tuple[tuple[str, int], ...]:
    """A host's local VLAN pins as (network id, VLAN), each network and VLAN once."""
    ctx = w.ctx
    pins: list[tuple[str, int]] = []
    by_vlan: dict[int, str] = {}
    for net_ref, vlan in h.local_vlans.items():
        lp: Path_ = ("hosts", i, "local_vlans", net_ref)
        net = check_ref(ctx, lp, w.net_by_ref, net_ref, "network", [n.name for n in w.networks])
        check_in_range(ctx, lp, vlan, 1, MAX_VLAN, "local VLAN",
                       f"pin a local VLAN between 1 and {MAX_VLAN}")
        if any(nid == net.id for nid, _ in pins):
            ctx.fail(lp, f"network {net.name} is pinned twice on host {h.name}",
                     "pin each network once")
        if vlan in by_vlan:
            ctx.fail(lp, f"local VLAN {vlan} is pinned to both {by_vlan[vlan]} and "
                     f"{net.name} on host {h.name}",
                     "give each network its own local VLAN on a host")
        by_vlan[vlan] = net.name
        pins.append((net.id, vlan))
    return tuple(pins)


def build_hosts(w: Working) -> list[Host]:
    """The model's hosts (after the networks: local VLAN pins name them)."""
    hosts = []
    for i, h in enumerate(w.cloud.hosts):
        hosts.append(Host(
            name=h.name, management_ip=str(ipaddress.ip_address(h.management_ip)),
            tunnel_ip=str(ipaddress.ip_address(h.tunnel_ip)) if h.tunnel_ip else None,
            roles=tuple(dict.fromkeys(h.roles)),
            bridge_mappings=tuple(h.bridge_mappings.items()),
            physical_nics=tuple(PhysicalNic(n.name, n.bridge, n.segment)
                                for n in h.physical_nics),
            tunnel_types=tunnel_types(h), l2_population=h.l2_population,
            arp_responder=h.arp_responder, firewall_driver=h.firewall_driver,
            local_vlans=resolve_local_vlans(w, h, i), tunnel_nic=h.tunnel_nic,
            agent_mode=h.agent_mode, dvr_mac=dvr_mac(w, h, i),
            tunnel_routes=_tunnel_routes(w, h, ("hosts", i)),
        ))
    return hosts


def dvr_mac(w: Working, h: s.HostIn, i: int) -> str | None:
    """The host's DVR MAC (a DVR agent_mode only): given, or a stable one from Neutron's
    ``dvr_base_mac`` ``fa:16:3f:00:00:00`` (the server draws it at random from that base)."""
    p: Path_ = ("hosts", i, "dvr_mac")
    if h.agent_mode == "dvr_no_external":
        w.ctx.fail(("hosts", i, "agent_mode"), "agent_mode dvr_no_external is not modelled yet",
                   "use dvr, dvr_snat or legacy")
    if h.agent_mode not in DVR_AGENT_MODES:
        if h.dvr_mac is not None:
            w.ctx.fail(p, f"host {h.name} has a dvr_mac but agent_mode {h.agent_mode}",
                       "set agent_mode: dvr or dvr_snat, or remove dvr_mac")
        return None
    if tunnel_types(h) and not h.l2_population:
        # OVSNeutronAgent._check_agent_configurations
        w.ctx.fail(("hosts", i, "agent_mode"), f"host {h.name} runs agent_mode {h.agent_mode} "
                   f"over tunnels ({', '.join(tunnel_types(h))}) without l2_population: "
                   "Neutron's OVS agent refuses to start (\"DVR deployments for VXLAN/GRE/"
                   "Geneve underlays require L2-pop to be enabled\")",
                   f"set l2_population: true on host {h.name}")
    if h.dvr_mac is not None:
        return check_mac(w.ctx, p, h.dvr_mac)
    return addr.stable_mac(f"{w.name}/dvr_mac/{h.name}", DVR_BASE_MAC_PREFIX)


def tunnel_types(h: s.HostIn) -> tuple[str, ...]:
    """``[agent] tunnel_types``: as given, else vxlan for a host with a tunnel_ip."""
    if h.tunnel_types is not None:
        return tuple(dict.fromkeys(h.tunnel_types))
    return (TYPE_VXLAN,) if h.tunnel_ip is not None else ()
