"""The words of a trace's steps (layer 3): `step_text`, `step_where` and `step_detail` (a step's
sentence, its place: an OpenFlow table, a ``table/chain``, a route table, a device; and its
verbatim detail: the flow or rule), `is_structural` (what ``walk --verbose`` alone shows), by
exhaustive matches over the closed union `neutrace.trace.Step` that end in
`typing.assert_never`, so a new fact does not type-check until it has words. The words
themselves are `neutrace.render.phrases.PHRASES`; why a copy ended is `neutrace.render.fates`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import assert_never

from neutrace.dataplane import Flow
from neutrace.render.packets import packet_summary
from neutrace.render.phrases import has_phrase, phrase, root_name, say
from neutrace.syntax.ofactions import GotoTable, Resubmit
from neutrace.syntax.ofctl import format_flow
from neutrace.syntax.offields import CT_STATE_FLAGS
from neutrace.trace import (
    ActionStep,
    BridgeNetfilterCopy,
    ChainStep,
    ConjunctionMatch,
    ConntrackEvent,
    ConntrackStep,
    CopyKind,
    CopyOrigin,
    CtFork,
    CtResume,
    CtStep,
    EthernetStep,
    FdbDecision,
    FdbStep,
    FdbSwitch,
    FrameSent,
    InternalPort,
    LearnStep,
    LimitKind,
    LimitStep,
    NatPortEvent,
    NatPortStep,
    NatStep,
    NeighbourEvent,
    NeighbourStep,
    OutputProblem,
    OutputSkipped,
    PatchCrossing,
    PatchOutput,
    PeerCrossing,
    RouteStep,
    RuleEffect,
    RuleStep,
    RuleVerdict,
    SegmentCrossing,
    SourceAddressStep,
    Step,
    TableLookup,
    TtlExceeded,
    TtlStep,
    TunnelOutput,
    TunnelStep,
    VlanTagging,
)


def step_text(step: Step) -> str:
    """The sentence ``step`` is shown as (the trace JSON's ``text``)."""
    match step:
        case TableLookup() | ConjunctionMatch() | ActionStep() | CtStep() | CtFork() \
                | CtResume() | OutputSkipped() | TtlExceeded() | TunnelOutput() \
                | PatchOutput() | LimitStep() | LearnStep():
            return _openflow_text(step)
        case FdbStep():
            return _fdb_text(step)
        case ChainStep() | RuleStep() | ConntrackStep() | NatStep() | NatPortStep() \
                | BridgeNetfilterCopy():
            return _netfilter_text(step)
        case RouteStep() | NeighbourStep() | TtlStep() | EthernetStep() | SourceAddressStep():
            return _routing_text(step)
        case PatchCrossing() | InternalPort() | PeerCrossing() | VlanTagging() \
                | SegmentCrossing() | FrameSent() | TunnelStep():
            return _wire_text(step)
        case _:
            assert_never(step)


def _openflow_text(step: TableLookup | ConjunctionMatch | ActionStep | CtStep | CtFork
                   | CtResume | OutputSkipped | TtlExceeded | TunnelOutput | PatchOutput
                   | LimitStep | LearnStep) -> str:
    """What ofproto/trace prints for an OpenFlow step."""
    match step:
        case TableLookup():
            return say("table.line", table=step.table, rest=table_rest(step))
        case ConjunctionMatch():
            return say("conjunction", conj_id=step.conj_id, priority=step.priority)
        case ActionStep() | CtStep():
            return step.action.text
        case CtFork():
            return say("ct.fork", table=step.resume_table)
        case CtResume():
            return say("ct.resume", state=ct_state_text(step.state), table=step.table)
        case OutputSkipped():
            return _skipped_text(step)
        case TtlExceeded():
            return say("ttl.exceeded")
        case TunnelOutput():
            return say("output.tunnel", port=step.port, type=step.tunnel_type,
                       tun_id=step.tun_id, local=step.local_ip, remote=step.remote_ip)
        case PatchOutput(peer_bridge=None):
            return say("output.patch_no_peer", port=step.port, peer=step.peer)
        case PatchOutput():
            return say("output.patch", port=step.port, peer=step.peer, bridge=step.peer_bridge)
        case LimitStep():
            return limit_text(step)
        case LearnStep():
            return say("learn", table=step.flow.table, flow=format_flow(step.flow))
        case _:
            assert_never(step)


def table_rest(step: TableLookup) -> str:
    """A table line after its ``N. ``: ``No match.`` or ``dl_vlan=1, priority 1, cookie 0x5``
    (what ofproto/trace prints)."""
    if step.flow is None:
        return say("table.miss")
    return _hit_rest(step.flow, phrase("table.hit"), phrase("table.cookie"))


@lru_cache(maxsize=8192)
def _hit_rest(flow: Flow, phrase: str, cookie_phrase: str) -> str:
    """`table_rest` of a matched flow, cached per flow (the phrases are part of the key, so
    the cache stays true when the wording table changes)."""
    head = match_text(flow)
    cookie = cookie_phrase.format(cookie=flow.cookie) if flow.cookie else ""
    return phrase.format(match=head + ", " if head else "", priority=flow.priority,
                         cookie=cookie)


def match_text(flow: Flow) -> str:
    """A flow's match as ofproto/trace prints it: ``in_port=1,dl_vlan=2``."""
    return ",".join(k if not v else f"{k}={v}" for k, v in flow.match)


def _skipped_text(step: OutputSkipped) -> str:
    """An output that sent nothing."""
    match step.problem:
        case OutputProblem.NONEXISTENT_PORT if step.port is not None:
            return say("output.nonexistent_named", port=step.port)
        case OutputProblem.NONEXISTENT_PORT:
            return say("output.nonexistent")
        case OutputProblem.INPUT_PORT:
            return say("output.input_port")
        case OutputProblem.NO_FORWARD:
            return say("output.no_forward")
        case OutputProblem.STP_NOT_FORWARDING:
            return say("output.stp")
        case _:
            assert_never(step.problem)


def limit_text(step: LimitStep) -> str:
    """Which translation limit stopped the packet."""
    match step.limit:
        case LimitKind.DEPTH:
            return say("limit.depth", bound=step.bound)
        case LimitKind.RESUBMITS:
            return say("limit.resubmits", bound=step.bound)
        case LimitKind.PATCH_CHAIN:
            return say("limit.patch_chain", chain=" -> ".join(step.chain), bound=step.bound)
        case _:
            assert_never(step.limit)


@lru_cache(maxsize=512)
def ct_state_text(state: int) -> str:
    """ct_state bits as OVS prints them: ``est|rpl|trk``."""
    names = [n for n, bit in CT_STATE_FLAGS.items() if state & bit]
    return "|".join(names) if names else "0"


_FDB_PHRASES = {
    FdbSwitch.OVS_NORMAL: {
        FdbDecision.ACCESS_TAGGED_DROP: "normal.access_tagged",
        FdbDecision.NOT_TRUNKED_DROP: "normal.not_trunked",
        FdbDecision.RESERVED_DROP: "normal.reserved", FdbDecision.LEARNED: "normal.learned",
        FdbDecision.INPUT_PORT_DROP: "normal.input_port", FdbDecision.FORWARD: "normal.forward",
        FdbDecision.FLOOD_UNKNOWN: "normal.flood_unknown",
        FdbDecision.FLOOD_GROUP: "normal.flood_group",
        FdbDecision.MIRROR_PORT_DROP: "normal.mirror_port",
    },
    FdbSwitch.LINUX_BRIDGE: {
        FdbDecision.LEARNED: "bridge.learned", FdbDecision.OWN_ADDRESS: "bridge.own_address",
        FdbDecision.FLOOD_GROUP: "bridge.flood_group",
        FdbDecision.INPUT_PORT_DROP: "bridge.input_port", FdbDecision.FORWARD: "bridge.forward",
        FdbDecision.FLOOD_UNKNOWN: "bridge.flood_unknown",
    },
    FdbSwitch.SEGMENT: {
        FdbDecision.LEARNED: "segment.learned", FdbDecision.FORWARD: "segment.forward",
        FdbDecision.OWNER: "segment.owner", FdbDecision.FLOOD_UNKNOWN: "segment.flood_unknown",
        FdbDecision.FLOOD_GROUP: "segment.flood_group",
    },
}


def _fdb_text(step: FdbStep) -> str:
    """A learning switch's decision, in the words of the switch that made it."""
    ports = ", ".join(step.ports) or say("bridge.no_other_port")
    member = say("member", device=step.port, owner=step.owner) if step.owner else step.port
    return say(_FDB_PHRASES[step.switch][step.decision], mac=step.mac, port=step.port,
               vlan=step.vlan, tag=step.tag, ports=ports, segment=step.element, member=member)


def _netfilter_text(step: ChainStep | RuleStep | ConntrackStep | NatStep | NatPortStep
                    | BridgeNetfilterCopy) -> str:
    """What iptables and conntrack did."""
    match step:
        case ChainStep(policy=None):
            return say("chain.enter", table=step.table, chain=step.chain)
        case ChainStep():
            return say("chain.policy", table=step.table, chain=step.chain, policy=step.policy)
        case RuleStep():
            return say("rule", line=step.rule.line, outcome=rule_outcome(step))
        case ConntrackStep():
            return _conntrack_text(step)
        case NatStep():
            return say("nat", nat=step.nat.value, related=say("nat.related") if step.related
                       else "", changes=", ".join(str(c) for c in step.changes))
        case NatPortStep(event=NatPortEvent.RANDOM):
            return say("nat.random")
        case NatPortStep():
            return say("nat.taken", address=step.address, port=step.port,
                       new_port=step.new_port)
        case BridgeNetfilterCopy():
            return say("bridge_nf.copy", port=step.port)
        case _:
            assert_never(step)


def rule_outcome(step: RuleStep) -> str:
    """What a matched rule did (after ``line N: ``)."""
    target = step.rule.target.name if step.rule.target is not None else ""
    match step.verdict:
        case RuleVerdict.NO_TARGET:
            return say("rule.no_target")
        case RuleVerdict.DEPTH_LIMIT:
            return say("rule.depth_limit")
        case RuleVerdict.JUMP:
            return say("rule.jump", target=target)
        case RuleVerdict.GOTO:
            return say("rule.goto", target=target)
        case RuleVerdict.RETURN | RuleVerdict.ACCEPT | RuleVerdict.DROP | RuleVerdict.REJECT \
                | RuleVerdict.NAT:
            return target
        case RuleVerdict.CONTINUE:
            return _effect_text(step, target)
        case _:
            assert_never(step.verdict)


def _effect_text(step: RuleStep, target: str) -> str:
    """A non-terminating target's side effect."""
    v = step.values
    match step.effect:
        case RuleEffect.MARK:
            return say("rule.mark", before=v[0], after=v[1])
        case RuleEffect.CONNMARK_NO_CONNECTION:
            return say("rule.connmark_no_connection")
        case RuleEffect.CONNMARK_RESTORE:
            return say("rule.connmark_restore", mark=v[0])
        case RuleEffect.CONNMARK_SET:
            return say("rule.connmark_set", ctmark=v[0])
        case RuleEffect.TEMPLATE_KEPT:
            return say("rule.template_kept", target=target)
        case RuleEffect.CT_NOTRACK:
            return say("rule.ct_notrack")
        case RuleEffect.CT_ZONE:
            return say("rule.ct_zone", zone=v[0])
        case RuleEffect.DSCP | RuleEffect.LOG | RuleEffect.CHECKSUM | RuleEffect.CT \
                | RuleEffect.NOTRACK | RuleEffect.OTHER | None:
            return say("rule.continue", target=target)
        case _:
            assert_never(step.effect)


_CT_PHRASES = {
    ConntrackEvent.UNTRACKED_RAW: "ct.untracked_raw",
    ConntrackEvent.UNTRACKED_ND: "ct.untracked_nd",
    ConntrackEvent.FOUND: "ct.found", ConntrackEvent.RELATED_QUOTED: "ct.related_quoted",
    ConntrackEvent.RELATED: "ct.related", ConntrackEvent.INVALID: "ct.invalid",
    ConntrackEvent.NEW: "ct.new", ConntrackEvent.COMMITTED: "ct.committed",
}


def _conntrack_text(step: ConntrackStep) -> str:
    """The kernel's conntrack decision (entries as ``conntrack -L`` prints them)."""
    zone = say("ct.zone", zone=step.zone) if step.zone else ""
    packet = packet_summary(step.packet) if step.packet is not None else ""
    return say(_CT_PHRASES[step.event], zone=zone, state=step.state,
               direction=step.direction.lower(), connection=step.connection, packet=packet)


def _routing_text(step: RouteStep | NeighbourStep | TtlStep | EthernetStep
                  | SourceAddressStep) -> str:
    """Routing, neighbours and the headers a namespace writes."""
    match step:
        case RouteStep(local=True):
            return say("route.local", destination=step.destination,
                       namespace=root_name(step.namespace))
        case RouteStep():
            return say("route", reroute=say("route.reroute") if step.reroute else "",
                       destination=step.destination, route=step.route)
        case NeighbourStep():
            return _neighbour_text(step)
        case TtlStep():
            return say("ttl", before=step.before, after=step.after)
        case EthernetStep():
            return say("ethernet", device=step.device, src=step.src, dst=step.dst)
        case SourceAddressStep():
            return say("source_address", address=step.address)
        case _:
            assert_never(step)


_NEIGH_PHRASES = {
    NeighbourEvent.LEARNED: "neigh.learned", NeighbourEvent.ARP_REPLY: "neigh.arp_reply",
    NeighbourEvent.ADVERTISEMENT: "neigh.advertisement", NeighbourEvent.CACHED: "neigh.cached",
    NeighbourEvent.ENTRY: "neigh.entry", NeighbourEvent.RESOLVED: "neigh.resolved",
    NeighbourEvent.UNANSWERED: "neigh.unanswered", NeighbourEvent.PROXY_ARP: "neigh.proxy_arp",
}


def _neighbour_text(step: NeighbourStep) -> str:
    """An ARP / neighbour discovery event, in iproute2's words."""
    ask = say("neigh.ask_nd" if step.ipv6 else "neigh.ask_arp")
    delay = say("neigh.proxy_delay", delay=step.delay) if step.delay else ""
    return say(_NEIGH_PHRASES[step.event], ip=step.ip, mac=step.mac, device=step.device,
               state=step.state, ask=ask, via=step.via, delay=delay)


def _wire_text(step: PatchCrossing | InternalPort | PeerCrossing | VlanTagging
               | SegmentCrossing | FrameSent | TunnelStep) -> str:
    """A wire crossed, a tunnel entered or left."""
    match step:
        case PatchCrossing():
            return say("wire.patch", port=step.port, peer=step.peer, bridge=step.bridge,
                       peer_bridge=step.peer_bridge)
        case InternalPort(into_ovs=True):
            return say("wire.internal_in", port=step.port, bridge=step.bridge)
        case InternalPort():
            return say("wire.internal_out", bridge=step.bridge, port=step.port,
                       namespace=root_name(step.namespace))
        case PeerCrossing():
            where = say("wire.peer_namespace", namespace=step.namespace) if step.namespace \
                else ""
            return say("wire.peer", device_kind=step.device_kind, device=step.device,
                       peer=step.peer, where=where)
        case VlanTagging():
            return say("wire.vlan_tag", device=step.device, vlan=step.vlan)
        case SegmentCrossing():
            return _segment_text(step)
        case FrameSent():
            return say("wire.frame_sent", namespace=root_name(step.namespace), device=step.device)
        case TunnelStep():
            return _tunnel_text(step)
        case _:
            assert_never(step)


def _segment_text(step: SegmentCrossing) -> str:
    """From a segment to one of its members."""
    member = say("member", device=step.device, owner=step.owner)
    if step.vlan is None:
        return say("wire.segment", segment=step.segment, member=member)
    return say("wire.segment_vlan", segment=step.segment, member=member, device=step.device,
               vlan=step.vlan)


def _tunnel_text(step: TunnelStep) -> str:
    """An encapsulation or a decapsulation."""
    if not step.encap:
        return say("tunnel.decap", host=step.host, port=step.port, local=step.local_ip,
                   vni=step.vni)
    kind = "gre" if step.tunnel_type == "ip6gre" else step.tunnel_type
    key = f"tunnel.{kind}"
    proto = say(key) if has_phrase(key) else step.tunnel_type
    phrase = "tunnel.encap_gre" if kind == "gre" else "tunnel.encap"
    return say(phrase, proto=proto, host=step.host, vni=step.vni, local=step.local_ip,
               remote=step.remote_ip)


def copy_label(origin: CopyOrigin | None) -> str:
    """Why a copy exists (a branch's label: ``copy out patch-tun -> br-tun``); ``""`` for the
    first copy."""
    if origin is None:
        return ""
    match origin.kind:
        case CopyKind.OUTPUT:
            return say("copy.output", port=origin.port)
        case CopyKind.PATCH:
            return say("copy.patch", port=origin.port, bridge=origin.bridge)
        case CopyKind.EXIT:
            return say("copy.exit", exit=origin.exit)
        case CopyKind.INTERFACE:
            return say("copy.interface", port=origin.port)
        case CopyKind.SEGMENT:
            return say("copy.segment", device=origin.device, owner=origin.owner)
        case _:
            assert_never(origin.kind)


def step_where(step: Step) -> str:
    """Where the step happened (the trace JSON's ``where``): an OpenFlow table number, an
    iptables ``table/chain``, ``nat/HOOK``, a route table, a device, a bridge or segment; ``""``
    when the hop says it all."""
    match step:
        case TableLookup() | ConjunctionMatch() | ActionStep() | CtStep() | CtFork() \
                | CtResume() | OutputSkipped() | TtlExceeded() | TunnelOutput() \
                | PatchOutput() | LearnStep():
            return str(step.table)
        case FdbStep():
            return str(step.table) if step.switch is FdbSwitch.OVS_NORMAL else step.element
        case ChainStep():
            return f"{step.table}/{step.chain}"
        case RuleStep():
            return f"{step.table}/{step.rule.chain}"
        case NatStep():
            return f"nat/{step.hook}"
        case RouteStep():
            return "local" if step.local else step.table
        case NeighbourStep():
            return step.namespace if step.event in _LOCAL_NEIGHBOUR else step.device
        case TunnelStep():
            return step.port
        case LimitStep() | ConntrackStep() | NatPortStep() | BridgeNetfilterCopy() | TtlStep() \
                | EthernetStep() | SourceAddressStep() | PatchCrossing() | InternalPort() \
                | PeerCrossing() | VlanTagging() | SegmentCrossing() | FrameSent():
            return ""
        case _:
            assert_never(step)


_LOCAL_NEIGHBOUR = frozenset({NeighbourEvent.LEARNED, NeighbourEvent.ARP_REPLY,
                              NeighbourEvent.ADVERTISEMENT, NeighbourEvent.PROXY_ARP})


def step_detail(step: Step) -> str:
    """The verbatim thing behind a step (the trace JSON's ``detail``): the flow as
    ``ovs-ofctl dump-flows`` prints it, the rule as iptables-save does, the chain's policy line,
    the ``ip rule`` that chose a route's table."""
    match step:
        case TableLookup() | LearnStep():
            return format_flow(step.flow) if step.flow is not None else ""
        case RuleStep():
            return step.rule.text
        case ChainStep(policy=None):
            return ""
        case ChainStep():
            return f":{step.chain} {step.policy}"
        case RouteStep(local=False):
            return say("route.rule", rule=step.rule)
        case _:
            return ""


def detail_in_text(step: Step) -> bool:
    """Whether the sentence of ``step`` already carries its detail (a learned flow's does), so
    that a reader shows the detail only once."""
    return isinstance(step, LearnStep)


def is_structural(step: Step) -> bool:
    """A step a reader does not need (``walk --verbose`` shows it): a goto_table/resubmit that
    changed nothing, entering a built-in chain, a jump into Neutron's wrapper chains, the
    patch-port note (the next hop says it)."""
    match step:
        case ActionStep():
            return not step.changes and _is_resubmit(step)
        case ChainStep():
            return step.policy is None
        case RuleStep():
            return step.verdict is RuleVerdict.JUMP
        case PatchOutput():
            return True
        case _:
            return False


def _is_resubmit(step: ActionStep) -> bool:
    """A goto_table or resubmit action."""
    return isinstance(step.action, GotoTable | Resubmit)
