"""The openvswitch firewall's conntrack states and marks (layer 3), verbatim from
``neutron.agent.linux.openvswitch_firewall.constants`` of the release in ``agents.constants``.

A connection the driver accepted has ``ct_mark`` 0 (``CT_MARK_NORMAL``); once a security-group
rule no longer allows it, the driver's priority-40 ``+est`` flows commit it again with
``ct_mark=0x1`` (``CT_MARK_INVALID``) and the priority-50 ``ct_mark=0x1`` flows drop it.
"""

from __future__ import annotations

OF_STATE_NOT_TRACKED = "-trk"
OF_STATE_TRACKED = "+trk"
OF_STATE_NEW_NOT_ESTABLISHED = "+new-est"
OF_STATE_NOT_ESTABLISHED = "-est"
OF_STATE_ESTABLISHED = "+est"
OF_STATE_ESTABLISHED_NOT_REPLY = "+est-rel-rpl"
OF_STATE_ESTABLISHED_REPLY = "+est-rel+rpl"
OF_STATE_RELATED = "-new-est+rel-inv"
OF_STATE_INVALID = "+trk+inv"
OF_STATE_NEW = "+new"
OF_STATE_NOT_REPLY_NOT_NEW = "-new-rpl"

CT_MARK_NORMAL = "0x0"
CT_MARK_INVALID = "0x1"

# neutron_lib.constants
ETHERTYPE_IP = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_RARP = 0x8035
ETHERTYPE_IPV6 = 0x86DD
PROTO_NUM_ICMP = 1
PROTO_NUM_TCP = 6
PROTO_NUM_UDP = 17
PROTO_NUM_IPV6_ICMP = 58
PROTO_NUM_SCTP = 132
ICMPV6_TYPE_MLD_QUERY = 130
ICMPV6_TYPE_RS = 133
ICMPV6_TYPE_RA = 134
ICMPV6_TYPE_NS = 135
ICMPV6_TYPE_NA = 136
IPV4_ANY = "0.0.0.0/0"
IPV6_ANY = "::/0"

# neutron.agent.firewall
ICMPV6_ALLOWED_INGRESS_TYPES = (ICMPV6_TYPE_MLD_QUERY, ICMPV6_TYPE_NS, ICMPV6_TYPE_NA)
ICMPV6_ALLOWED_EGRESS_TYPES = (ICMPV6_TYPE_MLD_QUERY, ICMPV6_TYPE_RS, ICMPV6_TYPE_NS)
ICMPV6_RESTRICTED_EGRESS_TYPES = (ICMPV6_TYPE_NA,)

PROTOCOLS_WITH_PORTS = {PROTO_NUM_SCTP: "sctp", PROTO_NUM_TCP: "tcp", PROTO_NUM_UDP: "udp"}
ETHERTYPE_TO_DL_TYPE = {"IPv4": ETHERTYPE_IP, "IPv6": ETHERTYPE_IPV6}

# neutron_lib.constants.IP_PROTOCOL_MAP (names -> numbers; "icmpv6" is the legacy alias)
IP_PROTOCOL_MAP = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
    "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}

# neutron_lib.agent.common.constants: the registers the driver uses
REG_PORT = 5
REG_NET = 6
REG_REMOTE_GROUP = 7
