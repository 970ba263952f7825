"""The words of a trace (layer 3): every sentence a step, an OpenFlow exit or a drop
explanation is shown as, written here and nowhere else.

`PHRASES` is the wording table (``str.format`` templates, keyed by what they say). It keeps the
phrases of the tools people know: OVS's ``ofproto/trace`` ("-> no learned MAC for destination,
flooding", "No match.", "-> Nonexistent output port"), the kernel's and iproute2's
("is-at", "lladdr", "ARP who-has"), iptables-save's rules and ``conntrack -L``'s entries.
A test rewords every phrase through this table and checks that nothing else notices: no module
reads these sentences back.

- `step_text`, `step_where`, `step_detail`: a step's sentence, its place (an OpenFlow table, a
  ``table/chain``, a route table, a device) and its verbatim detail (the flow or rule);
- `exit_reason`: why an OpenFlow copy was dropped, sent to the controller or stopped;
- `explanation_text`: a drop in Neutron's terms (`neutrace.trace.DropExplanation`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, assert_never

from neutrace.dataplane import Flow
from neutrace.engines.results import ExitKind, OfExit
from neutrace.syntax.ofactions import Controller, GotoTable, Resubmit
from neutrace.syntax.ofctl import format_flow
from neutrace.syntax.offields import CT_STATE_FLAGS
from neutrace.trace import (
    ActionStep,
    BridgeNetfilterCopy,
    Cause,
    ChainStep,
    ConjunctionMatch,
    ConntrackEvent,
    ConntrackStep,
    CtFork,
    CtResume,
    CtStep,
    Denial,
    Disposition,
    DropExplanation,
    DropWhy,
    EthernetStep,
    ExitCause,
    FdbDecision,
    FdbStep,
    FdbSwitch,
    FrameSent,
    IncompleteFate,
    InternalPort,
    LearnStep,
    LimitKind,
    LimitStep,
    LinuxFate,
    NatPortEvent,
    NatPortStep,
    NatStep,
    NeighbourEvent,
    NeighbourStep,
    NetfilterVerdict,
    OpenFlowFate,
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
    WalkFate,
    WalkWhy,
)

PHRASES: dict[str, str] = {
    # -- OpenFlow (ofproto/trace's own lines) ---------------------------------------------
    "table.line": "{table}. {rest}",
    "table.ofproto_line": "{table:2d}. {rest}",
    "table.miss": "No match.",
    "table.hit": "{match}priority {priority}{cookie}",
    "table.cookie": ", cookie {cookie:#x}",
    "conjunction": "conj_id={conj_id} (conjunction of priority {priority} complete)",
    "ct.resume": "resume conntrack with ct_state={state}, recirculating to table {table}",
    "ct.fork": "-> A clone of the packet is forked to recirculate. The forked pipeline will be "
               "resumed at table {table}.",
    "output.nonexistent": "-> Nonexistent output port",
    "output.nonexistent_named": "-> Nonexistent output port {port}",
    "output.input_port": "-> skipping output to input port",
    "ttl.exceeded": "-> TTL exceeded: sent to the controller (invalid_ttl), processing stops",
    "output.tunnel": "-> output to tunnel {port} ({type}): tun_id={tun_id:#x} src={local} "
                     "dst={remote}",
    "output.patch": "-> patch port {port} -> {peer} (bridge {bridge})",
    "output.patch_no_peer": "-> patch port {port}: peer {peer!r} not found",
    "limit.depth": "over max translation depth {bound}",
    "limit.resubmits": "over {bound} resubmit actions",
    "limit.patch_chain": "patch port chain {chain} over max translation depth {bound}",
    "learn": "-> learned flow in table {table}: {flow}",
    # -- NORMAL (xlate_normal's own lines) ------------------------------------------------
    "normal.access_tagged": "-> dropping VLAN {vlan} tagged packet received on port {port} "
                            "configured as VLAN {tag} access port",
    "normal.not_trunked": "-> dropping VLAN {vlan} packet received on port {port} not "
                          "configured for trunking VLAN {vlan}",
    "normal.reserved": "-> packet has reserved destination MAC, dropping",
    "normal.learned": "-> learned that {mac} is on port {port} in VLAN {vlan}",
    "normal.input_port": "-> learned port is input port, dropping",
    "normal.forward": "-> forwarding to learned port {port}",
    "normal.flood_unknown": "-> no learned MAC for destination, flooding",
    "normal.flood_group": "-> multicast/broadcast destination, flooding",
    # -- Linux bridges ----------------------------------------------------------------------
    "bridge.learned": "learned {mac} on {port}",
    "bridge.own_address": "{mac} is the bridge's own address: up to the namespace's stack",
    "bridge.flood_group": "{mac} is broadcast/multicast: flood to {ports}",
    "bridge.input_port": "{mac} is on the input port {port}: not sent back",
    "bridge.forward": "{mac} learned on {port}",
    "bridge.flood_unknown": "{mac} unknown: flood to {ports}",
    "bridge.no_other_port": "no other port",
    # -- physical segments ------------------------------------------------------------------
    "segment.learned": "segment {segment} learned {mac} on {port}",
    "segment.forward": "{mac} is behind {port}",
    "segment.owner": "{mac} is {member}",
    "segment.flood_unknown": "{mac} unknown: flooded",
    "segment.flood_group": "{mac} is a group address: flooded",
    "member": "{device} of {owner}",
    # -- netfilter --------------------------------------------------------------------------
    "chain.enter": "iptables {table}/{chain}",
    "chain.policy": "iptables {table}/{chain}: policy {policy}",
    "rule": "line {line}: {outcome}",
    "rule.no_target": "matched (no target)",
    "rule.depth_limit": "chain depth limit: DROP",
    "rule.jump": "jump to {target}",
    "rule.goto": "goto {target}",
    "rule.continue": "{target} (continue)",
    "rule.mark": "MARK {before:#x} -> {after:#x} (continue)",
    "rule.connmark_no_connection": "CONNMARK: no connection (continue)",
    "rule.connmark_restore": "CONNMARK restore: mark {mark:#x} (continue)",
    "rule.connmark_set": "CONNMARK: ctmark {ctmark:#x} (continue)",
    "rule.template_kept": "{target}: ignored, the packet already has its conntrack template "
                          "(continue)",
    "rule.ct_notrack": "CT --notrack (continue)",
    "rule.ct_zone": "CT zone {zone} (continue)",
    "ct.untracked_raw": "conntrack: untracked (notrack in raw)",
    "ct.untracked_nd": "conntrack: untracked ({packet}: neighbour discovery and MLD are not "
                       "tracked)",
    "ct.found": "conntrack{zone}: {state} ({direction} direction) {connection}",
    "ct.related_quoted": "conntrack{zone}: RELATED ({direction} direction) to {connection}",
    "ct.related": "conntrack{zone}: RELATED to {connection}",
    "ct.invalid": "conntrack{zone}: INVALID (cannot start a connection: {packet})",
    "ct.new": "conntrack{zone}: NEW {connection}",
    "ct.committed": "conntrack: committed {connection}",
    "ct.zone": " zone {zone}",
    "nat": "{nat}{related}: {changes}",
    "nat.related": " (related)",
    "nat.random": "the kernel picks a random port (ICMP id) for this binding "
                  "(--random/--random-fully); neutrace keeps the original one",
    "nat.taken": "{address}:{port} is taken by another connection: source port {new_port}",
    "bridge_nf.copy": "bridge netfilter for the copy out {port}",
    # -- routing and neighbours -------------------------------------------------------------
    "route.local": "{destination} is a local address of {namespace}: input",
    "route": "{reroute}route to {destination}: {route}",
    "route.reroute": "re-route: ",
    "route.rule": "rule {rule}",
    "neigh.learned": "learned {ip} is-at {mac} on {device}",
    "neigh.arp_reply": "ARP reply: {ip} is-at {mac} out {device}",
    "neigh.advertisement": "neighbour advertisement: {ip} is-at {mac} out {device}",
    "neigh.cached": "neighbour {ip} dev {device} lladdr {mac} (cached)",
    "neigh.entry": "neighbour {ip} dev {device} lladdr {mac} {state}",
    "neigh.resolved": "{ask} {ip} on {device}: {ip} is-at {mac}",
    "neigh.unanswered": "{ask} {ip} on {device}: no answer",
    "neigh.proxy_arp": "proxy ARP (net.ipv4.conf.{device}.proxy_arp=1): {ip} is routed out {via}, "
                       "so {device} answers {ip} is-at {mac}{delay}",
    "neigh.proxy_delay": " (after proxy_delay={delay})",
    "neigh.ask_arp": "ARP who-has",
    "neigh.ask_nd": "neighbour solicitation for",
    "ttl": "TTL {before} -> {after}",
    "ethernet": "out {device}: Ethernet {src} > {dst}",
    "source_address": "source address {address}",
    # -- wires and tunnels ------------------------------------------------------------------
    "wire.patch": "patch port {port} -> {peer} ({bridge} -> {peer_bridge})",
    "wire.internal_out": "{bridge} internal port {port} -> namespace {namespace}",
    "wire.internal_in": "{port} is an internal port of {bridge}",
    "wire.peer": "{device_kind} {device} -> {peer}{where}",
    "wire.peer_namespace": " (in {namespace})",
    "wire.vlan_tag": "VLAN device {device} tags the frame with VLAN {vlan}",
    "wire.segment": "segment {segment} -> {member}",
    "wire.segment_vlan": "segment {segment} -> {member}: VLAN device {device} takes VLAN {vlan} "
                         "and strips the tag",
    "wire.frame_sent": "{namespace} sends a frame out of {device}",
    "root_namespace": "<root>",
    "tunnel.encap": "{proto} encapsulation on {host}: VNI {vni:#x}, outer {local} -> {remote}",
    "tunnel.encap_gre": "{proto} encapsulation on {host}: key {vni:#x}, outer {local} -> {remote}",
    "tunnel.decap": "decapsulated on {host} by {port} (remote_ip={local}): tun_id={vni:#x}",
    "tunnel.vxlan": "VXLAN (UDP 4789)",
    "tunnel.geneve": "Geneve (UDP 6081)",
    "tunnel.gre": "GRE",
    # -- ofproto/trace's layout (render.ofproto) ----------------------------------------------
    "ofproto.thaw": "thaw",
    "ofproto.note": ">> {text}",
    # -- the readable walk (render.walk) -------------------------------------------------------
    "walk.table": "table {table}: ",
    "walk.rule": "{where} {text}: {detail}",
    "walk.detail": "  [{detail}]",
    "walk.outer_header": "outer header: Ethernet {dl_src} > {dl_dst}, IPv4 {nw_src} > {nw_dst}, "
                         "UDP {tp_src} > {tp_dst}; the frame inside is unchanged",
    "walk.outer_header_gre": "outer header: Ethernet {dl_src} > {dl_dst}, IPv4 {nw_src} > "
                             "{nw_dst}, GRE key {tun_id:#x}; the frame inside is unchanged",
    # -- why an OpenFlow copy ended -----------------------------------------------------------
    "exit.table_miss": "{bridge} table {table}: no flow matched (table miss): dropped",
    "exit.flow_drops": "{bridge} table {table}: flow \"{flow}\" drops the packet: dropped",
    "exit.drop_action": "{bridge} table {table}: drop action: dropped",
    "exit.no_output": "{bridge}: no output action: dropped",
    "exit.access_tagged": "{bridge} NORMAL: VLAN {vlan} tagged packet on access port {port} "
                          "(tag {tag}): dropped",
    "exit.not_trunked": "{bridge} NORMAL: VLAN {vlan} not trunked on {port}: dropped",
    "exit.reserved": "{bridge} NORMAL: reserved destination MAC {mac}: dropped",
    "exit.input_port": "{bridge} NORMAL: {mac} was learned on the input port {port}: dropped",
    "exit.no_port": "{bridge} NORMAL: no other port in VLAN {vlan}: dropped",
    "exit.patch_no_peer": "{bridge}: patch port {port} has no peer {peer!r} on this host: "
                          "dropped",
    "exit.controller_action": "{bridge} table {table}: sent to the controller ({reason})",
    "exit.controller_port": "{bridge} table {table}: sent to the controller",
    "exit.ttl_exceeded": "{bridge} table {table}: dec_ttl: TTL exceeded (invalid_ttl)",
    "exit.limit": "{bridge}: {why}",
    "exit.dropped": "{bridge}: dropped",
    # -- why a copy ended (dispositions) ----------------------------------------------------
    "nf.rule": "{verdict} by {source} {table}/{chain} line {line}: {rule}{answer}",
    "nf.reject_answer": " (the kernel answers {reject_with})",
    "nf.policy": "{verdict} by the policy of {table}/{hook} in {source}",
    "nf.join": "; ",
    "linux.no_bridge": "no Linux bridge {bridge} on {host}",
    "linux.not_a_bridge_port": "{device} is not an (up) port of Linux bridge {bridge}",
    "linux.behind_input_port": "{bridge}: destination {mac} is behind the input port {device}",
    "linux.no_bridge_port": "{bridge}: no port to send to",
    "linux.no_interface": "{namespace} has no interface {device}",
    "linux.interface_down": "{device} is down",
    "linux.unknown_vlan": "{device} received a frame tagged with VLAN {number} and has no VLAN "
                          "device",
    "linux.other_host": "{device} ({mac}) dropped a frame for {ip} (another host)",
    "linux.no_protocol": "{device}: no protocol handler for ethertype {number:#06x}",
    "linux.arp_not_mine": "ARP who-has {ip}: not an address of {namespace} (arp_ignore={knob})",
    "linux.arp_reply_cached": "ARP reply for {ip} taken into the neighbour cache",
    "linux.arp_op_ignored": "ARP op {number} ignored",
    "linux.nd_not_mine": "neighbour solicitation for {ip}: not an address of {namespace}",
    "linux.local_delivery": "{packet} delivered to {namespace}'s own stack{echo}",
    "linux.local_delivery.echo": " (it answers with an echo reply)",
    "linux.loopback_delivery": "{packet} delivered locally in {namespace}",
    "linux.multicast_not_routed": "{namespace}: multicast {ip} is not routed (no multicast "
                                  "routing) and no socket here joined it",
    "linux.not_forwarding": "{namespace}: {ip} is not local and {knob}=0",
    "linux.no_route": "{namespace}: no route to {ip} (the kernel answers ICMP destination "
                      "unreachable)",
    "linux.route_kind": "{namespace}: route to {ip} is {knob}",
    "linux.ttl_expired": "{namespace}: TTL {number} expired in transit (the kernel answers ICMP "
                         "time exceeded)",
    "linux.no_arp_answer": "{namespace}: no ARP answer for {ip} on {device}",
    "linux.send_not_ip": "{namespace}: send() takes IP packets",
    "linux.unreachable": "{namespace}: no route to {ip} (connect: Network is unreachable)",
    "linux.blackhole": "{namespace}: route to {ip} is a blackhole",
    "linux.no_source_address": "{namespace}: no source address for {device}",
    "linux.no_route_after_nat": "{namespace}: no route to {ip}",
    "walk.loop": "the same packet entered {element} through the same port again",
    "walk.max_hops": "path longer than {number} hops",
    "walk.max_copies": "more than {number} copies",
    "walk.no_linux_device": "OVS port {device} of {bridge} has no Linux device",
    "walk.peer_missing": "{device}'s peer {peer} does not exist",
    "walk.unwired": "{device} is not wired to anything",
    "walk.bridge_port_missing": "bridge port {device} not found",
    "walk.no_interface": "no interface {device}",
    "walk.nothing_sent": "nothing sent",
    "walk.delivered_to_vm": "delivered to VM {element} ({device} {ip}) on {host}",
    "walk.left_the_cloud": "left the cloud{via}; delivered to outside host {element} ({ip})",
    "walk.left_the_cloud.via": " through {device} of {host}",
    "walk.segment_empty": "nothing else is plugged into segment {element}",
    "walk.no_tunnel_host": "no host has tunnel IP {ip}",
    "walk.no_tunnel_port": "{host} has no {device} port with remote_ip={ip}: the tunnel from "
                           "{peer} is not set up there",
    "incomplete": "the capture is incomplete here: {problem}{where}",
    "incomplete.source": "; the file that would answer it: {source}",
    # -- drops in Neutron's terms (sim.annotate) ----------------------------------------------
    "why.no_flood_entry": "br-tun table {table} has no flood entry for VLAN {vlan}: {network} "
                          "is not a tunnel network on {host}{listed}",
    "why.no_flood_entry.listed": " (flood entries exist for VLAN {listed})",
    "why.no_flood_entry.none": " (no tunnel network has a port here)",
    "why.no_tunnel_mapping": "br-tun table {table} has no entry for tunnel id {tun_id:#x}: "
                             "{host} has no port on {network}, so no local VLAN was "
                             "provisioned for it{listed}",
    "why.no_tunnel_mapping.listed": " (it maps {listed})",
    "why.no_tunnel_mapping.network": "that network",
    "why.tunnel_ingress": "br-tun table 0 drops what comes from neither patch-int nor a tunnel "
                          "port ({in_port})",
    "why.physical_vlan": "{bridge} drops frames from br-int on VLAN {vlan}, {network}: only the "
                         "local VLAN of a network on its physical network passes{listed}",
    "why.physical_vlan.listed": " (it accepts VLAN {listed})",
    "why.physical_vlan.none": " (no network on this physical network has a port here)",
    "why.arp_spoof": "br-int table {table} (ARP spoofing protection): {address} is not an "
                     "address of the port on {in_port}",
    "why.mac_spoof": "br-int table {table} (MAC spoofing protection): {address} is not the MAC "
                     "of the port on {in_port}",
    "why.dead_vlan": "br-int: port {in_port} is in the dead VLAN 4095 (not bound)",
    "why.no_local_vlan": "br-int table 0 drops this frame from {in_port}: no local VLAN "
                         "translation for it",
    "why.network_on_vlan": "the network on local VLAN {vlan}",
    "why.untagged": "none",
    "why.with_base": "{why} [{base}]",
}


def say(key: str, **values: Any) -> str:
    """The phrase ``key`` of `PHRASES` with ``values`` filled in."""
    return PHRASES[key].format(**values)


def _root(namespace: str) -> str:
    """A namespace's name, the root namespace as ``<root>``."""
    return namespace or say("root_namespace")


# -- steps ------------------------------------------------------------------------------------


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
    return _hit_rest(step.flow, PHRASES["table.hit"], PHRASES["table.cookie"])


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
    packet = step.packet.summary() if step.packet is not None else ""
    return say(_CT_PHRASES[step.event], zone=zone, state=step.state,
               direction=step.direction.lower(), connection=step.connection, packet=packet)


def _routing_text(step: RouteStep | NeighbourStep | TtlStep | EthernetStep
                  | SourceAddressStep) -> str:
    """Routing, neighbours and the headers a namespace writes."""
    match step:
        case RouteStep(local=True):
            return say("route.local", destination=step.destination,
                       namespace=_root(step.namespace))
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
                       namespace=_root(step.namespace))
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
            return say("wire.frame_sent", namespace=_root(step.namespace), device=step.device)
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
    proto = say(key) if key in PHRASES else step.tunnel_type
    phrase = "tunnel.encap_gre" if kind == "gre" else "tunnel.encap"
    return say(phrase, proto=proto, host=step.host, vni=step.vni, local=step.local_ip,
               remote=step.remote_ip)


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


# -- OpenFlow exits ---------------------------------------------------------------------------

_NORMAL_EXITS = {
    FdbDecision.ACCESS_TAGGED_DROP: "exit.access_tagged",
    FdbDecision.NOT_TRUNKED_DROP: "exit.not_trunked",
    FdbDecision.RESERVED_DROP: "exit.reserved", FdbDecision.INPUT_PORT_DROP: "exit.input_port",
    FdbDecision.FLOOD_UNKNOWN: "exit.no_port", FdbDecision.FLOOD_GROUP: "exit.no_port",
}


def exit_reason(bridge: str, ex: OfExit) -> str:
    """Why a copy left ``bridge`` the way it did (drops, the controller, limits); ``""`` for
    outputs and patch ports."""
    if ex.cause is None:
        return ""
    table = ex.table
    match ex.cause:
        case ExitCause.TABLE_MISS:
            return say("exit.table_miss", bridge=bridge, table=table)
        case ExitCause.FLOW_DROPS:
            assert ex.flow is not None
            return say("exit.flow_drops", bridge=bridge, table=table, flow=short_flow(ex.flow))
        case ExitCause.DROP_ACTION:
            return say("exit.drop_action", bridge=bridge, table=table)
        case ExitCause.NO_OUTPUT:
            return say("exit.no_output", bridge=bridge)
        case ExitCause.NORMAL:
            return _normal_exit(bridge, ex)
        case ExitCause.PATCH_NO_PEER:
            assert isinstance(ex.step, PatchOutput)
            return say("exit.patch_no_peer", bridge=bridge, port=ex.step.port,
                       peer=ex.step.peer)
        case ExitCause.CONTROLLER_ACTION:
            assert isinstance(ex.step, ActionStep) and isinstance(ex.step.action, Controller)
            return say("exit.controller_action", bridge=bridge, table=table,
                       reason=ex.step.action.reason)
        case ExitCause.CONTROLLER_PORT:
            return say("exit.controller_port", bridge=bridge, table=table)
        case ExitCause.TTL_EXCEEDED:
            return say("exit.ttl_exceeded", bridge=bridge, table=table)
        case ExitCause.LIMIT:
            assert isinstance(ex.step, LimitStep)
            return say("exit.limit", bridge=bridge, why=limit_text(ex.step))
        case _:
            assert_never(ex.cause)


def _normal_exit(bridge: str, ex: OfExit) -> str:
    """A NORMAL drop, from the FDB step that decided it."""
    step = ex.step
    assert isinstance(step, FdbStep)
    return say(_NORMAL_EXITS[step.decision], bridge=bridge, vlan=step.vlan, port=step.port,
               tag=step.tag, mac=step.mac)


def short_flow(flow: Flow) -> str:
    """``priority=1,dl_vlan=1 actions=drop``: a flow without its table and cookie."""
    head = ",".join([f"priority={flow.priority}"]
                    + [k if not v else f"{k}={v}" for k, v in flow.match])
    return f"{head} actions={flow.actions}"


# -- drops in Neutron's terms -----------------------------------------------------------------


def explanation_text(e: DropExplanation) -> str:
    """Why Neutron's flows dropped a packet."""
    vlan = str(e.vlan) if e.vlan is not None else say("why.untagged")
    network = e.network or say("why.network_on_vlan", vlan=vlan)
    match e.why:
        case DropWhy.NO_FLOOD_ENTRY:
            return say("why.no_flood_entry", table=e.table, vlan=vlan, network=network,
                       host=e.host, listed=_listed("why.no_flood_entry", e, str))
        case DropWhy.NO_TUNNEL_MAPPING:
            return say("why.no_tunnel_mapping", table=e.table, tun_id=e.tun_id, host=e.host,
                       network=e.network or say("why.no_tunnel_mapping.network"),
                       listed=_listed("why.no_tunnel_mapping", e, hex, none=False))
        case DropWhy.TUNNEL_INGRESS:
            return say("why.tunnel_ingress", in_port=e.in_port)
        case DropWhy.PHYSICAL_VLAN:
            return say("why.physical_vlan", bridge=e.bridge, vlan=vlan, network=network,
                       listed=_listed("why.physical_vlan", e, str))
        case DropWhy.ARP_SPOOF:
            return say("why.arp_spoof", table=e.table, address=e.address, in_port=e.in_port)
        case DropWhy.MAC_SPOOF:
            return say("why.mac_spoof", table=e.table, address=e.address, in_port=e.in_port)
        case DropWhy.DEAD_VLAN:
            return say("why.dead_vlan", in_port=e.in_port)
        case DropWhy.NO_LOCAL_VLAN:
            return say("why.no_local_vlan", in_port=e.in_port)
        case _:
            assert_never(e.why)


def _listed(key: str, e: DropExplanation, show: Any, none: bool = True) -> str:
    """The ``(... exist for ...)`` tail of an explanation, or the one for an empty table."""
    if e.listed:
        return say(f"{key}.listed", listed=", ".join(show(x) for x in e.listed))
    return say(f"{key}.none") if none else ""


def drop_reason(base: str, explanation: DropExplanation | None) -> str:
    """A drop's reason: the explanation in Neutron's terms, then where the engine saw it."""
    if explanation is None:
        return base
    return say("why.with_base", why=explanation_text(explanation), base=base)


# -- why a copy ended -------------------------------------------------------------------------


def fate_reason(d: Disposition) -> str:
    """Why a copy ended where it did (the trace JSON's and the walk's ``reason``)."""
    return cause_text(d.cause)


def cause_text(cause: Cause) -> str:
    """A disposition's cause in words (Neutron's, where an explanation applies)."""
    match cause:
        case OpenFlowFate():
            return _openflow_fate(cause)
        case Denial():
            return say("nf.join").join(verdict_text(v) for v in cause.verdicts)
        case LinuxFate():
            return _linux_fate(cause)
        case WalkFate():
            return _walk_fate(cause)
        case IncompleteFate():
            gap = cause.gap
            where = say("incomplete.source", source=gap.source) if gap.source else ""
            return say("incomplete", problem=gap.problem, where=where)
        case _:
            assert_never(cause)


def _openflow_fate(f: OpenFlowFate) -> str:
    """An OVS drop, controller or limit, with Neutron's explanation of a drop."""
    ex = OfExit(kind=ExitKind.DROP, cause=f.cause, table=f.table, flow=f.flow, step=f.step)
    return drop_reason(exit_reason(f.bridge, ex), f.explanation)


def verdict_text(v: NetfilterVerdict) -> str:
    """Which rule (with the kernel's answer to a REJECT) or policy denied the packet."""
    if v.rule is None:
        return say("nf.policy", verdict=v.verdict, table=v.table, hook=v.hook, source=v.source)
    answer = ""
    target = v.rule.target
    if v.verdict == "REJECT" and target is not None:
        with_ = target.option("--reject-with")
        answer = say("nf.reject_answer",
                     reject_with=with_.value if with_ else "icmp-port-unreachable")
    return say("nf.rule", verdict=v.verdict, source=v.source, table=v.table,
               chain=v.rule.chain, line=v.rule.line, rule=v.rule.text, answer=answer)


def _linux_fate(f: LinuxFate) -> str:
    """A Linux bridge's or a namespace stack's reason."""
    key = "linux." + f.why.value.replace("-", "_")
    echo = say("linux.local_delivery.echo") if f.echo else ""
    packet = f.packet.summary() if f.packet is not None else ""
    return say(key, namespace=_root(f.namespace), device=f.device, bridge=f.bridge,
               host=f.host, ip=f.ip, mac=f.mac, number=f.number, knob=f.knob, echo=echo,
               packet=packet)


def _walk_fate(f: WalkFate) -> str:
    """The walker's reason."""
    key = "walk." + f.why.value.replace("-", "_")
    via = say("walk.left_the_cloud.via", device=f.device, host=f.host) if (
        f.why is WalkWhy.LEFT_THE_CLOUD and f.device) else ""
    return say(key, element=f.element, device=f.device, peer=f.peer, bridge=f.bridge,
               host=f.host, ip=f.ip, number=f.number, via=via)
