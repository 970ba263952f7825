"""What lies outside the cloud (layer 3): the upstream gateway and outside hosts as namespaces of
kind ``external`` in ``CloudState.external``.

Kept deliberately simple:

- an ``OutsideHost`` with a ``segment`` gets ``eth0`` on that segment (its MAC and ``ip/prefixlen``)
  and, if ``gateway`` is set, a default route via it;
- an ``OutsideHost`` with ``via`` (behind a gateway G) gets ``eth0`` with ``ip/24`` and a default
  route via the link address of G; G gets one more interface ``eth1``, ``eth2``... per host behind
  it (a veth whose peer is that host's ``eth0``) holding the link address: the first address of
  that /24 (``.1``), or ``.254`` when ``.1`` is the host itself; a host on a segment has its
  static ``routes``;
- IPv6 alike, with /64 links (``::1``, or ``::fe`` when ``::1`` is the host itself);
- a gateway (an OutsideHost someone is ``via``) forwards (``net.ipv4.ip_forward=1``,
  ``net.ipv6.conf.all.forwarding=1`` for an IPv6 one) and has its ``routes``. It does no NAT.
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
            routes += [Route(dest, nic, gateway=hop) for dest, hop in o.routes]
        else:
            assert o.via is not None
            gw_ip, net = link_address(o.ip)
            interfaces.append(Interface(
                "eth0", VETH, mac=addr.norm_mac(o.mac),
                addresses=(f"{o.ip}/{_LINK_PREFIX[addr.ip_version(o.ip)]}",),
                peer=f"eth{1 + [b.name for b in behind[o.via]].index(o.name)}",
                peer_namespace=o.via))
            routes = [Route("default", "eth0", gateway=gw_ip),
                      connected_route(net, "eth0", o.ip)]
        for index, b in enumerate(behind.get(o.name, []), start=1):
            gw_ip, net = link_address(b.ip)
            nic = f"eth{index}"
            interfaces.append(Interface(
                nic, VETH, mac=addr.stable_mac(f"outside/{o.name}/{nic}", base="02:00:00"),
                addresses=(f"{gw_ip}/{_LINK_PREFIX[addr.ip_version(gw_ip)]}",), peer="eth0",
                peer_namespace=b.name))
            routes.append(connected_route(net, nic, gw_ip))
        sysctls = ((_FORWARDING[addr.ip_version(o.ip)], "1"),) if o.name in behind else ()
        out.append(Namespace(name=o.name, kind=NS_EXTERNAL, interfaces=tuple(interfaces),
                             routes=tuple(routes), sysctls=sysctls))
    return out
