"""The engine's classifier (tuple space search: subtables by field set and masks, visited by
decreasing priority) against a naive reference: the highest-priority flow whose every
(field, value, mask) matches, found by scanning all flows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from neutrace.dataplane import Flow, OvsBridge, OvsPort
from neutrace.engines.openflow import (
    OpenFlowEngine,
    OpenFlowState,
    compile_match,
    packet_values,
)
from neutrace.packet import IPPROTO_TCP, IPPROTO_UDP, Packet, arp_request, ipv4
from neutrace.trace import TableLookup

MACS = ["fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:01:01", "ff:ff:ff:ff:ff:ff"]
IPS = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "192.168.0.1"]

MATCHES: dict[str, st.SearchStrategy[str]] = {
    "in_port": st.sampled_from(["1", "2", "3"]),
    "dl_src": st.one_of(st.sampled_from(MACS), st.just("fa:16:3e:00:00:00/ff:ff:ff:ff:ff:00")),
    "dl_dst": st.one_of(st.sampled_from(MACS), st.just("01:00:00:00:00:00/01:00:00:00:00:00")),
    "dl_vlan": st.sampled_from(["1", "2", "0xffff"]),
    "nw_src": st.one_of(st.sampled_from(IPS), st.sampled_from(["10.0.0.0/24", "10.0.0.0/8"])),
    "nw_dst": st.one_of(st.sampled_from(IPS), st.just("10.0.0.0/16")),
    "tp_dst": st.one_of(st.sampled_from(["22", "80"]), st.just("0x50/0xfff0")),
    "reg0": st.sampled_from(["0x1", "0x2", "0x1/0x1"]),
}


@st.composite
def tables(draw: st.DrawFn) -> tuple[Flow, ...]:
    n = draw(st.integers(1, 25))
    prios = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n, unique=True))
    out = []
    for prio in prios:
        proto = draw(st.sampled_from(["", "ip", "tcp", "udp", "arp"]))
        names = draw(st.lists(st.sampled_from(sorted(MATCHES)), max_size=4, unique=True))
        match = ([(proto, "")] if proto else []) + [(k, draw(MATCHES[k])) for k in names]
        out.append(Flow(0, prio, tuple(match), f"load:{prio}->NXM_NX_REG1[]"))
    return tuple(out)


@st.composite
def packets(draw: st.DrawFn) -> tuple[str, Packet]:
    src, dst = draw(st.sampled_from(MACS)), draw(st.sampled_from(MACS))
    a, b = draw(st.sampled_from(IPS)), draw(st.sampled_from(IPS))
    kind = draw(st.sampled_from(["arp", "tcp", "udp", "icmp"]))
    if kind == "arp":
        pkt = arp_request(src, a, b).with_(dl_dst=dst)
    else:
        proto = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP, "icmp": 1}[kind]
        pkt = ipv4(src, dst, a, b, proto=proto, sport=1000,
                   dport=draw(st.sampled_from([22, 80, 88, 443])))
    vid = draw(st.sampled_from([None, 1, 2]))
    return draw(st.sampled_from(["p1", "p2", "p3"])), pkt.with_vlan(vid)


def naive(flows: tuple[Flow, ...], in_port: int, packet: Packet) -> int | None:
    v = packet_values(packet, in_port)
    best: Flow | None = None
    for f in flows:
        if all(v[i] & m == val for i, val, m in compile_match(f.match)[0]):
            if best is None or f.priority > best.priority:
                best = f
    return best.priority if best is not None else None


@given(flows=tables(), pkts=st.lists(packets(), min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_classifier_agrees_with_a_linear_scan(flows: tuple[Flow, ...],
                                              pkts: list[tuple[str, Packet]]) -> None:
    br = OvsBridge("br0", ports=(OvsPort("p1", 1), OvsPort("p2", 2), OvsPort("p3", 3)),
                   flows=flows)
    engine = OpenFlowEngine([br])
    for port, pkt in pkts:
        visit = engine.run("br0", port, pkt, OpenFlowState())
        (table_step,) = [s for s in visit.steps if isinstance(s, TableLookup)]
        want = naive(flows, int(port[1:]), pkt)
        got = table_step.flow.priority if table_step.flow is not None else None
        assert (table_step.table, got) == (0, want)
