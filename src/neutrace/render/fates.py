"""Why a copy ended, in words (layer 3): `exit_reason` (why an OpenFlow copy was dropped, sent
to the controller or stopped), `explanation_text` and `drop_reason` (a drop in Neutron's terms,
`neutrace.trace.DropExplanation`), `fate_reason` / `cause_text` (a disposition's `Cause`) and
`verdict_text` (the netfilter rule or policy that denied it), all from
`neutrace.render.phrases.PHRASES`.
"""

from __future__ import annotations

from typing import Any, assert_never

from neutrace.dataplane import Flow
from neutrace.engines.results import ExitKind, OfExit
from neutrace.render.packets import packet_summary
from neutrace.render.phrases import root_name, say
from neutrace.render.steps import limit_text
from neutrace.syntax.ofactions import Controller
from neutrace.trace import (
    ActionStep,
    Cause,
    Denial,
    Disposition,
    DropExplanation,
    DropWhy,
    ExitCause,
    FdbDecision,
    FdbStep,
    IncompleteFate,
    LimitStep,
    LinuxFate,
    NetfilterVerdict,
    OpenFlowFate,
    PatchOutput,
    WalkFate,
    WalkWhy,
)

_NORMAL_EXITS = {
    FdbDecision.ACCESS_TAGGED_DROP: "exit.access_tagged",
    FdbDecision.NOT_TRUNKED_DROP: "exit.not_trunked",
    FdbDecision.RESERVED_DROP: "exit.reserved", FdbDecision.INPUT_PORT_DROP: "exit.input_port",
    FdbDecision.FLOOD_UNKNOWN: "exit.no_port", FdbDecision.FLOOD_GROUP: "exit.no_port",
    FdbDecision.MIRROR_PORT_DROP: "exit.mirror_normal",
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
        case ExitCause.MIRROR_PORT:
            return say("exit.mirror_port", bridge=bridge)
        case ExitCause.STP_PORT:
            return say("exit.stp_port", bridge=bridge)
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
    packet = packet_summary(f.packet) if f.packet is not None else ""
    return say(key, namespace=root_name(f.namespace), device=f.device, bridge=f.bridge,
               host=f.host, ip=f.ip, mac=f.mac, number=f.number, knob=f.knob, echo=echo,
               packet=packet)


def _walk_fate(f: WalkFate) -> str:
    """The walker's reason."""
    key = "walk." + f.why.value.replace("-", "_")
    via = say("walk.left_the_cloud.via", device=f.device, host=f.host) if (
        f.why is WalkWhy.LEFT_THE_CLOUD and f.device) else ""
    return say(key, element=f.element, device=f.device, peer=f.peer, bridge=f.bridge,
               host=f.host, ip=f.ip, number=f.number, via=via)
