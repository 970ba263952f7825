"""neutron-openvswitch-agent (layer 3), laid out as Neutron lays it out:

- ``ovs_neutron_agent``: ``OVSNeutronAgent``, the agent's steps in its order (the table of
  contents: which bridge method is called when);
- ``ovs_bridge``: ``BridgeBuilder``, what every bridge can do (``ovs_lib.OVSBridge``'s ports,
  ``ofswitch``'s ``install_*`` and ``native/ovs_bridge``'s ``drop_port``,
  ``install_arp_responder``);
- ``br_int``, ``br_tun``, ``br_phys``: ``OVSIntegrationBridge``, ``OVSTunnelBridge``,
  ``OVSPhysicalBridge`` with Neutron's bridge-level methods (``setup_default_table``,
  ``provision_local_vlan``, ``reclaim_local_vlan``, ``install_flood_to_tun``,
  ``install_unicast_to_tun``, ``install_arp_responder``, ``add_dvr_mac_*``...), so a change to
  Neutron's ``openflow/native/br_tun.py`` between releases maps onto ``br_tun.py`` here.
"""

from __future__ import annotations

from neutrace.agents.ovs.ovs_bridge import bridge_cookie
from neutrace.agents.ovs.ovs_neutron_agent import get_interface_name, get_tunnel_name, program_ovs

__all__ = ["bridge_cookie", "get_interface_name", "get_tunnel_name", "program_ovs"]
