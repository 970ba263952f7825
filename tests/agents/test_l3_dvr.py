"""The L3 agent's distributed routers (neutrace.agents.l3) on examples/dvr, without Neutron (the
conformance tests compare every namespace with Neutron's own DvrLocalRouter/DvrEdgeRouter):
where each namespace is, how the tables, rules and veth pairs fit together."""

from __future__ import annotations

import ipaddress

import neutrace.agents
from neutrace import model, topology
from neutrace.agents.l3.dvr_fip_ns import LinkLocalAllocator
from neutrace.agents.l3.dvr_local_router import get_snat_idx
from neutrace.dataplane import HostState, Namespace
from tests.support.paths import REPO

CLOUD = topology.load(REPO / "examples" / "dvr" / "cloud.yaml")
STATE = neutrace.agents.program(CLOUD)
ROUTER = CLOUD.routers[0]


def host(name: str) -> HostState:
    """One host's state."""
    h = STATE.host(name)
    assert h is not None
    return h


def ns(h: HostState, name: str) -> Namespace:
    """One namespace of a host."""
    n = h.namespace(name)
    assert n is not None, f"{h.name} has no {name}"
    return n


def test_namespaces_per_host() -> None:
    ext = ROUTER.external_gateway
    assert ext is not None
    for h in CLOUD.hosts:
        names = {n.name for n in host(h.name).namespaces if n.kind in ("qrouter", "snat", "fip")}
        want = {f"qrouter-{ROUTER.id}", f"fip-{ext.network_id}"}
        if h.name == ROUTER.host:
            want.add(f"snat-{ROUTER.id}")
        assert names == want, h.name


def test_snat_redirect_tables_follow_the_qr_addresses() -> None:
    """Traffic of each subnet without a better route goes to its sg- port (table = the qr-
    address as an integer, as ``_get_snat_idx``)."""
    for h in CLOUD.hosts:
        q = ns(host(h.name), f"qrouter-{ROUTER.id}")
        for itf_id, sg_id in zip(ROUTER.interface_port_ids, ROUTER.snat_port_ids, strict=True):
            itf, sg = CLOUD.port(itf_id), CLOUD.port(sg_id)
            prefix = ipaddress.ip_network(CLOUD.subnet(itf.fixed_ips[0].subnet_id).cidr).prefixlen
            cidr = f"{itf.fixed_ips[0].ip_address}/{prefix}"
            idx = str(int(ipaddress.ip_address(itf.fixed_ips[0].ip_address)))
            assert get_snat_idx(cidr) == int(idx)
            net = str(ipaddress.ip_network(cidr, strict=False))
            assert any(r.source == net and r.table == idx for r in q.rules)
            assert any(r.table == idx and r.gateway == sg.fixed_ips[0].ip_address
                       for r in q.routes)


def test_veth_pairs_and_fip_tables() -> None:
    ext = ROUTER.external_gateway
    assert ext is not None
    for h in CLOUD.hosts:
        hs = host(h.name)
        q = ns(hs, f"qrouter-{ROUTER.id}")
        f = ns(hs, f"fip-{ext.network_id}")
        rfp = next(i for i in q.interfaces if i.name.startswith("rfp-"))
        fpr = f.interface(rfp.peer or "")
        assert fpr is not None and fpr.peer == rfp.name and rfp.peer_namespace == f.name
        # the pair is one /31, rfp- the lower address
        assert ipaddress.ip_interface(rfp.addresses[0]).network == \
            ipaddress.ip_interface(fpr.addresses[0]).network
        table = str(int(ipaddress.ip_interface(fpr.addresses[0]).ip))
        assert any(r.iif == fpr.name and r.table == table for r in f.rules)
        assert any(r.table == table and r.destination == "default" for r in f.routes)
        assert any(r.table == "16" and r.gateway == fpr.addresses[0].split("/")[0]
                   for r in q.routes)
        fg = next(i for i in f.interfaces if i.name.startswith("fg-"))
        assert (f"net.ipv4.conf.{fg.name}.proxy_arp", "1") in f.sysctls


def test_floating_ip_only_on_its_host() -> None:
    (fip,) = CLOUD.floating_ips
    ext = ROUTER.external_gateway
    assert ext is not None
    for h in CLOUD.hosts:
        hs = host(h.name)
        q = ns(hs, f"qrouter-{ROUTER.id}")
        f = ns(hs, f"fip-{ext.network_id}")
        rule = [r for r in q.rules if r.table == "16"]
        route = [r for r in f.routes if r.destination == f"{fip.floating_ip_address}/32"]
        dnat = f"-d {fip.floating_ip_address}/32 -i rfp-" in q.iptables
        if h.name == fip.host:
            assert [r.source for r in rule] == [f"{fip.fixed_ip_address}/32"] and route and dnat
        else:
            assert not rule and not route and not dnat


def test_link_local_pool_pops_as_neutron() -> None:
    """A fresh allocator gives 169.254.64.0/18's /31s in CPython's set order (Neutron 29 gave
    169.254.88.134/31 first; the conformance run checks it), each pair once."""
    alloc = LinkLocalAllocator()
    pairs = [alloc.allocate(f"router{i}") for i in range(50)]
    assert len(set(pairs)) == 50
    assert pairs[0] == ("169.254.88.134/31", "169.254.88.135/31")
    assert alloc.allocate("router0") == pairs[0]


def test_no_dvr_namespaces_on_legacy_hosts() -> None:
    seed = neutrace.agents.program(topology.load(REPO / "examples" / "seed" / "cloud.yaml"))
    kinds = {n.kind for h in seed.hosts for n in h.namespaces}
    assert not kinds & {"snat", "fip"}
    assert all(h.agent_mode not in model.DVR_AGENT_MODES
               for h in topology.load(REPO / "examples" / "seed" / "cloud.yaml").hosts)
