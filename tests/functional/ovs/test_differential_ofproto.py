"""Differential tests: neutrace's OpenFlow engine against real Open vSwitch's ``ofproto/trace``
on the same bridges, flows and packets. Compared (see neutrace.verify.ofproto): the tables
visited in order with the flow that matched (by unique cookie) or a miss, the copies that left
(bridge, port, headers), the tunnel ids of copies sent to tunnel ports, and the first bridge's
final fields and registers.

1. hand-written Neutron-like bridges (tests/neutron_like.py) and their packet cases;
2. every cloud the agents program (examples/*/cloud.yaml): every VM port × packet kind;
3. randomized flow tables and packets (hypothesis), loaded into a bridge with
   ``ovs-ofctl --bundle replace-flows`` and traced over one unixctl connection.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neutrace.backends.ovs_load import OvsTracer, delete_bridges, load_bridges, load_flows
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge, OvsPort
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.packet import IPPROTO_TCP, IPPROTO_UDP, Packet, arp_request, ipv4
from neutrace.render.packets import packet_summary
from neutrace.syntax.ofctl import parse_flows
from neutrace.verify.ofproto import (
    compare,
    observe_engine,
    observe_ovs,
    with_unique_cookies,
)
from tests.support.neutron_like import CASES, Case, bridges
from tests.support.paths import REPO

pytestmark = pytest.mark.ovs


# -- 1. hand-written Neutron-like bridges ------------------------------------------------------

NEUTRON_LIKE = with_unique_cookies(bridges())


@pytest.fixture(scope="module")
def neutron_like(ovs_sandbox: OvsSandbox) -> Iterator[tuple[OpenFlowEngine, OvsTracer]]:
    load_bridges(ovs_sandbox, NEUTRON_LIKE)
    try:
        with OvsTracer(ovs_sandbox) as tracer:
            yield OpenFlowEngine(NEUTRON_LIKE, host="test-cmpt-02"), tracer
    finally:
        delete_bridges(ovs_sandbox, [b.name for b in NEUTRON_LIKE])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_neutron_like_bridges(neutron_like: tuple[OpenFlowEngine, OvsTracer], case: Case) -> None:
    engine, tracer = neutron_like
    diffs = compare(engine, tracer, NEUTRON_LIKE, case.bridge, case.in_port, case.packet)
    assert not diffs, "\n".join(diffs)


def test_comparison_can_fail(neutron_like: tuple[OpenFlowEngine, OvsTracer]) -> None:
    """The comparison sees a wrong flow, a wrong output and a wrong final field."""
    engine, tracer = neutron_like
    case = CASES[0]
    real = observe_ovs(tracer.trace(case.bridge, case.in_port, case.packet), case.packet,
                       NEUTRON_LIKE)
    # an engine given one flow less (the ARP anti-spoofing flow of table 24) must disagree
    br_int = NEUTRON_LIKE[0]
    crippled = tuple(f for f in br_int.flows if not (f.table == 24 and f.priority == 2))
    other = OpenFlowEngine((replace(br_int, flows=crippled), *NEUTRON_LIKE[1:]))
    ours = observe_engine(other.run(case.bridge, case.in_port, case.packet, OpenFlowState()),
                          NEUTRON_LIKE)
    diffs = ours.differences(real)
    assert any(d.startswith("visits") for d in diffs)
    assert any(d.startswith("outputs") for d in diffs)
    # an engine whose br-tun sets another VNI must disagree on the tunnel ids only
    br_tun = NEUTRON_LIKE[1]
    other_vni = tuple(replace(f, actions=f.actions.replace("0x10050", "0x10051"))
                      for f in br_tun.flows)
    other = OpenFlowEngine((NEUTRON_LIKE[0], replace(br_tun, flows=other_vni), NEUTRON_LIKE[2]))
    ours = observe_engine(other.run(case.bridge, case.in_port, case.packet, OpenFlowState()),
                          NEUTRON_LIKE)
    assert [d.split(":")[0] for d in ours.differences(real)] == ["tunnel_ids"]
    # and one that rewrites a field in the first bridge, on the final fields
    br_int = NEUTRON_LIKE[0]
    rewritten = tuple(replace(f, actions="mod_dl_src:fa:16:3e:00:00:99,NORMAL")
                      if f.table == 25 and f.match_value("in_port") == "6" else f
                      for f in br_int.flows)
    other = OpenFlowEngine((replace(br_int, flows=rewritten), *NEUTRON_LIKE[1:]))
    ours = observe_engine(other.run(case.bridge, case.in_port, case.packet, OpenFlowState()),
                          NEUTRON_LIKE)
    assert "final" in [d.split(":")[0] for d in ours.differences(real)]


# -- 3. randomized flow tables and packets -----------------------------------------------------

RAND_A = OvsBridge(
    "nt-rand-a",
    ports=(OvsPort("ra1", 1), OvsPort("ra2", 2), OvsPort("ra3", 3),
           OvsPort("ra-acc10", 4, tag=10), OvsPort("ra-acc20", 5, tag=20),
           OvsPort("ra-trunk", 6, trunks=(10, 20)),
           OvsPort("ra-patch", 7, "patch", options=(("peer", "rb-patch"),)),
           OvsPort("ra-vxlan", 8, "vxlan", options=(("in_key", "flow"), ("local_ip", "10.9.0.1"),
                                                    ("out_key", "flow"),
                                                    ("remote_ip", "10.9.0.2")))),
)
RAND_B = OvsBridge(
    "nt-rand-b",
    ports=(OvsPort("rb1", 1), OvsPort("rb-acc10", 2, tag=10),
           OvsPort("rb-patch", 3, "patch", options=(("peer", "ra-patch"),))),
)
MACS = ("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "fa:16:3e:00:01:03", "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01")
IPS = ("10.0.0.1", "10.0.0.5", "10.0.1.7", "192.168.0.1")
NETS = ("10.0.0.0/24", "10.0.0.5", "10.0.0.0/8", "192.168.0.1")
TABLES = (0, 1, 2, 3)
PACKETS_PER_TABLE = 6
# x PACKETS_PER_TABLE packets: 1,200 compared traces in CI (~35 s); raise it to hunt for bugs
RANDOM_EXAMPLES = int(os.environ.get("NEUTRACE_RANDOM_EXAMPLES", "200"))


@st.composite
def match_text(draw: st.DrawFn, ports: tuple[OvsPort, ...]) -> str:
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(f"in_port={draw(st.sampled_from(ports)).ofport}")
    vlan = draw(st.sampled_from([None, None, "dl_vlan=10", "dl_vlan=20", "dl_vlan=30",
                                 "vlan_tci=0x0000/0x1fff"]))
    if vlan:
        parts.append(vlan)
    for key in ("dl_src", "dl_dst"):
        choice = draw(st.integers(0, 5))
        if choice == 1:
            parts.append(f"{key}={draw(st.sampled_from(MACS))}")
        elif choice == 2:
            parts.append(f"{key}=01:00:00:00:00:00/01:00:00:00:00:00")
        elif choice == 3:
            parts.append(f"{key}=fa:16:3e:00:00:00/ff:ff:ff:ff:ff:00")
    proto = draw(st.sampled_from([None, None, "ip", "arp", "tcp", "udp", "icmp"]))
    if proto:
        parts.append(proto)
        if proto != "arp" or draw(st.booleans()):
            for key in ("nw_src", "nw_dst"):
                if draw(st.integers(0, 3)) == 0:
                    parts.append(f"{key}={draw(st.sampled_from(NETS))}")
        if proto == "ip" and draw(st.booleans()):
            parts.append(f"nw_proto={draw(st.sampled_from([1, 6, 17]))}")
        if proto in ("tcp", "udp") and draw(st.booleans()):
            parts.append(f"tp_dst={draw(st.sampled_from([22, 53, 80]))}")
    if draw(st.integers(0, 3)) == 0:
        parts.append(draw(st.sampled_from(["reg0=1", "reg0=2", "reg0=0x2/0x2", "reg0=0"])))
    if draw(st.integers(0, 5)) == 0:
        parts.append(draw(st.sampled_from(["tun_id=0x10", "tun_id=0x20", "tun_id=0"])))
    if proto and proto != "arp" and draw(st.integers(0, 3)) == 0:
        parts.append(draw(st.sampled_from(["ct_state=-trk", "ct_state=+trk+new",
                                           "ct_state=+trk+est", "ct_state=+trk"])))
    return ",".join(parts)


@st.composite
def action_text(draw: st.DrawFn, table: int, ports: tuple[OvsPort, ...],
                ip: bool = False) -> str:
    """Actions; ``ip`` when the match guarantees IPv4 (OVS refuses IP rewrites otherwise)."""
    if draw(st.integers(0, 9)) == 0:
        return "drop"
    later = [t for t in TABLES if t > table]
    choices = ["output", "output", "mod_vlan_vid", "strip_vlan", "load", "NORMAL", "set_dst",
               "tun_id", "port_keyword"]
    if ip:
        choices += ["mod_nw_dst", "dec_ttl", "ct"]
    if later:
        choices += ["resubmit", "resubmit"]
    out: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(choices))
        if kind == "output":
            out.append(f"output:{draw(st.sampled_from(ports)).ofport}")
        elif kind == "mod_vlan_vid":
            out.append(f"mod_vlan_vid:{draw(st.sampled_from([10, 20, 30]))}")
        elif kind == "load":
            out.append(f"load:{draw(st.integers(0, 3))}->NXM_NX_REG0[]")
        elif kind == "tun_id":
            value = draw(st.sampled_from([0x10, 0x20]))
            out.append(draw(st.sampled_from([f"set_tunnel:{value:#x}",
                                             f"load:{value:#x}->NXM_NX_TUN_ID[]",
                                             f"set_field:{value:#x}->tun_id"])))
        elif kind == "port_keyword":
            # not IN_PORT in nt-rand-b: with IN_PORT on both sides of the patch a packet
            # ping-pongs to the depth limit (see test_patch_port_loop_depth_limit)
            keywords = ["IN_PORT", "LOCAL", "FLOOD", "ALL"] if ports[0].name.startswith("ra") \
                else ["LOCAL", "FLOOD", "ALL"]
            out.append(draw(st.sampled_from(keywords)))
        elif kind == "ct":
            targets = [f",table={t}" for t in later]
            out.append("ct(" + draw(st.sampled_from(["commit", "commit,zone=5", *[
                t[1:] for t in targets], *[f"commit{t}" for t in targets]])) + ")")
        elif kind == "mod_nw_dst":
            out.append(f"mod_nw_dst:{draw(st.sampled_from(IPS))}")
        elif kind == "set_dst":
            out.append(f"mod_dl_dst:{draw(st.sampled_from(MACS[:3]))}")
        elif kind == "resubmit":
            out.append(f"resubmit(,{draw(st.sampled_from(later))})")
        else:
            out.append(kind)
    return ",".join(out)


@st.composite
def flow_table(draw: st.DrawFn, bridge: OvsBridge, cookie_base: int) -> str:
    lines: list[str] = []
    n = 0
    for table in TABLES:
        count = draw(st.integers(0 if table else 1, 5))
        # distinct priorities: OVS leaves the choice between equal-priority overlapping flows open
        prios = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count, unique=True))
        for prio in prios:
            n += 1
            m = draw(match_text(bridge.ports))
            ip = any(m.startswith(p) or f",{p}" in m for p in ("ip", "tcp", "udp", "icmp"))
            a = draw(action_text(table, bridge.ports, ip))
            lines.append(f"cookie={cookie_base + n:#x}, table={table}, priority={prio}"
                         f"{',' + m if m else ''} actions={a}")
        if draw(st.integers(0, 2)) == 0:
            # a conjunctive match: conj_id flow + two clauses of distinct MAC matches, at a
            # priority of its own (41..60, above the plain flows' 0..40)
            prio = draw(st.integers(41, 60))
            cid = table + 1
            n += 1
            lines.append(f"cookie={cookie_base + n:#x}, table={table}, priority={prio},"
                         f"conj_id={cid} actions={draw(action_text(table, bridge.ports))}")
            for clause, key in ((1, "dl_src"), (2, "dl_dst")):
                macs = draw(st.lists(st.sampled_from(MACS), min_size=1, max_size=2, unique=True))
                for mac in macs:
                    n += 1
                    lines.append(f"cookie={cookie_base + n:#x}, table={table}, priority={prio},"
                                 f"{key}={mac} actions=conjunction({cid},{clause}/2)")
    return "\n".join(lines) + "\n"


@st.composite
def random_packet(draw: st.DrawFn) -> tuple[str, str, Packet]:
    bridge = draw(st.sampled_from([RAND_A, RAND_A, RAND_A, RAND_B]))
    port = draw(st.sampled_from([p for p in bridge.ports if p.type != "patch"]))
    src, dst = draw(st.lists(st.sampled_from(MACS), min_size=2, max_size=2, unique=True))
    if src in ("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"):
        src = "fa:16:3e:00:00:09"
    kind = draw(st.sampled_from(["arp", "icmp", "tcp", "udp", "ip"]))
    ip_src, ip_dst = draw(st.sampled_from(IPS)), draw(st.sampled_from(IPS))
    if kind == "arp":
        pkt = arp_request(src, ip_src, ip_dst).with_(dl_dst=dst)
    elif kind == "icmp":
        pkt = ipv4(src, dst, ip_src, ip_dst)
    elif kind == "ip":
        pkt = ipv4(src, dst, ip_src, ip_dst, proto=47)
    else:
        proto = IPPROTO_TCP if kind == "tcp" else IPPROTO_UDP
        pkt = ipv4(src, dst, ip_src, ip_dst, proto=proto, sport=40000,
                   dport=draw(st.sampled_from([22, 53, 80, 443])))
    vid = draw(st.sampled_from([None, None, 10, 20, 30]))
    if port.is_tunnel:  # a VXLAN packet as the tunnel port delivers it: untagged, with its VNI
        return bridge.name, port.name, pkt.with_(
            tun_id=draw(st.sampled_from([0x10, 0x20, 0x30])), tun_src="10.9.0.2",
            tun_dst="10.9.0.1")
    return bridge.name, port.name, pkt.with_vlan(vid)


@pytest.fixture(scope="module")
def random_bridges(ovs_sandbox: OvsSandbox) -> Iterator[OvsTracer]:
    load_bridges(ovs_sandbox, [RAND_A, RAND_B])
    try:
        with OvsTracer(ovs_sandbox) as tracer:
            yield tracer
    finally:
        delete_bridges(ovs_sandbox, [RAND_A.name, RAND_B.name])


@given(flows_a=flow_table(RAND_A, 0x1000), flows_b=flow_table(RAND_B, 0x2000),
       packets=st.lists(random_packet(), min_size=PACKETS_PER_TABLE,
                        max_size=PACKETS_PER_TABLE))
@settings(max_examples=RANDOM_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
def test_random_flow_tables(random_bridges: OvsTracer, flows_a: str, flows_b: str,
                            packets: list[tuple[str, str, Packet]]) -> None:
    tracer = random_bridges
    sandbox = tracer.sandbox
    model = (replace(RAND_A, flows=parse_flows(flows_a, source="flows_a")),
             replace(RAND_B, flows=parse_flows(flows_b, source="flows_b")))
    for b in model:
        load_flows(sandbox, b.name, b.flows, replace=True)
    engine = OpenFlowEngine(model)
    for bridge, in_port, packet in packets:
        diffs = compare(engine, tracer, model, bridge, in_port, packet)
        assert not diffs, (
            f"packet {packet_summary(packet)} into {bridge}:{in_port}\n"
            f"--- flows {RAND_A.name}\n{flows_a}--- flows {RAND_B.name}\n{flows_b}"
            + "\n".join(diffs)
        )


# -- regressions found by the differential tests ----------------------------------------------

CONJ_REPLACED = OvsBridge(
    "nt-conj",
    ports=(OvsPort("cj1", 1), OvsPort("cj2", 2), OvsPort("cj3", 3)),
    flows=parse_flows(
        "cookie=0x1, table=0, priority=10,conj_id=1,ip actions=output:2\n"
        "cookie=0x2, table=0, priority=10,conj_id=2,ip actions=output:3\n"
        "cookie=0x3, table=0, priority=10,ip,nw_src=10.0.0.1 actions=conjunction(1,1/2)\n"
        # the same match and priority: OVS's add-flows replaces the flow above with this one
        "cookie=0x4, table=0, priority=10,ip,nw_src=10.0.0.1 actions=conjunction(2,1/2)\n"
        "cookie=0x5, table=0, priority=10,tcp,tp_dst=22 actions=conjunction(1,2/2)\n"
        "cookie=0x6, table=0, priority=10,udp,tp_dst=53 actions=conjunction(2,2/2)\n"
    ),
)


def test_identical_conjunction_clause_replaces_earlier(ovs_sandbox: OvsSandbox) -> None:
    """A conjunctive-clause flow with the same table, priority and match as an earlier one
    replaces it, as OVS's add-flows does (found by the benchmark's first flow generator)."""
    model = (CONJ_REPLACED,)
    load_bridges(ovs_sandbox, model)
    try:
        with OvsTracer(ovs_sandbox) as tracer:
            pkt = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1", "10.0.0.2",
                       proto=IPPROTO_TCP, sport=1000, dport=22)
            diffs = compare(OpenFlowEngine(model), tracer, model, "nt-conj", "cj1", pkt)
    finally:
        delete_bridges(ovs_sandbox, [CONJ_REPLACED.name])
    assert not diffs, "\n".join(diffs)


# -- 4. an openvswitch-firewall br-int (ct, recirculation, conjunctions) ------------------------


def _benchmark_module() -> object:
    import importlib.util

    path = REPO / "benchmarks" / "ofproto_trace.py"
    spec = importlib.util.spec_from_file_location("nt_bench_ofproto_trace", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_openvswitch_firewall_bridge(ovs_sandbox: OvsSandbox) -> None:
    """The benchmark's firewall br-int (~1,000 flows: reg5/reg6, ct(), recirculation,
    ct(commit), conjunctions) and its packets (egress, ingress through a conjunction, spoofed)."""
    bench = _benchmark_module()
    bridge, text, vms = bench.build(1000)  # type: ignore[attr-defined]
    model = (replace(bridge, flows=parse_flows(text, source="firewall")),)
    load_bridges(ovs_sandbox, model)
    failures = []
    try:
        engine = OpenFlowEngine(model)
        with OvsTracer(ovs_sandbox) as tracer:
            for in_port, packet in bench.packets(vms, 40):  # type: ignore[attr-defined]
                diffs = compare(engine, tracer, model, model[0].name, in_port, packet)
                if diffs:
                    failures.append(f"{packet_summary(packet)} from {in_port}: " + "\n".join(diffs))
    finally:
        delete_bridges(ovs_sandbox, [model[0].name])
    assert not failures, "\n\n".join(failures[:3])


PINGPONG_A = replace(RAND_A, name="nt-pp-a", ports=(
    OvsPort("pp-a1", 1), OvsPort("pp-a-patch", 7, "patch", options=(("peer", "pp-b-patch"),))),
    flows=parse_flows("cookie=0x11, table=0, priority=1,in_port=1 actions=output:7\n"
                      "cookie=0x12, table=0, priority=0 actions=IN_PORT\n"))
PINGPONG_B = replace(RAND_B, name="nt-pp-b", ports=(
    OvsPort("pp-b-patch", 3, "patch", options=(("peer", "pp-a-patch"),)),),
    flows=parse_flows("cookie=0x21, table=0, priority=0 actions=IN_PORT\n"))


def test_patch_port_loop_depth_limit(ovs_sandbox: OvsSandbox) -> None:
    model = (PINGPONG_A, PINGPONG_B)
    load_bridges(ovs_sandbox, model)
    try:
        with OvsTracer(ovs_sandbox) as tracer:
            pkt = arp_request("fa:16:3e:00:00:01", "10.0.0.1", "10.0.0.2")
            diffs = compare(OpenFlowEngine(model), tracer, model, "nt-pp-a", "pp-a1", pkt)
    finally:
        delete_bridges(ovs_sandbox, [b.name for b in model])
    assert not diffs, "\n".join(d[:300] for d in diffs)


# ct(table=N) recirculations in a patch peer (found by the randomized test: the comparison put
# the peer's resumed lookups in the first bridge's visit; OVS runs recirculations in the order
# they were forked, each resuming the visit whose ct() forked it)
CT_PATCH_A = ("table=0,ip actions=ct(table=1)\ntable=1,ip actions=output:7",
              "table=0,ip actions=output:7,ct(table=1)\ntable=1,ip actions=output:2")
CT_PATCH_B = ("table=0,ip actions=ct(table=1)\ntable=1,ip actions=output:1",
              "table=0,ip actions=ct(table=1)\ntable=1,ip actions=IN_PORT",
              "table=0,ip actions=ct(zone=5,table=1)\ntable=1,ip actions=LOCAL,ct(table=2)\n"
              "table=2 actions=output:1")


@pytest.mark.parametrize("flows_b", CT_PATCH_B)
@pytest.mark.parametrize("flows_a", CT_PATCH_A)
def test_ct_recirculation_behind_a_patch_port(random_bridges: OvsTracer, flows_a: str,
                                              flows_b: str) -> None:
    tracer = random_bridges
    model = with_unique_cookies((replace(RAND_A, flows=parse_flows(flows_a)),
                                 replace(RAND_B, flows=parse_flows(flows_b))))
    for b in model:
        load_flows(tracer.sandbox, b.name, b.flows, replace=True)
    pkt = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1", "10.0.0.5",
               proto=IPPROTO_TCP, sport=40000, dport=80)
    diffs = compare(OpenFlowEngine(model), tracer, model, RAND_A.name, "ra1", pkt)
    assert not diffs, "\n".join(d[:600] for d in diffs)
