"""Many captured hosts as one cloud (layer 3): `import_cloud` turns sosreports, ``neutrace
collect`` folders and their archives into a `CloudState`, the same the agents produce.

Sources: a capture folder, an archive (``.tar.xz``...: extracted safely into a temporary
folder, removed when the import is done; `neutrace.importers.archive`), or a folder holding
several of them. Hosts are joined as the cloud joins them:

- **physical networks**: each host's NICs on a physical bridge plug into the segment named
  after the physical network its ``bridge_mappings`` map to that bridge (a host without agent
  configuration names it after the bridge, or after the physical network another host maps to a
  bridge of the same name);
- **tunnels**: each host's tunnel IP (``local_ip``); a tunnel port whose ``remote_ip`` no
  captured host has is a gap (a walk tunnelled there stops, naming the missing host);
- **VMs**: each host's VMs (`neutrace.importers.vms`), their addresses and routes found on any
  host (the DHCP agent's files and ports, the routers' interfaces).

The result (`ImportedCloud`) holds the warm state (as captured: learned flows kept, learned
MACs, FDB entries, neighbours and connections in `ImportedCloud.learned`) and the cold one
(learned flows left out), and every diagnostic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from neutrace.dataplane import (
    NS_DHCP,
    NS_HOST,
    NS_ROUTER,
    NS_VM,
    TAP,
    CloudState,
    Gap,
    HostState,
    Learned,
    Namespace,
    OvsBridge,
    Segment,
)
from neutrace.errors import InputError
from neutrace.importers import archive
from neutrace.importers.agent_conf import AgentConf
from neutrace.importers.diagnostics import Diagnostic
from neutrace.importers.host import HostParts, read_linux_side, read_ovs_side
from neutrace.importers.layout import Capture
from neutrace.importers.linux_capture import TUNNEL_SEGMENT, with_vm_peers
from neutrace.importers.vms import DhcpTables, Subnet, antispoof, build_vm


@dataclass(frozen=True)
class ImportedCloud:
    """An imported cloud: its state warm (as captured) and cold (learned flows left out), what
    its hosts had learned, and every diagnostic."""

    warm: CloudState
    cold: CloudState
    learned: tuple[tuple[str, Learned], ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: tuple[tuple[str, str], ...]  # host -> the capture it came from
    agents: tuple[tuple[str, AgentConf], ...] = ()  # host -> its OVS agent's configuration

    def state(self, cold: bool = False) -> CloudState:
        """The state a walk should use."""
        return self.cold if cold else self.warm

    def learned_of(self, host: str) -> Learned:
        """What ``host`` had learned (nothing for a host it does not know)."""
        return dict(self.learned).get(host, Learned())


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """The captures named by ``paths``: each a capture folder or archive, or a folder holding
    several (its sub-folders and archives)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise InputError(str(p), "", "no such file or folder", "check the path")
        if p.is_file():
            if not archive.is_archive(p):
                raise InputError(str(p), "", "not a folder and not an archive neutrace reads "
                                 f"({', '.join(archive.SUFFIXES)})",
                                 "give a sosreport or `neutrace collect` folder or archive")
            out.append(p)
        elif (p / "sos_commands").is_dir() or (p / "neutrace-collect.json").is_file():
            out.append(p)
        else:
            inner = sorted(q for q in p.iterdir() if (q.is_dir() and (
                (q / "sos_commands").is_dir() or (q / "neutrace-collect.json").is_file()))
                or archive.is_archive(q))
            if not inner:
                raise InputError(str(p), "", "not a sosreport or `neutrace collect` folder, and "
                                 "it holds none", "give the capture's folder or archive")
            out += inner
    return out


def import_cloud(paths: Sequence[str | Path]) -> ImportedCloud:
    """Import the hosts of ``paths`` (see `expand`) as one cloud, in the order given (a
    folder's captures in the order of their names): where the walk floods, its copies are
    listed in that order."""
    temps: list[Path] = []
    try:
        caps = []
        for p in expand(paths):
            if p.is_file():
                tmp, root = archive.extract(p)
                temps.append(tmp)
                caps.append(Capture(root, label=str(p)))
            else:
                caps.append(Capture(p))
        return _join([read_ovs_side(c) for c in caps])
    finally:
        for t in temps:
            archive.remove(t)


# -- joining -----------------------------------------------------------------------------------


def _physnets(parts: list[HostParts]) -> dict[str, dict[str, str]]:
    """Per host: OVS bridge -> the physical network (segment) its NICs plug into."""
    configured: dict[str, set[str]] = {}
    for h in parts:
        if not h.conf.inferred:
            for physnet, br in h.conf.bridge_mappings:
                configured.setdefault(br, set()).add(physnet)
    out = {}
    for h in parts:
        m = {}
        for physnet, br in h.conf.bridge_mappings:
            if h.conf.inferred and len(configured.get(br, ())) == 1:
                physnet = next(iter(configured[br]))
            m[br] = physnet
        out[h.name] = m
    return out


def _join(parts: list[HostParts]) -> ImportedCloud:
    seen: dict[str, str] = {}
    for h in parts:
        if h.name in seen:
            raise InputError(h.cap.label, "", f"host {h.name!r} is captured twice (also in "
                             f"{seen[h.name]})", "give each host's capture once")
        seen[h.name] = h.cap.label
    physnets = _physnets(parts)
    dhcp = DhcpTables()
    for h in parts:
        read_linux_side(h, physnets[h.name], dhcp)
    subnets = _subnets(parts)
    tunnel_ips = {h.tunnel_ip: h.name for h in parts if h.tunnel_ip}
    warm_hosts, cold_hosts, learned = [], [], []
    for h in parts:
        namespaces = list(_mark_vms(h.linux.namespaces))
        root = next(n for n in namespaces if n.name == "")
        spoof = antispoof(root.iptables, root.ip6tables)
        taps: dict[str, tuple[str, str]] = {}
        for plan in h.vms:
            links = {lk.ifname: lk for lk in h.linux.links.get("", ())}
            plan = replace(plan, nics=tuple(
                replace(n, mtu=n.mtu or (links[n.tap].mtu if n.tap in links else None))
                for n in plan.nics))
            vm = build_vm(plan, dhcp, spoof, subnets, h.found)
            namespaces.append(vm)
            taps.update({n.tap: (vm.name, f"eth{i}") for i, n in enumerate(plan.nics)})
        namespaces = [with_vm_peers(n, taps) if n.name == "" else n for n in namespaces]
        _check_tunnels(h, tunnel_ips)
        state = HostState(name=h.name, tunnel_ip=h.tunnel_ip, ovs_bridges=h.bridges,
                          namespaces=tuple(namespaces), gaps=tuple(h.found.gaps))
        warm_hosts.append(state)
        cold_hosts.append(replace(state, ovs_bridges=tuple(
            _without(b, h.ovs.learned_flows.get(b.name, ())) for b in h.bridges)))
        learned.append((h.name, Learned(macs=h.ovs.macs, fdb=h.linux.fdb,
                                        neighbours=h.linux.neighbours,
                                        connections=h.linux.connections)))
    segments = sorted({n for m in physnets.values() for n in m.values()}
                      | ({TUNNEL_SEGMENT} if tunnel_ips else set()))
    meta = (("cloud", "imported"), *((f"capture:{h.name}", h.cap.label) for h in parts))
    seg = tuple(Segment(s, "the tunnel (underlay) network" if s == TUNNEL_SEGMENT else
                        f"physical network {s}") for s in segments)
    warm = CloudState(hosts=tuple(warm_hosts), segments=seg, underlay=TUNNEL_SEGMENT,
                      metadata=meta)
    cold = replace(warm, hosts=tuple(cold_hosts))
    diags = tuple(d for h in parts for d in h.found.diagnostics)
    return ImportedCloud(warm, cold, tuple(learned), diags,
                         tuple((h.name, h.cap.label) for h in parts),
                         tuple((h.name, h.conf) for h in parts))


def _without(bridge: OvsBridge, learned: tuple[object, ...]) -> OvsBridge:
    if not learned:
        return bridge
    drop = set(learned)
    return replace(bridge, flows=tuple(f for f in bridge.flows if f not in drop))


def _subnets(parts: list[HostParts]) -> list[Subnet]:
    """The DHCP ports' and router interfaces' addresses on every host."""
    out = []
    for h in parts:
        net_of = {p.name: dict(p.other_config).get("net_uuid") for b in h.bridges
                  for p in b.ports}
        for ns in h.linux.namespaces:
            if ns.kind not in (NS_DHCP, NS_ROUTER):
                continue
            for itf in ns.interfaces:
                if ns.kind == NS_ROUTER and not itf.name.startswith(("qr-", "qg-")):
                    continue
                net = ns.name[len("qdhcp-"):] if ns.kind == NS_DHCP else net_of.get(itf.name)
                for cidr in itf.addresses:
                    iface = ipaddress.ip_interface(cidr)
                    if iface.network.prefixlen == iface.max_prefixlen:
                        continue
                    gw = None
                    if itf.name.startswith("qr-"):
                        gw = str(iface.ip)
                    elif itf.name.startswith("qg-"):
                        gw = next((r.gateway for r in ns.routes if r.device == itf.name and
                                   r.destination == "default" and r.gateway and
                                   ipaddress.ip_address(r.gateway) in iface.network), None)
                    out.append(Subnet(iface, gw, net, h.cap.where(f"{ns.name} {itf.name}")))
    return out


def _mark_vms(namespaces: tuple[Namespace, ...]) -> tuple[Namespace, ...]:
    """A namespace (not a router's or a DHCP server's) plugged by a veth into a root-namespace
    ``tap…`` device is a VM (a test bed that runs VMs as namespaces)."""
    root = next((n for n in namespaces if n.name == ""), None)
    if root is None:
        return namespaces
    out = []
    taps: set[str] = set()
    for ns in namespaces:
        plugged = [i.peer for i in ns.interfaces if i.peer is not None and
                   i.peer_namespace == "" and i.peer.startswith("tap")]
        if ns.name and ns.kind == NS_HOST and plugged:
            ns = replace(ns, kind=NS_VM)
            taps.update(plugged)
        out.append(ns)
    # the root namespace's end of a VM's NIC is its tap (a tun device on a real host, a veth in
    # such a test bed)
    return tuple(replace(n, interfaces=tuple(replace(i, kind=TAP) if i.name in taps else i
                                             for i in n.interfaces)) if n.name == "" else n
                 for n in out)


def _check_tunnels(h: HostParts, tunnel_ips: dict[str, str]) -> None:
    for b in h.bridges:
        for p in b.ports:
            if not p.is_tunnel:
                continue
            remote = p.option("remote_ip")
            if remote in (None, "flow") or remote in tunnel_ips:
                continue
            h.found.gaps.append(Gap(p.name, "tunnel", f"{p.name} on {h.name} leads to "
                                    f"{remote}, which no captured host has as its tunnel IP",
                                    f"the capture of the host whose local_ip is {remote}"))
            h.found.note(h.cap.where("sos_commands/openvswitch/ovs-vsctl_-t_5_show"),
                         f"tunnel port {p.name} of {b.name} leads to {remote}, a host not "
                         "captured", "a walk tunnelled there stops at the underlay")
