"""``OVSFirewallDriver`` re-enacted on br-int (layer 3): the flows the openvswitch firewall
driver leaves after the OVS agent's first full sync of its ports.

The order is Neutron's:

1. ``__init__`` (agent start): ``initialize_bridge`` adds OpenFlow11/12 to br-int's protocols;
   ``_drop_all_unmatched_flows`` (tables 71, 72, 73, 81, 82: priority 0 drop),
   ``_initialize_common_flows`` (71: ``ct_state=+trk`` -> ``ct_clear`` and back into 71) and
   ``_initialize_third_party_tables`` (94 NORMAL, 91 -> 94, 92 and 93 drop). These go through
   ``ovs-ofctl add-flows`` over OpenFlow 1.0, so OVS flags them ``reset_counts``.
2. ``SecurityGroupAgentRpc.prepare_devices_filter``: the rules and remote-group members of every
   group the ports use (``update_security_group_rules``/``_members``), then per port, in the
   order the server lists them, ``prepare_port_filter``: a port with port security off gets the
   "skip" path (``_initialize_egress_no_port_security``: table 60 sends its traffic to 73,
   73 accepts it); the others ``initialize_port_flows`` (table 60: egress by ``in_port`` to 71
   with ``reg5`` = ofport and ``reg6`` = local VLAN (the conntrack zone), ingress by destination
   MAC and VLAN to 81; 71: the MAC/IP pairs of fixed IPs and allowed address pairs, ARP, RARP,
   ICMPv6 ND/MLD/RS, DHCP client, no DHCP server, no RA; 73: ingress or accept; 81: ARP, ND, RA,
   DHCP offers, conntrack) and ``add_flows_from_rules`` (72/82: invalid, ``ct_mark``, replies;
   one accept pair per rule; conjunctions for remote-group rules, with Neutron's conj_id
   allocation), and finally ``process_trusted_ports`` for the network's own ports (qr-, qg-,
   DHCP): the same "skip" path as port security off.

Flows go through `ofmatch.to_match`/`to_actions`, so they read as ``dump-flows`` prints them.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

from neutrace import addr, model
from neutrace.addr import ipv6_lla
from neutrace.agents import constants as c
from neutrace.agents import sg_rpc
from neutrace.agents.openvswitch_firewall import constants as fc
from neutrace.agents.openvswitch_firewall import rules
from neutrace.agents.openvswitch_firewall.ofmatch import FlowParams, to_actions, to_match
from neutrace.agents.ovs.ovs_bridge import BridgeBuilder
from neutrace.agents.plan import HostPlan

REQUIRED_PROTOCOLS = ("OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14")
RESET_COUNTS = ("reset_counts",)
ZONE = f"NXM_NX_REG{fc.REG_NET:d}[0..15]"

Rule = dict[str, object]
Member = sg_rpc.Member


@dataclass(frozen=True, slots=True)
class PortInfo:
    """The port dict the security-group RPC hands the driver (``device`` is the port id)."""

    device: str
    mac_address: str
    fixed_ips: tuple[str, ...]
    security_groups: tuple[str, ...]
    allowed_address_pairs: tuple[tuple[str, str], ...]  # (mac, ip)
    port_security_enabled: bool = True


def port_info(port: model.Port) -> PortInfo:
    """The RPC's port dict of a model port."""
    return PortInfo(
        device=port.id, mac_address=port.mac_address,
        fixed_ips=tuple(f.ip_address for f in port.fixed_ips),
        security_groups=port.security_groups,
        allowed_address_pairs=tuple((a.mac_address, a.ip_address)
                                    for a in port.allowed_address_pairs),
        port_security_enabled=port.port_security_enabled)


@dataclass(eq=False)
class SecurityGroup:
    """A group as the driver holds it: its rules split into raw and remote ones."""

    id: str
    raw_rules: list[Rule] = field(default_factory=list)
    remote_rules: list[Rule] = field(default_factory=list)
    members: dict[str, list[Member]] = field(default_factory=dict)

    def update_rules(self, sg_rules: list[Rule]) -> None:
        """Protocols as numbers (``icmp`` in an IPv6 rule is ICMPv6), raw vs remote rules."""
        self.raw_rules, self.remote_rules = [], []
        for rule in sg_rules:
            rule = dict(rule)
            protocol = rule.get("protocol")
            if protocol is not None:
                text = str(protocol)
                if text.isdigit():
                    rule["protocol"] = int(text)
                elif rule.get("ethertype") == "IPv6" and text == "icmp":
                    rule["protocol"] = fc.PROTO_NUM_IPV6_ICMP
                else:
                    rule["protocol"] = fc.IP_PROTOCOL_MAP.get(text, text)
            if "remote_group_id" in rule:
                self.remote_rules.append(rule)
            else:
                self.raw_rules.append(rule)


@dataclass(eq=False)
class OFPort:
    """A filtered port: its ofport, local VLAN and network from br-int's Port other_config."""

    id: str
    ofport: int
    mac: str
    vlan_tag: int
    segment_id: int | None
    network_type: str | None
    fixed_ips: tuple[str, ...]
    allowed_pairs_v4: set[tuple[str, str]]
    allowed_pairs_v6: set[tuple[str, str]]
    sec_groups: list[SecurityGroup] = field(default_factory=list)

    @property
    def lla_address(self) -> str:
        return ipv6_lla(self.mac)

    @property
    def all_allowed_macs(self) -> list[str]:
        """The port's MAC and those of its allowed address pairs (sorted: a set in Neutron)."""
        return sorted({m for m, _ip in self.allowed_pairs_v4 | self.allowed_pairs_v6}
                      | {self.mac})

    @property
    def ipv4_addresses(self) -> list[str]:
        return [ip for ip in self.fixed_ips if ipaddress.ip_address(ip).version == 4]

    @property
    def ipv6_addresses(self) -> list[str]:
        return [ip for ip in self.fixed_ips if ipaddress.ip_address(ip).version == 6]


class ConjIdMap:
    """Conjunction ids per (sg, remote group, direction, ethertype): blocks of 8 (four
    priority offsets, two ids each), the first after an empty bridge being 16."""

    CONJ_ID_BLOCK_SIZE = 8
    MAX_CONJ_ID = 2**32 - 8

    def __init__(self, conj_id_max: int = 0) -> None:
        self.id_map: dict[tuple[str, str, str, str], int] = {}
        self._max_id = self._next_max_id(conj_id_max - conj_id_max % self.CONJ_ID_BLOCK_SIZE)

    def _next_max_id(self, max_id: int) -> int:
        max_id += self.CONJ_ID_BLOCK_SIZE
        return 0 if max_id >= self.MAX_CONJ_ID else max_id

    def get_conj_id(self, sg_id: str, remote_id: str, direction: str, ethertype: str) -> int:
        """The base id of the tuple, allocated at first sight."""
        key = (sg_id, remote_id, direction, ethertype)
        if key not in self.id_map:
            self._max_id = self._next_max_id(self._max_id)
            self.id_map[key] = self._max_id
        return self.id_map[key]


class ConjIPFlowManager:
    """The ``conjunction(id,1/2)`` flows of the member addresses, per network (VLAN tag)."""

    def __init__(self, driver: OVSFirewallDriver) -> None:
        self.conj_id_map = ConjIdMap()
        self.driver = driver
        # vlan_tag -> (direction, ethertype) -> remote id -> conj ids
        self.conj_ids: dict[int, dict[tuple[str, str], dict[str, set[int]]]] = defaultdict(dict)
        # (vlan, direction, ethertype, ip, mac) -> (conj ids, deferred) of the flows installed
        self._installed: dict[tuple[int, str, str, str, str | None],
                              tuple[tuple[int, ...], bool]] = {}

    def add(self, vlan_tag: int, sg_id: str, remote_id: str, direction: str, ethertype: str,
            priority_offset: int) -> int:
        """The conj id of a rule on a network (its base id + 2 per priority offset)."""
        conj_id = self.conj_id_map.get_conj_id(sg_id, remote_id, direction, ethertype) + (
            priority_offset * 2)
        by_remote = self.conj_ids[vlan_tag].setdefault((direction, ethertype), defaultdict(set))
        by_remote[remote_id].add(conj_id)
        return conj_id

    def update_flows_for_vlan(self, vlan_tag: int) -> None:
        """Install the member flows of ``vlan_tag``: per member address, its conj ids (of every
        remote group it is in) grouped by priority. As Neutron, addresses whose ids did not
        change since the last call are skipped: their flows (a function of the address, its ids
        and the batch's flags) are already installed exactly so."""
        for (direction, ethertype), by_remote in self.conj_ids[vlan_tag].items():
            members: list[Member] = []
            ip_to_conj: dict[str, set[int]] = defaultdict(set)
            for remote_id, conj_id_set in by_remote.items():
                group = self.driver.sg_port_map.get(remote_id)
                if group is None or not group.members:
                    continue
                for member in group.members.get(ethertype, []):
                    members.append(member)
                    ip_to_conj[addr.cidr(member[0])].update(
                        conj_id_set)
            for ip, mac in dict.fromkeys(members):
                conj_ids = sorted(ip_to_conj[addr.cidr(ip)])
                key = (vlan_tag, direction, ethertype, ip, mac)
                done = (tuple(conj_ids), self.driver.deferred)
                if self._installed.get(key) == done:
                    continue
                self._installed[key] = done
                for flow in rules.create_flows_for_ip_address_and_mac(
                        ip, mac, direction, ethertype, vlan_tag, conj_ids):
                    self.driver.add_flow(flow)


class OVSFirewallDriver:
    """The driver on one host's br-int (a `BridgeBuilder` the OVS agent has bound ports on)."""

    provides_arp_spoofing_protection = True
    permitted_ethertypes: tuple[int, ...] = ()  # [SECURITYGROUP] permitted_ethertypes default

    def __init__(self, int_br: BridgeBuilder) -> None:
        self.int_br = int_br
        self.sg_port_map: dict[str, SecurityGroup] = {}
        self.ports: dict[str, OFPort] = {}
        self.conj_ip_manager = ConjIPFlowManager(self)
        self._deferred = False
        int_br.add_protocols(*REQUIRED_PROTOCOLS)  # initialize_bridge
        self._initialize_firewall()

    @property
    def deferred(self) -> bool:
        """Inside a deferred (bundled) batch: flows carry no ``reset_counts``."""
        return self._deferred

    # -- flows ---------------------------------------------------------------------------------
    def add_flow(self, params: FlowParams) -> None:
        """``_add_flow``: outside a deferred batch Neutron's ``ovs-ofctl add-flows`` speaks
        OpenFlow 1.0, which marks the flow ``reset_counts``; batches go as a bundle."""
        params = dict(params)
        table = int(str(params.pop("table")))
        priority = int(str(params.pop("priority", 1)))
        actions = to_actions(str(params.pop("actions")))
        self.int_br.add_flow(table, priority, to_match(params), actions,
                             () if self._deferred else RESET_COUNTS)

    def _initialize_firewall(self) -> None:
        for table in c.OVS_FIREWALL_TABLES:  # _drop_all_unmatched_flows
            self.add_flow({"table": table, "priority": 0, "actions": "drop"})
        self.add_flow({"table": c.BASE_EGRESS_TABLE, "priority": 110,
                       "ct_state": fc.OF_STATE_TRACKED,
                       "actions": f"ct_clear,resubmit(,{c.BASE_EGRESS_TABLE:d})"})
        self.add_flow({"table": c.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE, "priority": 1,
                       "actions": "normal"})
        self.add_flow({"table": c.ACCEPTED_EGRESS_TRAFFIC_TABLE, "priority": 1,
                       "actions": f"resubmit(,{c.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE:d})"})
        for table in (c.ACCEPTED_INGRESS_TRAFFIC_TABLE, c.DROPPED_TRAFFIC_TABLE):
            self.add_flow({"table": table, "priority": 0, "actions": "drop"})

    # -- the security-group agent's calls --------------------------------------------------------
    def update_security_group_rules(self, sg_id: str, sg_rules: list[Rule]) -> None:
        """The group's rules as the RPC lists them."""
        self.sg_port_map.setdefault(sg_id, SecurityGroup(sg_id)).update_rules(sg_rules)

    def update_security_group_members(self, sg_id: str, members: dict[str, list[Member]]
                                      ) -> None:
        """Per ethertype, the (ip, mac) of every port in the group (allowed pairs included)."""
        self.sg_port_map.setdefault(sg_id, SecurityGroup(sg_id)).members = members

    def setup_port_filters(self, cloud: model.Cloud, plan: HostPlan) -> None:
        """The agent's first ``setup_port_filters``: every port bound to the host, the
        network's own (``network:*``, trusted: the RPC leaves them out) after the others."""
        devices = [v.port for v in plan.vifs if not v.is_network_owned]
        trusted = [v.port.id for v in plan.vifs if v.is_network_owned]
        groups = sg_rpc.security_groups(cloud, devices)
        for sg_id, sg_rules in groups.items():
            self.update_security_group_rules(sg_id, sg_rules)
        for remote_id, members in sg_rpc.member_ips(cloud, groups).items():
            self.update_security_group_members(remote_id, members)
        self.prepare_devices_filter([port_info(p) for p in devices], trusted)

    def prepare_devices_filter(self, ports: list[PortInfo], trusted: list[str]) -> None:
        """``_apply_port_filter`` of an agent start: the ports' filters, then trusted ports."""
        self._deferred = True
        for port in ports:
            self.prepare_port_filter(port)
        for port_id in trusted:
            self._initialize_egress_no_port_security(port_id)
        self._deferred = False

    def prepare_port_filter(self, port: PortInfo) -> None:
        """The "skip" path for port security off, else the port's base flows and rules."""
        if not port.port_security_enabled:
            self._initialize_egress_no_port_security(port.device)
            return
        of_port = self._create_of_port(port)
        if of_port is None:
            return
        self.ports[port.device] = of_port
        self.initialize_port_flows(of_port)
        self.add_flows_from_rules(of_port)

    # -- ports ---------------------------------------------------------------------------------
    def _ovs_port(self, port_id: str) -> tuple[int, str, dict[str, str]] | None:
        """(ofport, attached-mac, Port other_config) of the VIF whose iface-id is ``port_id``."""
        for p in self.int_br.ports:
            if p.external_id("iface-id") == port_id:
                return p.ofport, addr.norm_mac(p.external_id("attached-mac") or ""), dict(
                    p.other_config)
        return None

    def _create_of_port(self, port: PortInfo) -> OFPort | None:
        found = self._ovs_port(port.device)
        if found is None or "tag" not in found[2]:
            return None  # OVSFWPortNotFound / OVSFWTagNotFound: logged and skipped
        ofport, mac, other = found
        segment = other.get("segmentation_id") if other.get("network_type") == "vlan" else None
        pairs = {(addr.norm_mac(m), ip) for m, ip in port.allowed_address_pairs}
        v4 = {p for p in pairs if ipaddress.ip_network(p[1], strict=False).version == 4}
        v6 = {p for p in pairs if ipaddress.ip_network(p[1], strict=False).version == 6}
        of_port = OFPort(port.device, ofport, mac, int(other["tag"]),
                         int(segment) if segment else None, other.get("network_type"),
                         port.fixed_ips, v4, v6)
        of_port.allowed_pairs_v6.add((mac, of_port.lla_address))  # OFPort.update
        of_port.sec_groups = [self.sg_port_map.setdefault(sg, SecurityGroup(sg))
                              for sg in port.security_groups]
        return of_port

    def _initialize_egress_no_port_security(self, port_id: str) -> None:
        found = self._ovs_port(port_id)
        if found is None or "tag" not in found[2]:
            return
        ofport, _mac, other = found
        vlan_tag = int(other["tag"])
        self.add_flow({"table": c.TRANSIENT_TABLE, "priority": 100, "in_port": ofport,
                       "actions": f"set_field:{ofport:d}->reg{fc.REG_PORT:d},"
                                  f"set_field:{vlan_tag:d}->reg{fc.REG_NET:d},"
                                  f"resubmit(,{c.ACCEPT_OR_INGRESS_TABLE:d})"})
        self.add_flow({"table": c.ACCEPT_OR_INGRESS_TABLE, "priority": 80, "reg_port": ofport,
                       "actions": f"resubmit(,{c.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE:d})"})

    def install_physical_direct_flow(self, mac: str, segment_id: int | None, ofport: int,
                                     local_vlan: int, network_type: str | None) -> None:
        """Table 60: a VLAN/flat port's MAC straight to ingress, by the segment's VLAN."""
        actions = (f"set_field:{ofport:d}->reg{fc.REG_PORT:d},"
                   f"set_field:{local_vlan:d}->reg{fc.REG_NET:d},")
        if network_type == "vlan":
            self.add_flow({"table": c.TRANSIENT_TABLE, "priority": 90, "dl_dst": mac,
                           "dl_vlan": f"{segment_id or 0:#x}",
                           "actions": actions + f"strip_vlan,resubmit(,{c.BASE_INGRESS_TABLE:d})"})
        elif network_type == "flat":
            self.add_flow({"table": c.TRANSIENT_TABLE, "priority": 90, "dl_dst": mac,
                           "vlan_tci": c.FLAT_VLAN_TCI,
                           "actions": actions + f"resubmit(,{c.BASE_INGRESS_TABLE:d})"})

    def initialize_port_flows(self, port: OFPort) -> None:
        """Table 60 (egress by in_port, ingress by MAC and VLAN), then 71/73 and 81."""
        regs = (f"set_field:{port.ofport:d}->reg{fc.REG_PORT:d},"
                f"set_field:{port.vlan_tag:d}->reg{fc.REG_NET:d},")
        self.add_flow({"table": c.TRANSIENT_TABLE, "priority": 100, "in_port": port.ofport,
                       "actions": regs + f"resubmit(,{c.BASE_EGRESS_TABLE:d})"})
        for mac in port.all_allowed_macs:
            self.install_physical_direct_flow(mac, port.segment_id, port.ofport, port.vlan_tag,
                                              port.network_type)
            self.add_flow({"table": c.TRANSIENT_TABLE, "priority": 90, "dl_dst": mac,
                           "dl_vlan": f"{port.vlan_tag:#x}",
                           "actions": regs + f"strip_vlan,resubmit(,{c.BASE_INGRESS_TABLE:d})"})
        self._initialize_egress(port)
        self._initialize_ingress(port)

    def _egress(self, port: OFPort, priority: int, actions: str, **match: object) -> None:
        self.add_flow({"table": c.BASE_EGRESS_TABLE, "priority": priority,
                       "in_port": port.ofport, "reg_port": port.ofport, **match,
                       "actions": actions})

    def _initialize_egress_ipv6_icmp(self, port: OFPort,
                                     pairs: set[tuple[str, str]]) -> None:
        normal = f"resubmit(,{c.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE:d})"
        for mac, ip in sorted(pairs | {(port.mac, port.lla_address)}):
            for icmp_type in fc.ICMPV6_ALLOWED_EGRESS_TYPES:
                self._egress(port, 95, normal, dl_type=fc.ETHERTYPE_IPV6,
                             nw_proto=fc.PROTO_NUM_IPV6_ICMP, icmp_type=icmp_type, dl_src=mac,
                             ipv6_src=ip)
            for icmp_type in fc.ICMPV6_RESTRICTED_EGRESS_TYPES:
                self._egress(port, 95, normal, dl_type=fc.ETHERTYPE_IPV6,
                             nw_proto=fc.PROTO_NUM_IPV6_ICMP, icmp_type=icmp_type,
                             nd_target=ip)

    def _initialize_egress(self, port: OFPort) -> None:
        """Table 71 (what may leave the port) and 73 (to a local port, or accepted)."""
        normal = f"resubmit(,{c.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE:d})"
        to_rules = f"ct(table={c.RULES_EGRESS_TABLE:d},zone={ZONE})"
        dropped = f"resubmit(,{c.DROPPED_TRAFFIC_TABLE:d})"
        v4 = port.allowed_pairs_v4 | {(port.mac, ip) for ip in port.ipv4_addresses}
        for mac, ip in sorted(v4):
            self._egress(port, 95, normal, dl_src=mac, dl_type=fc.ETHERTYPE_ARP, arp_spa=ip)
            self._egress(port, 95, normal, dl_type=fc.ETHERTYPE_RARP, dl_src=mac)
            self._egress(port, 65, to_rules, dl_type=fc.ETHERTYPE_IP, dl_src=mac, nw_src=ip)
        v6 = port.allowed_pairs_v6 | {(port.mac, ip) for ip in port.ipv6_addresses}
        self._initialize_egress_ipv6_icmp(port, v6)
        for mac, ip in sorted(v6):
            self._egress(port, 65, to_rules, dl_type=fc.ETHERTYPE_IPV6, dl_src=mac, ipv6_src=ip)
        accept_or_ingress = f"resubmit(,{c.ACCEPT_OR_INGRESS_TABLE:d})"
        for mac, ip in sorted(v4 | {(port.mac, "0.0.0.0")}):  # DHCP discovery
            self._egress(port, 80, accept_or_ingress, dl_type=fc.ETHERTYPE_IP, dl_src=mac,
                         nw_src=ip, nw_proto=fc.PROTO_NUM_UDP, tp_src=68, tp_dst=67)
        for mac, ip in sorted(v6):
            self._egress(port, 80, accept_or_ingress, dl_type=fc.ETHERTYPE_IPV6, dl_src=mac,
                         ipv6_src=ip, nw_proto=fc.PROTO_NUM_UDP, tp_src=546, tp_dst=547)
        for dl_type, sport, dport in ((fc.ETHERTYPE_IP, 67, 68), (fc.ETHERTYPE_IPV6, 547, 546)):
            self._egress(port, 70, dropped, dl_type=dl_type, nw_proto=fc.PROTO_NUM_UDP,
                         tp_src=sport, tp_dst=dport)  # no DHCP server on an instance
        self._egress(port, 70, dropped, dl_type=fc.ETHERTYPE_IPV6,
                     nw_proto=fc.PROTO_NUM_IPV6_ICMP, icmp_type=fc.ICMPV6_TYPE_RA)
        for ethertype in self.permitted_ethertypes:
            self.add_flow({"table": c.BASE_EGRESS_TABLE, "priority": 95, "dl_type": ethertype,
                           "reg_port": port.ofport, "actions": normal})
        self._egress(port, 10, f"ct_clear,{dropped}")
        for mac in port.all_allowed_macs:
            self.add_flow({"table": c.ACCEPT_OR_INGRESS_TABLE, "priority": 100, "dl_dst": mac,
                           "reg_net": port.vlan_tag,
                           "actions": f"set_field:{port.ofport:d}->reg{fc.REG_PORT:d},"
                                      f"resubmit(,{c.BASE_INGRESS_TABLE:d})"})
        for dl_type in (fc.ETHERTYPE_IP, fc.ETHERTYPE_IPV6):
            self.add_flow({"table": c.ACCEPT_OR_INGRESS_TABLE, "priority": 90,
                           "dl_type": dl_type, "reg_port": port.ofport,
                           "ct_state": fc.OF_STATE_NEW_NOT_ESTABLISHED,
                           "actions": f"ct(commit,zone={ZONE}),"
                                      f"resubmit(,{c.ACCEPTED_EGRESS_TRAFFIC_TABLE:d})"})
        self.add_flow({"table": c.ACCEPT_OR_INGRESS_TABLE, "priority": 80,
                       "reg_port": port.ofport, "actions": normal})

    def _ingress(self, port: OFPort, priority: int, actions: str | None = None,
                 **match: object) -> None:
        self.add_flow({"table": c.BASE_INGRESS_TABLE, "priority": priority,
                       "reg_port": port.ofport, **match,
                       "actions": actions or f"output:{port.ofport:d}"})

    def _initialize_ingress(self, port: OFPort) -> None:
        """Table 81: ARP, ICMPv6 (MLD query, NS, NA, RA) and DHCP offers straight to the port;
        other IP through conntrack (zone = reg6) into 82."""
        self._ingress(port, 100, dl_type=fc.ETHERTYPE_ARP)
        for ethertype in self.permitted_ethertypes:
            self._ingress(port, 100, dl_type=ethertype)
        for icmp_type in (*fc.ICMPV6_ALLOWED_INGRESS_TYPES, fc.ICMPV6_TYPE_RA):
            self._ingress(port, 100, dl_type=fc.ETHERTYPE_IPV6,
                          nw_proto=fc.PROTO_NUM_IPV6_ICMP, icmp_type=icmp_type)
        for dl_type, sport, dport in ((fc.ETHERTYPE_IP, 67, 68), (fc.ETHERTYPE_IPV6, 547, 546)):
            self._ingress(port, 95, dl_type=dl_type, nw_proto=fc.PROTO_NUM_UDP, tp_src=sport,
                          tp_dst=dport)
        for dl_type in (fc.ETHERTYPE_IP, fc.ETHERTYPE_IPV6):
            self._ingress(port, 90, dl_type=dl_type, ct_state=fc.OF_STATE_NOT_TRACKED,
                          actions=f"ct(table={c.RULES_INGRESS_TABLE:d},zone={ZONE})")
        self._ingress(port, 80, ct_state=fc.OF_STATE_TRACKED,
                      actions=f"resubmit(,{c.RULES_INGRESS_TABLE:d})")

    def _initialize_tracked(self, port: OFPort, table: int, accepted: str) -> None:
        """Tables 72/82: invalid and ``ct_mark=0x1`` dropped, replies and related accepted,
        other established connections re-committed with ``ct_mark=0x1``, the rest dropped."""
        dropped = f"resubmit(,{c.DROPPED_TRAFFIC_TABLE:d})"
        self.add_flow({"table": table, "priority": 50, "ct_state": fc.OF_STATE_INVALID,
                       "actions": dropped})
        self.add_flow({"table": table, "priority": 50, "reg_port": port.ofport,
                       "ct_mark": fc.CT_MARK_INVALID, "actions": dropped})
        for state in (fc.OF_STATE_ESTABLISHED_REPLY, fc.OF_STATE_RELATED):
            self.add_flow({"table": table, "priority": 50, "ct_state": state,
                           "ct_mark": fc.CT_MARK_NORMAL, "reg_port": port.ofport,
                           "ct_zone": port.vlan_tag, "actions": accepted})
        self.add_flow({"table": table, "priority": 40, "reg_port": port.ofport,
                       "ct_state": fc.OF_STATE_NOT_ESTABLISHED, "actions": dropped})
        for dl_type in (fc.ETHERTYPE_IP, fc.ETHERTYPE_IPV6):
            self.add_flow({"table": table, "priority": 40, "dl_type": dl_type,
                           "reg_port": port.ofport, "ct_state": fc.OF_STATE_ESTABLISHED,
                           "actions": f"ct(commit,zone={ZONE},"
                                      f"exec(set_field:{fc.CT_MARK_INVALID}->ct_mark))"})

    # -- rules ---------------------------------------------------------------------------------
    def add_flows_from_rules(self, port: OFPort) -> None:
        """Tables 72 (egress) and 82 (ingress) of the port's security groups."""
        self._initialize_tracked(port, c.RULES_INGRESS_TABLE, f"output:{port.ofport:d}")
        self._initialize_tracked(port, c.RULES_EGRESS_TABLE,
                                 f"resubmit(,{c.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE:d})")
        for sec_group in port.sec_groups:
            for rule in sec_group.raw_rules:
                for flow in rules.create_flows_from_rule_and_port(rule, port):
                    for accept in rules.create_accept_flows(flow):
                        self.add_flow(accept)
        self._add_non_ip_conj_flows(port)
        self.conj_ip_manager.update_flows_for_vlan(port.vlan_tag)

    def _add_non_ip_conj_flows(self, port: OFPort) -> None:
        """The ``conjunction(id,2/2)`` and ``conj_id=`` accept flows of remote-group rules."""
        port_rules: dict[tuple[str, str, object], list[tuple[Rule, int]]] = defaultdict(list)
        for sec_group in port.sec_groups:
            for rule in sec_group.remote_rules:
                direction, ethertype = str(rule["direction"]), str(rule["ethertype"])
                conj_id = self.conj_ip_manager.add(
                    port.vlan_tag, sec_group.id, str(rule["remote_group_id"]), direction,
                    ethertype, rules.flow_priority_offset(rule))
                rule1 = {k: v for k, v in rule.items() if k != "remote_group_id"}
                port_rules[(direction, ethertype, rule.get("protocol"))].append((rule1, conj_id))
        for (direction, ethertype, protocol), rule_conj_list in port_rules.items():
            all_conj_ids = list(dict.fromkeys(conj_id for _r, conj_id in rule_conj_list))
            if protocol in fc.PROTOCOLS_WITH_PORTS:
                merged = rules.merge_port_ranges(rule_conj_list)
            else:
                merged = rules.merge_common_rules(rule_conj_list)
            for rule, conj_ids in merged:
                flows = rules.create_flows_from_rule_and_port(rule, port, conjunction=True)
                for flow in rules.substitute_conjunction_actions(flows, 2, conj_ids):
                    self.add_flow(flow)
            for conj_id in all_conj_ids:
                for flow in rules.create_conj_flows(port, conj_id, direction, ethertype):
                    flow["actions"] = (f"set_field:{flow['conj_id']}->reg"
                                       f"{fc.REG_REMOTE_GROUP:d},{flow['actions']}")
                    self.add_flow(flow)
