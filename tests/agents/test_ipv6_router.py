"""A legacy router with IPv6 (examples/dual-stack), as Neutron 29's L3 agent leaves it: a default
route per IP version through the gateway port's subnets' gateways (no IPv6 NAT), accept_ra off
on qg- when there is an IPv6 gateway and on (2) when there is none, radvd with the radvd.conf of
neutron/agent/linux/ra.py for its IPv6 interfaces (the conformance tests compare it with
Neutron's own file); `neutrace show` prints it. Guests on advertised subnets take an IPv6
default route."""

from __future__ import annotations

from neutrace import agents, topology
from neutrace.dataplane import HostState, Namespace
from neutrace.render.show import host_text
from tests.support.paths import DATA, EXAMPLES, SEED_YAML

PATH = EXAMPLES / "dual-stack" / "cloud.yaml"
TEXT = PATH.read_text()


def network1(text: str = TEXT) -> HostState:
    host = agents.program(topology.loads(text, source="cloud.yaml")).host("network1")
    assert host is not None
    return host


def qrouter(text: str = TEXT) -> Namespace:
    return next(ns for ns in network1(text).namespaces if ns.name.startswith("qrouter-"))


def test_default_routes_per_ip_version_and_no_ipv6_nat() -> None:
    ns = qrouter()
    default = [(r.gateway, r.device[:3]) for r in ns.routes if r.destination == "default"]
    assert default == [("203.0.113.1", "qg-"), ("fd00:203:0:113::1", "qg-")]
    assert "SNAT" not in ns.ip6tables and "DNAT" not in ns.ip6tables
    assert "-j SNAT --to-source 203.0.113." in ns.iptables
    qg = next(i.name for i in ns.interfaces if i.name.startswith("qg-"))
    assert ns.sysctl(f"net.ipv6.conf.{qg}.accept_ra") == "0"
    assert ns.sysctl(f"net.ipv6.conf.{qg}.forwarding") == "1"


def test_without_an_ipv6_gateway_the_router_accepts_ras() -> None:
    text = TEXT.replace('gateway_ip: "fd00:203:0:113::1",', "gateway_ip: null,")
    assert text != TEXT
    ns = qrouter(text)
    assert [r.gateway for r in ns.routes if r.destination == "default"] == ["203.0.113.1"]
    qg = next(i.name for i in ns.interfaces if i.name.startswith("qg-"))
    assert ns.sysctl(f"net.ipv6.conf.{qg}.accept_ra") == "2"


def test_radvd_conf_per_ipv6_interface() -> None:
    host = network1()
    ns = next(n for n in host.namespaces if n.name.startswith("qrouter-"))
    router_id = ns.name.removeprefix("qrouter-")
    radvd = host.file(f"/var/lib/neutron/ra/{router_id}.radvd.conf")
    assert radvd is not None and radvd.namespace == ns.name
    blocks = radvd.text.split("};interface ")
    assert len(blocks) == 3  # three IPv6 interfaces, Neutron's blocks with no newline between
    slaac, stateful, stateless = blocks
    assert "prefix fd00:192:0:2::/64" in slaac and "AdvAutonomous on;" in slaac
    assert "RDNSS  2001:4860:4860::8844  {};" in slaac and "AdvManagedFlag" not in slaac
    assert "AdvManagedFlag on;" in stateful and "AdvAutonomous off;" in stateful
    assert "AdvOtherConfigFlag on;" in stateless and "AdvAutonomous on;" in stateless
    assert "AdvLinkMTU 1450;" in stateless and not radvd.text.endswith("\n")
    shown = host_text(host)
    assert f"--- file {radvd.path} (read in namespace {ns.name}) ---\ninterface qr-" in shown


def test_no_radvd_without_ipv6_interfaces() -> None:
    state = agents.program(topology.load(SEED_YAML))
    assert not [f for h in state.hosts for f in h.files if "radvd" in f.path]


def test_guests_on_advertised_subnets_have_an_ipv6_default_route() -> None:
    state = agents.program(topology.load(PATH))
    vms = {ns.name: ns for h in state.hosts for ns in h.namespaces if ns.kind == "vm"}
    for vm, gw in (("vm1", "fd00:192:0:2::1"), ("vm3", "fd00:198:51:100::1"),
                   ("vm4", "fd00:3::1"), ("provider-vm", "fd00:203:0:113::1")):
        assert [(r.gateway, r.proto) for r in vms[vm].routes if r.destination == "default"
                and ":" in (r.gateway or "")] == [(gw, "ra")], vm
    # the openvswitch firewall example's IPv6 subnet has no router and no modes: no RA
    other = agents.program(topology.load(EXAMPLES / "ovs-firewall" / "cloud.yaml"))
    web = next(ns for h in other.hosts for ns in h.namespaces if ns.name == "web")
    assert not [r for r in web.routes if r.proto == "ra"]


def test_every_dvr_host_writes_the_distributed_routers_radvd_conf() -> None:
    """A distributed router's radvd runs in its qrouter- on every host of dvr_hosts (the
    conformance tests compare the file with Neutron's DvrLocalRouter/DvrEdgeRouter)."""
    cloud = topology.load(DATA / "clouds" / "dvr-ipv6.yaml")
    state = agents.program(cloud)
    (router,) = cloud.routers
    path = f"/var/lib/neutron/ra/{router.id}.radvd.conf"
    texts = {}
    for name in router.dvr_hosts:
        host = state.host(name)
        assert host is not None
        conf = host.file(path)
        assert conf is not None and conf.namespace == f"qrouter-{router.id}"
        texts[name] = conf.text
    assert len(set(texts.values())) == 1 and "prefix fd00:192:0:2::/64" in texts[router.host]
