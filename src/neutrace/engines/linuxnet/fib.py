"""Routing in one namespace as the kernel does it: the FIB (`Fib`: the local table from the
addresses, connected routes, the listed routes, ``ip rule`` s with the default three), longest
prefix match, policy rules, source address selection, and the `RouteStep` a lookup records."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from neutrace.dataplane import LOOPBACK, Interface, Namespace, Route
from neutrace.trace import RouteStep

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TABLE_IDS = {"local": "255", "main": "254", "default": "253", "unspec": "0"}
DEFAULT_RULES = ((0, "255"), (32766, "254"), (32767, "253"))


def table_id(name: str) -> str:
    """``main`` -> ``254``: route tables compared by number."""
    return TABLE_IDS.get(name, name)



@dataclass(frozen=True, slots=True)
class RouteEntry:
    """A route in a FIB table: ``kind`` is ``unicast``, ``local`` or ``broadcast``."""

    network: Network
    device: str
    table: str
    gateway: str | None = None
    source: str | None = None
    metric: int = 0
    kind: str = "unicast"
    scope: str = "universe"
    proto: str = "static"

    def describe(self) -> str:
        dest = "default" if self.network.prefixlen == 0 else str(self.network)
        if self.kind == "blackhole":
            return f"blackhole {dest} table {self.table}"
        via = f" via {self.gateway}" if self.gateway else ""
        src = f" src {self.source}" if self.source else ""
        kind = "local " if self.kind == "local" else ""
        metric = f" metric {self.metric}" if self.metric else ""
        return f"{kind}{dest}{via} dev {self.device}{src}{metric} table {self.table}"


def _route_network(route: Route) -> Network:
    if route.destination == "default":
        six = route.gateway is not None and ":" in route.gateway
        return ipaddress.ip_network("::/0" if six else "0.0.0.0/0")
    return ipaddress.ip_network(route.destination, strict=False)


def longest_prefix_match(routes: tuple[RouteEntry, ...], dst: str) -> RouteEntry | None:
    """The most specific route covering ``dst`` (lowest metric among equals, then first)."""
    ip = ipaddress.ip_address(dst)
    best: RouteEntry | None = None
    for r in routes:
        if r.network.version != ip.version or ip not in r.network:
            continue
        if best is None or r.network.prefixlen > best.network.prefixlen or (
            r.network.prefixlen == best.network.prefixlen and r.metric < best.metric
        ):
            best = r
    return best


@dataclass(frozen=True, slots=True)
class RuleEntry:
    priority: int
    table: str
    source: Network | None = None
    destination: Network | None = None
    fwmark: tuple[int, int] | None = None
    iif: str | None = None

    def matches(self, src: str, dst: str, mark: int, iif: str) -> bool:
        if self.source is not None and not _covers(self.source, src):
            return False
        if self.destination is not None and not _covers(self.destination, dst):
            return False
        if self.fwmark is not None and (mark & self.fwmark[1]) != self.fwmark[0]:
            return False
        return self.iif is None or self.iif == iif

    def describe(self) -> str:
        parts = [f"{self.priority}:"]
        parts.append(f"from {self.source}" if self.source else "from all")
        if self.destination:
            parts.append(f"to {self.destination}")
        if self.fwmark:
            parts.append(f"fwmark {self.fwmark[0]:#x}/{self.fwmark[1]:#x}")
        if self.iif:
            parts.append(f"iif {self.iif}")
        parts.append(f"lookup {self.table}")
        return " ".join(parts)


def _covers(net: Network, addr: str) -> bool:
    if not addr:
        return net.prefixlen == 0
    ip = ipaddress.ip_address(addr)
    return ip.version == net.version and ip in net


class Fib:
    """The routing tables and rules of one namespace."""

    def __init__(self, ns: Namespace) -> None:
        tables: dict[str, list[RouteEntry]] = {}
        self.local_addrs: set[str] = set()
        listed = {(table_id(r.table), r.destination, r.device) for r in ns.routes}
        for itf in ns.interfaces:
            if not itf.up:
                continue
            for cidr in itf.addresses:
                iface = ipaddress.ip_interface(cidr)
                addr = str(iface.ip)
                self.local_addrs.add(addr)
                tables.setdefault("255", []).append(RouteEntry(
                    ipaddress.ip_network(f"{addr}/{iface.max_prefixlen}"), itf.name, "local",
                    source=addr, kind="local", scope="host", proto="kernel"))
                net = iface.network
                if net.prefixlen == net.max_prefixlen:
                    continue
                if net.version == 4 and net.prefixlen < 31:
                    tables["255"].append(RouteEntry(
                        ipaddress.ip_network(f"{net.broadcast_address}/32"), itf.name, "local",
                        source=addr, kind="broadcast", scope="link", proto="kernel"))
                if ("254", str(net), itf.name) not in listed:
                    tables.setdefault("254", []).append(RouteEntry(
                        net, itf.name, "main", source=addr, scope="link", proto="kernel"))
            if itf.kind == LOOPBACK:
                tables.setdefault("255", []).append(RouteEntry(
                    ipaddress.ip_network("127.0.0.0/8"), itf.name, "local", source="127.0.0.1",
                    kind="local", scope="host", proto="kernel"))
                self.local_addrs.add("127.0.0.1")
        for r in ns.routes:
            tid = table_id(r.table)
            tables.setdefault(tid, []).append(RouteEntry(
                _route_network(r), r.device, r.table, r.gateway, r.source, r.metric,
                kind="unicast" if r.device else "blackhole", scope=r.scope, proto=r.proto))
        self.tables = {k: tuple(v) for k, v in tables.items()}
        rules = [RuleEntry(r.priority, table_id(r.table),
                           _opt_net(r.source), _opt_net(r.destination), _fwmark(r.fwmark), r.iif)
                 for r in ns.rules]
        have = {(r.priority, r.table) for r in rules}
        rules += [RuleEntry(p, t) for p, t in DEFAULT_RULES if (p, t) not in have]
        self.rules = tuple(sorted(rules, key=lambda r: r.priority))

    def is_local(self, addr: str) -> bool:
        """A destination delivered to this namespace: its addresses, subnet broadcasts and the
        limited broadcast 255.255.255.255 (RTN_BROADCAST, never forwarded)."""
        if addr in self.local_addrs or addr == "255.255.255.255":
            return True
        r = longest_prefix_match(self.tables.get("255", ()), addr) if addr else None
        return r is not None and r.kind in ("local", "broadcast")

    def lookup(self, dst: str, src: str = "", mark: int = 0,
               iif: str = "lo") -> tuple[RuleEntry, RouteEntry] | None:
        for rule in self.rules:
            if not rule.matches(src, dst, mark, iif):
                continue
            route = longest_prefix_match(self.tables.get(rule.table, ()), dst)
            if route is not None:
                return rule, route
        return None


def _opt_net(text: str | None) -> Network | None:
    if text is None or text in ("all", ""):
        return None
    return ipaddress.ip_network(text, strict=False)


def _fwmark(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    if "/" in text:
        v, m = text.split("/", 1)
        return int(v, 0), int(m, 0)
    return int(text, 0), 0xFFFFFFFF


def route_step(rule: RuleEntry, route: RouteEntry, dst: str, reroute: bool = False
                ) -> RouteStep:
    """The route found for ``dst`` (as ``ip route`` and ``ip rule`` print them)."""
    return RouteStep(destination=dst, route=route.describe(), rule=rule.describe(),
                     table=route.table, reroute=reroute)


def addresses(itf: Interface) -> set[str]:
    return {str(ipaddress.ip_interface(a).ip) for a in itf.addresses}


def primary_address(itf: Interface | None, v6: bool, toward: str = "") -> str:
    """The address the kernel picks on ``itf``: the first one whose subnet holds ``toward`` (the
    next hop), else the first of the family (not link-local for IPv6)."""
    if itf is None:
        return ""
    first = ""
    for a in itf.addresses:
        iface = ipaddress.ip_interface(a)
        ip = iface.ip
        if (ip.version == 6) != v6 or (v6 and ip.is_link_local):
            continue
        if toward and ipaddress.ip_address(toward) in iface.network:
            return str(ip)
        first = first or str(ip)
    return first
