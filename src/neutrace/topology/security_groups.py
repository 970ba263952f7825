"""Security groups and their rules, as Neutron's ``securitygroups_db`` accepts them: a
``default`` group (made when a port names none and the file defines none) with Neutron's four
default rules, the two egress rules Neutron adds to every new group, and each rule's protocol,
port range or ICMP type/code, remote prefix or remote group.
"""

from __future__ import annotations

from neutrace import addr
from neutrace.model import SecurityGroup, SecurityGroupRule
from neutrace.topology import schema as s
from neutrace.topology.checks import check_cidr, check_in_range, check_ref, check_unique
from neutrace.topology.source import Path_
from neutrace.topology.working import Working, new_id

_PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "sctp", "udplite", "ah", "esp", "gre")
_PORT_PROTOCOLS = ("tcp", "udp", "sctp", "udplite", "6", "17", "132", "136")
_ICMP_PROTOCOLS = ("icmp", "icmpv6", "ipv6-icmp", "1", "58")


def resolve_sg_names(w: Working) -> None:
    """The groups' names and ids first: ports refer to them."""
    groups = w.cloud.security_groups
    check_unique(w.ctx, ((("security_groups", i, "name"), g.name) for i, g in enumerate(groups)),
                 "security group name")
    for i, g in enumerate(groups):
        sg_id = new_id(w, ("security_groups", i, "id"), g.id, f"security_group/{g.name}")
        w.sg_ids[g.name] = sg_id
        w.sg_by_ref[g.name] = g
        w.sg_by_ref[sg_id] = g


def default_sg_id(w: Working) -> str:
    """The id of Neutron's ``default`` group (made on first use when the file has none)."""
    if "default" not in w.sg_ids:
        w.sg_ids["default"] = addr.stable_uuid(f"{w.name}/security_group/default")
    return w.sg_ids["default"]


def resolve_security_groups(w: Working, used: set[str]) -> list[SecurityGroup]:
    """Every group: Neutron's ``default`` (when a port uses it) and the file's."""
    groups: list[SecurityGroup] = []
    user = {g.name for g in w.cloud.security_groups}
    if "default" not in user and w.sg_ids.get("default") in used:
        sg_id = w.sg_ids["default"]
        rules = [
            ("ingress", "IPv4", sg_id), ("ingress", "IPv6", sg_id),
            ("egress", "IPv4", None), ("egress", "IPv6", None),
        ]
        groups.append(SecurityGroup(sg_id, "default", tuple(
            SecurityGroupRule(
                id=addr.stable_uuid(f"{w.name}/security_group/default/rule/{k}"),
                direction=d, ethertype=e, remote_group_id=rg)
            for k, (d, e, rg) in enumerate(rules))))
    for i, g in enumerate(w.cloud.security_groups):
        groups.append(_group(w, i, g))
    return groups


def _group(w: Working, i: int, g: s.SecurityGroupIn) -> SecurityGroup:
    """One group of the file: the default egress rules, then its own."""
    sg_id = w.sg_ids[g.name]
    rules: list[SecurityGroupRule] = []
    if g.default_egress:
        for k, eth in enumerate(("IPv4", "IPv6")):
            rules.append(SecurityGroupRule(
                id=addr.stable_uuid(f"{w.name}/security_group/{sg_id}/egress/{k}"),
                direction="egress", ethertype=eth))
    for k, r in enumerate(g.rules):
        rp: Path_ = ("security_groups", i, "rules", k)
        rule_id = new_id(w, (*rp, "id"), r.id, f"security_group/{sg_id}/rule/{k}")
        proto = _protocol(w, rp, r.protocol)
        _port_range(w, rp, r, proto)
        prefix = None
        if r.remote_ip_prefix is not None:
            net = check_cidr(w.ctx, (*rp, "remote_ip_prefix"), r.remote_ip_prefix)
            if f"IPv{net.version}" != r.ethertype:
                w.ctx.fail((*rp, "remote_ip_prefix"), f"{net} is IPv{net.version} but the rule "
                           f"is {r.ethertype}", f"set ethertype: IPv{net.version}")
            prefix = str(net)
        rules.append(SecurityGroupRule(
            id=rule_id, direction=r.direction, ethertype=r.ethertype, protocol=proto,
            port_range_min=r.port_range_min, port_range_max=r.port_range_max,
            remote_ip_prefix=prefix, remote_group_id=_remote_group(w, rp, r, prefix)))
    return SecurityGroup(sg_id, g.name, tuple(rules))


def _port_range(w: Working, rp: Path_, r: s.SecurityGroupRuleIn, proto: str | None) -> None:
    """port_range_min/max: ports of tcp/udp/sctp/udplite, or ICMP type and code."""
    ctx = w.ctx
    low, high = r.port_range_min, r.port_range_max
    if low is None and high is None:
        return
    if proto in _PORT_PROTOCOLS:
        limit, what = 65535, "port"
        if low is None or high is None:
            ctx.fail(rp, "port_range_min and port_range_max go together",
                     "give both (equal for a single port)")
        check_in_range(ctx, (*rp, "port_range_min"), low, 1, limit, what,
                       "use ports between 1 and 65535")
        check_in_range(ctx, (*rp, "port_range_max"), high, 1, limit, what,
                       "use ports between 1 and 65535")
        if high < low:
            ctx.fail((*rp, "port_range_max"), f"port_range_max {high} is below "
                     f"port_range_min {low}", "swap them")
    elif proto in _ICMP_PROTOCOLS:
        if low is not None:
            check_in_range(ctx, (*rp, "port_range_min"), low, 0, 255, "ICMP type",
                           "use an ICMP type between 0 and 255")
        if high is not None:
            check_in_range(ctx, (*rp, "port_range_max"), high, 0, 255, "ICMP code",
                           "use an ICMP code between 0 and 255")
    else:
        ctx.fail((*rp, "port_range_min"), f"protocol {proto or 'any'} has no ports",
                 "set protocol: tcp/udp (or icmp for type/code), or remove the range")


def _remote_group(w: Working, rp: Path_, r: s.SecurityGroupRuleIn,
                  prefix: str | None) -> str | None:
    """The id of a rule's remote group (the file's groups or ``default``)."""
    if r.remote_group is None:
        return None
    if prefix is not None:
        w.ctx.fail((*rp, "remote_group"), "a rule takes remote_ip_prefix or "
                   "remote_group, not both", "keep one of them")
    if r.remote_group == "default" and "default" not in w.sg_by_ref:
        return default_sg_id(w)
    rg = check_ref(w.ctx, (*rp, "remote_group"), w.sg_by_ref, r.remote_group,
                   "security group", [*w.sg_ids])
    return w.sg_ids[rg.name]


def _protocol(w: Working, rp: Path_, value: str | int | None) -> str | None:
    """A rule's protocol: None for any, a name of Neutron's list, or a number 0..255."""
    if value is None:
        return None
    if isinstance(value, int):
        check_in_range(w.ctx, (*rp, "protocol"), value, 0, 255, "IP protocol number",
                       "use 0..255 or a name like tcp")
        return str(value)
    text = value.lower()
    if text == "any":
        return None
    if text.isascii() and text.isdigit():  # (str.isdigit also takes '²' and '٣')
        if len(text) > 3:
            w.ctx.fail((*rp, "protocol"), f"protocol number {value[:20]!r} is past 255",
                       "use 0..255 or a name like tcp")
        return _protocol(w, rp, int(text))
    if text not in _PROTOCOLS:
        w.ctx.fail((*rp, "protocol"), f"unknown protocol {value!r}",
                   f"use one of: {', '.join(_PROTOCOLS)}, any, or a number 0..255")
    return text
