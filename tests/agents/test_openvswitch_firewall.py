"""The openvswitch firewall driver (agents.openvswitch_firewall): golden br-int flows of the
example cloud, what each kind of port gets (filtered, port security off, the network's own
ports), allowed address pairs, conjunction ids, and the rule helpers (port masks, merges, OVS's
print order). That they are Neutron's is checked against Neutron itself in
tests/functional/conformance/ (flows) and tests/functional/ovs/ (they load and dump back)."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrace import model
from neutrace.agents import program
from neutrace.agents.openvswitch_firewall import rules
from neutrace.agents.openvswitch_firewall.firewall import ConjIdMap
from neutrace.agents.openvswitch_firewall.ofmatch import ct_state_text, to_match
from neutrace.dataplane import CloudState, Flow, OvsBridge
from neutrace.syntax.ofctl import format_flow
from neutrace.topology import load
from tests.support.golden import check_golden
from tests.support.paths import DATA, EXAMPLES

EXAMPLE = EXAMPLES / "ovs-firewall" / "cloud.yaml"


@functools.cache
def _example() -> tuple[model.Cloud, CloudState]:
    cloud = load(EXAMPLE)
    return cloud, program(cloud)


@functools.cache
def _extras() -> tuple[model.Cloud, CloudState]:
    cloud = load(DATA / "clouds" / "ovsfw-extras.yaml")
    return cloud, program(cloud)


def _br_int(state: CloudState, host: str) -> OvsBridge:
    h = state.host(host)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    return br


def _ofport(cloud: model.Cloud, state: CloudState, vm: str, index: int = 0) -> int:
    port = cloud.port(cloud.vm(vm).port_ids[index])
    br = _br_int(state, port.binding_host_id)
    p = br.port(f"tap{port.id[:11]}")
    assert p is not None
    return p.ofport


def _lines(flows: tuple[Flow, ...] | list[Flow]) -> list[str]:
    return [format_flow(f, cookie=False) for f in flows]


@pytest.mark.parametrize("host", ["net-01", "cmp-01", "cmp-02"])
def test_golden_br_int_flows(host: str) -> None:
    check_golden(f"agents/ovs-firewall/{host}/br-int.flows",
                 "".join(format_flow(f) + "\n" for f in _br_int(_example()[1], host).flows))


def test_tap_on_br_int_no_hybrid_devices_no_iptables() -> None:
    cloud, state = _example()
    host = state.host("cmp-01")
    assert host is not None
    port = cloud.port(cloud.vm("web").port_ids[0])
    br = _br_int(state, "cmp-01")
    tap = br.port(f"tap{port.id[:11]}")
    assert tap is not None and tap.type == "" and tap.tag == 1
    assert br.port(f"qvo{port.id[:11]}") is None
    assert host.root.interface(f"qbr{port.id[:11]}") is None
    assert host.root.iptables == "" and host.root.ip6tables == "" and host.root.ipsets == ""


def test_br_int_gets_the_drivers_protocols_and_no_arp_spoofing_tables() -> None:
    state = _example()[1]
    br = _br_int(state, "cmp-01")
    assert br.protocols == ("OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13",
                            "OpenFlow14")
    # the driver protects against spoofing itself (table 71): no table 24/25 per port
    assert [f.priority for f in br.flows if f.table in (24, 25)] == [0]
    assert not [f for f in br.flows if f.table == 0 and f.priority in (9, 10)]
    # ... unlike the noop driver, which leaves it to the agent
    noop = _br_int(_extras()[1], "nop")
    assert [f for f in noop.flows if f.table == 25]


def test_base_flows_are_flagged_reset_counts() -> None:
    br = _br_int(_example()[1], "net-01")
    flagged = {(f.table, f.priority) for f in br.flows if f.flags == ("reset_counts",)}
    assert flagged == {(71, 0), (72, 0), (73, 0), (81, 0), (82, 0), (71, 110), (91, 1),
                       (92, 0), (93, 0), (94, 1)}


def test_filtered_port_egress_identifies_port_and_zone() -> None:
    cloud, state = _example()
    ofport = _ofport(cloud, state, "web")
    lines = _lines(_br_int(state, "cmp-01").flows)
    assert (f"table=60, priority=100,in_port={ofport} actions=set_field:{ofport:#x}->reg5,"
            "set_field:0x1->reg6,resubmit(,71)") in lines
    mac = cloud.port(cloud.vm("web").port_ids[0]).mac_address
    assert (f"table=60, priority=90,dl_vlan=1,dl_dst={mac} actions=set_field:{ofport:#x}->reg5,"
            "set_field:0x1->reg6,pop_vlan,resubmit(,81)") in lines
    assert (f"table=71, priority=65,ip,reg5={ofport:#x},in_port={ofport},dl_src={mac},"
            "nw_src=10.20.0.10 actions=ct(table=72,zone=NXM_NX_REG6[0..15])") in lines
    assert (f"table=82, priority=77,ct_state=+new-est,tcp,reg5={ofport:#x},tp_dst=22 "
            f"actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:{ofport},resubmit(,92)") in lines


@pytest.mark.parametrize("vm,owner", [("open", ""), ("qr", "network:router_interface")])
def test_skip_path_for_port_security_off_and_trusted_ports(vm: str, owner: str) -> None:
    cloud, state = _example()
    if owner:
        port = next(p for p in cloud.ports if p.device_owner == owner)
        host, name = port.binding_host_id, f"qr-{port.id[:11]}"
    else:
        port = cloud.port(cloud.vm(vm).port_ids[0])
        host, name = port.binding_host_id, f"tap{port.id[:11]}"
    br = _br_int(state, host)
    p = br.port(name)
    assert p is not None and p.tag is not None
    mine = [f for f in br.flows if f.match_value("in_port") == str(p.ofport)
            or f.match_value("reg5") == f"{p.ofport:#x}"
            or f.match_value("dl_dst") == port.mac_address]
    assert _lines(mine) == [
        f"table=60, priority=100,in_port={p.ofport} actions=set_field:{p.ofport:#x}->reg5,"
        f"set_field:{p.tag:#x}->reg6,resubmit(,73)",
        f"table=73, priority=80,reg5={p.ofport:#x} actions=resubmit(,94)",
    ]


def test_allowed_address_pairs() -> None:
    cloud, state = _extras()
    lines = _lines(_br_int(state, "ovs2").flows)
    d2 = cloud.port(cloud.vm("d2").port_ids[0])
    ofport = _ofport(cloud, state, "d2")
    # 0.0.0.0/0 with its own MAC: any source from that MAC, and the MAC gets ingress flows
    assert (f"table=71, priority=65,ip,reg5={ofport:#x},in_port={ofport},"
            "dl_src=fa:16:3e:00:00:21 actions=ct(table=72,zone=NXM_NX_REG6[0..15])") in lines
    assert ("table=73, priority=100,reg6=0x1,dl_dst=fa:16:3e:00:00:21 "
            f"actions=set_field:{ofport:#x}->reg5,resubmit(,81)") in lines
    # ::/0 with the port's MAC
    assert (f"table=71, priority=65,ipv6,reg5={ofport:#x},in_port={ofport},"
            f"dl_src={d2.mac_address} actions=ct(table=72,zone=NXM_NX_REG6[0..15])") in lines
    cloud, state = _extras()
    a1 = _ofport(cloud, state, "a1")
    lines = _lines(_br_int(state, "ovs1").flows)
    assert (f"table=71, priority=95,arp,reg5={a1:#x},in_port={a1},dl_src=fa:16:3e:aa:bb:cc,"
            "arp_spa=10.70.0.200 actions=resubmit(,94)") in lines
    assert any("arp_spa=10.70.0.96/28" in line for line in lines)


def test_remote_group_members_as_conjunctions_per_network() -> None:
    cloud, state = _example()
    lines = _lines(_br_int(state, "cmp-01").flows)
    # web's tcp/80 rule from group clients: conj ids 16 + 2*3 (tcp: offset 3) and +1
    for ip in ("10.20.0.20", "10.20.0.50", "10.20.0.100"):
        assert (f"table=82, priority=73,ct_state=+new-est,ip,reg6=0x1,nw_src={ip} "
                "actions=conjunction(23,1/2)") in lines
    web = _ofport(cloud, state, "web")
    assert (f"table=82, priority=73,ct_state=+new-est,tcp,reg5={web:#x},tp_dst=80 "
            "actions=conjunction(23,2/2)") in lines
    assert (f"table=82, priority=73,conj_id=23,ct_state=+new-est,ip,reg5={web:#x} "
            f"actions=set_field:0x17->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:{web},"
            "resubmit(,92)") in lines
    assert not any("nw_src=10.20.0.30" in line for line in lines)  # stranger: not a member


def test_conj_id_map_allocates_blocks_of_eight_from_sixteen() -> None:
    ids = ConjIdMap()
    assert ids.get_conj_id("sg", "rg", "ingress", "IPv4") == 16
    assert ids.get_conj_id("sg", "rg", "ingress", "IPv6") == 24
    assert ids.get_conj_id("sg", "rg", "ingress", "IPv4") == 16
    assert ConjIdMap(conj_id_max=41).get_conj_id("a", "b", "egress", "IPv4") == 56


@pytest.mark.parametrize("rule,offset", [
    ({"protocol": 6}, 7), ({}, 4), ({"protocol": 1}, 5), ({"protocol": 1, "port_range_min": 8}, 6),
    ({"protocol": 58, "port_range_min": 8, "port_range_max": 0}, 7),
    ({"protocol": 6, "remote_group_id": "x"}, 3), ({"remote_group_id": "x"}, 0),
])
def test_flow_priority_offset(rule: dict[str, object], offset: int) -> None:
    assert rules.flow_priority_offset(rule) == offset


def _covered(masks: list[str]) -> list[int]:
    """Every port each ``port/mask`` matches (enumerating the mask's free bits)."""
    out: list[int] = []
    for text in masks:
        value, _, mask = text.partition("/")
        m = int(mask, 16) if mask else 0xFFFF
        free = [1 << b for b in range(16) if not m >> b & 1]
        base = int(value, 16) & m
        for n in range(1 << len(free)):
            out.append(base | sum(bit for i, bit in enumerate(free) if n >> i & 1))
    return out


@given(st.integers(1, 65535), st.integers(0, 65534))
def test_port_rule_masking_covers_the_range_exactly_once(low: int, span: int) -> None:
    high = min(65535, low + span % 3000)
    covered = _covered(rules.port_rule_masking(low, high))
    assert sorted(covered) == list(range(low, high + 1))


def test_port_rule_masking_text() -> None:
    assert rules.port_rule_masking(22, 22) == ["0x0016"]
    assert rules.port_rule_masking(40, 105) == ["0x0030/0xfff0", "0x0028/0xfff8",
                                                "0x0040/0xffe0", "0x0060/0xfff8", "0x0068/0xfffe"]
    with pytest.raises(ValueError):
        rules.port_rule_masking(12, 5)


def test_merge_port_ranges_cuts_overlaps() -> None:
    base = {"direction": "ingress", "ethertype": "IPv4", "protocol": 6}
    merged = rules.merge_port_ranges([
        ({**base, "port_range_min": 80, "port_range_max": 80}, 22),
        ({**base, "port_range_min": 70, "port_range_max": 90}, 38),
    ])
    assert [(r["port_range_min"], r["port_range_max"], ids) for r, ids in merged] == [
        (70, 79, [38]), (80, 80, [38, 22]), (81, 90, [38])]
    whole = rules.merge_port_ranges([(dict(base), 16), ({**base, "port_range_min": 1,
                                                          "port_range_max": 65535}, 24)])
    assert whole == [(base, [16, 24])]


def test_to_match_uses_ovs_print_order_and_values() -> None:
    params = {"tcp_dst": "0x03f0/0xfff0", "reg_port": 3, "dl_type": 0x0800, "nw_proto": 6,
              "ct_state": "+trk+inv", "ct_mark": "0x0", "nw_src": "10.0.0.0/24",
              "in_port": 3, "dl_src": "FA:16:3E:00:00:01", "conj_id": 7}
    assert to_match(params) == (
        ("conj_id", "7"), ("ct_state", "+inv+trk"), ("ct_mark", "0"), ("tcp", ""),
        ("reg5", "0x3"), ("in_port", "3"), ("dl_src", "fa:16:3e:00:00:01"),
        ("nw_src", "10.0.0.0/24"), ("tp_dst", "0x3f0/0xfff0"))
    assert to_match({"dl_type": 0x86DD, "nw_proto": 47, "ipv6_src": "::/0"}) == (
        ("ipv6", ""), ("nw_proto", "47"))
    assert ct_state_text("-est+new") == "+new-est"
