"""The Linux side of one captured host (layer 3): its namespaces, tolerant of what is missing.

For the root namespace and each namespace the capture lists, best source first (JSON from
``neutrace collect``, then the text sos collects; both of sos's namespace layouts):

- links and addresses: ``ip -d -j address show``, ``ip -d address show``/``ip -d address``,
  ``ip address show``, ``ip -s -d link`` (links only), ``ip -o addr`` (addresses only);
- routes: ``ip [-6] -d -j route show table all``, ``ip [-6] route show table all``;
- rules: ``ip [-6] -j rule show``, ``ip -4 rule list``, ``ip -4 rule``;
- neighbours: ``ip -j neigh show``, ``ip -s -s neigh show``;
- netfilter: ``iptables-save``, ``ip6tables-save``, ``ipset save``;
- sysctls: ``sysctl -a`` (the namespace's, the root's in ``sos_commands/kernel/``), of which
  the settings that change forwarding are kept;
- warm state: ``bridge -d -j fdb show`` / ``bridge -s -s -d -t fdb show`` (learned entries),
  the neighbours that are not permanent, ``conntrack -L [-o extended]``.

Each link becomes an `Interface`: an OVS internal port by OVS's word (whatever the kernel calls
it), else by its ``linkinfo`` kind (veth, tun/tap, bridge, loopback, openvswitch; a NIC, a dummy
or anything else is a physical NIC). A veth's peer is found by name in the same namespace, or by
``link_index`` in the namespace ``link_netnsid`` names (``ip -j netns list-id``) or the text
names (``link-netns``), or failing that by the one veth elsewhere whose ifindex and link index
mirror it. A port of ``ovs-system`` is no Linux bridge port. The kernel's datapath devices
(``ovs-system``, ``vxlan_sys_*``, ``genev_sys_*``...) are not modelled, nor IPv6 link-local
addresses and routes (derived from MACs; the agents' state has none either), nor the local,
broadcast and multicast routes the kernel derives from addresses.

What is missing is a gap on the namespace (``interfaces``, ``routes``, ``routes6``,
``iptables``, ``ip6tables``, ``ipset``, ``sysctl``) or on an interface (``peer``), so a walk
that needs it stops there and names the file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from neutrace.dataplane import (
    BRIDGE,
    LOOPBACK,
    NS_DHCP,
    NS_FIP,
    NS_HOST,
    NS_ROUTER,
    NS_SNAT,
    OVS_INTERNAL,
    PHYSICAL,
    TAP,
    VETH,
    Connection,
    Interface,
    LearnedFdb,
    LearnedNeighbour,
    Namespace,
    Neighbour,
    OvsBridge,
    Route,
    Rule,
)
from neutrace.errors import InputError
from neutrace.importers.diagnostics import Findings
from neutrace.importers.layout import Capture
from neutrace.syntax import bridgecmd, iproute
from neutrace.syntax.conntrack import CtLine, parse_conntrack
from neutrace.syntax.iptables import parse_iptables_save
from neutrace.syntax.sysctl import forwarding_sysctls, parse_sysctl

T = TypeVar("T")
TUNNEL_SEGMENT = "tunnel"
DEFAULT_RULES = {(0, "local"), (32766, "main"), (32767, "default")}
_DATAPATH_DEVICES = re.compile(r"^(ovs-system|ovs-netdev|vxlan_sys_\d+|genev_sys_\d+|gre_sys|"
                               r"stt_sys_\d+|lisp_sys_\d+|gretap0|erspan0|gre0|ip_vti0|ip6_vti0|"
                               r"sit0|ip6tnl0|tunl0|ip6gre0)$")
_STATIC_NUD = ("PERMANENT", "NOARP")


@dataclass
class NsRaw:
    """What was read of one namespace before the cross-namespace wiring."""

    name: str
    links: tuple[iproute.IpLink, ...] = ()
    nsids: dict[int, str] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    iptables: str = ""
    ip6tables: str = ""
    ipsets: str = ""
    sysctls: tuple[tuple[str, str], ...] = ()


@dataclass
class LinuxCapture:
    """One host's namespaces and what its kernel had learned."""

    namespaces: tuple[Namespace, ...] = ()
    fdb: tuple[LearnedFdb, ...] = ()
    neighbours: tuple[LearnedNeighbour, ...] = ()
    connections: tuple[Connection, ...] = ()
    links: dict[str, tuple[iproute.IpLink, ...]] = field(default_factory=dict)


def _kind(ns: str) -> str:
    if ns == "":
        return NS_HOST
    if ns.startswith("qrouter-"):
        return NS_ROUTER
    if ns.startswith("qdhcp-"):
        return NS_DHCP
    if ns.startswith("snat-"):
        return NS_SNAT
    if ns.startswith("fip-"):
        return NS_FIP
    return NS_HOST


def load_linux(cap: Capture, found: Findings, bridges: tuple[OvsBridge, ...],
               physnets: dict[str, str], tunnel_ip: str | None) -> LinuxCapture:
    """Every namespace of the capture (``physnets``: OVS bridge -> physical network, the
    segment its NICs plug into; ``tunnel_ip``: the address whose NIC is on the underlay)."""
    out = LinuxCapture()
    raws = [_read_ns(cap, found, ns, out) for ns in ("", *cap.namespaces())]
    ovs_types = {p.name: (b.name, p.type) for b in bridges for p in b.ports}
    index = {(r.name, lk.ifindex): lk for r in raws for lk in r.links}
    # a bridge whose internal port holds the tunnel IP carries the underlay (OVS's userspace
    # tunnelling: the NIC is a port of that bridge)
    tunnel_bridges = {ovs_types[lk.ifname][0] for r in raws for lk in r.links
                      if lk.ifname in ovs_types and tunnel_ip and
                      any(a.address.split("/")[0] == tunnel_ip for a in lk.addresses)}
    namespaces = []
    for r in raws:
        itfs = []
        for lk in r.links:
            if _DATAPATH_DEVICES.match(lk.ifname):
                continue
            itfs.append(_interface(cap, found, r, lk, raws, index, ovs_types, physnets,
                                   tunnel_ip, tunnel_bridges))
        namespaces.append(Namespace(
            name=r.name, kind=_kind(r.name), interfaces=tuple(itfs), routes=r.routes,
            rules=r.rules, neighbours=r.neighbours, iptables=r.iptables, ip6tables=r.ip6tables,
            ipsets=r.ipsets, sysctls=r.sysctls))
        out.links[r.name] = r.links
    out.namespaces = tuple(namespaces)
    return out


# -- one namespace -------------------------------------------------------------------------------


def _label(ns: str) -> str:
    return f"namespace {ns}" if ns else "the root namespace"


def _ns_file_name(cap: Capture, ns: str, name: str, plugin: str = "networking") -> str:
    """The file a gap names: the one `neutrace collect` writes."""
    if not ns:
        return cap.where(f"sos_commands/{plugin}/{name}")
    sub = f"namespaces/{ns}/" if plugin == "networking" else ""
    return cap.where(f"sos_commands/{plugin}/{sub}ip_netns_exec_{ns}_{name}")


def _read_ns(cap: Capture, found: Findings, ns: str, out: LinuxCapture) -> NsRaw:
    raw = NsRaw(ns)
    raw.links = _links(cap, found, ns)
    ids = cap.net("ip_-j_netns_list-id", "ip_netns_list-id", namespace=ns)
    if ids is not None:
        try:
            raw.nsids = iproute.parse_netns_ids(cap.read(ids), cap.where(cap.rel(ids)))
        except InputError:
            raw.nsids = {}
    raw.routes = _routes(cap, found, ns, raw.links)
    raw.rules = _rules(cap, found, ns)
    raw.neighbours = _neighbours(cap, found, ns, out)
    raw.iptables, raw.ip6tables, raw.ipsets = _netfilter(cap, found, ns)
    raw.sysctls = _sysctls(cap, found, ns)
    _fdb(cap, found, ns, out)
    _conntrack(cap, found, ns, out)
    return raw


def _parse(cap: Capture, found: Findings, path: Path, parser: Callable[..., T], what: str,
           cost: str, **kw: object) -> T | None:
    """``parser`` on the file's text, or None (and a warning) when it cannot read it."""
    where = cap.where(cap.rel(path))
    try:
        return parser(cap.read(path), where, **kw)
    except InputError as exc:
        found.warn(where, f"unreadable {what}: {exc.problem}", cost)
        return None


def _json_else_text(cap: Capture, found: Findings, ns: str, names: tuple[Sequence[str], ...],
                    parsers: tuple[Callable[..., T], Callable[..., T]], what: str, cost: str,
                    **kw: object) -> tuple[Path, T] | None:
    """The first of ``names`` (the JSON dumps, then the text ones) that the matching parser of
    ``parsers`` reads, with the file it came from; None when neither is there or readable."""
    for candidates, parser in zip(names, parsers, strict=True):
        path = cap.net(*candidates, namespace=ns)
        if path is not None:
            parsed = _parse(cap, found, path, parser, what, cost, **kw)
            if parsed is not None:
                return path, parsed
    return None


def _links(cap: Capture, found: Findings, ns: str) -> tuple[iproute.IpLink, ...]:
    cost = "its interfaces are unknown: a walk that reaches one stops there"
    read = _json_else_text(
        cap, found, ns, (("ip_-d_-j_address_show", "ip_-j_-d_address_show"),
                         ("ip_-d_address_show", "ip_-d_address", "ip_address_show", "ip_address",
                          "ip_addr_show", "ip_addr")),
        (iproute.parse_links_json, iproute.parse_links_text), "addresses", cost)
    if read is not None:
        return read[1]
    only = cap.net("ip_-d_-j_link_show", "ip_-s_-d_link", "ip_-d_link_show", "ip_link",
                   namespace=ns)
    if only is not None:
        parser = iproute.parse_links_json if only.name.find("_-j_") >= 0 else \
            iproute.parse_links_text
        links = _parse(cap, found, only, parser, "links", cost)
        if links is not None:
            found.warn(cap.where(cap.rel(only)), f"{_label(ns)}: links without addresses",
                       "its interfaces have no addresses: routing and ARP there are wrong")
            return links
    found.gap(ns, "interfaces", _ns_file_name(cap, ns, "ip_-d_-j_address_show"),
              f"no address dump for {_label(ns)}", cost)
    return ()


def _route(r: iproute.IpRoute, found: Findings, where: str) -> Route | None:
    if r.type in ("local", "broadcast", "multicast", "anycast") or r.table == "local":
        return None
    net = None if r.dst == "default" else ipaddress.ip_network(r.dst, strict=False)
    if net is not None and net.version == 6 and (net.is_link_local or net.is_multicast):
        return None
    dev = r.dev or ""
    gw = r.gateway
    if r.nexthops:
        found.warn(where, f"multipath route {r.dst} (table {r.table}): only its first nexthop "
                   "is modelled", "the other paths are never taken")
        dev, gw = r.nexthops[0].dev or dev, r.nexthops[0].gateway
    if r.type != "unicast":
        if r.type != "blackhole":
            found.warn(where, f"{r.type} route {r.dst} (table {r.table}) is modelled as a "
                       "blackhole", "the ICMP error the kernel sends is not")
        dev = ""
    dest = "default" if net is None or net.prefixlen == 0 else str(net)
    scope = {"global": "universe", "link": "link", "host": "host"}.get(r.scope, r.scope)
    return Route(dest, dev, gateway=gw, table=r.table, scope=scope, proto=r.protocol,
                 source=r.prefsrc, metric=r.metric)


def _routes(cap: Capture, found: Findings, ns: str, links: tuple[iproute.IpLink, ...]
            ) -> tuple[Route, ...]:
    out: list[Route] = []
    for fam, js_names, text_names, aspect in (
            (4, ("ip_-d_-j_route_show_table_all", "ip_-j_route_show_table_all"),
             ("ip_route_show_table_all", "ip_-4_route_show_table_all"), "routes"),
            (6, ("ip_-6_-d_-j_route_show_table_all", "ip_-6_-j_route_show_table_all"),
             ("ip_-6_route_show_table_all",), "routes6")):
        read = _json_else_text(cap, found, ns, (js_names, text_names),
                               (iproute.parse_routes_json, iproute.parse_routes_text), "routes",
                               "the routes are unknown", family=fam)
        if read is None:
            has = any(ipaddress.ip_interface(a.address).version == fam and a.scope != "link"
                      and a.scope != "host" for lk in links for a in lk.addresses)
            if fam == 4 or has:
                found.gap(ns, aspect, _ns_file_name(cap, ns, js_names[0]),
                          f"no IPv{fam} route dump for {_label(ns)}",
                          f"a walk routed there (IPv{fam}) stops there")
            continue
        path, routes = read
        where = cap.where(cap.rel(path))
        for r in routes:
            if r.family == fam:
                route = _route(r, found, where)
                if route is not None:
                    out.append(route)
    return tuple(out)


def _rules(cap: Capture, found: Findings, ns: str) -> tuple[Rule, ...]:
    out: list[Rule] = []
    for fam, js_names, text_names in (
            (4, ("ip_-j_rule_show",), ("ip_-4_rule_list", "ip_-4_rule", "ip_rule_list",
                                       "ip_rule")),
            (6, ("ip_-6_-j_rule_show",), ("ip_-6_rule_list", "ip_-6_rule"))):
        read = _json_else_text(cap, found, ns, (js_names, text_names),
                                     (iproute.parse_rules_json, iproute.parse_rules_text),
                                     "rules", "the default rules are assumed", family=fam)
        if read is None:
            if fam == 4:
                found.note(_ns_file_name(cap, ns, js_names[0]),
                           f"no rule dump for {_label(ns)}",
                           "the kernel's default rules (local, main, default) are assumed")
            continue
        path, rules = read
        where = cap.where(cap.rel(path))
        for r in rules:
            if (r.priority, r.table) in DEFAULT_RULES and r.src is None and r.dst is None \
                    and r.fwmark is None and r.iif is None and r.action == "lookup":
                continue
            if r.action != "lookup" or r.oif or r.invert:
                found.warn(where, f"rule {r.priority} ({r.action}{', oif' if r.oif else ''}"
                           f"{', not' if r.invert else ''}) is not modelled",
                           "packets it would catch are routed by the next rules")
                continue
            out.append(Rule(r.priority, r.table, source=r.src, destination=r.dst,
                            fwmark=r.fwmark, iif=r.iif))
    return tuple(out)


def _neighbours(cap: Capture, found: Findings, ns: str, out: LinuxCapture
                ) -> tuple[Neighbour, ...]:
    path = cap.net("ip_-j_neigh_show", namespace=ns)
    parser = iproute.parse_neigh_json
    if path is None:
        path = cap.net("ip_-s_-s_neigh_show", "ip_neigh_show", "ip_neigh", namespace=ns)
        parser = iproute.parse_neigh_text
    if path is None:
        return ()
    entries = _parse(cap, found, path, parser, "neighbours", "no neighbour is known")
    static = []
    learned = []
    for nb in entries or ():
        if nb.lladdr is None:
            continue
        state = nb.states[0] if nb.states else "PERMANENT"
        if any(s in _STATIC_NUD for s in nb.states):
            static.append(Neighbour(nb.dst, nb.lladdr, nb.dev, state))
        elif any(s in ("REACHABLE", "STALE", "DELAY", "PROBE") for s in nb.states):
            learned.append(LearnedNeighbour(ns, nb.dev, nb.dst, nb.lladdr))
    out.neighbours += tuple(learned)
    return tuple(static)


def _netfilter(cap: Capture, found: Findings, ns: str) -> tuple[str, str, str]:
    texts = []
    for tool, aspect in (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables")):
        path = cap.net(tool, namespace=ns)
        if path is None:
            family = "IPv6" if "6" in tool else "IPv4"
            found.gap(ns, aspect, _ns_file_name(cap, ns, tool),
                      f"no {tool} output for {_label(ns)}",
                      f"a walk through {_label(ns)}'s netfilter ({family}) stops there")
            texts.append("")
            continue
        text = cap.read(path)
        where = cap.where(cap.rel(path))
        try:
            parse_iptables_save(text, where)
        except InputError as exc:
            found.gap(ns, aspect, where, f"{tool} of {_label(ns)} could not be read: "
                      f"{exc.problem}", f"a walk through {_label(ns)}'s netfilter stops there")
            text = ""
        texts.append(text)
    path = cap.net("ipset_save", "ipset_list", namespace=ns)
    ipsets = ""
    if path is not None and path.name.endswith("ipset_save"):
        ipsets = cap.read(path)
    elif any("--match-set" in t for t in texts):
        found.gap(ns, "ipset", _ns_file_name(cap, ns, "ipset_save"),
                  f"{_label(ns)}'s iptables use ipsets, but there is no `ipset save` output",
                  "a walk through a rule matching a set stops there")
    return texts[0], texts[1], ipsets


def _sysctls(cap: Capture, found: Findings, ns: str) -> tuple[tuple[str, str], ...]:
    path = cap.net("sysctl_-a", namespace=ns) if ns else (
        cap.net("sysctl_-a", plugin="kernel") or cap.net("sysctl_-a"))
    if path is None:
        found.gap(ns, "sysctl", _ns_file_name(cap, ns, "sysctl_-a", "networking" if ns else
                                              "kernel"),
                  f"no sysctl -a output for {_label(ns)}",
                  "whether it forwards is unknown: a walk it would forward stops there")
        return ()
    return forwarding_sysctls(parse_sysctl(cap.read(path)))


def _fdb(cap: Capture, found: Findings, ns: str, out: LinuxCapture) -> None:
    path = cap.net("bridge_-d_-j_fdb_show", namespace=ns)
    parser = bridgecmd.parse_fdb_json
    if path is None:
        path = cap.net("bridge_-s_-s_-d_-t_fdb_show", "bridge_fdb_show", namespace=ns)
        parser = bridgecmd.parse_fdb_text
    if path is None:
        return
    entries = _parse(cap, found, path, parser, "FDB", "Linux bridges start with empty FDBs")
    for e in entries or ():
        if e.learned and e.master is not None:
            out.fdb += (LearnedFdb(ns, e.master, e.mac, e.dev),)


def _conntrack(cap: Capture, found: Findings, ns: str, out: LinuxCapture) -> None:
    names = ("conntrack_-L_-o_extended", "conntrack_-L")
    path = cap.net(*names, namespace=ns, plugin="conntrack")
    if path is None:
        return
    where = cap.where(cap.rel(path))
    try:
        lines = parse_conntrack(cap.read(path), where)
    except InputError as exc:
        found.warn(where, f"unreadable conntrack table: {exc.problem}",
                   "walks start with no connection tracked")
        return
    conns = []
    for c in lines:
        if c.proto_number not in (1, 6, 17, 58, 132):
            continue
        conns.append(Connection(ns, c.zone, c.proto_number, _tuple(c, "orig"),
                                _tuple(c, "reply"), "UNREPLIED" not in c.flags, c.mark))
    out.connections += tuple(conns)


def _tuple(c: CtLine, direction: str) -> tuple[str, str, int, int]:
    """A conntrack tuple as (src, dst, sport, dport); ICMP's type is its dport."""
    src = c.field(direction, "src") or ""
    dst = c.field(direction, "dst") or ""
    if c.proto_number in (1, 58):
        return (src, dst, 0, int(c.field(direction, "type") or 0))
    return (src, dst, int(c.field(direction, "sport") or 0),
            int(c.field(direction, "dport") or 0))


# -- wiring ----------------------------------------------------------------------------------


def _interface(cap: Capture, found: Findings, r: NsRaw, lk: iproute.IpLink,
               raws: list[NsRaw], index: dict[tuple[str, int], iproute.IpLink],
               ovs_types: dict[str, tuple[str, str]], physnets: dict[str, str],
               tunnel_ip: str | None, tunnel_bridges: set[str]) -> Interface:
    ovs = ovs_types.get(lk.ifname)
    if ovs is not None and ovs[1] == "internal":
        kind = OVS_INTERNAL
    elif lk.kind == "veth":
        kind = VETH
    elif lk.kind == "tun":
        kind = TAP
    elif lk.kind == "bridge":
        kind = BRIDGE
    elif lk.link_type == "loopback":
        kind = LOOPBACK
    elif lk.kind == "openvswitch":
        kind = OVS_INTERNAL
    else:
        kind = PHYSICAL
    # the kernel's own IPv6 link-local addresses go; an IPv4 169.254/16 one is configured
    # (DVR's rfp-/fpr- pairs)
    addresses = tuple(a.address for a in lk.addresses
                      if not (ipaddress.ip_interface(a.address).version == 6
                              and ipaddress.ip_interface(a.address).ip.is_link_local)
                      and a.address != "::1/128")
    peer, peer_ns = None, None
    if kind == VETH:
        peer, peer_ns = _peer(r, lk, raws, index)
        if peer is None:
            if ovs is not None and ovs[1] in ("", "system") and (
                    ovs[0] in physnets or ovs[0] in tunnel_bridges):
                # an OVS port whose device leads out of the capture is the bridge's NIC (a
                # test bed or container host whose NICs are veths)
                kind = PHYSICAL
            else:
                found.gap(lk.ifname, "peer", _ns_file_name(cap, r.name, "ip_-d_-j_address_show"),
                          f"the peer of veth {lk.ifname} ({_label(r.name)}) is not in the "
                          "capture", f"a packet sent out of {lk.ifname} stops there")
    master = lk.master if lk.master is not None and lk.master != "ovs-system" and any(
        o.ifname == lk.master and o.kind == "bridge" for o in r.links) else None
    segment = None
    if kind == PHYSICAL:
        if ovs is not None and ovs[0] in physnets:
            segment = physnets[ovs[0]]
        elif (tunnel_ip and any(a.split("/")[0] == tunnel_ip for a in addresses)) or (
                ovs is not None and ovs[0] in tunnel_bridges):
            segment = TUNNEL_SEGMENT
    return Interface(lk.ifname, kind, mac=lk.address, mtu=lk.mtu, addresses=addresses,
                     peer=peer, peer_namespace=peer_ns, master=master, segment=segment,
                     up=lk.up, vlan=lk.vlan_id if lk.kind == "vlan" else None)


def _peer(r: NsRaw, lk: iproute.IpLink, raws: list[NsRaw],
          index: dict[tuple[str, int], iproute.IpLink]) -> tuple[str | None, str | None]:
    """A veth's peer and its namespace, or (None, None) if it is not in the capture."""
    if lk.link is not None:
        return lk.link, r.name
    if lk.link_index is None:
        return None, None
    names = {x.name for x in raws}
    target: str | None = None
    if lk.link_netns is not None:
        target = lk.link_netns
    elif lk.link_netnsid is not None:
        target = r.nsids.get(lk.link_netnsid)
    if target is not None:
        other = index.get((target, lk.link_index))
        if other is not None and target in names:
            return other.ifname, target
    # mirror search: the veth elsewhere whose ifindex is our link index and whose link index is
    # our ifindex
    hits = [(x.name, o) for x in raws if x.name != r.name for o in x.links
            if o.ifindex == lk.link_index and o.link_index == lk.ifindex and o.kind == "veth"]
    if len(hits) == 1:
        return hits[0][1].ifname, hits[0][0]
    return None, None


def with_vm_peers(ns: Namespace, taps: dict[str, tuple[str, str]]) -> Namespace:
    """``ns`` with each tap in ``taps`` (tap -> (VM namespace, NIC)) wired to its VM's NIC."""
    itfs = tuple(replace(i, peer=taps[i.name][1], peer_namespace=taps[i.name][0])
                 if i.name in taps else i for i in ns.interfaces)
    return replace(ns, interfaces=itfs)
