"""The trace: pure data describing a packet's walk (layer 2).

Batfish's shape, extended to a tree because a flood or a multi-output action makes copies:

- a step: one thing an element did, as one small frozen class per kind of fact (the closed union
  `Step`): an OpenFlow table lookup with its table and matched flow (`TableLookup`), an action
  with the parsed action and the fields it changed (`ActionStep`), a NORMAL / Linux bridge /
  segment FDB decision (`FdbStep`), OVS conntrack (`CtStep`, `CtFork`, `CtResume`), an iptables
  chain or rule (`ChainStep`, `RuleStep`), kernel conntrack and NAT (`ConntrackStep`, `NatStep`),
  a route lookup (`RouteStep`), a neighbour resolution (`NeighbourStep`), a patch/veth/tap/segment
  crossing (`PatchCrossing`, `PeerCrossing`, `SegmentCrossing`, ...), an encapsulation or
  decapsulation (`TunnelStep`). Every step has ``depth`` (resubmit / user-chain nesting) and
  ``changes`` (the `FieldChange`s of a rewrite); its `StepKind` is a class attribute.
- `Hop`: the packet inside one element of one host (an OVS bridge, a Linux bridge, a namespace,
  a VM, the tunnel underlay, a physical segment) with the steps taken there.
- `Branch`: a run of hops; it ends either with a `Disposition` or by splitting into child
  branches (one per copy).
- `Trace`: where it started, the first packet and the root branch.

Nothing here renders: every sentence (OVS's and the kernel's own phrases included) is written by
``neutrace.render`` (``render.steps``) from these fields, and nothing reads a sentence back.
Fields holding a kernel object as its own tool prints it (``route`` as ``ip route`` shows it,
``connection`` as ``conntrack -L`` does) are data of that tool's syntax, like a flow's text.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from neutrace.dataplane import Flow, Gap
from neutrace.packet import FieldChange, Packet
from neutrace.syntax.iptables import IptRule
from neutrace.syntax.ofactions import Action, Ct

# -- closed sets ------------------------------------------------------------------------------


class StepKind(enum.StrEnum):
    """What kind of thing a step is (the ``kind`` of the trace JSON)."""

    TABLE = "table"  # an OpenFlow table lookup (the matched flow, or none)
    ACTION = "action"  # an OpenFlow action
    RULE = "rule"  # an iptables rule
    CHAIN = "chain"  # entering a netfilter chain / hook, or its policy
    ROUTE = "route"  # a route lookup
    NEIGHBOUR = "neighbour"  # ARP / neighbour resolution
    FDB = "fdb"  # a MAC table (OVS NORMAL, Linux bridge, segment) lookup or learning
    CONNTRACK = "conntrack"  # a conntrack lookup / commit
    NAT = "nat"  # a NAT rewrite
    TUNNEL = "tunnel"  # encapsulation / decapsulation
    WIRE = "wire"  # crossing a wire (patch port, veth, tap, segment)
    NOTE = "note"


class HopKind(enum.StrEnum):
    """The kind of element a hop is in."""

    OVS = "ovs-bridge"
    LINUX_BRIDGE = "linux-bridge"
    NAMESPACE = "namespace"
    VM = "vm"
    UNDERLAY = "underlay"
    SEGMENT = "segment"
    EXTERNAL = "external"


class DispositionKind(enum.StrEnum):
    """How a copy ended; the first three are successes."""

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
    INCOMPLETE = "incomplete"  # an imported state lacks what the packet reached (file named)


# The names the rest of the code (and its tests) use
STEP_TABLE, STEP_ACTION, STEP_RULE, STEP_CHAIN = (
    StepKind.TABLE, StepKind.ACTION, StepKind.RULE, StepKind.CHAIN)
STEP_ROUTE, STEP_NEIGHBOUR, STEP_FDB, STEP_CONNTRACK = (
    StepKind.ROUTE, StepKind.NEIGHBOUR, StepKind.FDB, StepKind.CONNTRACK)
STEP_NAT, STEP_TUNNEL, STEP_WIRE, STEP_NOTE = (
    StepKind.NAT, StepKind.TUNNEL, StepKind.WIRE, StepKind.NOTE)
HOP_OVS, HOP_LINUX_BRIDGE, HOP_NAMESPACE, HOP_VM = (
    HopKind.OVS, HopKind.LINUX_BRIDGE, HopKind.NAMESPACE, HopKind.VM)
HOP_UNDERLAY, HOP_SEGMENT, HOP_EXTERNAL = HopKind.UNDERLAY, HopKind.SEGMENT, HopKind.EXTERNAL
DELIVERED, EXITED, ACCEPTED = (
    DispositionKind.DELIVERED, DispositionKind.EXITED, DispositionKind.ACCEPTED)
DROPPED, DENIED = DispositionKind.DROPPED, DispositionKind.DENIED
NO_ROUTE = DispositionKind.NO_ROUTE
NEIGHBOUR_UNRESOLVED, LOOP = DispositionKind.NEIGHBOUR_UNRESOLVED, DispositionKind.LOOP
CONTROLLER, LIMIT = DispositionKind.CONTROLLER, DispositionKind.LIMIT
INCOMPLETE = DispositionKind.INCOMPLETE
SUCCESS = frozenset({DELIVERED, EXITED, ACCEPTED})


class FdbSwitch(enum.StrEnum):
    """Which learning switch decided: OVS's NORMAL action, a Linux bridge, a physical segment."""

    OVS_NORMAL = "ovs-normal"
    LINUX_BRIDGE = "linux-bridge"
    SEGMENT = "segment"


class FdbDecision(enum.StrEnum):
    """What a learning switch did with a frame (``xlate_normal``, ``br_handle_frame_finish``)."""

    LEARNED = "learned"  # the source MAC was (re)learned on the input port
    FORWARD = "forward"  # the destination was learned on a port: sent there
    OWNER = "owner"  # the destination is the MAC of a member (segment)
    OWN_ADDRESS = "own-address"  # the bridge device's own MAC: up to its stack
    FLOOD_UNKNOWN = "flood-unknown"  # no learned entry: flooded
    FLOOD_GROUP = "flood-group"  # broadcast / multicast: flooded
    INPUT_PORT_DROP = "input-port-drop"  # learned on the input port: not sent back
    RESERVED_DROP = "reserved-drop"  # an IEEE 802.1 reserved destination
    ACCESS_TAGGED_DROP = "access-tagged-drop"  # a tagged frame on an access port
    NOT_TRUNKED_DROP = "not-trunked-drop"  # a VLAN the trunk port does not carry


class OutputProblem(enum.StrEnum):
    """Why an OpenFlow output did not happen."""

    NONEXISTENT_PORT = "nonexistent-port"
    INPUT_PORT = "input-port"  # OVS does not send a packet back where it came from


class LimitKind(enum.StrEnum):
    """Which of OVS's translation limits stopped a packet."""

    DEPTH = "depth"  # MAX_DEPTH of resubmit / goto_table
    RESUBMITS = "resubmits"  # MAX_RESUBMITS per translation
    PATCH_CHAIN = "patch-chain"  # a chain of patch ports over MAX_DEPTH


class RuleVerdict(enum.StrEnum):
    """What a matched iptables rule did."""

    NO_TARGET = "no-target"  # a rule without -j (it only counts)
    DEPTH_LIMIT = "depth-limit"  # too many nested chains: DROP
    JUMP = "jump"
    GOTO = "goto"
    RETURN = "return"
    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"
    NAT = "nat"  # SNAT, DNAT, MASQUERADE, REDIRECT: the nat binding is set up
    CONTINUE = "continue"  # a target with a side effect (see `RuleEffect`), then the next rule


class RuleEffect(enum.StrEnum):
    """The side effect of a non-terminating target (``values`` of `RuleStep` hold the numbers)."""

    DSCP = "dscp"
    LOG = "log"
    CHECKSUM = "checksum"
    MARK = "mark"  # values: (mark before, mark after)
    CONNMARK_NO_CONNECTION = "connmark-no-connection"
    CONNMARK_RESTORE = "connmark-restore"  # values: (packet mark,)
    CONNMARK_SET = "connmark-set"  # values: (ctmark,)
    TEMPLATE_KEPT = "template-kept"  # CT/NOTRACK on a packet that already has a template
    CT_NOTRACK = "ct-notrack"
    CT_ZONE = "ct-zone"  # values: (zone,)
    CT = "ct"
    NOTRACK = "notrack"
    OTHER = "other"


class ConntrackEvent(enum.StrEnum):
    """What the kernel's conntrack did with a packet."""

    UNTRACKED_RAW = "untracked-raw"  # notrack in raw
    UNTRACKED_ND = "untracked-nd"  # neighbour discovery / MLD are not tracked
    FOUND = "found"  # an entry exists: ``state`` NEW or ESTABLISHED, in ``direction``
    RELATED_QUOTED = "related-quoted"  # an ICMP error quoting a tracked packet
    RELATED = "related"  # related to an entry (e.g. an expectation)
    INVALID = "invalid"  # it cannot start a connection
    NEW = "new"
    COMMITTED = "committed"  # nf_conntrack_confirm kept the new entry


class NatKind(enum.StrEnum):
    """Which rewrite conntrack applied."""

    DNAT = "DNAT"
    SNAT = "SNAT"
    UN_SNAT = "un-SNAT"
    UN_DNAT = "un-DNAT"


class NatPortEvent(enum.StrEnum):
    """A NAT port decision."""

    RANDOM = "random"  # --random/--random-fully (neutrace keeps the original port)
    TAKEN = "taken"  # the port is another connection's: the next free one


class NeighbourEvent(enum.StrEnum):
    """A neighbour (ARP / NDP) event."""

    LEARNED = "learned"  # from an ARP request or reply
    ARP_REPLY = "arp-reply"  # answered an ARP request
    ADVERTISEMENT = "advertisement"  # answered a neighbour solicitation
    CACHED = "cached"  # found in the neighbour cache
    ENTRY = "entry"  # found in the namespace's neighbour table (``state``)
    RESOLVED = "resolved"  # asked on the link and answered
    UNANSWERED = "unanswered"  # asked on the link, nobody answered
    PROXY_ARP = "proxy-arp"  # answered for ``ip``, routed out of ``via`` (proxy_arp=1)


class ExitCause(enum.StrEnum):
    """Why an OpenFlow copy was dropped, sent to the controller or stopped (``OfExit.cause``)."""

    TABLE_MISS = "table_miss"  # no flow of ``table`` matched
    FLOW_DROPS = "flow_drops"  # ``flow`` of ``table`` has no actions, or only drop
    DROP_ACTION = "drop_action"  # a drop action in a flow of ``table``
    NO_OUTPUT = "no_output"  # the actions ended without an output
    NORMAL = "normal"  # NORMAL dropped it or had no port to send to (``step``: its FdbStep)
    PATCH_NO_PEER = "patch_no_peer"  # ``step``: the PatchOutput with no peer
    CONTROLLER_ACTION = "controller_action"  # ``step``: the controller action
    CONTROLLER_PORT = "controller_port"  # output to the CONTROLLER port
    TTL_EXCEEDED = "ttl_exceeded"  # dec_ttl of a TTL of 1 or less
    LIMIT = "limit"  # ``step``: the LimitStep


class LinuxWhy(enum.StrEnum):
    """Why a Linux element (a bridge, a namespace's stack) kept a packet (`LinuxFate`)."""

    NO_BRIDGE = "no-bridge"  # bridge, host
    NOT_A_BRIDGE_PORT = "not-a-bridge-port"  # device, bridge
    BEHIND_INPUT_PORT = "behind-input-port"  # bridge, mac, device
    NO_BRIDGE_PORT = "no-bridge-port"  # bridge: no port to send to
    NO_INTERFACE = "no-interface"  # namespace, device
    INTERFACE_DOWN = "interface-down"  # device
    UNKNOWN_VLAN = "unknown-vlan"  # device, number (VLAN): no VLAN device for it
    OTHER_HOST = "other-host"  # device, mac (the interface's), ip (the frame's destination MAC)
    NO_PROTOCOL = "no-protocol"  # device, number (ethertype)
    ARP_NOT_MINE = "arp-not-mine"  # ip, namespace, knob (arp_ignore)
    ARP_REPLY_CACHED = "arp-reply-cached"  # ip (accepted)
    ARP_OP_IGNORED = "arp-op-ignored"  # number (op)
    ND_NOT_MINE = "nd-not-mine"  # ip, namespace
    LOCAL_DELIVERY = "local-delivery"  # packet, namespace, echo (accepted)
    LOOPBACK_DELIVERY = "loopback-delivery"  # packet, namespace (accepted)
    MULTICAST_NOT_ROUTED = "multicast-not-routed"  # namespace, ip
    NOT_FORWARDING = "not-forwarding"  # namespace, ip, knob
    NO_ROUTE = "no-route"  # namespace, ip (the kernel answers ICMP unreachable)
    ROUTE_KIND = "route-kind"  # namespace, ip, knob (the route's kind)
    TTL_EXPIRED = "ttl-expired"  # namespace, number (TTL)
    NO_ARP_ANSWER = "no-arp-answer"  # namespace, ip (next hop), device
    SEND_NOT_IP = "send-not-ip"  # namespace
    UNREACHABLE = "unreachable"  # namespace, ip (connect: Network is unreachable)
    BLACKHOLE = "blackhole"  # namespace, ip
    NO_SOURCE_ADDRESS = "no-source-address"  # namespace, device
    NO_ROUTE_AFTER_NAT = "no-route-after-nat"  # namespace, ip


class WalkWhy(enum.StrEnum):
    """How the walker ended a copy (`WalkFate`)."""

    LOOP = "loop"  # element: the same packet entered it through the same port again
    MAX_HOPS = "max-hops"  # number
    MAX_COPIES = "max-copies"  # number
    NO_LINUX_DEVICE = "no-linux-device"  # device (OVS port), bridge
    PEER_MISSING = "peer-missing"  # device, peer
    UNWIRED = "unwired"  # device
    BRIDGE_PORT_MISSING = "bridge-port-missing"  # device
    NO_INTERFACE = "no-interface"  # device
    NOTHING_SENT = "nothing-sent"
    DELIVERED_TO_VM = "delivered-to-vm"  # element (VM), device, ip, host
    LEFT_THE_CLOUD = "left-the-cloud"  # element (outside host), ip, device + host (the NIC)
    SEGMENT_EMPTY = "segment-empty"  # element (segment)
    NO_TUNNEL_HOST = "no-tunnel-host"  # ip
    NO_TUNNEL_PORT = "no-tunnel-port"  # host (target), peer (from host), device (type), ip


class DropWhy(enum.StrEnum):
    """Why Neutron's flows dropped a packet (`DropExplanation`, from ``sim.annotate``)."""

    NO_FLOOD_ENTRY = "no-flood-entry"  # br-tun FLOOD_TO_TUN: the VLAN is not a tunnel network
    NO_TUNNEL_MAPPING = "no-tunnel-mapping"  # br-tun *_TUN_TO_LV: no local VLAN for the id
    TUNNEL_INGRESS = "tunnel-ingress"  # br-tun table 0: neither patch-int nor a tunnel port
    PHYSICAL_VLAN = "physical-vlan"  # a physical bridge does not take that VLAN from br-int
    ARP_SPOOF = "arp-spoof"
    MAC_SPOOF = "mac-spoof"
    DEAD_VLAN = "dead-vlan"  # the port is in VLAN 4095 (not bound)
    NO_LOCAL_VLAN = "no-local-vlan"  # br-int table 0: no local VLAN translation


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


# -- why Neutron's flows dropped a packet (sim.annotate) --------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DropExplanation:
    """A drop in Neutron's terms: ``why``, in ``table`` of ``bridge`` on ``host``; ``vlan`` (local
    VLAN, ``None``: untagged), ``tun_id``, ``network`` (its name and type, ``None`` when no port
    of the host says), ``in_port``, ``address`` (spoofed IP or MAC) as they apply; ``listed``
    what the table does hold (flood VLANs, mapped tunnel ids, accepted VLANs)."""

    why: DropWhy
    bridge: str
    table: int
    host: str = ""
    vlan: int | None = None
    tun_id: int = 0
    network: str | None = None
    in_port: str = ""
    address: str = ""
    listed: tuple[int, ...] = ()


# -- why a copy ended ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenFlowFate:
    """An OVS bridge dropped the copy, sent it to the controller or hit a limit: ``cause`` in
    ``table`` (by ``flow``, decided by ``step``), and, for a drop, Neutron's reason
    (``explanation``, from ``sim.annotate``)."""

    bridge: str
    cause: ExitCause
    table: int | None = None
    flow: Flow | None = None
    step: Step | None = None
    explanation: DropExplanation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetfilterVerdict:
    """A DROP or REJECT of ``table`` at ``hook`` in the ruleset read from ``source``: by ``rule``
    (its line and text), or by the chain's policy (``rule`` None)."""

    verdict: str
    source: str
    table: str
    hook: str
    rule: IptRule | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Denial:
    """Netfilter denied the packet (every copy of a bridged flood: one verdict each)."""

    verdicts: tuple[NetfilterVerdict, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinuxFate:
    """A Linux bridge or a namespace's stack kept the packet: ``why`` (the comment of each
    `LinuxWhy` names the fields it uses)."""

    why: LinuxWhy
    namespace: str = ""
    device: str = ""
    bridge: str = ""
    host: str = ""
    ip: str = ""
    mac: str = ""
    number: int = 0
    knob: str = ""
    echo: bool = False
    packet: Packet | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkFate:
    """The walker ended the copy: ``why`` (the comment of each `WalkWhy` names the fields it
    uses)."""

    why: WalkWhy
    element: str = ""
    device: str = ""
    peer: str = ""
    bridge: str = ""
    host: str = ""
    ip: str = ""
    number: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IncompleteFate:
    """The copy reached a part of an imported state that is not known: the importer's
    ``gap`` (what is missing, why, and the file that would answer it)."""

    gap: Gap


Cause = OpenFlowFate | Denial | LinuxFate | WalkFate | IncompleteFate


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
    """How a copy ended, where, and why as facts (``cause``; ``render.steps.fate_reason`` says
    it in Neutron's words where they apply)."""

    kind: DispositionKind
    host: str
    element: str
    cause: Cause

    @property
    def success(self) -> bool:
        """Delivered, exited or accepted."""
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
        """Every root-to-leaf path with its disposition."""
        return self.root.paths()

    def dispositions(self) -> tuple[Disposition, ...]:
        """How every copy ended."""
        return tuple(d for _, d in self.paths())

    @property
    def success(self) -> bool:
        """True if at least one copy was delivered or exited."""
        return any(d.success for d in self.dispositions())
