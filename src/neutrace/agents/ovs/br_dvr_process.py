"""The DVR mixins of Neutron's ``openflow/native/br_dvr_process``, method by method.

``OVSDVRInterfaceMixin`` (br-int): an ARP reply from a local router port to this host's DVR
MAC gets the router port's MAC back as destination (table 0). ``OVSDVRProcessMixin`` (br-tun and
the physical bridges): the DVR_PROCESS table of the bridge drops frames to a local router port's
MAC arriving from br-int and rewrites the router port's MAC to the host's DVR MAC on the way out;
ARP for (and RAs from) the router's gateway never leave the host (table 22, as Neutron writes it
on both kinds of bridge).
"""

from __future__ import annotations

from neutrace.agents import constants as c
from neutrace.agents.ovs.ovs_bridge import BridgeBuilder, Match, goto

ARP_REPLY = 2
ND_ROUTER_ADVERT = 134


class OVSDVRInterfaceMixin(BridgeBuilder):
    """The DVR flows of br-int shared with Neutron's ``OVSDVRInterfaceMixin``."""

    @staticmethod
    def _arp_destination_match(target_mac_address: str, orig_mac_address: str) -> Match:
        """ARP replies to ``orig_mac_address`` about ``target_mac_address``."""
        return (("arp", ""), ("dl_dst", orig_mac_address), ("arp_op", str(ARP_REPLY)),
                ("arp_tha", target_mac_address))

    def change_arp_destination_mac(self, target_mac_address: str,
                                   orig_mac_address: str) -> None:
        """Destination MAC dvr_host_mac -> the router port's MAC (table 0, priority 99)."""
        self.add_flow(c.LOCAL_SWITCHING, 99,
                      self._arp_destination_match(target_mac_address, orig_mac_address),
                      f"set_field:{target_mac_address}->eth_dst,{goto(c.PACKET_RATE_LIMIT)}")

    def delete_arp_destination_change(self, target_mac_address: str,
                                      orig_mac_address: str) -> None:
        """The table 0 rewrite of ARP replies goes."""
        match = self._arp_destination_match(target_mac_address, orig_mac_address)
        self.uninstall_flows(lambda f: f.table == c.LOCAL_SWITCHING and f.match == match)


class OVSDVRProcessMixin(BridgeBuilder):
    """Common logic for br-tun's and br-phys' DVR_PROCESS tables."""

    dvr_process_table_id = c.DVR_PROCESS
    dvr_process_next_table_id = c.PATCH_LV_TO_TUN

    @staticmethod
    def _dvr_process_ipv4_match(vlan_tag: int, gateway_ip: str) -> Match:
        """ARP for the gateway on the local VLAN."""
        return (("arp", ""), ("dl_vlan", str(vlan_tag)), ("arp_tpa", gateway_ip))

    def install_dvr_process_ipv4(self, vlan_tag: int, gateway_ip: str) -> None:
        """Block ARP for the distributed gateway (table 22, priority 3)."""
        self.install_drop(table_id=c.FLOOD_TO_TUN, priority=3,
                          match=self._dvr_process_ipv4_match(vlan_tag, gateway_ip))

    def delete_dvr_process_ipv4(self, vlan_tag: int, gateway_ip: str) -> None:
        """The ARP block goes."""
        match = self._dvr_process_ipv4_match(vlan_tag, gateway_ip)
        self.uninstall_flows(lambda f: f.table == c.FLOOD_TO_TUN and f.match == match)

    @staticmethod
    def _dvr_process_ipv6_match(vlan_tag: int, gateway_mac: str) -> Match:
        """Router advertisements from the gateway on the local VLAN."""
        return (("icmp6", ""), ("dl_vlan", str(vlan_tag)), ("dl_src", gateway_mac),
                ("icmp_type", str(ND_ROUTER_ADVERT)))

    def install_dvr_process_ipv6(self, vlan_tag: int, gateway_mac: str) -> None:
        """Block the gateway's RAs (table 22, priority 3)."""
        self.install_drop(table_id=c.FLOOD_TO_TUN, priority=3,
                          match=self._dvr_process_ipv6_match(vlan_tag, gateway_mac))

    def delete_dvr_process_ipv6(self, vlan_tag: int, gateway_mac: str) -> None:
        """The RA block goes."""
        match = self._dvr_process_ipv6_match(vlan_tag, gateway_mac)
        self.uninstall_flows(lambda f: f.table == c.FLOOD_TO_TUN and f.match == match)

    @staticmethod
    def _dvr_process_in_match(vlan_tag: int, vif_mac: str) -> Match:
        """To the router port's MAC on the local VLAN."""
        return (("dl_vlan", str(vlan_tag)), ("dl_dst", vif_mac))

    @staticmethod
    def _dvr_process_out_match(vlan_tag: int, vif_mac: str) -> Match:
        """From the router port's MAC on the local VLAN."""
        return (("dl_vlan", str(vlan_tag)), ("dl_src", vif_mac))

    def install_dvr_process(self, vlan_tag: int, vif_mac: str, dvr_mac_address: str) -> None:
        """Drop frames to the local router port; its own frames leave with the DVR MAC."""
        table_id = self.dvr_process_table_id
        self.install_drop(table_id=table_id, priority=2,
                          match=self._dvr_process_in_match(vlan_tag, vif_mac))
        self.add_flow(table_id, 1, self._dvr_process_out_match(vlan_tag, vif_mac),
                      f"set_field:{dvr_mac_address}->eth_src,"
                      f"{goto(self.dvr_process_next_table_id)}")

    def delete_dvr_process(self, vlan_tag: int, vif_mac: str) -> None:
        """Both DVR_PROCESS flows of the router port go."""
        table_id = self.dvr_process_table_id
        ins = self._dvr_process_in_match(vlan_tag, vif_mac)
        out = self._dvr_process_out_match(vlan_tag, vif_mac)
        self.uninstall_flows(lambda f: f.table == table_id and f.match in (ins, out))
