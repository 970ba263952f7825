"""`LinuxEngine`: one host's Linux elements, the kernel's way (layer 3): a Linux bridge (FDB,
flooding, bridge netfilter), a namespace receiving a frame (ARP, proxy ARP, neighbour
solicitations, local delivery, forwarding), what its stack answers, and its own stack sending."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from neutrace.addr import is_multicast_mac
from neutrace.dataplane import BRIDGE, HostState, Interface, Namespace
from neutrace.engines.linuxnet.answers import echo_reply, icmp_error, is_echo_request, reject_answer
from neutrace.engines.linuxnet.fib import (
    Fib,
    RouteEntry,
    RuleEntry,
    addresses,
    primary_address,
    route_step,
)
from neutrace.engines.linuxnet.neighbour import neighbour
from neutrace.engines.linuxnet.state import LinuxState, Resolver, no_resolver
from neutrace.engines.netfilter import (
    ACCEPT,
    FORWARD,
    INPUT,
    OUTPUT,
    POSTROUTING,
    PREROUTING,
    HookContext,
    Netfilter,
    Traversal,
)
from neutrace.engines.results import Egress, LinuxResult
from neutrace.errors import SimulationError
from neutrace.packet import (
    ARP_REPLY,
    ARP_REQUEST,
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    ICMPV6_NA,
    ICMPV6_NS,
    IPPROTO_ICMPV6,
    Packet,
    arp_reply,
)
from neutrace.trace import (
    ACCEPTED,
    DENIED,
    DROPPED,
    NEIGHBOUR_UNRESOLVED,
    NO_ROUTE,
    BridgeNetfilterCopy,
    Denial,
    EthernetStep,
    FdbDecision,
    FdbStep,
    FdbSwitch,
    LinuxFate,
    LinuxWhy,
    NeighbourEvent,
    NeighbourStep,
    NetfilterVerdict,
    RouteStep,
    SourceAddressStep,
    Step,
    TtlStep,
)


class LinuxEngine:
    """One per `HostState`: parses every namespace's iptables/ipset text once (a malformed or
    unknown rule raises `neutrace.errors.SyntaxParseError` here, naming the namespace and line)."""

    def __init__(self, host: HostState) -> None:
        self.host = host
        self._ns: dict[str, Namespace] = {ns.name: ns for ns in host.namespaces}
        self._fib: dict[str, Fib] = {}
        self._nf: dict[str, Netfilter] = {}
        for ns in host.namespaces:
            fib = Fib(ns)
            self._fib[ns.name] = fib
            label = f"{host.name or '<external>'} namespace {ns.name or '<root>'}"
            self._nf[ns.name] = Netfilter(ns.iptables, ns.ip6tables, ns.ipsets, label,
                                          _addrs_of(fib))
        self._bridge_ns: dict[str, str] = {}
        for ns in host.namespaces:
            for itf in ns.interfaces:
                if itf.kind == BRIDGE:
                    self._bridge_ns[itf.name] = ns.name
                if itf.master is not None:
                    self._bridge_ns.setdefault(itf.master, ns.name)

    # -- helpers ---------------------------------------------------------------------------
    def namespace(self, name: str) -> Namespace:
        ns = self._ns.get(name)
        if ns is None:
            if name == "":
                return Namespace(name="")
            raise SimulationError(f"host {self.host.name!r} has no network namespace {name!r} "
                                  "(the walker asked for an element that is not in HostState)")
        return ns

    def fib(self, namespace: str) -> Fib:
        return self._fib.get(namespace) or Fib(self.namespace(namespace))

    def netfilter(self, namespace: str) -> Netfilter:
        nf = self._nf.get(namespace)
        if nf is None:
            nf = self._nf[namespace] = Netfilter(source=f"{self.host.name} {namespace}")
        return nf

    def _traversal(self, namespace: str, packet: Packet, state: LinuxState) -> Traversal:
        ns = self.namespace(namespace)
        fib = self.fib(namespace)

        def nat_addr(kind: str, ctx: HookContext) -> str:
            dev = ctx.out_dev if kind == "MASQUERADE" else ctx.in_dev
            if kind == "REDIRECT" and not dev:
                return "::1" if packet.is_ipv6 else "127.0.0.1"
            return primary_address(ns.interface(dev), packet.is_ipv6) or next(
                iter(sorted(fib.local_addrs)), "")

        return Traversal(self.netfilter(namespace), state.conntrack_of(self.host.name, namespace),
                         packet, nat_addr)

    # -- Linux bridge ----------------------------------------------------------------------
    def bridge(self, bridge: str, in_port: str, packet: Packet, state: LinuxState) -> LinuxResult:
        """A frame entering Linux bridge ``bridge`` through its port ``in_port``."""
        ns_name = self._bridge_ns.get(bridge)
        if ns_name is None:
            return LinuxResult((), (), DROPPED, LinuxFate(why=LinuxWhy.NO_BRIDGE, bridge=bridge,
                                                          host=self.host.name))
        ns = self.namespace(ns_name)
        ports = [i for i in ns.bridge_ports(bridge) if i.up]
        port_names = {p.name for p in ports}
        steps: list[Step] = []
        if in_port not in port_names:
            return LinuxResult((), (), DROPPED, LinuxFate(
                why=LinuxWhy.NOT_A_BRIDGE_PORT, device=in_port, bridge=bridge))
        fdb = state.fdb_of(self.host.name, bridge)
        if not is_multicast_mac(packet.dl_src):
            if fdb.get(packet.dl_src) != in_port:
                steps.append(_bridge_fdb(bridge, FdbDecision.LEARNED, packet.dl_src, in_port))
            fdb[packet.dl_src] = in_port
        bridge_itf = ns.interface(bridge)
        if bridge_itf is not None and bridge_itf.mac and packet.dl_dst == bridge_itf.mac:
            steps.append(_bridge_fdb(bridge, FdbDecision.OWN_ADDRESS, packet.dl_dst))
            inner = self._receive(ns_name, bridge, packet, state, no_resolver, in_port)
            return LinuxResult(tuple(steps) + inner.steps,
                               self._from_bridge_device(bridge, ports, inner.outputs, state),
                               inner.disposition, inner.cause)
        local: LinuxResult | None = None
        if is_multicast_mac(packet.dl_dst) and bridge_itf is not None and bridge_itf.addresses:
            # a broadcast also goes up to the bridge device's own stack (ARP for its address)
            local = self._receive(ns_name, bridge, packet, state, no_resolver, in_port)
            steps.extend(local.steps)
        if is_multicast_mac(packet.dl_dst):
            outs = [p.name for p in ports if p.name != in_port]
            steps.append(_bridge_fdb(bridge, FdbDecision.FLOOD_GROUP, packet.dl_dst,
                                     ports=tuple(outs)))
        elif packet.dl_dst in fdb:
            port = fdb[packet.dl_dst]
            if port == in_port:
                steps.append(_bridge_fdb(bridge, FdbDecision.INPUT_PORT_DROP, packet.dl_dst,
                                         in_port))
                return LinuxResult(tuple(steps), (), DROPPED, LinuxFate(
                    why=LinuxWhy.BEHIND_INPUT_PORT, bridge=bridge, mac=packet.dl_dst,
                    device=in_port))
            outs = [port] if port in port_names else []
            steps.append(_bridge_fdb(bridge, FdbDecision.FORWARD, packet.dl_dst, port))
        else:
            outs = [p.name for p in ports if p.name != in_port]
            steps.append(_bridge_fdb(bridge, FdbDecision.FLOOD_UNKNOWN, packet.dl_dst,
                                     ports=tuple(outs)))
        answered = self._from_bridge_device(bridge, ports, local.outputs, state) if local else ()
        if not outs:
            if answered:
                return LinuxResult(tuple(steps), answered)
            return LinuxResult(tuple(steps), (), DROPPED, LinuxFate(why=LinuxWhy.NO_BRIDGE_PORT,
                                                                    bridge=bridge))
        nf_on = ns.sysctl("net.bridge.bridge-nf-call-iptables", "1") == "1"
        ipish = packet.dl_type in (ETH_TYPE_IP, ETH_TYPE_IPV6) and packet.vlan_vid is None
        if packet.is_ipv6:
            nf_on = ns.sysctl("net.bridge.bridge-nf-call-ip6tables", "1") == "1"
        if not (nf_on and ipish):
            return LinuxResult(tuple(steps), tuple(Egress(p, packet) for p in outs) + answered)
        trav = self._traversal(ns_name, packet, state)
        trav.steps = steps
        pre = HookContext(in_dev=bridge, physdev_in=in_port, bridged=True)
        verdict = trav.hook(PREROUTING, pre)
        if verdict != ACCEPT:
            return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
        outputs: list[Egress] = []
        verdicts: list[NetfilterVerdict] = []
        for port in outs:
            copy = trav.fork()
            copy.depth = 1
            fwd = HookContext(in_dev=bridge, out_dev=bridge, physdev_in=in_port,
                              physdev_out=port, bridged=True)
            post = HookContext(out_dev=bridge, physdev_in=in_port, physdev_out=port,
                               bridged=True)
            copy.steps.append(BridgeNetfilterCopy(port=port, depth=copy.depth))
            verdict = copy.hook(FORWARD, fwd)
            if verdict == ACCEPT:
                verdict = copy.hook(POSTROUTING, post)
            trav.steps.extend(copy.steps)
            if verdict == ACCEPT:
                outputs.append(Egress(port, copy.packet))
            elif copy.verdict is not None:
                verdicts.append(copy.verdict)
        if outputs or answered:
            return LinuxResult(tuple(trav.steps), tuple(outputs) + answered)
        return LinuxResult(tuple(trav.steps), (), DENIED, Denial(verdicts=tuple(verdicts)))

    def _from_bridge_device(self, bridge: str, ports: list[Interface],
                            outputs: tuple[Egress, ...], state: LinuxState) -> tuple[Egress, ...]:
        """Frames the bridge device's own stack sent: forwarded by the FDB (or flooded)."""
        fdb = state.fdb_of(self.host.name, bridge)
        out: list[Egress] = []
        for e in outputs:
            if e.port != bridge:
                out.append(e)
            elif not is_multicast_mac(e.packet.dl_dst) and e.packet.dl_dst in fdb:
                out.append(Egress(fdb[e.packet.dl_dst], e.packet))
            else:
                out += [Egress(p.name, e.packet) for p in ports]
        return tuple(out)

    # -- a namespace receiving a frame -----------------------------------------------------
    def receive(self, namespace: str, interface: str, packet: Packet, state: LinuxState,
                resolve: Resolver) -> LinuxResult:
        return self._receive(namespace, interface, packet, state, resolve)

    def _receive(self, namespace: str, interface: str, packet: Packet, state: LinuxState,
                 resolve: Resolver, physdev_in: str | None = None) -> LinuxResult:
        """`receive`; ``physdev_in`` is the bridge port a frame for the bridge device itself came
        in by (br_netfilter keeps it for PREROUTING and INPUT)."""
        ns = self.namespace(namespace)
        itf = ns.interface(interface)
        if itf is None:
            return LinuxResult((), (), DROPPED, LinuxFate(why=LinuxWhy.NO_INTERFACE,
                                                          namespace=namespace, device=interface))
        if itf.master is not None:
            return self.bridge(itf.master, interface, packet, state)
        if not itf.up:
            return LinuxResult((), (), DROPPED, LinuxFate(why=LinuxWhy.INTERFACE_DOWN,
                                                          device=interface))
        if packet.vlan_vid is not None:
            return LinuxResult((), (), DROPPED, LinuxFate(
                why=LinuxWhy.UNKNOWN_VLAN, device=interface, number=packet.vlan_vid))
        if itf.mac and packet.dl_dst != itf.mac and not is_multicast_mac(packet.dl_dst):
            return LinuxResult((), (), DROPPED, LinuxFate(
                why=LinuxWhy.OTHER_HOST, device=interface, mac=itf.mac, ip=packet.dl_dst))
        if packet.is_arp:
            return self._arp(ns, itf, packet, state)
        if packet.is_ipv6 and packet.nw_proto == IPPROTO_ICMPV6 and packet.tp_src == ICMPV6_NS \
                and (packet.ipv6_dst.lower().startswith("ff02:")
                     or self.fib(ns.name).is_local(packet.ipv6_dst)):
            # ndisc_rcv sees only what is delivered locally (solicited-node multicast or ours)
            return self._ndisc(ns, itf, packet, state)
        if not (packet.is_ip or packet.is_ipv6):
            return LinuxResult((), (), DROPPED, LinuxFate(
                why=LinuxWhy.NO_PROTOCOL, device=interface, number=packet.dl_type))
        return self._ip_rcv(ns, itf, packet, state, resolve, physdev_in)

    def _arp(self, ns: Namespace, itf: Interface, packet: Packet,
             state: LinuxState) -> LinuxResult:
        cache = state.neighbour_cache(self.host.name, ns.name)
        steps: list[Step] = []
        fib = self.fib(ns.name)
        if packet.arp_op == ARP_REQUEST:
            if packet.arp_tpa not in fib.local_addrs:
                proxied = self._proxy_arp(ns, itf, packet, cache)
                if proxied is not None:
                    return proxied
            # IN_DEV_ARP_IGNORE: the larger of conf.all and conf.<dev>
            ignore = str(max(int(ns.sysctl(f"net.ipv4.conf.{itf.name}.arp_ignore", "0")),
                             int(ns.sysctl("net.ipv4.conf.all.arp_ignore", "0"))))
            mine = packet.arp_tpa in fib.local_addrs
            if ignore in ("1", "2"):  # the target must be configured on the receiving interface
                mine = mine and packet.arp_tpa in addresses(itf)
            if ignore == "2" and mine:
                # ... and one subnet of the interface holds both target and sender
                # (inet_confirm_addr / confirm_addr_indev)
                target = ipaddress.ip_address(packet.arp_tpa)
                sender = ipaddress.ip_address(packet.arp_spa or "0.0.0.0")
                nets = [ipaddress.ip_interface(a).network for a in itf.addresses
                        if ipaddress.ip_interface(a).version == 4]
                mine = any(target in n and sender in n for n in nets)
            if ignore == "8":
                mine = False
            if not mine:
                return LinuxResult((), (), DROPPED, LinuxFate(
                    why=LinuxWhy.ARP_NOT_MINE, ip=packet.arp_tpa, namespace=ns.name,
                    knob=ignore))
            mac = itf.mac or "00:00:00:00:00:00"
            cache[(itf.name, packet.arp_spa)] = packet.arp_sha
            steps.append(NeighbourStep(event=NeighbourEvent.LEARNED, ip=packet.arp_spa,
                                       mac=packet.arp_sha, device=itf.name, namespace=ns.name))
            reply = arp_reply(mac, packet.arp_tpa, packet.arp_sha, packet.arp_spa)
            steps.append(NeighbourStep(event=NeighbourEvent.ARP_REPLY, ip=packet.arp_tpa,
                                       mac=mac, device=itf.name, namespace=ns.name))
            return LinuxResult(tuple(steps), (Egress(itf.name, reply),))
        if packet.arp_op == ARP_REPLY:
            cache[(itf.name, packet.arp_spa)] = packet.arp_sha
            steps.append(NeighbourStep(event=NeighbourEvent.LEARNED, ip=packet.arp_spa,
                                       mac=packet.arp_sha, device=itf.name, namespace=ns.name))
            return LinuxResult(tuple(steps), (), ACCEPTED, LinuxFate(
                why=LinuxWhy.ARP_REPLY_CACHED, ip=packet.arp_spa))
        return LinuxResult((), (), DROPPED, LinuxFate(why=LinuxWhy.ARP_OP_IGNORED,
                                                      number=packet.arp_op))

    def proxy_arp_route(self, namespace: str, dev: str, target: str,
                        sender: str) -> tuple[RuleEntry, RouteEntry] | None:
        """The route that makes ``dev`` of ``namespace`` answer ARP for ``target`` by proxy
        (forwarding and proxy_arp on, the input route unicast out of another device), if any."""
        ns = self.namespace(namespace)
        forwarding = ns.sysctl(f"net.ipv4.conf.{dev}.forwarding",
                               ns.sysctl("net.ipv4.ip_forward", "0")) == "1"
        proxy = "1" in (ns.sysctl("net.ipv4.conf.all.proxy_arp", "0"),
                        ns.sysctl(f"net.ipv4.conf.{dev}.proxy_arp", "0"))
        fib = self.fib(namespace)
        if not (forwarding and proxy) or target in fib.local_addrs:
            return None
        found = fib.lookup(target, sender, 0, dev)
        if found is None or found[1].kind != "unicast" or found[1].device == dev:
            return None
        return found

    def _proxy_arp(self, ns: Namespace, itf: Interface, packet: Packet,
                   cache: dict[tuple[str, str], str]) -> LinuxResult | None:
        """``arp_process``'s proxy branch: a request for an address that is not local, received
        where forwarding and ``proxy_arp`` (conf.all or conf.<dev>) are on, is answered with
        the device's own MAC when the input route to the target (``ip_route_input`` from the
        sender, iif the device) is unicast out of *another* device (``arp_fwd_proxy``). With
        ``proxy_delay`` the kernel queues the answer that long; it still goes out."""
        dev = itf.name
        found = self.proxy_arp_route(ns.name, dev, packet.arp_tpa, packet.arp_spa or "")
        if found is None:
            return None
        rule, route = found
        mac = itf.mac or "00:00:00:00:00:00"
        cache[(dev, packet.arp_spa)] = packet.arp_sha
        delay = ns.sysctl(f"net.ipv4.neigh.{dev}.proxy_delay", "")
        steps = (
            NeighbourStep(event=NeighbourEvent.LEARNED, ip=packet.arp_spa, mac=packet.arp_sha,
                          device=dev, namespace=ns.name),
            route_step(rule, route, packet.arp_tpa),
            NeighbourStep(event=NeighbourEvent.PROXY_ARP, ip=packet.arp_tpa, mac=mac, device=dev,
                          namespace=ns.name, via=route.device, delay=delay),
        )
        reply = arp_reply(mac, packet.arp_tpa, packet.arp_sha, packet.arp_spa)
        return LinuxResult(steps, (Egress(dev, reply),))

    def _ndisc(self, ns: Namespace, itf: Interface, packet: Packet,
               state: LinuxState) -> LinuxResult:
        target = packet.nd_target
        # ndisc_recv_ns answers for an address of the receiving device only (ipv6_get_ifaddr
        # with the device): no weak host model for IPv6, unlike ARP with arp_ignore=0
        if target not in {str(ipaddress.ip_interface(a).ip) for a in itf.addresses}:
            return LinuxResult((), (), DROPPED, LinuxFate(why=LinuxWhy.ND_NOT_MINE, ip=target,
                                                          namespace=ns.name, device=itf.name))
        mac = itf.mac or "00:00:00:00:00:00"
        if packet.nd_sll:
            state.neighbour_cache(self.host.name, ns.name)[(itf.name, packet.ipv6_src)] = (
                packet.nd_sll)
        reply = packet.with_(dl_src=mac, dl_dst=packet.dl_src, ipv6_src=target,
                             ipv6_dst=packet.ipv6_src, tp_src=ICMPV6_NA, tp_dst=0,
                             nd_target=target, nd_sll="", nd_tll=mac, nw_ttl=255)
        step = NeighbourStep(event=NeighbourEvent.ADVERTISEMENT, ip=target, mac=mac,
                             device=itf.name, namespace=ns.name, ipv6=True)
        return LinuxResult((step,), (Egress(itf.name, reply),))

    def _ip_rcv(self, ns: Namespace, itf: Interface, packet: Packet, state: LinuxState,
                resolve: Resolver, physdev_in: str | None = None) -> LinuxResult:
        local_ctx = HookContext(in_dev=itf.name, physdev_in=physdev_in,
                                bridged=physdev_in is not None)
        trav = self._traversal(ns.name, packet, state)
        if trav.hook(PREROUTING, local_ctx) != ACCEPT:
            return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
        pkt = trav.packet
        fib = self.fib(ns.name)
        nsname = ns.name
        if fib.is_local(pkt.dst_ip):
            trav.steps.append(RouteStep(destination=pkt.dst_ip, namespace=ns.name, local=True))
            if trav.hook(INPUT, local_ctx) != ACCEPT:
                return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
            return LinuxResult(tuple(trav.steps), (), ACCEPTED, LinuxFate(
                why=LinuxWhy.LOCAL_DELIVERY, packet=pkt, namespace=nsname,
                echo=is_echo_request(pkt)))
        if ipaddress.ip_address(pkt.dst_ip).is_multicast:
            return LinuxResult(tuple(trav.steps), (), DROPPED, LinuxFate(
                why=LinuxWhy.MULTICAST_NOT_ROUTED, namespace=nsname, ip=pkt.dst_ip))
        forwarding = ns.sysctl("net.ipv6.conf.all.forwarding", "0") == "1" if pkt.is_ipv6 \
            else ns.ip_forward
        if not forwarding:
            knob = "net.ipv6.conf.all.forwarding" if pkt.is_ipv6 else "net.ipv4.ip_forward"
            return LinuxResult(tuple(trav.steps), (), DROPPED, LinuxFate(
                why=LinuxWhy.NOT_FORWARDING, namespace=nsname, ip=pkt.dst_ip, knob=knob))
        found = fib.lookup(pkt.dst_ip, pkt.src_ip, trav.meta.mark, itf.name)
        if found is None:
            return LinuxResult(tuple(trav.steps), (), NO_ROUTE, LinuxFate(
                why=LinuxWhy.NO_ROUTE, namespace=nsname, ip=pkt.dst_ip))
        rule, route = found
        trav.steps.append(route_step(rule, route, pkt.dst_ip))
        if route.kind != "unicast":
            return LinuxResult(tuple(trav.steps), (), DROPPED, LinuxFate(
                why=LinuxWhy.ROUTE_KIND, namespace=nsname, ip=pkt.dst_ip, knob=route.kind))
        if pkt.nw_ttl <= 1:
            return LinuxResult(tuple(trav.steps), (), DROPPED, LinuxFate(
                why=LinuxWhy.TTL_EXPIRED, namespace=nsname, number=pkt.nw_ttl))
        before = pkt
        trav.packet = pkt.with_(nw_ttl=pkt.nw_ttl - 1)
        trav.steps.append(TtlStep(before=before.nw_ttl, after=before.nw_ttl - 1,
                                  changes=before.diff(trav.packet)))
        fwd = HookContext(in_dev=itf.name, out_dev=route.device, physdev_in=physdev_in,
                          bridged=physdev_in is not None)
        if trav.hook(FORWARD, fwd) != ACCEPT:
            return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
        return self._finish_output(ns, trav, route, state, resolve, physdev_in)

    def _finish_output(self, ns: Namespace, trav: Traversal, route: RouteEntry,
                       state: LinuxState, resolve: Resolver,
                       physdev_in: str | None = None) -> LinuxResult:
        post = HookContext(out_dev=route.device, physdev_in=physdev_in,
                           bridged=physdev_in is not None)
        if trav.hook(POSTROUTING, post) != ACCEPT:
            return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
        pkt = trav.packet
        out = ns.interface(route.device)
        nexthop = route.gateway or pkt.dst_ip
        mac = neighbour(self.host.name, ns, route.device, nexthop, state, resolve, trav.steps)
        if mac is None:
            return LinuxResult(tuple(trav.steps), (), NEIGHBOUR_UNRESOLVED, LinuxFate(
                why=LinuxWhy.NO_ARP_ANSWER, namespace=ns.name, ip=nexthop, device=route.device))
        src_mac = (out.mac if out is not None and out.mac else pkt.dl_src)
        final = pkt.with_(dl_src=src_mac, dl_dst=mac)
        changes = pkt.diff(final)
        if changes:
            trav.steps.append(EthernetStep(device=route.device, src=src_mac, dst=mac,
                                           changes=changes))
        egress: tuple[Egress, ...] = (Egress(route.device, final),)
        if out is not None and out.kind == BRIDGE:  # sent through a Linux bridge's own device
            ports = [i for i in ns.bridge_ports(out.name) if i.up]
            egress = self._from_bridge_device(out.name, ports, egress, state)
        return LinuxResult(tuple(trav.steps), egress)

    # -- what the kernel answers -----------------------------------------------------------
    def answer(self, namespace: str, interface: str, packet: Packet, result: LinuxResult,
               state: LinuxState, resolve: Resolver) -> LinuxResult | None:
        """What ``namespace``'s own stack sends back after `receive` gave ``result`` for
        ``packet`` (received on ``interface``), routed and filtered like `send`: the echo reply
        for an accepted ICMP/ICMPv6 echo request; ICMP destination unreachable (network) for
        ``no_route``; ICMP time exceeded for an expired TTL; a REJECT's answer
        (``--reject-with``, icmp-port-unreachable by default, tcp-reset as a TCP RST). None when
        the kernel sends nothing (DROP, ARP, anything else). ICMP errors come from the receiving
        interface's address (a TCP reset, or a REJECT of a packet for the namespace itself, from
        the rejected packet's destination) and quote the packet in ``payload``; conntrack sees
        them as RELATED to its connection."""
        if not (packet.is_ip or packet.is_ipv6):
            return None
        delivered = packet
        for step in result.steps:
            for change in step.changes:
                delivered = delivered.with_(**{change.field: change.after})
        reply: Packet | None = None
        if result.disposition == ACCEPTED and is_echo_request(delivered):
            reply = echo_reply(delivered).with_(dl_src="", dl_dst="")
        elif packet.is_ip:
            own = primary_address(self.namespace(namespace).interface(interface), False)
            if result.disposition == NO_ROUTE and own:
                reply = icmp_error(packet, own, 3, 0)
            elif result.disposition == DROPPED and own and isinstance(result.cause, LinuxFate) \
                    and result.cause.why is LinuxWhy.TTL_EXPIRED:
                reply = icmp_error(packet, own, 11, 0)
            elif result.disposition == DENIED:
                # icmp_send: the rejected packet's destination when it was for us, else the
                # address the error leaves from (the receiving interface's, back to the sender)
                local = self.fib(namespace).is_local(delivered.nw_dst)
                reply = reject_answer(result, delivered, delivered.nw_dst if local else own)
        if reply is None:
            return None
        return self.send(namespace, reply, state, resolve)

    # -- the namespace's own stack sending -------------------------------------------------
    def send(self, namespace: str, packet: Packet, state: LinuxState,
             resolve: Resolver) -> LinuxResult:
        """``namespace``'s own stack sends an IP packet: route, source address, OUTPUT,
        POSTROUTING (or the loopback), neighbour, out."""
        ns = self.namespace(namespace)
        fib = self.fib(namespace)
        nsname = namespace
        if not (packet.is_ip or packet.is_ipv6):
            return LinuxResult((), (), DROPPED, LinuxFate(why=LinuxWhy.SEND_NOT_IP,
                                                          namespace=nsname))
        steps: list[Step] = []
        found = fib.lookup(packet.dst_ip, packet.src_ip, 0, "lo")
        if found is None:
            return LinuxResult((), (), NO_ROUTE, LinuxFate(why=LinuxWhy.UNREACHABLE,
                                                           namespace=nsname, ip=packet.dst_ip))
        rule, route = found
        steps.append(route_step(rule, route, packet.dst_ip))
        if route.kind == "blackhole":
            return LinuxResult(tuple(steps), (), DROPPED, LinuxFate(
                why=LinuxWhy.BLACKHOLE, namespace=nsname, ip=packet.dst_ip))
        if not packet.src_ip:
            src = route.source or primary_address(ns.interface(route.device), packet.is_ipv6,
                                                  route.gateway or packet.dst_ip)
            if not src:
                return LinuxResult(tuple(steps), (), NO_ROUTE, LinuxFate(
                    why=LinuxWhy.NO_SOURCE_ADDRESS, namespace=nsname, device=route.device))
            packet = packet.with_(nw_src=src) if packet.is_ip else packet.with_(ipv6_src=src)
            steps.append(SourceAddressStep(address=src))
        out = ns.interface(route.device)
        if out is not None and out.mac and not packet.dl_src:
            packet = packet.with_(dl_src=out.mac)
        trav = self._traversal(namespace, packet, state)
        trav.steps = steps
        local = route.kind in ("local", "broadcast")
        ctx = HookContext(out_dev="lo" if local else route.device)
        if trav.hook(OUTPUT, ctx) != ACCEPT:
            return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
        if trav.packet.dst_ip != packet.dst_ip or trav.meta.mark:
            again = fib.lookup(trav.packet.dst_ip, trav.packet.src_ip, trav.meta.mark, "lo")
            if again is None:
                return LinuxResult(tuple(trav.steps), (), NO_ROUTE, LinuxFate(
                    why=LinuxWhy.NO_ROUTE_AFTER_NAT, namespace=nsname, ip=trav.packet.dst_ip))
            if again[1] != route:
                rule, route = again
                trav.steps.append(route_step(rule, route, trav.packet.dst_ip, reroute=True))
                local = route.kind in ("local", "broadcast")
        if local:
            # looped back: POSTROUTING, then in again through lo (PREROUTING with the
            # connection already attached, INPUT)
            if trav.hook(POSTROUTING, HookContext(out_dev="lo")) != ACCEPT:
                return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
            if trav.hook(PREROUTING, HookContext(in_dev="lo")) != ACCEPT:
                return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
            if trav.hook(INPUT, HookContext(in_dev="lo")) != ACCEPT:
                return LinuxResult(tuple(trav.steps), (), DENIED, _denial(trav))
            return LinuxResult(tuple(trav.steps), (), ACCEPTED, LinuxFate(
                why=LinuxWhy.LOOPBACK_DELIVERY, packet=trav.packet, namespace=nsname))
        return self._finish_output(ns, trav, route, state, resolve)


def _denial(trav: Traversal) -> Denial:
    """The netfilter verdict that stopped ``trav``."""
    assert trav.verdict is not None
    return Denial(verdicts=(trav.verdict,))


def _addrs_of(fib: Fib) -> Callable[[], frozenset[str]]:
    return lambda: frozenset(fib.local_addrs)


def _bridge_fdb(bridge: str, decision: FdbDecision, mac: str, port: str = "",
                ports: tuple[str, ...] = ()) -> FdbStep:
    """A Linux bridge's FDB decision."""
    return FdbStep(switch=FdbSwitch.LINUX_BRIDGE, decision=decision, element=bridge, mac=mac,
                   port=port, ports=ports)
