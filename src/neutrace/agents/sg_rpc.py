"""What the security-group RPC tells an agent's firewall driver (layer 3), from the model.

``SecurityGroupInfoAPIMixin.security_group_info_for_ports`` (the OVS agent's
``SecurityGroupServerAPIShim``) answers a batch of ports with:

- ``security_groups``: per group the ports use (in first-seen order), its rules as dicts with
  only the keys that are set (``direction``, ``ethertype``, ``protocol``, ``port_range_min``/
  ``max``, ``source_ip_prefix`` for ingress or ``dest_ip_prefix`` for egress (the normalized
  CIDR), ``remote_group_id``), duplicates dropped;
- ``sg_member_ips``: per remote group those rules name, per ethertype they name, the (IP, MAC)
  of every port in the group, allowed address pairs included (``_select_ips_for_remote_group``).

Both firewall drivers read it: the hybrid one builds ipsets from the addresses, the openvswitch
one conjunction flows from the pairs.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr, model

RuleDict = dict[str, object]
Member = tuple[str, str | None]  # (ip or cidr, mac)


def rule_dict(rule: model.SecurityGroupRule) -> RuleDict:
    """One rule as ``security_group_info_for_ports`` writes it."""
    d: RuleDict = {"direction": rule.direction, "ethertype": rule.ethertype}
    if rule.protocol not in (None, "", "any"):
        d["protocol"] = rule.protocol
    if rule.port_range_min is not None:
        d["port_range_min"] = rule.port_range_min
    if rule.port_range_max is not None:
        d["port_range_max"] = rule.port_range_max
    if rule.remote_ip_prefix:
        key = "source_ip_prefix" if rule.direction == "ingress" else "dest_ip_prefix"
        d[key] = str(ipaddress.ip_network(rule.remote_ip_prefix, strict=False))
    if rule.remote_group_id:
        d["remote_group_id"] = rule.remote_group_id
    return d


def security_groups(cloud: model.Cloud, ports: list[model.Port]
                    ) -> dict[str, list[RuleDict]]:
    """The ``security_groups`` part of the answer for ``ports``."""
    out: dict[str, list[RuleDict]] = {}
    for port in ports:
        for sg_id in port.security_groups:
            rules = out.setdefault(sg_id, [])
            for rule in cloud.security_group(sg_id).rules:
                d = rule_dict(rule)
                if d not in rules:
                    rules.append(d)
    return out


def member_ips(cloud: model.Cloud, groups: dict[str, list[RuleDict]]
               ) -> dict[str, dict[str, list[Member]]]:
    """The ``sg_member_ips`` part: remote group -> ethertype -> [(ip, mac)] in port order."""
    wanted: dict[str, dict[str, list[Member]]] = {}
    for rules in groups.values():
        for r in rules:
            remote = r.get("remote_group_id")
            if isinstance(remote, str):
                wanted.setdefault(remote, {}).setdefault(str(r["ethertype"]), [])
    members = _members(cloud)
    for remote, by_type in wanted.items():
        for ethertype, ip, mac in members.get(remote, ()):
            if ethertype in by_type:
                by_type[ethertype].append((ip, mac))
    return wanted


def _members(cloud: model.Cloud) -> dict[str, tuple[tuple[str, str, str | None], ...]]:
    """Per security group, the (ethertype, ip, mac) of its ports in port order, each pair once
    (computed once per cloud: every host's agent asks for the same groups)."""
    def build() -> dict[str, tuple[tuple[str, str, str | None], ...]]:
        out: dict[str, dict[tuple[str, str, str | None], None]] = {}
        for p in cloud.ports:
            pairs: list[Member] = [(f.ip_address, p.mac_address) for f in p.fixed_ips]
            pairs += [(a.ip_address, a.mac_address) for a in p.allowed_address_pairs]
            typed = [(f"IPv{addr.network(ip).version}", ip, mac)
                     for ip, mac in pairs]
            for sg_id in p.security_groups:
                seen = out.setdefault(sg_id, {})
                for item in typed:
                    seen.setdefault(item)
        return {sg: tuple(items) for sg, items in out.items()}
    return model.cloud_index(cloud, ("sg_rpc.members",), build)
