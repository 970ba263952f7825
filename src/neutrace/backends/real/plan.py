"""What the real backend will build, computed from a `CloudState` without touching anything
(layer 3): for each kernel namespace the ``ip`` commands that create its links and those that
configure them, its sysctls, netfilter and ipset text; for each host its OVS bridges.

How `HostState` maps onto kernel objects:

- a host's root namespace (``""``) is the namespace ``<prefix><host>``; its other namespaces
  (qrouter-, qdhcp-, VMs) are ``<prefix><host>.<name>``; outside namespaces are
  ``<prefix>out.<name>``; segments are Linux bridges in ``<prefix>wire``;
- a veth or tap with a ``peer`` is a veth pair (a VM's tap and its ``eth0``); a Linux bridge is a
  bridge (multicast snooping off); a physical NIC with a ``segment`` is a veth whose other end is
  a port of that segment's bridge (``h<N>-<nic>``); a NIC with a ``vlan`` is a veth whose wire
  port is an access port of that VLAN (the segment is then an OVS bridge, NORMAL, in the wire
  namespace's own ovs-vswitchd); an OVS internal port in another namespace is the tap
  ovs-vswitchd creates, moved there;
- the NIC that carries a host's tunnel IP becomes a port of a ``br-phy`` bridge whose internal
  port takes its addresses and routes (userspace tunnelling needs the tunnel IP on an OVS
  bridge);
- connected (``proto kernel``) routes and the default rules are left to the kernel.

Every name is validated here (`neutrace.backends.real.names`); a fault is an `InputError`
naming the host, namespace and interface.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from neutrace import addr
from neutrace.backends.real.names import KernelNames, NameError_, check_ifname, check_token
from neutrace.dataplane import (
    BRIDGE,
    LOOPBACK,
    NS_VM,
    OVS_INTERNAL,
    PHYSICAL,
    TAP,
    VETH,
    CloudState,
    HostState,
    Interface,
    Namespace,
    OvsBridge,
    OvsPort,
)

Words = list[str]
DEFAULT_RULES = {(0, "local"), (32766, "main"), (32767, "default")}


@dataclass
class NsPlan:
    """One kernel namespace: ``create`` (ip commands run first, in every namespace, before any
    configuration), ``moves`` (OVS internal ports moved from this namespace to another),
    ``config`` (ip commands run after creation and moves), sysctls, netfilter, ipsets, and the
    veth ends whose TX checksum offload is turned off."""

    netns: str
    kind: str
    host: str | None
    label: str
    create: list[Words] = field(default_factory=list)
    moves: list[tuple[str, str]] = field(default_factory=list)
    config: list[Words] = field(default_factory=list)
    sysctls: list[tuple[str, str]] = field(default_factory=list)
    offload_off: list[str] = field(default_factory=list)
    iptables: str = ""
    ip6tables: str = ""
    ipsets: str = ""


@dataclass(frozen=True)
class PhyBridge:
    """The ``br-phy``-style bridge of a host: its name, the underlay NIC it holds, its MAC."""

    name: str
    nic: str
    mac: str | None


@dataclass
class HostPlan:
    """One host: its namespace, its OVS bridges (with their LOCAL ports' MACs) and br-phy."""

    name: str
    netns: str
    bridges: tuple[OvsBridge, ...]
    hwaddrs: dict[str, str]
    phy: PhyBridge | None
    internal_ports: tuple[str, ...]


@dataclass
class CloudPlan:
    """Everything `neutrace.backends.real.cloud.up` builds, in build order."""

    names: KernelNames
    namespaces: list[NsPlan]
    hosts: list[HostPlan]
    vms: list[tuple[str, str, str]]  # (VM, host, netns)
    outside: list[tuple[str, str]]  # (name, netns)
    segments: list[tuple[str, str]]  # (segment, bridge in the wire namespace)
    wire_bridges: tuple[OvsBridge, ...] = ()  # segments with VLAN attachments (OVS, NORMAL)

    @property
    def netns_names(self) -> tuple[str, ...]:
        """Every namespace of the run."""
        return tuple(n.netns for n in self.namespaces)


def _sysctl_key(key: str) -> str:
    """``sysctl -w`` spelling of ``key``: a device name with dots is written with slashes
    (``net.ipv4.conf.eth0/101.forwarding``)."""
    parts = key.split(".")
    if len(parts) > 4 and parts[0] == "net" and parts[2] in ("conf", "neigh"):
        return ".".join(parts[:3]) + "." + "/".join(parts[3:-1]) + "." + parts[-1]
    return key


class _Planner:
    """Builds a `CloudPlan`; one instance per plan."""

    def __init__(self, state: CloudState, names: KernelNames) -> None:
        self.state = state
        self.names = names
        self.plans: list[NsPlan] = []
        self.by_key: dict[tuple[str | None, str], NsPlan] = {}
        self.veth_done: set[tuple[str, str]] = set()
        self.wire = NsPlan(names.wire, "wire", None, "the segments (wire)")
        self.wire.sysctls += [("net.ipv6.conf.all.disable_ipv6", "1"),
                              ("net.ipv6.conf.default.disable_ipv6", "1"),
                              ("net.bridge.bridge-nf-call-iptables", "0"),
                              ("net.bridge.bridge-nf-call-ip6tables", "0")]
        self.segment_bridge: dict[str, str] = {}
        self.wire_ports: set[str] = set()
        # segments with a VLAN attachment are OVS bridges in the wire namespace
        self.ovs_segments = {i.segment for ns in _all_namespaces(state) for i in ns.interfaces
                             if i.segment is not None and i.vlan is not None}
        self.wire_ovs_ports: list[tuple[str, str, int | None]] = []

    # -- namespaces ------------------------------------------------------------------------
    def run(self) -> CloudPlan:
        """Plan the whole cloud."""
        self.plans.append(self.wire)
        for seg in self.state.segments:
            self._segment(seg.name)
        hosts = []
        vms: list[tuple[str, str, str]] = []
        seen_hosts: set[str] = set()
        for hs in self.state.hosts:
            check_token(hs.name, f"host {hs.name!r}")
            if hs.name in seen_hosts:
                raise NameError_("cloud state", f"host {hs.name!r}", "two hosts of that name",
                                 "give every host its own name")
            seen_hosts.add(hs.name)
            for ns in self._host_namespaces(hs):
                key = (hs.name, ns.name)
                kname = self.names.inner(hs.name, ns.name)
                label = f"{hs.name}" + (f" {ns.name}" if ns.name else "")
                plan = NsPlan(kname, ns.kind, hs.name, label)
                self._add(key, plan)
                if ns.kind == NS_VM:
                    vms.append((ns.name, hs.name, kname))
        outside = []
        for ns in self.state.external:
            check_token(ns.name, f"outside namespace {ns.name!r}")
            kname = self.names.outside(ns.name)
            self._add((None, ns.name), NsPlan(kname, ns.kind, None, f"outside {ns.name}"))
            outside.append((ns.name, kname))
        for host_index, hs in enumerate(self.state.hosts):
            hosts.append(self._host(host_index, hs))
        for ext_index, ns in enumerate(self.state.external):
            self._namespace(None, ns, f"x{ext_index}", None)
        wire_bridges = tuple(
            OvsBridge(name, ports=tuple(OvsPort(port, n + 1, tag=vlan) for n, (br, port, vlan)
                                        in enumerate(p for p in self.wire_ovs_ports
                                                     if p[0] == name)),
                      fail_mode="standalone")
            for seg, name in sorted(self.segment_bridge.items()) if seg in self.ovs_segments)
        return CloudPlan(self.names, self.plans, hosts, vms, outside,
                         sorted(self.segment_bridge.items()), wire_bridges)

    def _add(self, key: tuple[str | None, str], plan: NsPlan) -> None:
        if key in self.by_key or any(p.netns == plan.netns for p in self.plans):
            raise NameError_("cloud state", plan.label, f"namespace {plan.netns!r} would be made "
                             "twice", "rename the host or namespace so their names differ")
        self.by_key[key] = plan
        self.plans.append(plan)

    @staticmethod
    def _host_namespaces(hs: HostState) -> list[Namespace]:
        """The host's namespaces, its root namespace first (an empty one if none recorded)."""
        root = hs.root
        return [root, *(ns for ns in hs.namespaces if ns.name)]

    def _segment(self, segment: str) -> str:
        """The wire bridge of ``segment`` (made on first use)."""
        if segment in self.segment_bridge:
            return self.segment_bridge[segment]
        check_token(segment, f"segment {segment!r}")
        name = segment
        try:
            check_ifname(name, "segment")
        except NameError_:
            name = f"seg{len(self.segment_bridge)}"
        if name in self.segment_bridge.values() or name in self.wire_ports:
            name = f"seg{len(self.segment_bridge)}"
        self.segment_bridge[segment] = name
        if segment not in self.ovs_segments:
            self.wire.create.append(["link", "add", name, "type", "bridge", "mcast_snooping",
                                     "0"])
            self.wire.config.append(["link", "set", "dev", name, "up"])
        return name

    # -- hosts -----------------------------------------------------------------------------
    def _host(self, index: int, hs: HostState) -> HostPlan:
        root = hs.root
        kroot = self.by_key[(hs.name, "")]
        bridges = tuple(hs.ovs_bridges)
        for b in bridges:
            check_ifname(b.name, f"host {hs.name}: OVS bridge {b.name}")
            for p in b.ports:
                check_ifname(p.name, f"host {hs.name}: bridge {b.name}: port {p.name}")
        ovs_ports = {p.name: (b, p) for b in bridges for p in b.ports}
        phy = self._phy_bridge(hs, bridges)
        internal = tuple(p.name for b in bridges for p in b.ports
                         if p.type == "internal" and p.name != b.name)
        hwaddrs = {}
        for b in bridges:
            itf = root.interface(b.name)
            if itf is not None and itf.mac:
                hwaddrs[b.name] = itf.mac
        # OVS system ports are Linux interfaces of the host's root namespace
        for name, (b, p) in ovs_ports.items():
            if p.type == "" and root.interface(name) is None:
                raise NameError_("cloud state", f"host {hs.name}: bridge {b.name}: port {name}",
                                 "an OVS system port with no Linux interface of that name in "
                                 "the host's root namespace", "give the host that interface")
            if p.type == "internal" and p.name != b.name and hs.find_interface(name) is None:
                raise NameError_("cloud state", f"host {hs.name}: bridge {b.name}: port {name}",
                                 "an OVS internal port that no namespace of the host holds",
                                 "record its interface in the namespace it belongs to")
        for ns in self._host_namespaces(hs):
            self._namespace(hs, ns, f"h{index}", phy)
        # OVS system ports and bridge members carry no IPv6 of their own (as os-vif sets them)
        for itf in root.interfaces:
            if itf.name in ovs_ports and ovs_ports[itf.name][1].type == "" or itf.master \
                    or itf.kind == BRIDGE:
                kroot.sysctls.append((f"net.ipv6.conf.{itf.name}.disable_ipv6", "1"))
        if phy is not None:
            kroot.sysctls.append((f"net.ipv6.conf.{phy.nic}.disable_ipv6", "1"))
        return HostPlan(hs.name, kroot.netns, bridges, hwaddrs, phy, internal)

    @staticmethod
    def _phy_bridge(hs: HostState, bridges: tuple[OvsBridge, ...]) -> PhyBridge | None:
        """br-phy for a host with tunnel ports: the NIC that holds the tunnel IP."""
        if not hs.tunnel_ip or not any(p.is_tunnel for b in bridges for p in b.ports):
            return None
        for itf in hs.root.interfaces:
            if any(a.split("/")[0] == hs.tunnel_ip for a in itf.addresses):
                taken = {b.name for b in bridges} | {i.name for i in hs.root.interfaces}
                name = next(n for n in ("br-phy", *(f"br-phy{i}" for i in range(1, 99)))
                            if n not in taken)
                return PhyBridge(name, itf.name, itf.mac)
        raise NameError_("cloud state", f"host {hs.name}", f"tunnel IP {hs.tunnel_ip} is on no "
                         "interface of the root namespace", "give the tunnel NIC that address")

    # -- one namespace ---------------------------------------------------------------------
    def _namespace(self, hs: HostState | None, ns: Namespace, tag: str,
                   phy: PhyBridge | None) -> None:
        host = hs.name if hs else None
        plan = self.by_key[(host, ns.name)]
        where = plan.label
        names = [i.name for i in ns.interfaces]
        for i in ns.interfaces:
            check_ifname(i.name, f"{where}: interface {i.name}")
        if len(set(names)) != len(names):
            raise NameError_("cloud state", where, "two interfaces of the same name",
                             "give each interface its own name")
        bridges = {i.name for i in ns.interfaces if i.kind == BRIDGE}
        plan.config.append(["link", "set", "dev", "lo", "up"])
        moved_to_phy = phy.nic if phy is not None and not ns.name else None
        for i in ns.interfaces:
            self._interface(hs, ns, plan, i, tag, bridges)
        for i in ns.interfaces:
            if i.kind == LOOPBACK:
                continue
            if i.kind == OVS_INTERNAL and not ns.name and hs is not None and \
                    hs.bridge(i.name) is not None:
                continue  # a bridge's LOCAL port: its MAC is other_config:hwaddr, left down
            link = ["link", "set", "dev", i.name]
            if i.mac:
                link += ["address", i.mac]
            link += ["mtu", str(i.mtu)]
            plan.config.append(link)
            if i.master:
                plan.config.append(["link", "set", "dev", i.name, "master", i.master])
        ups = [i for i in ns.interfaces if i.up and i.kind != LOOPBACK]
        for i in sorted(ups, key=lambda i: i.vlan is not None):
            plan.config.append(["link", "set", "dev", i.name, "up"])
        if phy is not None and moved_to_phy:
            plan.config.append(["link", "set", "dev", phy.name, "up"])
        for i in ns.interfaces:
            dev = phy.name if moved_to_phy == i.name and phy is not None else i.name
            for a in i.addresses:
                ipaddress.ip_interface(a)  # validated
                if i.kind == LOOPBACK and a in ("127.0.0.1/8", "::1/128"):
                    continue
                plan.config.append(["addr", "add", a, "dev", dev,
                                    *(["nodad"] if ":" in a else [])])
        for r in ns.routes:
            if r.proto == "kernel" or r.table == "local":
                continue
            dev = phy.name if moved_to_phy == r.device and phy is not None else r.device
            check_ifname(dev, f"{where}: route {r.destination}")
            words = ["route", "add", r.destination]
            if r.gateway:
                words += ["via", str(ipaddress.ip_address(r.gateway))]
            words += ["dev", dev]
            if r.table != "main":
                words += ["table", check_token(r.table, f"{where}: route table")]
            if r.proto not in ("static", "boot"):
                words += ["proto", check_token(r.proto, f"{where}: route proto")]
            if r.scope not in ("universe", "global") and not r.gateway:
                words += ["scope", check_token(r.scope, f"{where}: route scope")]
            if r.source:
                words += ["src", str(ipaddress.ip_address(r.source))]
            if r.metric:
                words += ["metric", str(int(r.metric))]
            plan.config.append(words)
        for rule in ns.rules:
            if (rule.priority, rule.table) in DEFAULT_RULES and not (
                    rule.source or rule.destination or rule.fwmark or rule.iif):
                continue
            words = ["rule", "add", "priority", str(int(rule.priority))]
            if rule.source:
                words += ["from", str(ipaddress.ip_network(rule.source, strict=False))]
            if rule.destination:
                words += ["to", str(ipaddress.ip_network(rule.destination, strict=False))]
            if rule.fwmark:
                words += ["fwmark", check_token(rule.fwmark.replace("/", "."), "fwmark")
                          .replace(".", "/")]
            if rule.iif:
                words += ["iif", check_ifname(rule.iif, f"{where}: rule iif")]
            words += ["table", check_token(rule.table, f"{where}: rule table")]
            plan.config.append(words)
        for n in ns.neighbours:
            plan.config.append(["neigh", "replace", str(ipaddress.ip_address(n.ip)), "lladdr",
                                _lladdr(n.mac, f"{where}: neighbour {n.ip}"), "dev",
                                check_ifname(n.device, f"{where}: neighbour {n.ip}"), "nud",
                                check_token(n.state.lower(), "neighbour state")])
        for key, value in ns.sysctls:
            check_token(key, f"{where}: sysctl")
            check_token(value, f"{where}: sysctl {key}")
            plan.sysctls.append((_sysctl_key(key), value))
        plan.iptables, plan.ip6tables, plan.ipsets = ns.iptables, ns.ip6tables, ns.ipsets

    def _interface(self, hs: HostState | None, ns: Namespace, plan: NsPlan, i: Interface,
                   tag: str, bridges: set[str]) -> None:
        where = f"{plan.label}: interface {i.name}"
        if i.master and i.master not in bridges:
            raise NameError_("cloud state", where, f"master {i.master!r} is not a Linux bridge "
                             "of the same namespace", "enslave it to a bridge of its namespace")
        if i.kind == LOOPBACK:
            return
        if i.kind == BRIDGE:
            plan.create.append(["link", "add", i.name, "type", "bridge", "mcast_snooping", "0"])
        elif i.kind == OVS_INTERNAL:
            if hs is None:
                raise NameError_("cloud state", where, "an OVS internal port outside any host",
                                 "make it a veth")
            if ns.name:  # moved from the host's namespace, where ovs-vswitchd made it
                self.by_key[(hs.name, "")].moves.append((i.name, plan.netns))
        elif i.kind == PHYSICAL:
            self._physical(plan, i, tag, where)
        elif i.kind in (VETH, TAP) and i.peer is not None:
            self._veth(hs, ns, plan, i, where)
        elif i.kind == TAP:
            plan.create.append(["tuntap", "add", "dev", i.name, "mode", "tap"])
        elif i.kind == VETH:
            raise NameError_("cloud state", where, "a veth with no peer", "name its peer")
        else:
            raise NameError_("cloud state", where, f"interface kind {i.kind!r} cannot be built",
                             "use veth, tap, bridge, internal, physical or loopback")

    def _physical(self, plan: NsPlan, i: Interface, tag: str, where: str) -> None:
        """A NIC: a veth whose other end is a port of its segment's bridge. A NIC with a VLAN
        (``eth0.101``) is a plain veth whose wire port is an access port of that VLAN on an OVS
        segment bridge (802.1Q devices and VLAN-filtering bridges need kernel modules a
        container's kernel may lack; the frames on the segment are the same)."""
        if i.segment is None:
            # an unplugged NIC: a veth end with nothing behind it (no dummy module needed)
            plan.create.append(["link", "add", i.name, "mtu", str(i.mtu), "type", "veth", "peer",
                                "name", f"{tag}u{len(plan.create)}", "mtu", str(i.mtu)])
            return
        bridge = self._segment(i.segment)
        port = f"{tag}-{i.name}"
        if len(port) > 15 or port in self.wire_ports:
            port = f"{tag}n{len(self.wire_ports)}"
        check_ifname(port, where)
        self.wire_ports.add(port)
        plan.create.append(["link", "add", i.name, "mtu", str(i.mtu), "type", "veth", "peer",
                            "name", port, "mtu", str(i.mtu), "netns", self.wire.netns])
        if i.segment in self.ovs_segments:
            self.wire_ovs_ports.append((bridge, port, i.vlan))
        else:
            self.wire.config.append(["link", "set", "dev", port, "master", bridge])
        self.wire.config.append(["link", "set", "dev", port, "up"])
        self.wire.offload_off.append(port)
        plan.offload_off.append(i.name)

    def _veth(self, hs: HostState | None, ns: Namespace, plan: NsPlan, i: Interface,
              where: str) -> None:
        assert i.peer is not None
        peer_ns_name = i.peer_namespace if i.peer_namespace is not None else ns.name
        host = hs.name if hs else None
        peer_plan = self.by_key.get((host, peer_ns_name))
        if peer_plan is None:
            raise NameError_("cloud state", where, f"peer namespace {peer_ns_name!r} does not "
                             "exist", "name a namespace of the same host (or outside)")
        check_ifname(i.peer, where)
        me, other = (plan.netns, i.name), (peer_plan.netns, i.peer)
        if me in self.veth_done:
            return
        self.veth_done |= {me, other}
        words = ["link", "add", i.name, "type", "veth", "peer", "name", i.peer]
        if peer_plan is not plan:
            words += ["netns", peer_plan.netns]
        plan.create.append(words)
        plan.offload_off.append(i.name)
        peer_plan.offload_off.append(i.peer)


def _all_namespaces(state: CloudState) -> Iterable[Namespace]:
    for hs in state.hosts:
        yield from hs.namespaces
    yield from state.external


def plan_cloud(state: CloudState, names: KernelNames) -> CloudPlan:
    """The plan for ``state`` with the kernel names ``names``; raises `InputError` (a
    `NameError_`) for anything that cannot be built, before anything is."""
    return _Planner(state, names).run()


def all_words(plan: CloudPlan) -> Iterable[str]:
    """Every word of every ip command of the plan (for tests)."""
    for ns in plan.namespaces:
        for words in (*ns.create, *ns.config):
            yield from words


def _lladdr(mac: str, where: str) -> str:
    """A neighbour's MAC, normalised (a MAC has ':' that ``check_token`` refuses)."""
    try:
        return addr.norm_mac(mac)
    except ValueError:
        raise NameError_("cloud state", where, f"{mac!r} is not a MAC address",
                         "give the neighbour a MAC like fa:16:3e:12:34:56") from None
