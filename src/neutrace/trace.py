"""The trace: pure data describing a packet's walk (layer 2).

Batfish's shape, extended to a tree because a flood or a multi-output action makes copies:

- `Step`: one thing an element did (an OpenFlow table visit and its matched flow, an action, an
  iptables rule, a route lookup, a neighbour lookup, an FDB lookup, a conntrack/NAT decision),
  with ``depth`` for resubmit nesting and the field diff of any rewrite (`FieldChange`).
- `Hop`: the packet inside one element of one host (an OVS bridge, a Linux bridge, a namespace,
  a VM, the tunnel underlay, a physical segment) with the steps taken there.
- `Branch`: a run of hops; it ends either with a `Disposition` or by splitting into child
  branches (one per copy).
- `Trace`: where it started, the first packet and the root branch.

Nothing here renders: text, JSON and diagrams live in ``neutrace.render``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from neutrace.packet import FieldChange, Packet

# Step kinds
STEP_TABLE = "table"  # an OpenFlow table lookup (detail: the matched flow, or none)
STEP_ACTION = "action"  # an OpenFlow action
STEP_RULE = "rule"  # an iptables rule (table/chain in ``where``)
STEP_CHAIN = "chain"  # entering a netfilter chain / hook
STEP_ROUTE = "route"  # a route lookup
STEP_NEIGHBOUR = "neighbour"  # ARP / neighbour resolution
STEP_FDB = "fdb"  # a MAC table (OVS NORMAL or Linux bridge) lookup or learning
STEP_CONNTRACK = "conntrack"  # a conntrack lookup / commit
STEP_NAT = "nat"  # a NAT rewrite
STEP_TUNNEL = "tunnel"  # encapsulation / decapsulation
STEP_WIRE = "wire"  # crossing a wire (patch port, veth, tap, segment)
STEP_NOTE = "note"

# Hop kinds
HOP_OVS = "ovs-bridge"
HOP_LINUX_BRIDGE = "linux-bridge"
HOP_NAMESPACE = "namespace"
HOP_VM = "vm"
HOP_UNDERLAY = "underlay"
HOP_SEGMENT = "segment"
HOP_EXTERNAL = "external"

# Disposition kinds; the first three are successes
DELIVERED = "delivered"
EXITED = "exited"
ACCEPTED = "accepted"  # taken in by a namespace's own stack (answered there)
DROPPED = "dropped"
DENIED = "denied"
NO_ROUTE = "no_route"
NEIGHBOUR_UNRESOLVED = "neighbour_unresolved"
LOOP = "loop"
CONTROLLER = "controller"
LIMIT = "limit"
INCOMPLETE = "incomplete"  # an imported state lacks what the packet reached (the file is named)
SUCCESS = frozenset({DELIVERED, EXITED, ACCEPTED})


@dataclass(frozen=True, slots=True)
class Step:
    """One thing done to the packet. ``where`` is the table number, the ``table/chain`` of an
    iptables rule, the route table...; ``detail`` the matched flow or rule text verbatim."""

    kind: str
    text: str
    detail: str = ""
    where: str = ""
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Hop:
    """The packet inside one element: ``host`` ("" outside the hosts), ``element`` (br-int,
    qbraf305168-66, qrouter-…, a VM's name, a segment's name), ``in_port`` where it entered,
    ``packet`` as it entered, ``steps`` taken there, ``out_port`` where it left (None if it
    did not)."""

    host: str
    element: str
    kind: str
    in_port: str
    packet: Packet
    steps: tuple[Step, ...] = ()
    out_port: str | None = None
    out_packet: Packet | None = None

    @property
    def changes(self) -> tuple[FieldChange, ...]:
        if self.out_packet is None:
            return ()
        return self.packet.diff(self.out_packet)


@dataclass(frozen=True, slots=True)
class Disposition:
    """How a copy ended, where and why (in Neutron's words where it applies)."""

    kind: str
    host: str
    element: str
    reason: str

    @property
    def success(self) -> bool:
        return self.kind in SUCCESS


@dataclass(frozen=True, slots=True)
class Branch:
    """A run of hops ending in a disposition, or split into ``children`` (one per copy).
    ``label`` says why this copy exists (``"flood copy out patch-tun"``)."""

    hops: tuple[Hop, ...]
    children: tuple[Branch, ...] = ()
    disposition: Disposition | None = None
    label: str = ""

    def paths(self, prefix: tuple[Hop, ...] = ()) -> Iterator[tuple[tuple[Hop, ...], Disposition]]:
        """Every root-to-leaf path with its disposition."""
        hops = prefix + self.hops
        if self.disposition is not None:
            yield hops, self.disposition
        for child in self.children:
            yield from child.paths(hops)


@dataclass(frozen=True, slots=True)
class Trace:
    """A packet's whole walk: ``start`` describes the starting point."""

    start: str
    packet: Packet
    root: Branch

    def paths(self) -> Iterator[tuple[tuple[Hop, ...], Disposition]]:
        return self.root.paths()

    def dispositions(self) -> tuple[Disposition, ...]:
        return tuple(d for _, d in self.paths())

    @property
    def success(self) -> bool:
        """True if at least one copy was delivered or exited."""
        return any(d.success for d in self.dispositions())
