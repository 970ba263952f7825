"""iproute2's ``ip`` output (layer 2): parsers and formatters, JSON (``ip -j``) and text.

Both forms are read because both are met: ``neutrace collect`` writes ``ip -d -j ...`` (exact,
typed), sosreports hold the text forms sos runs (``ip -d address show``, ``ip route show table
all``, ``ip -s -s neigh show``, ``ip -4 rule list``, ``ip -o addr``...).

- links with their addresses (``ip -d [-j] address show`` / ``link show``) ⇄ `IpLink`, the field
  names those of ``ip -j`` (``ifname``, ``ifindex``, ``link``, ``link_index``, ``link_netnsid``,
  ``master``, ``linkinfo.info_kind``...), as pyroute2's ``IFLA_*`` attributes name them too;
- routes (``ip [-6] route show table all``) ⇄ `IpRoute`;
- rules (``ip [-6] rule show``) ⇄ `IpRule`;
- neighbours (``ip neigh show``) ⇄ `IpNeigh`;
- namespaces (``ip netns list``, ``ip netns list-id``).

``parse_*(format_*(x)) == x`` for the text and the JSON formatters alike. Bad input raises
`neutrace.errors.SyntaxParseError` naming the source, the line (or JSON entry) and the fix.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import as_int, cut, load_json

# ---------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True, slots=True)
class IpAddr:
    """One address of a link: ``address`` is ``ip/prefixlen``."""

    address: str
    scope: str = "global"

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4


@dataclass(frozen=True, slots=True)
class IpLink:
    """A network device as ``ip -d -j address show`` prints it.

    ``kind`` is ``linkinfo.info_kind`` (``veth``, ``bridge``, ``tun``, ``vlan``, ``vxlan``,
    ``openvswitch``, ``dummy``... ``""`` for a NIC or the loopback); ``tun_type`` is ``tap`` or
    ``tun`` for a tun device; ``slave_kind`` is ``info_slave_kind`` (``bridge`` for a Linux
    bridge port, ``openvswitch`` for an OVS port). ``link`` names the peer (veth) or parent
    (vlan) when it is in the same namespace; otherwise ``link_index`` is its ifindex in the
    namespace ``link_netnsid`` designates (the text form names it: ``link_netns``)."""

    ifindex: int
    ifname: str
    kind: str = ""
    tun_type: str = ""
    link_type: str = "ether"
    address: str | None = None
    mtu: int = 1500
    flags: tuple[str, ...] = ()
    operstate: str = "UNKNOWN"
    master: str | None = None
    slave_kind: str = ""
    link: str | None = None
    link_index: int | None = None
    link_netnsid: int | None = None
    link_netns: str | None = None
    vlan_id: int | None = None
    addresses: tuple[IpAddr, ...] = ()

    @property
    def up(self) -> bool:
        """Administratively up (the ``UP`` flag)."""
        return "UP" in self.flags


@dataclass(frozen=True, slots=True)
class IpNexthop:
    """One hop of a multipath route."""

    gateway: str | None = None
    dev: str | None = None
    weight: int = 1


@dataclass(frozen=True, slots=True)
class IpRoute:
    """A route: ``dst`` is ``"default"`` or a CIDR (host routes get their full prefix)."""

    dst: str
    family: int = 4
    type: str = "unicast"
    gateway: str | None = None
    dev: str | None = None
    table: str = "main"
    protocol: str = "boot"
    scope: str = "global"
    prefsrc: str | None = None
    metric: int = 0
    nexthops: tuple[IpNexthop, ...] = ()


@dataclass(frozen=True, slots=True)
class IpRule:
    """A policy routing rule: ``src``/``dst`` are CIDRs or None (all); ``action`` is ``lookup``
    (then ``table``) or ``blackhole``/``unreachable``/``prohibit``/``goto``/``nop``."""

    priority: int
    table: str = "main"
    family: int = 4
    src: str | None = None
    dst: str | None = None
    fwmark: str | None = None  # "0x4000/0xffff"
    iif: str | None = None
    oif: str | None = None
    action: str = "lookup"
    invert: bool = False


@dataclass(frozen=True, slots=True)
class IpNeigh:
    """A neighbour entry: ``states`` as ``ip -j`` lists them (``PERMANENT``, ``REACHABLE``,
    ``STALE``, ``FAILED``...)."""

    dst: str
    dev: str
    lladdr: str | None = None
    states: tuple[str, ...] = ()
    router: bool = False


# ---------------------------------------------------------------------------------------------
# helpers


def _fail(source: str, where: str, problem: str, fix: str, line: int | None = None) -> None:
    raise SyntaxParseError(source, where, problem, fix, line)


def _load_json(text: str, source: str, what: str) -> list[Any]:
    if not text.strip():
        return []
    data = load_json(text, source, what)
    if not isinstance(data, list):
        raise SyntaxParseError(source, "", f"expected a JSON list, as `{what}` prints",
                               f"give the output of `{what}`")
    return data


def _entry(data: Any, index: int, source: str, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SyntaxParseError(source, f"entry {index}", "expected a JSON object",
                               f"give the unedited output of `{what}`")
    return data


def _cidr(dst: str, family: int) -> str:
    """``10.0.0.1`` -> ``10.0.0.1/32``; ``default`` kept; a CIDR normalised."""
    if dst in ("default", ""):
        return "default"
    if "/" not in dst:
        addr = ipaddress.ip_address(dst)  # ValueError when it is none
        return f"{addr}/{addr.max_prefixlen}"
    return str(ipaddress.ip_network(dst, strict=False))


def _cidr_at(dst: str, family: int, source: str, where: str, what: str,
             default: bool = True) -> str:
    """`_cidr`, a bad address (or ``default`` where there is none: ``default=False``) being a
    `SyntaxParseError` at ``where``."""
    try:
        cidr = _cidr(dst, family)
        if cidr == "default" and not default:
            raise ValueError(dst)
        return cidr
    except ValueError:
        raise SyntaxParseError(source, where, f"{cut(dst)!r} is not an address or a network",
                               f"give the unedited output of `{what}`") from None


def _int(value: Any, source: str, where: str) -> int:
    return as_int(value, source, where, fix="give the unedited output of ip")


# ---------------------------------------------------------------------------------------------
# links and addresses: JSON


def _address(a: dict[str, Any], source: str, where: str) -> str:
    """``local/prefixlen`` of an ``addr_info`` entry, both checked."""
    local, plen = a.get("local"), a.get("prefixlen")
    bits = 32 if a.get("family") == "inet" else 128
    try:
        ipaddress.ip_address(str(local))
    except ValueError:
        raise SyntaxParseError(source, where, f"{cut(repr(local))} is not an address",
                               "give the unedited output of `ip -d -j address show`") from None
    return f"{local}/{as_int(plen, source, where, bits)}"


def parse_links_json(text: str, source: str = "<ip -j address>") -> tuple[IpLink, ...]:
    """``ip -d -j address show`` (or ``ip -d -j link show``, without addresses)."""
    out = []
    for i, raw in enumerate(_load_json(text, source, "ip -d -j address show")):
        e = _entry(raw, i, source, "ip -d -j address show")
        if "ifname" not in e or "ifindex" not in e:
            _fail(source, f"entry {i}", "a link without ifname/ifindex",
                  "give the output of `ip -d -j address show`")
        info = e.get("linkinfo") or {}
        data = info.get("info_data") or {}
        kind = str(info.get("info_kind", ""))
        addrs = tuple(
            IpAddr(_address(a, source, f"entry {i}"), str(a.get("scope", "global")))
            for a in e.get("addr_info", ()) if isinstance(a, dict) and "local" in a
            and a.get("family") in ("inet", "inet6"))
        link = e.get("link")
        out.append(IpLink(
            ifindex=_int(e["ifindex"], source, f"entry {i}"), ifname=str(e["ifname"]),
            kind=kind, tun_type=str(data.get("type", "")) if kind == "tun" else "",
            link_type=str(e.get("link_type", "ether")), address=e.get("address"),
            mtu=_int(e.get("mtu", 1500), source, f"entry {i}"),
            flags=tuple(str(f) for f in e.get("flags", ())),
            operstate=str(e.get("operstate", "UNKNOWN")), master=e.get("master"),
            slave_kind=str(info.get("info_slave_kind", "")),
            link=str(link) if isinstance(link, str) else None,
            link_index=e.get("link_index"), link_netnsid=e.get("link_netnsid"),
            vlan_id=data.get("id") if kind == "vlan" else None, addresses=addrs))
    return tuple(out)


def format_links_json(links: tuple[IpLink, ...]) -> str:
    """The ``ip -d -j address show`` JSON of ``links`` (the fields `parse_links_json` reads)."""
    out = []
    for lk in links:
        e: dict[str, Any] = {"ifindex": lk.ifindex}
        if lk.link_index is not None:
            e["link_index"] = lk.link_index
        if lk.link is not None:
            e["link"] = lk.link
        e.update(ifname=lk.ifname, flags=list(lk.flags), mtu=lk.mtu)
        if lk.master is not None:
            e["master"] = lk.master
        e.update(operstate=lk.operstate, link_type=lk.link_type)
        if lk.address is not None:
            e["address"] = lk.address
        if lk.link_netnsid is not None:
            e["link_netnsid"] = lk.link_netnsid
        info: dict[str, Any] = {}
        if lk.kind:
            info["info_kind"] = lk.kind
            if lk.kind == "tun" and lk.tun_type:
                info["info_data"] = {"type": lk.tun_type}
            if lk.kind == "vlan" and lk.vlan_id is not None:
                info["info_data"] = {"protocol": "802.1Q", "id": lk.vlan_id}
        if lk.slave_kind:
            info["info_slave_kind"] = lk.slave_kind
        if info:
            e["linkinfo"] = info
        e["addr_info"] = [
            {"family": "inet6" if a.family == 6 else "inet",
             "local": a.address.split("/")[0], "prefixlen": int(a.address.split("/")[1]),
             "scope": a.scope} for a in lk.addresses]
        out.append(e)
    return json.dumps(out)


# ---------------------------------------------------------------------------------------------
# links and addresses: text (``ip -d address show``, ``ip -s -d link``, ``ip -o addr``)

_HEAD = re.compile(
    r"^(?P<index>[0-9]{1,10}):\s+(?P<name>[^:@\s]+)(?:@(?P<link>[^:\s]+))?:\s+<(?P<flags>[^>]*)>"
    r"(?P<rest>.*)$")
_LINKLINE = re.compile(r"^link/(?P<type>\S+)(?:\s+(?P<mac>[0-9a-fA-F:]{17}))?(?P<rest>.*)$")
_KINDS = ("veth", "bridge", "tun", "vlan", "vxlan", "openvswitch", "dummy", "macvlan", "bond",
          "geneve", "gre", "gretap", "ipip", "sit", "ip6tnl", "vrf", "team", "ifb", "macvtap",
          "ipvlan", "wireguard", "nlmon", "veth_pair")
_SLAVES = {"bridge_slave": "bridge", "openvswitch_slave": "openvswitch", "bond_slave": "bond",
           "team_slave": "team", "vrf_slave": "vrf"}
_ONE_LINE = re.compile(r"^(?P<index>[0-9]{1,10}):\s+(?P<name>\S+)\s+(?P<fam>inet6?)\s+(?P<addr>\S+)"
                       r"(?P<rest>.*)$")


def _kv(words: list[str], key: str) -> str | None:
    for i, w in enumerate(words[:-1]):
        if w == key:
            return words[i + 1]
    return None


def parse_links_text(text: str, source: str = "<ip address show>") -> tuple[IpLink, ...]:
    """``ip [-d] [-s] address show`` / ``link show`` text, or the one-line ``ip -o addr``."""
    lines = text.splitlines()
    if any(_ONE_LINE.match(ln) for ln in lines) and not any(_HEAD.match(ln) for ln in lines):
        return _parse_oneline(lines, source)
    links: list[IpLink] = []
    cur: IpLink | None = None
    addrs: list[IpAddr] = []
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        m = _HEAD.match(raw)
        if m:
            if cur is not None:
                links.append(replace(cur, addresses=tuple(addrs)))
            cur, addrs = _head(m, source, n), []
            continue
        if cur is None:
            _fail(source, f"line {n}", f"expected a link header such as `2: eth0: <...> mtu "
                  f"1500 ...`, got {line[:60]!r}",
                  "give the output of `ip -d address show`", n)
            continue
        cur, addr = _detail(cur, line, source, n)
        if addr is not None:
            addrs.append(addr)
    if cur is not None:
        links.append(replace(cur, addresses=tuple(addrs)))
    return tuple(links)


def _head(m: re.Match[str], source: str, n: int) -> IpLink:
    words = m.group("rest").split()
    mtu = _kv(words, "mtu")
    link = m.group("link")
    link_name: str | None = None
    link_index: int | None = None
    if link and link != "NONE":
        if link.startswith("if") and link[2:].isdigit():
            link_index = int(link[2:])
        else:
            link_name = link
    return IpLink(
        ifindex=int(m.group("index")), ifname=m.group("name"),
        flags=tuple(f for f in m.group("flags").split(",") if f),
        mtu=_int(mtu, source, f"line {n}") if mtu is not None else 1500,
        master=_kv(words, "master"), operstate=_kv(words, "state") or "UNKNOWN",
        link=link_name, link_index=link_index)


def _detail(cur: IpLink, line: str, source: str, n: int) -> tuple[IpLink, IpAddr | None]:
    words = line.split()
    first = words[0]
    if first in ("inet", "inet6") and len(words) > 1:
        scope = _kv(words, "scope") or "global"
        addr = words[1]
        if "/" not in addr:
            addr += "/128" if first == "inet6" else "/32"
        return cur, IpAddr(addr, scope)
    lm = _LINKLINE.match(line)
    if lm:
        rest = lm.group("rest").split()
        nsid = _kv(rest, "link-netnsid")
        return replace(cur, link_type=lm.group("type"), address=lm.group("mac"),
                       link_netns=_kv(rest, "link-netns"),
                       link_netnsid=int(nsid) if nsid and nsid.isdigit() else None), None
    if first in _SLAVES:
        return replace(cur, slave_kind=_SLAVES[first]), None
    if first in _KINDS and not cur.kind:
        kind = first
        if kind == "tun":
            return replace(cur, kind=kind, tun_type=_kv(words, "type") or ""), None
        if kind == "vlan":
            vid = _kv(words, "id")
            return replace(cur, kind=kind, vlan_id=int(vid) if vid and vid.isdigit() else None
                           ), None
        return replace(cur, kind=kind), None
    # valid_lft lines, altname, statistics (RX:/TX: and their numbers), alias...: not state
    return cur, None


def _parse_oneline(lines: list[str], source: str) -> tuple[IpLink, ...]:
    by: dict[tuple[int, str], list[IpAddr]] = {}
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        m = _ONE_LINE.match(raw)
        if not m:
            _fail(source, f"line {n}", f"not an `ip -o addr` line: {raw.strip()[:60]!r}",
                  "give the output of `ip -o addr`", n)
            continue
        words = m.group("rest").replace("\\", " ").split()
        addr = m.group("addr")
        if "/" not in addr:
            addr += "/128" if m.group("fam") == "inet6" else "/32"
        by.setdefault((int(m.group("index")), m.group("name")), []).append(
            IpAddr(addr, _kv(words, "scope") or "global"))
    return tuple(IpLink(ifindex=i, ifname=name, addresses=tuple(a), flags=("UP",))
                 for (i, name), a in by.items())


def format_links_text(links: tuple[IpLink, ...]) -> str:
    """``ip -d address show`` text for ``links`` (what `parse_links_text` reads back)."""
    out = []
    for lk in links:
        at = ""
        if lk.link is not None:
            at = f"@{lk.link}"
        elif lk.link_index is not None:
            at = f"@if{lk.link_index}"
        head = f"{lk.ifindex}: {lk.ifname}{at}: <{','.join(lk.flags)}> mtu {lk.mtu}"
        if lk.master is not None:
            head += f" master {lk.master}"
        out.append(f"{head} state {lk.operstate} group default qlen 1000")
        mac = f" {lk.address} brd ff:ff:ff:ff:ff:ff" if lk.address is not None else ""
        netns = ""
        if lk.link_netns is not None:
            netns = f" link-netns {lk.link_netns}"
        elif lk.link_netnsid is not None:
            netns = f" link-netnsid {lk.link_netnsid}"
        out.append(f"    link/{lk.link_type}{mac}{netns} promiscuity 0")
        if lk.kind == "tun":
            out.append(f"    tun type {lk.tun_type} pi off vnet_hdr off persist on"
                       if lk.tun_type else "    tun")
        elif lk.kind == "vlan":
            out.append(f"    vlan protocol 802.1Q id {lk.vlan_id}" if lk.vlan_id is not None
                       else "    vlan")
        elif lk.kind:
            out.append(f"    {lk.kind} ")
        if lk.slave_kind:
            slave = {v: k for k, v in _SLAVES.items()}[lk.slave_kind]
            out.append(f"    {slave} state forwarding")
        for a in lk.addresses:
            fam = "inet6" if a.family == 6 else "inet"
            out.append(f"    {fam} {a.address} scope {a.scope}")
            out.append("       valid_lft forever preferred_lft forever")
    return "\n".join(out) + ("\n" if out else "")


# ---------------------------------------------------------------------------------------------
# routes

_ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "anycast", "blackhole",
                "unreachable", "prohibit", "throw", "nat")


def parse_routes_json(text: str, source: str = "<ip -j route>", family: int = 4
                      ) -> tuple[IpRoute, ...]:
    """``ip [-6] -d -j route show table all``."""
    out = []
    for i, raw in enumerate(_load_json(text, source, "ip -d -j route show table all")):
        e = _entry(raw, i, source, "ip -d -j route show table all")
        if "dst" not in e:
            _fail(source, f"entry {i}", "a route without dst",
                  "give the output of `ip -d -j route show table all`")
        dst = str(e["dst"])
        fam = 6 if ":" in dst or ":" in str(e.get("gateway", "")) else family
        if dst == "default":
            fam = family if "gateway" not in e else (6 if ":" in str(e["gateway"]) else 4)
        hops = tuple(IpNexthop(h.get("gateway"), h.get("dev"),
                               _int(h.get("weight", 1), source, f"entry {i}"))
                     for h in e.get("nexthops", ()) if isinstance(h, dict))
        out.append(IpRoute(
            dst=_cidr_at(dst, fam, source, f"entry {i}", "ip -d -j route show table all"),
            family=fam, type=str(e.get("type", "unicast")),
            gateway=e.get("gateway"), dev=e.get("dev"), table=str(e.get("table", "main")),
            protocol=str(e.get("protocol", "boot")), scope=str(e.get("scope", "global")),
            prefsrc=e.get("prefsrc"), metric=_int(e.get("metric", 0), source, f"entry {i}"),
            nexthops=hops))
    return tuple(out)


def format_routes_json(routes: tuple[IpRoute, ...]) -> str:
    """The ``ip -d -j route show table all`` JSON of ``routes``."""
    out = []
    for r in routes:
        e: dict[str, Any] = {"type": r.type, "dst": r.dst}
        if r.gateway is not None:
            e["gateway"] = r.gateway
        if r.dev is not None:
            e["dev"] = r.dev
        e.update(table=r.table, protocol=r.protocol, scope=r.scope)
        if r.prefsrc is not None:
            e["prefsrc"] = r.prefsrc
        if r.metric:
            e["metric"] = r.metric
        if r.nexthops:
            e["nexthops"] = [{k: v for k, v in (("gateway", h.gateway), ("dev", h.dev),
                                                ("weight", h.weight)) if v is not None}
                             for h in r.nexthops]
        e["flags"] = []
        out.append(e)
    return json.dumps(out)


def parse_routes_text(text: str, source: str = "<ip route show table all>", family: int = 4
                      ) -> tuple[IpRoute, ...]:
    """``ip [-6] route show table all`` text (``family`` is the file's, for ``default``)."""
    out: list[IpRoute] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("Error") or line.startswith("RTNETLINK"):
            continue
        words = line.split()
        if words[0] == "nexthop" and out:
            hop = IpNexthop(_kv(words, "via"), _kv(words, "dev"),
                            int(_kv(words, "weight") or 1))
            out[-1] = replace(out[-1], nexthops=out[-1].nexthops + (hop,))
            continue
        rtype = "unicast"
        if words[0] in _ROUTE_TYPES:
            rtype = words.pop(0)
        if not words:
            _fail(source, f"line {n}", "a route type without a destination",
                  "give the output of `ip route show table all`", n)
        dst = words.pop(0)
        fam = 6 if ":" in dst else (family if dst == "default" else 4)
        gw = _kv(words, "via")
        if gw is not None and dst == "default":
            fam = 6 if ":" in gw else 4
        try:
            cidr = _cidr(dst, fam)
        except ValueError:
            _fail(source, f"line {n}", f"bad route destination {dst!r}",
                  "give the output of `ip route show table all`", n)
            continue
        metric = _kv(words, "metric")
        scope = _kv(words, "scope") or "global"
        out.append(IpRoute(
            dst=cidr, family=fam, type=rtype, gateway=gw, dev=_kv(words, "dev"),
            table=_kv(words, "table") or "main", protocol=_kv(words, "proto") or "boot",
            scope=scope, prefsrc=_kv(words, "src"),
            metric=_int(metric, source, f"line {n}") if metric else 0))
    return tuple(out)


def format_routes_text(routes: tuple[IpRoute, ...]) -> str:
    """``ip route show table all`` text of ``routes``."""
    out = []
    for r in routes:
        parts = [] if r.type == "unicast" else [r.type]
        parts.append(r.dst if r.dst == "default" or not _is_host(r.dst) else r.dst.split("/")[0])
        if r.gateway:
            parts += ["via", r.gateway]
        if r.dev:
            parts += ["dev", r.dev]
        if r.table != "main":
            parts += ["table", r.table]
        if r.protocol != "boot":
            parts += ["proto", r.protocol]
        parts += ["scope", r.scope]
        if r.prefsrc:
            parts += ["src", r.prefsrc]
        if r.metric:
            parts += ["metric", str(r.metric)]
        out.append(" ".join(parts))
        out += [" ".join(["\tnexthop"] + (["via", h.gateway] if h.gateway else [])
                         + (["dev", h.dev] if h.dev else []) + ["weight", str(h.weight)])
                for h in r.nexthops]
    return "\n".join(out) + ("\n" if out else "")


def _is_host(cidr: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    return net.prefixlen == net.max_prefixlen


# ---------------------------------------------------------------------------------------------
# rules

_RULE_ACTIONS = ("blackhole", "unreachable", "prohibit", "nop", "goto")


def parse_rules_json(text: str, source: str = "<ip -j rule>", family: int = 4
                     ) -> tuple[IpRule, ...]:
    """``ip [-6] -j rule show``."""
    out = []
    for i, raw in enumerate(_load_json(text, source, "ip -j rule show")):
        e = _entry(raw, i, source, "ip -j rule show")
        if "priority" not in e:
            _fail(source, f"entry {i}", "a rule without priority",
                  "give the output of `ip -j rule show`")
        src = e.get("src")
        dst = e.get("dst")
        mark = None
        if "fwmark" in e:
            mark = str(e["fwmark"]) + (f"/{e['fwmask']}" if "fwmask" in e else "")
        out.append(IpRule(
            priority=_int(e["priority"], source, f"entry {i}"),
            table=str(e.get("table", "main")), family=family,
            src=None if src in (None, "all") else _cidr_at(
                f"{src}/{e.get('srclen', '')}".rstrip("/"), family, source, f"entry {i}",
                "ip -j rule show", default=False),
            dst=None if dst in (None, "all") else _cidr_at(
                f"{dst}/{e.get('dstlen', '')}".rstrip("/"), family, source, f"entry {i}",
                "ip -j rule show", default=False),
            fwmark=mark, iif=e.get("iif"), oif=e.get("oif"),
            action=str(e.get("action", "lookup")), invert=bool(e.get("not", False))))
    return tuple(out)


def format_rules_json(rules: tuple[IpRule, ...]) -> str:
    """The ``ip -j rule show`` JSON of ``rules``."""
    out = []
    for r in rules:
        e: dict[str, Any] = {"priority": r.priority}
        if r.invert:
            e["not"] = True
        if r.src is None:
            e["src"] = "all"
        else:
            e["src"], e["srclen"] = r.src.split("/")[0], int(r.src.split("/")[1])
        if r.dst is not None:
            e["dst"], e["dstlen"] = r.dst.split("/")[0], int(r.dst.split("/")[1])
        if r.fwmark is not None:
            mark, _, mask = r.fwmark.partition("/")
            e["fwmark"] = mark
            if mask:
                e["fwmask"] = mask
        if r.iif is not None:
            e["iif"] = r.iif
        if r.oif is not None:
            e["oif"] = r.oif
        if r.action != "lookup":
            e["action"] = r.action
        e["table"] = r.table
        out.append(e)
    return json.dumps(out)


_RULE_LINE = re.compile(r"^(?P<prio>[0-9]{1,10}):\s+(?P<rest>.*)$")


def parse_rules_text(text: str, source: str = "<ip rule list>", family: int = 4
                     ) -> tuple[IpRule, ...]:
    """``ip [-4|-6] rule list`` text."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        m = _RULE_LINE.match(line)
        if not m:
            _fail(source, f"line {n}", f"not an `ip rule` line: {line[:60]!r}",
                  "give the output of `ip rule list`", n)
            continue
        words = m.group("rest").split()
        invert = bool(words) and words[0] == "not"
        if invert:
            words = words[1:]
        src = _kv(words, "from")
        dst = _kv(words, "to")
        action = next((w for w in words if w in _RULE_ACTIONS), "lookup")
        table = _kv(words, "lookup") or _kv(words, "table") or "main"
        out.append(IpRule(
            priority=int(m.group("prio")), table=table, family=family,
            src=None if src in (None, "all") else _cidr_at(src, family, source, f"line {n}",
                                                            "ip rule show", default=False),
            dst=None if dst in (None, "all") else _cidr_at(dst, family, source, f"line {n}",
                                                            "ip rule show", default=False),
            fwmark=_kv(words, "fwmark"), iif=_kv(words, "iif"), oif=_kv(words, "oif"),
            action=action, invert=invert))
    return tuple(out)


def format_rules_text(rules: tuple[IpRule, ...]) -> str:
    """``ip rule list`` text of ``rules``."""
    out = []
    for r in rules:
        parts = ["not"] if r.invert else []
        parts += ["from", r.src or "all"]
        if r.dst:
            parts += ["to", r.dst]
        if r.fwmark:
            parts += ["fwmark", r.fwmark]
        if r.iif:
            parts += ["iif", r.iif]
        if r.oif:
            parts += ["oif", r.oif]
        parts += ["lookup", r.table] if r.action == "lookup" else [r.action]
        out.append(f"{r.priority}:\t" + " ".join(parts))
    return "\n".join(out) + ("\n" if out else "")


# ---------------------------------------------------------------------------------------------
# neighbours

_NUD = ("PERMANENT", "NOARP", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "INCOMPLETE",
        "NONE")


def parse_neigh_json(text: str, source: str = "<ip -j neigh>") -> tuple[IpNeigh, ...]:
    """``ip -j neigh show``."""
    out = []
    for i, raw in enumerate(_load_json(text, source, "ip -j neigh show")):
        e = _entry(raw, i, source, "ip -j neigh show")
        if "dst" not in e or "dev" not in e:
            _fail(source, f"entry {i}", "a neighbour without dst/dev",
                  "give the output of `ip -j neigh show`")
        out.append(IpNeigh(str(e["dst"]), str(e["dev"]), e.get("lladdr"),
                           tuple(str(s) for s in e.get("state", ())), "router" in e))
    return tuple(out)


def format_neigh_json(neighbours: tuple[IpNeigh, ...]) -> str:
    """The ``ip -j neigh show`` JSON of ``neighbours``."""
    out = []
    for nb in neighbours:
        e: dict[str, Any] = {"dst": nb.dst, "dev": nb.dev}
        if nb.lladdr is not None:
            e["lladdr"] = nb.lladdr
        if nb.router:
            e["router"] = None
        e["state"] = list(nb.states)
        out.append(e)
    return json.dumps(out)


def parse_neigh_text(text: str, source: str = "<ip neigh show>") -> tuple[IpNeigh, ...]:
    """``ip [-s -s] neigh show`` text."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split()
        if not words:
            continue
        dev = _kv(words, "dev")
        if dev is None:
            _fail(source, f"line {n}", f"not an `ip neigh` line: {raw.strip()[:60]!r}",
                  "give the output of `ip neigh show`", n)
            continue
        states = tuple(w for w in words[1:] if w in _NUD)
        out.append(IpNeigh(words[0], dev, _kv(words, "lladdr"), states, "router" in words))
    return tuple(out)


def format_neigh_text(neighbours: tuple[IpNeigh, ...]) -> str:
    """``ip neigh show`` text of ``neighbours``."""
    out = []
    for nb in neighbours:
        parts = [nb.dst, "dev", nb.dev]
        if nb.lladdr is not None:
            parts += ["lladdr", nb.lladdr]
        if nb.router:
            parts.append("router")
        parts += list(nb.states)
        out.append(" ".join(parts))
    return "\n".join(out) + ("\n" if out else "")


# ---------------------------------------------------------------------------------------------
# namespaces

_NETNS_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")


def valid_netns_name(name: str) -> bool:
    """True for a namespace name safe to pass on as an argument (no path, no option)."""
    return bool(_NETNS_NAME.match(name)) and not name.startswith("-") and name not in (".", "..")


def parse_netns_list(text: str, source: str = "<ip netns list>") -> tuple[str, ...]:
    """``ip netns [list]`` (``name`` or ``name (id: 3)`` per line) or ``ip -j netns``."""
    stripped = text.strip()
    if stripped.startswith("["):
        return tuple(str(_entry(e, i, source, "ip -j netns list")["name"])
                     for i, e in enumerate(_load_json(text, source, "ip -j netns list")))
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split()
        if not words:
            continue
        if not valid_netns_name(words[0]):
            _fail(source, f"line {n}", f"not a namespace name: {words[0][:60]!r}",
                  "give the output of `ip netns list`", n)
        out.append(words[0])
    return tuple(out)


def parse_netns_ids(text: str, source: str = "<ip -j netns list-id>") -> dict[int, str]:
    """``ip -j netns list-id``: nsid -> namespace name (ids whose namespace has no name are
    left out)."""
    stripped = text.strip()
    out: dict[int, str] = {}
    if stripped.startswith("["):
        for i, raw in enumerate(_load_json(text, source, "ip -j netns list-id")):
            e = _entry(raw, i, source, "ip -j netns list-id")
            if "name" in e and "nsid" in e:
                out[_int(e["nsid"], source, f"entry {i}")] = str(e["name"])
        return out
    for raw in text.splitlines():
        m = re.match(r"^nsid ([0-9]{1,10}) \(iproute2 netns name: (\S+)\)", raw.strip())
        if m:
            out[int(m.group(1))] = m.group(2)
    return out
