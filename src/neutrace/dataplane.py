"""The pivot: per-host data-plane state (layer 1).

`HostState` is plain, frozen data describing what is programmed on one host, in Open vSwitch's and
Linux's own terms, with no Neutron model behind it:

- OVS bridges (`OvsBridge`): ports (`OvsPort`: ofport, type, tag/trunks, patch peer, tunnel
  options, external_ids) and OpenFlow flows (`Flow`);
- network namespaces (`Namespace`): the host's root namespace (``name == ""``), ``qrouter-*`` and
  ``qdhcp-*`` namespaces, and VMs (a VM is modelled as a namespace of kind ``"vm"`` whose NIC
  ``eth0`` is the far end of its ``tap`` device). Each holds interfaces (veth, tap, Linux bridge,
  OVS internal port, physical NIC), addresses, routes, rules, neighbours, sysctls and its
  netfilter rules as iptables-save / ip6tables-save / ipset-save text;
- configuration files the agents write for their daemons (`ConfigFile`: keepalived.conf,
  radvd.conf).

How the pieces are wired is recorded by names, exactly as on a real host: an OVS port of type
``""`` (system) or ``"internal"`` is the Linux interface of the same name in one of the host's
namespaces; a veth's ``peer`` names the other end (``peer_namespace`` its namespace); a Linux
bridge's ports are the interfaces whose ``master`` is that bridge; a physical NIC's ``segment``
names the physical network segment (an L2 wire outside the hosts) it plugs into.

`CloudState` gathers the hosts and what lies outside them: segments and external namespaces (an
upstream gateway, outside hosts) that the walker joins to physical NICs.

Everything produces or consumes this: the agents produce it from the Neutron model, importers from
a live host or sosreport; the simulator, the real backend and the diff consume it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

# Interface kinds (Interface.kind)
VETH = "veth"
TAP = "tap"
BRIDGE = "bridge"  # a Linux bridge (qbr...)
OVS_INTERNAL = "internal"  # an OVS internal port (qr-, qg-, DHCP tap, br-ex's LOCAL port)
PHYSICAL = "physical"  # a NIC (eth3)
LOOPBACK = "loopback"

# Namespace kinds (Namespace.kind)
NS_HOST = "host"
NS_ROUTER = "qrouter"
NS_DHCP = "qdhcp"
NS_SNAT = "snat"  # a DVR router's centralized SNAT (snat-<router id>)
NS_FIP = "fip"  # a DVR host's floating IP namespace (fip-<external network id>)
NS_VM = "vm"
NS_EXTERNAL = "external"  # outside the cloud: upstream gateway, outside hosts


@dataclass(frozen=True, slots=True)
class Flow:
    """One OpenFlow flow as ``ovs-ofctl add-flow`` takes it.

    ``match`` is the ordered list of match fields as written (``("in_port", "1")``,
    ``("dl_vlan", "2")``, and protocol shorthands with an empty value: ``("arp", "")``);
    ``actions`` is the action text after ``actions=``; ``flags`` are the flow_mod flags
    ``dump-flows`` prints (``reset_counts``: an OpenFlow 1.0 add sets it implicitly, as
    Neutron's ``ovs-ofctl add-flows`` of the openvswitch firewall's base flows does). Parsing and
    formatting live in ``neutrace.syntax.ofctl``.
    """

    table: int
    priority: int
    match: tuple[tuple[str, str], ...]
    actions: str
    cookie: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: tuple[str, ...] = ()
    # what neutrace does not simulate in this flow (an unknown match field or action, read from a
    # dump with ``keep_unsupported``): a packet that hits it stops the trace; empty: none
    unsupported: str = ""

    def match_value(self, name: str) -> str | None:
        for k, v in self.match:
            if k == name:
                return v
        return None


@dataclass(frozen=True, slots=True)
class OvsPort:
    """A port of an OVS bridge, as ``ovs-vsctl`` records it (Port + its single Interface).

    ``type`` is the Interface type: ``""`` (system: a Linux interface such as qvo… or eth3),
    ``"internal"``, ``"patch"``, ``"vxlan"``, ``"gre"``, ``"geneve"``. ``options`` holds
    ``peer`` for patch ports and ``remote_ip``/``local_ip``/``in_key``/``out_key``/``df_default``
    for tunnels, sorted by key. ``tag``/``trunks`` are the Port's VLAN settings (NORMAL uses them).
    ``other_config`` is the Port's, where Neutron's OVS agent records the local VLAN mapping of a
    bound port (``net_uuid``, ``network_type``, ``physical_network``, ``segmentation_id``, ``tag``)
    and where OVS reads ``priority-tags`` and ``qinq-ethtype``. ``vlan_mode`` is the Port's
    (``access``, ``trunk``, ``native-tagged``, ``native-untagged``, ``dot1q-tunnel``; empty: OVS's
    default, access with a tag, else trunk), ``cvlans`` a dot1q-tunnel port's customer VLANs.
    ``config`` holds the OpenFlow port config flags ``ovs-ofctl show`` prints (``NO_FLOOD``,
    ``NO_FWD``, ``NO_RECV``, ``PORT_DOWN``, ...), ``state`` its state flags (``LINK_DOWN``, ...).
    """

    name: str
    ofport: int
    type: str = ""
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    external_ids: tuple[tuple[str, str], ...] = ()
    mac: str | None = None
    other_config: tuple[tuple[str, str], ...] = ()
    vlan_mode: str = ""
    cvlans: tuple[int, ...] = ()
    config: tuple[str, ...] = ()
    state: tuple[str, ...] = ()  # the OpenFlow port state flags (LINK_DOWN, LIVE, STP_*...)
    stp_state: str = ""  # STP/RSTP port state (status:stp_state, rstp_status:rstp_port_state)

    def option(self, key: str) -> str | None:
        return dict(self.options).get(key)

    def external_id(self, key: str) -> str | None:
        return dict(self.external_ids).get(key)

    @property
    def peer(self) -> str | None:
        """The patch peer's port name, for a patch port."""
        return self.option("peer") if self.type == "patch" else None

    @property
    def is_tunnel(self) -> bool:
        return self.type in ("vxlan", "gre", "geneve")


@dataclass(frozen=True, slots=True)
class OvsGroup:
    """An OpenFlow group as ``ovs-ofctl dump-groups`` prints it: ``type`` is all, select,
    indirect or ff (fast failover); each bucket's text (``bucket_id:0,watch_port:1,
    actions=output:1``) and the group's properties (``selection_method=hash``, ``fields(...)``)
    verbatim."""

    group_id: int
    type: str
    buckets: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OvsMirror:
    """A port mirror of a bridge as ``ovs-vsctl list mirror`` holds it (ports by name): the
    packets it selects (all, from/to ports, of VLANs) and where copies go (a port, or flooded
    on a VLAN)."""

    name: str
    select_all: bool = False
    select_src_port: tuple[str, ...] = ()
    select_dst_port: tuple[str, ...] = ()
    select_vlan: tuple[int, ...] = ()
    output_port: str | None = None
    output_vlan: int | None = None
    snaplen: int = 0


@dataclass(frozen=True, slots=True)
class OvsBridge:
    """An OVS bridge: its ports (by ofport), flows and groups. ``LOCAL`` is implicit (ofport
    65534)."""

    name: str
    ports: tuple[OvsPort, ...] = ()
    flows: tuple[Flow, ...] = ()
    datapath_type: str = "system"
    fail_mode: str = "secure"
    protocols: tuple[str, ...] = ("OpenFlow10", "OpenFlow13")
    external_ids: tuple[tuple[str, str], ...] = ()
    groups: tuple[OvsGroup, ...] = ()
    frag_mode: str = "normal"  # ovs-ofctl set-frags: normal, drop, reassemble or nx-match
    mirrors: tuple[OvsMirror, ...] = ()

    def port(self, name: str) -> OvsPort | None:
        for p in self.ports:
            if p.name == name:
                return p
        return None

    def port_by_ofport(self, ofport: int) -> OvsPort | None:
        for p in self.ports:
            if p.ofport == ofport:
                return p
        return None


@dataclass(frozen=True, slots=True)
class Interface:
    """A Linux network interface inside one namespace.

    ``addresses`` are CIDR strings (``"192.168.100.102/24"``). ``peer``/``peer_namespace`` name the
    other end of a veth (``peer_namespace`` is ``""`` for the host's root namespace). ``master``
    is the Linux bridge this interface is enslaved to. ``segment`` is set on a physical NIC and
    names the physical segment it plugs into. ``vlan`` makes it an 802.1Q VLAN device on that
    segment (``eth0.101``): it sends frames tagged with that VLAN id and sees only those.
    """

    name: str
    kind: str
    mac: str | None = None
    mtu: int = 1500
    addresses: tuple[str, ...] = ()
    peer: str | None = None
    peer_namespace: str | None = None
    master: str | None = None
    segment: str | None = None
    up: bool = True
    vlan: int | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A route like ``ip route``: ``destination`` is a CIDR or ``"default"``."""

    destination: str
    device: str
    gateway: str | None = None
    table: str = "main"
    scope: str = "universe"  # "link" for connected routes
    proto: str = "static"  # "kernel" for connected routes
    source: str | None = None
    metric: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    """An ``ip rule``: priority, selector and the table it looks up."""

    priority: int
    table: str
    source: str | None = None  # CIDR, None = all
    destination: str | None = None
    fwmark: str | None = None  # "0x4000/0xffff"
    iif: str | None = None


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A neighbour (ARP) entry: ``state`` as ``ip neigh`` prints it (PERMANENT, REACHABLE...)."""

    ip: str
    mac: str
    device: str
    state: str = "PERMANENT"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A network namespace. ``name == ""`` is the host's root namespace.

    ``iptables``/``ip6tables`` hold iptables-save text (parsed by ``neutrace.syntax.iptables``),
    ``ipsets`` holds ``ipset save`` text. ``sysctls`` are ``("net.ipv4.ip_forward", "1")`` pairs.
    """

    name: str
    kind: str = NS_HOST
    interfaces: tuple[Interface, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    iptables: str = ""
    ip6tables: str = ""
    ipsets: str = ""
    sysctls: tuple[tuple[str, str], ...] = ()

    def interface(self, name: str) -> Interface | None:
        for i in self.interfaces:
            if i.name == name:
                return i
        return None

    def sysctl(self, key: str, default: str = "") -> str:
        return dict(self.sysctls).get(key, default)

    @property
    def ip_forward(self) -> bool:
        return self.sysctl("net.ipv4.ip_forward", "0") == "1"

    def bridge_ports(self, bridge: str) -> tuple[Interface, ...]:
        """The interfaces enslaved to the Linux bridge ``bridge``."""
        return tuple(i for i in self.interfaces if i.master == bridge)


@dataclass(frozen=True, slots=True)
class Gap:
    """A piece of a host's state that is not known (an imported capture lacked or could not
    read it): ``element`` is a bridge, namespace (``""`` the root) or port name, ``aspect`` what
    of it is unknown (``flows``, ``ports``, ``table 71``, ``interfaces``, ``routes``, ``rules``,
    ``iptables``, ``sysctl``, ``tunnel``...), ``problem`` why, ``source`` the file that would
    answer it. A walk that reaches the piece stops there and names the file; nothing else
    changes."""

    element: str
    aspect: str
    problem: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A configuration file an agent writes on the host for a daemon it runs: ``path``
    absolute, ``text`` verbatim, ``namespace`` where that daemon runs (``""`` the root).
    keepalived's ``keepalived.conf`` of an HA router is one (its VIPs are in the namespace's
    addresses only where keepalived is master), a router's ``radvd.conf`` another."""

    path: str
    text: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class HostState:
    """Everything programmed on one host. ``gaps`` lists what an importer could not know
    (empty for the agents' state); ``files`` the daemons' configuration files."""

    name: str
    management_ip: str | None = None
    tunnel_ip: str | None = None
    ovs_bridges: tuple[OvsBridge, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    gaps: tuple[Gap, ...] = ()
    files: tuple[ConfigFile, ...] = ()

    def file(self, path: str) -> ConfigFile | None:
        """The configuration file at ``path``, if recorded."""
        for f in self.files:
            if f.path == path:
                return f
        return None

    def bridge(self, name: str) -> OvsBridge | None:
        for b in self.ovs_bridges:
            if b.name == name:
                return b
        return None

    def namespace(self, name: str) -> Namespace | None:
        for n in self.namespaces:
            if n.name == name:
                return n
        return None

    @property
    def root(self) -> Namespace:
        """The root namespace (an empty one if none was recorded)."""
        return self.namespace("") or Namespace(name="")

    def find_interface(self, name: str) -> tuple[Namespace, Interface] | None:
        """The namespace and interface called ``name`` on this host (root namespace first)."""
        for ns in self.namespaces:
            itf = ns.interface(name)
            if itf is not None:
                return ns, itf
        return None

    def ovs_port(self, name: str) -> tuple[OvsBridge, OvsPort] | None:
        """The OVS bridge and port called ``name``."""
        for b in self.ovs_bridges:
            p = b.port(name)
            if p is not None:
                return b, p
        return None

    def vms(self) -> Iterator[Namespace]:
        return (n for n in self.namespaces if n.kind == NS_VM)

    def gap(self, element: str, aspect: str) -> Gap | None:
        """The gap recorded for ``aspect`` of ``element``, if any."""
        for g in self.gaps:
            if g.element == element and g.aspect == aspect:
                return g
        return None


@dataclass(frozen=True, slots=True)
class LearnedMac:
    """A MAC that OVS's NORMAL action had learned on ``port`` of ``bridge`` in ``vlan``."""

    bridge: str
    vlan: int
    mac: str
    port: str


@dataclass(frozen=True, slots=True)
class LearnedFdb:
    """A MAC a Linux bridge (in ``namespace``) had learned on its port ``port``."""

    namespace: str
    bridge: str
    mac: str
    port: str


@dataclass(frozen=True, slots=True)
class LearnedNeighbour:
    """A neighbour cache entry a namespace had learned (not a permanent one)."""

    namespace: str
    device: str
    ip: str
    mac: str


@dataclass(frozen=True, slots=True)
class Connection:
    """A conntrack entry of ``namespace``: the original and reply tuples as ``(src, dst,
    sport, dport)`` (ICMP: ``sport`` 0 and ``dport`` the type), ``replied`` unless it was
    UNREPLIED."""

    namespace: str
    zone: int
    proto: int
    orig: tuple[str, str, int, int]
    reply: tuple[str, str, int, int]
    replied: bool = False
    mark: int = 0


@dataclass(frozen=True, slots=True)
class Learned:
    """What a host had learned at run time, as captured (not what is programmed): NORMAL's MAC
    tables, Linux bridges' FDBs, neighbour caches and conntrack. A warm walk of an imported
    cloud starts from it; a cold one ignores it."""

    macs: tuple[LearnedMac, ...] = ()
    fdb: tuple[LearnedFdb, ...] = ()
    neighbours: tuple[LearnedNeighbour, ...] = ()
    connections: tuple[Connection, ...] = ()


@dataclass(frozen=True, slots=True)
class Segment:
    """A physical L2 segment outside the hosts (e.g. ``"external"`` behind eth3 of each host)."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class CloudState:
    """All hosts, plus what lies outside them: physical segments and external namespaces
    (an upstream gateway, outside hosts) whose interfaces plug into those segments.

    ``underlay`` names the segment the tunnel IPs live on; the walker delivers a VXLAN packet to
    the host whose ``tunnel_ip`` is its outer destination. ``metadata`` holds what produced the
    state (``("cloud", name)``, the Neutron release mirrored) and the names of the networks
    (``("network:<id>", name)``), which OVS itself does not know, for explanations.
    """

    hosts: tuple[HostState, ...]
    segments: tuple[Segment, ...] = ()
    external: tuple[Namespace, ...] = ()
    underlay: str = "tunnel"
    metadata: tuple[tuple[str, str], ...] = field(default=())

    def host(self, name: str) -> HostState | None:
        for h in self.hosts:
            if h.name == name:
                return h
        return None

    def host_by_tunnel_ip(self, ip: str) -> HostState | None:
        for h in self.hosts:
            if h.tunnel_ip == ip:
                return h
        return None

    def external_namespace(self, name: str) -> Namespace | None:
        for n in self.external:
            if n.name == name:
                return n
        return None
