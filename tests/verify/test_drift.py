"""`neutrace.verify.drift` on synthetic states: the seed's hosts as the agents program them,
each changed the way a fault changes a real host, then compared with the untouched ones. Each
fault comes back as its typed fact, naming the port, network, host or rule; an untouched host,
or one whose agent numbered local VLANs and OpenFlow ports otherwise, has no differences.

The same faults injected on real state (real OVS and namespaces) are in
tests/functional/real/test_diff_faults.py."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from neutrace.app import session
from neutrace.dataplane import CloudState, Flow, Gap, HostState, Namespace, OvsBridge, OvsPort
from neutrace.drift import (
    Change,
    DeadPort,
    FloodEntryMissing,
    FlowDifference,
    InterfaceDifference,
    IptablesDifference,
    NamespaceDifference,
    PortDifference,
    PortRole,
    RuleRole,
    Tolerance,
    WrongLocalVlan,
)
from neutrace.render.drift import difference_text, drift_json, drift_text
from neutrace.verify.drift import compare, compare_host
from neutrace.verify.drift_ovs import FlowNormalizer
from tests.support.paths import EXAMPLES, SEED_YAML

CMPT = "test-cmpt-02"
CTRL = "test-ctrl-01"
ROUTER = "qrouter-c8aec0d9-3203-4bdb-9237-9818603f521f"
SHARE_NET = "8edf57d7-2b64-4cd9-a00d-20101d6384d1"
QVO = "qvo1b17c0cc-9f"


@pytest.fixture(scope="module")
def seed() -> CloudState:
    return session.cloud_state(SEED_YAML)


def changed(state: CloudState, host: HostState) -> CloudState:
    return replace(state, hosts=tuple(host if h.name == host.name else h for h in state.hosts))


def with_bridge(h: HostState, b: OvsBridge) -> HostState:
    return replace(h, ovs_bridges=tuple(b if x.name == b.name else x for x in h.ovs_bridges))


def with_port(b: OvsBridge, name: str, **kw: object) -> OvsBridge:
    return replace(b, ports=tuple(replace(p, **kw) if p.name == name else p  # type: ignore[arg-type]
                                  for p in b.ports))


def with_ns(h: HostState, ns: Namespace) -> HostState:
    return replace(h, namespaces=tuple(ns if n.name == ns.name else n for n in h.namespaces))


def diffs(seed: CloudState, host: HostState) -> list[object]:
    drift = compare(seed, changed(seed, host))
    for d in drift.differences:  # every fact has words
        assert difference_text(d, drift)
    return list(drift.differences)


def test_the_agents_state_against_itself_is_empty(seed: CloudState) -> None:
    drift = compare(seed, seed)
    assert not drift.differs and not drift.differences
    assert drift_text(drift).startswith("no differences")
    assert json.loads(drift_json(drift))["differs"] is False


def test_a_dead_port(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    got = diffs(seed, with_bridge(h, with_port(br, QVO, tag=4095)))
    assert got == [DeadPort(CMPT, "br-int", QVO, PortRole.VM,
                            "1b17c0cc-9f79-4830-a50d-059477418ed4", SHARE_NET, 1)]
    text = difference_text(got[0], compare(seed, seed))  # type: ignore[arg-type]
    assert "has tag 4095" in text and "marked the port dead" in text and "share_net" in text


def test_a_wrong_local_vlan(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    got = diffs(seed, with_bridge(h, with_port(br, QVO, tag=7)))
    assert got == [WrongLocalVlan(CMPT, "br-int", QVO, SHARE_NET, 7, 1, 1)]


def test_a_missing_tunnel_port_and_flood_entry(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    tun = h.bridge("br-tun")
    assert tun is not None
    gone = "vxlan-c0a8780b"  # to test-ctrl-01 (192.168.120.11), ofport 2
    flows = tuple(replace(f, actions=f.actions.replace("output:2,", "")) if f.table == 22
                  and f.match else f for f in tun.flows)
    got = diffs(seed, with_bridge(h, replace(tun, flows=flows)))
    assert got == [FloodEntryMissing(CMPT, "br-tun", SHARE_NET, 1, gone, "192.168.120.11",
                                     CTRL)]
    assert "lacks VLAN 1 -> vxlan-c0a8780b" in difference_text(got[0])  # type: ignore[arg-type]
    ports = tuple(p for p in tun.ports if p.name != gone)
    got = diffs(seed, with_bridge(h, replace(tun, ports=ports)))
    tunnel = [d for d in got if isinstance(d, PortDifference)]
    assert tunnel == [PortDifference(CMPT, "br-tun", gone, Change.MISSING, PortRole.TUNNEL,
                                     remote_ip="192.168.120.11", remote_host=CTRL)]
    # OVS keeps the flows that name its ofport 2: they are the port's difference
    assert got == tunnel


def test_stale_flows_with_an_old_cookie(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    stale = Flow(0, 10, (("in_port", "9"),), "drop", cookie=0x1234)
    got = diffs(seed, with_bridge(h, replace(br, flows=br.flows + (stale,))))
    assert len(got) == 1 and isinstance(got[0], FlowDifference)
    assert got[0].stale and got[0].change is Change.EXTRA and got[0].cookie == 0x1234
    assert got[0].agent_cookie == br.flows[0].cookie
    assert "stale flow with cookie 0x1234" in difference_text(got[0])
    # an extra flow with the agent's own cookie is extra, not stale
    fresh = replace(stale, cookie=br.flows[0].cookie)
    got = diffs(seed, with_bridge(h, replace(br, flows=br.flows + (fresh,))))
    assert isinstance(got[0], FlowDifference) and not got[0].stale


def _without_line(text: str, needle: str) -> str:
    lines = text.splitlines()
    hit = [ln for ln in lines if needle in ln]
    assert len(hit) == 1, hit
    return "\n".join(ln for ln in lines if ln != hit[0]) + "\n"


def test_a_missing_security_group_rule(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    rule = "-A neutron-openvswi-i1b17c0cc-9 -m set --match-set NIPv4f292a28e"
    got = diffs(seed, with_ns(h, replace(h.root, iptables=_without_line(h.root.iptables,
                                                                         rule))))
    assert len(got) == 1 and isinstance(got[0], IptablesDifference)
    d = got[0]
    assert (d.role, d.subject, d.change, d.table, d.chain) == (
        RuleRole.SG_INGRESS, "1b17c0cc-9", Change.MISSING, "filter",
        "neutron-openvswi-i1b17c0cc-9")
    assert "security-group rule of port 1b17c0cc-9" in difference_text(d)


def test_a_missing_floating_ip_dnat(seed: CloudState) -> None:
    h = seed.host(CTRL)
    assert h is not None
    ns = h.namespace(ROUTER)
    assert ns is not None
    rule = "-A neutron-l3-agent-PREROUTING -d 192.168.100.102/32 -j DNAT"
    got = diffs(seed, with_ns(h, replace(ns, iptables=_without_line(ns.iptables, rule))))
    assert [(d.role, d.subject, d.chain) for d in got if isinstance(d, IptablesDifference)] == [
        (RuleRole.FLOATING_DNAT, "192.168.100.102", "neutron-l3-agent-PREROUTING")]
    assert "DNAT of floating IP 192.168.100.102" in difference_text(got[0])  # type: ignore


def test_a_qr_port_missing_from_its_namespace(seed: CloudState) -> None:
    h = seed.host(CTRL)
    assert h is not None
    ns = h.namespace(ROUTER)
    assert ns is not None
    qr = next(i for i in ns.interfaces if i.name.startswith("qr-"))
    router = replace(ns, interfaces=tuple(i for i in ns.interfaces if i is not qr),
                     routes=tuple(r for r in ns.routes if r.device != qr.name))
    root = replace(h.root, interfaces=h.root.interfaces + (replace(qr, addresses=()),))
    got = diffs(seed, with_ns(with_ns(h, router), root))
    itf = [d for d in got if isinstance(d, InterfaceDifference)]
    assert itf == [InterfaceDifference(CTRL, ROUTER, qr.name, Change.MISSING, qr.kind, "")]
    assert "(it is in <root>)" in difference_text(itf[0])


def test_a_missing_namespace(seed: CloudState) -> None:
    h = seed.host(CTRL)
    assert h is not None
    got = diffs(seed, replace(h, namespaces=tuple(n for n in h.namespaces if n.name != ROUTER)))
    assert got == [NamespaceDifference(CTRL, ROUTER, Change.MISSING, "qrouter")]


def _renumbered(h: HostState, vlans: dict[int, int], ofports: dict[int, int]) -> HostState:
    """``h`` as an agent that allocated local VLANs ``vlans`` and got ofports ``ofports``
    would program it (the normalizer maps names back to numbers through ``names``)."""
    bridges = []
    for b in h.ovs_bridges:
        names = {p.ofport: p.name for p in b.ports}
        back = {p.name: str(ofports.get(p.ofport, p.ofport)) for p in b.ports}
        norm = FlowNormalizer(names, vlans)
        flows = []
        for f in b.flows:
            g = norm.flow(f)
            flows.append(replace(g, cookie=f.cookie, match=tuple(
                (k, back.get(v, v) if k in ("in_port", "reg5") else v) for k, v in g.match),
                actions=_ofports(g.actions, back)))
        ports = tuple(replace(p, ofport=ofports.get(p.ofport, p.ofport),
                              tag=vlans.get(p.tag, p.tag) if p.tag else p.tag,
                              other_config=tuple((k, str(vlans.get(int(v), int(v))))
                                                 if k == "tag" else (k, v)
                                                 for k, v in p.other_config))
                      for p in b.ports)
        bridges.append(replace(b, ports=ports, flows=tuple(flows)))
    return replace(h, ovs_bridges=tuple(bridges))


def _ofports(actions: str, back: dict[str, str]) -> str:
    for name, n in back.items():
        actions = actions.replace(f"output:{name}", f"output:{n}")
    return actions


def test_other_local_vlans_and_ofports_are_no_difference(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    other = _renumbered(h, {1: 2, 2: 1}, {2: 7, 3: 9})
    assert other != h
    drift = compare_host(h, other)
    assert drift.differences == ()
    assert {t.tolerance for t in drift.tolerated} >= {Tolerance.LOCAL_VLAN_NUMBERS,
                                                       Tolerance.OFPORT_NUMBERS}
    assert dict((n, a) for n, _, a in drift.vlans)[SHARE_NET] == 2
    # and a wrong tag is still found through the host's own mapping
    br = other.bridge("br-int")
    assert br is not None
    bad = compare_host(h, with_bridge(other, with_port(br, QVO, tag=1)))
    assert bad.differences == (WrongLocalVlan(CMPT, "br-int", QVO, SHARE_NET, 1, 2, 2),)


def test_what_a_capture_lacks_is_not_compared(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    gap = Gap("br-int", "flows", "no dump-flows of br-int", "sos_commands/openvswitch/x")
    blind = replace(with_bridge(h, replace(br, flows=())), gaps=(gap,),
                    namespaces=tuple(replace(n, iptables="") if n.name == "" else n
                                     for n in h.namespaces))
    blind = replace(blind, gaps=blind.gaps + (Gap("", "iptables", "no iptables-save", "y"),))
    drift = compare_host(h, blind)
    assert drift.differences == ()
    assert [(n.element, n.aspect) for n in drift.not_compared] == [("br-int", "flows"),
                                                                    ("", "iptables")]


def test_hosts_not_captured_or_not_in_the_cloud(seed: CloudState) -> None:
    one = replace(seed, hosts=(seed.hosts[0], HostState("stray")))
    drift = compare(seed, one)
    assert [h.host for h in drift.hosts if h.not_compared] == [h.name for h in seed.hosts[1:]]
    assert drift.hosts[-1].host == "stray"
    assert drift.differs
    assert "stray: 1 difference(s)\n  captured, but the cloud has no such host" in (
        drift_text(drift))


def test_json_has_every_fact_with_its_kind_and_text(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    drift = compare(seed, changed(seed, with_bridge(h, with_port(br, QVO, tag=4095))))
    doc = json.loads(drift_json(drift))
    facts = [d for host in doc["hosts"] for d in host["differences"]]
    assert facts == [{"kind": "DeadPort", "host": CMPT, "bridge": "br-int", "port": QVO,
                      "role": "vm", "port_id": "1b17c0cc-9f79-4830-a50d-059477418ed4",
                      "network": SHARE_NET, "expected_tag": 1,
                      "text": difference_text(drift.differences[0], drift)}]


def test_an_extra_port(seed: CloudState) -> None:
    h = seed.host(CMPT)
    assert h is not None
    br = h.bridge("br-int")
    assert br is not None
    extra = OvsPort("qvodeadbeef-00", 9, tag=4095,
                    external_ids=(("iface-id", "deadbeef-0000"),))
    got = diffs(seed, with_bridge(h, replace(br, ports=br.ports + (extra,))))
    assert got == [PortDifference(CMPT, "br-int", extra.name, Change.EXTRA, PortRole.VM,
                                  "deadbeef-0000")]


def test_a_dump_with_names_and_another_agent_cookie_is_no_difference(seed: CloudState) -> None:
    """As Neutron's own agent programs a host and ``ovs-ofctl --names`` dumps it: port names
    (quoted) for numbers, its own cookie, also in the learn() actions."""
    h = seed.host(CMPT)
    assert h is not None
    bridges = []
    for b in h.ovs_bridges:
        names = {p.ofport: p.name for p in b.ports}
        norm = FlowNormalizer(names)
        flows = []
        for f in b.flows:
            g = norm.flow(f)
            g = replace(g, cookie=0xabc, match=tuple(
                (k, f'"{v}"' if k == "in_port" else v) for k, v in g.match),
                actions=g.actions.replace("output:patch-int", 'output:"patch-int"').replace(
                    "cookie=*", "cookie=0xabc"))  # the normalizer wrote learn()'s cookie as *
            flows.append(g)
        bridges.append(replace(b, flows=tuple(flows)))
    named = replace(h, ovs_bridges=tuple(bridges))
    assert any("learn(" in f.actions and "cookie=0xabc" in f.actions
               for b in named.ovs_bridges for f in b.flows)
    assert compare_host(h, named).differences == ()


def _drop_first(state: CloudState, host: str, bridge: str, table: int) -> tuple[CloudState,
                                                                               Flow]:
    h = state.host(host)
    assert h is not None
    b = h.bridge(bridge)
    assert b is not None
    gone = next(f for f in b.flows if f.table == table and f.match)
    return changed(state, with_bridge(h, replace(b, flows=tuple(
        f for f in b.flows if f is not gone)))), gone


def test_a_missing_openvswitch_firewall_rule() -> None:
    state = session.cloud_state(EXAMPLES / "ovs-firewall" / "cloud.yaml")
    faulty, gone = _drop_first(state, "cmp-01", "br-int", 82)
    drift = compare(state, faulty)
    (d,) = drift.differences
    assert isinstance(d, FlowDifference) and d.change is Change.MISSING
    assert (d.table_name, d.flow.table) == ("RULES_INGRESS_TABLE", 82)
    port = d.port
    assert port is not None and port.startswith("tap")  # reg5 read as the port's name
    assert f"a security-group rule of port {port} (ingress) is missing" in difference_text(
        d, drift)


def test_a_missing_l2pop_unicast_entry() -> None:
    state = session.cloud_state(EXAMPLES / "l2pop" / "cloud.yaml")
    faulty, gone = _drop_first(state, "cmp-01", "br-tun", 20)
    drift = compare(state, faulty)
    (d,) = drift.differences
    assert isinstance(d, FlowDifference) and d.table_name == "UCAST_TO_TUN"
    assert d.remote_host == "net-01"
    assert "the l2pop unicast entry to host net-01 is missing" in difference_text(d, drift)


def test_a_protocol_by_number_or_by_name_is_one_rule(seed: CloudState) -> None:
    """The agents write ``-p 50``; iptables-save prints a protocol it can name (``-p esp``):
    one rule. Another protocol stays a difference."""
    h = seed.host(CMPT)
    assert h is not None
    chain = "neutron-openvswi-i1b17c0cc-9"
    line = f"-A {chain} -p 50 -j RETURN"
    text = h.root.iptables.replace(f"-A {chain} ", f"{line}\n-A {chain} ", 1)
    ours = changed(seed, with_ns(h, replace(h.root, iptables=text)))
    named = with_ns(h, replace(h.root, iptables=text.replace(line, f"-A {chain} -p esp -j RETURN")))
    assert compare(ours, changed(ours, named)).differences == ()
    other = with_ns(h, replace(h.root, iptables=text.replace(line, f"-A {chain} -p ah -j RETURN")))
    got = compare(ours, changed(ours, other)).differences
    assert {(d.change, d.rule.split(" -p ")[1]) for d in got  # type: ignore[attr-defined]
            } == {(Change.MISSING, "50 -j RETURN"), (Change.EXTRA, "ah -j RETURN")}
