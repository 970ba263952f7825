"""A host's bridge diagram as data (layer 3): the devices the seed draws in its 网桥结构图, and
the wires between them, read from the data-plane state only (`HostState`, `CloudState`), so an
imported host draws the same way as one the agents programmed.

- a cluster per VM (its ``eth0``), per Linux bridge (``qbr…`` with its ``tap…``/``qvb…``), per OVS
  bridge (every port with its ofport, VLAN tag, patch peer or tunnel remote, and the bridge's own
  ``LOCAL`` port), per ``qrouter-``/``qdhcp-`` namespace (``qr-``/``qg-``/``tap`` interfaces with
  their addresses), the root namespace's NICs that are not OVS ports, and what lies beyond the
  host: the physical segments its NICs plug into (with the outside namespaces on them) and the
  hosts at the far ends of its tunnel ports;
- edges for the wires, recorded by name as on a real host: a tap and the VM's ``eth0``, a veth
  pair (``qvb``/``qvo``), a patch pair, an OVS internal port and the namespace interface of the
  same name, a physical NIC and its segment, a tunnel port and the host at its ``remote_ip``.

Node and cluster ids are generated (``n1``, ``c1``…), never taken from input names; the lookups
(`HostDiagram.port_node`, `iface_node`…) map the names a `Hop` uses onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neutrace.dataplane import (
    BRIDGE,
    LOOPBACK,
    NS_DHCP,
    NS_ROUTER,
    NS_VM,
    OVS_INTERNAL,
    PHYSICAL,
    TAP,
    CloudState,
    HostState,
    Namespace,
    OvsBridge,
    OvsPort,
)

# Cluster kinds
C_VM = "vm"
C_LINUX_BRIDGE = "linux-bridge"
C_OVS = "ovs-bridge"
C_ROUTER = "qrouter"
C_DHCP = "qdhcp"
C_NAMESPACE = "namespace"
C_ROOT = "root"
C_OUTSIDE = "outside"

# Node kinds
N_PORT = "port"  # an OVS port
N_LOCAL = "local"  # an OVS bridge's LOCAL port
N_IFACE = "iface"  # a Linux interface
N_SEGMENT = "segment"  # a physical segment outside the host
N_REMOTE = "remote"  # a host at the far end of tunnel ports

# Edge kinds (the wire they stand for)
E_TAP = "tap"
E_VETH = "veth"
E_PATCH = "patch"
E_INTERNAL = "internal"
E_NIC = "nic"
E_TUNNEL = "tunnel"

ROOT_ELEMENT = "<root>"  # how a hop names the root namespace


@dataclass(frozen=True, slots=True)
class Cluster:
    """A box: one bridge or namespace. ``element`` is the name a `Hop` gives it."""

    id: str
    kind: str
    element: str
    title: str
    subtitle: str = ""
    rank: int = 0  # 0 top (VMs, namespaces) … 4 bottom (beyond the host)


@dataclass(frozen=True, slots=True)
class Node:
    """A device: ``name`` is its name from the state, ``lines`` what else the label says."""

    id: str
    cluster: str  # a Cluster id, or "" at the top level
    kind: str
    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Edge:
    """A wire between two nodes (``a`` above ``b`` in the layout)."""

    id: str
    a: str
    b: str
    kind: str
    label: str = ""


@dataclass(frozen=True)
class HostDiagram:
    """One host's devices and wires, with the lookups a trace overlay needs."""

    host: str
    title: str
    clusters: tuple[Cluster, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    ports: dict[tuple[str, str], str] = field(default_factory=dict)  # (bridge, port) -> node
    ifaces: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, if) -> node
    remotes: dict[str, str] = field(default_factory=dict)  # host name -> node
    segments: dict[str, str] = field(default_factory=dict)  # segment name -> node
    elements: dict[str, str] = field(default_factory=dict)  # hop element -> cluster

    def port_node(self, bridge: str, port: str) -> str | None:
        """The node of OVS port ``port`` of ``bridge`` (its LOCAL port when named like it)."""
        return self.ports.get((bridge, port))

    def iface_node(self, namespace: str, name: str) -> str | None:
        """The node of interface ``name`` in ``namespace`` (``""`` or ``<root>``: the root)."""
        ns = "" if namespace == ROOT_ELEMENT else namespace
        return self.ifaces.get((ns, name))

    def cluster_of(self, node: str) -> str:
        """The cluster id a node sits in (``""`` at the top level)."""
        for n in self.nodes:
            if n.id == node:
                return n.cluster
        return ""

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        return next(n for n in self.nodes if n.id == node_id)

    def edges_at(self, node: str) -> tuple[Edge, ...]:
        """The wires that end at ``node``."""
        return tuple(e for e in self.edges if node in (e.a, e.b))


class _Builder:
    """Accumulates clusters, nodes and edges with generated ids."""

    def __init__(self, cloud: CloudState, host: HostState) -> None:
        """Start an empty diagram of ``host`` (``cloud`` names what lies beyond it)."""
        self.cloud = cloud
        self.host = host
        self.clusters: list[Cluster] = []
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.ports: dict[tuple[str, str], str] = {}
        self.ifaces: dict[tuple[str, str], str] = {}
        self.remotes: dict[str, str] = {}
        self.segments: dict[str, str] = {}
        self.elements: dict[str, str] = {}
        self._wired: set[frozenset[str]] = set()
        self.networks = {k.removeprefix("network:"): v for k, v in cloud.metadata
                         if k.startswith("network:")}

    def cluster(self, kind: str, element: str, title: str, subtitle: str, rank: int) -> str:
        """Add a cluster; returns its id."""
        cid = f"c{len(self.clusters) + 1}"
        self.clusters.append(Cluster(cid, kind, element, title, subtitle, rank))
        self.elements[element] = cid
        return cid

    def node(self, cluster: str, kind: str, name: str, lines: tuple[str, ...] = ()) -> str:
        """Add a node; returns its id."""
        nid = f"n{len(self.nodes) + 1}"
        self.nodes.append(Node(nid, cluster, kind, name, lines))
        return nid

    def rank(self, node: str) -> int:
        """The layout rank of the cluster ``node`` sits in."""
        cid = next(n.cluster for n in self.nodes if n.id == node)
        return next(c.rank for c in self.clusters if c.id == cid)

    def wire(self, a: str | None, b: str | None, kind: str, label: str = "") -> None:
        """Add the wire a—b once, drawn from the upper rank down."""
        if a is None or b is None or a == b or frozenset((a, b)) in self._wired:
            return
        self._wired.add(frozenset((a, b)))
        if self.rank(a) > self.rank(b):
            a, b = b, a
        self.edges.append(Edge(f"e{len(self.edges) + 1}", a, b, kind, label))

    def result(self, title: str) -> HostDiagram:
        """The finished diagram."""
        return HostDiagram(self.host.name, title, tuple(self.clusters), tuple(self.nodes),
                           tuple(self.edges), self.ports, self.ifaces, self.remotes,
                           self.segments, self.elements)


def _addresses(addrs: tuple[str, ...]) -> tuple[str, ...]:
    return (", ".join(addrs),) if addrs else ()


def _port_lines(b: _Builder, port: OvsPort) -> tuple[str, ...]:
    """What a port's label says beside its name: ofport, tag and network, peer or remote."""
    head = [f"ofport {port.ofport}"]
    if port.tag is not None:
        head.append(f"tag {port.tag}")
    if port.trunks:
        head.append("trunks " + ",".join(str(t) for t in port.trunks))
    if port.type and port.type not in ("patch",) and not port.is_tunnel:
        head.append(port.type)
    lines = [" · ".join(head)]
    other = dict(port.other_config)
    net = b.networks.get(other.get("net_uuid", ""), "")
    if net:
        kind = other.get("network_type", "")
        seg = other.get("segmentation_id", "")
        lines.append(f"{net} ({kind}{' ' + seg if seg else ''})" if kind else net)
    if port.peer:
        lines.append(f"patch peer {port.peer}")
    if port.is_tunnel:
        lines.append(f"{port.type} remote_ip {port.option('remote_ip') or 'flow'}")
    return tuple(lines)


def _ovs_bridge(b: _Builder, br: OvsBridge) -> None:
    """A cluster with every port of ``br`` and its LOCAL port."""
    rank = 2 if br.name == "br-int" else 3
    cid = b.cluster(C_OVS, br.name, br.name, f"OVS bridge · fail_mode {br.fail_mode}", rank)
    for port in sorted(br.ports, key=lambda p: p.ofport):
        nid = b.node(cid, N_PORT, port.name, _port_lines(b, port))
        b.ports[(br.name, port.name)] = nid
    local = b.node(cid, N_LOCAL, br.name, ("LOCAL",))
    b.ports[(br.name, br.name)] = local
    b.ports[(br.name, "LOCAL")] = local


def _namespace_cluster(b: _Builder, ns: Namespace) -> None:
    """A VM, qrouter or qdhcp namespace with its interfaces (loopback left out)."""
    if ns.kind == NS_VM:
        kind, title, sub, rank = C_VM, ns.name, "VM", 0
    elif ns.kind == NS_ROUTER:
        kind, title, sub, rank = C_ROUTER, ns.name, "router namespace (L3 agent)", 0
    elif ns.kind == NS_DHCP:
        kind, title, sub, rank = C_DHCP, ns.name, "DHCP namespace (DHCP agent)", 0
    else:
        kind, title, sub, rank = C_NAMESPACE, ns.name, f"namespace ({ns.kind})", 0
    cid = b.cluster(kind, ns.name, title, sub, rank)
    for itf in ns.interfaces:
        if itf.kind == LOOPBACK:
            continue
        lines = _addresses(itf.addresses) + ((itf.mac,) if itf.mac and ns.kind == NS_VM else ())
        b.ifaces[(ns.name, itf.name)] = b.node(cid, N_IFACE, itf.name, lines)


def _root(b: _Builder) -> None:
    """Linux bridges as clusters; NICs and veths that are OVS ports alias their port node; the
    rest of the root namespace's interfaces in a cluster of its own."""
    root = b.host.root
    for itf in root.interfaces:
        if itf.kind != BRIDGE:
            continue
        cid = b.cluster(C_LINUX_BRIDGE, itf.name, itf.name, "Linux bridge (iptables firewall)", 1)
        for port in root.bridge_ports(itf.name):
            b.ifaces[("", port.name)] = b.node(cid, N_IFACE, port.name, (port.kind,))
    rest = []
    for itf in root.interfaces:
        if itf.kind in (BRIDGE, LOOPBACK) or ("", itf.name) in b.ifaces:
            continue
        owner = b.host.ovs_port(itf.name)
        if owner is not None:
            b.ifaces[("", itf.name)] = b.ports[(owner[0].name, owner[1].name)]
            continue
        if itf.kind == OVS_INTERNAL and b.host.bridge(itf.name) is not None:
            b.ifaces[("", itf.name)] = b.ports[(itf.name, itf.name)]
            continue
        rest.append(itf)
    if rest:
        cid = b.cluster(C_ROOT, ROOT_ELEMENT, "root namespace", "the host's own interfaces", 3)
        for itf in rest:
            lines = (itf.kind,) + _addresses(itf.addresses)
            b.ifaces[("", itf.name)] = b.node(cid, N_IFACE, itf.name, lines)


def _beyond(b: _Builder) -> None:
    """Segments the host's NICs plug into (with the outside namespaces on them) and the hosts at
    the far ends of its tunnel ports."""
    cid = b.cluster(C_OUTSIDE, "", "beyond this host", "physical segments and tunnel peers", 4)
    segs = sorted({i.segment for i in b.host.root.interfaces if i.segment})
    for seg in segs:
        desc = next((s.description for s in b.cloud.segments if s.name == seg), "")
        on = sorted(f"{ns.name} {', '.join(i.addresses)}".strip()
                    for ns in b.cloud.external for i in ns.interfaces if i.segment == seg)
        lines = ((desc,) if desc else ("physical segment",)) + tuple(on)
        b.segments[seg] = b.node(cid, N_SEGMENT, seg, lines)
    for br in b.host.ovs_bridges:
        for port in br.ports:
            remote_ip = port.option("remote_ip") if port.is_tunnel else None
            if not remote_ip:
                continue
            peer = b.cloud.host_by_tunnel_ip(remote_ip)
            name = peer.name if peer is not None else remote_ip
            if name not in b.remotes:
                lines = (f"tunnel IP {remote_ip}",) if peer is not None else ("unknown host",)
                b.remotes[name] = b.node(cid, N_REMOTE, name, lines)


def _wires(b: _Builder) -> None:
    """The edges: taps, veths, patches, internal ports, NICs and tunnels."""
    host = b.host
    for ns in host.namespaces:
        for itf in ns.interfaces:
            here = b.ifaces.get((ns.name, itf.name))
            if itf.peer is not None:
                peer_ns = itf.peer_namespace or ""
                there = b.ifaces.get((peer_ns, itf.peer))
                far = host.namespace(peer_ns)
                far_itf = far.interface(itf.peer) if far is not None else None
                tap = itf.kind == TAP or (far_itf is not None and far_itf.kind == TAP)
                b.wire(here, there, E_TAP if tap else E_VETH)
            if itf.kind == OVS_INTERNAL and ns.name != "":
                owner = host.ovs_port(itf.name)
                if owner is not None:
                    b.wire(here, b.ports.get((owner[0].name, itf.name)), E_INTERNAL)
            if itf.kind == PHYSICAL and itf.segment:
                b.wire(here, b.segments.get(itf.segment), E_NIC)
    for br in host.ovs_bridges:
        for port in br.ports:
            here = b.ports[(br.name, port.name)]
            if port.peer:
                other = next((o.name for o in host.ovs_bridges if o.port(port.peer or "")
                              and o.name != br.name), None)
                if other is not None:
                    b.wire(here, b.ports.get((other, port.peer or "")), E_PATCH)
            remote_ip = port.option("remote_ip") if port.is_tunnel else None
            if remote_ip:
                peer = b.cloud.host_by_tunnel_ip(remote_ip)
                b.wire(here, b.remotes.get(peer.name if peer else remote_ip), E_TUNNEL,
                       port.type.upper())


def host_diagram(cloud: CloudState, host: str) -> HostDiagram:
    """The diagram of ``host`` of ``cloud`` (see the module docstring)."""
    hs = cloud.host(host)
    if hs is None:
        raise KeyError(host)
    b = _Builder(cloud, hs)
    for ns in hs.namespaces:
        if ns.name != "":
            _namespace_cluster(b, ns)
    for br in hs.ovs_bridges:
        _ovs_bridge(b, br)
    _root(b)
    _beyond(b)
    _wires(b)
    ips = " · ".join(x for x in (
        f"management {hs.management_ip}" if hs.management_ip else "",
        f"tunnel {hs.tunnel_ip}" if hs.tunnel_ip else "") if x)
    return b.result(f"{hs.name}" + (f" ({ips})" if ips else ""))
