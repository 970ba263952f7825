"""The fast paths of cloud scale against the plain ones, on random clouds and packets.

Each fast path (benchmarks/scale.py, docs/performance.md) must give exactly what the plain
computation gives: the model's indexed lookups vs a linear scan, the security-group members
computed once per cloud vs a scan per host, the openvswitch firewall skipping member addresses
whose conjunction ids did not change vs installing every one again, one host programmed alone vs
the whole cloud, and a walker that builds a host's engines when a walk first reaches it vs one
that builds them all up front.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from neutrace.agents import program, sg_rpc
from neutrace.agents.openvswitch_firewall import firewall as ovsfw
from neutrace.builder import CloudBuilder, port, rule
from neutrace.model import Cloud
from neutrace.sim.scenarios import converse, find_endpoint
from neutrace.sim.walk import SimState, Walker

DRIVERS = ("iptables_hybrid", "openvswitch", "noop")


@st.composite
def scale_clouds(draw: Any) -> Cloud:
    """Small clouds of the benchmark's shape: tunnelled networks over several compute nodes,
    both firewall drivers, l2pop/ARP responder on or off, remote-group rules, floating IPs."""
    l2pop = draw(st.booleans())
    b = CloudBuilder("scale-prop")
    b.host("net-01", "10.0.0.1", "10.1.0.1", roles=["network"],
           bridge_mappings={"external": "br-ex"}, l2_population=l2pop, arp_responder=l2pop)
    n_compute = draw(st.integers(2, 4))
    for i in range(n_compute):
        b.host(f"cmp-{i}", f"10.0.0.{10 + i}", f"10.1.0.{10 + i}",
               firewall_driver=draw(st.sampled_from(DRIVERS)), l2_population=l2pop,
               arp_responder=l2pop and draw(st.booleans()))
    b.network("public", network_type="flat", physical_network="external", router_external=True)
    b.subnet("public", "public-sub", "172.24.0.0/24", enable_dhcp=False)
    n_nets = draw(st.integers(1, 3))
    for n in range(n_nets):
        b.network(f"n{n}", segmentation_id=100 + n)
        b.subnet(f"n{n}", f"s{n}", f"10.{20 + n}.0.0/24")
    routed = draw(st.lists(st.integers(0, n_nets - 1), unique=True, max_size=n_nets))
    if routed:
        b.router("r", external_gateway="public", interfaces=[f"s{n}" for n in routed])
    n_groups = draw(st.integers(1, 3))
    for g in range(n_groups):
        remote = f"sg{draw(st.integers(0, n_groups - 1))}"
        b.security_group(f"sg{g}", rule("ingress", "icmp", remote_group=remote),
                         rule("ingress", "tcp", 22, remote_group=f"sg{g}"),
                         rule("ingress", "tcp", 80, remote_ip_prefix="0.0.0.0/0"))
    n_vms = draw(st.integers(1, 7))
    for v in range(n_vms):
        groups = draw(st.lists(st.integers(0, n_groups - 1), unique=True, min_size=1,
                               max_size=2))
        b.vm(f"vm{v}", f"cmp-{draw(st.integers(0, n_compute - 1))}",
             port(f"n{draw(st.integers(0, n_nets - 1))}",
                  security_groups=[f"sg{g}" for g in groups]))
        if routed and draw(st.booleans()):
            b.floating_ip(f"vm{v}:0")
    try:
        return b.build()
    except Exception as exc:  # a floating IP on an unrouted network is refused: fine
        assert "floating" in str(exc).lower() or "router" in str(exc).lower(), exc
        return CloudBuilder("empty").host("h", "10.0.0.1", "10.1.0.1").build()


@settings(max_examples=25, deadline=None)
@given(scale_clouds())
def test_indexed_lookups_are_the_linear_scans(cloud: Cloud) -> None:
    for field, attr, lookup in (("hosts", "name", cloud.host), ("networks", "id", cloud.network),
                                ("subnets", "id", cloud.subnet), ("ports", "id", cloud.port),
                                ("routers", "id", cloud.router), ("vms", "name", cloud.vm),
                                ("security_groups", "id", cloud.security_group)):
        items = getattr(cloud, field)
        for item in items:
            key = getattr(item, attr)
            assert lookup(key) is next(i for i in items if getattr(i, attr) == key)
        with pytest.raises(KeyError):
            lookup("no-such-thing")
    for h in cloud.hosts:
        assert cloud.ports_on(h.name) == tuple(p for p in cloud.ports
                                               if p.binding_host_id == h.name)
    for n in cloud.networks:
        assert cloud.ports_of(n.id) == tuple(p for p in cloud.ports if p.network_id == n.id)
        assert cloud.subnets_of(n.id) == tuple(s for s in cloud.subnets if s.network_id == n.id)


def _plain_member_ips(cloud: Cloud, groups: dict[str, list[sg_rpc.RuleDict]]
                      ) -> dict[str, dict[str, list[sg_rpc.Member]]]:
    """The scan of every port per call, as the agents did before the per-cloud index."""
    wanted: dict[str, dict[str, list[sg_rpc.Member]]] = {}
    for rules in groups.values():
        for r in rules:
            remote = r.get("remote_group_id")
            if isinstance(remote, str):
                wanted.setdefault(remote, {}).setdefault(str(r["ethertype"]), [])
    for p in cloud.ports:
        pairs: list[sg_rpc.Member] = [(f.ip_address, p.mac_address) for f in p.fixed_ips]
        pairs += [(a.ip_address, a.mac_address) for a in p.allowed_address_pairs]
        for sg_id in p.security_groups:
            by_type = wanted.get(sg_id)
            if by_type is None:
                continue
            for ip, mac in pairs:
                ethertype = f"IPv{ipaddress.ip_network(ip, strict=False).version}"
                if ethertype in by_type and (ip, mac) not in by_type[ethertype]:
                    by_type[ethertype].append((ip, mac))
    return wanted


@settings(max_examples=25, deadline=None)
@given(scale_clouds())
def test_member_ips_are_the_plain_scan(cloud: Cloud) -> None:
    for h in cloud.hosts:
        groups = sg_rpc.security_groups(cloud, list(cloud.ports_on(h.name)))
        assert sg_rpc.member_ips(cloud, groups) == _plain_member_ips(cloud, groups)


class _Forgetful(dict[Any, Any]):
    """A memo that remembers nothing: every member address is installed again."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


@settings(max_examples=20, deadline=None)
@given(scale_clouds())
def test_one_host_alone_and_the_unskipped_firewall_program_the_same(cloud: Cloud) -> None:
    whole = program(cloud)
    for h in whole.hosts:
        assert program(cloud, only={h.name}).hosts == (h,)
    plain = pytest.MonkeyPatch()
    plain.setattr(ovsfw.ConjIPFlowManager, "_installed",
                  property(lambda self: _Forgetful(), lambda self, value: None), raising=False)
    try:
        assert program(cloud) == whole
    finally:
        plain.undo()


@settings(max_examples=15, deadline=None)
@given(scale_clouds(), st.data())
def test_lazy_engines_walk_as_eager_ones(cloud: Cloud, data: st.DataObject) -> None:
    state = program(cloud)
    vms = [vm.name for vm in cloud.vms]
    assume(vms)
    targets = vms + [f.floating_ip_address for f in cloud.floating_ips] + ["172.24.0.200"]
    lazy, eager = Walker(state), Walker(state)
    for h in state.hosts:  # every engine built before any walk
        eager._of[h.name]  # noqa: B018
    for name in [h.name for h in state.hosts] + [""]:
        eager._lx[name]  # noqa: B018
    s_lazy, s_eager = SimState.cold(), SimState.cold()
    for _ in range(3):
        src = data.draw(st.sampled_from(vms))
        dst = data.draw(st.sampled_from(targets))
        proto = data.draw(st.sampled_from(["icmp", "tcp", "udp"]))
        dst_ip = dst if dst[0].isdigit() else find_endpoint(lazy, dst).ip
        got = [converse(w, find_endpoint(w, src, toward=dst_ip), dst_ip, s, proto, reply=True)
               for w, s in ((lazy, s_lazy), (eager, s_eager))]
        assert got[0] == got[1]


def test_a_member_whose_conjunction_ids_grow_is_installed_again() -> None:
    """Two ports of one network on one host, in groups whose rules both name sg0: sg0's members
    gain the second group's conjunction ids when the second port is filtered (the flows must be
    rewritten then, not skipped)."""
    b = (CloudBuilder("conj").host("net-01", "10.0.0.1", "10.1.0.1", roles=["network"])
         .host("cmp-0", "10.0.0.10", "10.1.0.10", firewall_driver="openvswitch")
         .host("cmp-1", "10.0.0.11", "10.1.0.11", firewall_driver="openvswitch")
         .network("n0").subnet("n0", "s0", "10.20.0.0/24"))
    b.security_group("sg0", rule("ingress", "tcp", 22, remote_group="sg0"))
    b.security_group("sg1", rule("ingress", "tcp", 80, remote_group="sg0"))
    b.vm("a", "cmp-0", port("n0", security_groups=["sg0"]))
    b.vm("b", "cmp-0", port("n0", security_groups=["sg1"]))
    b.vm("c", "cmp-1", port("n0", security_groups=["sg0"]))
    cloud = b.build()
    whole = program(cloud)
    plain = pytest.MonkeyPatch()
    plain.setattr(ovsfw.ConjIPFlowManager, "_installed",
                  property(lambda self: _Forgetful(), lambda self, value: None), raising=False)
    try:
        assert program(cloud) == whole
    finally:
        plain.undo()
