"""Each class of hostile or broken input of issue 14 for the syntax parsers (flows, actions,
fields, iptables-save, OVS dumps, datapath actions, microflows): it is refused with a typed
`SyntaxParseError` whose message names the place and the fix (and stays short), or read as
Open vSwitch reads it."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.packet import ipv4
from neutrace.syntax import offields
from neutrace.syntax.iptables import (
    IptRule,
    Match,
    Option,
    Target,
    _split,
    format_rule,
    parse_iptables_save,
    parse_rule,
)
from neutrace.syntax.microflow import format_microflow, parse_microflow
from neutrace.syntax.ofctl import parse_flow, parse_flows
from neutrace.syntax.ovsdump import (
    ShowBridge,
    ShowInterface,
    ShowPort,
    VsctlShow,
    datapath_outputs,
    format_vsctl_show,
    parse_datapath_actions,
    parse_dpif_show,
    parse_ofctl_show,
    parse_ofproto_trace,
    parse_vsctl_show,
)
from tests.support.fuzz import TARGETS, check

HUGE = "9" * 5000
HUGE_HEX = "0x" + "f" * 5000


def refused(text: str, *fragments: str, line: int | None = None) -> SyntaxParseError:
    """``parse_flows(text)`` raises a short SyntaxParseError holding ``fragments``."""
    with pytest.raises(SyntaxParseError) as info:
        parse_flows(text, source="br-int.flows")
    message = str(info.value)
    assert message.startswith("br-int.flows:")
    assert len(message) < 600, message
    for fragment in fragments:
        assert fragment in message, message
    if line is not None:
        assert info.value.line == line
    return info.value


# -- numbers: Python's 4,300-digit limit, leading zeros, Unicode digits -----------------------


@pytest.mark.parametrize("text, fragment", [
    (f"reg0={HUGE} actions=drop", "too large"),
    (f"reg0={HUGE_HEX} actions=drop", "does not fit the 32-bit field reg0"),
    (f"priority={HUGE} actions=drop", "too large"),
    (f"cookie={HUGE_HEX} actions=drop", "is past"),
    (f"actions=resubmit(,{HUGE})", "resubmit table"),
    (f"actions=output:{HUGE}", "output"),
    (f"actions=load:{HUGE_HEX}->NXM_NX_REG0[]", "does not fit"),
    (f"actions=set_tunnel:{HUGE_HEX}", "out of range"),
    (f"actions=mod_vlan_vid:{HUGE}", "mod_vlan_vid"),
    (f"actions=conjunction({HUGE},1/2)", "conjunction"),
    (f"actions=load:1->NXM_NX_REG0[0..{HUGE}]", "not a field or subfield"),
])
def test_numbers_past_pythons_digit_limit_are_refused(text: str, fragment: str) -> None:
    refused(text, fragment, line=1)


@pytest.mark.parametrize("text, field, expected", [
    ("reg0=010", "reg0", 8),  # a leading 0 is octal in match values (strtoull base 0)
    ("tp_dst=010,tcp", "tp_dst", 8),
    ("reg0=+1", "reg0", 1),
    ("in_port=010", "in_port", 10),  # ports are decimal
    ("nw_src=01.02.03.010,ip", "nw_src", 0x0102030A),  # dotted quads are decimal
    ("dl_src=fa:16:3e:0:0:001", "dl_src", 0xFA163E000001),
])
def test_leading_zeros_read_as_ovs_reads_them(text: str, field: str, expected: int) -> None:
    flow = parse_flow(f"{text} actions=drop")
    value = dict(flow.match)[field]
    f = offields.lookup(field)
    assert f is not None
    assert offields.parse_value(f, value, lambda name: None)[0] == expected


def test_leading_zeros_in_the_head_and_actions() -> None:
    flow = parse_flow("table=010,priority=010,idle_timeout=010,cookie=010 "
                      "actions=output:07,resubmit(,010),mod_vlan_vid:010,load:010->NXM_NX_REG0[]")
    assert (flow.table, flow.priority, flow.idle_timeout, flow.cookie) == (10, 8, 8, 8)
    from neutrace.syntax.ofactions import Load, Output, Resubmit, SetVlanVid, parse_actions

    out, resubmit, vlan, load = parse_actions(flow.actions)
    assert isinstance(out, Output) and out.port == "07"
    assert isinstance(resubmit, Resubmit) and resubmit.table == 10
    assert isinstance(vlan, SetVlanVid) and vlan.vid == 8
    assert isinstance(load, Load) and load.value == 8
    refused("reg0=08 actions=drop", "'08' is not a octal (it starts with 0) number")


@pytest.mark.parametrize("text", [
    "in_port=² actions=drop", "reg0=٣ actions=drop", "tp_dst=１,tcp actions=drop",
    "actions=output:²", "actions=resubmit(٣,1)", "priority=٣ actions=drop",
    "actions=mod_vlan_vid:٣", "actions=ct(zone=٣)",
])
def test_unicode_digits_are_refused(text: str) -> None:
    refused(text)


def test_nul_inside_an_address_or_a_flow() -> None:
    refused("nw_src=10.0.0.1\x00,ip actions=drop", "NUL")
    with pytest.raises(offields.FieldValueError, match="not an IPv4 address"):
        offields.ipv4_to_int("10.0.0.1\x00")
    with pytest.raises(offields.FieldValueError, match="not an IPv6 address"):
        offields.ipv6_to_int("fe80::1\x00")
    with pytest.raises(offields.FieldValueError, match="not a MAC address"):
        offields.mac_to_int("fa:16:3e:00:00:0\x00")


@pytest.mark.parametrize("call, text, fragment", [
    (offields.parse_int, "x12", "is not a decimal number"),
    (offields.parse_int, "0b1", "is not a octal"),
    (offields.parse_int, "1_000", "is not a decimal number"),
    (offields.parse_int, "-1", "is not a decimal number"),
    (offields.ipv4_to_int, "0x7f.1.1.1", "not an IPv4 address"),
    (offields.ipv4_to_int, "1.2.3", "not an IPv4 address"),
    (offields.ipv4_to_int, "1.2.3.256", "past 255"),
    (offields.ipv6_to_int, "fe80::1%eth0", "not an IPv6 address"),
    (offields.ipv6_to_int, "1::2::3", "not an IPv6 address"),
    (offields.parse_port, "70000", "is past 65535"),
    (offields.parse_port, "a\x01b", "not a port number or name"),
    (offields.parse_subfield, "NXM_NX_REG0[15..0]", "bits 15..0"),
    (offields.parse_subfield, "NXM_NX_REG0[0..99]", "outside the 32-bit field"),
    (offields.parse_subfield, "NXM_NX_REG0[", "not a field or subfield"),
    (offields.parse_subfield, "nosuch[]", "unknown field"),
])
def test_bad_values_in_the_field_helpers(call: object, text: str, fragment: str) -> None:
    with pytest.raises(offields.FieldValueError, match=fragment.replace("[", r"\[")):
        call(text)  # type: ignore[operator]


@pytest.mark.parametrize("text", [
    "reg0=0x1/0x1ffffffff actions=drop",  # a mask past the field
    "nw_src=1.2.3.4/33,ip actions=drop", "nw_src=1.2.3.4/٣,ip actions=drop",
    "ct_state=+trk+bogus actions=drop", "tcp_flags=+syn+,tcp actions=drop",
    "actions=move:NXM_NX_REG0[0..15]->NXM_NX_REG1[0..7]",
    "actions=learn(table=300,NXM_OF_VLAN_TCI[0..11])",
    "actions=learn(NXM_OF_ETH_DST[]=01:02)", "actions=push_vlan:0x0800",
])
def test_bad_values_inside_matches_and_actions(text: str) -> None:
    refused(text)


@pytest.mark.parametrize("nat, fragment", [
    ("src=10.0.0.1:1-", "nat port"),
    ("src=10.0.0.1:5-1", "the first port is past the last"),
    ("src=10.0.0.1:99999", "out of range"),
    ("src=10.0.0.1:-5", "nat port"),
    ("src=10.0.0.1:0x10", "decimal"),
    ("src=10.0.0.9-10.0.0.1", "the first address is past the last"),
    ("src=10.0.0.1-10.0.0.300", "past 255"),
    ("dst=[fe80::1]:80-79", "the first port is past the last"),
    ("dst=[fe80::1:80", "malformed"),
])
def test_malformed_nat_port_ranges(nat: str, fragment: str) -> None:
    refused(f"ip actions=ct(commit,nat({nat}))", fragment)


def test_well_formed_nat_ranges_still_parse() -> None:
    from neutrace.syntax.ofactions import Ct, parse_actions

    (ct,) = parse_actions("ct(commit,nat(src=10.0.0.1-10.0.0.9:1024-2048))")
    assert isinstance(ct, Ct) and ct.nat is not None
    assert (ct.nat.ip_min, ct.nat.ip_max, ct.nat.port_min, ct.nat.port_max) == (
        "10.0.0.1", "10.0.0.9", 1024, 2048)


def test_fast_paths_never_meet_the_digit_limit() -> None:
    # the fast checks of the flow parser (regexes then int()) are bounded: huge spellings take
    # the full check and are refused there with a message
    refused(f"reg0={'1' * 5000} actions=drop", "too large")
    # leading zeros fit (octal or hex, as strtoull reads them): OVS takes these
    parse_flow(f"tp_dst={'0' * 5000}1,tcp actions=drop")
    parse_flow(f"reg0=0x{'0' * 5000}1 actions=drop")


def test_unchecked_parse_does_not_leak_into_a_checked_one() -> None:
    flow = parse_flow("foo=3 actions=drop", check=False)
    assert flow.match == (("foo", "3"),)
    with pytest.raises(SyntaxParseError, match="unknown keyword foo"):
        parse_flow("foo=3 actions=drop")


def test_error_messages_stay_short_on_huge_input() -> None:
    for target in ("ofctl.flow", "iptables", "vsctl-show", "microflow", "datapath-actions"):
        finding, _, refused_ = check(TARGETS[target], "x" * 300_000 + "=1,(")
        assert finding is None and refused_
    with pytest.raises(SyntaxParseError) as info:
        parse_flow("nosuch" + "x" * 300_000 + "=1 actions=drop")
    assert len(str(info.value)) < 500


# -- datapath actions -----------------------------------------------------------------------


@pytest.mark.parametrize("actions, fragment", [
    ("push_vlan(vid),1", "vid=''"),
    ("push_vlan(vid=5000),1", "past 4095"),
    ("set(arp(sha)),1", "sha=''"),
    ("set(ipv4(ttl=x)),1", "ttl='x'"),
    ("set(eth(src=zz)),1", "MAC"),
    ("set(tcp(dst=70000)),1", "past 65535"),
    ("set(tunnel(tun_id=0x" + "f" * 40 + ")),1", "past"),
    ("clone(set(ipv4(src=1.2.3)),2)", "IPV4"),
])
def test_datapath_actions_with_missing_or_bad_values(actions: str, fragment: str) -> None:
    packet = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1", "10.0.0.2")
    with pytest.raises(SyntaxParseError, match="action") as info:
        datapath_outputs(parse_datapath_actions(actions, source="trace.txt"), packet,
                         source="trace.txt")
    assert fragment in str(info.value) and str(info.value).startswith("trace.txt:")


@pytest.mark.parametrize("actions", ["push_vlan(vid=5", "clone(1", "1)", "9" * 40])
def test_datapath_actions_truncated(actions: str) -> None:
    with pytest.raises(SyntaxParseError):
        parse_datapath_actions(actions)


# -- OVS dumps --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    " 99999(qvo1): addr:fa:16:3e:00:00:01\n",
    " 1(qvo1): addr:fa:16:3e:00:00:01\n 1(qvo2): addr:fa:16:3e:00:00:02\n",
    " ٣(qvo1): addr:fa:16:3e:00:00:01\n",
])
def test_ofctl_show_with_odd_port_numbers(text: str) -> None:
    with pytest.raises(SyntaxParseError):
        parse_ofctl_show("OFPT_FEATURES_REPLY (xid=0x2): dpid:0000000000000001\n" + text)


def test_dpif_show_and_traces_truncated_or_malformed() -> None:
    with pytest.raises(SyntaxParseError, match="unexpected line"):
        parse_dpif_show("dummy@ovs-dummy: hit:0 missed:0\n  br-int:\n    br-int 65534/")
    with pytest.raises(SyntaxParseError, match="no 'Datapath actions:' line"):
        parse_ofproto_trace("Flow: in_port=1,arp\n\nbridge(\"br-int\")\n----\n 0. priority 1")
    with pytest.raises(SyntaxParseError, match="priority N"):
        parse_ofproto_trace("Flow: x\n 0. in_port=1, priority " + "9" * 30 + "\n")


def test_vsctl_show_values_with_quotes_round_trip() -> None:
    iface = ShowInterface("vxlan-1", "vxlan", (('k"', "a\\b\n"), ("p", '",(p='),
                                               ("remote_ip", "10.0.0.2")))
    show = VsctlShow("00000000-0000-4000-8000-000000000000", (
        ShowBridge("br tun", ports=(ShowPort("vxlan-1", interfaces=(iface,)),)),))
    text = format_vsctl_show(show)
    assert 'options: {"k\\""="a\\\\b\\n", p="\\",(p=", remote_ip="10.0.0.2"}' in text
    assert parse_vsctl_show(text) == show


@pytest.mark.parametrize("line, fragment", [
    ("            tag: ٣", "VLAN"), ("            tag: 5000", "VLAN"),
    ("            trunks: [1, " + "9" * 5000 + "]", "VLAN"),
    ('                options: {p="\\x"}', "bad quoting"),
])
def test_vsctl_show_bad_port_values(line: str, fragment: str) -> None:
    text = ("00000000-0000-4000-8000-000000000000\n    Bridge br-int\n        Port qvo1\n"
            + (line + "\n" if "options" not in line else "            Interface qvo1\n" + line
               + "\n"))
    with pytest.raises(SyntaxParseError, match=fragment) as info:
        parse_vsctl_show(text, source="show.txt")
    assert info.value.line is not None and len(str(info.value)) < 400


# -- iptables-save ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "*filter\n:INPUT ACCEPT [0:0]\n[99999999999999999999999:1] -A INPUT -j ACCEPT\nCOMMIT\n",
    f"*filter\n:INPUT ACCEPT [{HUGE}:0]\nCOMMIT\n",
    "*filter\n:INPUT ACCEPT [٣:0]\nCOMMIT\n",
])
def test_iptables_counters_with_huge_numbers(text: str) -> None:
    with pytest.raises(SyntaxParseError, match="counters") as info:
        parse_iptables_save(text, source="iptables.txt")
    assert info.value.line is not None and len(str(info.value)) < 400


def test_iptables_a_600_kb_comment_tokenizes_linearly() -> None:
    comment = "x" * 600_000
    text = ("*filter\n:INPUT ACCEPT [0:0]\n"
            f'-A INPUT -m comment --comment "{comment}" -j ACCEPT\nCOMMIT\n')
    finding, seconds, refused_ = check(TARGETS["iptables"], text)
    assert finding is None and not refused_  # in the fuzz bound (CPU s), round trip included
    rule = parse_iptables_save(text).tables[0].rules[0]
    assert rule.matches[0].options[0].values == (comment,)


def test_iptables_value_bang_round_trips() -> None:
    rule = IptRule("INPUT", (Match("comment", (Option("--comment", ("!",)),)),),
                   Target("ACCEPT"))
    assert format_rule(rule) == '-A INPUT -m comment --comment "!" -j ACCEPT'
    assert parse_rule(format_rule(rule)) == rule
    negated = parse_rule("-A INPUT -m comment ! --comment x -j ACCEPT")
    assert negated.matches[0].options[0].negated


_WORD = st.text(alphabet=st.sampled_from('ab \t"\'\\!-=é'), max_size=12)


@given(st.lists(_WORD, max_size=6).map(" ".join))
def test_the_rule_tokenizer_agrees_with_shlex(text: str) -> None:
    try:
        expected: list[str] | None = shlex.split(text, posix=True)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(SyntaxParseError, match="quotation|backslash"):
            _split("<t>", 1, text)
    else:
        assert [str(t) for t in _split("<t>", 1, text)] == expected


# -- microflows -------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("dl_vlan_pcp", "99999"), ("dl_vlan", "4096"), ("tcp_dst", "70000"), ("tp_src", "65536"),
    ("nw_ttl", "256"), ("arp_op", "65536"), ("tun_id", "0x1" + "0" * 16), ("nw_proto", "256"),
    ("icmp_type", "256"), ("tcp_flags", "0x1000"), ("in_port", "²"), ("nw_src", "01.2.3.256"),
    ("tcp_dst", HUGE),
])
def test_microflow_values_out_of_range(field: str, value: str) -> None:
    proto = "arp" if field == "arp_op" else "icmp" if field == "icmp_type" else "tcp"
    with pytest.raises(SyntaxParseError, match=f"field '{field}'") as info:
        parse_microflow(f"in_port=1,{proto},{field}={value}", source="MICROFLOW")
    assert len(str(info.value)) < 400


def test_microflow_vlan_pcp_and_prerequisites() -> None:
    mf = parse_microflow("in_port=1,dl_vlan=5,dl_vlan_pcp=7,ip")
    assert mf.packet.vlan_tci == 0x1000 | 5 | (7 << 13)
    assert parse_microflow("in_port=1,dl_vlan_pcp=3,ip").packet.vlan_tci == 0x1000 | (3 << 13)
    for text, needs in [("in_port=1,ipv6,arp_op=2", "arp"), ("in_port=1,ip,tcp_flags=0x2", "tcp"),
                        ("in_port=1,arp,nw_src=10.0.0.1", "ip"), ("in_port=1,arp,nw_proto=6",
                                                                  "ip"),
                        ("in_port=1,tcp,arp", "twice")]:
        with pytest.raises(SyntaxParseError, match=needs):
            parse_microflow(text)


def test_microflow_round_trips_what_it_accepts() -> None:
    for text in ["in_port=1,icmp6,vlan_tci=+3", "in_port=07,tcp,nw_src=01.02.03.04,tcp_dst=010",
                 "in_port=1,udp,dl_vlan=5,dl_vlan_pcp=3,vlan_tci=0xffff"]:
        mf = parse_microflow(text)
        assert parse_microflow(format_microflow(mf)) == mf
