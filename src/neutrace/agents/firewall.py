"""The iptables_hybrid firewall (``OVSHybridIptablesFirewallDriver``), re-enacted (layer 3).

What the OVS agent's security-group agent leaves in the host's root namespace after its first
full sync (all ports in one batch, as after an agent start):

- filter: ``neutron-filter-top``/``neutron-openvswi-local``, the wrapped INPUT/OUTPUT/FORWARD,
  ``neutron-openvswi-sg-chain`` and ``-sg-fallback``; per filtered port the chains
  ``neutron-openvswi-i<port id[:10]>`` (ingress), ``-o<id>`` (egress) and ``-s<id>`` (IP/MAC
  pairs), entered through ``-m physdev --physdev-out/--physdev-in tap<id[:11]>
  --physdev-is-bridged``; ACCEPT rules for ports without port security and for trusted
  (``network:*``) ports;
- raw: ``neutron-openvswi-PREROUTING`` with a conntrack zone per port (``-j CT --zone 4097``...,
  in port-id order) for qvb/tap;
- nat: the ``PREROUTING`` short circuit for each port;
- ipsets ``NIPv4<sg id>`` for security groups used as remote groups (``enable_ipset``).

The rules are built with ``neutrace.agents.iptables`` exactly as the driver adds them, so their
text and order are Neutron's (rules as iptables-save prints them, chain names cut to 28).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from neutrace import addr, model
from neutrace.addr import ipv6_lla
from neutrace.agents import constants as c
from neutrace.agents import sg_rpc
from neutrace.agents.iptables import IptablesManager, comment_rule
from neutrace.agents.plan import VIF_HYBRID, HostPlan

SG_CHAIN = "sg-chain"
CHAIN_PREFIX = {"ingress": "i", "egress": "o", "spoof": "s"}
IPTABLES_DIRECTION = {"ingress": "physdev-out", "egress": "physdev-in"}
IPSET_DIRECTION = {"ingress": "src", "egress": "dst"}

UNMATCH_DROP = "Default drop rule for unmatched traffic."
VM_INT_SG = "Direct traffic from the VM interface to the security group chain."
SG_TO_VM_SG = "Jump to the VM specific chain."
INPUT_TO_SG = "Direct incoming traffic from VM to the security group chain."
PAIR_ALLOW = "Allow traffic from defined IP/MAC pairs."
PAIR_DROP = "Drop traffic without an IP/MAC allow rule."
DHCP_CLIENT = "Allow DHCP client traffic."
DHCP_SPOOF = "Prevent DHCP Spoofing by VM."
UNMATCHED = "Send unmatched traffic to the fallback chain."
INVALID_DROP = ("Drop packets that appear related to an existing connection "
                "(e.g. TCP ACK/FIN) but do not have an entry in conntrack.")
ALLOW_ASSOC = "Direct packets associated with a known session to the RETURN chain."
PORT_SEC_ACCEPT = "Accept all packets when port security is disabled."
TRUSTED_ACCEPT = "Accept all packets when port is trusted."
IPV6_RA_DROP = "Drop IPv6 Router Advts from VM Instance."
IPV6_ICMP_ALLOW = "Allow IPv6 ICMP traffic."

ICMPV6_ALLOWED_UNSPEC_ADDR_TYPES = (131, 135, 143)
ICMPV6_ALLOWED_INGRESS_TYPES = (130, 135, 136)
ICMPV6_TYPE_RA = 134

# neutron_lib IPTABLES_PROTOCOL_NAME_MAP (the part that matters) and IPTABLES_PROTOCOL_MAP
PROTOCOL_NAMES = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "132": "sctp",
                  "33": "dccp", "136": "udplite", "icmpv6": "ipv6-icmp", "ipv6-icmp": "ipv6-icmp"}
PROTOCOL_MODULES = {"dccp": "dccp", "icmp": "icmp", "ipv6-icmp": "icmp6", "sctp": "sctp",
                    "tcp": "tcp", "udp": "udp"}
SG_PORT_PROTO_NAMES = ("dccp", "sctp", "tcp", "udp", "udplite")
MULTIPORT_ONLY = ("udplite",)


@dataclass
class FwPort:
    """The port dict the security-group RPC hands the driver."""

    id: str
    network_id: str
    mac: str
    fixed_ips: list[str]
    device_owner: str
    security_groups: list[str]
    allowed_address_pairs: list[tuple[str, str]]
    port_security: bool
    security_group_rules: list[dict[str, object]] = field(default_factory=list)

    @property
    def device(self) -> str:
        return self.id


def hybrid_name(device: str) -> str:
    return (c.TAP_DEVICE_PREFIX + device)[: c.LINUX_DEV_LEN]


def port_chain_name(port: FwPort, direction: str) -> str:
    return (CHAIN_PREFIX[direction] + port.device)[: c.MAX_IPTABLES_CHAIN_LEN_WRAP]


def ip_to_cidr(ip: str) -> str:
    return str(ipaddress.ip_network(ip, strict=False)) if "/" in ip else (
        f"{ip}/32" if ipaddress.ip_address(ip).version == 4 else f"{ip}/128")


def _provider_rules(port: FwPort) -> list[dict[str, object]]:
    """``_apply_provider_rule``: RA (if the port has IPv6) and DHCP-server ingress rules."""
    rules: list[dict[str, object]] = []
    if any(ipaddress.ip_address(ip).version == 6 for ip in port.fixed_ips):
        rules.append({"direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp",
                      "source_port_range_min": ICMPV6_TYPE_RA})
    for version in (4, 6):
        prefix = "32" if version == 4 else "128"
        dests = [f"{ip}/{prefix}" for ip in port.fixed_ips
                 if ipaddress.ip_address(ip).version == version]
        dests.append("255.255.255.255/32" if version == 4 else "fe80::/64")
        sport, dport, ethertype = (67, 68, "IPv4") if version == 4 else (547, 546, "IPv6")
        for dest in dests:
            rules.append({"direction": "ingress", "ethertype": ethertype, "protocol": "udp",
                          "port_range_min": dport, "port_range_max": dport,
                          "source_port_range_min": sport, "source_port_range_max": sport,
                          "dest_ip_prefix": dest})
    return rules


class HybridFirewall:
    def __init__(self, sg_rules: dict[str, list[dict[str, object]]],
                 sg_members: dict[str, dict[str, list[str]]]) -> None:
        self.iptables = IptablesManager(c.OVS_AGENT_BINARY, state_less=True)
        self.sg_rules = sg_rules
        self.sg_members = sg_members
        self.zones: dict[str, int] = {}
        self.ipsets: dict[str, tuple[str, list[str]]] = {}  # name -> (family, members)
        for v in (4, 6):
            f = self.iptables.tables(v)["filter"]
            f.add_chain("sg-fallback")
            f.add_rule("sg-fallback", "-j DROP", comment=UNMATCH_DROP)
        # set_members creates the set even when the group has no member of that ethertype
        for sg_id, members in sg_members.items():
            for ethertype, ips in members.items():
                name = ("N" + ethertype + sg_id)[: c.IPSET_NAME_MAX_LENGTH]
                family = "inet" if ethertype == "IPv4" else "inet6"
                self.ipsets[name] = (family, ips)

    # -- helpers mirroring IptablesFirewallDriver --------------------------------------------
    def _both(self, table: str, chain: str, v4: list[str], v6: list[str], top: bool = False,
              comment: str | None = None) -> None:
        for rule in v4:
            self.iptables.ipv4[table].add_rule(chain, rule, top=top, comment=comment)
        for rule in v6:
            self.iptables.ipv6[table].add_rule(chain, rule, top=top, comment=comment)

    def process_trusted_ports(self, port_ids: list[str]) -> None:
        for pid in port_ids:
            dev = hybrid_name(pid)
            rules = [f"-m physdev --{d} {dev} --physdev-is-bridged -j ACCEPT"
                     for d in (IPTABLES_DIRECTION["ingress"], IPTABLES_DIRECTION["egress"])]
            self._both("filter", "FORWARD", rules, rules, comment=TRUSTED_ACCEPT)
            self._add_nat_short_circuit(pid)

    def _add_nat_short_circuit(self, device: str) -> None:
        dev = hybrid_name(device)
        rules = [f"-m physdev --{d} {dev} -j ACCEPT"
                 for d in (IPTABLES_DIRECTION["ingress"], IPTABLES_DIRECTION["egress"])]
        self._both("nat", "PREROUTING", rules, rules, comment=TRUSTED_ACCEPT)

    def setup_chains(self, filtered: list[FwPort], unfiltered: list[FwPort]) -> None:
        for v in (4, 6):
            self.iptables.tables(v)["filter"].add_chain(SG_CHAIN)
        for port in sorted(filtered, key=lambda p: p.device):
            self._add_conntrack_jump(port)
            self._add_nat_short_circuit(port.device)
            self._setup_chain(port, "ingress")
            self._setup_chain(port, "egress")
        self.iptables.ipv4["filter"].add_rule(SG_CHAIN, "-j ACCEPT")
        self.iptables.ipv6["filter"].add_rule(SG_CHAIN, "-j ACCEPT")
        for port in unfiltered:
            for direction in ("ingress", "egress"):
                dev = hybrid_name(port.device)
                rule = [f"-m physdev --{IPTABLES_DIRECTION[direction]} {dev} "
                        "--physdev-is-bridged -j ACCEPT"]
                self._both("filter", "FORWARD", rule, rule, comment=PORT_SEC_ACCEPT)
                if direction == "egress":
                    self._both("filter", "INPUT", rule, rule, comment=PORT_SEC_ACCEPT)
            self._add_nat_short_circuit(port.device)

    def _zone(self, port: FwPort) -> int:
        key = port.device[: c.LINUX_DEV_LEN - 3]
        if key not in self.zones:
            used = sorted(set(self.zones.values()))
            self.zones[key] = max(used[-1] + 1, c.CT_ZONE_START) if used else c.CT_ZONE_START
        return self.zones[key]

    def _add_conntrack_jump(self, port: FwPort) -> None:
        zone = self._zone(port)
        br_dev = (c.QVB_PREFIX + port.device)[: c.LINUX_DEV_LEN]
        port_dev = hybrid_name(port.device)
        comment = f"Set zone for {port.device}"
        for dev, match in ((br_dev, "-m physdev --physdev-in %s"), (br_dev, "-i %s"),
                           (port_dev, "-m physdev --physdev-in %s")):
            rule = f'{match % dev} -m comment --comment "{comment}" -j CT --zone {zone}'
            for v in (4, 6):
                self.iptables.tables(v)["raw"].add_rule("PREROUTING", rule)

    def _setup_chain(self, port: FwPort, direction: str) -> None:
        chain = port_chain_name(port, direction)
        for v in (4, 6):
            self.iptables.tables(v)["filter"].add_chain(chain)
        dev = hybrid_name(port.device)
        phys = IPTABLES_DIRECTION[direction]
        jump = [f"-m physdev --{phys} {dev} --physdev-is-bridged -j ${SG_CHAIN}"]
        self._both("filter", "FORWARD", jump, jump, top=True, comment=VM_INT_SG)
        jump = [f"-m physdev --{phys} {dev} --physdev-is-bridged -j ${chain}"]
        self._both("filter", SG_CHAIN, jump, jump, comment=SG_TO_VM_SG)
        if direction == "egress":
            self._both("filter", "INPUT", jump, jump, comment=INPUT_TO_SG)
        self._add_rules_by_security_group(port, direction)

    def _add_rules_by_security_group(self, port: FwPort, direction: str) -> None:
        rules = [r for r in port.security_group_rules if r["direction"] == direction]
        for sg_id in port.security_groups:
            rules += [r for r in self.sg_rules.get(sg_id, []) if r["direction"] == direction]
        v4_sg = [r for r in rules if r.get("ethertype") == "IPv4"]
        v6_sg = []
        for r in rules:
            if r.get("ethertype") == "IPv6":
                if r.get("protocol") in ("icmp", "icmpv6"):
                    r = dict(r, protocol="ipv6-icmp")
                v6_sg.append(r)
        v4: list[str] = []
        v6: list[str] = []
        if direction == "egress":
            self._spoofing_rule(port, v4, v6)
            v4.append(comment_rule("-p udp -m udp --sport 67 --dport 68 -j DROP", DHCP_SPOOF))
            v6.append(comment_rule("-p udp -m udp --sport 547 --dport 546 -j DROP",
                                   DHCP_SPOOF))
        else:
            v6 += [f"-p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN"
                   for t in ICMPV6_ALLOWED_INGRESS_TYPES]
        v4 += self._convert(v4_sg)
        v6 += self._convert(v6_sg)
        self._both("filter", port_chain_name(port, direction), v4, v6)

    def _spoofing_rule(self, port: FwPort, v4: list[str], v6: list[str]) -> None:
        v4.append(comment_rule("-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 "
                               "--dport 67 -j RETURN", DHCP_CLIENT))
        for t in ICMPV6_ALLOWED_UNSPEC_ADDR_TYPES:
            v6.append(comment_rule(f"-s ::/128 -d ff02::/16 -p ipv6-icmp -m icmp6 "
                                   f"--icmpv6-type {t} -j RETURN", IPV6_ICMP_ALLOW))
        pairs4: list[tuple[str, str | None]] = []
        pairs6: list[tuple[str, str | None]] = []

        def build(mac: str, ip: str) -> None:
            mac_text = addr.norm_mac(mac).upper()
            if ipaddress.ip_network(ip, strict=False).version == 4:
                pairs4.append((mac_text, ip))
            else:
                pairs6.append((mac_text, ip))
                lla = ipv6_lla(mac_text)
                if (mac_text, lla) not in pairs6:
                    pairs6.append((mac_text, lla))

        for ip, mac in port.allowed_address_pairs:
            build(mac, ip)
        for ip in port.fixed_ips:
            build(port.mac, ip)
        if not port.fixed_ips:
            pairs4.append((addr.norm_mac(port.mac).upper(), None))
            pairs6.append((addr.norm_mac(port.mac).upper(), None))
        for version, pairs, rules in ((4, pairs4, v4), (6, pairs6, v6)):
            if not pairs:
                continue
            table = self.iptables.tables(version)["filter"]
            chain = port_chain_name(port, "spoof")
            table.add_chain(chain)
            for mac, pair_ip in pairs:
                if pair_ip is None:
                    table.add_rule(chain, f"-m mac --mac-source {mac} -j RETURN",
                                   comment=PAIR_ALLOW)
                else:
                    table.add_rule(chain, f"-s {ip_to_cidr(pair_ip)} -m mac --mac-source {mac} "
                                   "-j RETURN", comment=PAIR_ALLOW)
            table.add_rule(chain, "-j DROP", comment=PAIR_DROP)
            rules.append(f"-j ${chain}")
        v4.append(comment_rule("-p udp -m udp --sport 68 --dport 67 -j RETURN", DHCP_CLIENT))
        v6.append(comment_rule(f"-p ipv6-icmp -m icmp6 --icmpv6-type {ICMPV6_TYPE_RA} -j DROP",
                               IPV6_RA_DROP))
        v6.append(comment_rule("-p ipv6-icmp -j RETURN", IPV6_ICMP_ALLOW))
        v6.append(comment_rule("-p udp -m udp --sport 546 --dport 547 -j RETURN", DHCP_CLIENT))

    def _convert(self, sg_rules: list[dict[str, object]]) -> list[str]:
        out = [comment_rule("-m state --state RELATED,ESTABLISHED -j RETURN", ALLOW_ASSOC)]
        seen: set[str] = set()
        for rule in sg_rules:
            args = self._rule_args(rule)
            if not args:
                continue
            text = " ".join(args)
            if text in seen:
                continue
            seen.add(text)
            out.append(text)
        out.append(comment_rule("-m state --state INVALID -j DROP", INVALID_DROP))
        out.append(comment_rule("-j $sg-fallback", UNMATCHED))
        return out

    def _rule_args(self, rule: dict[str, object]) -> list[str]:
        remote = rule.get("remote_group_id")
        if isinstance(remote, str):
            name = ("N" + str(rule["ethertype"]) + remote)[: c.IPSET_NAME_MAX_LENGTH]
            if name not in self.ipsets:
                return []
            return self._proto_port_args(rule) + [
                "-m set", "--match-set", name, IPSET_DIRECTION[str(rule["direction"])],
                "-j RETURN"]
        args: list[str] = []
        for flag, key in (("s", "source_ip_prefix"), ("d", "dest_ip_prefix")):
            prefix = rule.get(key)
            if isinstance(prefix, str):
                if "/" not in prefix:
                    prefix = ip_to_cidr(prefix)
                elif prefix.endswith("/0"):
                    continue
                args += [f"-{flag}", prefix]
        return args + self._proto_port_args(rule) + ["-j RETURN"]

    @staticmethod
    def _protocol_name(protocol: object) -> str | None:
        if protocol is None or str(protocol) == "0":
            return None
        return PROTOCOL_NAMES.get(str(protocol), str(protocol))

    def _proto_port_args(self, rule: dict[str, object]) -> list[str]:
        is_port = (rule.get("source_port_range_min") is not None
                   or rule.get("port_range_min") is not None)
        proto = self._protocol_name(rule.get("protocol"))
        args: list[str] = []
        if proto:
            args = ["-p", proto]
            if is_port and proto in PROTOCOL_MODULES:
                args += ["-m", PROTOCOL_MODULES[proto]]
        args += self._port_arg("sport", proto, rule.get("source_port_range_min"),
                               rule.get("source_port_range_max"))
        args += self._port_arg("dport", proto, rule.get("port_range_min"),
                               rule.get("port_range_max"))
        return args

    @staticmethod
    def _port_arg(direction: str, proto: str | None, low: object, high: object) -> list[str]:
        if low is None:
            return []
        if proto in ("icmp", "ipv6-icmp"):
            kind = "icmpv6" if proto == "ipv6-icmp" else "icmp"
            value = f"{low}" if high is None else f"{low}/{high}"
            return [f"--{kind}-type", value]
        if proto in SG_PORT_PROTO_NAMES:
            if low == high:
                if proto in MULTIPORT_ONLY:
                    return ["-m", "multiport", f"--{direction}s", f"{low}"]
                return [f"--{direction}", f"{low}"]
            return ["-m", "multiport", f"--{direction}s", f"{low}:{high}"]
        return []

    def ipset_save(self) -> str:
        lines: list[str] = []
        for name in sorted(self.ipsets):
            family, members = self.ipsets[name]
            lines.append(f"create {name} hash:net family {family} hashsize 1024 maxelem 65536")
            for ip in sorted(set(_ipset_members(members)), key=_ip_sort_key):
                lines.append(f"add {name} {ip}")
        return "\n".join(lines) + ("\n" if lines else "")


def _ipset_members(ips: list[str]) -> list[str]:
    """``IpsetManager._sanitize_addresses`` (a /0 becomes two /1s: ipset has no /0), written as
    ``ipset save`` prints hash:net members (host routes without their prefix)."""
    out: list[str] = []
    for ip in ips:
        net = addr.network(ip)
        if net.prefixlen == 0:
            out += ["0.0.0.0/1", "128.0.0.0/1"] if net.version == 4 else ["::/1", "8000::/1"]
        elif net.prefixlen == net.max_prefixlen:
            out.append(str(net.network_address))
        else:
            out.append(str(net))
    return out


def _ip_sort_key(ip: str) -> tuple[int, int]:
    net = addr.network(ip)
    return (net.version, int(net.network_address))


@dataclass(frozen=True, slots=True)
class FirewallState:
    iptables: str
    ip6tables: str
    ipsets: str


def _fw_port(port: model.Port) -> FwPort:
    return FwPort(
        id=port.id, network_id=port.network_id, mac=port.mac_address,
        fixed_ips=[f.ip_address for f in port.fixed_ips], device_owner=port.device_owner,
        security_groups=list(port.security_groups),
        allowed_address_pairs=[(p.ip_address, p.mac_address) for p in port.allowed_address_pairs],
        port_security=port.port_security_enabled)


def program_firewall(cloud: model.Cloud, plan: HostPlan) -> FirewallState | None:
    """The root namespace's iptables/ip6tables/ipset text, or None without the hybrid driver.
    A host without ports gets empty texts: the agent only applies rules when it has ports."""
    if plan.host.firewall_driver != "iptables_hybrid":
        return None
    trusted = [v.port.id for v in plan.vifs if v.is_network_owned]
    ports = [_fw_port(v.port) for v in plan.vifs
             if v.kind == VIF_HYBRID and not v.is_network_owned]
    filtered = [p for p in ports if p.port_security]
    unfiltered = [p for p in ports if not p.port_security]
    sg_rules = sg_rpc.security_groups(
        cloud, [v.port for v in plan.vifs if v.kind == VIF_HYBRID and not v.is_network_owned
                and v.port.port_security_enabled])
    sg_members = {remote: {ethertype: [ip for ip, _mac in pairs]
                           for ethertype, pairs in by_type.items()}
                  for remote, by_type in sg_rpc.member_ips(cloud, sg_rules).items()}
    for fp in filtered:
        fp.security_group_rules = _provider_rules(fp)
    if not (trusted or ports):
        # nothing to filter: the agent never applies its iptables manager
        return FirewallState("", "", "")
    fw = HybridFirewall(sg_rules, sg_members)
    fw.process_trusted_ports(trusted)
    fw.setup_chains(filtered, unfiltered)
    return FirewallState(fw.iptables.save(4), fw.iptables.save(6), fw.ipset_save())
