"""Hand-written netfilter texts shaped like Neutron's, shared by the parser, engine and kernel
tests: a legacy router's nat/mangle tables (test-ctrl-01's qrouter) and a hybrid-firewall port's
raw/filter tables with an ipset."""

from __future__ import annotations

# Neutron's legacy-router nat table (neutron/agent/l3/router_info.py, iptables_manager wrapping)
NAT = """\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:neutron-l3-agent-OUTPUT - [0:0]
:neutron-l3-agent-POSTROUTING - [0:0]
:neutron-l3-agent-PREROUTING - [0:0]
:neutron-l3-agent-float-snat - [0:0]
:neutron-l3-agent-snat - [0:0]
:neutron-postrouting-bottom - [0:0]
-A PREROUTING -j neutron-l3-agent-PREROUTING
-A OUTPUT -j neutron-l3-agent-OUTPUT
-A POSTROUTING -j neutron-l3-agent-POSTROUTING
-A POSTROUTING -j neutron-postrouting-bottom
-A neutron-l3-agent-OUTPUT -d 192.168.100.102/32 -j DNAT --to-destination 192.168.111.4
-A neutron-l3-agent-POSTROUTING ! -i qg-169d638e-0e ! -o qg-169d638e-0e -m conntrack ! --ctstate DNAT -j ACCEPT
-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 9697
-A neutron-l3-agent-PREROUTING -d 192.168.100.102/32 -j DNAT --to-destination 192.168.111.4
-A neutron-l3-agent-float-snat -s 192.168.111.4/32 -j SNAT --to-source 192.168.100.102
-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat
-A neutron-l3-agent-snat -o qg-169d638e-0e -j SNAT --to-source 192.168.100.103
-A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT -j SNAT --to-source 192.168.100.103
-A neutron-postrouting-bottom -m comment --comment "Perform source NAT on outgoing traffic." -j neutron-l3-agent-snat
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:neutron-l3-agent-PREROUTING - [0:0]
:neutron-l3-agent-mark - [0:0]
-A PREROUTING -j neutron-l3-agent-PREROUTING
-A neutron-l3-agent-PREROUTING -j neutron-l3-agent-mark
-A neutron-l3-agent-mark -i qg-169d638e-0e -j MARK --set-xmark 0x2/0xffff
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:neutron-l3-agent-FORWARD - [0:0]
:neutron-l3-agent-INPUT - [0:0]
-A INPUT -j neutron-l3-agent-INPUT
-A FORWARD -j neutron-l3-agent-FORWARD
-A neutron-l3-agent-INPUT -p tcp -m tcp --dport 9697 -j DROP
COMMIT
"""  # noqa: E501


TAP, QVB, QVO = "tapaf305168-66", "qvbaf305168-66", "qvoaf305168-66"
QBR = "qbraf305168-66"
SG_SET = "NIPv4d0e3a0d3-34d4-46f8-9a5c-"
SG_IPSETS = f"""\
create {SG_SET} hash:net family inet hashsize 1024 maxelem 65536
add {SG_SET} 10.0.0.6
"""
SG_IPTABLES = f"""\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:neutron-openvswi-OUTPUT - [0:0]
:neutron-openvswi-PREROUTING - [0:0]
-A PREROUTING -j neutron-openvswi-PREROUTING
-A OUTPUT -j neutron-openvswi-OUTPUT
-A neutron-openvswi-PREROUTING -m physdev --physdev-in {QVB} -m comment --comment "Set zone for 305168-66" -j CT --zone 4097
-A neutron-openvswi-PREROUTING -i {QVB} -m comment --comment "Set zone for 305168-66" -j CT --zone 4097
-A neutron-openvswi-PREROUTING -m physdev --physdev-in {TAP} -m comment --comment "Set zone for 305168-66" -j CT --zone 4097
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:neutron-filter-top - [0:0]
:neutron-openvswi-FORWARD - [0:0]
:neutron-openvswi-INPUT - [0:0]
:neutron-openvswi-OUTPUT - [0:0]
:neutron-openvswi-iaf305168-6 - [0:0]
:neutron-openvswi-local - [0:0]
:neutron-openvswi-oaf305168-6 - [0:0]
:neutron-openvswi-saf305168-6 - [0:0]
:neutron-openvswi-sg-chain - [0:0]
:neutron-openvswi-sg-fallback - [0:0]
-A INPUT -j neutron-openvswi-INPUT
-A FORWARD -j neutron-filter-top
-A FORWARD -j neutron-openvswi-FORWARD
-A OUTPUT -j neutron-filter-top
-A OUTPUT -j neutron-openvswi-OUTPUT
-A neutron-filter-top -j neutron-openvswi-local
-A neutron-openvswi-FORWARD -m physdev --physdev-out {TAP} --physdev-is-bridged -m comment --comment "Direct traffic from the VM interface to the security group chain." -j neutron-openvswi-sg-chain
-A neutron-openvswi-FORWARD -m physdev --physdev-in {TAP} --physdev-is-bridged -m comment --comment "Direct traffic from the VM interface to the security group chain." -j neutron-openvswi-sg-chain
-A neutron-openvswi-INPUT -m physdev --physdev-in {TAP} --physdev-is-bridged -m comment --comment "Direct incoming traffic from VM to the security group chain." -j neutron-openvswi-oaf305168-6
-A neutron-openvswi-iaf305168-6 -m state --state RELATED,ESTABLISHED -m comment --comment "Direct packets associated with a known session to the RETURN chain." -j RETURN
-A neutron-openvswi-iaf305168-6 -d 10.0.0.4/32 -p udp -m udp --sport 67 --dport 68 -j RETURN
-A neutron-openvswi-iaf305168-6 -p tcp -m tcp --dport 22 -j RETURN
-A neutron-openvswi-iaf305168-6 -p icmp -j RETURN
-A neutron-openvswi-iaf305168-6 -m set --match-set {SG_SET} src -j RETURN
-A neutron-openvswi-iaf305168-6 -m state --state INVALID -m comment --comment "Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack." -j DROP
-A neutron-openvswi-iaf305168-6 -m comment --comment "Send unmatched traffic to the fallback chain." -j neutron-openvswi-sg-fallback
-A neutron-openvswi-oaf305168-6 -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -m comment --comment "Allow DHCP client traffic." -j RETURN
-A neutron-openvswi-oaf305168-6 -j neutron-openvswi-saf305168-6
-A neutron-openvswi-oaf305168-6 -p udp -m udp --sport 68 --dport 67 -m comment --comment "Allow DHCP client traffic." -j RETURN
-A neutron-openvswi-oaf305168-6 -p udp -m udp --sport 67 --dport 68 -m comment --comment "Prevent DHCP Spoofing by VM." -j DROP
-A neutron-openvswi-oaf305168-6 -m state --state RELATED,ESTABLISHED -m comment --comment "Direct packets associated with a known session to the RETURN chain." -j RETURN
-A neutron-openvswi-oaf305168-6 -j RETURN
-A neutron-openvswi-oaf305168-6 -m state --state INVALID -m comment --comment "Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack." -j DROP
-A neutron-openvswi-oaf305168-6 -m comment --comment "Send unmatched traffic to the fallback chain." -j neutron-openvswi-sg-fallback
-A neutron-openvswi-saf305168-6 -s 10.0.0.4/32 -m mac --mac-source FA:16:3E:AA:00:04 -m comment --comment "Allow traffic from defined IP/MAC pairs." -j RETURN
-A neutron-openvswi-saf305168-6 -m comment --comment "Drop traffic without an IP/MAC allow rule." -j DROP
-A neutron-openvswi-sg-chain -m physdev --physdev-out {TAP} --physdev-is-bridged -m comment --comment "Jump to the VM specific chain." -j neutron-openvswi-iaf305168-6
-A neutron-openvswi-sg-chain -m physdev --physdev-in {TAP} --physdev-is-bridged -m comment --comment "Jump to the VM specific chain." -j neutron-openvswi-oaf305168-6
-A neutron-openvswi-sg-chain -j ACCEPT
-A neutron-openvswi-sg-fallback -m comment --comment "Default drop rule for unmatched traffic." -j DROP
COMMIT
"""  # noqa: E501
