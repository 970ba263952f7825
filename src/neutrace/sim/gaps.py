"""Where an imported state is incomplete, for the walk (layer 4).

An importer records what it could not read as `neutrace.dataplane.Gap`s on each host. A walk
goes on through everything that is known and stops, with an ``incomplete`` disposition naming
the gap and the file that would fill it, only where the packet *reaches* a gap:

- an OVS bridge whose flows are unknown, or a table of it holding a flow that could not be read
  (when the packet visits that table);
- a namespace whose interfaces, routes (IPv4 or IPv6, for a packet it would route), netfilter
  rules (for an IP packet crossing it; the root namespace's also when a Linux bridge hands the
  frame to bridge netfilter), ipsets, or forwarding sysctls (for a packet it would forward) are
  unknown;
- a veth whose peer is not in the capture, an OVS port without a known Linux device, a tunnel
  port leading to a host that was not captured.

The agents' state has no gaps, so nothing changes for it.
"""

from __future__ import annotations

import ipaddress

from neutrace.dataplane import CloudState, Gap, Namespace
from neutrace.packet import Packet
from neutrace.trace import INCOMPLETE, Disposition, IncompleteFate


class Gaps:
    """The gaps of every host of a cloud, looked up by where the walk is."""

    def __init__(self, cloud: CloudState) -> None:
        """Index the gaps of every host by (host, element, aspect)."""
        self._by: dict[tuple[str, str, str], Gap] = {}
        self._interfaces: dict[str, Gap] = {}
        for h in cloud.hosts:
            for g in h.gaps:
                self._by.setdefault((h.name, g.element, g.aspect), g)
                if g.aspect in ("interfaces", "ovs"):
                    self._interfaces.setdefault(h.name, g)

    def __bool__(self) -> bool:
        """True if any host has a gap."""
        return bool(self._by)

    def get(self, host: str, element: str, aspect: str) -> Gap | None:
        """The gap of ``aspect`` of ``element`` on ``host``."""
        return self._by.get((host, element, aspect))

    def bridge(self, host: str, bridge: str, tables: list[int]) -> Gap | None:
        """A gap a packet meets in ``bridge``, having visited ``tables``."""
        if not self._by:
            return None
        gap = self.get(host, bridge, "flows") or self.get(host, "*", "ovs")
        if gap is not None:
            return gap
        for t in tables:
            gap = self.get(host, bridge, f"table {t}")
            if gap is not None:
                return gap
        return None

    def namespace(self, host: str, ns: Namespace, packet: Packet) -> Gap | None:
        """A gap an IP packet meets entering (or sent by) namespace ``ns``."""
        if not self._by or not (packet.is_ip or packet.is_ipv6):
            return None
        six = packet.is_ipv6
        for aspect in ("ip6tables" if six else "iptables", "ipset"):
            gap = self.get(host, ns.name, aspect)
            if gap is not None:
                return gap
        local = _is_local(ns, packet.dst_ip)
        if not local:
            for aspect in ("routes6" if six else "routes", "sysctl"):
                gap = self.get(host, ns.name, aspect)
                if gap is not None:
                    return gap
        return None

    def bridge_netfilter(self, host: str, ns: Namespace, packet: Packet) -> Gap | None:
        """A gap a frame meets when a Linux bridge of ``ns`` passes it to iptables."""
        if not self._by or not (packet.is_ip or packet.is_ipv6):
            return None
        knob = "net.bridge.bridge-nf-call-ip6tables" if packet.is_ipv6 else \
            "net.bridge.bridge-nf-call-iptables"
        if ns.sysctl(knob, "1") != "1":
            return None
        return self.get(host, ns.name, "ip6tables" if packet.is_ipv6 else "iptables") or \
            self.get(host, ns.name, "ipset")

    def device(self, host: str, name: str) -> Gap | None:
        """Why the Linux device ``name`` (an OVS port's, a veth's peer) may be unknown."""
        return self.get(host, name, "peer") or self.get(host, name, "ofport") or \
            self._interfaces.get(host)

    def tunnel(self, host: str, port: str) -> Gap | None:
        """The gap of a tunnel port leading to a host that was not captured."""
        return self.get(host, port, "tunnel")


def _is_local(ns: Namespace, ip: str) -> bool:
    """True if ``ip`` is an address (or the broadcast) of ``ns``."""
    if not ip:
        return True
    for itf in ns.interfaces:
        for cidr in itf.addresses:
            iface = ipaddress.ip_interface(cidr)
            if str(iface.ip) == ip or (iface.version == 4 and
                                       str(iface.network.broadcast_address) == ip):
                return True
    return ip == "255.255.255.255"


def incomplete(gap: Gap, host: str, element: str) -> Disposition:
    """The disposition of a copy that reached ``gap`` (worded by ``render.fates``)."""
    return Disposition(INCOMPLETE, host, element, IncompleteFate(gap=gap))
