"""The walker (layer 4): a packet's way across a whole cloud, every copy, hop by hop.

`Walker(cloud)` joins every host's data-plane state by its wires, exactly as they are recorded in
``neutrace.dataplane`` (by name):

- OVS bridges, run by the OpenFlow engine (patch ports are followed inside it);
- an OVS port of type ``""`` (system: ``qvo…``, ``eth3``) or ``internal`` (``qr-``, ``qg-``, a DHCP
  ``tap``) is the Linux interface of the same name in one of the host's namespaces;
- veth pairs and taps (``Interface.peer``/``peer_namespace``; a VM is a namespace of kind ``vm``
  whose ``eth0`` is the far end of its tap);
- Linux bridges (``Interface.master``), run by the Linux engine with bridge netfilter;
- namespaces (the VMs, ``qrouter-``, ``qdhcp-``, the outside namespaces), run by the Linux engine;
- physical segments: every NIC whose ``segment`` is S, and every outside interface on S, share one
  L2 wire that learns MAC addresses like a switch (unknown unicast and broadcast flood);
- the tunnel network: a copy leaving a tunnel port is encapsulated (VXLAN, Geneve or GRE:
  ``packet.tunnel_encap``; outer addresses = the tunnel IPs, VNI or GRE key = ``tun_id``;
  the route it leaves the host's root namespace by when that has more than one), delivered
  to the host whose ``tunnel_ip`` is the outer destination, through its tunnel port whose
  ``remote_ip`` is the sender's, and decapsulated.

It follows every copy (floods and multiple outputs branch), detects loops (the same element, entry
port and packet twice on one path) and is bounded (hops per path, copies per trace). The result
is a `neutrace.trace.Trace`; the mutable state (MAC tables, learned flows, FDBs, neighbour caches,
conntrack) lives in a `SimState` the caller keeps, so traces can start cold or warm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from neutrace.addr import is_multicast_mac
from neutrace.bulk import paused_gc
from neutrace.dataplane import (
    NS_EXTERNAL,
    NS_VM,
    OVS_INTERNAL,
    PHYSICAL,
    CloudState,
    HostState,
    Interface,
    Namespace,
    OvsPort,
)
from neutrace.engines.linuxnet import Fib, LinuxEngine, LinuxState
from neutrace.engines.linuxnet.fib import route_step
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.engines.results import (
    EXIT_CONTROLLER,
    EXIT_DROP,
    EXIT_LIMIT,
    EXIT_OUTPUT,
    EXIT_PATCH,
    BridgeVisit,
    LinuxResult,
    OfExit,
)
from neutrace.errors import SimulationError, StartPointError
from neutrace.packet import Packet, tunnel_encap
from neutrace.sim.annotate import Annotator
from neutrace.sim.gaps import Gaps, incomplete
from neutrace.trace import (
    ACCEPTED,
    CONTROLLER,
    DELIVERED,
    DROPPED,
    EXITED,
    HOP_EXTERNAL,
    HOP_LINUX_BRIDGE,
    HOP_NAMESPACE,
    HOP_OVS,
    HOP_SEGMENT,
    HOP_UNDERLAY,
    HOP_VM,
    LIMIT,
    LOOP,
    Branch,
    Cause,
    CopyKind,
    CopyOrigin,
    Disposition,
    DispositionKind,
    FdbDecision,
    FdbStep,
    FdbSwitch,
    FrameSent,
    Hop,
    HopKind,
    InternalPort,
    LinuxFate,
    LinuxWhy,
    OpenFlowFate,
    PatchCrossing,
    PeerCrossing,
    RouteStep,
    SegmentCrossing,
    Step,
    TableLookup,
    Trace,
    TunnelStep,
    VlanTagging,
    WalkFate,
    WalkWhy,
)

_E = TypeVar("_E")
OUTSIDE = ""  # the pseudo-host holding the namespaces outside the cloud


@dataclass
class SimState:
    """The mutable state of a whole cloud, owned by the caller: the OpenFlow side (NORMAL's MAC
    tables, learned flows, OVS conntrack) and the Linux side (bridge and segment FDBs, neighbour
    caches, conntrack). `copy` gives an independent snapshot."""

    openflow: OpenFlowState
    linux: LinuxState

    @classmethod
    def cold(cls) -> SimState:
        """Empty state: nothing learned, no connections."""
        return cls(OpenFlowState(), LinuxState())

    def copy(self) -> SimState:
        """An independent snapshot."""
        return SimState(self.openflow.copy(), self.linux.copy())


class _PerHost(dict[str, _E]):
    """Engines by host name, each built on first use (``build(name)``) for the names given;
    other names are missing (KeyError) as in a plain dict."""

    def __init__(self, build: Callable[[str], _E], names: set[str]) -> None:
        super().__init__()
        self._build = build
        self._names = names

    def __missing__(self, name: str) -> _E:
        if name not in self._names:
            raise KeyError(name)
        with paused_gc():
            engine = self[name] = self._build(name)
        return engine


@dataclass(frozen=True)
class _Ctx:
    """What a path carries along: what it has seen (loop detection), its length, and the last
    physical NIC it left a host through (to say where a packet exited the cloud)."""

    seen: frozenset[tuple[str, str, str, Packet]] = frozenset()
    hops: int = 0
    exited_via: tuple[str, str] = ("", "")  # (NIC, host)

    def visit(self, key: tuple[str, str, str, Packet]) -> _Ctx:
        """This path, one hop longer, having seen key."""
        return _Ctx(self.seen | {key}, self.hops + 1, self.exited_via)


class Walker:
    """Walks packets through a `CloudState`. Build once per cloud (engines are built and their
    flows and rules parsed here, once), then call `send` / `inject` as often as needed."""

    @paused_gc()
    def __init__(self, cloud: CloudState, max_hops: int = 200, max_copies: int = 2000) -> None:
        """Join the cloud's hosts by their wires and build one engine per host."""
        self.cloud = cloud
        self.max_hops = max_hops
        self.max_copies = max_copies
        outside = HostState(name=OUTSIDE, namespaces=cloud.external)
        self._hosts: dict[str, HostState] = {h.name: h for h in cloud.hosts}
        if OUTSIDE in self._hosts:
            raise SimulationError("a host may not have an empty name")
        self._hosts[OUTSIDE] = outside
        # one engine per host, built at the first walk that reaches the host (a trace through
        # two hosts of a thousand parses the flows and rules of those two)
        self._of: _PerHost[OpenFlowEngine] = _PerHost(
            lambda name: OpenFlowEngine(self._hosts[name].ovs_bridges, name),
            {h.name for h in cloud.hosts})
        self._lx: _PerHost[LinuxEngine] = _PerHost(
            lambda name: LinuxEngine(self._hosts[name]), set(self._hosts))
        self.annotator = Annotator(cloud)
        self.gaps = Gaps(cloud)
        # (host, port name) -> (bridge, port)
        self._ovs_ports: dict[tuple[str, str], tuple[str, OvsPort]] = {}
        for h in cloud.hosts:
            for b in h.ovs_bridges:
                for p in b.ports:
                    self._ovs_ports[(h.name, p.name)] = (b.name, p)
        # (host, interface name) -> namespace, for names unique on a host (VMs' eth0 are not)
        self._itf: dict[tuple[str, str, str], tuple[Namespace, Interface]] = {}
        self._by_name: dict[tuple[str, str], list[tuple[Namespace, Interface]]] = {}
        self._segments: dict[str, list[tuple[str, Namespace, Interface]]] = {}
        self._owners: dict[str, list[tuple[str, Namespace, Interface]]] = {}
        self._proxies: list[tuple[str, Namespace, Interface]] = []  # proxy_arp interfaces
        for name, h in self._hosts.items():
            for ns in h.namespaces:
                for itf in ns.interfaces:
                    self._itf[(name, ns.name, itf.name)] = (ns, itf)
                    self._by_name.setdefault((name, itf.name), []).append((ns, itf))
                    if itf.segment:
                        self._segments.setdefault(itf.segment, []).append((name, ns, itf))
                    for cidr in itf.addresses:
                        ip = cidr.split("/")[0]
                        self._owners.setdefault(ip, []).append((name, ns, itf))
                    if "1" in (ns.sysctl("net.ipv4.conf.all.proxy_arp"),
                               ns.sysctl(f"net.ipv4.conf.{itf.name}.proxy_arp")):
                        self._proxies.append((name, ns, itf))
        self._copies = 0

    # -- public ----------------------------------------------------------------------------
    def send(self, host: str, namespace: str, packet: Packet, state: SimState,
             start: str = "") -> Trace:
        """A namespace's own stack (a VM's, a router's, an outside host's) sends an IP packet:
        its routes pick the interface and next hop, neighbours are resolved, then the frame
        walks."""
        lx = self._engine(host)
        ns = self._namespace(host, namespace)
        self._copies = 0
        hop_kind = self._ns_hop_kind(host, ns)
        label = start or f"{namespace} on {host}" if host else start or namespace
        gap = self.gaps.namespace(host, ns, packet)
        if gap is not None:
            return Trace(start=label, packet=packet, root=_leaf(
                host, ns.name or "<root>", hop_kind, "", packet, (),
                incomplete(gap, host, ns.name or "<root>")))
        res = lx.send(namespace, packet, state.linux, self.resolve)
        root = self._linux_hop(host, ns, "", packet, res, hop_kind, state, _Ctx(), ())
        return Trace(start=label, packet=packet, root=root)

    def inject(self, host: str, port: str, packet: Packet, state: SimState,
               start: str = "") -> Trace:
        """A raw frame entering the cloud at ``port`` of ``host``: an OVS port name, or a Linux
        interface (``namespace/interface`` when the name is not unique on the host)."""
        self._copies = 0
        label = start or f"frame into {port} on {host or 'outside'}"
        if (host, port) in self._ovs_ports:
            bridge, _ = self._ovs_ports[(host, port)]
            root = self._ovs(host, bridge, port, packet, state, _Ctx(), ())
        else:
            ns, itf = self._interface(host, port)
            root = self._arrive(host, ns, itf, packet, state, _Ctx(), ())
        return Trace(start=label, packet=packet, root=root)

    def emit(self, host: str, namespace: str, interface: str, frame: Packet, state: SimState,
             start: str = "") -> Trace:
        """A raw frame sent out of ``interface`` of ``namespace`` (e.g. a VM's DHCP client
        broadcasting from eth0), bypassing that namespace's routing."""
        self._copies = 0
        found = self._itf.get((host, namespace, interface))
        if found is None:
            raise StartPointError("interface", f"{namespace}/{interface}", f"host {host!r} has "
                                  "no such interface", "write namespace/interface as `neutrace "
                                  "show` lists them")
        ns, itf = found
        kind = self._ns_hop_kind(host, ns)
        note = FrameSent(namespace=namespace, device=interface)
        hop = Hop(host, ns.name or "<root>", kind, "", frame, (note,))
        rest = self._transmit(host, ns, itf, frame, state, _Ctx(), ())
        root = _join(hop, [(None, rest, interface, frame)])
        return Trace(start=start or f"frame out of {interface} of {namespace}", packet=frame,
                     root=root)

    def find_interface(self, host: str, name: str) -> tuple[Namespace, Interface] | None:
        """The namespace and interface ``name`` (or ``namespace/name``) of ``host``."""
        try:
            return self._interface(host, name)
        except StartPointError:
            return None

    def resolve(self, host: str, namespace: str, interface: str, ip: str) -> str | None:
        """Who answers ARP for ``ip`` on that link: the interface owning ``ip`` whose subnet is
        also the asking interface's (floating IPs are /32 on ``qg-``), preferring one outside the
        asking namespace. It answers from addresses, not from the L2 domain: with overlapping
        tenant subnets (the same IP on two networks) the first owner found wins."""
        owners = self._owners.get(ip, [])
        if not owners:
            return self._proxy_arp(host, namespace, interface, ip)
        asking = self._itf.get((host, namespace, interface))
        asking_nets = set()
        if asking is not None:
            asking_nets = {_net(c) for c in asking[1].addresses}
        best: str | None = None
        for h, ns, itf in owners:
            if h == host and ns.name == namespace:
                continue
            if itf.mac is None:
                continue
            nets = {_net(c) for c in itf.addresses}
            if asking_nets & nets:
                return itf.mac
            if best is None:
                best = itf.mac
        return best

    def _proxy_arp(self, host: str, namespace: str, interface: str, ip: str) -> str | None:
        """An address no interface owns (a DVR floating IP): the MAC of an interface on the
        asker's subnet whose namespace answers ARP for it by proxy (``proxy_arp``, the fg- port
        of a fip- namespace), as the kernel would."""
        asking = self._itf.get((host, namespace, interface))
        asking_nets = {_net(c) for c in asking[1].addresses} if asking is not None else set()
        for h, ns, itf in self._proxies:
            if (h, ns.name) == (host, namespace) or not asking_nets & {
                    _net(c) for c in itf.addresses}:
                continue
            src = next((c.split("/")[0] for c in (asking[1].addresses if asking else ())
                        if "." in c), "")
            if self._engine(h).proxy_arp_route(ns.name, itf.name, ip, src) is not None:
                return itf.mac
        return None

    def find_namespace(self, name: str) -> tuple[str, Namespace] | None:
        """The host and namespace called ``name`` (a VM, qrouter-…, an outside host)."""
        for host, h in self._hosts.items():
            ns = h.namespace(name)
            if ns is not None and name != "":
                return host, ns
        return None

    def namespaces(self) -> Iterator[tuple[str, Namespace]]:
        """Every (host, namespace) of the cloud, the outside ones under host ``""``."""
        for host, h in self._hosts.items():
            for ns in h.namespaces:
                yield host, ns

    def owner_of(self, ip: str) -> tuple[str, Namespace, Interface] | None:
        """The first (host, namespace, interface) that has ``ip``, if any."""
        owners = self._owners.get(ip, [])
        return owners[0] if owners else None

    # -- lookups ---------------------------------------------------------------------------
    def _engine(self, host: str) -> LinuxEngine:
        """The Linux engine of ``host`` (a `StartPointError` names the hosts there are)."""
        try:
            return self._lx[host]
        except KeyError:
            raise StartPointError("host", host, "the cloud has no such host",
                                  "use one of " + ", ".join(h.name for h in self.cloud.hosts)
                                  ) from None

    def _namespace(self, host: str, name: str) -> Namespace:
        """The namespace ``name`` of ``host`` (a `StartPointError` lists them)."""
        ns = self._hosts[host].namespace(name)
        if ns is None:
            names = ", ".join(n.name or '""' for n in self._hosts[host].namespaces)
            raise StartPointError("namespace", name, f"host {host!r} has no such namespace",
                                  f"use one of {names}")
        return ns

    def _interface(self, host: str, name: str) -> tuple[Namespace, Interface]:
        """The interface ``name`` (or ``namespace/name``) of ``host``."""
        if "/" in name:
            nsname, itf_name = name.split("/", 1)
            found = self._itf.get((host, nsname, itf_name))
            if found is None:
                raise StartPointError("interface", name, f"host {host!r} has no such "
                                      "interface", "write namespace/interface as `neutrace "
                                      "show` lists them")
            return found
        matches = self._by_name.get((host, name), [])
        if not matches:
            raise StartPointError("interface", name, f"host {host!r} has no interface or OVS "
                                  "port of that name", "use a name `neutrace show` lists")
        if len(matches) > 1:
            raise StartPointError("interface", name, f"the name exists in several namespaces "
                                  f"of {host!r}", f"write namespace/{name}")
        return matches[0]

    @staticmethod
    def _ns_hop_kind(host: str, ns: Namespace) -> HopKind:
        """The hop kind of a namespace: a VM, outside the cloud, or a namespace."""
        if ns.kind == NS_VM:
            return HOP_VM
        if host == OUTSIDE or ns.kind == NS_EXTERNAL:
            return HOP_EXTERNAL
        return HOP_NAMESPACE

    def _guard(self, ctx: _Ctx, key: tuple[str, str, str, Packet]) -> Disposition | None:
        """Stop a copy that loops or passes the bounds (None: go on)."""
        host, element, _, _ = key
        if key in ctx.seen:
            return Disposition(LOOP, host, element, WalkFate(why=WalkWhy.LOOP, element=element))
        if ctx.hops >= self.max_hops:
            return Disposition(LIMIT, host, element, WalkFate(why=WalkWhy.MAX_HOPS,
                                                              number=self.max_hops))
        self._copies += 1
        if self._copies > self.max_copies:
            return Disposition(LIMIT, host, element, WalkFate(why=WalkWhy.MAX_COPIES,
                                                              number=self.max_copies))
        return None

    # -- elements --------------------------------------------------------------------------
    def _ovs(self, host: str, bridge: str, in_port: str, packet: Packet, state: SimState,
             ctx: _Ctx, via: tuple[Step, ...]) -> Branch:
        """A packet entering OVS bridge bridge through in_port."""
        key = (host, bridge, in_port, packet)
        stop = self._guard(ctx, key)
        if stop is not None:
            return _leaf(host, bridge, HOP_OVS, in_port, packet, via, stop)
        visit = self._of[host].run(bridge, in_port, packet, state.openflow)
        return self._visit(host, visit, state, ctx.visit(key), via)

    def _visit(self, host: str, visit: BridgeVisit, state: SimState, ctx: _Ctx,
               via: tuple[Step, ...]) -> Branch:
        """A bridge visit as a hop, and where each copy went."""
        if self.gaps:
            tables = [st.table for st in visit.steps if isinstance(st, TableLookup)]
            gap = self.gaps.bridge(host, visit.bridge, tables)
            if gap is not None:
                return _leaf(host, visit.bridge, HOP_OVS, visit.in_port, visit.packet,
                             via + visit.steps, incomplete(gap, host, visit.bridge))
        conts: list[tuple[CopyOrigin, Branch, str | None, Packet | None]] = []
        for ex in visit.exits:
            conts.append((_exit_origin(ex), self._of_exit(host, visit, ex, state, ctx),
                          ex.port, ex.packet))
        hop = Hop(host, visit.bridge, HOP_OVS, visit.in_port, visit.packet, via + visit.steps)
        return _join(hop, conts)

    def _of_exit(self, host: str, visit: BridgeVisit, ex: OfExit, state: SimState,
                 ctx: _Ctx) -> Branch:
        """Where a copy that left an OVS bridge goes: the peer bridge, a tunnel, a Linux device,
        or its end (with Neutron's explanation of a drop)."""
        bridge = visit.bridge
        if ex.kind == EXIT_PATCH and ex.next is not None:
            wire = PatchCrossing(port=ex.port or "", peer=ex.next.in_port, bridge=bridge,
                                 peer_bridge=ex.next.bridge)
            key = (host, ex.next.bridge, ex.next.in_port, ex.next.packet)
            stop = self._guard(ctx, key)
            if stop is not None:
                return _leaf(host, ex.next.bridge, HOP_OVS, ex.next.in_port, ex.next.packet,
                             (wire,), stop)
            return self._visit(host, ex.next, state, ctx.visit(key), (wire,))
        if ex.kind == EXIT_OUTPUT and ex.port is not None and ex.packet is not None:
            found = self._ovs_ports.get((host, ex.port))
            if found is not None and found[1].is_tunnel:
                return self._underlay(host, found[1], ex.packet, state, ctx)
            return self._ovs_to_linux(host, bridge, ex.port, ex.packet, state, ctx)
        kind = {EXIT_DROP: DROPPED, EXIT_CONTROLLER: CONTROLLER, EXIT_LIMIT: LIMIT}.get(
            ex.kind, DROPPED)
        assert ex.cause is not None
        why = self.annotator.explain_drop(host, visit, ex) if kind == DROPPED else None
        fate = OpenFlowFate(bridge=bridge, cause=ex.cause, table=ex.table, flow=ex.flow,
                            step=ex.step, explanation=why)
        return Branch((), disposition=Disposition(kind, host, bridge, fate))

    def _ovs_to_linux(self, host: str, bridge: str, port: str, packet: Packet,
                      state: SimState, ctx: _Ctx) -> Branch:
        """A copy leaving OVS by port: into the internal port's namespace, or out of the system
        interface."""
        matches = self._by_name.get((host, port), [])
        if not matches:
            gap = self.gaps.device(host, port)
            if gap is not None:
                return Branch((), disposition=incomplete(gap, host, bridge))
            return Branch((), disposition=Disposition(DROPPED, host, bridge, WalkFate(
                why=WalkWhy.NO_LINUX_DEVICE, device=port, bridge=bridge)))
        ns, itf = matches[0]
        if itf.kind == OVS_INTERNAL:
            via: tuple[Step, ...] = (InternalPort(port=port, bridge=bridge, namespace=ns.name),)
            return self._arrive(host, ns, itf, packet, state, ctx, via, from_ovs=True)
        return self._transmit(host, ns, itf, packet, state, ctx, ())

    def _transmit(self, host: str, ns: Namespace, itf: Interface, packet: Packet,
                  state: SimState, ctx: _Ctx, via: tuple[Step, ...]) -> Branch:
        """A frame sent out of ``itf``: into OVS (an internal port), to a veth/tap peer, or onto
        the physical segment of a NIC."""
        if itf.kind == OVS_INTERNAL and (host, itf.name) in self._ovs_ports:
            bridge, _ = self._ovs_ports[(host, itf.name)]
            wire: Step = InternalPort(port=itf.name, bridge=bridge, into_ovs=True)
            return self._ovs(host, bridge, itf.name, packet, state, ctx, via + (wire,))
        if itf.peer is not None:
            peer_ns_name = itf.peer_namespace or ""
            found = self._itf.get((host, peer_ns_name, itf.peer))
            if found is None:
                gap = self.gaps.device(host, itf.name)
                if gap is not None:
                    return Branch((), disposition=incomplete(gap, host, itf.name))
                return Branch((), disposition=Disposition(DROPPED, host, itf.name, WalkFate(
                    why=WalkWhy.PEER_MISSING, device=itf.name, peer=itf.peer)))
            pns, peer = found
            wire = PeerCrossing(device_kind=itf.kind, device=itf.name, peer=peer.name,
                                namespace=pns.name if pns.name != ns.name else "")
            return self._arrive(host, pns, peer, packet, state, ctx, via + (wire,))
        if itf.segment is not None:
            return self._segment(host, ns, itf, packet, state, ctx, via)
        gap = self.gaps.get(host, itf.name, "peer")
        if gap is not None:
            return Branch((), disposition=incomplete(gap, host, itf.name))
        return Branch((), disposition=Disposition(DROPPED, host, itf.name, WalkFate(
            why=WalkWhy.UNWIRED, device=itf.name)))

    def _arrive(self, host: str, ns: Namespace, itf: Interface, packet: Packet,
                state: SimState, ctx: _Ctx, via: tuple[Step, ...],
                from_ovs: bool = False) -> Branch:
        """A frame arriving at ``itf``: into OVS (a system port such as qvo…/eth3), into the
        Linux bridge it is enslaved to, or into its namespace's stack."""
        ovs = self._ovs_ports.get((host, itf.name))
        if ovs is not None and not from_ovs and ovs[1].type == "":
            return self._ovs(host, ovs[0], itf.name, packet, state, ctx, via)
        if itf.master is not None:
            return self._linux_bridge(host, ns, itf.master, itf.name, packet, state, ctx, via)
        key = (host, ns.name or "<root>", itf.name, packet)
        kind = self._ns_hop_kind(host, ns)
        element = ns.name or "<root>"
        stop = self._guard(ctx, key)
        if stop is not None:
            return _leaf(host, element, kind, itf.name, packet, via, stop)
        gap = self.gaps.namespace(host, ns, packet)
        if gap is not None:
            return _leaf(host, element, kind, itf.name, packet, via,
                         incomplete(gap, host, element))
        res = self._lx[host].receive(ns.name, itf.name, packet, state.linux, self.resolve)
        return self._linux_hop(host, ns, itf.name, packet, res, kind, state, ctx.visit(key), via)

    def _linux_bridge(self, host: str, ns: Namespace, bridge: str, in_port: str,
                      packet: Packet, state: SimState, ctx: _Ctx,
                      via: tuple[Step, ...]) -> Branch:
        """A frame entering a Linux bridge (qbr...) through in_port."""
        key = (host, bridge, in_port, packet)
        stop = self._guard(ctx, key)
        if stop is not None:
            return _leaf(host, bridge, HOP_LINUX_BRIDGE, in_port, packet, via, stop)
        gap = self.gaps.bridge_netfilter(host, ns, packet)
        if gap is not None:
            return _leaf(host, bridge, HOP_LINUX_BRIDGE, in_port, packet, via,
                         incomplete(gap, host, bridge))
        res = self._lx[host].bridge(bridge, in_port, packet, state.linux)
        hop = Hop(host, bridge, HOP_LINUX_BRIDGE, in_port, packet, via + res.steps)
        ctx = ctx.visit(key)
        conts = []
        for eg in res.outputs:
            out = self._itf.get((host, ns.name, eg.port))
            if out is None:
                branch = Branch((), disposition=Disposition(DROPPED, host, bridge, WalkFate(
                    why=WalkWhy.BRIDGE_PORT_MISSING, device=eg.port)))
            elif out[1].kind == "bridge":  # the bridge's own interface: its stack
                branch = self._arrive(host, ns, replace(out[1], master=None), eg.packet, state,
                                      ctx, ())
            else:
                branch = self._transmit(host, ns, out[1], eg.packet, state, ctx, ())
            conts.append((CopyOrigin(kind=CopyKind.OUTPUT, port=eg.port), branch, eg.port,
                          eg.packet))
        if not conts:
            return Branch((hop,), disposition=Disposition(
                res.disposition or DROPPED, host, bridge,
                res.cause or LinuxFate(why=LinuxWhy.NO_BRIDGE_PORT, bridge=bridge)))
        return _join(hop, conts)

    def _linux_hop(self, host: str, ns: Namespace, in_port: str, packet: Packet,
                   res: LinuxResult, kind: HopKind, state: SimState, ctx: _Ctx,
                   via: tuple[Step, ...]) -> Branch:
        """A namespace's stack and where what it sent goes."""
        element = ns.name or "<root>"
        hop = Hop(host, element, kind, in_port, packet, via + res.steps)
        conts = []
        for eg in res.outputs:
            found = self._itf.get((host, ns.name, eg.port))
            if found is None:
                branch = Branch((), disposition=Disposition(DROPPED, host, element, WalkFate(
                    why=WalkWhy.NO_INTERFACE, device=eg.port)))
            else:
                branch = self._transmit(host, ns, found[1], eg.packet, state, ctx, ())
            conts.append((CopyOrigin(kind=CopyKind.INTERFACE, port=eg.port), branch, eg.port,
                          eg.packet))
        if conts:
            return _join(hop, conts)
        disposition = res.disposition or DROPPED
        cause: Cause = res.cause or WalkFate(why=WalkWhy.NOTHING_SENT)
        if disposition == ACCEPTED:
            disposition, cause = self._accepted(host, ns, in_port, packet, cause, ctx)
        return Branch((hop,), disposition=Disposition(disposition, host, element, cause))

    def _accepted(self, host: str, ns: Namespace, in_port: str, packet: Packet, cause: Cause,
                  ctx: _Ctx) -> tuple[DispositionKind, Cause]:
        """A namespace's stack took the packet in: a VM's is delivery, an outside host's is the
        exit from the cloud, the rest keep the Linux engine's cause."""
        dst = packet.dst_ip or packet.arp_tpa
        if ns.kind == NS_VM:
            return DELIVERED, WalkFate(why=WalkWhy.DELIVERED_TO_VM, element=ns.name,
                                       device=in_port, ip=dst, host=host)
        if host == OUTSIDE:
            device, nic_host = ctx.exited_via
            return EXITED, WalkFate(why=WalkWhy.LEFT_THE_CLOUD, element=ns.name, ip=dst,
                                    device=device, host=nic_host)
        return ACCEPTED, cause

    def _segment(self, host: str, ns: Namespace, itf: Interface, packet: Packet,
                 state: SimState, ctx: _Ctx, via: tuple[Step, ...]) -> Branch:
        """The physical L2 segment behind a NIC: a learning switch between all its members."""
        seg = itf.segment or ""
        if itf.vlan is not None and packet.vlan_vid is None:
            tagged = packet.with_vlan(itf.vlan)
            via = via + (VlanTagging(device=itf.name, vlan=itf.vlan,
                                     changes=packet.diff(tagged)),)
            packet = tagged
        member = _member_key((host, ns, itf))
        key = (OUTSIDE, f"segment {seg}", member, packet)
        stop = self._guard(ctx, key)
        if stop is not None:
            return _leaf(OUTSIDE, seg, HOP_SEGMENT, member, packet, via, stop)
        if host and itf.kind == PHYSICAL:
            ctx = replace(ctx, exited_via=(itf.name, host))
        ctx = ctx.visit(key)
        fdb = state.linux.fdb_of(OUTSIDE, f"segment {seg}")
        steps = list(via)
        if not is_multicast_mac(packet.dl_src):
            if fdb.get(packet.dl_src) != member:
                steps.append(_segment_fdb(seg, FdbDecision.LEARNED, packet.dl_src, member))
            fdb[packet.dl_src] = member
        others = [t for t in self._segments.get(seg, []) if _member_key(t) != member]
        targets = others
        if not is_multicast_mac(packet.dl_dst):
            known = fdb.get(packet.dl_dst)
            owner = [t for t in others if t[2].mac == packet.dl_dst]
            if known is not None:
                targets = [t for t in others if _member_key(t) == known]
                steps.append(_segment_fdb(seg, FdbDecision.FORWARD, packet.dl_dst, known))
            elif owner:
                targets = owner
                steps.append(_segment_fdb(seg, FdbDecision.OWNER, packet.dl_dst,
                                          owner[0][2].name, _owner(owner[0])))
            else:
                steps.append(_segment_fdb(seg, FdbDecision.FLOOD_UNKNOWN, packet.dl_dst))
        else:
            steps.append(_segment_fdb(seg, FdbDecision.FLOOD_GROUP, packet.dl_dst))
        hop = Hop(OUTSIDE, seg, HOP_SEGMENT, member, packet, tuple(steps))
        conts = []
        for h, mns, m in targets:
            frame = packet
            wire = SegmentCrossing(segment=seg, device=m.name, owner=_owner((h, mns, m)))
            if m.vlan is not None:  # an 802.1Q VLAN device sees only its VLAN, untagged
                if packet.vlan_vid != m.vlan:
                    continue
                frame = packet.with_vlan(None)
                wire = SegmentCrossing(segment=seg, device=m.name, owner=_owner((h, mns, m)),
                                       vlan=m.vlan, changes=packet.diff(frame))
            conts.append((CopyOrigin(kind=CopyKind.SEGMENT, device=m.name, owner=h or mns.name),
                          self._arrive(h, mns, m, frame, state, ctx, (wire,)), m.name, frame))
        if not conts:
            return Branch((hop,), disposition=Disposition(DROPPED, OUTSIDE, seg, WalkFate(
                why=WalkWhy.SEGMENT_EMPTY, element=seg)))
        return _join(hop, conts)

    def _underlay(self, host: str, port: OvsPort, packet: Packet, state: SimState,
                  ctx: _Ctx) -> Branch:
        """Encapsulate, carry over the tunnel network, decapsulate on the remote br-tun."""
        local = packet.tun_src or port.option("local_ip") or ""
        remote = packet.tun_dst or port.option("remote_ip") or ""
        if ":" in local or ":" in remote:
            return Branch((), disposition=Disposition(DROPPED, host, port.name, WalkFate(
                why=WalkWhy.TUNNEL_IPV6, ip=remote if ":" in remote else local)))
        vni = packet.tun_id
        src_host = self._hosts.get(host)
        src_mac = _tunnel_mac(src_host, local)
        target = self.cloud.host_by_tunnel_ip(remote)
        dst_mac = _tunnel_mac(target, remote) if target else ""
        inner = packet.with_(tun_id=0, tun_src="", tun_dst="")
        outer = tunnel_encap(port.type, inner, vni, local, remote, src_mac, dst_mac)
        steps: tuple[Step, ...] = (TunnelStep(
            encap=True, tunnel_type=port.type, host=host, port=port.name, vni=vni,
            local_ip=local, remote_ip=remote, changes=packet.diff(outer)),
            *_underlay_route(src_host, local, remote))
        key = (OUTSIDE, "underlay", f"{host}:{port.name}", outer)
        stop = self._guard(ctx, key)
        if stop is not None:
            return _leaf(OUTSIDE, "underlay", HOP_UNDERLAY, f"{host}:{port.name}", outer, steps,
                         stop)
        ctx = ctx.visit(key)
        if target is None:
            hop = Hop(OUTSIDE, "underlay", HOP_UNDERLAY, f"{host}:{port.name}", outer, steps)
            gap = self.gaps.tunnel(host, port.name)
            if gap is not None:
                return Branch((hop,), disposition=incomplete(gap, OUTSIDE, "underlay"))
            return Branch((hop,), disposition=Disposition(DROPPED, OUTSIDE, "underlay", WalkFate(
                why=WalkWhy.NO_TUNNEL_HOST, ip=remote)))
        rport = self._tunnel_port(target, port.type, local)
        if rport is None:
            hop = Hop(OUTSIDE, "underlay", HOP_UNDERLAY, f"{host}:{port.name}", outer, steps)
            return Branch((hop,), disposition=Disposition(DROPPED, target.name, "br-tun", WalkFate(
                why=WalkWhy.NO_TUNNEL_PORT, host=target.name, peer=host, device=port.type,
                ip=local)))
        bridge, rp = rport
        hop = Hop(OUTSIDE, "underlay", HOP_UNDERLAY, f"{host}:{port.name}", outer, steps,
                  out_port=f"{target.name}:{rp.name}", out_packet=outer)
        decap = packet.with_(tun_id=vni, tun_src=local, tun_dst=remote)
        via = (TunnelStep(encap=False, tunnel_type=port.type, host=target.name, port=rp.name,
                          vni=vni, local_ip=local, remote_ip=remote),)
        rest = self._ovs(target.name, bridge, rp.name, decap, state, ctx, via)
        return replace(rest, hops=(hop,) + rest.hops)

    @staticmethod
    def _tunnel_port(host: HostState, kind: str, remote_ip: str) -> tuple[str, OvsPort] | None:
        """The tunnel port of kind on host whose remote_ip is remote_ip (or flow)."""
        for b in host.ovs_bridges:
            for p in b.ports:
                if p.type == kind and p.option("remote_ip") in (remote_ip, "flow"):
                    return b.name, p
        return None


# -- helpers ----------------------------------------------------------------------------------


def _net(cidr: str) -> str:
    """The network of an address with its prefix."""
    import ipaddress

    return str(ipaddress.ip_interface(cidr).network)


def _owner(t: tuple[str, Namespace, Interface]) -> str:
    """Whose a segment member is: its host, or the outside namespace it is in."""
    h, ns, _ = t
    return h or ns.name


def _segment_fdb(segment: str, decision: FdbDecision, mac: str, port: str = "",
                 owner: str = "") -> FdbStep:
    """A segment's learning-switch decision."""
    return FdbStep(switch=FdbSwitch.SEGMENT, decision=decision, element=segment, mac=mac,
                   port=port, owner=owner)


def _member_key(t: tuple[str, Namespace, Interface]) -> str:
    """A segment member's key in the segment's FDB: host:interface (outside:
    namespace:interface)."""
    h, ns, itf = t
    return f"{h}:{itf.name}" if h else f"{ns.name}:{itf.name}"


def _underlay_route(host: HostState | None, local: str, remote: str) -> tuple[RouteStep, ...]:
    """The route of the host's root namespace the outer packet leaves by (``10.0.1.0/24 dev
    eth2 ...``), when the namespace has more than one route to choose from; nothing for a
    host whose only route is its tunnel NIC's link (the tunnel network is then one wire)."""
    root = next((ns for ns in host.namespaces if ns.name == ""), None) if host else None
    if root is None or len(root.routes) < 2 or not remote:
        return ()
    found = Fib(root).lookup(remote, src=local)
    if found is None:
        return ()
    return (route_step(found[0], found[1], remote),)


def _tunnel_mac(host: HostState | None, ip: str) -> str:
    """The MAC of the interface of host that has the tunnel address ip."""
    if host is None:
        return ""
    for ns in host.namespaces:
        for itf in ns.interfaces:
            if any(c.split("/")[0] == ip for c in itf.addresses):
                return itf.mac or ""
    return ""


def _exit_origin(ex: OfExit) -> CopyOrigin:
    """Why a copy of an OVS visit exists."""
    if ex.kind == EXIT_PATCH and ex.next is not None:
        return CopyOrigin(kind=CopyKind.PATCH, port=ex.port or "", bridge=ex.next.bridge)
    if ex.kind == EXIT_OUTPUT:
        return CopyOrigin(kind=CopyKind.OUTPUT, port=ex.port or "")
    return CopyOrigin(kind=CopyKind.EXIT, exit=str(ex.kind))


def _leaf(host: str, element: str, kind: HopKind, in_port: str, packet: Packet,
          steps: tuple[Step, ...], disposition: Disposition) -> Branch:
    """A branch of one hop that ends in disposition."""
    return Branch((Hop(host, element, kind, in_port, packet, steps),), disposition=disposition)


def _join(hop: Hop, conts: Sequence[tuple[CopyOrigin | None, Branch, str | None, Packet | None]]
          ) -> Branch:
    """``hop`` followed by its continuations: one continues the same branch, several split."""
    if len(conts) == 1:
        _, rest, port, out = conts[0]
        hop = Hop(hop.host, hop.element, hop.kind, hop.in_port, hop.packet, hop.steps, port, out)
        return Branch((hop,) + rest.hops, rest.children, rest.disposition, rest.origin)
    children = tuple(Branch(b.hops, b.children, b.disposition, origin)
                     for origin, b, _, _ in conts)
    return Branch((hop,), children)

