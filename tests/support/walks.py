"""What the walk tests read from a trace, as facts: the hops of the copy that arrived, a hop by
host and element, the VLAN rewrites of a hop's actions, and a network's local VLAN on a host."""

from __future__ import annotations

from neutrace.dataplane import CloudState
from neutrace.model import Cloud
from neutrace.trace import ActionStep, Hop, Trace


def delivered(t: Trace | None) -> tuple[Hop, ...]:
    """The hops of the one copy that reached its destination."""
    assert t is not None
    (hops,) = [h for h, d in t.paths() if d.success]
    return hops


def at(hops: tuple[Hop, ...], host: str, element: str) -> Hop:
    """The first hop through ``element`` of ``host``."""
    found = [h for h in hops if h.host == host and h.element == element]
    assert found, f"the walk does not pass {host}/{element}: " + \
        ", ".join(f"{h.host}/{h.element}" for h in hops)
    return found[0]


def _vid(tci: object) -> int | None:
    """The VLAN id of a vlan_tci (None: untagged): its low 12 bits when the CFI bit is set."""
    assert isinstance(tci, int)
    return tci & 0xFFF if tci & 0x1000 else None


def vlan_rewrites(hop: Hop) -> list[tuple[int | None, int | None]]:
    """(before, after) VLAN ids of every VLAN rewrite the hop's actions made."""
    return [(_vid(c.before), _vid(c.after)) for s in hop.steps if isinstance(s, ActionStep)
            for c in s.changes if c.field == "vlan_tci"]


def lvid(cloud: Cloud, state: CloudState, host: str, network: str) -> int:
    """The local VLAN of ``network`` (by name) on ``host``: its ports' tag on br-int."""
    net = next(n for n in cloud.networks if n.name == network)
    ports = {p.id for p in cloud.ports if p.network_id == net.id}
    hs = state.host(host)
    assert hs is not None
    (tag,) = {p.tag for b in hs.ovs_bridges if b.name == "br-int" for p in b.ports
              if dict(p.external_ids).get("iface-id") in ports}
    assert tag is not None
    return tag
