"""br-int: Neutron's ``openflow/native/br_int.OVSIntegrationBridge``, method by method.

The default tables (canary 23; 0 -> 58 -> 59 -> 60 NORMAL; 24 drop; the dead VLAN drop; 62
NORMAL; 30/31 -> 58), the local VLAN translation of traffic from a physical bridge, the
anti-spoofing flows of a port (tables 0, 24, 25) and the DVR MAC entries of table 0.
"""

from __future__ import annotations

from neutrace.agents import constants as c
from neutrace.agents.ovs.ovs_bridge import (
    BridgeBuilder,
    Match,
    cidr_to_os_ken,
    goto,
    push_vlan,
    set_vlan,
)


class OVSIntegrationBridge(BridgeBuilder):
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
