"""Bridge diagrams (render/diagram): the devices of each host read from its state, the walk
drawn on them (every copy, its fate, VLAN/tunnel/NAT changes), the DOT source as a golden, the
SVG Graphviz makes of it, and names with markup escaped."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from functools import cache

import pytest

from neutrace.app import session
from neutrace.dataplane import LOOPBACK, CloudState
from neutrace.packet import ipv4, vxlan_encap
from neutrace.render.diagram import diagram, diagram_dot, draw, host_diagram
from neutrace.render.diagram.path import FAIL, OK, Marks, changes
from neutrace.render.diagram.structure import HostDiagram
from neutrace.trace import Trace
from tests.conftest import require
from tests.support.golden import check_golden
from tests.support.markup_cloud import EVIL, NAMES, markup_cloud
from tests.support.paths import SEED_YAML

SVG = "{http://www.w3.org/2000/svg}"


@cache
def seed() -> tuple[CloudState, Trace]:
    """The seed's state and test-02's cold walk to the outside host."""
    w = session.walker(SEED_YAML)
    conv = session.trace(w, "test-02", "203.0.113.10")
    assert conv.request is not None
    return w.cloud, conv.request


def _names(d: HostDiagram, ids: object) -> set[str]:
    return {d.node(i).name for i in ids}  # type: ignore[attr-defined]


def _tone(d: HostDiagram, m: Marks, tone: str) -> set[str]:
    return _names(d, [n for n, t in m.nodes.items() if t == tone])


@pytest.mark.parametrize("host", ["test-ctrl-01", "test-cmpt-01", "test-cmpt-02"])
def test_every_device_of_the_state_is_drawn(host: str) -> None:
    cloud, _ = seed()
    hs = cloud.host(host)
    assert hs is not None
    d = host_diagram(cloud, host)
    drawn = {n.name for n in d.nodes}
    expected = {p.name for b in hs.ovs_bridges for p in b.ports}
    expected |= {b.name for b in hs.ovs_bridges}  # LOCAL ports
    expected |= {i.name for ns in hs.namespaces for i in ns.interfaces
                 if i.kind != LOOPBACK and not (ns.name == "" and i.kind == "bridge")}
    expected |= {h.name for h in cloud.hosts if h.name != host}  # far ends of the tunnels
    assert expected <= drawn
    clusters = {c.element for c in d.clusters}
    assert {b.name for b in hs.ovs_bridges} <= clusters
    assert {ns.name for ns in hs.namespaces if ns.name} <= clusters
    assert {i.name for i in hs.root.interfaces if i.kind == "bridge"} <= clusters


def test_compute_node_wires_and_labels() -> None:
    cloud, _ = seed()
    d = host_diagram(cloud, "test-cmpt-02")
    by_name = {(d.cluster_of(n.id), n.name): n for n in d.nodes}
    br_int = d.elements["br-int"]
    qvo = by_name[(br_int, "qvo1b17c0cc-9f")]
    assert "tag 1" in qvo.lines[0] and "share_net (vxlan 65616)" in qvo.lines
    wires = {frozenset((d.node(e.a).name, d.node(e.b).name)): e.kind for e in d.edges}
    assert wires[frozenset(("tap1b17c0cc-9f", "eth0"))] == "tap"
    assert wires[frozenset(("qvb1b17c0cc-9f", "qvo1b17c0cc-9f"))] == "veth"
    assert wires[frozenset(("patch-tun", "patch-int"))] == "patch"
    assert wires[frozenset(("int-br-ex", "phy-br-ex"))] == "patch"
    assert wires[frozenset(("vxlan-c0a8780b", "test-ctrl-01"))] == "tunnel"
    assert wires[frozenset(("vxlan-c0a87815", "test-cmpt-01"))] == "tunnel"
    assert wires[frozenset(("eth3", "external"))] == "nic"


def test_network_node_namespaces_are_wired_to_br_int() -> None:
    cloud, _ = seed()
    d = host_diagram(cloud, "test-ctrl-01")
    router = next(c for c in d.clusters if c.element.startswith("qrouter-"))
    dhcp = next(c for c in d.clusters if c.element.startswith("qdhcp-"))
    assert router.kind == "qrouter" and dhcp.kind == "qdhcp"
    internal = {(d.node(e.a).name, d.cluster_of(e.a), d.cluster_of(e.b)) for e in d.edges
                if e.kind == "internal"}
    br_int = d.elements["br-int"]
    assert ("qr-466214fa-3d", router.id, br_int) in internal
    assert ("qg-169d638e-0e", router.id, br_int) in internal
    assert ("tap96835b35-be", dhcp.id, br_int) in internal


def test_walk_on_the_compute_node_both_flood_branches_and_fates() -> None:
    cloud, trace = seed()
    d = host_diagram(cloud, "test-cmpt-02")
    m = draw(d, "request", trace)
    assert m.start is not None and d.node(m.start).name == "eth0"
    ok = _tone(d, m, OK)
    assert {"eth0", "tap1b17c0cc-9f", "qvb1b17c0cc-9f", "qvo1b17c0cc-9f", "patch-tun",
            "patch-int", "vxlan-c0a8780b", "test-ctrl-01"} <= ok
    assert {"int-br-ex", "phy-br-ex", "vxlan-c0a87815", "test-cmpt-01"} <= _tone(d, m, FAIL)
    assert "qvoaf305168-66" not in m.nodes.keys() | ok  # test-01's port is not on the path
    fates = {(d.node(f.node).name, f.here): f for f in m.fates}
    drop = fates[("phy-br-ex", True)]
    assert drop.tone == FAIL and drop.dispositions[0].kind == "dropped"
    assert fates[("test-ctrl-01", False)].tone == OK
    assert any(x.kind == "exited" for x in fates[("test-ctrl-01", False)].dispositions)
    assert fates[("test-cmpt-01", False)].tone == FAIL
    labels = {pe.label for pe in m.edges if pe.label}
    assert "VLAN 1" in labels
    assert "VXLAN VNI 0x10050: 192.168.120.22 → 192.168.120.11" in labels
    assert "VXLAN VNI 0x10050: 192.168.120.22 → 192.168.120.21" in labels


def test_walk_on_the_network_node_passes_the_router_and_shows_the_snat() -> None:
    cloud, trace = seed()
    d = host_diagram(cloud, "test-ctrl-01")
    m = draw(d, "request", trace)
    assert m.start is None  # the walk starts on test-cmpt-02
    ok = _tone(d, m, OK)
    assert {"test-cmpt-02", "vxlan-c0a87816", "patch-int", "patch-tun", "qr-466214fa-3d",
            "qg-169d638e-0e", "int-br-ex", "phy-br-ex", "eth3", "external"} <= ok
    assert "tap96835b35-be" in _tone(d, m, FAIL)
    labels = {pe.label for pe in m.edges if pe.label}
    assert "SNAT 192.168.111.4 → 192.168.100.102" in labels
    assert "VXLAN VNI 0x10050: 192.168.120.22 → 192.168.120.11" in labels


def test_changes_name_encapsulation_vlan_and_nat() -> None:
    inner = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.5", "203.0.113.10")
    outer = vxlan_encap(inner, 0x10050, "192.168.120.22", "192.168.120.11")
    assert changes(inner.with_vlan(1), outer) == (
        "VXLAN VNI 0x10050: 192.168.120.22 → 192.168.120.11")
    assert changes(outer, inner.with_(tun_id=0x10050)) == "decapsulated (VNI 0x10050)"
    assert changes(inner, inner.with_vlan(3)) == "VLAN 3"
    assert changes(inner.with_vlan(3), inner) == "VLAN 3 stripped"
    assert changes(inner, inner.with_(nw_src="192.168.100.102")) == (
        "SNAT 10.0.0.5 → 192.168.100.102")
    assert changes(inner, inner) == ""


def test_changes_name_geneve_and_gre() -> None:
    from neutrace.packet import tunnel_encap
    inner = ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.5", "10.0.0.6")
    gnv = tunnel_encap("geneve", inner, 0x1, "10.6.0.11", "10.6.0.12")
    gre = tunnel_encap("gre", inner, 0x1001, "10.6.0.10", "10.6.0.12")
    assert changes(inner, gnv) == "Geneve VNI 0x1: 10.6.0.11 → 10.6.0.12"
    assert changes(inner, gre) == "GRE key 0x1001: 10.6.0.10 → 10.6.0.12"


def test_dot_golden() -> None:
    cloud, trace = seed()
    check_golden("diagram/seed-test-cmpt-02-test-02.dot",
                 diagram_dot(cloud, "test-cmpt-02", {"request": trace}))


def _svg(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def _texts(root: ET.Element) -> str:
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


@pytest.mark.parametrize("host", ["test-ctrl-01", "test-cmpt-01", "test-cmpt-02"])
def test_svg_per_seed_host_contains_its_devices(host: str) -> None:
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    cloud, trace = seed()
    root = _svg(diagram(cloud, host, {"request": trace}, "svg"))
    text = _texts(root)
    hs = cloud.host(host)
    assert hs is not None
    for name in [p.name for b in hs.ovs_bridges for p in b.ports] + [
            i.name for ns in hs.namespaces for i in ns.interfaces if i.kind != LOOPBACK]:
        assert name in text, name
    classes = [g.get("class", "") for g in root.iter(f"{SVG}g")]
    assert any("on-path" in c.split() for c in classes)
    assert any("fate" in c.split() for c in classes)


def test_png_is_a_png() -> None:
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    cloud, _ = seed()
    assert diagram(cloud, "test-cmpt-01", None, "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_names_with_markup_are_escaped() -> None:
    cloud = markup_cloud()
    host = cloud.hosts[0].name
    dot = diagram_dot(cloud, host)
    assert EVIL not in dot and "<script" not in dot
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    root = _svg(diagram(cloud, host, None, "svg"))  # well-formed XML despite the names
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "img", "iframe")]
    text = _texts(root)
    for name in NAMES:
        assert name in text, name
