"""The trace's tree (layer 2): `Hop` (the packet inside one element, with its steps),
`Disposition` (how a copy ended, with its `Cause`), `Branch` (hops, then a disposition or
child branches, one per copy) and `Trace`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from neutrace.packet import FieldChange, Packet
from neutrace.trace.causes import Cause
from neutrace.trace.kinds import SUCCESS, CopyKind, DispositionKind, HopKind
from neutrace.trace.steps import Step

# -- hops, branches, traces -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hop:
    """The packet inside one element: ``host`` ("" outside the hosts), ``element`` (br-int,
    qbraf305168-66, qrouter-…, a VM's name, a segment's name), ``in_port`` where it entered,
    ``packet`` as it entered, ``steps`` taken there, ``out_port`` where it left (None if it
    did not)."""

    host: str
    element: str
    kind: HopKind
    in_port: str
    packet: Packet
    steps: tuple[Step, ...] = ()
    out_port: str | None = None
    out_packet: Packet | None = None

    @property
    def changes(self) -> tuple[FieldChange, ...]:
        """The fields that differ between entry and exit."""
        if self.out_packet is None:
            return ()
        return self.packet.diff(self.out_packet)


@dataclass(frozen=True, slots=True)
class Disposition:
    """How a copy ended, where, and why as facts (``cause``; ``render.fates.fate_reason`` says
    it in Neutron's words where they apply)."""

    kind: DispositionKind
    host: str
    element: str
    cause: Cause

    @property
    def success(self) -> bool:
        """Delivered, exited or accepted."""
        return self.kind in SUCCESS


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyOrigin:
    """Why a copy exists: ``kind``, and the ``port`` it went out of, the ``bridge`` a patch port
    leads to, the segment member (``device`` of ``owner``: a host, or an outside namespace) or
    the OVS ``exit`` kind, as they apply."""

    kind: CopyKind
    port: str = ""
    bridge: str = ""
    device: str = ""
    owner: str = ""
    exit: str = ""


@dataclass(frozen=True, slots=True)
class Branch:
    """A run of hops ending in a disposition, or split into ``children`` (one per copy).
    ``origin`` says why this copy exists (out of which port; ``render.steps.copy_label`` words
    it: ``copy out patch-tun -> br-tun``)."""

    hops: tuple[Hop, ...]
    children: tuple[Branch, ...] = ()
    disposition: Disposition | None = None
    origin: CopyOrigin | None = None

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
        """Every root-to-leaf path with its disposition."""
        return self.root.paths()

    def dispositions(self) -> tuple[Disposition, ...]:
        """How every copy ended."""
        return tuple(d for _, d in self.paths())

    @property
    def success(self) -> bool:
        """True if at least one copy was delivered or exited."""
        return any(d.success for d in self.dispositions())
