"""neutrace's bridge methods against Neutron's of the same name, one call at a time.

The agent's start (test_neutron_conformance.py) calls only some of the bridge methods; the
others (DVR MAC entries, reclaiming a local VLAN, deleting flood/unicast/ARP entries, drop_port
on a physical bridge, a distributed local VLAN) are called here on Neutron's own native bridge
classes (scripts/neutron_bridge_methods.py, on a private Open vSwitch) and on ours with the same
arguments; both bridges' flows go through the same ``ovs-ofctl dump-flows`` and must agree table
by table (cookies dropped). A new bridge method gets a call in CALLS.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from neutrace.agents.ovs.br_int import OVSIntegrationBridge
from neutrace.agents.ovs.br_phys import OVSPhysicalBridge
from neutrace.agents.ovs.br_tun import OVSTunnelBridge
from neutrace.agents.ovs.ovs_bridge import BridgeBuilder
from neutrace.dataplane import HostState, OvsPort
from tests.conftest import require
from tests.support.conformance_lib import compare_flows, dump_ours, have_root, neutron_python
from tests.support.paths import REPO

pytestmark = [pytest.mark.conformance, pytest.mark.ovs, pytest.mark.root]

SCRIPT = REPO / "scripts" / "neutron_bridge_methods.py"
DVR_MAC = "fa:16:3f:00:00:0{}"
GW_MAC = "fa:16:3e:00:01:01"
VM_MAC = "fa:16:3e:00:00:0{}"

BRIDGES: dict[str, dict[str, Any]] = {
    "br-int": {"class": "br_int", "ports": {"qvo-a": 5, "qvo-b": 6, "qvo-c": 8}},
    "br-tun": {"class": "br_tun", "ports": {}},
    "br-ex": {"class": "br_phys", "ports": {"eth2": 1}},
}
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("br-int", "setup_default_table", {}),
    ("br-int", "provision_local_vlan", {"port": 1, "lvid": 3, "segmentation_id": 101}),
    ("br-int", "provision_local_vlan", {"port": 1, "lvid": 4, "segmentation_id": None}),
    ("br-int", "provision_local_vlan", {"port": 2, "lvid": 5, "segmentation_id": 102}),
    ("br-int", "reclaim_local_vlan", {"port": 2, "segmentation_id": 102}),
    ("br-int", "add_dvr_mac_tun", {"mac": DVR_MAC.format(1), "port": 7}),
    ("br-int", "add_dvr_mac_physical", {"mac": DVR_MAC.format(2), "port": 1}),
    ("br-int", "add_dvr_mac_tun", {"mac": DVR_MAC.format(3), "port": 7}),
    ("br-int", "remove_dvr_mac_tun", {"mac": DVR_MAC.format(3), "port": 7}),
    ("br-int", "add_dvr_mac_physical", {"mac": DVR_MAC.format(4), "port": 1}),
    ("br-int", "remove_dvr_mac_vlan", {"mac": DVR_MAC.format(4)}),
    ("br-int", "set_allowed_macs_for_port", {"port": 5, "mac_addresses": ["fa:16:3e:00:00:05"]}),
    ("br-int", "install_arp_spoofing_protection",
     {"port": 5, "ip_addresses": ["10.0.0.5", "10.0.1.0/24"]}),
    ("br-int", "install_icmpv6_na_spoofing_protection",
     {"port": 5, "ip_addresses": ["fe80::f816:3eff:fe00:5", "2001:db8::/64"]}),
    ("br-int", "set_allowed_macs_for_port", {"port": 6, "mac_addresses": ["fa:16:3e:00:00:06"]}),
    ("br-int", "install_arp_spoofing_protection", {"port": 6, "ip_addresses": ["10.0.0.6"]}),
    ("br-int", "install_icmpv6_na_spoofing_protection",
     {"port": 6, "ip_addresses": ["fe80::f816:3eff:fe00:6"]}),
    ("br-int", "delete_arp_spoofing_protection", {"port": 6}),
    ("br-int", "set_allowed_macs_for_port", {"port": 6, "allow_all": True}),
    ("br-int", "install_arp_spoofing_protection", {"port": 8, "ip_addresses": ["10.0.0.8"]}),
    ("br-int", "delete_arp_spoofing_allow_rules", {"port": 8}),
    ("br-int", "setup_canary_table", {}),
    # DVR (OVSIntegrationBridge + OVSDVRInterfaceMixin)
    ("br-int", "install_dvr_to_src_mac", {"network_type": "vxlan", "vlan_tag": 3,
                                          "gateway_mac": GW_MAC, "dst_mac": VM_MAC.format(5),
                                          "dst_port": 5}),
    ("br-int", "install_dvr_to_src_mac", {"network_type": "vlan", "vlan_tag": 101,
                                          "gateway_mac": GW_MAC, "dst_mac": VM_MAC.format(6),
                                          "dst_port": 6}),
    ("br-int", "install_dvr_to_src_mac", {"network_type": "flat", "vlan_tag": None,
                                          "gateway_mac": GW_MAC, "dst_mac": VM_MAC.format(8),
                                          "dst_port": 8}),
    ("br-int", "install_dvr_to_src_mac", {"network_type": "vxlan", "vlan_tag": 4,
                                          "gateway_mac": GW_MAC, "dst_mac": VM_MAC.format(9),
                                          "dst_port": 8}),
    ("br-int", "delete_dvr_to_src_mac", {"network_type": "vxlan", "vlan_tag": 4,
                                         "dst_mac": VM_MAC.format(9)}),
    ("br-int", "install_dvr_dst_mac_for_arp", {"network_type": "vxlan", "vlan_tag": 3,
                                               "gateway_mac": GW_MAC, "dvr_mac": DVR_MAC.format(9),
                                               "rtr_port": 6}),
    ("br-int", "install_dvr_dst_mac_for_arp", {"network_type": "vlan", "vlan_tag": 4,
                                               "gateway_mac": GW_MAC, "dvr_mac": DVR_MAC.format(9),
                                               "rtr_port": 6}),
    ("br-int", "install_dvr_dst_mac_for_arp", {"network_type": "vxlan", "vlan_tag": 5,
                                               "gateway_mac": GW_MAC, "dvr_mac": DVR_MAC.format(9),
                                               "rtr_port": 6}),
    # Neutron deletes from the DVR_TO_SRC_MAC table: the vlan one stays, the vxlan one too
    ("br-int", "delete_dvr_dst_mac_for_arp", {"network_type": "vlan", "vlan_tag": 4,
                                              "gateway_mac": GW_MAC, "dvr_mac": DVR_MAC.format(9),
                                              "rtr_port": 6}),
    ("br-int", "delete_dvr_dst_mac_for_arp", {"network_type": "vxlan", "vlan_tag": 5,
                                              "gateway_mac": GW_MAC, "dvr_mac": DVR_MAC.format(9),
                                              "rtr_port": 6}),
    ("br-int", "add_dvr_gateway_mac_arp_tun", {"mac": DVR_MAC.format(9), "port": 7}),
    ("br-int", "add_dvr_gateway_mac_arp_vlan", {"mac": DVR_MAC.format(9), "port": 1}),
    ("br-int", "add_dvr_gateway_mac_arp_tun", {"mac": DVR_MAC.format(8), "port": 7}),
    ("br-int", "remove_dvr_gateway_mac_arp_tun", {"mac": DVR_MAC.format(8), "port": 7}),
    ("br-int", "add_dvr_gateway_mac_arp_vlan", {"mac": DVR_MAC.format(7), "port": 1}),
    ("br-int", "remove_dvr_gateway_mac_arp_vlan", {"mac": DVR_MAC.format(7), "port": 1}),
    ("br-int", "change_arp_destination_mac", {"target_mac_address": GW_MAC,
                                              "orig_mac_address": DVR_MAC.format(9)}),
    ("br-int", "change_arp_destination_mac", {"target_mac_address": VM_MAC.format(7),
                                              "orig_mac_address": DVR_MAC.format(9)}),
    ("br-int", "delete_arp_destination_change", {"target_mac_address": VM_MAC.format(7),
                                                 "orig_mac_address": DVR_MAC.format(9)}),
    ("br-int", "drop_port", {"in_port": 1}),
    ("br-tun", "setup_default_table",
     {"patch_int_ofport": 1, "arp_responder_enabled": True, "dvr_enabled": False}),
    ("br-tun", "setup_tunnel_port", {"network_type": "vxlan", "port": 2}),
    ("br-tun", "setup_tunnel_port", {"network_type": "gre", "port": 3}),
    ("br-tun", "setup_tunnel_port", {"network_type": "geneve", "port": 4}),
    ("br-tun", "provision_local_vlan",
     {"network_type": "vxlan", "lvid": 1, "segmentation_id": 101}),
    ("br-tun", "provision_local_vlan",
     {"network_type": "gre", "lvid": 2, "segmentation_id": 102, "distributed": True}),
    ("br-tun", "provision_local_vlan",
     {"network_type": "geneve", "lvid": 3, "segmentation_id": 103}),
    ("br-tun", "reclaim_local_vlan", {"network_type": "geneve", "segmentation_id": 103}),
    ("br-tun", "install_flood_to_tun", {"vlan": 1, "tun_id": 101, "ports": [2, 3]}),
    ("br-tun", "install_flood_to_tun", {"vlan": 3, "tun_id": 103, "ports": [4]}),
    ("br-tun", "delete_flood_to_tun", {"vlan": 3}),
    ("br-tun", "install_unicast_to_tun",
     {"vlan": 1, "tun_id": 101, "port": 2, "mac": "fa:16:3e:00:00:0a"}),
    ("br-tun", "install_unicast_to_tun",
     {"vlan": 1, "tun_id": 101, "port": 3, "mac": "fa:16:3e:00:00:0b"}),
    ("br-tun", "delete_unicast_to_tun", {"vlan": 1, "mac": "fa:16:3e:00:00:0b"}),
    ("br-tun", "install_arp_responder",
     {"vlan": 1, "ip": "10.0.0.10", "mac": "fa:16:3e:00:00:0a"}),
    ("br-tun", "add_dvr_mac_tun", {"mac": DVR_MAC.format(1), "port": 1}),
    ("br-tun", "add_dvr_mac_tun", {"mac": DVR_MAC.format(2), "port": 1}),
    ("br-tun", "remove_dvr_mac_tun", {"mac": DVR_MAC.format(2)}),
    ("br-tun", "install_dvr_process_ipv4", {"vlan_tag": 3, "gateway_ip": "10.0.0.1"}),
    ("br-tun", "install_dvr_process_ipv4", {"vlan_tag": 4, "gateway_ip": "10.0.1.1"}),
    ("br-tun", "delete_dvr_process_ipv4", {"vlan_tag": 4, "gateway_ip": "10.0.1.1"}),
    ("br-tun", "install_dvr_process_ipv6", {"vlan_tag": 3, "gateway_mac": GW_MAC}),
    ("br-tun", "install_dvr_process_ipv6", {"vlan_tag": 4, "gateway_mac": GW_MAC}),
    ("br-tun", "delete_dvr_process_ipv6", {"vlan_tag": 4, "gateway_mac": GW_MAC}),
    ("br-tun", "install_dvr_process", {"vlan_tag": 3, "vif_mac": GW_MAC,
                                     "dvr_mac_address": DVR_MAC.format(9)}),
    ("br-tun", "install_dvr_process", {"vlan_tag": 4, "vif_mac": GW_MAC,
                                     "dvr_mac_address": DVR_MAC.format(9)}),
    ("br-tun", "delete_dvr_process", {"vlan_tag": 4, "vif_mac": GW_MAC}),
    ("br-ex", "setup_default_table", {}),
    ("br-ex", "provision_local_vlan",
     {"port": 2, "lvid": 3, "segmentation_id": 101, "distributed": False}),
    ("br-ex", "provision_local_vlan",
     {"port": 2, "lvid": 4, "segmentation_id": None, "distributed": False}),
    ("br-ex", "provision_local_vlan",
     {"port": 2, "lvid": 5, "segmentation_id": 102, "distributed": True}),
    ("br-ex", "provision_local_vlan",
     {"port": 2, "lvid": 6, "segmentation_id": 103, "distributed": False}),
    ("br-ex", "reclaim_local_vlan", {"port": 2, "lvid": 6}),
    ("br-ex", "add_dvr_mac_physical", {"mac": DVR_MAC.format(1), "port": 2}),
    ("br-ex", "add_dvr_mac_physical", {"mac": DVR_MAC.format(2), "port": 2}),
    ("br-ex", "remove_dvr_mac_vlan", {"mac": DVR_MAC.format(2)}),
    ("br-ex", "install_dvr_process_ipv4", {"vlan_tag": 3, "gateway_ip": "10.0.0.1"}),
    ("br-ex", "install_dvr_process_ipv4", {"vlan_tag": 4, "gateway_ip": "10.0.1.1"}),
    ("br-ex", "delete_dvr_process_ipv4", {"vlan_tag": 4, "gateway_ip": "10.0.1.1"}),
    ("br-ex", "install_dvr_process_ipv6", {"vlan_tag": 3, "gateway_mac": GW_MAC}),
    ("br-ex", "install_dvr_process_ipv6", {"vlan_tag": 4, "gateway_mac": GW_MAC}),
    ("br-ex", "delete_dvr_process_ipv6", {"vlan_tag": 4, "gateway_mac": GW_MAC}),
    ("br-ex", "install_dvr_process", {"vlan_tag": 3, "vif_mac": GW_MAC,
                                     "dvr_mac_address": DVR_MAC.format(9)}),
    ("br-ex", "install_dvr_process", {"vlan_tag": 4, "vif_mac": GW_MAC,
                                     "dvr_mac_address": DVR_MAC.format(9)}),
    ("br-ex", "delete_dvr_process", {"vlan_tag": 4, "vif_mac": GW_MAC}),
    ("br-ex", "drop_port", {"in_port": 2}),
    ("br-ex", "install_arp_responder", {"vlan": 3, "ip": "10.0.0.1", "mac": "fa:16:3e:00:00:01"}),
]
OURS: dict[str, type[BridgeBuilder]] = {
    "br_int": OVSIntegrationBridge, "br_tun": OVSTunnelBridge, "br_phys": OVSPhysicalBridge}


def _ours() -> HostState:
    """Our bridges after the same calls."""
    bridges: dict[str, BridgeBuilder] = {}
    for name, spec in BRIDGES.items():
        br = OURS[spec["class"]](name, cookie=0)
        br.ports = [OvsPort(port, ofport) for port, ofport in spec["ports"].items()]
        bridges[name] = br
    for name, method, kwargs in CALLS:
        getattr(bridges[name], method)(**kwargs)
    return HostState(name="nt-bridge-methods", management_ip="192.0.2.1", tunnel_ip=None,
                     ovs_bridges=tuple(b.build() for b in bridges.values()))


def test_every_bridge_method_is_called() -> None:
    """CALLS covers every public method of our bridge classes (new ones need a call)."""
    called = {(BRIDGES[name]["class"], method) for name, method, _ in CALLS}
    base = {m for m in vars(BridgeBuilder) if not m.startswith("_")}
    missing = []
    for cls_name, cls in OURS.items():
        own = {m for k in cls.__mro__ if k not in (BridgeBuilder, object)
               for m in vars(k) if not m.startswith("_") and callable(getattr(cls, m))}
        missing += [f"{cls.__name__}.{m}" for m in sorted(own) if (cls_name, m) not in called]
    base_called = {m for _, m in called}
    missing += [f"BridgeBuilder.{m}" for m in ("drop_port", "install_arp_responder")
                if m in base and m not in base_called]
    assert not missing, f"add calls of {missing} to CALLS"


def test_bridge_methods_match_neutron(ovs_sandbox: Any) -> None:
    """Neutron's bridge methods and ours, called alike, leave the same flows."""
    python = neutron_python()
    require(python is not None, "neutron in a virtualenv (NEUTRACE_NEUTRON_PYTHON)")
    require(have_root(), "root with network namespaces")
    assert python is not None
    with tempfile.TemporaryDirectory(prefix="nt-conf-") as d:
        calls = Path(d) / "calls.json"
        out = Path(d) / "out.json"
        calls.write_text(json.dumps({"bridges": BRIDGES, "calls": CALLS}))
        proc = subprocess.run([python, str(SCRIPT), str(calls), "-o", str(out)],
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0 and out.exists(), proc.stderr[-4000:]
        theirs = json.loads(out.read_text())["flows"]
    assert sum(len(f) for f in theirs.values()) > 30, "Neutron programmed (almost) nothing"
    diffs = compare_flows(dump_ours(ovs_sandbox, _ours()), theirs)
    assert not diffs, "bridge methods differ from Neutron 29 (- neutron, + neutrace):\n" + \
        "\n".join(str(d) for d in diffs)
