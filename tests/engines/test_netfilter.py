"""Netfilter traversal and conntrack: matches, targets, hook order, NAT reversal (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from neutrace.engines.conntrack import ConntrackTable, CtEntry, packet_tuple, rewrite
from neutrace.engines.netfilter import (
    ACCEPT,
    DROP,
    FORWARD,
    POSTROUTING,
    PREROUTING,
    HookContext,
    Netfilter,
    PacketMeta,
    Traversal,
)
from neutrace.packet import IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipv4
from neutrace.trace import RuleStep, Step

M1, M2 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"


def filter_text(*rules: str, chains: tuple[str, ...] = (), policy: str = "ACCEPT") -> str:
    head = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {policy} [0:0]",
            ":OUTPUT ACCEPT [0:0]", *[f":{c} - [0:0]" for c in chains]]
    return "\n".join([*head, *rules, "COMMIT", ""])


def run_forward(nf: Netfilter, pkt: object, ctx: HookContext | None = None,
                meta: PacketMeta | None = None) -> tuple[str, list[Step]]:
    steps: list[Step] = []
    res = nf.run(4, "filter", "FORWARD", pkt, meta or PacketMeta(), ctx or HookContext(),  # type: ignore[arg-type]
                 steps)
    return res.verdict, steps


def test_goto_returns_to_the_callers_caller_and_policy_applies() -> None:
    nf = Netfilter(filter_text(
        "-A FORWARD -j a",
        "-A FORWARD -j ACCEPT",
        "-A a -g b",
        "-A a -j DROP",
        "-A b -p udp -j RETURN",
        "-A b -j DROP",
        chains=("a", "b"), policy="DROP"))
    udp = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1, 53)
    verdict, steps = run_forward(nf, udp)
    # RETURN from b (reached by goto) returns to FORWARD, skipping "-A a -j DROP"
    assert verdict == ACCEPT
    assert [s.rule.text for s in steps if isinstance(s, RuleStep)][-1] == "-A FORWARD -j ACCEPT"
    tcp = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 80)
    assert run_forward(nf, tcp)[0] == DROP
    empty = Netfilter(filter_text(policy="DROP"))
    assert run_forward(empty, tcp)[0] == DROP


def test_matches_neutron_uses() -> None:
    nf = Netfilter(filter_text(
        "-A FORWARD -i qr-+ -p tcp -m multiport --dports 20:22,80 -j DROP",
        "-A FORWARD -m physdev ! --physdev-in tap1 -p icmp -m icmp --icmp-type 8 -j DROP",
        "-A FORWARD -m set --match-set S src -j REJECT",
        "-A FORWARD -m mac --mac-source FA:16:3E:00:00:01 -p udp -m udp --sport 67:68 -j DROP",
        "-A FORWARD -m mark --mark 0x2/0xffff -j DROP",
    ), ipsets="create S hash:net family inet\nadd S 10.9.0.0/16\n")
    tcp = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1000, 21)
    assert run_forward(nf, tcp, HookContext(in_dev="qr-abc"))[0] == DROP
    assert run_forward(nf, tcp, HookContext(in_dev="qg-abc"))[0] == ACCEPT
    assert run_forward(nf, tcp.with_(tp_dst=23), HookContext(in_dev="qr-abc"))[0] == ACCEPT
    ping = ipv4(M1, M2, "10.0.0.1", "10.0.0.2")
    # not bridged: a negated physdev option matches (xt_physdev without bridge info)
    assert run_forward(nf, ping)[0] == DROP
    bridged = HookContext(physdev_in="tap1", physdev_out="qvb1", bridged=True)
    assert run_forward(nf, ping, bridged)[0] == ACCEPT
    assert run_forward(nf, ping.with_(nw_src="10.9.3.3", tp_src=0))[0] == "REJECT"
    dhcp = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 68, 67)
    assert run_forward(nf, dhcp)[0] == DROP
    assert run_forward(nf, dhcp.with_(dl_src=M2))[0] == ACCEPT
    assert run_forward(nf, dhcp.with_(dl_src=M2), meta=PacketMeta(mark=0x10002))[0] == DROP


def test_connmark_save_restore_and_ct_zone_notrack() -> None:
    mangle = "\n".join([
        "*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
        "-A PREROUTING -m connmark ! --mark 0x0/0xffff0000 -j CONNMARK --restore-mark "
        "--nfmask 0xffff0000 --ctmask 0xffff0000",
        "-A PREROUTING -i eth0 -j MARK --set-xmark 0x40000/0xffff0000",
        "-A POSTROUTING -m connmark --mark 0x0/0xffff0000 -j CONNMARK --save-mark "
        "--nfmask 0xffff0000 --ctmask 0xffff0000",
        "COMMIT",
        "*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A PREROUTING -i eth9 -j CT --notrack",
        "-A PREROUTING -i eth0 -j CT --zone 7",
        "COMMIT", ""])
    nf = Netfilter(mangle)
    ct = ConntrackTable()
    pkt = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1000, 80)
    first = Traversal(nf, ct, pkt, lambda k, c: "")
    assert first.hook(PREROUTING, HookContext(in_dev="eth0")) == ACCEPT
    assert first.meta.zone == 7 and first.meta.mark == 0x40000
    assert first.hook(POSTROUTING, HookContext(out_dev="eth1")) == ACCEPT
    (entry,) = list(ct)
    assert entry.mark == 0x40000 and entry.zone == 7
    reply = ipv4(M2, M1, "10.0.0.2", "10.0.0.1", IPPROTO_TCP, 80, 1000)
    back = Traversal(nf, ct, reply, lambda k, c: "")
    assert back.hook(PREROUTING, HookContext(in_dev="eth1")) == ACCEPT
    # zone 0 (not eth0): a different conntrack zone, so a NEW connection
    assert back.meta.ctstate == "NEW"
    back0 = Traversal(nf, ct, reply, lambda k, c: "")
    back0.meta.zone = 7
    back0._ct_in()
    assert back0.meta.ctstate == "ESTABLISHED"
    untracked = Traversal(nf, ct, pkt, lambda k, c: "")
    untracked.hook(PREROUTING, HookContext(in_dev="eth9"))
    assert untracked.meta.ctstate == "UNTRACKED"


def test_invalid_packets_skip_nat_and_match_state_invalid() -> None:
    nf = Netfilter(filter_text("-A FORWARD -m state --state INVALID -j DROP"))
    ct = ConntrackTable()
    synack = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, 1000, tcp_flags=0x12)
    t = Traversal(nf, ct, synack, lambda k, c: "")
    t.hook(PREROUTING, HookContext(in_dev="a"))
    assert t.meta.ctstate == "INVALID"
    assert t.hook(FORWARD, HookContext(in_dev="a", out_dev="b")) == DROP
    echo_reply = ipv4(M1, M2, "10.0.0.1", "10.0.0.2").with_(tp_src=0)
    t2 = Traversal(nf, ct, echo_reply, lambda k, c: "")
    t2.hook(PREROUTING, HookContext(in_dev="a"))
    assert t2.meta.ctstate == "INVALID"


# -- property: NAT, then the reverse NAT on the reply, restores the tuple ------------------

IPS = st.builds(lambda a, b: f"10.{a}.0.{b}", st.integers(0, 255), st.integers(1, 254))
PORTS = st.integers(1, 65535)


@settings(max_examples=200, deadline=None)
@given(IPS, IPS, PORTS, PORTS, st.sampled_from([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP]),
       st.none() | IPS, st.none() | IPS, st.none() | PORTS)
def test_nat_then_reverse_nat_restores_the_tuple(
    src: str, dst: str, sport: int, dport: int, proto: int, snat: str | None,
    dnat: str | None, dnat_port: int | None,
) -> None:
    rules = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]"]
    if dnat:
        to = f"{dnat}:{dnat_port}" if dnat_port and proto != IPPROTO_ICMP else dnat
        rules.append(f"-A PREROUTING -i in0 -j DNAT --to-destination {to}")
    if snat:
        rules.append(f"-A POSTROUTING -o out0 -j SNAT --to-source {snat}")
    nf = Netfilter("\n".join([*rules, "COMMIT", ""]))
    ct = ConntrackTable()
    pkt = ipv4(M1, M2, src, dst, proto, sport if proto != IPPROTO_ICMP else 0,
               dport if proto != IPPROTO_ICMP else 0)
    fwd = Traversal(nf, ct, pkt, lambda k, c: "")
    assert fwd.hook(PREROUTING, HookContext(in_dev="in0")) == ACCEPT
    assert fwd.hook(POSTROUTING, HookContext(out_dev="out0")) == ACCEPT
    out = fwd.packet
    if snat:
        assert out.nw_src == snat
    if dnat:
        assert out.nw_dst == dnat
    # the reply to what left, as the far end sends it
    reply = ipv4(M2, M1, out.nw_dst, out.nw_src, proto, out.tp_dst, out.tp_src)
    if proto == IPPROTO_ICMP:
        reply = reply.with_(tp_src=0, tp_dst=0)
    back = Traversal(nf, ct, reply, lambda k, c: "")
    assert back.hook(PREROUTING, HookContext(in_dev="out0")) == ACCEPT
    assert back.hook(POSTROUTING, HookContext(out_dev="in0")) == ACCEPT
    # without any nat rule nothing needs conntrack, and (as with iptables-nft) nothing is tracked
    assert back.meta.ctstate == ("ESTABLISHED" if snat or dnat else "")
    restored = back.packet
    original = packet_tuple(pkt)
    assert original is not None
    assert packet_tuple(restored) == original.inverted()


def test_rewrite_and_entry_tuples() -> None:
    pkt = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1000, 80)
    tup = packet_tuple(pkt)
    assert tup is not None and tup.inverted().inverted() == tup
    e = CtEntry(0, tup, tup.inverted())
    assert rewrite(pkt, e.reply.inverted(), "src") == pkt


def test_sctp_and_dccp_ports_as_neutron_security_groups_write_them() -> None:
    nf = Netfilter(filter_text("-A FORWARD -p sctp -m sctp --dport 80 -j DROP",
                               "-A FORWARD -p dccp --dport 81 -j DROP"))
    assert run_forward(nf, ipv4(M1, M2, "1.1.1.1", "2.2.2.2", 132, 1, 80))[0] == DROP
    assert run_forward(nf, ipv4(M1, M2, "1.1.1.1", "2.2.2.2", 132, 1, 81))[0] == ACCEPT
    assert run_forward(nf, ipv4(M1, M2, "1.1.1.1", "2.2.2.2", 33, 1, 81))[0] == DROP
    assert run_forward(nf, ipv4(M1, M2, "1.1.1.1", "2.2.2.2", IPPROTO_TCP, 1, 81))[0] == ACCEPT


def test_pkttype_ttl_dscp_matches_and_the_dscp_target() -> None:
    nf = Netfilter("\n".join([
        "*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
        "-A FORWARD -m pkttype --pkt-type broadcast -j DROP",
        "-A FORWARD -m ttl --ttl-lt 2 -j DROP",
        "-A FORWARD -j DSCP --set-dscp-class EF",
        "-A FORWARD -m dscp ! --dscp-class EF -j DROP",
        "-A FORWARD -j TCPMSS --clamp-mss-to-pmtu",
        "COMMIT", ""]))
    ok = ipv4(M1, M2, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1, 2)
    ct = ConntrackTable()
    t = Traversal(nf, ct, ok, lambda k, c: "")
    assert t.hook(FORWARD, HookContext(in_dev="a", out_dev="b")) == ACCEPT
    assert t.packet.nw_tos == 46 << 2
    assert any(s.changes and s.changes[0].field == "nw_tos" for s in t.steps)
    bcast = Traversal(nf, ct, ok.with_(dl_dst="ff:ff:ff:ff:ff:ff"), lambda k, c: "")
    assert bcast.hook(FORWARD, HookContext(in_dev="a", out_dev="b")) == DROP
    low = Traversal(nf, ct, ok.with_(nw_ttl=1), lambda k, c: "")
    assert low.hook(FORWARD, HookContext(in_dev="a", out_dev="b")) == DROP


def test_icmp_error_quoting_a_snated_packet_is_related_and_un_nated_inside_too() -> None:
    from neutrace.engines.linuxnet import icmp_error

    nf = Netfilter("\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]", "-A POSTROUTING -o out0 -j SNAT --to-source 172.24.4.5",
        "COMMIT", ""]))
    ct = ConntrackTable()
    pkt = ipv4(M1, M2, "10.0.0.4", "203.0.113.9", IPPROTO_UDP, 5000, 53)
    out = Traversal(nf, ct, pkt, lambda k, c: "")
    out.hook(PREROUTING, HookContext(in_dev="in0"))
    out.hook(POSTROUTING, HookContext(out_dev="out0"))
    assert out.packet.nw_src == "172.24.4.5"
    err = icmp_error(out.packet, "203.0.113.9", 3, 3)
    back = Traversal(nf, ct, err, lambda k, c: "")
    back.hook(PREROUTING, HookContext(in_dev="out0"))
    assert back.meta.ctstate == "RELATED" and back.meta.direction == "REPLY"
    assert back.packet.nw_dst == "10.0.0.4"
    assert back.packet.payload is not None and back.packet.payload.nw_src == "10.0.0.4"
    # an error quoting a packet of no connection is INVALID, not guessed
    stray = icmp_error(pkt.with_(tp_src=5001), "203.0.113.9", 3, 3)
    other = Traversal(nf, ct, stray, lambda k, c: "")
    other.hook(PREROUTING, HookContext(in_dev="out0"))
    assert other.meta.ctstate == "INVALID"


def test_snat_port_clash_takes_another_port_and_replies_reach_the_right_connection() -> None:
    nf = Netfilter("\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]", "-A POSTROUTING -o out0 -j SNAT --to-source 172.24.4.5",
        "COMMIT", ""]))
    ct = ConntrackTable()
    outs = []
    for vm in ("10.0.0.4", "10.0.0.9"):
        t = Traversal(nf, ct, ipv4(M1, M2, vm, "203.0.113.9", IPPROTO_TCP, 40000, 443,
                                   tcp_flags=0x02), lambda k, c: "")
        t.hook(PREROUTING, HookContext(in_dev="in0"))
        t.hook(POSTROUTING, HookContext(out_dev="out0"))
        outs.append(t.packet)
    assert [(p.nw_src, p.tp_src) for p in outs] == [("172.24.4.5", 40000),
                                                    ("172.24.4.5", 40001)]
    for vm, out in zip(("10.0.0.4", "10.0.0.9"), outs, strict=True):
        reply = ipv4(M2, M1, "203.0.113.9", out.nw_src, IPPROTO_TCP, 443, out.tp_src,
                     tcp_flags=0x12)
        back = Traversal(nf, ct, reply, lambda k, c: "")
        back.hook(PREROUTING, HookContext(in_dev="out0"))
        assert (back.packet.nw_dst, back.packet.tp_dst) == (vm, 40000)


def test_the_first_ct_target_wins() -> None:
    nf = Netfilter("\n".join([
        "*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A PREROUTING -j CT --zone 1", "-A PREROUTING -j CT --zone 2",
        "-A PREROUTING -j NOTRACK", "COMMIT", ""]))
    t = Traversal(nf, ConntrackTable(), ipv4(M1, M2, "10.0.0.1", "10.0.0.2"), lambda k, c: "")
    t.hook(PREROUTING, HookContext(in_dev="a"))
    assert (t.meta.zone, t.meta.ctstate) == (1, "NEW")
