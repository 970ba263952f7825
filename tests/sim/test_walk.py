"""The walk across the whole cloud: the seed's two walks (issue 5's "done when"), their replies,
cold and warm, and the walks of the other example clouds."""

from __future__ import annotations

import json

import pytest

from neutrace.app import session
from neutrace.render.fates import fate_reason
from neutrace.render.phrases import say
from neutrace.render.steps import copy_label
from neutrace.render.trace_json import SCHEMA, traces_to_json
from neutrace.render.walk import walk_summary, walk_text
from neutrace.sim.scenarios import Conversation
from neutrace.sim.walk import SimState, Walker
from neutrace.syntax import ofactions as A
from neutrace.trace import (
    ACCEPTED,
    DELIVERED,
    DENIED,
    DROPPED,
    EXITED,
    STEP_NAT,
    STEP_TUNNEL,
    ActionStep,
    CopyKind,
    CopyOrigin,
    Disposition,
    DropWhy,
    Hop,
    LearnStep,
    RuleStep,
    RuleVerdict,
    TableLookup,
    Trace,
    WalkWhy,
)
from tests.support.facts import denied_rules, explanation, walk_fate
from tests.support.golden import check_golden
from tests.support.paths import REPO

ROOT = REPO
EXAMPLES = ROOT / "examples"
ROUTER = "qrouter-c8aec0d9-3203-4bdb-9237-9818603f521f"


@pytest.fixture(scope="module")
def seed() -> Walker:
    return session.walker(EXAMPLES / "seed" / "cloud.yaml")


def paths(t: Trace) -> list[tuple[tuple[Hop, ...], Disposition]]:
    return list(t.paths())


def elements(hops: tuple[Hop, ...]) -> list[str]:
    return [f"{h.host}/{h.element}" for h in hops]


def only(t: Trace, kind: str) -> list[tuple[tuple[Hop, ...], Disposition]]:
    return [(h, d) for h, d in t.paths() if d.kind == kind]


# -- the seed: test-01 on the flat network ---------------------------------------------------


def test_seed_flat_walk(seed: Walker) -> None:
    conv = session.trace(seed, "test-01", "203.0.113.10", reply=True)
    req = conv.request
    # tap -> qbr (iptables) -> qvb/qvo -> br-int with tag 2 -> anti-spoofing -> NORMAL floods
    first = [h for h in req.root.hops]
    assert elements(tuple(first)) == [
        "test-cmpt-02/test-01", "test-cmpt-02/qbraf305168-66", "test-cmpt-02/br-int"]
    qbr = first[1]
    assert qbr.in_port == "tapaf305168-66" and qbr.out_port == "qvbaf305168-66"
    assert any(isinstance(s, RuleStep) and "Allow traffic from defined IP/MAC pairs" in s.rule.text
               for s in qbr.steps), "the IP/MAC pair rule of the port's chain"
    brint = first[2]
    assert brint.in_port == "qvoaf305168-66"
    tables = [s.table for s in brint.steps if isinstance(s, TableLookup)]
    assert tables[:2] == [0, 25] and 60 in tables  # MAC anti-spoofing, then NORMAL
    # copy 1: br-tun table 22 has no flood entry for VLAN 2
    tun = [(h, d) for h, d in req.paths() if h[-1].element == "br-tun"]
    assert len(tun) == 1
    hops, fate = tun[0]
    why = explanation(fate)
    assert fate.kind == DROPPED and (why.why, why.table, why.vlan) == (
        DropWhy.NO_FLOOD_ENTRY, 22, 2)
    assert why.network == "public_net (flat on physnet external)"
    assert hops[-1].packet.vlan_vid == 2
    # copy 2: br-ex strips VLAN 2, out eth3 of test-cmpt-02 with source 192.168.100.101
    (hops, fate), = only(req, EXITED)
    out = walk_fate(fate, WalkWhy.LEFT_THE_CLOUD)
    assert (out.device, out.host, out.ip) == ("eth3", "test-cmpt-02", "203.0.113.10")
    brex = next(h for h in hops if h.element == "br-ex")
    assert brex.host == "test-cmpt-02" and brex.packet.vlan_vid == 2
    assert any(isinstance(s, ActionStep) and isinstance(s.action, A.StripVlan)
               for s in brex.steps)
    seg = next(h for h in hops if h.element == "external")
    assert seg.in_port == "test-cmpt-02:eth3"
    assert seg.packet.vlan_vid is None and seg.packet.nw_src == "192.168.100.101"
    # the reply comes back to 192.168.100.101
    assert conv.reply is not None
    (rhops, rfate), = only(conv.reply, DELIVERED)
    assert rhops[-1].element == "test-01" and rhops[-1].packet.nw_dst == "192.168.100.101"


# -- the seed: test-02 on VXLAN with its floating IP ------------------------------------------


def test_seed_vxlan_walk(seed: Walker) -> None:
    conv = session.trace(seed, "test-02", "203.0.113.10", reply=True)
    req = conv.request
    by_end = {f"{h[-1].host}/{h[-1].element}": (h, d) for h, d in req.paths()}
    # br-ex of test-cmpt-02 drops VLAN 1
    hops, fate = by_end["test-cmpt-02/br-ex"]
    why = explanation(fate)
    assert fate.kind == DROPPED and (why.why, why.vlan) == (DropWhy.PHYSICAL_VLAN, 1)
    assert why.network is not None and why.network.startswith("share_net")
    # br-tun sets tunnel id 0x10050 towards test-ctrl-01 and test-cmpt-01
    tunnels = [h for h, _ in req.paths() for h in h if h.element == "underlay"]
    assert {h.out_port for h in tunnels} == {"test-ctrl-01:vxlan-c0a87816",
                                             "test-cmpt-01:vxlan-c0a87816"}
    assert all(h.packet.tun_id == 0x10050 and h.packet.payload is not None for h in tunnels)
    # test-cmpt-01 has no port on share_net: its br-tun table 4 drops it
    hops, fate = by_end["test-cmpt-01/br-tun"]
    why = explanation(fate)
    assert fate.kind == DROPPED and (why.why, why.table, why.tun_id, why.host) == (
        DropWhy.NO_TUNNEL_MAPPING, 4, 0x10050, "test-cmpt-01")
    assert why.network is not None and why.network.startswith("share_net")
    # on test-ctrl-01, br-tun table 4 maps 0x10050 to the local VLAN and learns
    (hops, fate), = only(req, EXITED)
    names = elements(hops)
    i = names.index("test-ctrl-01/br-tun")
    brtun = hops[i]
    tables = [s.table for s in brtun.steps if isinstance(s, TableLookup)]
    assert tables[:3] == [0, 4, 10]
    assert any(isinstance(s, LearnStep) and s.flow.table == 20 for s in brtun.steps)
    # br-int delivers to qr-466214fa-3d; the router SNATs to 192.168.100.102 (float-snat)
    assert names[i + 1:] == [
        "test-ctrl-01/br-int", f"test-ctrl-01/{ROUTER}", "test-ctrl-01/br-int",
        "test-ctrl-01/br-ex", "/external", "/upstream-gw", "/internet-host"]
    router = hops[i + 2]
    assert router.in_port == "qr-466214fa-3d" and router.out_port == "qg-169d638e-0e"
    nat = [s.rule.text for s in router.steps
           if isinstance(s, RuleStep) and s.verdict is RuleVerdict.NAT]
    assert any("neutron-l3-agent-float-snat -s 192.168.111.4/32 -j SNAT --to-source "
               "192.168.100.102" in text for text in nat)
    assert router.out_packet is not None and router.out_packet.nw_src == "192.168.100.102"
    out = walk_fate(fate, WalkWhy.LEFT_THE_CLOUD)
    assert (out.device, out.host) == ("eth3", "test-ctrl-01")
    # the flood copies on test-ctrl-01 end as the seed says: DHCP tap and br-ex drop them
    hops, fate = by_end["test-ctrl-01/qdhcp-8edf57d7-2b64-4cd9-a00d-20101d6384d1"]
    assert fate.kind == DROPPED and hops[-1].in_port == "tap96835b35-be"
    ctl_brex = [d for h, d in req.paths()
                if elements(h)[-2:] == ["test-ctrl-01/br-int", "test-ctrl-01/br-ex"]]
    assert ctl_brex and all(d.kind == DROPPED and explanation(d).vlan == 1
                            and (explanation(d).network or "").startswith("share_net")
                            for d in ctl_brex)
    # qg- never sees the share_net frame (the seed's slip): it only sends the SNATed one
    assert not any(h.element == ROUTER and h.in_port == "qg-169d638e-0e"
                   for p, _ in req.paths() for h in p)
    # the reply comes back un-NATed to 192.168.111.4
    assert conv.reply is not None
    (rhops, _), = only(conv.reply, DELIVERED)
    assert rhops[0].element == "internet-host" and rhops[0].packet.nw_dst == "192.168.100.102"
    assert rhops[-1].element == "test-02" and rhops[-1].packet.nw_dst == "192.168.111.4"
    unnat = [s for h in rhops if h.element == ROUTER for s in h.steps if s.kind == STEP_NAT]
    assert unnat and any(c.after == "192.168.111.4" for s in unnat for c in s.changes)
    assert any(s.kind == STEP_TUNNEL for h in rhops for s in h.steps)


def test_warm_walk_goes_straight(seed: Walker) -> None:
    """In the steady state NORMAL knows the MACs: no flood copies, one path each way."""
    conv = session.trace(seed, "test-02", "203.0.113.10", warm=True, reply=True)
    assert [d.kind for d in conv.request.dispositions()] == [EXITED]
    assert conv.reply is not None
    assert [d.kind for d in conv.reply.dispositions()] == [DELIVERED]
    cold = session.trace(seed, "test-02", "203.0.113.10")
    assert len(cold.request.dispositions()) > 3


def test_reply_uses_request_state(seed: Walker) -> None:
    """Without the request's conntrack entry the same reply is denied by test-02's security
    group (the default group admits no ingress from outside)."""
    state = SimState.cold()
    conv = session.trace(seed, "test-02", "203.0.113.10", reply=True, state=state)
    assert conv.reply is not None and conv.reply.success
    fresh = session.trace(seed, "internet-host", "192.168.100.102")
    denied = only(fresh.request, DENIED)
    assert denied and all(any("sg-fallback" in r for r in denied_rules(d.cause))
                          for _, d in denied)
    assert not fresh.request.success


def test_dhcp_request_reaches_qdhcp(seed: Walker) -> None:
    t = session.dhcp(seed, "test-02").request
    accepted = [(h, d) for h, d in t.paths() if d.kind == ACCEPTED]
    assert any(h[-1].element == "qdhcp-8edf57d7-2b64-4cd9-a00d-20101d6384d1"
               and h[-1].in_port == "tap96835b35-be" for h, _ in accepted)


def test_dhcp_offer_comes_back_to_the_vm(seed: Walker) -> None:
    """dnsmasq's DHCPOFFER leaves the DHCP port's tap on test-ctrl-01, unicast to test-02's MAC
    and fixed IP, crosses the tunnel and is delivered to test-02 on test-cmpt-02."""
    offer = session.dhcp(seed, "test-02").reply
    assert offer is not None and offer.success
    first = offer.root.hops[0]
    assert (first.host, first.element) == ("test-ctrl-01",
                                           "qdhcp-8edf57d7-2b64-4cd9-a00d-20101d6384d1")
    assert (offer.packet.nw_src, offer.packet.nw_dst) == ("192.168.111.2", "192.168.111.4")
    assert (offer.packet.tp_src, offer.packet.tp_dst) == (67, 68)
    assert offer.packet.dl_dst == "fa:16:3e:6f:94:92"
    delivered = [h for h, d in offer.paths() if d.kind == DELIVERED]
    assert delivered and delivered[0][-1].element == "test-02"
    assert any(h.kind == "underlay" for h in delivered[0])


def test_unknown_start_point_is_named(seed: Walker) -> None:
    """A user's mistake on --from/--to is an input error naming the option, the value, what is
    wrong and the names there are."""
    from neutrace.errors import StartPointError

    with pytest.raises(StartPointError) as info:
        session.trace(seed, "nosuchvm", "203.0.113.10")
    assert (info.value.option, info.value.value) == ("--from", "nosuchvm")
    assert "no VM, namespace or outside host is called nosuchvm" in info.value.problem
    assert "VMs: test-01, test-02" in info.value.fix and "internet-host" in info.value.fix
    with pytest.raises(StartPointError) as info:
        session.trace(seed, "test-01", "999.1.1.1")
    assert (info.value.option, info.value.value) == ("--to", "999.1.1.1")
    assert info.value.problem.startswith("the destination is not a valid IPv4 address")
    assert str(info.value).startswith("--to 999.1.1.1: the destination")


def test_start_by_port_device_and_ip(seed: Walker) -> None:
    for spec in ("tapaf305168-66", "af305168-66b2", "192.168.100.101",
                 "test-cmpt-02:tapaf305168-66"):
        conv = session.trace(seed, spec, "203.0.113.10")
        assert conv.request.root.hops[0].element == "test-01", spec


# -- goldens: both walks, cold and warm, text and JSON, with replies ---------------------------


def _named(conv: Conversation) -> dict[str, Trace | None]:
    return {"request": conv.request, "reply": conv.reply}


@pytest.mark.parametrize("vm", ["test-01", "test-02"])
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_seed_walk_goldens(seed: Walker, vm: str, warm: bool) -> None:
    conv = session.trace(seed, vm, "203.0.113.10", warm=warm, reply=True)
    mode = "warm" if warm else "cold"
    assert conv.reply is not None
    text = walk_text(conv.request) + "\n" + walk_text(conv.reply)
    check_golden(f"walk/seed-{vm}-{mode}.txt", text)
    check_golden(f"walk/seed-{vm}-{mode}.summary.txt",
                 walk_summary(conv.request) + "\n" + walk_summary(conv.reply))
    doc = traces_to_json(_named(conv))
    check_golden(f"walk/seed-{vm}-{mode}.json", doc)
    parsed = json.loads(doc)
    assert parsed["request"]["schema"] == SCHEMA and parsed["reply"]["success"] is True


def _part(text: str, index: int) -> str:
    """A piece of a phrase filled with NUL where a value is left open (before it: 0, after: 1),
    so that the test reads the layout whatever the words (``--reword-phrases``)."""
    return text.split("\x00")[index]


def test_text_numbering_follows_the_copy_that_gets_furthest(seed: Walker) -> None:
    """The copy that reaches the outside host keeps the main numbering (as the seed counts its
    steps); the others are numbered under the hop where they split, each with its fate."""
    request = session.trace(seed, "test-02", "203.0.113.10").request
    text = walk_text(request)
    lines = text.splitlines()
    main = [ln for ln in lines[1:-1] if not ln.startswith(" ")]  # between title and count
    for i, ln in enumerate(main, 1):
        assert ln.startswith(_part(say("text.hop", number=str(i), where="\x00", in_port="",
                                       packet=""), 0)), ln
    at = next(i for i, ln in enumerate(main, 1) if ROUTER in ln)
    out_qr = copy_label(CopyOrigin(kind=CopyKind.OUTPUT, port="qr-466214fa-3d"))
    split = _part(say("text.continues", number="\x00", copy=out_qr, at=str(at)), 1)
    assert any(ln.endswith(split) for ln in lines)
    where = say("text.where", host="test-ctrl-01", element="br-tun", kind=say("hop.ovs-bridge"))
    tunnel_in = _part(say("text.in_port", port="vxlan-\x00"), 0)
    assert where in next(ln for ln in main if tunnel_in in ln)
    cmpt01 = next(d for h, d in request.paths()
                  if (h[-1].host, h[-1].element) == ("test-cmpt-01", "br-tun"))
    fate = _part(say("text.fate", kind="\x00", reason=fate_reason(cmpt01)), 1)
    side = [ln for ln in lines if ln.endswith(fate)]
    assert len(side) == 1 and side[0].startswith("      ")  # the copy to test-cmpt-01, nested


def test_demo_command_output() -> None:
    from typer.testing import CliRunner

    from neutrace.cli import app

    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    check_golden("walk/demo.txt", result.output)
    assert "Walk 1: test-01" in result.output and "Walk 2: test-02" in result.output


def test_packaged_seed_is_the_example() -> None:
    packaged = ROOT / "src" / "neutrace" / "data" / "seed" / "cloud.yaml"
    assert packaged.read_text() == (EXAMPLES / "seed" / "cloud.yaml").read_text()


# -- the other example clouds ------------------------------------------------------------------


def test_eastwest_across_two_computes() -> None:
    w = session.walker(EXAMPLES / "eastwest" / "cloud.yaml")
    conv = session.trace(w, "vm1", "vm2", reply=True)
    (hops, _), = only(conv.request, DELIVERED)
    assert elements(hops)[0] == "cmp-01/vm1" and elements(hops)[-1] == "cmp-02/vm2"
    assert any(h.element == "underlay" for h in hops)
    assert conv.reply is not None and conv.reply.success


def test_between_two_tenant_networks_through_the_router() -> None:
    w = session.walker(EXAMPLES / "two-tenants" / "cloud.yaml")
    conv = session.trace(w, "vm-a", "vm-b", reply=True)
    (hops, _), = only(conv.request, DELIVERED)
    routers = [h for h in hops if h.element.startswith("qrouter-")]
    assert len(routers) == 1 and routers[0].in_port.startswith("qr-")
    assert routers[0].out_port is not None and routers[0].out_port.startswith("qr-")
    assert hops[-1].element == "vm-b"
    assert conv.reply is not None and conv.reply.success


def test_security_group_blocks_ingress() -> None:
    w = session.walker(EXAMPLES / "sg-block" / "cloud.yaml")
    blocked = session.trace(w, "client", "server", proto="tcp", dport=80)
    assert not blocked.request.success
    (hops, fate), = only(blocked.request, DENIED)
    assert hops[-1].kind == "linux-bridge"
    assert any("neutron-openvswi-sg-fallback" in r for r in denied_rules(fate.cause))
    allowed = session.trace(w, "client", "server", proto="tcp", dport=22, reply=True)
    assert allowed.request.success and allowed.reply is not None and allowed.reply.success


def test_outside_host_to_floating_ip() -> None:
    w = session.walker(EXAMPLES / "floating-ip" / "cloud.yaml")
    conv = session.trace(w, "internet-host", "192.168.100.102", reply=True)
    (hops, _), = only(conv.request, DELIVERED)
    router = next(h for h in hops if h.element.startswith("qrouter-"))
    assert router.in_port.startswith("qg-") and router.out_packet is not None
    assert router.out_packet.nw_dst == "192.168.111.4"  # DNAT of the floating IP
    assert any(isinstance(s, RuleStep) and s.rule.target is not None
               and s.rule.target.name == "DNAT" for s in router.steps)
    assert hops[-1].element == "test-02"
    assert conv.reply is not None
    (rhops, rfate), = only(conv.reply, EXITED)
    assert rhops[-1].packet.nw_src == "192.168.100.102"


def test_vlan_provider_network() -> None:
    w = session.walker(EXAMPLES / "vlan-provider" / "cloud.yaml")
    conv = session.trace(w, "vm1", "198.51.100.10", reply=True)
    (hops, fate), = only(conv.request, EXITED)
    seg = next(h for h in hops if h.kind == "segment")
    assert seg.packet.vlan_vid is not None  # tagged with the provider VLAN on the wire
    assert conv.reply is not None and conv.reply.success
