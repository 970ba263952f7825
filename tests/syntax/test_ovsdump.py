"""Parsers of Open vSwitch's dumps (neutrace.syntax.ovsdump) and the ofproto/trace microflow
syntax (neutrace.syntax.microflow), on real OVS 3.1 output kept under tests/data/ovsdump/ and on
generated structures (round trips)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.packet import (
    ETH_TYPE_ARP,
    ETH_TYPE_IP,
    IPPROTO_TCP,
    Packet,
)
from neutrace.syntax.microflow import Microflow, format_microflow, parse_microflow
from neutrace.syntax.ovsdump import (
    ShowBridge,
    ShowInterface,
    ShowPort,
    VsctlShow,
    datapath_outputs,
    format_ofctl_show,
    format_ofproto_trace,
    format_vsctl_show,
    parse_datapath_actions,
    parse_dpif_show,
    parse_ofctl_show,
    parse_ofproto_trace,
    parse_vsctl_list,
    parse_vsctl_show,
)
from tests.support.paths import DATA as TEST_DATA
from tests.support.strategies import packets

DATA = TEST_DATA / "ovsdump"


def read(name: str) -> str:
    return (DATA / name).read_text()


# -- ovs-vsctl show ----------------------------------------------------------------------------


def test_vsctl_show_real_output() -> None:
    show = parse_vsctl_show(read("vsctl-show.txt"))
    assert {b.name for b in show.bridges} == {"br-int", "br-tun", "br-ex"}
    br_int = show.bridge("br-int")
    assert br_int is not None and br_int.fail_mode == "secure"
    assert br_int.datapath_type == "dummy"
    qvo = br_int.port("qvoaf305168-66")
    assert qvo is not None and qvo.tag == 2
    patch = br_int.port("patch-tun")
    assert patch is not None
    assert patch.interfaces[0].type == "patch"
    assert dict(patch.interfaces[0].options) == {"peer": "patch-int"}
    br_tun = show.bridge("br-tun")
    assert br_tun is not None
    vx = br_tun.port("vxlan-c0a8780b")
    assert vx is not None
    opts = dict(vx.interfaces[0].options)
    assert opts["remote_ip"] == "192.168.120.11" and opts["local_ip"] == "192.168.120.22"
    assert opts["in_key"] == "flow"


OLD_STYLE = """\
4c1e3a72-9b8d-4e1f-8a6b-0f6f0c1d2e3f
    Manager "ptcp:6640:127.0.0.1"
        is_connected: true
    Bridge br-int
        Controller "tcp:127.0.0.1:6633"
            is_connected: true
        fail_mode: secure
        Port "qvoaf305168-66"
            tag: 2
            Interface "qvoaf305168-66"
        Port "bond0"
            trunks: [1, 2, 100]
            Interface "eth1"
            Interface "eth2"
        Port int-br-ex
            Interface int-br-ex
                type: patch
                options: {peer=phy-br-ex}
                error: "could not open network device int-br-ex (No such device)"
    ovs_version: "2.5.0"
"""


def test_vsctl_show_old_quoted_names_managers_bonds() -> None:
    show = parse_vsctl_show(OLD_STYLE, source="old.txt")
    assert show.ovs_version == "2.5.0"
    assert show.managers[0].target == "ptcp:6640:127.0.0.1"
    b = show.bridges[0]
    assert b.controllers[0].target == "tcp:127.0.0.1:6633"
    assert b.controllers[0].other == (("is_connected", "true"),)
    assert b.datapath_type is None
    assert b.ports[0].name == "qvoaf305168-66" and b.ports[0].tag == 2
    assert b.ports[1].trunks == (1, 2, 100)
    assert [i.name for i in b.ports[1].interfaces] == ["eth1", "eth2"]
    assert b.ports[2].interfaces[0].other[0][0] == "error"
    assert parse_vsctl_show(format_vsctl_show(show)) == show


def test_vsctl_show_round_trip_of_real_output() -> None:
    show = parse_vsctl_show(read("vsctl-show.txt"))
    text = format_vsctl_show(show)
    assert parse_vsctl_show(text) == show
    assert text == read("vsctl-show.txt")  # OVS 3.1's own spelling is reproduced exactly


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("not a uuid\n", "line 1", "UUID"),
        ("4c1e3a72-9b8d-4e1f-8a6b-0f6f0c1d2e3f\n        Port x\n", "line 2", "outside any Bridge"),
        ("4c1e3a72-9b8d-4e1f-8a6b-0f6f0c1d2e3f\n    Bridge b\n         Port x\n", "line 3",
         "indentation"),
        ("4c1e3a72-9b8d-4e1f-8a6b-0f6f0c1d2e3f\n    Bridge b\n        Port p\n"
         "            Interface p\n                options: {peer}\n", "line 5", "no '='"),
    ],
)
def test_vsctl_show_errors_name_file_and_line(text: str, where: str, fragment: str) -> None:
    with pytest.raises(SyntaxParseError) as info:
        parse_vsctl_show(text, source="sos/ovs-vsctl_-t_5_show")
    msg = str(info.value)
    assert msg.startswith("sos/ovs-vsctl_-t_5_show:")
    assert where in msg and fragment in msg and "fix:" in msg


_names = st.from_regex(r"[a-z][a-z0-9\-]{0,14}", fullmatch=True)
_values = st.from_regex(r"[a-z0-9.\-]{1,12}", fullmatch=True)
_ifaces = st.builds(
    ShowInterface, name=_names, type=st.sampled_from(["", "patch", "vxlan", "internal"]),
    options=st.dictionaries(_names, _values, max_size=3).map(lambda d: tuple(sorted(d.items()))),
)
_ports = st.builds(
    ShowPort, name=_names, tag=st.none() | st.integers(0, 4095),
    trunks=st.lists(st.integers(0, 4095), max_size=3).map(tuple),
    interfaces=st.lists(_ifaces, min_size=1, max_size=2).map(tuple),
)
_bridges = st.builds(
    ShowBridge, name=_names, fail_mode=st.none() | st.sampled_from(["secure", "standalone"]),
    datapath_type=st.none() | st.sampled_from(["system", "netdev"]),
    ports=st.lists(_ports, max_size=4).map(tuple),
)


@given(st.builds(VsctlShow, uuid=st.uuids().map(str), bridges=st.lists(_bridges, max_size=3)
                 .map(tuple), ovs_version=st.none() | st.just("3.1.0")))
@settings(max_examples=150, deadline=None)
def test_vsctl_show_round_trip_property(show: VsctlShow) -> None:
    assert parse_vsctl_show(format_vsctl_show(show)) == show


# -- ovs-ofctl show / dpif/show ---------------------------------------------------------------


def test_ofctl_show() -> None:
    show = parse_ofctl_show(read("ofctl-show-br-int.txt"))
    assert show.dpid == "0000d2999e8f1648"
    by = {p.name: p for p in show.ports}
    assert by["qvoaf305168-66"].ofport == 5
    assert by["br-int"].ofport == 65534
    assert by["patch-tun"].mac == "36:ea:36:4e:2d:72"


def test_ofctl_show_rejects_other_text() -> None:
    with pytest.raises(SyntaxParseError, match="not the output of `ovs-ofctl show"):
        parse_ofctl_show("hello\nworld\n", source="x")


def test_dpif_show() -> None:
    show = parse_dpif_show(read("dpif-show.txt"))
    odp = show.by_odp()
    assert odp[305168].name == "qvoaf305168-66" and odp[305168].bridge == "br-int"
    assert odp[1].name == "vxlan-c0a8780b" and odp[1].ofport == 2
    assert all(p.odp_port is None for p in show.ports if p.type == "patch")


# -- ofproto/trace -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["trace-arp-request-test-02.txt", "trace-tunnel-ingress-arp-from-router.txt",
             "trace-ct-recirc.txt"]
)
def test_ofproto_trace_round_trip(name: str) -> None:
    text = read(name)
    assert format_ofproto_trace(parse_ofproto_trace(text)) == text


def test_ofproto_trace_structure_tunnel_ingress() -> None:
    t = parse_ofproto_trace(read("trace-tunnel-ingress-arp-from-router.txt"))
    assert len(t.passes) == 1
    p = t.passes[0]
    assert p.bridges == ("br-tun", "br-int", "br-ex")
    assert [(v.bridge, v.table, v.flow_text) for v in p.visits] == [
        ("br-tun", 0, "priority=1,in_port=2"),
        ("br-tun", 4, "priority=1,tun_id=0x10050"),
        ("br-tun", 10, "priority=1"),
        ("br-int", 0, "priority=0"),
        ("br-ex", 0, "priority=2,in_port=1"),
    ]
    assert "output:1" in [a.text for a in p.actions]
    assert any(ln.kind == "note" and "learn action ignored" in ln.text for ln in p.lines)
    assert p.datapath_actions == "push_vlan(vid=1,pcp=0),4,pop_vlan,7"
    assert p.final_flow.startswith("arp,tun_src=192.168.120.11")


def test_ofproto_trace_recirculation_and_cookie() -> None:
    t = parse_ofproto_trace(read("trace-ct-recirc.txt"))
    assert len(t.passes) == 2
    assert t.passes[0].datapath_actions == "ct(zone=3),recirc(0x1)"
    second = t.passes[1]
    assert second.header.startswith("recirc(0x1) - resume conntrack")
    v73 = next(v for v in second.visits if v.table == 73)
    assert v73.cookie == 0xABC and v73.priority == 1 and v73.match == ""
    miss = [v for v in second.visits if v.match is None]
    assert miss == []
    assert second.visits[-1].bridge == "br-tun" and second.visits[-1].table == 22


NESTED = """\
Flow: arp,in_port=3,vlan_tci=0x0000,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1

bridge("br-int")
----------------
 0. arp,in_port=3, priority 10
    resubmit(,24)
24. arp,arp_spa=10.0.0.1, priority 2
    resubmit(,25)
    25. priority 1
            mod_vlan_vid:5
            resubmit(,26)
        26. No match.
            drop
    NORMAL
     >>>> dropping VLAN 5 tagged packet received on port qvo1 configured as VLAN 1 access port <<<<
     >> disallowed VLAN VID for this input port, dropping

Final flow: unchanged
Megaflow: recirc_id=0,eth,arp,in_port=3
Datapath actions: drop
"""


def test_ofproto_trace_resubmit_depth_and_miss() -> None:
    t = parse_ofproto_trace(NESTED)
    assert [(v.table, v.depth, v.match) for v in t.visits] == [
        (0, 0, "arp,in_port=3"), (24, 0, "arp,arp_spa=10.0.0.1"), (25, 1, ""), (26, 2, None)]
    acts = [(a.text, a.depth) for a in t.passes[0].actions]
    assert ("mod_vlan_vid:5", 2) in acts and ("NORMAL", 0) in acts and ("drop", 2) in acts
    assert format_ofproto_trace(t) == NESTED


def test_ofproto_trace_errors() -> None:
    with pytest.raises(SyntaxParseError, match="no 'Datapath actions:'"):
        parse_ofproto_trace(NESTED.split("Final flow")[0], source="t.txt")
    broken = NESTED.replace("24. arp,arp_spa=10.0.0.1, priority 2", "24. arp,arp_spa=10.0.0.1")
    with pytest.raises(SyntaxParseError, match=r"t.txt:7: line 7: table line without"):
        parse_ofproto_trace(broken, source="t.txt")


def test_datapath_outputs_apply_vlan_and_sets() -> None:
    start = Packet(dl_src="fa:16:3e:00:00:01", dl_dst="ff:ff:ff:ff:ff:ff", dl_type=ETH_TYPE_IP,
                   nw_src="10.0.0.1", nw_dst="10.0.0.2", nw_proto=1, nw_ttl=64)
    acts = parse_datapath_actions(
        "push_vlan(vid=1,pcp=0),4,pop_vlan,set(eth(src=fa:16:3e:00:00:09,dst=fa:16:3e:00:00:0a)),"
        "set(ipv4(src=1.1.1.1,ttl=63)),7,clone(push_vlan(vid=3,pcp=0),9),ct(commit,zone=3),8"
    )
    outs = datapath_outputs(acts, start)
    assert [o for o, _ in outs] == [4, 7, 9, 8]
    assert outs[0][1].vlan_tci == 0x1001
    assert outs[1][1].vlan_tci == 0 and outs[1][1].dl_src == "fa:16:3e:00:00:09"
    assert outs[1][1].nw_src == "1.1.1.1" and outs[1][1].nw_ttl == 63
    assert outs[2][1].vlan_tci == 0x1003
    assert outs[3][1].vlan_tci == 0
    assert datapath_outputs(parse_datapath_actions("drop"), start) == ()


# -- microflow ---------------------------------------------------------------------------------


def test_microflow_parse_user_text() -> None:
    m = parse_microflow("in_port=qvo1,dl_src=FA:16:3E:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,"
                        "arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_op=1,dl_vlan=5,reg6=0x3")
    assert m.in_port == "qvo1"
    assert m.packet.dl_type == ETH_TYPE_ARP and m.packet.arp_op == 1
    assert m.packet.dl_src == "fa:16:3e:00:00:01"
    assert m.packet.vlan_vid == 5
    assert m.fields == (("reg6", "0x3"),)


def test_microflow_parses_ofproto_trace_flow_lines() -> None:
    t = parse_ofproto_trace(read("trace-ct-recirc.txt"))
    m = parse_microflow(t.passes[1].flow, strict=False)
    assert m.in_port == "2" and m.packet.tp_dst == 22 and m.packet.nw_proto == IPPROTO_TCP
    assert ("ct_state", "new|trk") in m.fields and ("reg6", "0x3") in m.fields
    with pytest.raises(SyntaxParseError, match="field .foo.: field not supported"):
        parse_microflow("recirc_id=0x1,ct_state=new|trk,eth,tcp,foo=1", source="x")


def test_a_bare_in_port_is_a_frame_of_type_0() -> None:
    """As ovs-appctl ofproto/trace takes ``in_port=1``: an Ethernet frame, dl_type 0x0000."""
    m = parse_microflow("in_port=1,dl_src=00:00:00:00:00:01")
    assert m.in_port == "1" and m.packet.dl_type == 0
    assert m.packet.dl_src == "00:00:00:00:00:01" and m.packet.dl_dst == "00:00:00:00:00:00"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty microflow"),
        ("in_port=1,dl_src=zz", "not a MAC"),
        ("in_port=1,nw_src=10.0.0.300,ip", "bad value"),
        ("in_port=1,ip,bogus=3", "not supported"),
        ("in_port=1,ipx", "unknown protocol keyword"),
    ],
)
def test_microflow_errors(text: str, fragment: str) -> None:
    """Bad microflows are refused with the field named and a fix."""
    with pytest.raises(SyntaxParseError, match=fragment) as info:
        parse_microflow(text, source="cmdline")
    assert str(info.value).startswith("cmdline") and "fix:" in str(info.value)




def test_microflow_defaults_as_ovs_takes_them() -> None:
    """No protocol: an Ethernet frame of type 0 (OVS prints ``dl_type=0x0000``); protocol
    keywords of ovs-fields(7) beyond the common ones; ``eth`` names no protocol."""
    m = parse_microflow("in_port=1,dl_dst=ff:ff:ff:ff:ff:ff")
    assert m.packet.dl_type == 0 and m.packet.dl_src == "00:00:00:00:00:00"
    assert "dl_type=0x0000" in format_microflow(m)
    assert parse_microflow("eth,in_port=1").packet.dl_type == 0
    assert parse_microflow("in_port=1,rarp").packet.dl_type == 0x8035
    assert parse_microflow("in_port=1,mpls").packet.dl_type == 0x8847
    sctp = parse_microflow("in_port=1,sctp6").packet
    assert (sctp.dl_type, sctp.nw_proto) == (0x86DD, 132)
    assert parse_microflow(format_microflow(m)) == m


def test_microflow_in_the_order_ovs_prints_its_flow_line() -> None:
    """``format_microflow`` writes the fields as OVS's ``Flow:`` line has them (match_format):
    the protocol first, registers before ``in_port``, ARP's addresses before its opcode (the
    lines below are real ``ofproto/trace`` output, less the fields OVS adds as zeros)."""
    arp = parse_microflow("in_port=6,dl_src=fa:16:3e:7b:2d:02,dl_dst=ff:ff:ff:ff:ff:ff,arp,"
                          "arp_op=1,arp_spa=192.168.111.4,arp_tpa=192.168.111.1,"
                          "arp_sha=fa:16:3e:7b:2d:02,arp_tha=00:00:00:00:00:00")
    assert format_microflow(arp) == (
        "arp,in_port=6,vlan_tci=0x0000,dl_src=fa:16:3e:7b:2d:02,dl_dst=ff:ff:ff:ff:ff:ff,"
        "arp_spa=192.168.111.4,arp_tpa=192.168.111.1,arp_op=1,arp_sha=fa:16:3e:7b:2d:02,"
        "arp_tha=00:00:00:00:00:00")
    tcp = parse_microflow("in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_src=1000,"
                          "tcp_dst=22,reg5=0x1")
    assert format_microflow(tcp) == (
        "tcp,reg5=0x1,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,"
        "dl_dst=00:00:00:00:00:00,nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_src=1000,tcp_dst=22")
    gre = parse_microflow("in_port=1,ip,nw_proto=47,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=9")
    assert format_microflow(gre).endswith("ip,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,"
                                          "dl_dst=00:00:00:00:00:00,nw_src=10.0.0.1,"
                                          "nw_dst=10.0.0.2,nw_proto=47,nw_ttl=9")


@given(packets(), st.sampled_from(["", "3", "qvo1"]),
       st.lists(st.tuples(st.sampled_from(["reg0", "reg6", "metadata"]),
                          st.integers(0, 2**16).map(hex)), max_size=2, unique_by=lambda x: x[0]))
@settings(max_examples=300, deadline=None)
def test_microflow_round_trip(packet: Packet, in_port: str,
                              fields: list[tuple[str, str]]) -> None:
    m = Microflow(in_port, packet, tuple(fields))
    assert parse_microflow(format_microflow(m)) == m


def test_ofproto_trace_nested_bridge_returns_to_outer_bridge() -> None:
    """A patch output that is not the last action: OVS indents the peer bridge under it and the
    outer bridge's remaining actions come back at the header's indentation."""
    text = read("trace-nested-patch.txt")
    t = parse_ofproto_trace(text)
    assert [(v.bridge, v.table) for v in t.visits] == [
        ("br-a", 0), ("br-a", 1), ("br-b", 0), ("br-b", 1)]
    by_text = {(a.text, a.bridge) for a in t.passes[0].actions}
    assert ("output:1", "br-b") in by_text
    assert ("push_vlan:0x8100", "br-a") in by_text and ("output:2", "br-a") in by_text
    assert format_ofproto_trace(t) == text


def test_internal_miss_rule_counts_as_miss() -> None:
    """In a bridge reached through a patch port OVS 3.1 shows a miss as its internal rule."""
    text = NESTED.replace("        26. No match.", "        26. reg0=0x2, priority 0")
    visits = parse_ofproto_trace(text).visits
    assert visits[-1].match == "reg0=0x2" and visits[-1].is_miss
    assert not visits[0].is_miss


def test_packet_in_miss_is_a_miss() -> None:
    text = NESTED.replace("        26. No match.", '        26. No match, and a "packet-in" is '
                          "called for.")
    t = parse_ofproto_trace(text)
    assert t.visits[-1].match is None and t.visits[-1].is_miss
    assert format_ofproto_trace(t) == text


def test_ofproto_trace_nested_bridge_under_a_resubmitted_normal() -> None:
    """OVS indents a peer bridge differently depending on what follows; the bridge's own level
    is learnt from its first table line."""
    text = read("trace-nested-normal.txt")
    t = parse_ofproto_trace(text)
    assert [(v.bridge, v.table, v.block) for v in t.visits] == [
        ("nt-rand-b", 0, 0), ("nt-rand-b", 1, 0), ("nt-rand-a", 0, 1)]
    assert t.visits[-1].is_miss
    last = [a for a in t.passes[0].actions if a.text == "output:1"][0]
    assert last.bridge == "nt-rand-b" and last.block == 0
    assert format_ofproto_trace(t) == text


def test_ofctl_show_round_trip() -> None:
    show = parse_ofctl_show(read("ofctl-show-br-int.txt"))
    assert parse_ofctl_show(format_ofctl_show(show)) == show
    # a port's config and state flags come back too (a fuzz finding: they were written as 0)
    down = parse_ofctl_show(" 2(patch-tun): addr:36:ea:36:4e:2d:72\n     config:     PORT_DOWN\n"
                            "     state:      LINK_DOWN LIVE\n")
    assert down.ports[0].config == ("PORT_DOWN",) and down.ports[0].state == ("LINK_DOWN", "LIVE")
    assert parse_ofctl_show(format_ofctl_show(down)) == down




def test_vsctl_list_interface() -> None:
    rows = parse_vsctl_list(read("vsctl-list-interface.txt"))
    assert len(rows) == 2
    assert rows[0]["name"] == "qvo1b17c0cc-9f" and rows[0]["ofport"] == "4"
    assert rows[0]["external_ids"] == {"attached-mac": "fa:16:3e:6f:94:92",
                                       "iface-id": "1b17c0cc-9f79", "iface-status": "active",
                                       "vm-uuid": "9519fce7"}
    assert rows[0]["type"] == "" and rows[0]["options"] == {}
    assert rows[1]["options"]["remote_ip"] == "192.168.120.11"  # type: ignore[index]
    with pytest.raises(SyntaxParseError, match="expected 'column : value'"):
        parse_vsctl_list("name qvo1\n", source="x")

