"""What Neutron should have programmed against what the hosts hold (layer 4): ``neutrace
diff``'s comparison.

`compare` takes the state the agents program for a cloud (`neutrace.agents.program`: the
expected `HostState` of every host) and the state imported from the hosts' captures
(`neutrace.importers.cloud`, cold: what the hosts had learned at run time is no programming),
and returns a `neutrace.drift.Drift`: per captured host, every difference as a typed fact
(`neutrace.drift.Difference`), what could not be compared (the capture's gaps), and what
differs legitimately (`neutrace.drift.Tolerated`). The OVS side is `neutrace.verify.drift_ovs`,
the Linux side `neutrace.verify.drift_linux`; ``neutrace.render.drift`` words the result.

A host in the cloud that was not captured is not compared (`NotCompared`); a captured host the
cloud does not have is a difference.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace

from neutrace.dataplane import CloudState, HostState, Namespace
from neutrace.drift import (
    Change,
    Drift,
    HostDifference,
    HostDrift,
    NotCompared,
    Tolerance,
    Tolerated,
)
from neutrace.verify.drift_linux import HostLinux
from neutrace.verify.drift_ovs import HostOvs

#: A namespace gap's aspect -> the aspect of the comparison it leaves out.
_NS_ASPECTS = {"interfaces": "interfaces", "routes": "routes", "routes6": "routes",
               "iptables": "iptables", "ip6tables": "ip6tables", "ipset": "ipsets",
               "sysctl": "sysctl", "rules": "rules"}


def compare(expected: CloudState, actual: CloudState) -> Drift:
    """Every captured host of ``actual`` set beside the same host of ``expected``."""
    remote = {h.tunnel_ip: h.name for h in expected.hosts if h.tunnel_ip}
    out: list[HostDrift] = []
    captured = {h.name: h for h in actual.hosts}
    for eh in expected.hosts:
        ah = captured.get(eh.name)
        if ah is None:
            out.append(HostDrift(eh.name, not_compared=(
                NotCompared(eh.name, "", "host", "not captured"),)))
        else:
            out.append(compare_host(eh, ah, remote))
    for ah in actual.hosts:
        if expected.host(ah.name) is None:
            out.append(HostDrift(ah.name, (HostDifference(ah.name, Change.EXTRA),)))
    networks = tuple((k.partition(":")[2], v) for k, v in expected.metadata
                     if k.startswith("network:"))
    return Drift(tuple(out), networks, tuple(sorted(remote.items())))


def compare_host(expected: HostState, actual: HostState,
                 remote_hosts: Mapping[str, str] | None = None) -> HostDrift:
    """One host: ``actual`` (captured) set beside ``expected`` (the agents')."""
    actual, tolerated = _userspace_tunnelling(expected, actual)
    not_compared = tuple(NotCompared(actual.name, g.element, g.aspect, g.problem, g.source)
                         for g in actual.gaps)
    no_ovs = any(g.aspect == "ovs" for g in actual.gaps)
    ovs = HostOvs(expected, actual, remote_hosts or {},
                  skip_flows={g.element for g in actual.gaps if g.aspect == "flows"},
                  skip_tables={(g.element, int(g.aspect.split()[1])) for g in actual.gaps
                               if g.aspect.startswith("table ")
                               and g.aspect.split()[1].isdigit()},
                  skip_ports=no_ovs)
    vlans = ovs.compare() if not no_ovs else ()
    skip: dict[str, set[str]] = {}
    for g in actual.gaps:
        if g.aspect in _NS_ASPECTS:
            skip.setdefault(g.element, set()).add(_NS_ASPECTS[g.aspect])
    linux = HostLinux(expected.name, skip, frozenset(b.name for b in expected.ovs_bridges))
    linux.compare(expected.namespaces, actual.namespaces)
    return HostDrift(expected.name, tuple(ovs.out + linux.out), not_compared,
                     tuple(tolerated + ovs.tolerated + linux.tolerated), vlans)


def _userspace_tunnelling(expected: HostState, actual: HostState
                          ) -> tuple[HostState, list[Tolerated]]:
    """``actual`` as the agents' shape where the host tunnels through OVS's userspace datapath:
    the tunnel IP sits on the internal port of an OVS bridge of its own (``br-phy``, as with
    DPDK, and as ``neutrace up`` builds hosts) instead of on the NIC. That bridge, its port and
    the route through it are read as the NIC's (`Tolerance.TUNNEL_IP_ON_BRIDGE`)."""
    if not actual.tunnel_ip:
        return actual, []
    ip = ipaddress.ip_address(actual.tunnel_ip)
    known = {b.name for b in expected.ovs_bridges}
    eroot, aroot = expected.root, actual.root
    nic = next((i for i in eroot.interfaces if any(
        ipaddress.ip_interface(a).ip == ip for a in i.addresses)), None)
    for b in actual.ovs_bridges:
        itf = aroot.interface(b.name)
        if b.name in known or nic is None or itf is None or not any(
                ipaddress.ip_interface(a).ip == ip for a in itf.addresses):
            continue
        moved = [a for a in itf.addresses if ipaddress.ip_interface(a).ip == ip]
        itfs = tuple(replace(i, addresses=i.addresses + tuple(moved)) if i.name == nic.name
                     else i for i in aroot.interfaces if i.name != b.name)
        routes = tuple(replace(r, device=nic.name) if r.device == b.name else r
                       for r in aroot.routes)
        routes = tuple(dict.fromkeys(routes))
        root = replace(aroot, interfaces=itfs, routes=routes)
        ns: tuple[Namespace, ...] = tuple(root if n.name == "" else n
                                          for n in actual.namespaces)
        bridges = tuple(x for x in actual.ovs_bridges if x.name != b.name)
        return (replace(actual, ovs_bridges=bridges, namespaces=ns),
                [Tolerated(actual.name, b.name, Tolerance.TUNNEL_IP_ON_BRIDGE,
                           f"{actual.tunnel_ip} on {b.name}, not {nic.name}")])
    return actual, []
