"""Neutron's numbers and names, in one place (layer 3).

Everything here is copied by meaning from the Neutron release the agents mirror: OpenFlow table
numbers (``neutron_lib.plugins.ml2.ovs_constants``), device name prefixes and lengths
(``neutron_lib.constants``), iptables chain-name limits and binary names
(``neutron.agent.linux.iptables_manager``), the L3 agent's marks (``neutron.conf.agent.l3``).
"""

from __future__ import annotations

# The release mirrored: neutron 29.0.0 (PyPI) with neutron-lib 5.0.1.
NEUTRON_RELEASE = "29.0.0"
NEUTRON_LIB_RELEASE = "5.0.1"

# --- OpenFlow tables: br-int -------------------------------------------------------------
LOCAL_SWITCHING = 0
DVR_TO_SRC_MAC = 1
DVR_TO_SRC_MAC_PHYSICAL = 2
ARP_DVR_MAC_TO_DST_MAC = 3
ARP_DVR_MAC_TO_DST_MAC_PHYSICAL = 4
CANARY_TABLE = 23
ARP_SPOOF_TABLE = 24
MAC_SPOOF_TABLE = 25
LOCAL_EGRESS_TABLE = 30
LOCAL_IP_TABLE = 31
PACKET_RATE_LIMIT = 58
BANDWIDTH_RATE_LIMIT = 59
TRANSIENT_TABLE = 60
LOCAL_MAC_DIRECT = 61
TRANSIENT_EGRESS_TABLE = 62
DHCP_IPV4_TABLE = 77
DHCP_IPV6_TABLE = 78
# the openvswitch firewall driver's tables (OVSFirewallDriver)
BASE_EGRESS_TABLE = 71
RULES_EGRESS_TABLE = 72
ACCEPT_OR_INGRESS_TABLE = 73
BASE_INGRESS_TABLE = 81
RULES_INGRESS_TABLE = 82
OVS_FIREWALL_TABLES = (BASE_EGRESS_TABLE, RULES_EGRESS_TABLE, ACCEPT_OR_INGRESS_TABLE,
                       BASE_INGRESS_TABLE, RULES_INGRESS_TABLE)
ACCEPTED_EGRESS_TRAFFIC_TABLE = 91
ACCEPTED_INGRESS_TRAFFIC_TABLE = 92
DROPPED_TRAFFIC_TABLE = 93
ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE = 94
FLAT_VLAN_TCI = "0x0000/0x1fff"

# --- br-tun --------------------------------------------------------------------------------
DVR_PROCESS = 1
PATCH_LV_TO_TUN = 2
GRE_TUN_TO_LV = 3
VXLAN_TUN_TO_LV = 4
GENEVE_TUN_TO_LV = 6
DVR_NOT_LEARN = 9
LEARN_FROM_TUN = 10
UCAST_TO_TUN = 20
ARP_RESPONDER = 21
FLOOD_TO_TUN = 22
TUNNEL_NETWORK_TYPES = ("gre", "vxlan", "geneve")
TUN_TABLE = {"gre": GRE_TUN_TO_LV, "vxlan": VXLAN_TUN_TO_LV, "geneve": GENEVE_TUN_TO_LV}

# --- physical bridges ------------------------------------------------------------------------
DVR_PROCESS_PHYSICAL = 1
LOCAL_VLAN_TRANSLATION = 2
DVR_NOT_LEARN_PHYSICAL = 3

OPENFLOW_MAX_PRIORITY = 65535
MIN_VLAN_TAG = 1
MAX_VLAN_TAG = 4094
DEAD_VLAN_TAG = MAX_VLAN_TAG + 1
LEARN_HARD_TIMEOUT = 300

# --- DVR (neutron_lib.plugins.ml2.ovs_constants, neutron.agent.l3.dvr_fip_ns) ---------------
DVR_PHYSICAL_NETWORK_TYPES = ("vlan", "flat")
FIP_RT_TBL = 16
FIP_PR_START = 32768
FIP_PR_END = FIP_PR_START + 40000
FAST_PATH_EXIT_PR = 80000
DVR_FIP_LL_CIDR = "169.254.64.0/18"  # neutron_lib.constants.DVR_FIP_LL_CIDR

# --- OVS agent configuration defaults ([ovs] / [agent]) ----------------------------------------
INTEGRATION_BRIDGE = "br-int"
TUNNEL_BRIDGE = "br-tun"
INT_PEER_PATCH_PORT = "patch-tun"
TUN_PEER_PATCH_PORT = "patch-int"
PEER_INTEGRATION_PREFIX = "int-"
PEER_PHYSICAL_PREFIX = "phy-"
VXLAN_UDP_PORT = 4789
DONT_FRAGMENT = True
IGMP_FLOOD = False  # [ovs] igmp_flood
IGMP_FLOOD_REPORTS = True  # [ovs] igmp_flood_reports
OVS_PROTOCOLS = ("OpenFlow10", "OpenFlow13", "OpenFlow14")  # OVSBridge.initial_protocols
OPENFLOW_VERSIONS = ("OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14",
                     "OpenFlow15")  # the order ovs-vsctl lists a Bridge's protocols in

# --- device names --------------------------------------------------------------------------
DEVICE_NAME_MAX_LEN = 15
LINUX_DEV_LEN = 14  # Neutron's (tap + 11 characters of the port id)
TAP_DEVICE_PREFIX = "tap"
QBR_PREFIX = "qbr"
QVB_PREFIX = "qvb"
QVO_PREFIX = "qvo"
INTERNAL_DEV_PREFIX = "qr-"
EXTERNAL_DEV_PREFIX = "qg-"
ROUTER_NS_PREFIX = "qrouter-"
SNAT_INT_DEV_PREFIX = "sg-"  # neutron_lib.constants
SNAT_NS_PREFIX = "snat-"  # neutron.agent.l3.dvr_snat_ns
FIP_NS_PREFIX = "fip-"  # neutron.agent.l3.dvr_fip_ns
FIP_EXT_DEV_PREFIX = "fg-"
FIP_2_ROUTER_DEV_PREFIX = "fpr-"
ROUTER_2_FIP_DEV_PREFIX = "rfp-"
DHCP_NS_PREFIX = "qdhcp-"
HA_DEV_PREFIX = "ha-"  # neutron.agent.l3.ha_router
# L3 HA (neutron.agent.linux.keepalived, neutron.conf.agent.l3.ha; the agent's defaults)
HA_CONFS_PATH = "/var/lib/neutron/ha_confs"  # [DEFAULT] ha_confs_path = $state_path/ha_confs
HA_VRRP_ADVERT_INT = 2  # [DEFAULT] ha_vrrp_advert_int
HA_VRRP_AUTH_TYPE = "PASS"  # [DEFAULT] ha_vrrp_auth_type (written only with a password)
HA_DEFAULT_PRIORITY = 50  # keepalived.HA_DEFAULT_PRIORITY (the server sends no priority)
GARP_PRIMARY_DELAY = 60  # keepalived.GARP_PRIMARY_DELAY
KEEPALIVED_EMAIL_FROM = "neutron@openstack.local"
KEEPALIVED_ROUTER_ID = "neutron"
PRIMARY_VIP_RANGE_SIZE = 24
PRIVATE_CIDR_RANGE = "169.254.0.0/16"  # neutron_lib.constants
METADATA_CIDR = "169.254.169.254/32"
DVR_FIP_LL_CIDR = "169.254.64.0/18"
# keepalived >= 2.0.3 (every current distribution): the agent's runtime check
# (keepalived_use_no_track_support) adds no_track to untracked VIPs and to virtual routes
KEEPALIVED_NO_TRACK = True
DEVICE_OWNER_NETWORK_PREFIX = "network:"
DEVICE_OWNER_COMPUTE_PREFIX = "compute:"

# --- iptables ------------------------------------------------------------------------------
MAX_IPTABLES_CHAIN_LEN_WRAP = 11
MAX_IPTABLES_CHAIN_LEN_NOWRAP = 28
OVS_AGENT_BINARY = "neutron-openvswitch-agent"
L3_AGENT_BINARY = "neutron-l3-agent"
DHCP_AGENT_BINARY = "neutron-dhcp-agent"
IPSET_NAME_MAX_LENGTH = 29
CT_ZONE_START = 4097
# [agent] use_random_fully (default True) and iptables >= 1.6.0: SNAT rules get --random-fully
USE_RANDOM_FULLY = True

# --- L3 agent ------------------------------------------------------------------------------
METADATA_ACCESS_MARK = "0x1"
EXTERNAL_INGRESS_MARK = "0x2"
ROUTER_MARK_MASK = "0xffff"
ADDRESS_SCOPE_MARK_MASK = "0xffff0000"
ADDRESS_SCOPE_MARK_ID_MIN = 1024  # the default scope's mark id (set().pop() of 1024..2047)
METADATA_V4_CIDR = "169.254.169.254/32"
METADATA_V6_IP = "fe80::a9fe:a9fe"
METADATA_V6_CIDR = "fe80::a9fe:a9fe/128"
METADATA_PORT = 9697
DHCP_CLIENT_PORT = 68
DHCPV6_CLIENT_PORT = 546
