"""The words of ``neutrace diff`` (layer 3): every sentence a `neutrace.drift.Difference`, a
`Tolerated` difference or a `NotCompared` piece is shown as, written here and nowhere else
(`PHRASES`), in Neutron's terms: which agent programs the element, for which network, port,
router or host, and what its absence costs.

- `difference_text`: one difference as one line (where, what, why);
- `drift_text`: the whole comparison, host by host (``verbose`` adds what was tolerated);
- `drift_json`: the same as JSON (``schema_version``; each fact's fields, its ``kind`` and its
  ``text``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, assert_never

from neutrace.dataplane import Flow, Route, Rule
from neutrace.drift import (
    AddressDifference,
    BridgeDifference,
    ChainDifference,
    Change,
    DeadPort,
    Difference,
    Drift,
    FloodEntryMissing,
    FlowDifference,
    HostDifference,
    HostDrift,
    InterfaceDifference,
    InterfaceSettingDifference,
    IpRuleDifference,
    IpsetDifference,
    IptablesDifference,
    NamespaceDifference,
    NotCompared,
    PortDifference,
    PortRole,
    PortSettingDifference,
    RouteDifference,
    RuleRole,
    SysctlDifference,
    Tolerance,
    Tolerated,
    WrongLocalVlan,
)
from neutrace.render.show import format_ip_rule, format_route
from neutrace.syntax.ofctl import format_flow

SCHEMA_VERSION = "1.0"

PHRASES: dict[str, str] = {
    "root": "<root>",
    "network": "network {name}",
    "network.unnamed": "network {id}",
    "network.none": "its network",
    "host.unknown": "the host at {ip}",
    "host.unknown_noip": "another host",
    "port.id": " (Neutron port {id})",
    # hosts and bridges
    "host.missing": "{host}: not captured",
    "host.extra": "{host}: captured, but the cloud has no such host (a host name that differs "
                  "from the topology's?)",
    "bridge.missing": "{host}: OVS bridge {bridge} is missing: the OVS agent has not set it up "
                      "(or it is not mapped in bridge_mappings)",
    "bridge.extra": "{host}: OVS bridge {bridge} is not one the agents program on this host",
    # ports
    "port.missing": "{host}: {bridge} lacks port {port}{id}: {why}",
    "port.extra": "{host}: {bridge} holds port {port}{id}, which Neutron does not bind here: "
                  "{why}",
    "why.missing.vm": "the instance's port on {net} is not plugged into br-int (Nova/os-vif did "
                      "not plug it, or the OVS agent lost it)",
    "why.missing.router": "the L3 agent has not plugged the router's port on {net}",
    "why.missing.dhcp": "the DHCP agent has not plugged its port on {net}",
    "why.missing.tunnel": "the OVS agent has no tunnel to {remote} ({ip}): traffic of the "
                          "tunnelled networks to and from that host is lost",
    "why.missing.patch": "the bridges are not patched together: traffic between them is lost",
    "why.missing.nic": "the physical network's NIC is not in its bridge: traffic of its "
                       "networks does not leave the host",
    "why.missing.other": "the agents would have created it",
    "why.extra.vm": "a leftover of a deleted or migrated instance (its flows and tag are not "
                    "the agent's)",
    "why.extra.tunnel": "a tunnel to {remote} ({ip}) that the agent would not have (l2pop "
                        "removes tunnels with no port behind them)",
    "why.extra.other": "a leftover, or a device another tool added",
    "port.dead": "{host}: {port}{id} has tag 4095: the OVS agent marked the port dead; it is "
                 "not bound on this host (its {net} has local VLAN {vlan} here), so all its "
                 "traffic is dropped",
    "port.dead_novlan": "{host}: {port}{id} has tag 4095: the OVS agent marked the port dead; "
                        "it is not bound on this host, so all its traffic is dropped",
    "port.wrong_vlan": "{host}: {port} has tag {tag}, but {net} has local VLAN {vlan} on this "
                       "host{recorded}: the port is on the wrong local VLAN, cut off from its "
                       "network's other ports, tunnels and flows",
    "port.recorded": " (the OVS agent recorded tag {tag} in its other_config)",
    "port.setting": "{host}: {bridge} port {port} has {setting} {actual}, the agents set "
                    "{expected}",
    "flood.missing": "{host}: {bridge} table 22 lacks VLAN {vlan} -> {port}: the l2pop flood "
                     "entry for {net} to host {remote} is missing; broadcasts and unknown "
                     "unicast of the network (ARP, DHCP) no longer reach {remote}",
    # flows
    "flow.where": "{host}: {bridge} table {table}{name}",
    "flow.name": " ({name})",
    "flow.nets": " [{nets}]",
    "flow.missing": "{where} lacks a flow the OVS agent programs{nets}: {flow}",
    "flow.changed": "{where} holds the flow with other actions{nets}: {actual} (the agent's: "
                    "{expected})",
    "flow.stale": "{where} holds a stale flow with cookie {cookie:#x} (the agent's flows carry "
                  "{agent:#x}): left by an earlier run of the OVS agent, an agent restart "
                  "whose cleanup of stale flows did not finish{nets}: {flow}",
    "flow.extra": "{where} holds a flow the OVS agent would not program{nets}: {flow}",
    "flow.because": "{text}: {why}",
    "why.flow.missing.RULES_INGRESS_TABLE": "a security-group rule of port {port} (ingress) is "
                                            "missing: traffic to the port that the rule allows "
                                            "is dropped",
    "why.flow.missing.RULES_EGRESS_TABLE": "a security-group rule of port {port} (egress) is "
                                           "missing: traffic from the port that the rule "
                                           "allows is dropped",
    "why.flow.extra.RULES_INGRESS_TABLE": "port {port} accepts more than its security groups "
                                          "allow",
    "why.flow.extra.RULES_EGRESS_TABLE": "port {port} sends more than its security groups "
                                         "allow",
    "why.flow.missing.BASE_EGRESS_TABLE": "the openvswitch firewall's egress base (anti-"
                                          "spoofing, DHCP) of port {port} is incomplete",
    "why.flow.missing.UCAST_TO_TUN": "the l2pop unicast entry to host {remote} is missing: "
                                     "frames to that MAC are flooded instead",
    "why.flow.extra.UCAST_TO_TUN": "a unicast entry to host {remote} that l2pop would not "
                                   "program (a port that moved or was deleted): frames to "
                                   "that MAC go there",
    "why.flow.missing.LOCAL_SWITCHING": "port {port}'s traffic is not taken into the "
                                        "agent's pipeline",
    "why.flow.missing.ARP_SPOOF_TABLE": "the ARP spoofing protection of port {port} lacks an "
                                        "address: its ARP from it is dropped",
    "why.flow.missing.MAC_SPOOF_TABLE": "the MAC spoofing protection of port {port} lacks its "
                                        "MAC: its traffic is dropped",
    # namespaces and interfaces
    "ns.missing.qrouter": "{host}: namespace {ns} is missing: the L3 agent has not set up "
                          "router {id} on this host",
    "ns.missing.qdhcp": "{host}: namespace {ns} is missing: the DHCP agent serves {net} "
                        "nowhere on this host",
    "ns.missing.vm": "{host}: instance {ns} is missing: it does not run here",
    "ns.missing.other": "{host}: namespace {ns} is missing",
    "ns.extra": "{host}: namespace {ns} is not one the agents would create here (a leftover of "
                "a deleted router or network?)",
    "itf.missing": "{host}: {ns} lacks {itf}{elsewhere}: {why}",
    "itf.elsewhere": " (it is in {ns})",
    "why.itf.qr-": "the router's interface is not in its namespace: the router does not route "
                   "for that subnet",
    "why.itf.qg-": "the router's gateway interface is not in its namespace: no SNAT or "
                   "floating IPs through it",
    "why.itf.tap": "the DHCP port is not in its namespace: no DHCP on that network",
    "why.itf.other": "the agents would have created it",
    "itf.extra": "{host}: {ns} holds {itf}, which the agents would not create here",
    "itf.setting": "{host}: {ns} {itf} has {setting} {actual}, the agents set {expected}",
    "addr.missing": "{host}: {ns} {itf} lacks address {address}",
    "addr.extra": "{host}: {ns} {itf} holds address {address}, which the agents would not "
                  "configure",
    "route.missing": "{host}: {ns} lacks route {route}",
    "route.extra": "{host}: {ns} holds route {route}, which the agents would not add",
    "iprule.missing": "{host}: {ns} lacks ip rule {rule}",
    "iprule.extra": "{host}: {ns} holds ip rule {rule}, which the agents would not add",
    # netfilter
    "ipt.where": "{host}: {ns} {tool} -t {table} {chain}",
    "ipt.missing": "{where} lacks {rule}: {why}",
    "ipt.extra": "{where} holds {rule}, which the agents would not write: {why}",
    "why.ipt.sg-ingress": "a security-group rule of port {subject} (ingress) is missing: "
                          "traffic to the port that the rule allows is dropped",
    "why.ipt.sg-egress": "a security-group rule of port {subject} (egress) is missing: "
                         "traffic from the port that the rule allows is dropped",
    "why.ipt.antispoof": "an allowed address pair of port {subject} is missing: the port's "
                         "traffic from that address is dropped as spoofed",
    "why.ipt.sg-dispatch": "the hybrid firewall's dispatch to the ports' chains is incomplete",
    "why.ipt.floating-dnat": "the L3 agent's DNAT of floating IP {subject} is missing: "
                             "traffic to {subject} does not reach its fixed IP",
    "why.ipt.floating-snat": "the L3 agent's SNAT to floating IP {subject} is missing: the "
                             "instance's traffic leaves with the router's address",
    "why.ipt.router-snat": "the router's gateway SNAT ({subject}) is missing: instances "
                           "without floating IPs cannot reach the external network",
    "why.ipt.router": "a rule of the L3 agent",
    "why.ipt.other": "a rule the agents write",
    "why.ipt.extra.sg-ingress": "port {subject} accepts more than its security groups allow",
    "why.ipt.extra.sg-egress": "port {subject} sends more than its security groups allow",
    "why.ipt.extra.floating-dnat": "floating IP {subject} is not (or no longer) associated "
                                   "here",
    "why.ipt.extra.other": "a leftover, or a rule another tool added",
    "chain.missing": "{where} is missing (policy {policy})",
    "chain.extra": "{where} is a chain the agents would not create",
    "chain.changed": "{where} has policy {actual}, the agents' is {expected}",
    "ipset.missing": "{host}: {ns} ipset {ipset} lacks {member}: the remote security group's "
                     "member is missing, traffic from it is dropped",
    "ipset.extra": "{host}: {ns} ipset {ipset} holds {member}, not a member of the remote "
                   "security group",
    "sysctl": "{host}: {ns} has {key} = {actual}, the agents set {expected}",
    "sysctl.unset": "(unset)",
    # the report
    "host.head": "{host}: {n} difference(s)",
    "host.same": "{host}: as the agents would program it",
    "host.not_compared": "{host}: not compared: {what}",
    "not_compared": "  not compared: {element} {aspect} ({problem}; {source})",
    "tolerated.head": "  tolerated ({n}):",
    "tolerated": "    {element}: {why}{detail}",
    "tolerated.detail": " ({detail})",
    "vlans": "  local VLANs (network: agents' -> host's): {vlans}",
    "summary.same": "no differences: the hosts hold what Neutron's agents would program",
    "summary.differ": "{n} difference(s) on {hosts} host(s)",
    Tolerance.PORT_MAC: "OVS chose the port's MAC",
    Tolerance.LOCAL_PORT: "the bridge's LOCAL port",
    Tolerance.LOOPBACK: "the kernel's loopback device",
    Tolerance.TUNNEL_IP_ON_BRIDGE: "the tunnel IP is on an OVS bridge's port (userspace "
                                   "tunnelling), read as on the NIC",
    Tolerance.ROUTE_PROTO: "routes differ only in who added them (proto)",
    Tolerance.BRIDGE_MTU: "OVS gives a bridge's own port the least MTU of its ports",
    Tolerance.IPTABLES_SPELLING: "iptables-save's spelling (comments, counters, MAC case)",
    Tolerance.EXTRA_SYSCTL: "forwarding settings no agent writes",
    Tolerance.LOCAL_VLAN_NUMBERS: "the OVS agent allocated other local VLAN ids (compared "
                                  "through the host's mapping)",
    Tolerance.OFPORT_NUMBERS: "OVS numbered the ports otherwise (flows compared by port "
                              "name)",
}


def say(phrase: str, **values: Any) -> str:
    """The phrase ``phrase`` with ``values`` filled in."""
    return PHRASES[phrase].format(**values)


class _Words:
    """Names of networks and hosts, for the sentences of one comparison."""

    def __init__(self, drift: Drift | None = None) -> None:
        self.drift = drift
        self.hosts = dict(drift.hosts_by_tunnel_ip) if drift else {}

    def net(self, network: str | None) -> str:
        if not network:
            return say("network.none")
        name = self.drift.network_name(network) if self.drift else None
        return say("network", name=name) if name else say("network.unnamed", id=network)

    def remote(self, host: str | None, ip: str | None) -> str:
        return host or self.hosts.get(ip or "") or (
            say("host.unknown", ip=ip) if ip else say("host.unknown_noip"))


def _ns(name: str) -> str:
    return name or say("root")


def _flow(f: Flow) -> str:
    return format_flow(f, cookie=False)


def _rule(r: Rule) -> str:
    return format_ip_rule(r).replace("\t", " ")


def _route(r: Route) -> str:
    return format_route(r)


def difference_text(d: Difference, drift: Drift | None = None) -> str:
    """One difference as one line, in Neutron's terms."""
    w = _Words(drift)
    match d:
        case HostDifference():
            return say(f"host.{d.change.value}", host=d.host)
        case BridgeDifference():
            return say(f"bridge.{d.change.value}", host=d.host, bridge=d.bridge)
        case PortDifference():
            return _port_text(d, w)
        case DeadPort():
            pid = say("port.id", id=d.port_id) if d.port_id else ""
            if d.expected_tag is None:
                return say("port.dead_novlan", host=d.host, port=d.port, id=pid)
            return say("port.dead", host=d.host, port=d.port, id=pid, net=w.net(d.network),
                       vlan=d.expected_tag)
        case WrongLocalVlan():
            rec = say("port.recorded", tag=d.recorded) if d.recorded is not None else ""
            return say("port.wrong_vlan", host=d.host, port=d.port, tag=d.tag,
                       net=w.net(d.network), vlan=d.local_vlan, recorded=rec)
        case PortSettingDifference():
            return say("port.setting", host=d.host, bridge=d.bridge, port=d.port,
                       setting=d.setting, expected=d.expected or "none",
                       actual=d.actual or "none")
        case FloodEntryMissing():
            return say("flood.missing", host=d.host, bridge=d.bridge, vlan=d.vlan, port=d.port,
                       net=w.net(d.network), remote=w.remote(d.remote_host, d.remote_ip))
        case FlowDifference():
            return _flow_text(d, w)
        case NamespaceDifference():
            return _ns_text(d, w)
        case InterfaceDifference():
            if d.change is Change.MISSING:
                prefix = next((p for p in ("qr-", "qg-", "tap") if d.interface.startswith(p)),
                              "other")
                where = say("itf.elsewhere", ns=_ns(d.elsewhere)) if (
                    d.elsewhere is not None) else ""
                return say("itf.missing", host=d.host, ns=_ns(d.namespace), itf=d.interface,
                           elsewhere=where, why=say(f"why.itf.{prefix}"))
            return say("itf.extra", host=d.host, ns=_ns(d.namespace), itf=d.interface)
        case InterfaceSettingDifference():
            return say("itf.setting", host=d.host, ns=_ns(d.namespace), itf=d.interface,
                       setting=d.setting, expected=d.expected, actual=d.actual)
        case AddressDifference():
            return say(f"addr.{d.change.value}", host=d.host, ns=_ns(d.namespace),
                       itf=d.interface, address=d.address)
        case RouteDifference():
            return say(f"route.{d.change.value}", host=d.host, ns=_ns(d.namespace),
                       route=_route(d.route))
        case IpRuleDifference():
            return say(f"iprule.{d.change.value}", host=d.host, ns=_ns(d.namespace),
                       rule=_rule(d.rule))
        case IptablesDifference():
            return _ipt_text(d)
        case ChainDifference():
            where = say("ipt.where", host=d.host, ns=_ns(d.namespace), tool=_tool(d.family),
                        table=d.table, chain=d.chain)
            return say(f"chain.{d.change.value}", where=where, policy=d.expected_policy or "-",
                       expected=d.expected_policy, actual=d.actual_policy)
        case IpsetDifference():
            return say(f"ipset.{d.change.value}", host=d.host, ns=_ns(d.namespace),
                       ipset=d.ipset, member=d.member)
        case SysctlDifference():
            return say("sysctl", host=d.host, ns=_ns(d.namespace), key=d.key,
                       expected=d.expected, actual=d.actual or say("sysctl.unset"))
        case _:
            assert_never(d)


def _port_text(d: PortDifference, w: _Words) -> str:
    pid = say("port.id", id=d.port_id) if d.port_id else ""
    role = d.role.value
    if d.change is Change.MISSING:
        key = f"why.missing.{role}" if f"why.missing.{role}" in PHRASES else "why.missing.other"
    else:
        key = {PortRole.VM: "why.extra.vm", PortRole.TUNNEL: "why.extra.tunnel"}.get(
            d.role, "why.extra.other")
    why = say(key, net=w.net(d.network), remote=w.remote(d.remote_host, d.remote_ip),
              ip=d.remote_ip)
    return say(f"port.{d.change.value}", host=d.host, bridge=d.bridge, port=d.port, id=pid,
               why=why)


def _flow_text(d: FlowDifference, w: _Words) -> str:
    where = say("flow.where", host=d.host, bridge=d.bridge, table=d.flow.table,
                name=say("flow.name", name=d.table_name) if d.table_name else "")
    nets = say("flow.nets", nets=", ".join(w.net(n) for n in d.networks)) if d.networks else ""
    if d.change is Change.MISSING:
        text = say("flow.missing", where=where, nets=nets, flow=_flow(d.flow))
    elif d.change is Change.CHANGED:
        assert d.actual is not None
        return say("flow.changed", where=where, nets=nets, actual=d.actual.actions,
                   expected=d.flow.actions)
    elif d.stale:
        return say("flow.stale", where=where, nets=nets, cookie=d.cookie,
                   agent=d.agent_cookie, flow=_flow(d.flow))
    else:
        text = say("flow.extra", where=where, nets=nets, flow=_flow(d.flow))
    why = f"why.flow.{d.change.value}.{d.table_name}"
    needs = "remote" if d.table_name == "UCAST_TO_TUN" else "port"
    if why not in PHRASES or (d.remote_host if needs == "remote" else d.port) is None:
        return text
    return say("flow.because", text=text, why=say(why, port=d.port, remote=d.remote_host))


def _ns_text(d: NamespaceDifference, w: _Words) -> str:
    if d.change is not Change.MISSING:
        return say("ns.extra", host=d.host, ns=d.namespace)
    kind = d.kind if f"ns.missing.{d.kind}" in PHRASES else "other"
    tail = d.namespace.partition("-")[2]
    return say(f"ns.missing.{kind}", host=d.host, ns=d.namespace, id=tail, net=w.net(tail))


def _tool(family: int) -> str:
    return "ip6tables" if family == 6 else "iptables"


def _ipt_text(d: IptablesDifference) -> str:
    where = say("ipt.where", host=d.host, ns=_ns(d.namespace), tool=_tool(d.family),
                table=d.table, chain=d.chain)
    role = d.role.value
    if d.change is Change.MISSING:
        why = say(f"why.ipt.{role}", subject=d.subject)
        return say("ipt.missing", where=where, rule=d.rule, why=why)
    key = f"why.ipt.extra.{role}"
    why = say(key if key in PHRASES else "why.ipt.extra.other", subject=d.subject)
    return say("ipt.extra", where=where, rule=d.rule, why=why)


def tolerated_text(t: Tolerated) -> str:
    """A tolerated difference as one line."""
    detail = say("tolerated.detail", detail=t.detail) if t.detail else ""
    return say("tolerated", element=t.element or say("root"), why=PHRASES[t.tolerance],
               detail=detail)


def not_compared_text(n: NotCompared) -> str:
    """What could not be compared, and the file that would have answered."""
    return say("not_compared", element=n.element or say("root"), aspect=n.aspect,
               problem=n.problem, source=n.source or "-")


def host_text(h: HostDrift, drift: Drift | None = None, verbose: bool = False) -> str:
    """One host's comparison."""
    if any(n.aspect == "host" for n in h.not_compared):
        return say("host.not_compared", host=h.host, what=h.not_compared[0].problem)
    lines = [say("host.head", host=h.host, n=len(h.differences)) if h.differences
             else say("host.same", host=h.host)]
    lines += ["  " + difference_text(d, drift).removeprefix(f"{h.host}: ")
              for d in h.differences]
    lines += [not_compared_text(n) for n in h.not_compared]
    if verbose:
        w = _Words(drift)
        if h.vlans:
            lines.append(say("vlans", vlans=", ".join(
                f"{w.net(n)}: {e} -> {'-' if a is None else a}" for n, e, a in h.vlans)))
        if h.tolerated:
            lines.append(say("tolerated.head", n=len(h.tolerated)))
            lines += [tolerated_text(t) for t in h.tolerated]
    return "\n".join(lines)


def drift_text(drift: Drift, verbose: bool = False) -> str:
    """The whole comparison: a summary line, then host by host."""
    n = len(drift.differences)
    head = say("summary.differ", n=n, hosts=sum(1 for h in drift.hosts if h.differences)) if (
        n) else say("summary.same")
    return "\n".join([head, *(host_text(h, drift, verbose) for h in drift.hosts)]) + "\n"


def _obj(value: Any) -> Any:
    if isinstance(value, Flow):
        return _flow(value)
    if isinstance(value, Route):
        return _route(value)
    if isinstance(value, Rule):
        return _rule(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_obj(v) for v in value]
    return value


def fact_obj(fact: Any, drift: Drift | None = None) -> dict[str, Any]:
    """One fact as a JSON object: ``kind`` (its class), its fields, and its ``text``."""
    out: dict[str, Any] = {"kind": type(fact).__name__}
    for f in dataclasses.fields(fact):
        out[f.name] = _obj(getattr(fact, f.name))
    if isinstance(fact, FlowDifference):
        out["stale"] = fact.stale
    if isinstance(fact, Tolerated):
        out["text"] = tolerated_text(fact).strip()
    elif isinstance(fact, NotCompared):
        out["text"] = not_compared_text(fact).strip()
    else:
        out["text"] = difference_text(fact, drift)
    return out


def drift_json(drift: Drift) -> str:
    """The comparison as JSON (docs/importing.md, "diff")."""
    doc = {"schema_version": SCHEMA_VERSION, "differs": drift.differs,
           "networks": dict(drift.networks),
           "hosts": [{"host": h.host,
                      "differences": [fact_obj(d, drift) for d in h.differences],
                      "not_compared": [fact_obj(n, drift) for n in h.not_compared],
                      "tolerated": [fact_obj(t, drift) for t in h.tolerated],
                      "local_vlans": [{"network": n, "expected": e, "actual": a}
                                      for n, e, a in h.vlans]}
                     for h in drift.hosts]}
    return json.dumps(doc, indent=2) + "\n"


__all__ = ["PHRASES", "RuleRole", "difference_text", "drift_json", "drift_text", "fact_obj"]
