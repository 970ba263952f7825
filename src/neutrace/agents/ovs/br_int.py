"""br-int: Neutron's ``openflow/native/br_int.OVSIntegrationBridge``, method by method.

The default tables (canary 23; 0 -> 58 -> 59 -> 60 NORMAL; 24 drop; the dead VLAN drop; 62
NORMAL; 30/31 -> 58), the local VLAN translation of traffic from a physical bridge, the
anti-spoofing flows of a port (tables 0, 24, 25) and the DVR MAC entries of table 0.
"""

from __future__ import annotations

from neutrace.agents import constants as c
from neutrace.agents.ovs.br_dvr_process import OVSDVRInterfaceMixin
from neutrace.agents.ovs.ovs_bridge import (
    BridgeBuilder,
    Match,
    cidr_to_os_ken,
    goto,
    push_vlan,
    set_vlan,
)


class OVSIntegrationBridge(OVSDVRInterfaceMixin, BridgeBuilder):
    """openvswitch agent br-int specific logic."""

    def setup_default_table(self) -> None:
        """The default tables (without OpenFlow DHCP or the DNS forwarder)."""
        self.setup_canary_table()
        self.install_goto(dest_table_id=c.PACKET_RATE_LIMIT)
        self.install_goto(dest_table_id=c.BANDWIDTH_RATE_LIMIT, table_id=c.PACKET_RATE_LIMIT)
        self.install_goto(dest_table_id=c.TRANSIENT_TABLE, table_id=c.BANDWIDTH_RATE_LIMIT)
        self.install_normal(table_id=c.TRANSIENT_TABLE, priority=1)
        self.install_drop(table_id=c.ARP_SPOOF_TABLE)
        self.install_drop(table_id=c.LOCAL_SWITCHING, priority=c.OPENFLOW_MAX_PRIORITY,
                          match=(("dl_vlan", str(c.DEAD_VLAN_TAG)),))
        # without the openflow firewall, this table handles all egress traffic
        self.install_normal(table_id=c.TRANSIENT_EGRESS_TABLE, priority=3)
        # Local IP defaults
        self.install_goto(dest_table_id=c.PACKET_RATE_LIMIT, table_id=c.LOCAL_EGRESS_TABLE)
        self.install_goto(dest_table_id=c.PACKET_RATE_LIMIT, table_id=c.LOCAL_IP_TABLE)

    def setup_canary_table(self) -> None:
        """Table 23's drop: the agent notices an OVS restart when it is gone."""
        self.install_drop(c.CANARY_TABLE)

    @staticmethod
    def _local_vlan_match(port: int, segmentation_id: int | None) -> Match:
        """Untagged (flat) or tagged with the segmentation id, from ``port``."""
        if segmentation_id is None:
            return (("in_port", str(port)), ("vlan_tci", "0x0000/0x1fff"))
        return (("in_port", str(port)), ("dl_vlan", str(segmentation_id)))

    def provision_local_vlan(self, port: int, lvid: int, segmentation_id: int | None) -> None:
        """Traffic from a physical bridge (``int-br-…``) gets the network's local VLAN."""
        match = self._local_vlan_match(port, segmentation_id)
        action = push_vlan(lvid) if segmentation_id is None else set_vlan(lvid)
        self.add_flow(c.LOCAL_SWITCHING, 3, match, f"{action},{goto(c.PACKET_RATE_LIMIT)}")

    def reclaim_local_vlan(self, port: int, segmentation_id: int | None) -> None:
        """The network's translation flow goes (its last port left the host)."""
        match = self._local_vlan_match(port, segmentation_id)
        self.uninstall_flows(lambda f: f.match == match)

    # -- DVR -------------------------------------------------------------------------------
    @staticmethod
    def _vlan_dst_match(vlan_tag: int | None, dst_mac: str) -> Match:
        """``_arp_dvr_dst_mac_match`` / ``_dvr_to_src_mac_match``: the VLAN (none for a flat
        network) and a destination MAC."""
        if not vlan_tag:
            return (("vlan_tci", "0x0000/0x1fff"), ("dl_dst", dst_mac))
        return (("dl_vlan", str(vlan_tag)), ("dl_dst", dst_mac))

    @staticmethod
    def _dvr_dst_mac_table_id(network_type: str) -> int:
        """Table 4 for VLAN/flat networks, 3 for tunnels."""
        if network_type in c.DVR_PHYSICAL_NETWORK_TYPES:
            return c.ARP_DVR_MAC_TO_DST_MAC_PHYSICAL
        return c.ARP_DVR_MAC_TO_DST_MAC

    @staticmethod
    def _dvr_to_src_mac_table_id(network_type: str) -> int:
        """Table 2 for VLAN/flat networks, 1 for tunnels."""
        if network_type in c.DVR_PHYSICAL_NETWORK_TYPES:
            return c.DVR_TO_SRC_MAC_PHYSICAL
        return c.DVR_TO_SRC_MAC

    def install_dvr_dst_mac_for_arp(self, network_type: str, vlan_tag: int, gateway_mac: str,
                                    dvr_mac: str, rtr_port: int) -> None:
        """A frame to this host's DVR MAC (an ARP responder's answer) goes to the router
        port with the router port's MAC (table 3/4, priority 5)."""
        self.install_apply_actions(
            self._dvr_dst_mac_table_id(network_type), 5, self._vlan_dst_match(vlan_tag, dvr_mac),
            f"set_field:{gateway_mac}->eth_dst,pop_vlan,output:{rtr_port}")

    def delete_dvr_dst_mac_for_arp(self, network_type: str, vlan_tag: int, gateway_mac: str,
                                   dvr_mac: str, rtr_port: int) -> None:
        """Neutron deletes from the DVR_TO_SRC_MAC table (its own slip, kept)."""
        table = self._dvr_to_src_mac_table_id(network_type)
        match = self._vlan_dst_match(vlan_tag, dvr_mac)
        self.uninstall_flows(lambda f: f.table == table and f.priority == 5 and f.match == match)

    def install_dvr_to_src_mac(self, network_type: str, vlan_tag: int | None, gateway_mac: str,
                               dst_mac: str, dst_port: int) -> None:
        """A routed frame from another host (source its DVR MAC) to a local port: the source
        becomes the subnet's gateway MAC (table 1/2), then straight out of the port (table 60,
        the VLAN popped), both priority 20."""
        match = self._vlan_dst_match(vlan_tag, dst_mac)
        self.add_flow(self._dvr_to_src_mac_table_id(network_type), 20, match,
                      f"set_field:{gateway_mac}->eth_src,{goto(c.PACKET_RATE_LIMIT)}")
        actions = "pop_vlan," if vlan_tag else ""
        self.install_apply_actions(c.TRANSIENT_TABLE, 20, match, f"{actions}output:{dst_port}")

    def delete_dvr_to_src_mac(self, network_type: str, vlan_tag: int | None,
                              dst_mac: str) -> None:
        """Both priority-20 flows of ``dst_mac`` go."""
        tables = (self._dvr_to_src_mac_table_id(network_type), c.TRANSIENT_TABLE)
        match = self._vlan_dst_match(vlan_tag, dst_mac)
        self.uninstall_flows(lambda f: f.table in tables and f.priority == 20
                             and f.match == match)

    def add_dvr_gateway_mac_arp_vlan(self, mac: str, port: int) -> None:
        """Frames to this host's own DVR MAC over a physical bridge: table 4."""
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=5,
                          match=(("in_port", str(port)), ("dl_dst", mac)),
                          dest_table_id=c.ARP_DVR_MAC_TO_DST_MAC_PHYSICAL)

    def remove_dvr_gateway_mac_arp_vlan(self, mac: str, port: int) -> None:
        """The table 0 entries to ``mac`` go."""
        self.uninstall_flows(lambda f: f.table == c.LOCAL_SWITCHING
                             and f.match_value("dl_dst") == mac)

    def add_dvr_gateway_mac_arp_tun(self, mac: str, port: int) -> None:
        """Frames to this host's own DVR MAC over patch-tun: table 3."""
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=5,
                          match=(("in_port", str(port)), ("dl_dst", mac)),
                          dest_table_id=c.ARP_DVR_MAC_TO_DST_MAC)

    def remove_dvr_gateway_mac_arp_tun(self, mac: str, port: int) -> None:
        """The table 0 entries to ``mac`` go."""
        self.uninstall_flows(lambda f: f.table == c.LOCAL_SWITCHING
                             and f.match_value("dl_dst") == mac)

    def add_dvr_mac_physical(self, mac: str, port: int) -> None:
        """Frames from another host's DVR MAC over a physical bridge: table 2."""
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=4,
                          match=(("in_port", str(port)), ("dl_src", mac)),
                          dest_table_id=c.DVR_TO_SRC_MAC_PHYSICAL)

    def remove_dvr_mac_vlan(self, mac: str) -> None:
        """The table 0 flows of a DVR MAC go."""
        self.uninstall_flows(lambda f: f.table == c.LOCAL_SWITCHING
                             and f.match_value("dl_src") == mac)

    def add_dvr_mac_tun(self, mac: str, port: int) -> None:
        """Frames from another host's DVR MAC over patch-tun: table 1."""
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=2,
                          match=(("in_port", str(port)), ("dl_src", mac)),
                          dest_table_id=c.DVR_TO_SRC_MAC)

    def remove_dvr_mac_tun(self, mac: str, port: int) -> None:
        """The table 0 flow of a DVR MAC from ``port`` goes."""
        self.uninstall_flows(lambda f: f.table == c.LOCAL_SWITCHING
                             and f.match_value("in_port") == str(port)
                             and f.match_value("dl_src") == mac)

    # -- anti-spoofing -------------------------------------------------------------------------
    def install_icmpv6_na_spoofing_protection(self, port: int, ip_addresses: list[str]) -> None:
        """Neighbour advertisements from ``port`` only for its own addresses (table 24)."""
        for ip in ip_addresses:
            self.install_goto(table_id=c.ARP_SPOOF_TABLE, priority=2,
                              match=(("icmp6", ""), ("in_port", str(port)), ("icmp_type", "136"),
                                     ("nd_target", cidr_to_os_ken(ip))),
                              dest_table_id=c.PACKET_RATE_LIMIT)
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=10,
                          match=(("icmp6", ""), ("in_port", str(port)), ("icmp_type", "136")),
                          dest_table_id=c.ARP_SPOOF_TABLE)

    def set_allowed_macs_for_port(self, port: int, mac_addresses: list[str] | None = None,
                                  allow_all: bool = False) -> None:
        """Only ``mac_addresses`` may leave ``port`` (table 25), or any with ``allow_all``."""
        if allow_all:
            # strict deletes: only the flows matching exactly in_port (a table 25 entry with
            # a dl_src stays, as in Neutron)
            only_port = (("in_port", str(port)),)
            self.uninstall_flows(lambda f: f.match == only_port and (
                (f.table == c.LOCAL_SWITCHING and f.priority == 9)
                or (f.table == c.MAC_SPOOF_TABLE and f.priority == 2)))
            return
        for mac in mac_addresses or []:
            self.install_goto(table_id=c.MAC_SPOOF_TABLE, priority=2,
                              match=(("in_port", str(port)), ("dl_src", mac)),
                              dest_table_id=c.LOCAL_EGRESS_TABLE)
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=9,
                          match=(("in_port", str(port)),), dest_table_id=c.MAC_SPOOF_TABLE)

    def install_arp_spoofing_protection(self, port: int, ip_addresses: list[str]) -> None:
        """ARP from ``port`` only for its own addresses (table 24)."""
        for ip in ip_addresses:
            self.install_goto(table_id=c.ARP_SPOOF_TABLE, priority=2,
                              match=(("arp", ""), ("in_port", str(port)),
                                     ("arp_spa", cidr_to_os_ken(ip))),
                              dest_table_id=c.MAC_SPOOF_TABLE)
        self.install_goto(table_id=c.LOCAL_SWITCHING, priority=10,
                          match=(("arp", ""), ("in_port", str(port))),
                          dest_table_id=c.ARP_SPOOF_TABLE)

    def delete_arp_spoofing_protection(self, port: int) -> None:
        """Table 0's ARP and ICMPv6 NA entries of ``port`` and its table 24 flows go."""
        self.uninstall_flows(lambda f: f.table == c.LOCAL_SWITCHING and f.priority == 10
                             and f.match_value("in_port") == str(port))
        self.delete_arp_spoofing_allow_rules(port)

    def delete_arp_spoofing_allow_rules(self, port: int) -> None:
        """The table 24 flows of ``port`` go."""
        self.uninstall_flows(lambda f: f.table == c.ARP_SPOOF_TABLE
                             and f.match_value("in_port") == str(port))
