"""Security-group rules to flow parameters (layer 3): ``neutron.agent.linux.
openvswitch_firewall.rules``, function for function, and ``port_rule_masking`` from
``neutron.common.utils``.

A rule is the dict the security-group RPC hands the agent (``direction``, ``ethertype``,
``protocol`` as a number once `SecurityGroup.update_rules` normalized it, ``port_range_min``/
``port_range_max``, ``source_ip_prefix``/``dest_ip_prefix``, ``remote_group_id``); a flow is the
keyword parameters ``OVSFirewallDriver._add_flow`` receives (``ofmatch.to_match`` turns them into
what OVS prints). Priorities are 70 + `flow_priority_offset`: 4 more for rules without a remote
group, then +0 (any protocol), +1 (ICMP without type), +2 (ICMP type without code), +3 (the rest).
A remote-group rule becomes a two-dimensional conjunction: ``conjunction(id,1/2)`` flows per
member address (on the network, ``reg6``) and ``conjunction(id,2/2)`` flows per port and rule;
the ``conj_id=`` flows then accept and record the id in ``reg7``.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Protocol

from neutrace import addr
from neutrace.agents import constants as c
from neutrace.agents.openvswitch_firewall import constants as fc

Rule = dict[str, object]
Flow = dict[str, object]

CT_STATES = (fc.OF_STATE_ESTABLISHED_NOT_REPLY, fc.OF_STATE_NEW_NOT_ESTABLISHED)
FLOW_FIELD_FOR_IPVER_AND_DIRECTION = {
    (4, "egress"): "nw_dst", (6, "egress"): "ipv6_dst",
    (4, "ingress"): "nw_src", (6, "ingress"): "ipv6_src",
}
FORBIDDEN_PREFIXES = (fc.IPV4_ANY, fc.IPV6_ANY)


class PortLike(Protocol):
    """What the rules need of an ``OFPort``."""

    @property
    def ofport(self) -> int: ...


def is_valid_prefix(ip_prefix: object) -> bool:
    """A prefix that restricts something (not None, not 0.0.0.0/0 or ::/0)."""
    return bool(ip_prefix) and str(
        ipaddress.ip_network(str(ip_prefix), strict=False)) not in FORBIDDEN_PREFIXES


def _ip_version(prefix: object) -> int:
    return ipaddress.ip_network(str(prefix), strict=False).version


def _without_ports(rule: Rule) -> Rule:
    return {k: v for k, v in rule.items() if k not in ("port_range_min", "port_range_max")}


def _assert_mergeable_rules(rule_conj_list: list[tuple[Rule, int]]) -> None:
    """The rules must differ only by their port range (Neutron raises RuntimeError too)."""
    tmpl = _without_ports(rule_conj_list[0][0])
    for rule, _conj_id in rule_conj_list[1:]:
        if _without_ports(rule) != tmpl:
            raise RuntimeError(f"Incompatible SG rules detected: {tmpl} and {rule}. "
                               "They cannot be merged. This should not happen.")


def merge_common_rules(rule_conj_list: list[tuple[Rule, int]]) -> list[tuple[Rule, list[int]]]:
    """Rules equal but for their port range, merged: [(rule, [conj ids])]."""
    if len(rule_conj_list) == 1:
        rule, conj_id = rule_conj_list[0]
        return [(rule, [conj_id])]
    _assert_mergeable_rules(rule_conj_list)
    rule_conj_map: dict[tuple[object, object], list[int]] = defaultdict(list)
    for rule, conj_id in rule_conj_list:
        rule_conj_map[(rule.get("port_range_min"), rule.get("port_range_max"))].append(conj_id)
    result = []
    tmpl = _without_ports(rule_conj_list[0][0])
    for (port_min, port_max), conj_ids in rule_conj_map.items():
        rule = dict(tmpl)
        if port_min is not None:
            rule["port_range_min"] = port_min
        if port_max is not None:
            rule["port_range_max"] = port_max
        result.append((rule, conj_ids))
    return result


def merge_port_ranges(rule_conj_list: list[tuple[Rule, int]]) -> list[tuple[Rule, list[int]]]:
    """Overlapping port ranges cut into disjoint ones, each with every conj id covering it."""
    if len(rule_conj_list) == 1:
        rule, conj_id = rule_conj_list[0]
        return [(rule, [conj_id])]
    _assert_mergeable_rules(rule_conj_list)
    port_ranges: list[tuple[int, str, int]] = []
    for rule, conj_id in rule_conj_list:
        port_ranges.append((_as_int(rule.get("port_range_min", 1)), "min", conj_id))
        port_ranges.append((_as_int(rule.get("port_range_max", 65535)), "max", conj_id))
    port_ranges.sort(key=lambda item: item[0] * 2 + (0 if item[1] == "min" else 1))
    result: list[tuple[Rule, list[int]]] = []
    tmpl = rule_conj_list[0][0]
    cur_conj: dict[int, int] = {}
    cur_range_min = 0
    for port, m, conj_id in port_ranges:
        if m == "min":
            if conj_id in cur_conj:
                cur_conj[conj_id] += 1
                continue
            if cur_conj and cur_range_min != port:
                rule = dict(tmpl, port_range_min=cur_range_min, port_range_max=port - 1)
                result.append((rule, list(cur_conj)))
            cur_range_min = port
            cur_conj[conj_id] = 1
        else:
            if cur_conj[conj_id] > 1:
                cur_conj[conj_id] -= 1
                continue
            if cur_range_min <= port:
                rule = dict(tmpl, port_range_min=cur_range_min, port_range_max=port)
                result.append((rule, list(cur_conj)))
                cur_range_min = port + 1
            del cur_conj[conj_id]
    if (len(result) == 1 and result[0][0]["port_range_min"] == 1
            and result[0][0]["port_range_max"] == 65535):
        del result[0][0]["port_range_min"]
        del result[0][0]["port_range_max"]
    return result


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value))


def flow_priority_offset(rule: Rule, conjunction: bool = False) -> int:
    """0..3 for remote-group (conjunction) rules, 4..7 for the others (see the module)."""
    conj_offset = 0 if ("remote_group_id" in rule or "remote_address_group_id" in rule
                        or conjunction) else 4
    protocol = rule.get("protocol")
    if protocol is None:
        return conj_offset
    if protocol in (fc.PROTO_NUM_ICMP, fc.PROTO_NUM_IPV6_ICMP):
        if "port_range_min" not in rule:
            return conj_offset + 1
        if "port_range_max" not in rule:
            return conj_offset + 2
    return conj_offset + 3


def create_flows_from_rule_and_port(rule: Rule, port: PortLike,
                                    conjunction: bool = False) -> list[Flow]:
    """The flows of one rule on one port (before the conntrack states are added)."""
    ethertype = str(rule["ethertype"])
    direction = str(rule["direction"])
    dst_ip_prefix = rule.get("dest_ip_prefix")
    src_ip_prefix = rule.get("source_ip_prefix")
    template: Flow = {
        "priority": 70 + flow_priority_offset(rule, conjunction),
        "dl_type": fc.ETHERTYPE_TO_DL_TYPE[ethertype],
        "reg_port": port.ofport,
    }
    if is_valid_prefix(dst_ip_prefix):
        template[FLOW_FIELD_FOR_IPVER_AND_DIRECTION[
            (_ip_version(dst_ip_prefix), "egress")]] = dst_ip_prefix
    if is_valid_prefix(src_ip_prefix):
        template[FLOW_FIELD_FOR_IPVER_AND_DIRECTION[
            (_ip_version(src_ip_prefix), "ingress")]] = src_ip_prefix
    return create_protocol_flows(direction, template, port, rule)


def populate_flow_common(direction: str, template: Flow, port: PortLike) -> Flow:
    """Table and action of a rule's flow: ingress outputs to the port, egress goes on to 73."""
    if direction == "ingress":
        template["table"] = c.RULES_INGRESS_TABLE
        template["actions"] = f"output:{port.ofport:d}"
    elif direction == "egress":
        template["table"] = c.RULES_EGRESS_TABLE
        template["actions"] = f"resubmit(,{c.ACCEPT_OR_INGRESS_TABLE:d})"
    return template


def create_protocol_flows(direction: str, template: Flow, port: PortLike,
                          rule: Rule) -> list[Flow]:
    """The protocol's flows: ICMP type/code, or one flow per port-range mask."""
    template = populate_flow_common(direction, dict(template), port)
    protocol = rule.get("protocol")
    if protocol is not None:
        template["nw_proto"] = protocol
    if protocol in (fc.PROTO_NUM_ICMP, fc.PROTO_NUM_IPV6_ICMP):
        flows = create_icmp_flows(template, rule)
    else:
        flows = create_port_range_flows(template, rule)
    return flows or [template]


def create_port_range_flows(template: Flow, rule: Rule) -> list[Flow]:
    """One flow per (source, destination) port mask; TCP, UDP and SCTP only."""
    number = rule.get("protocol")
    protocol = fc.PROTOCOLS_WITH_PORTS.get(number) if isinstance(number, int) else None
    if protocol is None:
        return []
    flows: list[Flow] = []
    src_match, dst_match = f"{protocol}_src", f"{protocol}_dst"
    src_min, src_max = rule.get("source_port_range_min"), rule.get("source_port_range_max")
    dst_min, dst_max = rule.get("port_range_min"), rule.get("port_range_max")
    dst_range: list[str] = []
    if dst_min and dst_max:
        dst_range = port_rule_masking(_as_int(dst_min), _as_int(dst_max))
    if src_min and src_max:
        for sport in port_rule_masking(_as_int(src_min), _as_int(src_max)):
            flow = dict(template)
            flow[src_match] = sport
            if dst_range:
                for dport in dst_range:
                    flows.append(dict(flow, **{dst_match: dport}))
            else:
                flows.append(flow)
    else:
        for dport in dst_range:
            flows.append(dict(template, **{dst_match: dport}))
    return flows


def create_icmp_flows(template: Flow, rule: Rule) -> list[Flow]:
    """The ICMP type (port_range_min) and code (port_range_max) of a rule, if given."""
    icmp_type = rule.get("port_range_min")
    if icmp_type is None:
        return []
    flow = dict(template, icmp_type=icmp_type)
    icmp_code = rule.get("port_range_max")
    if icmp_code is not None:
        flow["icmp_code"] = icmp_code
    return [flow]


def flow_priority_offset_from_conj_id(conj_id: int) -> int:
    """A base conj_id is a multiple of 8; two ids per priority offset."""
    return conj_id % 8 // 2


def create_flows_for_ip_address_and_mac(ip_address: str, mac_address: str | None,
                                        direction: str, ethertype: str, vlan_tag: int,
                                        conj_ids: list[int]) -> list[Flow]:
    """The ``conjunction(id,1/2)`` flows of one remote-group member address on a network."""
    net = addr.network(ip_address)
    conj_id_lists: list[list[int]] = [[] for _ in range(4)]
    for conj_id in conj_ids:
        conj_id_lists[flow_priority_offset_from_conj_id(conj_id)].append(conj_id)
    ip_prefix = addr.cidr(ip_address)
    template: Flow = {"dl_type": fc.ETHERTYPE_TO_DL_TYPE[ethertype], "reg_net": vlan_tag}
    template["table"] = (c.RULES_EGRESS_TABLE if direction == "egress"
                         else c.RULES_INGRESS_TABLE)
    template[FLOW_FIELD_FOR_IPVER_AND_DIRECTION[(net.version, direction)]] = ip_prefix
    if net.prefixlen == 0 and mac_address:
        template["dl_src"] = mac_address
    result: list[Flow] = []
    for offset, conj_id_list in enumerate(conj_id_lists):
        if not conj_id_list:
            continue
        template["priority"] = 70 + offset
        result += substitute_conjunction_actions([template], 1, conj_id_list)
    return result


def create_accept_flows(flow: Flow) -> list[Flow]:
    """A rule's flow for replies-to-be (``+est-rel-rpl``) and for new connections
    (``+new-est``), the latter committing ingress connections before the output."""
    first = dict(flow, ct_state=CT_STATES[0])
    second = dict(flow, ct_state=CT_STATES[1])
    if flow["table"] == c.RULES_INGRESS_TABLE:
        second["actions"] = (f"ct(commit,zone=NXM_NX_REG{fc.REG_NET:d}[0..15]),"
                             f"{flow['actions']},resubmit(,{c.ACCEPTED_INGRESS_TRAFFIC_TABLE:d})")
    return [first, second]


def substitute_conjunction_actions(flows: list[Flow], dimension: int,
                                   conj_ids: list[int]) -> list[Flow]:
    """Each flow twice (both conntrack states), acting ``conjunction(id+i,dimension/2)``."""
    result: list[Flow] = []
    for flow in flows:
        for i in range(2):
            new_flow = dict(flow, ct_state=CT_STATES[i])
            new_flow["actions"] = ",".join(
                f"conjunction({s + i:d},{dimension:d}/2)" for s in conj_ids)
            result.append(new_flow)
    return result


def create_conj_flows(port: PortLike, conj_id: int, direction: str,
                      ethertype: str) -> list[Flow]:
    """The accept flows of a conjunction id (``conj_id=N``) on a port."""
    template: Flow = {
        "priority": 70 + flow_priority_offset_from_conj_id(conj_id),
        "conj_id": conj_id,
        "dl_type": fc.ETHERTYPE_TO_DL_TYPE[ethertype],
        "reg_port": port.ofport,
    }
    template = populate_flow_common(direction, template, port)
    flows = create_accept_flows(template)
    flows[1]["conj_id"] = _as_int(flows[1]["conj_id"]) + 1
    return flows


# -- neutron.common.utils.port_rule_masking ------------------------------------------------------

def _hex_format(port: int, mask: int = 0) -> str:
    if mask > 0:
        return f"{port:#06x}/{0xFFFF & ~mask:#06x}"
    return f"{port:#06x}"


def _gen_rules_port_min(port_min: int, top_bit: int) -> list[str]:
    rules: list[str] = []
    mask = top_bit - 1
    while True:
        if (port_min & mask) == 0:
            rules.append(_hex_format(port_min, mask))
            break
        top_bit >>= 1
        mask >>= 1
        if (port_min & top_bit) == 0:
            rules.append(_hex_format(port_min & ~mask | top_bit, mask))
    return rules


def _gen_rules_port_max(port_max: int, top_bit: int) -> list[str]:
    rules: list[str] = []
    mask = top_bit - 1
    while True:
        if (port_max & mask) == mask:
            rules.append(_hex_format(port_max & ~mask, mask))
            break
        top_bit >>= 1
        mask >>= 1
        if (port_max & top_bit) == top_bit:
            rules.append(_hex_format(port_max & ~mask & ~top_bit, mask))
    return rules


def port_rule_masking(port_min: int, port_max: int) -> list[str]:
    """A port range as bitwise ``port/mask`` matches (Neutron's algorithm, its output text)."""
    if port_max < port_min:
        raise ValueError("'port_max' is smaller than 'port_min'")
    bitdiff = port_min ^ port_max
    if bitdiff == 0:
        return [_hex_format(port_min)]
    top_bit = 1
    while top_bit <= bitdiff:
        top_bit <<= 1
    if port_min & (top_bit - 1) == 0 and port_max & (top_bit - 1) == top_bit - 1:
        return [_hex_format(port_min, top_bit - 1)]
    top_bit >>= 1
    return _gen_rules_port_min(port_min, top_bit) + _gen_rules_port_max(port_max, top_bit)
