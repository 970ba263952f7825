"""The Linux side of `neutrace.verify.drift` (layer 4): one host's namespaces, interfaces,
addresses, routes, rules, iptables, ipsets and forwarding sysctls set beside the agents'.

Compared as they matter to the data plane: the loopback device is the kernel's; routes without
``proto`` (who added a route does not change where it leads); iptables rules per table and chain
as sets of rules in iptables-save's spelling (the kernel prints MACs in lower case, adds
comments and counters); only the sysctls an agent sets (forwarding ones); a VM's inside is its
guest's, not Neutron's, so only its presence is compared.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from neutrace.dataplane import LOOPBACK, NS_VM, Interface, Namespace, Route
from neutrace.drift import (
    AddressDifference,
    ChainDifference,
    Change,
    Difference,
    InterfaceDifference,
    InterfaceSettingDifference,
    IpRuleDifference,
    IpsetDifference,
    IptablesDifference,
    NamespaceDifference,
    RouteDifference,
    RuleRole,
    SysctlDifference,
    Tolerance,
    Tolerated,
)
from neutrace.engines.netfilter.matches import PROTOCOLS
from neutrace.syntax.iptables import IptRule, Ruleset, parse_ipset_save, parse_iptables_save
from neutrace.syntax.sysctl import forwarding_sysctls

#: The kernel's value of a forwarding setting a namespace has not changed.
KERNEL_DEFAULTS = {"net.bridge.bridge-nf-call-iptables": "1",
                   "net.bridge.bridge-nf-call-ip6tables": "1",
                   "net.bridge.bridge-nf-call-arptables": "1"}
#: The metrics the kernel gives IPv6 routes added without one (connected: 256, else 1024).
IPV6_DEFAULT_METRICS = (0, 256, 1024)
_SETTINGS = ("kind", "mac", "mtu", "peer", "master", "up", "vlan")
_PORT_CHAIN_RE = re.compile(r"^neutron-openvswi-([ios])([0-9a-f]{8}-[0-9a-f]*)$")
_PORT_CHAINS = {"i": RuleRole.SG_INGRESS, "o": RuleRole.SG_EGRESS, "s": RuleRole.ANTISPOOF}
_MAC_RE = re.compile(r"(--mac-source) ([0-9A-Fa-f:]{17})")
# ``-p 50`` as the agents write it, ``-p esp`` as iptables-save prints a protocol it can name
_PROTO_RE = re.compile(r"(?<!\S)(-p|--protocol) (! )?([A-Za-z][\w-]*)(?!\S)")


def rule_role(table: str, chain: str, rule: IptRule) -> tuple[RuleRole, str]:
    """What an iptables rule is for, and its subject (a port id prefix, a floating IP)."""
    m = _PORT_CHAIN_RE.match(chain)
    if m:
        return _PORT_CHAINS[m.group(1)], m.group(2)
    if chain.startswith("neutron-openvswi"):
        return RuleRole.SG_DISPATCH, ""
    if chain.startswith("neutron-l3-agent"):
        target = rule.target.name if rule.target else ""
        to = rule.target.option("--to-source") if rule.target else None
        if target == "DNAT":
            dst = next((o.value for _, o in rule.options() if o.name == "-d"), "")
            return RuleRole.FLOATING_DNAT, dst.split("/")[0]
        if target == "SNAT":
            src = next((o.value for _, o in rule.options() if o.name == "-s"), "")
            if src:
                return RuleRole.FLOATING_SNAT, to.value if to else src.split("/")[0]
            return RuleRole.ROUTER_SNAT, to.value if to else ""
        return RuleRole.ROUTER, ""
    return RuleRole.OTHER, ""


def _rule_text(rule: IptRule) -> str:
    text = replace(rule, counters=None).text
    text = _PROTO_RE.sub(lambda m: f"{m.group(1)} {m.group(2) or ''}"
                         f"{PROTOCOLS.get(m.group(3).lower(), m.group(3))}", text)
    return _MAC_RE.sub(lambda m: f"{m.group(1)} {m.group(2).lower()}", text)


@dataclass
class HostLinux:
    """The Linux comparison of one host."""

    host: str
    skip: Mapping[str, set[str]]  # namespace -> aspects the capture lacks
    bridges: frozenset[str] = frozenset()  # the host's OVS bridges (their own ports' MTU)
    out: list[Difference] = field(default_factory=list)
    tolerated: list[Tolerated] = field(default_factory=list)

    def compare(self, expected: tuple[Namespace, ...], actual: tuple[Namespace, ...]) -> None:
        """Fill ``out``/``tolerated`` from the two hosts' namespaces."""
        anames = {n.name: n for n in actual}
        enames = {n.name: n for n in expected}
        where = {i.name: n.name for n in actual for i in n.interfaces}
        ewhere = {i.name: n.name for n in expected for i in n.interfaces}
        for ens in expected:
            ans = anames.get(ens.name)
            if ans is None:
                self.out.append(NamespaceDifference(self.host, ens.name, Change.MISSING,
                                                    ens.kind))
            elif ens.kind != NS_VM:
                self._namespace(ens, ans, where, ewhere)
        for ans in actual:
            if ans.name not in enames:
                self.out.append(NamespaceDifference(self.host, ans.name, Change.EXTRA,
                                                    ans.kind))

    def _namespace(self, e: Namespace, a: Namespace, where: Mapping[str, str],
                   ewhere: Mapping[str, str]) -> None:
        skip = self.skip.get(e.name, set())
        h, ns = self.host, e.name
        if "interfaces" not in skip:
            self._interfaces(e, a, where, ewhere)
        if "routes" not in skip:
            self._routes(e, a)
        if "rules" not in skip:
            er, ar = set(e.rules), set(a.rules)
            self.out += [IpRuleDifference(h, ns, r, Change.MISSING) for r in e.rules
                         if r not in ar]
            self.out += [IpRuleDifference(h, ns, r, Change.EXTRA) for r in a.rules
                         if r not in er]
        if "iptables" not in skip:
            self._iptables(ns, 4, e.iptables, a.iptables)
        if "ip6tables" not in skip:
            self._iptables(ns, 6, e.ip6tables, a.ip6tables)
        if "ipsets" not in skip:
            self._ipsets(ns, e.ipsets, a.ipsets)
        if "sysctl" not in skip:
            self._sysctls(e, a)

    def _interfaces(self, e: Namespace, a: Namespace, where: Mapping[str, str],
                    ewhere: Mapping[str, str]) -> None:
        h, ns = self.host, e.name
        for ei in e.interfaces:
            if ei.kind == LOOPBACK:
                continue
            ai = a.interface(ei.name)
            if ai is None:
                self.out.append(InterfaceDifference(h, ns, ei.name, Change.MISSING, ei.kind,
                                                    where.get(ei.name)))
                continue
            self._settings(ns, ei, ai)
            ea, aa = set(_addresses(ei)), set(_addresses(ai))
            self.out += [AddressDifference(h, ns, ei.name, x, Change.MISSING)
                         for x in _addresses(ei) if x not in aa]
            self.out += [AddressDifference(h, ns, ei.name, x, Change.EXTRA)
                         for x in _addresses(ai) if x not in ea]
        for ai in a.interfaces:
            if ai.kind == LOOPBACK:
                if e.interface(ai.name) is None:
                    self.tolerated.append(Tolerated(h, f"{ns}:{ai.name}", Tolerance.LOOPBACK))
                continue
            if e.interface(ai.name) is None and ewhere.get(ai.name) in (None, ns):
                self.out.append(InterfaceDifference(h, ns, ai.name, Change.EXTRA, ai.kind))

    def _settings(self, ns: str, ei: Interface, ai: Interface) -> None:
        by = {f.name for f in fields(Interface)}
        for name in _SETTINGS:
            assert name in by
            ev, av = getattr(ei, name), getattr(ai, name)
            if name == "mac" and (ev is None or av is None):
                continue
            if name == "mac":
                ev, av = str(ev).lower(), str(av).lower()
            if name == "mtu" and ev != av and ei.name in self.bridges:
                self.tolerated.append(Tolerated(self.host, f"{ns}:{ei.name}",
                                                Tolerance.BRIDGE_MTU, f"{ev} -> {av}"))
                continue
            if ev != av:
                self.out.append(InterfaceSettingDifference(self.host, ns, ei.name, name,
                                                           str(ev), str(av)))

    def _routes(self, e: Namespace, a: Namespace) -> None:
        def key(r: Route) -> Route:
            if _ipv6(r) and r.metric in IPV6_DEFAULT_METRICS:  # the kernel's metric, no src
                return replace(r, proto="", metric=0, scope="", source=None)
            return replace(r, proto="")
        ek = {key(r) for r in e.routes}
        ak = {key(r) for r in a.routes}
        h, ns = self.host, e.name
        self.out += [RouteDifference(h, ns, r, Change.MISSING) for r in e.routes
                     if key(r) not in ak and _modelled(r)]
        self.out += [RouteDifference(h, ns, r, Change.EXTRA) for r in a.routes
                     if key(r) not in ek and _modelled(r)]
        if {r for r in e.routes} != {r for r in a.routes} and ek == ak:
            self.tolerated.append(Tolerated(h, ns, Tolerance.ROUTE_PROTO))

    def _iptables(self, ns: str, family: int, etext: str, atext: str) -> None:
        if not etext.strip() and not atext.strip():
            return
        er = parse_iptables_save(etext, f"{self.host}:{ns} (expected)")
        ar = parse_iptables_save(atext, f"{self.host}:{ns}")
        before = len(self.out)
        for tname in sorted({t.name for t in er.tables} | {t.name for t in ar.tables}):
            self._table(ns, family, tname, er, ar)
        if len(self.out) == before and etext != atext:
            self.tolerated.append(Tolerated(self.host, ns, Tolerance.IPTABLES_SPELLING,
                                            f"ipv{family}"))

    def _table(self, ns: str, family: int, tname: str, er: Ruleset, ar: Ruleset) -> None:
        h = self.host
        et, at = er.table(tname), ar.table(tname)
        echains = {c.name: c for c in (et.chains if et else ())}
        achains = {c.name: c for c in (at.chains if at else ())}
        for name, c in echains.items():
            other = achains.get(name)
            if other is None:
                self.out.append(ChainDifference(h, ns, family, tname, name, Change.MISSING,
                                                c.policy))
            elif other.policy != c.policy:
                self.out.append(ChainDifference(h, ns, family, tname, name, Change.CHANGED,
                                                c.policy, other.policy))
        for name, c in achains.items():
            if name not in echains:
                self.out.append(ChainDifference(h, ns, family, tname, name, Change.EXTRA,
                                                None, c.policy))
        erules = Counter((r.chain, _rule_text(r)) for r in (et.rules if et else ()))
        arules = Counter((r.chain, _rule_text(r)) for r in (at.rules if at else ()))
        by_text = {(r.chain, _rule_text(r)): r for t in (et, at) if t for r in t.rules}
        for change, diff in ((Change.MISSING, erules - arules), (Change.EXTRA, arules - erules)):
            for (chain, text), n in sorted(diff.items()):
                role, subject = rule_role(tname, chain, by_text[(chain, text)])
                shown = replace(by_text[(chain, text)], counters=None).text  # as written
                for _ in range(n):
                    self.out.append(IptablesDifference(h, ns, family, tname, chain, shown,
                                                       change, role, subject))

    def _ipsets(self, ns: str, etext: str, atext: str) -> None:
        if not etext.strip() and not atext.strip():
            return
        es = parse_ipset_save(etext, f"{self.host}:{ns} (expected)")
        as_ = parse_ipset_save(atext, f"{self.host}:{ns}")
        for s in es.sets:
            other = as_.get(s.name)
            have = set(other.elements()) if other else set()
            self.out += [IpsetDifference(self.host, ns, s.name, m, Change.MISSING)
                         for m in s.elements() if m not in have]
        for s in as_.sets:
            other = es.get(s.name)
            want = set(other.elements()) if other else set()
            self.out += [IpsetDifference(self.host, ns, s.name, m, Change.EXTRA)
                         for m in s.elements() if m not in want]

    def _sysctls(self, e: Namespace, a: Namespace) -> None:
        have = dict(a.sysctls)
        for key, value in forwarding_sysctls(e.sysctls):
            got = have.get(key, KERNEL_DEFAULTS.get(key, "0") if a.sysctls else None)
            if got != value:
                self.out.append(SysctlDifference(self.host, e.name, key, value, got))
        want = dict(e.sysctls)
        extra = [k for k, v in forwarding_sysctls(a.sysctls)
                 if k not in want and v != KERNEL_DEFAULTS.get(k, "0")]
        if extra:
            self.tolerated.append(Tolerated(self.host, e.name, Tolerance.EXTRA_SYSCTL,
                                            ", ".join(extra)))


def _addresses(i: Interface) -> list[str]:
    """The interface's addresses as compared (IPv6 link-local ones are the kernel's)."""
    out = []
    for a in i.addresses:
        try:
            if ipaddress.ip_interface(a).is_link_local:
                continue
        except ValueError:
            pass
        out.append(a)
    return out


def _ipv6(r: Route) -> bool:
    return ":" in (r.gateway or r.source or r.destination)


def _modelled(r: Route) -> bool:
    """Routes both sides model (IPv6 link-local ones are the kernel's)."""
    return not r.destination.lower().startswith("fe80:")
