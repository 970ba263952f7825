"""The trace's closed sets (layer 2): what kind of step, hop and disposition, and the enums
the facts choose from (FDB decisions, rule verdicts and effects, conntrack and NAT events,
neighbour events, why an OpenFlow pipeline ended, why Linux or the walker kept a packet, why
Neutron's flows dropped it)."""

from __future__ import annotations

import enum

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
    MIRROR_PORT_DROP = "mirror-port-drop"  # from or to a port reserved for mirroring


class OutputProblem(enum.StrEnum):
    """Why an OpenFlow output did not happen."""

    NONEXISTENT_PORT = "nonexistent-port"
    INPUT_PORT = "input-port"  # OVS does not send a packet back where it came from
    NO_FORWARD = "no-forward"  # the port's OpenFlow config has NO_FWD (``ovs-ofctl mod-port``)
    STP_NOT_FORWARDING = "stp-not-forwarding"  # the port's STP/RSTP state does not forward


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
    MIRROR_PORT = "mirror_port"  # received on a mirror's output port (reserved for mirroring)
    STP_PORT = "stp_port"  # received on a port STP/RSTP neither forwards nor learns on


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
    ND_NOT_MINE = "nd-not-mine"  # ip, namespace, device (the receiving one)
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
    TUNNEL_IPV6 = "tunnel-ipv6"  # ip: an IPv6 tunnel endpoint (the walk carries IPv4 tun_src/dst)
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


class CopyKind(enum.StrEnum):
    """Why a copy of the packet exists (a `CopyOrigin`'s ``kind``)."""

    OUTPUT = "output"  # out of a switch port (an OVS output, a Linux bridge port): ``port``
    PATCH = "patch"  # out of an OVS patch port into ``bridge``: ``port``
    EXIT = "exit"  # another way out of an OVS bridge (``exit``: drop, controller, limit...)
    INTERFACE = "interface"  # sent by a namespace's stack out of ``port``
    SEGMENT = "segment"  # a physical segment's copy to member ``device`` of ``owner``
