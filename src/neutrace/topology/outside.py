"""What lies outside the cloud (no Neutron counterpart): the outside hosts and gateways on the
physical segments the hosts' NICs plug into, or behind such a gateway; their MACs (locally
administered, ``02:00:5e:...``), prefix lengths, VLANs and default gateways; the routers of the
physical network with ``legs`` on more segments or VLANs and static ``routes``.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr
from neutrace.model import OutsideHost, OutsideLeg
from neutrace.topology import schema as s
from neutrace.topology.checks import (
    IP,
    Net,
    check_cidr,
    check_in_range,
    check_ip,
    check_mac,
    check_ref,
    check_unique,
)
from neutrace.topology.hosts import NicSegments
from neutrace.topology.source import Path_, where
from neutrace.topology.working import Working

OUTSIDE_BASE_MAC = "02:00:5e"  # locally administered: outside hosts are not Neutron ports


def resolve_outside(w: Working, nic_segments: NicSegments) -> list[OutsideHost]:
    """Every outside host: on a segment (with its link and VLAN) or behind a gateway."""
    ctx = w.ctx
    outside = w.cloud.outside
    check_unique(ctx, ((("outside", i, "name"), o.name) for i, o in enumerate(outside)),
                 "outside host name")
    check_unique(ctx, [*((("outside", i, "ip"), o.ip) for i, o in enumerate(outside)),
                       *((("outside", i, "legs", k, "ip"), g.ip) for i, o in enumerate(outside)
                         for k, g in enumerate(o.legs))], "outside IP")
    segments = list(dict.fromkeys(seg for seg, _ in nic_segments))
    by_name = {o.name: o for o in outside}
    out = []
    macs: dict[str, Path_] = {}
    for i, o in enumerate(outside):
        p: Path_ = ("outside", i)
        ip = check_ip(ctx, (*p, "ip"), o.ip)
        if (o.segment is None) == (o.via is None):
            ctx.fail(p, f"outside host {o.name} needs exactly one of segment (it sits on a "
                     "physical segment) or via (it sits behind a gateway)",
                     "give segment: <a NIC's segment> or via: <an outside gateway>")
        if o.segment is not None and o.segment not in segments:
            ctx.fail((*p, "segment"), f"unknown segment {o.segment!r} (no host NIC plugs "
                     "into it)", f"use one of: {', '.join(segments) or 'none'}")
        if o.via is not None:
            gw = check_ref(ctx, (*p, "via"), by_name, o.via, "outside host",
                           [x.name for x in outside if x.segment is not None])
            if gw.segment is None:
                ctx.fail((*p, "via"), f"outside host {gw.name} is not on a segment, so it "
                         "cannot be a gateway", "use an outside host that has a segment")
        mac = _mac(w, (*p, "mac"), o.mac, f"{w.name}/outside/{o.name}", macs)
        prefixlen = _prefixlen(w, o, p, ip, nic_segments)
        vlan = _vlan(w, o, p, ip, nic_segments)
        _gateway(w, o, p, ip, prefixlen)
        _not_taken(w, o, p, ip, nic_segments)
        legs = _legs(w, o, p, (segments, nic_segments), macs, vlan)
        links = [ipaddress.ip_interface(f"{ip}/{prefixlen}").network] + [
            ipaddress.ip_interface(f"{g.ip}/{g.prefixlen}").network for g in legs]
        out.append(OutsideHost(
            name=o.name, ip=str(ip), mac=mac, segment=o.segment, prefixlen=prefixlen,
            via=o.via, gateway=str(ipaddress.ip_address(o.gateway)) if o.gateway else None,
            vlan=vlan, legs=legs, routes=_routes(w, o, p, links)))
    return out


def _mac(w: Working, p: Path_, given: str | None, seed: str, macs: dict[str, Path_]) -> str:
    """An outside interface's MAC (given, or stable from ``seed``), unique among them."""
    mac = check_mac(w.ctx, p, given) if given is not None else addr.stable_mac(
        seed, OUTSIDE_BASE_MAC)
    if mac in macs:
        w.ctx.fail(p, f"duplicate MAC {mac} (also at {where(macs[mac])})",
                   "give each outside host its own MAC")
    macs[mac] = p
    return mac


def _legs(w: Working, o: s.OutsideIn, p: Path_, known: tuple[list[str], NicSegments],
          macs: dict[str, Path_], vlan0: int | None) -> tuple[OutsideLeg, ...]:
    """A router's other interfaces: each on a known segment (a VLAN of it: given, else that of
    the VLAN provider network holding its address), no two on one link."""
    ctx = w.ctx
    if o.legs and o.segment is None:
        ctx.fail((*p, "legs"), f"outside host {o.name} sits behind {o.via}: only a host on a "
                 "segment has more legs", "give it segment: <a NIC's segment>, or remove legs")
    segments, nic_segments = known
    legs: list[OutsideLeg] = []
    seen = {(o.segment, vlan0)}
    for k, leg in enumerate(o.legs):
        lp: Path_ = (*p, "legs", k)
        if leg.segment not in segments:
            ctx.fail((*lp, "segment"), f"unknown segment {leg.segment!r} (no host NIC plugs "
                     "into it)", f"use one of: {', '.join(segments) or 'none'}")
        as_host = o.model_copy(update={"ip": leg.ip, "segment": leg.segment, "mac": leg.mac,
                                       "prefixlen": leg.prefixlen, "vlan": leg.vlan,
                                       "gateway": None, "via": None})
        ip = check_ip(ctx, (*lp, "ip"), leg.ip)
        mac = _mac(w, (*lp, "mac"), leg.mac, f"{w.name}/outside/{o.name}/legs/{k}", macs)
        prefixlen = _prefixlen(w, as_host, lp, ip, nic_segments)
        vlan = _vlan(w, as_host, lp, ip, nic_segments)
        if (leg.segment, vlan) in seen:
            what = f"VLAN {vlan} of {leg.segment}" if vlan is not None else leg.segment
            ctx.fail(lp, f"outside host {o.name} already has a leg on {what}",
                     "give each leg its own segment or VLAN")
        seen.add((leg.segment, vlan))
        _not_taken(w, as_host, lp, ip, nic_segments)
        legs.append(OutsideLeg(ip=str(ip), mac=mac, segment=leg.segment, prefixlen=prefixlen,
                               vlan=vlan))
    return tuple(legs)


def _routes(w: Working, o: s.OutsideIn, p: Path_, links: list[Net]) -> tuple[tuple[str, str],
                                                                              ...]:
    """Static routes of a host on a segment: a destination network, a nexthop on one of the
    host's own links (its own or a leg's: the guide's "static routes to ... physical network
    infrastructure" toward a router's IPv6 self-service subnets, a physical router's routes)."""
    routes = []
    for k, r in enumerate(o.routes):
        rp: Path_ = (*p, "routes", k)
        if o.segment is None:
            w.ctx.fail(rp, f"outside host {o.name} sits behind {o.via}, which is its way out: "
                       "it takes no routes", "remove routes, or give the host a segment")
        dest = check_cidr(w.ctx, (*rp, "destination"), r.destination)
        hop = check_ip(w.ctx, (*rp, "nexthop"), r.nexthop, "nexthop")
        if not any(hop in link for link in links if link.version == hop.version):
            w.ctx.fail((*rp, "nexthop"), f"nexthop {hop} is not on a link of {o.name} "
                       f"({', '.join(str(n) for n in links)})",
                       "use an address of one of its links' networks")
        if dest.version != hop.version:
            w.ctx.fail((*rp, "destination"), f"{dest} and nexthop {hop} are of different IP "
                       "versions", "use a nexthop of the destination's IP version")
        routes.append((str(dest), str(hop)))
    return tuple(routes)


def _prefixlen(w: Working, o: s.OutsideIn, p: Path_, ip: IP, nic_segments: NicSegments) -> int:
    """Given, else that of a subnet on the host's segment holding its address, else /24 or
    /64."""
    prefixlen = o.prefixlen
    if prefixlen is None:
        holders = [sw.net for sw in w.subnets if ip in sw.net and o.segment is not None
                   and on_segment(w, sw.subnet.network_id, o.segment, nic_segments)]
        prefixlen = holders[0].prefixlen if holders else (24 if ip.version == 4 else 64)
    check_in_range(w.ctx, (*p, "prefixlen"), prefixlen, 0, 32 if ip.version == 4 else 128,
                   "prefixlen", "use a prefix length of the address family")
    return prefixlen


def _vlan(w: Working, o: s.OutsideIn, p: Path_, ip: IP, nic_segments: NicSegments) -> int | None:
    """Given, else the VLAN of the VLAN provider network on its segment holding its address."""
    vlan = o.vlan
    if vlan is None and o.segment is not None:
        tagged = [w.net_by_ref[sw.subnet.network_id] for sw in w.subnets
                  if ip in sw.net and on_segment(w, sw.subnet.network_id, o.segment,
                                                 nic_segments)]
        vlan = next((n.segmentation_id for n in tagged if n.network_type == "vlan"), None)
    if vlan is not None:
        check_in_range(w.ctx, (*p, "vlan"), vlan, 1, 4094, "vlan",
                       "use a VLAN id from 1 to 4094")
        if o.segment is None:
            w.ctx.fail((*p, "vlan"), "only an outside host on a segment has a VLAN",
                       "remove vlan, or give the host a segment")
    return vlan


def _gateway(w: Working, o: s.OutsideIn, p: Path_, ip: IP, prefixlen: int) -> None:
    """A default gateway: another address of the host's own link."""
    if o.gateway is None:
        return
    gw_ip = check_ip(w.ctx, (*p, "gateway"), o.gateway, "gateway")
    link = ipaddress.ip_interface(f"{ip}/{prefixlen}").network
    if o.segment is None:
        w.ctx.fail((*p, "gateway"), f"outside host {o.name} sits behind {o.via}, "
                   "which is its way out: it takes no gateway", "remove gateway")
    if gw_ip not in link or gw_ip == ip:
        w.ctx.fail((*p, "gateway"), f"gateway {gw_ip} is not another address of "
                   f"{o.name}'s link {link}", f"use an address in {link}, or set prefixlen")


def _not_taken(w: Working, o: s.OutsideIn, p: Path_, ip: IP, nic_segments: NicSegments) -> None:
    """An outside host on a segment does not take a port's address on that segment."""
    if o.segment is None:
        return
    for network in w.networks:
        if on_segment(w, network.id, o.segment, nic_segments) and \
                ip in w.used_ips[network.id]:
            w.ctx.fail((*p, "ip"), f"IP {ip} is already used by "
                       f"{w.used_ips[network.id][ip]} on network {network.name}, "
                       f"which is on segment {o.segment}", "use another address")


def on_segment(w: Working, network_id: str, segment: str, nic_segments: NicSegments) -> bool:
    """Whether a (flat/vlan) network reaches ``segment`` through some host's NIC."""
    network = w.net_by_ref[network_id]
    return network.physical_network is not None and \
        (segment, network.physical_network) in nic_segments
