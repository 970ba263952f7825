"""What the engines hand back to the walker (layer 3): pure data, shared by every engine.

- The OpenFlow engine returns a tree of `BridgeVisit`s: one per bridge a copy of the packet
  entered (patch ports continue into the peer bridge as a child visit), each with its trace steps
  and its `OfExit`s (left the switch through a port, continued through a patch port, dropped,
  sent to the controller, stopped by a limit), each saying why as data (`ExitCause`, the table,
  the flow, the step that decided).
- The Linux engines return a `LinuxResult`: the steps taken, the copies that leave through
  interfaces (`Egress`), and, when the packet ends there, a disposition kind from
  ``neutrace.trace`` (accepted, dropped, denied, no_route, neighbour_unresolved) with its cause
  (`neutrace.trace.LinuxFate`, `neutrace.trace.Denial`).

Words for all of it are written by ``neutrace.render`` (``steps``, ``fates``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from neutrace.dataplane import Flow
from neutrace.packet import Packet
from neutrace.trace import Cause, DispositionKind, ExitCause, Step


class ExitKind(enum.StrEnum):
    """How a copy left a bridge."""

    OUTPUT = "output"  # left the switch through a system, internal or tunnel port
    PATCH = "patch"  # continued into the peer bridge (see ``next``)
    DROP = "drop"  # explicit drop, table miss, or no output action
    CONTROLLER = "controller"
    LIMIT = "limit"  # resubmit depth or patch loop limit


EXIT_OUTPUT, EXIT_PATCH, EXIT_DROP = ExitKind.OUTPUT, ExitKind.PATCH, ExitKind.DROP
EXIT_CONTROLLER, EXIT_LIMIT = ExitKind.CONTROLLER, ExitKind.LIMIT


@dataclass(frozen=True, slots=True)
class Egress:
    """A copy leaving an element through ``port`` (an interface or OVS port name)."""

    port: str
    packet: Packet


@dataclass(frozen=True, slots=True, kw_only=True)
class OfExit:
    """How one copy left a bridge. ``port`` is the OVS port name it left by (None for drops),
    ``packet`` the packet as it left (for a tunnel port: ``tun_id`` set and ``tun_src``/``tun_dst``
    the port's local_ip/remote_ip), ``next`` the visit of the peer bridge for patch exits. For
    the others ``cause`` says why, in ``table`` (by ``flow``), with the ``step`` that decided
    when one did."""

    kind: ExitKind
    port: str | None = None
    packet: Packet | None = None
    next: BridgeVisit | None = None
    cause: ExitCause | None = None
    table: int | None = None
    flow: Flow | None = None
    step: Step | None = None


@dataclass(frozen=True, slots=True)
class BridgeVisit:
    """A copy of the packet inside one OVS bridge: where it entered, the steps (table lookups with
    matched flows, actions, with resubmit depth), and how each copy left."""

    bridge: str
    in_port: str
    packet: Packet
    steps: tuple[Step, ...]
    exits: tuple[OfExit, ...]


@dataclass(frozen=True, slots=True)
class LinuxResult:
    """What a Linux element (bridge or namespace) did with a packet."""

    steps: tuple[Step, ...]
    outputs: tuple[Egress, ...] = ()
    disposition: DispositionKind | None = None
    cause: Cause | None = None
