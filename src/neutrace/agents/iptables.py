"""Neutron's iptables manager, re-enacted (layer 3): chains and rules as the agents add them, and
the ``iptables-save`` text the kernel would then print.

Mirrors ``neutron.agent.linux.iptables_manager``: chain names wrapped as
``<binary name[:16]>-<chain[:11]>`` (unwrapped ones such as ``neutron-filter-top`` up to 28
characters), the ``$chain`` shorthand, comments placed before ``-j`` (``comment_rule``), rules
marked ``top`` before the others, the built-in chains each jumping to their wrapped twin, and the
``neutron-filter-top``/``local``, ``mark``, ``neutron-postrouting-bottom``/``snat``/``float-snat``
chains its constructor creates. The save text lists built-in chains in kernel order and
user-defined chains sorted by name (as iptables-legacy does), with zero counters and no
date/version comment lines (so the text is stable).
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrace.agents import constants as c

BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}
TABLE_ORDER = ("mangle", "raw", "filter", "nat")  # as iptables-nft-save (1.8) lists them

SNAT_OUT = "Perform source NAT on outgoing traffic."


def get_chain_name(chain_name: str, wrap: bool = True) -> str:
    if wrap:
        return chain_name[: c.MAX_IPTABLES_CHAIN_LEN_WRAP]
    return chain_name[: c.MAX_IPTABLES_CHAIN_LEN_NOWRAP]


def comment_rule(rule: str, comment: str | None) -> str:
    """``-m comment --comment "..."`` goes right before the jump, as iptables-save prints it."""
    if not comment:
        return rule
    text = f'-m comment --comment "{comment}"'
    if rule.startswith("-j"):
        return f"{text} {rule}"
    pos = rule.find(" -j ")
    if pos < 0:
        return f"{rule} {text}"
    return " ".join((rule[:pos], text, rule[pos + 1 :]))


@dataclass(frozen=True, slots=True)
class IptablesRule:
    chain: str
    rule: str
    wrap: bool
    top: bool
    wrap_name: str
    comment: str | None = None
    tag: str | None = None

    def __str__(self) -> str:
        chain = f"{self.wrap_name}-{self.chain}" if self.wrap else self.chain
        return comment_rule(f"-A {chain} {self.rule}".strip(), self.comment)

    def same(self, other: IptablesRule) -> bool:
        return (self.chain, self.rule, self.top, self.wrap) == (
            other.chain, other.rule, other.top, other.wrap)


class IptablesTable:
    """One table (filter, nat, mangle, raw) of one IP version."""

    def __init__(self, wrap_name: str) -> None:
        self.wrap_name = wrap_name
        self.rules: list[IptablesRule] = []
        self.chains: set[str] = set()
        self.unwrapped_chains: set[str] = set()

    def add_chain(self, name: str, wrap: bool = True) -> None:
        name = get_chain_name(name, wrap)
        (self.chains if wrap else self.unwrapped_chains).add(name)

    def remove_chain(self, name: str, wrap: bool = True) -> None:
        """Remove a chain, its rules and every rule jumping to it (Neutron's cascade)."""
        name = get_chain_name(name, wrap)
        chain_set = self.chains if wrap else self.unwrapped_chains
        if name not in chain_set:
            return
        chain_set.remove(name)
        jump = f"-j {self.wrap_name}-{name}" if wrap else f"-j {name}"
        self.rules = [r for r in self.rules if r.chain != name and jump not in r.rule]

    def _wrap_target(self, word: str, wrap: bool) -> str:
        if word.startswith("$"):
            return f"{self.wrap_name}-{get_chain_name(word[1:], wrap)}"
        return word

    def add_rule(
        self, chain: str, rule: str, wrap: bool = True, top: bool = False,
        comment: str | None = None, tag: str | None = None,
    ) -> None:
        chain = get_chain_name(chain, wrap)
        if wrap and chain not in self.chains:
            raise LookupError(f"Unknown chain: {chain!r}")
        if "$" in rule:
            rule = " ".join(self._wrap_target(w, wrap) for w in rule.split(" "))
        self.rules.append(
            IptablesRule(chain, rule, wrap, top, self.wrap_name, comment=comment, tag=tag))

    def empty_chain(self, chain: str, wrap: bool = True) -> None:
        chain = get_chain_name(chain, wrap)
        self.rules = [r for r in self.rules if not (r.chain == chain and r.wrap == wrap)]

    def clear_rules_by_tag(self, tag: str) -> None:
        self.rules = [r for r in self.rules if r.tag != tag]

    # -- what the kernel holds after Neutron's iptables-restore --------------------------------
    def chain_names(self) -> list[str]:
        return sorted(
            [f"{self.wrap_name}-{n}" for n in self.chains] + list(self.unwrapped_chains))

    def ordered_rule_lines(self) -> list[str]:
        """Neutron writes top rules first, then the others; duplicates are dropped (keeping the
        last, as ``_weed_out_duplicates`` does on the reversed list)."""
        lines = [str(r) for r in self.rules if r.top] + [str(r) for r in self.rules if not r.top]
        seen: set[str] = set()
        out: list[str] = []
        for line in reversed(lines):
            if line in seen:
                continue
            seen.add(line)
            out.append(line)
        out.reverse()
        return out

    def save(self, table: str) -> str:
        builtin = BUILTIN_CHAINS[table]
        user = [n for n in self.chain_names() if n not in builtin]
        lines = [f"*{table}"]
        lines += [f":{n} ACCEPT [0:0]" for n in builtin]
        lines += [f":{n} - [0:0]" for n in user]
        rules = self.ordered_rule_lines()
        by_chain: dict[str, list[str]] = {}
        for line in rules:
            chain = line.split(" ", 2)[1]
            by_chain.setdefault(chain, []).append(line)
        for name in list(builtin) + user:
            lines += by_chain.get(name, [])
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


class IptablesManager:
    """The tables of one namespace for IPv4 (``ipv4``) and IPv6 (``ipv6``), built as Neutron's
    ``IptablesManager(state_less, use_ipv6, nat, binary_name)`` builds them."""

    def __init__(self, binary_name: str, state_less: bool = False, nat: bool = True) -> None:
        self.wrap_name = binary_name[:16]
        self.ipv4: dict[str, IptablesTable] = {"filter": IptablesTable(self.wrap_name)}
        self.ipv6: dict[str, IptablesTable] = {"filter": IptablesTable(self.wrap_name)}
        for tables in (self.ipv4, self.ipv6):
            f = tables["filter"]
            f.add_chain("neutron-filter-top", wrap=False)
            f.add_rule("FORWARD", "-j neutron-filter-top", wrap=False, top=True)
            f.add_rule("OUTPUT", "-j neutron-filter-top", wrap=False, top=True)
            f.add_chain("local")
            f.add_rule("neutron-filter-top", "-j $local", wrap=False)
            tables["raw"] = IptablesTable(self.wrap_name)
            tables["nat"] = IptablesTable(self.wrap_name)
        self._builtin({4: {"filter": ["INPUT", "OUTPUT", "FORWARD"],
                           "raw": ["PREROUTING", "OUTPUT"], "nat": ["PREROUTING"]},
                       6: {"filter": ["INPUT", "OUTPUT", "FORWARD"],
                           "raw": ["PREROUTING", "OUTPUT"], "nat": ["PREROUTING"]}})
        if not state_less:
            self._initialize_mangle_table()
            if nat:
                self._initialize_nat_table()

    def _builtin(self, spec: dict[int, dict[str, list[str]]]) -> None:
        for version, tables in spec.items():
            target = self.ipv4 if version == 4 else self.ipv6
            for table, chains in tables.items():
                for chain in chains:
                    target[table].add_chain(chain)
                    target[table].add_rule(chain, f"-j ${chain}", wrap=False)

    def _initialize_mangle_table(self) -> None:
        self.ipv4["mangle"] = IptablesTable(self.wrap_name)
        self.ipv6["mangle"] = IptablesTable(self.wrap_name)
        chains = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]
        self._builtin({4: {"mangle": chains}, 6: {"mangle": chains}})
        self.ipv4["mangle"].add_chain("mark")
        self.ipv4["mangle"].add_rule("PREROUTING", "-j $mark")

    def _initialize_nat_table(self) -> None:
        self.ipv4["nat"] = IptablesTable(self.wrap_name)
        self.ipv6["nat"] = IptablesTable(self.wrap_name)
        self._builtin({4: {"nat": ["PREROUTING", "OUTPUT", "POSTROUTING"]},
                       6: {"nat": ["PREROUTING"]}})
        nat = self.ipv4["nat"]
        nat.add_chain("neutron-postrouting-bottom", wrap=False)
        nat.add_rule("POSTROUTING", "-j neutron-postrouting-bottom", wrap=False)
        nat.add_chain("snat")
        nat.add_rule("neutron-postrouting-bottom", "-j $snat", wrap=False, comment=SNAT_OUT)
        nat.add_chain("float-snat")
        nat.add_rule("snat", "-j $float-snat")

    def tables(self, version: int) -> dict[str, IptablesTable]:
        return self.ipv4 if version == 4 else self.ipv6

    def save(self, version: int = 4) -> str:
        """The ``iptables-save`` (``ip6tables-save`` for 6) text of these tables."""
        tables = self.tables(version)
        return "".join(tables[t].save(t) for t in TABLE_ORDER if t in tables)
