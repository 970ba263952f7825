"""One OVS bridge while the agent programs it: the base of the per-bridge classes.

Neutron stacks three layers under ``br_int``/``br_tun``/``br_phys``: ``ovs_lib.OVSBridge``
(ports and OVSDB columns: ``add_port``, ``add_patch_port``, ``add_tunnel_port``),
``openflow/native/ofswitch.OpenFlowSwitchMixin`` (``install_goto``, ``install_drop``,
``install_normal``, ``install_apply_actions``, ``uninstall_flows``) and
``openflow/native/ovs_bridge.OVSAgentBridge`` (``drop_port``, ``install_arp_responder``).
``BridgeBuilder`` is all three, under the same method names: ports get the next free ofport, and a
flow with the same table, priority and match replaces the earlier one (OpenFlow add semantics).

Flows are written as ``ovs-ofctl -O OpenFlow13 dump-flows`` prints what the native (os-ken) driver
installs: match fields in ovs-ofctl's order, ``goto_table:N`` instructions, ``set_field``s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from neutrace.agents import constants as c
from neutrace.dataplane import Flow, OvsBridge, OvsPort

Match = tuple[tuple[str, str], ...]
OFPVID_PRESENT = 0x1000


def bridge_cookie(host: str, bridge: str) -> int:
    """The default cookie of one bridge of one agent. Neutron draws a random 64-bit cookie per
    bridge object (``OVSBridge._default_cookie``) when the agent starts; neutrace derives a
    stable one from the host and bridge names."""
    digest = hashlib.sha256(f"{c.OVS_AGENT_BINARY}/{host}/{bridge}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def goto(table: int) -> str:
    """The ``goto_table`` instruction."""
    return f"goto_table:{table}"


def set_vlan(vid: int) -> str:
    """``OFPActionSetField(vlan_vid=vid | OFPVID_PRESENT)``."""
    return f"set_field:{vid | OFPVID_PRESENT}->vlan_vid"


def push_vlan(vid: int) -> str:
    """``OFPActionPushVlan()`` then the VLAN id."""
    return f"push_vlan:0x8100,{set_vlan(vid)}"


def cidr_to_os_ken(cidr: str) -> str:
    """os-ken's ``_cidr_to_os_ken``: a host address plain, a network as ip/prefix."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return f"{net.network_address}/{net.prefixlen}"


@dataclass
class BridgeBuilder:
    """A bridge while the agent programs it (ovs_lib.OVSBridge + ofswitch + OVSAgentBridge)."""

    name: str
    cookie: int
    ports: list[OvsPort] = field(default_factory=list)
    flows: dict[tuple[int, int, Match], Flow] = field(default_factory=dict)
    protocols: tuple[str, ...] = c.OVS_PROTOCOLS

    # -- ovs_lib.OVSBridge: ports ---------------------------------------------------------
    def add_port(self, name: str, type: str = "", options: dict[str, str] | None = None,
                 tag: int | None = None, external_ids: dict[str, str] | None = None,
                 mac: str | None = None) -> int:
        """A new port with the next free ofport (OVS numbers them in creation order)."""
        # the ports are only ever appended here or replaced in place with the same ofport, so
        # the last one holds the highest ofport
        ofport = (self.ports[-1].ofport if self.ports else 0) + 1
        self.ports.append(OvsPort(
            name=name, ofport=ofport, type=type,
            tag=tag, options=tuple(sorted((options or {}).items())),
            external_ids=tuple(sorted((external_ids or {}).items())), mac=mac))
        return ofport

    def add_patch_port(self, local_name: str, remote_name: str) -> int:
        """``add_patch_port``: a patch port whose peer is ``remote_name``."""
        return self.add_port(local_name, "patch", {"peer": remote_name})

    def add_tunnel_port(self, port_name: str, remote_ip: str, local_ip: str, tunnel_type: str,
                        vxlan_udp_port: int, dont_fragment: bool) -> int:
        """``add_tunnel_port``: the tunnel's options as ovs_lib writes them."""
        options = {
            "df_default": str(dont_fragment).lower(),
            "remote_ip": remote_ip,
            "local_ip": local_ip,
            "in_key": "flow",
            "out_key": "flow",
            "egress_pkt_mark": "0",
        }
        if tunnel_type == "gre":  # get_gre_tunnel_port_type
            tunnel_type = "ip6gre" if ":" in remote_ip or ":" in local_ip else "gre"
        if tunnel_type == "vxlan" and vxlan_udp_port != 4789:
            options["dst_port"] = str(vxlan_udp_port)
        if tunnel_type == "ip6gre":  # L3 GRE over IPv6 is not supported by OVS
            options["packet_type"] = "legacy_l2"
        return self.add_port(port_name, tunnel_type, options)

    def get_port_ofport(self, name: str) -> int:
        """The ofport of the port ``name``."""
        for p in self.ports:
            if p.name == name:
                return p.ofport
        raise KeyError(name)

    def get_port_ofport_by_iface_id(self, iface_id: str) -> int:
        """The ofport of the port whose ``external_ids:iface-id`` is ``iface_id``
        (``get_vifs_by_ids``)."""
        for p in self.ports:
            if p.external_id("iface-id") == iface_id:
                return p.ofport
        raise KeyError(iface_id)

    def set_port_vlan(self, name: str, tag: int, other_config: dict[str, str]) -> None:
        """The Port's ``tag`` and ``other_config`` keys set (``_set_port_vlan`` and
        ``set_db_attribute('Port', name, 'other_config', ...)`` of ``port_bound``)."""
        self.ports = [dataclasses.replace(p, tag=tag) if p.name == name else p
                      for p in self.ports]
        self.set_port_other_config(name, other_config)

    def set_igmp_snooping_flood(self, port_name: str) -> None:
        """``set_igmp_snooping_flood``: the Port's other_config ``mcast-snooping-flood``
        (``[ovs] igmp_flood``, default false) and ``mcast-snooping-flood-reports``
        (``igmp_flood_reports``, default true), on br-int's ends towards the physical networks
        and the tunnel bridge."""
        self.set_port_other_config(port_name, {
            "mcast-snooping-flood-reports": str(c.IGMP_FLOOD_REPORTS).lower(),
            "mcast-snooping-flood": str(c.IGMP_FLOOD).lower()})

    def set_port_other_config(self, name: str, other_config: dict[str, str]) -> None:
        """Keys added to the Port's other_config."""
        self.ports = [
            OvsPort(p.name, p.ofport, p.type, p.tag, p.trunks, p.options, p.external_ids, p.mac,
                    tuple(sorted({**dict(p.other_config), **other_config}.items())))
            if p.name == name else p for p in self.ports]

    def add_protocols(self, *protocols: str) -> None:
        """``add_protocols``: the Bridge's ``protocols`` column gains those it lacks."""
        known = set(self.protocols) | set(protocols)
        self.protocols = tuple(p for p in c.OPENFLOW_VERSIONS if p in known)

    # -- ofswitch.OpenFlowSwitchMixin: flows --------------------------------------------------
    def add_flow(self, table: int, priority: int, match: Match, actions: str,
                 flags: tuple[str, ...] = ()) -> None:
        """``install_instructions``: one flow (replacing one with the same table, priority and
        match), with the bridge's cookie. ``flags`` are the flow_mod's (``reset_counts``: what
        an OpenFlow 1.0 ``ovs-ofctl add-flows`` leaves, as for the openvswitch firewall)."""
        key = (table, priority, match)
        self.flows[key] = Flow(table=table, priority=priority, match=match, actions=actions,
                               cookie=self.cookie, flags=flags)

    def install_goto(self, dest_table_id: int, table_id: int = 0, priority: int = 0,
                     match: Match = ()) -> None:
        """``install_goto``: go to ``dest_table_id``."""
        self.add_flow(table_id, priority, match, goto(dest_table_id))

    def install_drop(self, table_id: int = 0, priority: int = 0, match: Match = ()) -> None:
        """``install_drop``."""
        self.add_flow(table_id, priority, match, "drop")

    def install_normal(self, table_id: int = 0, priority: int = 0, match: Match = ()) -> None:
        """``install_normal``: output to NORMAL."""
        self.add_flow(table_id, priority, match, "NORMAL")

    def install_apply_actions(self, table_id: int, priority: int, match: Match,
                              actions: str) -> None:
        """``install_apply_actions``: an apply-actions instruction."""
        self.add_flow(table_id, priority, match, actions)

    def uninstall_flows(self, which: Callable[[Flow], bool]) -> None:
        """``uninstall_flows``: every flow ``which`` selects goes."""
        self.flows = {k: f for k, f in self.flows.items() if not which(f)}

    # -- native ovs_bridge.OVSAgentBridge ------------------------------------------------------
    def drop_port(self, in_port: int) -> None:
        """``drop_port``: table 0 drops what enters by ``in_port`` (priority 2)."""
        self.install_drop(priority=2, match=(("in_port", str(in_port)),))

    def _arp_responder_match(self, vlan: int, ip: str) -> Match:
        """The ARP responder entry's match (no VLAN here; br-tun's has one)."""
        return (("arp", ""), ("arp_tpa", ip))

    def install_arp_responder(self, vlan: int, ip: str, mac: str,
                              table_id: int = c.ARP_RESPONDER) -> None:
        """``install_arp_responder``: answer ARP requests for ``ip`` with ``mac``."""
        actions = (
            "set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
            f"move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:{mac}->arp_sha,"
            f"set_field:{ip}->arp_spa,move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
            f"set_field:{mac}->eth_src,IN_PORT")
        self.install_apply_actions(table_id, 1, self._arp_responder_match(vlan, ip), actions)

    # -- the result ------------------------------------------------------------------------
    def build(self) -> OvsBridge:
        """The bridge as ``ovs-ofctl dump-flows`` lists it (tables ascending, then priority)."""
        flows = sorted(self.flows.values(), key=lambda f: (f.table, -f.priority))
        return OvsBridge(name=self.name, ports=tuple(self.ports), flows=tuple(flows),
                         datapath_type="system", fail_mode="secure",
                         protocols=self.protocols)
