"""One namespace's rules (`Netfilter`): iptables-save, ip6tables-save and ipset save text parsed
once, and a built-in chain of a table evaluated for a packet (`Netfilter.run`): rules in order,
jumps, gotos and RETURN, the chain's policy, the terminal targets (ACCEPT, DROP, REJECT), NAT
requests and the other targets' side effects; every step recorded as a fact (`ChainStep`,
`RuleStep`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from neutrace.engines.conntrack import ConntrackTable
from neutrace.engines.netfilter.context import HookContext, PacketMeta
from neutrace.engines.netfilter.matches import Predicate, RuleMatcher
from neutrace.engines.netfilter.targets import NatRequest, nat_request, set_dscp, side_effect
from neutrace.errors import SyntaxParseError
from neutrace.packet import Packet
from neutrace.syntax.iptables import IpSets, IptRule, Ruleset, parse_ipset_save, parse_iptables_save
from neutrace.trace import ChainStep, RuleEffect, RuleStep, RuleVerdict, Step

ACCEPT, DROP, REJECT = "ACCEPT", "DROP", "REJECT"
MAX_CHAIN_DEPTH = 64
CT_MATCHES = frozenset({"state", "conntrack", "connmark"})
CT_TARGETS = frozenset({"CT", "NOTRACK", "CONNMARK", "SNAT", "DNAT", "MASQUERADE", "REDIRECT"})


@dataclass(frozen=True, slots=True)
class ChainResult:
    """A chain's verdict, the NAT asked for, the deciding rule, and ``packet`` when a target
    rewrote a header field (DSCP)."""

    verdict: str
    nat: NatRequest | None = None
    rule: IptRule | None = None
    packet: Packet | None = None


class Netfilter:
    """One namespace's netfilter rules, parsed once. ``source`` names them in messages
    (e.g. ``"test-ctrl-01 qrouter-c8ae… iptables"``)."""

    def __init__(
        self, iptables: str = "", ip6tables: str = "", ipsets: str = "", source: str = "<string>",
        local_addrs: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self.source = source
        self.v4: Ruleset = parse_iptables_save(iptables, f"{source} (iptables-save)")
        self.v6: Ruleset = parse_iptables_save(ip6tables, f"{source} (ip6tables-save)")
        self.sets: IpSets = parse_ipset_save(ipsets, f"{source} (ipset save)")
        self._matcher = RuleMatcher(self.sets, local_addrs or (lambda: frozenset()))
        self._chain_tests: dict[tuple[int, str, str], tuple[tuple[Predicate, ...], ...]] = {}
        self._uses_ct: bool | None = None
        self._chains: dict[tuple[int, str, str], tuple[IptRule, ...]] = {}
        self._policies: dict[tuple[int, str, str], str | None] = {}
        for family, rs in ((4, self.v4), (6, self.v6)):
            for t in rs.tables:
                lists: dict[str, list[IptRule]] = {c.name: [] for c in t.chains}
                for c in t.chains:
                    self._policies[(family, t.name, c.name)] = c.policy
                for r in t.rules:
                    lists[r.chain].append(r)
                for name, rules in lists.items():
                    self._chains[(family, t.name, name)] = tuple(rules)
                for r in t.rules:
                    for module, opt in r.options():
                        if module == "set" and opt.name == "--match-set" and (
                            not self._matcher.has_set(opt.values[0])
                        ):
                            raise SyntaxParseError(
                                rs.source, f"line {r.line}",
                                f"-m set names ipset {opt.values[0]!r}, which is not defined",
                                "add its 'create' line to the namespace's ipset save text",
                                line=r.line,
                            )

    def has(self, family: int, table: str, chain: str) -> bool:
        return (family, table, chain) in self._chains

    @property
    def uses_conntrack(self) -> bool:
        """Whether connection tracking runs in this namespace at all: as in the kernel, only
        when a rule needs it (a state/conntrack/connmark match, a CT, NOTRACK, CONNMARK or NAT
        target takes a conntrack reference for the namespace). Without one the kernel keeps no
        entries, and the nat table's chains never see a packet (NAT hooks skip packets without
        a connection) -- checked against the kernel in
        tests/functional/kernel/test_netfilter_kernel.py."""
        if self._uses_ct is None:
            self._uses_ct = any(
                {m.module for m in r.matches} & CT_MATCHES
                or (r.target is not None and r.target.name in CT_TARGETS)
                for rs in (self.v4, self.v6) for t in rs.tables for r in t.rules)
        return self._uses_ct

    def matches(self, rule: IptRule, pkt: Packet, meta: PacketMeta, ctx: HookContext) -> bool:
        """Whether ``rule`` matches (for callers outside a chain walk; `run` uses the
        predicates compiled per chain)."""
        return all(self._matcher.compile(module, opt)(pkt, meta, ctx)
                   for module, opt in rule.options() if module != "comment")

    def _tests_of(self, family: int, table: str, chain: str) -> tuple[tuple[Predicate, ...], ...]:
        key = (family, table, chain)
        tests = self._chain_tests.get(key)
        if tests is None:
            tests = self._chain_tests[key] = tuple(
                tuple(self._matcher.compile(module, opt) for module, opt in r.options()
                      if module != "comment")
                for r in self._chains.get(key, ()))
        return tests

    # -- evaluation ------------------------------------------------------------------------
    def run(
        self, family: int, table: str, chain: str, pkt: Packet, meta: PacketMeta,
        ctx: HookContext, steps: list[Step], ct_table: ConntrackTable | None = None,
    ) -> ChainResult:
        """Evaluate built-in ``chain`` of ``table``; returns the verdict (ACCEPT also for a NAT
        target, with `ChainResult.nat` set). ``meta`` is updated by MARK/CONNMARK/CT targets."""
        key = (family, table, chain)
        if key not in self._chains:
            return ChainResult(ACCEPT)
        steps.append(ChainStep(table=table, chain=chain))
        # a stack of (chain, next rule index); goto replaces the top
        stack: list[tuple[str, int]] = [(chain, 0)]
        while stack:
            name, idx = stack.pop()
            rules = self._chains.get((family, table, name), ())
            tests = self._tests_of(family, table, name)
            jumped = False
            while idx < len(rules):
                rule = rules[idx]
                ok = True
                for test in tests[idx]:
                    if not test(pkt, meta, ctx):
                        ok = False
                        break
                idx += 1
                if not ok:
                    continue
                tgt = rule.target
                depth = len(stack)
                if tgt is None:
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.NO_TARGET))
                    continue
                tname = tgt.name
                if (family, table, tname) in self._chains and tname not in (ACCEPT, DROP):
                    if len(stack) + 1 >= MAX_CHAIN_DEPTH:
                        steps.append(_rule_step(table, rule, depth, RuleVerdict.DEPTH_LIMIT))
                        return ChainResult(DROP, rule=rule, packet=pkt)
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.GOTO if tgt.goto
                                            else RuleVerdict.JUMP))
                    if not tgt.goto:
                        stack.append((name, idx))
                    stack.append((tname, 0))
                    jumped = True
                    break
                if tname == "RETURN":
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.RETURN))
                    break
                if tname in (ACCEPT, DROP, REJECT):
                    steps.append(_rule_step(table, rule, depth, _TERMINAL[tname]))
                    return ChainResult(tname, rule=rule, packet=pkt)
                if tname in ("SNAT", "DNAT", "MASQUERADE", "REDIRECT"):
                    req = nat_request(rule)
                    steps.append(_rule_step(table, rule, depth, RuleVerdict.NAT))
                    return ChainResult(ACCEPT, nat=req, rule=rule, packet=pkt)
                if tname == "DSCP":
                    before = pkt
                    pkt = set_dscp(pkt, tgt)
                    steps.append(RuleStep(table=table, rule=rule, verdict=RuleVerdict.CONTINUE,
                                          effect=RuleEffect.DSCP, depth=depth,
                                          changes=before.diff(pkt)))
                    continue
                effect, values = side_effect(rule, meta, ct_table)
                steps.append(RuleStep(table=table, rule=rule, verdict=RuleVerdict.CONTINUE,
                                      effect=effect, values=values, depth=depth))
            if jumped:
                continue
            if not stack:
                # fell off the end of (or RETURNed from) the built-in chain: its policy
                policy = self._policies.get(key) or ACCEPT
                steps.append(ChainStep(table=table, chain=chain, policy=policy))
                return ChainResult(policy, packet=pkt)
        return ChainResult(ACCEPT)  # pragma: no cover - the loop always returns


_TERMINAL = {ACCEPT: RuleVerdict.ACCEPT, DROP: RuleVerdict.DROP, REJECT: RuleVerdict.REJECT}


def _rule_step(table: str, rule: IptRule, depth: int, verdict: RuleVerdict) -> RuleStep:
    """The step of a matched rule of ``table`` that did ``verdict``."""
    return RuleStep(table=table, rule=rule, verdict=verdict, depth=depth)
