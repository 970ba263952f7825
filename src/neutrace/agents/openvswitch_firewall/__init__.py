"""The openvswitch firewall driver (``OVSFirewallDriver``), re-enacted (layer 3).

Neutron's ``neutron.agent.linux.openvswitch_firewall`` package, module for module:

- ``constants``: the conntrack states and marks the flows match (``OF_STATE_*``, ``CT_MARK_*``);
- ``rules``: the pure functions that turn a security-group rule into flow parameters
  (``create_flows_from_rule_and_port``, ``merge_port_ranges``, the conjunction flows), with
  ``neutron.common.utils.port_rule_masking``;
- ``ofmatch``: flow parameters as ``ovs-ofctl -O OpenFlow13 dump-flows`` prints them;
- ``firewall``: the driver itself (``OVSFirewallDriver``, ``ConjIdMap``, ``ConjIPFlowManager``),
  programming br-int's tables 60, 71-73, 81-82 and 91-94 for the ports of one host.
"""

from neutrace.agents.openvswitch_firewall.firewall import OVSFirewallDriver

__all__ = ["OVSFirewallDriver"]
