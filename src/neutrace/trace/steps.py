"""The steps (layer 2): one small frozen class per kind of fact, grouped by the engine that
records them, and their closed union `Step`. Every step has ``depth`` (resubmit / user-chain
nesting) and ``changes`` (the `FieldChange`s of a rewrite); its `StepKind` is a class
attribute."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from neutrace.dataplane import Flow
from neutrace.packet import FieldChange, Packet
from neutrace.syntax.iptables import IptRule
from neutrace.syntax.ofactions import Action, Clone, Ct, Group
from neutrace.trace.kinds import (
    ConntrackEvent,
    FdbDecision,
    FdbSwitch,
    LimitKind,
    NatKind,
    NatPortEvent,
    NeighbourEvent,
    OutputProblem,
    RuleEffect,
    RuleVerdict,
    StepKind,
)

# -- OpenFlow steps (engines.openflow) --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TableLookup:
    """An OpenFlow table lookup in ``table``: the ``flow`` that matched, or None (a miss)."""

    kind: ClassVar[StepKind] = StepKind.TABLE
    table: int
    flow: Flow | None
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConjunctionMatch:
    """Every clause of conjunction ``conj_id`` (of ``priority``) matched in ``table``."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    conj_id: int
    priority: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionStep:
    """An action of a flow of ``table`` executed, as parsed (``action.text`` is it as written),
    with the fields it changed."""

    kind: ClassVar[StepKind] = StepKind.ACTION
    table: int
    action: Action
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CtStep:
    """OVS's ``ct()`` executed: the packet's conntrack ``zone`` and ``state`` (ct_state bits) after
    it, and NAT in ``changes``."""

    kind: ClassVar[StepKind] = StepKind.CONNTRACK
    table: int
    action: Ct
    zone: int
    state: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CtFork:
    """``ct(table=N)`` forked a clone of the packet that resumes at ``resume_table``."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    resume_table: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CtResume:
    """The clone forked by ``ct(table=N)`` resumes in ``table`` with ct_state ``state``."""

    kind: ClassVar[StepKind] = StepKind.CONNTRACK
    table: int
    state: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSkipped:
    """An output of a flow of ``table`` that sent nothing (``port`` as written, if any)."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    problem: OutputProblem
    port: str | None = None
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TtlExceeded:
    """``dec_ttl`` of a TTL of 1 or less: sent to the controller (invalid_ttl), processing
    stops."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelOutput:
    """A copy sent to tunnel port ``port`` (``tunnel_type``) with ``tun_id`` between the port's
    ``local_ip`` and ``remote_ip``."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    port: str
    tunnel_type: str
    tun_id: int
    local_ip: str
    remote_ip: str
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchOutput:
    """A copy sent to patch port ``port``, continuing at ``peer`` of ``peer_bridge`` (None: the
    peer does not exist on this host)."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    port: str
    peer: str
    peer_bridge: str | None
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitStep:
    """A translation limit was hit (``bound`` is OVS's; ``chain`` the bridges of a patch
    chain)."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    limit: LimitKind
    bound: int
    chain: tuple[str, ...] = ()
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LearnStep:
    """``learn()`` of a flow of ``table`` added ``flow`` (to ``flow.table``)."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    table: int
    flow: Flow
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


# -- learning switches (OVS NORMAL, Linux bridges, segments) ----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FdbStep:
    """A learning switch's decision. ``element`` is the Linux bridge or the segment (OVS: the
    bridge is the hop's; ``table`` the table whose flow ran NORMAL); ``mac`` the address decided
    on (the source when learning, else the destination); ``port`` the port involved (learned
    on, sent to, received on); ``vlan``/``tag`` NORMAL's VLAN and an access port's tag;
    ``ports`` a Linux bridge's flood list; ``owner`` the host (or outside namespace) of a
    segment member named by ``port``."""

    kind: ClassVar[StepKind] = StepKind.FDB
    switch: FdbSwitch
    decision: FdbDecision
    element: str = ""
    table: int | None = None
    mac: str = ""
    port: str = ""
    vlan: int = 0
    tag: int | None = None
    ports: tuple[str, ...] = ()
    owner: str = ""
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


# -- netfilter and the kernel's conntrack (engines.netfilter) ---------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainStep:
    """Entering built-in ``chain`` of ``table`` (``policy`` None), or falling off its end to
    ``policy``."""

    kind: ClassVar[StepKind] = StepKind.CHAIN
    table: str
    chain: str
    policy: str | None = None
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleStep:
    """An iptables ``rule`` of ``table`` matched (``rule.line`` is its line in the save text,
    ``rule.text`` it as iptables-save prints it) and what it did; ``values`` the numbers of its
    `RuleEffect`."""

    kind: ClassVar[StepKind] = StepKind.RULE
    table: str
    rule: IptRule
    verdict: RuleVerdict
    effect: RuleEffect | None = None
    values: tuple[int, ...] = ()
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConntrackStep:
    """The kernel's conntrack: ``event`` in ``zone``, the packet's ``state`` (NEW, ESTABLISHED,
    RELATED, ...) in ``direction`` (ORIGINAL/REPLY); ``connection`` the entry as ``conntrack -L``
    prints it (or the new tuple); ``packet`` the packet when it cannot be tracked."""

    kind: ClassVar[StepKind] = StepKind.CONNTRACK
    event: ConntrackEvent
    zone: int = 0
    state: str = ""
    direction: str = ""
    connection: str = ""
    packet: Packet | None = None
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NatStep:
    """A NAT rewrite at ``hook`` (``related``: of an ICMP error and the packet it quotes); the
    rewrite itself is ``changes``."""

    kind: ClassVar[StepKind] = StepKind.NAT
    nat: NatKind
    hook: str
    related: bool = False
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NatPortStep:
    """A NAT port decision for ``address``:``port`` (``new_port`` when it had to change)."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    event: NatPortEvent
    address: str = ""
    port: int = 0
    new_port: int = 0
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeNetfilterCopy:
    """Bridge netfilter runs FORWARD/POSTROUTING for the copy out of bridge port ``port``."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    port: str
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


# -- routing and neighbours (engines.linuxnet) ------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteStep:
    """A route lookup for ``destination`` in ``namespace``: ``local`` (a local address: input),
    else the ``route`` found (as ``ip route`` prints it, in ``table``) by ``rule`` (as ``ip rule``
    prints it); ``reroute`` when NAT or a mark made the kernel look again."""

    kind: ClassVar[StepKind] = StepKind.ROUTE
    destination: str
    namespace: str = ""
    local: bool = False
    route: str = ""
    rule: str = ""
    table: str = ""
    reroute: bool = False
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighbourStep:
    """A neighbour event for ``ip`` on ``device`` of ``namespace``: its ``mac`` (and the
    neighbour table's ``state``); ``ipv6`` says ARP or neighbour discovery; a proxy ARP answer
    names the device ``via`` which the target is routed (and the ``delay``)."""

    kind: ClassVar[StepKind] = StepKind.NEIGHBOUR
    event: NeighbourEvent
    ip: str
    device: str
    namespace: str = ""
    mac: str = ""
    state: str = ""
    ipv6: bool = False
    via: str = ""  # proxy ARP: the device the target is routed out of
    delay: str = ""  # proxy ARP: net.ipv4.neigh.<dev>.proxy_delay, if set
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TtlStep:
    """Forwarding decremented the TTL (``changes``: nw_ttl)."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    before: int
    after: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EthernetStep:
    """The Ethernet header a namespace writes on a packet it sends out of ``device``."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    device: str
    src: str
    dst: str
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceAddressStep:
    """The source address the kernel chose for a packet a namespace sends."""

    kind: ClassVar[StepKind] = StepKind.NOTE
    address: str
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


# -- wires and tunnels (sim.walk) -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchCrossing:
    """A patch port ``port`` of ``bridge`` to its ``peer`` of ``peer_bridge``."""

    kind: ClassVar[StepKind] = StepKind.WIRE
    port: str
    peer: str
    bridge: str
    peer_bridge: str
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class InternalPort:
    """An OVS internal ``port`` of ``bridge``: out of OVS into ``namespace`` (``into_ovs``
    False), or from its namespace into OVS."""

    kind: ClassVar[StepKind] = StepKind.WIRE
    port: str
    bridge: str
    namespace: str = ""
    into_ovs: bool = False
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerCrossing:
    """A ``device_kind`` (veth, tap) ``device`` to its ``peer`` (in ``namespace`` when that is
    another, named one)."""

    kind: ClassVar[StepKind] = StepKind.WIRE
    device_kind: str
    device: str
    peer: str
    namespace: str = ""
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VlanTagging:
    """An 802.1Q VLAN ``device`` tags the frame with ``vlan`` on its way to the segment."""

    kind: ClassVar[StepKind] = StepKind.WIRE
    device: str
    vlan: int
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentCrossing:
    """Physical ``segment`` to its member ``device`` of ``owner`` (a host, or an outside
    namespace); ``vlan`` when that member is a VLAN device that takes the VLAN and strips the
    tag."""

    kind: ClassVar[StepKind] = StepKind.WIRE
    segment: str
    device: str
    owner: str
    vlan: int | None = None
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSent:
    """``namespace`` sends a raw frame out of ``device`` (bypassing its routing)."""

    kind: ClassVar[StepKind] = StepKind.WIRE
    namespace: str
    device: str
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelStep:
    """Encapsulation (``encap``) on ``host`` out of tunnel ``port``, or decapsulation on
    ``host`` by ``port``: ``tunnel_type`` (vxlan, geneve, gre), ``vni``, the outer ``local_ip``
    → ``remote_ip`` (as the sender sees them)."""

    kind: ClassVar[StepKind] = StepKind.TUNNEL
    encap: bool
    tunnel_type: str
    host: str
    port: str
    vni: int
    local_ip: str
    remote_ip: str = ""
    depth: int = 0
    changes: tuple[FieldChange, ...] = ()


Step = (
    TableLookup | ConjunctionMatch | ActionStep | CtStep | CtFork | CtResume | OutputSkipped
    | TtlExceeded | TunnelOutput | PatchOutput | LimitStep | LearnStep | FdbStep | ChainStep
    | RuleStep | ConntrackStep | NatStep | NatPortStep | BridgeNetfilterCopy | RouteStep
    | NeighbourStep | TtlStep | EthernetStep | SourceAddressStep | PatchCrossing | InternalPort
    | PeerCrossing | VlanTagging | SegmentCrossing | FrameSent | TunnelStep
)


def lasting_changes(steps: tuple[Step, ...] | list[Step]) -> Iterator[FieldChange]:
    """The field changes of an OpenFlow visit's ``steps`` that last: those made inside a
    ``clone(...)`` or a group's buckets (the steps after its ActionStep, one level deeper) are
    undone when it ends, as OVS restores the flow after them; a ``ct(table=N)``'s are the
    recirculated copy's (the packet that goes on after it is the one before conntrack)."""
    undo: list[int] = []  # depths of the clones open
    pending: list[list[FieldChange]] = []
    for step in steps:
        while undo and step.depth <= undo[-1]:
            undo.pop()
            pending.pop()
        if isinstance(step, CtStep) and step.action.table is not None:
            continue
        target = pending[-1] if pending else None
        for ch in step.changes:
            if target is None:
                yield ch
            else:
                target.append(ch)
        if isinstance(step, ActionStep) and isinstance(step.action, Clone | Group):
            undo.append(step.depth)
            pending.append([])
