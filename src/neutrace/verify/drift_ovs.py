"""The OVS side of `neutrace.verify.drift` (layer 4): bridges, ports, tags and flows of one host
set beside the agents'.

Flows are compared as Neutron's agent would see them, not as numbers happen to fall:

- cookies are ignored (each run of the agent draws a new one), also the one a ``learn()``
  action gives the flows it learns; an extra flow whose cookie is
  not the one the bridge's other flows carry is *stale*, left by an earlier run of the agent;
- OpenFlow port numbers (``in_port=2``, ``output:3``, the openvswitch firewall's ``reg5``) are
  read as the ports' names (OVS numbers ports in the order they were added);
- local VLAN ids are allocated per host by the agent, so the host's are read through its own
  mapping network -> local VLAN (the agent's record in each port's other_config: ``net_uuid``
  and ``tag``; else the tags of the ports the agents would bind to that network) and compared
  as the agents' ids: a port whose tag is not its network's local VLAN is reported as a wrong
  local VLAN, the dead VLAN 4095 as a dead port.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from neutrace.agents import constants as C
from neutrace.dataplane import Flow, HostState, OvsBridge, OvsPort
from neutrace.drift import (
    BridgeDifference,
    Change,
    DeadPort,
    Difference,
    FloodEntryMissing,
    FlowDifference,
    PortDifference,
    PortRole,
    PortSettingDifference,
    Tolerance,
    Tolerated,
    WrongLocalVlan,
)
from neutrace.syntax.ovsdump import OFPP_LOCAL

#: Neutron's names of the tables, per bridge kind (``int``, ``tun``, ``phys``).
TABLE_NAMES: dict[str, dict[int, str]] = {
    "int": {C.LOCAL_SWITCHING: "LOCAL_SWITCHING", C.DVR_TO_SRC_MAC: "DVR_TO_SRC_MAC",
            C.DVR_TO_SRC_MAC_PHYSICAL: "DVR_TO_SRC_MAC_PHYSICAL",
            C.ARP_DVR_MAC_TO_DST_MAC: "ARP_DVR_MAC_TO_DST_MAC",
            C.ARP_DVR_MAC_TO_DST_MAC_PHYSICAL: "ARP_DVR_MAC_TO_DST_MAC_PHYSICAL",
            C.CANARY_TABLE: "CANARY_TABLE", C.ARP_SPOOF_TABLE: "ARP_SPOOF_TABLE",
            C.MAC_SPOOF_TABLE: "MAC_SPOOF_TABLE", C.LOCAL_EGRESS_TABLE: "LOCAL_EGRESS_TABLE",
            C.LOCAL_IP_TABLE: "LOCAL_IP_TABLE", C.TRANSIENT_TABLE: "TRANSIENT_TABLE",
            C.LOCAL_MAC_DIRECT: "LOCAL_MAC_DIRECT",
            C.TRANSIENT_EGRESS_TABLE: "TRANSIENT_EGRESS_TABLE",
            C.BASE_EGRESS_TABLE: "BASE_EGRESS_TABLE", C.RULES_EGRESS_TABLE: "RULES_EGRESS_TABLE",
            C.ACCEPT_OR_INGRESS_TABLE: "ACCEPT_OR_INGRESS_TABLE",
            C.BASE_INGRESS_TABLE: "BASE_INGRESS_TABLE",
            C.RULES_INGRESS_TABLE: "RULES_INGRESS_TABLE",
            C.DHCP_IPV4_TABLE: "DHCP_IPV4_TABLE", C.DHCP_IPV6_TABLE: "DHCP_IPV6_TABLE",
            C.ACCEPTED_EGRESS_TRAFFIC_TABLE: "ACCEPTED_EGRESS_TRAFFIC_TABLE",
            C.ACCEPTED_INGRESS_TRAFFIC_TABLE: "ACCEPTED_INGRESS_TRAFFIC_TABLE",
            C.DROPPED_TRAFFIC_TABLE: "DROPPED_TRAFFIC_TABLE",
            C.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE: "ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE"},
    "tun": {0: "LOCAL_SWITCHING", C.DVR_PROCESS: "DVR_PROCESS",
            C.PATCH_LV_TO_TUN: "PATCH_LV_TO_TUN", C.GRE_TUN_TO_LV: "GRE_TUN_TO_LV",
            C.VXLAN_TUN_TO_LV: "VXLAN_TUN_TO_LV", C.GENEVE_TUN_TO_LV: "GENEVE_TUN_TO_LV",
            C.DVR_NOT_LEARN: "DVR_NOT_LEARN", C.LEARN_FROM_TUN: "LEARN_FROM_TUN",
            C.UCAST_TO_TUN: "UCAST_TO_TUN", C.ARP_RESPONDER: "ARP_RESPONDER",
            C.FLOOD_TO_TUN: "FLOOD_TO_TUN"},
    "phys": {0: "LOCAL_SWITCHING", C.DVR_PROCESS_PHYSICAL: "DVR_PROCESS_PHYSICAL",
             C.LOCAL_VLAN_TRANSLATION: "LOCAL_VLAN_TRANSLATION",
             C.DVR_NOT_LEARN_PHYSICAL: "DVR_NOT_LEARN_PHYSICAL"},
}

#: The Interface external_ids the OVS agent reads (Nova's vm-uuid and the status are not
#: Neutron's programming).
NEUTRON_EXTERNAL_IDS = frozenset({"iface-id", "attached-mac"})
_NUM = r"(0x[0-9a-fA-F]+|\d+)"
_OUTPUT_RE = re.compile(r"(?<![\w:])output:(\d+)")
_MOD_VLAN_RE = re.compile(r"mod_vlan_vid:(\d+)")
_SET_VLAN_RE = re.compile(rf"set_field:{_NUM}->vlan_vid")
_REG5_RE = re.compile(rf"(?:set_field:{_NUM}->reg5|load:{_NUM}->NXM_NX_REG5\[\])")
_REG6_RE = re.compile(rf"(?:set_field:{_NUM}->reg6|load:{_NUM}->NXM_NX_REG6\[\])")


def bridge_kind(bridge: OvsBridge) -> str:
    """``int``, ``tun`` or ``phys``: which of the agent's bridges this is."""
    if bridge.name == C.INTEGRATION_BRIDGE:
        return "int"
    if bridge.name == C.TUNNEL_BRIDGE or any(p.is_tunnel for p in bridge.ports):
        return "tun"
    return "phys"


def port_role(port: OvsPort) -> PortRole:
    """What ``port`` is for, by Neutron's device names."""
    n = port.name
    if port.is_tunnel:
        return PortRole.TUNNEL
    if port.type == "patch":
        return PortRole.PATCH
    if n.startswith((C.QVO_PREFIX, "tap")) and port.type != "internal":
        return PortRole.VM
    if n.startswith((C.INTERNAL_DEV_PREFIX, C.EXTERNAL_DEV_PREFIX, C.SNAT_INT_DEV_PREFIX,
                     "fg-", "rfp-")):
        return PortRole.ROUTER
    if n.startswith("tap"):
        return PortRole.DHCP
    if port.type == "" and not port.external_id("iface-id"):
        return PortRole.NIC
    return PortRole.OTHER


def _fmt(value: int, like: str) -> str:
    return hex(value) if like.lower().startswith("0x") else str(value)


#: ``ovs-ofctl --names`` quotes a port name it prints (``in_port="patch-int"``).
_QUOTED_RE = re.compile(r'"([^"\\]*)"')


#: The cookie a learn() action gives the flows it learns: the agent's, drawn per run.
_LEARN_COOKIE_RE = re.compile(r"(learn\([^)]*?)cookie=(?:0x[0-9a-fA-F]+|\d+)")


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value


def _int(raw: str) -> int:
    return int(raw, 16) if raw.lower().startswith("0x") else int(raw)


def vlan_map_of(host: HostState) -> dict[str, int]:
    """The host's local VLAN of each network (network id -> VLAN), as the OVS agent recorded
    it in its ports' other_config (``net_uuid``, ``tag``), else their tags."""
    votes: dict[str, Counter[int]] = {}
    for b in host.ovs_bridges:
        for p in b.ports:
            oc = dict(p.other_config)
            net = oc.get("net_uuid")
            tag = oc.get("tag")
            vid = int(tag) if tag and tag.isdigit() else p.tag
            if net and vid is not None and vid != C.DEAD_VLAN_TAG:
                votes.setdefault(net, Counter())[vid] += 1
    return {n: c.most_common(1)[0][0] for n, c in votes.items()}


def port_networks(host: HostState) -> dict[str, str]:
    """Port name -> the network (id) the agent bound it to (other_config ``net_uuid``)."""
    return {p.name: dict(p.other_config)["net_uuid"] for b in host.ovs_bridges
            for p in b.ports if dict(p.other_config).get("net_uuid")}


@dataclass
class FlowNormalizer:
    """Reads a bridge's flows as names and the agents' local VLANs (see the module)."""

    ofports: Mapping[int, str]
    vlans: Mapping[int, int] = field(default_factory=dict)  # host's VLAN -> the agents'

    def vlan(self, v: int) -> int:
        return self.vlans.get(v, v)

    def port(self, n: int) -> str:
        if n == OFPP_LOCAL:
            return "LOCAL"
        return self.ofports.get(n, f"#{n}")

    @staticmethod
    def _sub(rx: re.Pattern[str], text: str, fn: Callable[[int, str], str]) -> str:
        """``text`` with the number each match of ``rx`` holds replaced by ``fn(n, raw)``."""
        def one(m: re.Match[str]) -> str:
            for i, raw in enumerate(m.groups(), 1):
                if raw is not None:
                    s, e = m.span(i)
                    o = m.start()
                    return m.group(0)[:s - o] + fn(_int(raw), raw) + m.group(0)[e - o:]
            return m.group(0)
        return rx.sub(one, text)

    def match_value(self, key: str, value: str) -> str:
        """One match field's value, read as names and the agents' VLANs."""
        try:
            if key == "in_port" and value.isdigit():
                return self.port(int(value))
            if key == "reg5" and value and "/" not in value:
                return self.port(_int(value))
            if key in ("dl_vlan", "vlan_vid") and value.isdigit():
                return str(self.vlan(int(value)))
            if key == "reg6" and value and "/" not in value:
                return _fmt(self.vlan(_int(value)), value)
            if key == "vlan_tci" and value:
                v, _, mask = value.partition("/")
                n = _int(v)
                if n & 0x1000 and (not mask or _int(mask) & 0xfff == 0xfff):
                    out = _fmt(0x1000 | self.vlan(n & 0xfff), v)
                    return f"{out}/{mask}" if mask else out
        except ValueError:
            return value
        return value

    def actions(self, text: str) -> str:
        """The action text, read as names and the agents' VLANs."""
        text = self._sub(_OUTPUT_RE, text, lambda n, _: self.port(n))
        text = self._sub(_MOD_VLAN_RE, text, lambda v, _: str(self.vlan(v)))
        text = self._sub(_SET_VLAN_RE, text, lambda v, raw: _fmt(
            (v & 0x1000) | self.vlan(v & 0xfff), raw))
        text = self._sub(_REG5_RE, text, lambda n, _: self.port(n))
        return self._sub(_REG6_RE, text, lambda v, raw: _fmt(self.vlan(v), raw))

    def flow(self, f: Flow) -> Flow:
        """``f`` as compared: no cookie, names, the agents' VLANs, and each run of outputs in
        name order (a flood list is a set: the agent writes it in ofport order)."""
        return replace(f, cookie=0, match=tuple(
            (k, self.match_value(k, _unquoted(v))) for k, v in f.match),
            actions=_sorted_outputs(self.actions(_LEARN_COOKIE_RE.sub(
                r"\1cookie=*", _QUOTED_RE.sub(r"\1", f.actions)))))


def _top_level(actions: str) -> list[str]:
    """The action list split at its top-level commas."""
    out, depth, cur = [], 0, ""
    for ch in actions:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    out.append(cur)
    return out


def _sorted_outputs(actions: str) -> str:
    parts = _top_level(actions)
    out: list[str] = []
    run: list[str] = []
    for p in [*parts, ""]:
        if p.startswith("output:") and not p.startswith("output:NXM") and "[" not in p:
            run.append(p)
            continue
        out += sorted(run)
        run = []
        out.append(p)
    return ",".join(out[:-1])


def _key(f: Flow) -> tuple[object, ...]:
    return (f.table, f.priority, tuple(sorted(f.match)))


def _vlans_in(f: Flow) -> set[int]:
    out: set[int] = set()
    for k, v in f.match:
        if k in ("dl_vlan", "vlan_vid") and v.isdigit():
            out.add(int(v))
    out |= {int(m) for m in _MOD_VLAN_RE.findall(f.actions)}
    return out


@dataclass
class HostOvs:
    """What the OVS comparison of one host needs to know besides the two states."""

    expected: HostState
    actual: HostState
    remote_hosts: Mapping[str, str]  # tunnel IP -> host name
    skip_flows: set[str] = field(default_factory=set)  # bridges whose flows are unknown
    skip_tables: set[tuple[str, int]] = field(default_factory=set)  # (bridge, table) unknown
    skip_ports: bool = False
    out: list[Difference] = field(default_factory=list)
    tolerated: list[Tolerated] = field(default_factory=list)

    def compare(self) -> tuple[tuple[str, int, int | None], ...]:
        """Fill ``out`` and ``tolerated``; return the local VLANs (network, expected,
        actual)."""
        emap, amap = vlan_map_of(self.expected), vlan_map_of(self.actual)
        enets, anets = port_networks(self.expected), port_networks(self.actual)
        for name, net in enets.items():  # ports the host holds without the agent's record
            if net not in amap:
                hit = self.actual.ovs_port(name)
                if hit and hit[1].tag not in (None, C.DEAD_VLAN_TAG) and name not in anets:
                    amap[net] = hit[1].tag
        vmap = {amap[n]: emap[n] for n in emap if n in amap}
        vlans = tuple((n, emap[n], amap.get(n)) for n in sorted(emap, key=lambda n: emap[n]))
        if any(a is not None and a != e for _, e, a in vlans):
            self.tolerated.append(Tolerated(self.expected.name, "br-int",
                                            Tolerance.LOCAL_VLAN_NUMBERS, ", ".join(
                                                f"{n}: {e} -> {a}" for n, e, a in vlans
                                                if a is not None and a != e)))
        for eb in self.expected.ovs_bridges:
            ab = self.actual.bridge(eb.name)
            if ab is None:
                self.out.append(BridgeDifference(self.expected.name, eb.name, Change.MISSING))
                continue
            if not self.skip_ports:
                self._ports(eb, ab, emap, amap, enets)
            if eb.name not in self.skip_flows:
                self._flows(eb, ab, vmap, emap)
        known = {b.name for b in self.expected.ovs_bridges}
        for ab in self.actual.ovs_bridges:
            if ab.name not in known:
                self.out.append(BridgeDifference(self.expected.name, ab.name, Change.EXTRA))
        return vlans

    # -- ports --------------------------------------------------------------------------------

    def _port_fact(self, b: OvsBridge, p: OvsPort, change: Change,
                   net: str | None) -> PortDifference:
        remote = p.option("remote_ip") if p.is_tunnel else None
        return PortDifference(self.expected.name, b.name, p.name, change, port_role(p),
                              p.external_id("iface-id"), net, remote,
                              self.remote_hosts.get(remote or ""))

    def _ports(self, eb: OvsBridge, ab: OvsBridge, emap: Mapping[str, int],
               amap: Mapping[str, int], enets: Mapping[str, str]) -> None:
        host = self.expected.name
        numbers_differ = False
        for ep in eb.ports:
            if ep.ofport == OFPP_LOCAL:
                continue
            ap = ab.port(ep.name)
            net = enets.get(ep.name)
            if ap is None:
                self.out.append(self._port_fact(eb, ep, Change.MISSING, net))
                continue
            numbers_differ |= ap.ofport != ep.ofport
            if ep.tag is not None and ap.tag == C.DEAD_VLAN_TAG and ep.tag != C.DEAD_VLAN_TAG:
                self.out.append(DeadPort(host, eb.name, ep.name, port_role(ep),
                                         ep.external_id("iface-id"), net, emap.get(net or "")))
            elif net is not None and net in amap and ap.tag != amap[net]:
                rec = dict(ap.other_config).get("tag")
                self.out.append(WrongLocalVlan(host, eb.name, ep.name, net, ap.tag, amap[net],
                                               int(rec) if rec and rec.isdigit() else None))
            elif (ep.tag is None) != (ap.tag is None):
                self.out.append(PortSettingDifference(host, eb.name, ep.name, "tag",
                                                      str(ep.tag), str(ap.tag)))
            self._settings(eb.name, ep, ap)
            if ep.mac != ap.mac and ep.mac is not None and ap.mac is not None:
                self.tolerated.append(Tolerated(host, ep.name, Tolerance.PORT_MAC,
                                                f"{ep.mac} -> {ap.mac}"))
        if numbers_differ:
            self.tolerated.append(Tolerated(host, eb.name, Tolerance.OFPORT_NUMBERS))
        names = {p.name for p in eb.ports}
        anets = port_networks(self.actual)
        for ap in ab.ports:
            if ap.ofport != OFPP_LOCAL and ap.name not in names:
                self.out.append(self._port_fact(ab, ap, Change.EXTRA, anets.get(ap.name)))

    def _settings(self, bridge: str, ep: OvsPort, ap: OvsPort) -> None:
        host = self.expected.name
        pairs: list[tuple[str, str, str]] = [
            ("type", ep.type, ap.type),
            ("trunks", ",".join(map(str, ep.trunks)), ",".join(map(str, ap.trunks))),
            ("options", _kv(ep.options), _kv(ap.options))]
        keys = {k for k, _ in ep.external_ids} & NEUTRON_EXTERNAL_IDS
        pairs.append(("external_ids", _kv(tuple(x for x in ep.external_ids if x[0] in keys)),
                      _kv(tuple(x for x in ap.external_ids if x[0] in keys))))
        oc = ("net_uuid", "network_type", "physical_network", "segmentation_id")
        pairs.append(("other_config", _kv(tuple(x for x in ep.other_config if x[0] in oc)),
                      _kv(tuple(x for x in ap.other_config if x[0] in oc))))
        for name, e, a in pairs:
            if e != a and not (name == "other_config" and not ap.other_config):
                self.out.append(PortSettingDifference(host, bridge, ep.name, name, e, a))

    # -- flows --------------------------------------------------------------------------------

    def _flows(self, eb: OvsBridge, ab: OvsBridge, vmap: Mapping[int, int],
               emap: Mapping[str, int]) -> None:
        host = self.expected.name
        names = TABLE_NAMES[bridge_kind(eb)]
        en = FlowNormalizer({p.ofport: p.name for p in eb.ports})
        # OVS keeps the flows that name a deleted port's number: read them as that port's
        # (its absence is the port's difference, not one per flow)
        aports = {p.ofport: p.name for p in ab.ports}
        present = {p.name for p in ab.ports}
        gone = {p.ofport: p.name for p in eb.ports
                if p.name not in present and p.ofport not in aports}
        an = FlowNormalizer(gone | aports, vmap)
        nets_of = {v: n for n, v in emap.items()}
        skip = {t for b, t in self.skip_tables if b == eb.name}
        expected = {_key(f): f for f in (en.flow(x) for x in eb.flows) if f.table not in skip}
        actual: dict[tuple[object, ...], tuple[Flow, Flow]] = {}
        for x in ab.flows:
            if x.table in skip:
                continue
            f = an.flow(x)
            actual[_key(f)] = (f, x)
        cookies = Counter(x.cookie for x in ab.flows)
        agent_cookie = cookies.most_common(1)[0][0] if cookies else None
        tunnels = {p.name: p for p in eb.ports if p.is_tunnel}

        def nets(f: Flow) -> tuple[str, ...]:
            return tuple(sorted({nets_of[v] for v in _vlans_in(f) if v in nets_of}))

        def context(f: Flow) -> tuple[str | None, str | None]:
            """The port the (normalized) flow is for, and the host its tunnel output reaches."""
            port = f.match_value("reg5") or f.match_value("in_port")
            out = next((o for o in _outputs(f) if o in tunnels), None)
            ip = tunnels[out].option("remote_ip") if out else None
            return port, self.remote_hosts.get(ip or "") or ip

        for k, ef in expected.items():
            hit = actual.get(k)
            if hit is not None and _same(ef, hit[0]):
                continue
            if ef.table == C.FLOOD_TO_TUN and bridge_kind(eb) == "tun":
                lacking = [o for o in _outputs(ef) if o in tunnels
                           and (hit is None or o not in _outputs(hit[0]))]
                if lacking and (hit is None or set(_outputs(hit[0])) < set(_outputs(ef))):
                    vlan = next(iter(_vlans_in(ef)), 0)
                    for o in lacking:
                        ip = tunnels[o].option("remote_ip")
                        self.out.append(FloodEntryMissing(
                            host, eb.name, nets_of.get(vlan, ""), vlan, o, ip,
                            self.remote_hosts.get(ip or "")))
                    continue
            self.out.append(FlowDifference(
                host, eb.name, Change.MISSING if hit is None else Change.CHANGED, ef,
                names.get(ef.table, ""), None if hit is None else hit[1], nets(ef),
                0, None, *context(ef)))
        for k, (af, raw) in actual.items():
            if k not in expected:
                self.out.append(FlowDifference(host, eb.name, Change.EXTRA, raw,
                                               names.get(af.table, ""), None, nets(af),
                                               raw.cookie, agent_cookie, *context(af)))


def _same(a: Flow, b: Flow) -> bool:
    return (a.actions, a.idle_timeout, a.hard_timeout) == (b.actions, b.idle_timeout,
                                                           b.hard_timeout)


def _outputs(f: Flow) -> list[str]:
    return re.findall(r"(?<![\w:])output:([^,()]+)", f.actions)


def _kv(pairs: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(pairs))
