"""br-tun: Neutron's ``openflow/native/br_tun.OVSTunnelBridge``, method by method.

Table 0 sorts by in_port (patch-int -> 2, a tunnel port -> its type's table 3/4/6); table 2
splits unicast (20) from flooding (22) and ARP requests to the responder (21); tables 3/4/6 map a
tunnel id to the local VLAN (``provision_local_vlan``) and go to 10, which learns the sender into
20 and outputs to patch-int; 20 holds l2population's unicast entries, 22 the flood lists.
"""

from __future__ import annotations

from neutrace import addr
from neutrace.agents import constants as c
from neutrace.agents.ovs.br_dvr_process import OVSDVRProcessMixin
from neutrace.agents.ovs.ovs_bridge import BridgeBuilder, Match, goto, push_vlan


class OVSTunnelBridge(OVSDVRProcessMixin, BridgeBuilder):
    """openvswitch agent tunnel bridge specific logic."""

    # used by OVSDVRProcessMixin
    dvr_process_table_id = c.DVR_PROCESS
    dvr_process_next_table_id = c.PATCH_LV_TO_TUN

    def _setup_learn_flows(self, patch_int_ofport: int) -> None:
        """Table 10: learn the sender's MAC and tunnel into table 20, output to patch-int."""
        learn = (
            f"learn(table={c.UCAST_TO_TUN},hard_timeout={c.LEARN_HARD_TIMEOUT},priority=1,"
            f"cookie={self.cookie:#x},NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],"
            "load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],"
            f"output:OXM_OF_IN_PORT[]),output:{patch_int_ofport}")
        self.install_apply_actions(c.LEARN_FROM_TUN, 2,
                                   (("arp", ""), ("arp_tha", addr.BROADCAST_MAC)), learn)
        self.install_apply_actions(c.LEARN_FROM_TUN, 2, (("icmp6", ""), ("icmp_type", "134")),
                                   learn)
        self.install_apply_actions(c.LEARN_FROM_TUN, 2, (("icmp6", ""), ("icmp_type", "136")),
                                   learn)
        self.install_apply_actions(c.LEARN_FROM_TUN, 1, (), learn)

    def setup_default_table(self, patch_int_ofport: int, arp_responder_enabled: bool,
                            dvr_enabled: bool) -> None:
        """The default tables."""
        if not dvr_enabled:
            # DVR's install_dvr_process() writes its own table 0 entry instead
            self.install_goto(dest_table_id=c.PATCH_LV_TO_TUN, priority=1,
                              match=(("in_port", str(patch_int_ofport)),))
        self.install_drop()
        if arp_responder_enabled:
            self.install_goto(dest_table_id=c.ARP_RESPONDER, table_id=c.PATCH_LV_TO_TUN,
                              priority=1,
                              match=(("arp", ""), ("dl_dst", addr.BROADCAST_MAC)))
        self.install_goto(dest_table_id=c.UCAST_TO_TUN, table_id=c.PATCH_LV_TO_TUN,
                          match=(("dl_dst", "00:00:00:00:00:00/01:00:00:00:00:00"),))
        self.install_goto(dest_table_id=c.FLOOD_TO_TUN, table_id=c.PATCH_LV_TO_TUN,
                          match=(("dl_dst", "01:00:00:00:00:00/01:00:00:00:00:00"),))
        for tunnel_type in c.TUNNEL_NETWORK_TYPES:
            self.install_drop(table_id=c.TUN_TABLE[tunnel_type])
        self._setup_learn_flows(patch_int_ofport)
        self.install_goto(dest_table_id=c.FLOOD_TO_TUN, table_id=c.UCAST_TO_TUN)
        if arp_responder_enabled:
            self.install_goto(dest_table_id=c.FLOOD_TO_TUN, table_id=c.ARP_RESPONDER)
        self.install_drop(table_id=c.FLOOD_TO_TUN)

    @staticmethod
    def _local_vlan_match(tun_id: int) -> Match:
        """The network's tunnel id."""
        return (("tun_id", f"{tun_id:#x}"),)

    def provision_local_vlan(self, network_type: str, lvid: int, segmentation_id: int,
                             distributed: bool = False) -> None:
        """Traffic from a tunnel with the network's id gets its local VLAN, then table 10
        (DVR: 9)."""
        dest = c.DVR_NOT_LEARN if distributed else c.LEARN_FROM_TUN
        self.add_flow(c.TUN_TABLE[network_type], 1, self._local_vlan_match(segmentation_id),
                      f"{push_vlan(lvid)},{goto(dest)}")

    def reclaim_local_vlan(self, network_type: str, segmentation_id: int) -> None:
        """The network's tunnel id entry goes."""
        match = self._local_vlan_match(segmentation_id)
        self.uninstall_flows(lambda f: f.table == c.TUN_TABLE[network_type] and f.match == match)

    @staticmethod
    def _flood_to_tun_match(vlan: int) -> Match:
        """The local VLAN."""
        return (("dl_vlan", str(vlan)),)

    def install_flood_to_tun(self, vlan: int, tun_id: int, ports: list[int]) -> None:
        """Table 22: flood the local VLAN's frames into ``ports`` with the tunnel id."""
        outputs = ",".join(f"output:{p}" for p in ports)
        self.install_apply_actions(c.FLOOD_TO_TUN, 1, self._flood_to_tun_match(vlan),
                                   f"pop_vlan,set_field:{tun_id:#x}->tun_id,{outputs}")

    def delete_flood_to_tun(self, vlan: int) -> None:
        """The local VLAN's flood entry goes."""
        match = self._flood_to_tun_match(vlan)
        self.uninstall_flows(lambda f: f.table == c.FLOOD_TO_TUN and f.match == match)

    @staticmethod
    def _unicast_to_tun_match(vlan: int, mac: str) -> Match:
        """The local VLAN and a destination MAC."""
        return (("dl_vlan", str(vlan)), ("dl_dst", mac))

    def install_unicast_to_tun(self, vlan: int, tun_id: int, port: int, mac: str) -> None:
        """Table 20 (l2population): frames to ``mac`` go into tunnel ``port``."""
        self.install_apply_actions(c.UCAST_TO_TUN, 2, self._unicast_to_tun_match(vlan, mac),
                                   f"pop_vlan,set_field:{tun_id:#x}->tun_id,output:{port}")

    def delete_unicast_to_tun(self, vlan: int, mac: str) -> None:
        """The unicast entry of ``mac`` goes."""
        match = self._unicast_to_tun_match(vlan, mac)
        self.uninstall_flows(lambda f: f.table == c.UCAST_TO_TUN and f.match == match)

    def _arp_responder_match(self, vlan: int, ip: str) -> Match:
        """ARP for ``ip`` on the local VLAN."""
        return (("arp", ""), ("dl_vlan", str(vlan)), ("arp_tpa", ip))

    def setup_tunnel_port(self, network_type: str, port: int) -> None:
        """Table 0: what arrives by a tunnel port goes to its type's table."""
        self.install_goto(dest_table_id=c.TUN_TABLE[network_type], priority=1,
                          match=(("in_port", str(port)),))

    def add_dvr_mac_tun(self, mac: str, port: int) -> None:
        """Table 9: frames from another host's DVR MAC go to patch-int unlearned."""
        self.install_apply_actions(c.DVR_NOT_LEARN, 1, (("dl_src", mac),), f"output:{port}")

    def remove_dvr_mac_tun(self, mac: str) -> None:
        """The table 9 entry of a DVR MAC goes."""
        self.uninstall_flows(lambda f: f.table == c.DVR_NOT_LEARN
                             and f.match_value("dl_src") == mac)
