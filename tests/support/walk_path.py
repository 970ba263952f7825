"""Reading a walk's path in the tests of the Guide's walks: the one copy that was delivered,
its hops in order, the hop through one element, a field's rewrite in a hop."""

from __future__ import annotations

from neutrace.trace import Hop, Trace


def delivered(t: Trace | None) -> tuple[Hop, ...]:
    """The hops of the one copy that reached its destination."""
    assert t is not None
    (hops,) = [h for h, d in t.paths() if d.success]
    return hops


def order(hops: tuple[Hop, ...]) -> list[str]:
    """``host/element`` in walk order."""
    return [f"{h.host}/{h.element}" for h in hops]


def at(hops: tuple[Hop, ...], host: str, element: str, n: int = 0) -> Hop:
    """The ``n``-th hop through ``element`` of ``host``."""
    found = [h for h in hops if h.host == host and h.element == element]
    assert len(found) > n, f"the walk does not pass {host}/{element}: " + \
        ", ".join(order(hops))
    return found[n]


def change(hop: Hop, field: str) -> tuple[object, object] | None:
    """(before, after) of ``field`` in ``hop``."""
    for c in hop.changes:
        if c.field == field:
            return c.before, c.after
    return None
