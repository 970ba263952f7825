"""Neighbour resolution for a next hop (``neigh_resolve_output``): broadcast and multicast
addresses map to their MACs, then the `LinuxState` cache, the namespace's static (or
captured) entries, and last the walker's `Resolver` (who would answer ARP or ND on that link);
each answer is a `NeighbourStep`."""

from __future__ import annotations

import ipaddress

from neutrace.addr import BROADCAST_MAC
from neutrace.dataplane import Namespace
from neutrace.engines.linuxnet.state import LinuxState, Resolver
from neutrace.trace import NeighbourEvent, NeighbourStep, Step


def neighbour(host: str, ns: Namespace, dev: str, ip: str, state: LinuxState, resolve: Resolver,
              steps: list[Step]) -> str | None:
    """The MAC for next hop ``ip`` out of ``dev`` in ``ns`` of ``host`` (None: nobody answered)."""
    if ip == "255.255.255.255":
        return BROADCAST_MAC
    addr = ipaddress.ip_address(ip)
    if addr.is_multicast:
        if addr.version == 4:
            low = int(addr) & 0x7FFFFF
            return "01:00:5e:" + ":".join(f"{(low >> s) & 0xFF:02x}" for s in (16, 8, 0))
        low6 = int(addr) & 0xFFFFFFFF
        return "33:33:" + ":".join(f"{(low6 >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))
    cache = state.neighbour_cache(host, ns.name)
    if (dev, ip) in cache:
        steps.append(NeighbourStep(event=NeighbourEvent.CACHED, ip=ip, device=dev,
                                   namespace=ns.name, mac=cache[(dev, ip)],
                                   ipv6=addr.version == 6))
        return cache[(dev, ip)]
    for n in ns.neighbours:
        if n.device == dev and n.ip == ip and n.state not in ("FAILED", "INCOMPLETE"):
            steps.append(NeighbourStep(event=NeighbourEvent.ENTRY, ip=ip, device=dev,
                                       namespace=ns.name, mac=n.mac, state=n.state,
                                       ipv6=addr.version == 6))
            return n.mac
    mac = resolve(host, ns.name, dev, ip)
    if mac is None:
        steps.append(NeighbourStep(event=NeighbourEvent.UNANSWERED, ip=ip, device=dev,
                                   namespace=ns.name, ipv6=addr.version == 6))
        return None
    cache[(dev, ip)] = mac
    steps.append(NeighbourStep(event=NeighbourEvent.RESOLVED, ip=ip, device=dev,
                               namespace=ns.name, mac=mac, ipv6=addr.version == 6))
    return mac
