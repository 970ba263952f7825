"""The Linux side's mutable state (`LinuxState`, owned by the caller so a trace can start cold or
warm): bridge FDBs, neighbour caches and conntrack tables; and `Resolver`, the walker's answer to
"who replies to ARP for this address on that link"."""

from __future__ import annotations

from collections.abc import Callable

from neutrace.engines.conntrack import ConntrackTable

Resolver = Callable[[str, str, str, str], str | None]
"""(host, namespace, interface, ip) -> MAC or None: who answers ARP for ``ip`` on that link."""


def no_resolver(host: str, namespace: str, interface: str, ip: str) -> str | None:
    """A `Resolver` that knows nobody (only the neighbour cache and static entries answer)."""
    return None

class LinuxState:
    """Mutable, caller-owned: FDB per (host, linux bridge), neighbour cache per (host, namespace)
    keyed by (device, ip), conntrack per (host, namespace) (zones inside)."""

    def __init__(self) -> None:
        self.fdb: dict[tuple[str, str], dict[str, str]] = {}
        self.neighbours: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
        self.conntrack: dict[tuple[str, str], ConntrackTable] = {}

    def copy(self) -> LinuxState:
        other = LinuxState()
        other.fdb = {k: dict(v) for k, v in self.fdb.items()}
        other.neighbours = {k: dict(v) for k, v in self.neighbours.items()}
        other.conntrack = {k: v.copy() for k, v in self.conntrack.items()}
        return other

    def fdb_of(self, host: str, bridge: str) -> dict[str, str]:
        return self.fdb.setdefault((host, bridge), {})

    def neighbour_cache(self, host: str, namespace: str) -> dict[tuple[str, str], str]:
        return self.neighbours.setdefault((host, namespace), {})

    def describe(self) -> str:
        """The state as the kernel's tools would list it, per host and element: ``bridge fdb``
        lines, ``ip neigh`` lines and ``conntrack -L`` lines (sorted, deterministic)."""
        out: list[str] = []
        for (host, bridge), fdb in sorted(self.fdb.items()):
            out += [f"{host or '<outside>'} bridge {bridge}: {mac} dev {port} master {bridge}"
                    for mac, port in sorted(fdb.items())]
        for (host, ns), cache in sorted(self.neighbours.items()):
            out += [f"{host or '<outside>'} {ns or '<root>'} neigh: {ip} dev {dev} lladdr {mac}"
                    for (dev, ip), mac in sorted(cache.items())]
        for (host, ns), table in sorted(self.conntrack.items()):
            out += sorted(f"{host or '<outside>'} {ns or '<root>'} conntrack: {e.format()}"
                          for e in table)
        return "\n".join(out)

    def conntrack_of(self, host: str, namespace: str) -> ConntrackTable:
        table = self.conntrack.get((host, namespace))
        if table is None:
            table = self.conntrack[(host, namespace)] = ConntrackTable()
        return table
