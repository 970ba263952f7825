"""The wording table of a trace (layer 3): `PHRASES`, every sentence a step, an OpenFlow exit, a
drop explanation or a disposition is shown as (``str.format`` templates, keyed by what they say),
and `say`, the one way to use it.

It keeps the phrases of the tools people know: OVS's ``ofproto/trace`` ("-> no learned MAC for
destination, flooding", "No match.", "-> Nonexistent output port"), the kernel's and iproute2's
("is-at", "lladdr", "ARP who-has"), iptables-save's rules and ``conntrack -L``'s entries. A test
rewords every phrase through this table and checks that nothing else notices: no module reads
these sentences back (tests/render/test_rewording.py).
"""

from __future__ import annotations

from typing import Any

PHRASES: dict[str, str] = {
    # -- OpenFlow (ofproto/trace's own lines) ---------------------------------------------
    "table.line": "{table}. {rest}",
    "table.ofproto_line": "{table:2d}. {rest}",
    "table.miss": "No match.",
    "table.hit": "{match}priority {priority}{cookie}",
    "table.cookie": ", cookie {cookie:#x}",
    "conjunction": "conj_id={conj_id} (conjunction of priority {priority} complete)",
    "ct.resume": "resume conntrack with ct_state={state}, recirculating to table {table}",
    "ct.fork": "-> A clone of the packet is forked to recirculate. The forked pipeline will be "
               "resumed at table {table}.",
    "output.nonexistent": "-> Nonexistent output port",
    "output.nonexistent_named": "-> Nonexistent output port {port}",
    "output.input_port": "-> skipping output to input port",
    "output.no_forward": "-> OFPPC_NO_FWD set, skipping output",
    "output.stp": "-> STP not in forwarding state, skipping output",
    "ttl.exceeded": "-> TTL exceeded: sent to the controller (invalid_ttl), processing stops",
    "output.tunnel": "-> output to tunnel {port} ({type}): tun_id={tun_id:#x} src={local} "
                     "dst={remote}",
    "output.patch": "-> patch port {port} -> {peer} (bridge {bridge})",
    "output.patch_no_peer": "-> patch port {port}: peer {peer!r} not found",
    "limit.depth": "over max translation depth {bound}",
    "limit.resubmits": "over {bound} resubmit actions",
    "limit.patch_chain": "patch port chain {chain} over max translation depth {bound}",
    "learn": "-> learned flow in table {table}: {flow}",
    # -- NORMAL (xlate_normal's own lines) ------------------------------------------------
    "normal.access_tagged": "-> dropping VLAN {vlan} tagged packet received on port {port} "
                            "configured as VLAN {tag} access port",
    "normal.not_trunked": "-> dropping VLAN {vlan} packet received on port {port} not "
                          "configured for trunking VLAN {vlan}",
    "normal.reserved": "-> packet has reserved destination MAC, dropping",
    "normal.learned": "-> learned that {mac} is on port {port} in VLAN {vlan}",
    "normal.input_port": "-> learned port is input port, dropping",
    "normal.forward": "-> forwarding to learned port {port}",
    "normal.flood_unknown": "-> no learned MAC for destination, flooding",
    "normal.flood_group": "-> multicast/broadcast destination, flooding",
    "normal.mirror_port": "-> port {port} is reserved for mirroring, dropping",
    # -- Linux bridges ----------------------------------------------------------------------
    "bridge.learned": "learned {mac} on {port}",
    "bridge.own_address": "{mac} is the bridge's own address: up to the namespace's stack",
    "bridge.flood_group": "{mac} is broadcast/multicast: flood to {ports}",
    "bridge.input_port": "{mac} is on the input port {port}: not sent back",
    "bridge.forward": "{mac} learned on {port}",
    "bridge.flood_unknown": "{mac} unknown: flood to {ports}",
    "bridge.no_other_port": "no other port",
    # -- physical segments ------------------------------------------------------------------
    "segment.learned": "segment {segment} learned {mac} on {port}",
    "segment.forward": "{mac} is behind {port}",
    "segment.owner": "{mac} is {member}",
    "segment.flood_unknown": "{mac} unknown: flooded",
    "segment.flood_group": "{mac} is a group address: flooded",
    "member": "{device} of {owner}",
    # -- netfilter --------------------------------------------------------------------------
    "chain.enter": "iptables {table}/{chain}",
    "chain.policy": "iptables {table}/{chain}: policy {policy}",
    "rule": "line {line}: {outcome}",
    "rule.no_target": "matched (no target)",
    "rule.depth_limit": "chain depth limit: DROP",
    "rule.jump": "jump to {target}",
    "rule.goto": "goto {target}",
    "rule.continue": "{target} (continue)",
    "rule.mark": "MARK {before:#x} -> {after:#x} (continue)",
    "rule.connmark_no_connection": "CONNMARK: no connection (continue)",
    "rule.connmark_restore": "CONNMARK restore: mark {mark:#x} (continue)",
    "rule.connmark_set": "CONNMARK: ctmark {ctmark:#x} (continue)",
    "rule.template_kept": "{target}: ignored, the packet already has its conntrack template "
                          "(continue)",
    "rule.ct_notrack": "CT --notrack (continue)",
    "rule.ct_zone": "CT zone {zone} (continue)",
    "ct.untracked_raw": "conntrack: untracked (notrack in raw)",
    "ct.untracked_nd": "conntrack: untracked ({packet}: neighbour discovery and MLD are not "
                       "tracked)",
    "ct.found": "conntrack{zone}: {state} ({direction} direction) {connection}",
    "ct.related_quoted": "conntrack{zone}: RELATED ({direction} direction) to {connection}",
    "ct.related": "conntrack{zone}: RELATED to {connection}",
    "ct.invalid": "conntrack{zone}: INVALID (cannot start a connection: {packet})",
    "ct.new": "conntrack{zone}: NEW {connection}",
    "ct.committed": "conntrack: committed {connection}",
    "ct.zone": " zone {zone}",
    "nat": "{nat}{related}: {changes}",
    "nat.related": " (related)",
    "nat.random": "the kernel picks a random port (ICMP id) for this binding "
                  "(--random/--random-fully); neutrace keeps the original one",
    "nat.taken": "{address}:{port} is taken by another connection: source port {new_port}",
    "bridge_nf.copy": "bridge netfilter for the copy out {port}",
    # -- routing and neighbours -------------------------------------------------------------
    "route.local": "{destination} is a local address of {namespace}: input",
    "route": "{reroute}route to {destination}: {route}",
    "route.reroute": "re-route: ",
    "route.rule": "rule {rule}",
    "neigh.learned": "learned {ip} is-at {mac} on {device}",
    "neigh.arp_reply": "ARP reply: {ip} is-at {mac} out {device}",
    "neigh.advertisement": "neighbour advertisement: {ip} is-at {mac} out {device}",
    "neigh.cached": "neighbour {ip} dev {device} lladdr {mac} (cached)",
    "neigh.entry": "neighbour {ip} dev {device} lladdr {mac} {state}",
    "neigh.resolved": "{ask} {ip} on {device}: {ip} is-at {mac}",
    "neigh.unanswered": "{ask} {ip} on {device}: no answer",
    "neigh.proxy_arp": "proxy ARP (net.ipv4.conf.{device}.proxy_arp=1): {ip} is routed out {via}, "
                       "so {device} answers {ip} is-at {mac}{delay}",
    "neigh.proxy_delay": " (after proxy_delay={delay})",
    "neigh.ask_arp": "ARP who-has",
    "neigh.ask_nd": "neighbour solicitation for",
    "ttl": "TTL {before} -> {after}",
    "ethernet": "out {device}: Ethernet {src} > {dst}",
    "source_address": "source address {address}",
    # -- wires and tunnels ------------------------------------------------------------------
    "wire.patch": "patch port {port} -> {peer} ({bridge} -> {peer_bridge})",
    "wire.internal_out": "{bridge} internal port {port} -> namespace {namespace}",
    "wire.internal_in": "{port} is an internal port of {bridge}",
    "wire.peer": "{device_kind} {device} -> {peer}{where}",
    "wire.peer_namespace": " (in {namespace})",
    "wire.vlan_tag": "VLAN device {device} tags the frame with VLAN {vlan}",
    "wire.segment": "segment {segment} -> {member}",
    "wire.segment_vlan": "segment {segment} -> {member}: VLAN device {device} takes VLAN {vlan} "
                         "and strips the tag",
    "wire.frame_sent": "{namespace} sends a frame out of {device}",
    "root_namespace": "<root>",
    # -- the readable walk, its summary and its verdict (render.walk, render.verdict) ---------
    "text.title": "Walk: {start}: {packet}",
    "text.copies": "Copies: {copies}, reached a destination: {ok}",
    "text.hop": "{number}. {where}{in_port}: {packet}",
    "text.where": "{host}: {element} ({kind})",
    "text.outside": "outside",
    "text.in_port": ", in {port}",
    "text.changes": "changes: {changes}",
    "text.out": "-> out {port}{changes}",
    "text.out_changes": " ({changes})",
    "text.fate": "=> {kind}: {reason}",
    "text.continues": "{number}) {copy}: continues at {at}",
    "text.folded": "{number}) {copy} ({host}: {element}) {fate}",
    "text.copy": "{number}) {copy}",
    "summary.title": "{start}: {packet}",
    "summary.hop": "{host:<14} {element:<46} {ports:<40} {packet}",
    "summary.ports": "{in_port} -> {out_port}",
    "summary.copy": "+ {copy}",
    "verdict": "[{name}] {kind} at {where}: {reason} ({copies})",
    "verdict.none": "[{name}] NONE: the request reached no one who answers",
    "verdict.copy": "{copies} copy, {ok} reached a destination",
    "verdict.copies": "{copies} copies, {ok} reached a destination",
    "hop.ovs-bridge": "OVS bridge",
    "hop.linux-bridge": "Linux bridge",
    "hop.namespace": "namespace",
    "hop.vm": "VM",
    "hop.underlay": "tunnel network",
    "hop.segment": "physical segment",
    "hop.external": "outside the cloud",
    "disposition.delivered": "DELIVERED",
    "disposition.exited": "EXITED",
    "disposition.accepted": "ACCEPTED",
    "disposition.dropped": "DROPPED",
    "disposition.denied": "DENIED",
    "disposition.no_route": "NO ROUTE",
    "disposition.neighbour_unresolved": "NEIGHBOUR UNRESOLVED",
    "disposition.loop": "LOOP",
    "disposition.controller": "CONTROLLER",
    "disposition.limit": "LIMIT",
    "disposition.incomplete": "INCOMPLETE",
    # -- a packet in a few words (render.packets, tcpdump's way) ------------------------------
    "packet.vlan": " vlan {vlan}",
    "packet.vxlan": "VXLAN vni {tun_id:#x} {src} > {dst} [{inner}]",
    "packet.geneve": "Geneve vni {tun_id:#x} {src} > {dst} [{inner}]",
    "packet.gre": "GRE key {tun_id:#x} {src} > {dst} [{inner}]",
    "packet.arp_reply": "ARP {spa} is-at {sha}{vlan}",
    "packet.arp": "ARP {op} {tpa} tell {spa}{vlan}",
    "packet.arp_who_has": "who-has",
    "packet.arp_op": "op {op}",
    "packet.proto": "PROTO {proto}",
    "packet.ports": "{proto} {src}:{sport} > {dst}:{dport}{vlan}",
    "packet.ip": "{proto} {src} > {dst}{kind}{vlan}",
    "packet.echo_request": " echo-request",
    "packet.echo_reply": " echo-reply",
    "packet.icmp_type": " type {type}",
    "packet.ethernet": "{src} > {dst} type {type:#06x}{vlan}",
    # -- ofproto/trace's text (render.ofproto) ------------------------------------------------
    "ofproto.flow": "Flow: {flow}",
    "ofproto.final": "Final flow: {flow}",
    "ofproto.final_unchanged": "Final flow: unchanged",
    "ofproto.bridge": "bridge(\"{bridge}\")",
    "ofproto.output": "Output: {bridge} {port}: {packet}",
    "ofproto.drop": "Drop: {reason}",
    "ofproto.controller": "Controller: {reason}",
    "ofproto.out_vlan": " vlan {vlan}",
    "ofproto.out_tunnel": " (tun_id={tun_id:#x} to {remote})",
    "text.named_title": "[{name}] {start}: {packet}",
    # -- why a copy exists (a branch's label) -------------------------------------------------
    "copy.output": "copy out {port}",
    "copy.patch": "copy out {port} -> {bridge}",
    "copy.exit": "{exit}",
    "copy.interface": "out {port}",
    "copy.segment": "to {device} of {owner}",
    "tunnel.encap": "{proto} encapsulation on {host}: VNI {vni:#x}, outer {local} -> {remote}",
    "tunnel.encap_gre": "{proto} encapsulation on {host}: key {vni:#x}, outer {local} -> {remote}",
    "tunnel.decap": "decapsulated on {host} by {port} (remote_ip={local}): tun_id={vni:#x}",
    "tunnel.vxlan": "VXLAN (UDP 4789)",
    "tunnel.geneve": "Geneve (UDP 6081)",
    "tunnel.gre": "GRE",
    # -- ofproto/trace's layout (render.ofproto) ----------------------------------------------
    "ofproto.thaw": "thaw",
    "ofproto.note": ">> {text}",
    # -- the readable walk (render.walk) -------------------------------------------------------
    "walk.table": "table {table}: ",
    "walk.rule": "{where} {text}: {detail}",
    "walk.detail": "  [{detail}]",
    "walk.outer_header": "outer header: Ethernet {dl_src} > {dl_dst}, IPv4 {nw_src} > {nw_dst}, "
                         "UDP {tp_src} > {tp_dst}; the frame inside is unchanged",
    "walk.outer_header_gre": "outer header: Ethernet {dl_src} > {dl_dst}, IPv4 {nw_src} > "
                             "{nw_dst}, GRE key {tun_id:#x}; the frame inside is unchanged",
    # -- why an OpenFlow copy ended -----------------------------------------------------------
    "exit.table_miss": "{bridge} table {table}: no flow matched (table miss): dropped",
    "exit.flow_drops": "{bridge} table {table}: flow \"{flow}\" drops the packet: dropped",
    "exit.drop_action": "{bridge} table {table}: drop action: dropped",
    "exit.no_output": "{bridge}: no output action: dropped",
    "exit.access_tagged": "{bridge} NORMAL: VLAN {vlan} tagged packet on access port {port} "
                          "(tag {tag}): dropped",
    "exit.not_trunked": "{bridge} NORMAL: VLAN {vlan} not trunked on {port}: dropped",
    "exit.reserved": "{bridge} NORMAL: reserved destination MAC {mac}: dropped",
    "exit.input_port": "{bridge} NORMAL: {mac} was learned on the input port {port}: dropped",
    "exit.no_port": "{bridge} NORMAL: no other port in VLAN {vlan}: dropped",
    "exit.patch_no_peer": "{bridge}: patch port {port} has no peer {peer!r} on this host: "
                          "dropped",
    "exit.controller_action": "{bridge} table {table}: sent to the controller ({reason})",
    "exit.controller_port": "{bridge} table {table}: sent to the controller",
    "exit.ttl_exceeded": "{bridge} table {table}: dec_ttl: TTL exceeded (invalid_ttl)",
    "exit.limit": "{bridge}: {why}",
    "exit.mirror_port": "{bridge}: received on a port reserved exclusively for mirroring: "
                        "dropped",
    "exit.mirror_normal": "{bridge} NORMAL: port {port} is reserved for mirroring: dropped",
    "exit.stp_port": "{bridge}: received on a port that STP/RSTP does not forward: dropped",
    "exit.dropped": "{bridge}: dropped",
    # -- why a copy ended (dispositions) ----------------------------------------------------
    "nf.rule": "{verdict} by {source} {table}/{chain} line {line}: {rule}{answer}",
    "nf.reject_answer": " (the kernel answers {reject_with})",
    "nf.policy": "{verdict} by the policy of {table}/{hook} in {source}",
    "nf.join": "; ",
    "linux.no_bridge": "no Linux bridge {bridge} on {host}",
    "linux.not_a_bridge_port": "{device} is not an (up) port of Linux bridge {bridge}",
    "linux.behind_input_port": "{bridge}: destination {mac} is behind the input port {device}",
    "linux.no_bridge_port": "{bridge}: no port to send to",
    "linux.no_interface": "{namespace} has no interface {device}",
    "linux.interface_down": "{device} is down",
    "linux.unknown_vlan": "{device} received a frame tagged with VLAN {number} and has no VLAN "
                          "device",
    "linux.other_host": "{device} ({mac}) dropped a frame for {ip} (another host)",
    "linux.no_protocol": "{device}: no protocol handler for ethertype {number:#06x}",
    "linux.arp_not_mine": "ARP who-has {ip}: not an address of {namespace} (arp_ignore={knob})",
    "linux.arp_reply_cached": "ARP reply for {ip} taken into the neighbour cache",
    "linux.arp_op_ignored": "ARP op {number} ignored",
    "linux.nd_not_mine": "neighbour solicitation for {ip}: not an address of {device} in "
                         "{namespace}",
    "linux.local_delivery": "{packet} delivered to {namespace}'s own stack{echo}",
    "linux.local_delivery.echo": " (it answers with an echo reply)",
    "linux.loopback_delivery": "{packet} delivered locally in {namespace}",
    "linux.multicast_not_routed": "{namespace}: multicast {ip} is not routed (no multicast "
                                  "routing) and no socket here joined it",
    "linux.not_forwarding": "{namespace}: {ip} is not local and {knob}=0",
    "linux.no_route": "{namespace}: no route to {ip} (the kernel answers ICMP destination "
                      "unreachable)",
    "linux.route_kind": "{namespace}: route to {ip} is {knob}",
    "linux.ttl_expired": "{namespace}: TTL {number} expired in transit (the kernel answers ICMP "
                         "time exceeded)",
    "linux.no_arp_answer": "{namespace}: no ARP answer for {ip} on {device}",
    "linux.send_not_ip": "{namespace}: send() takes IP packets",
    "linux.unreachable": "{namespace}: no route to {ip} (connect: Network is unreachable)",
    "linux.blackhole": "{namespace}: route to {ip} is a blackhole",
    "linux.no_source_address": "{namespace}: no source address for {device}",
    "linux.no_route_after_nat": "{namespace}: no route to {ip}",
    "walk.loop": "the same packet entered {element} through the same port again",
    "walk.max_hops": "path longer than {number} hops",
    "walk.max_copies": "more than {number} copies",
    "walk.no_linux_device": "OVS port {device} of {bridge} has no Linux device",
    "walk.peer_missing": "{device}'s peer {peer} does not exist",
    "walk.unwired": "{device} is not wired to anything",
    "walk.bridge_port_missing": "bridge port {device} not found",
    "walk.no_interface": "no interface {device}",
    "walk.nothing_sent": "nothing sent",
    "walk.delivered_to_vm": "delivered to VM {element} ({device} {ip}) on {host}",
    "walk.left_the_cloud": "left the cloud{via}; delivered to outside host {element} ({ip})",
    "walk.left_the_cloud.via": " through {device} of {host}",
    "walk.segment_empty": "nothing else is plugged into segment {element}",
    "walk.no_tunnel_host": "no host has tunnel IP {ip}",
    "walk.tunnel_ipv6": "tunnels between IPv6 endpoints ({ip}) are not walked yet: the walk "
                        "carries IPv4 tunnel metadata only (tun_src/tun_dst, not "
                        "tun_ipv6_src/tun_ipv6_dst)",
    "walk.no_tunnel_port": "{host} has no {device} port with remote_ip={ip}: the tunnel from "
                           "{peer} is not set up there",
    "incomplete": "the capture is incomplete here: {problem}{where}",
    "incomplete.source": "; the file that would answer it: {source}",
    # -- drops in Neutron's terms (sim.annotate) ----------------------------------------------
    "why.no_flood_entry": "br-tun table {table} has no flood entry for VLAN {vlan}: {network} "
                          "is not a tunnel network on {host}{listed}",
    "why.no_flood_entry.listed": " (flood entries exist for VLAN {listed})",
    "why.no_flood_entry.none": " (no tunnel network has a port here)",
    "why.no_tunnel_mapping": "br-tun table {table} has no entry for tunnel id {tun_id:#x}: "
                             "{host} has no port on {network}, so no local VLAN was "
                             "provisioned for it{listed}",
    "why.no_tunnel_mapping.listed": " (it maps {listed})",
    "why.no_tunnel_mapping.network": "that network",
    "why.tunnel_ingress": "br-tun table 0 drops what comes from neither patch-int nor a tunnel "
                          "port ({in_port})",
    "why.physical_vlan": "{bridge} drops frames from br-int on VLAN {vlan}, {network}: only the "
                         "local VLAN of a network on its physical network passes{listed}",
    "why.physical_vlan.listed": " (it accepts VLAN {listed})",
    "why.physical_vlan.none": " (no network on this physical network has a port here)",
    "why.arp_spoof": "br-int table {table} (ARP spoofing protection): {address} is not an "
                     "address of the port on {in_port}",
    "why.mac_spoof": "br-int table {table} (MAC spoofing protection): {address} is not the MAC "
                     "of the port on {in_port}",
    "why.dead_vlan": "br-int: port {in_port} is in the dead VLAN 4095 (not bound)",
    "why.no_local_vlan": "br-int table 0 drops this frame from {in_port}: no local VLAN "
                         "translation for it",
    "why.network_on_vlan": "the network on local VLAN {vlan}",
    "why.untagged": "none",
    "why.with_base": "{why} [{base}]",
}


def say(key: str, **values: Any) -> str:
    """The phrase ``key`` of `PHRASES` with ``values`` filled in."""
    return PHRASES[key].format(**values)


def phrase(key: str) -> str:
    """The template ``key`` of `PHRASES` as it is (for callers that fill it in themselves)."""
    return PHRASES[key]


def has_phrase(key: str) -> bool:
    return key in PHRASES


def root_name(namespace: str) -> str:
    """A namespace's name, the root namespace as ``<root>``."""
    return namespace or say("root_namespace")
