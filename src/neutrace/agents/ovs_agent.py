"""neutron-openvswitch-agent, re-enacted (layer 3): the OVS bridges, ports and flows one host gets.

Follows ``OVSNeutronAgent`` of the Neutron release in ``agents.constants`` step by step, in the
order the agent works, because that order fixes the ofport numbers:

1. ``setup_integration_br``: br-int and its default tables (``OVSIntegrationBridge.
   setup_default_table``: canary table 23, 0 -> 58 -> 59 -> 60 NORMAL, table 24 drop, the dead
   VLAN drop, table 62 NORMAL, tables 30/31 -> 58).
2. ``setup_physical_bridges``: per ``bridge_mappings`` entry, the patch pair ``int-<br>`` /
   ``phy-<br>`` (names from ``get_interface_name``), ``drop_port`` on both ends, br-phys NORMAL.
   The physical NICs were put on the bridge by the operator before the agent started.
3. ``setup_tunnel_br``: ``patch-tun``/``patch-int`` and br-tun's default tables (2, 3/4/6, 10
   learn, 20, 21, 22).
4. ``tunnel_sync`` (without l2_population): a tunnel port ``vxlan-<remote ip in hex>`` per other
   host, ``in_port`` -> table 4.
5. port binding, per port (``port_bound`` / ``provision_local_vlan``): the port's tag, the
   network's local VLAN flows (br-tun table 4/22, or br-phys + br-int translation for flat/vlan)
   and the anti-spoofing flows (``setup_arp_spoofing_protection``) for VM ports.
6. with l2_population, the ``fdb_add`` entries: tunnel ports only towards hosts with ports of the
   same network, flood flows to those, unicast flows (table 20) and ARP responder entries (21).

Flows are written as ``ovs-ofctl -O OpenFlow13 dump-flows`` prints what the native (os-ken)
driver installs over OpenFlow 1.3: ``goto_table:N`` instructions, ``push_vlan:0x8100,
set_field:<4096+vid>->vlan_vid``, ``pop_vlan``, ``set_field:<id>->tun_id``, with match fields in
the order ovs-ofctl prints them (so ``ovs-ofctl -O OpenFlow13 add-flows`` recreates Neutron's
flows exactly; a plain OpenFlow 1.0 dump of them shows resubmit/mod_vlan_vid/strip_vlan/load).
Each bridge has one stable cookie (Neutron's per-bridge default cookie, derived from host and
bridge instead of drawn at random).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.plan import (
    VIF_HYBRID,
    VIF_TAP,
    HostPlan,
    Vif,
)
from neutrace.dataplane import Flow, OvsBridge, OvsPort

Match = tuple[tuple[str, str], ...]


def bridge_cookie(host: str, bridge: str) -> int:
    """The default cookie of one bridge of one agent. Neutron draws a random 64-bit cookie per
    bridge object (``OVSBridge._default_cookie``) when the agent starts; neutrace derives a
    stable one from the host and bridge names."""
    digest = hashlib.sha256(f"{c.OVS_AGENT_BINARY}/{host}/{bridge}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def get_interface_name(name: str, prefix: str = "", max_len: int = c.DEVICE_NAME_MAX_LEN) -> str:
    """neutron_lib.plugins.utils.get_interface_name: prefix+name, hashed when too long."""
    requested = prefix + name
    if len(requested) <= max_len:
        return requested
    hash_len = 6
    namelen = max_len - len(prefix) - hash_len
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:hash_len]
    return f"{prefix}{name[:namelen]}{digest}"


def get_tunnel_name(network_type: str, remote_ip: str) -> str:
    """``OVSNeutronAgent.get_tunnel_name``: ``vxlan-c0a87816`` for IPv4 remotes."""
    ip = ipaddress.ip_address(remote_ip)
    if ip.version == 4:
        return f"{network_type}-{addr.ip_to_hex(remote_ip)}"
    hashlen = c.DEVICE_NAME_MAX_LEN - len(network_type) - 1
    digest = hashlib.blake2b(remote_ip.encode(), digest_size=20).digest()
    return f"{network_type}-{base64.b32encode(digest)[:hashlen].decode().lower()}"


@dataclass
class BridgeBuilder:
    """A bridge while the agent programs it: ports get the next free ofport, a flow with the same
    table, priority and match replaces the earlier one (OpenFlow add semantics)."""

    name: str
    cookie: int
    ports: list[OvsPort] = field(default_factory=list)
    flows: dict[tuple[int, int, Match], Flow] = field(default_factory=dict)

    def add_port(self, name: str, type: str = "", options: dict[str, str] | None = None,
                 tag: int | None = None, external_ids: dict[str, str] | None = None,
                 mac: str | None = None) -> int:
        ofport = max((p.ofport for p in self.ports), default=0) + 1
        self.ports.append(OvsPort(
            name=name, ofport=ofport, type=type,
            tag=tag, options=tuple(sorted((options or {}).items())),
            external_ids=tuple(sorted((external_ids or {}).items())), mac=mac))
        return ofport

    def ofport(self, name: str) -> int:
        for p in self.ports:
            if p.name == name:
                return p.ofport
        raise KeyError(name)

    def set_tag(self, name: str, tag: int, other_config: dict[str, str] | None = None) -> None:
        self.ports = [
            OvsPort(p.name, p.ofport, p.type, tag, p.trunks, p.options, p.external_ids, p.mac,
                    tuple(sorted({**dict(p.other_config), **(other_config or {})}.items())))
            if p.name == name else p for p in self.ports]

    def add_flow(self, table: int, priority: int, match: Match, actions: str) -> None:
        key = (table, priority, match)
        self.flows[key] = Flow(table=table, priority=priority, match=match, actions=actions,
                               cookie=self.cookie)

    def delete_flows(self, which: Callable[[Flow], bool]) -> None:
        self.flows = {k: f for k, f in self.flows.items() if not which(f)}

    def build(self) -> OvsBridge:
        flows = sorted(self.flows.values(), key=lambda f: (f.table, -f.priority))
        return OvsBridge(name=self.name, ports=tuple(self.ports), flows=tuple(flows),
                         datapath_type="system", fail_mode="secure",
                         protocols=c.OVS_PROTOCOLS)


OFPVID_PRESENT = 0x1000


def _goto(table: int) -> str:
    return f"goto_table:{table}"


def _set_vlan(vid: int) -> str:
    return f"set_field:{vid | OFPVID_PRESENT}->vlan_vid"


def _push_vlan(vid: int) -> str:
    return f"push_vlan:0x8100,{_set_vlan(vid)}"


def _masked_ip(cidr: str) -> str:
    """os-ken's ``_cidr_to_os_ken``: a host address plain, a network as ip/prefix."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return f"{net.network_address}/{net.prefixlen}"


def ipv6_lla(mac: str) -> str:
    """The EUI-64 link-local address of ``mac`` (``netutils.get_ipv6_addr_by_EUI64``)."""
    b = bytearray(int(x, 16) for x in addr.norm_mac(mac).split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


class OvsAgent:
    """Programs one host. ``plans`` are every host's plans (l2_population needs the others')."""

    def __init__(self, cloud: model.Cloud, plan: HostPlan, plans: dict[str, HostPlan]) -> None:
        self.cloud = cloud
        self.plan = plan
        self.plans = plans
        self.host = plan.host
        self.l2_pop = self.host.l2_population
        self.arp_responder = self.host.arp_responder and self.l2_pop
        self.int_br = self._bridge(c.INTEGRATION_BRIDGE)
        self.tun_br: BridgeBuilder | None = None
        self.phys_brs: dict[str, BridgeBuilder] = {}  # physnet -> bridge
        self.int_ofports: dict[str, int] = {}
        self.phys_ofports: dict[str, int] = {}
        self.patch_int_ofport = 0
        # tun_br_ofports: tunnel type -> remote ip -> ofport
        self.tun_ofports: dict[str, dict[str, int]] = {}
        self.tun_types = [t for t in self.host.tunnel_types] if plan.tunneling else []
        self.lvm_tun_ofports: dict[str, set[int]] = {}  # network -> l2pop flood ports
        self.provisioned: set[str] = set()

    def _bridge(self, name: str) -> BridgeBuilder:
        return BridgeBuilder(name, bridge_cookie(self.host.name, name))

    # -- 1. br-int ------------------------------------------------------------------------------
    def setup_integration_br(self) -> None:
        br = self.int_br
        br.add_flow(c.CANARY_TABLE, 0, (), "drop")
        br.add_flow(c.LOCAL_SWITCHING, 0, (), _goto(c.PACKET_RATE_LIMIT))
        br.add_flow(c.PACKET_RATE_LIMIT, 0, (), _goto(c.BANDWIDTH_RATE_LIMIT))
        br.add_flow(c.BANDWIDTH_RATE_LIMIT, 0, (), _goto(c.TRANSIENT_TABLE))
        br.add_flow(c.TRANSIENT_TABLE, 1, (), "NORMAL")
        br.add_flow(c.ARP_SPOOF_TABLE, 0, (), "drop")
        br.add_flow(c.LOCAL_SWITCHING, c.OPENFLOW_MAX_PRIORITY,
                    (("dl_vlan", str(c.DEAD_VLAN_TAG)),), "drop")
        br.add_flow(c.TRANSIENT_EGRESS_TABLE, 3, (), "NORMAL")
        br.add_flow(c.LOCAL_EGRESS_TABLE, 0, (), _goto(c.PACKET_RATE_LIMIT))
        br.add_flow(c.LOCAL_IP_TABLE, 0, (), _goto(c.PACKET_RATE_LIMIT))

    # -- 2. physical bridges ----------------------------------------------------------------------
    def setup_physical_bridges(self) -> None:
        for physnet, bridge in self.host.bridge_mappings:
            br = self._bridge(bridge)
            for nic in self.host.physical_nics:
                if nic.bridge == bridge:
                    br.add_port(nic.name)
            br.add_flow(c.LOCAL_SWITCHING, 0, (), "NORMAL")
            self.phys_brs[physnet] = br
            int_if = get_interface_name(bridge, c.PEER_INTEGRATION_PREFIX)
            phys_if = get_interface_name(bridge, c.PEER_PHYSICAL_PREFIX)
            int_ofport = self.int_br.add_port(int_if, "patch", {"peer": phys_if})
            phys_ofport = br.add_port(phys_if, "patch", {"peer": int_if})
            self.int_ofports[physnet] = int_ofport
            self.phys_ofports[physnet] = phys_ofport
            self.int_br.add_flow(c.LOCAL_SWITCHING, 2, (("in_port", str(int_ofport)),), "drop")
            br.add_flow(c.LOCAL_SWITCHING, 2, (("in_port", str(phys_ofport)),), "drop")

    # -- 3. br-tun --------------------------------------------------------------------------------
    def setup_tunnel_br(self) -> None:
        if not self.tun_types:
            return
        tun = self._bridge(c.TUNNEL_BRIDGE)
        self.tun_br = tun
        self.int_br.add_port(c.INT_PEER_PATCH_PORT, "patch", {"peer": c.TUN_PEER_PATCH_PORT})
        self.patch_int_ofport = tun.add_port(
            c.TUN_PEER_PATCH_PORT, "patch", {"peer": c.INT_PEER_PATCH_PORT})
        p = self.patch_int_ofport
        tun.add_flow(c.LOCAL_SWITCHING, 1, (("in_port", str(p)),), _goto(c.PATCH_LV_TO_TUN))
        tun.add_flow(c.LOCAL_SWITCHING, 0, (), "drop")
        if self.arp_responder:
            tun.add_flow(c.PATCH_LV_TO_TUN, 1, (("arp", ""), ("dl_dst", addr.BROADCAST_MAC)),
                         _goto(c.ARP_RESPONDER))
        tun.add_flow(c.PATCH_LV_TO_TUN, 0, (("dl_dst", "00:00:00:00:00:00/01:00:00:00:00:00"),),
                     _goto(c.UCAST_TO_TUN))
        tun.add_flow(c.PATCH_LV_TO_TUN, 0, (("dl_dst", "01:00:00:00:00:00/01:00:00:00:00:00"),),
                     _goto(c.FLOOD_TO_TUN))
        for tunnel_type in c.TUNNEL_NETWORK_TYPES:
            tun.add_flow(c.TUN_TABLE[tunnel_type], 0, (), "drop")
        learn = (
            f"learn(table={c.UCAST_TO_TUN},hard_timeout={c.LEARN_HARD_TIMEOUT},priority=1,"
            f"cookie={tun.cookie:#x},NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],"
            "load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
            f"output:OXM_OF_IN_PORT[]),output:{p}")
        tun.add_flow(c.LEARN_FROM_TUN, 2, (("arp", ""), ("arp_tha", addr.BROADCAST_MAC)), learn)
        tun.add_flow(c.LEARN_FROM_TUN, 2, (("icmp6", ""), ("icmp_type", "134")), learn)
        tun.add_flow(c.LEARN_FROM_TUN, 2, (("icmp6", ""), ("icmp_type", "136")), learn)
        tun.add_flow(c.LEARN_FROM_TUN, 1, (), learn)
        tun.add_flow(c.UCAST_TO_TUN, 0, (), _goto(c.FLOOD_TO_TUN))
        if self.arp_responder:
            tun.add_flow(c.ARP_RESPONDER, 0, (), _goto(c.FLOOD_TO_TUN))
        tun.add_flow(c.FLOOD_TO_TUN, 0, (), "drop")

    # -- 4. tunnels -------------------------------------------------------------------------------
    def _remote_hosts(self) -> list[model.Host]:
        return [h for h in self.cloud.hosts
                if h.name != self.host.name and h.tunnel_ip
                and h.tunnel_ip != self.host.tunnel_ip]

    def setup_tunnel_port(self, remote_ip: str, tunnel_type: str) -> int:
        assert self.tun_br is not None and self.host.tunnel_ip
        known = self.tun_ofports.setdefault(tunnel_type, {})
        if remote_ip in known:
            return known[remote_ip]
        options = {
            "df_default": str(c.DONT_FRAGMENT).lower(),
            "remote_ip": remote_ip,
            "local_ip": self.host.tunnel_ip,
            "in_key": "flow",
            "out_key": "flow",
            "egress_pkt_mark": "0",
        }
        if tunnel_type == model.TYPE_VXLAN and c.VXLAN_UDP_PORT != 4789:
            options["dst_port"] = str(c.VXLAN_UDP_PORT)
        ofport = self.tun_br.add_port(get_tunnel_name(tunnel_type, remote_ip), tunnel_type,
                                      options)
        known[remote_ip] = ofport
        self.tun_br.add_flow(c.LOCAL_SWITCHING, 1, (("in_port", str(ofport)),),
                             _goto(c.TUN_TABLE[tunnel_type]))
        return ofport

    def tunnel_sync(self) -> None:
        if self.l2_pop or self.tun_br is None:
            return
        for tunnel_type in self.tun_types:
            for remote in self._remote_hosts():
                if tunnel_type in remote.tunnel_types and remote.tunnel_ip:
                    self.setup_tunnel_port(remote.tunnel_ip, tunnel_type)

    # -- 5. ports ---------------------------------------------------------------------------------
    def plug_vifs(self) -> None:
        """The VIFs appear on br-int (Nova, the L3 and DHCP agents plug them) untagged."""
        for vif in self.plan.vifs:
            port = vif.port
            ext = {"iface-id": port.id, "iface-status": "active",
                   "attached-mac": port.mac_address}
            if vif.kind in (VIF_HYBRID, VIF_TAP):
                ext["vm-uuid"] = _vm_uuid(port.device_id)
                self.int_br.add_port(vif.ovs_name, "", external_ids=ext)
            else:
                self.int_br.add_port(vif.ovs_name, "internal", external_ids=ext,
                                     mac=port.mac_address)

    def provision_local_vlan(self, net: model.Network, lvid: int) -> None:
        if net.network_type in c.TUNNEL_NETWORK_TYPES:
            assert self.tun_br is not None and net.segmentation_id is not None
            ofports = sorted(set(self.tun_ofports.get(net.network_type, {}).values())
                             | self.lvm_tun_ofports.get(net.id, set()))
            if ofports and not self.l2_pop:
                self.install_flood_to_tun(lvid, net.segmentation_id, ofports)
            self.tun_br.add_flow(
                c.TUN_TABLE[net.network_type], 1, (("tun_id", f"{net.segmentation_id:#x}"),),
                f"{_push_vlan(lvid)},{_goto(c.LEARN_FROM_TUN)}")
        elif net.network_type in (model.TYPE_FLAT, model.TYPE_VLAN):
            physnet = net.physical_network or ""
            phys_br = self.phys_brs[physnet]
            phys_port = str(self.phys_ofports[physnet])
            int_port = str(self.int_ofports[physnet])
            if net.network_type == model.TYPE_FLAT:
                phys_br.add_flow(c.LOCAL_SWITCHING, 4,
                                 (("in_port", phys_port), ("dl_vlan", str(lvid))),
                                 "pop_vlan,NORMAL")
                self.int_br.add_flow(c.LOCAL_SWITCHING, 3,
                                     (("in_port", int_port), ("vlan_tci", "0x0000/0x1fff")),
                                     f"{_push_vlan(lvid)},{_goto(c.PACKET_RATE_LIMIT)}")
            else:
                seg = net.segmentation_id
                phys_br.add_flow(c.LOCAL_SWITCHING, 4,
                                 (("in_port", phys_port), ("dl_vlan", str(lvid))),
                                 f"{_set_vlan(seg or 0)},NORMAL")
                self.int_br.add_flow(c.LOCAL_SWITCHING, 3,
                                     (("in_port", int_port), ("dl_vlan", str(seg))),
                                     f"{_set_vlan(lvid)},{_goto(c.PACKET_RATE_LIMIT)}")

    def install_flood_to_tun(self, lvid: int, segmentation_id: int, ofports: list[int]) -> None:
        assert self.tun_br is not None
        outputs = ",".join(f"output:{p}" for p in ofports)
        self.tun_br.add_flow(c.FLOOD_TO_TUN, 1, (("dl_vlan", str(lvid)),),
                             f"pop_vlan,set_field:{segmentation_id:#x}->tun_id,{outputs}")

    def bind_ports(self) -> None:
        for vif in self.plan.vifs:
            net = self.cloud.network(vif.port.network_id)
            lvid = self.plan.lvid(net.id)
            assert lvid is not None
            if net.id not in self.provisioned:
                self.provisioned.add(net.id)
                self.provision_local_vlan(net, lvid)
            # port_bound: the local VLAN mapping goes into the Port's other_config
            mapping = {"net_uuid": net.id, "network_type": net.network_type,
                       "physical_network": str(net.physical_network), "tag": str(lvid)}
            if net.segmentation_id is not None:
                mapping["segmentation_id"] = str(net.segmentation_id)
            self.int_br.set_tag(vif.ovs_name, lvid, mapping)
            self.setup_arp_spoofing_protection(vif)

    def setup_arp_spoofing_protection(self, vif: Vif) -> None:
        port = vif.port
        if not port.port_security_enabled or vif.is_network_owned:
            return
        br = self.int_br
        ofport = str(br.ofport(vif.ovs_name))
        addresses = [f.ip_address for f in port.fixed_ips]
        macs = [addr.norm_mac(port.mac_address)]
        for pair in port.allowed_address_pairs:
            addresses.append(pair.ip_address)
            if pair.mac_address and addr.norm_mac(pair.mac_address) not in macs:
                macs.append(addr.norm_mac(pair.mac_address))
        addresses = list(dict.fromkeys(addresses))
        # set_allowed_macs_for_port
        for mac in sorted(macs):
            br.add_flow(c.MAC_SPOOF_TABLE, 2, (("in_port", ofport), ("dl_src", mac)),
                        _goto(c.LOCAL_EGRESS_TABLE))
        br.add_flow(c.LOCAL_SWITCHING, 9, (("in_port", ofport),), _goto(c.MAC_SPOOF_TABLE))
        v6 = [a for a in addresses if ipaddress.ip_network(a, strict=False).version == 6]
        v6 += [ipv6_lla(m) for m in macs]
        if not any(ipaddress.ip_network(a, strict=False).prefixlen == 0 for a in v6):
            for ip in sorted(set(v6)):
                br.add_flow(c.ARP_SPOOF_TABLE, 2,
                            (("icmp6", ""), ("in_port", ofport), ("icmp_type", "136"),
                             ("nd_target", _masked_ip(ip))),
                            _goto(c.PACKET_RATE_LIMIT))
            br.add_flow(c.LOCAL_SWITCHING, 10,
                        (("icmp6", ""), ("in_port", ofport), ("icmp_type", "136")),
                        _goto(c.ARP_SPOOF_TABLE))
        v4 = [a for a in addresses if ipaddress.ip_network(a, strict=False).version == 4]
        if not any(ipaddress.ip_network(a, strict=False).prefixlen == 0 for a in v4):
            for ip in sorted(set(v4)):
                br.add_flow(c.ARP_SPOOF_TABLE, 2,
                            (("arp", ""), ("in_port", ofport), ("arp_spa", _masked_ip(ip))),
                            _goto(c.MAC_SPOOF_TABLE))
            br.add_flow(c.LOCAL_SWITCHING, 10, (("arp", ""), ("in_port", ofport)),
                        _goto(c.ARP_SPOOF_TABLE))
        else:
            # delete_arp_spoofing_protection: table 0's arp and icmp6 NA entries of the port
            # and all of its table 24 flows go, the NA ones just installed included
            br.delete_flows(lambda f: f.match_value("in_port") == ofport and (
                f.table == c.ARP_SPOOF_TABLE
                or (f.table == c.LOCAL_SWITCHING and f.priority == 10)))

    # -- 6. l2 population -------------------------------------------------------------------------
    def fdb_add(self) -> None:
        if not self.l2_pop or self.tun_br is None:
            return
        for net_id, lvid in self.plan.lvids:
            net = self.cloud.network(net_id)
            if net.network_type not in self.tun_types or net.segmentation_id is None:
                continue
            for remote in self._remote_hosts():
                if net.network_type not in remote.tunnel_types or not remote.tunnel_ip:
                    continue
                remote_vifs = [v for v in self.plans[remote.name].vifs
                               if v.port.network_id == net_id]
                if not remote_vifs:
                    continue
                ofport = self.setup_tunnel_port(remote.tunnel_ip, net.network_type)
                flood = self.lvm_tun_ofports.setdefault(net_id, set())
                flood.add(ofport)
                self.install_flood_to_tun(lvid, net.segmentation_id, sorted(flood))
                for vif in remote_vifs:
                    mac = addr.norm_mac(vif.port.mac_address)
                    for fip in vif.port.fixed_ips:
                        if self.arp_responder and ipaddress.ip_address(fip.ip_address).version == 4:
                            self.install_arp_responder(lvid, fip.ip_address, mac)
                        self.tun_br.add_flow(
                            c.UCAST_TO_TUN, 2, (("dl_vlan", str(lvid)), ("dl_dst", mac)),
                            f"pop_vlan,set_field:{net.segmentation_id:#x}->tun_id,"
                            f"output:{ofport}")

    def install_arp_responder(self, lvid: int, ip: str, mac: str) -> None:
        assert self.tun_br is not None
        actions = (
            "set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
            f"move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:{mac}->arp_sha,"
            f"set_field:{ip}->arp_spa,move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
            f"set_field:{mac}->eth_src,IN_PORT")
        self.tun_br.add_flow(c.ARP_RESPONDER, 1,
                             (("arp", ""), ("dl_vlan", str(lvid)), ("arp_tpa", ip)), actions)

    # -- all --------------------------------------------------------------------------------
    def run(self) -> tuple[OvsBridge, ...]:
        self.setup_integration_br()
        self.setup_physical_bridges()
        self.setup_tunnel_br()
        self.tunnel_sync()
        self.plug_vifs()
        self.bind_ports()
        self.fdb_add()
        bridges = [self.int_br]
        if self.tun_br is not None:
            bridges.append(self.tun_br)
        bridges += list(self.phys_brs.values())
        return tuple(b.build() for b in bridges)


def _vm_uuid(device_id: str) -> str:
    """Nova's instance uuid: the model names VMs, so a non-uuid name gets a stable uuid."""
    try:
        return str(uuid.UUID(device_id))
    except ValueError:
        return addr.stable_uuid(f"vm/{device_id}")


def program_ovs(cloud: model.Cloud, plan: HostPlan, plans: dict[str, HostPlan]
                ) -> tuple[OvsBridge, ...]:
    """The OVS bridges of ``plan.host`` as neutron-openvswitch-agent leaves them."""
    return OvsAgent(cloud, plan, plans).run()
