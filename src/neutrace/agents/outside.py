"""What lies outside the cloud (layer 3): the upstream gateway and outside hosts as namespaces of
kind ``external`` in ``CloudState.external``.

Kept deliberately simple:

- an ``OutsideHost`` with a ``segment`` gets ``eth0`` on that segment (its MAC and ``ip/prefixlen``)
  and, if ``gateway`` is set, a default route via it;
- an ``OutsideHost`` with ``via`` (behind a gateway G) gets ``eth0`` with ``ip/24`` and a default
  route via the link address of G; G gets one more interface ``eth1``, ``eth2``... per host behind
  it (a veth whose peer is that host's ``eth0``) holding the link address: the first address of
  that /24 (``.1``), or ``.254`` when ``.1`` is the host itself;
- IPv6 alike, with /64 links (``::1``, or ``::fe`` when ``::1`` is the host itself);
- an outside router's ``legs`` are more interfaces: one NIC per segment in the order they first
  appear (``eth0`` for the host's own segment, then ``eth1``...), a leg on a VLAN being the 802.1Q
  device ``eth<k>.<vlan>`` of it; the veths to the hosts behind it are numbered after those NICs;
- a host on a segment has its static ``routes``, each by the interface whose link holds the
  nexthop;
- a gateway (an OutsideHost someone is ``via``) and a router (with legs) forward
  (``net.ipv4.ip_forward=1``, ``net.ipv6.conf.all.forwarding=1`` for IPv6 addresses). They do no
  NAT.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr, model
from neutrace.agents.vif import connected_route
from neutrace.dataplane import NS_EXTERNAL, VETH, Interface, Namespace, Route
from neutrace.errors import TopologyError


def link_address(ip: str) -> tuple[str, str]:
    """(the gateway's address on the link to ``ip``, the link's /24, /64 for IPv6)."""
    net = ipaddress.ip_network(f"{ip}/{_LINK_PREFIX[addr.ip_version(ip)]}", strict=False)
    first = net.network_address + 1
    gw = first if str(first) != ip else net.network_address + 254
    return str(gw), str(net)


_LINK_PREFIX = {4: 24, 6: 64}
_FORWARDING = {4: "net.ipv4.ip_forward", 6: "net.ipv6.conf.all.forwarding"}


def nic_count(o: model.OutsideHost) -> int:
    """How many NICs an outside host has on segments (the veths to hosts behind it come
    after them)."""
    return max(1, len(_segment_nics(o)))


def _segment_nics(o: model.OutsideHost) -> dict[str, str]:
    """segment -> its NIC's name (``eth0``, ``eth1``... in order of first appearance)."""
    order = [o.segment] if o.segment else []
    order += [g.segment for g in o.legs]
    return {seg: f"eth{k}" for k, seg in enumerate(dict.fromkeys(order))}


def _leg_interfaces(o: model.OutsideHost) -> list[Interface]:
    """The interfaces of a router's legs (after the host's own)."""
    nics = _segment_nics(o)
    out = []
    for g in o.legs:
        base = nics[g.segment]
        name = f"{base}.{g.vlan}" if g.vlan is not None else base
        out.append(Interface(name, "physical", mac=addr.norm_mac(g.mac),
                             addresses=(f"{g.ip}/{g.prefixlen}",), segment=g.segment,
                             vlan=g.vlan))
    return out


def _static_routes(o: model.OutsideHost, interfaces: list[Interface]) -> list[Route]:
    """The host's static routes, each by the interface whose link holds the nexthop."""
    routes = []
    for dest, hop in o.routes:
        ip = ipaddress.ip_address(hop)
        dev = next(i.name for i in interfaces for a in i.addresses
                   if ip in ipaddress.ip_interface(a).network)
        routes.append(Route(dest, dev, gateway=hop))
    return routes


def _forwarding(o: model.OutsideHost) -> tuple[tuple[str, str], ...]:
    """The forwarding sysctl of each IP version of a gateway's or router's addresses."""
    versions = dict.fromkeys([addr.ip_version(o.ip)] + [addr.ip_version(g.ip) for g in o.legs])
    return tuple((_FORWARDING[v], "1") for v in versions)


def program_outside(cloud: model.Cloud) -> list[Namespace]:
    names = {o.name for o in cloud.outside}
    behind: dict[str, list[model.OutsideHost]] = {}
    for o in cloud.outside:
        if o.via:
            if o.via not in names:
                raise TopologyError("<cloud>", f"outside[{o.name}].via",
                                    f"no outside host named {o.via!r}",
                                    "name the gateway it sits behind")
            behind.setdefault(o.via, []).append(o)
        elif not o.segment:
            raise TopologyError("<cloud>", f"outside[{o.name}]",
                                "an outside host needs a segment or via",
                                "give it segment: <name> or via: <gateway>")
    out: list[Namespace] = []
    for o in cloud.outside:
        interfaces: list[Interface] = []
        routes: list[Route] = []
        if o.segment:
            cidr = f"{o.ip}/{o.prefixlen}"
            nic = f"eth0.{o.vlan}" if o.vlan is not None else "eth0"
            interfaces.append(Interface(nic, "physical", mac=addr.norm_mac(o.mac),
                                        addresses=(cidr,), segment=o.segment, vlan=o.vlan))
            routes.append(connected_route(cidr, nic, o.ip))
            if o.gateway:
                routes.insert(0, Route("default", nic, gateway=o.gateway))
        else:
            assert o.via is not None
            gw_ip, net = link_address(o.ip)
            gw = next(x for x in cloud.outside if x.name == o.via)
            interfaces.append(Interface(
                "eth0", VETH, mac=addr.norm_mac(o.mac),
                addresses=(f"{o.ip}/{_LINK_PREFIX[addr.ip_version(o.ip)]}",),
                peer=f"eth{nic_count(gw) + [b.name for b in behind[o.via]].index(o.name)}",
                peer_namespace=o.via))
            routes = [Route("default", "eth0", gateway=gw_ip),
                      connected_route(net, "eth0", o.ip)]
        for leg in _leg_interfaces(o):
            interfaces.append(leg)
            routes.append(connected_route(leg.addresses[0], leg.name,
                                          leg.addresses[0].split("/")[0]))
        routes += _static_routes(o, interfaces)
        for index, b in enumerate(behind.get(o.name, []), start=nic_count(o)):
            gw_ip, net = link_address(b.ip)
            nic = f"eth{index}"
            interfaces.append(Interface(
                nic, VETH, mac=addr.stable_mac(f"outside/{o.name}/{nic}", base="02:00:00"),
                addresses=(f"{gw_ip}/{_LINK_PREFIX[addr.ip_version(gw_ip)]}",), peer="eth0",
                peer_namespace=b.name))
            routes.append(connected_route(net, nic, gw_ip))
        sysctls = _forwarding(o) if o.name in behind or o.forwards else ()
        out.append(Namespace(name=o.name, kind=NS_EXTERNAL, interfaces=tuple(interfaces),
                             routes=tuple(routes), sysctls=sysctls))
    return out
