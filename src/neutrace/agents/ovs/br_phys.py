"""A physical bridge (br-ex, br-vlan...): Neutron's ``openflow/native/br_phys.
OVSPhysicalBridge``, method by method.

Table 0 NORMAL by default; ``provision_local_vlan`` turns a local VLAN leaving towards the
physical network into the segment's VLAN (or no tag for a flat network); DVR MAC entries in
table 3.
"""

from __future__ import annotations

from neutrace.agents import constants as c
from neutrace.agents.ovs.br_dvr_process import OVSDVRProcessMixin
from neutrace.agents.ovs.ovs_bridge import BridgeBuilder, Match, set_vlan


class OVSPhysicalBridge(OVSDVRProcessMixin, BridgeBuilder):
    """openvswitch agent physical bridge specific logic."""

    # used by OVSDVRProcessMixin
    dvr_process_table_id = c.DVR_PROCESS_PHYSICAL
    dvr_process_next_table_id = c.LOCAL_VLAN_TRANSLATION

    def setup_default_table(self) -> None:
        """Table 0: NORMAL."""
        self.install_normal()

    @staticmethod
    def _local_vlan_match(port: int, lvid: int) -> Match:
        """The local VLAN, from ``phy-br-…``."""
        return (("in_port", str(port)), ("dl_vlan", str(lvid)))

    def provision_local_vlan(self, port: int, lvid: int, segmentation_id: int | None,
                             distributed: bool) -> None:
        """The local VLAN becomes the segment's VLAN (or is popped for a flat network)."""
        table_id = c.LOCAL_VLAN_TRANSLATION if distributed else c.LOCAL_SWITCHING
        action = "pop_vlan" if segmentation_id is None else set_vlan(segmentation_id)
        self.install_apply_actions(table_id, 4, self._local_vlan_match(port, lvid),
                                   f"{action},NORMAL")

    def reclaim_local_vlan(self, port: int, lvid: int) -> None:
        """The local VLAN's translation flow goes."""
        match = self._local_vlan_match(port, lvid)
        self.uninstall_flows(lambda f: f.match == match)

    def add_dvr_mac_physical(self, mac: str, port: int) -> None:
        """Table 3: frames from another host's DVR MAC go to br-int unlearned."""
        self.install_apply_actions(c.DVR_NOT_LEARN_PHYSICAL, 2, (("dl_src", mac),),
                                   f"output:{port}")

    def remove_dvr_mac_vlan(self, mac: str) -> None:
        """The table 3 entry of a DVR MAC goes."""
        self.uninstall_flows(lambda f: f.table == c.DVR_NOT_LEARN_PHYSICAL
                             and f.match_value("dl_src") == mac)
